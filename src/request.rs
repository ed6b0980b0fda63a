//! Turning raw request parts (body, path ids, query) into typed values or a 400.
//!
//! Bodies are read here rather than with actix's `Json` extractor so every failure —
//! too large, not JSON, a wrong type, an unknown field — becomes problem+json naming
//! the field.

use std::collections::HashMap;

use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::web::{self, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::problem::Problem;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a client may take to send its request; slower ones get 408.
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeout(pub Duration);

/// A JSON request body deserialized into `T`: at most [`MAX_BODY_BYTES`], read within
/// the [`RequestTimeout`], every failure a problem+json naming the field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let deadline = req.app_data::<RequestTimeout>().map_or(Duration::from_secs(10), |t| t.0);
        let declared =
            req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
                return Err(Problem::payload_too_large(MAX_BODY_BYTES));
            }
            let read = async {
                let mut body = BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|e| Problem::invalid_field("body", format!("could not be read: {e}")))?;
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(Problem::payload_too_large(MAX_BODY_BYTES));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            };
            let body = actix_web::rt::time::timeout(deadline, read)
                .await
                .map_err(|_| Problem::request_timeout(deadline))??;
            parse_json(&body).map(JsonBody)
        })
    }
}

/// Deserializes JSON, naming the field at fault (`seats`, `body` for the whole).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::invalid_field("body", "a JSON object is required"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        // The field is the chain of object keys leading to the error; an error at the
        // top (not an object, cut short) or inside an array belongs to the body.
        let mut keys: Vec<String> = Vec::new();
        for segment in err.path().iter() {
            match segment {
                serde_path_to_error::Segment::Map { key } => keys.push(key.clone()),
                _ => break,
            }
        }
        let message = err.into_inner().to_string();
        // serde reports a missing field at its parent's path; name the field itself.
        if let Some(name) = quoted_field(&message).filter(|_| message.starts_with("missing field")) {
            keys.push(name.to_owned());
        }
        let field = if keys.is_empty() { "body".to_owned() } else { keys.join(".") };
        let message = match message.find(" at line ") {
            Some(cut) => message[..cut].to_owned(),
            None => message,
        };
        Problem::invalid_field(&field, message)
    })
}

fn quoted_field(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// An entity id: a positive integer, written as a string in JSON (`"id": "7"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub u64);

impl Id {
    /// Parses a path segment such as `/users/{id}`; `field` names it in the 400.
    pub fn from_path(raw: &str, field: &str) -> Result<Id, Problem> {
        Id::parse(raw)
            .ok_or_else(|| Problem::invalid_field(field, format!("'{raw}' is not an id (a positive integer)")))
    }

    pub fn parse(raw: &str) -> Option<Id> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 19 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        raw.parse().ok().filter(|n| *n > 0).map(Id)
    }
}

/// Ids appear in JSON as strings of digits.
impl utoipa::PartialSchema for Id {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[1-9][0-9]{0,17}$"))
            .examples(["1"])
            .into()
    }
}

impl utoipa::ToSchema for Id {}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Accepts `"7"` or `7`, so `{"userId": 1}` from curl works as well as `{"userId": "1"}`.
/// A visitor rather than an untagged enum: the enum buffers the value and builds (then
/// drops) an error for every string id it reads, a quarter of the cost of a list page.
impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

struct IdVisitor;

impl IdVisitor {
    const INVALID: &str = "must be a positive integer id such as \"1\"";

    fn invalid<E: serde::de::Error>() -> E {
        E::custom(Self::INVALID)
    }
}

impl<'de> serde::de::Visitor<'de> for IdVisitor {
    type Value = Id;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Self::INVALID)
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Id, E> {
        Some(n).filter(|n| *n > 0).map(Id).ok_or_else(Self::invalid)
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Id, E> {
        u64::try_from(n).map_err(|_| Self::invalid()).and_then(|n| self.visit_u64(n))
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Id, E> {
        Id::parse(s).ok_or_else(Self::invalid)
    }

    // Any other type gets the same message as a bad number or string.
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Id, E> {
        Err(Self::invalid())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Id, E> {
        Err(Self::invalid())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Id, E> {
        Err(Self::invalid())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Id, A::Error> {
        Err(Self::invalid())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Id, A::Error> {
        Err(Self::invalid())
    }
}

/// `?limit=&offset=` of list endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub offset: usize,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: usize = 100;
    pub const MAX_LIMIT: usize = 1000;

    pub fn from_query(query: &str) -> Result<Self, Problem> {
        let params: HashMap<String, String> = web::Query::from_query(query)
            .map(web::Query::into_inner)
            .map_err(|e| Problem::invalid_field("query", format!("malformed query string: {e}")))?;
        let read = |name: &str, default: usize, min: usize, max: usize| -> Result<usize, Problem> {
            match params.get(name) {
                None => Ok(default),
                Some(raw) => raw.parse::<usize>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| {
                    Problem::invalid_field(name, format!("'{raw}' must be an integer in {min}..={max}"))
                }),
            }
        };
        Ok(PageRequest {
            limit: read("limit", Self::DEFAULT_LIMIT, 1, Self::MAX_LIMIT)?,
            offset: read("offset", 0, 0, 1_000_000_000)?,
        })
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest { limit: Self::DEFAULT_LIMIT, offset: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Probe {
        #[allow(dead_code)]
        user_id: Id,
        #[allow(dead_code)]
        seats: u8,
    }

    fn field_of(body: &str) -> String {
        parse_json::<Probe>(body.as_bytes()).unwrap_err().errors[0].field.clone()
    }

    #[test]
    fn names_the_field_for_each_kind_of_json_error() {
        assert_eq!(field_of(r#"{"userId":"1","seats":"x"}"#), "seats");
        assert_eq!(field_of(r#"{"userId":"1"}"#), "seats");
        assert_eq!(field_of(r#"{"userId":"1","seats":1,"extra":0}"#), "extra");
        assert_eq!(field_of(r#"{"userId":"abc","seats":1}"#), "userId");
        assert_eq!(field_of("not json"), "body");
        assert_eq!(field_of(""), "body");
    }

    #[test]
    fn ids_accept_numbers_and_digit_strings_only() {
        assert_eq!(Id::parse("42"), Some(Id(42)));
        assert_eq!(Id::parse("0"), None);
        assert_eq!(Id::parse("-1"), None);
        assert_eq!(Id::parse("1e3"), None);
        assert_eq!(Id::parse("99999999999999999999"), None);
        assert_eq!(serde_json::from_str::<Id>("7").unwrap(), Id(7));
        assert_eq!(serde_json::from_str::<Id>(r#""7""#).unwrap(), Id(7));
        for bad in ["0", "-3", r#""0""#, r#""x""#, "true", "1.5", "null", "[1]", r#"{"id":1}"#] {
            let err = serde_json::from_str::<Id>(bad).unwrap_err().to_string();
            assert!(err.starts_with("must be a positive integer id"), "{bad}: {err}");
        }
        assert_eq!(serde_json::to_string(&Id(7)).unwrap(), "\"7\"");
    }

    #[test]
    fn page_request_bounds_limit_and_offset() {
        assert_eq!(PageRequest::from_query("").unwrap(), PageRequest::default());
        assert_eq!(PageRequest::from_query("limit=5&offset=10").unwrap(), PageRequest { limit: 5, offset: 10 });
        assert_eq!(PageRequest::from_query("limit=1001").unwrap_err().errors[0].field, "limit");
        assert_eq!(PageRequest::from_query("offset=-1").unwrap_err().errors[0].field, "offset");
    }
}

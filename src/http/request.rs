//! Turning raw request parts (body, path ids, query) into typed values or a 400:
//! [`JsonBody`], [`PathId`] and [`PageRequest`] are extractors a handler just names.
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
use futures_util::future::{LocalBoxFuture, Ready, ready};
use serde::de::DeserializeOwned;

use crate::data::domain::{Id, PageRequest};
use crate::http::problem::Problem;

/// Largest request body accepted.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a client may take to send its request; slower ones get 408.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestTimeout(pub Duration);

/// A JSON request body deserialized into `T`: at most [`MAX_BODY_BYTES`], read within
/// the [`RequestTimeout`], every failure a problem+json naming the field.
pub(crate) struct JsonBody<T>(pub T);

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
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::invalid_field("body", "a JSON object is required"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        // The field is the chain of object keys leading to the error; an error at the
        // top (not an object, cut short) or inside an array belongs to the body.
        let mut keys: Vec<String> = Vec::new();
        for segment in err.path() {
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

/// An id taken from the route's one path segment (`/users/{id}`,
/// `/bookings/user/{userId}`); a 400 names the segment when it is not an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PathId(pub Id);

impl FromRequest for PathId {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let name = req.match_info().iter().next().map_or("id", |(name, _)| name);
        // `Path` percent-decodes the segment, as the handlers' `Path<String>` did.
        let raw = web::Path::<String>::extract(req).into_inner().map(web::Path::into_inner).unwrap_or_default();
        ready(
            Id::parse(&raw)
                .map(PathId)
                .ok_or_else(|| Problem::invalid_field(name, format!("'{raw}' is not an id (a positive integer)"))),
        )
    }
}

impl PageRequest {
    /// Reads `?limit=` (1-1000, default 100) and `?offset=` from a query string.
    pub(crate) fn from_query(query: &str) -> Result<Self, Problem> {
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
            offset: read("offset", 0, 0, Self::MAX_OFFSET)?,
        })
    }
}

/// List handlers take the page straight from the query.
impl FromRequest for PageRequest {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(PageRequest::from_query(req.query_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

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
    fn page_request_bounds_limit_and_offset() {
        assert_eq!(PageRequest::from_query("").unwrap(), PageRequest::default());
        assert_eq!(PageRequest::from_query("limit=5&offset=10").unwrap(), PageRequest { limit: 5, offset: 10 });
        assert_eq!(PageRequest::from_query("limit=1001").unwrap_err().errors[0].field, "limit");
        assert_eq!(PageRequest::from_query("offset=-1").unwrap_err().errors[0].field, "offset");
    }
}

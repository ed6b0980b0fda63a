//! The app's data as the stores keep it: ids, the validated forms a store accepts
//! (`NewUser`, `NewMovie`, `NewBooking`) and the records it returns, plus the paging
//! both ends of a list agree on.
//!
//! Nothing here knows HTTP, a store or a role: the stores import this module, the roles
//! turn request bodies into these types and the answers back out of them.
//!
//! # Layers, lowest first
//!
//! 1. `booking`, `movie`, `user`: one module per record, each reaching only this
//!    module's shared types (ids, field errors).

mod booking;
mod movie;
mod user;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub(crate) use self::booking::{Booking, BookingOrder, NewBooking, Route};
pub(crate) use self::movie::{Movie, MovieFields, NewMovie, seed_movies};
pub use self::user::Email;
pub(crate) use self::user::{NewUser, User, seed_users};

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub(crate) field: String,
    pub(crate) message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// The short form put in envelopes and booking routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct ServedBy {
    pub(crate) service: String,
    pub(crate) cluster: String,
    pub(crate) pod: String,
}

/// An entity id: a positive integer, written as a string in JSON (`"id": "7"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub u64);

impl Id {
    /// The OpenAPI pattern of an id as text, with [`Id::MAX_DIGITS`] as its maxLength:
    /// what [`Id::parse`] accepts, leading zeros included (tests/it/openapi.rs feeds
    /// both the same examples and counter-examples).
    pub(crate) const PATTERN: &str = "^0*[1-9][0-9]*$";
    /// Nineteen digits always fit in a `u64`.
    pub(crate) const MAX_DIGITS: usize = 19;

    pub fn parse(raw: &str) -> Option<Id> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > Id::MAX_DIGITS || !raw.bytes().all(|b| b.is_ascii_digit()) {
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
            .pattern(Some(Id::PATTERN))
            .min_length(Some(1))
            .max_length(Some(Id::MAX_DIGITS))
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

/// `?limit=&offset=` of list endpoints, checked (the HTTP layer parses it from the query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageRequest {
    pub(crate) limit: usize,
    pub(crate) offset: usize,
}

impl PageRequest {
    pub(crate) const DEFAULT_LIMIT: usize = 100;
    pub(crate) const MAX_LIMIT: usize = 1000;
    pub(crate) const MAX_OFFSET: usize = 1_000_000_000;
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest { limit: Self::DEFAULT_LIMIT, offset: 0 }
    }
}

/// One page of a list and the size of the whole list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! Errors as `application/problem+json` (RFC 9457): every failure a client sees.
//!
//! Handlers return `Result<_, Problem>`; the constructors name the status so the
//! mapping from a cause to a status code is made once, here.

use std::fmt;

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError};
use serde::Serialize;

use crate::data::store::StoreError;
use crate::http::metrics;

pub(crate) const CONTENT_TYPE_PROBLEM: &str = "application/problem+json";

pub(crate) use crate::data::domain::FieldError;

/// An error response (RFC 9457).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct Problem {
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    kind: &'static str,
    #[schema(value_type = String)]
    title: &'static str,
    #[serde(serialize_with = "serialize_status")]
    #[schema(value_type = u16)]
    pub(crate) status: StatusCode,
    pub(crate) detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) errors: Vec<FieldError>,
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's serialize_with passes a reference")]
fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem { kind, title, status, detail: detail.into(), errors: Vec::new() }
    }

    /// 400: the request's fields are wrong; `errors` names each one.
    pub(crate) fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        Problem {
            errors,
            ..Self::new(StatusCode::BAD_REQUEST, "urn:theater:problem:validation", "Invalid request", detail)
        }
    }

    /// 400 for a single field.
    pub(crate) fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError::new(field, message)])
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "urn:theater:problem:not-found", "Not found", detail)
    }

    pub(crate) fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "urn:theater:problem:method-not-allowed",
            "Method not allowed",
            detail,
        )
    }

    /// 409: the request is valid but clashes with what is stored.
    pub(crate) fn conflict(field: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Problem {
            errors: vec![FieldError::new(field, detail.clone())],
            ..Self::new(StatusCode::CONFLICT, "urn:theater:problem:conflict", "Conflict", detail)
        }
    }

    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "urn:theater:problem:payload-too-large",
            "Payload too large",
            format!("request bodies are limited to {limit} bytes"),
        )
    }

    /// 408: the client took too long to send its request.
    pub(crate) fn request_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "urn:theater:problem:request-timeout",
            "Request timeout",
            format!("the request was not received within {} ms", limit.as_millis()),
        )
    }

    /// 422: well-formed, but it refers to something that does not exist.
    pub(crate) fn unprocessable(errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        Problem {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "urn:theater:problem:unprocessable",
                "Unprocessable request",
                detail,
            )
        }
    }

    /// 500: a bug of this service (never an outage of a dependency).
    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "urn:theater:problem:internal", "Internal error", detail)
    }

    /// 502: an upstream refused the connection or broke the exchange.
    pub(crate) fn bad_gateway(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "urn:theater:problem:bad-gateway", "Bad gateway", detail)
    }

    /// 503: a dependency (the store, an upstream service) cannot be reached now.
    pub(crate) fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "urn:theater:problem:unavailable", "Service unavailable", detail)
    }

    /// 504: an upstream did not answer in time.
    pub(crate) fn gateway_timeout(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "urn:theater:problem:timeout", "Gateway timeout", detail)
    }
}

impl Problem {
    /// A failure produced on purpose by chaos, with the chosen 5xx status.
    pub(crate) fn injected(status: StatusCode) -> Self {
        Self::new(status, "urn:theater:problem:chaos", "Injected failure", "error injected by chaos (see /admin/chaos)")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.title, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = serde_json::to_vec(self).unwrap_or_default();
        HttpResponse::build(self.status)
            .insert_header((CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_PROBLEM)))
            .body(body)
    }
}

// The problem+json answers as OpenAPI responses, each declared once; a handler's
// `#[utoipa::path(responses(...))]` lists those it can give. Never built: the field
// only gives the derive the body's schema.

/// invalid field (named in errors)
#[derive(utoipa::IntoResponses)]
#[response(status = 400, content_type = "application/problem+json")]
pub(crate) struct InvalidField(#[expect(dead_code, reason = "the body schema")] Problem);

/// no such entity
#[derive(utoipa::IntoResponses)]
#[response(status = 404, content_type = "application/problem+json")]
pub(crate) struct NotFound(#[expect(dead_code, reason = "the body schema")] Problem);

/// the request arrived too slowly
#[derive(utoipa::IntoResponses)]
#[response(status = 408, content_type = "application/problem+json")]
pub(crate) struct TooSlow(#[expect(dead_code, reason = "the body schema")] Problem);

/// conflict with stored data
#[derive(utoipa::IntoResponses)]
#[response(status = 409, content_type = "application/problem+json")]
pub(crate) struct Conflict(#[expect(dead_code, reason = "the body schema")] Problem);

/// body over 64 KiB
#[derive(utoipa::IntoResponses)]
#[response(status = 413, content_type = "application/problem+json")]
pub(crate) struct TooLarge(#[expect(dead_code, reason = "the body schema")] Problem);

/// a referenced user or movie does not exist
#[derive(utoipa::IntoResponses)]
#[response(status = 422, content_type = "application/problem+json")]
pub(crate) struct Unprocessable(#[expect(dead_code, reason = "the body schema")] Problem);

/// the store or a dependency is unreachable
#[derive(utoipa::IntoResponses)]
#[response(status = 503, content_type = "application/problem+json")]
pub(crate) struct Unavailable(#[expect(dead_code, reason = "the body schema")] Problem);

/// the role runs without --chaos
#[derive(utoipa::IntoResponses)]
#[response(status = 404, content_type = "application/problem+json")]
pub(crate) struct ChaosOff(#[expect(dead_code, reason = "the body schema")] Problem);

/// a knob is out of range (named in errors)
#[derive(utoipa::IntoResponses)]
#[response(status = 400, content_type = "application/problem+json")]
pub(crate) struct ChaosOutOfRange(#[expect(dead_code, reason = "the body schema")] Problem);

/// the store is not reachable
#[derive(utoipa::IntoResponses)]
#[response(status = 503, content_type = "application/problem+json")]
pub(crate) struct StoreUnreachable(#[expect(dead_code, reason = "the body schema")] Problem);

/// How each store outcome reaches a client. An unavailable store is an outage (503,
/// counted in `theater_store_errors_total`); a store bug is a 500, logged as a bug and
/// not counted as an outage.
impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Problem {
        match err {
            StoreError::Unavailable(cause) => {
                metrics::store_error();
                tracing::warn!(%cause, "store unavailable");
                Problem::unavailable("the data store is not reachable right now; retry shortly")
            }
            StoreError::Bug(cause) => {
                tracing::error!(%cause, "store bug");
                Problem::internal("the data store gave an answer this service cannot use")
            }
            StoreError::EmailTaken => Problem::conflict("email", "a user with this email already exists"),
            StoreError::MovieNotFound => Problem::unprocessable(vec![FieldError::new("movieId", "no such movie")]),
            StoreError::NotEnoughSeats { available } => {
                Problem::conflict("seats", format!("not enough seats left: {available} available"))
            }
        }
    }
}

/// Lets a fallback handler return a `Problem` directly.
impl Responder for Problem {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        self.error_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_rfc9457_with_field_errors() {
        let p = Problem::invalid(vec![FieldError::new("email", "must contain '@'")]);
        let json: serde_json::Value = serde_json::to_value(&p).unwrap();
        assert_eq!(json["status"], 400);
        assert_eq!(json["type"], "urn:theater:problem:validation");
        assert_eq!(json["errors"][0]["field"], "email");
        assert_eq!(json["detail"], "email: must contain '@'");
    }

    #[test]
    fn omits_errors_when_there_are_none() {
        let json = serde_json::to_value(Problem::not_found("no user 7")).unwrap();
        assert!(json.get("errors").is_none());
    }
}

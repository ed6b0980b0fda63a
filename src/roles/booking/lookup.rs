//! Asking user-service and movie-service whether a booking's user and movie exist.
//!
//! The calls go through the mesh (the sidecar picks a cluster), carry the propagated
//! headers, and report which pod answered so the booking can show its route.

use std::io;

use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use awc::error::SendRequestError;

use crate::data::domain::{FieldError, Id, ServedBy};
use crate::http::metrics;
use crate::http::problem::Problem;
use crate::settings::service::ServiceKind;

/// Largest lookup response body read (it is only drained, to reuse the connection).
const MAX_LOOKUP_BODY: usize = 256 * 1024;

/// What a dependency said about one id.
#[derive(Debug)]
pub(super) enum Lookup {
    /// It exists; the pod that said so, when its answer named one.
    Found(Option<ServedBy>),
    Missing,
}

/// Why a dependency could not say whether an id exists. Every kind is an outage of
/// that dependency (it may answer in a moment), never a verdict on the booking.
///
/// The message names the service and carries the client's own error text, so it is
/// the whole story: the variants keep that error as a field, not as a `source`, and a
/// log line of the message repeats nothing.
#[derive(Debug, thiserror::Error)]
pub(super) enum LookupError {
    /// No connection, or the exchange failed before an answer arrived.
    #[error("{service} is unreachable: {cause}")]
    Unreachable { service: ServiceKind, cause: SendRequestError },
    /// No complete answer within `--upstream-timeout-ms`.
    #[error("{service} did not answer in time")]
    Timeout { service: ServiceKind },
    /// The body failed while it was read.
    #[error("{service} broke off its answer: {cause}")]
    BrokenBody { service: ServiceKind, cause: PayloadError },
    /// The body ended before its `Content-Length` (awc reports no error for that).
    #[error("{service} broke off its answer after {received} of {declared} bytes")]
    ShortBody { service: ServiceKind, received: usize, declared: usize },
    /// An answer other than 200 (exists) or 404 (does not).
    #[error("{service} answered {status}")]
    Status { service: ServiceKind, status: StatusCode },
}

impl LookupError {
    /// The dependency that failed.
    pub(super) fn service(&self) -> ServiceKind {
        match self {
            LookupError::Unreachable { service, .. }
            | LookupError::Timeout { service }
            | LookupError::BrokenBody { service, .. }
            | LookupError::ShortBody { service, .. }
            | LookupError::Status { service, .. } => *service,
        }
    }

    /// A short name of the kind, for the log line.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            LookupError::Unreachable { .. } => "unreachable",
            LookupError::Timeout { .. } => "timeout",
            LookupError::BrokenBody { .. } | LookupError::ShortBody { .. } => "broken_body",
            LookupError::Status { .. } => "status",
        }
    }
}

/// `GET url` on `service` with the propagated headers. A failure is counted in
/// `theater_upstream_errors_total` here; [`verdict`] logs it.
pub(super) async fn lookup(
    client: &awc::Client,
    url: String,
    service: ServiceKind,
    headers: &[(HeaderName, HeaderValue)],
) -> Result<Lookup, LookupError> {
    let answer = ask(client, url, service, headers).await;
    if answer.is_err() {
        metrics::upstream_error(service.name());
    }
    answer
}

async fn ask(
    client: &awc::Client,
    url: String,
    service: ServiceKind,
    headers: &[(HeaderName, HeaderValue)],
) -> Result<Lookup, LookupError> {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.insert_header((name.clone(), value.clone()));
    }
    let mut response = request.send().await.map_err(|cause| match cause {
        SendRequestError::Timeout => LookupError::Timeout { service },
        cause => LookupError::Unreachable { service, cause },
    })?;
    let served_by = ServedBy::from_headers(response.headers());
    // Drain the body so the pooled connection can be reused.
    // awc hands back a body cut short of its Content-Length without an error; compare.
    let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let body = response.body().limit(MAX_LOOKUP_BODY).await.map_err(|cause| match cause {
        // awc's response timeout, reached while the body was still arriving.
        PayloadError::Io(e) if e.kind() == io::ErrorKind::TimedOut => LookupError::Timeout { service },
        cause => LookupError::BrokenBody { service, cause },
    })?;
    if let Some(declared) = declared.filter(|&len| len != body.len()) {
        return Err(LookupError::ShortBody { service, received: body.len(), declared });
    }
    match response.status() {
        StatusCode::OK => Ok(Lookup::Found(served_by)),
        StatusCode::NOT_FOUND => Ok(Lookup::Missing),
        status => Err(LookupError::Status { service, status }),
    }
}

/// Turns the two lookups into the checked route, or the problem to answer with:
/// 503 when a dependency failed (it may be fine in a moment; each failure is logged
/// here, where it becomes the response), else 422 naming each missing id.
pub(super) fn verdict(
    user: Result<Lookup, LookupError>,
    movie: Result<Lookup, LookupError>,
    order: (Id, Id),
) -> Result<(Option<ServedBy>, Option<ServedBy>), Problem> {
    let mut missing = Vec::new();
    let mut failures = Vec::new();
    let mut served = [None, None];
    for (slot, (lookup, field, what, id)) in
        [(user, "userId", "user", order.0), (movie, "movieId", "movie", order.1)].into_iter().enumerate()
    {
        match lookup {
            Ok(Lookup::Found(by)) => served[slot] = by,
            Ok(Lookup::Missing) => missing.push(FieldError::new(field, format!("no {what} with id {id}"))),
            Err(error) => {
                tracing::warn!(upstream = error.service().name(), kind = error.kind(), %error, "lookup failed");
                failures.push(error.to_string());
            }
        }
    }
    if !failures.is_empty() {
        return Err(Problem::unavailable(failures.join("; ")));
    }
    if !missing.is_empty() {
        return Err(Problem::unprocessable(missing));
    }
    let [user, movie] = served;
    Ok((user, movie))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_dependency_answers_503_naming_each_failure_before_any_missing_id() {
        let user = Err(LookupError::Status { service: ServiceKind::User, status: StatusCode::INTERNAL_SERVER_ERROR });
        let movie = Err(LookupError::Timeout { service: ServiceKind::Movie });
        let problem = verdict(user, movie, (Id(1), Id(2))).unwrap_err();
        assert_eq!(problem.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            problem.detail,
            "user-service answered 500 Internal Server Error; movie-service did not answer in time"
        );

        let problem =
            verdict(Ok(Lookup::Missing), Err(LookupError::Timeout { service: ServiceKind::Movie }), (Id(1), Id(2)))
                .unwrap_err();
        assert_eq!(problem.status, StatusCode::SERVICE_UNAVAILABLE, "an outage is not a missing user");
    }

    #[test]
    fn missing_ids_answer_422_naming_each_field() {
        let problem = verdict(Ok(Lookup::Missing), Ok(Lookup::Missing), (Id(7), Id(9))).unwrap_err();
        assert_eq!(problem.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<_> = problem.errors.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(fields, [("userId", "no user with id 7"), ("movieId", "no movie with id 9")]);
    }

    #[test]
    fn a_short_body_says_how_much_of_it_came() {
        let error = LookupError::ShortBody { service: ServiceKind::User, received: 1, declared: 100 };
        assert_eq!(error.to_string(), "user-service broke off its answer after 1 of 100 bytes");
        assert_eq!((error.service(), error.kind()), (ServiceKind::User, "broken_body"));
    }
}

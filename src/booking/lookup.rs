//! Asking user-service and movie-service whether a booking's user and movie exist.
//!
//! The calls go through the mesh (the sidecar picks a cluster), carry the propagated
//! headers, and report which pod answered so the booking can show its route.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use awc::error::SendRequestError;

use crate::domain::{FieldError, Id, ServedBy};
use crate::metrics;
use crate::problem::Problem;
use crate::service::ServiceKind;

/// Largest lookup response body read (it is only drained, to reuse the connection).
const MAX_LOOKUP_BODY: usize = 256 * 1024;

/// What a dependency said about one id.
#[derive(Debug)]
pub enum Lookup {
    Found(Option<ServedBy>),
    Missing,
    /// It could not answer: unreachable, timed out, or an error status.
    Failed(String),
}

/// `GET url` on `service` with the propagated headers.
pub async fn lookup(
    client: &awc::Client,
    url: String,
    service: ServiceKind,
    headers: &[(HeaderName, HeaderValue)],
) -> Lookup {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.insert_header((name.clone(), value.clone()));
    }
    let failed = |why: String| {
        metrics::upstream_error(service.name());
        Lookup::Failed(why)
    };
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(SendRequestError::Timeout) => return failed(format!("{service} did not answer in time")),
        Err(e) => return failed(format!("{service} is unreachable: {e}")),
    };
    let served_by = ServedBy::from_headers(response.headers());
    // Drain the body so the pooled connection can be reused.
    // awc hands back a body cut short of its Content-Length without an error; compare.
    let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    match response.body().limit(MAX_LOOKUP_BODY).await {
        Err(e) => return failed(format!("{service} broke off its answer: {e}")),
        Ok(body) if declared.is_some_and(|len| len != body.len()) => {
            return failed(format!("{service} broke off its answer after {} bytes", body.len()));
        }
        Ok(_) => {}
    }
    match response.status() {
        StatusCode::OK => Lookup::Found(served_by),
        StatusCode::NOT_FOUND => Lookup::Missing,
        status => failed(format!("{service} answered {status}")),
    }
}

/// Turns the two lookups into the checked route, or the problem to answer with:
/// 503 when a dependency failed (it may be fine in a moment), else 422 naming each
/// missing id.
pub fn verdict(user: Lookup, movie: Lookup, order: (Id, Id)) -> Result<(Option<ServedBy>, Option<ServedBy>), Problem> {
    let mut missing = Vec::new();
    let mut failures = Vec::new();
    let mut served = [None, None];
    for (slot, (lookup, field, what, id)) in
        [(user, "userId", "user", order.0), (movie, "movieId", "movie", order.1)].into_iter().enumerate()
    {
        match lookup {
            Lookup::Found(by) => served[slot] = by,
            Lookup::Missing => missing.push(FieldError::new(field, format!("no {what} with id {id}"))),
            Lookup::Failed(why) => failures.push(why),
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

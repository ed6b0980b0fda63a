//! Logging: the tracing subscriber and one structured line per request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use crate::cli::LogFormat;
use crate::identity::Identity;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the global subscriber; `filter` was validated by config.
pub fn init(format: LogFormat, filter: &str) {
    let filter: Targets = filter.parse().unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(false))
            .try_init(),
    };
    // Tests install it once per process; later calls find it there already.
    drop(installed);
}

/// Logs each request once it has been answered, and gives every response an
/// `x-request-id` (the caller's, or a fresh one) so a log line can be found from it.
pub async fn log_request(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let request_id = match req.headers().get(&REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            // Put it on the request too, so the calls this request causes carry it.
            let id = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a uuid is a valid header value");
            req.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let (service, cluster) = match req.app_data::<web::Data<Identity>>() {
        Some(me) => (me.service, me.cluster.clone()),
        None => ("unknown", String::new()),
    };
    let mut res = next.call(req).await?;
    let status = res.status().as_u16();
    tracing::info!(
        target: "access",
        %method,
        path,
        status,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = request_id.to_str().unwrap_or("-"),
        service,
        cluster,
        "request"
    );
    if !res.headers().contains_key(&REQUEST_ID) {
        res.headers_mut().insert(REQUEST_ID, request_id);
    }
    Ok(res)
}

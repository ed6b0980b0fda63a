//! Misbehaving on purpose, for the resilience lessons.
//!
//! Istio's own fault injection happens in the sidecar and does not count toward
//! outlier detection; errors and delays produced by the app itself do. With `--chaos`
//! a role's `/admin/chaos` sets the share of requests that fail with a chosen status
//! and a delay added to every request, so a class can watch Istio eject a misbehaving
//! cluster for real. Without `--chaos` the endpoint answers 404 and nothing is injected.

use std::sync::Arc;
use std::time::Duration;

use crate::http::api::resource;
use crate::http::metrics;
use crate::http::problem::{self, FieldError, Problem};
use crate::http::request::JsonBody;
use crate::settings::config::ChaosSettings;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use parking_lot::RwLock;

/// The chaos knobs of one role, shared by its workers.
#[derive(Debug, Clone)]
pub(crate) struct Chaos {
    enabled: bool,
    settings: Arc<RwLock<ChaosSettings>>,
}

impl Chaos {
    pub(crate) fn new(enabled: bool, initial: ChaosSettings) -> Self {
        Chaos { enabled, settings: Arc::new(RwLock::new(initial)) }
    }

    fn current(&self) -> ChaosSettings {
        *self.settings.read()
    }

    fn set(&self, new: ChaosSettings) {
        *self.settings.write() = new;
    }
}

/// Paths chaos never touches: probes (a failing probe would restart the pod instead of
/// letting Istio eject it), the knobs themselves, and metrics.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/admin/chaos" | "/metrics")
}

/// Applies the delay and the error share to a request.
pub(crate) async fn inject(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let chaos = req.app_data::<web::Data<Chaos>>().filter(|c| c.enabled).map(|c| c.current());
    if let Some(settings) = chaos.filter(|_| !exempt(req.path())) {
        if settings.delay_ms > 0 {
            metrics::chaos_injected("delay");
            actix_web::rt::time::sleep(Duration::from_millis(settings.delay_ms)).await;
        }
        if settings.error_rate > 0.0 && rand::random::<f64>() < settings.error_rate {
            metrics::chaos_injected("error");
            let status = StatusCode::from_u16(settings.error_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let response = Problem::injected(status).error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// The OpenAPI description of the chaos knobs.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_chaos, put_chaos))]
pub(crate) struct ChaosApi;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(["/admin/chaos"], [(Method::GET, web::to(get_chaos)), (Method::PUT, web::to(put_chaos))]));
}

fn disabled() -> Problem {
    Problem::not_found("chaos is off: start the role with --chaos (CHAOS_ENABLED=true) to enable /admin/chaos")
}

#[utoipa::path(get, path = "/admin/chaos", tag = "chaos", responses(
    (status = 200, description = "the current knobs", body = ChaosSettings),
    problem::ChaosOff))]
async fn get_chaos(chaos: web::Data<Chaos>) -> Result<HttpResponse, Problem> {
    if !chaos.enabled {
        return Err(disabled());
    }
    Ok(HttpResponse::Ok().json(chaos.current()))
}

/// Sets every knob at once; a field left out takes its default (off).
#[utoipa::path(put, path = "/admin/chaos", tag = "chaos", request_body = ChaosSettings, responses(
    (status = 200, description = "the knobs now in force", body = ChaosSettings),
    problem::ChaosOutOfRange,
    problem::ChaosOff,
    problem::TooSlow,
    problem::TooLarge))]
async fn put_chaos(chaos: web::Data<Chaos>, body: JsonBody<ChaosSettings>) -> Result<HttpResponse, Problem> {
    if !chaos.enabled {
        return Err(disabled());
    }
    let wanted = body.0;
    wanted.check().map_err(|knobs| {
        Problem::invalid(knobs.into_iter().map(|knob| FieldError::new(knob.field(), knob.rule())).collect())
    })?;
    chaos.set(wanted);
    tracing::warn!(?wanted, "chaos settings changed");
    Ok(HttpResponse::Ok().json(wanted))
}

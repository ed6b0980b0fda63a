//! Routes every role serves about itself: liveness, readiness, identity, metrics, an
//! echo of the request headers (so a class can see which headers survived each hop),
//! its OpenAPI document and, on a backend, `/`. The document (`openapi::document`)
//! reaches this module as [`ApiDoc`] app data and is built once, so this module needs
//! no knowledge of the roles.

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use crate::data::domain::ServedBy;
use crate::data::store::Store;
use crate::http::api::resource;
use crate::http::identity::Identity;
use crate::http::metrics;
use crate::http::problem::{self, FieldError, Problem};

/// The OpenAPI description of the routes every role serves.
#[derive(OpenApi)]
#[openapi(
    paths(healthz, readyz, info, echo_headers, metrics::get_metrics, get_openapi),
    // Referenced by the problem+json responses (`problem::InvalidField` …), which do not
    // register the schemas themselves.
    components(schemas(Problem, FieldError))
)]
pub(crate) struct MetaApi;

#[derive(Serialize, ToSchema)]
struct Status {
    status: &'static str,
}

/// `/info`: the role's identity and the kind of store it uses.
#[derive(Serialize, ToSchema)]
struct Info {
    #[serde(flatten)]
    identity: Identity,
    /// `redis` or `memory`; absent on the gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    store: Option<&'static str>,
}

/// `/headers`: the request headers as received (a repeated header becomes a list).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EchoedHeaders {
    #[schema(value_type = Object)]
    headers: BTreeMap<String, Value>,
    served_by: ServedBy,
}

/// `GET /` on a backend: who answered and what it serves. The guide checks
/// cross-cluster reachability with `curl http://movie-service.theater-msa.svc.cluster.local:8082/`
/// from inside a pod, so the bare address must say something useful.
#[derive(OpenApi)]
#[openapi(paths(about))]
pub(crate) struct AboutApi;

#[derive(Serialize, ToSchema)]
struct About {
    #[serde(flatten)]
    identity: Identity,
    /// Every route this role serves, as `METHOD /path`.
    endpoints: Vec<String>,
}

/// A role's OpenAPI document, handed to the routes here as app data by `startup` (so
/// this module needs no knowledge of the roles) and built once, on its first use:
/// `/openapi.json` serves its bytes and a backend's `/` lists its endpoints. Not at
/// start-up: generating it leaves about 1.6 MiB more resident (measured on the
/// gateway: the allocator keeps the freed scratch memory), for a page few ask for.
pub(crate) struct ApiDoc {
    build: Box<dyn Fn() -> utoipa::openapi::OpenApi + Send + Sync>,
    built: std::sync::OnceLock<Built>,
}

struct Built {
    json: web::Bytes,
    /// Every route, as `METHOD /path`, in the document's order.
    endpoints: Vec<String>,
}

impl ApiDoc {
    pub(crate) fn new(build: impl Fn() -> utoipa::openapi::OpenApi + Send + Sync + 'static) -> Self {
        ApiDoc { build: Box::new(build), built: std::sync::OnceLock::new() }
    }

    fn get(&self) -> &Built {
        self.built.get_or_init(|| {
            let doc = (self.build)();
            let value = serde_json::to_value(&doc).unwrap_or_default();
            let mut endpoints: Vec<String> = Vec::new();
            for (path, operations) in value["paths"].as_object().into_iter().flatten() {
                for method in operations.as_object().into_iter().flatten().map(|(method, _)| method.to_uppercase()) {
                    endpoints.push(format!("{method} {path}"));
                }
            }
            Built { json: serde_json::to_vec(&doc).unwrap_or_default().into(), endpoints }
        })
    }
}

/// The backends' `/` (the gateway's is the page).
pub(crate) fn about_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(["/"], [(Method::GET, web::to(about))]));
}

#[utoipa::path(get, path = "/", tag = "meta", responses((status = 200, description = "who this is and what it serves", body = About)))]
async fn about(me: web::Data<Identity>, doc: web::Data<ApiDoc>) -> HttpResponse {
    HttpResponse::Ok().json(About { identity: me.get_ref().clone(), endpoints: doc.get().endpoints.clone() })
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(["/healthz"], [(Method::GET, web::to(healthz))]))
        .service(resource(["/readyz"], [(Method::GET, web::to(readyz))]))
        .service(resource(["/info"], [(Method::GET, web::to(info))]))
        .service(resource(["/headers"], [(Method::GET, web::to(echo_headers))]))
        .service(resource(["/metrics"], [(Method::GET, web::to(metrics::get_metrics))]))
        .service(resource(["/openapi.json"], [(Method::GET, web::to(get_openapi))]));
}

/// Alive: the process answers HTTP.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "alive", body = Status)))]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Ready when the store answers; a role without a store (the gateway) is always ready.
#[utoipa::path(get, path = "/readyz", tag = "meta", responses(
    (status = 200, description = "ready", body = Status),
    problem::StoreUnreachable))]
async fn readyz(store: Option<web::Data<Store>>) -> Result<HttpResponse, Problem> {
    if let Some(store) = store {
        store.ping().await.map_err(|e| {
            tracing::debug!(?e, "readiness check failed");
            Problem::unavailable(format!("the {} store is not reachable", store.kind()))
        })?;
    }
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}

#[utoipa::path(get, path = "/info", tag = "meta", responses((status = 200, description = "who this is", body = Info)))]
async fn info(me: web::Data<Identity>, store: Option<web::Data<Store>>) -> HttpResponse {
    HttpResponse::Ok().json(Info { identity: me.get_ref().clone(), store: store.map(|s| s.kind()) })
}

#[utoipa::path(get, path = "/headers", tag = "meta",
    responses((status = 200, description = "the request headers received", body = EchoedHeaders)))]
async fn echo_headers(req: HttpRequest, me: web::Data<Identity>) -> HttpResponse {
    let mut headers: BTreeMap<String, Value> = BTreeMap::new();
    for (name, value) in req.headers() {
        let value = Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
        match headers.get_mut(name.as_str()) {
            None => {
                headers.insert(name.as_str().to_owned(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    HttpResponse::Ok().json(EchoedHeaders { headers, served_by: me.served_by() })
}

/// This role's API as OpenAPI 3.1, generated from the handlers and types.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "the OpenAPI document")))]
async fn get_openapi(doc: web::Data<ApiDoc>) -> HttpResponse {
    HttpResponse::Ok().insert_header(ContentType::json()).body(doc.get().json.clone())
}

//! Routes every role serves about itself: liveness, readiness, identity, metrics and an
//! echo of the request headers (so a class can see which headers survived each hop).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::api::resource;
use crate::identity::Identity;
use crate::problem::Problem;
use crate::store::Store;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(["/healthz"]).route(web::get().to(healthz)))
        .service(resource(["/readyz"]).route(web::get().to(readyz)))
        .service(resource(["/info"]).route(web::get().to(info)))
        .service(resource(["/headers"]).route(web::get().to(echo_headers)))
        .service(resource(["/metrics"]).route(web::get().to(crate::metrics::get_metrics)));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the store answers; a role without a store (the gateway) is always ready.
async fn readyz(store: Option<web::Data<Store>>) -> Result<HttpResponse, Problem> {
    if let Some(store) = store {
        store.ping().await.map_err(|e| {
            tracing::debug!(?e, "readiness check failed");
            Problem::unavailable(format!("the {} store is not reachable", store.kind()))
        })?;
    }
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}

async fn info(me: web::Data<Identity>, store: Option<web::Data<Store>>) -> HttpResponse {
    let mut body = serde_json::to_value(me.get_ref()).unwrap_or_default();
    if let (Some(store), Some(map)) = (store, body.as_object_mut()) {
        map.insert("store".into(), store.kind().into());
    }
    HttpResponse::Ok().json(body)
}

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
    HttpResponse::Ok().json(json!({"headers": headers, "servedBy": me.served_by()}))
}

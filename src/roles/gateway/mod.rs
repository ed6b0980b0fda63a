//! api-gateway: the entry point of the mesh.
//!
//! It proxies `/users`, `/movies` and `/bookings` to the backends (`proxy`), records
//! which cluster answered (`traffic`) and when (`history`), reads the Istio rules and pods of its namespace
//! (`kube_access`, `mesh`, `topology`) and serves the page that shows all of it (`ui`).
//!
//! # Layers, lowest first
//!
//! A submodule reaches only siblings of a lower layer (`tests/it/layers.rs` checks it):
//!
//! 1. `rules`: the Istio rules reduced to what the page shows, and the weights per cluster.
//! 2. `history`: answers per second by cluster over minutes, and the rule changes.
//! 3. `traffic`: who answered the last requests, and the pods seen; it keeps the history.
//! 4. `kube_access`: the Kubernetes API of the namespace, its answers cached briefly.
//! 5. `mesh`, `topology`, `proxy`, `ui`: the routes (`/api/mesh`, `/api/topology`,
//!    the proxied prefixes, the page).

mod history;
mod kube_access;
mod mesh;
mod proxy;
mod rules;
mod topology;
mod traffic;
mod ui;

use actix_web::http::Method;
use actix_web::web;

use crate::http::api::resource;
use crate::settings::config::Settings;
use crate::settings::service::ServiceKind;

/// The gateway's state shared by its workers (cheap to clone: `Data` is an `Arc`).
#[derive(Clone)]
pub(crate) struct GatewayState {
    pub(crate) traffic: web::Data<traffic::Traffic>,
    pub(crate) kube: web::Data<kube_access::KubeAccess>,
    pub(crate) ui: web::Data<ui::Ui>,
}

impl GatewayState {
    pub(crate) fn new(settings: &Settings) -> Self {
        GatewayState {
            traffic: web::Data::new(traffic::Traffic::new(settings.gateway.traffic_window)),
            kube: web::Data::new(kube_access::KubeAccess::new(
                settings.gateway.kubeconfig.clone(),
                settings.identity.namespace.clone(),
                settings.gateway.mesh_rules_file.clone(),
            )),
            ui: web::Data::new(ui::Ui::new(settings.gateway.ui_dir.clone())),
        }
    }
}

/// The OpenAPI description of the gateway's own routes (proxied ones are the backends').
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    traffic::get_traffic,
    traffic::clear_traffic,
    traffic::get_history,
    mesh::get_mesh,
    topology::get_topology
))]
pub(crate) struct GatewayApi;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        ["/api/traffic"],
        [(Method::GET, web::to(traffic::get_traffic)), (Method::DELETE, web::to(traffic::clear_traffic))],
    ))
    .service(resource(["/api/traffic/history"], [(Method::GET, web::to(traffic::get_history))]))
    .service(resource(["/api/mesh"], [(Method::GET, web::to(mesh::get_mesh))]))
    .service(resource(["/api/topology"], [(Method::GET, web::to(topology::get_topology))]))
    .service(resource(["/", "/app.js", "/style.css"], [(Method::GET, web::to(ui::serve))]));
    // Prefix scopes, not `{tail:.*}` patterns: a static prefix is a string comparison,
    // while a pattern runs a regex for every proxied request.
    for prefix in ServiceKind::ALL.into_iter().filter_map(ServiceKind::prefix) {
        cfg.service(web::scope(prefix).default_service(web::to(proxy::forward)));
    }
}

//! api-gateway: the entry point of the mesh. Its proxy, traffic observation, Istio
//! rule reader and web page are built in the gateway's own modules.

use actix_web::web;

pub fn routes(_cfg: &mut web::ServiceConfig) {}

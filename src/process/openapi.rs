//! Each role's OpenAPI document, assembled from the route modules' generated parts.

use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;

use crate::http::chaos::ChaosApi;
use crate::roles::booking::BookingApi;
use crate::roles::gateway::GatewayApi;
use crate::roles::meta::{AboutApi, MetaApi};
use crate::roles::movie::MovieApi;
use crate::roles::user::UserApi;
use crate::settings::service::ServiceKind;

/// What `service` serves: the shared routes, the chaos knobs and its own API.
pub fn document(service: ServiceKind) -> Document {
    let mut doc = MetaApi::openapi();
    doc.merge(ChaosApi::openapi());
    match service {
        ServiceKind::Gateway => doc.merge(GatewayApi::openapi()),
        ServiceKind::User => doc.merge(UserApi::openapi()),
        ServiceKind::Movie => doc.merge(MovieApi::openapi()),
        ServiceKind::Booking => doc.merge(BookingApi::openapi()),
    }
    if service.prefix().is_some() {
        doc.merge(AboutApi::openapi());
    }
    doc.info.title = format!("Theater MSA {}", service.name());
    env!("CARGO_PKG_VERSION").clone_into(&mut doc.info.version);
    doc.info.description =
        Some(format!("The HTTP API of {}, one service of the Theater MSA mesh demo.", service.name()));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_backend_documents_its_own_routes_and_the_shared_ones() {
        let user = serde_json::to_value(document(ServiceKind::User)).unwrap();
        let paths = user["paths"].as_object().unwrap();
        for path in ["/users/", "/users/{id}", "/healthz", "/readyz", "/info", "/headers", "/metrics", "/admin/chaos"] {
            assert!(paths.contains_key(path), "user-service lacks {path}");
        }
        assert!(!paths.contains_key("/movies/"));
        let booking = serde_json::to_value(document(ServiceKind::Booking)).unwrap();
        assert!(booking["paths"]["/bookings/user/{userId}"]["get"].is_object());
        assert!(booking["components"]["schemas"]["Problem"].is_object());
    }
}

//! Who answered: service, cluster and pod, sent on every response.
//!
//! These headers are how a class sees Istio's split: each response names the cluster
//! and pod that served it, and the gateway counts them.

use actix_web::middleware::DefaultHeaders;
use serde::Serialize;

use crate::data::clock;
pub(crate) use crate::data::domain::ServedBy;
use crate::settings::config::IdentitySettings;
use crate::settings::service::ServiceKind;

pub(crate) const SERVICE_NAME: &str = "x-service-name";
pub(crate) const SERVICE_CLUSTER: &str = "x-service-cluster";
pub(crate) const POD_NAME: &str = "x-pod-name";

/// The identity of one served role in this process.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Identity {
    #[schema(value_type = String)]
    pub(crate) service: &'static str,
    #[schema(value_type = String)]
    role: &'static str,
    pub(crate) cluster: String,
    pub(crate) pod: String,
    node: String,
    namespace: String,
    #[schema(value_type = String)]
    version: &'static str,
    started_at: String,
}

impl Identity {
    pub(crate) fn new(service: ServiceKind, settings: &IdentitySettings) -> Self {
        Identity {
            service: service.name(),
            role: service.role(),
            cluster: settings.cluster.clone(),
            pod: settings.pod.clone(),
            node: settings.node.clone(),
            namespace: settings.namespace.clone(),
            version: env!("CARGO_PKG_VERSION"),
            started_at: clock::now_rfc3339(),
        }
    }

    pub(crate) fn served_by(&self) -> ServedBy {
        ServedBy { service: self.service.to_owned(), cluster: self.cluster.clone(), pod: self.pod.clone() }
    }

    /// Adds the identity headers to responses that lack them. A response proxied by the
    /// gateway already carries the backend's, which must reach the client unchanged.
    pub(crate) fn headers(&self) -> DefaultHeaders {
        DefaultHeaders::new()
            .add((SERVICE_NAME, self.service))
            .add((SERVICE_CLUSTER, self.cluster.as_str()))
            .add((POD_NAME, self.pod.as_str()))
    }
}

impl ServedBy {
    /// Reads who answered from a response's identity headers.
    pub(crate) fn from_headers(headers: &actix_web::http::header::HeaderMap) -> Option<Self> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Some(ServedBy { service: get(SERVICE_NAME)?, cluster: get(SERVICE_CLUSTER)?, pod: get(POD_NAME)? })
    }
}

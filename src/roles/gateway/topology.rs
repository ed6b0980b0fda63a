//! `GET /api/topology`: the pods of the gateway's namespace (from the API) and every
//! pod seen answering through the gateway, from any cluster — a ctx2 pod is invisible
//! to ctx1's API but shows up here once it answers.

use actix_web::{HttpResponse, web};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use serde_json::{Value, json};

use super::kube_access::{KubeAccess, KubeError};
use super::traffic::Traffic;

async fn fetch(client: kube::Client, namespace: String) -> Result<Value, KubeError> {
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    let list = pods.list(&ListParams::default()).await?;
    let pods: Vec<Value> = list
        .items
        .iter()
        .map(|pod| {
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let status = pod.status.clone().unwrap_or_default();
            let ready = status.conditions.unwrap_or_default().iter().any(|c| c.type_ == "Ready" && c.status == "True");
            json!({
                "name": pod.metadata.name,
                "app": labels.get("app"),
                "cluster": labels.get("cluster"),
                "version": labels.get("version"),
                "node": pod.spec.as_ref().and_then(|s| s.node_name.clone()),
                "phase": status.phase,
                "ready": ready,
            })
        })
        .collect();
    Ok(Value::Array(pods))
}

#[utoipa::path(get, path = "/api/topology", tag = "gateway",
    responses((status = 200, description = "pods from the API (or source=none/unavailable and why) and pods seen in responses")))]
pub(crate) async fn get_topology(kube: web::Data<KubeAccess>, traffic: web::Data<Traffic>) -> HttpResponse {
    let seen = traffic.seen_pods();
    match kube.cached(fetch).await {
        Ok(pods) => HttpResponse::Ok()
            .json(json!({"source": "kubernetes", "namespace": kube.namespace, "pods": pods, "seen": seen})),
        Err(reason) => HttpResponse::Ok().json(json!({
            "source": if reason.no_cluster() { "none" } else { "unavailable" },
            "reason": reason.to_string(),
            "namespace": kube.namespace,
            "pods": [],
            "seen": seen,
        })),
    }
}

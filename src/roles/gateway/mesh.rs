//! `GET /api/mesh`: the Istio rules of the gateway's namespace (reduced by `rules`) with
//! where they came from, read live from the API or the mesh lab's rules file; never
//! invented.
//!
//! The answer is typed ([`Mesh`]); the Istio objects it passes on as they are (labels,
//! traffic policies, faults, retries) stay JSON values.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use kube::Api;
use kube::api::ListParams;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::kube_access::{KubeAccess, KubeError};
use super::rules::{Rules, ServiceRules, reduce};
use super::traffic::Traffic;
use crate::http::identity::Identity;

/// Istio API versions tried in order: v1 (Istio 1.22+), then v1beta1.
const VERSIONS: [&str; 2] = ["v1", "v1beta1"];

/// `GET /api/mesh`: the rules and where they came from (`source`), or why there are none.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "source", rename_all = "lowercase")]
pub(crate) enum Mesh {
    /// Read from the Kubernetes API of the gateway's cluster.
    Kubernetes {
        namespace: String,
        #[serde(rename = "apiVersion")]
        api_version: String,
        services: BTreeMap<String, ServiceRules>,
        /// Where the rules came from, in words.
        origin: String,
    },
    /// Read from the mesh lab's rules file (`--mesh-rules-file`).
    File {
        namespace: String,
        #[serde(rename = "apiVersion")]
        api_version: String,
        services: BTreeMap<String, ServiceRules>,
        /// The rules file's path.
        file: String,
        /// Where the rules came from, in words.
        origin: String,
    },
    /// The gateway runs without any cluster (a laptop, `--role all`).
    #[serde(rename = "none")]
    NoCluster { namespace: String, reason: String },
    /// The API could not be read; `reason` says why.
    Unavailable { namespace: String, reason: String },
}

/// Where rules were read from: the API of a cluster, or a rules file.
#[derive(Debug)]
enum Origin {
    Api { cluster: String },
    File { path: String },
}

impl Mesh {
    fn new(rules: Result<(Rules, Origin), KubeError>, namespace: &str) -> Self {
        match rules {
            Ok((Rules { namespace, api_version, services }, Origin::Api { cluster })) => Mesh::Kubernetes {
                namespace,
                api_version,
                services,
                origin: format!("the Kubernetes API of {cluster}"),
            },
            Ok((Rules { namespace, api_version, services }, Origin::File { path })) => {
                let origin = format!("the rules file {path}");
                Mesh::File { namespace, api_version, services, file: path, origin }
            }
            Err(reason) if reason.no_cluster() => {
                Mesh::NoCluster { namespace: namespace.to_owned(), reason: reason.to_string() }
            }
            Err(reason) => Mesh::Unavailable { namespace: namespace.to_owned(), reason: reason.to_string() },
        }
    }
}

async fn list(
    client: &kube::Client,
    namespace: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Result<Vec<Value>, kube::Error> {
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("networking.istio.io", version, kind), plural);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let objects = api.list(&ListParams::default()).await?;
    Ok(objects
        .items
        .into_iter()
        .map(|o| json!({"name": o.metadata.name, "spec": o.data.get("spec").cloned().unwrap_or(Value::Null)}))
        .collect())
}

/// Lists VirtualServices and DestinationRules with the first Istio version served.
async fn fetch(client: kube::Client, namespace: String) -> Result<Rules, KubeError> {
    let mut last_error = KubeError::NotServed(VERSIONS[VERSIONS.len() - 1]);
    for version in VERSIONS {
        let virtual_services = list(&client, &namespace, version, "VirtualService", "virtualservices").await;
        let destination_rules = list(&client, &namespace, version, "DestinationRule", "destinationrules").await;
        match (virtual_services, destination_rules) {
            (Ok(vs), Ok(dr)) => return Ok(reduce(&namespace, version, &vs, &dr)),
            (Err(kube::Error::Api(s)), _) | (_, Err(kube::Error::Api(s))) if s.code == 404 => {
                last_error = KubeError::NotServed(version);
            }
            (Err(e), _) | (_, Err(e)) => return Err(e.into()),
        }
    }
    Err(last_error)
}

/// The rules in a `kind: List` file (what the mesh lab plays), reduced like the API's:
/// the VirtualServices and DestinationRules of `namespace` (or with none given).
fn read_rules_file(path: &std::path::Path, namespace: &str) -> Result<(Rules, Origin), KubeError> {
    let shown = path.display();
    let unusable = |why: String| KubeError::RulesFile(why);
    let text =
        std::fs::read_to_string(path).map_err(|e| unusable(format!("cannot read the rules file {shown}: {e}")))?;
    let list: Value =
        serde_json::from_str(&text).map_err(|e| unusable(format!("the rules file {shown} is not JSON: {e}")))?;
    let items =
        list["items"].as_array().ok_or_else(|| unusable(format!("the rules file {shown} has no items list")))?;
    let mine = |kind: &str| -> Vec<Value> {
        items
            .iter()
            .filter(|o| o["kind"] == kind)
            .filter(|o| o["metadata"]["namespace"].as_str().is_none_or(|ns| ns == namespace))
            .map(|o| json!({"name": o["metadata"]["name"], "spec": o["spec"]}))
            .collect()
    };
    let version = items
        .iter()
        .find_map(|o| o["apiVersion"].as_str()?.strip_prefix("networking.istio.io/"))
        .unwrap_or(VERSIONS[0]);
    let rules = reduce(namespace, version, &mine("VirtualService"), &mine("DestinationRule"));
    Ok((rules, Origin::File { path: shown.to_string() }))
}

/// The Istio rules the gateway reads, or why it cannot read them: `source` is
/// `kubernetes` or `file` with the rules and an `origin` in words, `none` when the
/// gateway runs without any cluster (a laptop), `unavailable` with the API's reason.
#[utoipa::path(get, path = "/api/mesh", tag = "gateway",
    responses((status = 200, description = "the rules per service with where they came from, or source=none/unavailable with the reason", body = Mesh)))]
pub(crate) async fn get_mesh(
    kube: web::Data<KubeAccess>,
    me: web::Data<Identity>,
    traffic: web::Data<Traffic>,
) -> HttpResponse {
    let rules = match &kube.rules_file {
        Some(path) => {
            let (path, namespace) = (path.clone(), kube.namespace.clone());
            web::block(move || read_rules_file(&path, &namespace))
                .await
                .unwrap_or_else(|e| Err(KubeError::RulesFile(format!("reading the rules file failed: {e}"))))
        }
        None => kube.cached(fetch).await.map(|rules| (rules, Origin::Api { cluster: me.cluster.clone() })),
    };
    if let Ok((rules, _)) = &rules {
        traffic.history.note_rules(rules.weights(), super::history::now_ms());
    }
    HttpResponse::Ok().json(Mesh::new(rules, &kube.namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer `get_mesh` gives for rules read from a cluster's API, as JSON.
    fn answer(rules: Rules) -> Value {
        serde_json::to_value(Mesh::new(Ok((rules, Origin::Api { cluster: "ctx1".to_owned() })), "ns")).unwrap()
    }

    #[test]
    fn reads_the_rules_of_its_namespace_from_a_list_file() {
        let dir = std::env::temp_dir().join(format!("theater-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rules.json");
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": {"name": "user-service", "namespace": "theater-msa"},
             "spec": {"hosts": ["user-service"], "http": [{"route": [
                {"destination": {"host": "user-service", "subset": "ctx1"}, "weight": 90},
                {"destination": {"host": "user-service", "subset": "ctx2"}, "weight": 10}]}]}},
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": {"name": "theater-msa", "namespace": "istio-system"},
             "spec": {"hosts": ["theater.example.com"], "http": []}},
            {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
             "metadata": {"name": "user-service", "namespace": "theater-msa"},
             "spec": {"host": "user-service", "subsets": [{"name": "ctx1", "labels": {"cluster": "ctx1"}}]}}
        ]});
        std::fs::write(&file, list.to_string()).unwrap();

        let mesh = serde_json::to_value(Mesh::new(read_rules_file(&file, "theater-msa"), "theater-msa")).unwrap();

        assert_eq!(mesh["source"], "file");
        assert_eq!(mesh["apiVersion"], "networking.istio.io/v1");
        assert_eq!(mesh["services"]["user-service"]["defaultRoute"][0]["weight"], 90);
        assert_eq!(mesh["services"]["user-service"]["subsets"][0]["name"], "ctx1");
        assert!(mesh["services"].get("theater").is_none(), "another namespace's rules stay out");
        std::fs::write(&file, "{not json").unwrap();
        let err = read_rules_file(&file, "theater-msa").unwrap_err();
        assert!(err.to_string().contains("is not JSON"), "{err}");
        assert!(
            read_rules_file(&dir.join("missing.json"), "theater-msa").unwrap_err().to_string().contains("cannot read")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reduces_weights_canary_routes_and_subsets() {
        let vs = vec![json!({"name": "user-service", "spec": {"hosts": ["user-service"], "http": [
            {"match": [{"headers": {"x-canary": {"exact": "true"}}}],
             "route": [{"destination": {"host": "user-service", "subset": "ctx2"}}]},
            {"route": [{"destination": {"host": "user-service", "subset": "ctx1"}, "weight": 70},
                       {"destination": {"host": "user-service", "subset": "ctx2"}, "weight": 30}],
             "fault": {"abort": {"httpStatus": 503, "percentage": {"value": 10}}}}
        ]}})];
        let dr = vec![json!({"name": "user-service", "spec": {"host": "user-service.theater-msa.svc.cluster.local",
            "subsets": [{"name": "ctx1", "labels": {"cluster": "ctx1"}}, {"name": "ctx2", "labels": {"cluster": "ctx2"}}]}})];
        let mesh = answer(reduce("theater-msa", "v1", &vs, &dr));
        let user = &mesh["services"]["user-service"];
        assert_eq!(user["defaultRoute"][0], json!({"host": "user-service", "subset": "ctx1", "weight": 70}));
        assert_eq!(user["defaultRoute"][1]["weight"], 30);
        assert_eq!(
            user["headerRoutes"][0]["match"][0],
            json!({"header": "x-canary", "kind": "exact", "value": "true"})
        );
        assert_eq!(user["headerRoutes"][0]["destinations"][0]["weight"], 100, "a lone destination takes all");
        assert_eq!(user["routes"][1]["fault"]["abort"]["httpStatus"], 503);
        assert_eq!(user["subsets"][1]["labels"]["cluster"], "ctx2");
        assert_eq!(user["weights"], json!({"ctx1": 70, "ctx2": 30}));
    }

    #[test]
    fn weights_follow_the_subsets_cluster_label_and_need_a_subset() {
        let dr = vec![json!({"name": "movie-service", "spec": {"host": "movie-service",
            "subsets": [{"name": "east", "labels": {"cluster": "ctx1"}}, {"name": "ctx2", "labels": {"version": "v2"}}]}})];
        let route = |destinations: Value| {
            vec![
                json!({"name": "movie-service", "spec": {"hosts": ["movie-service"], "http": [{"route": destinations}]}}),
            ]
        };
        let mesh = answer(reduce(
            "ns",
            "v1",
            &route(json!([
            {"destination": {"host": "movie-service", "subset": "east"}, "weight": 30},
            {"destination": {"host": "movie-service", "subset": "ctx2"}, "weight": 70}])),
            &dr,
        ));
        assert_eq!(mesh["services"]["movie-service"]["weights"], json!({"ctx1": 30, "ctx2": 70}));
        let whole_host = answer(reduce("ns", "v1", &route(json!([{"destination": {"host": "movie-service"}}])), &dr));
        assert_eq!(whole_host["services"]["movie-service"]["weights"], Value::Null);
    }
}

#[cfg(test)]
mod shape {
    //! The JSON `/api/mesh` answers, pinned key by key and in order: the page
    //! (`src/roles/gateway/ui/app.js`), the Chromium tests and the lab read it.

    use serde_json::{Value, json};

    use super::*;

    fn virtual_services() -> Vec<Value> {
        vec![
            json!({"name": "user-service", "spec": {"hosts": ["user-service", "user-service.theater-msa.svc.cluster.local"], "http": [
                {"name": "canary", "match": [{"headers": {"x-canary": {"exact": "true"}, "x-user": {"prefix": "kim", "regex": "^k"}}}],
                 "route": [{"destination": {"host": "user-service", "subset": "ctx2"}}],
                 "retries": {"attempts": 3, "perTryTimeout": "1s"}, "timeout": "5s"},
                {"route": [{"destination": {"host": "user-service", "subset": "ctx1"}, "weight": 70},
                           {"destination": {"host": "user-service", "subset": "ctx2"}, "weight": 30}],
                 "fault": {"abort": {"httpStatus": 503, "percentage": {"value": 10}}}},
                {"match": [{"uri": {"prefix": "/users"}}], "route": [{"destination": {"host": "user-service"}}]},
                {"route": [{"destination": {"host": "user-service", "subset": "ctx1"}},
                           {"destination": {"host": "user-service", "subset": "ctx2"}, "weight": null}]}
            ]}}),
            json!({"name": "movie-service", "spec": {"hosts": ["movie-service"], "http": [
                {"match": [], "route": [{"destination": {"host": "movie-service.theater-msa.svc.cluster.local"}}]}]}}),
            json!({"name": null, "spec": {"hosts": ["booking-service"]}}),
        ]
    }

    fn destination_rules() -> Vec<Value> {
        vec![
            json!({"name": "user-service", "spec": {"host": "user-service.theater-msa.svc.cluster.local",
                "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 10}}},
                "subsets": [{"name": "ctx1", "labels": {"cluster": "ctx1"}},
                            {"name": "ctx2", "labels": {"cluster": "ctx2"}, "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}}}]}}),
            json!({"name": "movie-service", "spec": {"host": "movie-service", "subsets": [{"name": "east"}]}}),
            json!({"name": "booking-service", "spec": {"host": "booking-service", "trafficPolicy": null}}),
        ]
    }

    /// A rules file of the lab's kind, at a fixed place: its path is in the answer.
    fn rules_file() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("theater-mesh-shape-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let mut items: Vec<Value> = Vec::new();
        for (kind, objects) in [("VirtualService", virtual_services()), ("DestinationRule", destination_rules())] {
            for o in objects {
                items.push(json!({"apiVersion": "networking.istio.io/v1", "kind": kind,
                    "metadata": {"name": o["name"], "namespace": "theater-msa"}, "spec": o["spec"]}));
            }
        }
        let file = dir.join("rules.json");
        let _ = std::fs::write(&file, json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string());
        file
    }

    #[test]
    fn the_answers_keep_their_shape() {
        let file = rules_file();
        let answers = current_answers(&file);
        let _ = std::fs::remove_dir_all(file.parent().unwrap_or(&file));
        let got =
            serde_json::to_string_pretty(&answers).unwrap_or_default().replace(&file.display().to_string(), "RULES");
        if std::env::var_os("MESH_SHAPE_PRINT").is_some() {
            println!("{got}");
        }
        assert_eq!(got, include_str!("../../../tests/data/mesh.json").trim_end());
    }

    /// What `get_mesh` answers from the API's rules, from a rules file and without either.
    fn current_answers(file: &std::path::Path) -> Vec<Mesh> {
        let rules = reduce("theater-msa", "v1beta1", &virtual_services(), &destination_rules());
        vec![
            Mesh::new(Ok((rules, Origin::Api { cluster: "ctx1".to_owned() })), "theater-msa"),
            Mesh::new(read_rules_file(file, "theater-msa"), "theater-msa"),
            Mesh::new(Err(KubeError::NotServed("v1beta1")), "theater-msa"),
        ]
    }
}

//! `GET /api/mesh`: the Istio rules of the gateway's namespace, reduced to what the
//! page shows per service — subsets, the default route's weights, header-matched
//! routes, faults, retries and timeouts, and the weight configured per cluster. Read
//! live; never invented.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use kube::Api;
use kube::api::ListParams;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

use super::kube_access::{Cached, KubeAccess, KubeError};
use super::traffic::Traffic;
use crate::identity::Identity;

/// Istio API versions tried in order: v1 (Istio 1.22+), then v1beta1.
const VERSIONS: [&str; 2] = ["v1", "v1beta1"];

/// The service name of a host: `user-service.theater-msa.svc.cluster.local` → `user-service`.
fn short_host(host: &str) -> String {
    host.split('.').next().unwrap_or(host).to_owned()
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
async fn fetch(client: kube::Client, namespace: String) -> Result<Value, KubeError> {
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

/// `[{subset, weight}]` of one route; a lone destination without a weight gets 100.
fn destinations(route: &Value) -> Vec<Value> {
    let list = route.as_array().cloned().unwrap_or_default();
    let alone = list.len() == 1;
    list.iter()
        .map(|d| {
            let weight = d.get("weight").cloned().filter(|w| !w.is_null()).unwrap_or(if alone {
                json!(100)
            } else {
                Value::Null
            });
            json!({
                "host": d["destination"]["host"].as_str().map(short_host),
                "subset": d["destination"]["subset"],
                "weight": weight,
            })
        })
        .collect()
}

/// The header conditions of an http route's `match` list: `[{header, kind, value}]`.
fn header_matches(matches: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for m in matches.as_array().into_iter().flatten() {
        for (header, condition) in m["headers"].as_object().into_iter().flatten() {
            for (kind, value) in condition.as_object().into_iter().flatten() {
                out.push(json!({"header": header, "kind": kind, "value": value}));
            }
        }
    }
    out
}

/// The page's view of one service, created empty on first mention.
fn service_entry<'a>(services: &'a mut BTreeMap<String, Value>, host: &str) -> &'a mut Value {
    services.entry(short_host(host)).or_insert_with(|| {
        json!({"subsets": [], "defaultRoute": null, "headerRoutes": [], "routes": [], "trafficPolicy": null,
               "virtualServices": [], "destinationRules": []})
    })
}

/// The default route's weight per cluster (`{"ctx1": 70, "ctx2": 30}`): each subset
/// stands for the cluster its `cluster` label selects (else its own name). Null when a
/// destination names no subset, as in a route to the whole host: then no cluster has
/// a configured share.
fn weights_by_cluster(service: &Value) -> Value {
    let Some(route) = service["defaultRoute"].as_array() else { return Value::Null };
    let mut weights: BTreeMap<String, u64> = BTreeMap::new();
    for destination in route {
        let Some(subset) = destination["subset"].as_str() else { return Value::Null };
        let cluster = service["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == subset)
            .and_then(|s| s["labels"]["cluster"].as_str())
            .unwrap_or(subset);
        *weights.entry(cluster.to_owned()).or_default() += destination["weight"].as_u64().unwrap_or(0);
    }
    json!(weights)
}

/// The page's view of the rules, per service.
pub fn reduce(namespace: &str, version: &str, virtual_services: &[Value], destination_rules: &[Value]) -> Value {
    let mut services: BTreeMap<String, Value> = BTreeMap::new();
    for dr in destination_rules {
        let service = service_entry(&mut services, dr["spec"]["host"].as_str().unwrap_or_default());
        service["destinationRules"].as_array_mut().expect("created as an array").push(dr["name"].clone());
        for subset in dr["spec"]["subsets"].as_array().into_iter().flatten() {
            service["subsets"]
                .as_array_mut()
                .expect("created as an array")
                .push(json!({"name": subset["name"], "labels": subset["labels"], "trafficPolicy": subset.get("trafficPolicy")}));
        }
        if let Some(policy) = dr["spec"].get("trafficPolicy") {
            service["trafficPolicy"] = policy.clone();
        }
    }
    for vs in virtual_services {
        for host in vs["spec"]["hosts"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let service = service_entry(&mut services, host);
            service["virtualServices"].as_array_mut().expect("created as an array").push(vs["name"].clone());
            for http in vs["spec"]["http"].as_array().into_iter().flatten() {
                let headers = header_matches(&http["match"]);
                let route = json!({
                    "name": http.get("name"),
                    "match": headers,
                    "destinations": destinations(&http["route"]),
                    "fault": http.get("fault"),
                    "retries": http.get("retries"),
                    "timeout": http.get("timeout"),
                });
                let unconditional = http.get("match").is_none_or(|m| m.as_array().is_none_or(Vec::is_empty));
                if unconditional && service["defaultRoute"].is_null() {
                    service["defaultRoute"] = route["destinations"].clone();
                } else if !headers.is_empty() {
                    service["headerRoutes"].as_array_mut().expect("created as an array").push(route.clone());
                }
                service["routes"].as_array_mut().expect("created as an array").push(route);
            }
        }
    }
    for service in services.values_mut() {
        service["weights"] = weights_by_cluster(service);
    }
    json!({
        "source": "kubernetes",
        "namespace": namespace,
        "apiVersion": format!("networking.istio.io/{version}"),
        "services": services,
    })
}

/// The rules in a `kind: List` file (what the mesh lab plays), reduced like the API's:
/// the VirtualServices and DestinationRules of `namespace` (or with none given).
fn read_rules_file(path: &std::path::Path, namespace: &str) -> Result<Value, KubeError> {
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
    let mut mesh = reduce(namespace, version, &mine("VirtualService"), &mine("DestinationRule"));
    mesh["source"] = json!("file");
    mesh["file"] = json!(shown.to_string());
    Ok(mesh)
}

/// The Istio rules the gateway reads, or why it cannot read them: `source` is
/// `kubernetes` or `file` with the rules and an `origin` in words, `none` when the
/// gateway runs without any cluster (a laptop), `unavailable` with the API's reason.
#[utoipa::path(get, path = "/api/mesh", tag = "gateway",
    responses((status = 200, description = "the rules per service with where they came from, or source=none/unavailable with the reason")))]
pub async fn get_mesh(
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
        None => kube.cached(Cached::Mesh, fetch).await,
    };
    match rules {
        Ok(mut mesh) => {
            mesh["origin"] = json!(match mesh["source"].as_str() {
                Some("file") => format!("the rules file {}", mesh["file"].as_str().unwrap_or("?")),
                _ => format!("the Kubernetes API of {}", me.cluster),
            });
            traffic.history.note_rules(&mesh, super::traffic::now_ms());
            HttpResponse::Ok().json(mesh)
        }
        Err(reason) => HttpResponse::Ok().json(json!({
            "source": if reason.no_cluster() { "none" } else { "unavailable" },
            "namespace": kube.namespace,
            "reason": reason.to_string(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

        let mesh = read_rules_file(&file, "theater-msa").unwrap();

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
        let mesh = reduce("theater-msa", "v1", &vs, &dr);
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
        let mesh = reduce(
            "ns",
            "v1",
            &route(json!([
            {"destination": {"host": "movie-service", "subset": "east"}, "weight": 30},
            {"destination": {"host": "movie-service", "subset": "ctx2"}, "weight": 70}])),
            &dr,
        );
        assert_eq!(mesh["services"]["movie-service"]["weights"], json!({"ctx1": 30, "ctx2": 70}));
        let whole_host = reduce("ns", "v1", &route(json!([{"destination": {"host": "movie-service"}}])), &dr);
        assert_eq!(whole_host["services"]["movie-service"]["weights"], Value::Null);
    }
}

#[cfg(test)]
mod shape {
    //! The JSON `/api/mesh` answers, pinned key by key and in order: the page
    //! (`src/gateway/ui/app.js`), the Chromium tests and the lab read it.

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
        assert_eq!(got, include_str!("../../tests/data/mesh.json").trim_end());
    }

    /// What `get_mesh` answers from the API's rules, from a rules file and without either.
    fn current_answers(file: &std::path::Path) -> Vec<Value> {
        let mut from_api = reduce("theater-msa", "v1beta1", &virtual_services(), &destination_rules());
        from_api["origin"] = json!("the Kubernetes API of ctx1");
        let mut from_file = read_rules_file(file, "theater-msa").unwrap_or_default();
        from_file["origin"] = json!(format!("the rules file {}", from_file["file"].as_str().unwrap_or("?")));
        let unavailable = json!({"source": "unavailable", "namespace": "theater-msa",
            "reason": KubeError::NotServed("v1beta1").to_string()});
        vec![from_api, from_file, unavailable]
    }
}

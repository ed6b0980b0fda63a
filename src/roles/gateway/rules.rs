//! The Istio rules of a namespace reduced to what the page shows per service —
//! subsets, the default route's weights, header-matched routes, faults, retries and
//! timeouts, and the weight configured per cluster. Pure data: `mesh` reads the rules
//! (API or file) and `kube_access` caches them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Cluster → the weight the default route gives it (`{"ctx1": 70, "ctx2": 30}`).
pub(crate) type ClusterWeights = BTreeMap<String, u64>;

/// One destination of a route.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub(crate) struct Destination {
    /// The service name of the destination's host (`user-service`).
    host: Option<String>,
    /// The DestinationRule subset, or null for the whole host.
    subset: Option<String>,
    /// The route's weight; 100 for a lone destination without one, else null when unset.
    weight: Option<u64>,
}

/// One header condition of a route's `match`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub(crate) struct HeaderMatch {
    /// The header's name (`x-canary`).
    header: String,
    /// How it is compared: `exact`, `prefix` or `regex`.
    kind: String,
    /// What it is compared with.
    value: String,
}

/// One http route of a VirtualService.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub(crate) struct Route {
    name: Option<String>,
    /// Its header conditions (other conditions, such as a URI, are not shown).
    #[serde(rename = "match")]
    header_match: Vec<HeaderMatch>,
    destinations: Vec<Destination>,
    /// Istio's `fault` as written (`{"abort": …, "delay": …}`).
    #[schema(value_type = Option<Object>)]
    fault: Option<Value>,
    /// Istio's `retries` as written (`{"attempts": 3, "perTryTimeout": "1s"}`).
    #[schema(value_type = Option<Object>)]
    retries: Option<Value>,
    /// Istio's `timeout` (`"5s"`).
    timeout: Option<String>,
}

/// One subset of a DestinationRule.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Subset {
    name: Option<String>,
    /// The pod labels it selects (`{"cluster": "ctx1"}`).
    #[schema(value_type = Option<Object>)]
    labels: Value,
    /// Istio's `trafficPolicy` of the subset as written.
    #[schema(value_type = Option<Object>)]
    traffic_policy: Option<Value>,
}

/// The page's view of one service's rules.
#[derive(Debug, Clone, PartialEq, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceRules {
    subsets: Vec<Subset>,
    /// The destinations of the first route without conditions.
    default_route: Option<Vec<Destination>>,
    /// The routes with header conditions (a canary by header).
    header_routes: Vec<Route>,
    /// Every http route, in order.
    routes: Vec<Route>,
    /// Istio's `trafficPolicy` of the DestinationRule as written.
    #[schema(value_type = Option<Object>)]
    traffic_policy: Option<Value>,
    /// The names of the VirtualServices for this host.
    virtual_services: Vec<Option<String>>,
    /// The names of the DestinationRules for this host.
    destination_rules: Vec<Option<String>>,
    /// The default route's weight per cluster; null when a destination names no subset.
    weights: Option<ClusterWeights>,
}

/// The reduced rules of one namespace, as read (and cached).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rules {
    pub(crate) namespace: String,
    /// `networking.istio.io/v1` or `networking.istio.io/v1beta1`.
    pub(crate) api_version: String,
    /// Service name → its rules.
    pub(crate) services: BTreeMap<String, ServiceRules>,
}

impl Rules {
    /// The weights per cluster of each service, as the history notes them.
    pub(crate) fn weights(&self) -> BTreeMap<String, Option<ClusterWeights>> {
        self.services.iter().map(|(service, rules)| (service.clone(), rules.weights.clone())).collect()
    }
}

/// The service name of a host: `user-service.theater-msa.svc.cluster.local` → `user-service`.
fn short_host(host: &str) -> String {
    host.split('.').next().unwrap_or(host).to_owned()
}

/// A JSON string's text, or None.
fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// The destinations of one route; a lone destination without a weight gets 100.
fn destinations(route: &Value) -> Vec<Destination> {
    let list = route.as_array().map(Vec::as_slice).unwrap_or_default();
    let alone = list.len() == 1;
    list.iter()
        .map(|d| Destination {
            host: d["destination"]["host"].as_str().map(short_host),
            subset: text(&d["destination"]["subset"]),
            weight: d["weight"].as_u64().or(if alone { Some(100) } else { None }),
        })
        .collect()
}

/// The header conditions of an http route's `match` list.
fn header_matches(matches: &Value) -> Vec<HeaderMatch> {
    let mut out = Vec::new();
    for m in matches.as_array().into_iter().flatten() {
        for (header, condition) in m["headers"].as_object().into_iter().flatten() {
            for (kind, value) in condition.as_object().into_iter().flatten() {
                let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                out.push(HeaderMatch { header: header.clone(), kind: kind.clone(), value });
            }
        }
    }
    out
}

/// The default route's weight per cluster (`{"ctx1": 70, "ctx2": 30}`): each subset
/// stands for the cluster its `cluster` label selects (else its own name). None when a
/// destination names no subset, as in a route to the whole host: then no cluster has
/// a configured share.
fn weights_by_cluster(service: &ServiceRules) -> Option<ClusterWeights> {
    let route = service.default_route.as_ref()?;
    let mut weights = ClusterWeights::new();
    for destination in route {
        let subset = destination.subset.as_deref()?;
        let cluster = service
            .subsets
            .iter()
            .find(|s| s.name.as_deref() == Some(subset))
            .and_then(|s| s.labels["cluster"].as_str())
            .unwrap_or(subset);
        *weights.entry(cluster.to_owned()).or_default() += destination.weight.unwrap_or(0);
    }
    Some(weights)
}

/// The page's view of the rules, per service.
pub(crate) fn reduce(namespace: &str, version: &str, virtual_services: &[Value], destination_rules: &[Value]) -> Rules {
    let mut services: BTreeMap<String, ServiceRules> = BTreeMap::new();
    for dr in destination_rules {
        let service = services.entry(short_host(dr["spec"]["host"].as_str().unwrap_or_default())).or_default();
        service.destination_rules.push(text(&dr["name"]));
        for subset in dr["spec"]["subsets"].as_array().into_iter().flatten() {
            service.subsets.push(Subset {
                name: text(&subset["name"]),
                labels: subset["labels"].clone(),
                traffic_policy: subset.get("trafficPolicy").cloned(),
            });
        }
        if let Some(policy) = dr["spec"].get("trafficPolicy") {
            service.traffic_policy = Some(policy.clone());
        }
    }
    for vs in virtual_services {
        for host in vs["spec"]["hosts"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let service = services.entry(short_host(host)).or_default();
            service.virtual_services.push(text(&vs["name"]));
            for http in vs["spec"]["http"].as_array().into_iter().flatten() {
                let route = Route {
                    name: text(&http["name"]),
                    header_match: header_matches(&http["match"]),
                    destinations: destinations(&http["route"]),
                    fault: http.get("fault").cloned(),
                    retries: http.get("retries").cloned(),
                    timeout: text(&http["timeout"]),
                };
                let unconditional = http.get("match").is_none_or(|m| m.as_array().is_none_or(Vec::is_empty));
                if unconditional && service.default_route.is_none() {
                    service.default_route = Some(route.destinations.clone());
                } else if !route.header_match.is_empty() {
                    service.header_routes.push(route.clone());
                }
                service.routes.push(route);
            }
        }
    }
    for service in services.values_mut() {
        service.weights = weights_by_cluster(service);
    }
    Rules { namespace: namespace.to_owned(), api_version: format!("networking.istio.io/{version}"), services }
}

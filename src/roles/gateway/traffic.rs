//! What the mesh really did: which cluster and pod answered each proxied request.
//!
//! The page puts these counts beside the weights configured in Istio, so a class sees
//! a 70/30 rule turn into roughly 70/30 answers. Only real responses are recorded.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use parking_lot::Mutex;
use serde::Serialize;
use utoipa::ToSchema;

use super::history::{History, HistoryReport, NO_POD, now_ms};
use crate::http::metrics::NameMap;

/// One answered request.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Observation {
    cluster: String,
    pod: String,
    status: u16,
    /// Milliseconds since the Unix epoch.
    at: u64,
    /// Milliseconds from sending the request to the answer's headers, as the gateway saw it.
    ms: f64,
}

/// The window's answers of one cluster: how many, how many failed, how fast. With the
/// `ab-test` scenario (group B in ctx2) this compares the two variants side by side.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClusterStats {
    answers: usize,
    /// Answers with a 5xx status.
    failed: usize,
    p50_ms: f64,
    p99_ms: f64,
}

impl ClusterStats {
    fn of(observations: &[&Observation]) -> Self {
        let mut ms: Vec<f64> = observations.iter().map(|o| o.ms).collect();
        ms.sort_by(f64::total_cmp);
        // Nearest rank: the smallest value with at least q of the answers at or below it.
        let quantile = |q: f64| ms.get(((q * ms.len() as f64).ceil() as usize).max(1) - 1).copied().unwrap_or(0.0);
        ClusterStats {
            answers: observations.len(),
            failed: observations.iter().filter(|o| o.status >= 500).count(),
            p50_ms: quantile(0.5),
            p99_ms: quantile(0.99),
        }
    }
}

/// A pod seen in a response, from any cluster.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeenPod {
    pod: String,
    cluster: String,
    service: String,
    last_seen: u64,
    responses: u64,
}

/// Per service, the last `window` observations; plus every pod ever seen.
pub(crate) struct Traffic {
    window: usize,
    services: Mutex<NameMap<String, VecDeque<Observation>>>,
    /// By service, then pod: under `--role all` every service shares one pod name.
    pods: Mutex<NameMap<String, NameMap<String, SeenPod>>>,
    /// The same answers per second over minutes, and those no pod gave.
    pub(crate) history: History,
}

/// `GET /api/traffic` for one service.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceTraffic {
    /// Requests in the window.
    total: usize,
    /// Requests in the window by the cluster that answered.
    by_cluster: BTreeMap<String, usize>,
    /// Failures and latency of each cluster's answers in the window.
    stats: BTreeMap<String, ClusterStats>,
    /// The window, oldest first.
    recent: Vec<Observation>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TrafficReport {
    window_size: usize,
    services: BTreeMap<String, ServiceTraffic>,
}

impl Traffic {
    pub(crate) fn new(window: usize) -> Self {
        Traffic { window, services: Mutex::default(), pods: Mutex::default(), history: History::default() }
    }

    /// Records who answered a request proxied to `proxied` (`service` is the name the
    /// answer gave).
    pub(crate) fn record(
        &self,
        proxied: &'static str,
        service: &str,
        cluster: &str,
        pod: &str,
        status: u16,
        took: Duration,
    ) {
        let at = now_ms();
        self.history.record(proxied, cluster, status, at);
        let ms = (took.as_secs_f64() * 10_000.0).round() / 10.0;
        // Keys are copied only the first time a service or pod is seen, and a full
        // window's oldest observation lends its strings to the newest.
        {
            let mut services = self.services.lock();
            if !services.contains_key(service) {
                services.insert(service.to_owned(), VecDeque::with_capacity(self.window));
            }
            let window = services.get_mut(service).expect("inserted above");
            let reused = if window.len() == self.window { window.pop_front() } else { None };
            let observation = reused.map(|mut old| {
                old.cluster.clear();
                old.cluster.push_str(cluster);
                old.pod.clear();
                old.pod.push_str(pod);
                Observation { status, at, ms, ..old }
            });
            window.push_back(observation.unwrap_or_else(|| Observation {
                cluster: cluster.to_owned(),
                pod: pod.to_owned(),
                status,
                at,
                ms,
            }));
        }
        let mut pods = self.pods.lock();
        if !pods.contains_key(service) {
            pods.insert(service.to_owned(), NameMap::default());
        }
        let of_service = pods.get_mut(service).expect("inserted above");
        if let Some(seen) = of_service.get_mut(pod) {
            seen.last_seen = at;
            seen.responses += 1;
        } else {
            let seen = SeenPod {
                pod: pod.to_owned(),
                cluster: cluster.to_owned(),
                service: service.to_owned(),
                last_seen: at,
                responses: 1,
            };
            of_service.insert(pod.to_owned(), seen);
        }
    }

    /// Records an answer to a request proxied to `proxied` that no pod gave (the mesh's
    /// or the gateway's own error): it counts in the history, not in the split.
    pub(crate) fn record_without_pod(&self, proxied: &'static str, status: u16) {
        self.history.record(proxied, NO_POD, status, now_ms());
    }

    pub(crate) fn report(&self) -> TrafficReport {
        let services = self.services.lock();
        let services = services
            .iter()
            .map(|(name, window)| {
                // Grouped by borrowed names: a cluster's name is copied once per report, not per answer.
                let mut of_cluster: BTreeMap<&str, Vec<&Observation>> = BTreeMap::new();
                for o in window {
                    of_cluster.entry(&o.cluster).or_default().push(o);
                }
                let by_cluster = of_cluster.iter().map(|(&c, list)| (c.to_owned(), list.len())).collect();
                let stats = of_cluster.iter().map(|(&c, list)| (c.to_owned(), ClusterStats::of(list))).collect();
                (
                    name.clone(),
                    ServiceTraffic { total: window.len(), by_cluster, stats, recent: window.iter().cloned().collect() },
                )
            })
            .collect();
        TrafficReport { window_size: self.window, services }
    }

    pub(crate) fn seen_pods(&self) -> Vec<SeenPod> {
        let mut pods: Vec<SeenPod> = self.pods.lock().values().flat_map(NameMap::values).cloned().collect();
        pods.sort_by(|a, b| (&a.service, &a.cluster, &a.pod).cmp(&(&b.service, &b.cluster, &b.pod)));
        pods
    }

    pub(crate) fn clear(&self) {
        self.services.lock().clear();
    }
}

/// The observed split of the last proxied requests, per service.
#[utoipa::path(get, path = "/api/traffic", tag = "gateway",
    responses((status = 200, description = "who answered the last requests", body = TrafficReport)))]
pub(crate) async fn get_traffic(traffic: web::Data<Traffic>) -> HttpResponse {
    HttpResponse::Ok().json(traffic.report())
}

/// Forgets the window (pods seen stay known), to start a fresh measurement.
#[utoipa::path(delete, path = "/api/traffic", tag = "gateway", responses((status = 204, description = "cleared")))]
pub(crate) async fn clear_traffic(traffic: web::Data<Traffic>) -> HttpResponse {
    traffic.clear();
    HttpResponse::NoContent().finish()
}

/// The observed split per second over the last five minutes, and when the rules changed.
#[utoipa::path(get, path = "/api/traffic/history", tag = "gateway",
    responses((status = 200, description = "answers per second by cluster and status class, and rule changes", body = HistoryReport)))]
pub(crate) async fn get_history(traffic: web::Data<Traffic>) -> HttpResponse {
    HttpResponse::Ok().json(traffic.history.report(now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_window_and_counts_by_cluster() {
        let traffic = Traffic::new(3);
        for (i, cluster) in ["ctx1", "ctx1", "ctx2", "ctx2"].into_iter().enumerate() {
            let status = if i == 3 { 503 } else { 200 };
            traffic.record(
                "user-service",
                "user-service",
                cluster,
                &format!("{cluster}-pod"),
                status,
                Duration::from_millis(10 * i as u64 + 5),
            );
        }
        let report = traffic.report();
        let user = &report.services["user-service"];
        assert_eq!(user.total, 3);
        assert_eq!(user.by_cluster["ctx1"], 1);
        assert_eq!(user.by_cluster["ctx2"], 2);
        let ctx2 = &user.stats["ctx2"];
        assert_eq!((ctx2.answers, ctx2.failed, ctx2.p50_ms, ctx2.p99_ms), (2, 1, 25.0, 35.0));
        assert_eq!(traffic.seen_pods().iter().map(|p| p.responses).sum::<u64>(), 4);
        traffic.clear();
        assert!(traffic.report().services.is_empty());
        assert_eq!(traffic.seen_pods().len(), 2, "pods seen outlive a cleared window");
    }
}

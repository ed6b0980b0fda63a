//! The split over time: per service, per second, how many answers came from each
//! cluster and with which status class, for the last five minutes; and the moments the
//! configured weights changed. The page draws it so a class sees *when* a circuit
//! breaker ejected ctx2, how fast a canary shift moved, and that traffic came back.
//!
//! Memory is bounded by time and by design, not by traffic: one bucket per second for
//! `SECONDS` seconds, per service of the table, with at most `CLUSTERS_PER_SECOND`
//! clusters in a bucket; a burst only raises the counters.

use std::collections::{BTreeMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;
use utoipa::ToSchema;

use super::rules::ClusterWeights;

/// How far back the history reaches.
pub(crate) const SECONDS: u64 = 300;
/// Distinct clusters kept in one second; more are counted under `OTHER`.
const CLUSTERS_PER_SECOND: usize = 4;
/// Where answers from clusters beyond `CLUSTERS_PER_SECOND` are counted.
const OTHER: &str = "other";
/// The "cluster" of an answer no pod gave: the mesh's own (an injected fault, an
/// open circuit with nowhere to go) or the gateway's (timeout, unreachable).
pub(crate) const NO_POD: &str = "none";
/// Rule changes remembered (older ones are also dropped once out of the window).
const RULE_CHANGES: usize = 32;

/// Answers in one second from one cluster, by status class.
#[derive(Debug, Default, Clone, Copy, Serialize, ToSchema)]
pub(crate) struct StatusCounts {
    /// 1xx–3xx answers.
    ok: u32,
    /// 4xx answers: the client's mistake, not the mesh's.
    rejected: u32,
    /// 5xx answers, from a pod, the mesh or the gateway.
    failed: u32,
}

impl StatusCounts {
    fn add(&mut self, status: u16) {
        let counter = match status {
            500.. => &mut self.failed,
            400..500 => &mut self.rejected,
            _ => &mut self.ok,
        };
        *counter = counter.saturating_add(1);
    }
}

/// One second of one service.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Second {
    /// Unix time in seconds.
    at: u64,
    /// Answers by the cluster that gave them (`none`: no pod answered).
    clusters: BTreeMap<String, StatusCounts>,
}

/// The weights configured per service and cluster from a moment on.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RuleChange {
    /// Milliseconds since the Unix epoch when the gateway first answered these rules.
    at: u64,
    /// False for the first rules the gateway read: a starting point, not a change.
    changed: bool,
    /// Service → cluster → weight (null for a service routed without cluster weights).
    #[schema(value_type = Object)]
    weights: BTreeMap<String, Option<ClusterWeights>>,
}

/// `GET /api/traffic/history`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HistoryReport {
    /// The window in seconds.
    seconds: u64,
    /// Unix time in seconds of the answer.
    now: u64,
    /// Per service, the seconds that saw answers, oldest first.
    services: BTreeMap<&'static str, Vec<Second>>,
    /// Weight changes seen through `/api/mesh`, oldest first; the first may predate the window.
    rules: Vec<RuleChange>,
}

#[derive(Default)]
pub(crate) struct History {
    services: Mutex<crate::http::metrics::NameMap<&'static str, VecDeque<Second>>>,
    rules: Mutex<VecDeque<RuleChange>>,
}

impl History {
    /// Counts one answer of `service` from `cluster`, at `at_ms`.
    pub(crate) fn record(&self, service: &'static str, cluster: &str, status: u16, at_ms: u64) {
        let at = at_ms / 1000;
        let mut services = self.services.lock();
        let seconds = services.entry(service).or_default();
        while seconds.front().is_some_and(|s| s.at + SECONDS <= at) {
            seconds.pop_front();
        }
        if seconds.back().is_none_or(|s| s.at < at) {
            seconds.push_back(Second { at, clusters: BTreeMap::new() });
        }
        // A late answer (clock step, a slow worker) is counted in the newest second.
        let second = seconds.back_mut().expect("pushed above");
        // Most answers find their cluster already counted: no allocation for those.
        if let Some(counts) = second.clusters.get_mut(cluster) {
            counts.add(status);
            return;
        }
        let key = if second.clusters.len() < CLUSTERS_PER_SECOND - 1 { cluster } else { OTHER };
        second.clusters.entry(key.to_owned()).or_default().add(status);
    }

    /// Remembers the weights per service (`Rules::weights`) of rules `/api/mesh` answered
    /// when they differ from the last.
    pub(crate) fn note_rules(&self, weights: BTreeMap<String, Option<ClusterWeights>>, at_ms: u64) {
        let mut rules = self.rules.lock();
        if rules.back().is_some_and(|last| last.weights == weights) {
            return;
        }
        let changed = !rules.is_empty();
        rules.push_back(RuleChange { at: at_ms, changed, weights });
        // Keep the newest rules from before the window: they are what applied at its start.
        let window_start = at_ms.saturating_sub(SECONDS * 1000);
        while rules.len() > RULE_CHANGES || (rules.len() > 1 && rules[1].at <= window_start) {
            rules.pop_front();
        }
    }

    pub(crate) fn report(&self, now_ms: u64) -> HistoryReport {
        let now = now_ms / 1000;
        let services = self
            .services
            .lock()
            .iter()
            .map(|(service, seconds)| {
                (*service, seconds.iter().filter(|s| s.at + SECONDS > now).cloned().collect::<Vec<_>>())
            })
            .collect();
        HistoryReport { seconds: SECONDS, now, services, rules: self.rules.lock().iter().cloned().collect() }
    }
}

/// Milliseconds since the Unix epoch, the time of every record.
pub(super) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_second_by_cluster_and_status_class() {
        let history = History::default();
        let start = 1_700_000_000_000;
        history.record("user-service", "ctx1", 200, start);
        history.record("user-service", "ctx1", 503, start + 10);
        history.record("user-service", "ctx2", 404, start + 999);
        history.record("user-service", NO_POD, 504, start + 1000);
        let report = history.report(start + 1500);
        let seconds = &report.services["user-service"];
        assert_eq!(seconds.len(), 2);
        let first = &seconds[0].clusters;
        assert_eq!((first["ctx1"].ok, first["ctx1"].failed, first["ctx2"].rejected), (1, 1, 1));
        assert_eq!(seconds[1].clusters[NO_POD].failed, 1);
    }

    #[test]
    fn stays_bounded_however_many_answers_and_cluster_names_arrive() {
        let history = History::default();
        let start = 1_700_000_000_000;
        // 2,000 seconds of traffic, 300 answers a second, from ever new cluster names.
        for second in 0..2_000u64 {
            for i in 0..300u64 {
                history.record(
                    "movie-service",
                    &format!("c{}", (second * 300 + i) % 997),
                    200,
                    start + second * 1000 + i,
                );
            }
        }
        let now = start + 2_000 * 1000;
        let seconds = history.services.lock()["movie-service"].len();
        assert!(seconds <= SECONDS as usize, "{seconds} seconds kept");
        let report = history.report(now);
        assert!(report.services["movie-service"].iter().all(|s| s.clusters.len() <= CLUSTERS_PER_SECOND));
        let last = report.services["movie-service"].last().unwrap();
        assert_eq!(last.clusters.values().map(|c| c.ok).sum::<u32>(), 300, "nothing dropped, only lumped");
        assert!(last.clusters.contains_key(OTHER));
        assert!(report.services["movie-service"].first().unwrap().at + SECONDS > now / 1000);
    }

    #[test]
    fn notes_a_rule_change_only_when_the_weights_differ() {
        let history = History::default();
        let split = |w1: u64, w2: u64| Some(ClusterWeights::from([("ctx1".to_owned(), w1), ("ctx2".to_owned(), w2)]));
        let mesh = |w1: u64, w2: u64| BTreeMap::from([("user-service".to_owned(), split(w1, w2))]);
        let start = 1_700_000_000_000;
        history.note_rules(mesh(70, 30), start);
        history.note_rules(mesh(70, 30), start + 5_000);
        history.note_rules(mesh(90, 10), start + 10_000);
        let rules = history.report(start + 11_000).rules;
        assert_eq!(rules.len(), 2);
        assert!(!rules[0].changed && rules[1].changed);
        assert_eq!(rules[1].weights["user-service"], split(90, 10));
        // Long after, only the rules in force at the window's start (and later) stay.
        history.note_rules(mesh(50, 50), start + 1_000_000);
        history.note_rules(mesh(0, 100), start + 1_001_000);
        let rules = history.report(start + 1_001_000).rules;
        assert_eq!(rules.len(), 3, "90/10 still applied when the window began");
        assert_eq!(rules[0].weights["user-service"], split(90, 10));
    }
}

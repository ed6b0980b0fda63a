//! Prometheus metrics in the text exposition format, without a metrics crate.
//!
//! One registry per process (with `--role all` the four roles share it; the `service`
//! label tells them apart). Routes are labelled by their pattern (`/users/{id}`), not
//! the raw path, so a scan of random URLs cannot grow the label set without bound.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use parking_lot::Mutex;

use crate::http::identity::Identity;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.counts[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Default)]
struct RouteStats {
    /// Requests by (method, status).
    responses: NameMap<(String, u16), u64>,
    latency: Histogram,
}

#[derive(Default)]
struct Registry {
    /// Keyed by (service, route pattern).
    routes: Mutex<NameMap<(&'static str, String), RouteStats>>,
    upstream_errors: Mutex<NameMap<String, u64>>,
    chaos: Mutex<NameMap<&'static str, u64>>,
    store_errors: AtomicU64,
    bookings_created: AtomicU64,
    seats_reserved: AtomicU64,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::default);

/// A map keyed by the app's own names (route patterns, services, pods, kinds), hashed
/// with foldhash as actix-http's header maps are: SipHash's resistance to chosen keys
/// buys nothing for keys no client picks, and cost about 250 instructions a lookup.
pub(crate) type NameMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Counts and times every request by route pattern, method and status.
pub(crate) async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let service = req.app_data::<web::Data<Identity>>().map_or("unknown", |me| me.service);
    let res = next.call(req).await?;
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let key = (res.request().method().to_string(), res.status().as_u16());
    let mut routes = REGISTRY.routes.lock();
    let stats = routes.entry((service, route)).or_default();
    *stats.responses.entry(key).or_default() += 1;
    stats.latency.observe(started.elapsed().as_secs_f64());
    Ok(res)
}

/// A store command failed (unreachable, timed out).
pub(crate) fn store_error() {
    REGISTRY.store_errors.fetch_add(1, Ordering::Relaxed);
}

/// A call to another service failed (refused, timed out, error status).
pub(crate) fn upstream_error(upstream: &str) {
    *REGISTRY.upstream_errors.lock().entry(upstream.to_owned()).or_default() += 1;
}

pub(crate) fn booking_created(seats: u32) {
    REGISTRY.bookings_created.fetch_add(1, Ordering::Relaxed);
    REGISTRY.seats_reserved.fetch_add(u64::from(seats), Ordering::Relaxed);
}

/// Chaos delayed a request (`delay`) or answered it with an error (`error`).
pub(crate) fn chaos_injected(kind: &'static str) {
    *REGISTRY.chaos.lock().entry(kind).or_default() += 1;
}

/// Label values escaped as the exposition format wants.
fn label(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// The whole registry in Prometheus text format.
pub(crate) fn render() -> String {
    let mut out = String::new();
    let routes = REGISTRY.routes.lock();
    let mut keys: Vec<_> = routes.keys().collect();
    keys.sort();
    out.push_str("# HELP theater_http_requests_total HTTP requests answered, by route pattern, method and status.\n");
    out.push_str("# TYPE theater_http_requests_total counter\n");
    for key in &keys {
        let mut responses: Vec<_> = routes[*key].responses.iter().collect();
        responses.sort();
        for ((method, status), count) in responses {
            let _ = writeln!(
                out,
                "theater_http_requests_total{{service=\"{}\",route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
                key.0,
                label(&key.1),
                label(method)
            );
        }
    }
    out.push_str("# HELP theater_http_request_duration_seconds Time to answer a request, by route pattern.\n");
    out.push_str("# TYPE theater_http_request_duration_seconds histogram\n");
    for key in &keys {
        let h = &routes[*key].latency;
        let labels = format!("service=\"{}\",route=\"{}\"", key.0, label(&key.1));
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(h.counts) {
            cumulative += count;
            let _ =
                writeln!(out, "theater_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "theater_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "theater_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
        let _ = writeln!(out, "theater_http_request_duration_seconds_count{{{labels}}} {}", h.count);
    }
    drop(routes);
    let counter = |out: &mut String, name: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    };
    counter(
        &mut out,
        "theater_store_errors_total",
        "Store commands that failed.",
        REGISTRY.store_errors.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "theater_bookings_created_total",
        "Bookings created.",
        REGISTRY.bookings_created.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "theater_seats_reserved_total",
        "Seats reserved by bookings.",
        REGISTRY.seats_reserved.load(Ordering::Relaxed),
    );
    out.push_str("# HELP theater_upstream_errors_total Failed calls to another service, by upstream.\n");
    out.push_str("# TYPE theater_upstream_errors_total counter\n");
    let mut upstreams: Vec<_> = REGISTRY.upstream_errors.lock().iter().map(|(k, v)| (k.clone(), *v)).collect();
    upstreams.sort();
    for (upstream, count) in upstreams {
        let _ = writeln!(out, "theater_upstream_errors_total{{upstream=\"{}\"}} {count}", label(&upstream));
    }
    out.push_str("# HELP theater_chaos_injections_total Requests delayed or failed on purpose by chaos.\n");
    out.push_str("# TYPE theater_chaos_injections_total counter\n");
    let mut chaos: Vec<_> = REGISTRY.chaos.lock().iter().map(|(k, v)| (*k, *v)).collect();
    chaos.sort_unstable();
    for (kind, count) in chaos {
        let _ = writeln!(out, "theater_chaos_injections_total{{kind=\"{kind}\"}} {count}");
    }
    out
}

/// Prometheus metrics of this process.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub(crate) async fn get_metrics() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8")))
        .body(render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_in_the_exposition() {
        let mut h = Histogram::default();
        for s in [0.0001, 0.003, 0.003, 7.0] {
            h.observe(s);
        }
        assert_eq!(h.count, 4);
        assert_eq!(h.counts[0], 1, "0.1 ms falls in the first bucket");
        assert_eq!(h.counts.iter().sum::<u64>(), 3, "7 s is above every finite bucket");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

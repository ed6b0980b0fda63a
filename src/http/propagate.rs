//! The request headers that must travel with every call a request causes.
//!
//! Istio matches the canary route on `x-canary` at each hop, and Envoy joins spans into
//! one Jaeger trace only if the app copies the tracing headers from its inbound request
//! to its outbound ones. The gateway and booking-service both use this list.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// Headers copied from an inbound request onto the outbound calls it causes.
pub(crate) const PROPAGATED_HEADERS: [&str; 11] = [
    "x-canary",
    "x-request-id",
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-ot-span-context",
];

/// The propagated headers present on `inbound`, ready to set on an outbound request.
pub(crate) fn propagated(inbound: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    PROPAGATED_HEADERS
        .iter()
        .filter_map(|name| {
            let name = HeaderName::from_static(name);
            inbound.get(&name).map(|value| (name, value.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_listed_headers() {
        let mut inbound = HeaderMap::new();
        inbound.insert(HeaderName::from_static("x-canary"), HeaderValue::from_static("true"));
        inbound.insert(HeaderName::from_static("x-b3-traceid"), HeaderValue::from_static("abc"));
        inbound.insert(HeaderName::from_static("cookie"), HeaderValue::from_static("secret"));
        let names: Vec<_> = propagated(&inbound).into_iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(names, ["x-canary", "x-b3-traceid"]);
    }
}

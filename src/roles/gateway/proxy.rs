//! The reverse proxy from the gateway to the three backend services.
//!
//! Bodies stream both ways. End-to-end headers pass untouched — `x-canary` and the
//! tracing headers must reach the sidecar, which routes the canary on them and joins
//! the Jaeger trace — while hop-by-hop headers, which describe one connection only, are
//! dropped both ways (RFC 9110 §7.6.1), including any the `Connection` header names.
//! `Host` becomes the upstream's, because the sidecar picks the VirtualService by it.

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use awc::error::SendRequestError;

use super::traffic::Traffic;
use crate::http::identity::{Identity, POD_NAME, SERVICE_CLUSTER, SERVICE_NAME};
use crate::http::problem::Problem;
use crate::settings::config::Upstreams;
use crate::settings::service::ServiceKind;

pub(crate) const GATEWAY_CLUSTER: &str = "x-gateway-cluster";
pub(crate) const GATEWAY_POD: &str = "x-gateway-pod";

/// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1, plus the
/// de-facto `keep-alive` and `proxy-connection`).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The headers a `Connection` header names, which are hop-by-hop too.
fn named_in_connection(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::try_from(token.trim()).ok())
        .collect()
}

/// Whether `name` belongs to one connection: a standard hop-by-hop header or one that
/// `Connection` (whose tokens are `named`) lists.
fn is_hop_by_hop(name: &HeaderName, named: &[HeaderName]) -> bool {
    HOP_BY_HOP.contains(&name.as_str()) || named.contains(name)
}

/// Removes hop-by-hop headers, including those listed in `Connection`.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named = named_in_connection(headers);
    let dropped: Vec<HeaderName> = headers.keys().filter(|name| is_hop_by_hop(name, &named)).cloned().collect();
    for name in dropped {
        headers.remove(name);
    }
}

/// The end-to-end headers of `headers` (hop-by-hop ones and those named in
/// `Connection` left out), without copying the map first.
fn end_to_end(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
    let named = named_in_connection(headers);
    headers.iter().filter(move |(name, _)| !is_hop_by_hop(name, &named))
}

/// Forwards the request to its backend and streams the answer back.
pub(crate) async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    client: web::Data<awc::Client>,
    upstreams: web::Data<Upstreams>,
    traffic: web::Data<Traffic>,
    me: web::Data<Identity>,
) -> Result<HttpResponse, Problem> {
    let service = ServiceKind::proxied_at(req.path())
        .ok_or_else(|| Problem::not_found(format!("no route for {}", req.path())))?;
    let path_and_query = req.uri().path_and_query().map_or(req.path(), |pq| pq.as_str());
    let url = format!("{}{}", upstreams.base_url(service), path_and_query);

    let mut outbound = client.request_from(url.as_str(), req.head()).timeout(upstreams.timeout);
    let headers = outbound.headers_mut();
    strip_hop_by_hop(headers);
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    {
        // The peer's address as text comes with the connection info, formatted once.
        let info = req.connection_info();
        if let Some(peer) = info.peer_addr() {
            match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
                Some(earlier) => {
                    let chain = format!("{earlier}, {peer}");
                    insert(headers, "x-forwarded-for", &chain);
                }
                None => insert(headers, "x-forwarded-for", peer),
            }
        }
        insert(headers, "x-forwarded-proto", info.scheme());
        insert(headers, "x-forwarded-host", info.host());
    }

    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let started = std::time::Instant::now();
    let sent = match declared {
        Some(0) => outbound.send().await,
        Some(len) => outbound.send_body(SizedStream::new(len, payload)).await,
        None if req.headers().contains_key(header::TRANSFER_ENCODING) => outbound.send_stream(payload).await,
        None => outbound.send().await,
    };
    let upstream = match sent {
        Ok(upstream) => upstream,
        Err(SendRequestError::Timeout) => {
            crate::http::metrics::upstream_error(service.name());
            traffic.record_without_pod(service.name(), 504);
            return Err(Problem::gateway_timeout(format!(
                "{service} did not answer within {} ms",
                upstreams.timeout.as_millis()
            )));
        }
        Err(e) => {
            crate::http::metrics::upstream_error(service.name());
            traffic.record_without_pod(service.name(), 502);
            return Err(Problem::bad_gateway(format!("{service} could not be reached: {e}")));
        }
    };

    let answered = |name: &str| upstream.headers().get(name).and_then(|v| v.to_str().ok());
    let status = upstream.status().as_u16();
    if let (Some(cluster), Some(pod)) = (answered(SERVICE_CLUSTER), answered(POD_NAME)) {
        let name = answered(SERVICE_NAME).unwrap_or(service.name());
        traffic.record(service.name(), name, cluster, pod, status, started.elapsed());
    } else {
        traffic.record_without_pod(service.name(), status);
    }

    let mut response = HttpResponse::build(upstream.status());
    let returned = upstream.headers();
    // The length goes to `no_chunking` below; set as a header it would be sent twice.
    let length = returned.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    for (name, value) in end_to_end(returned).filter(|(name, _)| **name != header::CONTENT_LENGTH) {
        response.append_header((name.clone(), value.clone()));
    }
    response.insert_header((GATEWAY_CLUSTER, me.cluster.as_str())).insert_header((GATEWAY_POD, me.pod.as_str()));
    if let Some(length) = length {
        response.no_chunking(length);
    }
    Ok(response.streaming(upstream))
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(HeaderName::try_from(*name).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn drops_hop_by_hop_headers_and_those_named_in_connection() {
        let mut headers = map(&[
            ("connection", "keep-alive, x-session-secret"),
            ("connection", "X-Other"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic x"),
            ("x-session-secret", "1"),
            ("x-other", "2"),
            ("x-canary", "true"),
            ("traceparent", "00-abc-def-01"),
            ("content-type", "application/json"),
        ]);
        let mut kept: Vec<_> = end_to_end(&headers).map(|(k, _)| k.as_str().to_owned()).collect();
        kept.sort();
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<_> = headers.keys().map(|k| k.as_str().to_owned()).collect();
        left.sort();
        assert_eq!(left, ["content-type", "traceparent", "x-canary"]);
        assert_eq!(kept, left, "both ways of dropping them agree");
    }
}

//! api-gateway: the proxy against a recording upstream and the real backends, the
//! observed traffic, and the Istio rules read from a fake Kubernetes API server.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use theater::service::ServiceKind::{Booking, Gateway, Movie, User};

use crate::support::{
    Backend, client, dying_upstream, get, get_with, post, settings, slow_stand_in, stand_in, start_with,
};

/// What the recording upstream saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    uri: String,
    headers: actix_web::http::header::HeaderMap,
    body_len: usize,
}

/// An upstream posing as user/movie/booking pods of cluster ctx2: records each request
/// and echoes its body back.
fn recording_upstream() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let url = stand_in(move |req: HttpRequest, body: web::Bytes| {
        recorded.lock().unwrap().push(Seen {
            method: req.method().to_string(),
            uri: req.uri().to_string(),
            headers: req.headers().clone(),
            body_len: body.len(),
        });
        async move {
            HttpResponse::Ok()
                .insert_header(("x-service-name", "user-service"))
                .insert_header(("x-service-cluster", "ctx2"))
                .insert_header(("x-pod-name", "user-service-ctx2-7f9"))
                .body(body)
        }
    });
    (url, seen)
}

async fn gateway_to(upstream: &str, extra: &[&str]) -> crate::support::TestApp {
    let mut args =
        vec!["--user-service-url", upstream, "--movie-service-url", upstream, "--booking-service-url", upstream];
    args.extend_from_slice(extra);
    start_with(settings(Backend::Memory, &args), &[Gateway], false).await
}

#[actix_web::test]
async fn proxies_every_method_path_and_query_to_the_right_backend() {
    let (upstream, seen) = recording_upstream();
    let app = gateway_to(&upstream, &[]).await;
    let http = client();
    let cases = [
        ("GET", "/users/?limit=5&offset=2"),
        ("POST", "/movies/"),
        ("PUT", "/bookings/7"),
        ("DELETE", "/users/3"),
        ("PATCH", "/movies/1?x=%20y"),
        ("GET", "/bookings/user/1"),
    ];
    for (method, path) in cases {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
        let reply = http.request(method.clone(), app.url(Gateway, path)).send_body("{}").await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{method} {path}");
    }
    let seen = seen.lock().unwrap().clone();
    let got: Vec<(String, String)> = seen.iter().map(|s| (s.method.clone(), s.uri.clone())).collect();
    let want: Vec<(String, String)> = cases.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(got, want);
    app.stop().await;
}

#[actix_web::test]
async fn forwards_end_to_end_headers_drops_hop_by_hop_ones_and_says_who_answered() {
    let (upstream, seen) = recording_upstream();
    let app = gateway_to(&upstream, &[]).await;
    let inbound = [
        ("x-canary", "true"),
        ("x-request-id", "req-7"),
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-sampled", "1"),
        ("authorization", "Bearer end-to-end"),
        ("connection", "keep-alive, x-hop-secret"),
        ("x-hop-secret", "must not pass"),
        ("te", "trailers"),
    ];
    // Raw bytes: an HTTP client library would manage Connection and TE itself.
    let address = app.urls[&Gateway].trim_start_matches("http://").to_owned();
    let request: String = inbound.iter().flat_map(|(n, v)| [n, ": ", v, "\r\n"]).collect();
    let raw = actix_web::rt::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(stream, "GET /users/1 HTTP/1.1\r\nhost: {address}\r\n{request}\r\n").unwrap();
        let mut answer = vec![0u8; 8192];
        let n = stream.read(&mut answer).unwrap();
        String::from_utf8_lossy(&answer[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let reply = get_with(&app.url(Gateway, "/users/1"), &inbound[..7]).await;
    assert_eq!(reply.status, StatusCode::OK);
    // The backend's identity reaches the client unchanged; the gateway adds its own.
    assert_eq!(reply.header("x-service-cluster"), "ctx2");
    assert_eq!(reply.header("x-pod-name"), "user-service-ctx2-7f9");
    assert_eq!(reply.header("x-service-name"), "user-service");
    assert_eq!(reply.header("x-gateway-cluster"), "local");
    assert!(!reply.header("x-gateway-pod").is_empty());

    let seen = seen.lock().unwrap()[0].headers.clone();
    for (name, value) in &inbound[..7] {
        assert_eq!(seen.get(*name).and_then(|v| v.to_str().ok()), Some(*value), "{name} was not forwarded");
    }
    assert!(seen.get("x-hop-secret").is_none(), "a header named in Connection was forwarded");
    assert!(seen.get("te").is_none());
    let upstream_authority = upstream.trim_start_matches("http://");
    assert_eq!(seen.get("host").unwrap().to_str().unwrap(), upstream_authority, "Host is the upstream's");
    assert_eq!(seen.get("x-forwarded-for").unwrap(), "127.0.0.1");
    assert_eq!(seen.get("x-forwarded-proto").unwrap(), "http");
    assert!(seen.get("x-forwarded-host").unwrap().to_str().unwrap().starts_with("127.0.0.1:"));
    app.stop().await;
}

#[actix_web::test]
async fn drops_hop_by_hop_headers_of_the_upstreams_answer() {
    // Raw bytes, because an HTTP server library would manage Connection itself.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Some(Ok(mut stream)) = listener.incoming().next() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nconnection: close, x-upstream-private\r\nx-upstream-private: leak\r\n\
                  keep-alive: timeout=5\r\nx-service-name: user-service\r\nx-service-cluster: ctx2\r\n\
                  x-pod-name: p\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
            );
        }
    });
    let app = gateway_to(&upstream, &[]).await;
    let reply = get(&app.url(Gateway, "/users/1")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({}));
    assert!(reply.headers.get("x-upstream-private").is_none(), "a header named in Connection leaked");
    assert!(reply.headers.get("keep-alive").is_none(), "keep-alive leaked");
    assert_eq!(reply.header("x-service-cluster"), "ctx2");
    app.stop().await;
}

#[actix_web::test]
async fn streams_a_large_body_both_ways() {
    let (upstream, seen) = recording_upstream();
    let app = gateway_to(&upstream, &[]).await;
    let body: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut reply = client().post(app.url(Gateway, "/movies/")).send_body(body.clone()).await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let echoed = reply.body().limit(16 * 1024 * 1024).await.unwrap();
    assert_eq!(seen.lock().unwrap()[0].body_len, body.len());
    assert!(echoed == body, "the echoed body differs ({} bytes back)", echoed.len());
    app.stop().await;
}

#[actix_web::test]
async fn answers_502_when_the_upstream_refuses_and_504_when_it_is_too_slow() {
    let closed = format!("http://{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
    let app = gateway_to(&closed, &[]).await;
    let refused = get(&app.url(Gateway, "/users/")).await;
    assert_eq!(refused.status, StatusCode::BAD_GATEWAY);
    assert_eq!(refused.header("content-type"), "application/problem+json");
    assert!(refused.body["detail"].as_str().unwrap().contains("user-service"));
    let history = get(&app.url(Gateway, "/api/traffic/history")).await.body;
    assert_eq!(
        history["services"]["user-service"][0]["clusters"]["none"]["failed"], 1,
        "no pod answered, yet the failure is on the chart: {history}"
    );
    app.stop().await;

    let slow_url = slow_stand_in(Duration::from_secs(5));
    let app = gateway_to(&slow_url, &["--upstream-timeout-ms", "300"]).await;
    let started = Instant::now();
    let timed_out = get(&app.url(Gateway, "/movies/")).await;
    assert_eq!(timed_out.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    app.stop().await;
}

#[actix_web::test]
async fn the_whole_app_through_the_gateway_records_who_answered() {
    let app = start_with(settings(Backend::Memory, &[]), &[Gateway, User, Movie, Booking], true).await;
    let users = get(&app.url(Gateway, "/users/")).await;
    assert_eq!(users.body["total"], 3);
    assert_eq!(users.header("x-service-name"), "user-service");
    let booking = post(&app.url(Gateway, "/bookings/"), json!({"userId": "2", "movieId": "1", "seats": 2})).await;
    assert_eq!(booking.status, StatusCode::CREATED);
    assert_eq!(booking.header("location"), "/bookings/1");
    assert_eq!(booking.body["route"]["movie"]["service"], "movie-service");
    let invalid = post(&app.url(Gateway, "/users/"), json!({"name": ""})).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "backend problems pass through");
    assert_eq!(invalid.header("content-type"), "application/problem+json");
    for _ in 0..4 {
        get(&app.url(Gateway, "/movies/1")).await;
    }
    let traffic = get(&app.url(Gateway, "/api/traffic")).await.body;
    assert_eq!(traffic["services"]["movie-service"]["total"], 4);
    assert_eq!(traffic["services"]["movie-service"]["byCluster"]["local"], 4);
    assert_eq!(traffic["services"]["user-service"]["total"], 2);
    assert_eq!(traffic["services"]["booking-service"]["recent"][0]["status"], 201);
    let topology = get(&app.url(Gateway, "/api/topology")).await.body;
    assert_eq!(topology["seen"].as_array().unwrap().len(), 3, "one pod seen per service: {topology}");
    assert_eq!(
        client().delete(app.url(Gateway, "/api/traffic")).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(get(&app.url(Gateway, "/api/traffic")).await.body["services"], json!({}));
    app.stop().await;
}

#[actix_web::test]
async fn the_history_counts_every_answer_per_second_and_stays_small_under_a_long_burst() {
    let (upstream, _) = recording_upstream();
    let app = gateway_to(&upstream, &["--traffic-window", "50"]).await;
    let requests = 3_000;
    for _ in 0..requests {
        client().get(app.url(Gateway, "/users/")).send().await.unwrap();
    }
    let mut reply = client().get(app.url(Gateway, "/api/traffic/history")).send().await.unwrap();
    let bytes = reply.body().await.unwrap();
    let history: Value = serde_json::from_slice(&bytes).unwrap();
    let seconds = history["services"]["user-service"].as_array().unwrap();
    let counted: u64 = seconds.iter().map(|s| s["clusters"]["ctx2"]["ok"].as_u64().unwrap()).sum();
    assert_eq!(counted, requests, "every answer counted once");
    assert_eq!(history["seconds"], 300);
    // One entry per second that saw answers, whatever the number of answers.
    assert!(seconds.len() <= 30 && bytes.len() < 4_096, "{} seconds, {} bytes", seconds.len(), bytes.len());
    assert_eq!(get(&app.url(Gateway, "/api/traffic")).await.body["services"]["user-service"]["total"], 50);
    app.stop().await;
}

#[actix_web::test]
async fn serves_the_embedded_page_or_a_folder_given_with_ui_dir() {
    let app = start_with(settings(Backend::Memory, &[]), &[Gateway], false).await;
    let mut page = client().get(app.url(Gateway, "/")).send().await.unwrap();
    assert_eq!(page.headers().get("content-type").unwrap(), "text/html; charset=utf-8");
    let html = String::from_utf8(page.body().await.unwrap().to_vec()).unwrap();
    assert!(html.contains("Theater MSA") && html.contains("/app.js"));
    assert_eq!(client().get(app.url(Gateway, "/app.js")).send().await.unwrap().status(), StatusCode::OK);
    app.stop().await;

    let dir = std::env::temp_dir().join(format!("theater-ui-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>from a ConfigMap</h1>").unwrap();
    let app = start_with(settings(Backend::Memory, &["--ui-dir", dir.to_str().unwrap()]), &[Gateway], false).await;
    let mut page = client().get(app.url(Gateway, "/")).send().await.unwrap();
    assert_eq!(page.body().await.unwrap(), "<h1>from a ConfigMap</h1>");
    // A file the folder lacks comes from the embedded copy.
    let mut script = client().get(app.url(Gateway, "/app.js")).send().await.unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(String::from_utf8(script.body().await.unwrap().to_vec()).unwrap().contains("use strict"));
    // An edit shows at the next request, as when the kubelet updates a ConfigMap mount.
    std::fs::write(dir.join("index.html"), "<h1>edited</h1>").unwrap();
    let mut page = client().get(app.url(Gateway, "/")).send().await.unwrap();
    assert_eq!(page.body().await.unwrap(), "<h1>edited</h1>");
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

// ---- /api/mesh and /api/topology against a fake Kubernetes API server ----

fn istio_list(kind: &str, version: &str, items: Vec<Value>) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|item| {
            json!({
                "apiVersion": format!("networking.istio.io/{version}"),
                "kind": kind,
                "metadata": {"name": item["name"], "namespace": "theater-msa", "resourceVersion": "101",
                             "uid": uuid::Uuid::new_v4().to_string()},
                "spec": item["spec"],
            })
        })
        .collect();
    json!({"apiVersion": format!("networking.istio.io/{version}"), "kind": format!("{kind}List"),
           "metadata": {"resourceVersion": "101"}, "items": items})
}

fn virtual_services() -> Vec<Value> {
    let route = |host: &str, w1: u32, w2: u32| {
        json!([{"destination": {"host": host, "subset": "ctx1"}, "weight": w1},
               {"destination": {"host": host, "subset": "ctx2"}, "weight": w2}])
    };
    [("user-service", 70, 30), ("movie-service", 30, 70), ("booking-service", 50, 50)]
        .into_iter()
        .map(|(host, w1, w2)| {
            let mut default_route = json!({"route": route(host, w1, w2)});
            if host == "movie-service" {
                default_route["fault"] = json!({"delay": {"percentage": {"value": 50.0}, "fixedDelay": "2s"}});
                default_route["retries"] = json!({"attempts": 3, "perTryTimeout": "1s"});
            }
            json!({"name": host, "spec": {"hosts": [host], "http": [
                {"name": "canary", "match": [{"headers": {"x-canary": {"exact": "true"}}}],
                 "route": [{"destination": {"host": host, "subset": "ctx2"}, "weight": 100}]},
                default_route
            ]}})
        })
        .collect()
}

fn destination_rules() -> Vec<Value> {
    ["user-service", "movie-service", "booking-service"]
        .into_iter()
        .map(|host| {
            json!({"name": host, "spec": {"host": format!("{host}.theater-msa.svc.cluster.local"), "subsets": [
                {"name": "ctx1", "labels": {"cluster": "ctx1"}}, {"name": "ctx2", "labels": {"cluster": "ctx2"}}]}})
        })
        .collect()
}

fn pod_list() -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": [
        {"metadata": {"name": "user-service-ctx1-5d8f7-abcde", "namespace": "theater-msa",
                      "labels": {"app": "user-service", "cluster": "ctx1", "version": "v1"}},
         "spec": {"nodeName": "worker-1", "containers": [{"name": "theater", "image": "theater:1"}]},
         "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
        {"metadata": {"name": "api-gateway-7c9-xyz", "namespace": "theater-msa",
                      "labels": {"app": "api-gateway", "cluster": "ctx1"}},
         "spec": {"nodeName": "worker-2", "containers": [{"name": "theater", "image": "theater:1"}]},
         "status": {"phase": "Pending"}}
    ]})
}

/// How the fake API server behaves.
#[derive(Clone, Copy, PartialEq)]
enum FakeApi {
    /// Serves networking.istio.io/v1.
    V1,
    /// Serves only v1beta1 (an older Istio); v1 answers 404.
    V1beta1Only,
    /// Answers 403 to everything, as with a missing Role binding.
    Forbidden,
}

/// (path, Authorization header) of each request the fake API server got.
type ApiCalls = Arc<Mutex<Vec<(String, String)>>>;

/// A fake Kubernetes API server and a kubeconfig file that points at it.
fn fake_kubernetes(mode: FakeApi) -> (std::path::PathBuf, ApiCalls) {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let recorded = requests.clone();
    let server_url = stand_in(move |req: HttpRequest, _| {
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        recorded.lock().unwrap().push((req.path().to_owned(), auth));
        let path = req.path().to_owned();
        async move {
            let status = |code: u16, reason: &str| {
                HttpResponse::build(StatusCode::from_u16(code).unwrap()).json(json!({
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": format!("{reason}: {path}"), "reason": reason, "code": code}))
            };
            if mode == FakeApi::Forbidden {
                return status(403, "Forbidden");
            }
            let version = if path.contains("/v1beta1/") { "v1beta1" } else { "v1" };
            let served = match mode {
                FakeApi::V1 => version == "v1",
                _ => version == "v1beta1",
            };
            match path.as_str() {
                "/api/v1/namespaces/theater-msa/pods" => HttpResponse::Ok().json(pod_list()),
                p if p.ends_with("/namespaces/theater-msa/virtualservices") && served => {
                    HttpResponse::Ok().json(istio_list("VirtualService", version, virtual_services()))
                }
                p if p.ends_with("/namespaces/theater-msa/destinationrules") && served => {
                    HttpResponse::Ok().json(istio_list("DestinationRule", version, destination_rules()))
                }
                _ => status(404, "NotFound"),
            }
        }
    });
    let kubeconfig = std::env::temp_dir().join(format!("theater-kubeconfig-{}.yaml", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server_url}\n\
             users:\n- name: gateway\n  user:\n    token: fake-sa-token\ncontexts:\n- name: fake\n  context:\n    \
             cluster: fake\n    user: gateway\n    namespace: theater-msa\ncurrent-context: fake\n"
        ),
    )
    .unwrap();
    (kubeconfig, requests)
}

async fn gateway_reading(kubeconfig: &std::path::Path) -> crate::support::TestApp {
    let settings = settings(Backend::Memory, &["--kubeconfig", kubeconfig.to_str().unwrap()]);
    start_with(settings, &[Gateway], false).await
}

#[actix_web::test]
async fn mesh_reduces_the_istio_rules_read_from_the_api() {
    let (kubeconfig, requests) = fake_kubernetes(FakeApi::V1);
    let app = gateway_reading(&kubeconfig).await;
    let mesh = get(&app.url(Gateway, "/api/mesh")).await.body;
    assert_eq!(mesh["source"], "kubernetes", "{mesh}");
    assert_eq!(mesh["apiVersion"], "networking.istio.io/v1");
    let user = &mesh["services"]["user-service"];
    let weights: Vec<(Value, Value)> =
        user["defaultRoute"].as_array().unwrap().iter().map(|d| (d["subset"].clone(), d["weight"].clone())).collect();
    assert_eq!(weights, [(json!("ctx1"), json!(70)), (json!("ctx2"), json!(30))]);
    assert_eq!(mesh["services"]["movie-service"]["defaultRoute"][1]["weight"], 70);
    assert_eq!(mesh["services"]["booking-service"]["defaultRoute"][0]["weight"], 50);
    assert_eq!(user["weights"], json!({"ctx1": 70, "ctx2": 30}));
    assert!(mesh["origin"].as_str().unwrap().starts_with("the Kubernetes API of "), "{mesh}");
    let history = get(&app.url(Gateway, "/api/traffic/history")).await.body;
    assert_eq!(history["rules"][0]["weights"]["movie-service"], json!({"ctx1": 30, "ctx2": 70}));
    assert_eq!(history["rules"][0]["changed"], false, "the first rules read are a start, not a change");
    let canary = &user["headerRoutes"][0];
    assert_eq!(canary["match"][0], json!({"header": "x-canary", "kind": "exact", "value": "true"}));
    assert_eq!(canary["destinations"][0], json!({"host": "user-service", "subset": "ctx2", "weight": 100}));
    let movie_default = &mesh["services"]["movie-service"]["routes"][1];
    assert_eq!(movie_default["fault"]["delay"]["fixedDelay"], "2s");
    assert_eq!(movie_default["retries"]["attempts"], 3);
    assert_eq!(user["subsets"][0]["labels"], json!({"cluster": "ctx1"}));
    let seen = requests.lock().unwrap().clone();
    assert!(seen.iter().all(|(_, auth)| auth == "Bearer fake-sa-token"), "{seen:?}");
    assert!(seen.iter().any(|(p, _)| p == "/apis/networking.istio.io/v1/namespaces/theater-msa/virtualservices"));

    // A second read within the cache time does not call the API again.
    let calls = requests.lock().unwrap().len();
    get(&app.url(Gateway, "/api/mesh")).await;
    assert_eq!(requests.lock().unwrap().len(), calls);

    let topology = get(&app.url(Gateway, "/api/topology")).await.body;
    assert_eq!(topology["source"], "kubernetes");
    let pod = &topology["pods"][0];
    assert_eq!(
        (pod["app"].clone(), pod["cluster"].clone(), pod["ready"].clone()),
        (json!("user-service"), json!("ctx1"), json!(true))
    );
    assert_eq!(
        (topology["pods"][1]["phase"].clone(), topology["pods"][1]["ready"].clone()),
        (json!("Pending"), json!(false))
    );
    app.stop().await;
    let _ = std::fs::remove_file(kubeconfig);
}

#[actix_web::test]
async fn mesh_falls_back_to_v1beta1_on_an_older_istio() {
    let (kubeconfig, _) = fake_kubernetes(FakeApi::V1beta1Only);
    let app = gateway_reading(&kubeconfig).await;
    let mesh = get(&app.url(Gateway, "/api/mesh")).await.body;
    assert_eq!(mesh["apiVersion"], "networking.istio.io/v1beta1", "{mesh}");
    assert_eq!(mesh["services"]["user-service"]["defaultRoute"][0]["weight"], 70);
    app.stop().await;
    let _ = std::fs::remove_file(kubeconfig);
}

#[actix_web::test]
async fn mesh_says_unavailable_with_the_reason_and_never_invents_weights() {
    let (kubeconfig, _) = fake_kubernetes(FakeApi::Forbidden);
    let app = gateway_reading(&kubeconfig).await;
    let forbidden = get(&app.url(Gateway, "/api/mesh")).await;
    assert_eq!(forbidden.status, StatusCode::OK);
    assert_eq!(forbidden.body["source"], "unavailable");
    assert!(forbidden.body["reason"].as_str().unwrap().contains("forbidden"), "{}", forbidden.body);
    assert!(forbidden.body.get("services").is_none());
    let topology = get(&app.url(Gateway, "/api/topology")).await.body;
    assert_eq!(topology["source"], "unavailable");
    app.stop().await;
    let _ = std::fs::remove_file(kubeconfig);

    // An API server that is not there at all.
    let dir = std::env::temp_dir().join(format!("theater-kc-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let kubeconfig = dir.join("config");
    std::fs::write(&kubeconfig, format!("apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: http://{closed}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context:\n    cluster: gone\n    user: u\ncurrent-context: c\n")).unwrap();
    let app = gateway_reading(&kubeconfig).await;
    let started = Instant::now();
    let gone = get(&app.url(Gateway, "/api/mesh")).await.body;
    assert_eq!(gone["source"], "unavailable");
    assert!(gone["reason"].as_str().unwrap().contains("cannot reach"), "{gone}");
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn an_upstream_dying_mid_response_does_not_wedge_the_gateway() {
    let app = gateway_to(&dying_upstream(5), &[]).await;
    for _ in 0..5 {
        let started = Instant::now();
        // The status line already went out: the client sees the body cut short.
        let answer = client().get(app.url(Gateway, "/users/")).send().await;
        if let Ok(mut response) = answer {
            let body = response.body().await;
            assert!(body.map_or(true, |b| b.len() < 100), "a truncated body was passed off as whole");
        }
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    }
    // One worker serves the gateway in tests: it is still free.
    assert_eq!(get(&app.url(Gateway, "/healthz")).await.status, StatusCode::OK);
    app.stop().await;
}

#[actix_web::test]
async fn clients_hanging_up_mid_request_leave_the_gateway_serving() {
    let slow = crate::support::slow_stand_in(Duration::from_millis(300));
    let app = gateway_to(&slow, &[]).await;
    let address = app.urls[&Gateway].trim_start_matches("http://").to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        use std::io::Write;
        for i in 0..20 {
            let mut stream = std::net::TcpStream::connect(&address).unwrap();
            // Half of them hang up mid-body, half while the upstream is still answering.
            let head = if i % 2 == 0 {
                "POST /users/ HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"na"
            } else {
                "GET /users/ HTTP/1.1\r\nhost: t\r\n\r\n"
            };
            stream.write_all(head.as_bytes()).unwrap();
            drop(stream);
        }
    })
    .await
    .unwrap();
    let started = Instant::now();
    assert_eq!(get(&app.url(Gateway, "/users/1")).await.status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    app.stop().await;
}

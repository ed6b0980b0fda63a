//! What every role answers about itself, identity headers, errors for unknown routes,
//! readiness against a missing store, and seeding.

use actix_web::http::StatusCode;
use serde_json::json;
use theater::service::ServiceKind::{Booking, Movie, User};

use crate::support::{Backend, delete, get, get_with, on_both_stores, post, settings, start, start_with};

on_both_stores!(
    every_role_answers_health_info_and_identity_headers,
    seeding_twice_keeps_three_users_and_respects_deletions
);

async fn every_role_answers_health_info_and_identity_headers(backend: Backend) {
    let app = start(backend).await;
    for service in [User, Movie, Booking] {
        let health = get(&app.url(service, "/healthz")).await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.header("x-service-name"), service.name());
        assert_eq!(health.header("x-service-cluster"), "local");
        assert!(!health.header("x-pod-name").is_empty());
        assert_eq!(get(&app.url(service, "/readyz")).await.status, StatusCode::OK);
        let info = get(&app.url(service, "/info")).await;
        assert_eq!(info.body["service"], service.name());
        assert_eq!(info.body["role"], service.role());
        assert_eq!(info.body["store"], if backend == Backend::Redis { "redis" } else { "memory" });
        assert!(info.body["startedAt"].as_str().unwrap().ends_with('Z'));
        // The bare address answers who this is and what it serves (the guide curls it).
        let about = get(&app.url(service, "/")).await;
        assert_eq!(about.status, StatusCode::OK);
        assert_eq!(
            (about.body["service"].as_str(), about.body["cluster"].as_str()),
            (Some(service.name()), Some("local"))
        );
        assert!(about.body["pod"].as_str().is_some_and(|p| !p.is_empty()) && about.body["version"].is_string());
        let endpoints: Vec<&str> =
            about.body["endpoints"].as_array().unwrap().iter().filter_map(|e| e.as_str()).collect();
        let own = match service {
            User => "GET /users/",
            Movie => "GET /movies/",
            _ => "GET /bookings/",
        };
        assert!(endpoints.contains(&own) && endpoints.contains(&"GET /healthz"), "{endpoints:?}");
        // Errors carry the identity too: a class sees which pod failed.
        let missing = get(&app.url(service, "/nope")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.header("content-type"), "application/problem+json");
        assert_eq!(missing.header("x-service-name"), service.name());
    }
    app.stop().await;
}

async fn seeding_twice_keeps_three_users_and_respects_deletions(backend: Backend) {
    let app = start(backend).await;
    app.store.seed().await.unwrap();
    assert_eq!(get(&app.url(User, "/users")).await.body["total"], 3);
    assert_eq!(delete(&app.url(User, "/users/2")).await.status, StatusCode::NO_CONTENT);
    app.store.seed().await.unwrap();
    let users = get(&app.url(User, "/users")).await;
    assert_eq!(users.body["total"], 2, "a seeded store is not seeded again");
    assert_eq!(get(&app.url(Movie, "/movies")).await.body["total"], 3);
    app.stop().await;
}

#[actix_web::test]
async fn two_processes_starting_on_one_redis_seed_it_once() {
    let shared_prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let first = start_with(settings(Backend::Redis, &["--redis-key-prefix", &shared_prefix]), &[User], false).await;
    let second = start_with(settings(Backend::Redis, &["--redis-key-prefix", &shared_prefix]), &[User], false).await;
    let (a, b) = futures_util::join!(first.store.seed(), second.store.seed());
    a.unwrap();
    b.unwrap();
    let users = get(&first.url(User, "/users")).await;
    assert_eq!(users.body["total"], 3);
    let created = post(&second.url(User, "/users"), json!({"name": "N", "email": "n@x.io"})).await;
    assert_eq!(created.body["id"], "4");
    first.stop().await;
    second.stop().await;
}

#[actix_web::test]
async fn readiness_fails_and_data_requests_answer_503_while_redis_is_unreachable() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = settings(Backend::Memory, &[]);
    settings.store.redis =
        Some(fred::types::config::Config::from_url(&format!("redis://127.0.0.1:{closed_port}")).unwrap());
    settings.store.timeout = std::time::Duration::from_millis(300);
    let app = start_with(settings, &[User], false).await;
    assert_eq!(get(&app.url(User, "/healthz")).await.status, StatusCode::OK, "alive even without Redis");
    let started = std::time::Instant::now();
    let ready = get(&app.url(User, "/readyz")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    let list = get(&app.url(User, "/users")).await;
    assert_eq!(list.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(list.header("content-type"), "application/problem+json");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "took {:?}", started.elapsed());
    app.stop().await;
}

#[actix_web::test]
async fn headers_endpoint_echoes_what_the_role_received() {
    let app = start(Backend::Memory).await;
    let reply = get_with(&app.url(Booking, "/headers"), &[("x-canary", "true"), ("x-b3-traceid", "abc")]).await;
    assert_eq!(reply.body["headers"]["x-canary"], "true");
    assert_eq!(reply.body["headers"]["x-b3-traceid"], "abc");
    assert_eq!(reply.body["servedBy"]["service"], "booking-service");
    app.stop().await;
}

#[actix_web::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    let app = start(Backend::Memory).await;
    let given = get_with(&app.url(User, "/users/1"), &[("x-request-id", "abc-123")]).await;
    assert_eq!(given.header("x-request-id"), "abc-123");
    let fresh = get(&app.url(User, "/users/1")).await;
    assert_eq!(fresh.header("x-request-id").len(), 36, "a generated uuid");
    app.stop().await;
}

#[actix_web::test]
async fn unsupported_methods_get_a_problem_405() {
    let app = start(Backend::Memory).await;
    let reply = crate::support::client().put(app.url(User, "/users/1")).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers().get("content-type").unwrap(), "application/problem+json");
    assert_eq!(reply.headers().get("allow").unwrap(), "GET, HEAD, DELETE");
    let head = crate::support::client().head(app.url(User, "/users/1")).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK, "GET routes answer HEAD");
    app.stop().await;
}

/// Sends `head` (and no more) on a raw connection; returns the status line of the
/// answer and how long it took.
fn raw_exchange(url: &str, head: &str) -> (String, std::time::Duration) {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = [0u8; 512];
    let n = stream.read(&mut answer).unwrap_or(0);
    let text = String::from_utf8_lossy(&answer[..n]);
    (text.lines().next().unwrap_or("").to_owned(), started.elapsed())
}

#[actix_web::test]
async fn a_client_that_stalls_mid_body_gets_408() {
    let app = start_with(settings(Backend::Memory, &["--request-timeout-ms", "400"]), &[User], true).await;
    let url = app.urls[&User].clone();
    let head = "POST /users HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"na";
    let (status, took) = actix_web::rt::task::spawn_blocking(move || raw_exchange(&url, head)).await.unwrap();
    assert!(status.contains("408"), "got {status:?}");
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    app.stop().await;
}

#[actix_web::test]
async fn a_body_declared_too_large_is_refused_without_reading_it() {
    let app = start(Backend::Memory).await;
    let url = app.urls[&User].clone();
    let head = "POST /users HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n";
    let (status, took) = actix_web::rt::task::spawn_blocking(move || raw_exchange(&url, head)).await.unwrap();
    assert!(status.contains("413"), "got {status:?}");
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    app.stop().await;
}

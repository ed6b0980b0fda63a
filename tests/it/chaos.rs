//! Chaos knobs and Prometheus metrics.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use serde_json::json;
use theater::service::ServiceKind::{Booking, Movie, User};

use crate::support::{Backend, client, get, post, settings, start, start_with};

async fn put_chaos(url: &str, body: serde_json::Value) -> crate::support::Reply {
    let mut res = client().put(url).send_json(&body).await.unwrap();
    let bytes = res.body().await.unwrap();
    crate::support::Reply {
        status: res.status(),
        headers: res.headers().clone(),
        body: serde_json::from_slice(&bytes).unwrap_or_default(),
    }
}

async fn start_chaotic(args: &[&str]) -> crate::support::TestApp {
    let mut all = vec!["--chaos"];
    all.extend_from_slice(args);
    start_with(settings(Backend::Memory, &all), &[User, Movie, Booking], true).await
}

#[actix_web::test]
async fn without_the_flag_admin_chaos_is_404_and_nothing_is_injected() {
    let app = start(Backend::Memory).await;
    let reply = get(&app.url(User, "/admin/chaos")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body["detail"].as_str().unwrap().contains("--chaos"));
    let put = put_chaos(&app.url(User, "/admin/chaos"), json!({"errorRate": 1.0})).await;
    assert_eq!(put.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app.url(User, "/users/1")).await.status, StatusCode::OK);
    app.stop().await;
}

#[actix_web::test]
async fn an_error_rate_of_one_fails_every_request_but_the_probes_and_only_on_that_role() {
    let app = start_chaotic(&[]).await;
    let set = put_chaos(&app.url(User, "/admin/chaos"), json!({"errorRate": 1.0, "errorStatus": 500})).await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(set.body, json!({"errorRate": 1.0, "errorStatus": 500, "delayMs": 0}));
    let failed = get(&app.url(User, "/users/1")).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.header("content-type"), "application/problem+json");
    assert_eq!(failed.header("x-service-name"), "user-service", "injected errors still say who failed");
    assert_eq!(failed.body["type"], "urn:theater:problem:chaos");
    assert_eq!(get(&app.url(User, "/healthz")).await.status, StatusCode::OK);
    assert_eq!(get(&app.url(User, "/readyz")).await.status, StatusCode::OK);
    assert_eq!(get(&app.url(Movie, "/movies/1")).await.status, StatusCode::OK, "movie-service is untouched");
    // booking sees user-service failing and says so.
    let booking = post(&app.url(Booking, "/bookings"), json!({"userId": "1", "movieId": "1", "seats": 1})).await;
    assert_eq!(booking.status, StatusCode::SERVICE_UNAVAILABLE);
    put_chaos(&app.url(User, "/admin/chaos"), json!({})).await;
    assert_eq!(get(&app.url(User, "/users/1")).await.status, StatusCode::OK, "reset restores service");
    app.stop().await;
}

#[actix_web::test]
async fn half_the_requests_fail_at_an_error_rate_of_one_half() {
    let app = start_chaotic(&["--chaos-error-rate", "0.5"]).await;
    let mut failures = 0;
    for _ in 0..200 {
        if get(&app.url(Movie, "/movies/1")).await.status == StatusCode::SERVICE_UNAVAILABLE {
            failures += 1;
        }
    }
    // Binomial(200, 0.5): standard deviation about 7; this band is over 5 of them.
    assert!((60..=140).contains(&failures), "{failures} of 200 failed");
    app.stop().await;
}

#[actix_web::test]
async fn a_delay_slows_every_request() {
    let app = start_chaotic(&[]).await;
    put_chaos(&app.url(Movie, "/admin/chaos"), json!({"delayMs": 300})).await;
    let started = Instant::now();
    assert_eq!(get(&app.url(Movie, "/movies/1")).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300), "took {:?}", started.elapsed());
    let probe = Instant::now();
    get(&app.url(Movie, "/healthz")).await;
    assert!(probe.elapsed() < Duration::from_millis(300), "probes are not delayed");
    app.stop().await;
}

#[actix_web::test]
async fn invalid_chaos_settings_are_rejected_field_by_field() {
    let app = start_chaotic(&[]).await;
    let reply =
        put_chaos(&app.url(User, "/admin/chaos"), json!({"errorRate": 2, "errorStatus": 200, "delayMs": 40000})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_fields(), ["errorRate", "errorStatus", "delayMs"]);
    let unknown = put_chaos(&app.url(User, "/admin/chaos"), json!({"rate": 1})).await;
    assert_eq!(unknown.error_fields(), ["rate"]);
    assert_eq!(get(&app.url(User, "/admin/chaos")).await.body["errorRate"], 0.0, "nothing changed");
    app.stop().await;
}

/// The value of one exposition line, or 0 when it is not there yet.
fn sample(metrics: &str, line_prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn metrics_text(url: &str) -> String {
    let mut res = client().get(url).send().await.unwrap();
    assert_eq!(res.headers().get("content-type").unwrap(), "text/plain; version=0.0.4; charset=utf-8");
    String::from_utf8(res.body().await.unwrap().to_vec()).unwrap()
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern_and_bookings() {
    // The registry is per process and tests run in parallel: compare before and after.
    let app = start(Backend::Memory).await;
    let metrics_url = app.url(User, "/metrics");
    let ok_line =
        r#"theater_http_requests_total{service="user-service",route="/users/{id}",method="GET",status="200"}"#;
    let missing_line =
        r#"theater_http_requests_total{service="user-service",route="/users/{id}",method="GET",status="404"}"#;
    let booked_line = "theater_bookings_created_total ";
    let seats_line = "theater_seats_reserved_total ";
    let before = metrics_text(&metrics_url).await;
    for id in ["1", "2", "3"] {
        get(&app.url(User, &format!("/users/{id}"))).await;
    }
    get(&app.url(User, "/users/999")).await;
    post(&app.url(Booking, "/bookings"), json!({"userId": "1", "movieId": "1", "seats": 3})).await;
    let after = metrics_text(&metrics_url).await;
    assert!(sample(&after, ok_line) - sample(&before, ok_line) >= 3.0, "{after}");
    assert!(sample(&after, missing_line) - sample(&before, missing_line) >= 1.0);
    assert!(sample(&after, booked_line) - sample(&before, booked_line) >= 1.0);
    assert!(sample(&after, seats_line) - sample(&before, seats_line) >= 3.0);
    assert!(after.contains(
        r#"theater_http_request_duration_seconds_bucket{service="user-service",route="/users/{id}",le="+Inf"}"#
    ));
    assert!(!after.contains("route=\"/users/999\""), "raw paths never become labels");
    app.stop().await;
}

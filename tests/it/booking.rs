//! booking-service over HTTP: lookups, atomic reservation, propagation.

use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use theater::service::ServiceKind::{Booking, Movie, User};

use crate::support::{
    Backend, delete, dying_upstream, get, on_both_stores, post, post_raw, settings, slow_stand_in, stand_in, start,
    start_with,
};

on_both_stores!(
    books_seats_and_reports_the_route_of_each_step,
    answers_422_naming_each_missing_reference,
    answers_409_when_too_few_seats_remain,
    cancelling_returns_the_seats,
    fifty_concurrent_bookings_on_twenty_seats_never_overbook,
    lists_bookings_per_user,
    rejects_invalid_seat_counts,
    the_guides_placeholder_ids_are_both_named,
);

async fn books_seats_and_reports_the_route_of_each_step(backend: Backend) {
    let app = start(backend).await;
    let reply = post(&app.url(Booking, "/bookings/"), json!({"userId": "1", "movieId": 3, "seats": 2})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.header("location"), "/bookings/1");
    assert_eq!((reply.body["userId"].clone(), reply.body["movieId"].clone()), (json!("1"), json!("3")));
    let route = &reply.body["route"];
    assert_eq!(route["user"]["service"], "user-service");
    assert_eq!(route["movie"]["service"], "movie-service");
    assert_eq!(route["booking"]["service"], "booking-service");
    assert_eq!(route["user"]["cluster"], "local");
    assert_eq!(get(&app.url(Movie, "/movies/3")).await.body["availableSeats"], 98);
    assert_eq!(get(&app.url(Booking, "/bookings/1")).await.body, reply.body);
    app.stop().await;
}

async fn answers_422_naming_each_missing_reference(backend: Backend) {
    let app = start(backend).await;
    let reply = post(&app.url(Booking, "/bookings"), json!({"userId": "99", "movieId": "98", "seats": 1})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.error_fields(), ["userId", "movieId"]);
    let one = post(&app.url(Booking, "/bookings"), json!({"userId": "2", "movieId": "98", "seats": 1})).await;
    assert_eq!(one.error_fields(), ["movieId"]);
    assert_eq!(get(&app.url(Booking, "/bookings")).await.body["total"], 0);
    app.stop().await;
}

async fn answers_409_when_too_few_seats_remain(backend: Backend) {
    let app = start(backend).await;
    let movie = post(&app.url(Movie, "/movies"), json!({"title": "T", "genre": "G", "year": 2020, "seats": 3})).await;
    let movie_id = movie.body["id"].clone();
    let first = post(&app.url(Booking, "/bookings"), json!({"userId": "1", "movieId": movie_id, "seats": 2})).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let second = post(&app.url(Booking, "/bookings"), json!({"userId": "2", "movieId": movie_id, "seats": 2})).await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    assert_eq!(second.error_fields(), ["seats"]);
    assert!(second.body["detail"].as_str().unwrap().contains("1 available"), "{}", second.body);
    app.stop().await;
}

async fn cancelling_returns_the_seats(backend: Backend) {
    let app = start(backend).await;
    let booked = post(&app.url(Booking, "/bookings"), json!({"userId": "1", "movieId": "1", "seats": 4})).await;
    assert_eq!(get(&app.url(Movie, "/movies/1")).await.body["availableSeats"], 96);
    let id = booked.body["id"].as_str().unwrap();
    assert_eq!(delete(&app.url(Booking, &format!("/bookings/{id}"))).await.status, StatusCode::NO_CONTENT);
    assert_eq!(get(&app.url(Movie, "/movies/1")).await.body["availableSeats"], 100);
    assert_eq!(delete(&app.url(Booking, &format!("/bookings/{id}"))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app.url(Movie, "/movies/1")).await.body["availableSeats"], 100, "a second cancel returns nothing");
    assert_eq!(get(&app.url(Booking, "/bookings/user/1")).await.body["total"], 0);
    app.stop().await;
}

async fn fifty_concurrent_bookings_on_twenty_seats_never_overbook(backend: Backend) {
    let app = start(backend).await;
    let movie =
        post(&app.url(Movie, "/movies"), json!({"title": "Hot", "genre": "G", "year": 2024, "seats": 20})).await;
    let movie_id = movie.body["id"].clone();
    let url = app.url(Booking, "/bookings");
    let attempts =
        (0..50).map(|i| post(&url, json!({"userId": format!("{}", i % 3 + 1), "movieId": movie_id, "seats": 1})));
    let replies = futures_util::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let conflicts = replies.iter().filter(|r| r.status == StatusCode::CONFLICT).count();
    assert_eq!((created, conflicts), (20, 30));
    let movie = get(&app.url(Movie, &format!("/movies/{}", movie_id.as_str().unwrap()))).await;
    assert_eq!(movie.body["availableSeats"], 0);
    assert_eq!(get(&url).await.body["total"], 20);
    app.stop().await;
}

async fn lists_bookings_per_user(backend: Backend) {
    let app = start(backend).await;
    for (user, movie) in [("1", "1"), ("2", "1"), ("1", "2")] {
        let reply = post(&app.url(Booking, "/bookings"), json!({"userId": user, "movieId": movie, "seats": 1})).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let mine = get(&app.url(Booking, "/bookings/user/1")).await;
    let movies: Vec<_> = mine.body["items"].as_array().unwrap().iter().map(|b| b["movieId"].clone()).collect();
    assert_eq!(movies, [json!("1"), json!("2")]);
    assert_eq!(get(&app.url(Booking, "/bookings/user/3")).await.body["total"], 0);
    assert_eq!(get(&app.url(Booking, "/bookings/user/x")).await.error_fields(), ["userId"]);
    app.stop().await;
}

async fn rejects_invalid_seat_counts(backend: Backend) {
    let app = start(backend).await;
    let url = app.url(Booking, "/bookings");
    for seats in [json!(0), json!(11), json!(-1), json!("2"), json!(1.5)] {
        let reply = post(&url, json!({"userId": "1", "movieId": "1", "seats": seats})).await;
        assert_eq!(
            (reply.status, reply.error_fields()),
            (StatusCode::BAD_REQUEST, vec!["seats".to_owned()]),
            "{seats}"
        );
    }
    let bad_ref = post(&url, json!({"userId": "me", "movieId": "1", "seats": 1})).await;
    assert_eq!(bad_ref.error_fields(), ["userId"]);
    assert_eq!(post_raw(&url, "{").await.error_fields(), ["body"]);
    app.stop().await;
}

async fn the_guides_placeholder_ids_are_both_named(backend: Backend) {
    let app = start(backend).await;
    let reply =
        post(&app.url(Booking, "/bookings/"), json!({"userId": "user-id", "movieId": "movie-id", "seats": 2})).await;
    assert_eq!(
        (reply.status, reply.error_fields()),
        (StatusCode::BAD_REQUEST, vec!["userId".to_owned(), "movieId".to_owned()])
    );
    let missing = post(&app.url(Booking, "/bookings/"), json!({"seats": 0})).await;
    assert_eq!(missing.error_fields(), ["userId", "movieId", "seats"]);
    app.stop().await;
}

/// A stand-in upstream that records the headers of every request it gets and answers
/// as a user/movie pod of cluster `ctx2` would.
#[expect(clippy::unused_async, reason = "it starts a server, so it runs inside the test's runtime")]
async fn recording_upstream() -> (String, Arc<Mutex<Vec<actix_web::http::header::HeaderMap>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let url = stand_in(move |req: HttpRequest, _| {
        recorded.lock().unwrap().push(req.headers().clone());
        async {
            HttpResponse::Ok()
                .insert_header(("x-service-name", "recorder"))
                .insert_header(("x-service-cluster", "ctx2"))
                .insert_header(("x-pod-name", "recorder-0"))
                .json(json!({}))
        }
    });
    (url, seen)
}

#[actix_web::test]
async fn booking_forwards_canary_and_tracing_headers_to_both_lookups() {
    let (upstream, seen) = recording_upstream().await;
    let settings = settings(Backend::Memory, &["--user-service-url", &upstream, "--movie-service-url", &upstream]);
    let app = start_with(settings, &[Booking], true).await;
    let inbound = [
        ("x-canary", "true"),
        ("x-request-id", "req-42"),
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("tracestate", "vendor=1"),
        ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
        ("x-b3-sampled", "1"),
        ("x-b3-flags", "0"),
        ("x-ot-span-context", "ctx"),
    ];
    let mut request = crate::support::client().post(app.url(Booking, "/bookings"));
    for (name, value) in inbound {
        request = request.insert_header((name, value));
    }
    request = request.insert_header(("cookie", "session=secret"));
    let mut reply = request.send_json(&json!({"userId": "1", "movieId": "2", "seats": 1})).await.unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["route"]["user"], json!({"service": "recorder", "cluster": "ctx2", "pod": "recorder-0"}));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one lookup each for the user and the movie");
    for headers in seen {
        for (name, value) in inbound {
            assert_eq!(headers.get(name).and_then(|v| v.to_str().ok()), Some(value), "{name} was not forwarded");
        }
        assert!(headers.get("cookie").is_none(), "only the listed headers travel");
    }
    app.stop().await;
}

#[actix_web::test]
async fn answers_503_naming_the_unreachable_dependency() {
    // A port that was free a moment ago: connections to it are refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let settings = settings(Backend::Memory, &["--user-service-url", &closed]);
    let app = start_with(settings, &[Booking, Movie], true).await;
    let reply = post(&app.url(Booking, "/bookings"), json!({"userId": "1", "movieId": "1", "seats": 1})).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.body);
    assert!(reply.body["detail"].as_str().unwrap().contains("user-service"), "{}", reply.body);
    assert_eq!(get(&app.url(Movie, "/movies/1")).await.body["availableSeats"], 100, "no seat was taken");
    app.stop().await;
}

#[actix_web::test]
async fn answers_503_when_a_lookup_times_out() {
    let slow_url = slow_stand_in(std::time::Duration::from_secs(5));
    let settings = settings(Backend::Memory, &["--movie-service-url", &slow_url, "--upstream-timeout-ms", "300"]);
    let app = start_with(settings, &[Booking, User], true).await;
    let started = std::time::Instant::now();
    let reply = post(&app.url(Booking, "/bookings"), json!({"userId": "1", "movieId": "1", "seats": 1})).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.body["detail"].as_str().unwrap().contains("movie-service did not answer in time"), "{}", reply.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "answered after {:?}", started.elapsed());
    app.stop().await;
}

#[actix_web::test]
async fn an_upstream_dying_mid_response_gives_503_and_does_not_wedge_the_worker() {
    let settings = settings(Backend::Memory, &["--user-service-url", &dying_upstream(8)]);
    let app = start_with(settings, &[Booking, Movie], true).await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let reply = post(&app.url(Booking, "/bookings"), json!({"userId": "1", "movieId": "1", "seats": 1})).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.body);
        assert!(reply.body["detail"].as_str().unwrap().contains("user-service broke off its answer"), "{}", reply.body);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "took {:?}", started.elapsed());
    }
    // One worker serves this role: it is free for the next request.
    assert_eq!(get(&app.url(Booking, "/healthz")).await.status, StatusCode::OK);
    assert_eq!(get(&app.url(Movie, "/movies/1")).await.body["availableSeats"], 100);
    app.stop().await;
}

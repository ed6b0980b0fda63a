//! Redis outages: a hung Redis, a killed one, and what the roles do meanwhile.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use serde_json::json;
use theater::service::ServiceKind::{Booking, Movie, User};

use crate::support::{RedisProcess, get, post, settings_on, start_with, time_until};

#[actix_web::test]
async fn a_paused_redis_gives_fast_503s_and_the_role_recovers_by_itself() {
    let redis = RedisProcess::start(false);
    let app = start_with(settings_on(&redis, &["--store-timeout-ms", "500"]), &[User], true).await;
    assert_eq!(get(&app.url(User, "/users")).await.status, StatusCode::OK);

    redis.pause();
    let started = Instant::now();
    let reply = get(&app.url(User, "/users")).await;
    let waited = started.elapsed();
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert!(waited <= Duration::from_millis(1500), "answered after {waited:?}; the store timeout is 500 ms");
    assert_eq!(get(&app.url(User, "/readyz")).await.status, StatusCode::SERVICE_UNAVAILABLE);
    let write = post(&app.url(User, "/users"), json!({"name": "P", "email": "p@x.io"})).await;
    assert_eq!(write.status, StatusCode::SERVICE_UNAVAILABLE);

    redis.resume();
    let recovered = time_until(&app.url(User, "/users"), StatusCode::OK, Duration::from_secs(5)).await;
    assert!(recovered.is_some(), "not serving again within 5 s of Redis resuming");
    eprintln!("paused Redis: 503 after {waited:?}; serving again {:?} after resuming", recovered.unwrap());
    assert_eq!(get(&app.url(User, "/readyz")).await.status, StatusCode::OK);
    app.stop().await;
}

#[actix_web::test]
async fn no_acknowledged_write_is_lost_when_redis_is_killed_and_restarted() {
    let mut redis = RedisProcess::start(true);
    let app = start_with(settings_on(&redis, &["--store-timeout-ms", "300"]), &[User, Movie, Booking], true).await;
    let movie =
        post(&app.url(Movie, "/movies"), json!({"title": "D", "genre": "G", "year": 2020, "seats": 1000})).await;
    let movie_id = movie.body["id"].as_str().unwrap().to_owned();

    // Write continuously; kill Redis mid-stream, bring it back, keep writing.
    let (users_url, bookings_url) = (app.url(User, "/users"), app.url(Booking, "/bookings"));
    let writer_movie = movie_id.clone();
    let writer = actix_web::rt::spawn(async move {
        let (mut users, mut bookings, mut refused, mut refused_bookings) = (Vec::new(), Vec::new(), 0, 0);
        for i in 0..600 {
            let user = post(&users_url, json!({"name": format!("w{i}"), "email": format!("w{i}@x.io")})).await;
            match user.status {
                StatusCode::CREATED => users.push(user.body["id"].as_str().unwrap().to_owned()),
                StatusCode::SERVICE_UNAVAILABLE => refused += 1,
                other => panic!("unexpected {other} creating a user: {}", user.body),
            }
            let booking = post(&bookings_url, json!({"userId": "1", "movieId": writer_movie, "seats": 1})).await;
            match booking.status {
                StatusCode::CREATED => bookings.push(booking.body["id"].as_str().unwrap().to_owned()),
                StatusCode::SERVICE_UNAVAILABLE => {
                    refused += 1;
                    refused_bookings += 1;
                }
                other => panic!("unexpected {other} booking: {}", booking.body),
            }
            if users.len() >= 40 && refused > 0 {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        (users, bookings, refused, refused_bookings)
    });
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    redis.kill();
    // Longer than the store timeout, so requests meanwhile are refused, not just slow.
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    redis.restart();
    let (users, bookings, refused, refused_bookings) = writer.await.unwrap();
    assert!(refused > 0, "the outage was not noticed: the test did not test anything");
    assert!(!users.is_empty() && !bookings.is_empty());

    let ready = time_until(&app.url(User, "/readyz"), StatusCode::OK, Duration::from_secs(5)).await;
    assert!(ready.is_some(), "not ready within 5 s of Redis restarting");
    for id in &users {
        assert_eq!(get(&app.url(User, &format!("/users/{id}"))).await.status, StatusCode::OK, "user {id} was lost");
    }
    for id in &bookings {
        let reply = get(&app.url(Booking, &format!("/bookings/{id}"))).await;
        assert_eq!(reply.status, StatusCode::OK, "booking {id} was lost");
    }
    let movie = get(&app.url(Movie, &format!("/movies/{movie_id}"))).await;
    // Every acknowledged booking holds its seat. A refused one may hold one too: Redis
    // can die after appending a reservation to its AOF and before its reply reaches us.
    let left = movie.body["availableSeats"].as_u64().unwrap();
    let acknowledged = bookings.len() as u64;
    assert!(
        left <= 1000 - acknowledged && left + refused_bookings >= 1000 - acknowledged,
        "{left} seats left after {acknowledged} acknowledged and {refused_bookings} refused bookings"
    );
    eprintln!(
        "killed Redis: {} users and {} bookings acknowledged, all present after restart; {refused} requests refused (503) meanwhile",
        users.len(),
        bookings.len()
    );
    app.stop().await;
}

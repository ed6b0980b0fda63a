//! movie-service over HTTP.

use actix_web::http::StatusCode;
use serde_json::json;
use theater::service::ServiceKind::Movie;

use crate::support::{Backend, delete, get, on_both_stores, post, start};

on_both_stores!(
    lists_the_three_seeded_movies_with_full_halls,
    creates_a_movie_with_default_capacity_and_optional_director,
    rejects_invalid_movies_naming_each_field,
    deletes_a_movie,
);

async fn lists_the_three_seeded_movies_with_full_halls(backend: Backend) {
    let app = start(backend).await;
    let reply = get(&app.url(Movie, "/movies/")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let items = reply.body["items"].as_array().unwrap();
    let titles: Vec<_> = items.iter().map(|m| m["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["어벤져스", "겨울왕국", "기생충"]);
    assert!(items.iter().all(|m| m["year"] == 2019 && m["seats"] == 100 && m["availableSeats"] == 100));
    assert_eq!(items[2]["genre"], "드라마");
    app.stop().await;
}

async fn creates_a_movie_with_default_capacity_and_optional_director(backend: Backend) {
    let app = start(backend).await;
    let created = post(&app.url(Movie, "/movies"), json!({"title": "올드보이", "genre": "스릴러", "year": 2003})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.header("location"), "/movies/4");
    assert_eq!((created.body["seats"].clone(), created.body["availableSeats"].clone()), (json!(100), json!(100)));
    assert_eq!(created.body["director"], json!(null));
    let small = post(
        &app.url(Movie, "/movies"),
        json!({"title": "T", "genre": "G", "year": 2000, "director": "D", "seats": 5}),
    )
    .await;
    assert_eq!(small.status, StatusCode::CREATED);
    let fetched = get(&app.url(Movie, "/movies/5")).await;
    assert_eq!((fetched.body["director"].clone(), fetched.body["seats"].clone()), (json!("D"), json!(5)));
    app.stop().await;
}

async fn rejects_invalid_movies_naming_each_field(backend: Backend) {
    let app = start(backend).await;
    let url = app.url(Movie, "/movies");
    let cases = [
        (json!({"title": "", "genre": "", "year": 1500, "seats": 0}), vec!["title", "genre", "year", "seats"]),
        (json!({"title": "T", "genre": "G", "year": "2019"}), vec!["year"]),
        (json!({"title": "T", "genre": "G"}), vec!["year"]),
        (json!({"title": "T", "genre": "G", "year": 2019, "rating": 5}), vec!["rating"]),
    ];
    for (body, fields) in cases {
        let reply = post(&url, body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.error_fields(), fields, "{body}");
    }
    app.stop().await;
}

async fn deletes_a_movie(backend: Backend) {
    let app = start(backend).await;
    assert_eq!(delete(&app.url(Movie, "/movies/2")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(get(&app.url(Movie, "/movies/2")).await.status, StatusCode::NOT_FOUND);
    let ids: Vec<_> = get(&app.url(Movie, "/movies")).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, [json!("1"), json!("3")]);
    app.stop().await;
}

//! user-service over HTTP.

use actix_web::http::StatusCode;
use serde_json::json;
use theater::service::ServiceKind::User;

use crate::support::{Backend, delete, get, on_both_stores, post, post_raw, start};

on_both_stores!(
    lists_the_three_seeded_users_with_or_without_trailing_slash,
    the_guides_first_example_creates_a_user_on_a_fresh_install,
    creates_a_user_and_points_location_at_it,
    deleting_a_user_frees_its_email_and_answers_404_afterwards,
    rejects_a_duplicate_email_ignoring_case_with_409,
    names_every_invalid_field_with_400,
    pages_the_list_with_limit_offset_and_total,
    lets_exactly_one_of_twenty_concurrent_same_email_creations_win,
);

async fn lists_the_three_seeded_users_with_or_without_trailing_slash(backend: Backend) {
    let app = start(backend).await;
    for path in ["/users", "/users/"] {
        let reply = get(&app.url(User, path)).await;
        assert_eq!(reply.status, StatusCode::OK);
        let names: Vec<_> = reply.body["items"].as_array().unwrap().iter().map(|u| u["name"].clone()).collect();
        assert_eq!(names, [json!("김민준"), json!("이서연"), json!("박지호")]);
        let ids: Vec<_> = reply.body["items"].as_array().unwrap().iter().map(|u| u["id"].clone()).collect();
        assert_eq!(ids, [json!("1"), json!("2"), json!("3")]);
        assert_eq!(reply.body["total"], 3);
        assert_eq!(reply.body["servedBy"]["service"], "user-service");
    }
    app.stop().await;
}

async fn the_guides_first_example_creates_a_user_on_a_fresh_install(backend: Backend) {
    let app = start(backend).await;
    let created = post(&app.url(User, "/users/"), json!({"name": "홍길동", "email": "hong@example.com"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!((created.body["name"].as_str(), created.body["id"].as_str()), (Some("홍길동"), Some("4")));
    app.stop().await;
}

async fn creates_a_user_and_points_location_at_it(backend: Backend) {
    let app = start(backend).await;
    let created = post(&app.url(User, "/users/"), json!({"name": "  유관순 ", "email": "Gwan@Example.com"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["name"], "유관순");
    assert_eq!(created.body["email"], "gwan@example.com");
    assert_eq!(created.body["id"], "4", "ids continue after the seeded 1-3");
    assert_eq!(created.header("location"), "/users/4");
    let fetched = get(&app.url(User, created.header("location"))).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body, created.body);
    app.stop().await;
}

async fn deleting_a_user_frees_its_email_and_answers_404_afterwards(backend: Backend) {
    let app = start(backend).await;
    assert_eq!(delete(&app.url(User, "/users/1")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(get(&app.url(User, "/users/1")).await.status, StatusCode::NOT_FOUND);
    let again = delete(&app.url(User, "/users/1")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.header("content-type"), "application/problem+json");
    assert_eq!(get(&app.url(User, "/users")).await.body["total"], 2);
    let reuse = post(&app.url(User, "/users"), json!({"name": "김민준", "email": "minjun@example.com"})).await;
    assert_eq!(reuse.status, StatusCode::CREATED);
    app.stop().await;
}

async fn rejects_a_duplicate_email_ignoring_case_with_409(backend: Backend) {
    let app = start(backend).await;
    let reply = post(&app.url(User, "/users"), json!({"name": "Minjun", "email": "MINJUN@example.com"})).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error_fields(), ["email"]);
    assert_eq!(get(&app.url(User, "/users")).await.body["total"], 3);
    app.stop().await;
}

async fn names_every_invalid_field_with_400(backend: Backend) {
    let app = start(backend).await;
    let url = app.url(User, "/users");
    let cases = [
        (json!({"name": " ", "email": "not-an-email"}), vec!["name", "email"]),
        (json!({"name": "가".repeat(101), "email": "a@b.co"}), vec!["name"]),
        (json!({"name": "A", "email": "a@b.co", "admin": true}), vec!["admin"]),
        (json!({"email": "a@b.co"}), vec!["name"]),
        (json!({"name": 5, "email": "a@b.co"}), vec!["name"]),
        (json!([1, 2]), vec!["body"]),
    ];
    for (body, fields) in cases {
        let reply = post(&url, body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.header("content-type"), "application/problem+json");
        assert_eq!(reply.error_fields(), fields, "{body}");
    }
    let not_json = post_raw(&url, "name=x").await;
    assert_eq!((not_json.status, not_json.error_fields()), (StatusCode::BAD_REQUEST, vec!["body".to_owned()]));
    let huge = post_raw(&url, format!(r#"{{"name":"{}","email":"a@b.co"}}"#, "x".repeat(70_000))).await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
    let bad_id = get(&app.url(User, "/users/abc")).await;
    assert_eq!((bad_id.status, bad_id.error_fields()), (StatusCode::BAD_REQUEST, vec!["id".to_owned()]));
    assert_eq!(get(&url).await.body["total"], 3, "nothing invalid was stored");
    app.stop().await;
}

async fn pages_the_list_with_limit_offset_and_total(backend: Backend) {
    let app = start(backend).await;
    for i in 0..7 {
        let reply =
            post(&app.url(User, "/users"), json!({"name": format!("u{i}"), "email": format!("u{i}@x.io")})).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let page = get(&app.url(User, "/users?limit=4&offset=3")).await;
    let ids: Vec<_> =
        page.body["items"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, ["4", "5", "6", "7"]);
    assert_eq!(
        (page.body["total"].clone(), page.body["limit"].clone(), page.body["offset"].clone()),
        (json!(10), json!(4), json!(3))
    );
    let past_end = get(&app.url(User, "/users?offset=50")).await;
    assert_eq!((past_end.body["items"].as_array().unwrap().len(), past_end.body["total"].clone()), (0, json!(10)));
    for bad in ["limit=0", "limit=1001", "limit=x", "offset=-2"] {
        let reply = get(&app.url(User, &format!("/users?{bad}"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    app.stop().await;
}

async fn lets_exactly_one_of_twenty_concurrent_same_email_creations_win(backend: Backend) {
    let app = start(backend).await;
    let url = app.url(User, "/users");
    let attempts = (0..20).map(|i| post(&url, json!({"name": format!("racer {i}"), "email": "race@example.com"})));
    let replies = futures_util::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let conflicts = replies.iter().filter(|r| r.status == StatusCode::CONFLICT).count();
    assert_eq!((created, conflicts), (1, 19));
    assert_eq!(get(&url).await.body["total"], 4);
    app.stop().await;
}

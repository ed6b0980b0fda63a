//! HTTP handlers of user-service.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use utoipa::OpenApi;

use super::body::CreateUserRequest;
use crate::data::domain::{Id, NewUser, PageRequest, User};
use crate::data::store::Store;
use crate::http::api::{ListEnvelope, created, deleted, found, resource};
use crate::http::identity::Identity;
use crate::http::problem::{self, Problem};
use crate::http::request::{JsonBody, PathId};

/// The OpenAPI description of user-service's own routes.
#[derive(OpenApi)]
#[openapi(paths(list_users, create_user, get_user, delete_user))]
pub(crate) struct UserApi;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        ["/users", "/users/"],
        [(Method::GET, web::to(list_users)), (Method::POST, web::to(create_user))],
    ))
    .service(resource(["/users/{id}"], [(Method::GET, web::to(get_user)), (Method::DELETE, web::to(delete_user))]));
}

#[utoipa::path(get, path = "/users/", tag = "users",
    params(("limit" = Option<usize>, Query, minimum = 1, maximum = 1000), ("offset" = Option<usize>, Query, minimum = 0)),
    responses((status = 200, description = "a page of users", body = ListEnvelope<User>),
        problem::InvalidField,
        problem::Unavailable))]
async fn list_users(
    page: PageRequest,
    store: web::Data<Store>,
    me: web::Data<Identity>,
) -> Result<HttpResponse, Problem> {
    Ok(ListEnvelope::respond(store.list_users(page).await?, page, &me))
}

#[utoipa::path(post, path = "/users/", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, description = "created; Location names it", body = User),
        problem::InvalidField,
        problem::TooSlow,
        problem::Conflict,
        problem::TooLarge,
        problem::Unavailable))]
async fn create_user(body: JsonBody<CreateUserRequest>, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    let user = NewUser::try_from(body.0)?;
    let user = store.create_user(&user).await?;
    Ok(created("/users", user.id, &user))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = Id, Path)),
    responses((status = 200, description = "the user", body = User),
        problem::InvalidField,
        problem::NotFound,
        problem::Unavailable))]
async fn get_user(PathId(id): PathId, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    found(store.get_user(id).await?, "user", id)
}

#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(("id" = Id, Path)),
    responses((status = 204, description = "deleted"),
        problem::InvalidField,
        problem::NotFound,
        problem::Unavailable))]
async fn delete_user(PathId(id): PathId, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    deleted(store.delete_user(id).await?, "user", id)
}

//! HTTP handlers of user-service.

use actix_web::{HttpRequest, HttpResponse, web};

use super::domain::{CreateUserRequest, NewUser};
use crate::api::{ListEnvelope, created, deleted, found, resource};
use crate::identity::Identity;
use crate::problem::Problem;
use crate::request::{Id, JsonBody, PageRequest};
use crate::store::Store;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(["/users", "/users/"]).route(web::get().to(list_users)).route(web::post().to(create_user)))
        .service(resource(["/users/{id}"]).route(web::get().to(get_user)).route(web::delete().to(delete_user)));
}

async fn list_users(
    req: HttpRequest,
    store: web::Data<Store>,
    me: web::Data<Identity>,
) -> Result<HttpResponse, Problem> {
    let page = PageRequest::from_query(req.query_string())?;
    Ok(ListEnvelope::respond(store.list_users(page).await?, page, &me))
}

async fn create_user(body: JsonBody<CreateUserRequest>, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    let user = NewUser::try_from(body.0)?;
    let user = store.create_user(&user).await?;
    Ok(created("/users", user.id, &user))
}

async fn get_user(id: web::Path<String>, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    let id = Id::from_path(&id, "id")?;
    found(store.get_user(id).await?, "user", id)
}

async fn delete_user(id: web::Path<String>, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    let id = Id::from_path(&id, "id")?;
    deleted(store.delete_user(id).await?, "user", id)
}

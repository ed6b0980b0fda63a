//! HTTP pieces shared by the role APIs: list envelopes, resources that answer 405 and
//! 404 as problem+json, and `201 Created` with `Location`.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use serde::Serialize;

use crate::identity::{Identity, ServedBy};
use crate::problem::Problem;
use crate::request::PageRequest;
use crate::store::Page;

/// `{"items":[…],"total":N,"limit":…,"offset":…,"servedBy":{…}}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListEnvelope<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: usize,
    pub offset: usize,
    pub served_by: ServedBy,
}

impl<T: Serialize> ListEnvelope<T> {
    pub fn respond(page: Page<T>, request: PageRequest, me: &Identity) -> HttpResponse {
        HttpResponse::Ok().json(ListEnvelope {
            items: page.items,
            total: page.total,
            limit: request.limit,
            offset: request.offset,
            served_by: me.served_by(),
        })
    }
}

/// A resource whose unsupported methods get a problem+json 405 instead of an empty one.
pub fn resource<const N: usize>(paths: [&str; N]) -> Resource {
    web::resource(paths.to_vec()).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> Problem {
    Problem::method_not_allowed(format!("{} is not supported on {}", req.method(), req.path()))
}

/// The app-wide fallback for paths no route matches.
pub async fn not_found(req: HttpRequest) -> Problem {
    Problem::not_found(format!("no route for {} {}", req.method(), req.path()))
}

/// `201 Created`, `Location: {collection}/{id}` and the new entity as JSON.
pub fn created<T: Serialize>(collection: &str, id: impl std::fmt::Display, body: &T) -> HttpResponse {
    HttpResponse::Created().insert_header((LOCATION, format!("{collection}/{id}"))).json(body)
}

/// `200` with the entity, or a 404 naming what was looked for.
pub fn found<T: Serialize>(entity: Option<T>, what: &str, id: impl std::fmt::Display) -> Result<HttpResponse, Problem> {
    entity.map(|e| HttpResponse::Ok().json(e)).ok_or_else(|| Problem::not_found(format!("no {what} with id {id}")))
}

/// `204` when something was deleted, 404 when there was nothing to delete.
pub fn deleted(existed: bool, what: &str, id: impl std::fmt::Display) -> Result<HttpResponse, Problem> {
    if existed {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(Problem::not_found(format!("no {what} with id {id}")))
    }
}

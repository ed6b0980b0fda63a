//! HTTP pieces shared by the role APIs: list envelopes, resources that answer 405 and
//! 404 as problem+json, and `201 Created` with `Location`.

use actix_web::http::Method;
use actix_web::http::header::{ALLOW, HeaderValue, LOCATION};
use actix_web::{HttpRequest, HttpResponse, Resource, ResponseError, Route, guard, web};
use serde::Serialize;

use crate::data::domain::{Page, PageRequest, ServedBy};
use crate::http::identity::Identity;
use crate::http::problem::Problem;

/// `{"items":[…],"total":N,"limit":…,"offset":…,"servedBy":{…}}`
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListEnvelope<T> {
    items: Vec<T>,
    total: u64,
    limit: usize,
    offset: usize,
    served_by: ServedBy,
}

impl<T: Serialize> ListEnvelope<T> {
    pub(crate) fn respond(page: Page<T>, request: PageRequest, me: &Identity) -> HttpResponse {
        HttpResponse::Ok().json(ListEnvelope {
            items: page.items,
            total: page.total,
            limit: request.limit,
            offset: request.offset,
            served_by: me.served_by(),
        })
    }
}

/// A resource serving `routes` (a handler per method) on `paths`. GET routes answer
/// HEAD too; any other method gets a problem+json 405 with the `Allow` header that
/// RFC 9110 asks for.
pub(crate) fn resource<const N: usize, const M: usize>(paths: [&str; N], routes: [(Method, Route); M]) -> Resource {
    let mut allowed: Vec<String> = Vec::new();
    let mut resource = web::resource(paths.to_vec());
    for (method, route) in routes {
        let route = if method == Method::GET {
            allowed.extend(["GET".to_owned(), "HEAD".to_owned()]);
            route.guard(guard::Any(guard::Get()).or(guard::Head()))
        } else {
            allowed.push(method.to_string());
            route.method(method)
        };
        resource = resource.route(route);
    }
    let allow = allowed.join(", ");
    resource.default_service(web::to(move |req: HttpRequest| {
        let allow = allow.clone();
        async move {
            let detail = format!("{} is not supported on {}; use {allow}", req.method(), req.path());
            let mut response = Problem::method_not_allowed(detail).error_response();
            if let Ok(value) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(ALLOW, value);
            }
            response
        }
    }))
}

/// The app-wide fallback for paths no route matches.
pub(crate) async fn not_found(req: HttpRequest) -> Problem {
    Problem::not_found(format!("no route for {} {}", req.method(), req.path()))
}

/// `201 Created`, `Location: {collection}/{id}` and the new entity as JSON.
pub(crate) fn created<T: Serialize>(collection: &str, id: impl std::fmt::Display, body: &T) -> HttpResponse {
    HttpResponse::Created().insert_header((LOCATION, format!("{collection}/{id}"))).json(body)
}

/// `200` with the entity, or a 404 naming what was looked for.
pub(crate) fn found<T: Serialize>(
    entity: Option<T>,
    what: &str,
    id: impl std::fmt::Display,
) -> Result<HttpResponse, Problem> {
    entity.map(|e| HttpResponse::Ok().json(e)).ok_or_else(|| Problem::not_found(format!("no {what} with id {id}")))
}

/// `204` when something was deleted, 404 when there was nothing to delete.
pub(crate) fn deleted(existed: bool, what: &str, id: impl std::fmt::Display) -> Result<HttpResponse, Problem> {
    if existed {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(Problem::not_found(format!("no {what} with id {id}")))
    }
}

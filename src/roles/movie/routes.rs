//! HTTP handlers of movie-service.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use utoipa::OpenApi;

use super::body::CreateMovieRequest;
use crate::data::domain::{Id, Movie, NewMovie, PageRequest};
use crate::data::store::Store;
use crate::http::api::{ListEnvelope, created, deleted, found, resource};
use crate::http::identity::Identity;
use crate::http::problem::{self, Problem};
use crate::http::request::{JsonBody, PathId};

/// The OpenAPI description of movie-service's own routes.
#[derive(OpenApi)]
#[openapi(paths(list_movies, create_movie, get_movie, delete_movie))]
pub(crate) struct MovieApi;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        ["/movies", "/movies/"],
        [(Method::GET, web::to(list_movies)), (Method::POST, web::to(create_movie))],
    ))
    .service(resource(["/movies/{id}"], [(Method::GET, web::to(get_movie)), (Method::DELETE, web::to(delete_movie))]));
}

#[utoipa::path(get, path = "/movies/", tag = "movies",
    params(("limit" = Option<usize>, Query, minimum = 1, maximum = 1000), ("offset" = Option<usize>, Query, minimum = 0)),
    responses((status = 200, description = "a page of movies", body = ListEnvelope<Movie>),
        problem::InvalidField,
        problem::Unavailable))]
async fn list_movies(
    page: PageRequest,
    store: web::Data<Store>,
    me: web::Data<Identity>,
) -> Result<HttpResponse, Problem> {
    Ok(ListEnvelope::respond(store.list_movies(page).await?, page, &me))
}

#[utoipa::path(post, path = "/movies/", tag = "movies", request_body = CreateMovieRequest,
    responses((status = 201, description = "created; Location names it", body = Movie),
        problem::InvalidField,
        problem::TooSlow,
        problem::TooLarge,
        problem::Unavailable))]
async fn create_movie(body: JsonBody<CreateMovieRequest>, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    let movie = NewMovie::try_from(body.0)?;
    let movie = store.create_movie(&movie).await?;
    Ok(created("/movies", movie.id, &movie))
}

#[utoipa::path(get, path = "/movies/{id}", tag = "movies", params(("id" = Id, Path)),
    responses((status = 200, description = "the movie with its free seats", body = Movie),
        problem::InvalidField,
        problem::NotFound,
        problem::Unavailable))]
async fn get_movie(PathId(id): PathId, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    found(store.get_movie(id).await?, "movie", id)
}

#[utoipa::path(delete, path = "/movies/{id}", tag = "movies", params(("id" = Id, Path)),
    responses((status = 204, description = "deleted"),
        problem::InvalidField,
        problem::NotFound,
        problem::Unavailable))]
async fn delete_movie(PathId(id): PathId, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    deleted(store.delete_movie(id).await?, "movie", id)
}

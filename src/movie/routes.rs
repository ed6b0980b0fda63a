//! HTTP handlers of movie-service.

use actix_web::{HttpRequest, HttpResponse, web};

use super::domain::{CreateMovieRequest, NewMovie};
use crate::api::{ListEnvelope, created, deleted, found, resource};
use crate::identity::Identity;
use crate::problem::Problem;
use crate::request::{Id, JsonBody, PageRequest};
use crate::store::Store;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource(["/movies", "/movies/"]).route(web::get().to(list_movies)).route(web::post().to(create_movie)),
    )
    .service(resource(["/movies/{id}"]).route(web::get().to(get_movie)).route(web::delete().to(delete_movie)));
}

async fn list_movies(
    req: HttpRequest,
    store: web::Data<Store>,
    me: web::Data<Identity>,
) -> Result<HttpResponse, Problem> {
    let page = PageRequest::from_query(req.query_string())?;
    Ok(ListEnvelope::respond(store.list_movies(page).await?, page, &me))
}

async fn create_movie(body: JsonBody<CreateMovieRequest>, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    let movie = NewMovie::try_from(body.0)?;
    let movie = store.create_movie(&movie).await?;
    Ok(created("/movies", movie.id, &movie))
}

async fn get_movie(id: web::Path<String>, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    let id = Id::from_path(&id, "id")?;
    found(store.get_movie(id).await?, "movie", id)
}

async fn delete_movie(id: web::Path<String>, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    let id = Id::from_path(&id, "id")?;
    deleted(store.delete_movie(id).await?, "movie", id)
}

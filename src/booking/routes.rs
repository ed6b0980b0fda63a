//! HTTP handlers of booking-service.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::future::join;

use super::domain::{BookingOrder, CreateBookingRequest, NewBooking, Route};
use super::lookup::{lookup, verdict};
use crate::api::{ListEnvelope, created, deleted, found, resource};
use crate::config::Upstreams;
use crate::identity::Identity;
use crate::problem::Problem;
use crate::propagate::propagated;
use crate::request::{Id, JsonBody, PageRequest};
use crate::service::Service;
use crate::store::Store;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource(["/bookings", "/bookings/"]).route(web::get().to(list_bookings)).route(web::post().to(create_booking)),
    )
    .service(resource(["/bookings/{id}"]).route(web::get().to(get_booking)).route(web::delete().to(cancel_booking)))
    .service(resource(["/bookings/user/{userId}"]).route(web::get().to(list_user_bookings)));
}

async fn create_booking(
    req: HttpRequest,
    body: JsonBody<CreateBookingRequest>,
    store: web::Data<Store>,
    me: web::Data<Identity>,
    client: web::Data<awc::Client>,
    upstreams: web::Data<Upstreams>,
) -> Result<HttpResponse, Problem> {
    let order = BookingOrder::try_from(body.0)?;
    let headers = propagated(req.headers());
    let (user, movie) = join(
        lookup(&client, format!("{}/users/{}", upstreams.user, order.user_id), Service::User, &headers),
        lookup(&client, format!("{}/movies/{}", upstreams.movie, order.movie_id), Service::Movie, &headers),
    )
    .await;
    let (user, movie) = verdict(user, movie, (order.user_id, order.movie_id))?;
    let booking = NewBooking { order, route: Route { user, movie, booking: me.served_by() } };
    let booking = store.create_booking(&booking).await?;
    crate::metrics::booking_created(booking.seats);
    Ok(created("/bookings", booking.id, &booking))
}

async fn list_bookings(
    req: HttpRequest,
    store: web::Data<Store>,
    me: web::Data<Identity>,
) -> Result<HttpResponse, Problem> {
    let page = PageRequest::from_query(req.query_string())?;
    Ok(ListEnvelope::respond(store.list_bookings(page).await?, page, &me))
}

async fn list_user_bookings(
    req: HttpRequest,
    user: web::Path<String>,
    store: web::Data<Store>,
    me: web::Data<Identity>,
) -> Result<HttpResponse, Problem> {
    let user = Id::from_path(&user, "userId")?;
    let page = PageRequest::from_query(req.query_string())?;
    Ok(ListEnvelope::respond(store.list_user_bookings(user, page).await?, page, &me))
}

async fn get_booking(id: web::Path<String>, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    let id = Id::from_path(&id, "id")?;
    found(store.get_booking(id).await?, "booking", id)
}

async fn cancel_booking(id: web::Path<String>, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    let id = Id::from_path(&id, "id")?;
    deleted(store.cancel_booking(id).await?, "booking", id)
}

//! HTTP handlers of booking-service.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::future::join;
use utoipa::OpenApi;

use super::body::CreateBookingRequest;
use super::lookup::{lookup, verdict};
use crate::data::domain::{Booking, BookingOrder, Id, NewBooking, PageRequest, Route};
use crate::data::store::Store;
use crate::http::api::{ListEnvelope, created, deleted, found, resource};
use crate::http::identity::Identity;
use crate::http::problem::{self, Problem};
use crate::http::propagate::propagated;
use crate::http::request::{JsonBody, PathId};
use crate::settings::config::Upstreams;
use crate::settings::service::ServiceKind;

/// The OpenAPI description of booking-service's own routes.
#[derive(OpenApi)]
#[openapi(paths(create_booking, list_bookings, list_user_bookings, get_booking, cancel_booking))]
pub(crate) struct BookingApi;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        ["/bookings", "/bookings/"],
        [(Method::GET, web::to(list_bookings)), (Method::POST, web::to(create_booking))],
    ))
    .service(resource(
        ["/bookings/{id}"],
        [(Method::GET, web::to(get_booking)), (Method::DELETE, web::to(cancel_booking))],
    ))
    .service(resource(["/bookings/user/{userId}"], [(Method::GET, web::to(list_user_bookings))]));
}

/// Checks the user and the movie with their services, then reserves the seats.
#[utoipa::path(post, path = "/bookings/", tag = "bookings", request_body = CreateBookingRequest,
    responses((status = 201, description = "booked; route names the pod of each step", body = Booking),
        problem::InvalidField,
        problem::TooSlow,
        problem::Conflict,
        problem::TooLarge,
        problem::Unprocessable,
        problem::Unavailable))]
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
        lookup(
            &client,
            format!("{}/users/{}", upstreams.base_url(ServiceKind::User), order.user_id),
            ServiceKind::User,
            &headers,
        ),
        lookup(
            &client,
            format!("{}/movies/{}", upstreams.base_url(ServiceKind::Movie), order.movie_id),
            ServiceKind::Movie,
            &headers,
        ),
    )
    .await;
    let (user, movie) = verdict(user, movie, (order.user_id, order.movie_id))?;
    let booking = NewBooking { order, route: Route { user, movie, booking: me.served_by() } };
    let booking = store.create_booking(booking).await?;
    crate::http::metrics::booking_created(booking.seats);
    Ok(created("/bookings", booking.id, &booking))
}

#[utoipa::path(get, path = "/bookings/", tag = "bookings",
    params(("limit" = Option<usize>, Query, minimum = 1, maximum = 1000), ("offset" = Option<usize>, Query, minimum = 0)),
    responses((status = 200, description = "a page of bookings", body = ListEnvelope<Booking>),
        problem::InvalidField,
        problem::Unavailable))]
async fn list_bookings(
    page: PageRequest,
    store: web::Data<Store>,
    me: web::Data<Identity>,
) -> Result<HttpResponse, Problem> {
    Ok(ListEnvelope::respond(store.list_bookings(page).await?, page, &me))
}

#[utoipa::path(get, path = "/bookings/user/{userId}", tag = "bookings",
    params(("userId" = Id, Path), ("limit" = Option<usize>, Query, minimum = 1, maximum = 1000), ("offset" = Option<usize>, Query, minimum = 0)),
    responses((status = 200, description = "a page of one user's bookings", body = ListEnvelope<Booking>),
        problem::InvalidField,
        problem::Unavailable))]
async fn list_user_bookings(
    PathId(user): PathId,
    page: PageRequest,
    store: web::Data<Store>,
    me: web::Data<Identity>,
) -> Result<HttpResponse, Problem> {
    Ok(ListEnvelope::respond(store.list_user_bookings(user, page).await?, page, &me))
}

#[utoipa::path(get, path = "/bookings/{id}", tag = "bookings", params(("id" = Id, Path)),
    responses((status = 200, description = "the booking", body = Booking),
        problem::InvalidField,
        problem::NotFound,
        problem::Unavailable))]
async fn get_booking(PathId(id): PathId, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    found(store.get_booking(id).await?, "booking", id)
}

/// Cancels a booking; its seats go back to the movie.
#[utoipa::path(delete, path = "/bookings/{id}", tag = "bookings", params(("id" = Id, Path)),
    responses((status = 204, description = "cancelled"),
        problem::InvalidField,
        problem::NotFound,
        problem::Unavailable))]
async fn cancel_booking(PathId(id): PathId, store: web::Data<Store>) -> Result<HttpResponse, Problem> {
    deleted(store.cancel_booking(id).await?, "booking", id)
}

//! booking-service: reserves seats after asking user-service and movie-service.

mod body;
mod lookup;
mod routes;

pub(crate) use routes::{BookingApi, routes};

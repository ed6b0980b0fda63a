//! booking-service: reserves seats after asking user-service and movie-service.

pub mod domain;
mod lookup;
mod routes;

pub use routes::{BookingApi, routes};

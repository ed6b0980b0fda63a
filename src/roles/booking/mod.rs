//! booking-service: reserves seats after asking user-service and movie-service.
//!
//! # Layers, lowest first
//!
//! 1. `body`: the body of `POST /bookings/` as sent.
//! 2. `lookup`: asking user-service and movie-service about the booking's user and movie.
//! 3. `routes`: the handlers.

mod body;
mod lookup;
mod routes;

pub(crate) use routes::{BookingApi, routes};

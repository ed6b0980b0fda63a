//! user-service: the people who book seats.
//!
//! # Layers, lowest first
//!
//! 1. `body`: the body of `POST /users/` as sent.
//! 2. `routes`: the handlers.

mod body;
mod routes;

pub(crate) use routes::{UserApi, routes};

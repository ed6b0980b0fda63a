//! user-service: the people who book seats.

pub mod domain;
mod routes;

pub use routes::{UserApi, routes};

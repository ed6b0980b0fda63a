//! user-service: the people who book seats.

mod body;
mod routes;

pub use routes::{UserApi, routes};

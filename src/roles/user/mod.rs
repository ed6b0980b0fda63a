//! user-service: the people who book seats.

mod body;
mod routes;

pub(crate) use routes::{UserApi, routes};

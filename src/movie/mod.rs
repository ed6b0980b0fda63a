//! movie-service: the films on show and their seats.

pub mod domain;
mod routes;

pub use routes::{MovieApi, routes};

//! movie-service: the films on show and their seats.

mod body;
mod routes;

pub(crate) use routes::{MovieApi, routes};

//! movie-service: the films on show and their seats.
//!
//! # Layers, lowest first
//!
//! 1. `body`: the body of `POST /movies/` as sent.
//! 2. `routes`: the handlers.

mod body;
mod routes;

pub(crate) use routes::{MovieApi, routes};

//! The roles: what each service answers.
//!
//! # Layers, lowest first
//!
//! 1. `user`, `movie`, `booking`, `gateway`, `meta`: one module per role (the gateway
//!    reaches nothing of the store); `meta` is health, readiness, info, metrics, header
//!    echo and the OpenAPI document, which every role serves.

pub(crate) mod booking;
pub(crate) mod gateway;
pub(crate) mod meta;
pub(crate) mod movie;
pub(crate) mod user;

//! Theater MSA: one binary serving any of the movie-theater mesh's services.
//!
//! - `cli`, `config`: flags and env vars, parsed once into typed settings.
//! - `startup`: builds and runs each role's HTTP server; `telemetry`: logs.
//! - `service`, `identity`: which service this is and the headers that say so.
//! - `api`, `problem`, `request`: shared HTTP pieces (envelopes, errors, parsing).
//! - `meta`: health, readiness, info, metrics and header-echo routes of every role.
//! - `openapi`: each role's OpenAPI document, generated from handlers and types.
//! - `chaos`: on-purpose errors and delays for resilience lessons; `metrics`: Prometheus.
//! - `propagate`, `upstream`: calling other services with the right headers.
//! - `random`: cheap per-thread randomness for request ids and chaos draws.
//! - `store`: Redis or in-memory data, with the same rules; `sync`: poison-tolerant locks.
//! - `user`, `movie`, `booking`, `gateway`: one module per role.

pub mod api;
pub mod booking;
pub mod chaos;
pub mod cli;
pub mod clock;
pub mod config;
pub mod gateway;
pub mod identity;
pub mod meta;
pub mod metrics;
pub mod movie;
pub mod openapi;
pub mod problem;
pub mod propagate;
pub mod random;
pub mod request;
pub mod service;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod upstream;
pub mod user;

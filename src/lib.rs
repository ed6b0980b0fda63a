//! Theater MSA: one binary serving any of the movie-theater mesh's services.
//!
//! # Layers, lowest first
//!
//! A module imports only from layers below its own, never from its own layer or one
//! above (`tests/it/layers.rs` reads this list and fails on an upward import):
//!
//! 1. `clock`: UTC timestamps as the records show them.
//! 2. `service`: the table of the four services (name, role, port, path prefix).
//! 3. `cli`: every flag, typed, with its env fallback.
//! 4. `config`: settings built once from the flags (including the chaos knobs' ranges).
//! 5. `domain`: ids, the validated forms a store accepts, the records it keeps, paging.
//! 6. `store`: Redis or in-memory data, with the same rules; knows no HTTP and no role.
//! 7. `identity`: which service, cluster and pod answers, and the headers that say so.
//! 8. `metrics`, `telemetry`: Prometheus counters; logs, one line per request.
//! 9. `problem`: problem+json errors, and how a store error becomes one.
//! 10. `request`, `propagate`, `upstream`: request extractors; calling other services.
//! 11. `api`: list envelopes, resources answering 404/405 as problem+json, `201 Created`.
//! 12. `chaos`: on-purpose errors and delays for resilience lessons.
//! 13. `user`, `movie`, `booking`, `gateway`: one module per role (the gateway reaches
//!     nothing of the store).
//! 14. `meta`: health, readiness, info, metrics, header echo and the OpenAPI document.
//! 15. `openapi`: each role's OpenAPI document (built once, handed to `meta`).
//! 16. `startup`: builds and runs each role's HTTP server.

#![forbid(unsafe_code)]

pub(crate) mod api;
pub(crate) mod booking;
pub(crate) mod chaos;
pub mod cli;
pub(crate) mod clock;
pub mod config;
pub mod domain;
pub(crate) mod gateway;
pub(crate) mod identity;
pub(crate) mod meta;
pub(crate) mod metrics;
pub(crate) mod movie;
pub mod openapi;
pub(crate) mod problem;
pub(crate) mod propagate;
pub(crate) mod request;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub(crate) mod upstream;
pub(crate) mod user;

//! The HTTP plumbing the roles share.
//!
//! # Layers, lowest first
//!
//! 1. `identity`: which service, cluster and pod answers, and the headers that say so.
//! 2. `metrics`, `telemetry`: Prometheus counters; logs, one line per request.
//! 3. `problem`: problem+json errors, and how a store error becomes one.
//! 4. `request`, `propagate`, `upstream`: request extractors; calling other services.
//! 5. `api`: list envelopes, resources answering 404/405 as problem+json, `201 Created`.
//! 6. `chaos`: on-purpose errors and delays for resilience lessons.

pub(crate) mod api;
pub(crate) mod chaos;
pub(crate) mod identity;
pub(crate) mod metrics;
pub(crate) mod problem;
pub(crate) mod propagate;
pub(crate) mod request;
pub mod telemetry;
pub(crate) mod upstream;

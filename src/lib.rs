//! Theater MSA: one binary serving any of the movie-theater mesh's services.
//!
//! # Layers, lowest first
//!
//! `src/` is grouped by layer, each group a folder. A module imports only from layers
//! below its own, never from its own layer or one above; inside a group the same holds
//! for its modules, numbered in the group's `mod.rs` (`tests/it/layers.rs` reads these
//! lists and fails on an upward import, whether written `crate::`, `super::` or `self::`):
//!
//! 1. `settings`: the table of the four services, every flag, the settings built from them.
//! 2. `data`: UTC timestamps, the domain types, and the Redis or in-memory store; no HTTP,
//!    no role.
//! 3. `http`: the HTTP plumbing: identity headers, metrics and logs, problem+json errors,
//!    request extractors, calling other services, resources and envelopes, chaos.
//! 4. `roles`: one module per role (the gateway reaches nothing of the store), and `meta`,
//!    the routes every role serves.
//! 5. `process`: each role's OpenAPI document, and building and running the HTTP servers.
//!
//! The groups are private to the crate; the modules `main.rs` and the integration tests
//! use are re-exported here, the crate's only public paths (`theater::cli`,
//! `theater::startup` and so on).

#![forbid(unsafe_code)]

pub(crate) mod data;
pub(crate) mod http;
pub(crate) mod process;
pub(crate) mod roles;
pub(crate) mod settings;

pub use data::{domain, store};
pub use http::telemetry;
pub use process::{openapi, startup};
pub use settings::{cli, config, service};

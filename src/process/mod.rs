//! The process: putting the roles together into running servers.
//!
//! # Layers, lowest first
//!
//! 1. `openapi`: each role's OpenAPI document (built once, handed to `meta`).
//! 2. `startup`: builds and runs each role's HTTP server.

pub mod openapi;
pub mod startup;

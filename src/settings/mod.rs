//! What runs and how: the service table, the command line, and the settings built from it.
//!
//! # Layers, lowest first
//!
//! 1. `service`: the table of the four services (name, role, port, path prefix).
//! 2. `cli`: every flag, typed, with its env fallback.
//! 3. `config`: settings built once from the flags (including the chaos knobs' ranges).

pub mod cli;
pub mod config;
pub mod service;

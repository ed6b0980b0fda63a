//! The data: what the records are and where they are kept; knows no HTTP and no role.
//!
//! # Layers, lowest first
//!
//! 1. `clock`, `domain`: UTC timestamps as the records show them; ids, the validated
//!    forms a store accepts, the records it keeps, paging.
//! 2. `store`: Redis or in-memory data, with the same rules.

pub(crate) mod clock;
pub mod domain;
pub mod store;

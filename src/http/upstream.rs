//! The HTTP client used to call other services (booking's lookups, the gateway's proxy).
//!
//! awc clients are tied to one worker thread, so each worker builds its own from these
//! settings; connections are then reused within the worker.

use awc::{Client, Connector};

use crate::settings::config::Upstreams;

/// A client with explicit connect and response timeouts and redirects off.
pub(crate) fn client(upstreams: &Upstreams) -> Client {
    Client::builder()
        .connector(Connector::new().timeout(upstreams.connect_timeout).limit(0))
        .timeout(upstreams.timeout)
        .disable_redirects()
        .finish()
}

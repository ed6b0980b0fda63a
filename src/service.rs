//! The four services of the mesh and their fixed names and ports.

use std::fmt;

/// One service of the app; `--role` picks one or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Gateway,
    User,
    Movie,
    Booking,
}

impl Service {
    /// In start order: `--role all` gives them consecutive ports from the gateway's.
    pub const ALL: [Service; 4] = [Service::Gateway, Service::User, Service::Movie, Service::Booking];

    /// The Kubernetes Service name, also sent as `X-Service-Name`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Gateway => "api-gateway",
            Service::User => "user-service",
            Service::Movie => "movie-service",
            Service::Booking => "booking-service",
        }
    }

    /// The `--role` value that runs it.
    pub fn role(self) -> &'static str {
        match self {
            Service::Gateway => "gateway",
            Service::User => "user",
            Service::Movie => "movie",
            Service::Booking => "booking",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Service::Gateway => 8080,
            Service::User => 8081,
            Service::Movie => 8082,
            Service::Booking => 8083,
        }
    }

    /// Backends keep data and so have a store to check for readiness.
    pub fn uses_store(self) -> bool {
        !matches!(self, Service::Gateway)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

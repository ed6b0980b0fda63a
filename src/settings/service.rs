//! The four services of the mesh: one table of their names, roles, ports and the path
//! prefixes the gateway proxies. Everything else (`--role` values, default ports, the
//! `--<service>-url` flags and the upstream URLs, the gateway's proxy routes) reads
//! this table, so a new service is a new row here plus its module.

use std::fmt;

/// One service of the app; `--role` picks one or all of them. Not `Service`, which is
/// actix's trait for a request handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKind {
    Gateway,
    User,
    Movie,
    Booking,
}

/// What is fixed about one service.
#[derive(Debug)]
pub struct Row {
    pub(crate) service: ServiceKind,
    /// The Kubernetes Service name, also sent as `X-Service-Name`.
    pub name: &'static str,
    /// The `--role` value that runs it.
    pub role: &'static str,
    /// What `--role` help says about it besides its name and port.
    pub(crate) summary: &'static str,
    pub port: u16,
    /// The path the gateway proxies to it (`/users` and everything under it).
    pub prefix: Option<&'static str>,
    /// The flag and env var that point other services at it (`None`: nobody calls it);
    /// `cli` declares the flag from this pair, so no other place names it.
    pub(crate) url_flag: Option<(&'static str, &'static str)>,
    /// Keeps data, so it has a store to check for readiness.
    pub(crate) uses_store: bool,
    /// Calls other services (needs an HTTP client).
    pub(crate) calls_others: bool,
}

/// In start order: `--role all` gives them consecutive ports from the gateway's.
pub const TABLE: [Row; 4] = [
    Row {
        service: ServiceKind::Gateway,
        name: "api-gateway",
        role: "gateway",
        summary: "reverse proxy and web page",
        port: 8080,
        prefix: None,
        url_flag: None,
        uses_store: false,
        calls_others: true,
    },
    Row {
        service: ServiceKind::User,
        name: "user-service",
        role: "user",
        summary: "",
        port: 8081,
        prefix: Some("/users"),
        url_flag: Some(("user-service-url", "USER_SERVICE_URL")),
        uses_store: true,
        calls_others: false,
    },
    Row {
        service: ServiceKind::Movie,
        name: "movie-service",
        role: "movie",
        summary: "",
        port: 8082,
        prefix: Some("/movies"),
        url_flag: Some(("movie-service-url", "MOVIE_SERVICE_URL")),
        uses_store: true,
        calls_others: false,
    },
    Row {
        service: ServiceKind::Booking,
        name: "booking-service",
        role: "booking",
        summary: "",
        port: 8083,
        prefix: Some("/bookings"),
        url_flag: Some(("booking-service-url", "BOOKING_SERVICE_URL")),
        uses_store: true,
        calls_others: true,
    },
];

impl ServiceKind {
    /// Every service, in the table's order.
    pub const ALL: [ServiceKind; TABLE.len()] = {
        let mut all = [ServiceKind::Gateway; TABLE.len()];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].service;
            i += 1;
        }
        all
    };

    /// This service's row of [`TABLE`].
    pub(crate) const fn row(self) -> &'static Row {
        &TABLE[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.row().name
    }

    pub fn role(self) -> &'static str {
        self.row().role
    }

    pub fn default_port(self) -> u16 {
        self.row().port
    }

    pub(crate) fn prefix(self) -> Option<&'static str> {
        self.row().prefix
    }

    pub(crate) fn uses_store(self) -> bool {
        self.row().uses_store
    }

    pub(crate) fn calls_others(self) -> bool {
        self.row().calls_others
    }

    /// The service whose prefix starts `path` (`/users/7` → user-service), if any.
    pub(crate) fn proxied_at(path: &str) -> Option<ServiceKind> {
        let first = path.trim_start_matches('/').split('/').next()?;
        ServiceKind::ALL.into_iter().find(|s| s.prefix().is_some_and(|p| p.strip_prefix('/') == Some(first)))
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_sits_at_its_service_index() {
        for (i, row) in TABLE.iter().enumerate() {
            assert_eq!(row.service as usize, i, "{} is out of place", row.name);
        }
    }

    #[test]
    fn paths_find_the_service_of_their_first_segment() {
        assert_eq!(ServiceKind::proxied_at("/users"), Some(ServiceKind::User));
        assert_eq!(ServiceKind::proxied_at("/users/7"), Some(ServiceKind::User));
        assert_eq!(ServiceKind::proxied_at("/movies/"), Some(ServiceKind::Movie));
        assert_eq!(ServiceKind::proxied_at("/bookings/user/1"), Some(ServiceKind::Booking));
        assert_eq!(ServiceKind::proxied_at("/usersx"), None);
        assert_eq!(ServiceKind::proxied_at("/"), None);
    }
}

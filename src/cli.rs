//! Command-line interface: every flag, its `--help` text and its environment fallback.
//!
//! Kubernetes hands settings to pods through env vars (downward API, ConfigMaps), a
//! laptop through flags; clap's `env` gives both from one declaration.

use clap::builder::PossibleValue;
use clap::{Parser, ValueEnum};

use crate::service::{Service, TABLE};

/// Which service(s) this process serves: the `--role` values come from the service table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    One(Service),
    /// Every service in one process on consecutive ports, for a laptop.
    All,
}

/// Each service's role, then `all`.
const ROLES: [Role; TABLE.len() + 1] = {
    let mut roles = [Role::All; TABLE.len() + 1];
    let mut i = 0;
    while i < TABLE.len() {
        roles[i] = Role::One(TABLE[i].service);
        i += 1;
    }
    roles
};

impl ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &ROLES
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Role::One(service) => {
                let row = service.row();
                let about = if row.summary.is_empty() { String::new() } else { format!(": {}", row.summary) };
                PossibleValue::new(row.role).help(format!("{}{about} (port {})", row.name, row.port))
            }
            Role::All => {
                let (first, last) = (TABLE[0].port, TABLE[TABLE.len() - 1].port);
                PossibleValue::new("all").help(format!("Every role in one process on {first}-{last}, for a laptop"))
            }
        })
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors in a cluster.
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "theater",
    version,
    about = "Theater MSA: one binary for every service of the movie-theater mesh demo",
    long_about = "Theater MSA: one binary for every service of the movie-theater mesh demo.\n\n\
        Every flag has an environment-variable fallback (shown as [env: ...]).\n\
        Example: theater --role all   (whole app on http://localhost:8080, data in memory)"
)]
pub struct Cli {
    /// Service to run.
    #[arg(long, env = "ROLE", value_enum)]
    pub role: Role,

    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0")]
    pub listen_addr: String,

    /// Port to listen on [default: 8080 gateway, 8081 user, 8082 movie, 8083 booking].
    /// With --role all, the gateway's port; the backends take the next three.
    #[arg(long, env = "PORT")]
    pub port: Option<String>,

    /// Redis URL (redis://[:password@]host:port[/db]). Without it data lives in memory,
    /// which only makes sense with --role all (one process shares one store).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key this app writes, so several apps or tests share one Redis.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "theater")]
    pub redis_key_prefix: String,

    /// Redis connections per worker thread (each worker drives its own).
    #[arg(long, env = "REDIS_POOL_SIZE", default_value = "1")]
    pub redis_pool_size: String,

    /// Longest wait for one store command before answering 503, in milliseconds.
    #[arg(long, env = "STORE_TIMEOUT_MS", default_value = "1000")]
    pub store_timeout_ms: String,

    /// Cluster this pod runs in (ctx1, ctx2); shown in X-Service-Cluster.
    #[arg(long = "cluster", env = "CLUSTER_NAME", default_value = "local")]
    pub cluster: String,

    /// Pod name; shown in X-Pod-Name [default: the host name].
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,

    /// Node the pod runs on.
    #[arg(long, env = "NODE_NAME", default_value = "")]
    pub node_name: String,

    /// Namespace of the pod; the gateway reads Istio rules and pods there.
    #[arg(long, env = "POD_NAMESPACE", default_value = "theater-msa")]
    pub pod_namespace: String,

    /// user-service base URL [default: http://user-service:8081; with --role all, the local one].
    #[arg(long, env = "USER_SERVICE_URL")]
    pub user_service_url: Option<String>,

    /// movie-service base URL [default: http://movie-service:8082; with --role all, the local one].
    #[arg(long, env = "MOVIE_SERVICE_URL")]
    pub movie_service_url: Option<String>,

    /// booking-service base URL [default: http://booking-service:8083; with --role all, the local one].
    #[arg(long, env = "BOOKING_SERVICE_URL")]
    pub booking_service_url: Option<String>,

    /// Longest wait for an upstream response (booking's lookups, the gateway's proxy), in milliseconds.
    #[arg(long, env = "UPSTREAM_TIMEOUT_MS", default_value = "3000")]
    pub upstream_timeout_ms: String,

    /// Longest wait to open a connection to an upstream, in milliseconds.
    #[arg(long, env = "UPSTREAM_CONNECT_TIMEOUT_MS", default_value = "1000")]
    pub upstream_connect_timeout_ms: String,

    /// Do not create the sample users and movies (ids 1-3) at start.
    #[arg(long, env = "NO_SEED")]
    pub no_seed: bool,

    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `info,actix_server=warn`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// HTTP worker threads per served role [default: one per CPU core].
    #[arg(long, env = "WORKERS")]
    pub workers: Option<String>,

    /// Longest time a client may take to send a request (headers and body), in milliseconds.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value = "10000")]
    pub request_timeout_ms: String,

    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value = "20")]
    pub shutdown_timeout_secs: String,

    /// Gateway: kubeconfig to read Istio rules and pods with [default: in-cluster config].
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<String>,

    /// Gateway: read the Istio rules for /api/mesh from this JSON file (a `kind: List` of
    /// VirtualServices and DestinationRules, as scripts/mesh-lab.sh writes it) instead of
    /// the Kubernetes API.
    #[arg(long, env = "MESH_RULES_FILE")]
    pub mesh_rules_file: Option<String>,

    /// Gateway: serve the page from this folder instead of the embedded copy.
    #[arg(long, env = "UI_DIR")]
    pub ui_dir: Option<String>,

    /// Gateway: proxied responses remembered per service for the observed split.
    #[arg(long, env = "TRAFFIC_WINDOW", default_value = "200")]
    pub traffic_window: String,

    /// Enable the chaos knobs: `GET|PUT /admin/chaos` and injected errors and delays.
    #[arg(long, env = "CHAOS_ENABLED")]
    pub chaos: bool,

    /// With --chaos: share of requests answered with an error at start, 0.0-1.0.
    #[arg(long, env = "CHAOS_ERROR_RATE", default_value = "0")]
    pub chaos_error_rate: String,

    /// With --chaos: status of injected errors, 500-599.
    #[arg(long, env = "CHAOS_ERROR_STATUS", default_value = "503")]
    pub chaos_error_status: String,

    /// With --chaos: delay added to every request at start, 0-30000 ms.
    #[arg(long, env = "CHAOS_DELAY_MS", default_value = "0")]
    pub chaos_delay_ms: String,
}

impl Cli {
    /// The base URL given for `service` (`--user-service-url` …), if any.
    pub fn upstream_url(&self, service: Service) -> Option<&str> {
        match service {
            Service::Gateway => None,
            Service::User => self.user_service_url.as_deref(),
            Service::Movie => self.movie_service_url.as_deref(),
            Service::Booking => self.booking_service_url.as_deref(),
        }
    }
}

//! Typed settings, parsed once from the [`Cli`] before any port is bound.
//!
//! An invalid value stops the process with a message naming the flag and its env var
//! (exit code 64), so a typo in a Deployment fails loudly at start instead of later.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cli::{Cli, LogFormat, Role};
use crate::service::Service;

/// Everything the roles need, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub role: Role,
    pub listen_addr: IpAddr,
    /// First port; with `--role all` the services take consecutive ports from it.
    pub port: Option<u16>,
    pub identity: IdentitySettings,
    pub store: StoreSettings,
    pub upstreams: Upstreams,
    pub seed: bool,
    pub log_format: LogFormat,
    pub log_level: String,
    pub workers: Option<usize>,
    pub shutdown_timeout: Duration,
    /// Longest time a client may take to send its request.
    pub request_timeout: Duration,
    pub gateway: GatewaySettings,
    /// `None` unless `--chaos`: then the knobs' starting values.
    pub chaos: Option<ChaosSettings>,
}

#[derive(Debug, Clone)]
pub struct IdentitySettings {
    pub cluster: String,
    pub pod: String,
    pub node: String,
    pub namespace: String,
}

#[derive(Clone)]
pub struct StoreSettings {
    /// `None`: the in-process store.
    pub redis: Option<fred::types::config::Config>,
    pub key_prefix: String,
    pub pool_size: usize,
    pub timeout: Duration,
}

// Hand-written so a password in the Redis URL never reaches a log line.
impl fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSettings")
            .field("redis", &self.redis.as_ref().map(|_| "<redacted>"))
            .field("key_prefix", &self.key_prefix)
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What only the gateway uses.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// `None`: in-cluster configuration (or `KUBECONFIG` found by inference).
    pub kubeconfig: Option<String>,
    /// Rules read from a file (the mesh lab) instead of the API.
    pub mesh_rules_file: Option<std::path::PathBuf>,
    pub ui_dir: Option<std::path::PathBuf>,
    pub traffic_window: usize,
}

/// Base URLs (no trailing slash) of the services a role calls.
#[derive(Debug, Clone)]
pub struct Upstreams {
    /// By [`Service`] index; empty for a service nobody calls (the gateway).
    urls: [String; Service::ALL.len()],
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Upstreams {
    pub fn base_url(&self, service: Service) -> &str {
        &self.urls[service as usize]
    }

    /// Points calls to `service` at `url` (tests start roles on ephemeral ports).
    pub fn set_base_url(&mut self, service: Service, url: String) {
        self.urls[service as usize] = url;
    }
}

/// What chaos does to each request (probes and the admin endpoints excepted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChaosSettings {
    /// Share of requests answered with `error_status`, 0.0-1.0.
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub error_rate: f64,
    /// Status of injected errors, 500-599.
    #[serde(default = "default_status")]
    #[schema(minimum = 500, maximum = 599)]
    pub error_status: u16,
    /// Wait added before every request, 0-30000 ms.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 30000)]
    pub delay_ms: u64,
}

fn default_status() -> u16 {
    503
}

impl Default for ChaosSettings {
    fn default() -> Self {
        ChaosSettings { error_rate: 0.0, error_status: default_status(), delay_ms: 0 }
    }
}

impl ChaosSettings {
    pub const MAX_DELAY_MS: u64 = 30_000;

    /// Every knob out of range. The one check of these ranges: `PUT /admin/chaos` names
    /// the JSON field of each, start-up its flag and env var.
    pub fn check(&self) -> Result<(), Vec<ChaosKnob>> {
        let mut bad = Vec::new();
        if !(0.0..=1.0).contains(&self.error_rate) {
            bad.push(ChaosKnob::ErrorRate);
        }
        if !(500..=599).contains(&self.error_status) {
            bad.push(ChaosKnob::ErrorStatus);
        }
        if self.delay_ms > Self::MAX_DELAY_MS {
            bad.push(ChaosKnob::DelayMs);
        }
        if bad.is_empty() { Ok(()) } else { Err(bad) }
    }
}

/// One field of [`ChaosSettings`], for naming it in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChaosKnob {
    ErrorRate,
    ErrorStatus,
    DelayMs,
}

impl ChaosKnob {
    /// Its name in the JSON of `/admin/chaos`.
    pub fn field(self) -> &'static str {
        match self {
            ChaosKnob::ErrorRate => "errorRate",
            ChaosKnob::ErrorStatus => "errorStatus",
            ChaosKnob::DelayMs => "delayMs",
        }
    }

    /// Its start-up flag and env var.
    pub fn flag(self) -> (&'static str, &'static str) {
        match self {
            ChaosKnob::ErrorRate => ("chaos-error-rate", "CHAOS_ERROR_RATE"),
            ChaosKnob::ErrorStatus => ("chaos-error-status", "CHAOS_ERROR_STATUS"),
            ChaosKnob::DelayMs => ("chaos-delay-ms", "CHAOS_DELAY_MS"),
        }
    }

    /// The range it must be in.
    pub fn rule(self) -> &'static str {
        match self {
            ChaosKnob::ErrorRate => "must be between 0.0 and 1.0",
            ChaosKnob::ErrorStatus => "must be between 500 and 599",
            ChaosKnob::DelayMs => "must be between 0 and 30000",
        }
    }
}

/// A flag whose value could not be used.
#[derive(Debug)]
pub struct ConfigError {
    pub flag: &'static str,
    pub env: &'static str,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid value for --{} (env {}): {}", self.flag, self.env, self.reason)
    }
}

impl std::error::Error for ConfigError {}

fn invalid(flag: &'static str, env: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError { flag, env, reason: reason.into() }
}

fn number<T>(value: &str, flag: &'static str, env: &'static str, min: T, max: T) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    let parsed: T = value.trim().parse().map_err(|_| invalid(flag, env, format!("'{value}' is not a whole number")))?;
    if parsed < min || parsed > max {
        return Err(invalid(flag, env, format!("{parsed} is outside {min}..={max}")));
    }
    Ok(parsed)
}

fn millis(value: &str, flag: &'static str, env: &'static str, max: u64) -> Result<Duration, ConfigError> {
    number(value, flag, env, 1, max).map(Duration::from_millis)
}

/// Checks an upstream base URL: plain http (the sidecar adds mTLS), a host, no path.
fn upstream_url(value: &str, flag: &'static str, env: &'static str) -> Result<String, ConfigError> {
    let uri: awc::http::Uri = value.parse().map_err(|e| invalid(flag, env, format!("'{value}' is not a URL: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid(flag, env, format!("'{value}' must start with http://")));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid(flag, env, format!("'{value}' has no host")));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(invalid(flag, env, format!("'{value}' must not have a path or query")));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

fn default_pod_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn label_value(value: &str, flag: &'static str, env: &'static str) -> Result<String, ConfigError> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if !ok {
        return Err(invalid(flag, env, format!("'{value}' must be 1-253 letters, digits, '-', '.' or '_'")));
    }
    Ok(value.to_owned())
}

/// With `--role all`, every service on consecutive ports from `port` (the first
/// service's default port without it).
fn ports_of_all(port: Option<u16>) -> Vec<(Service, u16)> {
    let base = port.unwrap_or(Service::ALL[0].default_port());
    Service::ALL.into_iter().zip(base..).collect()
}

impl Settings {
    pub fn from_cli(cli: Cli) -> Result<Self, ConfigError> {
        let listen_addr = cli.listen_addr.trim().parse().map_err(|_| {
            invalid("listen-addr", "LISTEN_ADDR", format!("'{}' is not an IP address", cli.listen_addr))
        })?;
        let port = cli
            .port
            .as_deref()
            .map(|p| {
                let max = if cli.role == Role::All { u16::MAX - (Service::ALL.len() as u16 - 1) } else { u16::MAX };
                number(p, "port", "PORT", 0, max)
            })
            .transpose()?;

        let redis = cli
            .redis_url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
            .map(|url| {
                if !url.trim().starts_with("redis://") {
                    return Err(invalid("redis-url", "REDIS_URL", "must start with redis://"));
                }
                fred::types::config::Config::from_url(url.trim()).map_err(|e| {
                    // fred's message may quote the URL; only its kind is safe to show.
                    invalid("redis-url", "REDIS_URL", format!("not a usable Redis URL ({:?})", e.kind()))
                })
            })
            .transpose()?;
        let key_prefix = cli.redis_key_prefix.trim().to_owned();
        if key_prefix.is_empty() || key_prefix.chars().any(|c| c.is_whitespace() || c == ':') {
            return Err(invalid("redis-key-prefix", "REDIS_KEY_PREFIX", "must be non-empty without spaces or ':'"));
        }
        let store = StoreSettings {
            redis,
            key_prefix,
            pool_size: number(&cli.redis_pool_size, "redis-pool-size", "REDIS_POOL_SIZE", 1, 64)?,
            timeout: millis(&cli.store_timeout_ms, "store-timeout-ms", "STORE_TIMEOUT_MS", 60_000)?,
        };

        // With --role all the other services are in this process: call them on loopback.
        let mut urls: [String; Service::ALL.len()] = Default::default();
        for (service, local_port) in ports_of_all(port) {
            let Some((flag, env)) = service.row().url_flag else { continue };
            urls[service as usize] = match cli.upstream_url(service) {
                Some(u) => upstream_url(u, flag, env)?,
                None if cli.role == Role::All => format!("http://127.0.0.1:{local_port}"),
                None => format!("http://{}:{}", service.name(), service.default_port()),
            };
        }
        let upstreams = Upstreams {
            urls,
            timeout: millis(&cli.upstream_timeout_ms, "upstream-timeout-ms", "UPSTREAM_TIMEOUT_MS", 600_000)?,
            connect_timeout: millis(
                &cli.upstream_connect_timeout_ms,
                "upstream-connect-timeout-ms",
                "UPSTREAM_CONNECT_TIMEOUT_MS",
                60_000,
            )?,
        };

        let identity = IdentitySettings {
            cluster: label_value(&cli.cluster, "cluster", "CLUSTER_NAME")?,
            pod: match cli.pod_name.as_deref().map(str::trim) {
                Some(p) if !p.is_empty() => label_value(p, "pod-name", "POD_NAME")?,
                _ => default_pod_name(),
            },
            node: cli.node_name.trim().to_owned(),
            namespace: label_value(&cli.pod_namespace, "pod-namespace", "POD_NAMESPACE")?,
        };

        let log_level = cli.log_level.trim().to_owned();
        if log_level.parse::<tracing_subscriber::filter::Targets>().is_err() {
            return Err(invalid("log-level", "LOG_LEVEL", format!("'{log_level}' is not a log filter")));
        }

        let chaos = if cli.chaos {
            let rate: f64 = cli.chaos_error_rate.trim().parse().map_err(|_| {
                invalid("chaos-error-rate", "CHAOS_ERROR_RATE", format!("'{}' is not a number", cli.chaos_error_rate))
            })?;
            let initial = ChaosSettings {
                error_rate: rate,
                error_status: number(&cli.chaos_error_status, "chaos-error-status", "CHAOS_ERROR_STATUS", 0, u16::MAX)?,
                delay_ms: number(&cli.chaos_delay_ms, "chaos-delay-ms", "CHAOS_DELAY_MS", 0, u64::MAX)?,
            };
            if let Err(knobs) = initial.check() {
                let (flag, env) = knobs[0].flag();
                return Err(invalid(flag, env, knobs[0].rule()));
            }
            Some(initial)
        } else {
            None
        };

        let ui_dir = cli.ui_dir.as_deref().filter(|d| !d.trim().is_empty()).map(std::path::PathBuf::from);
        if let Some(dir) = ui_dir.as_ref().filter(|dir| !dir.is_dir()) {
            return Err(invalid("ui-dir", "UI_DIR", format!("{} is not a folder", dir.display())));
        }
        let gateway = GatewaySettings {
            kubeconfig: cli.kubeconfig.filter(|k| !k.trim().is_empty()),
            mesh_rules_file: cli.mesh_rules_file.filter(|f| !f.trim().is_empty()).map(std::path::PathBuf::from),
            ui_dir,
            traffic_window: number(&cli.traffic_window, "traffic-window", "TRAFFIC_WINDOW", 10, 100_000)?,
        };

        Ok(Settings {
            gateway,
            request_timeout: millis(&cli.request_timeout_ms, "request-timeout-ms", "REQUEST_TIMEOUT_MS", 600_000)?,
            chaos,
            role: cli.role,
            listen_addr,
            port,
            identity,
            store,
            upstreams,
            seed: !cli.no_seed,
            log_format: cli.log_format,
            log_level,
            workers: cli.workers.as_deref().map(|w| number(w, "workers", "WORKERS", 1, 256)).transpose()?,
            shutdown_timeout: Duration::from_secs(number(
                &cli.shutdown_timeout_secs,
                "shutdown-timeout-secs",
                "SHUTDOWN_TIMEOUT_SECS",
                0,
                3600,
            )?),
        })
    }

    /// The services this process runs and the port of each.
    pub fn listeners(&self) -> Vec<(Service, u16)> {
        match self.role {
            Role::All => ports_of_all(self.port),
            Role::One(service) => vec![(service, self.port.unwrap_or(service.default_port()))],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Settings, ConfigError> {
        let mut argv = vec!["theater"];
        argv.extend_from_slice(args);
        Settings::from_cli(Cli::try_parse_from(argv).expect("clap accepts the arguments"))
    }

    #[test]
    fn bad_port_names_the_flag_and_env_var() {
        let err = parse(&["--role", "user", "--port", "80x"]).unwrap_err();
        assert_eq!((err.flag, err.env), ("port", "PORT"));
        assert!(err.to_string().contains("--port (env PORT)"), "{err}");
    }

    #[test]
    fn redis_url_error_does_not_echo_the_url() {
        let err = parse(&["--role", "user", "--redis-url", "nope://:hunter2@x"]).unwrap_err();
        assert_eq!(err.flag, "redis-url");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn upstream_url_must_be_plain_http_without_path() {
        assert!(parse(&["--role", "booking", "--user-service-url", "https://u:1"]).is_err());
        assert!(parse(&["--role", "booking", "--user-service-url", "http://u:1/x"]).is_err());
        let ok = parse(&["--role", "booking", "--user-service-url", "http://u:1/"]).unwrap();
        assert_eq!(ok.upstreams.base_url(Service::User), "http://u:1");
    }

    #[test]
    fn role_all_runs_every_service_on_consecutive_ports_and_calls_them_locally() {
        let s = parse(&["--role", "all", "--port", "9000"]).unwrap();
        let ports: Vec<u16> = s.listeners().iter().map(|(_, p)| *p).collect();
        assert_eq!(ports, [9000, 9001, 9002, 9003]);
        assert_eq!(s.upstreams.base_url(Service::Movie), "http://127.0.0.1:9002");
    }

    #[test]
    fn chaos_check_names_each_out_of_range_knob() {
        let bad = ChaosSettings { error_rate: 1.5, error_status: 404, delay_ms: 30_001 };
        let fields: Vec<_> = bad.check().unwrap_err().into_iter().map(ChaosKnob::field).collect();
        assert_eq!(fields, ["errorRate", "errorStatus", "delayMs"]);
        assert!(ChaosSettings::default().check().is_ok());
    }

    #[test]
    fn single_role_defaults_to_its_port_and_cluster_dns_upstreams() {
        let s = parse(&["--role", "booking"]).unwrap();
        assert_eq!(s.listeners(), vec![(Service::Booking, 8083)]);
        assert_eq!(s.upstreams.base_url(Service::User), "http://user-service:8081");
    }
}

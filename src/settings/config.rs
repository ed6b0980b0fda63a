//! Typed settings, parsed once from the [`Cli`] before any port is bound.
//!
//! Each flag's value was typed and checked by `cli`; what is left here are the checks
//! that span several flags (a port block for `--role all`, the chaos knobs' ranges when
//! `--chaos` is on) and the defaults that depend on the role. Every problem is reported
//! at once, naming flag and env var; `main` exits 64 on any.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::cli::{Cli, FlagError, LogFormat, Role};
use crate::settings::service::ServiceKind;

/// Everything the roles need, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) role: Role,
    pub(crate) listen_addr: IpAddr,
    /// First port; with `--role all` the services take consecutive ports from it.
    pub(crate) port: Option<u16>,
    pub(crate) identity: IdentitySettings,
    pub store: StoreSettings,
    pub upstreams: Upstreams,
    pub(crate) seed: bool,
    pub log_format: LogFormat,
    pub log_level: String,
    pub(crate) workers: Option<usize>,
    pub(crate) shutdown_timeout: Duration,
    /// Longest time a client may take to send its request.
    pub(crate) request_timeout: Duration,
    pub(crate) gateway: GatewaySettings,
    /// `None` unless `--chaos`: then the knobs' starting values.
    pub(crate) chaos: Option<ChaosSettings>,
}

#[derive(Debug, Clone)]
pub(crate) struct IdentitySettings {
    pub(crate) cluster: String,
    pub(crate) pod: String,
    pub(crate) node: String,
    pub(crate) namespace: String,
}

#[derive(Clone)]
pub struct StoreSettings {
    /// `None`: the in-process store.
    pub redis: Option<fred::types::config::Config>,
    pub(crate) key_prefix: String,
    pub(crate) pool_size: usize,
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
pub(crate) struct GatewaySettings {
    /// `None`: in-cluster configuration (or `KUBECONFIG` found by inference).
    pub(crate) kubeconfig: Option<String>,
    /// Rules read from a file (the mesh lab) instead of the API.
    pub(crate) mesh_rules_file: Option<std::path::PathBuf>,
    pub(crate) ui_dir: Option<std::path::PathBuf>,
    pub(crate) traffic_window: usize,
}

/// Base URLs (no trailing slash) of the services a role calls.
#[derive(Debug, Clone)]
pub struct Upstreams {
    /// By [`ServiceKind`] index; empty for a service nobody calls (the gateway).
    urls: [String; ServiceKind::ALL.len()],
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

impl Upstreams {
    pub fn base_url(&self, service: ServiceKind) -> &str {
        &self.urls[service as usize]
    }

    /// Points calls to `service` at `url` (tests start roles on ephemeral ports).
    pub fn set_base_url(&mut self, service: ServiceKind, url: String) {
        self.urls[service as usize] = url;
    }
}

/// What chaos does to each request (probes and the admin endpoints excepted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ChaosSettings {
    /// Share of requests answered with `error_status`, 0.0-1.0.
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub(crate) error_rate: f64,
    /// Status of injected errors, 500-599.
    #[serde(default = "default_status")]
    #[schema(minimum = 500, maximum = 599)]
    pub(crate) error_status: u16,
    /// Wait added before every request, 0-30000 ms.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 30000)]
    pub(crate) delay_ms: u64,
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
    pub(crate) const MAX_DELAY_MS: u64 = 30_000;

    /// Every knob out of range. The one check of these ranges: `PUT /admin/chaos` names
    /// the JSON field of each, start-up its flag and env var.
    pub(crate) fn check(&self) -> Result<(), Vec<ChaosKnob>> {
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
pub(crate) enum ChaosKnob {
    ErrorRate,
    ErrorStatus,
    DelayMs,
}

impl ChaosKnob {
    /// Its name in the JSON of `/admin/chaos`.
    pub(crate) fn field(self) -> &'static str {
        match self {
            ChaosKnob::ErrorRate => "errorRate",
            ChaosKnob::ErrorStatus => "errorStatus",
            ChaosKnob::DelayMs => "delayMs",
        }
    }

    /// Its start-up flag and env var.
    pub(crate) fn flag(self) -> (&'static str, &'static str) {
        match self {
            ChaosKnob::ErrorRate => ("chaos-error-rate", "CHAOS_ERROR_RATE"),
            ChaosKnob::ErrorStatus => ("chaos-error-status", "CHAOS_ERROR_STATUS"),
            ChaosKnob::DelayMs => ("chaos-delay-ms", "CHAOS_DELAY_MS"),
        }
    }

    /// The range it must be in.
    pub(crate) fn rule(self) -> &'static str {
        match self {
            ChaosKnob::ErrorRate => "must be between 0.0 and 1.0",
            ChaosKnob::ErrorStatus => "must be between 500 and 599",
            ChaosKnob::DelayMs => "must be between 0 and 30000",
        }
    }
}

fn default_pod_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// With `--role all`, every service on consecutive ports from `port` (the first
/// service's default port without it).
fn ports_of_all(port: Option<u16>) -> Vec<(ServiceKind, u16)> {
    let base = port.unwrap_or(ServiceKind::ALL[0].default_port());
    ServiceKind::ALL.into_iter().enumerate().map(|(i, s)| (s, base.saturating_add(i as u16))).collect()
}

impl Settings {
    /// The settings, or every value that cannot be used together with the others (each
    /// flag's own value was checked by its parser in `cli`).
    pub fn from_cli(cli: Cli) -> Result<Self, Vec<FlagError>> {
        let mut errors = Vec::new();
        // --role all takes the port given and the next ones.
        let last_port = cli.port.map(|p| u32::from(p) + ServiceKind::ALL.len() as u32 - 1);
        if cli.role == Role::All && last_port.is_some_and(|p| p > u32::from(u16::MAX)) {
            let max = u16::MAX - (ServiceKind::ALL.len() as u16 - 1);
            errors.push(FlagError::new("port", "PORT", format!("with --role all it must be at most {max}")));
        }

        // With --role all the other services are in this process: call them on loopback.
        let mut urls: [String; ServiceKind::ALL.len()] = Default::default();
        for (service, local_port) in ports_of_all(cli.port.filter(|_| errors.is_empty())) {
            if service.row().url_flag.is_none() {
                continue;
            }
            urls[service as usize] = match cli.upstream_urls.get(service) {
                Some(url) => url.to_owned(),
                None if cli.role == Role::All => format!("http://127.0.0.1:{local_port}"),
                None => format!("http://{}:{}", service.name(), service.default_port()),
            };
        }

        let chaos = cli.chaos.then_some(ChaosSettings {
            error_rate: cli.chaos_error_rate,
            error_status: cli.chaos_error_status,
            delay_ms: cli.chaos_delay_ms,
        });
        if let Some(Err(knobs)) = chaos.map(|c| c.check()) {
            for knob in knobs {
                let (flag, env) = knob.flag();
                errors.push(FlagError::new(flag, env, knob.rule()));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        Ok(Settings {
            role: cli.role,
            listen_addr: cli.listen_addr,
            port: cli.port,
            identity: IdentitySettings {
                cluster: cli.cluster,
                pod: cli.pod_name.filter(|p| !p.is_empty()).unwrap_or_else(default_pod_name),
                node: cli.node_name.trim().to_owned(),
                namespace: cli.pod_namespace,
            },
            store: StoreSettings {
                redis: cli.redis_url.and_then(|url| url.0),
                key_prefix: cli.redis_key_prefix,
                pool_size: cli.redis_pool_size,
                timeout: cli.store_timeout_ms,
            },
            upstreams: Upstreams {
                urls,
                timeout: cli.upstream_timeout_ms,
                connect_timeout: cli.upstream_connect_timeout_ms,
            },
            seed: !cli.no_seed,
            log_format: cli.log_format,
            log_level: cli.log_level,
            workers: cli.workers,
            shutdown_timeout: cli.shutdown_timeout_secs,
            request_timeout: cli.request_timeout_ms,
            gateway: GatewaySettings {
                kubeconfig: cli.kubeconfig.filter(|k| !k.trim().is_empty()),
                mesh_rules_file: cli.mesh_rules_file.filter(|f| !f.trim().is_empty()).map(std::path::PathBuf::from),
                ui_dir: cli.ui_dir.and_then(|dir| dir.0),
                traffic_window: cli.traffic_window,
            },
            chaos,
        })
    }

    /// The services this process runs and the port of each.
    pub(crate) fn listeners(&self) -> Vec<(ServiceKind, u16)> {
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

    fn parse(args: &[&str]) -> Result<Settings, Vec<FlagError>> {
        let mut argv = vec!["theater"];
        argv.extend_from_slice(args);
        Settings::from_cli(Cli::try_parse_from(argv).expect("clap accepts the arguments"))
    }

    #[test]
    fn cross_flag_problems_are_all_reported_naming_flag_and_env_var() {
        let errors = parse(&[
            "--role",
            "all",
            "--port",
            "65534",
            "--chaos",
            "--chaos-error-rate",
            "2",
            "--chaos-error-status",
            "404",
        ])
        .unwrap_err();
        let named: Vec<_> = errors.iter().map(|e| (e.flag.as_str(), e.env.as_str())).collect();
        assert_eq!(
            named,
            [("port", "PORT"), ("chaos-error-rate", "CHAOS_ERROR_RATE"), ("chaos-error-status", "CHAOS_ERROR_STATUS")]
        );
        assert!(errors[0].to_string().starts_with("invalid value for --port (env PORT)"), "{}", errors[0]);
        assert!(
            parse(&["--role", "user", "--port", "65534", "--chaos-error-rate", "2"]).is_ok(),
            "knobs count only with --chaos"
        );
    }

    #[test]
    fn upstream_url_is_kept_without_its_trailing_slash() {
        let ok = parse(&["--role", "booking", "--user-service-url", "http://u:1/"]).unwrap();
        assert_eq!(ok.upstreams.base_url(ServiceKind::User), "http://u:1");
    }

    #[test]
    fn role_all_runs_every_service_on_consecutive_ports_and_calls_them_locally() {
        let s = parse(&["--role", "all", "--port", "9000"]).unwrap();
        let ports: Vec<u16> = s.listeners().iter().map(|(_, p)| *p).collect();
        assert_eq!(ports, [9000, 9001, 9002, 9003]);
        assert_eq!(s.upstreams.base_url(ServiceKind::Movie), "http://127.0.0.1:9002");
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
        assert_eq!(s.listeners(), vec![(ServiceKind::Booking, 8083)]);
        assert_eq!(s.upstreams.base_url(ServiceKind::User), "http://user-service:8081");
    }
}

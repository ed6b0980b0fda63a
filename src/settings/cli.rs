//! Command-line interface: every flag, its `--help` text and its environment fallback.
//!
//! Kubernetes hands settings to pods through env vars (downward API, ConfigMaps), a
//! laptop through flags; clap's `env` gives both from one declaration. Every value is
//! typed here by a clap value parser (ranges included), and [`Cli::parse_all`] reports
//! every bad one at once, each naming its flag and env var; checks that span several
//! flags are `config`'s.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, RangedU64ValueParser, TypedValueParser};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgMatches, Command, CommandFactory, Parser, ValueEnum, value_parser};

use crate::settings::service::{Row, ServiceKind, TABLE};

/// Which service(s) this process serves: the `--role` values come from the service table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    One(ServiceKind),
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
    pub(crate) role: Role,

    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0")]
    pub(crate) listen_addr: IpAddr,

    /// Port to listen on [default: 8080 gateway, 8081 user, 8082 movie, 8083 booking].
    /// With --role all, the gateway's port; the backends take the next three.
    #[arg(long, env = "PORT", value_parser = value_parser!(u16))]
    pub(crate) port: Option<u16>,

    /// Redis URL (redis://[:password@]host:port[/db]). Without it data lives in memory,
    /// which only makes sense with --role all (one process shares one store).
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = redis_url)]
    pub(crate) redis_url: Option<RedisUrl>,

    /// Prefix of every Redis key this app writes, so several apps or tests share one Redis.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "theater", value_parser = key_prefix)]
    pub(crate) redis_key_prefix: String,

    /// Redis connections per worker thread (each worker drives its own).
    #[arg(long, env = "REDIS_POOL_SIZE", default_value = "1", value_parser = RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub(crate) redis_pool_size: usize,

    /// Longest wait for one store command before answering 503, in milliseconds.
    #[arg(long, env = "STORE_TIMEOUT_MS", default_value = "1000", value_parser = millis(60_000))]
    pub(crate) store_timeout_ms: Duration,

    /// Cluster this pod runs in (ctx1, ctx2); shown in X-Service-Cluster.
    #[arg(long = "cluster", env = "CLUSTER_NAME", default_value = "local", value_parser = label_value)]
    pub(crate) cluster: String,

    /// Pod name; shown in X-Pod-Name [default: the host name].
    #[arg(long, env = "POD_NAME", value_parser = optional_label_value)]
    pub(crate) pod_name: Option<String>,

    /// Node the pod runs on.
    #[arg(long, env = "NODE_NAME", default_value = "")]
    pub(crate) node_name: String,

    /// Namespace of the pod; the gateway reads Istio rules and pods there.
    #[arg(long, env = "POD_NAMESPACE", default_value = "theater-msa", value_parser = label_value)]
    pub(crate) pod_namespace: String,

    // --user-service-url, --movie-service-url, ...: one per service table row that has
    // a `url_flag`, so a new service brings its flag with its row.
    #[command(flatten)]
    pub(crate) upstream_urls: UpstreamUrls,

    /// Longest wait for an upstream response (booking's lookups, the gateway's proxy), in milliseconds.
    #[arg(long, env = "UPSTREAM_TIMEOUT_MS", default_value = "3000", value_parser = millis(600_000))]
    pub(crate) upstream_timeout_ms: Duration,

    /// Longest wait to open a connection to an upstream, in milliseconds.
    #[arg(long, env = "UPSTREAM_CONNECT_TIMEOUT_MS", default_value = "1000", value_parser = millis(60_000))]
    pub(crate) upstream_connect_timeout_ms: Duration,

    /// Do not create the sample users and movies (ids 1-3) at start.
    #[arg(long, env = "NO_SEED")]
    pub(crate) no_seed: bool,

    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,

    /// Log filter, e.g. `info` or `info,actix_server=warn`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", value_parser = log_filter)]
    pub(crate) log_level: String,

    /// HTTP worker threads per served role [default: one per CPU core].
    #[arg(long, env = "WORKERS", value_parser = RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub(crate) workers: Option<usize>,

    /// Longest time a client may take to send a request (headers and body), in milliseconds.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value = "10000", value_parser = millis(600_000))]
    pub(crate) request_timeout_ms: Duration,

    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value = "20",
        value_parser = RangedU64ValueParser::<u64>::new().range(0..=3600).map(Duration::from_secs))]
    pub(crate) shutdown_timeout_secs: Duration,

    /// Gateway: kubeconfig to read Istio rules and pods with [default: in-cluster config].
    #[arg(long, env = "KUBECONFIG")]
    pub(crate) kubeconfig: Option<String>,

    /// Gateway: read the Istio rules for /api/mesh from this JSON file (a `kind: List` of
    /// VirtualServices and DestinationRules, as scripts/mesh-lab.sh writes it) instead of
    /// the Kubernetes API.
    #[arg(long, env = "MESH_RULES_FILE")]
    pub(crate) mesh_rules_file: Option<String>,

    /// Gateway: serve the page from this folder instead of the embedded copy.
    #[arg(long, env = "UI_DIR", value_parser = folder)]
    pub(crate) ui_dir: Option<Folder>,

    /// Gateway: proxied responses remembered per service for the observed split.
    #[arg(long, env = "TRAFFIC_WINDOW", default_value = "200", value_parser = RangedU64ValueParser::<usize>::new().range(10..=100_000))]
    pub(crate) traffic_window: usize,

    /// Enable the chaos knobs: `GET|PUT /admin/chaos` and injected errors and delays.
    #[arg(long, env = "CHAOS_ENABLED")]
    pub(crate) chaos: bool,

    /// With --chaos: share of requests answered with an error at start, 0.0-1.0.
    #[arg(long, env = "CHAOS_ERROR_RATE", default_value = "0")]
    pub(crate) chaos_error_rate: f64,

    /// With --chaos: status of injected errors, 500-599.
    #[arg(long, env = "CHAOS_ERROR_STATUS", default_value = "503")]
    pub(crate) chaos_error_status: u16,

    /// With --chaos: delay added to every request at start, 0-30000 ms.
    #[arg(long, env = "CHAOS_DELAY_MS", default_value = "0")]
    pub(crate) chaos_delay_ms: u64,
}

/// The base URLs given on the command line or in the environment, one slot per
/// service. Its flags are built from the service table's `url_flag`s rather than
/// declared field by field, so adding a service adds its flag and env var.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UpstreamUrls([Option<String>; TABLE.len()]);

impl UpstreamUrls {
    /// The base URL given for `service` (`--user-service-url` …), if any; without a
    /// trailing slash.
    pub(crate) fn get(&self, service: ServiceKind) -> Option<&str> {
        self.0[service as usize].as_deref()
    }
}

/// The table's rows that others call, with their flag and env var.
fn url_flags() -> impl Iterator<Item = (&'static Row, &'static str, &'static str)> {
    TABLE.iter().filter_map(|row| row.url_flag.map(|(flag, env)| (row, flag, env)))
}

impl clap::Args for UpstreamUrls {
    fn augment_args(command: Command) -> Command {
        url_flags().fold(command, |command, (row, flag, env)| {
            let (name, port) = (row.name, row.port);
            let help = format!("{name} base URL [default: http://{name}:{port}; with --role all, the local one]");
            command.arg(Arg::new(flag).long(flag).env(env).value_name(env).value_parser(upstream_url).help(help))
        })
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl clap::FromArgMatches for UpstreamUrls {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut urls = UpstreamUrls::default();
        urls.update_from_arg_matches(matches)?;
        Ok(urls)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for (row, flag, _) in url_flags() {
            if let Some(url) = matches.get_one::<String>(flag) {
                self.0[row.service as usize] = Some(url.clone());
            }
        }
        Ok(())
    }
}

/// A flag whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for --{flag} (env {env}): {reason}")]
pub struct FlagError {
    pub(crate) flag: String,
    pub(crate) env: String,
    pub(crate) reason: String,
}

impl FlagError {
    pub(crate) fn new(flag: &str, env: &str, reason: impl Into<String>) -> Self {
        FlagError { flag: flag.to_owned(), env: env.to_owned(), reason: reason.into() }
    }
}

/// Why the command line was not turned into a [`Cli`].
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `--help`, `--version`, an unknown or missing flag: clap's own message.
    #[error(transparent)]
    Usage(#[from] clap::Error),
    /// Every flag whose value did not parse.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Values(Vec<FlagError>),
}

impl Cli {
    /// Parses the command line and the env vars. Unlike clap's own parsing, which stops
    /// at the first bad value, this reports every flag whose value does not parse.
    pub fn parse_all<I, T>(args: I) -> Result<Cli, CliError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        let first = match Cli::try_parse_from(&args) {
            Ok(cli) => return Ok(cli),
            Err(err) => err,
        };
        let Some((id, error)) = flag_error(&first) else { return Err(CliError::Usage(first)) };
        // Parse again with each bad flag taking any text, to find the next one.
        let (mut ids, mut errors) = (vec![id], vec![error]);
        loop {
            let command = ids.iter().fold(Cli::command(), |command, id| {
                command.mut_arg(id, |arg| arg.value_parser(clap::builder::ValueParser::string()))
            });
            match command.try_get_matches_from(&args).err().as_ref().and_then(flag_error) {
                Some((id, error)) if !ids.contains(&id) => {
                    ids.push(id);
                    errors.push(error);
                }
                _ => break,
            }
        }
        Err(CliError::Values(errors))
    }
}

/// The argument's id and the flag, env var and reason of a clap error about one value
/// (None for other errors).
fn flag_error(err: &clap::Error) -> Option<(String, FlagError)> {
    if !matches!(err.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
        return None;
    }
    let Some(ContextValue::String(shown)) = err.get(ContextKind::InvalidArg) else { return None };
    let long = shown.trim_start_matches('-').split([' ', '=', '<']).next()?;
    let command = Cli::command();
    let arg = command.get_arguments().find(|a| a.get_long() == Some(long))?;
    let env = arg.get_env().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => value.clone(),
        _ => String::new(),
    };
    let reason = if let (ErrorKind::InvalidValue, Some(ContextValue::Strings(valid))) =
        (err.kind(), err.get(ContextKind::ValidValue))
    {
        format!("'{value}' is not one of {}", valid.join(", "))
    } else {
        let why = std::error::Error::source(err).map(ToString::to_string).unwrap_or_default();
        // A secret (the Redis URL may hold a password) is never echoed.
        if arg.is_hide_env_values_set() { why } else { format!("'{value}': {why}") }
    };
    Some((arg.get_id().to_string(), FlagError::new(long, &env, reason)))
}

/// A duration given in whole milliseconds, 1..=`max`.
fn millis(max: u64) -> impl TypedValueParser<Value = Duration> {
    RangedU64ValueParser::<u64>::new().range(1..=max).map(Duration::from_millis)
}

/// A Redis URL that fred accepts; `None` for an empty one (data then lives in memory).
#[derive(Clone)]
pub(crate) struct RedisUrl(pub Option<fred::types::config::Config>);

// Hand-written so a password in the URL never reaches a log line.
impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "RedisUrl(<redacted>)" } else { "RedisUrl(None)" })
    }
}

fn redis_url(raw: &str) -> Result<RedisUrl, String> {
    let url = raw.trim();
    if url.is_empty() {
        return Ok(RedisUrl(None));
    }
    if !url.starts_with("redis://") {
        return Err("must start with redis://".to_owned());
    }
    // fred's message may quote the URL; only its kind is safe to show.
    fred::types::config::Config::from_url(url)
        .map(|config| RedisUrl(Some(config)))
        .map_err(|e| format!("not a usable Redis URL ({:?})", e.kind()))
}

fn key_prefix(raw: &str) -> Result<String, String> {
    let prefix = raw.trim();
    if prefix.is_empty() || prefix.chars().any(|c| c.is_whitespace() || c == ':') {
        return Err("must be non-empty without spaces or ':'".to_owned());
    }
    Ok(prefix.to_owned())
}

/// A Kubernetes-style name: 1-253 letters, digits, '-', '.' or '_'.
fn label_value(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if !ok {
        return Err("must be 1-253 letters, digits, '-', '.' or '_'".to_owned());
    }
    Ok(value.to_owned())
}

/// A [`label_value`], or empty (the default is used then).
fn optional_label_value(raw: &str) -> Result<String, String> {
    if raw.trim().is_empty() { Ok(String::new()) } else { label_value(raw) }
}

/// An upstream base URL: plain http (the sidecar adds mTLS), a host, no path; returned
/// without a trailing slash.
fn upstream_url(raw: &str) -> Result<String, String> {
    let uri: awc::http::Uri = raw.parse().map_err(|e| format!("not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("must start with http://".to_owned());
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err("must not have a path or query".to_owned());
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn log_filter(raw: &str) -> Result<String, String> {
    let filter = raw.trim();
    filter
        .parse::<tracing_subscriber::filter::Targets>()
        .map(|_| filter.to_owned())
        .map_err(|_| "not a log filter".to_owned())
}

/// An existing folder, or `None` for an empty value (the embedded copy is used then).
#[derive(Debug, Clone)]
pub(crate) struct Folder(pub Option<PathBuf>);

fn folder(raw: &str) -> Result<Folder, String> {
    if raw.trim().is_empty() {
        return Ok(Folder(None));
    }
    let dir = PathBuf::from(raw);
    if !dir.is_dir() {
        return Err("not a folder".to_owned());
    }
    Ok(Folder(Some(dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(args: &[&str]) -> Vec<String> {
        let argv = std::iter::once("theater").chain(args.iter().copied());
        match Cli::parse_all(argv) {
            Err(CliError::Values(errors)) => errors.iter().map(ToString::to_string).collect(),
            other => panic!("expected bad values, got {other:?}"),
        }
    }

    #[test]
    fn every_bad_value_is_reported_at_once_naming_flag_and_env_var() {
        let found = errors(&["--role", "user", "--port", "80x", "--workers", "0", "--log-format", "xml"]);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("invalid value for --port (env PORT): '80x'"), "{found:?}");
        assert!(found.iter().any(|e| e.starts_with("invalid value for --workers (env WORKERS): '0'")), "{found:?}");
        assert!(found.iter().any(|e| e.contains("--log-format (env LOG_FORMAT): 'xml' is not one of text, json")));
    }

    #[test]
    fn redis_url_error_does_not_echo_the_url() {
        let found = errors(&["--role", "user", "--redis-url", "nope://:hunter2@x"]);
        assert_eq!(found, ["invalid value for --redis-url (env REDIS_URL): must start with redis://"]);
    }

    #[test]
    fn each_called_service_has_its_url_flag_and_env_var_from_the_table() {
        let command = Cli::command();
        for (row, flag, env) in url_flags() {
            let arg = command.get_arguments().find(|a| a.get_long() == Some(flag)).expect(flag);
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(env), "{flag}");
            let cli =
                Cli::try_parse_from(["theater", "--role", "booking", &format!("--{flag}"), "http://x:1/"]).unwrap();
            for service in ServiceKind::ALL {
                let want = (service == row.service).then_some("http://x:1");
                assert_eq!(cli.upstream_urls.get(service), want, "--{flag} sets {service} only");
            }
        }
        let found = errors(&["--role", "booking", "--movie-service-url", "ftp://m"]);
        assert_eq!(
            found,
            ["invalid value for --movie-service-url (env MOVIE_SERVICE_URL): 'ftp://m': must start with http://"]
        );
    }

    #[test]
    fn upstream_urls_must_be_plain_http_without_path() {
        assert!(upstream_url("https://u:1").is_err());
        assert!(upstream_url("http://u:1/x").is_err());
        assert_eq!(upstream_url("http://u:1/").unwrap(), "http://u:1");
    }
}

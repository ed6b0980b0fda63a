//! Starting roles in-process on ephemeral loopback ports, and small HTTP helpers.

use std::collections::HashMap;
use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use clap::Parser;
use serde_json::Value;
use theater::cli::Cli;
use theater::config::Settings;
use theater::service::ServiceKind;
use theater::startup::{Shared, build_server};
use theater::store::Store;

/// Which store the roles under test use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Memory,
    Redis,
}

/// The Redis that `scripts/test.sh` starts on a free port.
pub(crate) fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .expect("TEST_REDIS_URL is not set: run scripts/test.sh, which starts a throwaway Redis")
}

/// Settings as `theater --role all` would parse them, plus `args`, with a key prefix of
/// its own so tests sharing one Redis never see each other's data.
pub(crate) fn settings(backend: Backend, args: &[&str]) -> Settings {
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let mut argv = vec!["theater", "--role", "all", "--no-seed", "--workers", "1"];
    if !args.contains(&"--redis-key-prefix") {
        argv.extend_from_slice(&["--redis-key-prefix", &prefix]);
    }
    argv.extend_from_slice(args);
    let url = redis_url_if(backend);
    if let Some(url) = &url {
        argv.extend_from_slice(&["--redis-url", url, "--store-timeout-ms", "500"]);
    }
    Settings::from_cli(Cli::try_parse_from(argv).expect("test flags parse")).expect("test settings are valid")
}

fn redis_url_if(backend: Backend) -> Option<String> {
    (backend == Backend::Redis).then(redis_url)
}

/// Roles running in this test, with their base URLs.
pub(crate) struct TestApp {
    pub urls: HashMap<ServiceKind, String>,
    pub store: Store,
    handles: Vec<ServerHandle>,
}

impl TestApp {
    pub(crate) fn url(&self, service: ServiceKind, path: &str) -> String {
        format!("{}{}", self.urls[&service], path)
    }

    pub(crate) async fn stop(self) {
        for handle in self.handles {
            handle.stop(true).await;
        }
    }
}

/// Starts the backend roles on port 0 with seeded data.
pub(crate) async fn start(backend: Backend) -> TestApp {
    start_with(settings(backend, &[]), &[ServiceKind::User, ServiceKind::Movie, ServiceKind::Booking], true).await
}

/// Starts `services` from `settings`; booking's upstreams point at the started user and
/// movie roles unless the settings name other ones.
pub(crate) async fn start_with(mut settings: Settings, services: &[ServiceKind], seed: bool) -> TestApp {
    let listeners: Vec<(ServiceKind, TcpListener)> =
        services.iter().map(|s| (*s, TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port"))).collect();
    let mut urls = HashMap::new();
    for (service, listener) in &listeners {
        urls.insert(*service, format!("http://{}", listener.local_addr().unwrap()));
    }
    // An upstream still at its `--role all` default points at the role started here.
    for service in ServiceKind::ALL {
        let at_default = settings.upstreams.base_url(service) == format!("http://127.0.0.1:{}", service.default_port());
        if let (true, Some(url)) = (at_default, urls.get(&service)) {
            settings.upstreams.set_base_url(service, url.clone());
        }
    }
    let shared = Shared::open(settings).expect("store opens");
    let store = shared.store.clone().expect("backend roles have a store");
    if seed {
        store.seed().await.expect("seeding succeeds");
    }
    let mut handles = Vec::new();
    for (service, listener) in listeners {
        let server = build_server(service, listener, &shared).expect("server builds");
        handles.push(server.handle());
        actix_web::rt::spawn(server);
    }
    TestApp { urls, store, handles }
}

/// A response read whole: status, headers and the body parsed as JSON (Null if empty).
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The fields named in a problem+json `errors` list.
    pub(crate) fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().map(|e| e["field"].as_str().unwrap_or("").to_owned()).collect())
            .unwrap_or_default()
    }
}

pub(crate) fn client() -> awc::Client {
    awc::Client::builder().timeout(std::time::Duration::from_secs(10)).finish()
}

async fn read(
    response: Result<
        awc::ClientResponse<
            impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
        >,
        awc::error::SendRequestError,
    >,
) -> Reply {
    let mut response = response.expect("request is answered");
    let bytes = response.body().limit(16 * 1024 * 1024).await.expect("body is readable");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply { status: response.status(), headers: response.headers().clone(), body }
}

pub(crate) async fn get(url: &str) -> Reply {
    read(client().get(url).send().await).await
}

pub(crate) async fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    read(request.send().await).await
}

pub(crate) async fn post(url: &str, body: Value) -> Reply {
    read(client().post(url).send_json(&body).await).await
}

pub(crate) async fn post_raw(url: &str, body: impl Into<actix_web::web::Bytes>) -> Reply {
    read(client().post(url).insert_header(("content-type", "application/json")).send_body(body.into()).await).await
}

pub(crate) async fn delete(url: &str) -> Reply {
    read(client().delete(url).send().await).await
}

/// Generates one `#[actix_web::test]` per store for a test body `async fn(Backend)`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn memory() {
                    super::$name(crate::support::Backend::Memory).await;
                }
                #[actix_web::test]
                async fn redis() {
                    super::$name(crate::support::Backend::Redis).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_stores;

/// A Redis server this test owns, so it can pause, kill and restart it.
pub(crate) struct RedisProcess {
    pub port: u16,
    dir: std::path::PathBuf,
    append_only: bool,
    child: Option<std::process::Child>,
}

impl RedisProcess {
    /// Starts `redis-server` on a free loopback port; with `append_only`, every write is
    /// fsynced to the AOF before Redis answers (the durability the manifests configure).
    pub(crate) fn start(append_only: bool) -> RedisProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("theater-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = RedisProcess { port, dir, append_only, child: None };
        redis.spawn();
        redis
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let aof = if self.append_only { "yes" } else { "no" };
        let port = self.port.to_string();
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port, "--save", "", "--appendonly", aof])
            .args(["--appendfsync", "always"])
            .current_dir(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("redis is running").id().to_string();
        assert!(std::process::Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }

    /// SIGSTOP: the sockets stay open but nothing answers, like a hung server.
    pub(crate) fn pause(&self) {
        self.signal("-STOP");
    }

    pub(crate) fn resume(&self) {
        self.signal("-CONT");
    }

    /// SIGKILL: no chance to flush anything.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and directory (so it reloads its AOF).
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.resume();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Settings for roles on a Redis this test owns.
pub(crate) fn settings_on(redis: &RedisProcess, args: &[&str]) -> Settings {
    let mut settings = settings(Backend::Memory, args);
    settings.store.redis = Some(fred::types::config::Config::from_url(&redis.url()).unwrap());
    settings
}

/// Polls `url` until it answers `wanted`; returns how long that took, or None.
pub(crate) async fn time_until(
    url: &str,
    wanted: StatusCode,
    within: std::time::Duration,
) -> Option<std::time::Duration> {
    let started = std::time::Instant::now();
    while started.elapsed() < within {
        let reply = client().get(url).timeout(std::time::Duration::from_millis(1500)).send().await;
        if reply.is_ok_and(|r| r.status() == wanted) {
            return Some(started.elapsed());
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

/// Starts a stand-in HTTP server on an ephemeral loopback port that answers every
/// request with `handler`; returns its base URL. It lives as long as the test runtime.
pub(crate) fn stand_in<F, Fut>(handler: F) -> String
where
    F: Fn(actix_web::HttpRequest, actix_web::web::Bytes) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = actix_web::HttpResponse> + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(actix_web::web::PayloadConfig::new(64 * 1024 * 1024))
            .default_service(actix_web::web::to(handler.clone()))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    url
}

/// A stand-in that answers 200 only after `delay`.
pub(crate) fn slow_stand_in(delay: std::time::Duration) -> String {
    stand_in(move |_, _| async move {
        actix_web::rt::time::sleep(delay).await;
        actix_web::HttpResponse::Ok().json(serde_json::json!({}))
    })
}

/// An upstream that promises a 100-byte JSON body, sends one byte and hangs up, for
/// the first `times` connections; returns its base URL.
pub(crate) fn dying_upstream(times: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().take(times) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ =
                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{");
            // Dropping the stream closes the connection mid-body.
        }
    });
    url
}

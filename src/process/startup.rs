//! Building a role's server from a bound listener, and running the configured roles
//! until a shutdown signal.
//!
//! Tests call [`build_server`] with a listener on port 0; `main` calls [`run`].

use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::data::store::{OpenError, Store};
use crate::http::chaos::{self, Chaos};
use crate::http::identity::Identity;
use crate::http::request::RequestTimeout;
use crate::http::{api, metrics, telemetry, upstream};
use crate::process::openapi;
use crate::roles::gateway::GatewayState;
use crate::roles::{booking, gateway, meta, movie, user};
use crate::settings::cli::Role;
use crate::settings::config::Settings;
use crate::settings::service::ServiceKind;

/// Why the process could not serve.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] OpenError),
    #[error("{service}: cannot listen on {address}:{port}: {source}")]
    Bind { service: ServiceKind, address: IpAddr, port: u16, source: io::Error },
    #[error("{service}: {source}")]
    Serve { service: ServiceKind, source: io::Error },
    #[error("{0}")]
    Stopped(io::Error),
}

/// What every served role in the process shares.
#[derive(Clone)]
pub struct Shared {
    pub(crate) settings: Arc<Settings>,
    /// `None` only when the process serves no backend role.
    pub store: Option<Store>,
}

impl Shared {
    /// Opens the store if a served role needs one and, unless `--no-seed`, seeds it in
    /// the background (retrying until the store answers).
    pub fn open(settings: Settings) -> Result<Shared, OpenError> {
        let needs_store = settings.listeners().iter().any(|(service, _)| service.uses_store());
        let store = if needs_store { Some(Store::open(&settings.store)?) } else { None };
        if matches!(store, Some(Store::Memory(_))) && settings.role != Role::All {
            tracing::warn!("no REDIS_URL: data lives in this process only and is not shared with other roles");
        }
        if let (Some(store), true) = (&store, settings.seed) {
            tokio::spawn(seed_until_done(store.clone()));
        }
        Ok(Shared { settings: Arc::new(settings), store })
    }
}

async fn seed_until_done(store: Store) {
    let mut delay = Duration::from_millis(200);
    loop {
        match store.seed().await {
            Ok(()) => {
                tracing::info!(store = store.kind(), "sample data present");
                return;
            }
            Err(e) => {
                tracing::warn!(?e, retry_in_ms = delay.as_millis() as u64, "seeding failed; will retry");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The server of one role on an already bound listener (not yet running).
pub fn build_server(service: ServiceKind, listener: TcpListener, shared: &Shared) -> io::Result<Server> {
    let settings = shared.settings.clone();
    let identity = web::Data::new(Identity::new(service, &settings.identity));
    let store = shared.store.clone();
    let upstreams = web::Data::new(settings.upstreams.clone());
    let request_timeout = RequestTimeout(settings.request_timeout);
    let gateway = (service == ServiceKind::Gateway).then(|| GatewayState::new(&settings));
    // Per role, so chaos on user-service leaves the others alone under --role all.
    let chaos = web::Data::new(Chaos::new(settings.chaos.is_some(), settings.chaos.unwrap_or_default()));
    // Built once (on first use), not per request: `/openapi.json` and a backend's `/` read it.
    let api_doc = web::Data::new(meta::ApiDoc::new(move || openapi::document(service)));
    let mut server = HttpServer::new(move || {
        // Outermost last: the log sees everything; identity headers reach injected errors.
        let mut app = App::new()
            .wrap(from_fn(chaos::inject))
            .wrap(from_fn(metrics::observe))
            .wrap(identity.headers())
            .wrap(from_fn(telemetry::log_request))
            .app_data(identity.clone())
            .app_data(upstreams.clone())
            .app_data(chaos.clone())
            .app_data(api_doc.clone())
            .app_data(request_timeout)
            .configure(meta::routes)
            .configure(chaos::routes)
            .default_service(web::to(api::not_found));
        if let Some(store) = &store {
            // Runs on each worker thread as it starts; the config was checked at start-up.
            let store = store.for_this_thread().expect("a Redis config that built once builds again");
            app = app.app_data(web::Data::new(store));
        }
        if let Some(gateway) = &gateway {
            app = app.app_data(gateway.traffic.clone()).app_data(gateway.kube.clone()).app_data(gateway.ui.clone());
        }
        // Only roles that call other services need a client (one per worker thread).
        if service.calls_others() {
            app = app.app_data(web::Data::new(upstream::client(&upstreams)));
        }
        if service.prefix().is_some() {
            // A backend's `/` says who it is (the gateway's `/` is the page).
            app = app.configure(meta::about_routes);
        }
        app.configure(match service {
            ServiceKind::Gateway => gateway::routes,
            ServiceKind::User => user::routes,
            ServiceKind::Movie => movie::routes,
            ServiceKind::Booking => booking::routes,
        })
    })
    .client_request_timeout(settings.request_timeout)
    .shutdown_timeout(settings.shutdown_timeout.as_secs());
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.listen(listener)?.run())
}

/// Binds every configured role's port, then serves until SIGTERM/SIGINT, letting
/// in-flight requests finish.
pub async fn run(settings: Settings) -> Result<(), StartupError> {
    let listen_addr = settings.listen_addr;
    let listeners = settings.listeners();
    let shared = Shared::open(settings)?;
    let mut servers = Vec::new();
    for (service, port) in listeners {
        let listener = TcpListener::bind((listen_addr, port)).map_err(|source| StartupError::Bind {
            service,
            address: listen_addr,
            port,
            source,
        })?;
        tracing::info!(
            service = service.name(),
            role = service.role(),
            cluster = shared.settings.identity.cluster,
            pod = shared.settings.identity.pod,
            address = %listener.local_addr().map_err(|source| StartupError::Serve { service, source })?,
            store = shared.store.as_ref().filter(|_| service.uses_store()).map_or("none", Store::kind),
            "listening"
        );
        servers
            .push(build_server(service, listener, &shared).map_err(|source| StartupError::Serve { service, source })?);
    }
    futures_util::future::try_join_all(servers).await.map_err(StartupError::Stopped)?;
    tracing::info!("stopped");
    Ok(())
}

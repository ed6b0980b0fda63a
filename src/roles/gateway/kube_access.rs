//! Reading the gateway's own namespace from the Kubernetes API with the `kube` crate
//! (this module is `kube_access`, not `kube`, so the two names cannot be confused).
//!
//! In a pod the ServiceAccount's token and CA are used; outside one, the kubeconfig
//! (`--kubeconfig`/`KUBECONFIG`). Answers are cached briefly so a page polling every
//! second, on every student's laptop, does not hammer the API server.

use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use parking_lot::Mutex;
use serde_json::Value;

use super::rules::Rules;

/// How long an answer from the API is reused.
const CACHE_FOR: Duration = Duration::from_secs(3);
/// Longest wait for the API server, after which the page says it is unavailable.
const API_TIMEOUT: Duration = Duration::from_secs(4);

/// Why the gateway cannot show what the API holds; its text is the `reason` the page
/// shows, in words a student can act on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KubeError {
    #[error("cannot read kubeconfig {path}: {source}")]
    ReadKubeconfig { path: String, source: kube::config::KubeconfigError },
    #[error("unusable kubeconfig {path}: {source}")]
    UnusableKubeconfig { path: String, source: kube::config::KubeconfigError },
    #[error("no Kubernetes API configured (not in a pod, no kubeconfig): {0}")]
    NoConfig(#[from] kube::config::InferConfigError),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    #[error("the Kubernetes API did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("forbidden: the gateway's ServiceAccount may not read this ({0})")]
    Forbidden(String),
    #[error("the API answered {code}: {message}")]
    Api { code: u16, message: String },
    #[error("cannot reach the Kubernetes API: {0}")]
    Unreachable(#[source] kube::Error),
    /// No Istio API version the gateway knows is served.
    #[error("networking.istio.io/{0} is not served (is Istio installed?)")]
    NotServed(&'static str),
    /// The mesh lab's rules file (`--mesh-rules-file`) could not be used.
    #[error("{0}")]
    RulesFile(String),
}

impl KubeError {
    /// Nothing points at a cluster: no pod, no kubeconfig (a laptop, `--role all`).
    pub(crate) fn no_cluster(&self) -> bool {
        matches!(self, KubeError::NoConfig(_))
    }
}

/// A kube error in words a student can act on.
impl From<kube::Error> for KubeError {
    fn from(err: kube::Error) -> Self {
        match err {
            kube::Error::Api(status) if status.code == 403 => KubeError::Forbidden(status.message),
            kube::Error::Api(status) => KubeError::Api { code: status.code, message: status.message },
            other => KubeError::Unreachable(other),
        }
    }
}

/// Where the gateway finds the API, and its short-lived answers.
pub(crate) struct KubeAccess {
    kubeconfig: Option<String>,
    pub(crate) namespace: String,
    /// Where the mesh lab writes the rules it plays (no API there); read instead.
    pub(crate) rules_file: Option<std::path::PathBuf>,
    mesh: Slot<Rules>,
    pods: Slot<Value>,
}

/// One cached answer and when it was read.
type Slot<T> = Mutex<Option<(Instant, T)>>;

/// An answer the gateway caches: the mesh's rules or the namespace's pods.
pub(crate) trait Cached: Clone {
    fn slot(kube: &KubeAccess) -> &Slot<Self>;
}

impl Cached for Rules {
    fn slot(kube: &KubeAccess) -> &Slot<Self> {
        &kube.mesh
    }
}

/// The pods, as `topology` lists them.
impl Cached for Value {
    fn slot(kube: &KubeAccess) -> &Slot<Self> {
        &kube.pods
    }
}

impl KubeAccess {
    pub(crate) fn new(kubeconfig: Option<String>, namespace: String, rules_file: Option<std::path::PathBuf>) -> Self {
        KubeAccess { kubeconfig, namespace, rules_file, mesh: Mutex::default(), pods: Mutex::default() }
    }

    async fn client(&self) -> Result<Client, KubeError> {
        let mut config = match &self.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path)
                    .map_err(|source| KubeError::ReadKubeconfig { path: path.clone(), source })?;
                Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                    .await
                    .map_err(|source| KubeError::UnusableKubeconfig { path: path.clone(), source })?
            }
            None => Config::infer().await?,
        };
        config.connect_timeout = Some(Duration::from_secs(2));
        config.read_timeout = Some(API_TIMEOUT);
        Client::try_from(config).map_err(KubeError::Client)
    }

    /// The cached answer if fresh, else `fetch`'s (cached when it succeeded).
    pub(crate) async fn cached<T, F, Fut>(&self, fetch: F) -> Result<T, KubeError>
    where
        T: Cached,
        F: FnOnce(Client, String) -> Fut,
        Fut: Future<Output = Result<T, KubeError>>,
    {
        let fresh =
            T::slot(self).lock().as_ref().and_then(|(at, value)| (at.elapsed() < CACHE_FOR).then(|| value.clone()));
        if let Some(value) = fresh {
            return Ok(value);
        }
        let client = self.client().await?;
        let value = actix_web::rt::time::timeout(API_TIMEOUT, fetch(client, self.namespace.clone()))
            .await
            .map_err(|_| KubeError::Timeout(API_TIMEOUT))??;
        *T::slot(self).lock() = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

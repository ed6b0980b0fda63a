//! Reading the gateway's own namespace from the Kubernetes API (the `kube` crate).
//!
//! In a pod the ServiceAccount's token and CA are used; outside one, the kubeconfig
//! (`--kubeconfig`/`KUBECONFIG`). Answers are cached briefly so a page polling every
//! second, on every student's laptop, does not hammer the API server.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value;

use crate::sync::lock;

/// How long an answer from the API is reused.
const CACHE_FOR: Duration = Duration::from_secs(3);
/// Longest wait for the API server, after which the page says it is unavailable.
const API_TIMEOUT: Duration = Duration::from_secs(4);

/// Where the gateway finds the API, and its short-lived answers.
pub struct KubeAccess {
    kubeconfig: Option<String>,
    pub namespace: String,
    /// Where the mesh lab writes the rules it plays (no API there); read instead.
    pub rules_file: Option<std::path::PathBuf>,
    mesh: Mutex<Option<(Instant, Value)>>,
    pods: Mutex<Option<(Instant, Value)>>,
}

/// Which cached answer.
#[derive(Clone, Copy)]
pub enum Cached {
    Mesh,
    Pods,
}

impl KubeAccess {
    pub fn new(kubeconfig: Option<String>, namespace: String, rules_file: Option<std::path::PathBuf>) -> Self {
        KubeAccess { kubeconfig, namespace, rules_file, mesh: Mutex::default(), pods: Mutex::default() }
    }

    async fn client(&self) -> Result<Client, String> {
        let mut config = match &self.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|e| format!("cannot read kubeconfig {path}: {e}"))?;
                Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| format!("unusable kubeconfig {path}: {e}"))?
            }
            None => Config::infer()
                .await
                .map_err(|e| format!("no Kubernetes API configured (not in a pod, no kubeconfig): {e}"))?,
        };
        config.connect_timeout = Some(Duration::from_secs(2));
        config.read_timeout = Some(API_TIMEOUT);
        Client::try_from(config).map_err(|e| format!("cannot build a Kubernetes client: {e}"))
    }

    fn slot(&self, which: Cached) -> &Mutex<Option<(Instant, Value)>> {
        match which {
            Cached::Mesh => &self.mesh,
            Cached::Pods => &self.pods,
        }
    }

    /// The cached answer if fresh, else `fetch`'s (cached when it succeeded).
    pub async fn cached<F, Fut>(&self, which: Cached, fetch: F) -> Result<Value, String>
    where
        F: FnOnce(Client, String) -> Fut,
        Fut: Future<Output = Result<Value, String>>,
    {
        let fresh =
            lock(self.slot(which)).as_ref().and_then(|(at, value)| (at.elapsed() < CACHE_FOR).then(|| value.clone()));
        if let Some(value) = fresh {
            return Ok(value);
        }
        let client = self.client().await?;
        let value = actix_web::rt::time::timeout(API_TIMEOUT, fetch(client, self.namespace.clone()))
            .await
            .map_err(|_| format!("the Kubernetes API did not answer within {} s", API_TIMEOUT.as_secs()))??;
        *lock(self.slot(which)) = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

/// A kube error in words a student can act on.
pub fn explain(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if status.code == 403 => {
            format!("forbidden: the gateway's ServiceAccount may not read this ({})", status.message)
        }
        kube::Error::Api(status) => format!("the API answered {}: {}", status.code, status.message),
        other => format!("cannot reach the Kubernetes API: {other}"),
    }
}

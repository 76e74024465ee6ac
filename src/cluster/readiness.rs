//! The Pod condition `verity.dev/ready` on this replica's own Pod status: True when the models
//! are warm, the gallery has caught up and the server is not draining; False with the reason
//! otherwise. A `readinessGates` entry in the Deployment holds traffic until it is True.

use std::{sync::Arc, time::Duration};

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{
    api::{Api, Patch, PatchParams},
    Client,
};
use serde::Serialize;
use serde_json::json;

use super::{Backoff, Cluster, Identity, ReadinessFn};

pub const CONDITION: &str = "verity.dev/ready";

/// This replica's readiness and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    /// CamelCase, as Kubernetes condition reasons are: `Ready`, `ModelsLoading`,
    /// `GalleryCatchingUp`, `Draining`; `GalleryStoreUnavailable` is ready (a database outage
    /// is every replica's, see `api::health::readiness`).
    pub reason: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConditionState {
    pub status: String,
    pub reason: String,
}

/// Re-patches even without a change this often (the condition survives a Pod status rewrite).
const RESYNC: Duration = Duration::from_secs(30);
const TICK: Duration = Duration::from_secs(1);

pub async fn patch(api: &Api<Pod>, pod: &str, r: &Readiness) -> Result<(), kube::Error> {
    let status = if r.ready { "True" } else { "False" };
    let body = json!({
        "status": { "conditions": [{
            "type": CONDITION,
            "status": status,
            "reason": r.reason,
            "message": r.message,
            "lastTransitionTime": Timestamp::now().to_string(),
        }]}
    });
    api.patch_status(pod, &PatchParams::default(), &Patch::Strategic(body)).await.map(|_| ())
}

pub async fn run(cluster: Arc<Cluster>, client: Client, pod: Identity, readiness: ReadinessFn) {
    let api: Api<Pod> = Api::namespaced(client, &pod.namespace);
    let mut reported: Option<(Readiness, tokio::time::Instant)> = None;
    let mut backoff = Backoff::new();
    loop {
        let now = readiness();
        let due = match &reported {
            None => true,
            Some((r, at)) => *r != now || at.elapsed() >= RESYNC,
        };
        let mut wait = TICK;
        if due {
            match patch(&api, &pod.name, &now).await {
                Ok(()) => {
                    if reported.as_ref().is_none_or(|(r, _)| r.ready != now.ready || r.reason != now.reason) {
                        tracing::info!(ready = now.ready, reason = now.reason, "Pod condition {CONDITION} patched");
                    }
                    cluster.clear_error("readiness");
                    cluster.update(|s| {
                        s.condition = Some(ConditionState {
                            status: if now.ready { "True" } else { "False" }.into(),
                            reason: now.reason.into(),
                        })
                    });
                    reported = Some((now, tokio::time::Instant::now()));
                    backoff.reset();
                }
                Err(e) => {
                    cluster
                        .set_error("readiness", format!("patching the {CONDITION} condition of Pod {}: {e}", pod.name));
                    wait = backoff.step();
                }
            }
        }
        if cluster.stopping() {
            break;
        }
        let mut stop = cluster.stop.subscribe();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cluster.wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
    // Stopping: make sure the last word is "not ready".
    let last = readiness();
    if last.ready {
        let draining = Readiness { ready: false, reason: "Draining", message: "shutting down".into() };
        let _ = patch(&api, &pod.name, &draining).await;
    } else if reported.as_ref().is_none_or(|(r, _)| *r != last) {
        let _ = patch(&api, &pod.name, &last).await;
    }
}

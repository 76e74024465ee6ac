//! Kubernetes integration: this pod's identity (downward API), its readiness reported as the Pod
//! condition `verity.dev/ready`, leader election on a `coordination.k8s.io/v1` Lease, and the
//! peers from the EndpointSlices of the headless Service. A no-op outside Kubernetes (no
//! `POD_NAME`/`POD_NAMESPACE`). API errors never stop the process: every loop retries with
//! backoff, logs, and shows the last error in `GET /v1/cluster` and `/readyz`.

pub mod jobs;
pub mod lease;
pub mod maintenance;
pub mod peers;
pub mod readiness;
pub mod reembed_job;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::Serialize;
use tokio::sync::watch;

use crate::config::ClusterArgs;

pub use readiness::Readiness;

/// Every Kubernetes API call verity makes, as RBAC rules: (API group, resource, verbs). The
/// chart's Role (helm/verity/templates/rbac.yaml) must grant exactly these (a unit test
/// compares them); a new call here means a new verb there.
pub const API_CALLS: &[(&str, &str, &[&str])] = &[
    // lease.rs: get_opt, create, replace; jobs.rs: create, list, replace, delete (chunk leases).
    ("coordination.k8s.io", "leases", &["get", "list", "create", "update", "delete"]),
    // peers.rs: the watcher lists, then watches.
    ("discovery.k8s.io", "endpointslices", &["list", "watch"]),
    // readiness.rs: patch_status of its own Pod.
    ("", "pods/status", &["patch"]),
];

/// Who this replica is, from the downward API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Identity {
    pub name: String,
    pub namespace: String,
    pub ip: Option<String>,
}

/// One replica, as the EndpointSlices of the headless Service list it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Peer {
    /// The Pod's name (the endpoint's targetRef), else its address.
    pub name: String,
    pub ip: String,
    pub ready: bool,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct LeaderStatus {
    /// The Lease's name.
    pub lease: String,
    /// The current holder as last read; null when the Lease is free.
    pub holder: Option<String>,
    /// This replica holds the Lease.
    pub is_self: bool,
}

/// `GET /v1/cluster`.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ClusterStatus {
    /// False outside Kubernetes (no POD_NAME / POD_NAMESPACE).
    pub enabled: bool,
    pub pod: Option<Identity>,
    pub leader: LeaderStatus,
    pub peers: Vec<Peer>,
    /// The `verity.dev/ready` condition as last patched on this Pod: (status, reason).
    pub condition: Option<readiness::ConditionState>,
    /// The last error of each loop (client, lease, readiness, peers); empty when healthy.
    pub errors: BTreeMap<String, String>,
}

/// Computes this replica's readiness (models, gallery, draining) when asked.
pub type ReadinessFn = Arc<dyn Fn() -> Readiness + Send + Sync>;

pub struct Cluster {
    status: Mutex<ClusterStatus>,
    /// Tells the loops to stop (after the drain, for the Lease release).
    stop: watch::Sender<bool>,
    handles: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Set by the lease loop; read by singleton work.
    leader: watch::Sender<bool>,
    /// Wakes the readiness loop (e.g. on SIGTERM) instead of waiting for its next tick.
    wake: tokio::sync::Notify,
    client: std::sync::OnceLock<kube::Client>,
    pub(crate) args: ClusterArgs,
}

impl Cluster {
    /// A cluster that does nothing (outside Kubernetes, tests, CLI).
    pub fn disabled() -> Arc<Cluster> {
        Arc::new(Cluster::new(ClusterArgs::default(), false, None))
    }

    fn new(args: ClusterArgs, enabled: bool, pod: Option<Identity>) -> Cluster {
        let status = ClusterStatus {
            enabled,
            pod,
            leader: LeaderStatus { lease: args.lease_name.clone(), ..LeaderStatus::default() },
            ..ClusterStatus::default()
        };
        Cluster {
            status: Mutex::new(status),
            stop: watch::channel(false).0,
            handles: Mutex::new(Vec::new()),
            leader: watch::channel(false).0,
            wake: tokio::sync::Notify::new(),
            client: std::sync::OnceLock::new(),
            args,
        }
    }

    /// Starts the loops when `POD_NAME` and `POD_NAMESPACE` are set; otherwise a no-op.
    /// Must run inside a Tokio runtime.
    pub fn start(args: ClusterArgs, readiness: ReadinessFn) -> Arc<Cluster> {
        let (Some(name), Some(namespace)) = (args.pod_name.clone(), args.pod_namespace.clone()) else {
            tracing::info!("not in Kubernetes (no POD_NAME/POD_NAMESPACE): cluster features off");
            return Arc::new(Cluster::new(args, false, None));
        };
        let pod = Identity { name, namespace, ip: args.pod_ip.clone() };
        tracing::info!(pod = %pod.name, namespace = %pod.namespace, lease = %args.lease_name, "in Kubernetes: cluster features on");
        let cluster = Arc::new(Cluster::new(args, true, Some(pod.clone())));
        let c = cluster.clone();
        let handle = tokio::spawn(async move {
            let Some(client) = c.connect().await else { return };
            let mut handles = Vec::new();
            handles.push(tokio::spawn(lease::run(c.clone(), client.clone(), pod.clone())));
            handles.push(tokio::spawn(readiness::run(c.clone(), client.clone(), pod.clone(), readiness)));
            if let Some(service) = c.args.peers_service.clone() {
                handles.push(tokio::spawn(peers::run(c.clone(), client, pod.namespace.clone(), service)));
            }
            c.handles.lock().unwrap_or_else(|p| p.into_inner()).extend(handles);
        });
        cluster.handles.lock().unwrap_or_else(|p| p.into_inner()).push(handle);
        cluster
    }

    /// The Kubernetes client (in-cluster config or KUBECONFIG), retried with backoff.
    async fn connect(&self) -> Option<kube::Client> {
        let mut backoff = Backoff::new();
        loop {
            match kube::Client::try_default().await {
                Ok(client) => {
                    let _ = self.client.set(client.clone());
                    self.clear_error("client");
                    return Some(client);
                }
                Err(e) => {
                    self.set_error("client", format!("cannot build the Kubernetes client: {e}"));
                    if self.sleep_or_stop(backoff.step()).await {
                        return None;
                    }
                }
            }
        }
    }

    /// The Kubernetes client once connected (None outside Kubernetes or before).
    pub fn client(&self) -> Option<kube::Client> {
        self.client.get().cloned()
    }

    /// The pause after each re-embedding chunk.
    pub fn jobs_throttle(&self) -> Duration {
        Duration::from_millis(self.args.jobs_throttle_ms)
    }

    /// Lease duration (seconds) for chunk leases.
    pub fn lease_seconds(&self) -> i32 {
        self.args.lease_duration_seconds.max(1) as i32
    }

    /// Starts the shared-work loops (every replica works; the leader assigns) once the client
    /// is connected. For a gallery shared through PostgreSQL only.
    pub fn start_jobs(
        self: &Arc<Self>,
        faces: crate::pipeline::FacePipeline,
        gallery: Arc<crate::gallery::Gallery>,
        throttle: Duration,
    ) {
        let c = self.clone();
        let handle = tokio::spawn(async move {
            let Some(pod) = c.status().pod else { return };
            // The client comes when the API server answers (the connect loop retries).
            let client = loop {
                if let Some(client) = c.client() {
                    break client;
                }
                if c.sleep_or_stop(Duration::from_millis(200)).await {
                    return;
                }
            };
            let assign = tokio::spawn(jobs::assign(c.clone(), client.clone(), pod.namespace.clone(), pod.name.clone()));
            let work = tokio::spawn(jobs::work(c.clone(), client, pod.namespace, pod.name, faces, gallery, throttle));
            let _ = futures_util::future::join(assign, work).await;
        });
        self.handles.lock().unwrap_or_else(|p| p.into_inner()).push(handle);
    }

    pub fn status(&self) -> ClusterStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn is_enabled(&self) -> bool {
        self.status().enabled
    }

    /// Whether this replica holds the leader Lease now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Leadership changes, for singleton work.
    pub fn leadership(&self) -> watch::Receiver<bool> {
        self.leader.subscribe()
    }

    fn update(&self, f: impl FnOnce(&mut ClusterStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn set_error(&self, part: &str, message: String) {
        tracing::warn!(part, "{message}; retrying");
        self.update(|s| {
            s.errors.insert(part.to_string(), message);
        });
    }

    fn clear_error(&self, part: &str) {
        self.update(|s| {
            s.errors.remove(part);
        });
    }

    /// Sleeps `d`, or returns true at once when the cluster is stopping.
    async fn sleep_or_stop(&self, d: Duration) -> bool {
        let mut stop = self.stop.subscribe();
        if *stop.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = stop.changed() => true,
        }
    }

    /// Re-evaluates and reports readiness now (called on SIGTERM).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Last step of a graceful shutdown (after the drain and the in-flight requests): stops the
    /// loops; the lease loop releases the Lease so another replica takes over at once; the
    /// readiness loop leaves the condition False (Draining). Waits at most `timeout`.
    pub async fn shutdown(&self, timeout: Duration) {
        self.stop.send_replace(true);
        let handles: Vec<_> = std::mem::take(&mut *self.handles.lock().unwrap_or_else(|p| p.into_inner()));
        let all = futures_util::future::join_all(handles);
        if tokio::time::timeout(timeout, all).await.is_err() {
            tracing::warn!("cluster loops did not stop within {timeout:?}");
        }
    }
}

/// Exponential backoff with jitter: 0.5 s doubling to 30 s.
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff { next: Duration::from_millis(500) }
    }

    pub fn step(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(30));
        let jitter =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |t| t.subsec_millis());
        d + Duration::from_millis(u64::from(jitter) % (d.as_millis() as u64 / 4 + 1))
    }

    pub fn reset(&mut self) {
        self.next = Duration::from_millis(500);
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::API_CALLS;

    fn list(line: &str) -> Vec<String> {
        let inner = line.split_once('[').and_then(|(_, r)| r.rsplit_once(']')).map_or("", |(l, _)| l);
        inner
            .split(',')
            .map(|v| v.trim().trim_matches('"').to_string())
            .filter(|v| !v.is_empty() || inner.contains("\"\""))
            .collect()
    }

    /// The Role's rules, read from the template (they are plain flow-style YAML there).
    fn role_rules() -> BTreeSet<(String, String, String)> {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/helm/verity/templates/rbac.yaml")).unwrap();
        let role = text.split("---").next().unwrap();
        let mut rules = BTreeSet::new();
        let (mut groups, mut resources) = (Vec::new(), Vec::new());
        for line in role.lines().map(str::trim) {
            if let Some(l) = line.strip_prefix("- apiGroups:") {
                groups = list(l);
            } else if let Some(l) = line.strip_prefix("resources:") {
                resources = list(l);
            } else if let Some(l) = line.strip_prefix("verbs:") {
                for g in &groups {
                    for r in &resources {
                        for v in list(l) {
                            rules.insert((g.clone(), r.clone(), v));
                        }
                    }
                }
            }
        }
        rules
    }

    #[test]
    fn the_chart_role_grants_exactly_the_calls_the_code_makes() {
        let code: BTreeSet<(String, String, String)> = API_CALLS
            .iter()
            .flat_map(|(g, r, verbs)| verbs.iter().map(move |v| (g.to_string(), r.to_string(), v.to_string())))
            .collect();
        assert_eq!(role_rules(), code);
    }
}

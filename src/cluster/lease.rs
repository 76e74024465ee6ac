//! Leader election on a `coordination.k8s.io/v1` Lease, with optimistic concurrency through
//! `resourceVersion`: every write is a replace of the version just read, so two replicas can
//! never both win (the second gets 409 Conflict and reads again).
//!
//! Expiry is judged like client-go does, on this replica's monotonic clock: a Lease held by
//! someone else is taken over when its record has not changed for `leaseDurationSeconds` since
//! we first saw it, so clock skew between nodes does not matter. A graceful stop releases the
//! Lease (holder cleared) and the others take it on their next try.

use std::time::{Duration, Instant};

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{
    api::{Api, PostParams},
    Client,
};

use super::{Backoff, Cluster, Identity};
use crate::telemetry::metrics;

/// What one try saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// We hold the Lease (acquired or renewed).
    Leader,
    /// Someone else holds it (or won the race).
    Follower(Option<String>),
}

/// The last record seen and when (our clock), for the expiry judgement.
#[derive(Default)]
struct Observed {
    record: Option<(Option<String>, Option<String>)>, // (holder, resourceVersion)
    since: Option<Instant>,
}

pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
    observed: Observed,
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl Elector {
    pub fn new(client: Client, namespace: &str, name: &str, identity: &str, duration: Duration) -> Elector {
        Elector {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            duration,
            observed: Observed::default(),
        }
    }

    fn spec(&self, transitions: i32, acquire: Option<MicroTime>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.duration.as_secs().max(1) as i32),
            acquire_time: acquire.or_else(|| Some(now())),
            renew_time: Some(now()),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// One acquire-or-renew attempt.
    pub async fn try_once(&mut self) -> Result<Outcome, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.name.clone()), ..ObjectMeta::default() },
                spec: Some(self.spec(0, None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Outcome::Leader),
                Err(e) if is_conflict(&e) => Ok(Outcome::Follower(None)),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let record = (holder.clone(), lease.metadata.resource_version.clone());
        if self.observed.record.as_ref() != Some(&record) {
            self.observed = Observed { record: Some(record), since: Some(Instant::now()) };
        }
        let duration = spec.lease_duration_seconds.map_or(self.duration, |s| Duration::from_secs(s.max(1) as u64));
        let expired = self.observed.since.is_some_and(|t| t.elapsed() > duration);
        let transitions = spec.lease_transitions.unwrap_or(0);
        let new_spec = match holder.as_deref() {
            Some(h) if h == self.identity => self.spec(transitions, spec.acquire_time.clone()),
            Some(_) if !expired => return Ok(Outcome::Follower(holder)),
            _ => self.spec(transitions + 1, None),
        };
        lease.spec = Some(new_spec);
        // `lease.metadata.resource_version` is the version we read: a concurrent writer makes
        // this replace fail with 409.
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(l) => {
                self.observed = Observed {
                    record: Some((Some(self.identity.clone()), l.metadata.resource_version)),
                    since: Some(Instant::now()),
                };
                Ok(Outcome::Leader)
            }
            Err(e) if is_conflict(&e) => Ok(Outcome::Follower(holder)),
            Err(e) => Err(e),
        }
    }

    /// Clears the holder if it is us, so another replica takes over at once.
    pub async fn release(&mut self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else { return Ok(false) };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(false);
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        spec.acquire_time = None;
        lease.spec = Some(spec);
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The election loop: tries every third of the lease duration; a leader that cannot renew
/// within the duration steps down (it can no longer be sure it holds the Lease).
pub async fn run(cluster: std::sync::Arc<Cluster>, client: Client, pod: Identity) {
    let duration = Duration::from_secs(cluster.args.lease_duration_seconds.max(1));
    let retry = (duration / 3).max(Duration::from_millis(500));
    let mut elector = Elector::new(client, &pod.namespace, &cluster.args.lease_name, &pod.name, duration);
    let mut backoff = Backoff::new();
    let mut last_renewed: Option<Instant> = None;
    loop {
        let wait = match elector.try_once().await {
            Ok(outcome) => {
                backoff.reset();
                cluster.clear_error("lease");
                let leader = outcome == Outcome::Leader;
                if leader {
                    last_renewed = Some(Instant::now());
                }
                set_leader(
                    &cluster,
                    leader,
                    match outcome {
                        Outcome::Leader => Some(pod.name.clone()),
                        Outcome::Follower(h) => h,
                    },
                );
                retry
            }
            Err(e) => {
                cluster.set_error("lease", format!("lease {}: {e}", cluster.args.lease_name));
                if cluster.is_leader() && last_renewed.is_none_or(|t| t.elapsed() > duration) {
                    tracing::warn!("could not renew the Lease within its duration: stepping down");
                    set_leader(&cluster, false, None);
                }
                backoff.step().min(retry)
            }
        };
        if cluster.sleep_or_stop(wait).await {
            break;
        }
    }
    if cluster.is_leader() {
        match elector.release().await {
            Ok(released) => tracing::info!(released, "leader Lease released"),
            Err(e) => tracing::warn!("could not release the Lease ({e}); it expires by itself"),
        }
    }
    set_leader(&cluster, false, None);
}

fn set_leader(cluster: &Cluster, leader: bool, holder: Option<String>) {
    if cluster.is_leader() != leader {
        tracing::info!(leader, "leadership changed");
        cluster.leader.send_replace(leader);
    }
    metrics::get().set_leader(leader);
    cluster.update(|s| {
        s.leader.holder = holder;
        s.leader.is_self = leader;
    });
}

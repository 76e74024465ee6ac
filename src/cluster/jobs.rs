//! Shared work through the Kubernetes API: a re-embedding job is one Lease per chunk (label
//! `verity.dev/job`, the chunk's face-id range in annotations). The leader assigns each
//! pending chunk to a ready peer by making it the Lease's holder; a holder renews its pending
//! chunks' Leases while it works; a chunk whose holder is no longer a ready peer, or whose
//! record stops changing for the lease duration (a killed process), is reassigned. A worker
//! deletes the Lease once the chunk is committed; the store's chunk row makes the commit
//! exactly-once, so a chunk run twice (after a reassignment) writes once.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{
    api::{Api, DeleteParams, ListParams, PostParams},
    Client,
};

use super::Cluster;
use crate::{
    gallery::Gallery,
    pipeline::{
        reembed::{run_chunk, Chunk},
        FacePipeline,
    },
};

pub const JOB_LABEL: &str = "verity.dev/job";
const TICK: Duration = Duration::from_secs(1);
/// A holder whose chunk went stale is not given work for this long.
const SUSPECT_FOR: Duration = Duration::from_secs(60);

fn lease_name(job: &str, index: i64) -> String {
    format!("verity-job-{job}-{index}")
}

fn annotation<'a>(l: &'a Lease, key: &str) -> Option<&'a str> {
    l.metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

fn chunk_of(l: &Lease) -> Option<Chunk> {
    Some(Chunk {
        job_id: l.metadata.labels.as_ref()?.get(JOB_LABEL)?.clone(),
        index: annotation(l, "verity.dev/chunk")?.parse().ok()?,
        collection: annotation(l, "verity.dev/collection")?.to_string(),
        first: annotation(l, "verity.dev/first")?.to_string(),
        last: annotation(l, "verity.dev/last")?.to_string(),
    })
}

fn holder(l: &Lease) -> Option<String> {
    l.spec.as_ref()?.holder_identity.clone().filter(|h| !h.is_empty())
}

/// Creates the chunk Leases of a new job (unassigned: the leader hands them out).
pub async fn create(client: Client, namespace: &str, chunks: &[Chunk], lease_seconds: i32) -> Result<(), kube::Error> {
    let api: Api<Lease> = Api::namespaced(client, namespace);
    for c in chunks {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(lease_name(&c.job_id, c.index)),
                labels: Some(BTreeMap::from([(JOB_LABEL.to_string(), c.job_id.clone())])),
                annotations: Some(BTreeMap::from([
                    ("verity.dev/chunk".to_string(), c.index.to_string()),
                    ("verity.dev/collection".to_string(), c.collection.clone()),
                    ("verity.dev/first".to_string(), c.first.clone()),
                    ("verity.dev/last".to_string(), c.last.clone()),
                ])),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec { lease_duration_seconds: Some(lease_seconds), ..LeaseSpec::default() }),
        };
        api.create(&PostParams::default(), &lease).await?;
    }
    Ok(())
}

fn with_holder(mut l: Lease, holder: Option<&str>) -> Lease {
    let mut spec = l.spec.take().unwrap_or_default();
    spec.holder_identity = holder.map(String::from);
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    l.spec = Some(spec);
    l
}

/// The leader's loop: assigns pending chunks to ready peers, reassigns stale ones.
pub async fn assign(cluster: Arc<Cluster>, client: Client, namespace: String, me: String) {
    let api: Api<Lease> = Api::namespaced(client, &namespace);
    let stale_after = Duration::from_secs(cluster.args.lease_duration_seconds.max(1));
    let mut observed: HashMap<String, (Option<String>, Instant)> = HashMap::new();
    let mut suspects: HashMap<String, Instant> = HashMap::new();
    let mut leadership = cluster.leadership();
    loop {
        if cluster.sleep_or_stop(TICK).await {
            return;
        }
        if !*leadership.borrow_and_update() {
            observed.clear();
            continue;
        }
        let leases = match api.list(&ListParams::default().labels(JOB_LABEL)).await {
            Ok(l) => l.items,
            Err(e) => {
                cluster.set_error("jobs", format!("listing job leases: {e}"));
                continue;
            }
        };
        cluster.clear_error("jobs");
        suspects.retain(|_, t| t.elapsed() < SUSPECT_FOR);
        let status = cluster.status();
        let mut candidates: Vec<String> = status.peers.iter().filter(|p| p.ready).map(|p| p.name.clone()).collect();
        if cluster.args.peers_service.is_none() || candidates.is_empty() {
            candidates = vec![me.clone()];
        }
        candidates.retain(|c| !suspects.contains_key(c));
        let mut load: HashMap<String, usize> = candidates.iter().map(|c| (c.clone(), 0)).collect();
        for l in &leases {
            if let Some(h) = holder(l) {
                if let Some(n) = load.get_mut(&h) {
                    *n += 1;
                }
            }
        }
        observed.retain(|name, _| leases.iter().any(|l| l.metadata.name.as_deref() == Some(name.as_str())));
        for l in leases {
            let name = l.metadata.name.clone().unwrap_or_default();
            let rv = l.metadata.resource_version.clone();
            let seen = observed.entry(name.clone()).or_insert_with(|| (rv.clone(), Instant::now()));
            if seen.0 != rv {
                *seen = (rv, Instant::now());
            }
            let stale = seen.1.elapsed() > stale_after;
            let current = holder(&l);
            if let (Some(h), true) = (&current, stale) {
                tracing::warn!(chunk = %name, holder = %h, "chunk holder stopped renewing: reassigning");
                suspects.insert(h.clone(), Instant::now());
                load.remove(h);
            }
            let keep = current.as_ref().is_some_and(|h| load.contains_key(h)) && !stale;
            if keep {
                continue;
            }
            let Some(target) = load.iter().min_by_key(|(n, c)| (**c, (*n).clone())).map(|(n, _)| n.clone()) else {
                continue;
            };
            match api.replace(&name, &PostParams::default(), &with_holder(l, Some(&target))).await {
                Ok(updated) => {
                    *load.entry(target.clone()).or_default() += 1;
                    observed.insert(name.clone(), (updated.metadata.resource_version, Instant::now()));
                    tracing::info!(chunk = %name, to = %target, "chunk assigned");
                }
                Err(e) => tracing::debug!(chunk = %name, "assigning: {e}"),
            }
        }
    }
}

/// Every replica's loop: renews the Leases of its pending chunks, runs one, and goes again at
/// once while it has work (so every pending chunk's Lease is renewed between chunks).
pub async fn work(
    cluster: Arc<Cluster>,
    client: Client,
    namespace: String,
    me: String,
    faces: FacePipeline,
    gallery: Arc<Gallery>,
    throttle: Duration,
) {
    let api: Api<Lease> = Api::namespaced(client, &namespace);
    let mut busy = false;
    loop {
        if cluster.stopping() || (!busy && cluster.sleep_or_stop(TICK).await) {
            return;
        }
        busy = false;
        let mine: Vec<Lease> = match api.list(&ListParams::default().labels(JOB_LABEL)).await {
            Ok(l) => l.items.into_iter().filter(|l| holder(l).as_deref() == Some(me.as_str())).collect(),
            Err(e) => {
                cluster.set_error("jobs", format!("listing job leases: {e}"));
                continue;
            }
        };
        // Renew all of them first: the leader sees this replica is alive.
        let mut renewed = Vec::new();
        for l in mine {
            let name = l.metadata.name.clone().unwrap_or_default();
            if let Ok(l) = api.replace(&name, &PostParams::default(), &with_holder(l, Some(&me))).await {
                renewed.push(l);
            }
        }
        let Some(l) = renewed.into_iter().next() else { continue };
        let Some(chunk) = chunk_of(&l) else { continue };
        busy = true;
        let name = l.metadata.name.clone().unwrap_or_default();
        match run_chunk(&faces, &gallery, &chunk, &me, throttle).await {
            Ok(committed) => {
                tracing::info!(job = %chunk.job_id, chunk = chunk.index, committed, "chunk finished");
                if let Err(e) = api.delete(&name, &DeleteParams::default()).await {
                    tracing::debug!(chunk = %name, "deleting the finished chunk's lease: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(job = %chunk.job_id, chunk = chunk.index, "re-embedding chunk failed: {e}");
                busy = false;
            }
        }
    }
}

//! Starting a re-embedding job: the collection split into chunks in the store, then the chunks
//! spread over the replicas through Leases (`jobs`) when the store is shared and this replica
//! runs in Kubernetes, or run here one after the other otherwise.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use sha2::{Digest, Sha256};

use super::{jobs, Cluster};
use crate::{
    error::ApiError,
    gallery::{store::JobStatus, Gallery},
    pipeline::{
        reembed::{run_local, Chunk},
        FacePipeline,
    },
};

/// A job just started.
pub struct Started {
    pub job_id: String,
    /// `cluster` (chunks spread over the replicas) or `local` (this replica runs them).
    pub mode: &'static str,
    pub status: JobStatus,
}

fn new_job_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let seed = format!("{nanos}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    hex::encode(&Sha256::digest(seed)[..6])
}

pub async fn start(
    faces: &FacePipeline,
    gallery: &Arc<Gallery>,
    cluster: &Cluster,
    collection: &str,
    chunk_size: usize,
) -> Result<Started, ApiError> {
    let store = gallery.store()?;
    let job_id = new_job_id();
    let ranges = store.create_job(&job_id, collection, chunk_size).await?;
    let chunks: Vec<Chunk> = ranges
        .into_iter()
        .enumerate()
        .map(|(i, (first, last))| Chunk {
            job_id: job_id.clone(),
            index: i as i64,
            collection: collection.to_string(),
            first,
            last,
        })
        .collect();
    let client = if gallery.is_shared() && cluster.is_enabled() { cluster.client() } else { None };
    let mode = match (client, cluster.status().pod) {
        (Some(client), Some(pod)) => {
            jobs::create(client, &pod.namespace, &chunks, cluster.lease_seconds()).await.map_err(|e| {
                tracing::warn!(error = %e, job = %job_id, "creating the job's chunk leases");
                ApiError::StorageUnavailable("the job's chunk leases could not be created; retry later".into())
            })?;
            "cluster"
        }
        _ => {
            let worker = cluster.status().pod.map_or_else(|| "local".to_string(), |p| p.name);
            let n = chunks.len();
            tokio::spawn(run_local(faces.clone(), gallery.clone(), chunks, worker, cluster.jobs_throttle()));
            tracing::info!(job = %job_id, chunks = n, "re-embedding job started here");
            "local"
        }
    };
    let status = store.job_status(&job_id).await?.ok_or_else(|| ApiError::JobNotFound(job_id.clone()))?;
    Ok(Started { job_id, mode, status })
}

//! Re-embedding a collection (after the embedding model changed): its faces are split into
//! chunks; each chunk's stored aligned faces go through the current embedding model and the
//! new embeddings are committed together with the chunk's "done" row, so each chunk is done
//! exactly once even when several replicas (or a retry) run it. In a cluster the chunks are
//! spread over the replicas by `cluster::jobs`; otherwise this replica runs them in turn.

use std::time::Duration;

use image::RgbImage;

use super::FacePipeline;
use crate::{error::ApiError, gallery::Gallery, vision::pool};

/// Faces per inference while re-embedding.
const BATCH: usize = 16;

/// One chunk of a job, as its Lease (or the local runner) describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub job_id: String,
    pub index: i64,
    pub collection: String,
    pub first: String,
    pub last: String,
}

/// Runs one chunk as `worker`; false when it had already been done (nothing written).
pub async fn run_chunk(
    faces: &FacePipeline,
    gallery: &Gallery,
    chunk: &Chunk,
    worker: &str,
    throttle: Duration,
) -> Result<bool, ApiError> {
    let store = gallery.store()?;
    let rows = store.chunk_faces(&chunk.collection, &chunk.first, &chunk.last).await?;
    let skipped = rows.iter().filter(|(_, png)| png.is_none()).count() as i64;
    let stored: Vec<(String, Vec<u8>)> = rows.into_iter().filter_map(|(id, png)| Some((id, png?))).collect();
    let mut updates = Vec::with_capacity(stored.len());
    for batch in stored.chunks(BATCH) {
        let pngs: Vec<Vec<u8>> = batch.iter().map(|(_, p)| p.clone()).collect();
        let aligned: Vec<RgbImage> = pool::run(move || {
            pngs.iter()
                .map(|p| {
                    image::load_from_memory_with_format(p, image::ImageFormat::Png)
                        .map(|i| i.to_rgb8())
                        .map_err(|e| ApiError::Internal(format!("a stored aligned face does not decode: {e}")))
                })
                .collect()
        })
        .await?;
        let embeddings = faces.embed_aligned(aligned).await?;
        updates.extend(batch.iter().map(|(id, _)| id.clone()).zip(embeddings));
    }
    if !throttle.is_zero() {
        tokio::time::sleep(throttle).await;
    }
    let done = store.commit_chunk(&chunk.job_id, chunk.index, worker, &chunk.collection, updates, skipped).await?;
    if done {
        gallery.catch_up().await?;
    }
    Ok(done)
}

/// Runs every chunk here, one after the other (single replica, or a SQLite store).
pub async fn run_local(
    faces: FacePipeline,
    gallery: std::sync::Arc<Gallery>,
    chunks: Vec<Chunk>,
    worker: String,
    throttle: Duration,
) {
    for chunk in &chunks {
        let mut attempt = 0;
        loop {
            match run_chunk(&faces, &gallery, chunk, &worker, throttle).await {
                Ok(_) => break,
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::warn!(job = %chunk.job_id, chunk = chunk.index, "re-embedding chunk failed: {e}; retrying");
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                }
                Err(e) => {
                    tracing::error!(job = %chunk.job_id, chunk = chunk.index, "re-embedding chunk failed: {e}; giving up");
                    break;
                }
            }
        }
    }
    tracing::info!(
        job = chunks.first().map_or("", |c| c.job_id.as_str()),
        chunks = chunks.len(),
        "re-embedding job done"
    );
}

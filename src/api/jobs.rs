//! Background jobs: `POST /v1/collections/{id}/reembed` starts re-embedding a collection with
//! the current embedding model; `GET /v1/jobs/{id}` reports its progress. In Kubernetes with a
//! PostgreSQL gallery the chunks are spread over the replicas (`cluster::jobs`); otherwise this
//! replica runs them.

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    input::{read_form, FieldSpec},
    AppState,
};
use crate::{
    cluster::jobs,
    error::ApiError,
    gallery::reembed::{run_local, Chunk},
};

const REEMBED: FieldSpec = FieldSpec { images: &[], optional_images: &[], options: &["chunk_size"] };
const DEFAULT_CHUNK: usize = 256;
const MAX_CHUNK: usize = 10_000;

fn new_job_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let seed = format!("{nanos}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    hex::encode(&Sha256::digest(seed)[..6])
}

#[utoipa::path(post, path = "/v1/collections/{id}/reembed", tag = "gallery", params(("id" = String, Path)),
    request_body(description = "optional: chunk_size (faces per chunk, 1 to 10000, default 256); an empty body is fine",
        content((crate::api::openapi::ReembedForm = "application/json"), (crate::api::openapi::ReembedForm = "multipart/form-data"))),
    responses((status = 202, description = "Started: job_id, chunks, faces, where (cluster or local)", body = Object),
              (status = 400, description = "invalid chunk_size", body = crate::error::ErrorBody),
              (status = 404, description = "collection_not_found", body = crate::error::ErrorBody),
              (status = 503, description = "storage_unavailable", body = crate::error::ErrorBody)))]
pub async fn reembed(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let collection = path.into_inner();
    let chunk_size = match read_form(&req, body, &REEMBED, &state.http).await {
        Ok(form) => match form.option("chunk_size") {
            None => DEFAULT_CHUNK,
            Some(v) => v.parse::<usize>().ok().filter(|n| (1..=MAX_CHUNK).contains(n)).ok_or_else(|| {
                ApiError::InvalidField { field: "chunk_size".into(), reason: format!("1 to {MAX_CHUNK}, not {v:?}") }
            })?,
        },
        // No options at all (an empty body, with or without a content type) is the common case.
        Err(ApiError::EmptyBody) => DEFAULT_CHUNK,
        Err(ApiError::UnsupportedMediaType(ct)) if ct.is_empty() => DEFAULT_CHUNK,
        Err(e) => return Err(e),
    };
    let store = state.gallery.store()?;
    let job_id = new_job_id();
    let ranges = store.create_job(&job_id, &collection, chunk_size).await?;
    let chunks: Vec<Chunk> = ranges
        .into_iter()
        .enumerate()
        .map(|(i, (first, last))| Chunk {
            job_id: job_id.clone(),
            index: i as i64,
            collection: collection.clone(),
            first,
            last,
        })
        .collect();
    let cluster = &state.cluster;
    let client = if state.gallery.is_shared() && cluster.is_enabled() { cluster.client() } else { None };
    let mode = match (client, cluster.status().pod) {
        (Some(client), Some(pod)) => {
            jobs::create(client, &pod.namespace, &chunks, cluster.lease_seconds())
                .await
                .map_err(|e| ApiError::StorageUnavailable(format!("creating the job's chunk leases: {e}")))?;
            "cluster"
        }
        _ => {
            let worker = cluster.status().pod.map_or_else(|| "local".to_string(), |p| p.name);
            let n = chunks.len();
            actix_web::rt::spawn(run_local(
                state.faces.clone(),
                state.gallery.clone(),
                chunks,
                worker,
                cluster.jobs_throttle(),
            ));
            tracing::info!(job = %job_id, chunks = n, "re-embedding job started here");
            "local"
        }
    };
    let status = store.job_status(&job_id).await?.ok_or_else(|| ApiError::JobNotFound(job_id.clone()))?;
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/v1/jobs/{job_id}")))
        .json(json!({ "job_id": job_id, "collection": collection, "chunks": status.chunks, "faces": status.faces, "mode": mode })))
}

#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "gallery", params(("id" = String, Path)),
    responses((status = 200, description = "Progress: chunks done, faces re-embedded, by replica, state", body = crate::gallery::store::JobStatus),
              (status = 404, description = "job_not_found", body = crate::error::ErrorBody)))]
pub async fn job(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let status = state.gallery.store()?.job_status(&id).await?.ok_or(ApiError::JobNotFound(id))?;
    Ok(HttpResponse::Ok().json(status))
}

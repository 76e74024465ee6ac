//! Background jobs: `POST /v1/collections/{id}/reembed` starts re-embedding a collection with
//! the current embedding model; `GET /v1/jobs/{id}` reports its progress. In Kubernetes with a
//! PostgreSQL gallery the chunks are spread over the replicas (`cluster::jobs`); otherwise this
//! replica runs them.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{
    input::{read_form, Field, FieldSpec, Kind},
    state::AppState,
};
use crate::{cluster::reembed_job, error::ApiError};

pub const REEMBED: FieldSpec = FieldSpec::new(&[Field::optional(
    "chunk_size",
    Kind::Integer { min: 1, max: 10_000 },
    "Faces per chunk (default 256).",
)])
.body_optional();
const DEFAULT_CHUNK: usize = 256;

#[utoipa::path(post, path = "/v1/collections/{id}/reembed", tag = "gallery", params(("id" = String, Path)),
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
        Ok(form) => form.integer("chunk_size").map_or(DEFAULT_CHUNK, |n| n as usize),
        // No options at all (an empty body, with or without a content type) is the common case.
        Err(ApiError::EmptyBody) => DEFAULT_CHUNK,
        Err(ApiError::UnsupportedMediaType(ct)) if ct.is_empty() => DEFAULT_CHUNK,
        Err(e) => return Err(e),
    };
    let started = reembed_job::start(&state.faces, &state.gallery, &state.cluster, &collection, chunk_size).await?;
    let (job_id, status) = (started.job_id, started.status);
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/v1/jobs/{job_id}")))
        .json(json!({ "job_id": job_id, "collection": collection, "chunks": status.chunks, "faces": status.faces, "mode": started.mode })))
}

#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "gallery", params(("id" = String, Path)),
    responses((status = 200, description = "Progress: chunks done, faces re-embedded, by replica, state", body = crate::gallery::store::JobStatus),
              (status = 404, description = "job_not_found", body = crate::error::ErrorBody)))]
pub async fn job(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let status = state.gallery.store()?.job_status(&id).await?.ok_or(ApiError::JobNotFound(id))?;
    Ok(HttpResponse::Ok().json(status))
}

//! Gallery routes: collections, enrollment (idempotent per collection, external_id and image),
//! listing, erasure, and 1:N search by image or by an enrolled face. Parse, call the gallery or
//! [`crate::pipeline::enroll`] / [`crate::pipeline::search`], respond.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{
    input::{read_form, Field, FieldSpec, Kind},
    state::AppState,
};
use crate::{
    error::ApiError,
    pipeline::{
        enroll::{self, Enrolled, Enrollment},
        operating,
        search::{self, Found, Query},
    },
    telemetry::metrics,
};

pub const CREATE: FieldSpec = FieldSpec::new(&[
    Field::new("id", Kind::Id { max: 128 }, "The collection's id."),
    Field::optional("description", Kind::Text { max: 1024 }, "Free text."),
]);
pub const ENROLL: FieldSpec = FieldSpec::new(&[
    Field::new("image", Kind::Image, "An image with the face to enroll (the largest is taken)."),
    Field::new("external_id", Kind::Id { max: 256 }, "Your identifier of the person."),
    Field::optional(
        "metadata",
        Kind::Object { max_bytes: 16 * 1024 },
        "A JSON object (as text in multipart), at most 16 KiB.",
    ),
    Field::optional(
        "expires_at",
        Kind::FutureTime,
        "RFC 3339 time after which the retention purge deletes the face (in the future).",
    ),
]);
pub const SEARCH: FieldSpec = FieldSpec::new(&[
    Field::optional("image", Kind::Image, "Search by image..."),
    Field::optional("face_id", Kind::Id { max: 256 }, "...or by an enrolled face."),
    Field::optional("top_k", Kind::Integer { min: 1, max: 100 }, "How many matches at most (default 5)."),
    Field::optional(
        "threshold",
        Kind::Number { min: -1.0, max: 1.0 },
        "Cosine similarity cut-off (overrides the operating point).",
    ),
    Field::optional("operating_point", Kind::OperatingPoint(&operating::VERIFY), "The match threshold by name."),
])
.exactly_one(&["image", "face_id"]);

fn required<'a>(form: &'a super::input::Form, name: &str) -> Result<&'a str, ApiError> {
    form.text(name).ok_or_else(|| ApiError::MissingField(name.to_string()))
}

#[utoipa::path(post, path = "/v1/collections", tag = "gallery", responses((status = 201, description = "Created", body = Object), (status = 400, description = "Missing, unknown or invalid field", body = crate::error::ErrorBody),
        (status = 401, description = "unauthorized", body = crate::error::ErrorBody),
        (status = 409, description = "Conflict", body = crate::error::ErrorBody),
        (status = 503, description = "Models not ready, gallery unavailable, or deadline exceeded", body = crate::error::ErrorBody)))]
pub async fn create_collection(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form = read_form(&req, body, &CREATE, &state.http).await?;
    let id = required(&form, "id")?;
    state.gallery.create_collection(id, form.text("description")).await?;
    Ok(HttpResponse::Created().json(json!({ "id": id, "description": form.text("description") })))
}

#[utoipa::path(get, path = "/v1/collections", tag = "gallery", responses((status = 200, description = "Collections with face counts", body = Object), (status = 401, description = "unauthorized", body = crate::error::ErrorBody),
        (status = 503, description = "Models not ready, gallery unavailable, or deadline exceeded", body = crate::error::ErrorBody)))]
pub async fn list_collections(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({ "collections": state.gallery.list_collections().await? })))
}

#[utoipa::path(delete, path = "/v1/collections/{id}", tag = "gallery", params(("id" = String, Path)), responses((status = 204, description = "Deleted with every face"), crate::api::schema::StoreErrors))]
pub async fn delete_collection(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    state.gallery.delete_collection(&path).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/v1/collections/{id}/faces", tag = "gallery", params(("id" = String, Path)), responses((status = 201, description = "Enrolled", body = Object), (status = 200, description = "Already enrolled (same collection, external_id and image)", body = Object), (status = 404, description = "collection_not_found, or face_not_found for a face_id", body = crate::error::ErrorBody), crate::api::schema::ModelErrors))]
pub async fn enroll(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let collection = path.into_inner();
    let mut form = read_form(&req, body, &ENROLL, &state.http).await?;
    let external_id = required(&form, "external_id")?.to_string();
    let metadata = form.text("metadata").map(String::from);
    let expires_at = form.time("expires_at");
    let (image, image_sha256) = form.image_with_sha256("image", &state.http).await?;
    let enrollment = Enrollment {
        collection: collection.clone(),
        external_id: external_id.clone(),
        metadata: metadata.clone(),
        expires_at,
        image,
        image_sha256,
    };
    let Enrolled { face_id, created, face } = enroll::enroll(&state.faces, &state.gallery, enrollment).await?;
    metrics::get().observe_gallery("enroll", started.elapsed().as_secs_f64());
    let body = json!({
        "collection": collection,
        "face_id": face_id,
        "external_id": external_id,
        "created": created,
        "expires_at": expires_at.map(crate::gallery::store::rfc3339),
        "metadata": metadata.and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok()),
        "face": face,
    });
    Ok(if created { HttpResponse::Created().json(body) } else { HttpResponse::Ok().json(body) })
}

#[derive(Deserialize)]
pub struct Page {
    limit: Option<i64>,
    after: Option<String>,
}

#[utoipa::path(get, path = "/v1/collections/{id}/faces", tag = "gallery", params(("id" = String, Path), ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1 to 1000 (default 100)"), ("after" = Option<String>, Query, description = "face_id to continue after (the `next` of the previous page)")), responses((status = 200, description = "A page of faces and `next`", body = Object), (status = 400, description = "Missing, unknown or invalid field", body = crate::error::ErrorBody),
        crate::api::schema::StoreErrors))]
pub async fn list_faces(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::InvalidField { field: "limit".into(), reason: "between 1 and 1000".into() });
    }
    let faces = state.gallery.list_faces(&path, query.after.as_deref(), limit).await?;
    let next = (faces.len() as i64 == limit).then(|| faces.last().map(|f| f.face_id.clone())).flatten();
    Ok(HttpResponse::Ok().json(json!({ "faces": faces, "next": next })))
}

#[utoipa::path(delete, path = "/v1/collections/{id}/faces/{face_id}", tag = "gallery", params(("id" = String, Path), ("face_id" = String, Path)), responses((status = 204, description = "Deleted"), crate::api::schema::StoreErrors))]
pub async fn delete_face(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (collection, face_id) = path.into_inner();
    state.gallery.delete_face(&collection, &face_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, path = "/v1/collections/{id}/subjects/{external_id}", tag = "gallery", params(("id" = String, Path), ("external_id" = String, Path)), responses((status = 200, description = "Every face of the subject deleted (erasure)", body = Object), crate::api::schema::StoreErrors))]
pub async fn delete_subject(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (collection, external_id) = path.into_inner();
    let deleted = state.gallery.delete_subject(&collection, &external_id).await?;
    Ok(HttpResponse::Ok().json(json!({ "external_id": external_id, "deleted_faces": deleted })))
}

#[utoipa::path(post, path = "/v1/collections/{id}/search", tag = "gallery", params(("id" = String, Path)), responses((status = 200, description = "Best matches above the threshold", body = Object), (status = 404, description = "collection_not_found, or face_not_found for a face_id", body = crate::error::ErrorBody), crate::api::schema::ModelErrors))]
pub async fn search(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let collection = path.into_inner();
    let mut form = read_form(&req, body, &SEARCH, &state.http).await?;
    let top_k = form.integer("top_k").unwrap_or(5) as usize;
    let op = operating::pick(&operating::VERIFY, form.text("operating_point"))?;
    let threshold = form.number("threshold").map_or(op.threshold, |t| t as f32);
    // The spec lets exactly one of image and face_id through.
    let query = match form.text("face_id") {
        Some(face_id) => Query::Face(face_id.to_string()),
        None => Query::Image(form.image("image", &state.http).await?),
    };
    let Found { matches, face } =
        search::search(&state.faces, &state.gallery, &collection, query, top_k, threshold).await?;
    metrics::get().observe_gallery("search", started.elapsed().as_secs_f64());
    Ok(HttpResponse::Ok().json(json!({
        "collection": collection,
        "matches": matches.iter().map(|h| json!({ "external_id": h.external_id, "face_id": h.face_id, "similarity": h.similarity })).collect::<Vec<_>>(),
        "threshold": threshold,
        "operating_point": if form.has("threshold") { "custom" } else { op.name },
        "fmr": if form.has("threshold") { None } else { op.fmr },
        "top_k": top_k,
        "face": face,
    })))
}

//! Gallery routes: collections, enrollment (idempotent per collection, external_id and image),
//! listing, erasure, and 1:N search by image or by an enrolled face. Parse, call the gallery or
//! [`crate::pipeline::enroll`] / [`crate::pipeline::search`], respond.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{
    input::{read_form, FieldSpec, Form},
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

const CREATE: FieldSpec = FieldSpec { images: &[], optional_images: &[], options: &["id", "description"] };
const ENROLL: FieldSpec =
    FieldSpec { images: &["image"], optional_images: &[], options: &["external_id", "metadata", "expires_at"] };
const SEARCH: FieldSpec = FieldSpec {
    images: &[],
    optional_images: &["image"],
    options: &["face_id", "top_k", "threshold", "operating_point"],
};

const MAX_TOP_K: usize = 100;

fn valid_id(field: &str, id: &str, max: usize) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= max
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidField {
            field: field.into(),
            reason: format!("1 to {max} characters of letters, digits and - _ . : @"),
        })
    }
}

fn required<'a>(form: &'a Form, name: &str) -> Result<&'a str, ApiError> {
    form.option(name).filter(|v| !v.is_empty()).ok_or_else(|| ApiError::MissingField(name.to_string()))
}

fn parse_number<T: std::str::FromStr>(form: &Form, name: &str) -> Result<Option<T>, ApiError> {
    form.option(name)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| ApiError::InvalidField { field: name.into(), reason: format!("not a number: {v:?}") })
        })
        .transpose()
}

#[utoipa::path(post, path = "/v1/collections", tag = "gallery", request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::schema::CreateCollectionForm = "multipart/form-data"), (crate::api::schema::CreateCollectionForm = "application/json"))), responses((status = 201, description = "Created", body = Object), (status = 400, description = "Missing, unknown or invalid field", body = crate::error::ErrorBody),
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
    valid_id("id", id, 128)?;
    state.gallery.create_collection(id, form.option("description")).await?;
    Ok(HttpResponse::Created().json(json!({ "id": id, "description": form.option("description") })))
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

#[utoipa::path(post, path = "/v1/collections/{id}/faces", tag = "gallery", params(("id" = String, Path)), request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::schema::EnrollForm = "multipart/form-data"), (crate::api::schema::EnrollForm = "application/json"))), responses((status = 201, description = "Enrolled", body = Object), (status = 200, description = "Already enrolled (same collection, external_id and image)", body = Object), (status = 404, description = "collection_not_found, or face_not_found for a face_id", body = crate::error::ErrorBody), crate::api::schema::ModelErrors))]
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
    valid_id("external_id", &external_id, 256)?;
    let metadata = match form.option("metadata") {
        None | Some("") => None,
        Some(m) if m.len() > 16 * 1024 => {
            return Err(ApiError::InvalidField { field: "metadata".into(), reason: "over 16 KiB".into() })
        }
        Some(m) => match serde_json::from_str::<serde_json::Value>(m) {
            Ok(v @ serde_json::Value::Object(_)) => Some(v.to_string()),
            _ => {
                return Err(ApiError::InvalidField { field: "metadata".into(), reason: "must be a JSON object".into() })
            }
        },
    };
    let expires_at = match form.option("expires_at").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => {
            let t: jiff::Timestamp = v.parse().map_err(|_| ApiError::InvalidField {
                field: "expires_at".into(),
                reason: format!("an RFC 3339 timestamp such as 2030-01-31T00:00:00Z, not {v:?}"),
            })?;
            if t <= jiff::Timestamp::now() {
                return Err(ApiError::InvalidField {
                    field: "expires_at".into(),
                    reason: "must be in the future".into(),
                });
            }
            Some(t.as_second())
        }
    };
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

#[utoipa::path(post, path = "/v1/collections/{id}/search", tag = "gallery", params(("id" = String, Path)), request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::schema::SearchForm = "multipart/form-data"), (crate::api::schema::SearchForm = "application/json"))), responses((status = 200, description = "Best matches above the threshold", body = Object), (status = 404, description = "collection_not_found, or face_not_found for a face_id", body = crate::error::ErrorBody), crate::api::schema::ModelErrors))]
pub async fn search(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let collection = path.into_inner();
    let mut form = read_form(&req, body, &SEARCH, &state.http).await?;
    let top_k = parse_number::<usize>(&form, "top_k")?.unwrap_or(5);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        return Err(ApiError::InvalidField { field: "top_k".into(), reason: format!("between 1 and {MAX_TOP_K}") });
    }
    let op = operating::pick(&operating::VERIFY, form.option("operating_point"))?;
    let threshold = parse_number::<f32>(&form, "threshold")?.unwrap_or(op.threshold);
    if !(-1.0..=1.0).contains(&threshold) {
        return Err(ApiError::InvalidField { field: "threshold".into(), reason: "between -1 and 1".into() });
    }
    let query = match (form.has_image("image"), form.option("face_id").map(String::from)) {
        (true, None) => Query::Image(form.image("image", &state.http).await?),
        (false, Some(face_id)) => Query::Face(face_id),
        (true, Some(_)) => {
            return Err(ApiError::InvalidField {
                field: "face_id".into(),
                reason: "give either image or face_id".into(),
            })
        }
        (false, None) => return Err(ApiError::MissingField("image".into())),
    };
    let Found { matches, face } =
        search::search(&state.faces, &state.gallery, &collection, query, top_k, threshold).await?;
    metrics::get().observe_gallery("search", started.elapsed().as_secs_f64());
    Ok(HttpResponse::Ok().json(json!({
        "collection": collection,
        "matches": matches.iter().map(|h| json!({ "external_id": h.external_id, "face_id": h.face_id, "similarity": h.similarity })).collect::<Vec<_>>(),
        "threshold": threshold,
        "operating_point": if form.option("threshold").is_some() { "custom" } else { op.name },
        "top_k": top_k,
        "face": face,
    })))
}

//! `POST /v1/plates/read`: license plates found and read (an empty list when there is none).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{
    input::{read_form, FieldSpec},
    AppState,
};
use crate::{
    error::ApiError,
    pipeline::{ocr::Ocr, plate::PlateReader},
};

const READ: FieldSpec = FieldSpec { images: &["image"], optional_images: &[], options: &[] };

#[utoipa::path(post, path = "/v1/plates/read", operation_id = "read_plates", tag = "plates", request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::openapi::ImageForm = "multipart/form-data"), (crate::api::openapi::ImageForm = "application/json"))), responses((status = 200, description = "Plates found (an empty list when none)", body = Object), (status = 400, description = "Missing, unknown or invalid field", body = crate::error::ErrorBody),
        (status = 401, description = "unauthorized", body = crate::error::ErrorBody),
        (status = 413, description = "Payload or image too large", body = crate::error::ErrorBody),
        (status = 415, description = "Not an accepted content or image type", body = crate::error::ErrorBody),
        (status = 422, description = "Image not decodable, no face, several faces, or face rejected", body = crate::error::ErrorBody),
        (status = 429, description = "overloaded", body = crate::error::ErrorBody),
        (status = 503, description = "Models not ready, gallery unavailable, or deadline exceeded", body = crate::error::ErrorBody)))]
pub async fn read(state: web::Data<AppState>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &READ, &state.http).await?;
    let img = form.image("image", &state.http).await?;
    let plates = PlateReader::new(Ocr::new(state.faces.engine().clone())).read(img).await?;
    Ok(HttpResponse::Ok().json(json!({ "plates": plates })))
}

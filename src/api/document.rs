//! `POST /v1/documents/read`: OCR, MRZ with check digits, portrait and checks of an ID document.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{
    input::{read_form, FieldSpec},
    state::AppState,
};
use crate::error::ApiError;

const READ: FieldSpec = FieldSpec { images: &["image"], optional_images: &["back"], options: &[] };

#[utoipa::path(post, path = "/v1/documents/read", operation_id = "read_document", tag = "documents", request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::schema::DocumentForm = "multipart/form-data"), (crate::api::schema::DocumentForm = "application/json"))), responses((status = 200, description = "Text lines, MRZ with check digits, portrait, checks", body = crate::pipeline::document::DocumentRead), crate::api::schema::ModelErrors))]
pub async fn read(state: web::Data<AppState>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &READ, &state.http).await?;
    let [front, back] = form.decode_images(["image", "back"], &state.http).await?;
    let front = front.ok_or_else(|| ApiError::MissingField("image".into()))?;
    let read = state.documents.read(front, back).await?;
    Ok(HttpResponse::Ok().json(read))
}

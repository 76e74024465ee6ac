//! `POST /v1/plates/read`: license plates found and read (an empty list when there is none).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{
    input::{read_form, FieldSpec},
    state::AppState,
};
use crate::error::ApiError;

const READ: FieldSpec = FieldSpec { images: &["image"], optional_images: &[], options: &[] };

#[utoipa::path(post, path = "/v1/plates/read", operation_id = "read_plates", tag = "plates", request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::schema::ImageForm = "multipart/form-data"), (crate::api::schema::ImageForm = "application/json"))), responses((status = 200, description = "Plates found (an empty list when none)", body = Object), crate::api::schema::ModelErrors))]
pub async fn read(state: web::Data<AppState>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &READ, &state.http).await?;
    let img = form.image("image", &state.http).await?;
    let plates = state.plates.read(img).await?;
    Ok(HttpResponse::Ok().json(json!({ "plates": plates })))
}

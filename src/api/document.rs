//! `POST /v1/documents/read`: OCR, MRZ with check digits, portrait and checks of an ID document.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{
    input::{read_form, Field, FieldSpec, Kind},
    state::AppState,
};
use crate::error::ApiError;

pub const READ: FieldSpec = FieldSpec::new(&[
    Field::new("image", Kind::Image, "The document's front side (JPEG, PNG, WebP or BMP)."),
    Field::optional(
        "back",
        Kind::Image,
        "The back side (its text joins the MRZ search; a licence's PDF417 barcode is read).",
    ),
]);

#[utoipa::path(post, path = "/v1/documents/read", operation_id = "read_document", tag = "documents", responses((status = 200, description = "Text lines, MRZ with check digits, portrait, checks", body = crate::pipeline::document::DocumentRead), crate::api::schema::ModelErrors))]
pub async fn read(state: web::Data<AppState>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &READ, &state.http).await?;
    let [front, back] = form.decode_images(["image", "back"], &state.http).await?;
    let front = front.ok_or_else(|| ApiError::MissingField("image".into()))?;
    let read = state.documents.read(front, back).await?;
    Ok(HttpResponse::Ok().json(read))
}

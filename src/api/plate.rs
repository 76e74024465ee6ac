//! `POST /v1/plates/read`: license plates found and read (an empty list when there is none).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{
    fields::IMAGE_DOC,
    input::{read_form, Field, FieldSpec, Kind},
    state::AppState,
};
use crate::error::ApiError;

pub const READ: FieldSpec = FieldSpec::new(&[Field::new("image", Kind::Image, IMAGE_DOC)]);

#[utoipa::path(post, path = "/v1/plates/read", operation_id = "read_plates", tag = "plates", responses((status = 200, description = "Plates found (an empty list when none)", body = Object), crate::api::schema::ModelErrors))]
pub async fn read(state: web::Data<AppState>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &READ, &state.http).await?;
    let img = form.image("image", &state.http).await?;
    let plates = state.plates.read(img).await?;
    Ok(HttpResponse::Ok().json(json!({ "plates": plates })))
}

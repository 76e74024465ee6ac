//! `POST /v1/plates/read`: license plates found and read (an empty list when there is none).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{
    fields::IMAGE_DOC,
    input::{read_form, Field, FieldSpec, Kind},
    state::AppState,
};
use crate::{error::ApiError, pipeline::plate::formats::Region};

pub const READ: FieldSpec = FieldSpec::new(&[
    Field::new("image", Kind::Image, IMAGE_DOC),
    Field::optional(
        "region",
        Kind::Choice(Region::NAMES),
        "Whose registration formats score the readings and fix look-alike characters (O/0, I/1, \
         B/8, S/5) where a format fixes the class: `us`, `eu`, `br`, `cn`, or `auto` (all of them). \
         Readings that match no format are still returned.",
    ),
]);

#[utoipa::path(post, path = "/v1/plates/read", operation_id = "read_plates", tag = "plates", responses((status = 200, description = "Plates found (an empty list when none)", body = Object), crate::api::schema::ModelErrors))]
pub async fn read(state: web::Data<AppState>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &READ, &state.http).await?;
    let img = form.image("image", &state.http).await?;
    let region = form.text("region").and_then(Region::parse).unwrap_or(Region::Auto);
    let plates = state.plates.read_in(img, region).await?;
    Ok(HttpResponse::Ok().json(json!({ "plates": plates })))
}

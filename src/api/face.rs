//! Face routes: detect, verify (1:1) and liveness. Parse, call [`crate::pipeline::face_ops`],
//! respond.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{
    fields::IMAGE_DOC,
    input::{read_form, Field, FieldSpec, Kind},
    state::AppState,
};
use crate::{
    error::ApiError,
    pipeline::{
        face_ops::{detect_op, liveness_op, verify_op, DetectResponse, LivenessResponse, VerifyResponse},
        operating,
    },
};

pub const DETECT: FieldSpec = FieldSpec::new(&[Field::new("image", Kind::Image, IMAGE_DOC)]);
pub const VERIFY: FieldSpec = FieldSpec::new(&[
    Field::new("source", Kind::Image, "The first image (its largest face is compared)."),
    Field::new("target", Kind::Image, "The second image."),
    Field::optional("operating_point", Kind::OperatingPoint(&operating::VERIFY), "The match threshold by name."),
]);
pub const LIVENESS: FieldSpec = FieldSpec::new(&[
    Field::new("image", Kind::Image, "An image with one face."),
    Field::optional("operating_point", Kind::OperatingPoint(&operating::LIVENESS), "The liveness threshold by name."),
]);

#[utoipa::path(post, path = "/v1/faces/detect", tag = "faces", responses((status = 200, description = "Faces with box, landmarks, pose and quality", body = DetectResponse), crate::api::schema::ModelErrors))]
pub async fn detect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &DETECT, &state.http).await?;
    let img = form.image("image", &state.http).await?;
    Ok(HttpResponse::Ok().json(detect_op(&state.faces, img).await?))
}

#[utoipa::path(post, path = "/v1/faces/verify", tag = "faces", responses((status = 200, description = "Similarity of the largest faces and the decision", body = VerifyResponse), crate::api::schema::ModelErrors))]
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &VERIFY, &state.http).await?;
    let op = operating::pick(&operating::VERIFY, form.text("operating_point"))?;
    let [source, target] = form.images(["source", "target"], &state.http).await?;
    Ok(HttpResponse::Ok().json(verify_op(&state.faces, source, target, op).await?))
}

#[utoipa::path(post, path = "/v1/faces/liveness", tag = "faces", responses((status = 200, description = "Passive liveness of the one face", body = LivenessResponse), crate::api::schema::ModelErrors))]
pub async fn liveness(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &LIVENESS, &state.http).await?;
    let op = operating::pick(&operating::LIVENESS, form.text("operating_point"))?;
    let img = form.image("image", &state.http).await?;
    Ok(HttpResponse::Ok().json(liveness_op(&state.faces, img, op).await?))
}

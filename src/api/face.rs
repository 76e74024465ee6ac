//! Face routes: detect, verify (1:1) and liveness. Parse, call [`crate::pipeline::face_ops`],
//! respond.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{
    input::{read_form, FieldSpec},
    state::AppState,
};
use crate::{
    error::ApiError,
    pipeline::{
        face_ops::{detect_op, liveness_op, verify_op, DetectResponse, LivenessResponse, VerifyResponse},
        operating,
    },
};

const DETECT: FieldSpec = FieldSpec { images: &["image"], optional_images: &[], options: &[] };
const VERIFY: FieldSpec =
    FieldSpec { images: &["source", "target"], optional_images: &[], options: &["operating_point"] };
const LIVENESS: FieldSpec = FieldSpec { images: &["image"], optional_images: &[], options: &["operating_point"] };

#[utoipa::path(post, path = "/v1/faces/detect", tag = "faces", request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::schema::ImageForm = "multipart/form-data"), (crate::api::schema::ImageForm = "application/json"))), responses((status = 200, description = "Faces with box, landmarks, pose and quality", body = DetectResponse), crate::api::schema::ModelErrors))]
pub async fn detect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &DETECT, &state.http).await?;
    let img = form.image("image", &state.http).await?;
    Ok(HttpResponse::Ok().json(detect_op(&state.faces, img).await?))
}

#[utoipa::path(post, path = "/v1/faces/verify", tag = "faces", request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::schema::VerifyForm = "multipart/form-data"), (crate::api::schema::VerifyForm = "application/json"))), responses((status = 200, description = "Similarity of the largest faces and the decision", body = VerifyResponse), crate::api::schema::ModelErrors))]
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &VERIFY, &state.http).await?;
    let op = operating::pick(&operating::VERIFY, form.option("operating_point"))?;
    let [source, target] = form.images(["source", "target"], &state.http).await?;
    Ok(HttpResponse::Ok().json(verify_op(&state.faces, source, target, op).await?))
}

#[utoipa::path(post, path = "/v1/faces/liveness", tag = "faces", request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::schema::LivenessForm = "multipart/form-data"), (crate::api::schema::LivenessForm = "application/json"))), responses((status = 200, description = "Passive liveness of the one face", body = LivenessResponse), crate::api::schema::ModelErrors))]
pub async fn liveness(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &LIVENESS, &state.http).await?;
    let op = operating::pick(&operating::LIVENESS, form.option("operating_point"))?;
    let img = form.image("image", &state.http).await?;
    Ok(HttpResponse::Ok().json(liveness_op(&state.faces, img, op).await?))
}

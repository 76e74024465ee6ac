//! Face routes: detect, verify (1:1) and liveness. The `*_op` functions are shared with the
//! CLI, so `verity detect IMG` prints exactly what the API answers.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::{
    input::{read_form, FieldSpec},
    AppState,
};
use crate::{
    error::ApiError,
    pipeline::{
        face::{cosine, LivenessScores},
        operating::{self, OperatingPoint},
        Face, FacePipeline,
    },
};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

impl ImageSize {
    fn of(img: &RgbImage) -> ImageSize {
        ImageSize { width: img.width(), height: img.height() }
    }
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DetectResponse {
    pub image: ImageSize,
    pub faces: Vec<Face>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerifyResponse {
    #[serde(rename = "match")]
    pub is_match: bool,
    pub similarity: f32,
    pub threshold: f32,
    pub operating_point: String,
    pub source: Face,
    pub target: Face,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LivenessResponse {
    pub live: bool,
    pub score: f32,
    pub threshold: f32,
    pub operating_point: String,
    pub models: LivenessScores,
    pub face: Face,
}

pub async fn detect_op(faces: &FacePipeline, img: Arc<RgbImage>) -> Result<DetectResponse, ApiError> {
    let image = ImageSize::of(&img);
    Ok(DetectResponse { image, faces: faces.detect(img).await? })
}

pub async fn verify_op(
    faces: &FacePipeline,
    source: Arc<RgbImage>,
    target: Arc<RgbImage>,
    op: OperatingPoint,
) -> Result<VerifyResponse, ApiError> {
    let (s, t) = futures_util::future::join(
        faces.largest_face(source.clone(), "source"),
        faces.largest_face(target.clone(), "target"),
    )
    .await;
    let (s, t) = (s?, t?);
    let (es, et) = futures_util::future::join(faces.embed(source, &s), faces.embed(target, &t)).await;
    let similarity = cosine(&es?, &et?);
    Ok(VerifyResponse {
        is_match: similarity >= op.threshold,
        similarity,
        threshold: op.threshold,
        operating_point: op.name.to_string(),
        source: s,
        target: t,
    })
}

pub async fn liveness_op(
    faces: &FacePipeline,
    img: Arc<RgbImage>,
    op: OperatingPoint,
) -> Result<LivenessResponse, ApiError> {
    let mut found = faces.detect(img.clone()).await?;
    let face = match found.len() {
        0 => return Err(ApiError::NoFace("image".into())),
        1 => found.remove(0),
        count => return Err(ApiError::MultipleFaces { field: "image".into(), count }),
    };
    let models = faces.liveness(img, &face).await?;
    Ok(LivenessResponse {
        live: models.score >= op.threshold,
        score: models.score,
        threshold: op.threshold,
        operating_point: op.name.to_string(),
        models,
        face,
    })
}

const DETECT: FieldSpec = FieldSpec { images: &["image"], optional_images: &[], options: &[] };
const VERIFY: FieldSpec =
    FieldSpec { images: &["source", "target"], optional_images: &[], options: &["operating_point"] };
const LIVENESS: FieldSpec = FieldSpec { images: &["image"], optional_images: &[], options: &["operating_point"] };

#[utoipa::path(post, path = "/v1/faces/detect", tag = "faces", request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::openapi::ImageForm = "multipart/form-data"), (crate::api::openapi::ImageForm = "application/json"))), responses((status = 200, description = "Faces with box, landmarks, pose and quality", body = DetectResponse), crate::api::openapi::ModelErrors))]
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
        content((crate::api::openapi::VerifyForm = "multipart/form-data"), (crate::api::openapi::VerifyForm = "application/json"))), responses((status = 200, description = "Similarity of the largest faces and the decision", body = VerifyResponse), crate::api::openapi::ModelErrors))]
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut form = read_form(&req, body, &VERIFY, &state.http).await?;
    let op = operating::pick(&operating::VERIFY, form.option("operating_point"))?;
    let source = form.image("source", &state.http).await?;
    let target = form.image("target", &state.http).await?;
    Ok(HttpResponse::Ok().json(verify_op(&state.faces, source, target, op).await?))
}

#[utoipa::path(post, path = "/v1/faces/liveness", tag = "faces", request_body(description = "multipart/form-data with files, or JSON with base64 strings (same names)",
        content((crate::api::openapi::LivenessForm = "multipart/form-data"), (crate::api::openapi::LivenessForm = "application/json"))), responses((status = 200, description = "Passive liveness of the one face", body = LivenessResponse), crate::api::openapi::ModelErrors))]
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

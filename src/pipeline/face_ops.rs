//! The face operations: detect, verify (1:1) and liveness, shared by the HTTP routes, the CLI
//! (`verity detect IMG` prints exactly what the API answers), the tests and the benches.

use std::sync::Arc;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::{
    face::{cosine, dominant_face, LivenessScores},
    operating::OperatingPoint,
    Face, FacePipeline,
};
use crate::error::ApiError;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

impl ImageSize {
    pub fn of(img: &RgbImage) -> ImageSize {
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
    /// The false-match rate the threshold was measured to keep (`make eval-faces`).
    pub fmr: Option<f64>,
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
    // Both faces (and their mirrors) in one inference.
    let (a, b) = futures_util::future::join(
        faces.aligned(source, std::slice::from_ref(&s)),
        faces.aligned(target, std::slice::from_ref(&t)),
    )
    .await;
    let aligned: Vec<_> = a?.into_iter().chain(b?).collect();
    let embeddings = faces.embed_aligned(aligned).await?;
    let [es, et] = embeddings.as_slice() else {
        return Err(ApiError::Internal("the embedding model returned the wrong number of faces".into()));
    };
    let similarity = cosine(es, et);
    Ok(VerifyResponse {
        is_match: similarity >= op.threshold,
        similarity,
        threshold: op.threshold,
        operating_point: op.name.to_string(),
        fmr: op.fmr,
        source: s,
        target: t,
    })
}

pub async fn liveness_op(
    faces: &FacePipeline,
    img: Arc<RgbImage>,
    op: OperatingPoint,
) -> Result<LivenessResponse, ApiError> {
    let face = match dominant_face(faces.detect(img.clone()).await?) {
        Ok(face) => face,
        Err(0) => return Err(ApiError::NoFace("image".into())),
        Err(count) => return Err(ApiError::MultipleFaces { field: "image".into(), count }),
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

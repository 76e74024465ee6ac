//! Routes compatible with the KBY-AI server SDKs (FaceRecognition, FaceLivenessDetection,
//! IDCardRecognition and ALPR Docker images), so their existing clients work unchanged against
//! verity's own pipelines: same paths, field names and response keys.
//!
//! Differences, on purpose (README, "KBY-AI compatible routes"):
//! - errors carry their real HTTP status (4xx/5xx), with the KBY-AI result text and verity's
//!   error object in the body; `VERITY_COMPAT_STATUS_200=true` answers 200 as those SDKs do;
//! - scores are mapped onto KBY-AI's scale, where 0.7 is the default threshold, so a client's
//!   `similarity > 0.7` or `liveness_score > 0.7` keeps deciding like verity's default
//!   operating point; verity's own value is beside it (`verity_similarity`, `verity_score`);
//! - attributes verity does not measure (68 landmarks, eye closure, occlusion, mouth opening)
//!   are left out rather than invented.

pub mod document;
pub mod face;

use actix_web::{http::StatusCode, web, HttpResponse};
use serde_json::{json, Value};

use super::{
    fields::{Field, FieldSpec, Kind, Media},
    state::AppState,
};
use crate::{error::ApiError, pipeline::Face};

/// One image as the file `file` (the multipart routes).
pub const FILE: FieldSpec = FieldSpec::new(&[Field::new("file", Kind::Image, "The image.")]).media(Media::Multipart);
/// One image as the base64 string `base64` (the `_base64` routes).
pub const BASE64: FieldSpec =
    FieldSpec::new(&[Field::new("base64", Kind::Image, "The image, base64.")]).media(Media::Json);

/// A failed compat call: verity's error and the body a KBY-AI client expects.
pub struct Failure {
    pub error: ApiError,
    pub body: Value,
}

impl Failure {
    pub fn new(error: ApiError, body: Value) -> Failure {
        Failure { error, body }
    }
}

/// The response of a compat route: 200 with `body`, or the failure's status (200 in
/// `compat_status_200` mode) with its KBY-AI body plus `error` (verity's RFC 7807 object).
pub fn respond(state: &web::Data<AppState>, result: Result<Value, Failure>) -> HttpResponse {
    match result {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(Failure { error, mut body }) => {
            let status = if state.http.compat_status_200 { StatusCode::OK } else { error.status_and_code().0 };
            if let Value::Object(map) = &mut body {
                map.insert("error".into(), serde_json::to_value(error.body()).unwrap_or(Value::Null));
            }
            if matches!(error, ApiError::Internal(_)) {
                tracing::error!(detail = %error, "internal error on a compat route");
            }
            let mut resp = HttpResponse::build(status);
            if let Some(seconds) = error.retry_after() {
                resp.insert_header(("Retry-After", seconds.to_string()));
            }
            resp.json(body)
        }
    }
}

/// KBY-AI's default threshold: verity's operating-point threshold is mapped onto it.
pub const KBY_THRESHOLD: f32 = 0.7;

/// Maps `score` (verity's scale, decided at `threshold`) onto KBY-AI's scale: monotone,
/// `threshold` -> 0.7, 1 -> 1, 0 and below -> 0.
pub fn to_kby_scale(score: f32, threshold: f32) -> f32 {
    let s = if score >= threshold {
        KBY_THRESHOLD + (score - threshold) / (1.0 - threshold).max(1e-6) * (1.0 - KBY_THRESHOLD)
    } else {
        score.max(0.0) / threshold.max(1e-6) * KBY_THRESHOLD
    };
    s.clamp(0.0, 1.0)
}

/// KBY-AI's per-face measures, from what verity measures.
pub struct KbyMeasures {
    /// The detector score, halved when verity's quality checks object (0..1).
    pub face_quality: f32,
    /// Mean luma of the aligned face, 0..255.
    pub face_luminance: f32,
    /// Pixels between the eye centres.
    pub eye_dist: f32,
}

impl KbyMeasures {
    pub fn of(f: &Face) -> KbyMeasures {
        let (l, r) = (f.landmarks.left_eye, f.landmarks.right_eye);
        KbyMeasures {
            face_quality: if f.quality.issues.is_empty() { f.score } else { f.score * 0.5 },
            face_luminance: f.quality.brightness * 255.0,
            eye_dist: ((l.x - r.x).powi(2) + (l.y - r.y).powi(2)).sqrt(),
        }
    }
}

/// A face in KBY-AI's FaceBox shape (the attributes verity measures).
pub fn kby_face(f: &Face) -> Value {
    let m = KbyMeasures::of(f);
    json!({
        "x1": f.bbox.x.round() as i32,
        "y1": f.bbox.y.round() as i32,
        "x2": (f.bbox.x + f.bbox.width).round() as i32,
        "y2": (f.bbox.y + f.bbox.height).round() as i32,
        "yaw": f.pose.yaw,
        "roll": f.pose.roll,
        "pitch": f.pose.pitch,
        "face_quality": m.face_quality,
        "face_luminance": m.face_luminance,
        "eye_dist": m.eye_dist,
        "landmark_5": f.landmarks.points().iter().map(|p| json!({ "x": p.x, "y": p.y })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kby_scale_keeps_the_decision() {
        assert!((to_kby_scale(0.5, 0.5) - 0.7).abs() < 1e-6);
        assert!((to_kby_scale(1.0, 0.5) - 1.0).abs() < 1e-6);
        assert_eq!(to_kby_scale(-0.3, 0.5), 0.0);
        assert!(to_kby_scale(0.49, 0.5) < 0.7 && to_kby_scale(0.51, 0.5) > 0.7);
        assert!(to_kby_scale(0.3, 0.6) < to_kby_scale(0.4, 0.6), "monotone");
    }
}

//! `/compare_face[_base64]` and `/check_liveness[_base64]` in the KBY-AI shapes.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use image::RgbImage;
use serde_json::{json, Value};

use super::{kby_face, respond, to_kby_scale, Failure, KbyMeasures, KBY_THRESHOLD};
use crate::{
    api::{
        input::{read_form, Field, FieldSpec, Form, Kind, Media},
        state::AppState,
    },
    error::ApiError,
    pipeline::{
        face::{cosine, dominant_face},
        operating, Face,
    },
};

/// KBY-AI's server SDK looks at up to 8 faces per image when comparing, 10 for liveness.
const MAX_COMPARE_FACES: usize = 8;
const MAX_LIVENESS_FACES: usize = 10;

pub const COMPARE_FILES: FieldSpec = FieldSpec::new(&[
    Field::new("file1", Kind::Image, "The first image."),
    Field::new("file2", Kind::Image, "The second image."),
])
.media(Media::Multipart);
pub const COMPARE_BASE64: FieldSpec = FieldSpec::new(&[
    Field::new("base64_1", Kind::Image, "The first image, base64."),
    Field::new("base64_2", Kind::Image, "The second image, base64."),
])
.media(Media::Json);

/// The spec's first two image fields.
fn two_images(spec: &FieldSpec) -> [&'static str; 2] {
    let mut names = spec.image_names();
    [names.next().unwrap_or("file1"), names.next().unwrap_or("file2")]
}

fn compare_failure(error: ApiError) -> Failure {
    let which = match &error {
        ApiError::MissingField(f)
        | ApiError::InvalidBase64(f)
        | ApiError::UnsupportedImageFormat(f)
        | ApiError::ImageDecode { field: f, .. }
        | ApiError::ImageTooLarge { field: f, .. }
        | ApiError::InvalidField { field: f, .. }
            if f.ends_with('2') =>
        {
            "file2"
        }
        _ => "file1",
    };
    Failure::new(error, json!({ "resultCode": format!("Failed to open {which}") }))
}

async fn faces_with_embeddings(state: &AppState, img: Arc<RgbImage>) -> Result<(Vec<Face>, Vec<Vec<f32>>), ApiError> {
    let mut faces = state.faces.detect(img.clone()).await?;
    faces.truncate(MAX_COMPARE_FACES);
    let embeddings = state.faces.embed_faces(img, &faces).await?;
    Ok((faces, embeddings))
}

async fn compare(state: &web::Data<AppState>, mut form: Form, names: [&'static str; 2]) -> Result<Value, Failure> {
    let [img1, img2] = form.images(names, &state.http).await.map_err(compare_failure)?;
    let (a, b) =
        futures_util::future::join(faces_with_embeddings(state, img1), faces_with_embeddings(state, img2)).await;
    let fail = |e: ApiError| Failure::new(e, json!({ "resultCode": "Error" }));
    let ((faces1, emb1), (faces2, emb2)) = (a.map_err(fail)?, b.map_err(fail)?);
    let (f1, f2): (Vec<Value>, Vec<Value>) =
        (faces1.iter().map(kby_face).collect(), faces2.iter().map(kby_face).collect());
    if faces1.is_empty() || faces2.is_empty() {
        let (code, field) = if faces1.is_empty() { ("No face1", names[0]) } else { ("No face2", names[1]) };
        return Err(Failure::new(
            ApiError::NoFace(field.into()),
            json!({ "resultCode": code, "faces1": f1, "faces2": f2, "compare_result": code, "compare_similarity": -1 }),
        ));
    }
    let threshold = operating::VERIFY[0].threshold;
    let mut results = Vec::new();
    let mut best: Option<(f32, usize, usize)> = None;
    for (i, a) in emb1.iter().enumerate() {
        for (j, b) in emb2.iter().enumerate() {
            let s = cosine(a, b);
            if best.is_none_or(|(bs, _, _)| s > bs) {
                best = Some((s, i, j));
            }
            results.push(json!({
                "face1": i, "face2": j,
                "similarity": to_kby_scale(s, threshold),
                "verity_similarity": s,
            }));
        }
    }
    let (s, i, j) = best.unwrap_or((-1.0, 0, 0));
    Ok(json!({
        "resultCode": "Ok",
        "faces1": f1,
        "faces2": f2,
        "results": results,
        // The first SDK version's keys: the best pair.
        "compare_result": if s >= threshold { "Same person" } else { "Different person" },
        "compare_similarity": to_kby_scale(s, threshold),
        "face1": kby_face(&faces1[i]),
        "face2": kby_face(&faces2[j]),
        "threshold": KBY_THRESHOLD,
        "verity_threshold": threshold,
    }))
}

fn liveness_failure(error: ApiError) -> Failure {
    Failure::new(
        error,
        json!({ "resultCode": "Failed to open file", "face_state": { "result": "Failed to open file" }, "faces": [] }),
    )
}

fn face_state(face: &Face, img: &RgbImage, score: f32, live: bool) -> Value {
    let m = KbyMeasures::of(face);
    let (w, h) = (img.width() as f32, img.height() as f32);
    let b = face.bbox;
    let border = 0.05;
    let boundary = b.x < w * border
        || b.y < h * border
        || b.x + b.width > w * (1.0 - border)
        || b.y + b.height > h * (1.0 - border);
    let p = face.pose;
    let (quality, luminance) = (m.face_quality, m.face_luminance);
    json!({
        "is_not_front": !(p.yaw.abs() < 10.0 && p.pitch.abs() < 10.0 && p.roll.abs() < 10.0),
        "is_boundary_face": boundary,
        "is_small": m.eye_dist < 100.0,
        "quality": if quality < 0.3 { "Low" } else if quality < 0.7 { "Medium" } else { "High" },
        "luminance": if luminance < 50.0 { "Dark" } else if luminance < 200.0 { "Normal" } else { "Light" },
        "result": if live { "Real" } else { "Spoof" },
        "liveness_score": to_kby_scale(score, operating::LIVENESS[0].threshold),
        "verity_score": score,
    })
}

async fn liveness(state: &web::Data<AppState>, mut form: Form, name: &'static str) -> Result<Value, Failure> {
    let img = form.image(name, &state.http).await.map_err(liveness_failure)?;
    let fail = |e: ApiError| {
        Failure::new(e, json!({ "resultCode": "Error", "face_state": { "result": "Error" }, "faces": [] }))
    };
    let mut found = state.faces.detect(img.clone()).await.map_err(fail)?;
    // Largest first: the person, when the others are background faces (one rule for every route).
    found.sort_by(|a, b| b.area().total_cmp(&a.area()));
    let person = dominant_face(found.clone()).map(|_| ());
    found.truncate(MAX_LIVENESS_FACES);
    let scored = futures_util::future::join_all(found.iter().map(|f| state.faces.liveness(img.clone(), f))).await;
    let mut faces = Vec::new();
    let mut scores = Vec::new();
    for (f, live) in found.iter().zip(scored) {
        let s = live.map_err(fail)?.score;
        let mut k = kby_face(f);
        k["liveness"] = json!(to_kby_scale(s, operating::LIVENESS[0].threshold));
        faces.push(k);
        scores.push(s);
    }
    match person {
        Err(0) => Err(Failure::new(
            ApiError::NoFace(name.into()),
            json!({ "resultCode": "No face", "face_state": { "result": "No face" }, "faces": faces }),
        )),
        Ok(()) => {
            let threshold = operating::LIVENESS[0].threshold;
            let state = face_state(&found[0], &img, scores[0], scores[0] >= threshold);
            Ok(json!({ "resultCode": "Ok", "face_state": state, "faces": faces }))
        }
        Err(count) => Err(Failure::new(
            ApiError::MultipleFaces { field: name.into(), count },
            json!({ "resultCode": "Multiple face", "face_state": { "result": "Multiple face" }, "faces": faces }),
        )),
    }
}

async fn run_compare(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
    spec: &FieldSpec,
) -> HttpResponse {
    let result = match read_form(&req, body, spec, &state.http).await {
        Ok(form) => compare(&state, form, two_images(spec)).await,
        Err(e) => Err(compare_failure(e)),
    };
    respond(&state, result)
}

async fn run_liveness(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
    spec: &FieldSpec,
) -> HttpResponse {
    let result = match read_form(&req, body, spec, &state.http).await {
        Ok(form) => liveness(&state, form, spec.image_names().next().unwrap_or("file")).await,
        Err(e) => Err(liveness_failure(e)),
    };
    respond(&state, result)
}

/// KBY-AI FaceRecognition: `file1`, `file2` (multipart).
#[utoipa::path(post, path = "/compare_face", tag = "kby-ai compatible",
    responses((status = 200, description = "resultCode, faces1, faces2, results[].similarity (KBY-AI scale)", body = Object),
              crate::api::schema::KbyErrors))]
pub async fn compare_face(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    Ok(run_compare(state, req, body, &COMPARE_FILES).await)
}

/// KBY-AI FaceRecognition: `base64_1`, `base64_2` (JSON).
#[utoipa::path(post, path = "/compare_face_base64", tag = "kby-ai compatible",
    responses((status = 200, description = "resultCode, faces1, faces2, results[].similarity (KBY-AI scale)", body = Object),
              crate::api::schema::KbyErrors))]
pub async fn compare_face_base64(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    Ok(run_compare(state, req, body, &COMPARE_BASE64).await)
}

/// KBY-AI FaceLivenessDetection: `file` (multipart).
#[utoipa::path(post, path = "/check_liveness", tag = "kby-ai compatible",
    responses((status = 200, description = "face_state.result (Real/Spoof), face_state.liveness_score, faces", body = Object),
              crate::api::schema::KbyErrors))]
pub async fn check_liveness(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    Ok(run_liveness(state, req, body, &super::FILE).await)
}

/// KBY-AI FaceLivenessDetection: `base64` (JSON).
#[utoipa::path(post, path = "/check_liveness_base64", tag = "kby-ai compatible",
    responses((status = 200, description = "face_state.result (Real/Spoof), face_state.liveness_score, faces", body = Object),
              crate::api::schema::KbyErrors))]
pub async fn check_liveness_base64(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    Ok(run_liveness(state, req, body, &super::BASE64).await)
}

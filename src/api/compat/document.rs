//! `/idcard_recognition[_base64]` and `/alpr[_base64]` in the KBY-AI shapes.

use std::io::Cursor;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use image::RgbImage;
use serde_json::{json, Map, Value};

use super::{respond, Failure, BASE64, FILE};
use crate::{
    api::{
        input::{read_form, FieldSpec, Form},
        state::AppState,
    },
    error::ApiError,
    pipeline::{document::DocumentRead, Face},
    vision::pool,
};

fn document_name(doc: &DocumentRead) -> &'static str {
    match doc.document_type.as_str() {
        "passport" => "Passport",
        "id_card" => "ID Card",
        "visa" => "Visa",
        "other" => "Travel Document",
        _ => "Unknown",
    }
}

/// The portrait with a 30 % margin, as a base64 PNG (KBY-AI's `Images.Portrait`).
fn portrait_png(img: &RgbImage, face: &Face) -> Option<String> {
    let b = face.bbox;
    let (mx, my) = (b.width * 0.3, b.height * 0.3);
    let x0 = (b.x - mx).max(0.0) as u32;
    let y0 = (b.y - my).max(0.0) as u32;
    let x1 = ((b.x + b.width + mx) as u32).min(img.width());
    let y1 = ((b.y + b.height + my) as u32).min(img.height());
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let crop = image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image();
    let mut png = Vec::new();
    crop.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(png))
}

fn idcard_body(doc: &DocumentRead, portrait: Option<String>) -> Value {
    let mut out = Map::new();
    out.insert("Status".into(), json!("Ok"));
    out.insert("Document Name".into(), json!(document_name(doc)));
    if let Some(m) = &doc.mrz {
        let fields = [
            ("Surname", &m.surname),
            ("Given Names", &m.given_names),
            ("Document Number", &m.document_number),
            ("Nationality", &m.nationality),
            ("Date of Birth", &m.birth_date),
            ("Sex", &m.sex),
            ("Date of Expiry", &m.expiry_date),
            ("Issuing State Code", &m.issuing_state),
        ];
        let mut mrz = Map::new();
        mrz.insert("MRZ".into(), json!(m.lines.join(",")));
        for (k, v) in fields {
            out.insert(k.into(), json!(v));
            mrz.insert(k.into(), json!(v));
        }
        mrz.insert("Valid".into(), json!(m.valid));
        out.insert("MRZ".into(), Value::Object(mrz));
    }
    if let Some(age) = doc.checks.age_years {
        out.insert("Age".into(), json!(age));
    }
    if let Some(expired) = doc.checks.expired {
        out.insert("Expired".into(), json!(expired));
    }
    out.insert("Text".into(), json!(doc.text_lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>()));
    let mut images = Map::new();
    if let Some(p) = portrait {
        images.insert("Portrait".into(), json!(p));
    }
    out.insert("Images".into(), Value::Object(images));
    Value::Object(out)
}

fn idcard_failure(error: ApiError) -> Failure {
    Failure::new(error, json!({ "Status": "Error" }))
}

async fn idcard(state: &web::Data<AppState>, mut form: Form, name: &'static str) -> Result<Value, Failure> {
    let img = form.image(name, &state.http).await.map_err(idcard_failure)?;
    let doc = state.documents.read(img.clone(), None).await.map_err(idcard_failure)?;
    let portrait = match doc.portrait.clone() {
        Some(face) => pool::run(move || Ok(portrait_png(&img, &face))).await.map_err(idcard_failure)?,
        None => None,
    };
    Ok(idcard_body(&doc, portrait))
}

fn alpr_failure(error: ApiError) -> Failure {
    Failure::new(error, json!({ "result": "Failed to open file1", "plate number": {}, "coordinate": {}, "score": {} }))
}

async fn alpr(state: &web::Data<AppState>, mut form: Form, name: &'static str) -> Result<Value, Failure> {
    let img = form.image(name, &state.http).await.map_err(alpr_failure)?;
    let plates = state.plates.read(img).await.map_err(alpr_failure)?;
    let (mut number, mut coordinate, mut score) = (Map::new(), Map::new(), Map::new());
    for (i, p) in plates.iter().enumerate() {
        let key = format!("vehicle {}", i + 1);
        let b = p.bbox;
        number.insert(key.clone(), json!(p.text));
        coordinate.insert(
            key.clone(),
            json!([
                b.x.round() as i32,
                b.y.round() as i32,
                (b.x + b.width).round() as i32,
                (b.y + b.height).round() as i32
            ]),
        );
        score.insert(key, json!(p.confidence));
    }
    let result = if plates.is_empty() { "Nothing Detected !" } else { "License Plate Number Detected !" };
    Ok(json!({ "result": result, "plate number": number, "coordinate": coordinate, "score": score }))
}

async fn run(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
    spec: &FieldSpec,
    plates: bool,
) -> HttpResponse {
    let name = spec.image_names().next().unwrap_or("file");
    let result = match (read_form(&req, body, spec, &state.http).await, plates) {
        (Ok(form), false) => idcard(&state, form, name).await,
        (Ok(form), true) => alpr(&state, form, name).await,
        (Err(e), false) => Err(idcard_failure(e)),
        (Err(e), true) => Err(alpr_failure(e)),
    };
    respond(&state, result)
}

/// KBY-AI IDCardRecognition: `file` (multipart).
#[utoipa::path(post, path = "/idcard_recognition", tag = "kby-ai compatible",
    responses((status = 200, description = "Status, Document Name, Surname, Given Names, ..., MRZ, Images.Portrait", body = Object),
              crate::api::schema::KbyErrors))]
pub async fn idcard_recognition(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    Ok(run(state, req, body, &FILE, false).await)
}

/// KBY-AI IDCardRecognition: `base64` (JSON).
#[utoipa::path(post, path = "/idcard_recognition_base64", tag = "kby-ai compatible",
    responses((status = 200, description = "Status, Document Name, Surname, Given Names, ..., MRZ, Images.Portrait", body = Object),
              crate::api::schema::KbyErrors))]
pub async fn idcard_recognition_base64(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    Ok(run(state, req, body, &BASE64, false).await)
}

/// KBY-AI ALPR: `file` (multipart).
#[utoipa::path(post, path = "/alpr", tag = "kby-ai compatible",
    responses((status = 200, description = "result, \"plate number\", coordinate, score keyed \"vehicle N\"", body = Object),
              crate::api::schema::KbyErrors))]
pub async fn alpr_file(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    Ok(run(state, req, body, &FILE, true).await)
}

/// KBY-AI ALPR: `base64` (JSON).
#[utoipa::path(post, path = "/alpr_base64", tag = "kby-ai compatible",
    responses((status = 200, description = "result, \"plate number\", coordinate, score keyed \"vehicle N\"", body = Object),
              crate::api::schema::KbyErrors))]
pub async fn alpr_base64(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    Ok(run(state, req, body, &BASE64, true).await)
}

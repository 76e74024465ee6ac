//! `POST /v1/onboarding`: one request per customer. Selfie (detect, liveness, embed) and
//! document (OCR, MRZ, portrait, embed) run side by side; then the face match and, with a
//! `collection`, a 1:N duplicate search; the policy turns failed checks into one decision.

use std::{sync::Arc, time::Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use image::RgbImage;
use serde::Serialize;
use tracing::Instrument;

use super::{
    input::{read_form, FieldSpec, Form},
    AppState,
};
use crate::{
    error::ApiError,
    gallery::Gallery,
    pipeline::{
        document::{DocumentPipeline, DocumentRead},
        face::{cosine, LivenessScores},
        onboarding::{decide, Check, Decision},
        operating::{self, OperatingPoint},
        Face, FacePipeline,
    },
    vision::pool,
};

pub const FIELDS: FieldSpec = FieldSpec {
    images: &["selfie", "document"],
    optional_images: &["document_back"],
    options: &["collection", "external_id", "min_age", "liveness_operating_point", "match_operating_point"],
};

/// A face on the selfie smaller than this share of the largest one is background, not a
/// second person in the frame.
const BACKGROUND_FACE_AREA: f32 = 0.25;
const MAX_DUPLICATES: usize = 5;

/// The holder, as the MRZ gives it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Identity {
    pub document_type: String,
    pub document_number: String,
    pub issuing_state: String,
    pub surname: String,
    pub given_names: String,
    pub nationality: String,
    pub birth_date: String,
    pub sex: String,
    pub expiry_date: String,
    pub age_years: Option<i32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Duplicate {
    pub external_id: String,
    pub face_id: String,
    pub similarity: f32,
}

/// Wall time of each stage in milliseconds. `selfie` and `document` run concurrently, so
/// `total` is less than the sum.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Timings {
    pub selfie: f64,
    pub document: f64,
    pub face_match: f64,
    pub duplicate_search: Option<f64>,
    pub total: f64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OnboardingResponse {
    pub decision: Decision,
    /// The reasons of the failed checks, in check order.
    pub reasons: Vec<&'static str>,
    pub checks: Vec<Check>,
    /// From the MRZ; null when none was read.
    pub identity: Option<Identity>,
    pub selfie_face: Option<Face>,
    pub selfie_liveness: Option<LivenessScores>,
    pub document: DocumentRead,
    pub duplicates: Vec<Duplicate>,
    pub timings_ms: Timings,
}

struct Options {
    collection: Option<String>,
    external_id: Option<String>,
    min_age: Option<i32>,
    liveness: OperatingPoint,
    matching: OperatingPoint,
}

fn options(form: &Form) -> Result<Options, ApiError> {
    let min_age = match form.option("min_age").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse::<i32>().ok().filter(|a| (0..=150).contains(a)).ok_or_else(|| {
            ApiError::InvalidField { field: "min_age".into(), reason: format!("a whole number of years, not {v:?}") }
        })?),
    };
    let pick = |table, name| {
        operating::pick(table, form.option(name)).map_err(|e| match e {
            ApiError::InvalidField { reason, .. } => ApiError::InvalidField { field: name.into(), reason },
            other => other,
        })
    };
    Ok(Options {
        collection: form.option("collection").filter(|v| !v.is_empty()).map(String::from),
        external_id: form.option("external_id").filter(|v| !v.is_empty()).map(String::from),
        min_age,
        liveness: pick(&operating::LIVENESS, "liveness_operating_point")?,
        matching: pick(&operating::VERIFY, "match_operating_point")?,
    })
}

struct SelfieResult {
    checks: Vec<Check>,
    face: Option<Face>,
    liveness: Option<LivenessScores>,
    embedding: Option<Vec<f32>>,
}

async fn selfie_stage(faces: &FacePipeline, img: Arc<RgbImage>, op: OperatingPoint) -> Result<SelfieResult, ApiError> {
    let mut found = faces.detect(img.clone()).await?;
    found.sort_by(|a, b| b.area().total_cmp(&a.area()));
    let largest = found.first().map_or(0.0, Face::area);
    let people = found.iter().filter(|f| f.area() >= largest * BACKGROUND_FACE_AREA).count();
    let mut checks = Vec::new();
    if people != 1 {
        let (reason, detail) = match people {
            0 => ("no_face_on_selfie", "no face was found on the selfie".to_string()),
            n => ("multiple_faces_on_selfie", format!("{n} faces of similar size on the selfie")),
        };
        checks.push(Check::fail("selfie_face", reason, None, None).with_detail(detail));
        checks.push(Check::skip("selfie_liveness", "no single face on the selfie"));
        return Ok(SelfieResult { checks, face: None, liveness: None, embedding: None });
    }
    let face = found.swap_remove(0);
    checks.push(Check::pass("selfie_face", Some(face.score), None));
    let (live, emb) = futures_util::future::join(faces.liveness(img.clone(), &face), faces.embed(img, &face)).await;
    let (live, emb) = (live?, emb?);
    checks.push(Check::at_least("selfie_liveness", "selfie_not_live", live.score, op.threshold));
    if face.quality.issues.is_empty() {
        checks.push(Check::pass("selfie_quality", None, None));
    } else {
        let issues = face.quality.issues.join(", ");
        checks.push(Check::fail("selfie_quality", "selfie_low_quality", None, None).with_detail(issues));
    }
    Ok(SelfieResult { checks, face: Some(face), liveness: Some(live), embedding: Some(emb) })
}

async fn document_stage(
    faces: &FacePipeline,
    front: Arc<RgbImage>,
    back: Option<Arc<RgbImage>>,
) -> Result<(DocumentRead, Option<Vec<f32>>), ApiError> {
    let read = DocumentPipeline::new(faces.clone()).read(front.clone(), back).await?;
    let embedding = match &read.portrait {
        Some(p) => Some(faces.embed(front, p).await?),
        None => None,
    };
    Ok((read, embedding))
}

fn document_checks(doc: &DocumentRead, min_age: Option<i32>) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(match &doc.portrait {
        Some(p) => Check::pass("document_portrait", Some(p.score), None),
        None => Check::fail("document_portrait", "no_face_on_document", None, None),
    });
    let Some(mrz) = &doc.mrz else {
        checks.push(Check::fail("mrz", "mrz_not_found", None, None).with_detail("no machine-readable zone was read"));
        for name in ["mrz_check_digits", "document_expiry"] {
            checks.push(Check::skip(name, "no MRZ"));
        }
        if min_age.is_some() {
            checks.push(Check::skip("age", "no MRZ"));
        }
        return checks;
    };
    checks.push(Check::pass("mrz", None, None));
    checks.push(if mrz.valid {
        Check::pass("mrz_check_digits", None, None)
    } else {
        let bad: Vec<&str> = mrz.checks.iter().filter(|c| !c.valid).map(|c| c.field).collect();
        Check::fail("mrz_check_digits", "mrz_check_digit", None, None)
            .with_detail(format!("invalid check digit: {}", bad.join(", ")))
    });
    checks.push(match doc.checks.expired {
        Some(true) => Check::fail("document_expiry", "document_expired", None, None)
            .with_detail(format!("expired on {} (checked on {})", mrz.expiry_date, doc.today)),
        Some(false) => Check::pass("document_expiry", None, None),
        None => Check::fail("document_expiry", "mrz_check_digit", None, None)
            .with_detail(format!("the expiry date {:?} is not a date", mrz.expiry_date)),
    });
    if let Some(min) = min_age {
        checks.push(match doc.checks.age_years {
            Some(age) => Check::at_least("age", "underage", age as f32, min as f32),
            None => Check::fail("age", "mrz_check_digit", None, Some(min as f32))
                .with_detail(format!("the birth date {:?} is not a date", mrz.birth_date)),
        });
    }
    checks
}

fn identity(doc: &DocumentRead) -> Option<Identity> {
    let m = doc.mrz.as_ref()?;
    Some(Identity {
        document_type: doc.document_type.clone(),
        document_number: m.document_number.clone(),
        issuing_state: m.issuing_state.clone(),
        surname: m.surname.clone(),
        given_names: m.given_names.clone(),
        nationality: m.nationality.clone(),
        birth_date: m.birth_date.clone(),
        sex: m.sex.clone(),
        expiry_date: m.expiry_date.clone(),
        age_years: doc.checks.age_years,
    })
}

async fn duplicate_search(
    gallery: Arc<Gallery>,
    collection: String,
    query: Vec<f32>,
    threshold: f32,
    own_external_id: Option<String>,
) -> Result<Vec<Duplicate>, ApiError> {
    let span = tracing::info_span!("search", collection = %collection);
    let hits = pool::run(move || gallery.search(&collection, &query, MAX_DUPLICATES, threshold, None))
        .instrument(span)
        .await?;
    Ok(hits
        .into_iter()
        .filter(|h| own_external_id.as_deref() != Some(h.external_id.as_str()))
        .map(|h| Duplicate { external_id: h.external_id, face_id: h.face_id, similarity: h.similarity })
        .collect())
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e5).round() / 100.0
}

#[utoipa::path(
    post,
    path = "/v1/onboarding",
    tag = "onboarding",
    request_body(
        description = "multipart/form-data with files, or JSON with base64 strings (same field names)",
        content(
            (crate::api::openapi::OnboardingForm = "multipart/form-data"),
            (crate::api::openapi::OnboardingForm = "application/json")
        )
    ),
    responses(
        (status = 200, description = "The decision, every check, identity and timings", body = OnboardingResponse),
        (status = 404, description = "collection_not_found", body = crate::error::ErrorBody),
        crate::api::openapi::ModelErrors,
    )
)]
pub async fn onboarding(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let mut form = read_form(&req, body, &FIELDS, &state.http).await?;
    let opts = options(&form)?;
    if let Some(c) = &opts.collection {
        state.gallery.require_collection(c)?;
    }
    let selfie = form.image("selfie", &state.http).await?;
    let front = form.image("document", &state.http).await?;
    let back =
        if form.has_image("document_back") { Some(form.image("document_back", &state.http).await?) } else { None };

    let faces = &state.faces;
    let selfie_fut = async {
        let t = Instant::now();
        selfie_stage(faces, selfie, opts.liveness).await.map(|r| (r, ms(t)))
    };
    let document_fut = async {
        let t = Instant::now();
        document_stage(faces, front, back).await.map(|r| (r, ms(t)))
    };
    let (selfie, document) = futures_util::future::join(selfie_fut, document_fut).await;
    let ((selfie, selfie_ms), ((doc, portrait_embedding), document_ms)) = (selfie?, document?);

    let mut timings = Timings { selfie: selfie_ms, document: document_ms, ..Timings::default() };
    let mut checks = selfie.checks;
    checks.extend(document_checks(&doc, opts.min_age));
    let t = Instant::now();
    checks.push(match (&selfie.embedding, &portrait_embedding) {
        (Some(a), Some(b)) => Check::at_least("face_match", "face_mismatch", cosine(a, b), opts.matching.threshold),
        (None, _) => Check::skip("face_match", "no single face on the selfie"),
        (_, None) => Check::skip("face_match", "no face on the document"),
    });
    timings.face_match = ms(t);

    let mut duplicates = Vec::new();
    if let Some(collection) = opts.collection {
        let t = Instant::now();
        checks.push(match selfie.embedding {
            Some(query) => {
                let (gallery, threshold) = (state.gallery.clone(), opts.matching.threshold);
                duplicates = duplicate_search(gallery, collection, query, threshold, opts.external_id).await?;
                match duplicates.first() {
                    None => Check::pass("duplicate", None, Some(threshold)),
                    Some(d) => Check::fail("duplicate", "duplicate_identity", Some(d.similarity), Some(threshold))
                        .with_detail(format!("matches enrolled external_id {:?}", d.external_id)),
                }
            }
            None => Check::skip("duplicate", "no single face on the selfie"),
        });
        timings.duplicate_search = Some(ms(t));
    }
    let (decision, reasons) = decide(&mut checks, &state.onboarding_policy);
    timings.total = ms(started);
    tracing::info!(?decision, ?reasons, total_ms = timings.total, "onboarding");
    Ok(HttpResponse::Ok().json(OnboardingResponse {
        decision,
        reasons,
        checks,
        identity: identity(&doc),
        selfie_face: selfie.face,
        selfie_liveness: selfie.liveness,
        document: doc,
        duplicates,
        timings_ms: timings,
    }))
}

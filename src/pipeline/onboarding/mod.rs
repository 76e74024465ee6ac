//! The onboarding flow: one call per customer. Selfie (detect, liveness, embed) and document
//! (OCR, MRZ, portrait, embed) run side by side; then the face match and, with a `collection`,
//! a 1:N duplicate search; the policy ([`policy`]) turns failed checks into one decision.

pub mod policy;

use std::{sync::Arc, time::Instant};

use image::RgbImage;
use serde::Serialize;

pub use self::policy::{decide, Action, Check, Decision, Policy, Reason};
use super::{
    document::{DocumentPipeline, DocumentRead},
    face::{cosine, dominant_face, LivenessScores},
    operating::OperatingPoint,
    search::{self, Duplicate},
    Face, FacePipeline,
};
use crate::{error::ApiError, gallery::Gallery};

/// The holder, as the MRZ gives it (or, without one, the AAMVA barcode of a US or Canadian card).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Identity {
    /// `mrz` or `aamva_barcode`: where these fields come from.
    pub source: String,
    pub document_type: String,
    pub document_number: String,
    /// The MRZ's issuing state; for a barcode, the issuer's country (`USA`, `CAN`, `MEX`).
    pub issuing_state: String,
    /// The barcode's issuing jurisdiction (`CA`, `ON`, ...); null for an MRZ.
    pub issuing_jurisdiction: Option<String>,
    pub surname: String,
    pub given_names: String,
    /// Null where the document does not give it (driver licences).
    pub nationality: Option<String>,
    pub birth_date: String,
    pub sex: String,
    pub expiry_date: String,
    pub age_years: Option<i32>,
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
    pub reasons: Vec<Reason>,
    pub checks: Vec<Check>,
    /// From the MRZ; null when none was read.
    pub identity: Option<Identity>,
    pub selfie_face: Option<Face>,
    pub selfie_liveness: Option<LivenessScores>,
    pub document: DocumentRead,
    pub duplicates: Vec<Duplicate>,
    pub timings_ms: Timings,
}

/// What the caller chose.
#[derive(Debug, Clone)]
pub struct Options {
    /// A collection to search the selfie in for a duplicate identity.
    pub collection: Option<String>,
    /// The applicant's own external_id: matches of it are not duplicates.
    pub external_id: Option<String>,
    pub min_age: Option<i32>,
    pub liveness: OperatingPoint,
    pub matching: OperatingPoint,
    /// Read every line of the document (`document.text_lines`), not only the MRZ's when those
    /// give a valid MRZ.
    pub full_text: bool,
}

/// The images of one onboarding call.
pub struct Images {
    pub selfie: Arc<RgbImage>,
    pub document: Arc<RgbImage>,
    pub document_back: Option<Arc<RgbImage>>,
}

struct SelfieResult {
    checks: Vec<Check>,
    face: Option<Face>,
    liveness: Option<LivenessScores>,
    embedding: Option<Vec<f32>>,
}

async fn selfie_stage(faces: &FacePipeline, img: Arc<RgbImage>, op: OperatingPoint) -> Result<SelfieResult, ApiError> {
    let mut checks = Vec::new();
    let face = match dominant_face(faces.detect(img.clone()).await?) {
        Ok(face) => face,
        Err(n) => {
            let (reason, detail) = match n {
                0 => (Reason::NoFaceOnSelfie, "no face was found on the selfie".to_string()),
                n => (Reason::MultipleFacesOnSelfie, format!("{n} faces of similar size on the selfie")),
            };
            checks.push(Check::fail("selfie_face", reason, None, None).with_detail(detail));
            checks.push(Check::skip("selfie_liveness", "no single face on the selfie"));
            return Ok(SelfieResult { checks, face: None, liveness: None, embedding: None });
        }
    };
    checks.push(Check::pass("selfie_face", Some(face.score), None));
    let (live, emb) = futures_util::future::join(faces.liveness(img.clone(), &face), faces.embed(img, &face)).await;
    let (live, emb) = (live?, emb?);
    checks.push(Check::at_least("selfie_liveness", Reason::SelfieNotLive, live.score, op.threshold));
    if face.quality.issues.is_empty() {
        checks.push(Check::pass("selfie_quality", None, None));
    } else {
        let issues = face.quality.issues.join(", ");
        checks.push(Check::fail("selfie_quality", Reason::SelfieLowQuality, None, None).with_detail(issues));
    }
    Ok(SelfieResult { checks, face: Some(face), liveness: Some(live), embedding: Some(emb) })
}

async fn document_stage(
    documents: &DocumentPipeline,
    faces: &FacePipeline,
    front: Arc<RgbImage>,
    back: Option<Arc<RgbImage>>,
    full_text: bool,
) -> Result<(DocumentRead, Option<Vec<f32>>), ApiError> {
    let read = documents.read_with(front.clone(), back, full_text).await?;
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
        None => Check::fail("document_portrait", Reason::NoFaceOnDocument, None, None),
    });
    let Some(mrz) = &doc.mrz else {
        barcode_checks(doc, min_age, &mut checks);
        return checks;
    };
    checks.push(Check::pass("mrz", None, None));
    checks.push(if mrz.valid {
        Check::pass("mrz_check_digits", None, None)
    } else {
        let bad: Vec<&str> = mrz.checks.iter().filter(|c| !c.valid).map(|c| c.field).collect();
        Check::fail("mrz_check_digits", Reason::MrzCheckDigit, None, None)
            .with_detail(format!("invalid check digit: {}", bad.join(", ")))
    });
    checks.push(match doc.checks.expired {
        Some(true) => Check::fail("document_expiry", Reason::DocumentExpired, None, None)
            .with_detail(format!("expired on {} (checked on {})", mrz.expiry_date, doc.today)),
        Some(false) => Check::pass("document_expiry", None, None),
        None => Check::fail("document_expiry", Reason::MrzCheckDigit, None, None)
            .with_detail(format!("the expiry date {:?} is not a date", mrz.expiry_date)),
    });
    if let Some(min) = min_age {
        checks.push(match doc.checks.age_years {
            Some(age) => Check::at_least("age", Reason::Underage, age as f32, min as f32),
            None => Check::fail("age", Reason::MrzCheckDigit, None, Some(min as f32))
                .with_detail(format!("the birth date {:?} is not a date", mrz.birth_date)),
        });
    }
    checks
}

/// The checks of a document without an MRZ: its AAMVA barcode's, or `mrz` failing.
fn barcode_checks(doc: &DocumentRead, min_age: Option<i32>, checks: &mut Vec<Check>) {
    let barcode = doc.barcode.as_ref();
    let Some(a) = barcode.and_then(|b| b.aamva.as_ref()) else {
        checks
            .push(Check::fail("mrz", Reason::MrzNotFound, None, None).with_detail("no machine-readable zone was read"));
        if let Some(problem) = barcode.and_then(|b| b.problem.as_ref()) {
            checks
                .push(Check::fail("barcode", Reason::BarcodeInvalid, None, None).with_detail(problem.message.clone()));
        }
        for name in ["mrz_check_digits", "document_expiry"] {
            checks.push(Check::skip(name, "no MRZ"));
        }
        if min_age.is_some() {
            checks.push(Check::skip("age", "no MRZ"));
        }
        return;
    };
    checks.push(Check::skip("mrz", "no MRZ: the identity is the AAMVA barcode's"));
    checks.push(Check::pass("barcode", None, None));
    checks.push(match doc.checks.expired {
        Some(true) => Check::fail("document_expiry", Reason::DocumentExpired, None, None)
            .with_detail(format!("expired on {} (checked on {})", a.fields.expiry_date, doc.today)),
        _ => Check::pass("document_expiry", None, None),
    });
    if let Some(min) = min_age {
        // The parser refuses a payload whose birth date is not a date, so the age is known here.
        let age = doc.checks.age_years.unwrap_or(0);
        checks.push(Check::at_least("age", Reason::Underage, age as f32, min as f32));
    }
}

fn identity(doc: &DocumentRead) -> Option<Identity> {
    if let Some(m) = doc.mrz.as_ref() {
        return Some(Identity {
            source: "mrz".into(),
            document_type: doc.document_type.clone(),
            document_number: m.document_number.clone(),
            issuing_state: m.issuing_state.clone(),
            issuing_jurisdiction: None,
            surname: m.surname.clone(),
            given_names: m.given_names.clone(),
            nationality: Some(m.nationality.clone()),
            birth_date: m.birth_date.clone(),
            sex: m.sex.clone(),
            expiry_date: m.expiry_date.clone(),
            age_years: doc.checks.age_years,
        });
    }
    let a = doc.barcode.as_ref()?.aamva.as_ref()?;
    let f = &a.fields;
    Some(Identity {
        source: "aamva_barcode".into(),
        document_type: doc.document_type.clone(),
        document_number: f.document_number.clone(),
        issuing_state: a.issuer.country.clone().unwrap_or_default(),
        issuing_jurisdiction: a.issuer.jurisdiction_code.clone(),
        surname: f.family_name.clone(),
        given_names: f.given_names.clone(),
        nationality: None,
        birth_date: f.birth_date.clone(),
        sex: f.sex.clone().unwrap_or_default(),
        expiry_date: f.expiry_date.clone(),
        age_years: doc.checks.age_years,
    })
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e5).round() / 100.0
}

/// Runs the whole flow; `started` is when the request arrived (for `timings_ms.total`).
pub async fn run(
    faces: &FacePipeline,
    documents: &DocumentPipeline,
    gallery: &Arc<Gallery>,
    policy: &Policy,
    images: Images,
    options: Options,
    started: Instant,
) -> Result<OnboardingResponse, ApiError> {
    let selfie_fut = async {
        let t = Instant::now();
        selfie_stage(faces, images.selfie, options.liveness).await.map(|r| (r, ms(t)))
    };
    let document_fut = async {
        let t = Instant::now();
        document_stage(documents, faces, images.document, images.document_back, options.full_text)
            .await
            .map(|r| (r, ms(t)))
    };
    let (selfie, document) = futures_util::future::join(selfie_fut, document_fut).await;
    let ((selfie, selfie_ms), ((doc, portrait_embedding), document_ms)) = (selfie?, document?);

    let mut timings = Timings { selfie: selfie_ms, document: document_ms, ..Timings::default() };
    let mut checks = selfie.checks;
    checks.extend(document_checks(&doc, options.min_age));
    let t = Instant::now();
    checks.push(match (&selfie.embedding, &portrait_embedding) {
        (Some(a), Some(b)) => {
            Check::at_least("face_match", Reason::FaceMismatch, cosine(a, b), options.matching.threshold)
        }
        (None, _) => Check::skip("face_match", "no single face on the selfie"),
        (_, None) => Check::skip("face_match", "no face on the document"),
    });
    timings.face_match = ms(t);

    let mut duplicates = Vec::new();
    if let Some(collection) = options.collection {
        let t = Instant::now();
        checks.push(match selfie.embedding {
            Some(query) => {
                let threshold = options.matching.threshold;
                duplicates = search::duplicates(gallery, collection, query, threshold, options.external_id).await?;
                match duplicates.first() {
                    None => Check::pass("duplicate", None, Some(threshold)),
                    Some(d) => Check::fail("duplicate", Reason::DuplicateIdentity, Some(d.similarity), Some(threshold))
                        .with_detail(format!("matches enrolled external_id {:?}", d.external_id)),
                }
            }
            None => Check::skip("duplicate", "no single face on the selfie"),
        });
        timings.duplicate_search = Some(ms(t));
    }
    let (decision, reasons) = decide(&mut checks, policy);
    timings.total = ms(started);
    tracing::info!(?decision, ?reasons, total_ms = timings.total, "onboarding");
    Ok(OnboardingResponse {
        decision,
        reasons,
        checks,
        identity: identity(&doc),
        selfie_face: selfie.face,
        selfie_liveness: selfie.liveness,
        document: doc,
        duplicates,
        timings_ms: timings,
    })
}

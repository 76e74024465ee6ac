//! `POST /v1/onboarding`: parse the images and options, run [`crate::pipeline::onboarding::run`],
//! answer its report.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};

use super::{
    input::{read_form, Field, FieldSpec, Form, Kind},
    state::AppState,
};
use crate::{
    error::ApiError,
    pipeline::{
        onboarding::{self, Images, OnboardingResponse, Options},
        operating,
    },
};

pub const FIELDS: FieldSpec = FieldSpec::new(&[
    Field::new("selfie", Kind::Image, "The applicant's selfie (liveness and the face match)."),
    Field::new(
        "document",
        Kind::Image,
        "The document's front side (MRZ and portrait; a licence's PDF417 is looked for too).",
    ),
    Field::optional(
        "document_back",
        Kind::Image,
        "The document's back side (an ID card's MRZ, a US/Canadian licence's PDF417).",
    ),
    Field::optional(
        "collection",
        Kind::Id { max: 128 },
        "A collection to search the selfie in for a duplicate identity.",
    ),
    Field::optional(
        "external_id",
        Kind::Id { max: 256 },
        "The applicant's own external_id: matches of it are not duplicates.",
    ),
    Field::optional(
        "min_age",
        Kind::Integer { min: 0, max: 150 },
        "Minimum age in whole years (the MRZ's birth date, else the AAMVA barcode's).",
    ),
    Field::optional(
        "liveness_operating_point",
        Kind::OperatingPoint(&operating::LIVENESS),
        "The selfie's liveness threshold.",
    ),
    Field::optional(
        "match_operating_point",
        Kind::OperatingPoint(&operating::VERIFY),
        "The selfie-portrait match threshold.",
    ),
    Field::optional(
        "full_text",
        Kind::Boolean,
        "Read every text line of the document (default false: when the MRZ-shaped lines hold a valid MRZ, \
         the rest of the page is not read and document.text_lines has only those).",
    ),
]);

fn options(form: &Form) -> Result<Options, ApiError> {
    Ok(Options {
        collection: form.text("collection").map(String::from),
        external_id: form.text("external_id").map(String::from),
        min_age: form.integer("min_age").map(|a| a as i32),
        liveness: operating::pick(&operating::LIVENESS, form.text("liveness_operating_point"))?,
        matching: operating::pick(&operating::VERIFY, form.text("match_operating_point"))?,
        full_text: form.boolean("full_text").unwrap_or(false),
    })
}

#[utoipa::path(
    post,
    path = "/v1/onboarding",
    tag = "onboarding",
    responses(
        (status = 200, description = "The decision, every check, identity and timings", body = OnboardingResponse),
        (status = 404, description = "collection_not_found", body = crate::error::ErrorBody),
        crate::api::schema::ModelErrors,
    )
)]
pub async fn onboarding(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let mut form = read_form(&req, body, &FIELDS, &state.http).await?;
    let options = options(&form)?;
    if let Some(c) = &options.collection {
        state.gallery.require_collection(c)?;
    }
    let [selfie, document, document_back] =
        form.decode_images(["selfie", "document", "document_back"], &state.http).await?;
    let missing = |name: &str| ApiError::MissingField(name.to_string());
    let images = Images {
        selfie: selfie.ok_or_else(|| missing("selfie"))?,
        document: document.ok_or_else(|| missing("document"))?,
        document_back,
    };
    let report = onboarding::run(
        &state.faces,
        &state.documents,
        &state.gallery,
        &state.onboarding_policy,
        images,
        options,
        started,
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

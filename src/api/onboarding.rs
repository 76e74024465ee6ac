//! `POST /v1/onboarding`: parse the images and options, run [`crate::pipeline::onboarding::run`],
//! answer its report.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};

use super::{
    input::{read_form, FieldSpec, Form},
    state::AppState,
};
use crate::{
    error::ApiError,
    pipeline::{
        onboarding::{self, Images, OnboardingResponse, Options},
        operating,
    },
};

pub const FIELDS: FieldSpec = FieldSpec {
    images: &["selfie", "document"],
    optional_images: &["document_back"],
    options: &["collection", "external_id", "min_age", "liveness_operating_point", "match_operating_point"],
};

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

#[utoipa::path(
    post,
    path = "/v1/onboarding",
    tag = "onboarding",
    request_body(
        description = "multipart/form-data with files, or JSON with base64 strings (same field names)",
        content(
            (crate::api::schema::OnboardingForm = "multipart/form-data"),
            (crate::api::schema::OnboardingForm = "application/json")
        )
    ),
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

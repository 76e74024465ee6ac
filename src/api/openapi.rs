//! The OpenAPI 3 description of every route (`GET /openapi.json`) and the embedded Swagger UI
//! (`GET /docs/`, its assets compiled into the binary: nothing is loaded from the internet).

use std::sync::{Arc, OnceLock};

use actix_web::{http::header, web, HttpResponse};
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    Modify, OpenApi, ToSchema,
};

use super::{compat, document, face, gallery, health, jobs, onboarding, plate, routes};
use crate::error::{ApiError, ErrorBody};

/// The API description, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Verity",
        description = "Self-hosted face and ID verification. Every image field takes a file in \
            multipart/form-data or a base64 string (optionally a data: URL) in a JSON body, under \
            the same name. Errors are RFC 7807 bodies with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    paths(
        openapi_json, docs_redirect, docs,
        health::livez, health::startupz, health::readyz, health::metrics, health::info, health::cluster,
        face::detect, face::verify, face::liveness,
        document::read, plate::read, onboarding::onboarding,
        gallery::create_collection, gallery::list_collections, gallery::delete_collection,
        gallery::enroll, gallery::list_faces, gallery::delete_face, gallery::delete_subject, gallery::search, jobs::reembed, jobs::job,
        compat::face::compare_face, compat::face::compare_face_base64,
        compat::face::check_liveness, compat::face::check_liveness_base64,
        compat::document::idcard_recognition, compat::document::idcard_recognition_base64,
        compat::document::alpr_file, compat::document::alpr_base64,
    ),
    modifiers(&Security),
    tags(
        (name = "faces", description = "Detection, 1:1 verification, passive liveness"),
        (name = "documents", description = "ID documents: OCR, MRZ, portrait"),
        (name = "plates", description = "License plates"),
        (name = "onboarding", description = "Selfie + document in one call, one decision"),
        (name = "gallery", description = "Collections of enrolled faces and 1:N search"),
        (name = "operations", description = "Probes, metrics, information, this description"),
        (name = "kby-ai compatible", description = "Drop-in routes for clients of the KBY-AI server SDKs"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Every route but the public ones takes a key when keys are configured (the empty
        // requirement: none needed when they are not).
        let none: [&str; 0] = [];
        let requirements = vec![
            SecurityRequirement::new("api_key", none),
            SecurityRequirement::new("bearer", none),
            SecurityRequirement::default(),
        ];
        for r in routes::ROUTES.iter().filter(|r| r.access != routes::Access::Public) {
            let Some(item) = doc.paths.paths.get_mut(&routes::openapi_path(r.path)) else { continue };
            let op = match r.method {
                "get" => item.get.as_mut(),
                "post" => item.post.as_mut(),
                "delete" => item.delete.as_mut(),
                "put" => item.put.as_mut(),
                _ => None,
            };
            if let Some(op) = op {
                op.security = Some(requirements.clone());
            }
        }
    }
}

/// The errors every model route may answer (RFC 7807 bodies with a stable `code`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ModelErrors {
    /// Missing, unknown or invalid field
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// unauthorized (API keys are configured)
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody),
    /// Payload or image too large
    #[response(status = 413)]
    TooLarge(#[to_schema] ErrorBody),
    /// Not an accepted content or image type
    #[response(status = 415)]
    UnsupportedType(#[to_schema] ErrorBody),
    /// Image not decodable, no face, several faces, or face rejected
    #[response(status = 422)]
    Unprocessable(#[to_schema] ErrorBody),
    /// overloaded
    #[response(status = 429)]
    Overloaded(#[to_schema] ErrorBody),
    /// Models not ready, gallery unavailable, or deadline exceeded
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorBody),
}

/// The errors of the gallery routes that take no image.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum StoreErrors {
    /// unauthorized (API keys are configured)
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody),
    /// collection_not_found, face_not_found or subject_not_found
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody),
    /// The gallery store is unavailable, or the deadline was exceeded
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorBody),
}

/// An image: a file (multipart) or a base64 string (JSON).
pub type ImageField = String;

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImageForm {
    /// The image (JPEG, PNG, WebP or BMP): a file, or base64 in JSON.
    image: ImageField,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VerifyForm {
    source: ImageField,
    target: ImageField,
    /// `default` (0.50), `strict` (0.60) or `lenient` (0.42).
    operating_point: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LivenessForm {
    image: ImageField,
    /// `default` (0.60) or `strict` (0.80).
    operating_point: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DocumentForm {
    /// Front side.
    image: ImageField,
    /// Back side (its text joins the MRZ search).
    back: Option<ImageField>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OnboardingForm {
    selfie: ImageField,
    /// The document's front side (MRZ and portrait).
    document: ImageField,
    document_back: Option<ImageField>,
    /// A collection to search the selfie in for a duplicate identity.
    collection: Option<String>,
    /// The applicant's own external_id: matches of it are not duplicates.
    external_id: Option<String>,
    /// Minimum age in whole years (checked against the MRZ birth date).
    min_age: Option<i32>,
    liveness_operating_point: Option<String>,
    match_operating_point: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateCollectionForm {
    /// 1 to 128 characters of letters, digits and `- _ . : @`.
    id: String,
    description: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EnrollForm {
    image: ImageField,
    /// Your identifier of the person (1 to 256 characters).
    external_id: String,
    /// A JSON object (as text in multipart), at most 16 KiB.
    metadata: Option<String>,
    /// RFC 3339 time after which the retention purge deletes the face (must be in the future).
    expires_at: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SearchForm {
    /// Search by image...
    image: Option<ImageField>,
    /// ...or by an enrolled face.
    face_id: Option<String>,
    /// 1 to 100 (default 5).
    top_k: Option<u32>,
    /// Cosine similarity cut-off (overrides the operating point).
    threshold: Option<f32>,
    operating_point: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReembedForm {
    /// Faces per chunk (1 to 10000, default 256).
    chunk_size: Option<u32>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KbyCompareFiles {
    file1: ImageField,
    file2: ImageField,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KbyCompareBase64 {
    base64_1: ImageField,
    base64_2: ImageField,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KbyFile {
    file: ImageField,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KbyBase64 {
    base64: ImageField,
}

/// This description.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> HttpResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| document().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));
    HttpResponse::Ok().content_type("application/json").body(body.as_str())
}

/// Redirects to the browsable description.
#[utoipa::path(get, path = "/docs", tag = "operations", responses((status = 308, description = "to /docs/")))]
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/docs/")).finish()
}

/// The browsable description (Swagger UI, served from the binary).
#[utoipa::path(get, path = "/docs/{tail}", tag = "operations",
    params(("tail" = String, Path, description = "an asset of the UI; empty for its page")),
    responses((status = 200, description = "The UI page or asset", content_type = "text/html"),
              (status = 404, description = "No such asset", body = crate::error::ErrorBody)))]
pub async fn docs(tail: web::Path<String>) -> Result<HttpResponse, ApiError> {
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| Arc::new(utoipa_swagger_ui::Config::from("/openapi.json"))).clone();
    match utoipa_swagger_ui::serve(&tail, config) {
        Ok(Some(file)) => Ok(HttpResponse::Ok().content_type(file.content_type).body(file.bytes.into_owned())),
        Ok(None) => Err(ApiError::NotFound),
        Err(e) => Err(ApiError::Internal(format!("swagger ui: {e}"))),
    }
}

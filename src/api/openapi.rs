//! The OpenAPI 3 description of every route (served by `docs::openapi_json`).

use std::sync::OnceLock;

use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    Modify, OpenApi,
};

use super::{compat, docs, document, face, gallery, health, jobs, onboarding, plate, routes, schema};

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
        docs::openapi_json, docs::docs_redirect, docs::docs,
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
    modifiers(&Security, &ProblemJson, &RequestBodies),
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

/// Every route's request body, built from the field declaration its handler parses with
/// (`routes::Route::fields`), so the two cannot disagree.
struct RequestBodies;

impl Modify for RequestBodies {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for r in routes::ROUTES {
            let (Some(spec), Some(op)) = (r.fields, operation(doc, r)) else { continue };
            op.request_body = Some(schema::request_body(spec).into());
        }
    }
}

/// The described operation of route `r`.
fn operation<'a>(
    doc: &'a mut utoipa::openapi::OpenApi,
    r: &routes::Route,
) -> Option<&'a mut utoipa::openapi::path::Operation> {
    let item = doc.paths.paths.get_mut(&routes::openapi_path(r.path))?;
    match r.method {
        "get" => item.get.as_mut(),
        "post" => item.post.as_mut(),
        "delete" => item.delete.as_mut(),
        "put" => item.put.as_mut(),
        _ => None,
    }
}

/// Every error answer (an `ErrorBody`) is served as `application/problem+json`
/// (`ApiError::error_response`); the annotations name only the body type, so the media type is
/// set here, for all of them at once. (The probes' 503 bodies are plain JSON status objects.)
struct ProblemJson;

impl Modify for ProblemJson {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.post, &mut item.delete, &mut item.put];
            for op in ops.into_iter().flatten() {
                for (status, response) in op.responses.responses.iter_mut() {
                    let utoipa::openapi::RefOr::T(response) = response else { continue };
                    if !status.starts_with(['4', '5']) {
                        continue;
                    }
                    let is_error_body = response.content.get("application/json").is_some_and(|c| {
                        matches!(c, utoipa::openapi::RefOr::T(c)
                            if matches!(&c.schema, Some(utoipa::openapi::RefOr::Ref(r)) if r.ref_location.ends_with("/ErrorBody")))
                    });
                    if let Some(content) = response.content.shift_remove("application/json").filter(|_| is_error_body) {
                        response.content.insert("application/problem+json".to_string(), content);
                    }
                }
            }
        }
    }
}

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
            if let Some(op) = operation(doc, r) {
                op.security = Some(requirements.clone());
            }
        }
    }
}

/// The description as pretty JSON.
pub fn json() -> String {
    document().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

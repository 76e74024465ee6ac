//! `GET /openapi.json` (the description built by [`super::openapi`], handed over as app data so
//! this file names no route) and the embedded Swagger UI (`GET /docs/`, its assets compiled into
//! the binary: nothing is loaded from the internet).

use std::sync::{Arc, OnceLock};

use actix_web::{http::header, web, HttpResponse};

use crate::error::ApiError;

/// The OpenAPI document as JSON text.
pub struct SpecJson(pub web::Bytes);

/// This description.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json", body = Object)))]
pub async fn openapi_json(spec: web::Data<SpecJson>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(spec.0.clone())
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

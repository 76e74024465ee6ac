//! Probes, `/v1/info` and `/metrics`.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;
use crate::{engine::runtime, pipeline::operating, telemetry::metrics};

/// 200 while the process runs.
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "alive" }))
}

/// 200 when every model is loaded and warm; 503 with each model's state otherwise.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let engine = state.faces.engine();
    let models: BTreeMap<&str, _> = engine.status().into_iter().collect();
    let gallery = state.gallery.status();
    if engine.is_ready() && gallery.ready {
        HttpResponse::Ok().json(json!({ "status": "ready", "models": models, "gallery": gallery }))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "1"))
            .json(json!({ "status": "not_ready", "models": models, "gallery": gallery }))
    }
}

pub async fn info(state: web::Data<AppState>) -> HttpResponse {
    let engine = state.faces.engine();
    let cfg = engine.config();
    HttpResponse::Ok().json(json!({
        "name": "verity",
        "version": env!("CARGO_PKG_VERSION"),
        "ready": engine.is_ready(),
        "execution_provider_requested": cfg.ep,
        "onnxruntime_library": runtime::library_path(cfg).display().to_string(),
        "models": engine.info(),
        "thread_budget": engine.budget(),
        "gallery": state.gallery.status(),
        "operating_points": { "verify": operating::VERIFY, "liveness": operating::LIVENESS },
        "limits": {
            "max_image_bytes": state.http.max_image_bytes,
            "max_image_pixels": state.http.max_image_pixels,
            "max_concurrent_requests": state.http.max_concurrent_requests,
            "requests_in_flight": state.http.max_concurrent_requests.saturating_sub(state.admission.available_permits()),
            "request_timeout_ms": cfg.request_timeout_ms,
            "queue_size": cfg.queue_size,
        },
        "auth": !state.api_keys.is_empty(),
    }))
}

pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics::get().encode())
}

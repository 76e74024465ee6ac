//! Probes, `/v1/info` and `/metrics`.

use std::{collections::BTreeMap, sync::atomic::Ordering};

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::state::AppState;
use crate::{
    cluster::Readiness,
    engine::{runtime, Engine},
    gallery::Gallery,
    pipeline::operating,
    telemetry::metrics,
};

/// 200 while the process runs.
#[utoipa::path(get, path = "/livez", tag = "operations", responses((status = 200, description = "The process runs", body = Object)))]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "alive" }))
}

/// Start-up probe: 200 once every model is loaded and warm (the slow part of starting), 503
/// before. Unlike `/readyz` it ignores the gallery and draining, so a pod that is merely
/// catching up or shutting down is not restarted.
#[utoipa::path(get, path = "/startupz", tag = "operations", responses((status = 200, description = "Models loaded and warm", body = Object), (status = 503, description = "Still loading: each model's state", body = Object)))]
pub async fn startupz(state: web::Data<AppState>) -> HttpResponse {
    let engine = state.faces.engine();
    let models: BTreeMap<&str, _> = engine.status().into_iter().collect();
    if engine.is_ready() {
        HttpResponse::Ok().json(json!({ "status": "started", "models": models }))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "1"))
            .json(json!({ "status": "starting", "models": models }))
    }
}

/// 200 when every model is loaded and warm, the gallery has caught up and the server is not
/// draining; 503 with each part's state otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "Models warm and gallery caught up", body = Object), (status = 503, description = "Not ready: each model's and the gallery's state", body = Object)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let engine = state.faces.engine();
    let models: BTreeMap<&str, _> = engine.status().into_iter().collect();
    let gallery = state.gallery.status();
    let r = readiness(engine, &state.gallery, state.draining.load(Ordering::Relaxed));
    let c = state.cluster.status();
    // The cluster part is informative: an unreachable Kubernetes API does not stop serving.
    let cluster = json!({ "enabled": c.enabled, "leader": c.leader.is_self, "errors": c.errors });
    let body = json!({
        "status": if r.ready { "ready" } else if r.reason == "Draining" { "draining" } else { "not_ready" },
        "reason": r.reason,
        "draining": r.reason == "Draining",
        "models": models,
        "gallery": gallery,
        "cluster": cluster,
    });
    if r.ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).json(body)
    }
}

/// This replica's readiness and its reason: the one rule behind `/readyz` and the Pod
/// condition `verity.dev/ready`.
pub fn readiness(engine: &Engine, gallery: &Gallery, draining: bool) -> Readiness {
    let (ready, reason, message) = if draining {
        (false, "Draining", "shutting down: finishing in-flight requests".to_string())
    } else if !engine.is_ready() {
        (false, "ModelsLoading", "models are loading or unavailable (see /readyz)".to_string())
    } else if gallery.is_degraded() {
        // A database outage hits every replica at once: taking them all out of the Service
        // would stop faces, documents and plates too. The replica stays in and says why.
        let g = gallery.status();
        (
            true,
            "GalleryStoreUnavailable",
            format!(
                "serving without the gallery store since {}: {}",
                g.degraded_since.unwrap_or_default(),
                g.error.unwrap_or_default()
            ),
        )
    } else if !gallery.is_ready() {
        let g = gallery.status();
        (false, "GalleryCatchingUp", format!("gallery at sequence {} of {}", g.applied_sequence, g.head_sequence))
    } else {
        (true, "Ready", "models warm, gallery caught up".to_string())
    };
    Readiness { ready, reason, message }
}

/// This pod, the leader, the peers and their readiness.
#[utoipa::path(get, path = "/v1/cluster", tag = "operations",
    responses((status = 200, description = "This pod, leader, peers; `enabled` false outside Kubernetes", body = crate::cluster::ClusterStatus),
              (status = 401, description = "unauthorized", body = crate::error::ErrorBody)))]
pub async fn cluster(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.cluster.status())
}

#[utoipa::path(get, path = "/v1/info", tag = "operations", responses((status = 200, description = "Version, models, execution provider, limits, operating points", body = Object), (status = 401, description = "unauthorized", body = crate::error::ErrorBody)))]
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
        "operating_points": {
            "verify": operating::VERIFY,
            "liveness": operating::LIVENESS,
            "liveness_2d_veto": operating::LIVENESS_2D_VETO,
        },
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

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus / OpenMetrics text", content_type = "application/openmetrics-text")))]
pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics::get().encode())
}

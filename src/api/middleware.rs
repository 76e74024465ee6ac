//! Middleware: request metrics and access logs, and API-key authentication for `/v1`.

use std::{sync::atomic::Ordering, time::Instant};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    web, Error,
};

use opentelemetry::propagation::Extractor;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::state::AppState;

struct HeaderExtractor<'a>(&'a header::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
use crate::{error::ApiError, telemetry::metrics};

const QUIET: [&str; 4] = ["/livez", "/startupz", "/readyz", "/metrics"];

/// Counts every request by route pattern and status, and logs the non-probe ones; while
/// draining, answers `Connection: close`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().clone();
    let draining = req.app_data::<web::Data<AppState>>().is_some_and(|s| s.draining.load(Ordering::Relaxed));
    // Probes and metrics scrapes are not traced: they would drown the requests that matter.
    let span = if QUIET.contains(&route.as_str()) {
        tracing::Span::none()
    } else {
        tracing::info_span!(
            "request",
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            http.request.method = %method,
            http.route = %route,
            http.response.status_code = tracing::field::Empty,
        )
    };
    // W3C trace context from the caller (traceparent/tracestate) parents this request's span.
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(req.headers())));
    let _ = span.set_parent(parent);
    let mut res = next.call(req).instrument(span.clone()).await?;
    span.record("http.response.status_code", res.status().as_u16());
    if draining {
        // Shutting down: no keep-alive, so clients open their next request elsewhere instead of
        // racing the listener's close on an idle connection.
        res.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    }
    let status = res.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    metrics::get().observe_request(&route, status, seconds);
    if !QUIET.contains(&route.as_str()) {
        tracing::info!(%method, %route, status, ms = seconds * 1e3, "request");
    }
    Ok(res)
}

/// When API keys are configured, `/v1` needs `Authorization: Bearer <key>` or `X-API-Key: <key>`.
pub async fn require_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let keys = req.app_data::<web::Data<AppState>>().map(|s| s.api_keys.clone()).unwrap_or_default();
    if !keys.is_empty() {
        let headers = req.headers();
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim);
        let ok = [bearer, api_key].into_iter().flatten().any(|k| keys.iter().any(|known| constant_time_eq(known, k)));
        if !ok {
            return Err(ApiError::Unauthorized.into());
        }
    }
    next.call(req).await
}

/// Admission for the model routes: a permit first (none free: 429 `overloaded` at once), then
/// the whole request under its deadline (503 `timeout`). Dropping a timed-out request drops its
/// queue entries' receivers, so workers skip them.
pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    let Ok(_permit) = state.admission.clone().try_acquire_owned() else {
        metrics::get().reject("overloaded");
        return Err(ApiError::Overloaded.into());
    };
    match tokio::time::timeout(state.request_timeout, next.call(req)).await {
        Ok(res) => res,
        Err(_) => {
            metrics::get().reject("timeout");
            Err(ApiError::Timeout.into())
        }
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

//! The tracing subscriber: logs (text or JSON) on stderr, and OpenTelemetry spans exported over
//! OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set. W3C trace
//! context (`traceparent`) on incoming requests becomes the parent of the request span
//! (`api::middleware::observe`); stage spans (decode, detect, embed, liveness, ocr, search)
//! nest under it.

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider, Resource};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, Layer};

use crate::config::LogFormat;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

fn otlp_configured() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()))
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// The exporter's HTTP client: plain HTTP, or HTTPS verified against the system's roots, or
/// against `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE` / `OTEL_EXPORTER_OTLP_CERTIFICATE` (a PEM
/// CA file, as the OpenTelemetry specification names it) when set.
fn http_client() -> Result<reqwest::blocking::Client, String> {
    let ca = env("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE").or_else(|| env("OTEL_EXPORTER_OTLP_CERTIFICATE"));
    let roots = crate::tls::roots(ca.as_deref().map(std::path::Path::new))
        .map_err(|e| format!("OTLP TLS root certificates: {e}"))?;
    let tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let timeout = env("OTEL_EXPORTER_OTLP_TIMEOUT").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    // reqwest's blocking client must not be built inside an async runtime: build it on a thread.
    std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(std::time::Duration::from_millis(timeout))
            .build()
            .map_err(|e| format!("OTLP HTTP client: {e}"))
    })
    .join()
    .map_err(|_| "OTLP HTTP client: building it panicked".to_string())?
}

/// The OTLP/HTTP exporter and its provider; `OTEL_EXPORTER_OTLP_PROTOCOL=http/json` selects
/// JSON (default protobuf). `http://` (the usual in-cluster collector on :4318) or `https://`
/// (rustls; see [`http_client`]).
fn provider() -> Result<SdkTracerProvider, String> {
    let protocol = match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        Ok("http/json") => Protocol::HttpJson,
        _ => Protocol::HttpBinary,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(http_client()?)
        .with_protocol(protocol)
        .build()
        .map_err(|e| e.to_string())?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("verity");
    }
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
}

/// Installs the global subscriber: logs filtered by RUST_LOG (`info` by default, ONNX Runtime's
/// own chatter at `warn`) and, when configured, the OTLP trace exporter, whose spans are
/// filtered by VERITY_TRACES_FILTER (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Text => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt.json().with_filter(filter).boxed(),
    };
    // Spans have their own filter: RUST_LOG=warn quiets the logs, not the traces.
    let span_filter = tracing_subscriber::EnvFilter::try_from_env("VERITY_TRACES_FILTER")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=off"));
    let mut otel_error = None;
    let otel = if otlp_configured() {
        match provider() {
            Ok(p) => {
                let tracer = p.tracer("verity");
                let _ = PROVIDER.set(p);
                Some(tracing_opentelemetry::layer().with_tracer(tracer).with_filter(span_filter))
            }
            Err(e) => {
                otel_error = Some(e);
                None
            }
        }
    } else {
        None
    };
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let _ = tracing_subscriber::registry().with(fmt).with(otel).try_init();
    match (otel_error, PROVIDER.get().is_some()) {
        (Some(e), _) => tracing::error!("OpenTelemetry export is off: {e}"),
        (None, true) => tracing::info!("OpenTelemetry: exporting traces over OTLP/HTTP"),
        (None, false) => {}
    }
}

/// Flushes and stops the trace exporter (the last step of a graceful shutdown).
pub fn shutdown() {
    if let Some(p) = PROVIDER.get() {
        if let Err(e) = p.shutdown() {
            tracing::warn!("flushing traces: {e}");
        }
    }
}

//! Logs and metrics.

pub mod metrics;

use crate::config::LogFormat;

/// Installs the global tracing subscriber (RUST_LOG filters; `info` by default, ONNX Runtime's
/// own chatter at `warn`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

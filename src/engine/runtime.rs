//! The one ONNX Runtime environment of the process, loaded dynamically from the configured
//! library (`--ort-lib`, then `ORT_DYLIB_PATH`, then the library fetched for the provider).

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use crate::config::{EngineConfig, ExecutionProvider};

static RUNTIME: OnceLock<Result<(ort::environment::Environment, PathBuf), String>> = OnceLock::new();

/// The library path this configuration asks for.
pub fn library_path(cfg: &EngineConfig) -> PathBuf {
    if let Some(p) = &cfg.ort_lib {
        return p.clone();
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(p);
    }
    let variant = match cfg.ep {
        ExecutionProvider::Cpu => "cpu",
        ExecutionProvider::Cuda | ExecutionProvider::Tensorrt => "cuda",
    };
    Path::new(".cache/onnxruntime").join(variant).join("libonnxruntime.so")
}

/// Loads ONNX Runtime once; later calls return the first outcome.
pub fn init(cfg: &EngineConfig) -> Result<&'static ort::environment::Environment, String> {
    let outcome = RUNTIME.get_or_init(|| {
        let path = library_path(cfg);
        if !path.exists() {
            return Err(format!(
                "ONNX Runtime library {} not found; run `make runtime` or set VERITY_ORT_LIB",
                path.display()
            ));
        }
        let builder =
            ort::init_from(&path).map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?;
        let env = builder
            .with_name("verity")
            .build()
            .map_err(|e| format!("cannot create the ONNX Runtime environment: {e}"))?;
        tracing::info!(library = %path.display(), "ONNX Runtime loaded");
        Ok((env, path))
    });
    outcome.as_ref().map(|(env, _)| env).map_err(Clone::clone)
}

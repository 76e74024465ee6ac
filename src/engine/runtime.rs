//! The one ONNX Runtime environment of the process, loaded dynamically from the configured
//! library (`--ort-lib`, then `ORT_DYLIB_PATH`, then the library fetched for the provider).

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use crate::config::{EngineConfig, ExecutionProvider};

use super::budget::ThreadBudget;

/// The environment, the library it came from, and the threads of its pool for lone runs.
type Runtime = (ort::environment::Environment, PathBuf, Option<usize>);

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

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
        let budget = ThreadBudget::compute(cfg);
        let builder = builder.with_name("verity");
        let builder = match budget.lone_run_threads {
            Some(n) => builder.with_global_thread_pool(
                lone_run_pool(n).map_err(|e| format!("cannot set up the lone runs' thread pool: {e}"))?,
            ),
            None => builder,
        };
        let env = builder.build().map_err(|e| format!("cannot create the ONNX Runtime environment: {e}"))?;
        tracing::info!(library = %path.display(), lone_run_threads = ?budget.lone_run_threads, "ONNX Runtime loaded");
        Ok((env, path, budget.lone_run_threads))
    });
    outcome.as_ref().map(|(env, _, _)| env).map_err(Clone::clone)
}

/// The threads of the environment's pool for lone runs (`--thread-pool adaptive`), or `None`
/// when it has none. The first [`init`] of the process decides, for every engine after it.
pub fn lone_run_threads() -> Option<usize> {
    RUNTIME.get().and_then(|r| r.as_ref().ok()).and_then(|(_, _, n)| *n)
}

/// The environment's pool, which the lone-run sessions use (`--thread-pool adaptive`):
/// `threads` in all, counting the thread that calls a run, which computes too. Its threads do
/// not spin when idle, so a pool waiting for work leaves the CPUs to the other runs.
fn lone_run_pool(threads: usize) -> ort::Result<ort::environment::GlobalThreadPoolOptions> {
    ort::environment::GlobalThreadPoolOptions::default()
        .with_intra_threads(threads.max(1))?
        .with_inter_threads(1)?
        .with_spin_control(false)
}

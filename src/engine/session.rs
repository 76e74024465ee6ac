//! The one place where ONNX Runtime sessions are built: graph optimisation, intra-op threads
//! from the budget, and the execution provider, with an honest report of which one is in use.

use std::path::Path;

use ort::{
    environment::Environment,
    ep::{self, ExecutionProviderDispatch},
    session::{builder::GraphOptimizationLevel, Session},
};

use crate::config::{ConvSearch, EngineConfig, ExecutionProvider};

pub struct BuiltSession {
    pub session: Session,
    /// The execution provider really in use (`cpu`, `cuda`, `tensorrt`).
    pub provider: &'static str,
    /// Why the requested provider is not the one in use, when it is not.
    pub fallback: Option<String>,
}

fn build_with(
    env: &Environment,
    path: &Path,
    intra_threads: Option<usize>,
    eps: Vec<ExecutionProviderDispatch>,
    cpu_arena: bool,
) -> ort::Result<Session> {
    let cpu_only = eps.is_empty();
    let mut builder = Session::builder(env)?.with_optimization_level(GraphOptimizationLevel::All)?;
    if let Some(n) = intra_threads {
        builder = builder.with_independent_thread_pool()?.with_intra_threads(n)?.with_intra_op_spinning(false)?;
    }
    if cpu_only && !cpu_arena {
        // The CPU arena grows to the largest batch and image size ever seen and never shrinks,
        // and memory patterns are cached per input shape (`--cpu-arena`).
        builder = builder
            .with_memory_pattern(false)?
            .with_execution_providers([ep::CPU::default().with_arena_allocator(false).build()])?;
    } else {
        builder = builder.with_execution_providers(eps)?;
    }
    builder.commit_from_file(path)
}

/// Builds a session for `path`, with `intra_threads` of its own, or (`None`) on the
/// environment's pool of the lone runs. A GPU provider is registered with `error_on_failure`, so a
/// failure is seen here rather than silently becoming CPU; it then falls back to CPU with a
/// warning, or fails when `ep_strict` is set.
pub fn build(
    env: &Environment,
    path: &Path,
    cfg: &EngineConfig,
    intra_threads: Option<usize>,
) -> Result<BuiltSession, String> {
    let search = match cfg.cuda_conv_search {
        ConvSearch::Heuristic => ep::cuda::ConvAlgorithmSearch::Heuristic,
        ConvSearch::Exhaustive => ep::cuda::ConvAlgorithmSearch::Exhaustive,
        ConvSearch::Default => ep::cuda::ConvAlgorithmSearch::Default,
    };
    // ONNX Runtime's cuDNN Conv keeps the algorithm of the last input shape only; with
    // exhaustive search every change of image size re-benchmarks every Conv (seen on an H200:
    // 1.5 s per verify alternating two image sizes).
    let cuda = || ep::CUDA::default().with_conv_algorithm_search(search.clone()).build().error_on_failure();
    let mut attempts: Vec<(&'static str, Vec<ExecutionProviderDispatch>)> = Vec::new();
    if cfg.ep == ExecutionProvider::Tensorrt {
        let trt = ep::TensorRT::default()
            .with_engine_cache(true)
            .with_engine_cache_path(cfg.trt_cache_dir.display())
            .build()
            .error_on_failure();
        attempts.push(("tensorrt", vec![trt, cuda()]));
    }
    if cfg.ep != ExecutionProvider::Cpu {
        attempts.push(("cuda", vec![cuda()]));
    }
    let mut failures = Vec::new();
    for (name, eps) in attempts {
        match build_with(env, path, intra_threads, eps, cfg.cpu_arena) {
            Ok(session) => {
                let fallback = (!failures.is_empty()).then(|| failures.join("; "));
                return Ok(BuiltSession { session, provider: name, fallback });
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    if !failures.is_empty() {
        let why = failures.join("; ");
        if cfg.ep_strict {
            return Err(format!("execution provider {} unavailable (strict): {why}", cfg.ep));
        }
        tracing::warn!(model = %path.display(), requested = %cfg.ep, reason = %why, "GPU provider unavailable, falling back to CPU");
    }
    let session = build_with(env, path, intra_threads, Vec::new(), cfg.cpu_arena)
        .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    let fallback = (!failures.is_empty()).then(|| failures.join("; "));
    Ok(BuiltSession { session, provider: "cpu", fallback })
}

//! The bounded preprocessing pool (rayon): decoding and pre/post-processing run here so async
//! handlers never block. A panic in a job becomes an internal error, not a dead process.

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    sync::OnceLock,
};

use crate::error::ApiError;

static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();

/// Sizes the pool; only the first call counts (later calls keep the existing pool).
pub fn init(threads: usize) {
    POOL.get_or_init(|| build(threads));
}

fn build(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("preprocess-{i}"))
        .build()
        .expect("building a rayon pool only fails on thread spawn failure")
}

fn pool() -> &'static rayon::ThreadPool {
    POOL.get_or_init(|| build(std::thread::available_parallelism().map_or(1, |n| n.get())))
}

/// Runs `f` on the pool and awaits its result.
pub async fn run<F, R>(f: F) -> Result<R, ApiError>
where
    F: FnOnce() -> Result<R, ApiError> + Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool().spawn(move || {
        if tx.is_closed() {
            return;
        }
        let out = catch_unwind(AssertUnwindSafe(f))
            .unwrap_or_else(|_| Err(ApiError::Internal("a preprocessing job panicked".into())));
        let _ = tx.send(out);
    });
    rx.await.map_err(|_| ApiError::Internal("the preprocessing pool dropped a job".into()))?
}

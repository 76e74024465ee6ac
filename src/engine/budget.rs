//! The thread budget: how many CPU threads verity may use, read from the cgroup when there is
//! one, and how they are split between preprocessing and ONNX Runtime intra-op threads.

use serde::Serialize;

use crate::config::{EngineConfig, ThreadPool};

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ThreadBudget {
    /// CPUs verity may use (cgroup limit, else the core count, else the override).
    pub cpu_limit: usize,
    /// Where `cpu_limit` came from: `override`, `cgroup` or `cores`.
    pub source: &'static str,
    /// Threads of the preprocessing (decode, resize, align) pool.
    pub preprocess_threads: usize,
    /// Intra-op threads of each ONNX Runtime session.
    pub intra_op_threads: usize,
    /// With `--thread-pool adaptive`, the threads of the pool that a run alone on the server
    /// uses (every CPU); `None` when that pool would add nothing (one CPU, or sessions that
    /// already have them all).
    pub lone_run_threads: Option<usize>,
    /// Worker threads (each owning one session) per model.
    pub workers_per_model: usize,
}

impl ThreadBudget {
    /// Each session gets half the CPUs. A request goes through the models one after another
    /// (detect, then embed or liveness), and under load the stages of different requests
    /// overlap, so the threads that compute at one moment are about the preprocessing pool plus
    /// one or two sessions. With `--thread-pool per-session` preprocessing gets the other half,
    /// and that sum is kept within the limit. With `adaptive` (the default), a model run that
    /// starts while no other runs has every CPU (then nothing else computes but, at times,
    /// preprocessing), and so has the preprocessing pool: what runs alone is fast, and under
    /// load the threads busy at one moment are still about the limit. Each part can be
    /// overridden (`--threads`, `--preprocess-threads`, `--intra-op-threads`).
    pub fn compute(cfg: &EngineConfig) -> ThreadBudget {
        let (cpu_limit, source) = match cfg.threads.filter(|&n| n > 0) {
            Some(n) => (n, "override"),
            None => match cgroup_cpu_limit() {
                Some(n) => (n, "cgroup"),
                None => (std::thread::available_parallelism().map_or(1, |n| n.get()), "cores"),
            },
        };
        // Adaptive: preprocessing too may take every CPU (a lone request decodes its images side
        // by side); measured with `make bench-load` on 2 CPUs, it kept the same throughput
        // under load and took a lone verify from 133-140 to 118-121 ms.
        let preprocess_default = match cfg.thread_pool {
            ThreadPool::Adaptive => cpu_limit,
            ThreadPool::PerSession => (cpu_limit / 2).max(1),
        };
        let preprocess_threads = cfg.preprocess_threads.filter(|&n| n > 0).unwrap_or(preprocess_default);
        let intra_default = match cfg.thread_pool {
            ThreadPool::Adaptive => cpu_limit - cpu_limit / 2,
            ThreadPool::PerSession => cpu_limit.saturating_sub(preprocess_threads),
        };
        let intra_op_threads = cfg.intra_op_threads.filter(|&n| n > 0).unwrap_or(intra_default.max(1));
        let lone_run_threads =
            (cfg.thread_pool == ThreadPool::Adaptive && cpu_limit > intra_op_threads).then_some(cpu_limit);
        ThreadBudget {
            cpu_limit,
            source,
            preprocess_threads,
            lone_run_threads,
            intra_op_threads,
            workers_per_model: cfg.model_workers.max(1),
        }
    }
}

/// cgroup v2 `cpu.max` ("max 100000" or "200000 100000"), rounded up to whole CPUs.
fn cgroup_cpu_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/sys/fs/cgroup/cpu.max").ok()?;
    parse_cpu_max(&text)
}

fn parse_cpu_max(text: &str) -> Option<usize> {
    let mut parts = text.split_whitespace();
    let quota: f64 = parts.next()?.parse().ok()?;
    let period: f64 = parts.next()?.parse().ok()?;
    (period > 0.0).then(|| ((quota / period).ceil() as usize).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_parsing() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max("150000 100000"), Some(2));
        assert_eq!(parse_cpu_max("50000 100000"), Some(1));
    }

    #[test]
    fn overrides_win_and_the_split_stays_within_the_limit() {
        let mut cfg = EngineConfig::from_env_defaults();
        cfg.threads = Some(8);
        cfg.thread_pool = ThreadPool::Adaptive;
        let b = ThreadBudget::compute(&cfg);
        assert_eq!((b.lone_run_threads, b.preprocess_threads, b.intra_op_threads), (Some(8), 8, 4));
        cfg.thread_pool = ThreadPool::PerSession;
        assert_eq!(ThreadBudget::compute(&cfg).lone_run_threads, None);
        let b = ThreadBudget::compute(&cfg);
        assert_eq!((b.cpu_limit, b.source), (8, "override"));
        assert_eq!(b.preprocess_threads + b.intra_op_threads, 8);
        cfg.threads = Some(1);
        let b = ThreadBudget::compute(&cfg);
        assert_eq!((b.preprocess_threads, b.intra_op_threads), (1, 1));
        cfg.intra_op_threads = Some(3);
        assert_eq!(ThreadBudget::compute(&cfg).intra_op_threads, 3);
    }
}

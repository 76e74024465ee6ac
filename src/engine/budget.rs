//! The thread budget: how many CPU threads verity may use, read from the cgroup when there is
//! one, and how they are split between preprocessing and ONNX Runtime intra-op threads.

use serde::Serialize;

use crate::config::EngineConfig;

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
    /// Worker threads (each owning one session) per model.
    pub workers_per_model: usize,
}

impl ThreadBudget {
    /// Preprocessing gets half the CPUs and each session the other half. A request goes
    /// through the models one after another (detect, then embed or liveness), and under load
    /// the stages of different requests overlap, so the threads that compute at one moment are
    /// about the preprocessing pool plus one or two sessions: that sum is kept within the limit.
    /// Each part can be overridden (`--threads`, `--preprocess-threads`, `--intra-op-threads`).
    pub fn compute(cfg: &EngineConfig) -> ThreadBudget {
        let (cpu_limit, source) = match cfg.threads.filter(|&n| n > 0) {
            Some(n) => (n, "override"),
            None => match cgroup_cpu_limit() {
                Some(n) => (n, "cgroup"),
                None => (std::thread::available_parallelism().map_or(1, |n| n.get()), "cores"),
            },
        };
        let preprocess_threads = cfg.preprocess_threads.filter(|&n| n > 0).unwrap_or((cpu_limit / 2).max(1));
        let intra_op_threads =
            cfg.intra_op_threads.filter(|&n| n > 0).unwrap_or((cpu_limit.saturating_sub(preprocess_threads)).max(1));
        ThreadBudget {
            cpu_limit,
            source,
            preprocess_threads,
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

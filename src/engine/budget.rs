//! The thread budget: how many CPU threads verity may use, read from the cgroup when there is
//! one, and how they are split between preprocessing and ONNX Runtime intra-op threads.

use serde::Serialize;

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
}

impl ThreadBudget {
    /// Requests go through the models one stage after another (detect, then embed, then
    /// liveness), so at any moment roughly one session per request computes: each session may
    /// use the whole limit, and the preprocessing pool gets the same number of threads, which
    /// mostly wait on inference.
    pub fn compute(override_threads: Option<usize>) -> ThreadBudget {
        let (cpu_limit, source) = match override_threads.filter(|&n| n > 0) {
            Some(n) => (n, "override"),
            None => match cgroup_cpu_limit() {
                Some(n) => (n, "cgroup"),
                None => (
                    std::thread::available_parallelism().map_or(1, |n| n.get()),
                    "cores",
                ),
            },
        };
        ThreadBudget {
            cpu_limit,
            source,
            preprocess_threads: cpu_limit,
            intra_op_threads: cpu_limit,
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
    fn override_wins() {
        let b = ThreadBudget::compute(Some(3));
        assert_eq!((b.cpu_limit, b.source), (3, "override"));
    }
}

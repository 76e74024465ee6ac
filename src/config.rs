//! The one configuration struct: every option is a flag and a `VERITY_*` environment variable,
//! and the doc comments below are what `verity --help` prints.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr};

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Verity: self-hosted face and ID verification server running ONNX models.
#[derive(Debug, Parser)]
#[command(name = "verity", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "VERITY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(Box<ServeArgs>),
    /// Detect faces in an image and print the same JSON as `POST /v1/faces/detect`.
    Detect {
        #[command(flatten)]
        engine: EngineConfig,
        /// Image file.
        image: PathBuf,
    },
    /// Compare the largest faces of two images; prints the JSON of `POST /v1/faces/verify`.
    Verify {
        #[command(flatten)]
        engine: EngineConfig,
        /// Named operating point (`default` = `fmr_1e-3`, `fmr_1e-2` = `lenient`, `fmr_1e-4` = `strict`).
        #[arg(long, default_value = "default")]
        operating_point: String,
        /// Source image file.
        source: PathBuf,
        /// Target image file.
        target: PathBuf,
    },
    /// Read an ID document (OCR, MRZ, portrait); prints the JSON of `POST /v1/documents/read`.
    Document {
        #[command(flatten)]
        engine: EngineConfig,
        /// Front side image file.
        image: PathBuf,
        /// Back side image file.
        #[arg(long)]
        back: Option<PathBuf>,
    },
    /// Find and read license plates; prints the JSON of `POST /v1/plates/read`.
    Plate {
        #[command(flatten)]
        engine: EngineConfig,
        /// Image file.
        image: PathBuf,
    },
    /// Passive liveness of the one face in an image; prints the JSON of `POST /v1/faces/liveness`.
    Liveness {
        #[command(flatten)]
        engine: EngineConfig,
        /// Named operating point (`default`, `strict`).
        #[arg(long, default_value = "default")]
        operating_point: String,
        /// Image file.
        image: PathBuf,
    },
}

/// Execution provider for ONNX Runtime sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionProvider {
    Cpu,
    Cuda,
    Tensorrt,
}

impl fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExecutionProvider::Cpu => "cpu",
            ExecutionProvider::Cuda => "cuda",
            ExecutionProvider::Tensorrt => "tensorrt",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FixedShapes {
    Auto,
    On,
    Off,
}

/// How ONNX Runtime's intra-op threads are organised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThreadPool {
    /// Each session its own intra-op threads (`--intra-op-threads`), and on the CPU each face
    /// model also a session on one pool of every CPU, used for a run that starts while no other
    /// model runs: a request alone on the server computes on all CPUs, and under load each
    /// run keeps to its own threads.
    Adaptive,
    /// Each session its own intra-op threads only.
    PerSession,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConvSearch {
    Heuristic,
    Exhaustive,
    Default,
}

/// Where the models and the ONNX Runtime library are, and how sessions run.
#[derive(Debug, Clone, Args)]
pub struct EngineConfig {
    /// Directory holding the model files named in the manifest (filled by `make models`).
    #[arg(long, env = "VERITY_MODELS_DIR", default_value = ".cache/models")]
    pub models_dir: PathBuf,
    /// Model manifest (TOML); the copy embedded in the binary when not given.
    #[arg(long, env = "VERITY_MANIFEST")]
    pub manifest: Option<PathBuf>,
    /// ONNX Runtime shared library (libonnxruntime.so); falls back to ORT_DYLIB_PATH, then to the
    /// library fetched by `make runtime` for the chosen execution provider.
    #[arg(long, env = "VERITY_ORT_LIB")]
    pub ort_lib: Option<PathBuf>,
    /// Execution provider: cpu, cuda or tensorrt.
    #[arg(long, env = "VERITY_EP", value_enum, default_value_t = ExecutionProvider::Cpu)]
    pub ep: ExecutionProvider,
    /// Refuse to start when the requested GPU provider cannot be used (instead of falling back to CPU).
    #[arg(long, env = "VERITY_EP_STRICT", default_value_t = false)]
    pub ep_strict: bool,
    /// cuDNN convolution algorithm search of the CUDA provider: `heuristic` (no benchmark when an
    /// input shape changes, which it does with every image size), `exhaustive`, or `default`.
    #[arg(long, env = "VERITY_CUDA_CONV_SEARCH", value_enum, default_value_t = ConvSearch::Heuristic)]
    pub cuda_conv_search: ConvSearch,
    /// TensorRT engine cache directory.
    #[arg(long, env = "VERITY_TRT_CACHE_DIR", default_value = ".cache/tensorrt")]
    pub trt_cache_dir: PathBuf,
    /// CPU threads verity may use in all (default: the cgroup CPU limit, else the core count).
    #[arg(long, env = "VERITY_THREADS")]
    pub threads: Option<usize>,
    /// Intra-op threads per ONNX Runtime session (default: from the thread budget).
    #[arg(long, env = "VERITY_INTRA_OP_THREADS")]
    pub intra_op_threads: Option<usize>,
    /// `adaptive`: a face-model run that starts while no other runs uses every CPU (a second
    /// session per face model on a pool of all CPUs); `per-session`: always the session's own threads.
    #[arg(long, env = "VERITY_THREAD_POOL", value_enum, default_value_t = ThreadPool::Adaptive)]
    pub thread_pool: ThreadPool,
    /// Preprocessing (decode, resize, align) threads (default: from the thread budget).
    #[arg(long, env = "VERITY_PREPROCESS_THREADS")]
    pub preprocess_threads: Option<usize>,
    /// Worker threads (each with its own session) per model.
    #[arg(long, env = "VERITY_MODEL_WORKERS", default_value_t = 1)]
    pub model_workers: usize,
    /// Bounded queue length per model; a full queue answers 429 `overloaded`.
    #[arg(long, env = "VERITY_QUEUE_SIZE", default_value_t = 64)]
    pub queue_size: usize,
    /// ONNX Runtime's CPU memory arena (and memory patterns). On: fastest, but the arena grows to
    /// the largest batch and image ever seen and keeps it. Off: tensors are allocated per run;
    /// less resident memory after bursts, slower inference (`make bench-memory` has both).
    #[arg(long, env = "VERITY_CPU_ARENA", default_value_t = true, action = clap::ArgAction::Set)]
    pub cpu_arena: bool,
    /// Largest batch per inference for models that take batches (the manifest's max_batch caps it).
    #[arg(long, env = "VERITY_MAX_BATCH", default_value_t = 16)]
    pub max_batch: usize,
    /// Deadline of a request, in milliseconds: a request still queued or running then gets 503 `timeout`.
    #[arg(long, env = "VERITY_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// Longest image side fed to the face detector (images are scaled down to it).
    #[arg(long, env = "VERITY_DETECT_MAX_SIDE", default_value_t = 1280)]
    pub detect_max_side: u32,
    /// Run every model at one input shape (detector canvas max_side x max_side, batches padded
    /// to the max batch): `auto` turns it on for GPU providers, whose kernels are tuned per shape.
    #[arg(long, env = "VERITY_FIXED_SHAPES", value_enum, default_value_t = FixedShapes::Auto)]
    pub fixed_shapes: FixedShapes,
    /// Text-detection model (manifest name): `ocr_det` (PP-OCRv6 tiny) or `ocr_det_v4`.
    #[arg(long, env = "VERITY_OCR_DET", default_value = "ocr_det")]
    pub ocr_det: String,
    /// Text-recognition model (manifest name): `ocr_rec` (PP-OCRv6 tiny) or `ocr_rec_v4`.
    #[arg(long, env = "VERITY_OCR_REC", default_value = "ocr_rec")]
    pub ocr_rec: String,
    /// Recogniser of the plate reader's candidates (manifest name): `ocr_rec_v4` (PP-OCRv4,
    /// stronger on plates than the tiny one) or `ocr_rec`.
    #[arg(long, env = "VERITY_PLATE_REC", default_value = "ocr_rec_v4")]
    pub plate_rec: String,
    /// Minimum detector score for a face.
    #[arg(long, env = "VERITY_DETECT_SCORE", default_value_t = 0.6)]
    pub detect_score: f32,
    /// Models to run as their static int8 variant (`<file>.int8.onnx`, made by `make int8`),
    /// comma-separated manifest names among `mobilefacenet`, `ocr_det`. Off by default: both
    /// lost accuracy on the dev sets (README, "int8 models").
    #[arg(long, env = "VERITY_INT8", value_delimiter = ',')]
    pub int8: Vec<String>,
}

/// The models `make int8` makes static int8 variants of (the recogniser's was measured and is
/// not offered: 2 of 35 dev MRZs read right instead of 34).
pub const INT8_MODELS: [&str; 2] = ["mobilefacenet", "ocr_det"];

/// HTTP server options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "VERITY_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub engine: EngineConfig,
    #[command(flatten)]
    pub http: HttpConfig,
    #[command(flatten)]
    pub gallery: GalleryArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// HTTP worker threads (default: 2).
    #[arg(long, env = "VERITY_HTTP_WORKERS", default_value_t = 2)]
    pub http_workers: usize,
    /// On SIGTERM/SIGINT: seconds between turning `/readyz` false and closing the listener, so
    /// load balancers and Kubernetes endpoints stop sending traffic first (0 outside Kubernetes).
    #[arg(long, env = "VERITY_DRAIN_DELAY_SECONDS", default_value_t = 0)]
    pub drain_delay_seconds: u64,
    /// After the listener closes: seconds in-flight requests get to finish before the exit.
    #[arg(long, env = "VERITY_SHUTDOWN_TIMEOUT_SECONDS", default_value_t = 30)]
    pub shutdown_timeout_seconds: u64,
}

/// Kubernetes: identity from the downward API, the leader Lease, the peers' Service.
/// Without POD_NAME and POD_NAMESPACE the cluster features are off.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// This Pod's name (downward API `metadata.name`).
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// This Pod's namespace (downward API `metadata.namespace`).
    #[arg(long, env = "POD_NAMESPACE")]
    pub pod_namespace: Option<String>,
    /// This Pod's IP (downward API `status.podIP`).
    #[arg(long, env = "POD_IP")]
    pub pod_ip: Option<String>,
    /// The headless Service whose EndpointSlices list the peers.
    #[arg(long, env = "VERITY_PEERS_SERVICE")]
    pub peers_service: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(long, env = "VERITY_LEASE_NAME", default_value = "verity-leader")]
    pub lease_name: String,
    /// Lease duration: a leader that stops renewing is replaced after this long.
    #[arg(long, env = "VERITY_LEASE_DURATION_SECONDS", default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// Pause after each re-embedding chunk, in milliseconds: limits the load a background job
    /// puts on a replica that also serves requests.
    #[arg(long, env = "VERITY_JOBS_THROTTLE_MS", default_value_t = 0)]
    pub jobs_throttle_ms: u64,
}

impl Default for ClusterArgs {
    fn default() -> Self {
        ClusterArgs {
            pod_name: None,
            pod_namespace: None,
            pod_ip: None,
            peers_service: None,
            lease_name: "verity-leader".into(),
            lease_duration_seconds: 15,
            jobs_throttle_ms: 0,
        }
    }
}

/// Where enrolled faces are stored.
#[derive(Debug, Clone, Args)]
pub struct GalleryArgs {
    /// Data directory: the SQLite gallery (`gallery.db`) lives here when no database URL is set.
    #[arg(long, env = "VERITY_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (`postgres://user:pass@host/db`) for a gallery shared by replicas.
    #[arg(long, env = "VERITY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// TLS to PostgreSQL, as libpq's `sslmode` (the URL's `?sslmode=` wins): `disable`, `prefer`
    /// (TLS when offered, unverified), `require` (TLS, unverified unless a root certificate is
    /// given), `verify-ca` (chain checked), `verify-full` (chain and host name checked; use this
    /// for RDS).
    #[arg(long, env = "VERITY_DATABASE_SSLMODE", value_enum)]
    pub database_sslmode: Option<SslMode>,
    /// PEM file of the root certificates PostgreSQL's certificate must chain to (e.g. the RDS
    /// bundle `global-bundle.pem`); the system's trust store when unset. The URL's
    /// `?sslrootcert=` wins.
    #[arg(long, env = "VERITY_DATABASE_SSLROOTCERT")]
    pub database_sslrootcert: Option<PathBuf>,
    /// Most PostgreSQL connections of this replica's pool (plus one for LISTEN).
    #[arg(long, env = "VERITY_DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: usize,
    /// Opening a PostgreSQL connection (TCP, TLS, login) gives up after this, in milliseconds.
    #[arg(long, env = "VERITY_DATABASE_CONNECT_TIMEOUT_MS", default_value_t = 5000)]
    pub database_connect_timeout_ms: u64,
    /// A gallery request waits this long for a free pooled connection before 503, in ms.
    #[arg(long, env = "VERITY_DATABASE_ACQUIRE_TIMEOUT_MS", default_value_t = 5000)]
    pub database_acquire_timeout_ms: u64,
    /// How often the change log is polled when no notification arrives, in milliseconds.
    #[arg(long, env = "VERITY_GALLERY_POLL_MS", default_value_t = 1000)]
    pub gallery_poll_ms: u64,
    /// Seconds between rounds of the retention purge and change-log compaction (run by the
    /// leader in Kubernetes, else by this replica).
    #[arg(long, env = "VERITY_MAINTENANCE_INTERVAL_SECONDS", default_value_t = 60)]
    pub maintenance_interval_seconds: u64,
    /// Keep each enrolled face's aligned 112x112 crop (PNG, 25-29 KB on the test faces) in the store, so a
    /// collection can be re-embedded with a new embedding model (`POST .../reembed`). Off: only
    /// embeddings are stored, and re-embedding skips those faces.
    #[arg(long, env = "VERITY_KEEP_ALIGNED_FACES", default_value_t = true, action = clap::ArgAction::Set)]
    pub keep_aligned_faces: bool,
    /// Change-log entries kept by compaction; a replica further behind reloads the snapshot.
    #[arg(long, env = "VERITY_CHANGELOG_KEEP", default_value_t = 100_000)]
    pub changelog_keep: i64,
}

/// libpq's `sslmode`, with its meaning: `disable` plain TCP; `prefer` (the default, as in libpq)
/// TLS when the server offers it, unverified; `require` TLS, unverified unless a root
/// certificate is given (then as `verify-ca`); `verify-ca` TLS with the server's chain checked
/// against the root certificates; `verify-full` that and the host name matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// libpq's names (`allow` is taken as `prefer`).
    pub fn from_name(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "prefer" | "allow" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Limits and access control of the HTTP API.
#[derive(Debug, Clone, Args)]
pub struct HttpConfig {
    /// Largest accepted image, in bytes (after base64 decoding).
    #[arg(long, env = "VERITY_MAX_IMAGE_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_image_bytes: usize,
    /// Largest accepted image, in pixels (width x height); guards against decompression bombs.
    #[arg(long, env = "VERITY_MAX_IMAGE_PIXELS", default_value_t = 40_000_000)]
    pub max_image_pixels: u64,
    /// Comma-separated API keys; when set (here or in the keys file), `/v1` needs one.
    #[arg(long, env = "VERITY_API_KEYS", default_value = "", hide_env_values = true, hide_default_value = true)]
    pub api_keys: Secret,
    /// File with one API key per line (`#` comments allowed).
    #[arg(long, env = "VERITY_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// Requests processed at once on the `/v1` model routes; one more gets 429 `overloaded` at once.
    #[arg(long, env = "VERITY_MAX_CONCURRENT_REQUESTS", default_value_t = 64)]
    pub max_concurrent_requests: usize,
    /// KBY-AI compatible routes answer every error with HTTP 200 (and the error in the body),
    /// as those SDKs do; off by default, so errors carry their real 4xx/5xx status.
    #[arg(long, env = "VERITY_COMPAT_STATUS_200", default_value_t = false)]
    pub compat_status_200: bool,
    /// Onboarding policy overrides, `reason=reject|review` separated by commas (defaults in
    /// the README, "Onboarding"); e.g. `mrz_check_digit=reject,duplicate_identity=reject`.
    #[arg(long, env = "VERITY_ONBOARDING_POLICY", default_value = "")]
    pub onboarding_policy: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_image_bytes: 10 * 1024 * 1024,
            max_image_pixels: 40_000_000,
            api_keys: Secret(String::new()),
            api_keys_file: None,
            max_concurrent_requests: 64,
            compat_status_200: false,
            onboarding_policy: String::new(),
        }
    }
}

impl HttpConfig {
    /// All configured API keys (from the variable and the file); empty means auth is off.
    pub fn load_api_keys(&self) -> anyhow::Result<Vec<String>> {
        let mut keys: Vec<String> = split_keys(&self.api_keys.0, ',');
        if let Some(path) = &self.api_keys_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read API keys file {}: {e}", path.display()))?;
            let lines = text.lines().filter(|l| !l.trim_start().starts_with('#'));
            keys.extend(lines.flat_map(|l| split_keys(l, ',')));
        }
        Ok(keys)
    }
}

fn split_keys(s: &str, sep: char) -> Vec<String> {
    s.split(sep).map(str::trim).filter(|k| !k.is_empty()).map(String::from).collect()
}

/// A string that never shows in Debug output or logs.
#[derive(Clone, Default)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl EngineConfig {
    /// Whether models run at fixed input shapes (see `--fixed-shapes`).
    pub fn fixed_shapes(&self) -> bool {
        match self.fixed_shapes {
            FixedShapes::On => true,
            FixedShapes::Off => false,
            FixedShapes::Auto => self.ep != ExecutionProvider::Cpu,
        }
    }

    /// Refuses settings that name what does not exist (an unknown `--int8` model).
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(bad) = self.int8.iter().find(|n| !n.trim().is_empty() && !INT8_MODELS.contains(&n.trim())) {
            anyhow::bail!("--int8 / VERITY_INT8: no int8 variant of {bad:?}; one of: {}", INT8_MODELS.join(", "));
        }
        Ok(())
    }

    /// Whether `--int8` names `model` (an empty name, as from `VERITY_INT8=`, names none).
    pub fn int8(&self, model: &str) -> bool {
        self.int8.iter().any(|n| n.trim() == model)
    }

    /// Defaults as the CLI would give them, for tests and benches.
    pub fn from_env_defaults() -> Self {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            engine: EngineConfig,
        }
        Wrapper::parse_from(["verity"]).engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_names_are_checked() {
        let mut cfg = EngineConfig::from_env_defaults();
        cfg.int8 = vec!["mobilefacenet".into(), "ocr_det".into()];
        assert!(cfg.check().is_ok());
        cfg.int8.push("yunet".into());
        assert!(cfg.check().unwrap_err().to_string().contains("no int8 variant of \"yunet\""));
        cfg.int8 = vec![String::new()];
        assert!(cfg.check().is_ok() && !cfg.int8("mobilefacenet"), "VERITY_INT8= names no model");
        cfg.int8 = vec![" mobilefacenet".into()];
        assert!(cfg.int8("mobilefacenet"));
    }
}

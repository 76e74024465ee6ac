//! What every handler can reach.

use std::{
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
};

use tokio::sync::Semaphore;

use crate::{
    cluster::Cluster,
    config::HttpConfig,
    gallery::Gallery,
    pipeline::{document::DocumentPipeline, onboarding::Policy, plate::PlateReader, FacePipeline},
};

/// What every handler can reach.
pub struct AppState {
    pub faces: FacePipeline,
    /// Built once: the OCR's character lists and class masks are kept across requests.
    pub documents: DocumentPipeline,
    pub plates: PlateReader,
    pub gallery: Arc<Gallery>,
    pub http: HttpConfig,
    pub api_keys: Arc<Vec<String>>,
    /// Permits for requests on the model routes (`--max-concurrent-requests`).
    pub admission: Arc<Semaphore>,
    pub request_timeout: Duration,
    /// Parsed from `--onboarding-policy` (checked at start-up by `serve`).
    pub onboarding_policy: Policy,
    /// Set on SIGTERM: `/readyz` answers 503 `draining` while in-flight requests finish.
    pub draining: Arc<AtomicBool>,
    /// Kubernetes integration (disabled outside Kubernetes).
    pub cluster: Arc<Cluster>,
}

impl AppState {
    pub fn new(faces: FacePipeline, gallery: Arc<Gallery>, http: HttpConfig, api_keys: Vec<String>) -> AppState {
        let request_timeout = Duration::from_millis(faces.engine().config().request_timeout_ms);
        let admission = Arc::new(Semaphore::new(http.max_concurrent_requests.max(1)));
        let onboarding_policy = Policy::parse(&http.onboarding_policy).unwrap_or_else(|e| {
            tracing::error!("onboarding policy: {e}; using the defaults");
            Policy::default()
        });
        let documents = DocumentPipeline::new(faces.clone());
        let plates = PlateReader::new(documents.ocr().clone());
        AppState {
            faces,
            documents,
            plates,
            gallery,
            http,
            api_keys: Arc::new(api_keys),
            admission,
            request_timeout,
            onboarding_policy,
            draining: Arc::new(AtomicBool::new(false)),
            cluster: Cluster::disabled(),
        }
    }
}

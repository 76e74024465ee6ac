//! Prometheus metrics, served as text at `/metrics`.

use std::sync::{Mutex, OnceLock};

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Mutex<Registry>,
    http_requests: Family<HttpLabels, Counter>,
    request_duration: HistogramFamily<RouteLabels>,
    inference_duration: HistogramFamily<ModelLabels>,
    model_ready: Family<ModelLabels, Gauge>,
    queue_depth: Family<ModelLabels, Gauge>,
    queue_wait: HistogramFamily<ModelLabels>,
    batch_size: HistogramFamily<ModelLabels>,
    rejected: Family<ReasonLabels, Counter>,
    gallery_faces: Family<CollectionLabels, Gauge>,
    gallery_lag: Gauge,
    gallery_store_up: Gauge,
    leader: Gauge,
    purged: Counter,
    gallery_ops: HistogramFamily<OpLabels>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CollectionLabels {
    pub collection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    pub op: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
}

fn batch_histogram() -> Histogram {
    Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The process-wide metrics.
pub fn get() -> &'static Metrics {
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("verity");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let request_duration: HistogramFamily<RouteLabels> = Family::new_with_constructor(latency_histogram);
        let inference_duration: HistogramFamily<ModelLabels> = Family::new_with_constructor(latency_histogram);
        let model_ready = Family::<ModelLabels, Gauge>::default();
        let queue_depth = Family::<ModelLabels, Gauge>::default();
        let queue_wait: HistogramFamily<ModelLabels> = Family::new_with_constructor(latency_histogram);
        let batch_size: HistogramFamily<ModelLabels> = Family::new_with_constructor(batch_histogram);
        let rejected = Family::<ReasonLabels, Counter>::default();
        let gallery_faces = Family::<CollectionLabels, Gauge>::default();
        let gallery_lag = Gauge::default();
        let gallery_store_up = Gauge::default();
        gallery_store_up.set(1);
        registry.register(
            "gallery_store_up",
            "1 while the gallery's store (SQLite file or PostgreSQL) answers, 0 during an outage",
            gallery_store_up.clone(),
        );
        let leader = Gauge::default();
        let purged = Counter::default();
        registry.register(
            "retention_purged_faces",
            "Faces deleted by the retention purge (on the leader)",
            purged.clone(),
        );
        registry.register("leader", "1 while this replica holds the leader Lease", leader.clone());
        let gallery_ops: HistogramFamily<OpLabels> = Family::new_with_constructor(latency_histogram);
        registry.register("http_requests", "HTTP requests by route and status", http_requests.clone());
        registry.register("request_duration_seconds", "HTTP request duration by route", request_duration.clone());
        registry.register("inference_duration_seconds", "Model inference duration", inference_duration.clone());
        registry.register("model_ready", "1 when the model is loaded and warm", model_ready.clone());
        registry.register("queue_depth", "Requests waiting in a model's queue", queue_depth.clone());
        registry.register("queue_wait_seconds", "Time a request waited in a model's queue", queue_wait.clone());
        registry.register("batch_size", "Rows per model inference", batch_size.clone());
        registry.register("requests_rejected", "Requests refused or dropped, by reason", rejected.clone());
        registry.register("gallery_faces", "Faces in this replica's index, by collection", gallery_faces.clone());
        registry.register(
            "gallery_lag_sequences",
            "Change-log entries the index has not applied yet",
            gallery_lag.clone(),
        );
        registry.register(
            "gallery_operation_duration_seconds",
            "Gallery enroll and search durations",
            gallery_ops.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            gallery_faces,
            gallery_lag,
            gallery_store_up,
            leader,
            purged,
            gallery_ops,
            http_requests,
            request_duration,
            inference_duration,
            model_ready,
            queue_depth,
            queue_wait,
            batch_size,
            rejected,
        }
    }

    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        self.http_requests.get_or_create(&HttpLabels { route: route.to_string(), status }).inc();
        self.request_duration.get_or_create(&RouteLabels { route: route.to_string() }).observe(seconds);
    }

    pub fn observe_inference(&self, model: &str, seconds: f64) {
        self.inference_duration.get_or_create(&ModelLabels { model: model.to_string() }).observe(seconds);
    }

    pub fn set_model_ready(&self, model: &str, ready: bool) {
        self.model_ready.get_or_create(&ModelLabels { model: model.to_string() }).set(i64::from(ready));
    }

    pub fn set_queue_depth(&self, model: &str, depth: usize) {
        self.queue_depth.get_or_create(&ModelLabels { model: model.to_string() }).set(depth as i64);
    }

    pub fn observe_queue_wait(&self, model: &str, seconds: f64) {
        self.queue_wait.get_or_create(&ModelLabels { model: model.to_string() }).observe(seconds);
    }

    pub fn observe_batch(&self, model: &str, rows: usize) {
        self.batch_size.get_or_create(&ModelLabels { model: model.to_string() }).observe(rows as f64);
    }

    /// `overloaded` (queue or admission full), `timeout` (deadline passed), `client_gone`.
    pub fn reject(&self, reason: &str) {
        self.rejected.get_or_create(&ReasonLabels { reason: reason.to_string() }).inc();
    }

    pub fn count_purged(&self, faces: usize) {
        self.purged.inc_by(faces as u64);
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    pub fn set_gallery_store_up(&self, up: bool) {
        self.gallery_store_up.set(i64::from(up));
    }

    pub fn set_gallery_lag(&self, lag: i64) {
        self.gallery_lag.set(lag);
    }

    pub fn set_gallery_faces<'a>(&self, counts: impl Iterator<Item = (&'a str, usize)>) {
        self.gallery_faces.clear();
        for (collection, n) in counts {
            self.gallery_faces.get_or_create(&CollectionLabels { collection: collection.to_string() }).set(n as i64);
        }
    }

    /// `enroll` or `search`.
    pub fn observe_gallery(&self, op: &str, seconds: f64) {
        self.gallery_ops.get_or_create(&OpLabels { op: op.to_string() }).observe(seconds);
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

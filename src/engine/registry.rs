//! The model registry: loads each model named by the pipelines (sha256 check, session, worker,
//! warm-up run), and answers which are ready. A missing or corrupt model disables only the
//! routes that need it (503 `model_unavailable`), and `/readyz` says which and why.

use std::{
    path::PathBuf,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use serde::Serialize;

use super::{
    budget::ThreadBudget,
    runtime, session,
    worker::{ModelHandle, Running, Sessions, WorkerConfig},
    Tensor,
};
use crate::{
    config::{EngineConfig, ExecutionProvider},
    error::ApiError,
    manifest::{Manifest, ModelEntry},
    telemetry::metrics,
};

/// Models the face pipeline needs, in load order; the OCR pair comes from the configuration.
pub const FACE_MODELS: [&str; 4] = ["yunet", "mobilefacenet", "minifasnet_v2", "minifasnet_v1se"];

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ModelStatus {
    Loading,
    Ready,
    Failed { reason: String },
}

#[derive(Clone)]
enum SlotState {
    Loading,
    Ready(Loaded),
    Failed(String),
}

#[derive(Clone)]
struct Loaded {
    handle: ModelHandle,
    /// A recogniser's character list (metadata key `character`).
    character: Option<Arc<String>>,
    provider: &'static str,
    fallback: Option<String>,
    sha256: String,
    load_ms: f64,
}

struct Slot {
    name: &'static str,
    entry: Option<ModelEntry>,
    state: RwLock<SlotState>,
}

/// What `/v1/info` says of a model.
#[derive(Debug, Serialize)]
pub struct ModelInfo {
    pub name: &'static str,
    pub task: Option<String>,
    pub file: Option<String>,
    pub sha256: Option<String>,
    pub licence: Option<String>,
    pub origin: Option<String>,
    #[serde(flatten)]
    pub status: ModelStatus,
    pub execution_provider: Option<&'static str>,
    pub provider_fallback: Option<String>,
    pub load_ms: Option<f64>,
    pub workers: Option<WorkerConfig>,
    pub queue_depth: Option<usize>,
    pub max_batch_seen: Option<usize>,
}

pub struct Engine {
    cfg: EngineConfig,
    budget: ThreadBudget,
    slots: Vec<Slot>,
    /// Runs in progress over all models (a run alone takes the lone-run session).
    running: Running,
}

impl Engine {
    /// An engine whose models are all `loading`; call [`load_all`](Self::load_all) next.
    pub fn new(cfg: EngineConfig, manifest: &Manifest) -> Arc<Engine> {
        let budget = ThreadBudget::compute(&cfg);
        // Configured names live as long as the process, like the constant ones.
        let mut ocr: Vec<&'static str> = Vec::new();
        for name in [&cfg.ocr_det, &cfg.ocr_rec, &cfg.plate_rec] {
            if !ocr.contains(&name.as_str()) {
                ocr.push(&*name.clone().leak());
            }
        }
        let slots = FACE_MODELS
            .iter()
            .chain(ocr.iter())
            .map(|&name| {
                if name == "mobilefacenet" && cfg.int8(name) {
                    tracing::warn!(
                        "int8 mobilefacenet: the verify operating points were measured with the float model; \
                         with int8, `default` (0.49) accepted 0.34 % of the dev impostor pairs, not 0.1 % (README, int8 models)"
                    );
                }
                let entry = manifest.model(name).map(|e| if cfg.int8(name) { e.int8() } else { e.clone() });
                Slot { name, entry, state: RwLock::new(SlotState::Loading) }
            })
            .collect();
        Arc::new(Engine { cfg, budget, slots, running: Running::default() })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn budget(&self) -> ThreadBudget {
        self.budget
    }

    /// Loads and warms every model (blocking; run it off the async runtime). Never panics:
    /// each failure is recorded on its model and logged.
    pub fn load_all(&self) {
        let env = runtime::init(&self.cfg);
        for slot in &self.slots {
            let outcome = match (&env, &slot.entry) {
                (Err(e), _) => Err(e.clone()),
                (Ok(_), None) => Err(format!("model {} is not in the manifest", slot.name)),
                (Ok(env), Some(entry)) => self.load_one(env, slot.name, entry),
            };
            let state = match outcome {
                Ok(loaded) => {
                    tracing::info!(
                        model = slot.name,
                        provider = loaded.provider,
                        load_ms = loaded.load_ms,
                        "model ready"
                    );
                    metrics::get().set_model_ready(slot.name, true);
                    SlotState::Ready(loaded)
                }
                Err(reason) => {
                    tracing::error!(model = slot.name, %reason, "model unavailable");
                    metrics::get().set_model_ready(slot.name, false);
                    SlotState::Failed(reason)
                }
            };
            *slot.state.write().unwrap_or_else(|p| p.into_inner()) = state;
        }
    }

    fn load_one(
        &self,
        env: &ort::environment::Environment,
        name: &'static str,
        entry: &ModelEntry,
    ) -> Result<Loaded, String> {
        let started = Instant::now();
        let sha256 = entry.verify(&self.cfg.models_dir)?;
        let path: PathBuf = entry.path(&self.cfg.models_dir);
        let mut sessions = Vec::new();
        let (mut provider, mut fallback, mut character) = ("cpu", None, None);
        for _ in 0..self.budget.workers_per_model {
            let built = session::build(env, &path, &self.cfg, Some(self.budget.intra_op_threads))?;
            (provider, fallback) = (built.provider, built.fallback);
            if character.is_none() {
                character = built.session.metadata().ok().and_then(|m| m.custom("character"));
            }
            // On the CPU, a second session on the pool of every CPU, for runs alone on the
            // server: for the face models, whose activations are small (for the OCR models it
            // kept about 250 MiB more resident after a few mixed requests).
            let lone = match (self.budget.lone_run_threads, runtime::lone_run_threads()) {
                (Some(_), Some(_)) if self.cfg.ep == ExecutionProvider::Cpu && entry.task.starts_with("face_") => {
                    Some(session::build(env, &path, &self.cfg, None)?.session)
                }
                _ => None,
            };
            sessions.push(Sessions { own: built.session, lone });
        }
        let model_batch = match entry.cpu_max_batch {
            Some(cpu) if provider == "cpu" && !self.cfg.fixed_shapes() => cpu.min(entry.max_batch),
            _ => entry.max_batch,
        };
        let worker_cfg = WorkerConfig {
            max_batch: model_batch.min(self.cfg.max_batch).max(1),
            pad_batch: self.cfg.fixed_shapes(),
            queue_size: self.cfg.queue_size,
            deadline: Duration::from_millis(self.cfg.request_timeout_ms),
        };
        let handle = ModelHandle::spawn(name, sessions, worker_cfg, self.running.clone()).map_err(|e| e.to_string())?;
        let mut shape = entry.warmup_shape.clone();
        if self.cfg.fixed_shapes() && entry.task == "face_detection" && shape.len() == 4 {
            // Warm up at the one canvas the detector will see, so no request pays the tuning.
            let side = self.cfg.detect_max_side.div_ceil(32) as usize * 32;
            (shape[2], shape[3]) = (side, side);
        }
        let zeros = vec![0.0; shape.iter().product()];
        handle.run_blocking(Tensor::new(shape, zeros)).map_err(|e| format!("warm-up run failed: {e}"))?;
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(Loaded { handle, character: character.map(Arc::new), provider, fallback, sha256, load_ms })
    }

    fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.name == name)
    }

    fn state(slot: &Slot) -> SlotState {
        slot.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The handle of a ready model, or 503 `model_unavailable` with the reason.
    pub fn get(&self, name: &str) -> Result<ModelHandle, ApiError> {
        let unavailable = |reason: String| ApiError::ModelUnavailable { model: name.to_string(), reason };
        let slot = self.slot(name).ok_or_else(|| unavailable("unknown model".into()))?;
        match Self::state(slot) {
            SlotState::Ready(l) => Ok(l.handle),
            SlotState::Loading => Err(unavailable("still loading".into())),
            SlotState::Failed(reason) => Err(unavailable(reason)),
        }
    }

    /// The `character` metadata of a ready model (PP-OCR recognisers keep their charset there).
    pub fn character_list(&self, name: &str) -> Option<Arc<String>> {
        match Self::state(self.slot(name)?) {
            SlotState::Ready(l) => l.character,
            _ => None,
        }
    }

    pub fn status(&self) -> Vec<(&'static str, ModelStatus)> {
        self.slots.iter().map(|s| (s.name, status_of(&Self::state(s)))).collect()
    }

    pub fn is_ready(&self) -> bool {
        self.status().iter().all(|(_, s)| *s == ModelStatus::Ready)
    }

    pub fn info(&self) -> Vec<ModelInfo> {
        self.slots
            .iter()
            .map(|s| {
                let state = Self::state(s);
                let loaded = match &state {
                    SlotState::Ready(l) => Some(l.clone()),
                    _ => None,
                };
                let status = status_of(&state);
                ModelInfo {
                    name: s.name,
                    task: s.entry.as_ref().map(|e| e.task.clone()),
                    file: s.entry.as_ref().map(|e| e.file.clone()),
                    sha256: loaded
                        .as_ref()
                        .map(|l| l.sha256.clone())
                        .or_else(|| s.entry.as_ref().map(|e| e.sha256.clone())),
                    licence: s.entry.as_ref().map(|e| e.licence.clone()),
                    origin: s.entry.as_ref().map(|e| e.origin.clone()),
                    status,
                    execution_provider: loaded.as_ref().map(|l| l.provider),
                    provider_fallback: loaded.as_ref().and_then(|l| l.fallback.clone()),
                    load_ms: loaded.as_ref().map(|l| l.load_ms),
                    workers: loaded.as_ref().map(|l| l.handle.config()),
                    queue_depth: loaded.as_ref().map(|l| l.handle.queue_depth()),
                    max_batch_seen: loaded.as_ref().map(|l| l.handle.max_batch_seen()),
                }
            })
            .collect()
    }
}

fn status_of(state: &SlotState) -> ModelStatus {
    match state {
        SlotState::Loading => ModelStatus::Loading,
        SlotState::Ready(_) => ModelStatus::Ready,
        SlotState::Failed(reason) => ModelStatus::Failed { reason: reason.clone() },
    }
}

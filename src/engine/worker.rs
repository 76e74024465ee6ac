//! One worker thread per model: it owns the model's `ort::Session` and serves a bounded queue.
//! Async callers await a oneshot reply; a full queue fails at once with `overloaded`.

use std::{
    sync::mpsc::{self, SyncSender, TrySendError},
    time::Instant,
};

use ort::session::Session;
use tokio::sync::oneshot;

use crate::{error::ApiError, telemetry::metrics};

/// A dense f32 tensor in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }
}

type Reply = Result<Vec<Tensor>, String>;

struct Job {
    input: Tensor,
    reply: oneshot::Sender<Reply>,
}

/// A cheap, cloneable handle to a model's worker.
#[derive(Clone)]
pub struct ModelHandle {
    name: &'static str,
    tx: SyncSender<Job>,
}

impl ModelHandle {
    pub fn spawn(
        name: &'static str,
        session: Session,
        queue_size: usize,
    ) -> std::io::Result<ModelHandle> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue_size.max(1));
        std::thread::Builder::new()
            .name(format!("model-{name}"))
            .spawn(move || worker_loop(name, session, rx))?;
        Ok(ModelHandle { name, tx })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    fn submit(&self, input: Tensor) -> Result<oneshot::Receiver<Reply>, ApiError> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Job { input, reply }) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(ApiError::Overloaded),
            Err(TrySendError::Disconnected(_)) => Err(self.gone()),
        }
    }

    fn gone(&self) -> ApiError {
        ApiError::ModelUnavailable {
            model: self.name.to_string(),
            reason: "its worker stopped".into(),
        }
    }

    /// Runs the model on `input`; the outputs come back in the model's output order.
    pub async fn run(&self, input: Tensor) -> Result<Vec<Tensor>, ApiError> {
        let rx = self.submit(input)?;
        rx.await
            .map_err(|_| self.gone())?
            .map_err(ApiError::Internal)
    }

    /// Same as [`run`](Self::run), for callers outside an async runtime (CLI, benches, warm-up).
    pub fn run_blocking(&self, input: Tensor) -> Result<Vec<Tensor>, ApiError> {
        let rx = self.submit(input)?;
        rx.blocking_recv()
            .map_err(|_| self.gone())?
            .map_err(ApiError::Internal)
    }
}

fn worker_loop(name: &'static str, mut session: Session, rx: mpsc::Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        if job.reply.is_closed() {
            continue; // the client went away: no inference for nobody
        }
        let started = Instant::now();
        let out =
            infer(&mut session, job.input).map_err(|e| format!("inference of {name} failed: {e}"));
        metrics::get().observe_inference(name, started.elapsed().as_secs_f64());
        let _ = job.reply.send(out);
    }
    tracing::debug!(model = name, "model worker stopped");
}

fn infer(session: &mut Session, input: Tensor) -> ort::Result<Vec<Tensor>> {
    let value = ort::value::Tensor::from_array((input.shape, input.data))?;
    let outputs = session.run(ort::inputs![value])?;
    let mut result = Vec::with_capacity(outputs.len());
    for (_, v) in outputs.iter() {
        let (shape, data) = v.try_extract_tensor::<f32>()?;
        let shape = shape.iter().map(|&d| d.max(0) as usize).collect();
        result.push(Tensor {
            shape,
            data: data.to_vec(),
        });
    }
    Ok(result)
}

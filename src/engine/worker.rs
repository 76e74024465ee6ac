//! Model workers: each model has one bounded queue feeding dedicated threads that each own an
//! `ort::Session`. A free worker takes whatever is queued (up to the model's max batch, inputs of
//! the same shape), runs one batched inference and answers every request on its oneshot.
//! A full queue fails at once (`overloaded`); an entry past its deadline is answered `timeout`
//! instead of being served late; an entry whose client went away is skipped.
//! A worker may also own a session on the pool of every CPU: a batch that starts while no
//! other model of the engine runs takes that one (`--thread-pool adaptive`).

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use ort::session::Session;
use tokio::sync::oneshot;

use crate::{error::ApiError, telemetry::metrics};

/// A dense f32 tensor in row-major order; dimension 0 is the batch.
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

    fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }
}

#[derive(Debug)]
enum Failure {
    Timeout,
    Failed(String),
}

type Reply = Result<Vec<Tensor>, Failure>;

struct Job {
    input: Tensor,
    reply: oneshot::Sender<Reply>,
    enqueued: Instant,
    deadline: Option<Instant>,
}

/// How a model's workers run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct WorkerConfig {
    /// Largest batch (sum of dimension 0) of one inference.
    pub max_batch: usize,
    /// Pad every batch with zero rows up to `max_batch`, so the model always sees one shape.
    pub pad_batch: bool,
    /// Bounded queue length; a full queue answers `overloaded`.
    pub queue_size: usize,
    /// How long an entry may wait in the queue before it is answered `timeout`.
    #[serde(serialize_with = "ser_secs")]
    pub deadline: Duration,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Largest batch a worker has run, for `/v1/info` and the batching test.
#[derive(Default)]
pub struct WorkerStats {
    pub max_batch_seen: AtomicUsize,
    /// Batches run on the lone-run session (every CPU).
    pub lone_runs: AtomicUsize,
}

struct Shared {
    name: &'static str,
    tx: Sender<Job>,
    cfg: WorkerConfig,
    stats: WorkerStats,
    running: Running,
}

/// The sessions of one worker: its own (with the budget's intra-op threads) and, for a face
/// model when the thread pool is adaptive, one on the environment's pool of every CPU for lone runs.
pub struct Sessions {
    pub own: Session,
    pub lone: Option<Session>,
}

/// Model runs in progress over every model of one engine: a batch that starts while there is
/// none runs on the lone-run session. Shared by the engine's [`ModelHandle`]s.
pub type Running = Arc<AtomicUsize>;

/// Counts one run in [`Running`] while it lives.
struct RunGuard<'a>(&'a AtomicUsize);

impl RunGuard<'_> {
    /// Starts a run; true when no other run was in progress.
    fn start(running: &AtomicUsize) -> (RunGuard<'_>, bool) {
        (RunGuard(running), running.fetch_add(1, Ordering::AcqRel) == 0)
    }
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A cheap, cloneable handle to a model's workers.
#[derive(Clone)]
pub struct ModelHandle {
    shared: Arc<Shared>,
}

impl ModelHandle {
    /// Starts one worker thread per [`Sessions`]; `running` counts the runs of the engine's models.
    pub fn spawn(
        name: &'static str,
        sessions: Vec<Sessions>,
        cfg: WorkerConfig,
        running: Running,
    ) -> std::io::Result<ModelHandle> {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(cfg.queue_size.max(1));
        let shared = Arc::new(Shared { name, tx, cfg, stats: WorkerStats::default(), running });
        for (i, session) in sessions.into_iter().enumerate() {
            let (rx, shared) = (rx.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("model-{name}-{i}"))
                .spawn(move || worker_loop(&shared, session, &rx))?;
        }
        Ok(ModelHandle { shared })
    }

    pub fn name(&self) -> &'static str {
        self.shared.name
    }

    pub fn config(&self) -> WorkerConfig {
        self.shared.cfg
    }

    pub fn max_batch_seen(&self) -> usize {
        self.shared.stats.max_batch_seen.load(Ordering::Relaxed)
    }

    /// Batches this model ran on its lone-run session (on every CPU, nothing else running).
    pub fn lone_runs(&self) -> usize {
        self.shared.stats.lone_runs.load(Ordering::Relaxed)
    }

    pub fn queue_depth(&self) -> usize {
        self.shared.tx.len()
    }

    fn submit(&self, input: Tensor, with_deadline: bool) -> Result<oneshot::Receiver<Reply>, ApiError> {
        let (reply, rx) = oneshot::channel();
        let now = Instant::now();
        let deadline = with_deadline.then(|| now + self.shared.cfg.deadline);
        let job = Job { input, reply, enqueued: now, deadline };
        let m = metrics::get();
        match self.shared.tx.try_send(job) {
            Ok(()) => {
                m.set_queue_depth(self.shared.name, self.shared.tx.len());
                Ok(rx)
            }
            Err(TrySendError::Full(_)) => {
                m.reject("overloaded");
                Err(ApiError::Overloaded)
            }
            Err(TrySendError::Disconnected(_)) => Err(self.gone()),
        }
    }

    fn gone(&self) -> ApiError {
        ApiError::ModelUnavailable { model: self.shared.name.to_string(), reason: "its workers stopped".into() }
    }

    fn outcome(&self, reply: Result<Reply, oneshot::error::RecvError>) -> Result<Vec<Tensor>, ApiError> {
        match reply {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(Failure::Timeout)) => Err(ApiError::Timeout),
            Ok(Err(Failure::Failed(e))) => Err(ApiError::Internal(e)),
            Err(_) => Err(self.gone()),
        }
    }

    /// Runs the model on `input` (dimension 0 is the batch); outputs come in the model's order.
    pub async fn run(&self, input: Tensor) -> Result<Vec<Tensor>, ApiError> {
        let rx = self.submit(input, true)?;
        self.outcome(rx.await)
    }

    /// Same as [`run`](Self::run) without a deadline, for callers outside an async runtime
    /// (warm-up, CLI, benches).
    pub fn run_blocking(&self, input: Tensor) -> Result<Vec<Tensor>, ApiError> {
        let rx = self.submit(input, false)?;
        self.outcome(rx.blocking_recv())
    }
}

fn worker_loop(shared: &Shared, mut sessions: Sessions, rx: &Receiver<Job>) {
    let m = metrics::get();
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        // Take what else is waiting, up to the max batch, while the shapes agree.
        let mut batch = vec![first];
        let mut rows = batch[0].input.rows();
        while rows < shared.cfg.max_batch {
            let Ok(job) = rx.try_recv() else { break };
            if job.input.shape[1..] == batch[0].input.shape[1..] && rows + job.input.rows() <= shared.cfg.max_batch {
                rows += job.input.rows();
                batch.push(job);
            } else {
                carried = Some(job);
                break;
            }
        }
        m.set_queue_depth(shared.name, rx.len());
        let now = Instant::now();
        batch.retain(|job| {
            if job.reply.is_closed() {
                m.reject("client_gone");
                return false;
            }
            m.observe_queue_wait(shared.name, now.duration_since(job.enqueued).as_secs_f64());
            true
        });
        let (late, batch): (Vec<Job>, Vec<Job>) =
            batch.into_iter().partition(|job| job.deadline.is_some_and(|d| now > d));
        for job in late {
            m.reject("timeout");
            let _ = job.reply.send(Err(Failure::Timeout));
        }
        if batch.is_empty() {
            continue;
        }
        let (_running, alone) = RunGuard::start(&shared.running);
        match sessions.lone.as_mut() {
            Some(lone) if alone => {
                shared.stats.lone_runs.fetch_add(1, Ordering::Relaxed);
                run_batch(shared, lone, batch);
            }
            _ => run_batch(shared, &mut sessions.own, batch),
        }
    }
    tracing::debug!(model = shared.name, "model worker stopped");
}

fn run_batch(shared: &Shared, session: &mut Session, batch: Vec<Job>) {
    let m = metrics::get();
    let rows: Vec<usize> = batch.iter().map(|j| j.input.rows()).collect();
    let total: usize = rows.iter().sum();
    shared.stats.max_batch_seen.fetch_max(total, Ordering::Relaxed);
    m.observe_batch(shared.name, total);
    let padded = if shared.cfg.pad_batch { total.max(shared.cfg.max_batch) } else { total };
    let (input, replies) = batch_input(batch, padded);
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| infer(session, input)))
        .unwrap_or_else(|_| Err("the inference panicked".to_string()));
    m.observe_inference(shared.name, started.elapsed().as_secs_f64());
    match outcome.and_then(|outputs| split(outputs, &rows, padded)) {
        Ok(per_job) => {
            for (reply, out) in replies.into_iter().zip(per_job) {
                let _ = reply.send(Ok(out));
            }
        }
        Err(e) => {
            let e = format!("inference of {} failed: {e}", shared.name);
            for reply in replies {
                let _ = reply.send(Err(Failure::Failed(e.clone())));
            }
        }
    }
}

/// The jobs' inputs stacked along dimension 0 and zero-padded to `padded` rows, and their
/// reply channels. A lone job that needs no padding hands its tensor over as it is (a detector
/// input is megabytes: copying it was on the path of every request).
fn batch_input(mut batch: Vec<Job>, padded: usize) -> (Tensor, Vec<oneshot::Sender<Reply>>) {
    if batch.len() == 1 && batch[0].input.rows() == padded {
        let job = batch.pop().expect("one job");
        return (job.input, vec![job.reply]);
    }
    let mut shape = batch[0].input.shape.clone();
    shape[0] = padded;
    let mut data = Vec::with_capacity(shape.iter().product());
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        data.extend_from_slice(&job.input.data);
        replies.push(job.reply);
    }
    data.resize(shape.iter().product(), 0.0);
    (Tensor { shape, data }, replies)
}

/// Splits every output along dimension 0 (`total` rows, padding included) into the jobs' row
/// counts; padding rows at the end are dropped.
fn split(outputs: Vec<Tensor>, rows: &[usize], total: usize) -> Result<Vec<Vec<Tensor>>, String> {
    let used: usize = rows.iter().sum();
    let mut per_job: Vec<Vec<Tensor>> = rows.iter().map(|_| Vec::with_capacity(outputs.len())).collect();
    for out in outputs {
        if rows.len() == 1 && used == total {
            per_job[0].push(out);
            continue;
        }
        if out.shape.first() != Some(&total) {
            return Err(format!("output of shape {:?} cannot be split into a batch of {total}", out.shape));
        }
        let per_row = out.data.len() / total.max(1);
        let mut offset = 0;
        for (job, &n) in per_job.iter_mut().zip(rows) {
            let mut shape = out.shape.clone();
            shape[0] = n;
            job.push(Tensor { shape, data: out.data[offset..offset + n * per_row].to_vec() });
            offset += n * per_row;
        }
    }
    Ok(per_job)
}

fn infer(session: &mut Session, input: Tensor) -> Result<Vec<Tensor>, String> {
    let run = || -> ort::Result<Vec<Tensor>> {
        let value = ort::value::Tensor::from_array((input.shape, input.data))?;
        let outputs = session.run(ort::inputs![value])?;
        let mut result = Vec::with_capacity(outputs.len());
        for (_, v) in outputs.iter() {
            let (shape, data) = v.try_extract_tensor::<f32>()?;
            let shape = shape.iter().map(|&d| d.max(0) as usize).collect();
            result.push(Tensor { shape, data: data.to_vec() });
        }
        Ok(result)
    };
    run().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(input: Tensor) -> Job {
        Job { input, reply: oneshot::channel().0, enqueued: Instant::now(), deadline: None }
    }

    #[test]
    fn a_lone_job_is_run_on_its_own_tensor_and_several_are_stacked_and_padded() {
        let lone = Tensor::new(vec![1, 2], vec![1., 2.]);
        let original = job(lone.clone());
        let at = original.input.data.as_ptr();
        let (moved, replies) = batch_input(vec![original], 1);
        assert_eq!((&moved, replies.len()), (&lone, 1));
        assert_eq!(moved.data.as_ptr(), at, "a lone job's tensor is handed over, not copied");
        let (stacked, replies) = batch_input(vec![job(lone.clone()), job(Tensor::new(vec![1, 2], vec![3., 4.]))], 3);
        assert_eq!(replies.len(), 2);
        assert_eq!(stacked, Tensor::new(vec![3, 2], vec![1., 2., 3., 4., 0., 0.]));
        let (padded, _) = batch_input(vec![job(lone)], 2);
        assert_eq!(padded, Tensor::new(vec![2, 2], vec![1., 2., 0., 0.]));
    }

    #[test]
    fn split_hands_each_job_its_rows() {
        let out = Tensor::new(vec![3, 2], vec![1., 2., 3., 4., 5., 6.]);
        let parts = split(vec![out.clone()], &[1, 2], 3).unwrap();
        assert_eq!(parts[0][0], Tensor::new(vec![1, 2], vec![1., 2.]));
        assert_eq!(parts[1][0], Tensor::new(vec![2, 2], vec![3., 4., 5., 6.]));
        assert!(split(vec![Tensor::new(vec![1, 2], vec![1., 2.])], &[1, 1], 2).is_err());
        let padded = split(vec![out], &[1], 3).unwrap();
        assert_eq!(padded[0][0], Tensor::new(vec![1, 2], vec![1., 2.]), "padding rows are dropped");
    }
}

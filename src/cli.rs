//! The commands: `serve` runs the HTTP server; `detect`, `verify` and `liveness` run the same
//! operations offline and print the same JSON as the API.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{web, HttpServer};
use anyhow::Context;
use image::RgbImage;
use serde::Serialize;

use crate::{
    api::AppState,
    build_app,
    cluster::Cluster,
    config::{Command, EngineConfig, HttpConfig, ServeArgs},
    engine::Engine,
    error::ApiError,
    gallery::{Gallery, GalleryConfig},
    manifest::Manifest,
    pipeline::{document::DocumentPipeline, face_ops as face, ocr::Ocr, operating, plate::PlateReader, FacePipeline},
    vision::{decode, pool},
};

/// Runs a parsed command; the process exit code is 0 on success.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => actix_web::rt::System::new().block_on(serve(*args)),
        Command::Detect { engine, image } => {
            offline(engine, |faces| async move { face::detect_op(&faces, load_image(&image, "image")?).await })
        }
        Command::Verify { engine, operating_point, source, target } => offline(engine, |faces| async move {
            let op = operating::pick(&operating::VERIFY, Some(&operating_point))?;
            face::verify_op(&faces, load_image(&source, "source")?, load_image(&target, "target")?, op).await
        }),
        Command::Document { engine, image, back } => offline(engine, |faces| async move {
            let back = back.map(|b| load_image(&b, "back")).transpose()?;
            DocumentPipeline::new(faces).read(load_image(&image, "image")?, back).await
        }),
        Command::Plate { engine, image } => offline(engine, |faces| async move {
            let plates = PlateReader::new(Ocr::new(faces.engine().clone())).read(load_image(&image, "image")?).await?;
            Ok(serde_json::json!({ "plates": plates }))
        }),
        Command::Liveness { engine, operating_point, image } => offline(engine, |faces| async move {
            let op = operating::pick(&operating::LIVENESS, Some(&operating_point))?;
            face::liveness_op(&faces, load_image(&image, "image")?, op).await
        }),
    }
}

/// Starts the HTTP server at once (so `/livez` answers) and loads the models beside it
/// (`/readyz` is 503 until they are warm).
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    args.engine.check()?;
    let manifest = Manifest::load(args.engine.manifest.as_deref())?;
    let api_keys = args.http.load_api_keys()?;
    crate::pipeline::onboarding::Policy::parse(&args.http.onboarding_policy)
        .map_err(|e| anyhow::anyhow!("--onboarding-policy / VERITY_ONBOARDING_POLICY: {e}"))?;
    let engine = Engine::new(args.engine.clone(), &manifest);
    let budget = engine.budget();
    tracing::info!(
        cpu_limit = budget.cpu_limit,
        source = budget.source,
        preprocess_threads = budget.preprocess_threads,
        intra_op_threads = budget.intra_op_threads,
        workers_per_model = budget.workers_per_model,
        "thread budget"
    );
    pool::init(budget.preprocess_threads);
    let loader = engine.clone();
    std::thread::Builder::new().name("model-loader".into()).spawn(move || {
        loader.load_all();
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if loader.is_ready() {
            tracing::info!(start_to_ready_ms = ms, "ready");
        } else {
            tracing::error!("some models are unavailable; /readyz says which");
        }
    })?;
    let gallery =
        Gallery::start(GalleryConfig::from(&args.gallery)).await.map_err(|e| anyhow::anyhow!("gallery: {e}"))?;
    let mut state = AppState::new(FacePipeline::new(engine.clone()), gallery.clone(), args.http.clone(), api_keys);
    let draining = state.draining.clone();
    let readiness: crate::cluster::ReadinessFn = Arc::new(move || {
        crate::api::health::readiness(&engine, &gallery, draining.load(std::sync::atomic::Ordering::Relaxed))
    });
    state.cluster = Cluster::start(args.cluster.clone(), readiness);
    let cluster = state.cluster.clone();
    if state.gallery.is_shared() && cluster.is_enabled() {
        cluster.start_jobs(state.faces.clone(), state.gallery.clone(), cluster.jobs_throttle());
    }
    tokio::spawn(crate::cluster::maintenance::run(
        state.gallery.clone(),
        cluster.clone(),
        Duration::from_secs(args.gallery.maintenance_interval_seconds.max(1)),
        args.gallery.changelog_keep,
    ));
    let state = web::Data::new(state);
    tracing::info!(listen = %args.listen, auth = !state.api_keys.is_empty(), "verity listening");
    let draining = state.draining.clone();
    let signal_cluster = cluster.clone();
    let server = HttpServer::new(move || build_app(state.clone()))
        .workers(args.http_workers.max(1))
        .shutdown_timeout(args.shutdown_timeout_seconds)
        .disable_signals()
        .bind(args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?
        .run();
    let handle = server.handle();
    let drain = Duration::from_secs(args.drain_delay_seconds);
    actix_web::rt::spawn(async move {
        let signal = shutdown_signal().await;
        draining.store(true, std::sync::atomic::Ordering::Relaxed);
        signal_cluster.poke();
        tracing::info!(signal, drain_delay_s = drain.as_secs(), "shutting down: /readyz is now 503 draining");
        actix_web::rt::time::sleep(drain).await;
        tracing::info!("closing the listener; finishing in-flight requests");
        handle.stop(true).await;
    });
    server.await?;
    // In-flight requests are done: hand the Lease over and leave the condition False.
    cluster.shutdown(Duration::from_secs(5)).await;
    tracing::info!("stopped");
    crate::telemetry::shutdown();
    Ok(())
}

/// Waits for SIGTERM (Kubernetes) or SIGINT (Ctrl-C); returns its name.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        _ => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Loads the models synchronously, for the CLI, tests and benches.
pub fn load_engine(cfg: EngineConfig) -> anyhow::Result<Arc<Engine>> {
    cfg.check()?;
    let manifest = Manifest::load(cfg.manifest.as_deref())?;
    let engine = Engine::new(cfg, &manifest);
    pool::init(engine.budget().preprocess_threads);
    engine.load_all();
    if !engine.is_ready() {
        let failed: Vec<String> = engine.status().into_iter().map(|(n, s)| format!("{n}: {s:?}")).collect();
        anyhow::bail!("models unavailable:\n  {}", failed.join("\n  "));
    }
    Ok(engine)
}

fn load_image(path: &Path, field: &str) -> Result<Arc<RgbImage>, ApiError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ApiError::InvalidField { field: field.to_string(), reason: format!("{}: {e}", path.display()) })?;
    decode::decode(field, &bytes, HttpConfig::default().max_image_pixels).map(Arc::new)
}

fn offline<F, Fut, T>(cfg: EngineConfig, op: F) -> anyhow::Result<()>
where
    F: FnOnce(FacePipeline) -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
    T: Serialize,
{
    let engine = load_engine(cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match rt.block_on(op(FacePipeline::new(engine))) {
        Ok(out) => {
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        Err(e) => {
            println!("{}", serde_json::to_string_pretty(&e.body())?);
            anyhow::bail!("{e}")
        }
    }
}

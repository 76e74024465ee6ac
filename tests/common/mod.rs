//! Shared set-up of the integration tests: the real models (fetched by `make test`) and the
//! real test images (`../shared/testdata`, or `VERITY_TESTDATA`).
#![allow(dead_code)] // each test binary uses part of this module

pub mod http;
pub mod k8s;
pub mod pg;
pub mod server;
pub mod tls;

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, OnceLock,
    },
    time::Duration,
};

use actix_web::web;
use verity::{
    config::{EngineConfig, HttpConfig},
    engine::Engine,
    gallery::{Gallery, GalleryConfig},
    pipeline::FacePipeline,
    AppState,
};

pub fn testdata() -> PathBuf {
    let dir = std::env::var_os("VERITY_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"));
    assert!(
        dir.join("obama.jpg").exists(),
        "test images not found in {}: set VERITY_TESTDATA to the folder of the shared test images",
        dir.display()
    );
    dir
}

/// An image of the shared development sets (`../shared/devsets`, or `VERITY_DEVSETS`), for the
/// few tests that pin a behaviour measured there.
pub fn devset_image(path: &str) -> Arc<image::RgbImage> {
    let dir = std::env::var_os("VERITY_DEVSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/devsets"));
    let bytes = std::fs::read(dir.join(path)).unwrap_or_else(|e| {
        panic!("{path} in {}: {e} (set VERITY_DEVSETS to the folder of the shared dev sets)", dir.display())
    });
    Arc::new(verity::vision::decode::decode(path, &bytes, 100_000_000).expect("dev image decodes"))
}

pub fn image_bytes(name: &str) -> Vec<u8> {
    std::fs::read(testdata().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn image(name: &str) -> Arc<image::RgbImage> {
    Arc::new(verity::vision::decode::decode(name, &image_bytes(name), 100_000_000).expect("test image decodes"))
}

/// The engine with every model loaded, once per test binary.
pub fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut cfg = EngineConfig::from_env_defaults();
            if cfg.models_dir.is_relative() {
                cfg.models_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(&cfg.models_dir);
            }
            // Loaded on a plain thread: its warm-up blocks, which an async test's runtime forbids.
            std::thread::spawn(move || verity::cli::load_engine(cfg))
                .join()
                .expect("loader thread")
                .unwrap_or_else(|e| panic!("{e:#}\nrun `make models runtime` (or `make test`) first"))
        })
        .clone()
}

pub fn faces() -> FacePipeline {
    FacePipeline::new(engine())
}

/// A fresh SQLite gallery in its own temporary directory, loaded.
pub async fn sqlite_gallery() -> Arc<Gallery> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir =
        std::env::temp_dir().join(format!("verity-test-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = GalleryConfig {
        data_dir: dir,
        database_url: None,
        poll: Duration::from_millis(200),
        keep_aligned: true,
        pg: Default::default(),
    };
    Gallery::open(cfg).await.expect("SQLite gallery opens")
}

pub async fn state_with(http: HttpConfig, keys: &[&str]) -> web::Data<AppState> {
    web::Data::new(AppState::new(faces(), sqlite_gallery().await, http, keys.iter().map(|k| k.to_string()).collect()))
}

pub async fn state() -> web::Data<AppState> {
    state_with(HttpConfig::default(), &[]).await
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

//! Set-up shared by the benches: the test images and the engine with every model loaded.
#![allow(dead_code)] // each bench uses part of this module

pub mod server;

use std::{path::PathBuf, sync::Arc};

use verity::{config::EngineConfig, engine::Engine};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `VERITY_TESTDATA`, else ../shared/testdata.
pub fn testdata_dir() -> PathBuf {
    std::env::var_os("VERITY_TESTDATA").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/testdata"))
}

pub fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(testdata_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e} (set VERITY_TESTDATA)"))
}

/// The engine configured from the environment, models resolved against the crate root.
pub fn engine() -> Arc<Engine> {
    let mut cfg = EngineConfig::from_env_defaults();
    cfg.models_dir = root().join(&cfg.models_dir);
    verity::cli::load_engine(cfg).expect("models: run `make setup` first")
}

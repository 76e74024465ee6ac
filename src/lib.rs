//! Verity: face and ID verification behind an HTTP API. The layers, arrows pointing down only
//! (checked by `tests/layers.rs`): api -> cluster -> pipeline -> {gallery, vision -> engine} ->
//! telemetry -> config, error, manifest, tls.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod api;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod error;
pub mod gallery;
pub mod manifest;
pub mod pipeline;
pub mod telemetry;
pub mod tls;
pub mod vision;

pub use api::{build_app, AppState};

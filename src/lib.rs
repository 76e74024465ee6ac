//! Verity: face and ID verification behind an HTTP API. See `ARCHITECTURE.md` in the shared
//! docs for the shape: api -> vision -> engine -> pipeline.

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

//! Model engines: the ONNX Runtime environment, session construction (execution providers,
//! thread budget), one worker thread per model that owns its session, and the registry that
//! loads and warms every model and reports its readiness.

pub mod budget;
pub mod registry;
pub mod runtime;
pub mod session;
pub mod worker;

pub use registry::{Engine, ModelStatus};
pub use worker::{ModelHandle, Tensor};

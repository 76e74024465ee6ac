//! Pipelines: model calls in order, with the pure maths of `vision` in between.

pub mod aamva;
pub mod aamva_iin;
pub mod barcode;
pub mod document;
pub mod enroll;
pub mod face;
pub mod face_ops;
pub mod mrz;
pub mod mrz_band;
pub mod mrz_pitch;
pub mod mrz_read;
pub mod mrz_states;
pub mod mrz_viz;
pub mod ocr;
pub mod onboarding;
pub mod operating;
pub mod plate;
pub mod reembed;
pub mod search;
pub mod yunet;

pub use face::{Face, FacePipeline};

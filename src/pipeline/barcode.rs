//! The PDF417 barcode of a document side (the back of a US or Canadian driver licence or ID card)
//! and its AAMVA payload.

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

use super::aamva::{self, Aamva};
use crate::{error::ApiError, vision::pdf417, vision::pool};

/// Why a barcode's payload gave no identity.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BarcodeProblem {
    /// `not_aamva` (another kind of barcode) or `corrupt` (an AAMVA header, damaged payload).
    pub code: String,
    pub message: String,
}

/// A PDF417 barcode found on a document side.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Barcode {
    /// `pdf417`.
    pub format: String,
    /// `front` or `back`: the image it was found on.
    pub side: String,
    /// The decoded text, control characters included.
    pub raw: String,
    /// The AAMVA DL/ID payload; null when the text is not one (see `problem`).
    pub aamva: Option<Aamva>,
    /// Set when `aamva` is null: what is wrong with the payload. No identity is taken from it.
    pub problem: Option<BarcodeProblem>,
}

impl Barcode {
    pub fn from_text(raw: String, side: &str) -> Barcode {
        let (aamva, problem) = match aamva::parse(&raw) {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(BarcodeProblem { code: e.code().to_string(), message: e.to_string() })),
        };
        Barcode { format: "pdf417".into(), side: side.into(), raw, aamva, problem }
    }
}

/// The PDF417 on `img`, if there is one (decoding runs on the preprocessing pool); `quick`: one
/// attempt on the photo as taken (see [`pdf417::read`]).
pub async fn read(img: Arc<RgbImage>, side: &'static str, quick: bool) -> Result<Option<Barcode>, ApiError> {
    pool::run(move || {
        let gray = image::imageops::grayscale(&*img);
        Ok(pdf417::read(&gray, quick).map(|d| {
            tracing::debug!(side, attempt = d.attempt, "PDF417 decoded");
            Barcode::from_text(d.text, side)
        }))
    })
    .await
}

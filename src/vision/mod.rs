//! Pure image maths: decoding with limits, tensor layouts, alignment, NMS, pose and quality,
//! PDF417 barcodes.
//! No I/O and no model calls here.

pub mod align;
pub mod ctc;
pub mod db;
pub mod decode;
pub mod geometry;
pub mod pdf417;
pub mod pool;
pub mod quality;
pub mod resize;
pub mod tensor;

//! Altered copies of a photo, for robustness figures: the camera and light conditions a
//! liveness check meets in the field (compression, blur, exposure, contrast, colour casts).

use image::{codecs::jpeg::JpegEncoder, imageops, RgbImage};

/// The conditions, by name, in the order the eval prints them.
pub const CONDITIONS: [&str; 9] = [
    "jpeg_q15",
    "blur_2px",
    "darker_x0.5",
    "brighter_x1.5",
    "contrast_x0.5",
    "half_size",
    "warm_tint",
    "cool_tint",
    "noise_12",
];

/// `img` altered by `condition`; the face box scales by the returned factor.
pub fn alter(img: &RgbImage, condition: &str) -> (RgbImage, f32) {
    let per_channel = |f: [f32; 3]| {
        let mut out = img.clone();
        for p in out.pixels_mut() {
            for (v, k) in p.0.iter_mut().zip(f) {
                *v = (f32::from(*v) * k).round().clamp(0.0, 255.0) as u8;
            }
        }
        out
    };
    match condition {
        "jpeg_q15" => {
            let mut bytes = Vec::new();
            JpegEncoder::new_with_quality(&mut bytes, 15).encode_image(img).expect("jpeg encode");
            (image::load_from_memory(&bytes).expect("jpeg decode").to_rgb8(), 1.0)
        }
        "blur_2px" => (imageops::blur(img, 2.0), 1.0),
        "darker_x0.5" => (per_channel([0.5; 3]), 1.0),
        "brighter_x1.5" => (per_channel([1.5; 3]), 1.0),
        "contrast_x0.5" => {
            let mean = img.pixels().map(|p| p.0.iter().map(|&v| f64::from(v)).sum::<f64>() / 3.0).sum::<f64>()
                / (img.width() * img.height()).max(1) as f64;
            let mut out = img.clone();
            for p in out.pixels_mut() {
                for v in &mut p.0 {
                    *v = (mean + (f64::from(*v) - mean) * 0.5).round().clamp(0.0, 255.0) as u8;
                }
            }
            (out, 1.0)
        }
        "half_size" => (
            imageops::resize(img, (img.width() / 2).max(1), (img.height() / 2).max(1), imageops::FilterType::Triangle),
            0.5,
        ),
        "warm_tint" => (per_channel([1.15, 1.0, 0.8]), 1.0),
        "cool_tint" => (per_channel([0.85, 1.0, 1.15]), 1.0),
        "noise_12" => {
            // Deterministic noise, sigma about 12 (sum of uniforms), from a fixed-seed LCG.
            let mut state = 0x2545_f491_4f6c_dd1du64;
            let mut uniform = move || {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            };
            let mut out = img.clone();
            for p in out.pixels_mut() {
                for v in &mut p.0 {
                    let n: f32 = (0..4).map(|_| uniform()).sum::<f32>() * 20.8;
                    *v = (f32::from(*v) + n).round().clamp(0.0, 255.0) as u8;
                }
            }
            (out, 1.0)
        }
        other => panic!("unknown condition {other}"),
    }
}

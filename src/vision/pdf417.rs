//! Finding and decoding a PDF417 barcode anywhere on a photo, with rxing (the Rust port of
//! ZXing). Its detector finds symbols turned by multiples of 90 degrees and slightly skewed, and
//! reads clean bars; a photo is tried as taken, then smoothed (sensor noise and JPEG blocks break
//! the bar widths), then turned upright by its dominant edge angle, then at fixed angles.

use image::{imageops, GrayImage, Luma};
use imageproc::{
    filter::gaussian_blur_f32,
    geometric_transformations::{warp_into_with, Interpolation},
    gradients::{horizontal_sobel, vertical_sobel},
};
use rxing::{BarcodeFormat, DecodeHints};

/// Larger photos are scaled down to this long side first (a licence barcode keeps its
/// modules at a few pixels; rxing's time grows with the pixels).
const MAX_SIDE: u32 = 2400;
/// The angle estimate looks at the photo scaled to this long side.
const ANGLE_SIDE: u32 = 800;

/// The text of a decoded barcode and which attempt found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub text: String,
    pub attempt: &'static str,
}

fn decode(img: &GrayImage) -> Option<String> {
    let mut hints = DecodeHints { TryHarder: Some(true), ..Default::default() };
    rxing::helpers::detect_in_luma_slice_with_hints(
        img.as_raw(),
        img.width(),
        img.height(),
        Some(BarcodeFormat::PDF_417),
        &mut hints,
    )
    .ok()
    .map(|r| r.getText().to_string())
}

fn scaled(img: &GrayImage, side: u32) -> GrayImage {
    let long = img.width().max(img.height());
    if long <= side {
        return img.clone();
    }
    let k = side as f32 / long as f32;
    let (w, h) = (((img.width() as f32 * k) as u32).max(1), ((img.height() as f32 * k) as u32).max(1));
    imageops::resize(img, w, h, imageops::FilterType::Triangle)
}

/// The dominant edge angle modulo 90 degrees, in radians (-pi/4, pi/4]: a PDF417's bars and
/// rows give edges at two right angles, so the gradient angle is averaged as 4 theta.
pub fn dominant_angle(img: &GrayImage) -> f32 {
    let small = scaled(img, ANGLE_SIDE);
    let (gx, gy) = (horizontal_sobel(&small), vertical_sobel(&small));
    let (mut c, mut s) = (0f64, 0f64);
    for (a, b) in gx.pixels().zip(gy.pixels()) {
        let (x, y) = (f64::from(a[0]), f64::from(b[0]));
        let m2 = x * x + y * y;
        if m2 < 10_000.0 {
            continue;
        }
        let (c2, s2) = ((x * x - y * y) / m2, 2.0 * x * y / m2);
        let m = m2.sqrt();
        c += m * (c2 * c2 - s2 * s2);
        s += m * 2.0 * s2 * c2;
    }
    (s.atan2(c) / 4.0) as f32
}

/// `img` turned by `-angle` radians about its centre, on a canvas large enough to keep it all.
pub fn rotate(img: &GrayImage, angle: f32) -> GrayImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (sin, cos) = angle.sin_cos();
    let (nw, nh) = ((w * cos.abs() + h * sin.abs()).ceil(), (w * sin.abs() + h * cos.abs()).ceil());
    let mut out = GrayImage::new(nw as u32, nh as u32);
    let fill = Luma([imageproc::stats::histogram(img).channels[0]
        .iter()
        .enumerate()
        .max_by_key(|c| c.1)
        .map_or(128, |c| c.0 as u8)]);
    let (cx, cy, ncx, ncy) = (w / 2.0, h / 2.0, nw / 2.0, nh / 2.0);
    warp_into_with(
        img,
        move |u, v| {
            let (du, dv) = (u - ncx, v - ncy);
            (cx + cos * du - sin * dv, cy + sin * du + cos * dv)
        },
        Interpolation::Bilinear,
        fill,
        &mut out,
    );
    out
}

/// The first PDF417 found on `img` (grey levels), or None. `quick`: the photo as taken only
/// (one rxing pass: tens of milliseconds); otherwise every attempt (several hundred on a photo
/// without a barcode).
pub fn read(img: &GrayImage, quick: bool) -> Option<Decoded> {
    let gray = scaled(img, MAX_SIDE);
    let found = |text: Option<String>, attempt| text.map(|text| Decoded { text, attempt });
    if let Some(d) = found(decode(&gray), "as_taken") {
        return Some(d);
    }
    if quick {
        return None;
    }
    let smooth = gaussian_blur_f32(&gray, 1.2);
    if let Some(d) = found(decode(&smooth), "smoothed") {
        return Some(d);
    }
    let angle = dominant_angle(&gray);
    let mut angles = Vec::new();
    if angle.abs() > 2f32.to_radians() {
        angles.extend([angle, -angle]);
    }
    angles.extend([15f32, -15.0, 30.0, -30.0].map(f32::to_radians).into_iter().filter(|a| (a - angle).abs() > 0.1));
    for a in angles {
        let turned = rotate(&smooth, a);
        if let Some(d) = found(decode(&turned), "turned") {
            return Some(d);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vertical bars of uneven widths: edges at 0 degrees.
    fn bars() -> GrayImage {
        GrayImage::from_fn(400, 300, |x, _| Luma([if (x / 7 + x / 23) % 2 == 0 { 20 } else { 235 }]))
    }

    #[test]
    fn the_dominant_angle_of_turned_bars_is_the_turn() {
        assert!(dominant_angle(&bars()).abs() < 0.02);
        for deg in [-25f32, -10.0, 12.0, 30.0] {
            let turned = rotate(&bars(), deg.to_radians());
            let got = dominant_angle(&turned).to_degrees();
            assert!((got.abs() - deg.abs()).abs() < 2.0, "turned by {deg}: estimated {got}");
        }
    }

    #[test]
    fn rotation_keeps_the_whole_image() {
        let r = rotate(&bars(), 30f32.to_radians());
        assert_eq!((r.width(), r.height()), (497, 460));
    }

    #[test]
    fn nothing_is_found_on_a_blank_page() {
        assert_eq!(read(&GrayImage::from_pixel(300, 200, Luma([240])), false), None);
    }
}

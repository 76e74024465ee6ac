//! Image to tensor layouts used by the models.

use image::RgbImage;

use super::resize::resize;

use crate::engine::Tensor;

/// Scales `img` down so its longer side is at most `max_side` (never up), then pads right and
/// bottom with black to multiples of `multiple` (or, with `fixed_canvas`, to a square of
/// `max_side`); returns the BGR 0..255 NCHW tensor and the scale.
pub fn detector_input(img: &RgbImage, max_side: u32, multiple: u32, fixed_canvas: bool) -> (Tensor, f32) {
    let (w, h) = img.dimensions();
    let scale = (max_side as f32 / w.max(h) as f32).min(1.0);
    let resized;
    let src = if scale < 1.0 {
        let nw = ((w as f32 * scale).round() as u32).max(1);
        let nh = ((h as f32 * scale).round() as u32).max(1);
        resized = resize(img, nw, nh);
        &resized
    } else {
        img
    };
    let (sw, sh) = src.dimensions();
    let (pw, ph) = if fixed_canvas {
        let side = max_side.div_ceil(multiple) * multiple;
        (side, side)
    } else {
        (sw.div_ceil(multiple) * multiple, sh.div_ceil(multiple) * multiple)
    };
    let plane = (pw * ph) as usize;
    let mut data = vec![0.0f32; 3 * plane];
    for (x, y, p) in src.enumerate_pixels() {
        let i = (y * pw + x) as usize;
        data[i] = f32::from(p[2]);
        data[plane + i] = f32::from(p[1]);
        data[2 * plane + i] = f32::from(p[0]);
    }
    let effective = if scale < 1.0 { sw as f32 / w as f32 } else { 1.0 };
    (Tensor::new(vec![1, 3, ph as usize, pw as usize], data), effective)
}

/// BGR 0..255 NCHW of one image, as MiniFASNet takes it.
pub fn bgr_nchw(img: &RgbImage) -> Tensor {
    let (w, h) = img.dimensions();
    let plane = (w * h) as usize;
    let mut data = vec![0.0f32; 3 * plane];
    for (i, p) in img.pixels().enumerate() {
        data[i] = f32::from(p[2]);
        data[plane + i] = f32::from(p[1]);
        data[2 * plane + i] = f32::from(p[0]);
    }
    Tensor::new(vec![1, 3, h as usize, w as usize], data)
}

/// A batch of aligned faces as RGB NHWC, normalised (x - 127.5) / 128 (MobileFaceNet).
pub fn rgb_nhwc_batch(faces: &[RgbImage]) -> Tensor {
    let (w, h) = faces.first().map_or((0, 0), |f| f.dimensions());
    let mut data = Vec::with_capacity(faces.len() * (w * h * 3) as usize);
    for face in faces {
        data.extend(face.as_raw().iter().map(|&v| (f32::from(v) - 127.5) / 128.0));
    }
    Tensor::new(vec![faces.len(), h as usize, w as usize, 3], data)
}

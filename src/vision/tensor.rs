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
    let data = bgr_planes(src, pw as usize, ph as usize);
    let effective = if scale < 1.0 { sw as f32 / w as f32 } else { 1.0 };
    (Tensor::new(vec![1, 3, ph as usize, pw as usize], data), effective)
}

/// BGR 0..255 NCHW of one image, as MiniFASNet takes it.
pub fn bgr_nchw(img: &RgbImage) -> Tensor {
    let (w, h) = (img.width() as usize, img.height() as usize);
    Tensor::new(vec![1, 3, h, w], bgr_planes(img, w, h))
}

/// `img` as three planes B, G, R of 0..255 floats on a `pw` x `ph` canvas (at least the image's
/// size), zero to the right and below it. Row by row, each plane's row a slice: no index
/// arithmetic or bounds check per pixel (a detector input is millions of them).
fn bgr_planes(img: &RgbImage, pw: usize, ph: usize) -> Vec<f32> {
    let (w, plane) = (img.width() as usize, pw * ph);
    let mut data = vec![0.0f32; 3 * plane];
    let (b, rest) = data.split_at_mut(plane);
    let (g, r) = rest.split_at_mut(plane);
    for (y, row) in img.as_raw().chunks_exact(3 * w.max(1)).enumerate() {
        let at = y * pw..y * pw + w;
        let (b, g, r) = (&mut b[at.clone()], &mut g[at.clone()], &mut r[at]);
        for (x, p) in row.chunks_exact(3).enumerate() {
            b[x] = f32::from(p[2]);
            g[x] = f32::from(p[1]);
            r[x] = f32::from(p[0]);
        }
    }
    data
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

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn model_inputs_are_bgr_planes_padded_with_zeros() {
        // 3 x 2 pixels, padded to a multiple of 4: a 4 x 4 canvas per plane.
        let img = RgbImage::from_fn(3, 2, |x, y| Rgb([(10 * x + y) as u8, 100 + x as u8, 200 + y as u8]));
        let (t, scale) = detector_input(&img, 64, 4, false);
        assert_eq!((t.shape.as_slice(), scale), (&[1, 3, 4, 4][..], 1.0));
        let at = |c: usize, y: usize, x: usize| t.data[c * 16 + y * 4 + x];
        for (x, y) in [(0, 0), (2, 0), (1, 1), (2, 1)] {
            let p = img.get_pixel(x as u32, y as u32).0;
            assert_eq!([at(0, y, x), at(1, y, x), at(2, y, x)], [p[2], p[1], p[0]].map(f32::from));
        }
        assert!((0..3).all(|c| at(c, 0, 3) == 0.0 && at(c, 2, 0) == 0.0 && at(c, 3, 3) == 0.0));
        let (fixed, _) = detector_input(&img, 8, 4, true);
        assert_eq!(fixed.shape, vec![1, 3, 8, 8]);
        assert_eq!(fixed.data[64 + 8 + 2], 102.0, "green of (2, 1) on the fixed canvas");
        let unpadded = bgr_nchw(&img);
        assert_eq!(unpadded.shape, vec![1, 3, 2, 3]);
        assert_eq!(
            [unpadded.data[5], unpadded.data[6 + 5], unpadded.data[12 + 5]],
            [201.0, 102.0, 21.0],
            "B, G, R of (2, 1)"
        );
    }
}

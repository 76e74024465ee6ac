//! Resizing with `fast_image_resize` (SIMD convolution): several times faster than the `image`
//! crate's generic filters on the large uploads the detector scales down.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// Bilinear resize of the `cw` x `ch` region at (`x`, `y`) of `img` to `w` x `h`.
pub fn crop_resize(img: &RgbImage, (x, y, cw, ch): (f64, f64, f64, f64), w: u32, h: u32) -> RgbImage {
    let mut out = RgbImage::new(w.max(1), h.max(1));
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)).crop(x, y, cw, ch);
    // Pixel types agree and the crop lies inside the image (callers clip it), so this cannot
    // fail; should it ever, a black image is a safe answer for a quality or model input.
    let _ = Resizer::new().resize(img, &mut out, &options);
    out
}

/// Bilinear resize of the whole image.
pub fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    crop_resize(img, (0.0, 0.0, f64::from(img.width()), f64::from(img.height())), w, h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn resizing_a_flat_image_keeps_its_colour_and_crops_pick_their_region() {
        let img = RgbImage::from_fn(100, 50, |x, _| if x < 50 { Rgb([200, 10, 10]) } else { Rgb([10, 10, 200]) });
        let small = resize(&img, 20, 10);
        assert_eq!(small.dimensions(), (20, 10));
        assert_eq!(small.get_pixel(2, 5).0, [200, 10, 10]);
        let right = crop_resize(&img, (60.0, 0.0, 40.0, 50.0), 8, 8);
        assert_eq!(right.get_pixel(4, 4).0, [10, 10, 200]);
    }
}

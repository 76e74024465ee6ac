//! Image quality measures of a face crop: sharpness (variance of the Laplacian) and brightness.

use image::RgbImage;

fn luma(img: &RgbImage) -> Vec<f32> {
    img.pixels().map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])).collect()
}

/// Mean luma in 0..1.
pub fn brightness(img: &RgbImage) -> f32 {
    let l = luma(img);
    if l.is_empty() {
        return 0.0;
    }
    l.iter().sum::<f32>() / l.len() as f32 / 255.0
}

/// Variance of the 4-neighbour Laplacian of the luma: low for blurred images.
pub fn sharpness(img: &RgbImage) -> f32 {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let l = luma(img);
    let mut vals = Vec::with_capacity((w - 2) * (h - 2));
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let c = l[y * w + x];
            vals.push(l[y * w + x - 1] + l[y * w + x + 1] + l[(y - 1) * w + x] + l[(y + 1) * w + x] - 4.0 * c);
        }
    }
    let mean = vals.iter().sum::<f32>() / vals.len() as f32;
    vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / vals.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn flat_image_has_no_sharpness_and_a_checkerboard_has_much() {
        let flat = RgbImage::from_pixel(20, 20, Rgb([128, 128, 128]));
        assert_eq!(sharpness(&flat), 0.0);
        assert!((brightness(&flat) - 128.0 / 255.0).abs() < 1e-3);
        let checker = RgbImage::from_fn(20, 20, |x, y| if (x + y) % 2 == 0 { Rgb([255; 3]) } else { Rgb([0; 3]) });
        assert!(sharpness(&checker) > 1000.0);
    }
}

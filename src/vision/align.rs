//! Five-point similarity alignment of a face to the 112x112 ArcFace template.

use image::{Rgb, RgbImage};

use super::geometry::Point;

/// The standard ArcFace landmark template for a 112x112 crop (same order as YuNet's landmarks).
pub const ARCFACE_TEMPLATE: [Point; 5] = [
    Point { x: 38.2946, y: 51.6963 },
    Point { x: 73.5318, y: 51.5014 },
    Point { x: 56.0252, y: 71.7366 },
    Point { x: 41.5493, y: 92.3655 },
    Point { x: 70.7299, y: 92.2041 },
];

pub const ALIGNED_SIZE: u32 = 112;

/// A similarity transform `q = [a -b; b a] p + t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Least-squares similarity (rotation, uniform scale, translation; no reflection) taking
    /// `src` onto `dst` (Umeyama's method in 2-D).
    pub fn estimate(src: &[Point], dst: &[Point]) -> Similarity {
        let n = src.len().min(dst.len()) as f32;
        let mean = |ps: &[Point]| {
            let (sx, sy) = ps.iter().fold((0.0, 0.0), |(x, y), p| (x + p.x, y + p.y));
            Point { x: sx / n, y: sy / n }
        };
        let (ms, md) = (mean(src), mean(dst));
        let (mut num_a, mut num_b, mut den) = (0.0f32, 0.0f32, 0.0f32);
        for (s, d) in src.iter().zip(dst) {
            let (sx, sy, dx, dy) = (s.x - ms.x, s.y - ms.y, d.x - md.x, d.y - md.y);
            num_a += sx * dx + sy * dy;
            num_b += sx * dy - sy * dx;
            den += sx * sx + sy * sy;
        }
        let den = den.max(1e-9);
        let (a, b) = (num_a / den, num_b / den);
        Similarity { a, b, tx: md.x - (a * ms.x - b * ms.y), ty: md.y - (b * ms.x + a * ms.y) }
    }

    pub fn apply(&self, p: Point) -> Point {
        Point { x: self.a * p.x - self.b * p.y + self.tx, y: self.b * p.x + self.a * p.y + self.ty }
    }

    pub fn inverse(&self) -> Similarity {
        let d = (self.a * self.a + self.b * self.b).max(1e-12);
        let (a, b) = (self.a / d, -self.b / d);
        Similarity { a, b, tx: -(a * self.tx - b * self.ty), ty: -(b * self.tx + a * self.ty) }
    }
}

/// Warps the face with landmarks `lm` to a 112x112 aligned crop (bilinear, black outside).
pub fn align_face(img: &RgbImage, lm: &[Point; 5]) -> RgbImage {
    let inv = Similarity::estimate(lm, &ARCFACE_TEMPLATE).inverse();
    warp(img, &inv, ALIGNED_SIZE, ALIGNED_SIZE)
}

/// For every output pixel, samples `img` at `inv(pixel)`.
pub fn warp(img: &RgbImage, inv: &Similarity, width: u32, height: u32) -> RgbImage {
    let mut out = RgbImage::new(width, height);
    for (u, v, px) in out.enumerate_pixels_mut() {
        let p = inv.apply(Point { x: u as f32, y: v as f32 });
        *px = bilinear(img, p.x, p.y, Border::Black);
    }
    out
}

/// What a sample outside the image reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Border {
    /// Black (face alignment, like OpenCV's default).
    Black,
    /// The nearest edge pixel (text crops, so a box at the edge does not darken).
    Clamp,
}

/// Bilinear sample of `img` at (`x`, `y`).
pub fn bilinear(img: &RgbImage, x: f32, y: f32, border: Border) -> Rgb<u8> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at = |xx: i64, yy: i64| -> [f32; 3] {
        let inside = xx >= 0 && yy >= 0 && xx < w && yy < h;
        if !inside && border == Border::Black {
            return [0.0; 3];
        }
        img.get_pixel(xx.clamp(0, w - 1) as u32, yy.clamp(0, h - 1) as u32).0.map(f32::from)
    };
    let (p00, p10, p01, p11) = (at(x0, y0), at(x0 + 1, y0), at(x0, y0 + 1), at(x0 + 1, y0 + 1));
    Rgb(std::array::from_fn(|c| {
        let top = p00[c] * (1.0 - fx) + p10[c] * fx;
        let bottom = p01[c] * (1.0 - fx) + p11[c] * fx;
        (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_recovers_a_known_similarity() {
        let truth = Similarity { a: 0.8, b: 0.3, tx: 5.0, ty: -7.0 };
        let src = ARCFACE_TEMPLATE;
        let dst: Vec<Point> = src.iter().map(|&p| truth.apply(p)).collect();
        let est = Similarity::estimate(&src, &dst);
        for (got, want) in [(est.a, truth.a), (est.b, truth.b), (est.tx, truth.tx), (est.ty, truth.ty)] {
            assert!((got - want).abs() < 1e-3, "{est:?}");
        }
        let back = est.inverse().apply(est.apply(Point { x: 3.0, y: 4.0 }));
        assert!((back.x - 3.0).abs() < 1e-3 && (back.y - 4.0).abs() < 1e-3);
    }

    #[test]
    fn aligning_the_template_itself_is_the_identity() {
        let img = RgbImage::from_fn(112, 112, |x, y| Rgb([x as u8, y as u8, 7]));
        let out = align_face(&img, &ARCFACE_TEMPLATE);
        assert_eq!(out.get_pixel(50, 60), img.get_pixel(50, 60));
    }
}

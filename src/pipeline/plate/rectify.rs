//! A plate seen from the side: the text detector's box is the smallest rectangle around a
//! sheared plate, so the characters run at an angle inside it and lean. The crop's edges tell
//! both: the strongest edge direction near the box's own is the text's (the plate's top and
//! bottom, the characters' tops and bases), the strongest near upright the strokes'. The text's
//! rows are found in its ink. The box that follows them is a parallelogram that
//! [`crate::pipeline::ocr::crop_line_at`] maps to an upright, unslanted crop.

use image::{GrayImage, Luma, RgbImage};

use crate::{
    pipeline::{mrz_read, ocr::crop_quad},
    vision::{db::TextBox, geometry::Point},
};

/// Height (and widest width) of the crop the edges and ink are measured in.
const SAMPLE_HEIGHT: u32 = 64;
const MAX_SAMPLE_WIDTH: u32 = 640;

/// The box is widened by this much along the text and heightened by this much across it before
/// sampling, so that text running at an angle to it stays inside.
const GROW_ALONG: f32 = 1.1;
const GROW_ACROSS: f32 = 1.6;

/// Angles (degrees) of the text against the box, and of the strokes against the text's normal.
const MAX_ANGLE: i32 = 20;
const MAX_SHEAR: i32 = 30;

/// Below these (degrees) the box is already right: no second reading.
const MIN_ANGLE: f32 = 2.5;
const MIN_SHEAR: f32 = 5.0;

/// Where a sampled crop pixel lies in the photo.
struct Frame {
    origin: Point,
    u: Point,
    v: Point,
    width: f32,
    height: f32,
}

impl Frame {
    fn to_photo(&self, x: f32, y: f32) -> Point {
        let (a, c) = (x / self.width, y / self.height);
        Point { x: self.origin.x + a * self.u.x + c * self.v.x, y: self.origin.y + a * self.u.y + c * self.v.y }
    }
}

fn sub(a: Point, b: Point) -> Point {
    Point { x: a.x - b.x, y: a.y - b.y }
}

fn len(p: Point) -> f32 {
    (p.x * p.x + p.y * p.y).sqrt()
}

/// Luma (BT.601 weights, as the MRZ reader's).
fn grey(crop: &RgbImage) -> GrayImage {
    GrayImage::from_fn(crop.width(), crop.height(), |x, y| Luma([mrz_read::grey(crop.get_pixel(x, y))]))
}

/// The ink of a crop: the pixels on the minority side of Otsu's threshold (dark characters on
/// a light plate, or light ones on a dark plate), as coordinates relative to the crop's centre.
fn ink(grey: &GrayImage) -> Vec<(f32, f32)> {
    // Threshold and which side is ink are taken from the middle of the crop, where the
    // characters are (a dark holder or car body around a light plate must not set them).
    let (w, h) = (grey.width(), grey.height());
    let middle = image::imageops::crop_imm(grey, w / 5, h * 3 / 10, (w * 3 / 5).max(1), (h * 2 / 5).max(1)).to_image();
    let t = imageproc::contrast::otsu_level(&middle);
    let dark = middle.pixels().filter(|p| p[0] <= t).count();
    let dark_is_ink = 2 * dark <= middle.len();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    grey.enumerate_pixels()
        .filter(|(_, _, p)| (p[0] <= t) == dark_is_ink)
        .map(|(x, y, _)| (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy))
        .collect()
}

/// Histogram bins (degrees) of edge directions.
const BINS: usize = 180;

/// The direction of the edges, in degrees in [0, 180) (0: horizontal, 90: vertical), weighted by
/// their strength: a plate's top and bottom, the characters' tops, bases and horizontal strokes
/// run along the text; the characters' upright strokes and the plate's sides across it.
fn edge_directions(grey: &GrayImage) -> Vec<f32> {
    let (gx, gy) = (imageproc::gradients::horizontal_sobel(grey), imageproc::gradients::vertical_sobel(grey));
    let mut hist = vec![0.0f32; BINS];
    let (w, h) = grey.dimensions();
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let (dx, dy) = (f32::from(gx.get_pixel(x, y)[0]), f32::from(gy.get_pixel(x, y)[0]));
            let m = (dx * dx + dy * dy).sqrt();
            if m < MIN_EDGE {
                continue;
            }
            // The edge runs across its gradient: along (-dy, dx).
            let deg = dx.atan2(-dy).to_degrees().rem_euclid(180.0);
            hist[(deg.round() as usize) % BINS] += m;
        }
    }
    hist
}

/// A Sobel magnitude below this is no edge (flat plate, noise).
const MIN_EDGE: f32 = 60.0;

/// The peak direction (degrees, smoothed over +-2 bins) within `around +- reach` degrees.
fn peak(hist: &[f32], around: i32, reach: i32) -> f32 {
    let at = |d: i32| hist[d.rem_euclid(BINS as i32) as usize];
    (around - reach..=around + reach)
        .map(|d| (d, (-2..=2).map(|k| at(d + k) * (3 - k.abs()) as f32).sum::<f32>()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(around as f32, |(d, _)| d as f32)
}

/// The text band's rows are grown by this (a margin like the detector's).
const BAND_MARGIN: f32 = 1.4;

/// The rows are measured over this share of the text's length around its middle (not the
/// country band or a flag at its end).
const BAND_LENGTH: f32 = 0.8;

/// A row of ink (share of the text's length) below this is a gap, above the other a solid line.
const ROW_EMPTY: f32 = 0.06;
const ROW_SOLID: f32 = 0.8;

/// The rows (across the text at `angle`, from the crop's centre) of the text band: from the
/// middle outwards while a row is neither empty nor solid.
fn text_band(ink: &[(f32, f32)], angle: f32, half_w: f32, half_h: f32) -> (f32, f32) {
    let (c, s) = (angle.cos(), angle.sin());
    let n = (2.0 * half_h).ceil() as usize + 1;
    let mut rows = vec![0u32; n];
    for &(x, y) in ink {
        let (a, k) = (x * c + y * s, y * c - x * s);
        let i = (k + half_h).round();
        if a.abs() <= BAND_LENGTH * half_w && (0.0..n as f32).contains(&i) {
            rows[i as usize] += 1;
        }
    }
    let text = |i: usize| {
        let share = rows[i] as f32 / (2.0 * BAND_LENGTH * half_w);
        (ROW_EMPTY..=ROW_SOLID).contains(&share)
    };
    let mid = n / 2;
    // The middle row may fall in a gap between characters' parts: start at the nearest text row.
    let Some(start) = (0..n / 4).flat_map(|d| [mid - d, mid + d]).find(|&i| i < n && text(i)) else {
        return (-half_h / 2.0, half_h / 2.0);
    };
    let (mut lo, mut hi) = (start, start);
    while lo > 0 && text(lo - 1) {
        lo -= 1;
    }
    while hi + 1 < n && text(hi + 1) {
        hi += 1;
    }
    (lo as f32 - half_h, hi as f32 + 1.0 - half_h)
}

/// A plate seen from the side is narrower in the photo than it is: its text is read at no less
/// than this width over height (a plate's row of 6-8 characters).
pub const MIN_ASPECT: f32 = 3.5;

/// The width over height at which the text of a rectified box `b` is read: its own along the
/// text over its height across it, at least [`MIN_ASPECT`].
pub fn aspect(b: &TextBox) -> f32 {
    let [tl, tr, _, bl] = b.corners;
    let along = len(sub(tr, tl));
    let d = Point { x: (tr.x - tl.x) / along.max(1e-3), y: (tr.y - tl.y) / along.max(1e-3) };
    let across = sub(bl, tl);
    // The height measured across the text, not along the slanted side.
    let h = (across.y * d.x - across.x * d.y).abs().max(1.0);
    (along / h).max(MIN_ASPECT)
}

/// The parallelogram that follows the text of line box `b`, when it differs from `b` by a
/// visible angle or lean; `None` when `b` already fits its text.
pub fn rectified(img: &RgbImage, b: &TextBox) -> Option<TextBox> {
    let [tl, tr, _, bl] = b.corners;
    let (u, v) = (sub(tr, tl), sub(bl, tl));
    let (w, h) = (len(u), len(v));
    if w < 4.0 || h < 4.0 {
        return None;
    }
    let centre = Point { x: tl.x + (u.x + v.x) / 2.0, y: tl.y + (u.y + v.y) / 2.0 };
    let (gu, gv) =
        (Point { x: u.x * GROW_ALONG, y: u.y * GROW_ALONG }, Point { x: v.x * GROW_ACROSS, y: v.y * GROW_ACROSS });
    let origin = Point { x: centre.x - (gu.x + gv.x) / 2.0, y: centre.y - (gu.y + gv.y) / 2.0 };
    let grown = TextBox {
        corners: [
            origin,
            Point { x: origin.x + gu.x, y: origin.y + gu.y },
            Point { x: origin.x + gu.x + gv.x, y: origin.y + gu.y + gv.y },
            Point { x: origin.x + gv.x, y: origin.y + gv.y },
        ],
        score: b.score,
    };
    // Sampled at SAMPLE_HEIGHT across, the same scale along (the box is a rectangle).
    let scale = SAMPLE_HEIGHT as f32 / (h * GROW_ACROSS);
    let out_w = ((w * GROW_ALONG * scale).round() as u32).clamp(8, MAX_SAMPLE_WIDTH);
    // Sampled at the photo's own resolution (up to a limit) and filtered down: point samples
    // of a large box alias its edges into steps.
    let native = (h * GROW_ACROSS).clamp(SAMPLE_HEIGHT as f32, (4 * SAMPLE_HEIGHT) as f32) / SAMPLE_HEIGHT as f32;
    let crop = crop_quad(img, &grown, (out_w as f32 * native) as u32, (SAMPLE_HEIGHT as f32 * native) as u32);
    let crop = image::imageops::resize(&crop, out_w, SAMPLE_HEIGHT, image::imageops::FilterType::Triangle);
    let grey = grey(&crop);
    let ink = ink(&grey);
    if ink.is_empty() {
        return None;
    }
    let half_w = w * scale / 2.0;
    let edges = edge_directions(&grey);
    let angle = peak(&edges, 0, MAX_ANGLE).to_radians();
    // The strokes' direction against the text's normal (90 degrees past the text's angle).
    let upright = peak(&edges, 90 + angle.to_degrees().round() as i32, MAX_SHEAR);
    let lean = (angle.to_degrees() + 90.0 - upright).to_radians().tan();
    // The text's rows: those around the middle neither empty nor solid (a frame, the holder).
    let (top, bottom) = text_band(&ink, angle, half_w, crop.height() as f32 / 2.0);
    let text_h = ((bottom - top) * BAND_MARGIN).clamp(0.4 * h * scale, h * scale);
    let middle = (top + bottom) / 2.0;
    tracing::debug!(angle = angle.to_degrees(), lean, top, bottom, text_h, "rectify");
    if angle.to_degrees().abs() < MIN_ANGLE && lean.atan().to_degrees().abs() < MIN_SHEAR {
        return None;
    }
    let frame = Frame { origin, u: gu, v: gv, width: crop.width() as f32, height: crop.height() as f32 };
    let (c, s) = (angle.cos(), angle.sin());
    let (mx, my) = (crop.width() as f32 / 2.0, crop.height() as f32 / 2.0);
    // Along the text d = (c, s); across it the strokes' direction n + lean d, n = (-s, c).
    let (dx, dy) = (c, s);
    let (sx, sy) = (-s + lean * c, c + lean * s);
    // The band's middle, across the text from the crop's centre.
    let (mx, my) = (mx - s * middle, my + c * middle);
    let at = |a: f32, k: f32| frame.to_photo(mx + a * dx + k * sx, my + a * dy + k * sy);
    let k = text_h / 2.0;
    Some(TextBox { corners: [at(-half_w, -k), at(half_w, -k), at(half_w, k), at(-half_w, k)], score: b.score })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// Dark bars (strokes) inside a frame on a light plate, drawn running at `angle` and leaning by `lean`.
    fn plate(angle: f32, lean: f32) -> RgbImage {
        let (c, s) = (angle.cos(), angle.sin());
        RgbImage::from_fn(400, 240, |x, y| {
            let (px, py) = (x as f32 - 200.0, y as f32 - 120.0);
            let (a, n) = (px * c + py * s, py * c - px * s);
            let along = a - n * lean;
            let stroke = n.abs() < 20.0 && along.abs() < 120.0 && along.rem_euclid(24.0) < 8.0;
            // The plate's top and bottom edges.
            let frame = (27.0..31.0).contains(&n.abs()) && along.abs() < 140.0;
            if stroke || frame {
                Rgb([20, 20, 20])
            } else {
                Rgb([235, 235, 235])
            }
        })
    }

    fn upright(a: Point, b: Point) -> f32 {
        (b.y - a.y).atan2(b.x - a.x).to_degrees()
    }

    #[test]
    fn a_box_that_fits_its_text_stays_as_it_is() {
        let img = plate(0.0, 0.0);
        let b = super::super::candidates::rect_box(&crate::vision::geometry::Rect {
            x: 70.0,
            y: 94.0,
            width: 260.0,
            height: 52.0,
        });
        assert!(rectified(&img, &b).is_none());
    }

    #[test]
    fn text_at_an_angle_and_leaning_inside_its_box_is_followed() {
        let img = plate(10f32.to_radians(), 0.3);
        // The axis-aligned box around it, as the detector gives a sheared plate.
        let b = super::super::candidates::rect_box(&crate::vision::geometry::Rect {
            x: 70.0,
            y: 70.0,
            width: 260.0,
            height: 100.0,
        });
        let r = rectified(&img, &b).expect("rectified");
        let [tl, tr, _, bl] = r.corners;
        assert!((upright(tl, tr) - 10.0).abs() <= 1.5, "angle {}", upright(tl, tr));
        // The left side leans like the strokes: tan(lean) = 0.3 against the text's normal.
        let side = upright(tl, bl) - 90.0 - 10.0;
        assert!((side + 0.3f32.atan().to_degrees()).abs() <= 3.0, "lean {side}");
    }
}

//! DB (differentiable binarisation) post-processing of a text-detection probability map:
//! binarise, find the outer contours, fit minimum-area rotated rectangles, score them on the
//! map, and grow them by the "unclip" distance (area x ratio / perimeter).

use image::{GrayImage, Luma};
use imageproc::{contours::BorderType, geometry::min_area_rect, point::Point as IPoint};

use super::geometry::Point;

/// A text region: corners clockwise from top-left, in map pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBox {
    pub corners: [Point; 4],
    pub score: f32,
}

impl TextBox {
    pub fn width(&self) -> f32 {
        dist(self.corners[0], self.corners[1]).max(dist(self.corners[3], self.corners[2]))
    }

    pub fn height(&self) -> f32 {
        dist(self.corners[0], self.corners[3]).max(dist(self.corners[1], self.corners[2]))
    }

    pub fn scaled(&self, sx: f32, sy: f32) -> TextBox {
        TextBox { corners: self.corners.map(|p| Point { x: p.x * sx, y: p.y * sy }), score: self.score }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DbParams {
    /// Probability above which a pixel is text.
    pub thresh: f32,
    /// Mean probability inside a box below which it is dropped.
    pub box_thresh: f32,
    pub unclip_ratio: f32,
    pub max_candidates: usize,
}

fn dist(a: Point, b: Point) -> f32 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

/// Orders four corners as top-left, top-right, bottom-right, bottom-left (PaddleOCR's rule:
/// the two leftmost, upper one first; the two rightmost, upper one first).
fn order(mut pts: [Point; 4]) -> [Point; 4] {
    pts.sort_by(|a, b| a.x.total_cmp(&b.x));
    let (l0, l1) = if pts[0].y <= pts[1].y { (pts[0], pts[1]) } else { (pts[1], pts[0]) };
    let (r0, r1) = if pts[2].y <= pts[3].y { (pts[2], pts[3]) } else { (pts[3], pts[2]) };
    [l0, r0, r1, l1]
}

/// Mean of `prob` over the pixels inside the rotated rectangle `c`.
fn box_score(prob: &[f32], w: usize, h: usize, c: &[Point; 4]) -> f32 {
    let (x0, x1) = (c.iter().map(|p| p.x).fold(f32::MAX, f32::min), c.iter().map(|p| p.x).fold(f32::MIN, f32::max));
    let (y0, y1) = (c.iter().map(|p| p.y).fold(f32::MAX, f32::min), c.iter().map(|p| p.y).fold(f32::MIN, f32::max));
    let (xa, xb) = ((x0.floor().max(0.0)) as usize, (x1.ceil() as usize).min(w.saturating_sub(1)));
    let (ya, yb) = ((y0.floor().max(0.0)) as usize, (y1.ceil() as usize).min(h.saturating_sub(1)));
    // The corners come rounded to whole pixels, so the sides are not quite perpendicular: the
    // coordinates along them are solved for (d = a u + b v), not projected (a long thin
    // slanted line's rounded box would otherwise keep only its ends, and score as faint).
    let (u, v) = (Point { x: c[1].x - c[0].x, y: c[1].y - c[0].y }, Point { x: c[3].x - c[0].x, y: c[3].y - c[0].y });
    let det = u.x * v.y - u.y * v.x;
    if det.abs() < 1e-6 {
        return 0.0;
    }
    let (mut sum, mut n) = (0.0f32, 0usize);
    for y in ya..=yb {
        for x in xa..=xb {
            let (dx, dy) = (x as f32 - c[0].x, y as f32 - c[0].y);
            let (a, b) = ((dx * v.y - dy * v.x) / det, (u.x * dy - u.y * dx) / det);
            if (-0.01..=1.01).contains(&a) && (-0.01..=1.01).contains(&b) {
                sum += prob[y * w + x];
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        sum / n as f32
    }
}

/// Grows a rectangle by `ratio` x area / perimeter on every side.
fn unclip(c: [Point; 4], ratio: f32) -> [Point; 4] {
    let (w, h) = (dist(c[0], c[1]), dist(c[0], c[3]));
    let d = w * h * ratio / (2.0 * (w + h)).max(1e-6);
    let u = Point { x: (c[1].x - c[0].x) / w.max(1e-6), y: (c[1].y - c[0].y) / w.max(1e-6) };
    let v = Point { x: (c[3].x - c[0].x) / h.max(1e-6), y: (c[3].y - c[0].y) / h.max(1e-6) };
    let centre = Point { x: (c[0].x + c[2].x) / 2.0, y: (c[0].y + c[2].y) / 2.0 };
    let (hw, hh) = (w / 2.0 + d, h / 2.0 + d);
    let at = |su: f32, sv: f32| Point {
        x: centre.x + su * hw * u.x + sv * hh * v.x,
        y: centre.y + su * hw * u.y + sv * hh * v.y,
    };
    [at(-1.0, -1.0), at(1.0, -1.0), at(1.0, 1.0), at(-1.0, 1.0)]
}

/// Text boxes in the `w` x `h` probability map, best score first is not implied (map order).
pub fn boxes(prob: &[f32], w: usize, h: usize, p: DbParams) -> Vec<TextBox> {
    let mask = GrayImage::from_fn(w as u32, h as u32, |x, y| {
        Luma([if prob[y as usize * w + x as usize] > p.thresh { 255 } else { 0 }])
    });
    let contours = imageproc::contours::find_contours::<i32>(&mask);
    let mut out = Vec::new();
    for contour in contours.iter().filter(|c| c.border_type == BorderType::Outer).take(p.max_candidates) {
        if contour.points.len() < 4 {
            continue;
        }
        let pts: Vec<IPoint<i32>> = contour.points.clone();
        let rect = min_area_rect(&pts).map(|q| Point { x: q.x as f32, y: q.y as f32 });
        let rect = order(rect);
        let short = dist(rect[0], rect[1]).min(dist(rect[0], rect[3]));
        if short < 2.0 {
            continue;
        }
        let score = box_score(prob, w, h, &rect);
        if score < p.box_thresh {
            continue;
        }
        let grown = order(unclip(rect, p.unclip_ratio));
        if dist(grown[0], grown[1]).min(dist(grown[0], grown[3])) < 4.0 {
            continue;
        }
        let clamp = |q: Point| Point { x: q.x.clamp(0.0, w as f32), y: q.y.clamp(0.0, h as f32) };
        out.push(TextBox { corners: grown.map(clamp), score });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bright_bar_becomes_one_grown_box() {
        let (w, h) = (100, 40);
        let mut prob = vec![0.0f32; w * h];
        for y in 15..25 {
            for x in 10..90 {
                prob[y * w + x] = 0.9;
            }
        }
        let found =
            boxes(&prob, w, h, DbParams { thresh: 0.3, box_thresh: 0.5, unclip_ratio: 1.5, max_candidates: 100 });
        assert_eq!(found.len(), 1);
        let b = &found[0];
        assert!(b.score > 0.85, "{b:?}");
        assert!(b.width() > 80.0 && b.height() > 10.0 && b.height() < 30.0, "{b:?}");
        assert!(b.corners[0].x < b.corners[1].x && b.corners[0].y < b.corners[3].y, "clockwise from top-left");
    }

    #[test]
    fn a_long_thin_slanted_line_scores_as_bright_as_it_is() {
        // A 500 x 6 line at about 2 degrees (an MRZ line of a photographed page): its box's
        // corners are whole pixels, its sides not quite perpendicular.
        let (w, h) = (560, 60);
        let mut prob = vec![0.0f32; w * h];
        for x in 20..520 {
            let y0 = 20 + (x - 20) * 18 / 500;
            for y in y0..y0 + 6 {
                prob[y * w + x] = 0.95;
            }
        }
        let found =
            boxes(&prob, w, h, DbParams { thresh: 0.2, box_thresh: 0.4, unclip_ratio: 1.4, max_candidates: 10 });
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].score > 0.8, "{:?}", found[0]);
    }

    #[test]
    fn faint_regions_are_dropped() {
        let (w, h) = (50, 20);
        let mut prob = vec![0.0f32; w * h];
        for y in 5..15 {
            for x in 5..45 {
                prob[y * w + x] = 0.35;
            }
        }
        let p = DbParams { thresh: 0.3, box_thresh: 0.6, unclip_ratio: 1.5, max_candidates: 100 };
        assert!(boxes(&prob, w, h, p).is_empty());
    }
}

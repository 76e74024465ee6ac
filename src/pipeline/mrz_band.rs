//! The MRZ band among a page's text boxes, before any recognition: the two or three long boxes
//! of nearly equal length, parallel and stacked a line apart (a zone's lines are all 30, 36 or
//! 44 characters of one fixed-pitch font). Reading only those first is what lets a document
//! read decide from its MRZ without recognising the rest of the page.

use crate::vision::{db::TextBox, geometry::Point};

/// A box at least this many times as long as high may be an MRZ line (30 to 44 OCR-B
/// characters, each about two thirds of the line's height wide, in the detector's padded box;
/// the dev set's MRZ lines measured 12.7-35.6 where the detector kept a line in one box).
pub const MIN_ASPECT: f32 = 12.0;
/// Lines of one zone differ in length by at most this share.
const SAME_LENGTH: f32 = 0.12;
/// Neighbouring lines of one zone are at most this many line heights apart (centre to centre).
const MAX_GAP: f32 = 3.5;
/// Lines of one zone are parallel within this angle (radians, about 4 degrees).
const MAX_ANGLE: f32 = 0.07;

/// The boxes shaped like MRZ lines: `(band, other)`, `band` the best zone-like group of two or
/// three (empty when there is none), `other` the remaining long boxes.
pub fn split(boxes: &[TextBox]) -> (Vec<TextBox>, Vec<TextBox>) {
    let long: Vec<&TextBox> = boxes.iter().filter(|b| b.width() >= MIN_ASPECT * b.height().max(1.0)).collect();
    let mut best: Vec<usize> = Vec::new();
    let mut best_score = 0.0f32;
    for (i, a) in long.iter().enumerate() {
        let group: Vec<usize> = (0..long.len()).filter(|&j| j == i || same_zone(a, long[j])).collect();
        if !(2..=3).contains(&group.len()) {
            continue;
        }
        let score =
            group.iter().map(|&j| long[j].width() / long[j].height().max(1.0)).sum::<f32>() / group.len() as f32;
        if score > best_score {
            (best, best_score) = (group, score);
        }
    }
    let band = best.iter().map(|&j| long[j].clone()).collect();
    let other = (0..long.len()).filter(|j| !best.contains(j)).map(|j| long[j].clone()).collect();
    (band, other)
}

fn centre(b: &TextBox) -> Point {
    let xs = b.corners.iter().map(|p| p.x).sum::<f32>() / 4.0;
    let ys = b.corners.iter().map(|p| p.y).sum::<f32>() / 4.0;
    Point { x: xs, y: ys }
}

fn angle(b: &TextBox) -> f32 {
    let [tl, tr, ..] = b.corners;
    (tr.y - tl.y).atan2(tr.x - tl.x)
}

/// `b` is another line of the zone `a` is a line of: nearly as long, parallel, a few line
/// heights away across the lines and overlapping along them.
fn same_zone(a: &TextBox, b: &TextBox) -> bool {
    let (wa, wb, h) = (a.width(), b.width(), a.height().max(b.height()).max(1.0));
    if (wa - wb).abs() > SAME_LENGTH * wa.max(wb) {
        return false;
    }
    let d = angle(a) - angle(b);
    if d.sin().abs() > MAX_ANGLE.sin() || d.cos() < 0.0 {
        return false;
    }
    let (ca, cb) = (centre(a), centre(b));
    let (ux, uy) = (angle(a).cos(), angle(a).sin());
    let (dx, dy) = (cb.x - ca.x, cb.y - ca.y);
    let along = (dx * ux + dy * uy).abs();
    let across = (dx * -uy + dy * ux).abs();
    across > 0.5 * h && across <= MAX_GAP * h && along <= 0.25 * wa.max(wb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(x: f32, y: f32, w: f32, h: f32) -> TextBox {
        TextBox {
            corners: [Point { x, y }, Point { x: x + w, y }, Point { x: x + w, y: y + h }, Point { x, y: y + h }],
            score: 0.9,
        }
    }

    #[test]
    fn the_two_stacked_lines_of_equal_length_are_the_band() {
        // A TD3 page: two 552-px MRZ lines, a long caption of another length, short words.
        let boxes = [line(40.0, 20.0, 312.0, 18.0), line(20.0, 400.0, 552.0, 16.0), line(21.0, 424.0, 551.0, 16.0)];
        let (band, other) = split(&[boxes.to_vec(), vec![line(50.0, 100.0, 150.0, 14.0)]].concat());
        assert_eq!(band.len(), 2);
        assert!(band.iter().all(|b| b.width() > 550.0));
        assert_eq!(other.len(), 1, "the caption is long but no zone line");
    }

    #[test]
    fn three_lines_of_a_card_and_none_on_a_page_without_a_zone() {
        let td1 = [line(10.0, 300.0, 400.0, 20.0), line(11.0, 330.0, 398.0, 20.0), line(10.0, 360.0, 401.0, 20.0)];
        assert_eq!(split(&td1).0.len(), 3);
        let (band, other) = split(&[line(10.0, 10.0, 400.0, 20.0), line(10.0, 300.0, 260.0, 20.0)]);
        assert!(band.is_empty() && other.len() == 2, "lines of different length far apart are no zone");
    }
}

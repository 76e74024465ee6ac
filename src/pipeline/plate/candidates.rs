//! Where a plate may be, from the text detector's lines: each line whose shape can be a
//! plate's, neighbouring lines of one row joined (a plate split at its spaces), and two stacked
//! lines joined as one two-row plate. Lines of a page of text (a document) are no candidates.

use crate::vision::{db::TextBox, geometry::Point, geometry::Rect};

use crate::pipeline::ocr::TextLine;

/// Where to read: one row, or two stacked rows read apart and joined top first.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub rows: Vec<TextBox>,
    pub bbox: Rect,
    /// The character height (of the taller row).
    pub height: f32,
}

/// A photo with this many text lines or more is a page of text: its lines are candidates only
/// when no line of similar height is near them (a document's fields are in a grid of them).
pub const PAGE_LINES: usize = 20;

/// At most this many candidates are read (largest characters first).
pub const MAX_CANDIDATES: usize = 16;

fn union(a: &Rect, b: &Rect) -> Rect {
    let (x0, y0) = (a.x.min(b.x), a.y.min(b.y));
    let (x1, y1) = ((a.x + a.width).max(b.x + b.width), (a.y + a.height).max(b.y + b.height));
    Rect { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
}

pub(super) fn rect_box(r: &Rect) -> TextBox {
    let (x1, y1) = (r.x + r.width, r.y + r.height);
    TextBox {
        corners: [Point { x: r.x, y: r.y }, Point { x: x1, y: r.y }, Point { x: x1, y: y1 }, Point { x: r.x, y: y1 }],
        score: 1.0,
    }
}

/// A line's box of its own orientation (not the axis-aligned one), grown around its centre.
fn grown(b: &TextBox, sx: f32, sy: f32) -> TextBox {
    let c = b.corners;
    let m = Point { x: (c[0].x + c[2].x) / 2.0, y: (c[0].y + c[2].y) / 2.0 };
    TextBox { corners: c.map(|p| Point { x: m.x + (p.x - m.x) * sx, y: m.y + (p.y - m.y) * sy }), score: b.score }
}

fn as_box(l: &TextLine) -> TextBox {
    TextBox { corners: l.polygon, score: l.confidence }
}

fn alnum(l: &TextLine) -> usize {
    l.text.chars().filter(|c| c.is_alphanumeric()).count()
}

/// The shape of a one-row plate: wider than high along its own orientation.
fn plate_shaped(b: &TextBox) -> bool {
    let aspect = b.width() / b.height().max(1.0);
    (1.1..=12.0).contains(&aspect)
}

fn similar(h1: f32, h2: f32, ratio: f32) -> bool {
    h1.max(h2) <= h2.min(h1) * ratio
}

/// Two lines of one row with a gap of at most about one character between them.
fn same_row(a: &TextLine, b: &TextLine) -> bool {
    let h = a.bbox.height.max(b.bbox.height);
    let (ca, cb) = (a.bbox.centre(), b.bbox.centre());
    let gap = b.bbox.x - (a.bbox.x + a.bbox.width);
    similar(a.bbox.height, b.bbox.height, 1.5) && (ca.y - cb.y).abs() < 0.35 * h && (-0.2 * h..=1.2 * h).contains(&gap)
}

/// `b` right under `a`, overlapping it horizontally: the rows of a two-row (or three-row) plate.
/// The detector's boxes are grown around their text, so the boxes of rows set close together
/// overlap by up to about half a row; their centres are what must be a row apart.
fn stacked(a: &TextLine, b: &TextLine) -> bool {
    let h = a.bbox.height.max(b.bbox.height);
    let gap = b.bbox.y - (a.bbox.y + a.bbox.height);
    let rise = b.bbox.centre().y - a.bbox.centre().y;
    let overlap = (a.bbox.x + a.bbox.width).min(b.bbox.x + b.bbox.width) - a.bbox.x.max(b.bbox.x);
    similar(a.bbox.height, b.bbox.height, 2.2)
        && (-0.5 * h..=0.6 * h).contains(&gap)
        && rise >= 0.5 * a.bbox.height.min(b.bbox.height)
        && overlap >= 0.5 * a.bbox.width.min(b.bbox.width)
}

/// The candidate of stacked `rows`, top first, each read apart.
fn rows_candidate(rows: &[&TextLine]) -> Candidate {
    Candidate {
        rows: rows.iter().map(|r| grown(&as_box(r), 1.08, 1.2)).collect(),
        bbox: rows.iter().skip(1).fold(rows[0].bbox, |u, r| union(&u, &r.bbox)),
        height: rows.iter().map(|r| r.bbox.height).fold(0.0, f32::max),
    }
}

/// Whether `lines` (all the text lines of a photo) are a page of text.
pub fn is_page(lines: &[TextLine]) -> bool {
    lines.len() >= PAGE_LINES
}

/// A line of a page of text: another line of similar height within two of its heights.
fn in_a_page(l: &TextLine, lines: &[TextLine]) -> bool {
    let h = l.bbox.height;
    let near = |o: &TextLine| {
        let (a, b) = (l.bbox.centre(), o.bbox.centre());
        let dx = (a.x - b.x).abs() - (l.bbox.width + o.bbox.width) / 2.0;
        let dy = (a.y - b.y).abs() - (l.bbox.height + o.bbox.height) / 2.0;
        similar(h, o.bbox.height, 1.4) && dx < 2.0 * h && dy < 2.0 * h
    };
    lines.iter().filter(|o| !std::ptr::eq(*o, l)).any(near)
}

/// The candidate's outline: its row's own corners, or the box around two rows.
pub fn polygon(c: &Candidate) -> [Point; 4] {
    match c.rows.as_slice() {
        [one] => one.corners,
        _ => rect_box(&c.bbox).corners,
    }
}

/// The candidates among `lines` (the text detector's lines, read by the page recogniser).
pub fn find(lines: &[TextLine]) -> Vec<Candidate> {
    let page = is_page(lines);
    let usable: Vec<&TextLine> =
        lines.iter().filter(|l| (1..=12).contains(&alnum(l)) && !(page && in_a_page(l, lines))).collect();
    let mut out: Vec<Candidate> = Vec::new();
    for (i, a) in usable.iter().enumerate() {
        let b = as_box(a);
        if plate_shaped(&b) && alnum(a) >= 2 {
            out.push(Candidate { rows: vec![grown(&b, 1.08, 1.3)], bbox: a.bbox, height: b.height() });
        }
        // A row split at its spaces: join up to three lines, left to right.
        let mut row = a.bbox;
        let mut last = *a;
        for _ in 0..2 {
            let Some(next) = usable.iter().find(|n| !std::ptr::eq(**n, last) && same_row(last, n)) else { break };
            row = union(&row, &next.bbox);
            last = next;
            let joined = rect_box(&row);
            out.push(Candidate {
                rows: vec![grown(&joined, 1.04, 1.25)],
                bbox: row,
                height: a.bbox.height.max(next.bbox.height),
            });
        }
        // Two rows: `a` on top of another line; three: and a third under that one (the small
        // square plates of motorcycles and of some European cars).
        for (j, b2) in usable.iter().enumerate() {
            if i == j || !stacked(a, b2) {
                continue;
            }
            if alnum(a) + alnum(b2) >= 4 {
                out.push(rows_candidate(&[*a, *b2]));
            }
            for (k, c2) in usable.iter().enumerate() {
                if k != i && k != j && stacked(b2, c2) && alnum(a) + alnum(b2) + alnum(c2) >= 5 {
                    out.push(rows_candidate(&[*a, *b2, *c2]));
                }
            }
        }
    }
    out.sort_by(|a, b| b.height.total_cmp(&a.height));
    out.truncate(MAX_CANDIDATES);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, x: f32, y: f32, w: f32, h: f32) -> TextLine {
        let r = Rect { x, y, width: w, height: h };
        TextLine { text: text.into(), confidence: 0.9, polygon: rect_box(&r).corners, bbox: r, glyphs: Vec::new() }
    }

    #[test]
    fn a_plate_split_at_its_spaces_and_a_two_row_plate_are_candidates() {
        let split = [line("AT", 100.0, 100.0, 40.0, 30.0), line("6883", 150.0, 100.0, 80.0, 30.0)];
        let c = find(&split);
        assert!(c.iter().any(|c| c.rows.len() == 1 && c.bbox.width == 130.0), "{c:?}");
        let two = [line("10922", 100.0, 100.0, 120.0, 40.0), line("BX", 130.0, 145.0, 60.0, 40.0)];
        assert!(find(&two).iter().any(|c| c.rows.len() == 2), "two rows");
        // Rows set close together: the detector's grown boxes overlap by almost half a row.
        let close = [line("MDA", 494.0, 520.0, 104.0, 52.0), line("934", 491.0, 544.0, 108.0, 63.0)];
        assert!(find(&close).iter().any(|c| c.rows.len() == 2), "overlapping rows");
        let three = [
            line("BE", 344.0, 870.0, 79.0, 54.0),
            line("0886", 321.0, 905.0, 115.0, 63.0),
            line("AA", 329.0, 948.0, 73.0, 55.0),
        ];
        assert!(find(&three).iter().any(|c| c.rows.len() == 3), "three rows");
        // One row is not two: a line beside another of the same row is never stacked on it.
        let row = [line("AB12", 100.0, 100.0, 80.0, 40.0), line("CD34", 120.0, 110.0, 80.0, 40.0)];
        assert!(!find(&row).iter().any(|c| c.rows.len() > 1), "a shifted duplicate box");
    }

    #[test]
    fn the_lines_of_a_page_of_text_are_no_candidates() {
        let page: Vec<TextLine> =
            (0..PAGE_LINES).map(|i| line("L898902C3", 50.0, 30.0 * i as f32, 200.0, 20.0)).collect();
        assert!(find(&page).is_empty());
        let few = &page[..3];
        assert!(!find(few).is_empty(), "three lines are no page");
    }

    #[test]
    fn shapes_that_cannot_be_a_plate_are_no_candidates() {
        assert!(find(&[line("8", 0.0, 0.0, 30.0, 30.0)]).is_empty(), "one character");
        assert!(find(&[line("AB12", 0.0, 0.0, 20.0, 60.0)]).is_empty(), "tall");
    }
}

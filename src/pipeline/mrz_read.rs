//! Finding the MRZ wherever it is on the image and reading it as an MRZ: the page's OCR lines
//! that look like MRZ text are merged into rows, two or three parallel rows form a zone, each
//! row is cropped along its own angle (deskew), contrast-stretched and re-read with the
//! recogniser constrained to `A-Z 0-9 <`, and the known line lengths resolve dropped or doubled
//! fillers. When the page gives no valid zone, the page is read again larger (small MRZs), a
//! small document's region is cropped and read larger, and the page is straightened and
//! turned by 90, 270 and 180 degrees, until one does.

use std::sync::Arc;

use image::{imageops, RgbImage};

use super::{
    mrz::{self, Mrz},
    mrz_pitch,
    ocr::{Ocr, TextLine, DET_MAX_SIDE, REC_HEIGHT},
};
use crate::{
    error::ApiError,
    vision::{
        align::{bilinear, Border},
        geometry::Point,
        pool,
    },
};

/// The MRZ alphabet, as a recogniser class filter.
pub fn mrz_alphabet(c: &str) -> bool {
    matches!(c.as_bytes(), [b'A'..=b'Z' | b'0'..=b'9' | b'<'])
}

/// A detected line at least this many times as long as it is thick may be an MRZ line
/// whatever the page's OCR read in it (MRZ lines are 30-44 characters of one height).
const LONG_LINE: f32 = 12.0;

/// The detector's longer side for the second look at a large image (small MRZs).
const LARGE_SIDE: u32 = 1920;

/// One text row on the page: merged segments along one direction.
#[derive(Debug, Clone)]
struct Row {
    /// Unit vector along the text, and the normal pointing down the page.
    dir: Point,
    normal: Point,
    /// Extent along `dir` and the row's centre line along `normal`, in image pixels.
    s0: f32,
    s1: f32,
    t: f32,
    thick: f32,
    text: String,
}

fn dot(a: Point, b: Point) -> f32 {
    a.x * b.x + a.y * b.y
}

/// The direction, length and thickness of a detected line (its polygon's long side).
fn geometry(l: &TextLine) -> (Point, f32, f32) {
    let [a, b, _, d] = l.polygon;
    let (u, v) = (Point { x: b.x - a.x, y: b.y - a.y }, Point { x: d.x - a.x, y: d.y - a.y });
    let (lu, lv) = (dot(u, u).sqrt(), dot(v, v).sqrt());
    let (mut dir, len, thick) = if lu >= lv { (u, lu, lv) } else { (v, lv, lu) };
    let n = len.max(1e-3);
    dir = Point { x: dir.x / n, y: dir.y / n };
    if dir.x < 0.0 {
        dir = Point { x: -dir.x, y: -dir.y };
    }
    (dir, len, thick)
}

/// Text that could be part of an MRZ line: MRZ characters (after the usual filler
/// renderings are mapped), lower case aside.
fn mrz_chars(text: &str) -> bool {
    let t = mrz::normalise(text);
    let n = t.chars().count();
    let ok = t.chars().filter(|&c| mrz_alphabet(c.encode_utf8(&mut [0; 4]))).count();
    n >= 1 && ok * 100 >= n * 85 && text.chars().filter(char::is_ascii_lowercase).count() * 5 <= n
}

/// A whole row that could be an MRZ line: MRZ characters, with fillers or many digits.
fn mrz_like(text: &str) -> bool {
    let t = mrz::normalise(text);
    mrz_chars(text)
        && t.chars().count() >= 5
        && (t.contains('<') || t.chars().filter(char::is_ascii_digit).count() >= 6)
}

/// MRZ-like lines merged into rows: segments on one straight line (same angle, centres on the
/// same line within half a thickness) become one row.
fn rows(lines: &[TextLine]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for l in lines {
        let (dir, len, thick) = geometry(l);
        // MRZ text, or a line long enough to be one whatever it was read as (a line read
        // upside down, or as garbage, by the page's OCR).
        if !mrz_chars(&l.text) && len < LONG_LINE * thick {
            continue;
        }
        if thick < 4.0 || len < 2.0 * thick {
            continue;
        }
        let c =
            l.polygon.iter().fold(Point { x: 0.0, y: 0.0 }, |a, p| Point { x: a.x + p.x / 4.0, y: a.y + p.y / 4.0 });
        let normal = Point { x: -dir.y, y: dir.x };
        let joined = rows.iter_mut().find(|r| {
            dot(r.dir, dir) > 0.985 && (dot(c, r.normal) - r.t).abs() < 0.5 * r.thick.min(thick) && {
                let s = dot(c, r.dir);
                s - len / 2.0 < r.s1 + 3.0 * thick && s + len / 2.0 > r.s0 - 3.0 * thick
            }
        });
        let s = dot(c, dir);
        match joined {
            Some(r) => {
                let before = s < (r.s0 + r.s1) / 2.0;
                r.s0 = r.s0.min(s - len / 2.0);
                r.s1 = r.s1.max(s + len / 2.0);
                r.thick = r.thick.max(thick);
                r.text = if before { format!("{}{}", l.text, r.text) } else { format!("{}{}", r.text, l.text) };
            }
            None => rows.push(Row {
                dir,
                normal,
                s0: s - len / 2.0,
                s1: s + len / 2.0,
                t: dot(c, normal),
                thick,
                text: l.text.clone(),
            }),
        }
    }
    let mut rows = join_collinear(rows);
    rows.retain(|r| mrz_like(&r.text) || r.s1 - r.s0 >= LONG_LINE * r.thick);
    // Down the page in one frame (each row's own `t` is along its own normal).
    if let Some(n) = rows.iter().max_by(|a, b| (a.s1 - a.s0).total_cmp(&(b.s1 - b.s0))).map(|r| r.normal) {
        rows.sort_by(|a, b| dot(a.centre(), n).total_cmp(&dot(b.centre(), n)));
    }
    rows
}

impl Row {
    /// The middle of the row, in image pixels.
    fn centre(&self) -> Point {
        let (s, t) = ((self.s0 + self.s1) / 2.0, self.t);
        Point { x: self.dir.x * s + self.normal.x * t, y: self.dir.y * s + self.normal.y * t }
    }

    /// The same row expressed along `frame`'s direction and normal (rows of one zone are
    /// compared in one frame: a tilt of a fraction of a degree moves a row's own `t` by
    /// pixels far from the image origin).
    fn in_frame(&self, frame: &Row) -> Row {
        let c = self.centre();
        let (s, half) = (dot(c, frame.dir), (self.s1 - self.s0) / 2.0);
        Row {
            dir: frame.dir,
            normal: frame.normal,
            s0: s - half,
            s1: s + half,
            t: dot(c, frame.normal),
            ..self.clone()
        }
    }
}

/// Rows of MRZ characters on one straight line joined whatever the gap between them: the
/// detector may lose the middle of a line of fillers (`POGBRLEENKO<<<` ... `<<<<<<<<<`), and
/// its two ends must stay one row for the zone to be seen.
fn join_collinear(rows: Vec<Row>) -> Vec<Row> {
    let mut out: Vec<Row> = Vec::with_capacity(rows.len());
    for r in rows {
        let same_line = |o: &Row| {
            dot(o.dir, r.dir) > 0.985
                && (r.in_frame(o).t - o.t).abs() < 0.5 * o.thick.min(r.thick)
                && mrz_chars(&o.text)
                && mrz_chars(&r.text)
        };
        match out.iter_mut().find(|o| same_line(o)) {
            Some(o) => {
                let r = r.in_frame(o);
                o.text = if r.s0 < o.s0 { format!("{}{}", r.text, o.text) } else { format!("{}{}", o.text, r.text) };
                o.s0 = o.s0.min(r.s0);
                o.s1 = o.s1.max(r.s1);
                o.thick = o.thick.max(r.thick);
            }
            None => out.push(r),
        }
    }
    out
}

/// Groups of two or three consecutive parallel rows of similar length, close together: the
/// shapes an MRZ can have. Three-row groups first.
fn zones(rows: &[Row]) -> Vec<Vec<Row>> {
    let mut out: Vec<Vec<Row>> = Vec::new();
    for k in [3usize, 2] {
        for w in rows.windows(k) {
            let parallel = w.iter().all(|r| dot(r.dir, w[0].dir) > 0.99);
            let w: Vec<Row> = w.iter().map(|r| r.in_frame(&w[0])).collect();
            let len = |r: &Row| r.s1 - r.s0;
            let (lo, hi) = w.iter().map(len).fold((f32::MAX, f32::MIN), |(a, b), l| (a.min(l), b.max(l)));
            let close = w.windows(2).all(|p| p[1].t - p[0].t < 3.0 * p[0].thick.max(p[1].thick));
            let aligned = w.iter().all(|r| (r.s0 - w[0].s0).abs() < 0.15 * hi);
            // A row may be shorter than the others where the detector lost the end of its
            // fillers (the crops span the longest row).
            if parallel && close && aligned && lo > 0.35 * hi && w.iter().any(|r| r.text.contains('<')) {
                out.push(w);
            }
        }
    }
    // The most MRZ-like first: fillers and digits per row (a TD1 before its own two-row part).
    let weight = |z: &Vec<Row>| {
        let n: usize = z.iter().map(|r| r.text.chars().filter(|c| *c == '<' || c.is_ascii_digit()).count()).sum();
        n * 10 / z.len() + z.len()
    };
    out.sort_by_key(|z| std::cmp::Reverse(weight(z)));
    out
}

/// `w` x `h` samples of `img` from `origin` along `u` (per column) and `v` (per row).
fn sample(img: &RgbImage, origin: Point, u: Point, v: Point, w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (a, b) = (x as f32 + 0.5, y as f32 + 0.5);
        bilinear(img, origin.x + a * u.x + b * v.x - 0.5, origin.y + a * u.y + b * v.y - 0.5, Border::Clamp)
    })
}

/// Samples per line pitch in the rectified band where the lines are located.
const BAND_PITCH: f32 = 40.0;

/// Otsu's threshold of a grey histogram.
fn otsu(hist: &[usize; 256]) -> u8 {
    let total: usize = hist.iter().sum();
    let sum: f64 = hist.iter().enumerate().map(|(i, &h)| i as f64 * h as f64).sum();
    let (mut w0, mut sum0, mut best, mut t) = (0usize, 0.0f64, 0.0f64, 128u8);
    for (i, &h) in hist.iter().enumerate() {
        w0 += h;
        if w0 == 0 || w0 == total {
            continue;
        }
        sum0 += i as f64 * h as f64;
        let (m0, m1) = (sum0 / w0 as f64, (sum - sum0) / (total - w0) as f64);
        let between = w0 as f64 * (total - w0) as f64 * (m0 - m1).powi(2);
        if between > best {
            (best, t) = (between, i as u8);
        }
    }
    t
}

pub(crate) fn grey(p: &image::Rgb<u8>) -> u8 {
    ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000) as u8
}

/// The zone rectified: its rows share one direction and one extent (MRZ lines are equally
/// long and left-aligned); the band around them is sampled upright, its ink profile across
/// the lines is fitted with a comb of equally spaced lines (pitch and offset searched), and
/// each line is cropped at that pitch, one character of margin at each end, contrast
/// stretched. The detector's boxes only have to be roughly right.
fn zone_crops(img: &RgbImage, zone: &[Row], n: usize) -> Vec<RgbImage> {
    let rows = zone.len();
    let (u, v) = (zone[0].dir, zone[0].normal);
    let pitch = if rows > 1 { (zone[rows - 1].t - zone[0].t) / (rows - 1) as f32 } else { zone[0].thick }.max(4.0);
    let s0 = zone.iter().map(|r| r.s0).fold(f32::MAX, f32::min) - 0.8 * pitch;
    let s1 = zone.iter().map(|r| r.s1).fold(f32::MIN, f32::max) + 0.8 * pitch;
    // The band reaches a line beyond the rows found when more lines are sought (a TD1 line
    // the detector missed).
    let extra = 1.0 + (n - rows.min(n)) as f32;
    let t0 = zone[0].t - extra * pitch;
    let step = pitch / BAND_PITCH;
    let span = (rows as f32 - 1.0) + 2.0 * extra;
    let (bw, bh) = (((s1 - s0) / step).ceil().clamp(8.0, 4000.0) as u32, (BAND_PITCH * span) as u32);
    let origin = Point { x: u.x * s0 + v.x * t0, y: u.y * s0 + v.y * t0 };
    let band =
        sample(img, origin, Point { x: u.x * step, y: u.y * step }, Point { x: v.x * step, y: v.y * step }, bw, bh);
    let mut hist = [0usize; 256];
    band.pixels().for_each(|p| hist[grey(p) as usize] += 1);
    let t = otsu(&hist);
    let profile: Vec<f32> =
        (0..bh).map(|y| (0..bw).filter(|&x| grey(band.get_pixel(x, y)) <= t).count() as f32 / bw as f32).collect();
    // Comb fit: n lines, pitch within 15 % of the boxes' spacing, a line of the comb on each
    // row the detector found (the ink of a dark background beyond the document's edge does
    // not pull the comb off the zone).
    let found: Vec<f32> = zone.iter().map(|r| (r.t - t0) / step).collect();
    let (mut best, mut centres) = (f32::MIN, Vec::new());
    for q in (34..=46).map(|q| q as f32 * BAND_PITCH / 40.0) {
        let span = q * (n as f32 - 1.0);
        let mut o = 0.25 * BAND_PITCH;
        while o + span < bh as f32 - 0.25 * BAND_PITCH {
            // A comb off the rows loses to any comb on them (each line's ink is at most 1).
            let on_rows = found.iter().all(|&f| (0..n).any(|i| (o + i as f32 * q - f).abs() < 0.4 * q));
            let score: f32 = if on_rows { n as f32 } else { 0.0 }
                + (0..n)
                    .map(|i| {
                        let c = o + i as f32 * q;
                        let (a, b) = ((c - 0.18 * q).max(0.0) as usize, ((c + 0.18 * q) as usize).min(bh as usize - 1));
                        profile[a..=b].iter().sum::<f32>() / (b - a + 1) as f32
                    })
                    .sum::<f32>();
            if score > best {
                best = score;
                centres = (0..n).map(|i| o + i as f32 * q).collect();
            }
            o += 1.0;
        }
    }
    let line_pitch = if n > 1 { (centres[n - 1] - centres[0]) / (n - 1) as f32 * step } else { pitch };
    // The detector's thickness (text plus its margin) where the lines leave room for it,
    // within the band's line pitch and a quarter beyond (a little of a neighbour line does
    // less harm than a cut top).
    let mut db: Vec<f32> = zone.iter().map(|r| r.thick).collect();
    db.sort_by(f32::total_cmp);
    let thick = db[db.len() / 2].clamp(0.95 * line_pitch, 1.25 * line_pitch);
    let out_w = ((REC_HEIGHT as f32 * (s1 - s0) / thick).ceil() as u32).clamp(8, 2400);
    centres
        .iter()
        .map(|&c| {
            let tc = t0 + c * step - thick / 2.0;
            let o = Point { x: u.x * s0 + v.x * tc, y: u.y * s0 + v.y * tc };
            let (du, dv) = ((s1 - s0) / out_w as f32, thick / REC_HEIGHT as f32);
            let mut crop = sample(
                img,
                o,
                Point { x: u.x * du, y: u.y * du },
                Point { x: v.x * dv, y: v.y * dv },
                out_w,
                REC_HEIGHT,
            );
            stretch(&mut crop);
            crop
        })
        .collect()
}

/// Contrast normalisation of a faint crop: the 2nd..98th percentile of luminance onto 0..255
/// when they span less than 100 grey levels (a crop with contrast enough is left as it is:
/// stretching it makes fillers bolder, and the recogniser reads them as letters).
fn stretch(img: &mut RgbImage) {
    let mut hist = [0usize; 256];
    img.pixels().for_each(|p| hist[grey(p) as usize] += 1);
    let n = img.pixels().len();
    let pct = |q: usize| {
        let mut acc = 0;
        hist.iter()
            .position(|&h| {
                acc += h;
                acc * 100 >= n * q
            })
            .unwrap_or(255) as f32
    };
    let (lo, hi) = (pct(2), pct(98));
    if !(8.0..100.0).contains(&(hi - lo)) {
        return;
    }
    for p in img.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = ((f32::from(*c) - lo) * 255.0 / (hi - lo)).clamp(0.0, 255.0) as u8;
        }
    }
}

/// The page's dominant text angle in degrees (clockwise positive, image coordinates), from
/// the long detected lines weighted by length; `None` when the page is straight (within
/// 3 degrees) or its text is not near horizontal.
fn skew_degrees(lines: &[TextLine]) -> Option<f32> {
    let mut angles: Vec<(f32, f32)> = lines
        .iter()
        .map(geometry)
        .filter(|&(_, len, thick)| len > 3.0 * thick)
        .map(|(dir, len, _)| (dir.y.atan2(dir.x).to_degrees(), len))
        .filter(|(a, _)| a.abs() < 40.0)
        .collect();
    if angles.len() < 2 {
        return None;
    }
    angles.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f32 = angles.iter().map(|a| a.1).sum();
    let mut acc = 0.0;
    let median = angles.iter().find(|a| {
        acc += a.1;
        acc >= total / 2.0
    })?;
    (median.0.abs() > 3.0).then_some(median.0)
}

/// `img` turned by `degrees` (clockwise positive) about its centre onto a canvas that holds
/// all of it, the corners filled from the nearest edge.
fn rotate(img: &RgbImage, degrees: f32) -> RgbImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (nw, nh) = ((w * cos.abs() + h * sin.abs() - 1e-3).ceil(), (w * sin.abs() + h * cos.abs() - 1e-3).ceil());
    RgbImage::from_fn(nw as u32, nh as u32, |x, y| {
        // Inverse map: output pixel -> source pixel.
        let (dx, dy) = (x as f32 + 0.5 - nw / 2.0, y as f32 + 0.5 - nh / 2.0);
        let (sx, sy) = (cos * dx + sin * dy + w / 2.0, -sin * dx + cos * dy + h / 2.0);
        bilinear(img, sx - 0.5, sy - 0.5, Border::Clamp)
    })
}

/// The region of a small document in a large image: the lines' bounding box and a fifth of
/// its size around it, `(x, y, width, height)`, when its longer side is under half the
/// image's (the detector, fed the whole image, sees its characters only a few pixels high).
fn text_region(lines: &[TextLine], (w, h): (u32, u32)) -> Option<(u32, u32, u32, u32)> {
    // One line is no document, unless it is a blob rather than a line: a small document's
    // whole text seen by the detector as one region.
    let blob = |l: &TextLine| l.bbox.width.max(l.bbox.height) < 2.5 * l.bbox.width.min(l.bbox.height);
    if lines.is_empty() || (lines.len() == 1 && !blob(&lines[0])) {
        return None;
    }
    let (x0, y0) = lines.iter().fold((f32::MAX, f32::MAX), |(x, y), l| (x.min(l.bbox.x), y.min(l.bbox.y)));
    let (x1, y1) = lines
        .iter()
        .fold((f32::MIN, f32::MIN), |(x, y), l| (x.max(l.bbox.x + l.bbox.width), y.max(l.bbox.y + l.bbox.height)));
    let (rw, rh) = (x1 - x0, y1 - y0);
    if rw.max(rh) * 2.0 >= w.max(h) as f32 {
        return None;
    }
    let m = 0.2 * rw.max(rh);
    let (a, b) = ((x0 - m).max(0.0) as u32, (y0 - m).max(0.0) as u32);
    let (c, d) = (((x1 + m) as u32).min(w), ((y1 + m) as u32).min(h));
    (c > a + 8 && d > b + 8).then(|| (a, b, c - a, d - b))
}

/// A recovered zone is kept only when it is plausible (garbage that happens to have MRZ-like
/// lengths is not an MRZ): at least half its check digits pass, or its fixed fields have
/// their shapes (two real dates, a sex, states of letters), as on a document printed with
/// wrong check digits (ICAO's own example of bad check digits, specimen cards), which is
/// answered as read with `valid: false`.
fn plausible(m: &Mrz) -> bool {
    let passed = 2 * m.checks.iter().filter(|c| c.valid).count() >= m.checks.len();
    let date = |d: &str| d.len() == 10 && d.as_bytes()[4] == b'-';
    let letters = |s: &str| s.chars().all(|c| c.is_ascii_uppercase() || c == ' ');
    let shaped = date(&m.birth_date)
        && date(&m.expiry_date)
        && matches!(m.sex.as_str(), "M" | "F" | "X")
        && !m.issuing_state.is_empty()
        && letters(&m.issuing_state)
        && letters(&m.nationality);
    passed || shaped
}

/// The zone among a page's OCR `lines` ([`mrz::read_zone`]), the cleaner of the reading and
/// the one with its doubted glyphs taken as their rivals ([`mrz::cleaner`]).
pub fn zone_among<'a>(lines: impl Iterator<Item = &'a TextLine> + Clone, this_year: i32) -> Option<Mrz> {
    let text: Vec<String> = lines.clone().map(mrz_pitch::fitted).collect();
    let doubted: Vec<String> = lines.map(mrz_pitch::doubted).collect();
    let first = mrz::read_zone(&text, this_year);
    if doubted == text {
        first
    } else {
        mrz::cleaner(first, mrz::read_zone(&doubted, this_year))
    }
}

/// The reader: the MRZ from the page's OCR lines, or recovered from the image.
#[derive(Clone)]
pub struct MrzReader {
    ocr: Ocr,
}

impl MrzReader {
    pub fn new(ocr: Ocr) -> MrzReader {
        MrzReader { ocr }
    }

    /// The zone's row crops read in the MRZ alphabet, each brought towards its MRZ length by
    /// where its characters were read ([`mrz_pitch::fitted_text`]), and resolved as a zone
    /// (the cleaner of the reading and its doubted glyphs' rivals: [`mrz::cleaner`]).
    async fn read_rows(&self, crops: Vec<RgbImage>, this_year: i32) -> Result<Option<Mrz>, ApiError> {
        let read = self.ocr.recognise_in(crops, mrz_alphabet).await?;
        let texts: Vec<String> = read.iter().map(|d| mrz_pitch::fitted_text(&d.text, &d.glyphs)).collect();
        let doubted: Vec<String> = read.iter().map(|d| mrz_pitch::doubted_text(&d.text, &d.glyphs)).collect();
        let parsed = mrz::resolve(&texts, this_year);
        Ok(if doubted == texts { parsed } else { mrz::cleaner(parsed, mrz::resolve(&doubted, this_year)) })
    }

    /// Re-reads the candidate zones among `lines` (the OCR of `img`) as MRZs; the best parse.
    async fn reread_zones(
        &self,
        img: &Arc<RgbImage>,
        lines: &[TextLine],
        this_year: i32,
    ) -> Result<Option<Mrz>, ApiError> {
        let candidates = zones(&rows(lines));
        let mut best: Option<Mrz> = None;
        for zone in candidates.into_iter().take(4) {
            // Two rows of TD1 length may be a TD1 whose third line the detector missed.
            let n = if zone.len() == 2 && zone.iter().all(|r| mrz::normalise(&r.text).len() <= 33) {
                3
            } else {
                zone.len()
            };
            let (src, rs) = (img.clone(), zone.clone());
            let crops = pool::run(move || Ok(zone_crops(&src, &rs, n))).await?;
            let mut parsed = self.read_rows(crops.clone(), this_year).await?;
            // A zone read badly may be upside down (a page turned by 180 degrees).
            if !parsed.as_ref().is_some_and(|m| m.valid) {
                let flipped: Vec<RgbImage> = crops.iter().rev().map(imageops::rotate180).collect();
                parsed = mrz::better(parsed, self.read_rows(flipped, this_year).await?);
            }
            best = mrz::better(best, parsed);
            if best.as_ref().is_some_and(Mrz::settled) {
                break;
            }
        }
        Ok(best.filter(plausible))
    }

    /// The page OCR of `img` (a turned or straightened page): its zone among the lines, and
    /// unless that is valid, the better of it and the zone re-read.
    async fn read_page(&self, img: Arc<RgbImage>, this_year: i32) -> Result<Option<Mrz>, ApiError> {
        let lines = self.ocr.read(img.clone()).await?;
        self.read_lines(img, &lines, this_year).await
    }

    /// [`Self::read_page`] given the page's OCR `lines`.
    async fn read_lines(
        &self,
        img: Arc<RgbImage>,
        lines: &[TextLine],
        this_year: i32,
    ) -> Result<Option<Mrz>, ApiError> {
        let first = zone_among(lines.iter(), this_year);
        if first.as_ref().is_some_and(Mrz::settled) {
            return Ok(first);
        }
        let again = self.reread_zones(&img, lines, this_year).await?;
        Ok(mrz::better(first, again))
    }

    /// The MRZ of `img`, given its page OCR `lines`: the zone found among the lines when it is
    /// valid (the fast path), else the best of the recovery passes (constrained re-read of
    /// the candidate rows; the detector at a larger scale; the image turned by 90, 270 and
    /// 180 degrees), stopping at the first valid zone.
    pub async fn read(&self, img: Arc<RgbImage>, lines: &[TextLine], this_year: i32) -> Result<Option<Mrz>, ApiError> {
        let first = zone_among(lines.iter(), this_year);
        if first.as_ref().is_some_and(Mrz::settled) {
            return Ok(first);
        }
        let mut best = first;
        let mut consider = |m: Option<Mrz>| {
            best = mrz::better(best.take(), m);
            best.as_ref().is_some_and(Mrz::settled)
        };
        if consider(self.reread_zones(&img, lines, this_year).await?) {
            return Ok(best);
        }
        // A second look at another scale: a large image's small MRZ at up to LARGE_SIDE, a
        // small scan upscaled to the detector's usual side.
        let long = img.width().max(img.height());
        let side = if long > DET_MAX_SIDE * 5 / 4 {
            Some(LARGE_SIDE.min(long))
        } else if long < DET_MAX_SIDE * 3 / 4 {
            Some(DET_MAX_SIDE)
        } else {
            None
        };
        if let Some(side) = side {
            let lines = self.ocr.read_at(img.clone(), side).await?;
            if consider(self.reread_zones(&img, &lines, this_year).await?) {
                return Ok(best);
            }
        }
        // A small document in a large photo: the region of its text, cropped and read larger.
        if let Some(region) = text_region(lines, img.dimensions()) {
            let src = img.clone();
            let crop = Arc::new(
                pool::run(move || Ok(imageops::crop_imm(&*src, region.0, region.1, region.2, region.3).to_image()))
                    .await?,
            );
            let lines = self.ocr.read_at(crop.clone(), DET_MAX_SIDE).await?;
            if consider(self.read_lines(crop, &lines, this_year).await?) {
                return Ok(best);
            }
        }
        // A skewed page (photographed at an angle): straightened by its text's angle.
        if let Some(deg) = skew_degrees(lines) {
            let src = img.clone();
            let straight = Arc::new(pool::run(move || Ok(rotate(&src, -deg))).await?);
            if consider(self.read_page(straight, this_year).await?) {
                return Ok(best);
            }
        }
        let vertical = lines.iter().filter(|l| l.bbox.height > 1.5 * l.bbox.width).count();
        let turns: &[u32] =
            if 2 * vertical >= lines.len() && !lines.is_empty() { &[90, 270, 180] } else { &[180, 90, 270] };
        for &deg in turns {
            let src = img.clone();
            let turned = Arc::new(
                pool::run(move || {
                    Ok(match deg {
                        90 => imageops::rotate90(&*src),
                        180 => imageops::rotate180(&*src),
                        _ => imageops::rotate270(&*src),
                    })
                })
                .await?,
            );
            if consider(self.read_page(turned, this_year).await?) {
                return Ok(best);
            }
        }
        Ok(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::geometry::Rect;

    fn line(text: &str, x: f32, y: f32, w: f32, h: f32) -> TextLine {
        let polygon = [Point { x, y }, Point { x: x + w, y }, Point { x: x + w, y: y + h }, Point { x, y: y + h }];
        TextLine {
            text: text.into(),
            confidence: 0.9,
            polygon,
            bbox: Rect { x, y, width: w, height: h },
            glyphs: Vec::new(),
        }
    }

    #[test]
    fn segments_of_one_line_merge_and_two_lines_make_a_zone() {
        let lines = [
            line("PASSPORT", 10.0, 10.0, 200.0, 20.0),
            line("P<UTOERIKSSON<<ANNA", 10.0, 300.0, 300.0, 20.0),
            line("<<<<<<<<<<<<<<", 320.0, 300.0, 300.0, 20.0),
            line("L898902C36UTO7408122F1204159ZE184226B<<<<<10", 10.0, 330.0, 610.0, 20.0),
        ];
        let r = rows(&lines);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].text, "P<UTOERIKSSON<<ANNA<<<<<<<<<<<<<<");
        assert!((r[0].s1 - r[0].s0 - 610.0).abs() < 1.0);
        assert_eq!(zones(&r).len(), 1);
    }

    #[test]
    fn fragments_of_one_mrz_line_far_apart_stay_one_row_and_a_short_first_row_still_makes_a_zone() {
        // The detector lost the middle of the first line's fillers.
        let lines = [
            line("POGBRLEENKOOVANKO<<<", 122.0, 450.0, 262.0, 19.0),
            line("<<<<<<<<<", 570.0, 452.0, 116.0, 14.0),
            line("S61SK70031UN04401096M1911091<<<<<<<<<<<<<<04", 122.0, 471.0, 565.0, 19.0),
        ];
        let r = rows(&lines);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].text.starts_with("POGBRLEENKO") && r[0].s1 > 680.0, "{r:?}");
        assert_eq!(zones(&r).len(), 1);
        // Only the start of the first line found (0.46 of the second's length).
        let short = [lines[0].clone(), lines[2].clone()];
        assert_eq!(zones(&rows(&short)).len(), 1);
    }

    #[test]
    fn rows_of_one_zone_are_compared_in_one_frame() {
        // Far from the image origin, a first row tilted by 0.36 degrees has its own normal
        // 12 px off the second row's: in one frame they are one line pitch (20 px) apart.
        let tilted = TextLine {
            polygon: [
                Point { x: 1732.7, y: 444.1 },
                Point { x: 2133.8, y: 446.6 },
                Point { x: 2130.9, y: 464.2 },
                Point { x: 1729.8, y: 461.7 },
            ],
            ..line("IRCHNKOWHA<<GA<<<<<<<<<<<<<<<<<<<", 1729.8, 444.1, 404.0, 20.0)
        };
        let lines = [tilted, line("5J56135387LVA9201257F30112619938D453", 1731.1, 464.3, 432.2, 20.5)];
        let z = zones(&rows(&lines));
        assert_eq!(z.len(), 1);
        let pitch = z[0][1].t - z[0][0].t;
        assert!((pitch - 20.0).abs() < 2.0, "{pitch}");
    }

    #[test]
    fn a_small_document_seen_as_one_blob_has_a_region() {
        let blob = [line("7", 1345.0, 1287.0, 494.0, 341.0)];
        let (x, y, w, h) = text_region(&blob, (2097, 2665)).unwrap();
        assert!(x < 1345 && y < 1287 && x + w > 1839 && y + h > 1628, "{:?}", (x, y, w, h));
    }

    #[test]
    fn a_small_document_has_a_region_and_a_page_has_none() {
        let card = [line("PASSPORT", 600.0, 1440.0, 160.0, 25.0), line("38800820", 616.0, 1716.0, 465.0, 84.0)];
        let (x, y, w, h) = text_region(&card, (2017, 2623)).unwrap();
        assert!(x < 600 && y < 1440 && x + w > 1081 && y + h > 1800 && w < 800, "{:?}", (x, y, w, h));
        let page = [line("PASSPORT", 60.0, 40.0, 300.0, 25.0), line("P<UTO", 40.0, 600.0, 800.0, 30.0)];
        assert_eq!(text_region(&page, (900, 700)), None);
        assert_eq!(text_region(&card[..1], (2017, 2623)), None, "one line is no document");
    }

    #[test]
    fn the_skew_of_a_page_comes_from_its_lines() {
        let tilted = |x: f32, y: f32, deg: f32| {
            let (s, c) = deg.to_radians().sin_cos();
            let (len, th) = (200.0, 20.0);
            let p = |a: f32, b: f32| Point { x: x + a * c - b * s, y: y + a * s + b * c };
            let polygon = [p(0.0, 0.0), p(len, 0.0), p(len, th), p(0.0, th)];
            TextLine {
                text: "X".into(),
                confidence: 0.9,
                polygon,
                bbox: Rect { x, y, width: len, height: th },
                glyphs: Vec::new(),
            }
        };
        let lines: Vec<TextLine> = (0..5).map(|i| tilted(10.0, 40.0 * i as f32, 18.0)).collect();
        let a = skew_degrees(&lines).unwrap();
        assert!((a - 18.0).abs() < 0.5, "{a}");
        let straight: Vec<TextLine> = (0..5).map(|i| tilted(10.0, 40.0 * i as f32, 1.0)).collect();
        assert!(skew_degrees(&straight).is_none());
        let img = RgbImage::from_pixel(40, 20, image::Rgb([9, 9, 9]));
        let r = rotate(&img, 90.0);
        assert_eq!((r.width(), r.height()), (20, 40));
    }

    #[test]
    fn the_alphabet_is_the_mrz_alphabet() {
        assert!(mrz_alphabet("A") && mrz_alphabet("7") && mrz_alphabet("<"));
        assert!(!mrz_alphabet("a") && !mrz_alphabet("«") && !mrz_alphabet(" ") && !mrz_alphabet("AB"));
        assert!(!mrz_like("Surname / Nom") && mrz_like("L898902C36UTO7408122F") && mrz_like("ANNA<MARIA<<<"));
    }
}

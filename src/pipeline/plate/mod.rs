//! License plates without a plate model: the OCR text detector finds text, [`candidates`] keeps
//! the lines (and joined rows) shaped like a plate, the plate recogniser (PP-OCRv4 by default,
//! limited to letters, digits and Chinese province characters) re-reads each from a slightly
//! larger crop (a weak one-row reading again from a box that follows its text: [`rectify`]),
//! and each reading is scored by its [`formats`] match (the formats of the place a line near
//! it names first: [`cues`]), its characters and its size; the best reading of each place is a
//! plate.

mod band;
pub mod candidates;
mod cues;
pub mod formats;
mod rectify;

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

use self::{
    candidates::Candidate,
    formats::{Dropped, Fix, Region},
};
use super::ocr::{crop_line, crop_line_at, Ocr, TextLine};
use crate::{
    error::ApiError,
    vision::{db::TextBox, geometry::Point, geometry::Rect, pool},
};

pub use formats::normalise;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Plate {
    /// Normalised text: upper-case letters and digits only, look-alikes fixed by the format.
    pub text: String,
    /// What the recogniser read (rows joined by a space).
    pub raw_text: String,
    /// The plate's score in 0..1: the recogniser's confidence weighted by how plate-like the
    /// reading is (format, characters, size); plates are sorted by it.
    pub confidence: f32,
    /// The recogniser's own confidence in the reading.
    pub text_confidence: f32,
    #[serde(rename = "box")]
    pub bbox: Rect,
    pub polygon: [Point; 4],
    /// 1, or 2 or 3 for a plate read in rows.
    pub rows: usize,
    /// The region of the format the text matches (`us`, `eu`, `br`, `cn`), if any.
    #[schema(value_type = Option<String>)]
    pub region: Option<Region>,
    /// The format it matches (e.g. `ua`, `us_aaa9999`, `br_mercosur`), if any.
    pub format: Option<&'static str>,
    /// Every character the format changed (position in `text`, from, to).
    pub fixes: Vec<Fix>,
    /// The first character of the reading when it is the country band's letter (the plate has
    /// a blue band at its left and its text matches a format without it); `null` otherwise.
    pub dropped: Option<Dropped>,
    /// The words near the plate that chose the formats it was fitted to first (a state's name
    /// or slogan, `BRASIL`, the country band's code), when a line there names a place.
    pub cue: Option<&'static str>,
    /// Which finder found it (`ocr_text`; a plate-detector model would say its name).
    pub detector: &'static str,
}

/// The text detector's input side (longer side, smaller photos upscaled) of the second look.
pub const SECOND_LOOK_SIDE: u32 = 1600;

/// Below this score a reading is not reported as a plate.
pub const MIN_CONFIDENCE: f32 = 0.35;

/// The plate recogniser's classes: upper-case letters, digits, CJK characters (Chinese
/// provinces) and the middle dot of Chinese plates; every other class is masked.
fn plate_alphabet(c: &str) -> bool {
    c.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || formats::chinese_mark(c))
}

/// How plate-like a reading is, in 0..1 (a weight, never a filter beyond its length): `read`
/// as read, `fixes` made to match a format (`None`: it matches none), `size` its character
/// height against the tallest candidate's.
fn prior(read: &str, fixes: Option<usize>, size: f32) -> f32 {
    let n = read.chars().count();
    let digits = read.chars().filter(char::is_ascii_digit).count();
    let length = match n {
        4..=8 => 1.0,
        9..=10 => 0.8,
        _ => 0.0,
    };
    let format = fixes.map_or(0.8, |f| 1.0 - 0.05 * f as f32);
    let kind = match digits {
        0 if n <= 7 => 0.75, // vanity plates, but also words
        0 => 0.4,            // longer words
        d if d == n => 0.65, // dates, years, phone numbers
        _ => 1.0,
    };
    length * format * kind * (0.6 + 0.4 * size)
}

/// One place: either box's centre inside the other.
fn overlaps(a: &Rect, b: &Rect) -> bool {
    b.contains(a.centre()) || a.contains(b.centre())
}

#[derive(Clone)]
pub struct PlateReader {
    ocr: Ocr,
}

impl PlateReader {
    pub fn new(ocr: Ocr) -> PlateReader {
        PlateReader { ocr }
    }

    /// Plates in `img`, any region's formats, best first; empty when there is none.
    pub async fn read(&self, img: Arc<RgbImage>) -> Result<Vec<Plate>, ApiError> {
        self.read_in(img, Region::Auto).await
    }

    /// Plates in `img` scored by `region`'s formats, best first; empty when there is none.
    /// When the first look (the text detector at its page scale) finds no plate that matches a
    /// format, a second look at [`SECOND_LOOK_SIDE`] finds the smaller text.
    #[tracing::instrument(name = "plates", skip_all)]
    pub async fn read_in(&self, img: Arc<RgbImage>, region: Region) -> Result<Vec<Plate>, ApiError> {
        let lines = self.ocr.read(img.clone()).await?;
        let mut plates = self.read_lines(&img, &lines, region).await?;
        if !candidates::is_page(&lines)
            && plates.first().is_none_or(|p| p.format.is_none())
            && img.width().max(img.height()) > 640
        {
            let lines = self.ocr.read_at(img.clone(), SECOND_LOOK_SIDE).await?;
            plates.extend(self.read_lines(&img, &lines, region).await?);
        }
        demote_fragments(&mut plates);
        plates.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        // The best reading of each place.
        let mut kept: Vec<Plate> = Vec::new();
        for p in plates {
            if p.confidence >= MIN_CONFIDENCE && !kept.iter().any(|k| overlaps(&k.bbox, &p.bbox)) {
                kept.push(p);
            }
        }
        Ok(kept)
    }

    /// The scored readings of the candidates among `lines`.
    async fn read_lines(
        &self,
        img: &Arc<RgbImage>,
        lines: &[TextLine],
        region: Region,
    ) -> Result<Vec<Plate>, ApiError> {
        for l in lines {
            tracing::debug!(text = %l.text, bbox = ?l.bbox, "text line");
        }
        let cands = candidates::find(lines);
        let near: Vec<Option<cues::Cue>> = cands.iter().map(|c| cues::near(lines, &c.bbox)).collect();
        let (src, rows, cued) = (img.clone(), cands.clone(), near.clone());
        let (crops, bands, strips) = pool::run(move || {
            let per_candidate: Vec<Vec<RgbImage>> =
                rows.iter().map(|c| c.rows.iter().map(|r| crop_line(&src, r)).collect()).collect();
            // Only a one-row candidate can start with a country band.
            let bands: Vec<bool> =
                per_candidate.iter().map(|c| matches!(c.as_slice(), [one] if band::starts_blue(one))).collect();
            // The band's code of a one-row candidate no line near it names the place of.
            let strips: Vec<(usize, RgbImage)> = rows
                .iter()
                .zip(&cued)
                .enumerate()
                .filter(|(_, (c, cue))| c.rows.len() == 1 && cue.is_none())
                .filter_map(|(i, (c, _))| band::find(&src, &c.bbox).map(|b| (i, b)))
                .map(|(i, b)| (i, band::code_strip(&src, &b, BAND_STRIP.0, BAND_STRIP.1)))
                .collect();
            Ok((per_candidate.into_iter().flatten().collect::<Vec<_>>(), bands, strips))
        })
        .await?;
        let model = self.ocr.engine().config().plate_rec.clone();
        let near = self.band_codes(&model, near, strips).await?;
        let readings = self.ocr.recognise_with(&model, crops, Some(plate_alphabet)).await?;
        let tallest = cands.iter().map(|c| c.height).fold(1.0f32, f32::max);
        let mut next = readings.into_iter();
        let mut plates: Vec<Option<Plate>> = Vec::new();
        let fits: Vec<Fit> = near.into_iter().zip(bands).map(|(cue, band)| Fit { region, band, cue }).collect();
        for (c, fit) in cands.iter().zip(&fits) {
            let read: Vec<(String, f32)> = next.by_ref().take(c.rows.len()).collect();
            let plate = scored(c, &read, *fit, c.height / tallest);
            tracing::debug!(
                rows = c.rows.len(),
                bbox = ?c.bbox,
                read = ?read,
                text = plate.as_ref().map(|p| p.text.as_str()),
                score = plate.as_ref().map(|p| p.confidence),
                "plate candidate"
            );
            plates.push(plate);
        }
        self.reread_slanted(img, &cands, &fits, &mut plates, tallest).await?;
        Ok(plates.into_iter().flatten().collect())
    }

    /// The cues with those of the country bands' codes read from `strips` (candidate index,
    /// the band's code strip) added.
    async fn band_codes(
        &self,
        model: &str,
        mut near: Vec<Option<cues::Cue>>,
        strips: Vec<(usize, RgbImage)>,
    ) -> Result<Vec<Option<cues::Cue>>, ApiError> {
        let (at, strips): (Vec<usize>, Vec<RgbImage>) = strips.into_iter().unzip();
        let codes = cues::band_codes();
        let scores = self.ocr.likelihoods(model, strips, &codes).await?;
        for (i, s) in at.into_iter().zip(scores) {
            let code = band::pick(&codes, &s);
            tracing::debug!(candidate = i, ?code, likelihoods = ?s, "band code");
            near[i] = code.and_then(cues::band);
        }
        Ok(near)
    }

    /// One-row candidates read weakly (no format, or an unsure recogniser) are read again from
    /// a box that follows their text's angle and lean ([`rectify`]): a plate seen from the
    /// side. The better of the two readings stays.
    async fn reread_slanted(
        &self,
        img: &Arc<RgbImage>,
        cands: &[Candidate],
        fits: &[Fit],
        plates: &mut [Option<Plate>],
        tallest: f32,
    ) -> Result<(), ApiError> {
        let weak: Vec<(usize, TextBox)> = cands
            .iter()
            .zip(plates.iter())
            .enumerate()
            .filter(|(_, (c, p))| {
                c.rows.len() == 1 && p.as_ref().is_none_or(|p| p.format.is_none() || p.text_confidence < REREAD_BELOW)
            })
            .map(|(i, (c, _))| (i, c.rows[0].clone()))
            .collect();
        if weak.is_empty() {
            return Ok(());
        }
        let src = img.clone();
        let (boxes, crops): (Vec<(usize, TextBox)>, Vec<RgbImage>) = pool::run(move || {
            Ok(weak
                .into_iter()
                .filter_map(|(i, b)| rectify::rectified(&src, &b).map(|r| (i, r)))
                .map(|(i, r)| {
                    let crop = crop_line_at(&src, &r, rectify::aspect(&r));
                    ((i, r), crop)
                })
                .unzip())
        })
        .await?;
        if boxes.is_empty() {
            return Ok(());
        }
        let model = self.ocr.engine().config().plate_rec.clone();
        let readings = self.ocr.recognise_with(&model, crops, Some(plate_alphabet)).await?;
        for ((i, b), read) in boxes.into_iter().zip(readings) {
            let c = Candidate { rows: vec![b], ..cands[i].clone() };
            let again = scored(&c, std::slice::from_ref(&read), fits[i], c.height / tallest);
            tracing::debug!(bbox = ?c.bbox, read = ?read, score = again.as_ref().map(|p| p.confidence), "plate re-read upright");
            // Only a registration-shaped reading is trusted from the guessed geometry (a
            // document's word stretched to a plate's width reads well too).
            let shaped = again.as_ref().is_some_and(|p| p.format.is_some());
            if shaped && again.as_ref().map(|p| p.confidence) > plates[i].as_ref().map(|p| p.confidence) {
                plates[i] = again;
            }
        }
        Ok(())
    }
}

/// A one-row reading whose recogniser confidence is under this (or that matches no format) is
/// read again from a box that follows its text.
pub const REREAD_BELOW: f32 = 0.9;

/// A reading that is part of a longer one at the same place, where the longer one matches a
/// format with no more fixes, is a fragment of that plate (the lower rows of a three-row
/// plate, a row without its prefix): its score is weighted by this.
pub const FRAGMENT: f32 = 0.8;

/// A row of a multi-row candidate read with less confidence than this is no plate row.
pub const ROW_MIN: f32 = 0.5;

fn demote_fragments(plates: &mut [Plate]) {
    let fragment: Vec<bool> = plates
        .iter()
        .map(|p| {
            plates.iter().any(|q| {
                q.format.is_some()
                    && q.text.len() > p.text.len()
                    && q.text.contains(&p.text)
                    && q.fixes.len() <= p.fixes.len()
                    && q.bbox.contains(p.bbox.centre())
            })
        })
        .collect();
    for (p, f) in plates.iter_mut().zip(fragment) {
        if f {
            p.confidence *= FRAGMENT;
        }
    }
}

/// The recogniser's strip (width, height) for a country band's code.
const BAND_STRIP: (u32, u32) = (320, 48);

/// How a candidate's reading is fitted: the region asked for, whether its crop starts with a
/// country band, and the place a line near it names.
#[derive(Debug, Clone, Copy)]
struct Fit {
    region: Region,
    band: bool,
    cue: Option<cues::Cue>,
}

impl Fit {
    /// The reading fitted to the cue's formats when one fits, else to the region's.
    fn apply(&self, read: &str, hint: Option<Region>) -> (formats::Fitted, Option<&'static str>) {
        if let Some(cue) = self.cue {
            let fitted = formats::best_of(read, cue.formats);
            if fitted.format.is_some() {
                return (fitted, Some(cue.text));
            }
        }
        let fitted = if self.band {
            formats::best_after_band(read, self.region, hint)
        } else {
            formats::best(read, self.region, hint)
        };
        (fitted, None)
    }
}

fn scored(c: &Candidate, read: &[(String, f32)], fit: Fit, size: f32) -> Option<Plate> {
    let raw_text = read.iter().map(|r| r.0.trim()).collect::<Vec<_>>().join(" ");
    // The mean probability of its characters, as one row's confidence is (each row's own mean
    // weighted by its length), so a plate read in rows scores like the same plate in one; but a
    // row the recogniser could barely read (under ROW_MIN: a speck or a sign's stroke stacked
    // on the plate) is no row of a plate, and the candidate gets that row's confidence.
    let lengths: Vec<f32> = read.iter().map(|r| r.0.chars().filter(|c| !c.is_whitespace()).count() as f32).collect();
    let total: f32 = lengths.iter().sum();
    let weakest = read.iter().map(|r| r.1).fold(1.0f32, f32::min);
    let text_confidence = if weakest < ROW_MIN || total == 0.0 {
        weakest
    } else {
        read.iter().zip(&lengths).map(|(r, n)| r.1 * n).sum::<f32>() / total
    };
    let read = normalise(&raw_text);
    let (fitted, cue) = fit.apply(&read, formats::hint(&raw_text));
    // A dropped band letter weighs as one more fix.
    let changes = fitted.fixes.len() + usize::from(fitted.dropped.is_some());
    let as_read = if fitted.dropped.is_some() { &read[1..] } else { &read[..] };
    let weight = prior(as_read, fitted.format.map(|_| changes), size);
    (weight > 0.0).then(|| Plate {
        confidence: text_confidence * weight,
        text_confidence,
        text: fitted.text,
        raw_text,
        bbox: c.bbox,
        polygon: candidates::polygon(c),
        rows: c.rows.len(),
        region: fitted.format.map(|f| f.0),
        format: fitted.format.map(|f| f.1),
        fixes: fitted.fixes,
        dropped: fitted.dropped,
        cue,
        detector: "ocr_text",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_shaped_like_registrations_outweigh_words_years_and_fragments() {
        assert!(prior("AB1234CD", Some(0), 1.0) > prior("AB1234CD", Some(1), 1.0));
        assert!(prior("AB1234CD", Some(2), 1.0) > prior("AB1234CD", None, 1.0));
        assert!(prior("AB1234CD", None, 1.0) > prior("2013", None, 1.0), "a year");
        assert!(prior("WATTUP", None, 1.0) > 0.0, "a vanity plate still reads");
        assert!(prior("WATTUP", None, 1.0) > prior("CAJOHKPACH", None, 1.0), "a long word");
        assert!(prior("AB1234CD", Some(0), 1.0) > prior("AB1234CD", Some(0), 0.3), "smaller text");
        assert_eq!(prior("AB1", None, 1.0), 0.0, "too short");
        assert!(plate_alphabet("A") && plate_alphabet("7") && plate_alphabet("川") && !plate_alphabet("a"));
        assert!(!plate_alphabet("网"), "an ideograph no plate carries");
    }

    fn plate(text: &str, raw: &[(&str, f32)], x: f32, y: f32, w: f32, h: f32) -> Plate {
        let bbox = Rect { x, y, width: w, height: h };
        let rows: Vec<_> = raw.iter().map(|_| candidates::rect_box(&bbox)).collect();
        let c = Candidate { rows, bbox, height: h / raw.len() as f32 };
        let read: Vec<(String, f32)> = raw.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        let p = scored(&c, &read, Fit { region: Region::Auto, band: false, cue: None }, 1.0).expect("a plate");
        assert_eq!(p.text, text);
        p
    }

    #[test]
    fn a_plate_read_in_rows_scores_by_its_characters_and_its_parts_are_fragments() {
        // Three rows, one of them a little doubtful, against two of its rows alone.
        let whole = plate("BE0886AA", &[("BE", 0.90), ("0886", 0.998), ("AA", 0.985)], 320.0, 870.0, 115.0, 132.0);
        let part = plate("0886AA", &[("0886", 0.998), ("AA", 0.985)], 320.0, 905.0, 115.0, 97.0);
        assert!(whole.confidence > 0.95, "{}", whole.confidence);
        let mut both = vec![part, whole];
        demote_fragments(&mut both);
        assert!(both[1].confidence > both[0].confidence, "the whole plate wins");
        // A row the recogniser could barely read gives the candidate its confidence.
        let speck = plate("HMDA934", &[("H", 0.11), ("MDA", 0.98), ("934", 0.98)], 491.0, 475.0, 108.0, 132.0);
        assert!(speck.confidence <= 0.11);
    }
}

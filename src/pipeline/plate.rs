//! License plates without a plate model: the OCR text detector finds text, candidates whose
//! geometry and characters look like a plate are kept, and each is re-read from a slightly
//! larger crop (the recogniser's best scale for a plate: characters with margin); the better
//! reading wins. Plate texts are normalised (spaces, dashes, look-alike characters).

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

use super::ocr::{crop_line, Ocr, TextLine};
use crate::{
    error::ApiError,
    vision::{db::TextBox, geometry::Point, geometry::Rect, pool},
};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Plate {
    /// Normalised text: letters and digits only.
    pub text: String,
    /// What the recogniser read.
    pub raw_text: String,
    pub confidence: f32,
    #[serde(rename = "box")]
    pub bbox: Rect,
    pub polygon: [Point; 4],
    /// Which finder found it (`ocr_text`; a plate-detector model would say its name).
    pub detector: &'static str,
}

/// Letters and digits only, upper case; O and I between digits become 0 and 1, 0 and 1 between
/// letters become O and I.
pub fn normalise(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    let kind = |i: Option<usize>| i.and_then(|i| chars.get(i)).map(|c| c.is_ascii_digit());
    (0..chars.len())
        .map(|i| {
            let (before, after) = (kind(i.checked_sub(1)), kind(Some(i + 1)));
            let digits_around =
                before != Some(false) && after != Some(false) && (before == Some(true) || after == Some(true));
            let letters_around =
                before != Some(true) && after != Some(true) && (before == Some(false) || after == Some(false));
            match chars[i] {
                'O' if digits_around => '0',
                'I' if digits_around => '1',
                '0' if letters_around => 'O',
                '1' if letters_around => 'I',
                c => c,
            }
        })
        .collect()
}

/// A plate has 4 to 10 letters and digits, at least two digits, and a wide box.
pub fn looks_like_plate(text: &str, bbox: &Rect) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let aspect = bbox.width / bbox.height.max(1.0);
    (4..=10).contains(&text.len()) && digits >= 2 && (1.5..=12.0).contains(&aspect)
}

fn grown(line: &TextLine, sx: f32, sy: f32) -> TextBox {
    let c = line.polygon;
    let centre = Point { x: (c[0].x + c[2].x) / 2.0, y: (c[0].y + c[2].y) / 2.0 };
    TextBox {
        corners: c.map(|p| Point { x: centre.x + (p.x - centre.x) * sx, y: centre.y + (p.y - centre.y) * sy }),
        score: 1.0,
    }
}

#[derive(Clone)]
pub struct PlateReader {
    ocr: Ocr,
}

impl PlateReader {
    pub fn new(ocr: Ocr) -> PlateReader {
        PlateReader { ocr }
    }

    /// Plates in `img`, best confidence first; empty when there is none.
    pub async fn read(&self, img: Arc<RgbImage>) -> Result<Vec<Plate>, ApiError> {
        let lines = self.ocr.read(img.clone()).await?;
        let candidates: Vec<TextLine> =
            lines.into_iter().filter(|l| looks_like_plate(&normalise(&l.text), &l.bbox)).collect();
        let (src, cands) = (img.clone(), candidates.clone());
        let crops =
            pool::run(move || Ok(cands.iter().map(|l| crop_line(&src, &grown(l, 1.08, 1.3))).collect())).await?;
        let rereads = self.ocr.recognise(crops).await?;
        let mut plates: Vec<Plate> = candidates
            .into_iter()
            .zip(rereads)
            .map(|(line, (text, conf))| {
                let better = conf > line.confidence && looks_like_plate(&normalise(&text), &line.bbox);
                let (raw_text, confidence) = if better { (text, conf) } else { (line.text.clone(), line.confidence) };
                Plate {
                    text: normalise(&raw_text),
                    raw_text,
                    confidence,
                    bbox: line.bbox,
                    polygon: line.polygon,
                    detector: "ocr_text",
                }
            })
            .collect();
        plates.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        Ok(plates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(normalise("5AU-5341"), "5AU5341");
        assert_eq!(normalise("hcm 6223"), "HCM6223");
        assert_eq!(normalise("HCM=62O3"), "HCM6203");
        assert_eq!(normalise("A1B"), "AIB");
    }

    #[test]
    fn plate_geometry_and_characters() {
        let r = |w, h| Rect { x: 0.0, y: 0.0, width: w, height: h };
        assert!(looks_like_plate("5AU5341", &r(120.0, 30.0)));
        assert!(!looks_like_plate("NEWYORK", &r(120.0, 30.0)), "no digits");
        assert!(!looks_like_plate("5AU5341", &r(30.0, 30.0)), "square");
        assert!(!looks_like_plate("G", &r(30.0, 10.0)));
    }
}

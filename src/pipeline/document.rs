//! Reading an ID document: OCR of the front (and back), the MRZ found among the lines and
//! parsed with its check digits, the portrait (the largest face), and the checks an onboarding
//! flow needs: MRZ valid, expired, age.

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

use super::{
    mrz::{self, Mrz},
    mrz_read::MrzReader,
    ocr::{Ocr, TextLine},
    Face, FacePipeline,
};
use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Checks {
    /// Every check digit of the MRZ valid; null without an MRZ.
    pub mrz_valid: Option<bool>,
    /// The MRZ expiry date is before today; null without one.
    pub expired: Option<bool>,
    /// Whole years since the MRZ birth date; null without one.
    pub age_years: Option<i32>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentRead {
    /// `passport`, `id_card`, `visa`, or `unknown` (no MRZ).
    pub document_type: String,
    /// The machine-readable zone; null when none was found (not an error).
    pub mrz: Option<Mrz>,
    pub text_lines: Vec<TextLine>,
    /// Text lines of the back side, when one was sent.
    pub back_text_lines: Option<Vec<TextLine>>,
    /// The largest face on the front (the holder's portrait), in the face routes' shape.
    pub portrait: Option<Face>,
    pub checks: Checks,
    /// The date the checks were made against (UTC).
    pub today: String,
}

/// Today's civil date (UTC) from the system clock.
pub fn today() -> (i32, u32, u32) {
    let days =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400) as i64;
    civil_from_days(days)
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((yoe + era * 400 + i64::from(m <= 2)) as i32, m, d)
}

fn ymd(iso: &str) -> Option<(i32, u32, u32)> {
    let mut it = iso.splitn(3, '-');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The checks of `m` against `today`.
pub fn checks(m: Option<&Mrz>, today: (i32, u32, u32)) -> Checks {
    let Some(m) = m else { return Checks { mrz_valid: None, expired: None, age_years: None } };
    let expired = ymd(&m.expiry_date).map(|e| e < today);
    let age_years = ymd(&m.birth_date).map(|(y, mo, d)| today.0 - y - i32::from((today.1, today.2) < (mo, d)));
    Checks { mrz_valid: Some(m.valid), expired, age_years }
}

fn document_type(m: Option<&Mrz>) -> &'static str {
    match m.map(|m| m.document_code.chars().next()) {
        Some(Some('P')) => "passport",
        Some(Some('V')) => "visa",
        Some(Some('I' | 'A' | 'C')) => "id_card",
        Some(_) => "other",
        None => "unknown",
    }
}

#[derive(Clone)]
pub struct DocumentPipeline {
    ocr: Ocr,
    mrz: MrzReader,
    faces: FacePipeline,
}

impl DocumentPipeline {
    /// Built once per server (its OCR keeps each recogniser's character list and class masks).
    pub fn new(faces: FacePipeline) -> DocumentPipeline {
        let ocr = Ocr::new(faces.engine().clone());
        DocumentPipeline { mrz: MrzReader::new(ocr.clone()), ocr, faces }
    }

    /// The OCR this pipeline reads with (shared with the plate reader).
    pub fn ocr(&self) -> &Ocr {
        &self.ocr
    }

    /// The MRZ of one side: the zone among its OCR lines, recovered from the image when that
    /// is not valid (see [`MrzReader::read`]).
    async fn side_mrz(
        &self,
        img: Option<Arc<RgbImage>>,
        lines: Option<&[TextLine]>,
        year: i32,
    ) -> Result<Option<Mrz>, ApiError> {
        match (img, lines) {
            (Some(img), Some(lines)) => self.mrz.read(img, lines, year).await,
            _ => Ok(None),
        }
    }

    pub async fn read(&self, front: Arc<RgbImage>, back: Option<Arc<RgbImage>>) -> Result<DocumentRead, ApiError> {
        let back_read = async {
            match &back {
                Some(img) => self.ocr.read(img.clone()).await.map(Some),
                None => Ok(None),
            }
        };
        let (lines, portrait, back_lines) =
            futures_util::future::join3(self.ocr.read(front.clone()), self.faces.detect(front.clone()), back_read)
                .await;
        let (lines, portrait, back_lines) =
            (lines?, portrait?.into_iter().max_by(|a, b| a.area().total_cmp(&b.area())), back_lines?);
        let today = today();
        // The MRZ is on the back of most ID cards and on the front of passports and visas.
        let text: Vec<String> = lines.iter().chain(back_lines.iter().flatten()).map(|l| l.text.clone()).collect();
        let mut parsed = mrz::find(&text).and_then(|zone| mrz::parse(&zone, today.0));
        if !parsed.as_ref().is_some_and(|m| m.valid) {
            let (f, b) = futures_util::future::join(
                self.side_mrz(Some(front.clone()), Some(&lines), today.0),
                self.side_mrz(back.clone(), back_lines.as_deref(), today.0),
            )
            .await;
            parsed = mrz::better(mrz::better(parsed, f?), b?);
        }
        Ok(DocumentRead {
            document_type: document_type(parsed.as_ref()).to_string(),
            checks: checks(parsed.as_ref(), today),
            mrz: parsed,
            text_lines: lines,
            back_text_lines: back_lines,
            portrait,
            today: format!("{:04}-{:02}-{:02}", today.0, today.1, today.2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_779), (2026, 11, 22));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn expiry_and_age_from_the_mrz() {
        let zone = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
        let m = mrz::parse(&zone.map(String::from), 2026).unwrap();
        let c = checks(Some(&m), (2026, 11, 26));
        assert_eq!((c.mrz_valid, c.expired, c.age_years), (Some(true), Some(true), Some(52)));
        assert_eq!(checks(Some(&m), (2026, 8, 11)).age_years, Some(51), "the day before the birthday");
        assert_eq!(document_type(Some(&m)), "passport");
        assert!(checks(None, (2026, 1, 1)).mrz_valid.is_none());
    }
}

//! Reading an ID document: OCR of the front (and back), the MRZ found among the lines and
//! parsed with its check digits, the PDF417 barcode of US and Canadian cards (AAMVA), the
//! portrait (the largest face), and the checks an onboarding flow needs: MRZ or barcode valid,
//! expired, age.

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

use super::{
    aamva::Aamva,
    barcode::{self, Barcode},
    mrz::{self, Mrz},
    mrz_band,
    mrz_read::{self, MrzReader},
    mrz_viz,
    ocr::{self, Ocr, TextLine},
    Face, FacePipeline,
};
use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Checks {
    /// Every check digit of the MRZ valid; null without an MRZ.
    pub mrz_valid: Option<bool>,
    /// The PDF417 barcode is a well-formed AAMVA payload; false for another or a damaged
    /// payload; null without a barcode.
    pub barcode_valid: Option<bool>,
    /// The expiry date (the MRZ's, else the AAMVA barcode's) is before today; null without one.
    pub expired: Option<bool>,
    /// Whole years since the birth date (the MRZ's, else the AAMVA barcode's); null without one.
    pub age_years: Option<i32>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentRead {
    /// `passport`, `id_card`, `visa` (from the MRZ), `driver_license` or `id_card` (from an AAMVA
    /// barcode), or `unknown` (neither).
    pub document_type: String,
    /// The machine-readable zone; null when none was found (not an error).
    pub mrz: Option<Mrz>,
    /// The PDF417 barcode (back of US and Canadian licences and ID cards); null when none was
    /// found (not an error).
    pub barcode: Option<Barcode>,
    pub text_lines: Vec<TextLine>,
    /// Text lines of the back side, when one was sent.
    pub back_text_lines: Option<Vec<TextLine>>,
    /// True when `text_lines` (and `back_text_lines`) hold every line of the page; false when
    /// only the MRZ-shaped lines were read (the MRZ-first read of onboarding without
    /// `full_text`, which found a valid MRZ in them).
    pub full_text: bool,
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

fn dated(expiry: &str, birth: &str, today: (i32, u32, u32)) -> (Option<bool>, Option<i32>) {
    let expired = ymd(expiry).map(|e| e < today);
    let age_years = ymd(birth).map(|(y, mo, d)| today.0 - y - i32::from((today.1, today.2) < (mo, d)));
    (expired, age_years)
}

/// The checks of `m` (else of the AAMVA barcode `b`) against `today`.
pub fn checks(m: Option<&Mrz>, b: Option<&Barcode>, today: (i32, u32, u32)) -> Checks {
    let barcode_valid = b.map(|b| b.aamva.is_some());
    let (expired, age_years) = match (m, b.and_then(|b| b.aamva.as_ref())) {
        (Some(m), _) => dated(&m.expiry_date, &m.birth_date, today),
        (None, Some(a)) => dated(&a.fields.expiry_date, &a.fields.birth_date, today),
        (None, None) => (None, None),
    };
    Checks { mrz_valid: m.map(|m| m.valid), barcode_valid, expired, age_years }
}

fn document_type(m: Option<&Mrz>, a: Option<&Aamva>) -> &'static str {
    match (m.map(|m| m.document_code.chars().next()), a) {
        (Some(Some('P')), _) => "passport",
        (Some(Some('V')), _) => "visa",
        (Some(Some('I' | 'A' | 'C')), _) => "id_card",
        (Some(_), _) => "other",
        (None, Some(a)) if a.document_type == "driver_license" => "driver_license",
        (None, Some(_)) => "id_card",
        (None, None) => "unknown",
    }
}

/// The text lines a read gives its answer, and whether they are the whole page's.
struct TextLines {
    front: Vec<TextLine>,
    back: Option<Vec<TextLine>>,
    full_text: bool,
}

impl DocumentRead {
    /// The answer: the document type and checks follow from the MRZ and the barcode.
    fn new(
        mrz: Option<Mrz>,
        barcode: Option<Barcode>,
        lines: TextLines,
        portrait: Option<Face>,
        today: (i32, u32, u32),
    ) -> DocumentRead {
        DocumentRead {
            document_type: document_type(mrz.as_ref(), barcode.as_ref().and_then(|b| b.aamva.as_ref())).to_string(),
            checks: checks(mrz.as_ref(), barcode.as_ref(), today),
            mrz,
            barcode,
            text_lines: lines.front,
            back_text_lines: lines.back,
            full_text: lines.full_text,
            portrait,
            today: format!("{:04}-{:02}-{:02}", today.0, today.1, today.2),
        }
    }
}

/// The MRZ among the `lines`, when there is one and every check digit holds.
fn valid_mrz<'a>(lines: impl Iterator<Item = &'a TextLine> + Clone, year: i32) -> Option<Mrz> {
    mrz_read::zone_among(lines, year).filter(|m| m.valid)
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

    /// The PDF417 of the document: on the back (every attempt) or the front (one quick pass);
    /// with neither found and no MRZ, every attempt on the front too (a licence back sent alone).
    async fn barcode(
        &self,
        front: Arc<RgbImage>,
        back: Option<Arc<RgbImage>>,
        quick_front: Option<Barcode>,
        has_mrz: bool,
    ) -> Result<Option<Barcode>, ApiError> {
        if let Some(img) = back {
            if let Some(b) = barcode::read(img, "back", false).await? {
                return Ok(Some(b));
            }
        }
        match quick_front {
            Some(b) => Ok(Some(b)),
            None if has_mrz => Ok(None),
            None => barcode::read(front, "front", false).await,
        }
    }

    /// Every line of the page read, then the MRZ (recovered from the image when those lines give
    /// no valid one), the barcode and the portrait.
    pub async fn read(&self, front: Arc<RgbImage>, back: Option<Arc<RgbImage>>) -> Result<DocumentRead, ApiError> {
        self.read_with(front, back, true).await
    }

    /// [`Self::read`]; `full_text` false reads the MRZ-shaped lines first and, when they hold a
    /// valid MRZ, decides from them, the portrait and the barcode without reading the rest of
    /// the page (`full_text: false` in the answer); otherwise it reads the whole page as `read`.
    pub async fn read_with(
        &self,
        front: Arc<RgbImage>,
        back: Option<Arc<RgbImage>>,
        full_text: bool,
    ) -> Result<DocumentRead, ApiError> {
        if !full_text {
            if let Some(read) = self.read_mrz_first(front.clone(), back.clone()).await? {
                return Ok(read);
            }
        }
        self.read_full(front, back).await
    }

    async fn read_mrz_first(
        &self,
        front: Arc<RgbImage>,
        back: Option<Arc<RgbImage>>,
    ) -> Result<Option<DocumentRead>, ApiError> {
        let back_read = async {
            match &back {
                Some(img) => self.mrz_lines(img.clone()).await.map(Some),
                None => Ok(None),
            }
        };
        let (lines, portrait, back_lines, quick_front) = futures_util::future::join4(
            self.mrz_lines(front.clone()),
            self.faces.detect(front.clone()),
            back_read,
            barcode::read(front.clone(), "front", true),
        )
        .await;
        let (lines, back_lines) = (lines?, back_lines?);
        let today = today();
        let Some(parsed) = valid_mrz(lines.iter().chain(back_lines.iter().flatten()), today.0) else {
            return Ok(None);
        };
        let portrait = portrait?.into_iter().max_by(|a, b| a.area().total_cmp(&b.area()));
        let barcode = self.barcode(front, back, quick_front?, true).await?;
        let text_lines = TextLines { front: lines, back: back_lines, full_text: false };
        Ok(Some(DocumentRead::new(Some(parsed), barcode, text_lines, portrait, today)))
    }

    /// The MRZ-shaped lines of one side, read: the zone-like band first ([`mrz_band::split`]),
    /// the other long lines as well when the band alone holds no valid MRZ.
    async fn mrz_lines(&self, img: Arc<RgbImage>) -> Result<Vec<TextLine>, ApiError> {
        let (band, other) = mrz_band::split(&self.ocr.detect_lines(img.clone()).await?);
        let mut lines = self.ocr.recognise_boxes(img.clone(), band).await?;
        if valid_mrz(lines.iter(), today().0).is_none() && !other.is_empty() {
            lines.extend(self.ocr.recognise_boxes(img, other).await?);
            lines = ocr::reading_order(lines);
        }
        Ok(lines)
    }

    async fn read_full(&self, front: Arc<RgbImage>, back: Option<Arc<RgbImage>>) -> Result<DocumentRead, ApiError> {
        let back_read = async {
            match &back {
                Some(img) => self.ocr.read(img.clone()).await.map(Some),
                None => Ok(None),
            }
        };
        let (lines, portrait, back_lines, quick_front) = futures_util::future::join4(
            self.ocr.read(front.clone()),
            self.faces.detect(front.clone()),
            back_read,
            barcode::read(front.clone(), "front", true),
        )
        .await;
        let (lines, portrait, back_lines, quick_front) =
            (lines?, portrait?.into_iter().max_by(|a, b| a.area().total_cmp(&b.area())), back_lines?, quick_front?);
        let today = today();
        // The MRZ is on the back of most ID cards and on the front of passports and visas.
        let mut parsed = mrz_read::zone_among(lines.iter().chain(back_lines.iter().flatten()), today.0);
        if !parsed.as_ref().is_some_and(Mrz::settled) {
            let (f, b) = futures_util::future::join(
                self.side_mrz(Some(front.clone()), Some(&lines), today.0),
                self.side_mrz(back.clone(), back_lines.as_deref(), today.0),
            )
            .await;
            parsed = mrz::better(mrz::better(parsed, f?), b?);
        }
        // The names printed on the page, as a second reading of the MRZ's.
        let parsed = parsed.map(|m| mrz_viz::names(m, lines.iter().chain(back_lines.iter().flatten()), today.0));
        let barcode = self.barcode(front, back, quick_front, parsed.is_some()).await?;
        let text_lines = TextLines { front: lines, back: back_lines, full_text: true };
        Ok(DocumentRead::new(parsed, barcode, text_lines, portrait, today))
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
        let c = checks(Some(&m), None, (2026, 11, 26));
        assert_eq!((c.mrz_valid, c.expired, c.age_years), (Some(true), Some(true), Some(52)));
        assert_eq!(checks(Some(&m), None, (2026, 8, 11)).age_years, Some(51), "the day before the birthday");
        assert_eq!(document_type(Some(&m), None), "passport");
        assert!(checks(None, None, (2026, 1, 1)).mrz_valid.is_none());
    }

    #[test]
    fn expiry_and_age_from_an_aamva_barcode_without_an_mrz() {
        let dl = "DLDAQ1\nDCSDOE\nDACJO\nDBB07042010\nDBA01022026\r";
        let b = Barcode::from_text(format!("@\n\x1e\rANSI 636001080001DL00310044{dl}"), "back");
        let c = checks(None, Some(&b), (2026, 11, 26));
        assert_eq!((c.barcode_valid, c.expired, c.age_years, c.mrz_valid), (Some(true), Some(true), Some(16), None));
        assert_eq!(document_type(None, b.aamva.as_ref()), "driver_license");
        let other = Barcode::from_text("not a licence".into(), "back");
        let c = checks(None, Some(&other), (2026, 11, 26));
        assert_eq!((c.barcode_valid, c.expired, c.age_years), (Some(false), None, None), "no invented dates");
        assert_eq!(other.problem.as_ref().map(|p| p.code.as_str()), Some("not_aamva"));
    }
}

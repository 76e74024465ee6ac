//! What a plate says about itself besides its number: a US plate names its state (and often
//! its slogan or website), a Mercosur plate says `BRASIL` in its band, an EU plate carries its
//! country's code under the stars. Read by the text detector with the rest of the photo, such
//! a line near a candidate names the formats its number is fitted to first; an `O` and a `0`
//! that look alike in the plate's font are then told apart by the place's layout.

use crate::{pipeline::ocr::TextLine, vision::geometry::Rect};

/// A line near a plate that names its place, and the formats of that place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cue {
    /// The words as the table has them (`TEXAS`, `BRASIL`, `E`).
    pub text: &'static str,
    pub formats: &'static [&'static str],
}

const US_ALL: &[&str] = &["us_9aaa999", "us_aaa9999", "us_aaa999", "us_999aaa", "us_aaa9aa", "us_9aa9999"];
const CA: &[&str] = &["us_9aaa999"];
const NY_TX: &[&str] = &["us_aaa9999"];
const WA: &[&str] = &["us_aaa9999", "us_999aaa"];
const FL: &[&str] = &["us_aaa9aa"];

/// Words printed above or below the number (letters only, upper case). The five states whose
/// layouts the formats know name them; any other state's name says only "the US".
const PLACES: &[(&str, &[&str])] = &[
    ("CALIFORNIA", CA),
    ("DMVCAGOV", CA),
    ("NEWYORK", NY_TX),
    ("EMPIRESTATE", NY_TX),
    ("WASHINGTON", WA),
    ("EVERGREENSTATE", WA),
    ("TEXAS", NY_TX),
    ("LONESTARSTATE", NY_TX),
    ("MYFLORIDA", FL),
    ("SUNSHINESTATE", FL),
    ("BRASIL", &["br_mercosur"]),
    ("ALABAMA", US_ALL),
    ("ALASKA", US_ALL),
    ("ARIZONA", US_ALL),
    ("ARKANSAS", US_ALL),
    ("COLORADO", US_ALL),
    ("CONNECTICUT", US_ALL),
    ("DELAWARE", US_ALL),
    ("GEORGIA", US_ALL),
    ("HAWAII", US_ALL),
    ("IDAHO", US_ALL),
    ("ILLINOIS", US_ALL),
    ("INDIANA", US_ALL),
    ("KANSAS", US_ALL),
    ("KENTUCKY", US_ALL),
    ("LOUISIANA", US_ALL),
    ("MAINE", US_ALL),
    ("MARYLAND", US_ALL),
    ("MASSACHUSETTS", US_ALL),
    ("MICHIGAN", US_ALL),
    ("MINNESOTA", US_ALL),
    ("MISSISSIPPI", US_ALL),
    ("MISSOURI", US_ALL),
    ("MONTANA", US_ALL),
    ("NEBRASKA", US_ALL),
    ("NEVADA", US_ALL),
    ("NEWHAMPSHIRE", US_ALL),
    ("NEWJERSEY", US_ALL),
    ("NEWMEXICO", US_ALL),
    ("CAROLINA", US_ALL),
    ("DAKOTA", US_ALL),
    ("OHIO", US_ALL),
    ("OKLAHOMA", US_ALL),
    ("OREGON", US_ALL),
    ("PENNSYLVANIA", US_ALL),
    ("RHODEISLAND", US_ALL),
    ("TENNESSEE", US_ALL),
    ("UTAH", US_ALL),
    ("VERMONT", US_ALL),
    ("VIRGINIA", US_ALL),
    ("WISCONSIN", US_ALL),
    ("WYOMING", US_ALL),
];

/// The country codes of the EU band (white letters under the ring of stars) whose layouts the
/// formats know.
const BANDS: &[(&str, &[&str])] = &[
    ("UA", &["ua", "ua_trailer", "ua_moto"]),
    ("F", &["fr_it"]),
    ("I", &["fr_it"]),
    ("E", &["es"]),
    ("GB", &["gb", "gb_prefix"]),
    ("UK", &["gb", "gb_prefix"]),
    ("PL", &["pl", "pl_3"]),
    ("NL", &["nl_6", "nl_7"]),
    ("B", &["be"]),
    ("P", &["pt"]),
    ("RO", &["ro"]),
    ("MD", &["md"]),
    ("D", &["de_2_2_3", "de_2_2_4", "de_1_2_4"]),
];

/// Letters only, upper case, with the digits a word is misread with read as letters.
fn letters(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c.to_ascii_uppercase() {
            '0' => Some('O'),
            '1' => Some('I'),
            '5' => Some('S'),
            '8' => Some('B'),
            c if c.is_ascii_uppercase() => Some(c),
            _ => None,
        })
        .collect()
}

/// A line of smaller print right above or below the plate's number (within [`NEAR`] of its
/// height), its centre over it. A plate seen at an angle has an upright box taller than its
/// number, which may take in the state's name: smaller print inside it counts too.
fn above_or_below(line: &Rect, plate: &Rect) -> bool {
    let c = line.centre();
    let gap = (line.y - (plate.y + plate.height)).max(plate.y - (line.y + line.height));
    (plate.x..=plate.x + plate.width).contains(&c.x)
        && gap <= NEAR * plate.height
        && line.height < SMALLER * plate.height
}

/// A place's name is printed smaller than the number: at most this share of its box's height.
pub const SMALLER: f32 = 0.7;

/// How far (in plate heights) a place's name may be from the number.
pub const NEAR: f32 = 0.75;

/// A short line at the plate's left end, within its height: the band's code.
fn at_band(line: &Rect, plate: &Rect) -> bool {
    let c = line.centre();
    c.x <= plate.x + BAND_REACH * plate.width
        && line.x + line.width >= plate.x - plate.height
        && (plate.y - 0.25 * plate.height..=plate.y + 1.25 * plate.height).contains(&c.y)
}

/// How far into the plate (share of its width) the band's code may be.
pub const BAND_REACH: f32 = 0.2;

/// The cue of the candidate at `plate` among the photo's `lines`, if a line names a place.
pub fn near(lines: &[TextLine], plate: &Rect) -> Option<Cue> {
    lines.iter().find_map(|l| {
        let words = letters(&l.text);
        if words.is_empty() {
            return None;
        }
        if above_or_below(&l.bbox, plate) {
            if let Some((text, formats)) = PLACES.iter().find(|(name, _)| words.contains(name)) {
                return Some(Cue { text, formats });
            }
        }
        // The band's code as read, letters only (a digit there is a star or a screw).
        let code: String = l.text.chars().filter(|c| !c.is_whitespace()).collect();
        if at_band(&l.bbox, plate) {
            return band(&code);
        }
        None
    })
}

/// The country band codes whose layouts the formats know.
pub fn band_codes() -> Vec<&'static str> {
    BANDS.iter().map(|(c, _)| *c).collect()
}

/// The cue of a country band's code (`E`, `NL`, `UA`, ...), if the formats know its layouts.
pub fn band(code: &str) -> Option<Cue> {
    BANDS.iter().find(|(c, _)| *c == code).map(|(text, formats)| Cue { text, formats })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::plate::{candidates::rect_box, formats};

    fn line(text: &str, x: f32, y: f32, width: f32, height: f32) -> TextLine {
        let bbox = Rect { x, y, width, height };
        TextLine { text: text.into(), confidence: 0.9, polygon: rect_box(&bbox).corners, bbox, glyphs: Vec::new() }
    }

    #[test]
    fn every_format_a_cue_names_exists() {
        for (_, names) in PLACES.iter().chain(BANDS) {
            assert!(names.iter().all(|n| formats::known(n)), "{names:?}");
        }
    }

    #[test]
    fn a_state_name_over_the_number_and_a_band_code_at_its_left_are_cues() {
        let plate = Rect { x: 479.0, y: 580.0, width: 226.0, height: 74.0 };
        let lines = [line("Washington", 527.0, 552.0, 122.0, 30.0), line("VD12691", 479.0, 580.0, 226.0, 74.0)];
        assert_eq!(near(&lines, &plate).map(|c| c.text), Some("WASHINGTON"));
        let lines = [line("E", 456.0, 657.0, 10.0, 15.0)];
        let plate = Rect { x: 461.0, y: 615.0, width: 262.0, height: 73.0 };
        assert_eq!(near(&lines, &plate).map(|c| c.formats), Some(&["es"][..]));
        // A dealer's frame far under the plate, and a state name elsewhere in the photo.
        let lines = [line("TEXAS", 100.0, 100.0, 80.0, 20.0), line("CITY MOTORS", 479.0, 760.0, 226.0, 20.0)];
        assert_eq!(near(&lines, &Rect { x: 479.0, y: 580.0, width: 226.0, height: 74.0 }), None);
    }
}

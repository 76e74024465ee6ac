//! Registration formats per region, used to score a reading and to fix the look-alike
//! characters (O/0, I/1, B/8, S/5, Z/2, G/6) at positions where the format fixes the class.
//! A format never filters: a reading that matches none is still returned, unfixed.

use serde::Serialize;

/// The regions whose formats the reader knows; `Auto` tries them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Auto,
    Us,
    Eu,
    Br,
    Cn,
}

impl Region {
    pub const NAMES: &'static [&'static str] = &["auto", "us", "eu", "br", "cn"];

    pub fn parse(s: &str) -> Option<Region> {
        Some(match s {
            "auto" => Region::Auto,
            "us" => Region::Us,
            "eu" => Region::Eu,
            "br" => Region::Br,
            "cn" => Region::Cn,
            _ => return None,
        })
    }
}

/// One format: a region, a name, one class per character (`A` a letter, `9` a digit, `#` a
/// letter other than I and O, or a digit: China's serials never use I or O; `f` the D or F of
/// China's new-energy plates) and the fewest digits it holds.
struct Format {
    region: Region,
    name: &'static str,
    pattern: &'static str,
    min_digits: usize,
}

const fn f(region: Region, name: &'static str, pattern: &'static str) -> Format {
    Format { region, name, pattern, min_digits: 0 }
}

const fn cn(name: &'static str, pattern: &'static str, min_digits: usize) -> Format {
    Format { region: Region::Cn, name, pattern, min_digits }
}

const FORMATS: &[Format] = &[
    // United States: the common passenger layouts (vanity plates match none and still read).
    f(Region::Us, "us_9aaa999", "9AAA999"), // California
    f(Region::Us, "us_aaa9999", "AAA9999"), // Washington, New York, Texas, Ohio, ...
    f(Region::Us, "us_aaa999", "AAA999"),   // older layouts
    f(Region::Us, "us_999aaa", "999AAA"),   // Washington older, ...
    f(Region::Us, "us_aaa9aa", "AAA9AA"),   // Florida
    f(Region::Us, "us_9aa9999", "9AA9999"),
    // Europe: national layouts without the country band.
    f(Region::Eu, "ua", "AA9999AA"),
    f(Region::Eu, "ua_trailer", "99999AA"),
    f(Region::Eu, "ua_moto", "9999AA"), // two rows: four digits over two letters
    f(Region::Eu, "fr_it", "AA999AA"),
    f(Region::Eu, "es", "9999AAA"),
    f(Region::Eu, "gb", "AA99AAA"),
    f(Region::Eu, "gb_prefix", "A999AAA"),
    f(Region::Eu, "pl", "AA99999"),
    f(Region::Eu, "pl_3", "AAA9999"),
    f(Region::Eu, "nl_6", "99AAA9"),
    f(Region::Eu, "nl_7", "9AAA99"),
    f(Region::Eu, "be", "9AAA999"),
    f(Region::Eu, "pt", "AA99AA"),
    f(Region::Eu, "ro", "AA99AAA"),
    f(Region::Eu, "md", "AAA999"),
    f(Region::Eu, "de_2_2_3", "AAAA999"),
    f(Region::Eu, "de_2_2_4", "AAAA9999"),
    f(Region::Eu, "de_1_2_4", "AAA9999"),
    // Brazil: the old grey plates and Mercosur.
    f(Region::Br, "br_old", "AAA9999"),
    f(Region::Br, "br_mercosur", "AAA9A99"),
    // China, after the province character (not an ASCII letter, so not part of `text`): a
    // letter and five of digits and at most two letters; new-energy plates carry D or F.
    cn("cn", "A#####", 3),
    cn("cn_new_energy", "Af#####", 4),
    cn("cn_new_energy_large", "A99999f", 5),
];

/// A reading needing more fixes than this matches no format (a word is no plate).
pub const MAX_FIXES: usize = 2;

/// The same under `Auto`, where some format of some region fits most short readings with two
/// fixes (measured on the dev plates: two fixes under `auto` gained as many as they cost).
pub const MAX_AUTO_FIXES: usize = 1;

/// One character changed because the format fixes its class.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Fix {
    pub position: usize,
    pub from: char,
    pub to: char,
}

/// A character of the reading left out of the plate's text (its position in the reading).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Dropped {
    pub position: usize,
    pub from: char,
}

/// A reading fitted to the best format.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub text: String,
    /// The region and name of the format it matches, when it matches one.
    pub format: Option<(Region, &'static str)>,
    pub fixes: Vec<Fix>,
    /// The country band's letter read as the reading's first character, when it was dropped.
    pub dropped: Option<Dropped>,
}

fn to_digit(c: char) -> Option<char> {
    Some(match c {
        'O' | 'D' | 'Q' => '0',
        'I' | 'L' => '1',
        'Z' => '2',
        'S' => '5',
        'G' => '6',
        'B' => '8',
        _ => return None,
    })
}

fn to_letter(c: char) -> Option<char> {
    Some(match c {
        '0' => 'O',
        '1' => 'I',
        '2' => 'Z',
        '5' => 'S',
        '6' => 'G',
        '8' => 'B',
        _ => return None,
    })
}

/// `text` fitted to `pattern`: the fixes it needs, or `None` when it cannot match.
fn fit(text: &[char], pattern: &str) -> Option<Vec<Fix>> {
    if text.len() != pattern.chars().count() {
        return None;
    }
    let mut fixes = Vec::new();
    for (i, (&c, p)) in text.iter().zip(pattern.chars()).enumerate() {
        let to = match p {
            'A' if c.is_ascii_uppercase() => None,
            'A' => Some(to_letter(c)?),
            '9' if c.is_ascii_digit() => None,
            '9' => Some(to_digit(c)?),
            '#' if c == 'I' || c == 'O' => to_digit(c),
            '#' if c.is_ascii_alphanumeric() => None,
            'f' if c == 'D' || c == 'F' => None,
            _ => return None,
        };
        if let Some(to) = to {
            fixes.push(Fix { position: i, from: c, to });
        }
    }
    Some(fixes)
}

/// `text` (upper-case letters and digits) fitted to the format of `region` (every region for
/// `Auto`, `hint`'s first when there is one) that needs the fewest fixes. The hint is a
/// preference, not a filter: a reading that fits none of its region's formats is fitted to
/// every region's (an ideograph read from a flag on a Ukrainian plate's band).
pub fn best(text: &str, region: Region, hint: Option<Region>) -> Fitted {
    let hinted = best_in(text, region, hint);
    match (region, hint, &hinted.format) {
        (Region::Auto, Some(_), None) => best_in(text, region, None),
        _ => hinted,
    }
}

fn best_in(text: &str, region: Region, hint: Option<Region>) -> Fitted {
    // A reading that points to a region by itself (a Chinese province character) is scored by
    // that region's formats alone under `Auto`.
    let region = match (region, hint) {
        (Region::Auto, Some(h)) => h,
        _ => region,
    };
    let max_fixes = if region == Region::Auto { MAX_AUTO_FIXES } else { MAX_FIXES };
    fit_among(text, |fm| region == Region::Auto || fm.region == region, max_fixes)
}

/// `text` fitted to the named formats alone (those of a place the plate names: a state, a
/// country's band), with up to [`MAX_FIXES`]; unmatched when none fits.
pub fn best_of(text: &str, names: &[&str]) -> Fitted {
    fit_among(text, |fm| names.contains(&fm.name), MAX_FIXES)
}

fn fit_among(text: &str, allowed: impl Fn(&Format) -> bool, max_fixes: usize) -> Fitted {
    let chars: Vec<char> = text.chars().collect();
    let mut best: Option<Fitted> = None;
    for fmt in FORMATS.iter().filter(|fm| allowed(fm)) {
        let Some(fixes) = fit(&chars, fmt.pattern) else { continue };
        if fixes.len() > max_fixes || best.as_ref().is_some_and(|b| b.fixes.len() <= fixes.len()) {
            continue;
        }
        let mut fixed = chars.clone();
        for fx in &fixes {
            fixed[fx.position] = fx.to;
        }
        if fixed.iter().filter(|c| c.is_ascii_digit()).count() >= fmt.min_digits {
            best = Some(Fitted {
                text: fixed.into_iter().collect(),
                format: Some((fmt.region, fmt.name)),
                fixes,
                dropped: None,
            });
        }
    }
    best.unwrap_or_else(|| Fitted { text: text.to_string(), format: None, fixes: Vec::new(), dropped: None })
}

/// Whether `name` is one of the formats (for the tables of [`super::cues`]).
pub fn known(name: &str) -> bool {
    FORMATS.iter().any(|f| f.name == name)
}

/// The shortest reading whose first character may be the country band's.
pub const BAND_MIN: usize = 7;

/// [`best`] for a reading of a plate with a country band at its left (the blue EU band, the
/// Ukrainian flag): when the reading fits no format but does without its first character (the
/// band's letter, `F` in `FSE676PK`), that fit, with the character listed as dropped.
pub fn best_after_band(text: &str, region: Region, hint: Option<Region>) -> Fitted {
    let fitted = best(text, region, hint);
    let Some(first) = text.chars().next() else { return fitted };
    if fitted.format.is_some() || text.chars().count() < BAND_MIN {
        return fitted;
    }
    let rest = best(&text[first.len_utf8()..], region, hint);
    match rest.format {
        Some(_) => Fitted { dropped: Some(Dropped { position: 0, from: first }), ..rest },
        None => fitted,
    }
}

/// Letters and digits only, upper case (no character is guessed here: the formats fix them).
pub fn normalise(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// The region a raw reading points to by itself: a CJK character (a Chinese province), or the
/// middle dot of a Chinese plate, which follows its first one or two characters (the province
/// and the authority's letter) and comes before the serial. A dot elsewhere (at the end of a
/// row, after a longer group) is a separator of another country's plate or the recogniser's
/// reading of a screw or a sticker.
pub fn hint(raw: &str) -> Option<Region> {
    let cn_dot = |row: &str| {
        let chars: Vec<char> = row.chars().collect();
        chars.iter().enumerate().any(|(i, &c)| {
            c == '·' && (1..=2).contains(&i) && chars[i + 1..].iter().filter(|c| c.is_alphanumeric()).count() >= 4
        })
    };
    let ideograph = raw.chars().any(|c| c != '·' && chinese_mark(c));
    (ideograph || raw.split(' ').any(cn_dot)).then_some(Region::Cn)
}

/// The ideographs of China's registration plates: the 31 provinces' abbreviations, the
/// suffixes of embassy, consulate, police, learner, trailer, Hong Kong and Macau plates, and
/// the test and over-limit marks.
pub const CHINESE_PLATE_IDEOGRAPHS: &str =
    "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领警学挂港澳试超";

/// A Chinese plate's ideograph ([`CHINESE_PLATE_IDEOGRAPHS`]) or its middle dot. Other CJK
/// ideographs never appear on a plate: allowed, the recogniser reads a Latin `M` as `网`.
pub fn chinese_mark(c: char) -> bool {
    c == '·' || CHINESE_PLATE_IDEOGRAPHS.contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_fixes_look_alikes_where_it_fixes_the_class_and_lists_each_fix() {
        let fx = best("AT6883CM", Region::Eu, None);
        assert_eq!((fx.text.as_str(), fx.format.map(|f| f.1), fx.fixes.len()), ("AT6883CM", Some("ua"), 0));
        let fx = best("A0I382HB", Region::Eu, None);
        assert_eq!((fx.text.as_str(), fx.fixes.len()), ("AO1382HB", 2));
        let fx = best("8QU4895", Region::Br, None);
        assert_eq!(fx.text, "BQU4895");
        assert_eq!(fx.fixes, vec![Fix { position: 0, from: '8', to: 'B' }]);
        // China's serials never hold I or O.
        let fx = best("ATIY68", Region::Cn, None);
        assert_eq!(fx.text, "AT1Y68");
        let fx = best("GROL16", Region::Auto, Some(Region::Cn));
        assert_eq!((fx.text.as_str(), fx.format.map(|f| f.0)), ("GR0L16", Some(Region::Cn)));
        // A province character puts China's formats first; a reading that fits none of them
        // is fitted to every region's (a Ukrainian plate whose flag was read as an ideograph).
        let fx = best("A11382HB", Region::Auto, Some(Region::Cn));
        assert_eq!((fx.text.as_str(), fx.format.map(|f| f.1)), ("AI1382HB", Some("ua")));
        assert_eq!(best("A821M83", Region::Auto, Some(Region::Cn)).format, None, "two fixes are too many under auto");
        assert!(best("A821M83", Region::Br, None).format.is_some(), "Mercosur with two fixes");
        assert!(best("A821M83", Region::Auto, None).format.is_none(), "two fixes are too many under auto");
    }

    #[test]
    fn a_reading_that_matches_no_format_is_kept_as_read() {
        // Seven letters are no Chinese new-energy plate (five digits or so after the D or F).
        assert_eq!(best("GOCOUGS", Region::Auto, None).format, None);
        assert_eq!(best("GOCOUGS", Region::Br, None).format, None, "three fixes are too many");
        let fx = best("WATTUP", Region::Us, None);
        assert_eq!((fx.text.as_str(), fx.format, fx.fixes.len()), ("WATTUP", None, 0));
        assert_eq!(best("ADMSAPL", Region::Auto, None).text, "ADMSAPL");
    }

    #[test]
    fn a_band_letter_read_before_the_plate_is_dropped_and_listed() {
        let fx = best_after_band("FSE676PK", Region::Auto, None);
        assert_eq!((fx.text.as_str(), fx.format.map(|f| f.1)), ("SE676PK", Some("fr_it")));
        assert_eq!(fx.dropped, Some(Dropped { position: 0, from: 'F' }));
        // A reading that fits as read, or is too short, keeps its first character.
        assert_eq!(best_after_band("AT6883CM", Region::Auto, None).dropped, None);
        assert_eq!(best_after_band("ADMSAPL", Region::Auto, None).text, "ADMSAPL");
    }

    #[test]
    fn exact_matches_win_over_fixed_ones() {
        // Matches the UA layout as read; no format makes it change.
        assert_eq!(best("BE7425CB", Region::Auto, None).fixes, vec![]);
        assert_eq!(normalise("5AU-5341"), "5AU5341");
        assert_eq!(normalise("川A·L0Q87"), "AL0Q87");
        assert_eq!(hint("川A·L0Q87"), Some(Region::Cn));
        assert_eq!(hint("AT 6883 CM"), None);
        assert_eq!(hint("A·L0Q87"), Some(Region::Cn), "the province character missed");
        assert_eq!(hint("BE· 0886 AA"), None, "a dot at the end of a row");
        assert_eq!(hint("OF613·VVM"), None, "a separator after a longer group");
    }
}

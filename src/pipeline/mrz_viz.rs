//! The visual zone's names as a second reading of the MRZ's. Names carry no check digit, so a
//! filler the recogniser read as a letter inside a name (`AL<KAABI` read `ALRKAABI` under a
//! SPECIMEN stamp) passes every check. The page's printed name (`AL-KAABI`) is the same name
//! with its hyphen or space where the MRZ has its filler (ICAO 9303 part 3, 6.A: punctuation
//! in a name becomes a filler). Where one name of the MRZ matches a word of the page's text
//! letter for letter but at one place, and the page has a separator there, that place is a
//! filler; the change is listed in `repairs`.

use super::{
    mrz::{self, Mrz},
    ocr::TextLine,
};

/// The shortest name compared: shorter ones match too many words by chance.
const MIN_NAME: usize = 5;

/// A page line as the MRZ would spell it: capitals, with a space, hyphen or apostrophe as
/// the filler.
fn as_mrz(text: &str) -> Vec<char> {
    text.chars()
        .flat_map(char::to_uppercase)
        .map(|c| if matches!(c, ' ' | '-' | '\'' | '’') { '<' } else { c })
        .collect()
}

/// The fillers the page's `words` say one name of `field` lost: (column in the field, letter
/// read there). Each name of five letters or more is compared with every whole word of the
/// same length; a match that differs at one inner place, where the page has a separator,
/// gives that place. Names several words would change differently are left alone.
fn lost_fillers(field: &[char], words: &[Vec<char>]) -> Vec<(usize, char)> {
    let mut found = Vec::new();
    let mut start = 0;
    while start < field.len() {
        let len = field[start..].iter().take_while(|&&c| c != '<').count();
        if len >= MIN_NAME {
            let name = &field[start..start + len];
            let mut fixes: Vec<usize> = Vec::new();
            for v in words {
                for at in 0..v.len().saturating_sub(len - 1) {
                    let bounded = (at == 0 || !v[at - 1].is_alphanumeric())
                        && v.get(at + len).is_none_or(|c| !c.is_alphanumeric());
                    let window = &v[at..at + len];
                    let diff: Vec<usize> = (0..len).filter(|&i| window[i] != name[i]).collect();
                    if let (true, &[i]) = (bounded, &diff[..]) {
                        if i > 0 && i + 1 < len && window[i] == '<' && !fixes.contains(&i) {
                            fixes.push(i);
                        }
                    }
                }
            }
            if let [i] = fixes[..] {
                found.push((start + i, name[i]));
            }
        }
        start += len.max(1);
    }
    found
}

/// `m` with the fillers the page's `lines` show in its names put back (see the module), when
/// the zone parses as before with them; `m` itself otherwise.
pub fn names<'a>(m: Mrz, lines: impl Iterator<Item = &'a TextLine>, this_year: i32) -> Mrz {
    let (line, from, to) = m.format.names();
    let Some(field) = m.lines.get(line).map(|l| l.chars().collect::<Vec<char>>()) else { return m };
    if field.len() < to {
        return m;
    }
    let words: Vec<Vec<char>> = lines.map(|l| as_mrz(&l.text)).collect();
    let lost = lost_fillers(&field[from..to], &words);
    if lost.is_empty() {
        return m;
    }
    let mut zone: Vec<Vec<char>> = m.lines.iter().map(|l| l.chars().collect()).collect();
    for &(col, _) in &lost {
        zone[line][from + col] = '<';
    }
    let zone: Vec<String> = zone.into_iter().map(String::from_iter).collect();
    let Some(p) = mrz::parse(&zone, this_year).filter(|p| p.valid == m.valid) else { return m };
    let mut repairs = m.repairs.clone();
    repairs.extend(lost.iter().map(|&(col, c)| (line, from + col, c, '<')));
    repairs.extend(p.repairs.iter().filter(|r| !m.repairs.contains(r)));
    Mrz { repairs, ..p }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(texts: &[&str]) -> Vec<TextLine> {
        let at = crate::vision::geometry::Point { x: 0.0, y: 0.0 };
        let bbox = crate::vision::geometry::Rect { x: 0.0, y: 0.0, width: 1.0, height: 1.0 };
        texts
            .iter()
            .map(|t| TextLine { text: t.to_string(), confidence: 0.9, polygon: [at; 4], bbox, glyphs: Vec::new() })
            .collect()
    }

    const QAT: [&str; 2] =
        ["P<QATALRKAABI<<ALI<HAMAD<ABDULLAH<<<<<<<<<<<", "00000000<0QAT7103070M110725012345458902<<<78"];

    #[test]
    fn a_hyphen_in_the_printed_name_is_the_filler_the_mrz_lost() {
        // The Qatari specimen of the dev set: its filler under the stamp read as `R`.
        let m = mrz::parse(&QAT.map(String::from), 2026).unwrap();
        let fixed = names(m, page(&["Name", "ALI HAMAD ABDULLAH AL-KAABI", "QATAR"]).iter(), 2026);
        assert_eq!(fixed.lines[0], "P<QATAL<KAABI<<ALI<HAMAD<ABDULLAH<<<<<<<<<<<");
        assert_eq!((fixed.surname.as_str(), fixed.valid), ("AL KAABI", true));
        assert!(fixed.repairs.contains(&(0, 7, 'R', '<')));
    }

    #[test]
    fn names_the_page_does_not_show_apart_at_one_place_are_left_alone() {
        let m = mrz::parse(&QAT.map(String::from), 2026).unwrap();
        // A hyphen dropped in the MRZ (no filler: a different length), the name as printed
        // letter for letter, a word that differs at two places, and a separator at the end.
        for text in ["AL-KAABIS", "ALRKAABI", "AB-KAABE", "ALRKAAB-", "XALRK-ABI"] {
            let same = names(m.clone(), page(&[text]).iter(), 2026);
            assert_eq!(same, m, "{text}");
        }
    }
}

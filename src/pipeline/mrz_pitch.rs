//! An OCR line that reads like an MRZ line but is a few characters off its known length (30,
//! 36 or 44), brought to it by where its characters were read. OCR-B is a fixed-pitch font, so
//! the recogniser's characters come at one spacing along the line: a character it dropped
//! leaves a gap of two pitches (mostly a filler: thin, faint, and in runs), and one it read
//! twice (`〇0` at one place) leaves two characters closer than half a pitch. Without this the
//! line is padded or cut at its end, which shifts every character after the place and loses a
//! name's filler (`BER<RILIRI` for `BER<<RILIRI`) without a trace in any check digit.
//! Before that, a character the recogniser doubted enough is read as its rival (an `H` it gave
//! `I` 0.1: [`ctc::rival_wins`]), which no check digit settles in a name either.

use crate::{
    pipeline::{mrz, ocr::TextLine},
    vision::ctc::{self, Glyph},
};

/// The MRZ line lengths.
const LENGTHS: [usize; 3] = [30, 36, 44];
/// Most characters added or removed in one line.
const MAX_FIX: usize = 3;
/// Two characters closer than this many pitches are one character read twice.
const SAME_PLACE: f32 = 0.5;
/// A gap of at least this many pitches has lost a character.
const LOST: f32 = 1.6;
/// The text of `line` for the MRZ finder: when it holds MRZ characters only (after
/// [`mrz::normalise`]) and is one to three characters off exactly one MRZ length, its
/// characters added (fillers, where a gap lost one) or merged (the likelier of two at one
/// place) by their spacing, towards that length; otherwise its text as read.
pub fn fitted(line: &TextLine) -> String {
    fitted_text(&line.text, &line.glyphs)
}

/// [`fitted`] for a text read with these glyphs (one per character that is not whitespace).
pub fn fitted_text(text: &str, glyphs: &[Glyph]) -> String {
    fitted_with(text, glyphs, ctc::rival_wins)
}

/// [`fitted`] with every glyph the recogniser doubted ([`ctc::rival_doubted`]) read as its
/// rival: a second reading for the parser to weigh ([`mrz::cleaner`]).
pub fn doubted(line: &TextLine) -> String {
    doubted_text(&line.text, &line.glyphs)
}

/// [`doubted`] for a text read with these glyphs.
pub fn doubted_text(text: &str, glyphs: &[Glyph]) -> String {
    fitted_with(text, glyphs, ctc::rival_doubted)
}

/// The text fitted with the rivals `take` says win.
fn fitted_with(text: &str, glyphs: &[Glyph], take: fn(char, Option<(char, f32)>) -> Option<char>) -> String {
    let text = &rivals_taken(text, glyphs, take);
    let norm: Vec<char> = mrz::normalise(text).chars().collect();
    if norm.len() != glyphs.len() || norm.len() < LENGTHS[0] - MAX_FIX {
        return text.to_string();
    }
    let chars: Vec<(char, Glyph)> =
        norm.iter().copied().zip(glyphs.iter().copied()).filter(|&(c, _)| mrz::is_mrz_char(c)).collect();
    let n = chars.len();
    let near: Vec<usize> = LENGTHS.into_iter().filter(|l| n.abs_diff(*l) <= MAX_FIX).collect();
    match near[..] {
        [len] if n != len && n * 10 >= norm.len() * 9 && chars.iter().any(|c| c.0 == '<') => {
            regularise(chars, len).into_iter().map(|c| c.0).collect()
        }
        _ => text.to_string(),
    }
}

/// `text` with each character the recogniser doubted enough read as its rival (`take`:
/// [`ctc::rival_wins`]: an `H` it gave `I` 0.1 is an OCR-B `I`).
fn rivals_taken(text: &str, glyphs: &[Glyph], take: fn(char, Option<(char, f32)>) -> Option<char>) -> String {
    if text.chars().filter(|c| !c.is_whitespace()).count() != glyphs.len() {
        return text.to_string();
    }
    let mut g = glyphs.iter();
    text.chars()
        .map(|c| if c.is_whitespace() { c } else { g.next().and_then(|g| take(c, g.rival)).unwrap_or(c) })
        .collect()
}

/// The line's pitch: the mean spacing of neighbouring characters, from the spacings near
/// their median (a lost character's gap and a doubled one's left out).
fn pitch(chars: &[(char, Glyph)]) -> Option<f32> {
    let mut gaps: Vec<f32> = chars.windows(2).map(|w| w[1].1.x - w[0].1.x).collect();
    if gaps.len() < 8 {
        return None;
    }
    gaps.sort_by(f32::total_cmp);
    let median = gaps[gaps.len() / 2];
    let near: Vec<f32> = gaps.into_iter().filter(|g| (0.6 * median..=1.4 * median).contains(g)).collect();
    (median > 0.0 && !near.is_empty()).then(|| near.iter().sum::<f32>() / near.len() as f32)
}

/// `chars` brought towards `len` characters: the closest pair under half a pitch merged into
/// its likelier character, or a filler put into the widest gap of 1.6 pitches or more, one at a
/// time, while the count is off and such a place remains.
fn regularise(mut chars: Vec<(char, Glyph)>, len: usize) -> Vec<(char, Glyph)> {
    let Some(p) = pitch(&chars) else { return chars };
    let gap = |c: &[(char, Glyph)], i: usize| c[i + 1].1.x - c[i].1.x;
    while chars.len() > len {
        let Some(i) = (0..chars.len() - 1).min_by(|&a, &b| gap(&chars, a).total_cmp(&gap(&chars, b))) else { break };
        if gap(&chars, i) >= SAME_PLACE * p {
            break;
        }
        let weaker = if chars[i].1.p >= chars[i + 1].1.p { i + 1 } else { i };
        chars.remove(weaker);
    }
    while chars.len() < len {
        let Some(i) = (0..chars.len() - 1).max_by(|&a, &b| gap(&chars, a).total_cmp(&gap(&chars, b))) else { break };
        if gap(&chars, i) < LOST * p {
            break;
        }
        let x = chars[i].1.x + p;
        chars.insert(i + 1, ('<', Glyph { x, p: 0.0, rival: None }));
    }
    chars
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::geometry::{Point, Rect};

    /// A line read as `text` with its characters at `xs`.
    fn line(text: &str, xs: &[f32]) -> TextLine {
        let glyphs = xs.iter().map(|&x| Glyph { x, p: 0.9, rival: None }).collect();
        let p = Point { x: 0.0, y: 0.0 };
        TextLine {
            text: text.into(),
            confidence: 0.9,
            polygon: [p; 4],
            bbox: Rect { x: 0.0, y: 0.0, width: 0.0, height: 0.0 },
            glyphs,
        }
    }

    /// Characters at a pitch of 4 steps, with the given places skipped.
    fn at_pitch(n: usize, skipped: &[usize]) -> Vec<f32> {
        (0..n + skipped.len()).filter(|i| !skipped.contains(i)).map(|i| 2.0 + 4.0 * i as f32).collect()
    }

    #[test]
    fn a_filler_lost_inside_a_name_comes_back_where_it_was_lost() {
        // `POSWEMABER<<RILIRI` read with one filler of the pair dropped: the gap is two pitches.
        let text = "POSWEMABER<RILIRI<<<<<<<<<<<<<<<<<<<<<<<<<<";
        let xs = at_pitch(43, &[11]);
        assert_eq!(fitted(&line(text, &xs)), "POSWEMABER<<RILIRI<<<<<<<<<<<<<<<<<<<<<<<<<<");
        // At the end of the line there is no gap to see: the text is left to the finder's pad.
        let xs = at_pitch(43, &[]);
        assert_eq!(fitted(&line(text, &xs)), text);
    }

    #[test]
    fn a_character_read_twice_at_one_place_is_one() {
        // `F〇0<Z0` of `FO<ZO`: `〇` and `0` a step apart; the likelier stays.
        let text = "V<IRLVAN<DENOQUAN<<F〇0<Z0<<<<<<<<<<<<";
        let mut xs = at_pitch(36, &[]);
        xs.insert(21, xs[20] + 1.0);
        let mut l = line(text, &xs);
        l.glyphs[20].p = 0.8;
        l.glyphs[21].p = 0.6;
        assert_eq!(fitted(&l), "V<IRLVAN<DENOQUAN<<FO<Z0<<<<<<<<<<<<");
    }

    #[test]
    fn a_character_the_recogniser_doubted_enough_is_its_rival() {
        // `V<AUSINYAFOZO` read `HNYAFOZO`, the `H` with `I` at 0.40; the other `H` with 0.02.
        let text = "V<AUSHNYAFOZO<<HA<<<<<<<<<<<<<<<<<<<<<<<<<<<";
        let mut l = line(text, &at_pitch(44, &[]));
        l.glyphs[5].rival = Some(('I', 0.40));
        l.glyphs[15].rival = Some(('I', 0.02));
        assert_eq!(fitted(&l), "V<AUSINYAFOZO<<HA<<<<<<<<<<<<<<<<<<<<<<<<<<<");
        // Each confusion at its own level: a `2` needs 0.2 of `Z`.
        let data = "3D8TU6KZ13UKR4612230F3401077<<<<<<<<<<<<<<<<";
        let mut d = line(data, &at_pitch(44, &[]));
        d.glyphs[16].rival = Some(('Z', 0.3));
        d.glyphs[17].rival = Some(('Z', 0.15));
        assert_eq!(fitted(&d), "3D8TU6KZ13UKR461Z230F3401077<<<<<<<<<<<<<<<<");
        // Glyphs that do not match the text's characters: as read.
        l.glyphs.pop();
        assert_eq!(fitted(&l), text);
    }

    #[test]
    fn lines_of_the_right_length_or_not_like_an_mrz_are_left_as_read() {
        let ok = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
        assert_eq!(fitted(&line(ok, &at_pitch(44, &[]))), ok);
        let prose = "Surname and given names of the holder here";
        assert_eq!(fitted(&line(prose, &at_pitch(34, &[5]))), prose);
        // No glyphs (a line made otherwise): as read.
        assert_eq!(fitted(&line("POSWEMABER<RILIRI<<<<<<<<<<<<<<<<<<<<<<<<<<", &[])).len(), 43);
    }
}

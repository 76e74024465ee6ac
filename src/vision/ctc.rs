//! Greedy CTC decoding of a recogniser's per-step class probabilities.

/// Decodes `steps` x `classes` probabilities (row-major) with `charset[i - 1]` for class i
/// (class 0 is the blank). Returns the text and the mean probability of its characters.
pub fn decode(probs: &[f32], steps: usize, classes: usize, charset: &[String]) -> (String, f32) {
    decode_masked(probs, steps, classes, charset, None)
}

/// What each class counts as under an alphabet: itself when `alphabet` allows it, the class
/// of its first allowed look-alike otherwise ([`look_alike`]), else nothing. The blank is
/// always itself. A look-alike adds its probability to the class it stands for at a step
/// instead of leaving the step to the blank or to the next best letter (an `〇` or `o` the
/// recogniser prefers in a name is an `O`, not a dropped letter; a `Λ` among MRZ fillers is a
/// filler, not an `A`).
pub fn mask(charset: &[String], alphabet: impl Fn(&str) -> bool) -> Vec<Option<usize>> {
    let index = |c: &str| charset.iter().position(|x| x == c).map(|i| i + 1);
    let classes = charset.iter().map(|c| {
        if alphabet(c) {
            return index(c);
        }
        let mut it = c.chars();
        let (ch, None) = (it.next()?, it.next()) else { return None };
        let alike = look_alike(ch, &|a| alphabet(a.encode_utf8(&mut [0; 4])) && index(&a.to_string()).is_some())?;
        index(&alike.to_string())
    });
    std::iter::once(Some(0)).chain(classes).collect()
}

/// The first character `allowed` accepts among those `ch` is a rendering of, as the PP-OCR
/// recognisers print Latin capitals, digits and the MRZ filler: lower case as upper case,
/// full-width forms as ASCII, Greek capitals as the Latin ones they look like, `〇` and `○`
/// as `O` (else `0`), `∪` as `U`, `Ⅰ` as `I`, `«`, `‹`, `(`, `[`, `{`, `≤`, `^` as the filler
/// `<`, and `Λ`, `∧` (a filler's usual misreading) as `<`, else `A`.
pub fn look_alike(ch: char, allowed: &dyn Fn(char) -> bool) -> Option<char> {
    let options: &[char] = match ch {
        '«' | '‹' | '(' | '[' | '{' | '≤' | '^' => &['<'],
        'Λ' | '∧' => &['<', 'A'],
        '〇' | '○' | 'Ο' => &['O', '0'],
        'Ⅰ' | 'Ι' => &['I', '1'],
        _ => {
            if let Some(&(_, latin)) = LATIN_ALIKES.iter().find(|&&(c, _)| c == ch) {
                return Some(latin).filter(|&c| allowed(c));
            }
            let wide = ('\u{FF01}'..='\u{FF5E}').contains(&ch).then(|| char::from_u32(ch as u32 - 0xFEE0)).flatten();
            let c = wide.unwrap_or(ch).to_ascii_uppercase();
            return match c {
                c if c == ch => None,
                c if allowed(c) => Some(c),
                c => look_alike(c, allowed),
            };
        }
    };
    options.iter().copied().find(|&c| allowed(c))
}

/// Greek capitals (and `∪`) the recognisers print for the Latin capital they look like.
const LATIN_ALIKES: [(char, char); 13] = [
    ('Α', 'A'),
    ('Β', 'B'),
    ('Ε', 'E'),
    ('Ζ', 'Z'),
    ('Η', 'H'),
    ('Κ', 'K'),
    ('Μ', 'M'),
    ('Ν', 'N'),
    ('Ρ', 'P'),
    ('Τ', 'T'),
    ('Υ', 'Y'),
    ('Χ', 'X'),
    ('∪', 'U'),
];

/// One character of a reading: where the recogniser emitted it (the centre of its run of
/// steps, in steps from the input's left edge: one step is a fixed number of input pixels) and
/// its probability. A fixed-pitch font's characters come at a regular spacing of these.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glyph {
    pub x: f32,
    pub p: f32,
    /// For a character of a known confusion ([`rivals`]): the character it may stand for and
    /// the most probability that one's renderings got together at one of the glyph's steps.
    pub rival: Option<(char, f32)>,
}

/// A class the recogniser is known to emit for another character, and the classes of that
/// character's renderings (see [`rivals`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Rival {
    pub class: usize,
    pub stands_for: char,
    pub renderings: Vec<usize>,
    /// The probability from which the glyph is read as the rival.
    pub level: f32,
}

/// The confusions [`rivals`] tracks: what the recogniser emits, what it may stand for, that
/// character's renderings, and the probability of them at one of the glyph's steps from which
/// the glyph is read as the rival ([`rival_wins`]). PP-OCRv6 tiny reads OCR-B's serifed `I` as
/// `H`, its `J` as `U`, its `S` as `8` and its `Z` as `2` or `N`. The levels were measured on
/// the 500 synthetic documents of `make eval-documents` (the most a true character gave its
/// rival, and what the misread ones gave): `H`/`I` 0.02 over 324, 0.16-0.41 over 10; `U`/`J`
/// 0.005 over 517, 0.20 (one); `8`/`S` 0.013 over 1,178, 0.54 (one); `2`/`Z` 0.095 over
/// 2,061, 0.05-0.50 over 8 (6 above 0.2); `N`/`Z` 0.05 over 980, 0.39 (one). `Z` as `2` is
/// not one: true `Z`s gave `2` up to 0.42. Two more from the dev set's real scans (2026-12-05,
/// every glyph of both sets logged): an `M` printed as `H` (usa_bcc: `M` 0.28; on synthetic no
/// `H` of 924 gave `M` 0.2) and a filler as `A` (asu_pass's document code `PA`, `<` 0.39; 1 `A`
/// of 1,277 on dev and 29 of 4,998 on synthetic gave `<` 0.35 or more, and the synthetic
/// reads did not change). A glyph with several rivals is read as the one furthest past its
/// level. The last column is a lower level, the glyph's *doubt*: a reading with every doubted
/// glyph taken as its rival is parsed too, and kept only when it needs fewer repairs
/// ([`mrz::cleaner`](crate::pipeline::mrz::cleaner)). `1` for `I` is only a doubt: true `1`s
/// give `I` up to 0.45 (37 of 4,547 on synthetic over 0.15), the misread `I` of nld_rp gave
/// 0.2, and its check digits settle it. `C` for a filler: no `C` of 1,290 on synthetic gave `<`
/// 0.1; nld_rp's names line gave 0.37.
const CONFUSIONS: [(char, char, &[&str], f32, f32); 9] = [
    ('H', 'I', &["I", "1", "l", "|", "Ｉ", "Ⅰ", "Ι", "ｌ", "!"], 0.1, 0.1),
    ('U', 'J', &["J", "j", "Ｊ"], 0.1, 0.1),
    ('8', 'S', &["S", "s", "Ｓ"], 0.1, 0.1),
    ('2', 'Z', &["Z", "z", "Ｚ"], 0.2, 0.2),
    ('N', 'Z', &["Z", "z", "Ｚ"], 0.15, 0.15),
    ('H', 'M', &["M", "Ｍ", "Μ"], 0.25, 0.25),
    ('A', '<', FILLERS, 0.35, 0.35),
    ('C', '<', FILLERS, 0.3, 0.3),
    ('1', 'I', &["I", "Ｉ", "Ⅰ", "Ι"], NEVER, 0.15),
];

/// A level no probability reaches: a doubt only.
const NEVER: f32 = 1.01;

/// The filler's renderings (see [`look_alike`]).
const FILLERS: &[&str] = &["<", "«", "‹", "(", "[", "{", "≤", "^", "Λ", "∧"];

/// The [`Rival`]s of `charset` (class `i + 1` is `charset[i]`), built once per recogniser.
pub fn rivals(charset: &[String]) -> Vec<Rival> {
    let index = |c: &str| charset.iter().position(|x| x == c).map(|i| i + 1);
    CONFUSIONS
        .iter()
        .filter_map(|&(emitted, stands_for, renderings, level, _)| {
            Some(Rival {
                class: index(&emitted.to_string())?,
                stands_for,
                renderings: renderings.iter().filter_map(|r| index(r)).collect(),
                level,
            })
        })
        .filter(|r| !r.renderings.is_empty())
        .collect()
}

/// The rival a character read as `emitted` with this [`Glyph::rival`] stands for, when the
/// rival's probability reached the level of [`CONFUSIONS`] for that pair.
pub fn rival_wins(emitted: char, rival: Option<(char, f32)>) -> Option<char> {
    let (r, q) = rival?;
    CONFUSIONS.iter().any(|&(e, stands_for, _, level, _)| e == emitted && stands_for == r && q >= level).then_some(r)
}

/// [`rival_wins`] at the lower level of a doubt (the last column of [`CONFUSIONS`]).
pub fn rival_doubted(emitted: char, rival: Option<(char, f32)>) -> Option<char> {
    let (r, q) = rival?;
    CONFUSIONS.iter().any(|&(e, stands_for, _, _, doubt)| e == emitted && stands_for == r && q >= doubt).then_some(r)
}

/// A decoded line: its text, the mean probability of its characters, and one [`Glyph`] per
/// character of `text` that is not whitespace, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    pub text: String,
    pub confidence: f32,
    pub glyphs: Vec<Glyph>,
}

/// [`decode`] with each class counted as what `classes_as[i]` says (see [`mask`]; e.g. the MRZ
/// alphabet), so a character outside the alphabet can never be read: at each step the
/// class with the highest probability among those that count wins, as the class it counts as.
pub fn decode_masked(
    probs: &[f32],
    steps: usize,
    classes: usize,
    charset: &[String],
    classes_as: Option<&[Option<usize>]>,
) -> (String, f32) {
    let d = decode_glyphs(probs, steps, classes, charset, classes_as, &[]);
    (d.text, d.confidence)
}

/// [`decode_masked`] with each character's [`Glyph`], its rival's probability tracked for
/// the classes of `rivals`.
pub fn decode_glyphs(
    probs: &[f32],
    steps: usize,
    classes: usize,
    charset: &[String],
    classes_as: Option<&[Option<usize>]>,
    rivals: &[Rival],
) -> Decoded {
    let mut out = Decoded::default();
    let (mut conf, mut n) = (0.0f32, 0usize);
    let mut last = 0usize;
    // The glyphs of the character being emitted: the index of its first glyph and its run's start.
    let mut run: Option<(usize, usize)> = None;
    // The emitted character's rivals, while it is one of `rivals`, and their best probabilities.
    let mut rival: Vec<(&Rival, f32)> = Vec::new();
    let target = |i: usize| match classes_as {
        None => Some(i),
        Some(m) => m.get(i).copied().flatten(),
    };
    let close = |glyphs: &mut Vec<Glyph>, run: Option<(usize, usize)>, end: usize| {
        if let Some((first, start)) = run {
            let x = (start + end) as f32 / 2.0 + 0.5;
            glyphs[first..].iter_mut().for_each(|g| g.x = x);
        }
    };
    for t in 0..steps {
        let row = &probs[t * classes..(t + 1) * classes];
        let (best, p) = row.iter().enumerate().fold((0, f32::MIN), |acc, (i, &v)| match target(i) {
            Some(j) if v > acc.1 => (j, v),
            _ => acc,
        });
        if best != last {
            close(&mut out.glyphs, run.take(), t.saturating_sub(1));
            rival.clear();
        }
        if best != 0 && best != last {
            if let Some(c) = charset.get(best - 1) {
                out.text.push_str(c);
                conf += p;
                n += 1;
                run = Some((out.glyphs.len(), t));
                out.glyphs.extend(c.chars().filter(|c| !c.is_whitespace()).map(|_| Glyph {
                    x: t as f32 + 0.5,
                    p,
                    rival: None,
                }));
                rival = rivals.iter().filter(|r| r.class == best).map(|r| (r, 0.0)).collect();
            }
        }
        if let (false, Some(g)) = (rival.is_empty(), out.glyphs.last_mut()) {
            for (r, most) in rival.iter_mut() {
                let q: f32 = r.renderings.iter().filter_map(|&i| row.get(i)).sum();
                *most = most.max(q);
            }
            // The rival closest to (or furthest past) its level speaks for the glyph.
            g.rival = rival
                .iter()
                .max_by(|a, b| (a.1 / a.0.level).total_cmp(&(b.1 / b.0.level)))
                .map(|(r, most)| (r.stands_for, *most));
        }
        last = best;
    }
    close(&mut out.glyphs, run, steps.saturating_sub(1));
    out.confidence = if n == 0 { 0.0 } else { conf / n as f32 };
    out
}

/// The recogniser's character list from its `character` metadata, plus the space PaddleOCR
/// appends.
pub fn charset(metadata: &str) -> Vec<String> {
    let mut chars: Vec<String> = metadata.split('\n').map(String::from).collect();
    chars.push(" ".into());
    chars
}

/// The natural log of the probability that the `steps` x `classes` probabilities (row-major,
/// class 0 the blank) read exactly `labels` (class indices, none of them the blank): the sum
/// over every CTC alignment (the forward algorithm), so a closed set of candidate readings is
/// ranked by the whole output, not by its best path. Minus infinity when it cannot be read.
pub fn log_likelihood(probs: &[f32], steps: usize, classes: usize, labels: &[usize]) -> f32 {
    // The labels with a blank before, between and after them.
    let ext: Vec<usize> = std::iter::once(0).chain(labels.iter().flat_map(|&l| [l, 0])).collect();
    let ln = |t: usize, c: usize| probs.get(t * classes + c).map_or(f32::NEG_INFINITY, |&p| p.max(1e-30).ln());
    let add = |a: f32, b: f32| {
        let m = a.max(b);
        if m == f32::NEG_INFINITY {
            m
        } else {
            m + ((a - m).exp() + (b - m).exp()).ln()
        }
    };
    if steps == 0 || classes == 0 {
        return if labels.is_empty() { 0.0 } else { f32::NEG_INFINITY };
    }
    let mut alpha = vec![f32::NEG_INFINITY; ext.len()];
    alpha[0] = ln(0, 0);
    if ext.len() > 1 {
        alpha[1] = ln(0, ext[1]);
    }
    for t in 1..steps {
        let prev = alpha.clone();
        for s in 0..ext.len() {
            let mut a = prev[s];
            if s >= 1 {
                a = add(a, prev[s - 1]);
            }
            if s >= 2 && ext[s] != 0 && ext[s] != ext[s - 2] {
                a = add(a, prev[s - 2]);
            }
            alpha[s] = a + ln(t, ext[s]);
        }
    }
    let last = ext.len() - 1;
    if last == 0 {
        alpha[0]
    } else {
        add(alpha[last], alpha[last - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_collapse_and_blanks_separate() {
        let cs = charset("A\nB");
        // steps: A A blank A B blank
        let one_hot = |i: usize| {
            let mut r = vec![0.0; 4];
            r[i] = 1.0;
            r
        };
        let probs: Vec<f32> = [1, 1, 0, 1, 2, 0].iter().flat_map(|&i| one_hot(i)).collect();
        let (text, conf) = decode(&probs, 6, 4, &cs);
        assert_eq!(text, "AAB");
        assert!((conf - 1.0).abs() < 1e-6);
        assert_eq!(decode(&one_hot(3), 1, 4, &cs).0, " ");
        // Each character at the centre of its run of steps; the space has no glyph.
        let d = decode_glyphs(&probs, 6, 4, &cs, None, &[]);
        let xs: Vec<f32> = d.glyphs.iter().map(|g| g.x).collect();
        assert_eq!(xs, [1.0, 3.5, 4.5]);
        let probs: Vec<f32> = [1, 3, 2].iter().flat_map(|&i| one_hot(i)).collect();
        let d = decode_glyphs(&probs, 3, 4, &cs, None, &[]);
        assert_eq!((d.text.as_str(), d.glyphs.len(), d.glyphs[1].x), ("A B", 2, 2.5));
    }

    #[test]
    fn a_rivals_probability_is_its_renderings_best_step() {
        // classes: blank, H, I, 1, space. An `H` over two steps whose `I` and `1` together
        // reach 0.45 at the second; an `I` (no rival tracked) after a blank.
        let cs = charset("H\nI\n1");
        let rivals = rivals(&cs);
        assert_eq!(rivals[0], Rival { class: 1, stands_for: 'I', renderings: vec![2, 3], level: 0.1 });
        let probs = [
            [0.0f32, 0.8, 0.1, 0.1, 0.0],
            [0.0, 0.55, 0.25, 0.2, 0.0],
            [1.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.1, 0.9, 0.0, 0.0],
        ]
        .concat();
        let d = decode_glyphs(&probs, 4, 5, &cs, None, &rivals);
        assert_eq!(d.text, "HI");
        let (c, q) = d.glyphs[0].rival.expect("the H's rival");
        assert!(c == 'I' && (q - 0.45).abs() < 1e-6, "{q}");
        assert_eq!(d.glyphs[1].rival, None);
    }

    #[test]
    fn of_several_rivals_the_one_furthest_past_its_level_speaks() {
        // classes: blank, H, I, M, space. An `H` whose `M` reached 0.3 (level 0.25) while its
        // `I` got 0.05 (level 0.1) is an `M`; with `I` at 0.12 and `M` at 0.2 it is an `I`.
        let cs = charset("H\nI\nM");
        let read = |i: f32, m: f32| {
            let probs = [0.0f32, 1.0 - i - m, i, m, 0.0];
            let d = decode_glyphs(&probs, 1, 5, &cs, None, &rivals(&cs));
            rival_wins('H', d.glyphs[0].rival)
        };
        assert_eq!(read(0.05, 0.3), Some('M'));
        assert_eq!(read(0.12, 0.2), Some('I'));
        assert_eq!(read(0.05, 0.2), None);
    }

    #[test]
    fn a_masked_class_never_wins() {
        let cs = charset("A\nb");
        // b is the most likely class at the step, A second: masked to upper case, A is read.
        let probs = [0.1f32, 0.3, 0.6, 0.0];
        let m = mask(&cs, |c| c.chars().all(|ch| ch.is_ascii_uppercase()));
        assert_eq!(decode(&probs, 1, 4, &cs).0, "b");
        assert_eq!(decode_masked(&probs, 1, 4, &cs, Some(&m)).0, "A");
    }

    #[test]
    fn a_look_alike_counts_as_the_class_it_stands_for() {
        // `o` is the likeliest, the blank second: under A-Z it is an `O`, not a dropped step;
        // `«` is a filler, and `é` (no allowed look-alike) never wins.
        let cs = charset("O\no\n<\n«\né");
        let alphabet = |c: &str| matches!(c, "O" | "<");
        let m = mask(&cs, alphabet);
        assert_eq!(m, [Some(0), Some(1), Some(1), Some(3), Some(3), None, None]);
        let mrz = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<';
        let plate = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit();
        assert_eq!(look_alike('Λ', &mrz), Some('<'));
        assert_eq!(look_alike('Λ', &plate), Some('A'));
        assert_eq!(look_alike('〇', &mrz), Some('O'));
        assert_eq!(look_alike('＜', &mrz), Some('<'));
        assert_eq!(look_alike('ｏ', &mrz), Some('O'), "a full-width lower case letter");
        assert_eq!(look_alike('∪', &mrz), Some('U'));
        assert_eq!(look_alike('é', &mrz), None);
        // classes: blank, O, o, <, «, é, space
        let probs = [
            [0.3f32, 0.1, 0.5, 0.0, 0.0, 0.1, 0.0], // `o`, read as O
            [0.2, 0.0, 0.0, 0.0, 0.0, 0.8, 0.0],    // `é` excluded: the blank
            [0.1, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0],    // `«`, read as <
        ]
        .concat();
        assert_eq!(decode_masked(&probs, 3, 7, &cs, Some(&m)).0, "O<");
    }
    #[test]
    fn the_likelihood_of_a_reading_sums_its_alignments() {
        // Three steps over blank, A, B: A with 0.9, then blank, then B.
        let probs = [0.05, 0.9, 0.05, 0.9, 0.05, 0.05, 0.05, 0.05, 0.9];
        let ab = log_likelihood(&probs, 3, 3, &[1, 2]);
        let a = log_likelihood(&probs, 3, 3, &[1]);
        let aa = log_likelihood(&probs, 3, 3, &[1, 1]);
        assert!(ab > a && ab > aa, "{ab} {a} {aa}");
        assert!(ab < 0.0 && ab > 0.9f32.powi(3).ln() - 0.1, "{ab}");
        // Two of the same letter need a blank between them: three steps allow it, two do not.
        assert!(log_likelihood(&probs[..6], 2, 3, &[1, 1]) == f32::NEG_INFINITY);
        // Every reading's probabilities over one step sum to one.
        let one = [0.2, 0.5, 0.3];
        let total: f32 = [&[][..], &[1], &[2]].iter().map(|l| log_likelihood(&one, 1, 3, l).exp()).sum();
        assert!((total - 1.0).abs() < 1e-5, "{total}");
    }
}

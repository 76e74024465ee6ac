//! ICAO 9303 machine-readable zones: finding the MRZ among OCR lines, repairing OCR confusions
//! by field type, parsing TD1 (3x30), TD2 (2x36), TD3 (2x44), MRV-A (2x44) and MRV-B (2x36),
//! and checking every check digit. Pure functions, no I/O.
//!
//! Repairs never invent a different valid document: digits-only fields only get letters mapped
//! to the digits they resemble (a letter can never be right there), alphabetic fields the
//! reverse, and the alphanumeric document number only when the original fails its check digit
//! and exactly one confusable substitution makes it pass.

use serde::Serialize;

use super::mrz_states;
use crate::vision::ctc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Td1,
    Td2,
    Td3,
    MrvA,
    MrvB,
}

impl Format {
    /// Where the names lie in a zone of this format: (line, from, to).
    pub fn names(self) -> (usize, usize, usize) {
        match self {
            Format::Td1 => (2, 0, 30),
            Format::Td2 | Format::MrvB => (0, 5, 36),
            Format::Td3 | Format::MrvA => (0, 5, 44),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    pub field: &'static str,
    pub valid: bool,
    /// The check digit printed in the zone.
    pub found: String,
    /// The check digit computed from the field.
    pub expected: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Mrz {
    pub format: Format,
    /// The zone's lines after repair.
    pub lines: Vec<String>,
    pub document_code: String,
    pub issuing_state: String,
    pub document_number: String,
    pub surname: String,
    pub given_names: String,
    pub nationality: String,
    /// ISO date (YYYY-MM-DD), or the raw YYMMDD when it is not a valid date.
    pub birth_date: String,
    pub sex: String,
    pub expiry_date: String,
    pub optional_data: String,
    pub optional_data_2: String,
    pub checks: Vec<CheckResult>,
    /// Every check digit valid.
    pub valid: bool,
    /// Characters changed by repair: (line, column, from, to).
    #[schema(value_type = Vec<Vec<serde_json::Value>>, example = json!([[1, 12, "0", "O"]]))]
    pub repairs: Vec<(usize, usize, char, char)>,
}

impl Mrz {
    /// How good a reading is: valid first, then the number of check digits that pass, then
    /// how many of its issuing state and nationality are known codes.
    pub fn score(&self) -> (bool, usize, usize) {
        (self.valid, self.checks.iter().filter(|c| c.valid).count(), self.known_codes())
    }

    /// How many of the issuing state and nationality are known codes ([`mrz_states::known`];
    /// Germany's `D<<` reads `D`). No check digit covers them: a letter lost (`U<O`) or misread
    /// (`UAO`) there passes every check.
    fn known_codes(&self) -> usize {
        let known = |s: &str| s == "D" || (s.len() == 3 && mrz_states::known(s));
        usize::from(known(&self.issuing_state)) + usize::from(known(&self.nationality))
    }

    /// Valid, with known codes for its state and nationality: a reading no other pass can
    /// better (the recovery passes stop at one). A document of a code the list lacks (the
    /// dev set's Interpol `INP`, a 1997 visa's `BOS`) goes through every pass, at the cost of
    /// their time (about 1.5 s on this machine), and keeps its best reading.
    pub fn settled(&self) -> bool {
        self.valid && self.known_codes() == 2
    }
}

/// The better of two readings by [`Mrz::score`]; `best` is kept on a tie.
pub fn better(best: Option<Mrz>, candidate: Option<Mrz>) -> Option<Mrz> {
    match (best, candidate) {
        (Some(b), Some(c)) => Some(if c.score() > b.score() { c } else { b }),
        (b, c) => b.or(c),
    }
}

/// A reading and the same text with the recogniser's doubted glyphs taken as their rivals
/// ([`mrz_pitch::doubted`](super::mrz_pitch::doubted)): the second when it scores higher, or
/// as high with fewer repairs (an `I` the recogniser half saw in unchecked optional data
/// rather than a swap at a place it read clearly, which the composite cannot tell apart).
pub fn cleaner(read: Option<Mrz>, doubted: Option<Mrz>) -> Option<Mrz> {
    match (read, doubted) {
        (Some(r), Some(d)) => {
            let wins = d.score() > r.score() || (d.score() == r.score() && d.repairs.len() < r.repairs.len());
            Some(if wins { d } else { r })
        }
        (r, d) => r.or(d),
    }
}

/// ICAO 9303 check digit (weights 7, 3, 1; digits, A=10 … Z=35, `<` = 0); `None` for other
/// characters.
pub fn check_digit(s: &str) -> Option<char> {
    let weights = [7u32, 3, 1];
    let mut sum = 0u32;
    for (i, c) in s.chars().enumerate() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            '<' => 0,
            _ => return None,
        };
        sum += v * weights[i % 3];
    }
    char::from_digit(sum % 10, 10)
}

/// Drops spaces and maps the recogniser's renderings of MRZ characters to them (lower case,
/// `〇` as `O`, `Λ` and `«` as the filler `<`: see [`ctc::look_alike`]).
pub fn normalise(line: &str) -> String {
    line.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if is_mrz_char(c) { c } else { ctc::look_alike(c, &is_mrz_char).unwrap_or(c) })
        .collect()
}

pub fn is_mrz_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<'
}

/// A line that could belong to an MRZ: its charset, a length near 30, 36 or 44, and fillers
/// (or, for the data lines, enough digits).
fn candidate(line: &str) -> Option<usize> {
    let n = line.chars().count();
    let mrz_chars = line.chars().filter(|&c| is_mrz_char(c)).count();
    if mrz_chars * 10 < n * 9 {
        return None;
    }
    // A data line whose optional data is used to the end may hold no filler at all; it holds
    // the dates and check digits (13 digits or more).
    let data = line.chars().filter(char::is_ascii_digit).count() >= 13;
    let has_filler = line.contains('<');
    [30usize, 36, 44].into_iter().find(|&len| n + 2 >= len && n <= len + 2 && (has_filler || data))
}

fn fit(line: &str, len: usize) -> String {
    let mut s: String = line.chars().filter(|&c| is_mrz_char(c)).take(len).collect();
    while s.len() < len {
        s.push('<');
    }
    s
}

/// A line shorter than this is no MRZ line and does not part two that are (the detector's
/// specks of a guilloche between the zone's lines, read as `1aLIki`).
const SPECK: usize = 12;

/// Finds the MRZ among OCR lines (top to bottom): three lines of ~30, or two of ~36 or ~44,
/// consecutive once lines shorter than [`SPECK`] are left out.
pub fn find(lines: &[String]) -> Option<Vec<String>> {
    let norm: Vec<String> = lines.iter().map(|l| normalise(l)).filter(|l| l.chars().count() >= SPECK).collect();
    let kinds: Vec<Option<usize>> = norm.iter().map(|l| candidate(l)).collect();
    // The name line holds fillers whatever the data lines do.
    let filler = |r: std::ops::Range<usize>| norm[r].iter().any(|l| l.contains('<'));
    for i in 0..norm.len() {
        if kinds[i] == Some(30)
            && i + 2 < norm.len()
            && kinds[i + 1] == Some(30)
            && kinds[i + 2] == Some(30)
            && filler(i..i + 3)
        {
            return Some((i..i + 3).map(|j| fit(&norm[j], 30)).collect());
        }
    }
    for len in [44usize, 36] {
        for i in 0..norm.len().saturating_sub(1) {
            if kinds[i] == Some(len) && kinds[i + 1] == Some(len) && filler(i..i + 2) {
                return Some((i..i + 2).map(|j| fit(&norm[j], len)).collect());
            }
        }
    }
    None
}

/// The MRZ among OCR lines ([`find`]), parsed; when it is not valid, its lines are parsed in
/// the reverse order too and the better kept: a page turned by 180 degrees has each line read
/// upside down (the recogniser's flip) but the lines in reverse order.
pub fn read_zone(lines: &[String], this_year: i32) -> Option<Mrz> {
    let zone = find(lines)?;
    let parsed = parse(&zone, this_year);
    if parsed.as_ref().is_some_and(|m| m.valid) {
        return parsed;
    }
    let reversed: Vec<String> = zone.into_iter().rev().collect();
    better(parsed, parse(&reversed, this_year))
}

/// Most fillers a recovered line may have lost or gained against its known length.
const MAX_FILLER_FIX: usize = 3;

/// The ways to bring `line` to `len` characters by adding or removing fillers inside its runs
/// of fillers (at most [`MAX_FILLER_FIX`]); the plain pad or cut at the end comes first.
fn length_fixes(line: &str, len: usize) -> Vec<String> {
    let mut out = vec![fit(line, len)];
    let n = line.chars().count();
    if n == len || n.abs_diff(len) > MAX_FILLER_FIX {
        return out;
    }
    let mut frontier = vec![line.chars().collect::<Vec<char>>()];
    for _ in 0..n.abs_diff(len) {
        let mut next = Vec::new();
        for c in &frontier {
            // Start of every run of fillers, and the end of the line.
            let runs = (0..c.len()).filter(|&i| c[i] == '<' && (i == 0 || c[i - 1] != '<')).chain([c.len()]);
            for r in runs {
                let mut t = c.clone();
                if n < len {
                    t.insert(r.min(t.len()), '<');
                } else if t.get(r) == Some(&'<') {
                    t.remove(r);
                } else {
                    continue;
                }
                if !next.contains(&t) {
                    next.push(t);
                }
            }
        }
        frontier = next;
        frontier.truncate(48);
    }
    out.extend(frontier.into_iter().map(|c| c.into_iter().collect::<String>()).filter(|s| s.len() == len));
    out.dedup();
    out
}

/// Parses rows recognised with the MRZ alphabet: the format from the row count and lengths,
/// then, where a row is a few characters off its length, the fillers added or removed inside
/// filler runs so that the most check digits pass (the plain pad or cut at the end wins ties).
pub fn resolve(rows: &[String], this_year: i32) -> Option<Mrz> {
    let rows: Vec<String> = rows.iter().map(|r| normalise(r).chars().filter(|&c| is_mrz_char(c)).collect()).collect();
    let len = match rows.len() {
        3 => 30,
        2 => {
            let mean = rows.iter().map(String::len).sum::<usize>() / 2;
            if mean.abs_diff(44) < mean.abs_diff(36) {
                44
            } else {
                36
            }
        }
        _ => return None,
    };
    if rows.iter().any(|r| r.len().abs_diff(len) > 6) || !rows.iter().any(|r| r.contains('<')) {
        return None;
    }
    let options: Vec<Vec<String>> = rows.iter().map(|r| length_fixes(r, len)).collect();
    let mut best: Option<Mrz> = None;
    let mut idx = vec![0usize; options.len()];
    loop {
        let zone: Vec<String> = idx.iter().zip(&options).map(|(&i, o)| o[i].clone()).collect();
        best = better(best, parse(&zone, this_year));
        // next combination
        let mut k = 0;
        while k < idx.len() {
            idx[k] += 1;
            if idx[k] < options[k].len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
        if k == idx.len() {
            break;
        }
    }
    best
}

fn to_digit(c: char) -> char {
    match c {
        'O' | 'D' | 'Q' | 'U' => '0',
        'I' | 'L' | 'T' => '1',
        'Z' => '2',
        'B' => '8',
        'S' => '5',
        'G' => '6',
        'A' => '4',
        c => c,
    }
}

fn to_letter(c: char) -> char {
    match c {
        '0' => 'O',
        '1' => 'I',
        '2' => 'Z',
        '5' => 'S',
        '8' => 'B',
        '6' => 'G',
        '4' => 'A',
        c => c,
    }
}

/// Letters (and a digit a letters-only field can still hold) the recogniser confuses with
/// each other (PP-OCRv6 tiny reads OCR-B's `I` as `H` most of all, and `J` as `U`), for the
/// states' repair against the list of codes; a filler inside a code is a letter lost (the
/// thin `I` most of all) and put back as a filler by [`mrz_pitch`](super::mrz_pitch).
const LETTER_CONFUSIONS: [(char, char); 22] = [
    ('J', 'U'),
    ('I', '<'),
    ('H', 'I'),
    ('7', 'T'),
    ('I', 'L'),
    ('I', 'T'),
    ('I', 'J'),
    ('H', 'M'),
    ('H', 'N'),
    ('M', 'N'),
    ('O', 'D'),
    ('O', 'Q'),
    ('O', 'U'),
    ('O', 'C'),
    ('U', 'V'),
    ('C', 'G'),
    ('E', 'F'),
    ('K', 'X'),
    ('B', 'E'),
    ('B', 'R'),
    ('P', 'R'),
    ('V', 'Y'),
];

struct Zone {
    lines: Vec<Vec<char>>,
    repairs: Vec<(usize, usize, char, char)>,
}

impl Zone {
    fn get(&self, line: usize, from: usize, to: usize) -> String {
        self.lines[line][from..to].iter().collect()
    }

    fn map(&mut self, line: usize, from: usize, to: usize, f: fn(char) -> char) {
        for col in from..to {
            let c = self.lines[line][col];
            let r = if c == '<' { c } else { f(c) };
            if r != c {
                self.lines[line][col] = r;
                self.repairs.push((line, col, c, r));
            }
        }
    }

    /// Numeric field with its check digit at `cd`.
    fn digits(&mut self, line: usize, from: usize, to: usize) {
        self.map(line, from, to, to_digit);
    }

    fn letters(&mut self, line: usize, from: usize, to: usize) {
        self.map(line, from, to, to_letter);
    }

    /// Repairs the alphanumeric field [from, to) only if it fails its check digit at `cd` and
    /// exactly one single confusable substitution makes it pass.
    fn document_number(&mut self, line: usize, from: usize, to: usize, cd: usize) {
        self.repair(&[(line, from, to)], &[(line, from, to)], (line, cd));
    }

    /// The concatenated spans `check`, as the check digit at `cd` covers them.
    fn value(&self, check: &[Span]) -> String {
        check.iter().map(|&(l, a, b)| self.get(l, a, b)).collect()
    }

    /// When the check digit at `cd` over the spans `check` fails, and exactly one single
    /// confusable substitution (O/0, I/1, B/8 …) inside the alphanumeric spans `edit` makes it
    /// pass, makes it. A filler never changes; a different valid document is never invented
    /// from more than one change.
    fn repair(&mut self, check: &[Span], edit: &[Span], (cl, cd): (usize, usize)) {
        let printed = self.lines[cl][cd];
        let passes = |v: &str| check_digit(v) == Some(printed) || (printed == '<' && v.chars().all(|c| c == '<'));
        if passes(&self.value(check)) {
            return;
        }
        let mut fixes = Vec::new();
        for &(line, from, to) in edit {
            for col in from..to {
                let c = self.lines[line][col];
                for alt in [to_digit(c), to_letter(c)] {
                    if alt != c {
                        self.lines[line][col] = alt;
                        if passes(&self.value(check)) {
                            fixes.push((line, col, from, to, c, alt));
                        }
                        self.lines[line][col] = c;
                    }
                }
            }
        }
        // Several single swaps can satisfy one check digit (weights repeat every three places):
        // prefer the swap that matches its neighbours' kind (a letter among letters, a digit
        // among digits), and only when exactly one does best.
        let fit = |line: usize, col: usize, from: usize, to: usize, alt: char| {
            let row = &self.lines[line];
            let kin = |c: char| c.is_ascii_digit() == alt.is_ascii_digit() && c != '<';
            [col.checked_sub(1).filter(|&p| p >= from), Some(col + 1).filter(|&n| n < to)]
                .into_iter()
                .flatten()
                .filter(|&p| kin(row[p]))
                .count()
        };
        let best = fixes.iter().map(|&(l, col, a, b, _, alt)| fit(l, col, a, b, alt)).max().unwrap_or(0);
        let winners: Vec<_> = fixes.iter().filter(|&&(l, col, a, b, _, alt)| fit(l, col, a, b, alt) == best).collect();
        if let [&(line, col, _, _, c, alt)] = winners[..] {
            self.lines[line][col] = alt;
            self.repairs.push((line, col, c, alt));
        }
    }

    /// A date (six digits from `from`, its check digit at `cd`) with one filler among its
    /// digits: a digit the reader lost (a gap the pitch fit filled, a faint stroke). An unknown
    /// day or month is two fillers, never one, so the check digit (a digit) says which digit it
    /// was: exactly one does, the weights 7, 3, 1 being prime to 10. Kept when the date is one.
    fn date_gap(&mut self, line: usize, from: usize, cd: usize) {
        let field: Vec<char> = self.lines[line][from..from + 6].to_vec();
        let gaps: Vec<usize> = (0..6).filter(|&i| field[i] == '<').collect();
        let (&[gap], true) = (&gaps[..], field.iter().all(|c| *c == '<' || c.is_ascii_digit())) else { return };
        let Some(printed) = self.lines[line][cd].to_digit(10) else { return };
        for d in '0'..='9' {
            let mut v = field.clone();
            v[gap] = d;
            let v: String = v.into_iter().collect();
            let (mm, dd) = (v[2..4].parse::<u32>().unwrap_or(0), v[4..6].parse::<u32>().unwrap_or(0));
            if check_digit(&v).and_then(|c| c.to_digit(10)) == Some(printed)
                && (1..=12).contains(&mm)
                && (1..=31).contains(&dd)
            {
                self.lines[line][from + gap] = d;
                self.repairs.push((line, from + gap, '<', d));
                return;
            }
        }
    }

    /// An issuing state or nationality at `from` (three characters) that is no known code
    /// ([`mrz_states::known`]) is repaired when exactly one confusable letter swap
    /// ([`LETTER_CONFUSIONS`]) makes it one (`FHN` -> `FIN`); otherwise it is left as read.
    fn state(&mut self, line: usize, from: usize) {
        let code = self.get(line, from, from + 3);
        if mrz_states::known(&code) {
            return;
        }
        let mut found = Vec::new();
        for (i, c) in code.chars().enumerate() {
            let alts = LETTER_CONFUSIONS.iter().filter_map(|&(a, b)| {
                if c == a {
                    Some(b)
                } else if c == b {
                    Some(a)
                } else {
                    None
                }
            });
            for alt in alts {
                let mut t: Vec<char> = code.chars().collect();
                t[i] = alt;
                if mrz_states::known(&t.iter().collect::<String>()) {
                    found.push((from + i, c, alt));
                }
            }
        }
        if let [(col, c, alt)] = found[..] {
            self.lines[line][col] = alt;
            self.repairs.push((line, col, c, alt));
        }
    }

    /// Names: after the given names end (the second `<<` of the field), only fillers may
    /// follow; a lone character or two among the trailing fillers is a misread filler (`<`
    /// read as `C`, `K`, `E`...) and becomes one again, as does a run of one letter repeated
    /// (`AAAA`: a run of fillers under a mark; no name has a letter three times in a row).
    fn name_fillers(&mut self, line: usize, from: usize, to: usize) {
        let field = self.get(line, from, to);
        let Some(sep) = field.find("<<") else { return };
        let given = field[sep..].find(|c| c != '<').map_or(field.len(), |i| sep + i);
        let end = if given > sep + 2 { sep + 2 } else { field[given..].find("<<").map_or(field.len(), |i| given + i) };
        let tail: Vec<char> = field[end..].chars().collect();
        let mut k = 0;
        while k < tail.len() {
            if tail[k] == '<' {
                k += 1;
                continue;
            }
            let run = tail[k..].iter().take_while(|&&c| c != '<').count();
            if run <= 2 || tail[k..k + run].iter().all(|&c| c == tail[k]) {
                for j in k..k + run {
                    let col = from + end + j;
                    self.repairs.push((line, col, self.lines[line][col], '<'));
                    self.lines[line][col] = '<';
                }
            }
            k += run;
        }
    }

    /// The check digit at `cd` against `value`. ICAO 9303 (part 4, 4.2.2.2; part 3 for the
    /// filler) lets a field that is all fillers carry a filler as its check digit, e.g. the
    /// empty personal number of a TD3: `<` over `<<<<…` is valid, as is the computed `0`.
    fn check(&self, field: &'static str, value: &str, line: usize, cd: usize) -> CheckResult {
        let found = self.lines[line][cd].to_string();
        let all_fillers = !value.is_empty() && value.chars().all(|c| c == '<');
        let expected = match check_digit(value) {
            Some(_) if all_fillers && found == "<" => "<".to_string(),
            Some(d) => d.to_string(),
            None => "?".into(),
        };
        CheckResult { field, valid: found == expected, found, expected }
    }
}

fn text(s: &str) -> String {
    s.split('<').filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
}

fn names(s: &str) -> (String, String) {
    let trimmed = s.trim_end_matches('<');
    match trimmed.split_once("<<") {
        Some((surname, given)) => (text(surname), text(given)),
        None => (text(trimmed), String::new()),
    }
}

/// YYMMDD to YYYY-MM-DD. Birth dates are never in the future (relative to `this_year`);
/// expiry dates are read as 20YY below 70 (documents are valid for at most ~10 years).
fn date(yymmdd: &str, birth: bool, this_year: i32) -> String {
    let Ok(n) = yymmdd.parse::<u32>() else { return yymmdd.to_string() };
    let (yy, mm, dd) = ((n / 10000) as i32, n / 100 % 100, n % 100);
    if !(1..=12).contains(&mm) || !(1..=31).contains(&dd) {
        return yymmdd.to_string();
    }
    let century = if birth {
        if 2000 + yy > this_year {
            1900
        } else {
            2000
        }
    } else if yy < 70 {
        2000
    } else {
        1900
    };
    format!("{:04}-{mm:02}-{dd:02}", century + yy)
}

/// Parses a zone found by [`find`]; `this_year` decides the century of birth dates.
pub fn parse(lines: &[String], this_year: i32) -> Option<Mrz> {
    let lens: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
    // A document code whose first letter was lost (read as a filler) on a two-line zone whose
    // data line ends in a filler: TD2 and TD3 end with the composite check digit, always a
    // digit, so this is a visa (MRV-A or MRV-B), whose code starts with `V`.
    let lost_v = lines.len() == 2 && lines[0].starts_with('<') && lines[1].ends_with('<');
    let format = match (lens.as_slice(), lines.first().map(|l| l.starts_with('V') || lost_v)) {
        ([30, 30, 30], _) => Format::Td1,
        ([44, 44], Some(true)) => Format::MrvA,
        ([44, 44], _) => Format::Td3,
        ([36, 36], Some(true)) => Format::MrvB,
        ([36, 36], _) => Format::Td2,
        _ => return None,
    };
    let mut z = Zone { lines: lines.iter().map(|l| l.chars().collect()).collect(), repairs: Vec::new() };
    if lost_v && matches!(format, Format::MrvA | Format::MrvB) {
        z.lines[0][0] = 'V';
        z.repairs.push((0, 0, '<', 'V'));
    }
    let mut checks = Vec::new();
    // The first character of the document code is a letter (A, C, I, P or V); the second
    // is a letter or a filler on passports and visas, and may be a digit on some national
    // cards (US `A3`, `C1`), so there it is left alone.
    z.letters(0, 0, 1);
    if !matches!(z.lines[0][0], 'A' | 'C' | 'I' | 'P' | 'V') && matches!(z.lines[0][0], 'E' | 'L' | 'T' | 'J' | 'H') {
        z.repairs.push((0, 0, z.lines[0][0], 'I'));
        z.lines[0][0] = 'I';
    }
    if matches!(z.lines[0][0], 'P' | 'V') {
        z.letters(0, 1, 2);
    }
    let mrz = match format {
        Format::Td1 => {
            z.letters(0, 2, 5);
            z.state(0, 2);
            z.digits(0, 14, 15);
            z.digits(1, 0, 7);
            z.digits(1, 8, 15);
            z.letters(1, 15, 18);
            z.state(1, 15);
            z.digits(1, 29, 30);
            let (nl, nf, nt) = format.names();
            z.letters(nl, nf, nt);
            z.name_fillers(nl, nf, nt);
            z.date_gap(1, 0, 6);
            z.date_gap(1, 8, 14);
            z.document_number(0, 5, 14, 14);
            checks.push(z.check("document_number", &z.get(0, 5, 14), 0, 14));
            checks.push(z.check("birth_date", &z.get(1, 0, 6), 1, 6));
            checks.push(z.check("expiry_date", &z.get(1, 8, 14), 1, 14));
            // The optional data fields are alphanumeric with no check digit of their own:
            // only the composite can tell a misread O/0 there, and only when the fields it
            // also covers pass their own checks (else it fails for them, and a swap that makes
            // it pass proves nothing: a specimen with every check digit wrong).
            if checks.iter().all(|c| c.valid) {
                z.repair(&[(0, 5, 30), (1, 0, 7), (1, 8, 15), (1, 18, 29)], &[(0, 15, 30), (1, 18, 29)], (1, 29));
            }
            let (surname, given_names) = names(&z.get(nl, nf, nt));
            let composite = format!("{}{}{}{}", z.get(0, 5, 30), z.get(1, 0, 7), z.get(1, 8, 15), z.get(1, 18, 29));
            checks.push(z.check("composite", &composite, 1, 29));
            build(&z, format, &Layout::TD1, surname, given_names, this_year)
        }
        Format::Td2 | Format::Td3 | Format::MrvA | Format::MrvB => {
            let len = lens[0];
            let mrv = matches!(format, Format::MrvA | Format::MrvB);
            let opt_end = if mrv { len } else { len - 1 };
            z.letters(0, 2, 5);
            z.state(0, 2);
            z.digits(1, 9, 10);
            z.letters(1, 10, 13);
            z.state(1, 10);
            z.digits(1, 13, 20);
            z.digits(1, 21, 28);
            if !mrv {
                z.digits(1, len - 1, len);
            }
            let (nl, nf, nt) = format.names();
            z.letters(nl, nf, nt);
            z.name_fillers(nl, nf, nt);
            z.date_gap(1, 13, 19);
            z.date_gap(1, 21, 27);
            z.document_number(1, 0, 9, 9);
            if format == Format::Td3 {
                z.document_number(1, 28, 42, 42);
            }
            checks.push(z.check("document_number", &z.get(1, 0, 9), 1, 9));
            checks.push(z.check("birth_date", &z.get(1, 13, 19), 1, 19));
            checks.push(z.check("expiry_date", &z.get(1, 21, 27), 1, 27));
            // TD2's optional data, as TD1's: through the composite when the fields pass.
            if format == Format::Td2 && checks.iter().all(|c| c.valid) {
                z.repair(&[(1, 0, 10), (1, 13, 20), (1, 21, 35)], &[(1, 28, 35)], (1, 35));
            }
            let (surname, given_names) = names(&z.get(nl, nf, nt));
            if format == Format::Td3 {
                z.digits(1, 42, 43);
                checks.push(z.check("optional_data", &z.get(1, 28, 42), 1, 42));
            }
            if !mrv {
                let composite = format!("{}{}{}", z.get(1, 0, 10), z.get(1, 13, 20), z.get(1, 21, len - 1));
                checks.push(z.check("composite", &composite, 1, len - 1));
            }
            let opt_to = if format == Format::Td3 { 42 } else { opt_end };
            build(&z, format, &Layout::two_lines(opt_to), surname, given_names, this_year)
        }
    };
    let valid = checks.iter().all(|c| c.valid);
    Some(Mrz { checks, valid, ..mrz })
}

type Span = (usize, usize, usize);

/// Where each field of a format lies: (line, from, to) spans of the zone.
struct Layout {
    code: Span,
    state: Span,
    number: Span,
    nationality: Span,
    birth: Span,
    sex: Span,
    expiry: Span,
    optional: Span,
    optional_2: Option<Span>,
}

impl Layout {
    /// TD1: three lines of 30.
    const TD1: Layout = Layout {
        code: (0, 0, 2),
        state: (0, 2, 5),
        number: (0, 5, 14),
        nationality: (1, 15, 18),
        birth: (1, 0, 6),
        sex: (1, 7, 8),
        expiry: (1, 8, 14),
        optional: (0, 15, 30),
        optional_2: Some((1, 18, 29)),
    };

    /// TD2, TD3, MRV-A and MRV-B: two lines; the optional data runs to `optional_to`.
    fn two_lines(optional_to: usize) -> Layout {
        Layout {
            code: (0, 0, 2),
            state: (0, 2, 5),
            number: (1, 0, 9),
            nationality: (1, 10, 13),
            birth: (1, 13, 19),
            sex: (1, 20, 21),
            expiry: (1, 21, 27),
            optional: (1, 28, optional_to),
            optional_2: None,
        }
    }
}

fn build(z: &Zone, format: Format, at: &Layout, surname: String, given_names: String, this_year: i32) -> Mrz {
    let g = |(l, a, b): Span| z.get(l, a, b);
    Mrz {
        format,
        lines: z.lines.iter().map(|l| l.iter().collect()).collect(),
        document_code: text(&g(at.code)),
        issuing_state: text(&g(at.state)),
        document_number: g(at.number).trim_end_matches('<').to_string(),
        surname,
        given_names,
        nationality: text(&g(at.nationality)),
        birth_date: date(&g(at.birth), true, this_year),
        sex: match g(at.sex).as_str() {
            "<" => "X".into(),
            s => s.to_string(),
        },
        expiry_date: date(&g(at.expiry), false, this_year),
        optional_data: text(&g(at.optional)),
        optional_data_2: at.optional_2.map(|s| text(&g(s))).unwrap_or_default(),
        checks: Vec::new(),
        valid: false,
        repairs: z.repairs.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TD3: [&str; 2] =
        ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
    const TD1: [&str; 3] =
        ["I<NLDSPECI20142999999990<<<<<8", "6503101F2403096NLD<<<<<<<<<<<8", "DE<BRUIJN<<WILLEKE<LISELOTTE<<"];
    // ICAO 9303 part 5 TD1 specimen.
    const TD1_ICAO: [&str; 3] =
        ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];
    // ICAO 9303 part 6 TD2 specimen.
    const TD2: [&str; 2] = ["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"];
    // ICAO 9303 part 7 MRV-A and MRV-B specimens.
    const MRVA: [&str; 2] =
        ["V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L8988901C4XXX4009078F96121096ZE184226B<<<<<<"];
    const MRVB: [&str; 2] = ["V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "L8988901C4XXX4009078F9612109<<<<<<<<"];

    fn lines(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn check_digits_of_the_specimen() {
        assert_eq!(check_digit("L898902C3"), Some('6'));
        assert_eq!(check_digit("740812"), Some('2'));
        assert_eq!(check_digit("120415"), Some('9'));
        assert_eq!(check_digit("ZE184226B<<<<<"), Some('1'));
        assert_eq!(check_digit("a"), None);
    }

    #[test]
    fn td3_specimen_parses_with_every_check_valid() {
        let m = parse(&lines(&TD3), 2026).unwrap();
        assert_eq!(m.format, Format::Td3);
        assert_eq!((m.surname.as_str(), m.given_names.as_str()), ("ERIKSSON", "ANNA MARIA"));
        assert_eq!(m.document_number, "L898902C3");
        assert_eq!((m.birth_date.as_str(), m.expiry_date.as_str()), ("1974-08-12", "2012-04-15"));
        assert_eq!((m.sex.as_str(), m.nationality.as_str(), m.issuing_state.as_str()), ("F", "UTO", "UTO"));
        assert_eq!(m.optional_data, "ZE184226B");
        assert!(m.valid && m.checks.len() == 5, "{:?}", m.checks);
        assert!(m.repairs.is_empty());
    }

    #[test]
    fn td1_specimens_parse() {
        let m = parse(&lines(&TD1), 2026).unwrap();
        assert_eq!(m.format, Format::Td1);
        assert_eq!((m.surname.as_str(), m.given_names.as_str()), ("DE BRUIJN", "WILLEKE LISELOTTE"));
        assert_eq!((m.document_number.as_str(), m.nationality.as_str()), ("SPECI2014", "NLD"));
        assert_eq!((m.birth_date.as_str(), m.expiry_date.as_str()), ("1965-03-10", "2024-03-09"));
        assert!(m.valid, "{:?}", m.checks);
        let icao = parse(&lines(&TD1_ICAO), 2026).unwrap();
        assert_eq!(icao.document_number, "D23145890");
        assert!(icao.valid, "{:?}", icao.checks);
    }

    #[test]
    fn td2_and_visas_parse() {
        let td2 = parse(&lines(&TD2), 2026).unwrap();
        assert_eq!((td2.format, td2.document_number.as_str()), (Format::Td2, "D23145890"));
        assert!(td2.valid, "{:?}", td2.checks);
        let a = parse(&lines(&MRVA), 2026).unwrap();
        assert_eq!((a.format, a.document_number.as_str(), a.nationality.as_str()), (Format::MrvA, "L8988901C", "XXX"));
        assert_eq!(a.birth_date, "1940-09-07");
        assert!(a.valid, "{:?}", a.checks);
        let b = parse(&lines(&MRVB), 2026).unwrap();
        assert_eq!(b.format, Format::MrvB);
        assert!(b.valid, "{:?}", b.checks);
    }

    #[test]
    fn a_lost_first_letter_is_a_visas_v_only_when_the_data_line_ends_in_a_filler() {
        let lost = |z: &[&str]| {
            let mut l = lines(z);
            l[0].replace_range(0..1, "<");
            parse(&l, 2026).unwrap()
        };
        // MRV-B's data line ends in fillers (no composite check digit): the `V` is put back.
        let b = lost(&MRVB);
        assert_eq!((b.format, b.document_code.as_str()), (Format::MrvB, "V"));
        assert!(b.repairs.contains(&(0, 0, '<', 'V')), "{:?}", b.repairs);
        // TD2 ends with its composite check digit: the letter stays unknown, nothing invented.
        let td2 = lost(&TD2);
        assert_eq!(td2.format, Format::Td2);
        assert!(!td2.repairs.iter().any(|r| r.0 == 0 && r.1 == 0), "{:?}", td2.repairs);
    }

    #[test]
    fn ocr_confusions_are_repaired_by_field_type() {
        // O for 0 in the birth date, 0 for O in the surname, 0 for O in the issuing state.
        let ocr = ["P<UT0ERIKSS0N<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO74O8122F1204159ZE184226B<<<<<10"];
        let m = parse(&lines(&ocr), 2026).unwrap();
        assert!(m.valid, "{:?}", m.checks);
        assert_eq!(
            (m.surname.as_str(), m.birth_date.as_str(), m.issuing_state.as_str()),
            ("ERIKSSON", "1974-08-12", "UTO")
        );
        assert_eq!(m.repairs.len(), 3);
        // A 0 of the document number read as O fails its check digit; 0 is the one fix that passes.
        let doc = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L8989O2C36UTO7408122F1204159ZE184226B<<<<<10"];
        let m = parse(&lines(&doc), 2026).unwrap();
        assert_eq!(m.document_number, "L898902C3");
        assert!(m.valid);
        // SPECI2014 read as SPEC12014: I at 4 and I at 7 both satisfy the check digits; only
        // the first sits next to a letter.
        let nl = ["I<NLDSPEC120142999999990<<<<<8", "6503101F2403096NLD<<<<<<<<<<<8", "DE<BRUIJN<<WILLEKE<LISELOTTE<<"];
        let m = parse(&lines(&nl), 2026).unwrap();
        assert_eq!(m.lines, lines(&TD1));
        assert!(m.valid, "{:?}", m.checks);
    }

    #[test]
    fn states_and_document_codes_are_repaired_by_their_structure() {
        // `I` read as `H` in the document code, `O` as `Q` in both states: one swap makes each a
        // known code; `0` for `O` as the second character of a passport's code.
        let ocr =
            ["H<UTQD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTQ<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];
        let m = parse(&lines(&ocr), 2026).unwrap();
        assert!(m.valid, "{:?}", m.checks);
        assert_eq!((m.document_code.as_str(), m.issuing_state.as_str(), m.nationality.as_str()), ("I", "UTO", "UTO"));
        assert_eq!(m.repairs, [(0, 0, 'H', 'I'), (0, 4, 'Q', 'O'), (1, 17, 'Q', 'O')]);
        let passport = ["P0UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", TD3[1]];
        assert_eq!(parse(&lines(&passport), 2026).unwrap().document_code, "PO");
        // `J` read as `U`; a lost `I` put back as a filler.
        let japan = ["P<UPNERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", TD3[1]];
        let m = parse(&lines(&japan), 2026).unwrap();
        assert_eq!((m.issuing_state.as_str(), &m.repairs[..]), ("JPN", &[(0, 2, 'U', 'J')][..]));
        let italy = ["PO<TAERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", TD3[1]];
        assert_eq!(parse(&lines(&italy), 2026).unwrap().issuing_state, "ITA");
        // A code that is no state and has no single confusion to one stays as read.
        let unknown = ["P<QQQERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", TD3[1]];
        assert_eq!(parse(&lines(&unknown), 2026).unwrap().issuing_state, "QQQ");
    }

    #[test]
    fn a_filler_check_digit_over_an_all_filler_field_is_valid() {
        // ICAO 9303 part 4: an unused personal number may carry `<` or `0` as its check digit.
        let filler = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159<<<<<<<<<<<<<<<0"];
        let mut composite = "L898902C367408122".to_string();
        composite.push_str("1204159<<<<<<<<<<<<<<<");
        let cd = check_digit(&composite).unwrap();
        let line2 = format!("L898902C36UTO7408122F1204159<<<<<<<<<<<<<<<{cd}");
        let m = parse(&lines(&[filler[0], &line2]), 2026).unwrap();
        assert!(m.valid, "{:?}", m.checks);
        assert_eq!(m.optional_data, "");
        let zero = line2.replacen("<<<<<<<<<<<<<<<", "<<<<<<<<<<<<<<0", 1);
        let zero_cd = check_digit(&format!("L898902C367408122{}", &zero[21..43])).unwrap();
        let zero = format!("{}{zero_cd}", &zero[..43]);
        assert!(parse(&lines(&[filler[0], &zero]), 2026).unwrap().valid, "the computed 0 is valid too");
        // A filler check digit over a field that is not empty is wrong.
        let used = "L898902C36UTO7408122F1204159ZE184226B<<<<<<".to_string();
        let used_cd = check_digit(&format!("L898902C367408122{}", &used[21..43])).unwrap();
        let m = parse(&lines(&[filler[0], &format!("{used}{used_cd}")]), 2026).unwrap();
        let failing: Vec<&str> = m.checks.iter().filter(|c| !c.valid).map(|c| c.field).collect();
        assert_eq!(failing, ["optional_data"]);
    }

    #[test]
    fn stray_letters_among_trailing_fillers_are_fillers() {
        let ocr = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<C<<<<<<<<K", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
        let m = parse(&lines(&ocr), 2026).unwrap();
        assert_eq!(m.lines, lines(&TD3));
        assert_eq!(m.given_names, "ANNA MARIA");
        assert_eq!(m.repairs, [(0, 34, 'C', '<'), (0, 43, 'K', '<')]);
        let marked = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<AAAA<<<<", TD3[1]];
        let m = parse(&lines(&marked), 2026).unwrap();
        assert_eq!((m.lines[0].as_str(), m.repairs.len()), (TD3[0], 4));
        let surname_only = ["P<UTOERIKSSON<<<<<<<<<<<<<<<<C<<<<<<<<<<<<<<", TD3[1]];
        assert_eq!(parse(&lines(&surname_only), 2026).unwrap().given_names, "");
    }

    #[test]
    fn a_doubted_glyph_read_as_its_rival_beats_a_repair_where_the_read_was_sure() {
        // The Dutch residence permit of the dev set: its line 2's `I` read as `1` (the
        // recogniser gave `I` 0.2). The composite then fails, and swapping line 1's `1` (read
        // with certainty, same weight) passes it too: a repair at the wrong place.
        let truth =
            ["ITNLD52151673<4VNR1234567890<<", "9404014F1106172CHE<I<28<<<<<<2", "BELSER<<JULIETTE<HENRIKE<SOPHI"];
        let read = [truth[0], "9404014F1106172CHE<1<28<<<<<<2", truth[2]];
        let swapped = parse(&lines(&read), 2026).unwrap();
        assert_eq!((swapped.valid, &swapped.repairs[..]), (true, &[(0, 18, '1', 'I')][..]));
        let doubted = parse(&lines(&truth), 2026);
        let m = cleaner(Some(swapped.clone()), doubted.clone()).unwrap();
        assert_eq!((m.lines, m.repairs), (lines(&truth), vec![]));
        // The doubted reading loses when it needs as many repairs or scores lower.
        assert_eq!(cleaner(doubted.clone(), Some(swapped.clone())).unwrap().repairs, vec![]);
        let worse = parse(&lines(&[truth[0], "9404014F1106172CHE<I<28<<<<<<3", truth[2]]), 2026);
        assert_eq!(cleaner(Some(swapped.clone()), worse).unwrap().lines, swapped.lines);
    }

    #[test]
    fn a_state_with_a_letter_lost_is_not_settled_and_a_whole_one_reads_better() {
        // Synthetic 0325: `UTO` read `U<O` (the `T` lost under noise; `UTO` and `UNO` both
        // fit, so the state is not repaired). Every check digit passes, but the recovery
        // passes must go on, and one that reads `UTO` wins.
        let truth =
            ["IPUTO321TDS0A42<<<<<<<<<<<<<<<", "6109178M2403188IND<<<<<<<<<<<8", "NKOINNO<<CA<<<<<<<<<<<<<<<<<<<"];
        let lost = parse(&lines(&["IPU<O321TDS0A42<<<<<<<<<<<<<<<", truth[1], truth[2]]), 2026);
        let whole = parse(&lines(&truth), 2026);
        assert!(lost.as_ref().is_some_and(|m| m.valid && !m.settled()));
        assert!(whole.as_ref().is_some_and(Mrz::settled));
        assert_eq!(better(lost, whole).unwrap().issuing_state, "UTO");
        // A whole code that is no state (`UAO`) is not settled either.
        let wrong = parse(&lines(&["IPUAO321TDS0A42<<<<<<<<<<<<<<<", truth[1], truth[2]]), 2026).unwrap();
        assert!(wrong.valid && !wrong.settled());
    }

    #[test]
    fn a_digit_lost_in_a_date_is_the_one_its_check_digit_says() {
        // The 1997 German visa of the dev set: the expiry's `7` read as a filler.
        let ocr = ["VBD<<DEDIC<<SIDNAN<<<<<<<<<<<<<<<<<<", "D091740530BOS8201308M9<08011<2020711"];
        let m = parse(&lines(&ocr), 2026).unwrap();
        assert_eq!(m.lines[1], "D091740530BOS8201308M9708011<2020711");
        assert_eq!(m.repairs, [(1, 22, '<', '7')]);
        assert!(m.valid);
        // Two fillers are an unknown part of a date, not a lost digit: left as read.
        let unknown = ["VBD<<DEDIC<<SIDNAN<<<<<<<<<<<<<<<<<<", "D091740530BOS8201<<8M9708011<2020711"];
        assert!(parse(&lines(&unknown), 2026).unwrap().repairs.is_empty());
    }

    #[test]
    fn dropped_fillers_are_put_back_where_the_check_digits_say() {
        // One filler lost inside the personal number: padding at the end would shift the
        // check digits; the search puts it back inside the run.
        let short = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<10"];
        let m = resolve(&lines(&short), 2026).unwrap();
        assert_eq!(m.lines, lines(&TD3));
        assert!(m.valid, "{:?}", m.checks);
        let doubled =
            ["I<UTOD231458907<<<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];
        assert_eq!(resolve(&lines(&doubled), 2026).unwrap().lines, lines(&TD1_ICAO));
        assert!(resolve(&lines(&["HELLO WORLD", "NOT AN MRZ"]), 2026).is_none());
    }

    #[test]
    fn optional_data_is_repaired_only_through_the_composite() {
        // TD1 whose second optional field holds the letter I; the composite proves it.
        let l1 = "I<UTOD231458907<<<<<<<<<<<<<<<";
        let mut l2 = "7408122F1204159UTO<IRL<<<<<<<".to_string();
        l2.push(check_digit(&format!("{}{}{}{}", &l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29])).unwrap());
        let good = parse(&lines(&[l1, &l2, TD1_ICAO[2]]), 2026).unwrap();
        assert!(good.valid && good.repairs.is_empty(), "{:?}", good.checks);
        let misread = l2.replacen("<IRL", "<1RL", 1);
        let m = parse(&lines(&[l1, &misread, TD1_ICAO[2]]), 2026).unwrap();
        assert_eq!(m.lines[1], l2);
        assert!(m.valid);
        assert_eq!(m.repairs, [(1, 19, '1', 'I')]);
        // With I<28 two single swaps (1 to I, 2 to Z) satisfy the composite: nothing is changed.
        let mut l2 = "7408122F1204159UTO<I<28<<<<<<".to_string();
        l2.push(check_digit(&format!("{}{}{}{}", &l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29])).unwrap());
        let m = parse(&lines(&[l1, &l2.replacen("<I<", "<1<", 1), TD1_ICAO[2]]), 2026).unwrap();
        assert!(!m.valid && m.repairs.is_empty(), "{:?}", m.repairs);
        // The US specimen residence card: every check digit is wrong as printed; one 0 -> O
        // swap in its optional data makes the composite pass, and that proves nothing.
        let us = ["C1USA0000000392SRC0000000039<<", "2001010F8001022SLV<<<<<<<<<<<0", "VOID<<VOID<<<<<<<<<<<<<<<<<<<<"];
        let m = parse(&lines(&us), 2026).unwrap();
        assert_eq!(m.lines[0], us[0], "{:?}", m.repairs);
        assert!(!m.valid);
    }

    #[test]
    fn a_changed_digit_is_reported_not_fixed() {
        let bad = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408132F1204159ZE184226B<<<<<10"];
        let m = parse(&lines(&bad), 2026).unwrap();
        assert!(!m.valid);
        assert_eq!(m.birth_date, "1974-08-13");
        let failing: Vec<&str> = m.checks.iter().filter(|c| !c.valid).map(|c| c.field).collect();
        assert_eq!(failing, ["birth_date", "composite"]);
    }

    #[test]
    fn fillers_missing_given_names_and_centuries() {
        let no_given = ["P<UTOERIKSSON<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
        let m = parse(&lines(&no_given), 2026).unwrap();
        assert_eq!((m.surname.as_str(), m.given_names.as_str()), ("ERIKSSON", ""));
        assert_eq!(date("100101", true, 2026), "2010-01-01");
        assert_eq!(date("300101", true, 2026), "1930-01-01");
        assert_eq!(date("300101", false, 2026), "2030-01-01");
        assert_eq!(date("991301", true, 2026), "991301", "month 13 stays raw");
    }

    #[test]
    fn find_picks_the_zone_out_of_other_text() {
        let ocr: Vec<String> = [
            "PASSPORT",
            "Surname ERIKSSON",
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<",
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let zone = find(&ocr).unwrap();
        assert_eq!(zone.len(), 2);
        assert_eq!(zone[0].len(), 44, "a line one filler short is padded");
        let td1: Vec<String> =
            std::iter::once("NEDERLAND".to_string()).chain(TD1.iter().map(|s| s.replace('<', "«"))).collect();
        assert_eq!(find(&td1).unwrap(), lines(&TD1));
        assert!(find(&["hello world".to_string()]).is_none());
        // Specks of the guilloche read between the two lines do not part them.
        let specks: Vec<String> = [TD3[0], "LLILODLRL", "1aLIki", "Uuis Tsc-as", TD3[1]].map(String::from).to_vec();
        assert_eq!(find(&specks).unwrap(), lines(&TD3));
        // A TD2 whose optional data fills its data line to the end: no filler there.
        let full = ["IDGBRINCAAN<<<<<<<<<<<<<<<<<<<<<<<<<", "54JT3A5UB4LVA9407037F29051219B089650"].map(String::from);
        assert_eq!(find(&full).unwrap(), full);
        let digits = ["12345678901234567890123456789012345", "98765432109876543210987654321098765"].map(String::from);
        assert!(find(&digits).is_none(), "no line with a filler is no zone");
        let parted: Vec<String> = [TD3[0], "Authority BUNDESREPUBLIK", TD3[1]].map(String::from).to_vec();
        assert!(find(&parted).is_none(), "a line of text between them still parts them");
    }
}

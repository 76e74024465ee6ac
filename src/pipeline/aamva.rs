//! AAMVA DL/ID payloads: the PDF417 barcode on the back of US and Canadian driver licences and
//! ID cards (AAMVA DL/ID Card Design Standard, versions 1 to 10).
//!
//! A payload is a header (`@`, the data element separator, the record separator, the segment
//! terminator, `ANSI ` or `AAMVA`, the 6-digit IIN, the 2-digit standard version, from version 2
//! on a 2-digit jurisdiction version, the 2-digit number of entries), one 10-character designator
//! per subfile (type, 4-digit offset, 4-digit length), then the subfiles: the type (`DL`, `ID`,
//! `Z?` for the jurisdiction's own) followed by data elements, each a 3-character element ID and
//! its value, separated by the data element separator and ended by the segment terminator.
//! Issuers get offsets wrong often enough that a subfile is also looked for by its type.

use std::collections::BTreeMap;

use serde::Serialize;

use super::aamva_iin;

/// The issuer of a card: its IIN and the jurisdiction the IIN (or the payload) names.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Issuer {
    /// The 6-digit Issuer Identification Number.
    pub iin: String,
    /// The jurisdiction's code (`CA`, `ON`, ...): the IIN's, else the payload's `DAJ`.
    pub jurisdiction_code: Option<String>,
    /// The jurisdiction's name, when the IIN is a known one.
    pub jurisdiction: Option<String>,
    /// `USA`, `CAN` or `MEX` (the payload's `DCG`, else the IIN's country).
    pub country: Option<String>,
}

/// One subfile with every data element, raw.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Subfile {
    /// `DL` (driver licence), `ID` (identification card), or a jurisdiction's `Z?` subfile.
    #[serde(rename = "type")]
    pub subfile_type: String,
    /// Element ID -> value (trailing spaces trimmed), known or not.
    pub elements: BTreeMap<String, String>,
}

/// The fields of a card read from its AAMVA payload (dates ISO 8601).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AamvaFields {
    /// `DAQ`: the licence or ID number.
    pub document_number: String,
    /// `DCS` (or version 1's `DAB`/`DAA`).
    pub family_name: String,
    /// `DAC` and `DAD` (versions 2-3: `DCT`; version 1: `DAC`/`DAD` or `DAA`), space-separated.
    pub given_names: String,
    /// `DBB`.
    pub birth_date: String,
    /// `DBA`.
    pub expiry_date: String,
    /// `DBD`, when present and a date.
    pub issue_date: Option<String>,
    /// `DBC`: `M`, `F` or `X` (1, 2, 9 in the standard).
    pub sex: Option<String>,
    /// `DAG` (and `DAH`).
    pub street: Option<String>,
    /// `DAI`.
    pub city: Option<String>,
    /// `DAJ`.
    pub jurisdiction_code: Option<String>,
    /// `DAK`, trimmed.
    pub postal_code: Option<String>,
}

/// A parsed AAMVA payload.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Aamva {
    /// The AAMVA standard version (1 = DL/ID-2000 ... 10 = DL/ID-2020).
    pub version: u32,
    /// The jurisdiction's own version of its layout (version 2 on).
    pub jurisdiction_version: Option<u32>,
    pub issuer: Issuer,
    /// `driver_license` (a `DL` subfile) or `id_card` (`ID`).
    pub document_type: String,
    pub fields: AamvaFields,
    pub subfiles: Vec<Subfile>,
}

/// Why a barcode's text is not an AAMVA payload that can be trusted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AamvaError {
    /// Not an AAMVA header at all (another barcode).
    #[error("not an AAMVA DL/ID payload: {0}")]
    NotAamva(String),
    /// An AAMVA header, but the payload is damaged or lacks a mandatory element.
    #[error("corrupt AAMVA payload: {0}")]
    Corrupt(String),
}

impl AamvaError {
    /// The stable code in answers: `not_aamva` or `corrupt`.
    pub fn code(&self) -> &'static str {
        match self {
            AamvaError::NotAamva(_) => "not_aamva",
            AamvaError::Corrupt(_) => "corrupt",
        }
    }
}

fn digits(s: &str, at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
}

/// A date of `value` in the order the issuer writes it: `CCYYMMDD` in Canada and in version 1,
/// `MMDDCCYY` in the US; a value that is not a date in that order is tried in the other.
fn date(value: &str, ymd_first: bool) -> Option<String> {
    let v: String = value.chars().filter(|c| c.is_ascii_digit()).collect();
    if v.len() != 8 {
        return None;
    }
    let as_ymd = || Some((digits(&v, 0, 4)?, digits(&v, 4, 2)?, digits(&v, 6, 2)?));
    let as_mdy = || Some((digits(&v, 4, 4)?, digits(&v, 0, 2)?, digits(&v, 2, 2)?));
    let valid = |(y, m, d): (u32, u32, u32)| {
        jiff::civil::Date::new(i16::try_from(y).ok()?, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
    };
    let (first, second) = if ymd_first { (as_ymd(), as_mdy()) } else { (as_mdy(), as_ymd()) };
    let d = first.and_then(valid).or_else(|| second.and_then(valid))?;
    (1900..=2100).contains(&d.year()).then(|| d.to_string())
}

fn sex(v: &str) -> Option<String> {
    match v.trim() {
        "1" | "M" => Some("M".into()),
        "2" | "F" => Some("F".into()),
        "9" | "X" => Some("X".into()),
        _ => None,
    }
}

/// The data elements of one subfile's text (after its 2-character type).
fn elements(text: &str, sep: char, term: char) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for item in text.split([sep, term, '\r', '\n']) {
        let item = item.trim_start();
        let Some(id) = item.get(..3) else { continue };
        if !id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            continue;
        }
        out.entry(id.to_string()).or_insert_with(|| item[3..].trim_end().to_string());
    }
    out
}

/// Parses an AAMVA DL/ID payload (the text of the PDF417).
pub fn parse(text: &str) -> Result<Aamva, AamvaError> {
    let start =
        text.find('@').filter(|&i| i < 4).ok_or_else(|| AamvaError::NotAamva("no `@` compliance indicator".into()))?;
    let t = &text[start..];
    let chars: Vec<char> = t.chars().take(4).collect();
    if chars.len() < 4 {
        return Err(AamvaError::NotAamva("too short".into()));
    }
    let (sep, term) = (chars[1], chars[3]);
    let body = &t[chars.iter().map(|c| c.len_utf8()).sum::<usize>()..];
    let file_type = body.get(..5).unwrap_or("");
    if file_type != "ANSI " && file_type != "AAMVA" {
        return Err(AamvaError::NotAamva(format!("file type {file_type:?}, not `ANSI `")));
    }
    let h = &body[5..];
    let iin = h.get(..6).filter(|s| s.bytes().all(|b| b.is_ascii_digit()));
    let iin = iin.ok_or_else(|| AamvaError::Corrupt("the IIN is not 6 digits".into()))?.to_string();
    let version = digits(h, 6, 2).ok_or_else(|| AamvaError::Corrupt("no 2-digit AAMVA version".into()))?;
    if !(1..=99).contains(&version) {
        return Err(AamvaError::Corrupt(format!("AAMVA version {version}")));
    }
    // Version 1 has no jurisdiction version; a few early version-2+ cards omit it too: the
    // designators then start 2 characters earlier, which the check below tells.
    let (jurisdiction_version, mut at) = match version {
        1 => (None, 8),
        _ => (digits(h, 8, 2), 10),
    };
    let designator_at = |at: usize| {
        let n = digits(h, at, 2)?;
        let d = h.get(at + 2..at + 4)?;
        (n > 0 && d.bytes().all(|b| b.is_ascii_uppercase())).then_some(n)
    };
    let entries = match designator_at(at) {
        Some(n) => n,
        None if version > 1 && designator_at(8).is_some() => {
            at = 8;
            designator_at(8).unwrap_or(0)
        }
        None => return Err(AamvaError::Corrupt("no subfile designators".into())),
    };
    let jurisdiction_version = if at == 8 { None } else { jurisdiction_version };
    let mut subfiles = Vec::new();
    let header_len = t.len() - h.len();
    for k in 0..entries as usize {
        let d = at + 2 + 10 * k;
        let (Some(kind), Some(offset), Some(length)) = (h.get(d..d + 2), digits(h, d + 2, 4), digits(h, d + 6, 4))
        else {
            return Err(AamvaError::Corrupt(format!("subfile designator {} is cut short", k + 1)));
        };
        // The offset counts from the payload's first byte; trust it only if the type is there.
        let (offset, length) = (offset as usize, length as usize);
        let at_offset = t.get(offset..offset + 2) == Some(kind);
        let begin = if at_offset {
            Some(offset)
        } else {
            t.get(header_len + at + 2 + 10 * entries as usize..)
                .and_then(|rest| rest.find(kind).map(|i| i + header_len + at + 2 + 10 * entries as usize))
        };
        let Some(begin) = begin else { continue };
        let end = if at_offset { (begin + length).min(t.len()) } else { t.len() };
        let mut text = t.get(begin + 2..end).unwrap_or("");
        if let Some(stop) = text.find(term) {
            text = &text[..stop];
        }
        subfiles.push(Subfile { subfile_type: kind.to_string(), elements: elements(text, sep, term) });
    }
    let main = subfiles
        .iter()
        .find(|s| s.subfile_type == "DL" || s.subfile_type == "ID")
        .ok_or_else(|| AamvaError::Corrupt("no DL or ID subfile".into()))?;
    let e = &main.elements;
    let get = |id: &str| e.get(id).map(|v| v.trim().to_string()).filter(|v| !v.is_empty() && v != "NONE");
    let known = aamva_iin::lookup(&iin);
    let country = get("DCG").or_else(|| known.map(|k| k.2.to_string()));
    let ymd_first = version == 1 || country.as_deref() == Some("CAN");
    let need = |id: &str| get(id).ok_or_else(|| AamvaError::Corrupt(format!("mandatory element {id} missing")));
    let need_date = |id: &str| {
        let v = need(id)?;
        date(&v, ymd_first).ok_or_else(|| AamvaError::Corrupt(format!("{id} {v:?} is not a date")))
    };
    let full: Vec<String> = get("DAA")
        .map(|v| v.split([',', '$']).map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let family_name = get("DCS")
        .or_else(|| get("DAB"))
        .or_else(|| full.first().cloned())
        .ok_or_else(|| AamvaError::Corrupt("no family name (DCS)".into()))?;
    let given: Vec<String> = match (get("DAC"), get("DCT")) {
        (Some(first), _) => std::iter::once(first).chain(get("DAD")).collect(),
        (None, Some(dct)) => dct.split([',', '$', ' ']).filter(|p| !p.is_empty()).map(str::to_string).collect(),
        (None, None) => full.iter().skip(1).cloned().collect(),
    };
    let fields = AamvaFields {
        document_number: need("DAQ")?,
        family_name,
        given_names: given.join(" "),
        birth_date: need_date("DBB")?,
        expiry_date: need_date("DBA")?,
        issue_date: get("DBD").and_then(|v| date(&v, ymd_first)),
        sex: get("DBC").and_then(|v| sex(&v)),
        street: get("DAG").map(|s| match get("DAH") {
            Some(more) => format!("{s}, {more}"),
            None => s,
        }),
        city: get("DAI"),
        jurisdiction_code: get("DAJ"),
        postal_code: get("DAK"),
    };
    let issuer = Issuer {
        iin,
        jurisdiction_code: known.map(|k| k.0.to_string()).or_else(|| fields.jurisdiction_code.clone()),
        jurisdiction: known.map(|k| k.1.to_string()),
        country,
    };
    let document_type = if main.subfile_type == "DL" { "driver_license" } else { "id_card" }.to_string();
    Ok(Aamva { version, jurisdiction_version, issuer, document_type, fields, subfiles })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(header: &str, subfiles: &[(&str, &str)]) -> String {
        let mut offset = header.len() + 10 * subfiles.len();
        let mut designators = String::new();
        let mut body = String::new();
        for (t, s) in subfiles {
            designators += &format!("{t}{offset:04}{:04}", s.len());
            offset += s.len();
            body += s;
        }
        format!("{header}{designators}{body}")
    }

    #[test]
    fn version_10_us_licence() {
        let dl = "DLDAQD1234562\nDCSPUBLIC\nDACJOHN\nDADQUINCY\nDBD01152020\nDBB07041990\nDBA07042028\nDBC1\nDAG123 MAIN ST\nDAISACRAMENTO\nDAJCA\nDAK958220000  \nDCGUSA\nDXYFUTURE\r";
        let text = payload("@\n\x1e\rANSI 636014100002", &[("DL", dl), ("ZC", "ZCZCAW\r")]);
        let a = parse(&text).unwrap();
        assert_eq!((a.version, a.jurisdiction_version), (10, Some(0)));
        assert_eq!(a.issuer.jurisdiction.as_deref(), Some("California"));
        assert_eq!(a.document_type, "driver_license");
        let f = &a.fields;
        assert_eq!((f.family_name.as_str(), f.given_names.as_str()), ("PUBLIC", "JOHN QUINCY"));
        assert_eq!((f.birth_date.as_str(), f.expiry_date.as_str()), ("1990-07-04", "2028-07-04"));
        assert_eq!(f.issue_date.as_deref(), Some("2020-01-15"));
        assert_eq!((f.sex.as_deref(), f.postal_code.as_deref()), (Some("M"), Some("958220000")));
        assert_eq!(a.subfiles[0].elements["DXY"], "FUTURE", "unknown elements are kept raw");
        assert_eq!(a.subfiles[1].subfile_type, "ZC");
    }

    #[test]
    fn canadian_dates_version_1_and_dct_names() {
        let id = "IDDAQ123\nDCSTREMBLAY\nDCTMARIE,ANNE\nDBB19851231\nDBA20300101\nDCGCAN\r";
        let a = parse(&payload("@\n\x1e\rANSI 604428030101", &[("ID", id)])).unwrap();
        assert_eq!((a.document_type.as_str(), a.fields.given_names.as_str()), ("id_card", "MARIE ANNE"));
        assert_eq!((a.fields.birth_date.as_str(), a.issuer.country.as_deref()), ("1985-12-31", Some("CAN")));
        let v1 = "DLDAQ99\nDAASMITH,JANE,Q\nDBB19700102\nDBA20250102\r";
        let a = parse(&payload("@\n\x1e\rANSI 6360150101", &[("DL", v1)])).unwrap();
        assert_eq!((a.version, a.jurisdiction_version), (1, None));
        assert_eq!((a.fields.family_name.as_str(), a.fields.given_names.as_str()), ("SMITH", "JANE Q"));
        assert_eq!(a.fields.birth_date, "1970-01-02");
    }

    #[test]
    fn wrong_offsets_are_found_by_type() {
        let dl = "DLDAQ1\nDCSDOE\nDACJO\nDBB01021999\nDBA01022030\r";
        let text = format!("@\n\x1e\rANSI 636001080001DL09990050{dl}");
        assert_eq!(parse(&text).unwrap().fields.family_name, "DOE");
    }

    #[test]
    fn other_barcodes_and_damaged_payloads_are_refused() {
        assert!(matches!(parse("https://example.test/x"), Err(AamvaError::NotAamva(_))));
        assert!(matches!(parse("@\n\x1e\rXYZ"), Err(AamvaError::NotAamva(_))));
        let no_dob = "DLDAQ1\nDCSDOE\nDBA01022030\r";
        let e = parse(&payload("@\n\x1e\rANSI 636001080001", &[("DL", no_dob)])).unwrap_err();
        assert_eq!(e, AamvaError::Corrupt("mandatory element DBB missing".into()));
        let bad_date = "DLDAQ1\nDCSDOE\nDBB99999999\nDBA01022030\r";
        assert_eq!(parse(&payload("@\n\x1e\rANSI 636001080001", &[("DL", bad_date)])).unwrap_err().code(), "corrupt");
        assert_eq!(parse("@\n\x1e\rANSI 63").unwrap_err().code(), "corrupt");
    }

    #[test]
    fn dates_fall_back_to_the_other_order() {
        assert_eq!(date("07041990", false).as_deref(), Some("1990-07-04"));
        assert_eq!(date("19900704", false).as_deref(), Some("1990-07-04"), "a US card writing CCYYMMDD");
        assert_eq!(date("19900231", true), None);
    }
}

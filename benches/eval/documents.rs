//! Documents (MRZ): every item of a set read by the real pipeline in-process, scored as
//! ACCURACY.md says: *read exactly* (every MRZ line equals the ground truth, every parsed field
//! equals what the ground truth's lines parse to, `valid` agrees with `gt_valid`), *found* (an
//! MRZ of the right format), and for a document without an MRZ, `mrz: null`.

use std::{path::Path, sync::Arc, time::Instant};

use verity::{
    pipeline::{
        document::{today, DocumentPipeline},
        mrz::{self, Mrz},
        mrz_read,
        ocr::Ocr,
    },
    vision::decode,
};

use super::report::{write_csv, Table};

struct Item {
    file: String,
    format: String,
    lines: Vec<String>,
    gt_valid: Option<bool>,
    /// Where it came from (devsets: the source repository; synthetic: the generator's seed).
    source: String,
    /// The synthetic condition, or `real` for the dev set.
    condition: String,
}

fn load(dir: &Path) -> Vec<Item> {
    let mut r =
        csv::Reader::from_path(dir.join("ground_truth.csv")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let header = r.headers().expect("header").clone();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (file, format, l1, l2, l3, valid) =
        (col("file"), col("format"), col("line1"), col("line2"), col("line3"), col("gt_valid"));
    let (repo, source, condition) = (col("repo"), col("source"), col("condition"));
    r.records()
        .map(|rec| {
            let rec = rec.expect("row");
            let get = |c: Option<usize>| c.and_then(|i| rec.get(i)).unwrap_or("").to_string();
            let lines: Vec<String> = [l1, l2, l3].into_iter().map(get).filter(|l| !l.is_empty()).collect();
            Item {
                file: get(file),
                format: get(format),
                lines,
                gt_valid: match get(valid).as_str() {
                    "1" => Some(true),
                    "0" => Some(false),
                    _ => None,
                },
                source: [get(repo), get(source)].into_iter().find(|s| !s.is_empty()).unwrap_or_default(),
                condition: Some(get(condition)).filter(|c| !c.is_empty()).unwrap_or_else(|| "real".into()),
            }
        })
        .collect()
}

fn format_name(m: &Mrz) -> String {
    serde_json::to_value(m.format).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// The parsed fields that must agree (the lines and `valid` are compared separately).
fn fields(m: &Mrz) -> [&str; 12] {
    [
        &m.document_code,
        &m.issuing_state,
        &m.document_number,
        &m.surname,
        &m.given_names,
        &m.nationality,
        &m.birth_date,
        &m.sex,
        &m.expiry_date,
        &m.optional_data,
        &m.optional_data_2,
        if m.format == mrz::Format::Td1 { "td1" } else { "" },
    ]
}

/// Character differences between two zones (positions that differ, plus length differences).
fn char_errors(a: &[String], b: &[String]) -> usize {
    let mut e = a.len().abs_diff(b.len()) * 30;
    for (x, y) in a.iter().zip(b) {
        e += x.chars().zip(y.chars()).filter(|(p, q)| p != q).count() + x.len().abs_diff(y.len());
    }
    e
}

/// Reads every item of `dir` and prints the tables; `name` names the CSV.
///
/// `VERITY_EVAL_FIRST_PASS=1` scores the first pass alone (the zone among the page's OCR
/// lines, no recovery: the reader as it was before the recovery passes);
/// `VERITY_EVAL_MRZ_FIRST=1` reads as onboarding does by default (the MRZ band first, the whole
/// page only when it holds no valid MRZ); `VERITY_EVAL_DEBUG=1` prints the page's OCR lines of
/// every item not read exactly.
pub fn run(name: &str, dir: &Path, docs: &DocumentPipeline, ocr: &Ocr, rt: &tokio::runtime::Runtime) {
    let items = load(dir);
    let flag = |v: &str| std::env::var(v).is_ok_and(|v| v == "1");
    let first_pass = flag("VERITY_EVAL_FIRST_PASS").then_some(ocr);
    let debug = flag("VERITY_EVAL_DEBUG");
    let full_text = !flag("VERITY_EVAL_MRZ_FIRST");
    if !full_text {
        println!("{name}: MRZ first, as onboarding reads (VERITY_EVAL_MRZ_FIRST=1)");
    }
    if first_pass.is_some() {
        println!("{name}: first pass only (VERITY_EVAL_FIRST_PASS=1)");
    }
    let this_year = today().0;
    let measures = ["found", "exact"];
    let mut by_format = Table::new(format!("{name}: by format"), &measures);
    let mut by_source = Table::new(format!("{name}: by source"), &measures);
    let mut by_condition = Table::new(format!("{name}: by condition"), &measures);
    let mut rows = Vec::new();
    let mut times = Vec::new();
    let (mut repairs, mut invented) = (0usize, 0usize);
    for item in &items {
        let path = dir.join("images").join(&item.file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let start = Instant::now();
        let read = decode::decode("document", &bytes, 100_000_000).map_err(|e| format!("{e}")).and_then(|img| {
            let img = Arc::new(img);
            if let Some(ocr) = first_pass {
                // The reader before recovery: the zone among the page's OCR lines, parsed.
                let lines = rt.block_on(ocr.read(img)).map_err(|e| format!("{e}"))?;
                Ok((mrz_read::zone_among(lines.iter(), this_year), lines))
            } else {
                rt.block_on(docs.read_with(img, None, full_text))
                    .map(|r| (r.mrz, r.text_lines))
                    .map_err(|e| format!("{e}"))
            }
        });
        let ms = start.elapsed().as_secs_f64() * 1e3;
        times.push(ms);
        let got = read.as_ref().ok().and_then(|r| r.0.clone());
        if debug && got.as_ref().is_none_or(|m| m.lines != item.lines) {
            if let Ok((_, lines)) = &read {
                println!("-- {}: page OCR lines", item.file);
                for l in lines {
                    println!(
                        "   {:?} conf {:.2} box {:.0},{:.0} {:.0}x{:.0}",
                        l.text, l.confidence, l.bbox.x, l.bbox.y, l.bbox.width, l.bbox.height
                    );
                }
            }
        }
        let (found, exact, outcome) = if item.format == "none" {
            invented += usize::from(got.is_some());
            (got.is_none(), got.is_none(), if got.is_none() { "ok" } else { "invented" })
        } else {
            let gt = mrz::parse(&item.lines, this_year);
            match (&got, &gt) {
                (Some(g), Some(t)) if format_name(g) == item.format => {
                    let lines_ok = g.lines == item.lines;
                    let fields_ok = fields(g) == fields(t);
                    let valid_ok = Some(g.valid) == item.gt_valid;
                    let outcome = match (lines_ok, fields_ok, valid_ok) {
                        (true, true, true) => "ok",
                        (false, _, _) => "wrong_lines",
                        (_, false, _) => "wrong_fields",
                        _ => "wrong_valid",
                    };
                    (true, outcome == "ok", outcome)
                }
                (Some(_), _) => (false, false, "wrong_format"),
                (None, _) => (false, false, if read.is_err() { "error" } else { "not_found" }),
            }
        };
        repairs += got.as_ref().map_or(0, |m| m.repairs.len());
        let passed = [("found", found), ("exact", exact)];
        by_format.add(&item.format, &passed);
        by_source.add(&item.source, &passed);
        by_condition.add(&item.condition, &passed);
        rows.push(vec![
            item.file.clone(),
            item.format.clone(),
            item.condition.clone(),
            item.source.clone(),
            outcome.to_string(),
            found.to_string(),
            exact.to_string(),
            got.as_ref().map_or(String::new(), |m| m.valid.to_string()),
            item.gt_valid.map_or(String::new(), |v| v.to_string()),
            got.as_ref().map_or(String::new(), |m| char_errors(&m.lines, &item.lines).to_string()),
            got.as_ref().map_or(String::new(), |m| m.lines.join(" / ")),
            item.lines.join(" / "),
            got.as_ref().map_or(String::new(), |m| format!("{:?}", m.repairs)),
            read.as_ref().err().cloned().unwrap_or_default(),
            format!("{ms:.1}"),
        ]);
    }
    by_format.print();
    if by_source.rows.len() > 2 {
        by_source.print();
    }
    if by_condition.rows.len() > 2 {
        by_condition.print();
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    println!(
        "{name}: {} items, {repairs} repairs made, {invented} MRZs on documents without one; ms per document: median {median:.0}, mean {mean:.0}",
        items.len()
    );
    let failures: Vec<&Vec<String>> = rows.iter().filter(|r| r[4] != "ok").collect();
    for r in failures.iter().take(40) {
        println!("  {} [{}] {}: got `{}` want `{}` {}", r[0], r[2], r[4], r[10], r[11], r[13]);
    }
    write_csv(
        &format!("documents-{name}.csv"),
        &[
            "file",
            "format",
            "condition",
            "source",
            "outcome",
            "found",
            "exact",
            "valid",
            "gt_valid",
            "char_errors",
            "got",
            "ground_truth",
            "repairs",
            "error",
            "ms",
        ],
        &rows,
    );
}

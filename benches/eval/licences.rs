//! Driver licences (PDF417 + AAMVA): every licence back of a set read by the real document
//! pipeline in-process (the image sent as `back`, the front being the same image, as a user
//! with only the back would). Scored per item: *decoded* (a PDF417 found and its text equal to
//! the payload drawn), *exact* (decoded, and every field the reader gives equal to the ground
//! truth: number, names, dates, sex, document type, version, IIN, jurisdiction, country).

use std::{path::Path, sync::Arc, time::Instant};

use serde_json::Value;
use verity::{pipeline::document::DocumentPipeline, vision::decode};

use super::report::{write_csv, Table};

/// The ground truth's value of `key` as text.
fn gt(item: &Value, key: &str) -> String {
    match &item[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// Reads every item of `dir` (ground_truth.jsonl) and prints the tables.
pub fn run(name: &str, dir: &Path, docs: &DocumentPipeline, rt: &tokio::runtime::Runtime) {
    let text =
        std::fs::read_to_string(dir.join("ground_truth.jsonl")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let items: Vec<Value> =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("json")).collect();
    let measures = ["decoded", "exact"];
    let (mut by_condition, mut by_version, mut by_country) = (
        Table::new(format!("{name}: by condition"), &measures),
        Table::new(format!("{name}: by AAMVA version"), &measures),
        Table::new(format!("{name}: by country"), &measures),
    );
    let (mut rows, mut times) = (Vec::new(), Vec::new());
    for item in &items {
        let path = dir.join("images").join(gt(item, "file"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let start = Instant::now();
        let read = decode::decode("document", &bytes, 100_000_000).map_err(|e| format!("{e}")).and_then(|img| {
            let img = Arc::new(img);
            rt.block_on(docs.read(img.clone(), Some(img))).map_err(|e| format!("{e}"))
        });
        times.push(start.elapsed().as_secs_f64() * 1e3);
        let barcode = read.as_ref().ok().and_then(|r| r.barcode.clone());
        let decoded = barcode.as_ref().is_some_and(|b| b.raw == gt(item, "payload"));
        let mut wrong = Vec::new();
        if let (true, Some(a)) = (decoded, barcode.as_ref().and_then(|b| b.aamva.as_ref())) {
            let f = &a.fields;
            let got = [
                ("version", a.version.to_string()),
                ("iin", a.issuer.iin.clone()),
                ("jurisdiction_code", a.issuer.jurisdiction_code.clone().unwrap_or_default()),
                ("country", a.issuer.country.clone().unwrap_or_default()),
                ("document_type", a.document_type.clone()),
                ("document_number", f.document_number.clone()),
                ("family_name", f.family_name.clone()),
                ("given_names", f.given_names.clone()),
                ("birth_date", f.birth_date.clone()),
                ("expiry_date", f.expiry_date.clone()),
                ("issue_date", f.issue_date.clone().unwrap_or_default()),
                ("sex", f.sex.clone().unwrap_or_default()),
            ];
            wrong = got.iter().filter(|(k, v)| *v != gt(item, k)).map(|(k, v)| format!("{k}={v}")).collect();
        } else if decoded {
            wrong.push(format!("not parsed: {:?}", barcode.as_ref().and_then(|b| b.problem.clone())));
        }
        let exact = decoded && wrong.is_empty();
        let passed = [("decoded", decoded), ("exact", exact)];
        by_condition.add(&gt(item, "condition"), &passed);
        by_version.add(&format!("v{:02}", item["version"].as_u64().unwrap_or(0)), &passed);
        by_country.add(&gt(item, "country"), &passed);
        rows.push(vec![
            gt(item, "file"),
            gt(item, "condition"),
            gt(item, "version"),
            gt(item, "country"),
            decoded.to_string(),
            exact.to_string(),
            wrong.join("; "),
            read.as_ref().err().cloned().unwrap_or_default(),
            format!("{:.1}", times.last().copied().unwrap_or(0.0)),
        ]);
    }
    by_condition.print();
    by_version.print();
    by_country.print();
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    println!(
        "{name}: {} licence backs; ms per document read (front = back = the image): median {median:.0}",
        items.len()
    );
    for r in rows.iter().filter(|r| r[5] != "true").take(30) {
        println!("  {} [{}] v{} {}: decoded {} {}{}", r[0], r[1], r[2], r[3], r[4], r[6], r[7]);
    }
    write_csv(
        &format!("licences-{name}.csv"),
        &["file", "condition", "version", "country", "decoded", "exact", "wrong", "error", "ms"],
        &rows,
    );
}

//! Plates: every photo of a set read by the real plate reader in-process, scored as
//! ACCURACY.md says: *top-1* (the most confident plate's text is a labelled plate of the photo,
//! letters and digits only), *any* (some returned plate is), the character error rate of the
//! most confident plate against the main plate, *located* (its box's centre inside a labelled
//! box, where the set has boxes) and a loose top-1 folding O/0 and I/1 (a diagnostic). Each miss
//! is one failure kind: `not_found` (no plate), `wrong_object` (the most confident plate is
//! elsewhere: outside every labelled box, or, without boxes, a text sharing under half its
//! characters with the plate) or `wrong_text` (the right plate, misread).
//!
//! Negatives: photos without a plate (faces, documents, a page of text from the test images)
//! must give no plate; each plate they give is listed.

use std::{path::Path, sync::Arc, time::Instant};

use verity::{
    pipeline::plate::{formats::Region, Plate, PlateReader},
    vision::{decode, geometry::Rect},
};

use super::report::{write_csv, Table};

struct Item {
    file: String,
    region: String,
    /// Every labelled plate of the photo, letters and digits only (main plate first).
    plates: Vec<String>,
    /// Labelled boxes (x, y, w, h), main plate first; empty where the set has none.
    boxes: Vec<[f32; 4]>,
    /// The synthetic condition, or `real`.
    condition: String,
}

fn ascii_plate(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

fn load(dir: &Path) -> Vec<Item> {
    let mut r =
        csv::Reader::from_path(dir.join("ground_truth.csv")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let header = r.headers().expect("header").clone();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (file, country, region, plate, all, boxes, condition) = (
        col("file"),
        col("country"),
        col("region"),
        col("plate"),
        col("all_plates"),
        col("all_boxes"),
        col("condition"),
    );
    r.records()
        .map(|rec| {
            let rec = rec.expect("row");
            let get = |c: Option<usize>| c.and_then(|i| rec.get(i)).unwrap_or("").to_string();
            let main = ascii_plate(&get(plate));
            let mut plates = vec![main.clone()];
            plates.extend(get(all).split('|').map(ascii_plate).filter(|p| !p.is_empty() && *p != main));
            let boxes = get(boxes)
                .split('|')
                .filter_map(|b| {
                    let v: Vec<f32> = b.split_whitespace().filter_map(|x| x.parse().ok()).collect();
                    (v.len() == 4).then(|| [v[0], v[1], v[2], v[3]])
                })
                .collect();
            let region = [get(region), get(country)].into_iter().find(|s| !s.is_empty()).unwrap_or("unknown".into());
            Item {
                file: get(file),
                region,
                plates,
                boxes,
                condition: Some(get(condition)).filter(|c| !c.is_empty()).unwrap_or_else(|| "real".into()),
            }
        })
        .collect()
}

/// Levenshtein distance in characters.
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn loose(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'O' => '0',
            'I' => '1',
            c => c,
        })
        .collect()
}

fn inside(p: &Plate, b: &[f32; 4]) -> bool {
    Rect { x: b[0], y: b[1], width: b[2], height: b[3] }.contains(p.bbox.centre())
}

fn read(
    reader: &PlateReader,
    rt: &tokio::runtime::Runtime,
    bytes: &[u8],
    region: Region,
) -> Result<Vec<Plate>, String> {
    let img = decode::decode("image", bytes, 100_000_000).map_err(|e| format!("{e}"))?;
    rt.block_on(reader.read_in(Arc::new(img), region)).map_err(|e| format!("{e}"))
}

/// The `region` option a caller who knows the photo's country would send.
fn region_of(country: &str) -> Region {
    match country {
        "US" => Region::Us,
        "BR" => Region::Br,
        "CN" => Region::Cn,
        "UA" | "EU" | "GB" => Region::Eu,
        _ => Region::Auto,
    }
}

/// Reads every item of `dir` and prints the tables; `name` names the CSV.
///
/// `VERITY_EVAL_REGION=1` sends each photo's region as the `region` option (as a caller who
/// knows the country does); by default every photo is read with `auto`.
pub fn run(name: &str, dir: &Path, reader: &PlateReader, rt: &tokio::runtime::Runtime) {
    let items = load(dir);
    let given = std::env::var("VERITY_EVAL_REGION").is_ok_and(|v| v == "1");
    if given {
        println!("{name}: each photo read with its own region (VERITY_EVAL_REGION=1)");
    }
    let measures = ["top1", "any", "located", "loose_top1"];
    let mut by_region = Table::new(format!("{name}: by region (located: of the photos with boxes)"), &measures);
    let mut by_condition = Table::new(format!("{name}: by condition"), &measures);
    let mut failures =
        Table::new(format!("{name}: failure kind by region"), &["not_found", "wrong_object", "wrong_text"]);
    let (mut rows, mut times) = (Vec::new(), Vec::new());
    let (mut char_edits, mut chars) = (0usize, 0usize);
    let mut with_boxes = 0usize;
    for item in &items {
        let path = dir.join("images").join(&item.file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let start = Instant::now();
        let got = read(reader, rt, &bytes, if given { region_of(&item.region) } else { Region::Auto });
        let ms = start.elapsed().as_secs_f64() * 1e3;
        times.push(ms);
        let plates = got.as_ref().map(Vec::as_slice).unwrap_or(&[]);
        let top = plates.first();
        let main = &item.plates[0];
        let top1 = top.is_some_and(|p| item.plates.contains(&p.text));
        let any = plates.iter().any(|p| item.plates.contains(&p.text));
        let loose_top1 = top.is_some_and(|p| item.plates.iter().any(|t| loose(t) == loose(&p.text)));
        let located = top.is_some_and(|p| item.boxes.iter().any(|b| inside(p, b)));
        let e = top.map_or(main.chars().count(), |p| edits(&p.text, main));
        char_edits += e.min(main.chars().count());
        chars += main.chars().count();
        let kind = match top {
            _ if top1 => "ok",
            None => "not_found",
            Some(_) if !item.boxes.is_empty() && !located => "wrong_object",
            Some(_) if item.boxes.is_empty() && 2 * e > main.chars().count() => "wrong_object",
            Some(_) => "wrong_text",
        };
        let passed = [("top1", top1), ("any", any), ("located", located), ("loose_top1", loose_top1)];
        by_region.add(&item.region, &passed);
        by_condition.add(&item.condition, &passed);
        failures.add(
            &item.region,
            &[
                ("not_found", kind == "not_found"),
                ("wrong_object", kind == "wrong_object"),
                ("wrong_text", kind == "wrong_text"),
            ],
        );
        with_boxes += usize::from(!item.boxes.is_empty());
        rows.push(vec![
            item.file.clone(),
            item.region.clone(),
            item.condition.clone(),
            kind.to_string(),
            item.plates.join("|"),
            top.map_or(String::new(), |p| p.text.clone()),
            top.map_or(String::new(), |p| p.raw_text.clone()),
            top.map_or(String::new(), |p| format!("{:.3}", p.confidence)),
            top.map_or(String::new(), |p| {
                format!("{:.0} {:.0} {:.0} {:.0}", p.bbox.x, p.bbox.y, p.bbox.width, p.bbox.height)
            }),
            plates.iter().map(|p| p.text.clone()).collect::<Vec<_>>().join("|"),
            e.to_string(),
            got.as_ref().err().cloned().unwrap_or_default(),
            format!("{ms:.1}"),
        ]);
    }
    by_region.print();
    if by_condition.rows.len() > 2 {
        by_condition.print();
    }
    failures.print();
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    println!(
        "{name}: {} photos ({with_boxes} with boxes); character error rate of the most confident plate {:.1}% ({char_edits}/{chars}); ms per photo: median {median:.0}",
        items.len(),
        100.0 * char_edits as f64 / chars.max(1) as f64
    );
    for r in rows.iter().filter(|r| r[3] != "ok").take(60) {
        println!("  {} [{}] {}: got `{}` ({}) want `{}`; all: {}", r[0], r[1], r[3], r[5], r[6], r[4], r[9]);
    }
    write_csv(
        &format!("plates-{name}.csv"),
        &[
            "file",
            "region",
            "condition",
            "outcome",
            "ground_truth",
            "top_text",
            "top_raw",
            "top_confidence",
            "top_box",
            "all_read",
            "char_edits",
            "error",
            "ms",
        ],
        &rows,
    );
}

/// The test images without a plate: faces, identity documents, a page of text.
pub const NEGATIVES: &[&str] = &[
    "astronaut.png",
    "obama.jpg",
    "obama2.jpg",
    "biden.jpg",
    "image_T1.jpg",
    "solvay_conference_1927.jpg",
    "td3_passport_specimen.jpg",
    "nl_td1_id_specimen.jpg",
    "bub_der_personalausweis_kopie.jpg",
    "skimage_page.png",
];

/// Photos without a plate: every plate read on them is a false one.
pub fn negatives(dir: &Path, files: &[&str], reader: &PlateReader, rt: &tokio::runtime::Runtime) {
    let mut false_plates = 0;
    for f in files {
        let Ok(bytes) = std::fs::read(dir.join(f)) else {
            println!("negatives: {f} missing");
            continue;
        };
        let plates = read(reader, rt, &bytes, Region::Auto).unwrap_or_default();
        false_plates += usize::from(!plates.is_empty());
        if !plates.is_empty() {
            let texts: Vec<String> = plates.iter().map(|p| format!("{} ({:.2})", p.text, p.confidence)).collect();
            println!("negatives: {f}: {}", texts.join(", "));
        }
    }
    println!("negatives: {false_plates} of {} photos without a plate gave one", files.len());
}

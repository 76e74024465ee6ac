//! Faces (1:1 verification): every image of a set embedded by the real pipeline in-process
//! (detection on the image with a border, since the dev set's photos are tight crops; the
//! largest face; the aligned face embedded), then scored as ACCURACY.md says: FMR = impostor
//! pairs accepted / impostor pairs, FNMR = genuine pairs rejected / genuine pairs, a photo
//! without a face counting as rejected (and reported apart). Two pair sets: the listed pairs
//! (`pairs.csv`) and every pair of the set's images (many more impostor pairs, so lower FMRs
//! can be backed). For each: FNMR at FMR 1e-2, 1e-3, 1e-4 with the threshold from the impostor
//! distribution, the EER, and the figures at verity's operating points.

use std::{collections::HashMap, path::Path, sync::Arc, time::Instant};

use image::{Rgb, RgbImage};
use verity::{
    pipeline::{face::cosine, operating, FacePipeline},
    vision::decode,
};

use super::report::{rate, write_csv};

/// The border added around each photo before detection, as a fraction of its size.
const BORDER: f32 = 0.5;

fn with_border(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let (bx, by) = ((w as f32 * BORDER) as u32, (h as f32 * BORDER) as u32);
    let mean = {
        let n = (w * h).max(1) as u64;
        let sum = img.pixels().fold([0u64; 3], |s, p| [s[0] + p[0] as u64, s[1] + p[1] as u64, s[2] + p[2] as u64]);
        Rgb([(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8])
    };
    let mut out = RgbImage::from_pixel(w + 2 * bx, h + 2 * by, mean);
    image::imageops::overlay(&mut out, img, bx as i64, by as i64);
    out
}

/// Scores of one pair set: genuine and impostor similarities, and pairs with a missing face.
#[derive(Default)]
struct Scores {
    genuine: Vec<f32>,
    impostor: Vec<f32>,
    genuine_no_face: usize,
    impostor_no_face: usize,
}

impl Scores {
    fn add(&mut self, same: bool, score: Option<f32>) {
        match (same, score) {
            (true, Some(s)) => self.genuine.push(s),
            (false, Some(s)) => self.impostor.push(s),
            (true, None) => self.genuine_no_face += 1,
            (false, None) => self.impostor_no_face += 1,
        }
    }

    fn genuine_n(&self) -> usize {
        self.genuine.len() + self.genuine_no_face
    }

    fn impostor_n(&self) -> usize {
        self.impostor.len() + self.impostor_no_face
    }

    /// (false matches, false non-matches) at `threshold` (a match is `score >= threshold`).
    fn errors(&self, threshold: f32) -> (usize, usize) {
        let fm = self.impostor.iter().filter(|&&s| s >= threshold).count();
        let fnm = self.genuine.iter().filter(|&&s| s < threshold).count() + self.genuine_no_face;
        (fm, fnm)
    }

    /// The lowest threshold whose FMR is at most `fmr`: just above the k-th highest impostor
    /// score, k = floor(fmr * N).
    fn threshold_for(&self, fmr: f64) -> f32 {
        let mut imp = self.impostor.clone();
        imp.sort_by(|a, b| b.total_cmp(a));
        let k = (fmr * self.impostor_n() as f64).floor() as usize;
        imp.get(k).map_or(-1.0, |s| next_up(*s))
    }

    /// The equal error rate: where FMR and FNMR cross (the mean of the two there).
    fn eer(&self) -> (f64, f32) {
        let mut best = (f64::MAX, 0.0, 0.0f32);
        for t in (0..=400).map(|i| -0.2 + i as f32 * 0.003) {
            let (fm, fnm) = self.errors(t);
            let (fmr, fnmr) = (fm as f64 / self.impostor_n() as f64, fnm as f64 / self.genuine_n() as f64);
            if (fmr - fnmr).abs() < best.0 {
                best = ((fmr - fnmr).abs(), (fmr + fnmr) / 2.0, t);
            }
        }
        (best.1, best.2)
    }
}

fn next_up(x: f32) -> f32 {
    f32::from_bits(if x >= 0.0 { x.to_bits() + 1 } else { x.to_bits() - 1 })
}

fn print(title: &str, s: &Scores) {
    println!(
        "\n{title}: {} genuine pairs ({} without a face), {} impostor pairs ({} without a face)",
        s.genuine_n(),
        s.genuine_no_face,
        s.impostor_n(),
        s.impostor_no_face
    );
    println!("{:22} {:>9}  {:38}  {:38}", "point", "threshold", "FMR (95% Wilson)", "FNMR (95% Wilson)");
    // A point needs at least 3/FMR impostor pairs to be backed (ACCURACY.md).
    let (backed, unbacked): (Vec<f64>, Vec<f64>) =
        [1e-2, 1e-3, 1e-4].into_iter().partition(|fmr| s.impostor_n() as f64 * fmr >= 3.0);
    let mut rows: Vec<(String, f32)> =
        backed.iter().map(|fmr| (format!("FMR {fmr:.0e}"), s.threshold_for(*fmr))).collect();
    for op in operating::VERIFY {
        rows.push((format!("verity `{}`", op.name), op.threshold));
    }
    for (name, t) in rows {
        let (fm, fnm) = s.errors(t);
        println!("{name:22} {t:>9.4}  {:38}  {:38}", rate(fm, s.impostor_n()), rate(fnm, s.genuine_n()));
    }
    for fmr in unbacked {
        println!(
            "{:22} (not backed: {} impostor pairs, need {:.0})",
            format!("FMR {fmr:.0e}"),
            s.impostor_n(),
            3.0 / fmr
        );
    }
    let (eer, at) = s.eer();
    println!("EER {:.2}% at {at:.3}", 100.0 * eer);
}

pub fn run(name: &str, dir: &Path, faces: &FacePipeline, rt: &tokio::runtime::Runtime) {
    let started = Instant::now();
    let mut gt = csv::Reader::from_path(dir.join("ground_truth.csv")).expect("ground_truth.csv");
    let items: Vec<(String, String)> = gt
        .records()
        .map(|r| {
            let r = r.expect("row");
            (r[0].to_string(), r[1].to_string())
        })
        .collect();
    // Per image: the embedding of the aligned face alone, and the pipeline's (the mean of it and
    // its mirror's), so that the harness shows what flip-averaging does.
    let mut embeddings: HashMap<String, Option<Vec<f32>>> = HashMap::new();
    let mut flipped: HashMap<String, Option<Vec<f32>>> = HashMap::new();
    let mut issues: HashMap<String, Vec<String>> = HashMap::new();
    let mut rows = Vec::new();
    for (file, identity) in &items {
        let bytes = std::fs::read(dir.join("images").join(file)).expect("image");
        let pair = rt.block_on(async {
            let img = Arc::new(with_border(&decode::decode("image", &bytes, 100_000_000).ok()?));
            let face = faces.largest_face(img.clone(), "image").await.ok()?;
            let quality = face.quality.issues.clone();
            let aligned = faces.aligned(img, std::slice::from_ref(&face)).await.ok()?.pop()?;
            let plain = faces.embed_aligned_with(vec![aligned.clone()], false).await.ok()?.pop()?;
            let mean = faces.embed_aligned(vec![aligned]).await.ok()?.pop()?;
            Some((plain, mean, quality))
        });
        let quality = pair.as_ref().map(|p| p.2.join(" ")).unwrap_or_default();
        rows.push(vec![file.clone(), identity.clone(), pair.is_some().to_string(), quality]);
        let (plain, mean) = pair.map_or((None, None), |(p, m, q)| {
            issues.insert(file.clone(), q);
            (Some(p), Some(m))
        });
        embeddings.insert(file.clone(), plain);
        flipped.insert(file.clone(), mean);
    }
    let no_face = embeddings.values().filter(|e| e.is_none()).count();
    println!(
        "\n== faces: {name} ({} images, {no_face} without a face found, {:.1} s)",
        items.len(),
        started.elapsed().as_secs_f64()
    );
    write_csv(&format!("faces-{name}-images.csv"), &["file", "identity", "face_found", "quality_issues"], &rows);

    for (variant, table) in [(", without flip-averaging", &embeddings), ("", &flipped)] {
        score_pairs(&format!("{name}{variant}"), dir, &items, table, variant.is_empty());
    }
    quality_split(&items, &flipped, &issues);
}

/// At the default point, over every pair: how many false non-matches (and how many impostor
/// pairs) have a face with a quality issue, i.e. would answer `inconclusive`, not `no match`.
fn quality_split(
    items: &[(String, String)],
    embeddings: &HashMap<String, Option<Vec<f32>>>,
    issues: &HashMap<String, Vec<String>>,
) {
    let t = operating::VERIFY[0].threshold;
    let flagged = |f: &str| issues.get(f).is_some_and(|i| !i.is_empty());
    let (mut fnm, mut fnm_flagged, mut imp, mut imp_flagged, mut gen_flagged) = (0, 0, 0, 0, 0);
    for (i, (a, ia)) in items.iter().enumerate() {
        for (b, ib) in &items[i + 1..] {
            let (Some(x), Some(y)) = (&embeddings[a], &embeddings[b]) else { continue };
            let low = flagged(a) || flagged(b);
            if ia == ib {
                gen_flagged += usize::from(low);
                if cosine(x, y) < t {
                    fnm += 1;
                    fnm_flagged += usize::from(low);
                }
            } else {
                imp += 1;
                imp_flagged += usize::from(low && cosine(x, y) < t);
            }
        }
    }
    println!(
        "
quality at `default` (every pair with both faces found): {fnm_flagged} of {fnm} false non-matches \
         have a face with a quality issue ({gen_flagged} genuine pairs in all do); {imp_flagged} of {imp} \
         impostor pairs would answer `inconclusive` instead of a correct no-match"
    );
    let mut kinds: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for i in issues.values().flatten() {
        *kinds.entry(i.as_str()).or_default() += 1;
    }
    println!("quality issues over the set's faces: {kinds:?}");
}

fn score_pairs(
    name: &str,
    dir: &Path,
    items: &[(String, String)],
    embeddings: &HashMap<String, Option<Vec<f32>>>,
    write: bool,
) {
    let score = |a: &str, b: &str| match (&embeddings[a], &embeddings[b]) {
        (Some(x), Some(y)) => Some(cosine(x, y)),
        _ => None,
    };
    let mut listed = Scores::default();
    let mut pair_rows = Vec::new();
    if let Ok(mut pairs) = csv::Reader::from_path(dir.join("pairs.csv")) {
        for r in pairs.records() {
            let r = r.expect("row");
            let (x, y, same) = (&r[0], &r[1], &r[2] == "1");
            let s = score(x, y);
            listed.add(same, s);
            pair_rows.push(vec![
                x.to_string(),
                y.to_string(),
                same.to_string(),
                s.map(|s| format!("{s:.5}")).unwrap_or_default(),
            ]);
        }
        if write {
            write_csv(&format!("faces-{name}-pairs.csv"), &["file_x", "file_y", "same", "similarity"], &pair_rows);
        }
        print(&format!("{name}, listed pairs (pairs.csv)"), &listed);
    }
    let mut all = Scores::default();
    for (i, (a, ia)) in items.iter().enumerate() {
        for (b, ib) in &items[i + 1..] {
            all.add(ia == ib, score(a, b));
        }
    }
    print(&format!("{name}, every pair of its images"), &all);
}

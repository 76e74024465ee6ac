//! Liveness (ISO/IEC 30107-3): every image of a set through the real pipeline in-process (the
//! faces, the one-person rule of the liveness route, the ensemble score), then APCER per attack
//! type and BPCER at verity's operating points, with counts. A live photo without a decision (no
//! face, several faces of similar size) counts as rejected and is reported apart; so is an attack
//! without a decision (not accepted). Frames of one recording session are correlated, so the
//! threshold is also chosen on some groups and scored on the others (group folds).

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Instant};

use verity::{
    pipeline::{face::dominant_face, operating, FacePipeline},
    vision::decode,
};

use super::{
    altered::{alter, CONDITIONS},
    report::{rate, write_csv},
};

/// The group folds of the cross-check: a group's fold is its index among the sorted groups
/// modulo this.
const FOLDS: usize = 4;
/// The APCER a chosen threshold must keep on the groups it was chosen from.
const TARGET_APCER: f64 = 0.01;

struct Item {
    file: String,
    live: bool,
    attack: String,
    group: String,
    faces: usize,
    /// `None`: no decision (no face, or several of similar size). Else the scores `[verity's
    /// score, V2, V1SE, the ensemble without the 2D veto, the 2D attack probability]`.
    score: Option<[f32; 5]>,
    /// Faces found besides the person that the one-person rule set aside as background.
    background: usize,
    /// The person's face box (x, y, width, height).
    bbox: Option<[f32; 4]>,
    /// Per altered copy (`altered::CONDITIONS`), the person's [verity's score, the ensemble
    /// without the 2D veto], judged on the face box found in the original.
    altered: Vec<[f32; 2]>,
}

/// (attacks accepted per attack type with their counts, live rejected by score, live without
/// a decision, live n) at `threshold` for score `k` (0 verity's, 1 V2, 2 V1SE, 3 the ensemble
/// without the 2D veto).
struct Errors {
    apcer: BTreeMap<String, (usize, usize)>,
    rejected: usize,
    undecided: usize,
    live: usize,
}

fn errors(items: &[&Item], k: usize, threshold: f32) -> Errors {
    let mut e = Errors { apcer: BTreeMap::new(), rejected: 0, undecided: 0, live: 0 };
    for it in items {
        if it.live {
            e.live += 1;
            match it.score {
                None => e.undecided += 1,
                Some(s) if s[k] < threshold => e.rejected += 1,
                Some(_) => {}
            }
        } else {
            let row = e.apcer.entry(it.attack.clone()).or_default();
            row.1 += 1;
            row.0 += usize::from(it.score.is_some_and(|s| s[k] >= threshold));
        }
    }
    e
}

impl Errors {
    fn worst_apcer(&self) -> f64 {
        self.apcer.values().map(|&(a, n)| a as f64 / n.max(1) as f64).fold(0.0, f64::max)
    }

    fn attacks(&self) -> (usize, usize) {
        self.apcer.values().fold((0, 0), |(a, n), &(x, m)| (a + x, n + m))
    }

    fn print(&self, name: &str, threshold: f32) {
        let (a, n) = self.attacks();
        let per: Vec<String> = self.apcer.iter().map(|(t, &(x, m))| format!("{t} {x}/{m}")).collect();
        println!(
            "{name:34} {threshold:>6.3}  APCER {:34} ({})  BPCER {:34} (by score {}, no decision {})",
            rate(a, n),
            per.join(", "),
            rate(self.rejected + self.undecided, self.live),
            self.rejected,
            self.undecided
        );
    }
}

/// The lowest threshold (on a 0.005 grid) whose worst-type APCER on `items` is at most the target.
fn choose(items: &[&Item], k: usize) -> f32 {
    (0..=200).map(|i| i as f32 * 0.005).find(|&t| errors(items, k, t).worst_apcer() <= TARGET_APCER).unwrap_or(1.0)
}

/// The threshold (0.005 grid) with the lowest ACER = (APCER + BPCER) / 2 on `items`, the middle
/// of the best run of grid points (a threshold in a flat stretch is not pushed to its edge).
fn choose_acer(items: &[&Item]) -> f32 {
    let acer = |t: f32| {
        let e = errors(items, 0, t);
        let (a, n) = e.attacks();
        a as f64 / n.max(1) as f64 + (e.rejected + e.undecided) as f64 / e.live.max(1) as f64
    };
    let grid: Vec<(f32, f64)> = (0..=200).map(|i| i as f32 * 0.005).map(|t| (t, acer(t))).collect();
    let best = grid.iter().map(|g| g.1).fold(f64::MAX, f64::min);
    let first = grid.iter().position(|g| g.1 <= best + 1e-12).unwrap_or(0);
    let run = grid[first..].iter().take_while(|g| g.1 <= best + 1e-12).count();
    grid[first + run / 2].0
}

pub fn run(name: &str, dir: &Path, faces: &FacePipeline, rt: &tokio::runtime::Runtime) {
    let started = Instant::now();
    let mut gt = csv::Reader::from_path(dir.join("ground_truth.csv")).expect("ground_truth.csv");
    let headers = gt.headers().expect("header").clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap_or_else(|| panic!("column {n}"));
    let (c_file, c_label, c_attack, c_group) = (col("file"), col("label"), col("attack"), col("group"));
    let mut items = Vec::new();
    for r in gt.records() {
        let r = r.expect("row");
        let bytes = std::fs::read(dir.join("images").join(&r[c_file])).expect("image");
        let (count, person, score, bbox, altered) = rt.block_on(async {
            let img = Arc::new(decode::decode("image", &bytes, 100_000_000).expect("decodable image"));
            let found = faces.detect(img.clone()).await.expect("detect");
            let count = found.len();
            match dominant_face(found) {
                Ok(face) => {
                    let s = faces.liveness(img.clone(), &face).await.expect("liveness");
                    let mut altered = Vec::new();
                    for condition in CONDITIONS {
                        let (copy, k) = alter(&img, condition);
                        let mut f = face.clone();
                        (f.bbox.x, f.bbox.y, f.bbox.width, f.bbox.height) =
                            (f.bbox.x * k, f.bbox.y * k, f.bbox.width * k, f.bbox.height * k);
                        let a = faces.liveness(Arc::new(copy), &f).await.expect("liveness");
                        altered.push([a.score, a.ensemble()]);
                    }
                    let b = face.bbox;
                    (
                        count,
                        true,
                        Some([s.score, s.minifasnet_v2, s.minifasnet_v1se, s.ensemble(), s.attack_2d]),
                        Some([b.x, b.y, b.width, b.height]),
                        altered,
                    )
                }
                Err(_) => (count, false, None, None, Vec::new()),
            }
        });
        items.push(Item {
            file: r[c_file].to_string(),
            live: &r[c_label] == "live",
            attack: r[c_attack].to_string(),
            group: if r[c_group].is_empty() { r[c_file].to_string() } else { r[c_group].to_string() },
            faces: count,
            score,
            background: if person { count - 1 } else { 0 },
            bbox,
            altered,
        });
    }
    let live = items.iter().filter(|i| i.live).count();
    println!(
        "\n== liveness: {name} ({} images: {live} live, {} attacks; {:.1} s)",
        items.len(),
        items.len() - live,
        started.elapsed().as_secs_f64()
    );
    let bg = items.iter().filter(|i| i.live && i.background > 0).count();
    println!("live photos with background faces set aside by the one-person rule: {bg}");
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let s = |k: usize| i.score.map(|s| format!("{:.4}", s[k])).unwrap_or_default();
            vec![
                i.file.clone(),
                if i.live { "live" } else { "spoof" }.into(),
                i.attack.clone(),
                i.group.clone(),
                i.faces.to_string(),
                s(0),
                s(1),
                s(2),
                s(3),
                s(4),
                i.bbox.map(|b| b.map(|v| format!("{v:.1}")).join(" ")).unwrap_or_default(),
            ]
        })
        .collect();
    write_csv(
        &format!("liveness-{name}.csv"),
        &[
            "file",
            "label",
            "attack",
            "group",
            "faces",
            "score",
            "minifasnet_v2",
            "minifasnet_v1se",
            "ensemble",
            "attack_2d",
            "box",
        ],
        &rows,
    );

    let all: Vec<&Item> = items.iter().collect();
    println!("\nper image, at verity's operating points (APCER and BPCER with 95% Wilson intervals):");
    for op in operating::LIVENESS {
        errors(&all, 0, op.threshold).print(&format!("verity `{}`", op.name), op.threshold);
    }
    for op in operating::LIVENESS {
        errors(&all, 3, op.threshold).print(&format!("`{}` without the 2D veto", op.name), op.threshold);
    }
    for (k, model) in
        ["verity's score", "minifasnet_v2 alone", "minifasnet_v1se alone", "ensemble, no 2D veto"].iter().enumerate()
    {
        let t = choose(&all, k);
        errors(&all, k, t).print(&format!("{model}, lowest t with APCER<=1%"), t);
    }
    let a2d = |live: bool| all.iter().filter(move |i| i.live == live).filter_map(|i| i.score.map(|s| s[4]));
    let top_live = a2d(true).fold(0.0, f32::max);
    println!(
        "2D attack probability: highest of a live photo {top_live:.4}; attacks at or above the veto {} ({}) of {}",
        a2d(false).filter(|&p| p >= operating::LIVENESS_2D_VETO).count(),
        operating::LIVENESS_2D_VETO,
        a2d(false).count()
    );

    // Group folds: the threshold chosen on the other folds' groups, scored on this fold's.
    let mut groups: Vec<&str> = items.iter().map(|i| i.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    let fold = |g: &str| groups.iter().position(|x| *x == g).unwrap_or(0) % FOLDS;
    for (rule, pick) in [
        ("lowest t with APCER<=1%", &(|train: &[&Item]| choose(train, 0)) as &dyn Fn(&[&Item]) -> f32),
        ("lowest ACER", &|train: &[&Item]| choose_acer(train)),
    ] {
        let (mut attacks, mut accepted, mut live, mut rejected) = (0, 0, 0, 0);
        let mut chosen = Vec::new();
        for f in 0..FOLDS {
            let train: Vec<&Item> = items.iter().filter(|i| fold(&i.group) != f).collect();
            let test: Vec<&Item> = items.iter().filter(|i| fold(&i.group) == f).collect();
            let t = pick(&train);
            let e = errors(&test, 0, t);
            let (a, n) = e.attacks();
            accepted += a;
            attacks += n;
            live += e.live;
            rejected += e.rejected + e.undecided;
            chosen.push(format!("{t:.3}"));
        }
        println!(
            "{} groups in {FOLDS} folds, threshold by {rule} on three folds, scored on the fourth: thresholds {}; \
             held-out APCER {}, BPCER {}",
            groups.len(),
            chosen.join(", "),
            rate(accepted, attacks),
            rate(rejected, live)
        );
    }
    veto_folds(&items, groups.len(), &fold);
    print_altered(&items);
    let t = choose_acer(&all);
    errors(&all, 0, t).print("verity's score, lowest ACER (all images)", t);

    // Per group at the default point: a group is wrong when most of its frames are.
    let t = operating::LIVENESS[0].threshold;
    // A session's live frames and its attack frames are two cells (NUAA shares the group name).
    let mut by_group: BTreeMap<(&str, bool), (bool, usize, usize)> = BTreeMap::new();
    for i in &items {
        let e = by_group.entry((i.group.as_str(), i.live)).or_insert((i.live, 0, 0));
        e.1 += 1;
        let accepted = i.score.is_some_and(|s| s[0] >= t);
        e.2 += usize::from(accepted != i.live);
    }
    let (live_groups, spoof_groups): (Vec<_>, Vec<_>) = by_group.values().partition(|g| g.0);
    let wrong = |gs: &[&(bool, usize, usize)]| gs.iter().filter(|g| 2 * g.2 > g.1).count();
    println!(
        "per session and class at `default` (wrong when most of its frames are): live cells rejected {}/{}, \
         attack cells accepted {}/{}",
        wrong(&live_groups),
        live_groups.len(),
        wrong(&spoof_groups),
        spoof_groups.len()
    );
}

/// The 2D veto level chosen on three folds of groups and scored on the fourth, at the default
/// threshold: the geometric middle between the highest 2D probability of a live photo and the
/// lowest of an attack that the ensemble alone accepts (4x the live one when there is none).
fn veto_folds(items: &[Item], n_groups: usize, fold: &dyn Fn(&str) -> usize) {
    let t = operating::LIVENESS[0].threshold;
    let (mut attacks, mut accepted, mut live, mut rejected) = (0, 0, 0, 0);
    let mut chosen = Vec::new();
    for f in 0..FOLDS {
        let train = items.iter().filter(|i| fold(&i.group) != f).filter_map(|i| i.score.map(|s| (i.live, s)));
        let top_live = train.clone().filter(|(l, _)| *l).map(|(_, s)| s[4]).fold(0.0, f32::max);
        let low_attack = train.filter(|(l, s)| !*l && s[3] >= t).map(|(_, s)| s[4]).fold(f32::MAX, f32::min);
        let veto = if low_attack > top_live && low_attack < f32::MAX {
            (top_live * low_attack).sqrt()
        } else {
            4.0 * top_live
        };
        chosen.push(format!("{veto:.3}"));
        for i in items.iter().filter(|i| fold(&i.group) == f) {
            let pass = i.score.is_some_and(|s| s[3] >= t && s[4] < veto);
            if i.live {
                live += 1;
                rejected += usize::from(!pass);
            } else {
                attacks += 1;
                accepted += usize::from(pass);
            }
        }
    }
    println!(
        "{n_groups} groups in {FOLDS} folds, 2D veto chosen on three folds, scored on the fourth at `default` {t}: \
         vetoes {}; held-out APCER {}, BPCER {}",
        chosen.join(", "),
        rate(accepted, attacks),
        rate(rejected, live)
    );
}

/// APCER and BPCER at `default` on altered copies of every image (the face box of the original;
/// a live photo without a decision counts as rejected), with the veto and without it.
fn print_altered(items: &[Item]) {
    let t = operating::LIVENESS[0].threshold;
    let live = items.iter().filter(|i| i.live).count();
    let attacks = items.len() - live;
    println!(
        "\naltered copies at `default` {t} (APCER of {attacks}, BPCER of {live}; without the 2D veto in brackets):"
    );
    for (c, name) in CONDITIONS.iter().enumerate() {
        let count = |k: usize, want_live: bool| {
            items
                .iter()
                .filter(|i| i.live == want_live)
                .filter(|i| i.altered.get(c).is_some_and(|s| s[k] >= t) != want_live)
                .count()
        };
        println!(
            "  {name:14} APCER {:3} ({:2})  BPCER {:3} ({:2})",
            count(0, false),
            count(1, false),
            count(0, true),
            count(1, true)
        );
    }
}

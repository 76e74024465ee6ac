//! Tallies per group (format, source, condition) printed as tables, and the per-item CSV
//! under target/eval/. Shared by every reader's evaluation.

use std::{collections::BTreeMap, path::PathBuf};

/// Counts of one group: items, and how many passed each named measure.
#[derive(Default, Clone)]
pub struct Counts {
    pub n: usize,
    pub hits: BTreeMap<&'static str, usize>,
}

/// One table: rows keyed by group name, columns by measure, in the order first seen.
pub struct Table {
    pub title: String,
    pub measures: Vec<&'static str>,
    pub rows: BTreeMap<String, Counts>,
}

impl Table {
    pub fn new(title: impl Into<String>, measures: &[&'static str]) -> Table {
        Table { title: title.into(), measures: measures.to_vec(), rows: BTreeMap::new() }
    }

    /// Adds one item to `group` (and to the `all` row) with the measures it passed.
    pub fn add(&mut self, group: &str, passed: &[(&'static str, bool)]) {
        for key in [group, "all"] {
            let row = self.rows.entry(key.to_string()).or_default();
            row.n += 1;
            for &(m, ok) in passed {
                *row.hits.entry(m).or_default() += usize::from(ok);
            }
        }
    }

    pub fn print(&self) {
        println!("\n{}", self.title);
        print!("{:28} {:>5}", "group", "n");
        for m in &self.measures {
            print!(" {:>16}", m);
        }
        println!();
        let mut keys: Vec<&String> = self.rows.keys().filter(|k| k.as_str() != "all").collect();
        keys.push(self.rows.keys().find(|k| k.as_str() == "all").unwrap_or(keys[0]));
        for k in keys {
            let row = &self.rows[k];
            print!("{:28} {:>5}", k, row.n);
            for m in &self.measures {
                let h = row.hits.get(m).copied().unwrap_or(0);
                print!(" {:>16}", format!("{h} ({:.1}%)", 100.0 * h as f64 / row.n.max(1) as f64));
            }
            println!();
        }
    }
}

/// target/eval/ in the crate.
pub fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/eval");
    std::fs::create_dir_all(&dir).expect("target/eval");
    dir
}

/// Writes `rows` with `header` to target/eval/`name` and says where.
pub fn write_csv(name: &str, header: &[&str], rows: &[Vec<String>]) {
    let path = out_dir().join(name);
    let mut w = csv::Writer::from_path(&path).expect("csv");
    w.write_record(header).expect("csv");
    for r in rows {
        w.write_record(r).expect("csv");
    }
    w.flush().expect("csv");
    println!("per-item results: {}", path.display());
}

/// The 95 % Wilson interval of `k` in `n`, as percentages.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 100.0);
    }
    let (k, n, z) = (k as f64, n as f64, 1.96f64);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * ((p * (1.0 - p) + z * z / (4.0 * n)) / n).sqrt() / (1.0 + z * z / n);
    (100.0 * (centre - half).max(0.0), 100.0 * (centre + half).min(1.0))
}

pub fn rate(k: usize, n: usize) -> String {
    let (lo, hi) = wilson(k, n);
    format!("{k}/{n} = {:.3}% [{lo:.3}, {hi:.3}]", 100.0 * k as f64 / n.max(1) as f64)
}

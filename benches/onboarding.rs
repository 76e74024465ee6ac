//! Onboarding benchmark (`make bench-onboarding`): starts `verity serve` and posts
//! `POST /v1/onboarding` (selfie obama2.jpg + the TD3 specimen, multipart) sequentially; prints
//! the median of 20 end-to-end (client side) and of each stage the server reports.
//!
//! Env: VERITY_BENCH_RUNS (default 20), VERITY_BIN, and the server's own VERITY_* settings.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use common::{
    server::{agent, multipart, start_server},
    testdata,
};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Posts `body` `runs` times after a warm-up; prints the medians; returns the first answer.
fn bench(label: &str, url: &str, ct: &str, body: &[u8], runs: usize) -> serde_json::Value {
    let agent = agent();
    let stages = ["selfie", "document", "face_match", "total"];
    let mut e2e = Vec::new();
    let mut per_stage: Vec<Vec<f64>> = vec![Vec::new(); stages.len()];
    let mut first = serde_json::Value::Null;
    for i in 0..=runs {
        let t = Instant::now();
        let mut r = agent
            .post(format!("{url}/v1/onboarding"))
            .header("content-type", ct)
            .send(body)
            .expect("onboarding request");
        let json: serde_json::Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(r.status(), 200, "{json}");
        if i == 0 {
            println!("\n{label}: decision {} reasons {}", json["decision"], json["reasons"]);
            first = json;
            continue; // warm-up
        }
        e2e.push(ms);
        for (k, s) in stages.iter().enumerate() {
            per_stage[k].push(json["timings_ms"][s].as_f64().unwrap_or(f64::NAN));
        }
    }
    println!("POST /v1/onboarding ({label}), selfie obama2.jpg + td3_passport_specimen.jpg, median of {runs}, ms");
    println!("{:>24} {:>9.1}", "end-to-end (client)", median(e2e));
    for (k, s) in stages.iter().enumerate() {
        println!("{:>24} {:>9.1}", format!("server: {s}"), median(per_stage[k].clone()));
    }
    first
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: usize = std::env::var("VERITY_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let (_server, url) = start_server();
    let (selfie, doc) = (testdata("obama2.jpg"), testdata("td3_passport_specimen.jpg"));
    let (ct, body) = multipart(&[("selfie", &selfie), ("document", &doc)]);
    let fast = bench("MRZ first, the default", &url, &ct, &body, runs);
    let (ct, body) = multipart(&[("selfie", &selfie), ("document", &doc), ("full_text", b"true")]);
    let full = bench("full_text=true", &url, &ct, &body, runs);
    println!("(selfie and document run concurrently; total is the server's wall time)");
    for key in ["decision", "reasons", "identity"] {
        assert_eq!(fast[key], full[key], "{key} differs between the MRZ-first and the full read");
    }
    println!(
        "same decision, reasons and identity; text lines read: {} (MRZ first) against {} (full)",
        fast["document"]["text_lines"].as_array().map_or(0, Vec::len),
        full["document"]["text_lines"].as_array().map_or(0, Vec::len)
    );
}

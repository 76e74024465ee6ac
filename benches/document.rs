//! Document benchmark (`make bench-document`): end-to-end read (decode, OCR, MRZ, portrait) of
//! each specimen, median of 20, and where the time goes (OCR alone, face detection alone).
//! VERITY_OCR_DET / VERITY_OCR_REC pick the OCR pair (default PP-OCRv6 tiny).

#[path = "common/mod.rs"]
mod common;

use std::{sync::Arc, time::Instant};

use verity::{
    pipeline::{
        document::DocumentPipeline,
        ocr::{det_input, Ocr},
        FacePipeline,
    },
    vision::decode,
};

fn median_ms(mut f: impl FnMut(), runs: usize) -> f64 {
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let engine = common::engine();
    let (det, rec) = (engine.config().ocr_det.clone(), engine.config().ocr_rec.clone());
    let runs: usize = std::env::var("VERITY_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let faces = FacePipeline::new(engine.clone());
    let docs = DocumentPipeline::new(faces.clone());
    let ocr = Ocr::new(engine.clone());
    let det_model = engine.get(&det).unwrap();
    println!("OCR pair: {det} + {rec}; median of {runs} runs, ms (text det = the detector's inference alone)");
    println!("{:36} {:>10} {:>7} {:>7} {:>9} {:>7}  mrz", "image", "end-to-end", "decode", "ocr", "text det", "faces");
    for name in ["td3_passport_specimen.jpg", "nl_td1_id_specimen.jpg", "bub_der_personalausweis_kopie.jpg"] {
        let bytes = common::testdata(name);
        let img = Arc::new(decode::decode(name, &bytes, 100_000_000).unwrap());
        let total = median_ms(
            || {
                let img = Arc::new(decode::decode(name, &bytes, 100_000_000).unwrap());
                rt.block_on(docs.read(img, None)).unwrap();
            },
            runs,
        );
        let dec = median_ms(|| drop(decode::decode(name, &bytes, 100_000_000).unwrap()), runs);
        let o = median_ms(|| drop(rt.block_on(ocr.read(img.clone())).unwrap()), runs);
        let input = det_input(&img).0;
        let d = median_ms(|| drop(det_model.run_blocking(input.clone()).unwrap()), runs);
        let f = median_ms(|| drop(rt.block_on(faces.detect(img.clone())).unwrap()), runs);
        let read = rt.block_on(docs.read(img.clone(), None)).unwrap();
        let mrz = read.mrz.map_or("none".to_string(), |m| format!("{} valid={}", m.lines.join(" / "), m.valid));
        println!("{name:36} {total:>10.1} {dec:>7.1} {o:>7.1} {d:>9.1} {f:>7.1}  {mrz}");
    }
}

//! Plate benchmark (`make bench-plate`): read of the car image, median of 20.

#[path = "common/mod.rs"]
mod common;

use std::{sync::Arc, time::Instant};

use verity::{
    pipeline::{ocr::Ocr, plate::PlateReader},
    vision::decode,
};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let engine = common::engine();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let reader = PlateReader::new(Ocr::new(engine));
    for name in ["fastalpr_test_image.png", "ny_license_plate_wrap.jpg"] {
        let bytes = common::testdata(name);
        let run = || {
            let img = Arc::new(decode::decode(name, &bytes, 100_000_000).unwrap());
            rt.block_on(reader.read(img)).unwrap()
        };
        let plates = run();
        let mut t: Vec<f64> = (0..20)
            .map(|_| {
                let s = Instant::now();
                run();
                s.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        t.sort_by(f64::total_cmp);
        let texts: Vec<&str> = plates.iter().map(|p| p.text.as_str()).collect();
        println!("{name}: decode + read, median of 20: {:.1} ms (p95 {:.1}); plates {texts:?}", t[10], t[18]);
    }
}

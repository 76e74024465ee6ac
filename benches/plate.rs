//! Plate benchmark (`make bench-plate`): read of the car image, median of 20.

use std::{path::PathBuf, sync::Arc, time::Instant};

use verity::{
    config::EngineConfig,
    pipeline::{ocr::Ocr, plate::PlateReader},
    vision::decode,
};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data =
        std::env::var_os("VERITY_TESTDATA").map(PathBuf::from).unwrap_or_else(|| root.join("../shared/testdata"));
    let mut cfg = EngineConfig::from_env_defaults();
    cfg.models_dir = root.join(&cfg.models_dir);
    let engine = verity::cli::load_engine(cfg).expect("models: run `make setup` first");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let reader = PlateReader::new(Ocr::new(engine));
    for name in ["fastalpr_test_image.png", "ny_license_plate_wrap.jpg"] {
        let bytes = std::fs::read(data.join(name)).unwrap();
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

//! The accuracy harness (`make eval`, `make eval-documents`): runs the real pipeline in-process
//! over data sets and prints the metrics of ACCURACY.md per set and per condition, with every
//! item's result in a CSV under target/eval/. A benchmark, not a test: no figure fails.
//!
//! `cargo bench --bench eval -- documents [NAME=DIR ...]`; without sets, the dev set
//! (../shared/devsets/mrz) and the synthetic set under target/eval/synth/documents when present.
//! `cargo bench --bench eval -- faces [NAME=DIR ...]`; without sets, ../shared/devsets/faces.
//! `cargo bench --bench eval -- liveness [NAME=DIR ...]`; without sets, ../shared/devsets/liveness.
//! `cargo bench --bench eval -- licences [NAME=DIR ...]`; without sets, the synthetic licence
//! backs under target/eval/synth/licences (`make synth-licences`).
//! `cargo bench --bench eval -- plates [NAME=DIR ...]`; without sets, ../shared/devsets/plates and
//! the synthetic plates under target/eval/synth/plates when present, then the negatives.

mod altered;
#[path = "../common/mod.rs"]
mod common;
mod documents;
mod faces;
mod licences;
mod liveness;
mod plates;
mod report;

use std::path::PathBuf;

use verity::pipeline::{document::DocumentPipeline, ocr::Ocr, plate::PlateReader, FacePipeline};

fn sets(args: &[String], defaults: &[(&str, PathBuf)]) -> Vec<(String, PathBuf)> {
    let given: Vec<(String, PathBuf)> =
        args.iter().filter_map(|a| a.split_once('=').map(|(n, d)| (n.to_string(), PathBuf::from(d)))).collect();
    if !given.is_empty() {
        return given;
    }
    defaults
        .iter()
        .filter(|(_, d)| d.join("ground_truth.csv").exists() || d.join("ground_truth.jsonl").exists())
        .map(|(n, d)| (n.to_string(), d.clone()))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let reader = args.first().map(String::as_str).unwrap_or("documents");
    let root = common::root();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match reader {
        "documents" => {
            let defaults = [
                ("devset-mrz", root.join("../shared/devsets/mrz")),
                ("synthetic", root.join("target/eval/synth/documents")),
            ];
            let engine = common::engine();
            let (docs, ocr) = (DocumentPipeline::new(FacePipeline::new(engine.clone())), Ocr::new(engine));
            for (name, dir) in sets(&args[1..], &defaults) {
                documents::run(&name, &dir, &docs, &ocr, &rt);
            }
        }
        "faces" => {
            let pipeline = FacePipeline::new(common::engine());
            for (name, dir) in sets(&args[1..], &[("devset-faces", root.join("../shared/devsets/faces"))]) {
                faces::run(&name, &dir, &pipeline, &rt);
            }
        }
        "liveness" => {
            let pipeline = FacePipeline::new(common::engine());
            for (name, dir) in sets(&args[1..], &[("devset-liveness", root.join("../shared/devsets/liveness"))]) {
                liveness::run(&name, &dir, &pipeline, &rt);
            }
        }
        "licences" => {
            let docs = DocumentPipeline::new(FacePipeline::new(common::engine()));
            for (name, dir) in sets(&args[1..], &[("synthetic", root.join("target/eval/synth/licences"))]) {
                licences::run(&name, &dir, &docs, &rt);
            }
        }
        "plates" => {
            let reader = PlateReader::new(Ocr::new(common::engine()));
            let defaults = [
                ("devset-plates", root.join("../shared/devsets/plates")),
                ("synthetic", root.join("target/eval/synth/plates")),
            ];
            for (name, dir) in sets(&args[1..], &defaults) {
                plates::run(&name, &dir, &reader, &rt);
            }
            plates::negatives(&common::testdata_dir(), plates::NEGATIVES, &reader, &rt);
        }
        other => panic!("unknown reader `{other}` (documents, faces, liveness, licences, plates)"),
    }
}

//! Criterion benchmarks of the face path's stages on the real test images: decode +
//! preprocess, alignment, YuNet decoding + NMS, embedding comparison, and the models themselves.
//! Run with `make bench` (figures land in target/criterion).

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use verity::{
    pipeline::{face::cosine, yunet, FacePipeline},
    vision::{align::align_face, decode, tensor},
};

use common::testdata;

fn pure_stages(c: &mut Criterion) {
    let jpeg = testdata("obama.jpg");
    c.bench_function("decode+preprocess obama.jpg (910x1137)", |b| {
        b.iter(|| {
            let img = decode::decode("image", black_box(&jpeg), 100_000_000).unwrap();
            tensor::detector_input(&img, 1280, 32, false)
        })
    });
    let biden = testdata("biden.jpg");
    c.bench_function("decode biden.jpg (970x2204)", |b| {
        b.iter(|| decode::decode("image", black_box(&biden), 100_000_000).unwrap())
    });
    let big = decode::decode("image", &biden, 100_000_000).unwrap();
    c.bench_function("detector input biden.jpg (scaled to 1280)", |b| {
        b.iter(|| tensor::detector_input(black_box(&big), 1280, 32, false))
    });
    let img = decode::decode("image", &jpeg, 100_000_000).unwrap();
    let lm = verity::vision::align::ARCFACE_TEMPLATE
        .map(|p| verity::vision::geometry::Point { x: p.x * 2.0 + 380.0, y: p.y * 2.0 + 150.0 });
    c.bench_function("align 5-point to 112x112", |b| b.iter(|| align_face(black_box(&img), &lm)));
    let a: Vec<f32> = (0..192).map(|i| (i as f32).sin()).collect();
    let bv: Vec<f32> = (0..192).map(|i| (i as f32).cos()).collect();
    c.bench_function("cosine 192-d", |b| b.iter(|| cosine(black_box(&a), black_box(&bv))));
}

fn model_stages(c: &mut Criterion) {
    let engine = common::engine();
    let solvay = decode::decode("image", &testdata("solvay_conference_1927.jpg"), 100_000_000).unwrap();
    let (input, scale) = tensor::detector_input(&solvay, 1280, 32, false);
    let (h, w) = (input.shape[2], input.shape[3]);
    let yunet_model = engine.get("yunet").unwrap();
    let outputs = yunet_model.run_blocking(input.clone()).unwrap();
    c.bench_function("yunet decode+NMS solvay (29 faces)", |b| {
        b.iter(|| yunet::decode(black_box(&outputs), w, h, 0.6, scale, solvay.width(), solvay.height()))
    });
    c.bench_function("yunet inference solvay 1280x928", |b| {
        b.iter(|| yunet_model.run_blocking(input.clone()).unwrap())
    });

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let faces = FacePipeline::new(engine);
    let obama = Arc::new(decode::decode("image", &testdata("obama.jpg"), 100_000_000).unwrap());
    let face = rt.block_on(faces.largest_face(obama.clone(), "image")).unwrap();
    let aligned = align_face(&obama, &face.landmarks.points());
    c.bench_function("mobilefacenet embed 1 face", |b| {
        b.iter(|| rt.block_on(faces.embed_aligned(vec![aligned.clone()])).unwrap())
    });
    c.bench_function("liveness ensemble 1 face", |b| {
        b.iter(|| rt.block_on(faces.liveness(obama.clone(), &face)).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = pure_stages, model_stages
}
criterion_main!(benches);

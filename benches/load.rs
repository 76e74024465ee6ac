//! Load benchmark (`make bench-load`): starts `verity serve`, drives `POST /v1/faces/verify`
//! (obama.jpg vs biden.jpg, multipart) at concurrency 1, 2, 4, 8, 16, 32, and prints throughput
//! and p50/p95/p99 latency per level, next to the model floor: the same model calls (YuNet on
//! both images, MobileFaceNet on both faces and their mirrors) in a tight in-process loop on prepared inputs:
//! with every CPU per run (the lone runs of `--thread-pool adaptive`, the floor a request alone
//! on the server can reach) and with each session's own threads; and the preprocessing of one
//! verify (decode, detector input and alignment of both images) on one thread.
//!
//! Env: VERITY_BENCH_LEVELS (default 1,2,4,8,16,32), VERITY_BENCH_SECONDS per level (default 6),
//! VERITY_BIN (default target/release/verity), and the server's own VERITY_* settings.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

#[path = "common/mod.rs"]
mod common;

use common::{
    server::{agent, multipart, start_server},
    testdata,
};
use verity::{
    config::{EngineConfig, ThreadPool},
    engine::{Engine, Tensor},
    pipeline::FacePipeline,
    vision::{align::align_face, decode, tensor},
};

struct Level {
    concurrency: usize,
    rps: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    non_200: usize,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn drive(url: &str, content_type: &str, body: &Arc<Vec<u8>>, concurrency: usize, seconds: f64) -> Level {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let non_200 = Arc::new(Mutex::new(0usize));
    let warmup = Duration::from_secs_f64((seconds / 6.0).min(1.0));
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + Duration::from_secs_f64(seconds);
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let (url, ct, body) = (format!("{url}/v1/faces/verify"), content_type.to_string(), body.clone());
            let (latencies, non_200) = (latencies.clone(), non_200.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut mine = Vec::new();
                let mut bad = 0;
                while Instant::now() < end {
                    let t = Instant::now();
                    let ok = match agent.post(&url).header("content-type", &ct).send(&body[..]) {
                        Ok(mut r) => {
                            let _ = r.body_mut().read_to_vec();
                            r.status() == 200
                        }
                        Err(_) => false,
                    };
                    // A request counts when it completes inside the measured window.
                    let done = Instant::now();
                    if done >= measure_from && done <= end {
                        if ok {
                            mine.push(t.elapsed().as_secs_f64() * 1e3);
                        } else {
                            bad += 1;
                        }
                    }
                }
                latencies.lock().unwrap().extend(mine);
                *non_200.lock().unwrap() += bad;
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(f64::total_cmp);
    let non_200 = *non_200.lock().unwrap();
    Level {
        concurrency,
        rps: lat.len() as f64 / seconds,
        p50: percentile(&lat, 0.50),
        p95: percentile(&lat, 0.95),
        p99: percentile(&lat, 0.99),
        non_200,
    }
}

/// Prepared model inputs for one verify: both detector tensors and both aligned faces.
fn floor_inputs(engine: &Arc<Engine>) -> (Tensor, Tensor, Vec<image::RgbImage>) {
    let cfg = engine.config().clone();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let faces = FacePipeline::new(engine.clone());
    let mut aligned = Vec::new();
    let mut tensors = Vec::new();
    for name in ["obama.jpg", "biden.jpg"] {
        let img = Arc::new(decode::decode(name, &testdata(name), 100_000_000).unwrap());
        tensors.push(tensor::detector_input(&img, cfg.detect_max_side, 32, cfg.fixed_shapes()).0);
        let face = rt.block_on(faces.largest_face(img.clone(), name)).unwrap();
        aligned.push(align_face(&img, &face.landmarks.points()));
    }
    let b = tensors.pop().unwrap();
    (tensors.pop().unwrap(), b, aligned)
}

/// Verifies per second of the models alone, run by `threads` loops at once through the engine.
fn model_floor(engine: &Arc<Engine>, threads: usize, seconds: f64) -> f64 {
    let (a, b, aligned) = floor_inputs(engine);
    // Each face and its mirror, as verify embeds them (flip-averaging).
    let flipped: Vec<image::RgbImage> =
        aligned.iter().flat_map(|f| [f.clone(), image::imageops::flip_horizontal(f)]).collect();
    let embed_input = tensor::rgb_nhwc_batch(&flipped);
    let (yunet, mfn) = (engine.get("yunet").unwrap(), engine.get("mobilefacenet").unwrap());
    let one = move || {
        yunet.run_blocking(a.clone()).unwrap();
        yunet.run_blocking(b.clone()).unwrap();
        mfn.run_blocking(embed_input.clone()).unwrap();
    };
    for _ in 0..3 {
        one();
    }
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let count = Arc::new(Mutex::new(0usize));
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (one, count) = (one.clone(), count.clone());
            s.spawn(move || {
                let mut n = 0;
                while Instant::now() < end {
                    one();
                    n += 1;
                }
                *count.lock().unwrap() += n;
            });
        }
    });
    let done = *count.lock().unwrap();
    done as f64 / started.elapsed().as_secs_f64()
}

/// Milliseconds of one verify's preprocessing on one thread: both images decoded, scaled to the
/// detector's input, and their faces aligned (the faces found once beforehand).
fn preprocessing_ms(engine: &Arc<Engine>, seconds: f64) -> f64 {
    let cfg = engine.config().clone();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let faces = FacePipeline::new(engine.clone());
    let inputs: Vec<(&str, Vec<u8>, verity::pipeline::face::Landmarks)> = ["obama.jpg", "biden.jpg"]
        .into_iter()
        .map(|name| {
            let bytes = testdata(name);
            let img = Arc::new(decode::decode(name, &bytes, 100_000_000).unwrap());
            (name, bytes, rt.block_on(faces.largest_face(img, name)).unwrap().landmarks)
        })
        .collect();
    let (started, mut n) = (Instant::now(), 0usize);
    while started.elapsed().as_secs_f64() < seconds.min(3.0) || n == 0 {
        for (name, bytes, landmarks) in &inputs {
            let img = decode::decode(name, bytes, 100_000_000).unwrap();
            std::hint::black_box(tensor::detector_input(&img, cfg.detect_max_side, 32, cfg.fixed_shapes()));
            std::hint::black_box(align_face(&img, &landmarks.points()));
        }
        n += 1;
    }
    started.elapsed().as_secs_f64() * 1e3 / n as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test discovery
    }
    let levels: Vec<usize> = std::env::var("VERITY_BENCH_LEVELS")
        .unwrap_or_else(|_| "1,2,4,8,16,32".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seconds: f64 = std::env::var("VERITY_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6.0);
    let (ct, body) = multipart(&[("source", &testdata("obama.jpg")), ("target", &testdata("biden.jpg"))]);
    let body = Arc::new(body);

    let (server, url) = start_server();
    let info: serde_json::Value = serde_json::from_slice(
        &agent().get(format!("{url}/v1/info")).call().unwrap().body_mut().read_to_vec().unwrap(),
    )
    .unwrap();
    println!("verify obama.jpg vs biden.jpg, multipart; {seconds} s per level");
    println!("thread budget: {}", info["thread_budget"]);
    println!(
        "providers: {}",
        info["models"].as_array().map_or(String::new(), |m| m
            .iter()
            .map(|m| format!("{}={}", m["name"], m["execution_provider"]))
            .collect::<Vec<_>>()
            .join(" "))
    );
    println!(
        "\n{:>11} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "concurrency", "verify/s", "p50 ms", "p95 ms", "p99 ms", "non-200"
    );
    let mut results = Vec::new();
    for &c in &levels {
        let l = drive(&url, &ct, &body, c, seconds);
        println!("{:>11} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>7}", l.concurrency, l.rps, l.p50, l.p95, l.p99, l.non_200);
        results.push(l);
    }
    drop(server);

    let cfg = EngineConfig::from_env_defaults();
    let engine = verity::cli::load_engine(cfg.clone()).expect("models: run `make setup` first");
    let floor_seq = model_floor(&engine, 1, seconds);
    let floor_par = model_floor(&engine, engine.budget().cpu_limit * 2, seconds);
    let lone = engine.budget().lone_run_threads;
    let own = engine.budget().intra_op_threads;
    let preprocess = preprocessing_ms(&engine, seconds);
    let loops = engine.budget().cpu_limit * 2;
    drop(engine);
    let best = results.iter().max_by(|a, b| a.rps.total_cmp(&b.rps)).expect("at least one level");
    let what = match lone {
        Some(n) => format!("{n} threads per run: lone runs"),
        None => format!("{own} intra-op thread(s) per run"),
    };
    println!("\nmodel floor, one loop (YuNet x2 + MobileFaceNet batch of 4, prepared inputs, {what}): {floor_seq:.1} verify/s ({:.1} ms each)", 1e3 / floor_seq);
    if lone.is_some() {
        let per_session = EngineConfig { thread_pool: ThreadPool::PerSession, ..cfg };
        let engine = verity::cli::load_engine(per_session).expect("models");
        let f = model_floor(&engine, 1, seconds);
        println!("model floor, one loop, {own} intra-op thread(s) per run (--thread-pool per-session): {f:.1} verify/s ({:.1} ms each)", 1e3 / f);
    }
    println!(
        "preprocessing of one verify on one thread (decode, detector input, align; both images): {preprocess:.1} ms"
    );
    if let Some(c1) = results.iter().find(|l| l.concurrency == 1) {
        println!(
            "concurrency 1: p50 {:.1} ms = {:.2} x the one-loop floor ({:.1} ms)",
            c1.p50,
            c1.p50 * floor_seq / 1e3,
            1e3 / floor_seq
        );
    }
    println!("model floor, {loops} loops at once through the engine: {floor_par:.1} verify/s");
    println!("best server level: concurrency {} at {:.1} verify/s", best.concurrency, best.rps);
    println!(
        "ratio server/floor: {:.2} (one loop), {:.2} (parallel loops)",
        best.rps / floor_seq,
        best.rps / floor_par
    );
    if let Some(l80) = results.iter().filter(|l| l.rps >= 0.8 * best.rps).min_by_key(|l| l.concurrency) {
        println!(
            "first level with >= 80% of the best throughput: concurrency {} ({:.1} verify/s), p99/p50 = {:.2}",
            l80.concurrency,
            l80.rps,
            l80.p99 / l80.p50
        );
    }
}

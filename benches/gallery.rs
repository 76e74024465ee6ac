//! Gallery benchmark (`make bench-gallery`): 1,000,000 synthetic L2-normalised 192-d embeddings.
//! Prints the time to build the index, exact top-10 search latency (median and p95 of 50),
//! bytes of memory per face, and the enrollment throughput of the SQLite store.

use std::time::{Duration, Instant};

use verity::gallery::{index::CollectionIndex, store::NewFace, Gallery, GalleryConfig};

const DIM: usize = 192;

/// A deterministic pseudo-random unit vector (xorshift; no dependency needed for noise).
fn vector(seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("VERITY_BENCH_FACES").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    rayon::ThreadPoolBuilder::new().build_global().ok();

    let vectors: Vec<Vec<f32>> = (0..n as u64).map(vector).collect();
    let started = Instant::now();
    let mut index = CollectionIndex::default();
    for (i, v) in vectors.iter().enumerate() {
        index.insert(&format!("{i:032x}"), &format!("person-{i}"), v);
    }
    let build = started.elapsed();
    drop(vectors);
    println!("faces: {n}, dimension {DIM}");
    println!("index build (insert of every face, as at start-up): {:.2} s", build.as_secs_f64());
    println!("memory per face: {} bytes", index.bytes_per_face());

    let mut times = Vec::new();
    for q in 0..50u64 {
        let query = vector(q * 7919 + 3);
        let t = Instant::now();
        let hits = index.search(&query, 10, -1.0, None);
        times.push(t.elapsed());
        assert_eq!(hits.len(), 10);
    }
    times.sort();
    println!(
        "exact top-10 search over {n}: median {:.1} ms, p95 {:.1} ms ({} threads)",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() * 95 / 100].as_secs_f64() * 1e3,
        rayon::current_num_threads()
    );

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("verity-bench-gallery-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    rt.block_on(async {
        let cfg = GalleryConfig { data_dir: dir.clone(), database_url: None, poll: Duration::from_secs(1), keep_aligned: false, pg: Default::default() };
        let g = Gallery::open(cfg).await.unwrap();
        g.create_collection("bench", None).await.unwrap();
        let count = 500;
        let t = Instant::now();
        for i in 0..count {
            let face = NewFace {
                collection: "bench".into(),
                face_id: format!("{i:032x}"),
                external_id: format!("p{i}"),
                image_sha256: format!("{i:064x}"),
                embedding: vector(i as u64),
                metadata: None,
                expires_at: None,
                aligned_png: None,
            };
            g.enroll(face).await.unwrap();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "SQLite enroll (store write + index update, one at a time, fsync per commit): {:.0} faces/s ({:.2} ms each)",
            count as f64 / secs,
            secs * 1e3 / count as f64
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}

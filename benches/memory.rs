//! Memory benchmark (`make bench-memory`): the resident set (VmRSS) of a real `verity serve`
//! 1. after start (models loaded and warm);
//! 2. during and after 10,000 hostile images at concurrency 8 (truncated and corrupted JPEGs, PNGs
//!    claiming huge sizes, random bytes, text, empty fields, blank 6000x6000 pictures that decode
//!    to 108 MB each): each gets a 4xx, or 200 where the decoder recovers a picture; never a 5xx;
//! 3. during a soak of mixed valid traffic (verify, detect, liveness, document read, plate read)
//!    at concurrency 4, sampled every 30 s: the curve should be flat.
//!
//! Env: VERITY_BENCH_HOSTILE (default 10000), VERITY_BENCH_KINDS (comma-separated kinds; all), VERITY_BENCH_SOAK_SECONDS (default 600),
//! VERITY_BIN, and the server's own VERITY_* settings.

use std::{
    io::Cursor,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

#[path = "common/mod.rs"]
mod common;

use common::{
    server::{agent, multipart, start_server},
    testdata,
};

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A xorshift stream: the same hostile bytes on every run.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([200, 200, 200]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A PNG whose header claims `width` x `height` and whose data is garbage.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut p = png(8, 8);
    p[16..20].copy_from_slice(&width.to_be_bytes());
    p[20..24].copy_from_slice(&height.to_be_bytes());
    p
}

/// A JPEG whose frame header (SOF0) claims `width` x `height`.
fn jpeg_claiming(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut j = jpeg.to_vec();
    if let Some(i) = j.windows(2).position(|w| w == [0xFF, 0xC0] || w == [0xFF, 0xC2]) {
        j[i + 5..i + 7].copy_from_slice(&height.to_be_bytes());
        j[i + 7..i + 9].copy_from_slice(&width.to_be_bytes());
    }
    j
}

fn hostile_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let jpeg = testdata("obama.jpg");
    let mut corrupted = jpeg.clone();
    let mid = corrupted.len() / 2;
    corrupted[mid..mid + 2000].copy_from_slice(&noise(7, 2000));
    let mut random_jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    random_jpeg.extend(noise(11, 200_000));
    vec![
        ("truncated_jpeg", jpeg[..jpeg.len() / 2].to_vec()),
        ("corrupted_jpeg", corrupted),
        ("random_after_jpeg_magic", random_jpeg),
        ("png_claiming_60000x60000", png_claiming(60_000, 60_000)),
        ("jpeg_claiming_65000x65000", jpeg_claiming(&jpeg, 65_000, 65_000)),
        ("random_bytes", noise(13, 300_000)),
        ("text", b"this is not an image at all, just words".repeat(100)),
        ("empty", Vec::new()),
        ("blank_6000x6000_png", png(6000, 6000)),
        // A control: the valid image the corrupted ones come from.
        ("valid_jpeg", jpeg.clone()),
    ]
}

fn main() {
    let count = env_usize("VERITY_BENCH_HOSTILE", 10_000);
    let soak = env_usize("VERITY_BENCH_SOAK_SECONDS", 600);
    let (server, url) = start_server();
    let pid = server.pid();
    std::thread::sleep(Duration::from_secs(2));
    let idle = rss_mib(pid);
    println!("RSS after start (models warm): {idle:.0} MiB");

    // 2. Hostile images.
    let kinds = std::env::var("VERITY_BENCH_KINDS").unwrap_or_default();
    let bodies: Arc<Vec<(&str, String, Vec<u8>)>> = Arc::new(
        hostile_bodies()
            .into_iter()
            .filter(
                |(name, _)| {
                    if kinds.is_empty() {
                        *name != "valid_jpeg"
                    } else {
                        kinds.split(',').any(|k| k == *name)
                    }
                },
            )
            .map(|(name, data)| {
                let (ct, body) = multipart(&[("image", &data)]);
                (name, ct, body)
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let statuses = Arc::new(Mutex::new(std::collections::BTreeMap::<(String, u16), usize>::new()));
    let peak = Arc::new(Mutex::new(idle));
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (bodies, next, statuses, peak, url) =
                (bodies.clone(), next.clone(), statuses.clone(), peak.clone(), url.clone());
            std::thread::spawn(move || {
                let agent = agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    let (name, ct, body) = &bodies[i % bodies.len()];
                    let status = agent
                        .post(format!("{url}/v1/faces/detect"))
                        .header("content-type", ct)
                        .send(&body[..])
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    *statuses.lock().unwrap().entry((name.to_string(), status)).or_default() += 1;
                    if i % 1000 == 999 {
                        let r = rss_mib(pid);
                        let mut p = peak.lock().unwrap();
                        *p = p.max(r);
                        println!("  after {:>5} hostile images: RSS {r:.0} MiB", i + 1);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let took = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(3));
    let after = rss_mib(pid);
    println!(
        "{count} hostile images in {took:.0} s: RSS peak {:.0} MiB, {after:.0} MiB 3 s after",
        peak.lock().unwrap()
    );
    let mut bad = 0;
    for ((name, status), n) in statuses.lock().unwrap().iter() {
        println!("  {name:<28} HTTP {status}: {n}");
        if *status == 0 || *status >= 500 {
            bad += n;
        }
    }
    println!("  5xx or no answer: {bad}");

    // 3. Soak of mixed valid traffic.
    if soak == 0 {
        return;
    }
    let face = |name: &str| testdata(name);
    let mixes: Arc<Vec<(&str, String, Vec<u8>)>> = Arc::new(
        [
            ("/v1/faces/verify", multipart(&[("source", &face("obama.jpg")), ("target", &face("obama2.jpg"))])),
            ("/v1/faces/detect", multipart(&[("image", &face("solvay_conference_1927.jpg"))])),
            ("/v1/faces/liveness", multipart(&[("image", &face("obama.jpg"))])),
            ("/v1/documents/read", multipart(&[("image", &face("td3_passport_specimen.jpg"))])),
            ("/v1/plates/read", multipart(&[("image", &face("ny_license_plate_wrap.jpg"))])),
        ]
        .into_iter()
        .map(|(route, (ct, body))| (route, ct, body))
        .collect(),
    );
    let end = Instant::now() + Duration::from_secs(soak as u64);
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (mixes, url, done, failed) = (mixes.clone(), url.clone(), done.clone(), failed.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut i = t;
                while Instant::now() < end {
                    let (route, ct, body) = &mixes[i % mixes.len()];
                    let ok = agent
                        .post(format!("{url}{route}"))
                        .header("content-type", ct)
                        .send(&body[..])
                        .is_ok_and(|r| r.status() == 200);
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    let soak_start = Instant::now();
    let mut curve = Vec::new();
    while Instant::now() < end {
        std::thread::sleep(Duration::from_secs(30).min(end.saturating_duration_since(Instant::now())));
        let r = rss_mib(pid);
        let s = soak_start.elapsed().as_secs();
        println!("  soak {s:>4} s: RSS {r:.0} MiB, {} requests", done.load(Ordering::Relaxed));
        curve.push(r);
    }
    for t in threads {
        t.join().unwrap();
    }
    let half = curve.len() / 2;
    let max = |v: &[f64]| v.iter().cloned().fold(f64::NAN, f64::max);
    println!(
        "soak {soak} s: {} requests ({} not 200); RSS max {:.0} MiB in the first half, {:.0} MiB in the second",
        done.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        max(&curve[..half.max(1)]),
        max(&curve[half..])
    );
}

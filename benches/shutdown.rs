//! SIGTERM under load (`make bench-shutdown`): starts `verity serve` with a drain delay, drives
//! `POST /v1/faces/verify` from 8 clients, sends SIGTERM after 3 s and keeps driving until the
//! server is gone. Every request is classified: answered 200, answered with another status
//! (an accepted request that failed), refused at connect (never accepted: the listener was
//! closed), or a transport error after connecting (closed before an answer). The claim: no
//! accepted request fails (0 non-200, 0 closed-before-answer).
//!
//! Env: VERITY_BENCH_CLIENTS (default 8), VERITY_DRAIN_DELAY_SECONDS (default 2), VERITY_BIN.

#[path = "common/mod.rs"]
mod common;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use common::{
    server::{agent, multipart, start_server_with},
    testdata,
};

#[derive(Default)]
struct Counts {
    ok: AtomicUsize,
    non_200: AtomicUsize,
    refused: AtomicUsize,
    closed: AtomicUsize,
}

fn refused(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        ureq::Error::ConnectionFailed => true,
        _ => e.to_string().contains("Connection refused"),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let clients: usize = std::env::var("VERITY_BENCH_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let drain = std::env::var("VERITY_DRAIN_DELAY_SECONDS").unwrap_or_else(|_| "2".into());
    let (mut server, url) = start_server_with(&[("VERITY_DRAIN_DELAY_SECONDS", &drain)]);
    let (ct, body) = multipart(&[("source", &testdata("obama.jpg")), ("target", &testdata("biden.jpg"))]);
    let (body, counts, gone) = (Arc::new(body), Arc::new(Counts::default()), Arc::new(AtomicBool::new(false)));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (url, ct, body, counts, gone) = (url.clone(), ct.clone(), body.clone(), counts.clone(), gone.clone());
            std::thread::spawn(move || {
                let agent = agent();
                while !gone.load(Ordering::Relaxed) {
                    match agent.post(format!("{url}/v1/faces/verify")).header("content-type", &ct).send(&body[..]) {
                        Ok(mut r) => {
                            let _ = r.body_mut().read_to_vec();
                            let c = if r.status() == 200 { &counts.ok } else { &counts.non_200 };
                            c.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if refused(&e) => {
                            counts.refused.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(e) => {
                            eprintln!("closed before an answer: {e}");
                            counts.closed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let before = counts.ok.load(Ordering::Relaxed);
    let t = Instant::now();
    server.sigterm();
    let status = server.wait();
    let exit_after = t.elapsed();
    gone.store(true, Ordering::Relaxed);
    for th in threads {
        th.join().unwrap();
    }
    println!("SIGTERM under load: {clients} clients on POST /v1/faces/verify, drain delay {drain} s");
    println!("  answered 200 before SIGTERM: {before}; after: {}", counts.ok.load(Ordering::Relaxed) - before);
    println!("  answered non-200 (accepted and failed): {}", counts.non_200.load(Ordering::Relaxed));
    println!("  closed before an answer (accepted and failed): {}", counts.closed.load(Ordering::Relaxed));
    println!(
        "  refused at connect (after the listener closed; never accepted): {}",
        counts.refused.load(Ordering::Relaxed)
    );
    println!("  process exit after SIGTERM: {:.2} s, status {status}", exit_after.as_secs_f64());
}

//! Graceful shutdown of a real `verity serve`: on SIGTERM `/readyz` turns 503 `draining` at
//! once while requests are still served through the drain delay; a request in flight when the
//! listener closes completes with 200; the process then exits 0.

mod common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use common::{
    http::{file, multipart, BOUNDARY},
    server::{agent, free_port, get, start},
};

fn verify_body() -> (String, Vec<u8>) {
    let body = multipart(&[file("source", "obama.jpg"), file("target", "obama2.jpg")]);
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

#[test]
fn sigterm_drains_then_finishes_in_flight_requests_and_exits_cleanly() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("verity-shutdown-{}", std::process::id()));
    let mut server = start(port, &[("VERITY_DRAIN_DELAY_SECONDS", "2"), ("VERITY_DATA_DIR", dir.to_str().unwrap())]);
    let base = server.base.clone();
    let (ct, body) = verify_body();

    let kill = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let mut saw_draining = false;
    while started.elapsed() < Duration::from_millis(1500) {
        if let Some((503, r)) = get(&format!("{base}/readyz")) {
            assert_eq!(r["status"], "draining", "{r}");
            saw_draining = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(saw_draining, "/readyz never said draining");

    // Still inside the drain delay: requests are served. Keep several in flight across the
    // moment the listener closes; every one that was accepted must succeed.
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let (url, ct, body) = (format!("{base}/v1/faces/verify"), ct.clone(), body.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(i * 250));
                agent().post(&url).header("content-type", &ct).send(&body[..]).map(|r| r.status().as_u16())
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let served = results.iter().filter(|r| matches!(r, Ok(200))).count();
    assert!(served >= 1, "{results:?}");
    // Accepted requests end in 200; after the listener closed a connection is refused (an
    // Err), never a 5xx.
    for status in results.iter().flatten() {
        assert_eq!(*status, 200, "{results:?}");
    }
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(40), "the server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    let _ = std::fs::remove_dir_all(dir);
}

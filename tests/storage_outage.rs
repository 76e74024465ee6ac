//! The gallery on a PostgreSQL that goes away: restarted, then stopped for two seconds, under
//! concurrent enrollments; and down when the server starts. Real `verity serve` processes, a private real PostgreSQL (so stopping
//! it disturbs no other test).

mod common;

use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use base64::Engine as _;
use common::{
    pg::PrivatePg,
    server::{agent, free_port, get, post, start},
};
use serde_json::{json, Value};

fn b64(name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(common::image_bytes(name))
}

/// POST returning the status, the `Retry-After` header and the body.
fn post_full(url: &str, body: &str) -> Option<(u16, Option<String>, Value)> {
    let mut r = agent().post(url).header("content-type", "application/json").send(body).ok()?;
    let status = r.status().as_u16();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = r.body_mut().read_to_vec().ok()?;
    Some((status, retry, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

struct Attempt {
    at: Instant,
    status: u16,
    retry_after: Option<String>,
    code: Option<String>,
}

#[test]
fn enrollments_survive_a_postgres_restart_and_nothing_acknowledged_is_lost() {
    let pg = PrivatePg::start(None);
    let url = pg.url("127.0.0.1");
    let env = [("VERITY_DATABASE_URL", url.as_str()), ("VERITY_GALLERY_POLL_MS", "500")];
    let a = start(free_port(), &env);
    let b = start(free_port(), &env);
    let collection = "outage";
    assert_eq!(post(&format!("{}/v1/collections", a.base), &json!({ "id": collection })).unwrap().0, 201);

    let image = b64("obama.jpg");
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(Vec::<(Instant, String)>::new()));
    let attempts = Arc::new(Mutex::new(Vec::<Attempt>::new()));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, next, acked, attempts, image) =
                (stop.clone(), next.clone(), acked.clone(), attempts.clone(), image.clone());
            let url = format!("{}/v1/collections/{collection}/faces", a.base);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let body = json!({ "image": image, "external_id": format!("p{i:05}") }).to_string();
                    let Some((status, retry_after, r)) = post_full(&url, &body) else {
                        panic!("enrollment {i}: no HTTP answer");
                    };
                    let at = Instant::now();
                    if status == 201 {
                        acked.lock().unwrap().push((at, r["face_id"].as_str().unwrap().to_string()));
                    }
                    let code = r["code"].as_str().map(str::to_string);
                    attempts.lock().unwrap().push(Attempt { at, status, retry_after, code });
                    std::thread::sleep(Duration::from_millis(30));
                }
            })
        })
        .collect();
    // /readyz of replica A, sampled throughout.
    let probes = Arc::new(Mutex::new(Vec::<(u16, Value)>::new()));
    let watcher = {
        let (stop, probes, base) = (stop.clone(), probes.clone(), a.base.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(p) = get(&format!("{base}/readyz")) {
                    probes.lock().unwrap().push(p);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let recovered = |since: Instant| {
        let deadline = since + Duration::from_secs(15);
        while !acked.lock().unwrap().iter().any(|(t, _)| *t > since) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        acked.lock().unwrap().iter().filter(|(t, _)| *t > since).map(|(t, _)| *t - since).min()
    };
    std::thread::sleep(Duration::from_secs(3));
    // 1. `pg_ctl restart -m fast` in the middle of the enrollments.
    let restart = Instant::now();
    pg.restart();
    let back = Instant::now();
    eprintln!("pg_ctl restart -m fast took {:?}", back - restart);
    let first_after_restart = recovered(back);
    std::thread::sleep(Duration::from_secs(2));
    // 2. An outage of two seconds (stopped, then started again).
    let outage = Instant::now();
    pg.stop();
    // Search answers from the replica's index while the store is away.
    let known = acked.lock().unwrap()[0].1.clone();
    let (s, r) = post(
        &format!("{}/v1/collections/{collection}/search", b.base),
        &json!({ "face_id": known, "top_k": 1, "threshold": 0.0 }),
    )
    .unwrap();
    assert_eq!(s, 200, "search during the outage: {r}");
    std::thread::sleep(Duration::from_secs(2));
    pg.start_again();
    let back_again = Instant::now();
    let first_after_outage = recovered(back_again);
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    watcher.join().unwrap();

    let attempts = attempts.lock().unwrap();
    let acked = acked.lock().unwrap();
    let before = acked.iter().filter(|(t, _)| *t < restart).count();
    let failed: Vec<&Attempt> = attempts.iter().filter(|a| a.status != 201).collect();
    eprintln!(
        "{} enrollments tried, {} acknowledged ({before} before the restart), {} refused ({} during the restart, {} during the outage); \
         first success {first_after_restart:?} after the restart, {first_after_outage:?} after the outage",
        attempts.len(),
        acked.len(),
        failed.len(),
        failed.iter().filter(|f| f.at < outage).count(),
        failed.iter().filter(|f| f.at >= outage).count(),
    );
    assert!(before > 0, "no enrollment succeeded before the restart");
    for (what, first) in [("restart", first_after_restart), ("outage", first_after_outage)] {
        let first = first.unwrap_or_else(|| panic!("no enrollment succeeded within 15 s of the {what}"));
        assert!(first < Duration::from_secs(15), "first success {first:?} after the {what}");
    }
    assert!(failed.iter().any(|f| f.at >= outage), "no enrollment was refused while PostgreSQL was stopped");
    for f in &failed {
        assert_eq!(f.status, 503, "an enrollment got {} ({:?}) while PostgreSQL was away", f.status, f.code);
        assert_eq!(f.code.as_deref(), Some("storage_unavailable"));
        assert!(f.retry_after.is_some(), "a 503 without Retry-After");
        assert!(f.at >= restart, "a refusal before the restart");
    }

    // /readyz: the replica stayed in service, and said so when the store was away.
    let probes = probes.lock().unwrap();
    assert!(!probes.is_empty());
    for (status, body) in probes.iter() {
        assert_eq!(*status, 200, "a database restart took the replica out of service: {body}");
        let g = &body["gallery"];
        match g["state"].as_str() {
            Some("ok") => {}
            Some("degraded") => {
                assert!(g["error"].is_string() && g["degraded_since"].is_string(), "{g}");
                assert_eq!(body["reason"], "GalleryStoreUnavailable", "{body}");
            }
            other => panic!("gallery state {other:?} in {body}"),
        }
    }
    let degraded = probes.iter().filter(|(_, b)| b["gallery"]["state"] == "degraded").count();
    eprintln!("readyz: {} samples, {degraded} of them degraded", probes.len());
    assert!(degraded > 0, "/readyz never said the gallery was degraded while PostgreSQL was stopped");

    // Every acknowledged enrollment is in the store and in replica B's index.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, r) = get(&format!("{}/readyz", b.base)).unwrap();
        if r["gallery"]["lag_sequences"] == 0 && r["gallery"]["state"] == "ok" {
            break;
        }
        assert!(Instant::now() < deadline, "replica B did not catch up: {r}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut stored = BTreeSet::new();
    let mut after = String::new();
    loop {
        let (s, page) = get(&format!("{}/v1/collections/{collection}/faces?limit=1000&after={after}", b.base)).unwrap();
        assert_eq!(s, 200, "{page}");
        stored.extend(page["faces"].as_array().unwrap().iter().map(|f| f["face_id"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    for (_, face_id) in acked.iter() {
        assert!(stored.contains(face_id), "acknowledged face {face_id} is not in the store");
        let (s, r) = post(
            &format!("{}/v1/collections/{collection}/search", b.base),
            &json!({ "face_id": face_id, "top_k": 1, "threshold": 0.0 }),
        )
        .unwrap();
        assert_eq!(s, 200, "acknowledged face {face_id} is not in replica B's index: {r}");
    }
    eprintln!("all {} acknowledged enrollments found in the store and in replica B's index", acked.len());
}

#[test]
fn the_server_starts_and_serves_faces_while_postgres_is_down() {
    let pg = PrivatePg::start(None);
    pg.stop();
    let url = pg.url("127.0.0.1");
    let a = start(free_port(), &[("VERITY_DATABASE_URL", url.as_str())]);

    let (s, r) = post(
        &format!("{}/v1/faces/verify", a.base),
        &json!({ "source": b64("obama.jpg"), "target": b64("obama2.jpg") }),
    )
    .unwrap();
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["match"], true, "{r}");

    let (s, retry, r) =
        post_full(&format!("{}/v1/collections", a.base), &json!({ "id": "later" }).to_string()).unwrap();
    assert_eq!((s, r["code"].as_str()), (503, Some("storage_unavailable")), "{r}");
    assert!(retry.is_some(), "503 without Retry-After");
    let (s, ready) = get(&format!("{}/readyz", a.base)).unwrap();
    assert_eq!(s, 200, "{ready}");
    assert_eq!(ready["gallery"]["state"], "degraded", "{ready}");
    assert!(ready["gallery"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{ready}");
    assert!(ready["gallery"]["degraded_since"].is_string(), "{ready}");
    let (_, info) = get(&format!("{}/v1/info", a.base)).unwrap();
    assert_eq!(info["gallery"]["state"], "degraded", "{info}");

    pg.start_again();
    let back = Instant::now();
    let created = loop {
        let (s, _, r) =
            post_full(&format!("{}/v1/collections", a.base), &json!({ "id": "later" }).to_string()).unwrap();
        if s == 201 {
            break back.elapsed();
        }
        assert_eq!(s, 503, "{r}");
        assert!(back.elapsed() < Duration::from_secs(15), "the gallery did not come up within 15 s: {r}");
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("the gallery came up {created:?} after PostgreSQL started");
    let (s, r) = post(
        &format!("{}/v1/collections/later/faces", a.base),
        &json!({ "image": b64("obama.jpg"), "external_id": "obama" }),
    )
    .unwrap();
    assert_eq!(s, 201, "{r}");
    let (_, ready) = get(&format!("{}/readyz", a.base)).unwrap();
    assert_eq!(ready["gallery"]["state"], "ok", "{ready}");
    assert_eq!(ready["gallery"]["faces"], 1, "{ready}");
}

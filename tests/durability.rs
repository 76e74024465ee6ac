//! kill -9 of a real `verity serve` process during a burst of enrollments (SQLite gallery):
//! after a restart on the same data directory, every enrollment that was acknowledged is there.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine as _;
use common::server::{agent, free_port, post, start};
use serde_json::{json, Value};

#[test]
fn acknowledged_enrollments_survive_kill_9() {
    let dir = std::env::temp_dir().join(format!("verity-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let data_dir = dir.to_str().unwrap().to_string();
    let mut server = start(port, &[("VERITY_DATA_DIR", &data_dir)]);
    let base = server.base.clone();
    assert_eq!(post(&format!("{base}/v1/collections"), &json!({ "id": "burst" })).unwrap().0, 201);

    let image = base64::engine::general_purpose::STANDARD.encode(common::image_bytes("obama2.jpg"));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let (base, image, acked) = (base.clone(), image.clone(), acked.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let body = json!({ "image": image, "external_id": format!("p{t}-{i}") });
                    match post(&format!("{base}/v1/collections/burst/faces"), &body) {
                        Some((201, b)) => acked.lock().unwrap().push(b["face_id"].as_str().unwrap().to_string()),
                        Some((s, b)) => panic!("enrollment failed with {s}: {b}"),
                        None => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2500));
    server.child.kill().expect("kill -9"); // SIGKILL
    let _ = server.child.wait();
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 4, "the burst acknowledged only {} enrollments", acked.len());

    let _server = start(port, &[("VERITY_DATA_DIR", &data_dir)]);
    let mut stored = std::collections::HashSet::new();
    let mut after = String::new();
    loop {
        let mut r = agent().get(format!("{base}/v1/collections/burst/faces?limit=1000&after={after}")).call().unwrap();
        let page: Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        for f in page["faces"].as_array().unwrap() {
            stored.insert(f["face_id"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    eprintln!("acknowledged {} enrollments before kill -9; {} stored after restart", acked.len(), stored.len());
    assert!(lost.is_empty(), "{} acknowledged enrollments lost: {lost:?}", lost.len());
    let _ = std::fs::remove_dir_all(&dir);
}

//! Retention and change-log compaction on the real stores: `expires_at` at enrollment (bad
//! values get 400), the purge deletes exactly the expired faces (and logs the deletes, so
//! replicas drop them too), and a replica whose position was compacted away reloads the
//! snapshot instead of missing changes.

mod common;

use std::{sync::Arc, time::Duration};

use actix_web::test;
use common::{
    faces,
    http::{b64, post_json, send},
};
use serde_json::json;
use verity::{
    build_app,
    config::HttpConfig,
    gallery::{Gallery, GalleryConfig},
    AppState,
};

fn sqlite_cfg(dir: &std::path::Path, poll: Duration) -> GalleryConfig {
    GalleryConfig { data_dir: dir.to_path_buf(), database_url: None, poll, keep_aligned: true, pg: Default::default() }
}

fn state(g: Arc<Gallery>) -> actix_web::web::Data<AppState> {
    actix_web::web::Data::new(AppState::new(faces(), g, HttpConfig::default(), Vec::new()))
}

fn in_seconds(s: i64) -> String {
    jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_secs(s)).unwrap().to_string()
}

#[actix_web::test]
async fn expired_faces_are_purged_and_bad_expiry_values_refused() {
    let dir = std::env::temp_dir().join(format!("verity-retention-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let gallery = Gallery::open(sqlite_cfg(&dir, Duration::from_millis(200))).await.unwrap();
    let app = test::init_service(build_app(state(gallery.clone()))).await;
    let (s, _) = send(&app, post_json("/v1/collections", json!({ "id": "kyc" }))).await;
    assert_eq!(s, 201);
    let enroll = |ext: &str, img: &str, expires: Option<String>| {
        let mut body = json!({ "image": b64(img), "external_id": ext });
        if let Some(e) = expires {
            body["expires_at"] = json!(e);
        }
        post_json("/v1/collections/kyc/faces", body)
    };
    for (what, value) in [("in the past", in_seconds(-60)), ("not a time", "next tuesday".to_string())] {
        let (s, r) = send(&app, enroll("x", "obama.jpg", Some(value))).await;
        assert_eq!((s.as_u16(), r["code"].as_str()), (400, Some("invalid_field")), "{what}: {r}");
    }
    let (s, r) = send(&app, enroll("short-lived", "obama.jpg", Some(in_seconds(2)))).await;
    assert_eq!(s, 201, "{r}");
    assert!(r["expires_at"].as_str().unwrap().ends_with('Z'));
    let (s, _) = send(&app, enroll("kept", "biden.jpg", None)).await;
    assert_eq!(s, 201);
    assert_eq!(gallery.purge_expired().await.unwrap(), 0, "nothing has expired yet");

    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(gallery.purge_expired().await.unwrap(), 1);
    let (_, list) = send(&app, test::TestRequest::get().uri("/v1/collections/kyc/faces")).await;
    let left: Vec<&str> =
        list["faces"].as_array().unwrap().iter().map(|f| f["external_id"].as_str().unwrap()).collect();
    assert_eq!(left, vec!["kept"]);
    let (_, r) = send(&app, post_json("/v1/collections/kyc/search", json!({ "image": b64("obama2.jpg") }))).await;
    assert!(r["matches"].as_array().unwrap().iter().all(|m| m["external_id"] != "short-lived"), "{r}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn a_replica_behind_a_compaction_reloads_the_snapshot() {
    let dir = std::env::temp_dir().join(format!("verity-compaction-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let writer = Gallery::open(sqlite_cfg(&dir, Duration::from_millis(200))).await.unwrap();
    // A second replica on the same store that only catches up when told to.
    let replica = Gallery::open(sqlite_cfg(&dir, Duration::from_secs(3600))).await.unwrap();
    let app = test::init_service(build_app(state(writer.clone()))).await;
    send(&app, post_json("/v1/collections", json!({ "id": "c" }))).await;
    for (ext, img) in [("o", "obama.jpg"), ("b", "biden.jpg"), ("a", "astronaut.png")] {
        let (s, r) =
            send(&app, post_json("/v1/collections/c/faces", json!({ "image": b64(img), "external_id": ext }))).await;
        assert_eq!(s, 201, "{r}");
    }
    let (dropped, floor) = writer.compact(0).await.unwrap();
    assert_eq!((dropped, floor), (4, 4), "the whole log: one collection and three faces");
    assert_eq!(writer.compact(0).await.unwrap().0, 0, "idempotent");
    assert!(replica.status().applied_sequence < floor);
    replica.catch_up().await.unwrap();
    let status = replica.status();
    assert_eq!((status.applied_sequence, status.faces), (4, 3), "{status:?}");
    // The log goes on after the floor.
    send(&app, post_json("/v1/collections/c/faces", json!({ "image": b64("obama2.jpg"), "external_id": "o2" }))).await;
    replica.catch_up().await.unwrap();
    assert_eq!(replica.status().faces, 4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn a_collection_is_re_embedded_here_when_there_is_no_cluster() {
    let dir = std::env::temp_dir().join(format!("verity-reembed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let gallery = Gallery::open(sqlite_cfg(&dir, Duration::from_millis(200))).await.unwrap();
    let app = test::init_service(build_app(state(gallery.clone()))).await;
    send(&app, post_json("/v1/collections", json!({ "id": "r" }))).await;
    for (ext, img) in [("o", "obama.jpg"), ("b", "biden.jpg"), ("a", "astronaut.png")] {
        let (s, r) =
            send(&app, post_json("/v1/collections/r/faces", json!({ "image": b64(img), "external_id": ext }))).await;
        assert_eq!(s, 201, "{r}");
    }
    let search = json!({ "image": b64("obama2.jpg"), "top_k": 1 });
    let (_, before) = send(&app, post_json("/v1/collections/r/search", search.clone())).await;

    for (body, status, code) in
        [(json!({ "chunk_size": 0 }), 400, "invalid_field"), (json!({ "chunk_size": "many" }), 400, "invalid_field")]
    {
        let (s, r) = send(&app, post_json("/v1/collections/r/reembed", body)).await;
        assert_eq!((s.as_u16(), r["code"].as_str()), (status, Some(code)), "{r}");
    }
    let (s, r) = send(&app, post_json("/v1/collections/nope/reembed", json!({}))).await;
    assert_eq!((s.as_u16(), r["code"].as_str()), (404, Some("collection_not_found")));
    let (s, r) = send(&app, test::TestRequest::get().uri("/v1/jobs/nope")).await;
    assert_eq!((s.as_u16(), r["code"].as_str()), (404, Some("job_not_found")));

    let (s, started) = send(&app, post_json("/v1/collections/r/reembed", json!({ "chunk_size": 2 }))).await;
    assert_eq!(s, 202, "{started}");
    assert_eq!(
        (started["chunks"].as_i64(), started["faces"].as_i64(), started["mode"].as_str()),
        (Some(2), Some(3), Some("local"))
    );
    let uri = format!("/v1/jobs/{}", started["job_id"].as_str().unwrap());
    let mut status = serde_json::Value::Null;
    for _ in 0..200 {
        status = send(&app, test::TestRequest::get().uri(&uri)).await.1;
        if status["state"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["state"], "completed", "{status}");
    assert_eq!(
        (status["done_chunks"].as_i64(), status["done_faces"].as_i64(), status["skipped_faces"].as_i64()),
        (Some(2), Some(3), Some(0))
    );
    // Re-embedded from the stored aligned faces with the same model: the same answer.
    let (_, after) = send(&app, post_json("/v1/collections/r/search", search)).await;
    assert_eq!(after["matches"][0]["external_id"], "o");
    let (b, a) =
        (before["matches"][0]["similarity"].as_f64().unwrap(), after["matches"][0]["similarity"].as_f64().unwrap());
    assert!((a - b).abs() < 1e-3, "similarity before {b}, after {a}");
    let _ = std::fs::remove_dir_all(&dir);
}

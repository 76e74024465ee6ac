//! The `Backend` contract (doc comments of `verity::gallery::store::Backend`), run the same way
//! against both stores: SQLite in a temporary directory, and a private real PostgreSQL (a fresh
//! cluster, so the sequence numbers start at zero). Every error, pagination, idempotency, the
//! change log with its sequence numbers, compaction, snapshot, jobs and the retention purge.

mod common;

use std::sync::Arc;

use common::pg::PrivatePg;
use verity::gallery::{
    health::Health,
    pgconn::{PgConnect, PgOptions},
    postgres::PgStore,
    sqlite::SqliteStore,
    store::{now_unix, Backend, Change, NewFace, StoreError},
};

fn face(collection: &str, id: &str, external: &str, x: f32) -> NewFace {
    NewFace {
        collection: collection.into(),
        face_id: id.into(),
        external_id: external.into(),
        image_sha256: format!("sha-{id}"),
        embedding: vec![x, 1.0 - x, 0.5],
        metadata: Some(format!(r#"{{"n":"{id}"}}"#)),
        expires_at: None,
        aligned_png: Some(vec![1, 2, 3]),
    }
}

fn seqs(changes: &[Change]) -> Vec<i64> {
    changes.iter().map(Change::seq).collect()
}

/// Every rule of the contract, in one order so that sequence numbers are known.
async fn contract(s: &dyn Backend) {
    // A new store.
    assert_eq!(s.head().await.unwrap(), 0);
    assert_eq!(s.floor().await.unwrap(), 0);
    assert!(s.list_collections().await.unwrap().is_empty());

    // Collections: create, exists, not found everywhere a collection is named.
    assert_eq!(s.create_collection("c", Some("first")).await.unwrap(), 1);
    assert!(
        matches!(s.create_collection("c", Some("again")).await, Err(StoreError::CollectionExists(id)) if id == "c")
    );
    assert_eq!(s.head().await.unwrap(), 1, "a refused write appends nothing");
    let missing = "nope";
    assert!(matches!(s.delete_collection(missing).await, Err(StoreError::CollectionNotFound(_))));
    assert!(matches!(s.enroll(face(missing, "x", "e", 0.1)).await, Err(StoreError::CollectionNotFound(_))));
    assert!(matches!(s.list_faces(missing, None, 10).await, Err(StoreError::CollectionNotFound(_))));
    assert!(matches!(s.delete_face(missing, "x").await, Err(StoreError::CollectionNotFound(_))));
    assert!(matches!(s.delete_subject(missing, "e").await, Err(StoreError::CollectionNotFound(_))));
    assert!(matches!(s.create_job("j0", missing, 10).await, Err(StoreError::CollectionNotFound(_))));
    assert!(s.chunk_faces(missing, "a", "z").await.unwrap().is_empty());
    assert_eq!(s.head().await.unwrap(), 1);

    // Enrollment: idempotent by face id; the first metadata stays.
    assert_eq!(s.enroll(face("c", "f3", "alice", 0.3)).await.unwrap(), (true, 2));
    let mut again = face("c", "f3", "alice", 0.9);
    again.metadata = Some(r#"{"n":"changed"}"#.into());
    assert_eq!(s.enroll(again).await.unwrap(), (false, 2));
    for (id, ext, x) in [("f1", "alice", 0.1), ("f2", "bob", 0.2), ("f4", "carol", 0.4), ("f5", "bob", 0.5)] {
        assert!(s.enroll(face("c", id, ext, x)).await.unwrap().0);
    }
    assert_eq!(s.head().await.unwrap(), 6);
    let listed = s.list_collections().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].description.as_deref(), listed[0].faces), ("c", Some("first"), 5));

    // Pagination: face-id order, `after` exclusive, a short page is the last.
    let page1 = s.list_faces("c", None, 2).await.unwrap();
    let ids = |p: &[verity::gallery::store::FaceRow]| p.iter().map(|f| f.face_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&page1), ["f1", "f2"]);
    let page2 = s.list_faces("c", Some("f2"), 2).await.unwrap();
    assert_eq!(ids(&page2), ["f3", "f4"]);
    assert_eq!(page2[0].metadata, Some(serde_json::json!({ "n": "f3" })), "the first metadata stays");
    assert_eq!(ids(&s.list_faces("c", Some("f4"), 2).await.unwrap()), ["f5"]);
    assert!(s.list_faces("c", Some("f5"), 2).await.unwrap().is_empty());

    // Deletes: a face, a subject; their errors.
    assert!(matches!(s.delete_face("c", "f9").await, Err(StoreError::FaceNotFound(id)) if id == "f9"));
    assert!(matches!(s.delete_subject("c", "nobody").await, Err(StoreError::SubjectNotFound(id)) if id == "nobody"));
    assert_eq!(s.head().await.unwrap(), 6);
    assert_eq!(s.delete_face("c", "f4").await.unwrap(), 7);
    assert_eq!(s.delete_subject("c", "bob").await.unwrap(), 2);
    assert_eq!(s.head().await.unwrap(), 9, "one entry per erased face");
    assert_eq!(ids(&s.list_faces("c", None, 10).await.unwrap()), ["f1", "f3"]);

    // The change log: gapless, in order; deleted faces carry no embedding.
    let log = s.changes_since(0, 100).await.unwrap();
    assert_eq!(seqs(&log), (1..=9).collect::<Vec<_>>());
    assert!(matches!(&log[0], Change::CreateCollection { collection, .. } if collection == "c"));
    assert!(
        matches!(&log[1], Change::AddFace { face_id, embedding: Some(e), .. } if face_id == "f3" && (e[0] - 0.3).abs() < 1e-6)
    );
    assert!(matches!(&log[3], Change::AddFace { face_id, embedding: None, .. } if face_id == "f2"), "{:?}", log[3]);
    assert!(matches!(&log[6], Change::DeleteFace { face_id, .. } if face_id == "f4"));
    assert_eq!(seqs(&s.changes_since(4, 2).await.unwrap()), [5, 6], "limit and start");

    // Snapshot: consistent with head.
    let snap = s.snapshot().await.unwrap();
    assert_eq!((snap.head, snap.collections.clone()), (9, vec!["c".to_string()]));
    let mut faces: Vec<&str> = snap.faces.iter().map(|f| f.1.as_str()).collect();
    faces.sort();
    assert_eq!(faces, ["f1", "f3"]);

    // Jobs: chunks over the faces as they are, exactly-once commits, status.
    for (id, x) in [("f6", 0.6), ("f7", 0.7)] {
        s.enroll(face("c", id, "dave", x)).await.unwrap();
    }
    let ranges = s.create_job("job1", "c", 2).await.unwrap();
    assert_eq!(ranges, [("f1".to_string(), "f3".to_string()), ("f6".to_string(), "f7".to_string())]);
    let chunk = s.chunk_faces("c", "f1", "f3").await.unwrap();
    assert_eq!(chunk, [("f1".to_string(), Some(vec![1, 2, 3])), ("f3".to_string(), Some(vec![1, 2, 3]))]);
    let head = s.head().await.unwrap();
    let updates = vec![("f1".to_string(), vec![0.0, 0.0, 1.0]), ("f3".to_string(), vec![0.0, 1.0, 0.0])];
    assert!(s.commit_chunk("job1", 0, "w1", "c", updates.clone(), 0).await.unwrap());
    assert!(!s.commit_chunk("job1", 0, "w2", "c", updates, 0).await.unwrap(), "a chunk is done once");
    assert_eq!(s.head().await.unwrap(), head + 2, "one update entry per face");
    let updated = s.changes_since(head, 10).await.unwrap();
    assert!(
        matches!(&updated[0], Change::UpdateFace { face_id, embedding: Some(e), .. } if face_id == "f1" && e[2] == 1.0)
    );
    // A face erased after its chunk was read stays erased.
    s.delete_face("c", "f7").await.unwrap();
    let before = s.head().await.unwrap();
    assert!(s.commit_chunk("job1", 1, "w2", "c", vec![("f7".to_string(), vec![1.0, 0.0, 0.0])], 1).await.unwrap());
    assert_eq!(s.head().await.unwrap(), before, "no update for an erased face");
    assert!(s.list_faces("c", Some("f6"), 10).await.unwrap().is_empty());
    let status = s.job_status("job1").await.unwrap().unwrap();
    assert_eq!((status.chunks, status.faces, status.done_chunks, status.done_faces), (2, 4, 2, 3));
    assert_eq!((status.skipped_faces, status.state.as_str()), (1, "completed"));
    assert_eq!(status.done_by.get("w1"), Some(&1));
    assert!(s.job_status("no-such-job").await.unwrap().is_none());
    s.create_collection("empty", None).await.unwrap();
    assert!(s.create_job("job2", "empty", 5).await.unwrap().is_empty());

    // Retention purge: only faces at or past their expiry.
    let mut old = face("c", "f8", "erin", 0.8);
    old.expires_at = Some(now_unix() - 10);
    let mut later = face("c", "f9", "erin", 0.9);
    later.expires_at = Some(now_unix() + 3600);
    s.enroll(old).await.unwrap();
    s.enroll(later).await.unwrap();
    let head = s.head().await.unwrap();
    assert_eq!(s.purge_expired(now_unix()).await.unwrap(), 1);
    assert_eq!(s.head().await.unwrap(), head + 1);
    let rows = s.list_faces("c", Some("f7"), 10).await.unwrap();
    assert_eq!(ids(&rows), ["f9"]);
    assert!(rows[0].expires_at.is_some());
    assert_eq!(s.purge_expired(now_unix()).await.unwrap(), 0);

    // Compaction: drops at or below head - keep, never lowers the floor.
    let head = s.head().await.unwrap();
    assert_eq!(s.compact(head + 10).await.unwrap(), (0, 0), "nothing to drop");
    let (dropped, floor) = s.compact(3).await.unwrap();
    assert_eq!((dropped, floor), ((head - 3) as u64, head - 3));
    assert_eq!(s.floor().await.unwrap(), head - 3);
    assert_eq!(s.changes_since(0, 100).await.unwrap().first().map(Change::seq), Some(head - 2));
    assert_eq!(s.compact(10).await.unwrap(), (0, head - 3), "the floor does not go down");

    // Deleting a collection takes its faces; one entry.
    let head = s.head().await.unwrap();
    assert_eq!(s.delete_collection("c").await.unwrap(), head + 1);
    assert!(matches!(s.list_faces("c", None, 10).await, Err(StoreError::CollectionNotFound(_))));
    let snap = s.snapshot().await.unwrap();
    assert_eq!((snap.collections, snap.faces.len()), (vec!["empty".to_string()], 0));
}

#[actix_web::test]
async fn sqlite_keeps_the_contract() {
    let dir = std::env::temp_dir().join(format!("verity-contract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteStore::open(&dir.join("gallery.db")).unwrap();
    assert_eq!(store.kind(), "sqlite");
    contract(&store).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn postgres_keeps_the_contract() {
    let pg = PrivatePg::start(None);
    let connect = PgConnect::new(&pg.url("127.0.0.1"), &PgOptions::default()).unwrap();
    let store = PgStore::open(&connect, Arc::new(Health::default())).await.unwrap();
    assert_eq!(store.kind(), "postgres");
    contract(&store).await;
}

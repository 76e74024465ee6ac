//! The durable store behind the gallery: one interface, two backends (SQLite file, PostgreSQL).
//! Every write appends to a change log with a gapless, monotonically increasing sequence number
//! in the same transaction (a single `head` row, updated by every write, orders the commits), and
//! returns only after the commit.

use serde::Serialize;

use super::{postgres::PgStore, sqlite::SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("collection `{0}` already exists")]
    CollectionExists(String),
    #[error("collection `{0}` does not exist")]
    CollectionNotFound(String),
    #[error("face `{0}` does not exist in this collection")]
    FaceNotFound(String),
    #[error("no face is enrolled under external_id `{0}` in this collection")]
    SubjectNotFound(String),
    #[error("storage error: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CollectionInfo {
    pub id: String,
    pub description: Option<String>,
    pub faces: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FaceRow {
    pub face_id: String,
    pub external_id: String,
    pub metadata: Option<serde_json::Value>,
    pub created_at: String,
    /// When the retention purge deletes the face (RFC 3339, UTC); null: kept until erased.
    pub expires_at: Option<String>,
}

/// What an enrollment writes.
#[derive(Debug, Clone)]
pub struct NewFace {
    pub collection: String,
    pub face_id: String,
    pub external_id: String,
    pub image_sha256: String,
    pub embedding: Vec<f32>,
    pub metadata: Option<String>,
    /// Unix seconds after which the retention purge deletes the face.
    pub expires_at: Option<i64>,
}

/// One entry of the change log. `embedding` is absent when the face was deleted since (deletes
/// erase the vector; the later delete entry follows).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    CreateCollection { seq: i64, collection: String },
    DeleteCollection { seq: i64, collection: String },
    AddFace { seq: i64, collection: String, face_id: String, external_id: String, embedding: Option<Vec<f32>> },
    DeleteFace { seq: i64, collection: String, face_id: String },
}

impl Change {
    pub fn seq(&self) -> i64 {
        match self {
            Change::CreateCollection { seq, .. }
            | Change::DeleteCollection { seq, .. }
            | Change::AddFace { seq, .. }
            | Change::DeleteFace { seq, .. } => *seq,
        }
    }

    /// Builds a change from its stored columns.
    pub fn from_row(
        seq: i64,
        op: &str,
        collection: String,
        face_id: Option<String>,
        external_id: Option<String>,
        embedding: Option<Vec<u8>>,
    ) -> Result<Change, StoreError> {
        Ok(match op {
            "create_collection" => Change::CreateCollection { seq, collection },
            "delete_collection" => Change::DeleteCollection { seq, collection },
            "add_face" => Change::AddFace {
                seq,
                collection,
                face_id: face_id.unwrap_or_default(),
                external_id: external_id.unwrap_or_default(),
                embedding: embedding.map(|b| from_bytes(&b)),
            },
            "delete_face" => Change::DeleteFace { seq, collection, face_id: face_id.unwrap_or_default() },
            other => return Err(StoreError::Backend(format!("unknown change op {other:?} at seq {seq}"))),
        })
    }
}

/// The whole gallery at one sequence number, for building an index at start.
pub struct Snapshot {
    pub head: i64,
    pub collections: Vec<String>,
    pub faces: Vec<(String, String, String, Vec<f32>)>,
}

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix).map(|t| t.to_string()).unwrap_or_default()
}

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn from_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The configured backend.
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

impl Store {
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn create_collection(&self, id: &str, description: Option<&str>) -> Result<i64, StoreError> {
        dispatch!(self, s => s.create_collection(id, description).await)
    }

    pub async fn delete_collection(&self, id: &str) -> Result<i64, StoreError> {
        dispatch!(self, s => s.delete_collection(id).await)
    }

    pub async fn list_collections(&self) -> Result<Vec<CollectionInfo>, StoreError> {
        dispatch!(self, s => s.list_collections().await)
    }

    /// Returns (created, sequence); an existing (collection, external_id, image) gives `false`.
    pub async fn enroll(&self, face: NewFace) -> Result<(bool, i64), StoreError> {
        dispatch!(self, s => s.enroll(face).await)
    }

    pub async fn list_faces(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FaceRow>, StoreError> {
        dispatch!(self, s => s.list_faces(collection, after, limit).await)
    }

    /// Deletes every face whose `expires_at` is at or before `now` (one delete per face in the
    /// change log); returns how many.
    pub async fn purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        dispatch!(self, s => s.purge_expired(now).await)
    }

    /// Drops change-log entries at or below `head - keep`; returns (entries dropped, the new
    /// floor). A replica whose applied sequence is below the floor reloads the snapshot.
    pub async fn compact(&self, keep: i64) -> Result<(u64, i64), StoreError> {
        dispatch!(self, s => s.compact(keep).await)
    }

    /// The highest sequence number no longer in the change log (0 before any compaction).
    pub async fn floor(&self) -> Result<i64, StoreError> {
        dispatch!(self, s => s.floor().await)
    }

    pub async fn delete_face(&self, collection: &str, face_id: &str) -> Result<i64, StoreError> {
        dispatch!(self, s => s.delete_face(collection, face_id).await)
    }

    /// Deletes every face of `external_id`; returns how many.
    pub async fn delete_subject(&self, collection: &str, external_id: &str) -> Result<usize, StoreError> {
        dispatch!(self, s => s.delete_subject(collection, external_id).await)
    }

    pub async fn changes_since(&self, seq: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        dispatch!(self, s => s.changes_since(seq, limit).await)
    }

    pub async fn head(&self) -> Result<i64, StoreError> {
        dispatch!(self, s => s.head().await)
    }

    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        dispatch!(self, s => s.snapshot().await)
    }
}

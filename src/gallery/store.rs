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
    /// The database could not be reached or the connection broke before the commit: nothing
    /// was written (safe to retry).
    #[error("the database is unreachable: {0}")]
    Connection(String),
    /// The connection broke while committing: the write may or may not have been applied.
    #[error("the database connection was lost while committing ({0}); the write may have been applied: retrying it is safe, writes are idempotent")]
    OutcomeUnknown(String),
    /// The database settings cannot work (URL, TLS mode, certificates): fixed by configuration,
    /// not by retrying.
    #[error("database configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Whether the error says the database is away (as opposed to a refused request).
    pub fn is_outage(&self) -> bool {
        matches!(self, StoreError::Backend(_) | StoreError::Connection(_) | StoreError::OutcomeUnknown(_))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_connection_error(&e) {
            StoreError::Connection(error_text(&e))
        } else {
            StoreError::Backend(error_text(&e))
        }
    }
}

/// The error with its cause (tokio-postgres' own text is often only "db error").
pub fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// A broken or refused connection, or the server shutting down (SQLSTATE classes 08 and 57P):
/// the statement did not run, another connection may succeed.
pub fn is_connection_error(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08") || c.starts_with("57P");
    }
    e.as_db_error().is_none()
        && std::error::Error::source(e).is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
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
    /// The aligned 112x112 face as PNG, kept so the collection can be re-embedded when the
    /// embedding model changes (None when `--keep-aligned-faces=false`).
    pub aligned_png: Option<Vec<u8>>,
}

/// A re-embedding job: the collection split into chunks of face ids (inclusive ranges).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobStatus {
    pub job_id: String,
    pub collection: String,
    pub chunks: i64,
    pub faces: i64,
    pub done_chunks: i64,
    pub done_faces: i64,
    /// Faces without a stored aligned face (enrolled before it was kept): not re-embedded.
    pub skipped_faces: i64,
    /// Chunks done per replica.
    pub done_by: std::collections::BTreeMap<String, i64>,
    /// `running` or `completed`.
    pub state: String,
}

/// One face of a chunk: id and its stored aligned face.
pub type ChunkFace = (String, Option<Vec<u8>>);

/// One entry of the change log. `embedding` is absent when the face was deleted since (deletes
/// erase the vector; the later delete entry follows).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    CreateCollection {
        seq: i64,
        collection: String,
    },
    DeleteCollection {
        seq: i64,
        collection: String,
    },
    AddFace {
        seq: i64,
        collection: String,
        face_id: String,
        external_id: String,
        embedding: Option<Vec<f32>>,
    },
    DeleteFace {
        seq: i64,
        collection: String,
        face_id: String,
    },
    /// A new embedding for an enrolled face (re-embedding).
    UpdateFace {
        seq: i64,
        collection: String,
        face_id: String,
        external_id: String,
        embedding: Option<Vec<f32>>,
    },
}

impl Change {
    pub fn seq(&self) -> i64 {
        match self {
            Change::CreateCollection { seq, .. }
            | Change::DeleteCollection { seq, .. }
            | Change::AddFace { seq, .. }
            | Change::DeleteFace { seq, .. }
            | Change::UpdateFace { seq, .. } => *seq,
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
            "update_face" => Change::UpdateFace {
                seq,
                collection,
                face_id: face_id.unwrap_or_default(),
                external_id: external_id.unwrap_or_default(),
                embedding: embedding.map(|b| from_bytes(&b)),
            },
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

/// Splits sorted face ids into inclusive (first, last) ranges of `size`.
pub fn chunk_ranges(ids: &[String], size: usize) -> Vec<(String, String)> {
    ids.chunks(size.max(1)).map(|c| (c[0].clone(), c[c.len() - 1].clone())).collect()
}

/// The status of a job from its row and its done chunks: (worker, faces, skipped).
pub fn job_status(job_id: &str, collection: String, chunks: i64, faces: i64, done: &[(String, i64, i64)]) -> JobStatus {
    let mut done_by = std::collections::BTreeMap::new();
    for (w, _, _) in done {
        *done_by.entry(w.clone()).or_insert(0) += 1;
    }
    let done_chunks = done.len() as i64;
    JobStatus {
        job_id: job_id.to_string(),
        collection,
        chunks,
        faces,
        done_chunks,
        done_faces: done.iter().map(|d| d.1).sum(),
        skipped_faces: done.iter().map(|d| d.2).sum(),
        done_by,
        state: if done_chunks >= chunks { "completed" } else { "running" }.to_string(),
    }
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

    /// Records a re-embedding job over `collection`, split into chunks of `chunk_size` face ids;
    /// returns the chunks as inclusive (first, last) face-id ranges.
    pub async fn create_job(
        &self,
        job_id: &str,
        collection: &str,
        chunk_size: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        dispatch!(self, s => s.create_job(job_id, collection, chunk_size).await)
    }

    /// The faces of one chunk with their stored aligned faces.
    pub async fn chunk_faces(&self, collection: &str, first: &str, last: &str) -> Result<Vec<ChunkFace>, StoreError> {
        dispatch!(self, s => s.chunk_faces(collection, first, last).await)
    }

    /// Commits one chunk's new embeddings and the chunk's done row in one transaction; false
    /// (nothing written) when the chunk was already done: each chunk is done exactly once.
    pub async fn commit_chunk(
        &self,
        job_id: &str,
        chunk: i64,
        worker: &str,
        collection: &str,
        updates: Vec<(String, Vec<f32>)>,
        skipped: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.commit_chunk(job_id, chunk, worker, collection, updates, skipped).await)
    }

    pub async fn job_status(&self, job_id: &str) -> Result<Option<JobStatus>, StoreError> {
        dispatch!(self, s => s.job_status(job_id).await)
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

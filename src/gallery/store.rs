//! The durable store behind the gallery: one interface, two backends (SQLite file, PostgreSQL).
//! Every write appends to a change log with a gapless, monotonically increasing sequence number
//! in the same transaction (a single `head` row, updated by every write, orders the commits), and
//! returns only after the commit.

use serde::Serialize;

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
    /// What a client may read of an outage (the database's own text goes to the log).
    pub fn public_text(&self) -> &'static str {
        match self {
            StoreError::Connection(_) => "the gallery database cannot be reached; nothing was written; retry later",
            StoreError::OutcomeUnknown(_) => {
                "the connection to the gallery database was lost while committing; the write may have been applied: retrying it is safe, writes are idempotent"
            }
            StoreError::Config(_) => "the gallery database settings cannot work; the server log says why",
            StoreError::Backend(_)
            | StoreError::CollectionExists(_)
            | StoreError::CollectionNotFound(_)
            | StoreError::FaceNotFound(_)
            | StoreError::SubjectNotFound(_) => "the gallery store failed; retry later",
        }
    }

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

/// The durable store of the gallery, as the rest of the server sees it. Two implementations:
/// `SqliteStore` (one file, one replica) and `PgStore` (shared by replicas); both pass the same
/// contract suite (`tests/store_contract.rs`).
///
/// Rules common to every method:
/// - A write returns only after its transaction committed; every write that changes the gallery
///   appends one entry per changed face or collection to the change log in the same transaction,
///   with sequence numbers that are gapless and increasing in commit order. A refused write
///   (an error other than the outage errors) writes nothing and appends nothing.
/// - Errors: `CollectionNotFound` / `CollectionExists` / `FaceNotFound` / `SubjectNotFound` for a
///   refused request, named below per method; `Connection` when the store could not be reached
///   before the commit (nothing written, safe to retry); `OutcomeUnknown` when the connection
///   broke during the commit (retrying is safe: writes are idempotent); `Backend` for any other
///   failure of the store; `Config` for settings that cannot work.
/// - Identifiers are compared exactly (case-sensitive); face ids are unique across collections.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;

    /// Creates an empty collection; returns the sequence of its `CreateCollection` entry.
    /// `CollectionExists` when `id` exists (the description is not changed).
    async fn create_collection(&self, id: &str, description: Option<&str>) -> Result<i64, StoreError>;

    /// Deletes the collection and every face in it (real deletes: their embeddings and aligned
    /// faces are gone); logs one `DeleteCollection` entry and returns its sequence.
    /// `CollectionNotFound` when it does not exist.
    async fn delete_collection(&self, id: &str) -> Result<i64, StoreError>;

    /// Every collection, ordered by id, with its face count and creation time (RFC 3339).
    async fn list_collections(&self) -> Result<Vec<CollectionInfo>, StoreError>;

    /// Stores a face; returns (created, sequence). Idempotent by `face.face_id`: a face id
    /// already stored gives `(false, head)` and changes nothing (its first metadata and expiry
    /// stay). A new face logs one `AddFace` entry, whose sequence is returned.
    /// `CollectionNotFound` when `face.collection` does not exist.
    async fn enroll(&self, face: NewFace) -> Result<(bool, i64), StoreError>;

    /// One page of a collection's faces ordered by face id: those after `after` (exclusive;
    /// from the start when `None`), at most `limit`. A page shorter than `limit` is the last.
    /// `CollectionNotFound` when the collection does not exist.
    async fn list_faces(&self, collection: &str, after: Option<&str>, limit: i64) -> Result<Vec<FaceRow>, StoreError>;

    /// Deletes one face; logs one `DeleteFace` entry and returns its sequence.
    /// `CollectionNotFound`, or `FaceNotFound` when the face is not in that collection.
    async fn delete_face(&self, collection: &str, face_id: &str) -> Result<i64, StoreError>;

    /// Deletes every face enrolled under `external_id` in the collection (erasure), one
    /// `DeleteFace` entry each, in one transaction; returns how many.
    /// `CollectionNotFound`, or `SubjectNotFound` when the subject has no face there.
    async fn delete_subject(&self, collection: &str, external_id: &str) -> Result<usize, StoreError>;

    /// Records a re-embedding job over the collection's faces as they are now, split into
    /// chunks of `chunk_size` face ids in face-id order; returns each chunk as an inclusive
    /// (first, last) face-id range (none for an empty collection). Not logged (it changes no
    /// face). `CollectionNotFound` when the collection does not exist.
    async fn create_job(
        &self,
        job_id: &str,
        collection: &str,
        chunk_size: usize,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// The faces of a chunk's range still in the collection, in face-id order, each with its
    /// stored aligned face (`None` when none was kept). Empty for an unknown collection.
    async fn chunk_faces(&self, collection: &str, first: &str, last: &str) -> Result<Vec<ChunkFace>, StoreError>;

    /// Writes one chunk's new embeddings and the chunk's done row (by `worker`, with its face
    /// and skipped counts) in one transaction, one `UpdateFace` entry per face still present (a
    /// face erased since the chunk was read stays erased). Exactly once per (job, chunk): when
    /// the chunk was already done it writes nothing and returns `false`.
    async fn commit_chunk(
        &self,
        job_id: &str,
        chunk: i64,
        worker: &str,
        collection: &str,
        updates: Vec<(String, Vec<f32>)>,
        skipped: i64,
    ) -> Result<bool, StoreError>;

    /// The progress of a job; `None` for an unknown job id.
    async fn job_status(&self, job_id: &str) -> Result<Option<JobStatus>, StoreError>;

    /// Deletes every face whose `expires_at` is at or before `now` (Unix seconds), one
    /// `DeleteFace` entry each; returns how many.
    async fn purge_expired(&self, now: i64) -> Result<usize, StoreError>;

    /// Drops change-log entries at or below `head - keep`; returns (entries dropped, the new
    /// floor). Never lowers the floor; nothing to drop gives `(0, floor)`. A replica whose
    /// applied sequence is below the floor must reload the snapshot.
    async fn compact(&self, keep: i64) -> Result<(u64, i64), StoreError>;

    /// The highest sequence no longer in the change log (0 before any compaction).
    async fn floor(&self) -> Result<i64, StoreError>;

    /// At most `limit` change-log entries after `seq`, in sequence order. The embedding of an
    /// `AddFace` / `UpdateFace` entry is the face's current one, `None` once the face is deleted
    /// (its later `DeleteFace` entry follows).
    async fn changes_since(&self, seq: i64, limit: i64) -> Result<Vec<Change>, StoreError>;

    /// The sequence of the last committed change (0 for a new store).
    async fn head(&self) -> Result<i64, StoreError>;

    /// Every collection and face with its embedding, consistent with `head` (read in one
    /// transaction): applying the changes after `head` to it gives the store.
    async fn snapshot(&self) -> Result<Snapshot, StoreError>;
}

//! PostgreSQL backend, for clusters: the same schema and change log as SQLite; every write
//! also sends `NOTIFY verity_gallery` (delivered at commit) so replicas wake up at once.
//! Every operation takes a connection from the pool; one that broke before the commit is
//! dropped and the operation runs once more on a fresh connection. A commit whose outcome is
//! unknown is reported as such (enrollments, idempotent by face id, are retried).

use std::{sync::Arc, time::Duration};

use deadpool_postgres::{Object, Pool, PoolError};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, Transaction};

use super::{
    health::Health,
    pgconn::PgConnect,
    store::{
        chunk_ranges, error_text, from_bytes, is_connection_error, job_status, rfc3339, to_bytes, Backend, Change,
        ChunkFace, CollectionInfo, FaceRow, JobStatus, NewFace, Snapshot, StoreError,
    },
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS verity_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL);
INSERT INTO verity_head VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS verity_collections (
  id TEXT PRIMARY KEY,
  description TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS verity_faces (
  face_id TEXT PRIMARY KEY,
  collection TEXT NOT NULL REFERENCES verity_collections(id) ON DELETE CASCADE,
  external_id TEXT NOT NULL,
  image_sha256 TEXT NOT NULL,
  embedding BYTEA NOT NULL,
  metadata TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS verity_faces_subject ON verity_faces (collection, external_id);
CREATE TABLE IF NOT EXISTS verity_changes (
  seq BIGINT PRIMARY KEY,
  op TEXT NOT NULL,
  collection TEXT NOT NULL,
  face_id TEXT,
  external_id TEXT
);
ALTER TABLE verity_faces ADD COLUMN IF NOT EXISTS expires_at BIGINT;
CREATE INDEX IF NOT EXISTS verity_faces_expiry ON verity_faces (expires_at) WHERE expires_at IS NOT NULL;
ALTER TABLE verity_faces ADD COLUMN IF NOT EXISTS aligned BYTEA;
CREATE TABLE IF NOT EXISTS verity_jobs (
  job_id TEXT PRIMARY KEY,
  collection TEXT NOT NULL,
  chunks BIGINT NOT NULL,
  faces BIGINT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS verity_job_chunks (
  job_id TEXT NOT NULL,
  chunk BIGINT NOT NULL,
  done_by TEXT NOT NULL,
  faces BIGINT NOT NULL,
  skipped BIGINT NOT NULL,
  PRIMARY KEY (job_id, chunk)
);
CREATE TABLE IF NOT EXISTS verity_log_floor (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL);
INSERT INTO verity_log_floor VALUES (1, 0) ON CONFLICT DO NOTHING;
";

pub const CHANNEL: &str = "verity_gallery";

pub struct PgStore {
    pool: Pool,
    health: Arc<Health>,
}

/// Commits `tx`; a connection lost during the commit leaves its outcome unknown.
async fn commit(tx: Transaction<'_>) -> Result<(), StoreError> {
    tx.commit().await.map_err(|e| {
        if is_connection_error(&e) {
            StoreError::OutcomeUnknown(error_text(&e))
        } else {
            StoreError::from(e)
        }
    })
}

/// Pins an operation's error type (the `?` inside the async blocks converts into it).
fn typed<T, F: std::future::Future<Output = Result<T, StoreError>>>(f: F) -> F {
    f
}

/// Runs `$body` (a future using `$c: &mut Client`) on a pooled connection; a connection that
/// broke before the commit is discarded and the body runs once more on a new one. Records the
/// outcome in the store's health.
macro_rules! with_client {
    ($self:ident, |$c:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match $self.conn().await {
                Ok(mut obj) => {
                    let result = {
                        let $c: &mut Client = &mut obj;
                        $body.await
                    };
                    if matches!(result, Err(StoreError::Connection(_) | StoreError::OutcomeUnknown(_))) {
                        let _ = Object::take(obj);
                    }
                    result
                }
                Err(e) => Err(e),
            };
            match result {
                Err(StoreError::Connection(e)) if attempt < 2 => {
                    tracing::info!(error = %e, "database connection lost: retrying on a new one");
                }
                other => {
                    $self.health.record(&other);
                    break other;
                }
            }
        }
    }};
}

/// Appends a change in `tx`, notifies listeners at commit, and returns its sequence number.
async fn log(
    tx: &Transaction<'_>,
    op: &str,
    collection: &str,
    face_id: Option<&str>,
    external_id: Option<&str>,
) -> Result<i64, StoreError> {
    // The row lock on verity_head orders writers, so sequence numbers commit in order.
    let seq: i64 = tx.query_one("UPDATE verity_head SET seq = seq + 1 WHERE id = 1 RETURNING seq", &[]).await?.get(0);
    tx.execute(
        "INSERT INTO verity_changes (seq, op, collection, face_id, external_id) VALUES ($1, $2, $3, $4, $5)",
        &[&seq, &op, &collection, &face_id, &external_id],
    )
    .await?;
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &seq.to_string()]).await?;
    Ok(seq)
}

async fn collection_exists(tx: &Transaction<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(tx.query_opt("SELECT 1 FROM verity_collections WHERE id = $1", &[&id]).await?.is_some())
}

impl PgStore {
    /// Opens the pool and creates the schema (which needs the database).
    pub async fn open(connect: &PgConnect, health: Arc<Health>) -> Result<PgStore, StoreError> {
        let store = PgStore { pool: connect.pool()?, health };
        // Two replicas starting at once may both run the DDL: serialise them with a lock that
        // ends with the transaction (a pooled connection must not keep it after a failure).
        with_client!(store, |c| typed(async {
            let tx = c.transaction().await?;
            tx.batch_execute(&format!("SELECT pg_advisory_xact_lock(7361); {SCHEMA}")).await?;
            Ok(tx.commit().await?)
        }))?;
        Ok(store)
    }

    async fn conn(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => StoreError::Connection(error_text(&e)),
            PoolError::Timeout(t) => StoreError::Connection(format!(
                "no database connection within the timeout ({t:?}; pool of {} connections)",
                self.pool.status().max_size
            )),
            other => StoreError::Connection(other.to_string()),
        })
    }

    async fn enroll_once(&self, face: &NewFace) -> Result<(bool, i64), StoreError> {
        with_client!(self, |c| typed(async {
            let tx = c.transaction().await?;
            if !collection_exists(&tx, &face.collection).await? {
                return Err(StoreError::CollectionNotFound(face.collection.clone()));
            }
            if tx.query_opt("SELECT 1 FROM verity_faces WHERE face_id = $1", &[&face.face_id]).await?.is_some() {
                let head: i64 = tx.query_one("SELECT seq FROM verity_head WHERE id = 1", &[]).await?.get(0);
                return Ok((false, head));
            }
            tx.execute(
                "INSERT INTO verity_faces (face_id, collection, external_id, image_sha256, embedding, metadata, expires_at, aligned)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &face.face_id,
                    &face.collection,
                    &face.external_id,
                    &face.image_sha256,
                    &to_bytes(&face.embedding),
                    &face.metadata,
                    &face.expires_at,
                    &face.aligned_png,
                ],
            )
            .await?;
            let seq = log(&tx, "add_face", &face.collection, Some(&face.face_id), Some(&face.external_id)).await?;
            commit(tx).await?;
            Ok((true, seq))
        }))
    }
}

#[async_trait::async_trait]
impl Backend for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn create_collection(&self, id: &str, description: Option<&str>) -> Result<i64, StoreError> {
        with_client!(self, |c| typed(async {
            let tx = c.transaction().await?;
            if collection_exists(&tx, id).await? {
                return Err(StoreError::CollectionExists(id.to_string()));
            }
            tx.execute("INSERT INTO verity_collections (id, description) VALUES ($1, $2)", &[&id, &description])
                .await?;
            let seq = log(&tx, "create_collection", id, None, None).await?;
            commit(tx).await?;
            Ok(seq)
        }))
    }

    async fn delete_collection(&self, id: &str) -> Result<i64, StoreError> {
        with_client!(self, |c| typed(async {
            let tx = c.transaction().await?;
            if !collection_exists(&tx, id).await? {
                return Err(StoreError::CollectionNotFound(id.to_string()));
            }
            tx.execute("DELETE FROM verity_faces WHERE collection = $1", &[&id]).await?;
            tx.execute("DELETE FROM verity_collections WHERE id = $1", &[&id]).await?;
            let seq = log(&tx, "delete_collection", id, None, None).await?;
            commit(tx).await?;
            Ok(seq)
        }))
    }

    async fn list_collections(&self) -> Result<Vec<CollectionInfo>, StoreError> {
        with_client!(self, |c| typed(async {
            let rows = c
                .query(
                    "SELECT c.id, c.description, to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                            (SELECT COUNT(*) FROM verity_faces f WHERE f.collection = c.id)
                     FROM verity_collections c ORDER BY c.id",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| CollectionInfo { id: r.get(0), description: r.get(1), created_at: r.get(2), faces: r.get(3) })
                .collect())
        }))
    }

    /// Enrolls a face; an existing face id gives `false`. When the commit's outcome is unknown,
    /// the enrollment runs again on a new connection (idempotent by face id): either the first
    /// commit landed and the face is found, or it is written now. Either way it was created by
    /// this request.
    async fn enroll(&self, face: NewFace) -> Result<(bool, i64), StoreError> {
        match self.enroll_once(&face).await {
            Err(StoreError::OutcomeUnknown(e)) => {
                tracing::warn!(error = %e, face_id = %face.face_id, "enrollment commit outcome unknown: retrying");
                let (_, seq) = self.enroll_once(&face).await?;
                Ok((true, seq))
            }
            other => other,
        }
    }

    async fn list_faces(&self, collection: &str, after: Option<&str>, limit: i64) -> Result<Vec<FaceRow>, StoreError> {
        with_client!(self, |c| typed(async {
            let tx = c.transaction().await?;
            if !collection_exists(&tx, collection).await? {
                return Err(StoreError::CollectionNotFound(collection.to_string()));
            }
            let rows = tx
                .query(
                    "SELECT face_id, external_id, metadata,
                            to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), expires_at
                     FROM verity_faces WHERE collection = $1 AND face_id > $2 ORDER BY face_id LIMIT $3",
                    &[&collection, &after.unwrap_or(""), &limit],
                )
                .await?;
            tx.commit().await?;
            Ok(rows
                .iter()
                .map(|r| FaceRow {
                    face_id: r.get(0),
                    external_id: r.get(1),
                    metadata: r.get::<_, Option<String>>(2).and_then(|m| serde_json::from_str(&m).ok()),
                    created_at: r.get(3),
                    expires_at: r.get::<_, Option<i64>>(4).map(rfc3339),
                })
                .collect())
        }))
    }

    async fn delete_face(&self, collection: &str, face_id: &str) -> Result<i64, StoreError> {
        with_client!(self, |c| typed(async {
            let tx = c.transaction().await?;
            if !collection_exists(&tx, collection).await? {
                return Err(StoreError::CollectionNotFound(collection.to_string()));
            }
            let n = tx
                .execute("DELETE FROM verity_faces WHERE collection = $1 AND face_id = $2", &[&collection, &face_id])
                .await?;
            if n == 0 {
                return Err(StoreError::FaceNotFound(face_id.to_string()));
            }
            let seq = log(&tx, "delete_face", collection, Some(face_id), None).await?;
            commit(tx).await?;
            Ok(seq)
        }))
    }

    async fn delete_subject(&self, collection: &str, external_id: &str) -> Result<usize, StoreError> {
        with_client!(self, |c| typed(async {
            let tx = c.transaction().await?;
            if !collection_exists(&tx, collection).await? {
                return Err(StoreError::CollectionNotFound(collection.to_string()));
            }
            let rows = tx
                .query(
                    "DELETE FROM verity_faces WHERE collection = $1 AND external_id = $2 RETURNING face_id",
                    &[&collection, &external_id],
                )
                .await?;
            if rows.is_empty() {
                return Err(StoreError::SubjectNotFound(external_id.to_string()));
            }
            for r in &rows {
                let id: String = r.get(0);
                log(&tx, "delete_face", collection, Some(&id), Some(external_id)).await?;
            }
            commit(tx).await?;
            Ok(rows.len())
        }))
    }

    async fn create_job(
        &self,
        job_id: &str,
        collection: &str,
        chunk_size: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        with_client!(self, |c| typed(async {
            let tx = c.transaction().await?;
            if !collection_exists(&tx, collection).await? {
                return Err(StoreError::CollectionNotFound(collection.to_string()));
            }
            let rows = tx
                .query("SELECT face_id FROM verity_faces WHERE collection = $1 ORDER BY face_id", &[&collection])
                .await?;
            let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            let chunks = chunk_ranges(&ids, chunk_size);
            tx.execute(
                "INSERT INTO verity_jobs (job_id, collection, chunks, faces) VALUES ($1, $2, $3, $4)",
                &[&job_id, &collection, &(chunks.len() as i64), &(ids.len() as i64)],
            )
            .await?;
            commit(tx).await?;
            Ok(chunks)
        }))
    }

    async fn chunk_faces(&self, collection: &str, first: &str, last: &str) -> Result<Vec<ChunkFace>, StoreError> {
        with_client!(self, |c| typed(async {
            let rows = c
                .query(
                    "SELECT face_id, aligned FROM verity_faces WHERE collection = $1 AND face_id >= $2 AND face_id <= $3
                     ORDER BY face_id",
                    &[&collection, &first, &last],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        }))
    }

    async fn commit_chunk(
        &self,
        job_id: &str,
        chunk: i64,
        worker: &str,
        collection: &str,
        updates: Vec<(String, Vec<f32>)>,
        skipped: i64,
    ) -> Result<bool, StoreError> {
        with_client!(self, |c| typed(async {
            let tx = c.transaction().await?;
            // The primary key decides: a second commit of the same chunk inserts nothing.
            let inserted = tx
                .execute(
                    "INSERT INTO verity_job_chunks (job_id, chunk, done_by, faces, skipped) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT DO NOTHING",
                    &[&job_id, &chunk, &worker, &(updates.len() as i64), &skipped],
                )
                .await?;
            if inserted == 0 {
                return Ok(false);
            }
            for (face_id, embedding) in &updates {
                let row = tx
                    .query_opt(
                        "UPDATE verity_faces SET embedding = $1 WHERE collection = $2 AND face_id = $3 RETURNING external_id",
                        &[&to_bytes(embedding), &collection, &face_id],
                    )
                    .await?;
                if let Some(r) = row {
                    let external: String = r.get(0);
                    log(&tx, "update_face", collection, Some(face_id), Some(&external)).await?;
                }
            }
            commit(tx).await?;
            Ok(true)
        }))
    }

    async fn job_status(&self, job_id: &str) -> Result<Option<JobStatus>, StoreError> {
        with_client!(self, |c| typed(async {
            let Some(job) =
                c.query_opt("SELECT collection, chunks, faces FROM verity_jobs WHERE job_id = $1", &[&job_id]).await?
            else {
                return Ok(None);
            };
            let rows =
                c.query("SELECT done_by, faces, skipped FROM verity_job_chunks WHERE job_id = $1", &[&job_id]).await?;
            let done: Vec<(String, i64, i64)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
            Ok(Some(job_status(job_id, job.get(0), job.get(1), job.get(2), &done)))
        }))
    }

    async fn purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        with_client!(self, |c| typed(async {
            let tx = c.transaction().await?;
            let rows = tx
                .query(
                    "DELETE FROM verity_faces WHERE expires_at IS NOT NULL AND expires_at <= $1
                     RETURNING face_id, collection, external_id",
                    &[&now],
                )
                .await?;
            for r in &rows {
                let (face_id, collection, external_id): (String, String, String) = (r.get(0), r.get(1), r.get(2));
                log(&tx, "delete_face", &collection, Some(&face_id), Some(&external_id)).await?;
            }
            commit(tx).await?;
            Ok(rows.len())
        }))
    }

    async fn compact(&self, keep: i64) -> Result<(u64, i64), StoreError> {
        with_client!(self, |c| typed(async {
            let tx = c.transaction().await?;
            // Lock the head row: no write commits between reading the head and cutting.
            let head: i64 = tx.query_one("SELECT seq FROM verity_head WHERE id = 1 FOR UPDATE", &[]).await?.get(0);
            let floor: i64 = tx.query_one("SELECT seq FROM verity_log_floor WHERE id = 1", &[]).await?.get(0);
            let cut = head - keep.max(0);
            if cut <= floor {
                return Ok((0, floor));
            }
            let n = tx.execute("DELETE FROM verity_changes WHERE seq <= $1", &[&cut]).await?;
            tx.execute("UPDATE verity_log_floor SET seq = $1 WHERE id = 1", &[&cut]).await?;
            commit(tx).await?;
            Ok((n, cut))
        }))
    }

    async fn floor(&self) -> Result<i64, StoreError> {
        with_client!(self, |c| typed(async {
            Ok(c.query_one("SELECT seq FROM verity_log_floor WHERE id = 1", &[]).await?.get(0))
        }))
    }

    async fn changes_since(&self, seq: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        with_client!(self, |c| typed(async {
            let rows = c
                .query(
                    "SELECT c.seq, c.op, c.collection, c.face_id, c.external_id, f.embedding
                     FROM verity_changes c LEFT JOIN verity_faces f ON c.op IN ('add_face', 'update_face') AND f.face_id = c.face_id
                     WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
                    &[&seq, &limit],
                )
                .await?;
            rows.iter()
                .map(|r| Change::from_row(r.get(0), r.get::<_, &str>(1), r.get(2), r.get(3), r.get(4), r.get(5)))
                .collect()
        }))
    }

    async fn head(&self) -> Result<i64, StoreError> {
        with_client!(self, |c| typed(async {
            Ok(c.query_one("SELECT seq FROM verity_head WHERE id = 1", &[]).await?.get(0))
        }))
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        with_client!(self, |c| typed(async {
            let tx =
                c.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).start().await?;
            let head: i64 = tx.query_one("SELECT seq FROM verity_head WHERE id = 1", &[]).await?.get(0);
            let collections =
                tx.query("SELECT id FROM verity_collections", &[]).await?.iter().map(|r| r.get(0)).collect();
            let faces = tx
                .query("SELECT collection, face_id, external_id, embedding FROM verity_faces", &[])
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), from_bytes(r.get::<_, &[u8]>(3))))
                .collect();
            tx.commit().await?;
            Ok(Snapshot { head, collections, faces })
        }))
    }
}

/// Listens for change notifications on a dedicated connection, reconnecting with backoff;
/// every notification (and every reconnect, after which the replica catches up from its last
/// applied sequence) sends a wake-up.
pub fn listen(connect: PgConnect, wake: mpsc::Sender<()>) {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            match connect.connect().await {
                Ok((client, mut messages)) => {
                    let (tx, mut rx) = mpsc::unbounded_channel();
                    let pump = tokio::spawn(async move {
                        while let Some(m) = messages.next().await {
                            match m {
                                Ok(AsyncMessage::Notification(_)) => {
                                    let _ = tx.send(());
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::warn!(error = %error_text(&e), "gallery listener connection failed");
                                    break;
                                }
                            }
                        }
                    });
                    if client.batch_execute(&format!("LISTEN {CHANNEL}")).await.is_ok() {
                        backoff = Duration::from_millis(200);
                        let _ = wake.try_send(());
                        while rx.recv().await.is_some() {
                            let _ = wake.try_send(());
                        }
                    }
                    pump.abort();
                }
                Err(e) => tracing::warn!(
                    error = %error_text(&e),
                    retry_in_ms = backoff.as_millis() as u64,
                    "gallery listener cannot connect"
                ),
            }
            if wake.is_closed() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    });
}

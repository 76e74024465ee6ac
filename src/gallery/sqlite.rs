//! SQLite backend: one file in the data directory, WAL journal, `synchronous=FULL` (an
//! acknowledged write survives a crash of the process or the machine).

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::store::{
    chunk_ranges, from_bytes, job_status, rfc3339, to_bytes, Backend, Change, ChunkFace, CollectionInfo, FaceRow,
    JobStatus, NewFace, Snapshot, StoreError,
};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO head VALUES (1, 0);
CREATE TABLE IF NOT EXISTS collections (
  id TEXT PRIMARY KEY,
  description TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS faces (
  face_id TEXT PRIMARY KEY,
  collection TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  external_id TEXT NOT NULL,
  image_sha256 TEXT NOT NULL,
  embedding BLOB NOT NULL,
  metadata TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS faces_subject ON faces (collection, external_id);
CREATE TABLE IF NOT EXISTS changes (
  seq INTEGER PRIMARY KEY,
  op TEXT NOT NULL,
  collection TEXT NOT NULL,
  face_id TEXT,
  external_id TEXT
);
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY,
  collection TEXT NOT NULL,
  chunks INTEGER NOT NULL,
  faces INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS job_chunks (
  job_id TEXT NOT NULL,
  chunk INTEGER NOT NULL,
  done_by TEXT NOT NULL,
  faces INTEGER NOT NULL,
  skipped INTEGER NOT NULL,
  PRIMARY KEY (job_id, chunk)
);
CREATE TABLE IF NOT EXISTS log_floor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO log_floor VALUES (1, 0);
";

/// Columns added after the first release: (table, column, definition).
const MIGRATIONS: &[(&str, &str, &str)] = &[("faces", "expires_at", "INTEGER"), ("faces", "aligned", "BLOB")];

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

/// Appends a change in `tx` and returns its sequence number.
fn log(
    tx: &Transaction,
    op: &str,
    collection: &str,
    face_id: Option<&str>,
    external_id: Option<&str>,
) -> Result<i64, StoreError> {
    let seq: i64 = tx.query_row("UPDATE head SET seq = seq + 1 WHERE id = 1 RETURNING seq", [], |r| r.get(0))?;
    tx.execute(
        "INSERT INTO changes (seq, op, collection, face_id, external_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![seq, op, collection, face_id, external_id],
    )?;
    Ok(seq)
}

fn collection_exists(tx: &Connection, id: &str) -> Result<bool, StoreError> {
    Ok(tx.query_row("SELECT 1 FROM collections WHERE id = ?1", [id], |_| Ok(())).optional()?.is_some())
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        for (table, column, def) in MIGRATIONS {
            let has: bool = conn
                .prepare(&format!("SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"))?
                .exists([column])?;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {def}"))?;
            }
        }
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS faces_expiry ON faces (expires_at) WHERE expires_at IS NOT NULL",
        )?;
        Ok(SqliteStore { conn: Arc::new(Mutex::new(conn)) })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
    }
}

#[async_trait::async_trait]
impl Backend for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn create_collection(&self, id: &str, description: Option<&str>) -> Result<i64, StoreError> {
        let (id, description) = (id.to_string(), description.map(String::from));
        self.with(move |c| {
            let tx = c.transaction()?;
            if collection_exists(&tx, &id)? {
                return Err(StoreError::CollectionExists(id));
            }
            tx.execute("INSERT INTO collections (id, description) VALUES (?1, ?2)", params![id, description])?;
            let seq = log(&tx, "create_collection", &id, None, None)?;
            tx.commit()?;
            Ok(seq)
        })
        .await
    }

    async fn delete_collection(&self, id: &str) -> Result<i64, StoreError> {
        let id = id.to_string();
        self.with(move |c| {
            let tx = c.transaction()?;
            if !collection_exists(&tx, &id)? {
                return Err(StoreError::CollectionNotFound(id));
            }
            tx.execute("DELETE FROM faces WHERE collection = ?1", [&id])?;
            tx.execute("DELETE FROM collections WHERE id = ?1", [&id])?;
            let seq = log(&tx, "delete_collection", &id, None, None)?;
            tx.commit()?;
            Ok(seq)
        })
        .await
    }

    async fn list_collections(&self) -> Result<Vec<CollectionInfo>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT c.id, c.description, c.created_at, (SELECT COUNT(*) FROM faces f WHERE f.collection = c.id)
                 FROM collections c ORDER BY c.id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(CollectionInfo { id: r.get(0)?, description: r.get(1)?, created_at: r.get(2)?, faces: r.get(3)? })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn enroll(&self, face: NewFace) -> Result<(bool, i64), StoreError> {
        self.with(move |c| {
            let tx = c.transaction()?;
            if !collection_exists(&tx, &face.collection)? {
                return Err(StoreError::CollectionNotFound(face.collection));
            }
            let exists =
                tx.query_row("SELECT 1 FROM faces WHERE face_id = ?1", [&face.face_id], |_| Ok(())).optional()?;
            if exists.is_some() {
                let head: i64 = tx.query_row("SELECT seq FROM head WHERE id = 1", [], |r| r.get(0))?;
                return Ok((false, head));
            }
            tx.execute(
                "INSERT INTO faces (face_id, collection, external_id, image_sha256, embedding, metadata, expires_at, aligned)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    face.face_id,
                    face.collection,
                    face.external_id,
                    face.image_sha256,
                    to_bytes(&face.embedding),
                    face.metadata,
                    face.expires_at,
                    face.aligned_png
                ],
            )?;
            let seq = log(&tx, "add_face", &face.collection, Some(&face.face_id), Some(&face.external_id))?;
            tx.commit()?;
            Ok((true, seq))
        })
        .await
    }

    async fn list_faces(&self, collection: &str, after: Option<&str>, limit: i64) -> Result<Vec<FaceRow>, StoreError> {
        let (collection, after) = (collection.to_string(), after.unwrap_or("").to_string());
        self.with(move |c| {
            if !collection_exists(c, &collection)? {
                return Err(StoreError::CollectionNotFound(collection));
            }
            let mut st = c.prepare(
                "SELECT face_id, external_id, metadata, created_at, expires_at FROM faces
                 WHERE collection = ?1 AND face_id > ?2 ORDER BY face_id LIMIT ?3",
            )?;
            let rows = st.query_map(params![collection, after, limit], |r| {
                let metadata: Option<String> = r.get(2)?;
                Ok(FaceRow {
                    face_id: r.get(0)?,
                    external_id: r.get(1)?,
                    metadata: metadata.and_then(|m| serde_json::from_str(&m).ok()),
                    created_at: r.get(3)?,
                    expires_at: r.get::<_, Option<i64>>(4)?.map(rfc3339),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn delete_face(&self, collection: &str, face_id: &str) -> Result<i64, StoreError> {
        let (collection, face_id) = (collection.to_string(), face_id.to_string());
        self.with(move |c| {
            let tx = c.transaction()?;
            if !collection_exists(&tx, &collection)? {
                return Err(StoreError::CollectionNotFound(collection));
            }
            let n =
                tx.execute("DELETE FROM faces WHERE collection = ?1 AND face_id = ?2", params![collection, face_id])?;
            if n == 0 {
                return Err(StoreError::FaceNotFound(face_id));
            }
            let seq = log(&tx, "delete_face", &collection, Some(&face_id), None)?;
            tx.commit()?;
            Ok(seq)
        })
        .await
    }

    async fn delete_subject(&self, collection: &str, external_id: &str) -> Result<usize, StoreError> {
        let (collection, external_id) = (collection.to_string(), external_id.to_string());
        self.with(move |c| {
            let tx = c.transaction()?;
            if !collection_exists(&tx, &collection)? {
                return Err(StoreError::CollectionNotFound(collection));
            }
            let ids: Vec<String> = {
                let mut st = tx.prepare("SELECT face_id FROM faces WHERE collection = ?1 AND external_id = ?2")?;
                let rows = st.query_map(params![collection, external_id], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            if ids.is_empty() {
                return Err(StoreError::SubjectNotFound(external_id));
            }
            for id in &ids {
                tx.execute("DELETE FROM faces WHERE face_id = ?1", [id])?;
                log(&tx, "delete_face", &collection, Some(id), Some(&external_id))?;
            }
            tx.commit()?;
            Ok(ids.len())
        })
        .await
    }

    async fn create_job(
        &self,
        job_id: &str,
        collection: &str,
        chunk_size: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let (job_id, collection) = (job_id.to_string(), collection.to_string());
        self.with(move |c| {
            let tx = c.transaction()?;
            if !collection_exists(&tx, &collection)? {
                return Err(StoreError::CollectionNotFound(collection));
            }
            let ids: Vec<String> = {
                let mut st = tx.prepare("SELECT face_id FROM faces WHERE collection = ?1 ORDER BY face_id")?;
                let rows = st.query_map([&collection], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let chunks = chunk_ranges(&ids, chunk_size);
            tx.execute(
                "INSERT INTO jobs (job_id, collection, chunks, faces) VALUES (?1, ?2, ?3, ?4)",
                params![job_id, collection, chunks.len() as i64, ids.len() as i64],
            )?;
            tx.commit()?;
            Ok(chunks)
        })
        .await
    }

    async fn chunk_faces(&self, collection: &str, first: &str, last: &str) -> Result<Vec<ChunkFace>, StoreError> {
        let (collection, first, last) = (collection.to_string(), first.to_string(), last.to_string());
        self.with(move |c| {
            let mut st = c.prepare(
                "SELECT face_id, aligned FROM faces WHERE collection = ?1 AND face_id >= ?2 AND face_id <= ?3
                 ORDER BY face_id",
            )?;
            let rows = st.query_map(params![collection, first, last], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
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
        let (job_id, worker, collection) = (job_id.to_string(), worker.to_string(), collection.to_string());
        self.with(move |c| {
            let tx = c.transaction()?;
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO job_chunks (job_id, chunk, done_by, faces, skipped) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![job_id, chunk, worker, updates.len() as i64, skipped],
            )?;
            if inserted == 0 {
                return Ok(false);
            }
            for (face_id, embedding) in &updates {
                let external: Option<String> = tx
                    .query_row(
                        "UPDATE faces SET embedding = ?1 WHERE collection = ?2 AND face_id = ?3 RETURNING external_id",
                        params![to_bytes(embedding), collection, face_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                // A face erased since the chunk was read stays erased.
                if let Some(external) = external {
                    log(&tx, "update_face", &collection, Some(face_id), Some(&external))?;
                }
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn job_status(&self, job_id: &str) -> Result<Option<JobStatus>, StoreError> {
        let job_id = job_id.to_string();
        self.with(move |c| {
            let Some((collection, chunks, faces)) = c
                .query_row("SELECT collection, chunks, faces FROM jobs WHERE job_id = ?1", [&job_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })
                .optional()?
            else {
                return Ok(None);
            };
            let mut st = c.prepare("SELECT done_by, faces, skipped FROM job_chunks WHERE job_id = ?1")?;
            let rows = st.query_map([&job_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            let done: Vec<(String, i64, i64)> = rows.collect::<Result<_, _>>()?;
            Ok(Some(job_status(&job_id, collection, chunks, faces, &done)))
        })
        .await
    }

    async fn purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        self.with(move |c| {
            let tx = c.transaction()?;
            let expired: Vec<(String, String, String)> = {
                let mut st = tx.prepare(
                    "SELECT face_id, collection, external_id FROM faces WHERE expires_at IS NOT NULL AND expires_at <= ?1",
                )?;
                let rows = st.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            for (face_id, collection, external_id) in &expired {
                tx.execute("DELETE FROM faces WHERE face_id = ?1", [face_id])?;
                log(&tx, "delete_face", collection, Some(face_id), Some(external_id))?;
            }
            tx.commit()?;
            Ok(expired.len())
        })
        .await
    }

    async fn compact(&self, keep: i64) -> Result<(u64, i64), StoreError> {
        self.with(move |c| {
            let tx = c.transaction()?;
            let head: i64 = tx.query_row("SELECT seq FROM head WHERE id = 1", [], |r| r.get(0))?;
            let floor: i64 = tx.query_row("SELECT seq FROM log_floor WHERE id = 1", [], |r| r.get(0))?;
            let cut = head - keep.max(0);
            if cut <= floor {
                return Ok((0, floor));
            }
            let n = tx.execute("DELETE FROM changes WHERE seq <= ?1", [cut])?;
            tx.execute("UPDATE log_floor SET seq = ?1 WHERE id = 1", [cut])?;
            tx.commit()?;
            Ok((n as u64, cut))
        })
        .await
    }

    async fn floor(&self) -> Result<i64, StoreError> {
        self.with(|c| Ok(c.query_row("SELECT seq FROM log_floor WHERE id = 1", [], |r| r.get(0))?)).await
    }

    async fn changes_since(&self, seq: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        self.with(move |c| {
            let mut st = c.prepare(
                "SELECT c.seq, c.op, c.collection, c.face_id, c.external_id, f.embedding
                 FROM changes c LEFT JOIN faces f ON c.op IN ('add_face', 'update_face') AND f.face_id = c.face_id
                 WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
            )?;
            let rows = st.query_map(params![seq, limit], |r| {
                Ok((r.get(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, op, collection, face_id, external_id, embedding) = row?;
                out.push(Change::from_row(seq, &op, collection, face_id, external_id, embedding)?);
            }
            Ok(out)
        })
        .await
    }

    async fn head(&self) -> Result<i64, StoreError> {
        self.with(|c| Ok(c.query_row("SELECT seq FROM head WHERE id = 1", [], |r| r.get(0))?)).await
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let head: i64 = tx.query_row("SELECT seq FROM head WHERE id = 1", [], |r| r.get(0))?;
            let collections = {
                let mut st = tx.prepare("SELECT id FROM collections")?;
                let rows = st.query_map([], |r| r.get(0))?;
                rows.collect::<Result<Vec<String>, _>>()?
            };
            let faces = {
                let mut st = tx.prepare("SELECT collection, face_id, external_id, embedding FROM faces")?;
                let rows = st.query_map([], |r| {
                    let e: Vec<u8> = r.get(3)?;
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, from_bytes(&e)))
                })?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            tx.commit()?;
            Ok(Snapshot { head, collections, faces })
        })
        .await
    }
}

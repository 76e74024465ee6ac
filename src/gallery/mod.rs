//! Face gallery: collections of enrolled faces and 1:N search. The store (SQLite or PostgreSQL)
//! is the source of truth; each replica keeps an in-memory index and brings it up to date by
//! applying the store's change log from its last applied sequence number (woken by NOTIFY on
//! PostgreSQL, by its own writes, and by polling as the fallback). A replica is ready once it
//! has loaded a snapshot and caught up with the head.

pub mod health;
pub mod index;
pub mod pgconn;
pub mod postgres;
pub mod sqlite;
pub mod store;

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicI64, Ordering},
        Arc, Mutex, RwLock,
    },
    time::Duration,
};

use serde::Serialize;
use tokio::sync::{mpsc, OnceCell};

use self::{
    health::Health,
    index::{CollectionIndex, Hit, Index},
    pgconn::{PgConnect, PgOptions},
    store::{Backend, Change, CollectionInfo, FaceRow, NewFace, StoreError},
};
use crate::{config::GalleryArgs, error::ApiError, telemetry::metrics};

/// Where the gallery lives.
#[derive(Debug, Clone)]
pub struct GalleryConfig {
    /// SQLite file `gallery.db` goes here when no database URL is given.
    pub data_dir: PathBuf,
    /// `postgres://...`: the shared store of a cluster.
    pub database_url: Option<String>,
    /// Polling interval of the change log (the fallback when no notification arrives).
    pub poll: Duration,
    /// Keep each enrolled face's aligned 112x112 crop (PNG) so the collection can be
    /// re-embedded when the embedding model changes.
    pub keep_aligned: bool,
    /// PostgreSQL connection settings (TLS, pool) besides the URL.
    pub pg: PgOptions,
}

impl From<&GalleryArgs> for GalleryConfig {
    fn from(args: &GalleryArgs) -> GalleryConfig {
        GalleryConfig {
            data_dir: args.data_dir.clone(),
            database_url: args.database_url.as_ref().map(|s| s.0.clone()).filter(|s| !s.is_empty()),
            poll: std::time::Duration::from_millis(args.gallery_poll_ms.max(10)),
            keep_aligned: args.keep_aligned_faces,
            pg: PgOptions {
                sslmode: args.database_sslmode,
                sslrootcert: args.database_sslrootcert.clone(),
                pool_size: args.database_pool_size.max(1),
                connect_timeout: std::time::Duration::from_millis(args.database_connect_timeout_ms.max(100)),
                acquire_timeout: std::time::Duration::from_millis(args.database_acquire_timeout_ms.max(10)),
            },
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GalleryStatus {
    pub backend: &'static str,
    /// `ok`; `loading` (connecting, building the index); `degraded` (the store does not answer:
    /// gallery writes and listings answer 503, search answers from this replica's index, every
    /// other route is unaffected).
    pub state: &'static str,
    /// When the store stopped answering (RFC 3339), while `degraded`.
    pub degraded_since: Option<String>,
    /// TLS mode of the PostgreSQL connections (`sslmode`); null on SQLite.
    pub sslmode: Option<&'static str>,
    pub ready: bool,
    pub applied_sequence: i64,
    pub head_sequence: i64,
    pub lag_sequences: i64,
    pub faces: usize,
    pub error: Option<String>,
}

pub struct Gallery {
    cfg: GalleryConfig,
    pg: Option<PgConnect>,
    health: Arc<Health>,
    store: OnceCell<Box<dyn Backend>>,
    index: RwLock<Index>,
    applied: AtomicI64,
    head: AtomicI64,
    ready: AtomicBool,
    apply: tokio::sync::Mutex<()>,
    last_error: Mutex<Option<String>>,
}

const PAGE: i64 = 2000;

impl From<StoreError> for ApiError {
    #[deny(clippy::wildcard_enum_match_arm)]
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::CollectionExists(id) => ApiError::CollectionExists(id),
            StoreError::CollectionNotFound(id) => ApiError::CollectionNotFound(id),
            StoreError::FaceNotFound(id) => ApiError::FaceNotFound(id),
            StoreError::SubjectNotFound(id) => ApiError::SubjectNotFound(id),
            e @ (StoreError::Backend(_)
            | StoreError::Connection(_)
            | StoreError::OutcomeUnknown(_)
            | StoreError::Config(_)) => {
                tracing::warn!(error = %e, "gallery store");
                ApiError::StorageUnavailable(e.public_text().into())
            }
        }
    }
}

impl Gallery {
    /// A gallery that connects, loads and follows the store in the background (retrying with
    /// backoff); its routes answer 503 `storage_unavailable` and `/readyz` says why until then.
    /// Fails only on settings that cannot work: a database URL or TLS setting that does not
    /// parse, an unreadable root certificate, or a server whose certificate is not trusted.
    pub async fn start(cfg: GalleryConfig) -> Result<Arc<Gallery>, StoreError> {
        let pg = match &cfg.database_url {
            Some(url) => Some(PgConnect::new(url, &cfg.pg)?),
            None => None,
        };
        if let Some(pg) = &pg {
            preflight(pg).await?;
        }
        let g = Arc::new(Gallery {
            cfg,
            pg,
            health: Arc::new(Health::default()),
            store: OnceCell::new(),
            index: RwLock::new(Index::default()),
            applied: AtomicI64::new(0),
            head: AtomicI64::new(0),
            ready: AtomicBool::new(false),
            apply: tokio::sync::Mutex::new(()),
            last_error: Mutex::new(None),
        });
        tokio::spawn(g.clone().run());
        Ok(g)
    }

    /// Opens the store and loads the index before returning (tests, tools).
    pub async fn open(cfg: GalleryConfig) -> Result<Arc<Gallery>, StoreError> {
        let g = Gallery::start(cfg).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !g.is_ready() {
            if tokio::time::Instant::now() > deadline {
                return Err(StoreError::Backend(g.last_error().unwrap_or_else(|| "not ready after 30 s".into())));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(g)
    }

    async fn connect(&self) -> Result<Box<dyn Backend>, StoreError> {
        match &self.pg {
            Some(pg) => Ok(Box::new(postgres::PgStore::open(pg, self.health.clone()).await?)),
            None => Ok(Box::new(sqlite::SqliteStore::open(&self.cfg.data_dir.join("gallery.db"))?)),
        }
    }

    async fn run(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let outcome = match self.store.get() {
                Some(_) => Ok(()),
                None => self.connect().await.map(|s| {
                    let _ = self.store.set(s);
                }),
            };
            let outcome = match outcome {
                Ok(()) => self.load_snapshot().await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "gallery store unavailable");
                    self.set_error(Some(e.to_string()));
                    self.health.failed(&e.to_string());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        let (wake_tx, mut wake) = mpsc::channel::<()>(1);
        if let Some(pg) = &self.pg {
            postgres::listen(pg.clone(), wake_tx.clone());
        }
        loop {
            match self.catch_up().await {
                Ok(()) => self.set_error(None),
                Err(e) => {
                    tracing::debug!(error = %e, "gallery catch-up failed");
                    self.set_error(Some(e.to_string()));
                }
            }
            self.ready.store(true, Ordering::Release);
            tokio::select! {
                _ = wake.recv() => {}
                _ = tokio::time::sleep(self.cfg.poll) => {}
            }
        }
    }

    async fn load_snapshot(&self) -> Result<(), StoreError> {
        let store = self.store.get().ok_or_else(|| StoreError::Backend("not connected".into()))?;
        let started = std::time::Instant::now();
        let snap = store.snapshot().await?;
        let mut index = Index::default();
        for c in snap.collections {
            index.collections.entry(c).or_default();
        }
        let n = snap.faces.len();
        for (collection, face_id, external_id, embedding) in snap.faces {
            index.collections.entry(collection).or_default().insert(&face_id, &external_id, &embedding);
        }
        let _guard = self.apply.lock().await;
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = index;
        self.applied.store(snap.head, Ordering::Release);
        self.head.store(snap.head, Ordering::Release);
        self.refresh_metrics();
        self.set_error(None);
        tracing::info!(
            backend = store.kind(),
            faces = n,
            sequence = snap.head,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "gallery index built"
        );
        Ok(())
    }

    /// Applies every change after the applied sequence number; when the change log was
    /// compacted past it, reloads the snapshot instead.
    pub async fn catch_up(&self) -> Result<(), StoreError> {
        let store = self.store.get().ok_or_else(|| StoreError::Backend("not connected".into()))?;
        for _ in 0..3 {
            if self.applied.load(Ordering::Acquire) < store.floor().await? {
                tracing::info!("the change log was compacted past this replica's position: reloading the snapshot");
                self.load_snapshot().await?;
            }
            if self.apply_log(store.as_ref()).await? {
                break;
            }
        }
        let head = store.head().await?;
        self.head.store(head, Ordering::Release);
        self.refresh_metrics();
        Ok(())
    }

    /// Applies the log from the applied sequence; false when a compaction overtook it (the
    /// changes read may have a gap: nothing of them is applied).
    async fn apply_log(&self, store: &dyn Backend) -> Result<bool, StoreError> {
        let _guard = self.apply.lock().await;
        loop {
            let from = self.applied.load(Ordering::Acquire);
            let changes = store.changes_since(from, PAGE).await?;
            if from < store.floor().await? {
                return Ok(false);
            }
            if changes.is_empty() {
                return Ok(true);
            }
            let last = changes.last().map_or(from, Change::seq);
            {
                let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
                for c in changes {
                    apply(&mut index, c);
                }
            }
            self.applied.store(last, Ordering::Release);
        }
    }

    /// Retention: deletes every face past its `expires_at` (the leader's job in a cluster).
    pub async fn purge_expired(&self) -> Result<usize, ApiError> {
        let store = self.store.get().ok_or_else(|| ApiError::StorageUnavailable("not connected".into()))?;
        let n = store.purge_expired(store::now_unix()).await?;
        if n > 0 {
            self.catch_up().await?;
        }
        Ok(n)
    }

    /// Change-log compaction: keeps the last `keep` entries (the leader's job in a cluster).
    pub async fn compact(&self, keep: i64) -> Result<(u64, i64), ApiError> {
        let store = self.store.get().ok_or_else(|| ApiError::StorageUnavailable("not connected".into()))?;
        Ok(store.compact(keep).await?)
    }

    fn refresh_metrics(&self) {
        let m = metrics::get();
        m.set_gallery_lag(self.head.load(Ordering::Acquire) - self.applied.load(Ordering::Acquire));
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        m.set_gallery_faces(index.collections.iter().map(|(k, v)| (k.as_str(), v.len())));
    }

    fn set_error(&self, e: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    }

    fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn status(&self) -> GalleryStatus {
        let (applied, head) = (self.applied.load(Ordering::Acquire), self.head.load(Ordering::Acquire));
        let faces =
            self.index.read().unwrap_or_else(|p| p.into_inner()).collections.values().map(CollectionIndex::len).sum();
        let outage = self.health.outage();
        let state = if outage.is_some() {
            "degraded"
        } else if self.is_ready() {
            "ok"
        } else {
            "loading"
        };
        GalleryStatus {
            backend: if self.cfg.database_url.is_some() { "postgres" } else { "sqlite" },
            state,
            degraded_since: outage.as_ref().map(|o| o.since.to_string()),
            sslmode: self.pg.as_ref().map(|p| p.mode().as_str()),
            ready: self.is_ready(),
            applied_sequence: applied,
            head_sequence: head,
            lag_sequences: head - applied,
            faces,
            error: outage.map(|o| o.error).or_else(|| self.last_error()),
        }
    }

    /// Whether the store does not answer (an outage), as opposed to answering and being ahead.
    pub fn is_degraded(&self) -> bool {
        self.health.outage().is_some()
    }

    pub fn store(&self) -> Result<&dyn Backend, ApiError> {
        self.store.get().map(|s| s.as_ref()).ok_or_else(|| {
            ApiError::StorageUnavailable("the gallery store is not connected yet; /readyz says why".into())
        })
    }

    /// After a write: bring this replica's index up to it before answering (read your writes).
    /// The write is committed: a catch-up that fails now (the database went away) does not
    /// turn it into an error; the index catches up when the store is back.
    async fn written(&self) -> Result<(), ApiError> {
        if let Err(e) = self.catch_up().await {
            tracing::warn!(error = %e, "catch-up after a committed write failed; the index follows when the store is back");
        }
        Ok(())
    }

    pub async fn create_collection(&self, id: &str, description: Option<&str>) -> Result<(), ApiError> {
        self.store()?.create_collection(id, description).await?;
        self.written().await
    }

    pub async fn delete_collection(&self, id: &str) -> Result<(), ApiError> {
        self.store()?.delete_collection(id).await?;
        self.written().await
    }

    pub async fn list_collections(&self) -> Result<Vec<CollectionInfo>, ApiError> {
        Ok(self.store()?.list_collections().await?)
    }

    /// Returns whether the face was new.
    pub async fn enroll(&self, face: NewFace) -> Result<bool, ApiError> {
        let (created, _) = self.store()?.enroll(face).await?;
        self.written().await?;
        Ok(created)
    }

    pub async fn list_faces(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FaceRow>, ApiError> {
        Ok(self.store()?.list_faces(collection, after, limit).await?)
    }

    pub async fn delete_face(&self, collection: &str, face_id: &str) -> Result<(), ApiError> {
        self.store()?.delete_face(collection, face_id).await?;
        self.written().await
    }

    pub async fn delete_subject(&self, collection: &str, external_id: &str) -> Result<usize, ApiError> {
        let n = self.store()?.delete_subject(collection, external_id).await?;
        self.written().await?;
        Ok(n)
    }

    /// Exact top-k in `collection` of this replica's index.
    pub fn search(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
        threshold: f32,
        exclude: Option<&str>,
    ) -> Result<Vec<Hit>, ApiError> {
        if !self.is_ready() {
            return Err(ApiError::StorageUnavailable("the gallery index is still loading".into()));
        }
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let c =
            index.collections.get(collection).ok_or_else(|| ApiError::CollectionNotFound(collection.to_string()))?;
        Ok(c.search(query, k, threshold, exclude))
    }

    /// Whether the store is shared by replicas (PostgreSQL): the condition for spreading jobs.
    pub fn is_shared(&self) -> bool {
        self.cfg.database_url.is_some()
    }

    pub fn keeps_aligned(&self) -> bool {
        self.cfg.keep_aligned
    }

    /// 404 `collection_not_found` unless `collection` exists (503 while the index loads).
    pub fn require_collection(&self, collection: &str) -> Result<(), ApiError> {
        if !self.is_ready() {
            return Err(ApiError::StorageUnavailable("the gallery index is still loading".into()));
        }
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        if index.collections.contains_key(collection) {
            Ok(())
        } else {
            Err(ApiError::CollectionNotFound(collection.to_string()))
        }
    }

    /// The stored embedding of an enrolled face (search by face_id).
    pub fn embedding_of(&self, collection: &str, face_id: &str) -> Result<Vec<f32>, ApiError> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let c =
            index.collections.get(collection).ok_or_else(|| ApiError::CollectionNotFound(collection.to_string()))?;
        c.embedding(face_id).map(<[f32]>::to_vec).ok_or_else(|| ApiError::FaceNotFound(face_id.to_string()))
    }
}

fn apply(index: &mut Index, change: Change) {
    match change {
        Change::CreateCollection { collection, .. } => {
            index.collections.entry(collection).or_default();
        }
        Change::DeleteCollection { collection, .. } => {
            index.collections.remove(&collection);
        }
        Change::AddFace { collection, face_id, external_id, embedding: Some(e), .. } => {
            index.collections.entry(collection).or_default().insert(&face_id, &external_id, &e);
        }
        // Deleted since: its delete entry follows, and the vector is gone (erasure).
        Change::AddFace { embedding: None, .. } => {}
        Change::DeleteFace { collection, face_id, .. } => {
            if let Some(c) = index.collections.get_mut(&collection) {
                c.remove(&face_id);
            }
        }
        Change::UpdateFace { collection, face_id, external_id, embedding: Some(e), .. } => {
            let c = index.collections.entry(collection).or_default();
            c.remove(&face_id);
            c.insert(&face_id, &external_id, &e);
        }
        // Erased since: nothing to update.
        Change::UpdateFace { embedding: None, .. } => {}
    }
}

/// One connection attempt at start: a certificate the TLS settings do not trust stops the server
/// with the reason (no retry can fix it); an unreachable server does not (the gallery comes up
/// when the database does).
async fn preflight(pg: &PgConnect) -> Result<(), StoreError> {
    match pg.connect().await {
        Ok(_) => Ok(()),
        Err(e) if pgconn::is_certificate_error(&e) => Err(StoreError::Config(format!(
            "the database server's certificate is not trusted (sslmode={}): {}; check sslrootcert (e.g. the RDS CA \
             bundle) and that the URL's host is a name the certificate carries",
            pg.mode().as_str(),
            store::error_text(&e)
        ))),
        Err(e) => {
            tracing::warn!(error = %store::error_text(&e), "the database is not reachable yet: serving without the gallery until it is");
            Ok(())
        }
    }
}

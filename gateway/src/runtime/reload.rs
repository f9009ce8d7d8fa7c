//! Reloading: validate a new config, build its snapshot, swap it in atomically — or keep the
//! last good one and record why the new one was refused.

use std::sync::Mutex;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use toolyard_crds::config::CONFIG_VERSION_AUTHZ;
use toolyard_crds::{CONFIG_VERSION, GatewayConfig};

use super::search::{EmbedJob, EmbedderFactory, EmbeddingStatus, SearchEmbeddings};
use super::snapshot::{Snapshot, SnapshotError};
use crate::upstream::{Handles, Upstreams};
use toolyard_compile::manifests::SecretValues;

/// How long the refresher waits after an upstream catalog change before rebuilding, so upstreams
/// syncing at the same moment cause one rebuild (and one list-changed) instead of several.
const UPSTREAM_COALESCE: Duration = Duration::from_millis(50);

/// Why a new config was refused (the previous one keeps serving).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The manifests or config could not be read or compiled.
    #[error("{0}")]
    Source(String),
    /// The config was written for another contract version.
    #[error(
        "version: config version {found:?} is not supported (this gateway serves {CONFIG_VERSION:?}); upgrade the gateway image to match the operator"
    )]
    Version {
        /// The version found.
        found: String,
    },
    /// The snapshot could not be built.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// The outcome of the last reload, for `/readyz` and metrics.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadStatus {
    /// Successful reloads.
    pub reloads: u64,
    /// Refused reloads.
    pub failures: u64,
    /// The last refusal's message (with the path of the bad field), cleared by a success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the last refusal happened (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<u64>,
    /// Milliseconds the last successful snapshot build took.
    pub last_build_ms: f64,
    /// Dense search embeddings, when `search.embedding` is configured: whether the served index
    /// is hybrid, or why it fell back to BM25.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_embedding: Option<EmbeddingStatus>,
}

/// The current snapshot plus reload bookkeeping. Cheap to share (`Arc`).
pub struct Runtime {
    current: ArcSwapOption<Snapshot>,
    status: Mutex<ReloadStatus>,
    /// Serializes reloads so generations are strictly increasing.
    reload_lock: Mutex<()>,
    /// Publishes each new generation, for listeners such as `notifications/tools/list_changed`.
    changes: tokio::sync::watch::Sender<u64>,
    /// Upstream MCP server sessions and their catalogs.
    pub upstreams: Upstreams,
    /// The last applied config and secrets, kept only while it has synced upstream targets:
    /// an upstream catalog change rebuilds the snapshot from them.
    base: Mutex<Option<(GatewayConfig, SecretValues)>>,
    /// Counts snapshot rebuilds caused by upstream catalog changes.
    upstream_epoch: std::sync::atomic::AtomicU64,
    /// Itself, for the refresher task (set by [`Runtime::new`]).
    me: Weak<Runtime>,
    /// Whether the refresher task runs.
    refresher: std::sync::Once,
    /// The search tool's embedder and vector cache (held briefly: by a reload to find cached
    /// vectors, by the background embedding job to store each batch).
    embeddings: Mutex<SearchEmbeddings>,
    /// The generation whose search index the background embedding serves, and how many jobs
    /// run (a job for an older generation stops at its next batch).
    embed_jobs: (Mutex<EmbedJobs>, std::sync::Condvar),
    /// The model search uses when the config names none (the image's bundled model).
    default_embedding: std::sync::OnceLock<toolyard_crds::config::EmbeddingConfig>,
}

/// Bookkeeping of background embedding jobs.
#[derive(Debug, Default)]
struct EmbedJobs {
    /// The newest served generation; a job for another one is superseded.
    latest: u64,
    /// Jobs running.
    running: usize,
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            current: ArcSwapOption::default(),
            status: Mutex::default(),
            reload_lock: Mutex::default(),
            changes: tokio::sync::watch::Sender::new(0),
            upstreams: Upstreams::default(),
            base: Mutex::default(),
            upstream_epoch: std::sync::atomic::AtomicU64::new(0),
            me: Weak::new(),
            refresher: std::sync::Once::new(),
            embeddings: Mutex::default(),
            embed_jobs: Default::default(),
            default_embedding: std::sync::OnceLock::new(),
        }
    }
}

impl Runtime {
    /// An empty runtime (not ready until the first successful reload).
    pub fn new() -> Arc<Runtime> {
        Arc::new_cyclic(|me| Runtime {
            me: me.clone(),
            ..Runtime::default()
        })
    }

    /// A runtime whose search embedders come from `factory` instead of the configured model or
    /// endpoint (tests count embedding calls with it).
    pub fn with_embedder_factory(factory: Box<EmbedderFactory>) -> Arc<Runtime> {
        Arc::new_cyclic(|me| Runtime {
            me: me.clone(),
            embeddings: Mutex::new(SearchEmbeddings::new(factory)),
            ..Runtime::default()
        })
    }

    /// Search without a configured `embedding` uses the local model in `path` (set once, at
    /// start, when the image carries a model there).
    pub fn set_default_embedding(&self, path: String) {
        let _ = self
            .default_embedding
            .set(toolyard_crds::config::EmbeddingConfig::LocalModel { path });
    }

    /// The snapshot new requests should use.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    /// A receiver that sees every new generation.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The reload status.
    pub fn status(&self) -> ReloadStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Applies a new config: on success it is served by every request that starts afterwards.
    pub fn apply(&self, config: GatewayConfig, secrets: &SecretValues) -> Result<u64, ReloadError> {
        let _guard = self
            .reload_lock
            .lock()
            .map_err(|_| ReloadError::Source("reload lock poisoned".into()))?;
        let result = self.build(config, secrets);
        let mut status = self
            .status
            .lock()
            .map_err(|_| ReloadError::Source("status lock poisoned".into()))?;
        match result {
            Ok((mut snapshot, elapsed_ms, handles)) => {
                let generation = snapshot.generation;
                let job = snapshot.pending_embedding.take();
                self.upstreams.commit(&handles);
                if !handles.is_empty() {
                    self.start_refresher();
                }
                status.search_embedding = None;
                if snapshot.config.gateway.search.enabled
                    && snapshot.config.gateway.search.embedding.is_some()
                    && let Ok(embeddings) = self.embeddings.lock()
                {
                    status.search_embedding = Some(embeddings.status().clone());
                }
                if let Some(e) = &snapshot.search_error {
                    tracing::warn!(error = %e, "search embeddings unavailable; the search tool serves BM25 results");
                }
                let snapshot = Arc::new(snapshot);
                self.current.store(Some(snapshot.clone()));
                status.reloads += 1;
                status.last_error = None;
                status.last_error_at = None;
                status.last_build_ms = elapsed_ms;
                drop(status);
                self.serve_generation(generation, job, &snapshot);
                self.changes.send_replace(generation);
                // The build's peak (parsing, compiling, the replaced snapshot) is free now.
                crate::memory::release_free_memory();
                Ok(generation)
            }
            Err(e) => {
                status.failures += 1;
                status.last_error = Some(e.to_string());
                status.last_error_at = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_secs());
                Err(e)
            }
        }
    }

    /// Records a failure that happened before a config existed (e.g. a manifest parse error).
    pub fn record_failure(&self, error: &ReloadError) {
        if let Ok(mut status) = self.status.lock() {
            status.failures += 1;
            status.last_error = Some(error.to_string());
            status.last_error_at = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs());
        }
    }

    fn build(
        &self,
        mut config: GatewayConfig,
        secrets: &SecretValues,
    ) -> Result<(Snapshot, f64, Handles), ReloadError> {
        let search = &mut config.gateway.search;
        if search.enabled
            && search.embedding.is_none()
            && let Some(default) = self.default_embedding.get()
        {
            search.embedding = Some(default.clone());
        }
        if config.version != CONFIG_VERSION && config.version != CONFIG_VERSION_AUTHZ {
            return Err(ReloadError::Version {
                found: config.version,
            });
        }
        let previous = self.current.load_full();
        let generation = previous.as_ref().map_or(1, |p| p.generation + 1);
        let started = std::time::Instant::now();
        let handles = self
            .upstreams
            .prepare(&config, secrets)
            .map_err(SnapshotError::from)?;
        // Keep the config for rebuilds only when upstream catalogs can change it (a copy of a
        // large OpenAPI-only config would double its memory for nothing).
        let base = (!handles.is_empty()).then(|| (config.clone(), secrets.clone()));
        let mut embeddings = self
            .embeddings
            .lock()
            .map_err(|_| ReloadError::Source("embeddings lock poisoned".into()))?;
        let mut snapshot = Snapshot::build_full(
            config,
            secrets,
            generation,
            previous.as_deref(),
            &handles,
            Some(&mut embeddings),
        )?;
        snapshot.upstream_epoch = self
            .upstream_epoch
            .load(std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut b) = self.base.lock() {
            *b = base;
        }
        Ok((snapshot, started.elapsed().as_secs_f64() * 1000.0, handles))
    }

    /// Rebuilds the served snapshot from the last applied config and the current upstream
    /// catalogs (a new generation; the config revision stays). Returns the new generation, or
    /// `None` when there is nothing to rebuild.
    pub fn refresh_upstreams(&self) -> Option<u64> {
        let _guard = self.reload_lock.lock().ok()?;
        let (config, secrets) = self.base.lock().ok()?.clone()?;
        let previous = self.current.load_full();
        let generation = previous.as_ref().map_or(1, |p| p.generation + 1);
        let epoch = self
            .upstream_epoch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let handles = self.upstreams.current();
        // The search vectors come from the embedding cache (only new upstream tools are embedded).
        let mut embeddings = self.embeddings.lock().ok()?;
        match Snapshot::build_full(
            config,
            &secrets,
            generation,
            previous.as_deref(),
            &handles,
            Some(&mut embeddings),
        ) {
            Ok(mut snapshot) => {
                snapshot.upstream_epoch = epoch;
                let job = snapshot.pending_embedding.take();
                let snapshot = Arc::new(snapshot);
                self.current.store(Some(snapshot.clone()));
                drop(embeddings);
                self.serve_generation(generation, job, &snapshot);
                self.changes.send_replace(generation);
                Some(generation)
            }
            Err(e) => {
                // The same config and secrets built before; only a vanished secret gets here.
                tracing::warn!(error = %e, "rebuilding the snapshot with new upstream catalogs failed");
                None
            }
        }
    }

    /// `generation` is served now: older embedding jobs stop, and `job` (texts of its index
    /// without vectors) is embedded on a background thread, after which the hybrid index
    /// replaces the BM25 one in `snapshot`. Until then BM25 answers searches.
    fn serve_generation(&self, generation: u64, job: Option<EmbedJob>, snapshot: &Arc<Snapshot>) {
        if let Ok(mut jobs) = self.embed_jobs.0.lock() {
            jobs.latest = generation;
            if job.is_some() {
                jobs.running += 1;
            }
        }
        let Some(job) = job else { return };
        tracing::info!(
            texts = job.missing.len(),
            generation,
            "embedding tool texts in the background; the search tool serves BM25 results until they are done"
        );
        let me = self.me.clone();
        let snapshot = snapshot.clone();
        let spawned = std::thread::Builder::new()
            .name("search-embed".into())
            .spawn(move || {
                if let Some(runtime) = me.upgrade() {
                    runtime.embed_in_background(generation, &job, &snapshot);
                    runtime.end_job();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the embedding thread; search stays BM25");
            if let Ok(mut emb) = self.embeddings.lock() {
                emb.job_done();
            }
            self.end_job();
        }
    }

    fn superseded(&self, generation: u64) -> bool {
        self.embed_jobs
            .0
            .lock()
            .map_or(true, |jobs| jobs.latest != generation)
    }

    fn end_job(&self) {
        if let Ok(mut jobs) = self.embed_jobs.0.lock() {
            jobs.running = jobs.running.saturating_sub(1);
        }
        self.embed_jobs.1.notify_all();
    }

    /// The background half of a reload: embeds `job.missing` batch by batch (the embeddings
    /// lock is taken only to store each batch, so reloads never wait for the model), then
    /// swaps the hybrid index into `snapshot`. Stops early when a newer generation is served
    /// (what it embedded stays cached for that generation's job).
    fn embed_in_background(&self, generation: u64, job: &EmbedJob, snapshot: &Snapshot) {
        let model = job.embedder.model_id().to_string();
        for chunk in job.missing.chunks(crate::search::embed::BATCH) {
            if self.superseded(generation) {
                return;
            }
            let result = job.embedder.embed_blocking(chunk).and_then(|vectors| {
                match self.embeddings.lock() {
                    Ok(mut emb) => emb.store(&model, chunk, vectors),
                    Err(_) => Ok(()),
                }
            });
            if let Err(e) = result {
                tracing::warn!(error = %e, "search embeddings unavailable; the search tool serves BM25 results");
                if let Ok(mut emb) = self.embeddings.lock() {
                    emb.record(Err(&e));
                    emb.job_done();
                }
                self.refresh_embedding_status();
                return;
            }
        }
        let Ok(mut emb) = self.embeddings.lock() else {
            return;
        };
        if self.superseded(generation) {
            return;
        }
        let hybrid = emb.finish(job).and_then(|vectors| {
            let slot = snapshot.search.as_ref()?;
            slot.load().with_dense(job.embedder.clone(), &vectors)
        });
        match (hybrid, snapshot.search.as_ref()) {
            (Some(index), Some(slot)) => {
                slot.store(Arc::new(index));
                emb.record(Ok(()));
                tracing::info!(generation, "the search index is hybrid now");
            }
            _ => emb.record(Err(&crate::search::embed::EmbedError::Shape(
                "a tool vector went missing; reload to embed again".into(),
            ))),
        }
        emb.job_done();
        drop(emb);
        self.refresh_embedding_status();
    }

    /// Copies the embedding status into the reload status (`/readyz`, metrics).
    fn refresh_embedding_status(&self) {
        let emb = self.embeddings.lock().ok().map(|e| e.status().clone());
        if let (Ok(mut status), Some(emb)) = (self.status.lock(), emb)
            && status.search_embedding.is_some()
        {
            status.search_embedding = Some(emb);
        }
    }

    /// Waits until no background embedding job runs (at most `timeout`); whether none does.
    pub fn wait_for_search_embeddings(&self, timeout: Duration) -> bool {
        let Ok(jobs) = self.embed_jobs.0.lock() else {
            return false;
        };
        self.embed_jobs
            .1
            .wait_timeout_while(jobs, timeout, |j| j.running > 0)
            .map(|(j, _)| j.running == 0)
            .unwrap_or(false)
    }

    /// Starts (once) the task that rebuilds the snapshot when an upstream catalog changes.
    fn start_refresher(&self) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let me = self.me.clone();
        self.refresher.call_once(|| {
            let Some(runtime) = me.upgrade() else { return };
            let changed = runtime.upstreams.changed.clone();
            drop(runtime);
            rt.spawn(async move {
                loop {
                    changed.notified().await;
                    tokio::time::sleep(UPSTREAM_COALESCE).await;
                    let Some(runtime) = me.upgrade() else { return };
                    let _ = tokio::task::spawn_blocking(move || runtime.refresh_upstreams()).await;
                }
            });
        });
    }
}

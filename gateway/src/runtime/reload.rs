//! Reloading: validate a new config, build its snapshot, swap it in atomically — or keep the
//! last good one and record why the new one was refused.

use std::sync::Mutex;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use toolyard_crds::{CONFIG_VERSION, GatewayConfig};

use super::search::{EmbedderFactory, EmbeddingStatus, SearchEmbeddings};
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
    /// The search tool's embedder and vector cache (used under `reload_lock`).
    embeddings: Mutex<SearchEmbeddings>,
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
        Arc::new(Runtime {
            embeddings: Mutex::new(SearchEmbeddings::new(factory)),
            ..Runtime::default()
        })
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
            Ok((snapshot, elapsed_ms, handles)) => {
                let generation = snapshot.generation;
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
                self.current.store(Some(Arc::new(snapshot)));
                status.reloads += 1;
                status.last_error = None;
                status.last_error_at = None;
                status.last_build_ms = elapsed_ms;
                self.changes.send_replace(generation);
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
        config: GatewayConfig,
        secrets: &SecretValues,
    ) -> Result<(Snapshot, f64, Handles), ReloadError> {
        if config.version != CONFIG_VERSION {
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
                self.current.store(Some(Arc::new(snapshot)));
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

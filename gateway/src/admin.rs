//! The admin endpoints, on their own port so they are never exposed with the MCP Service:
//! `/healthz` (the process runs), `/readyz` (a config is served and the process is not shutting
//! down; JSON detail with the revision, generation and last reload error) and `/metrics`
//! (Prometheus text).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::drain::Draining;
use crate::runtime::Runtime;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    target: String,
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    target: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    gateway: String,
    target: String,
    policy: String,
    decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabels {
    target: String,
}

/// The gateway's metrics. Labels are bounded by the configured targets and tools.
pub struct Metrics {
    registry: Registry,
    calls: Family<ToolLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    latency: Family<TargetLabels, Histogram>,
    reloads: Counter,
    reload_failures: Counter,
    generation: Gauge,
    tools: Gauge,
    upstream_connected: Family<TargetLabels, Gauge>,
    upstream_tools: Family<TargetLabels, Gauge>,
    upstream_syncs: Family<TargetLabels, Gauge>,
    upstream_sync_failures: Family<TargetLabels, Gauge>,
    upstream_last_sync_error: Family<TargetLabels, Gauge>,
    search_fallbacks: Counter,
    search_embedding_healthy: Gauge,
    search_embedded_texts: Gauge,
    search_index_hybrid: Gauge,
    search_embedding_pending: Gauge,
    authorization: Family<DecisionLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("toolyard_gateway");
        let calls = Family::<ToolLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let latency = Family::<TargetLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let reloads = Counter::default();
        let reload_failures = Counter::default();
        let generation = Gauge::default();
        let tools = Gauge::default();
        registry.register("tool_calls", "Tool calls by target and tool", calls.clone());
        registry.register(
            "tool_errors",
            "Tool calls that returned isError, by target and kind (user, backend, throttled)",
            errors.clone(),
        );
        registry.register(
            "tool_call_duration_seconds",
            "Tool call latency by target",
            latency.clone(),
        );
        registry.register("reloads", "Configs applied", reloads.clone());
        registry.register(
            "reload_failures",
            "Configs refused (the previous one kept serving)",
            reload_failures.clone(),
        );
        registry.register(
            "config_generation",
            "Local generation of the config being served",
            generation.clone(),
        );
        registry.register(
            "tools",
            "Tools served (search tool included)",
            tools.clone(),
        );
        let upstream_connected = Family::<TargetLabels, Gauge>::default();
        let upstream_tools = Family::<TargetLabels, Gauge>::default();
        let upstream_syncs = Family::<TargetLabels, Gauge>::default();
        let upstream_sync_failures = Family::<TargetLabels, Gauge>::default();
        let upstream_last_sync_error = Family::<TargetLabels, Gauge>::default();
        registry.register(
            "upstream_connected",
            "1 while the gateway has a session with the upstream MCP server",
            upstream_connected.clone(),
        );
        registry.register(
            "upstream_tools",
            "Tools the upstream MCP server listed at the last good sync",
            upstream_tools.clone(),
        );
        registry.register(
            "upstream_syncs",
            "Successful syncs of the upstream MCP server's lists",
            upstream_syncs.clone(),
        );
        registry.register(
            "upstream_sync_failures",
            "Failed syncs and connection attempts to the upstream MCP server",
            upstream_sync_failures.clone(),
        );
        registry.register(
            "upstream_sync_error",
            "1 while the last sync or connection attempt of the upstream failed",
            upstream_last_sync_error.clone(),
        );
        let search_fallbacks = Counter::default();
        let search_embedding_healthy = Gauge::default();
        let search_embedded_texts = Gauge::default();
        registry.register(
            "search_query_embedding_failures",
            "Search queries answered by BM25 alone because the query could not be embedded",
            search_fallbacks.clone(),
        );
        registry.register(
            "search_embedding_healthy",
            "1 when the search index is hybrid or no embedding is configured; 0 when configured embeddings failed and search fell back to BM25",
            search_embedding_healthy.clone(),
        );
        let search_index_hybrid = Gauge::default();
        let search_embedding_pending = Gauge::default();
        registry.register(
            "search_index_hybrid",
            "1 while the search tool serves the hybrid index (BM25 + embeddings), 0 while it serves BM25 alone",
            search_index_hybrid.clone(),
        );
        registry.register(
            "search_embedding_pending_texts",
            "Tool texts the background embedding still has to embed before the hybrid index is served",
            search_embedding_pending.clone(),
        );
        registry.register(
            "search_embedded_texts",
            "Tool texts embedded since start (cache misses; a reload embeds only changed tools)",
            search_embedded_texts.clone(),
        );
        let authorization = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "authorization_decisions",
            "Policy decisions on tools/call by gateway, target, deciding policy (empty for allow, and for a default deny) and decision (allow, deny, would_deny in LogOnly)",
            authorization.clone(),
        );
        Self {
            authorization,
            upstream_connected,
            upstream_tools,
            upstream_syncs,
            upstream_sync_failures,
            upstream_last_sync_error,
            search_fallbacks,
            search_embedding_healthy,
            search_embedded_texts,
            search_index_hybrid,
            search_embedding_pending,
            registry,
            calls,
            errors,
            latency,
            reloads,
            reload_failures,
            generation,
            tools,
        }
    }
}

impl Metrics {
    /// Records one tool call.
    pub fn record_call(&self, target: &str, tool: &str, error: Option<&str>, elapsed: Duration) {
        self.calls
            .get_or_create(&ToolLabels {
                target: target.into(),
                tool: tool.into(),
            })
            .inc();
        if let Some(kind) = error {
            self.errors
                .get_or_create(&ErrorLabels {
                    target: target.into(),
                    kind: kind.into(),
                })
                .inc();
        }
        self.latency
            .get_or_create(&TargetLabels {
                target: target.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one policy decision on a tool call.
    pub fn record_authorization(&self, gateway: &str, target: &str, policy: &str, decision: &str) {
        self.authorization
            .get_or_create(&DecisionLabels {
                gateway: gateway.into(),
                target: target.into(),
                policy: policy.into(),
                decision: decision.into(),
            })
            .inc();
    }

    /// Records a reload outcome.
    pub fn record_reload(&self, ok: bool, generation: u64, tools: usize) {
        if ok {
            self.reloads.inc();
            self.generation.set(generation as i64);
            self.tools.set(tools as i64);
        } else {
            self.reload_failures.inc();
        }
    }

    /// Copies the upstreams' current status into their gauges (at scrape time).
    pub fn record_upstreams(&self, statuses: &[crate::upstream::UpstreamStatus]) {
        self.upstream_connected.clear();
        self.upstream_tools.clear();
        self.upstream_syncs.clear();
        self.upstream_sync_failures.clear();
        self.upstream_last_sync_error.clear();
        for s in statuses {
            let labels = TargetLabels {
                target: s.target.clone(),
            };
            self.upstream_connected
                .get_or_create(&labels)
                .set(i64::from(s.connected));
            self.upstream_tools
                .get_or_create(&labels)
                .set(s.tools as i64);
            self.upstream_syncs
                .get_or_create(&labels)
                .set(s.syncs as i64);
            self.upstream_sync_failures
                .get_or_create(&labels)
                .set(s.failures as i64);
            self.upstream_last_sync_error
                .get_or_create(&labels)
                .set(i64::from(s.last_sync_error.is_some()));
        }
    }

    /// Counts a search query answered by BM25 alone because embedding it failed.
    pub fn record_search_fallback(&self) {
        self.search_fallbacks.inc();
    }

    /// Mirrors the runtime's embedding status into the gauges (at scrape time).
    fn observe_search(
        &self,
        status: Option<&crate::runtime::search::EmbeddingStatus>,
        hybrid: bool,
    ) {
        let healthy = status.is_none_or(|s| s.error.is_none());
        self.search_embedding_healthy.set(i64::from(healthy));
        self.search_embedded_texts
            .set(status.map_or(0, |s| s.embedded_texts as i64));
        self.search_index_hybrid.set(i64::from(hybrid));
        self.search_embedding_pending
            .set(status.map_or(0, |s| s.pending_texts as i64));
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[derive(Clone)]
struct AdminState {
    runtime: Arc<Runtime>,
    metrics: Arc<Metrics>,
    draining: Draining,
}

/// The admin router. `/readyz` fails once `draining` is set (see [`crate::drain`]).
pub fn router(runtime: Arc<Runtime>, metrics: Arc<Metrics>, draining: Draining) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AdminState {
            runtime,
            metrics,
            draining,
        })
}

async fn readyz(State(state): State<AdminState>) -> Response {
    let status = state.runtime.status();
    let snapshot = state.runtime.snapshot();
    let draining = state.draining.is_set();
    let ready = snapshot.is_some() && !draining;
    let body = serde_json::json!({
        "ready": ready,
        "draining": draining,
        "revision": snapshot.as_ref().map(|s| s.config.revision.clone()),
        "generation": snapshot.as_ref().map(|s| s.generation),
        "tools": snapshot.as_ref().map(|s| s.tools.len()),
        "reload": status,
        "upstreams": state.runtime.upstreams.statuses(),
        "upstreamSkipped": snapshot.as_ref().map(|s| s.upstream_skipped.clone()).unwrap_or_default(),
        "search": snapshot.as_ref().and_then(|s| search_state(s, &status)),
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Which index the search tool serves: `hybrid`, or `bm25` (with `embedding: pending` while the
/// tool texts are embedded in the background, `failed` when embeddings are configured but do not
/// work, `off` when none are configured).
fn search_state(
    snapshot: &crate::runtime::Snapshot,
    status: &crate::runtime::ReloadStatus,
) -> Option<serde_json::Value> {
    let index = snapshot.search.as_ref()?.load();
    let embedding = match &status.search_embedding {
        None => "off",
        Some(e) if e.pending => "pending",
        Some(e) if e.error.is_some() => "failed",
        Some(_) => "ready",
    };
    Some(serde_json::json!({
        "index": if index.is_hybrid() { "hybrid" } else { "bm25" },
        "embedding": embedding,
    }))
}

async fn metrics_text(State(state): State<AdminState>) -> Response {
    state
        .metrics
        .record_upstreams(&state.runtime.upstreams.statuses());
    if let Some(s) = state.runtime.snapshot() {
        state.metrics.generation.set(s.generation as i64);
        state.metrics.tools.set(s.tools.len() as i64);
    }
    let hybrid = state.runtime.snapshot().is_some_and(|s| {
        s.search
            .as_ref()
            .is_some_and(|slot| slot.load().is_hybrid())
    });
    state
        .metrics
        .observe_search(state.runtime.status().search_embedding.as_ref(), hybrid);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

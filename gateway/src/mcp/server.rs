//! The rmcp `ServerHandler`: `tools/list` (stable order, paginated, cache hints) and `tools/call`
//! against the current runtime snapshot. Protocol-version negotiation and the per-revision wire
//! rules (sessions for 2025-xx, stateless 2026-07-28) are rmcp's; this handler only narrows the
//! advertised versions to the ones the Gateway lists.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    Implementation, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities,
    ServerConfig, SubscriptionFilter, Tool,
};
use rmcp::service::{NotificationContext, Peer, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::admin::Metrics;
use crate::invoke;
use crate::runtime::Runtime;
use crate::runtime::snapshot::Snapshot;

/// How long clients of 2026-07-28 may cache `tools/list` (hot reloads make longer TTLs stale).
const LIST_TTL_MS: u64 = 5_000;

/// Peers of live sessions (2025-xx revisions), told when the tool list changes.
pub type SessionPeers = Arc<std::sync::Mutex<Vec<Peer<RoleServer>>>>;

/// The gateway's MCP handler; one clone per session or request, sharing the runtime.
#[derive(Clone)]
pub struct GatewayHandler {
    runtime: Arc<Runtime>,
    metrics: Arc<Metrics>,
    peers: SessionPeers,
}

impl GatewayHandler {
    /// A handler over `runtime`.
    pub fn new(runtime: Arc<Runtime>, metrics: Arc<Metrics>, peers: SessionPeers) -> Self {
        Self {
            runtime,
            metrics,
            peers,
        }
    }

    fn not_ready() -> ErrorData {
        ErrorData::internal_error(
            "the gateway has no valid configuration yet; see /readyz on the admin port",
            None,
        )
    }
}

/// Parses an opaque `tools/list` cursor (a decimal offset).
fn parse_cursor(cursor: Option<&str>) -> Result<usize, ErrorData> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .parse()
            .map_err(|_| ErrorData::invalid_params(format!("invalid cursor {c:?}"), None)),
    }
}

impl ServerHandler for GatewayHandler {
    fn get_info(&self) -> ServerConfig {
        let snapshot = self.runtime.snapshot();
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        );
        info.server_info = Implementation::new("toolyard-gateway", env!("CARGO_PKG_VERSION"));
        info.instructions = snapshot.and_then(|s| s.config.gateway.instructions.clone());
        info
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        let Some(snapshot) = self.runtime.snapshot() else {
            return Cow::Borrowed(ProtocolVersion::KNOWN_VERSIONS);
        };
        let wanted: Vec<&str> = snapshot
            .config
            .gateway
            .supported_versions
            .iter()
            .map(|v| v.as_str())
            .collect();
        let versions: Vec<ProtocolVersion> = ProtocolVersion::KNOWN_VERSIONS
            .iter()
            .filter(|v| wanted.contains(&v.as_str()))
            .cloned()
            .collect();
        if versions.is_empty() {
            Cow::Borrowed(ProtocolVersion::KNOWN_VERSIONS)
        } else {
            Cow::Owned(versions)
        }
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let snapshot = self.runtime.snapshot().ok_or_else(Self::not_ready)?;
        let start = parse_cursor(request.as_ref().and_then(|r| r.cursor.as_deref()))?;
        let page = snapshot.config.gateway.page_size as usize;
        let tools: Vec<Tool> = snapshot
            .tools
            .iter()
            .skip(start)
            .take(page)
            .cloned()
            .collect();
        let next = start + tools.len();
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor = (next < snapshot.tools.len()).then(|| next.to_string());
        result.ttl_ms = Some(LIST_TTL_MS);
        // Later authorization can filter the list per caller, so it is never shared.
        result.cache_scope = Some(CacheScope::Private);
        Ok(result)
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // Tools are the only list that changes (on reload); rmcp intersects this with the request.
        let mut accepted = SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed;
        Some(accepted)
    }

    /// A 2026-07-28 `subscriptions/listen` stream: one `tools/list_changed` per new config revision
    /// until the client goes away.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.runtime.subscribe();
        let mut last_revision = self.runtime.snapshot().map(|s| s.config.revision.clone());
        loop {
            tokio::select! {
                _ = context.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let revision = self.runtime.snapshot().map(|s| s.config.revision.clone());
                    if revision != last_revision {
                        last_revision = revision;
                        if context.accepted().tools_list_changed == Some(true)
                            && context.sink().notify_tool_list_changed().await.is_err()
                        {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        if let Ok(mut peers) = self.peers.lock() {
            peers.retain(|p| !p.is_transport_closed());
            peers.push(context.peer);
        }
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let snapshot = self.runtime.snapshot()?;
        snapshot.tool(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // One snapshot for the whole call: a reload in the middle does not affect it.
        let snapshot = self.runtime.snapshot().ok_or_else(Self::not_ready)?;
        let name = request.name.as_ref();
        let args = request.arguments.clone().unwrap_or_default();
        if snapshot.config.gateway.search.enabled
            && name == snapshot.config.gateway.search.tool_name
        {
            return Ok(search(&snapshot, &args, &self.metrics).await.into());
        }
        let Some(found) = snapshot.find(name) else {
            return Err(ErrorData::invalid_params(
                format!("Unknown tool: {name}"),
                None,
            ));
        };
        let started = Instant::now();
        let outcome = invoke::call(&snapshot, found, args).await;
        self.metrics.record_call(
            &found.target.name,
            &found.tool.name,
            outcome.error.map(|k| k.label()),
            started.elapsed(),
        );
        Ok(outcome.result.into())
    }
}

/// The built-in search tool: `{"query": "..."}` → one text block holding
/// `{"tools": [<full tool definitions>]}`, most relevant first, at most `search.topK`. Only
/// listed tools are returned (today every caller can list every tool: the `visible` filter is
/// where per-caller visibility plugs in), never the search tool. With embeddings configured the
/// ranking is hybrid; if the query cannot be embedded, BM25 answers and the failure is logged
/// and counted.
async fn search(
    snapshot: &Snapshot,
    args: &serde_json::Map<String, serde_json::Value>,
    metrics: &crate::admin::Metrics,
) -> CallToolResult {
    let name = &snapshot.config.gateway.search.tool_name;
    let query = match args.get("query") {
        Some(serde_json::Value::String(q)) if !q.trim().is_empty() => q,
        Some(serde_json::Value::String(_)) => {
            return CallToolResult::error(vec![ContentBlock::text(format!(
                "{name}: the \"query\" argument is empty; describe the task to find tools for"
            ))]);
        }
        Some(_) => {
            return CallToolResult::error(vec![ContentBlock::text(format!(
                "{name}: the \"query\" argument must be a string"
            ))]);
        }
        None => {
            return CallToolResult::error(vec![ContentBlock::text(format!(
                "{name}: missing required argument \"query\" (a string describing the task)"
            ))]);
        }
    };
    let top_k = snapshot.config.gateway.search.top_k as usize;
    let visible = |pos: usize| {
        snapshot
            .tools
            .get(pos)
            .is_some_and(|t| t.name != name.as_str())
    };
    let result = match snapshot.search.as_ref() {
        Some(index) => index.search_hybrid(query, top_k, &visible).await,
        None => Default::default(),
    };
    if let Some(e) = &result.dense_error {
        metrics.record_search_fallback();
        tracing::warn!(error = %e, "could not embed the search query; answering with BM25 alone");
    }
    let found: Vec<&Tool> = result
        .positions
        .into_iter()
        .filter_map(|pos| snapshot.tools.get(pos))
        .filter(|tool| tool.name != name.as_str())
        .collect();
    match serde_json::to_string(&serde_json::json!({ "tools": found })) {
        Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
            "{name}: could not render the results: {e}"
        ))]),
    }
}

/// Sends `notifications/tools/list_changed` to every live session whenever a reload changes the
/// served config (a new revision). Stateless 2026-07-28 clients rely on `ttlMs` instead.
pub async fn notify_tool_list_changes(runtime: Arc<Runtime>, peers: SessionPeers) {
    let mut changes = runtime.subscribe();
    let mut last_revision = runtime.snapshot().map(|s| s.config.revision.clone());
    while changes.changed().await.is_ok() {
        let revision = runtime.snapshot().map(|s| s.config.revision.clone());
        if revision == last_revision {
            continue;
        }
        last_revision = revision;
        let live: Vec<Peer<RoleServer>> = match peers.lock() {
            Ok(mut p) => {
                p.retain(|peer| !peer.is_transport_closed());
                p.clone()
            }
            Err(_) => continue,
        };
        for peer in live {
            let _ = peer.notify_tool_list_changed().await;
        }
    }
}

//! The rmcp `ServerHandler`: `tools/list` (stable order, paginated, cache hints) and `tools/call`
//! against the current runtime snapshot. Protocol-version negotiation and the per-revision wire
//! rules (sessions for 2025-xx, stateless 2026-07-28) are rmcp's; this handler only narrows the
//! advertised versions to the ones the Gateway lists.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams,
    CompleteResult, ContentBlock, GetPromptRequestParams, GetPromptResponse, Implementation,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    Reference, ServerCapabilities, ServerConfig, SubscribeRequestParams, SubscriptionFilter, Tool,
    UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, Peer, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::admin::Metrics;
use crate::invoke;
use crate::mcp::list_page::PageSlot;
use crate::mcp::upstream;
use crate::runtime::Runtime;
use crate::runtime::snapshot::Snapshot;
use crate::telemetry;
use crate::upstream::mrtr::{CallerFeatures, Passthrough, Round};
use toolyard_crds::config::CallPlan;
use tracing::Instrument;

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

    /// The snapshot, when it fronts upstream MCP servers (the only source of prompts and
    /// resources); otherwise the method does not exist on this gateway (-32601).
    fn upstream_snapshot<M: rmcp::model::ConstString>(&self) -> Result<Arc<Snapshot>, ErrorData> {
        let snapshot = self.runtime.snapshot().ok_or_else(Self::not_ready)?;
        if snapshot.has_upstreams() {
            Ok(snapshot)
        } else {
            Err(ErrorData::method_not_found::<M>())
        }
    }

    fn not_ready() -> ErrorData {
        ErrorData::internal_error(
            "the gateway has no valid configuration yet; see /readyz on the admin port",
            None,
        )
    }
}

impl GatewayHandler {
    /// `tools/call` inside its server span (`span` gets the target and the error kind).
    async fn call_tool_traced(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
        span: &tracing::Span,
    ) -> Result<CallToolResponse, ErrorData> {
        // One snapshot for the whole call: a reload in the middle does not affect it.
        let snapshot = self.runtime.snapshot().ok_or_else(Self::not_ready)?;
        let name = request.name.as_ref();
        // The caller authenticated by the HTTP layer, for logs and authorization.
        let principal = crate::auth::principal_of(&context.extensions);
        if let Some(caller) = &principal {
            tracing::debug!(tool = %name, subject = ?caller.subject, client = ?caller.client, "tool call");
        }
        let args = request.arguments.clone().unwrap_or_default();
        let caller = snapshot
            .authz
            .as_ref()
            .map(|_| crate::runtime::authz::caller_of(principal.as_ref()));
        if snapshot.config.gateway.search.enabled
            && name == snapshot.config.gateway.search.tool_name
        {
            let allowed = match (&snapshot.authz, &caller) {
                (Some(authz), Some(caller)) => {
                    Some(authz.visible(caller, &snapshot.tools, Some(name)))
                }
                _ => None,
            };
            return Ok(search(&snapshot, &args, &self.metrics, allowed.as_deref())
                .await
                .into());
        }
        if let (Some(authz), Some(caller)) = (&snapshot.authz, &caller) {
            self.authorize(&snapshot, authz, caller, name, &args)?;
        }
        let Some(found) = snapshot.find(name) else {
            return Err(ErrorData::invalid_params(
                format!("Unknown tool: {name}"),
                None,
            ));
        };
        let mut call = call_context(&context);
        let modern_upstream = modern_upstream(found.runtime);
        if matches!(found.tool.call, CallPlan::Mcp { .. })
            && is_stateless(&context)
            && modern_upstream
        {
            call.passthrough = Some(Arc::new(Passthrough::new(
                request.input_responses.clone(),
                request.request_state.clone(),
            )));
        } else if matches!(found.tool.call, CallPlan::Mcp { .. }) && is_stateless(&context) {
            let round = Round::open(
                CallerFeatures::of(context.client_capabilities().as_ref()),
                "tools/call",
                name,
                request.arguments.as_ref(),
                request.input_responses.as_ref(),
                request.request_state.as_deref(),
            )
            .map_err(|e| e.to_rpc())?;
            call.round = Some(Arc::new(round));
        }
        let started = Instant::now();
        let outcome = invoke::call_with(&snapshot, found, args, &call).await;
        if let Some(asked) = call.passthrough.as_ref().and_then(|p| p.take()) {
            return Ok(CallToolResponse::InputRequired(asked));
        }
        if let Some(round) = &call.round {
            if let Some(invalid) = round.invalid() {
                return Err(invalid.to_rpc());
            }
            if round.interrupted() {
                return Ok(CallToolResponse::InputRequired(round.input_required()));
            }
            if outcome.error.is_some()
                && let Some(missing) = round.missing_capability()
            {
                return Err(missing);
            }
        }
        self.metrics.record_call(
            &found.target.name,
            &found.tool.name,
            outcome.error.map(|k| k.label()),
            started.elapsed(),
        );
        span.record("toolyard.target", found.target.name.as_str());
        if let Some(kind) = outcome.error {
            telemetry::record_error(span, kind.label());
        }
        Ok(outcome.result.into())
    }

    /// The policy decision for one call: `Ok` to go on, or the JSON-RPC error of a denied call.
    /// Logs one line per denial (and per `LogOnly` "would deny") with the caller and the tool,
    /// never the arguments.
    fn authorize(
        &self,
        snapshot: &Snapshot,
        authz: &crate::runtime::authz::Authz,
        caller: &toolyard_compile::policy::Caller,
        tool: &str,
        args: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ErrorData> {
        let verdict = authz.call(caller, tool, args);
        let denied = authz.enforce && !verdict.allowed;
        let decision = match (denied, verdict.denied_by_any) {
            (true, _) => "deny",
            (false, true) => "would_deny",
            (false, false) => "allow",
        };
        let policy = verdict.policies.first().map_or("", String::as_str);
        self.metrics.record_authorization(
            &snapshot.config.gateway.name,
            authz.target_of(tool),
            if decision == "allow" { "" } else { policy },
            decision,
        );
        let policies = verdict.policies.join(",");
        match decision {
            "deny" => {
                tracing::info!(principal = %caller.display(), tool = %tool, policies = %policies, "tool call denied by policy");
                Err(ErrorData::invalid_request(
                    format!("Tool call denied by policy: {tool}"),
                    None,
                ))
            }
            "would_deny" => {
                tracing::info!(principal = %caller.display(), tool = %tool, policies = %policies, "tool call would be denied by policy (LogOnly)");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// One page of `tools/list`: the tools the caller may call (all of them without policies).
    ///
    /// With a [`PageSlot`] (the HTTP layer's), the page's tools go there as pre-rendered JSON
    /// and rmcp gets the page with an empty `tools` array (see `list_page`); `legacy` says the
    /// peer negotiated a revision before 2026-07-28.
    fn tools_page(
        &self,
        request: Option<PaginatedRequestParams>,
        principal: Option<crate::auth::Principal>,
        slot: Option<&PageSlot>,
        legacy: bool,
    ) -> Result<ListToolsResult, ErrorData> {
        let snapshot = self.runtime.snapshot().ok_or_else(Self::not_ready)?;
        let start = parse_cursor(request.as_ref().and_then(|r| r.cursor.as_deref()))?;
        let page = snapshot.config.gateway.page_size as usize;
        let allowed = snapshot.authz.as_ref().map(|authz| {
            let caller = crate::runtime::authz::caller_of(principal.as_ref());
            let search = &snapshot.config.gateway.search;
            authz.visible(
                &caller,
                &snapshot.tools,
                search.enabled.then_some(search.tool_name.as_str()),
            )
        });
        let shown = |pos: &usize| allowed.as_ref().is_none_or(|a| a[*pos]);
        let total = match &allowed {
            Some(a) => a.iter().filter(|v| **v).count(),
            None => snapshot.tools.len(),
        };
        // The cursor counts visible tools, so every page of one caller's list is consistent.
        let positions = (0..snapshot.tools.len())
            .filter(shown)
            .skip(start)
            .take(page);
        let (tools, listed) = match slot {
            Some(slot) => {
                let before = positions.clone().count();
                slot.fill(positions.filter_map(|pos| snapshot.listed_json(pos, legacy)));
                (Vec::new(), before)
            }
            None => {
                let tools: Vec<Tool> = positions.map(|pos| snapshot.tools[pos].clone()).collect();
                let listed = tools.len();
                (tools, listed)
            }
        };
        let next = start + listed;
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor = (next < total).then(|| next.to_string());
        result.ttl_ms = Some(LIST_TTL_MS);
        // Authorization filters the list per caller, so it is never shared.
        result.cache_scope = Some(CacheScope::Private);
        Ok(result)
    }

    /// A 2026-07-28 `subscriptions/listen` stream: the accepted `*/list_changed` notifications
    /// for each new config revision or upstream catalog change, until the client goes away.
    async fn listen_loop(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.runtime.subscribe();
        let mut last = lists_version(&self.runtime);
        loop {
            tokio::select! {
                _ = context.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let now = lists_version(&self.runtime);
                    let [tools, prompts, resources] = changed_lists(last.as_ref(), now.as_ref());
                    last = now;
                    let accepted = context.accepted();
                    let sink = context.sink();
                    if tools
                        && accepted.tools_list_changed == Some(true)
                        && sink.notify_tool_list_changed().await.is_err()
                    {
                        return Ok(());
                    }
                    if prompts
                        && accepted.prompts_list_changed == Some(true)
                        && sink.notify_prompt_list_changed().await.is_err()
                    {
                        return Ok(());
                    }
                    if resources
                        && accepted.resources_list_changed == Some(true)
                        && sink.notify_resource_list_changed().await.is_err()
                    {
                        return Ok(());
                    }
                }
            }
        }
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
        let capabilities = if snapshot.as_ref().is_some_and(|s| s.has_upstreams()) {
            upstream_capabilities()
        } else {
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build()
        };
        let mut info = ServerConfig::new(capabilities);
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
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let principal = crate::auth::principal_of(&context.extensions);
        let slot = PageSlot::of(&context.extensions);
        // rmcp's own test for "an older peer" (it strips their results the same way).
        let legacy = context
            .protocol_version()
            .is_none_or(|v| v.as_str() < ProtocolVersion::V_2026_07_28.as_str());
        telemetry::request_span("tools/list", None, &context)
            .in_scope(|| self.tools_page(request, principal, slot, legacy))
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // Tools change on reload and upstream syncs; prompts and resources only exist (and change)
        // with upstream MCP targets. rmcp intersects this with the request.
        let mut accepted = SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed;
        if self.runtime.snapshot().is_some_and(|s| s.has_upstreams()) {
            accepted.prompts_list_changed = requested.prompts_list_changed;
            accepted.resources_list_changed = requested.resources_list_changed;
        }
        Some(accepted)
    }

    /// A 2026-07-28 `subscriptions/listen` stream (see [`GatewayHandler::listen_loop`]).
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        // Boxed: the loop's state is kilobytes, and rmcp's request dispatch is a future as large
        // as its largest handler's, moved several times on every request, calls included.
        Box::pin(self.listen_loop(context)).await
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
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let span = telemetry::request_span("tools/call", Some(request.name.as_ref()), &context);
        // Boxed: the call's future (reqwest, the backend, results) is tens of kilobytes, and rmcp
        // moves the handler's future several times per request (into its request task, through
        // its dispatch); moving a pointer instead was a third of the CPU per call (bench/profile.md).
        let result = Box::pin(
            self.call_tool_traced(request, context, &span)
                .instrument(span.clone()),
        )
        .await;
        if result.is_err() {
            telemetry::record_error(&span, "protocol");
        }
        result
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let snapshot = self.upstream_snapshot::<rmcp::model::ListPromptsRequestMethod>()?;
        let (items, next) = page(&snapshot, &snapshot.prompts, request.as_ref())?;
        let mut result = ListPromptsResult::with_all_items(items);
        result.next_cursor = next;
        result.ttl_ms = Some(LIST_TTL_MS);
        result.cache_scope = Some(CacheScope::Private);
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let span = telemetry::request_span("prompts/get", Some(&request.name), &context);
        let snapshot = self.upstream_snapshot::<rmcp::model::GetPromptRequestMethod>()?;
        let Some((target, runtime, upstream_name)) = snapshot.find_prompt(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("Unknown prompt: {}", request.name),
                None,
            ));
        };
        // A 2026-07-28 upstream answers a 2026-07-28 caller's continuation itself.
        let modern = modern_upstream(runtime);
        let round = if is_stateless(&context) && !modern {
            let round = Round::open(
                CallerFeatures::of(context.client_capabilities().as_ref()),
                "prompts/get",
                &request.name,
                request.arguments.as_ref(),
                request.input_responses.as_ref(),
                request.request_state.as_deref(),
            )
            .map_err(|e| e.to_rpc())?;
            Some(Arc::new(round))
        } else {
            None
        };
        let mut params = request.clone();
        params.name = upstream_name.to_string();
        params.meta = None;
        if !modern {
            params.input_responses = None;
            params.request_state = None;
        }
        span.record("toolyard.target", target.name.as_str());
        // Boxed for the reason given in `call_tool`.
        Box::pin(upstream::get_prompt(target, runtime, params, round).instrument(span)).await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let snapshot = self.upstream_snapshot::<rmcp::model::ListResourcesRequestMethod>()?;
        let (items, next) = page(&snapshot, &snapshot.resources, request.as_ref())?;
        let mut result = ListResourcesResult::with_all_items(items);
        result.next_cursor = next;
        result.ttl_ms = Some(LIST_TTL_MS);
        result.cache_scope = Some(CacheScope::Private);
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let snapshot =
            self.upstream_snapshot::<rmcp::model::ListResourceTemplatesRequestMethod>()?;
        let (items, next) = page(&snapshot, &snapshot.resource_templates, request.as_ref())?;
        let mut result = ListResourceTemplatesResult::with_all_items(items);
        result.next_cursor = next;
        result.ttl_ms = Some(LIST_TTL_MS);
        result.cache_scope = Some(CacheScope::Private);
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        // Without the URI in the span: it may carry a query string.
        let span = telemetry::request_span("resources/read", None, &context);
        let snapshot = self.upstream_snapshot::<rmcp::model::ReadResourceRequestMethod>()?;
        let Some((target, runtime)) = snapshot.find_resource(&request.uri) else {
            return Err(upstream::resource_not_found(&request.uri));
        };
        let mut params = request.clone();
        params.meta = None;
        span.record("toolyard.target", target.name.as_str());
        // Boxed for the reason given in `call_tool`.
        Box::pin(upstream::read_resource(target, runtime, params).instrument(span)).await
    }

    /// Accepted so 2025 clients can ask for logs; upstream log messages are relayed to the callers
    /// whose calls produce them (the upstreams decide what to log).
    #[allow(deprecated)]
    async fn set_level(
        &self,
        _request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.upstream_snapshot::<rmcp::model::SetLevelRequestMethod>()
            .map(|_| ())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let snapshot = self.upstream_snapshot::<rmcp::model::SubscribeRequestMethod>()?;
        let Some((target, runtime)) = snapshot.find_resource(&request.uri) else {
            return Err(upstream::resource_not_found(&request.uri));
        };
        Box::pin(upstream::subscribe(target, runtime, request, &context.peer)).await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let snapshot = self.upstream_snapshot::<rmcp::model::UnsubscribeRequestMethod>()?;
        let Some((target, runtime)) = snapshot.find_resource(&request.uri) else {
            return Err(upstream::resource_not_found(&request.uri));
        };
        Box::pin(upstream::unsubscribe(
            target,
            runtime,
            request,
            &context.peer,
        ))
        .await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let snapshot = self.upstream_snapshot::<rmcp::model::CompleteRequestMethod>()?;
        let mut params = request.clone();
        params.meta = None;
        let found = match &mut params.r#ref {
            Reference::Prompt(p) => snapshot.find_prompt(&p.name).map(|(t, r, upstream_name)| {
                p.name = upstream_name.to_string();
                (t, r)
            }),
            Reference::Resource(r) => snapshot.find_resource(&r.uri),
            _ => None,
        };
        match found {
            Some((target, runtime)) => Box::pin(upstream::complete(target, runtime, params)).await,
            // Nothing to complete from: no suggestions (completion is best effort).
            None => {
                let mut empty = CompleteResult::default();
                empty.result_type = Some(rmcp::model::ResultType::COMPLETE);
                Ok(empty)
            }
        }
    }
}

/// Whether the request is of a stateless revision (2026-07-28 or newer): its caller cannot be
/// asked mid-call, so upstream questions become an `InputRequiredResult`.
fn is_stateless(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v.as_str() >= "2026-07-28")
}

/// Whether the target's upstream session is of a stateless revision (2026-07-28 or newer).
fn modern_upstream(runtime: &crate::runtime::TargetRuntime) -> bool {
    runtime
        .upstream
        .as_ref()
        .and_then(|h| h.peer())
        .and_then(|p| {
            p.peer_info()
                .map(|i| i.protocol_version.as_str() >= "2026-07-28")
        })
        .unwrap_or(false)
}

/// Capabilities of a gateway that fronts upstream MCP servers: tools plus the prompts,
/// resources and completions it relays.
fn upstream_capabilities() -> ServerCapabilities {
    let caps = serde_json::json!({
        "tools": {"listChanged": true},
        "prompts": {"listChanged": true},
        "resources": {"listChanged": true, "subscribe": true},
        "completions": {},
        "logging": {}
    });
    serde_json::from_value(caps).unwrap_or_else(|_| {
        ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build()
    })
}

/// One page of a served list (cursor = decimal offset, page size of the gateway).
fn page<T: Clone>(
    snapshot: &Snapshot,
    all: &[T],
    request: Option<&PaginatedRequestParams>,
) -> Result<(Vec<T>, Option<String>), ErrorData> {
    let start = parse_cursor(request.and_then(|r| r.cursor.as_deref()))?;
    let size = snapshot.config.gateway.page_size as usize;
    let items: Vec<T> = all.iter().skip(start).take(size).cloned().collect();
    let next = start + items.len();
    Ok((items, (next < all.len()).then(|| next.to_string())))
}

/// What list-changed notifications compare: the config revision and the fingerprints of what
/// upstreams contribute to each list.
fn lists_version(runtime: &Runtime) -> Option<(String, [u64; 3])> {
    runtime
        .snapshot()
        .map(|s| (s.config.revision.clone(), s.upstream_lists))
}

/// Which of tools, prompts and resources changed between two versions: all three on a new config
/// revision (or the first config), else those whose upstream part changed.
fn changed_lists(
    before: Option<&(String, [u64; 3])>,
    after: Option<&(String, [u64; 3])>,
) -> [bool; 3] {
    match (before, after) {
        (Some((rev_a, a)), Some((rev_b, b))) if rev_a == rev_b => {
            [a[0] != b[0], a[1] != b[1], a[2] != b[2]]
        }
        (None, None) => [false; 3],
        _ => [true; 3],
    }
}

/// The caller's request id and MCP session id, for backends that are told about them.
fn call_context(context: &RequestContext<RoleServer>) -> invoke::CallContext {
    let message_id = match serde_json::to_value(&context.id) {
        Ok(serde_json::Value::String(s)) => Some(s),
        Ok(other) => Some(other.to_string()),
        Err(_) => None,
    };
    let session_id = context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.headers.get("mcp-session-id"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    invoke::CallContext {
        message_id,
        session_id,
        peer: Some(context.peer.clone()),
        progress: context
            .meta
            .get_progress_token()
            .map(|token| (context.peer.clone(), token)),
        round: None,
        passthrough: None,
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
    allowed: Option<&[bool]>,
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
            && allowed.is_none_or(|a| a.get(pos).copied().unwrap_or(false))
    };
    let result = match snapshot.search.as_ref().map(|slot| slot.load_full()) {
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
    let mut last = lists_version(&runtime);
    while changes.changed().await.is_ok() {
        let now = lists_version(&runtime);
        let [tools, prompts, resources] = changed_lists(last.as_ref(), now.as_ref());
        last = now;
        if !(tools || prompts || resources) {
            continue;
        }
        // Prompts and resources exist only with upstreams; other gateways never announce them.
        let with_upstreams = runtime.snapshot().is_some_and(|s| s.has_upstreams());
        let live: Vec<Peer<RoleServer>> = match peers.lock() {
            Ok(mut p) => {
                p.retain(|peer| !peer.is_transport_closed());
                p.clone()
            }
            Err(_) => continue,
        };
        for peer in live {
            if tools {
                let _ = peer.notify_tool_list_changed().await;
            }
            if with_upstreams && prompts {
                let _ = peer.notify_prompt_list_changed().await;
            }
            if with_upstreams && resources {
                let _ = peer.notify_resource_list_changed().await;
            }
        }
    }
}

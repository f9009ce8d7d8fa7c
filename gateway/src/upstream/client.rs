#![allow(deprecated)] // Relays sampling and logging for 2025 clients (2026-07-28 deprecates both).
//! The gateway as an MCP client of one upstream: the rmcp `ClientHandler` (list-changed
//! notifications wake the manager; progress notifications are forwarded to the downstream caller
//! whose call they belong to) and the connection setup over streamable HTTP.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rmcp::ErrorData;
use rmcp::model::{
    ClientCapabilities, ClientConfig, ClientResult, CreateMessageRequest,
    CreateMessageRequestParams, CreateMessageResult, ElicitRequest, ElicitRequestParams,
    ElicitResult, Implementation, InputRequest, ListRootsRequest, ListRootsResult,
    LoggingMessageNotificationParam, ProtocolVersion, ResourceUpdatedNotificationParam,
    ServerRequest,
};
use rmcp::service::RequestContext;
use rmcp::service::{ClientCacheConfig, ClientLifecycleMode, ClientServiceExt};
use rmcp::service::{NotificationContext, Peer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::common::client_side_sse::SseRetryPolicy;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, RoleServer, ServiceExt};
use toolyard_crds::target::McpTransport;

use super::mrtr::{Kind, Round};
use super::progress::Routed;
use super::sse::SseTransport;
use super::{UpstreamError, UpstreamHandle};
use crate::outbound::credentials::ResolvedCredentials;

/// The downstream sessions with a call in flight on this upstream. Server-to-client traffic the
/// upstream sends during a call (log messages, sampling and elicitation requests) goes to them:
/// log messages to each, requests only when exactly one call is in flight, so one caller's
/// question never reaches another caller.
///
/// A finished call stays a log recipient for [`LOG_GRACE`]: rmcp hands notifications to the
/// handler concurrently with the response, so the last log line of a call can arrive after the
/// call has returned.
#[derive(Default)]
pub struct InFlight {
    next: AtomicU64,
    calls: Mutex<HashMap<u64, Call>>,
}

/// Who answers the upstream's questions for a call: a 2025 caller's session (asked directly),
/// or the round of a 2026-07-28 caller's call (asked through an `InputRequiredResult`).
#[derive(Clone)]
pub enum Recipient {
    /// A session of a 2025 revision.
    Session(Peer<RoleServer>),
    /// A 2026-07-28 call (MRTR translation).
    Round(Arc<Round>),
}

/// A caller and, once its call has returned, when.
type Call = (Recipient, Option<Instant>);

/// How long a finished call still receives the upstream's log messages.
const LOG_GRACE: Duration = Duration::from_millis(500);

/// Removes an in-flight entry when the call ends.
pub struct InFlightGuard<'a> {
    inflight: &'a InFlight,
    id: u64,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut c) = self.inflight.calls.lock()
            && let Some(entry) = c.get_mut(&self.id)
        {
            entry.1 = Some(Instant::now());
        }
    }
}

impl InFlight {
    /// Records a call of `peer` until the guard drops.
    pub fn enter(&self, peer: Peer<RoleServer>) -> InFlightGuard<'_> {
        self.enter_as(Recipient::Session(peer))
    }

    /// Records a 2026-07-28 call (its round collects the upstream's questions).
    pub fn enter_round(&self, round: Arc<Round>) -> InFlightGuard<'_> {
        self.enter_as(Recipient::Round(round))
    }

    fn enter_as(&self, recipient: Recipient) -> InFlightGuard<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut c) = self.calls.lock() {
            c.retain(|_, (_, ended)| ended.is_none_or(|t| t.elapsed() < LOG_GRACE));
            c.insert(id, (recipient, None));
        }
        InFlightGuard { inflight: self, id }
    }

    /// Sessions with calls in flight or ended less than [`LOG_GRACE`] ago (log recipients;
    /// 2026-07-28 callers get no relayed logs: they have no stream to receive them on).
    fn recent(&self) -> Vec<Peer<RoleServer>> {
        self.calls
            .lock()
            .map(|c| {
                c.values()
                    .filter(|(_, ended)| ended.is_none_or(|t| t.elapsed() < LOG_GRACE))
                    .filter_map(|(r, _)| match r {
                        Recipient::Session(p) => Some(p.clone()),
                        Recipient::Round(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether no call is in flight.
    fn idle(&self) -> bool {
        self.calls
            .lock()
            .map(|c| c.values().all(|(_, ended)| ended.is_some()))
            .unwrap_or(true)
    }

    /// The caller a server-to-client request belongs to: the only one in flight.
    fn sole(&self, what: &str) -> Result<Recipient, ErrorData> {
        let all: Vec<Recipient> = self
            .calls
            .lock()
            .map(|c| {
                c.values()
                    .filter(|(_, ended)| ended.is_none())
                    .map(|(p, _)| p.clone())
                    .collect()
            })
            .unwrap_or_default();
        match all.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ErrorData::invalid_request(
                format!("{what}: no call is in flight on this gateway session"),
                None,
            )),
            _ => Err(ErrorData::invalid_request(
                format!(
                    "{what}: several calls share this gateway session, so the gateway cannot tell which caller to ask"
                ),
                None,
            )),
        }
    }
}

/// The client side of one upstream session.
#[derive(Clone)]
pub struct UpstreamClient {
    handle: Weak<UpstreamHandle>,
}

impl ClientHandler for UpstreamClient {
    fn get_info(&self) -> ClientConfig {
        // Sampling, elicitation and roots are relayed to the caller (who may refuse them), or
        // turned into an `InputRequiredResult` for a 2026-07-28 caller.
        let capabilities: ClientCapabilities = serde_json::from_value(
            serde_json::json!({"sampling": {}, "elicitation": {"form": {}}, "roots": {}}),
        )
        .unwrap_or_default();
        let mut info = ClientConfig::new(
            capabilities,
            Implementation::new("toolyard-gateway", env!("CARGO_PKG_VERSION")),
        );
        info.client_info.title = Some("Toolyard MCP gateway".into());
        info
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        // A Static target's tools are declared, not listed: nothing to refresh.
        if let Some(h) = self.handle.upgrade()
            && !h.pinned
        {
            h.poke();
        }
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(h) = self.handle.upgrade() {
            h.poke();
        }
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(h) = self.handle.upgrade() {
            h.poke();
        }
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let Some(h) = self.handle.upgrade() else {
            return;
        };
        for peer in h.subscribers_of(&params.uri) {
            let _ = peer.notify_resource_updated(params.clone()).await;
        }
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let Some(h) = self.handle.upgrade() else {
            return;
        };
        for peer in h.inflight.recent() {
            #[allow(deprecated)]
            let _ = peer.notify_logging_message(params.clone()).await;
        }
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        let h = self
            .handle
            .upgrade()
            .ok_or_else(|| ErrorData::internal_error("upstream target removed", None))?;
        let request = CreateMessageRequest::new(params);
        let peer = match h.inflight.sole("sampling/createMessage")? {
            Recipient::Session(peer) => peer,
            Recipient::Round(round) => {
                return round
                    .ask_as(
                        Kind::Sampling,
                        InputRequest::CreateMessage(request),
                        input_key(&context),
                    )
                    .await;
            }
        };
        let request = ServerRequest::CreateMessageRequest(request);
        match relay_to_caller(&h, &peer, request).await? {
            ClientResult::CreateMessageResult(r) => Ok(*r),
            _ => Err(ErrorData::internal_error(
                "the caller answered sampling/createMessage with another result type",
                None,
            )),
        }
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let h = self
            .handle
            .upgrade()
            .ok_or_else(|| ErrorData::internal_error("upstream target removed", None))?;
        let request = ElicitRequest::new(params);
        let peer = match h.inflight.sole("elicitation/create")? {
            Recipient::Session(peer) => peer,
            Recipient::Round(round) => {
                return round
                    .ask_as(
                        Kind::Elicitation,
                        InputRequest::Elicitation(request),
                        input_key(&context),
                    )
                    .await;
            }
        };
        let request = ServerRequest::ElicitRequest(request);
        match relay_to_caller(&h, &peer, request).await? {
            ClientResult::ElicitResult(r) => Ok(r),
            _ => Err(ErrorData::internal_error(
                "the caller answered elicitation/create with another result type",
                None,
            )),
        }
    }

    async fn list_roots(
        &self,
        context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        let h = self
            .handle
            .upgrade()
            .ok_or_else(|| ErrorData::internal_error("upstream target removed", None))?;
        // Servers ask for roots right after connecting (the gateway advertised the capability
        // so that roots can be relayed during calls). Outside a call there is no caller to ask:
        // the gateway's own roots, none, are the answer.
        if h.inflight.idle() {
            return Ok(ListRootsResult::default());
        }
        let peer = match h.inflight.sole("roots/list")? {
            Recipient::Session(peer) => peer,
            Recipient::Round(round) => {
                return round
                    .ask_as(
                        Kind::Roots,
                        InputRequest::ListRoots(ListRootsRequest::default()),
                        input_key(&context),
                    )
                    .await;
            }
        };
        let request = ServerRequest::ListRootsRequest(ListRootsRequest::default());
        match relay_to_caller(&h, &peer, request).await? {
            ClientResult::ListRootsResult(r) => Ok(r),
            _ => Err(ErrorData::internal_error(
                "the caller answered roots/list with another result type",
                None,
            )),
        }
    }
}

/// The key the upstream gave its question (`_meta`, which rmcp moves into the context).
fn input_key(context: &RequestContext<RoleClient>) -> Option<&str> {
    context
        .meta
        .get(super::mrtr::INPUT_KEY_META)
        .and_then(serde_json::Value::as_str)
}

/// How an upstream's broken SSE stream (a call's response stream or the session's standalone
/// stream) is resumed: a few quick attempts, then the stream ends, which fails the call in
/// flight with "connection closed" instead of waiting for its timeout (rmcp's default retries
/// forever with a doubling delay, so a call to a dead upstream hung until the target's timeout).
/// A restarted upstream is back within the attempts only if it kept its sessions; otherwise the
/// call fails and the manager opens a new session.
#[derive(Debug)]
struct BoundedRetry;

/// Attempts to resume a broken stream.
const STREAM_RETRIES: usize = 3;
/// Delay between them (a server's own `retry` hint, if longer, wins; rmcp applies it).
const STREAM_RETRY_DELAY: Duration = Duration::from_millis(200);

impl SseRetryPolicy for BoundedRetry {
    fn retry(&self, attempt: usize) -> Option<Duration> {
        (attempt < STREAM_RETRIES).then_some(STREAM_RETRY_DELAY)
    }
}

/// Longest wait for an answer to `server/discover` before falling back to `initialize`.
const DISCOVER_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a session with the upstream, within the target's timeout (at most 10 s): over
/// streamable HTTP `server/discover` (2026-07-28, stateless) with a fallback to the `initialize`
/// handshake of older revisions; over legacy HTTP+SSE `initialize`. The caller's credentials are never involved: only the target's own.
pub async fn connect(
    handle: &Arc<UpstreamHandle>,
) -> Result<RunningService<RoleClient, UpstreamClient>, UpstreamError> {
    let mut url = handle.url.clone();
    let mut api_key_query: Option<(String, String)> = None;
    let mut headers = reqwest::header::HeaderMap::new();
    match &handle.credentials {
        None => {}
        Some(ResolvedCredentials::ApiKey {
            in_header: true,
            name,
            value,
        }) => {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|e| {
                UpstreamError::Client {
                    target: handle.target.clone(),
                    message: format!("credentials header name: {e}"),
                }
            })?;
            let mut value = reqwest::header::HeaderValue::from_str(&value.0).map_err(|_| {
                UpstreamError::Client {
                    target: handle.target.clone(),
                    message: "the API key is not a valid header value".into(),
                }
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Some(ResolvedCredentials::ApiKey {
            in_header: false,
            name,
            value,
        }) => {
            let encode = |s: &str| {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}{}={}", encode(name), encode(&value.0));
            api_key_query = Some((name.clone(), value.0.clone()));
        }
        Some(ResolvedCredentials::OAuth2(source)) => {
            // The session keeps this header; when the token expires the upstream answers 401,
            // the call fails and the manager reconnects with a fresh token.
            let token = source.token().await.map_err(|e| UpstreamError::Client {
                target: handle.target.clone(),
                message: format!("could not obtain an OAuth2 access token: {e}"),
            })?;
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.0))
                .map_err(|_| UpstreamError::Client {
                    target: handle.target.clone(),
                    message: "the OAuth2 access token is not a valid header value".into(),
                })?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        Some(ResolvedCredentials::AwsSigV4(_)) => {
            return Err(UpstreamError::Client {
                target: handle.target.clone(),
                message: "gatewayIamRole (SigV4) is not supported for MCP server targets; use apiKey or oauth2".into(),
            });
        }
        Some(ResolvedCredentials::Unsupported(message)) => {
            return Err(UpstreamError::Client {
                target: handle.target.clone(),
                message: message.clone(),
            });
        }
    }
    let connect_timeout = handle.timeout.min(std::time::Duration::from_secs(10));
    // reqwest 0.13 is built without a bundled crypto provider: use the process-wide one, ring
    // (the same the in-cluster client uses); installing twice is a harmless no-op error.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("toolyard-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| UpstreamError::Client {
            target: handle.target.clone(),
            message: e.to_string(),
        })?;
    let service = UpstreamClient {
        handle: Arc::downgrade(handle),
    };
    let connect_error = |message: String| UpstreamError::Connect {
        target: handle.target.clone(),
        url: handle.url.clone(),
        message,
    };
    let serving = match handle.transport {
        McpTransport::StreamableHttp => {
            let mut config = StreamableHttpClientTransportConfig::with_uri(url)
                .reinit_on_expired_session(true)
                .control_request_timeout(handle.timeout);
            config.retry_config = Arc::new(BoundedRetry);
            let transport = || {
                Routed::new(
                    StreamableHttpClientTransport::with_client(client.clone(), config.clone()),
                    handle.progress.clone(),
                )
            };
            // 2026-07-28 first (`server/discover`, no session); a server of an older revision
            // refuses it (HTTP 400 without a session, or -32601), and then a fresh transport
            // does the `initialize` handshake.
            let discover = ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            };
            let discover_timeout = connect_timeout.min(DISCOVER_TIMEOUT);
            match tokio::time::timeout(
                discover_timeout,
                service.clone().serve_with_lifecycle(transport(), discover),
            )
            .await
            {
                Ok(Ok(running)) => Ok(Ok(running)),
                Ok(Err(e)) => {
                    tracing::debug!(target_name = %handle.target, error = %e, "server/discover refused; using initialize");
                    tokio::time::timeout(connect_timeout, service.serve(transport())).await
                }
                Err(_) => tokio::time::timeout(connect_timeout, service.serve(transport())).await,
            }
        }
        McpTransport::Sse => {
            let transport =
                SseTransport::connect(client, &handle.url, api_key_query, connect_timeout)
                    .await
                    .map_err(|e| connect_error(handle.redact(e.to_string())))?;
            let transport = Routed::new(transport, handle.progress.clone());
            tokio::time::timeout(connect_timeout, service.serve(transport)).await
        }
    };
    match serving {
        Ok(Ok(running)) => {
            // The manager's catalog is the gateway's list cache. rmcp's per-session response
            // cache would answer a re-list from memory while the `ttlMs` runs, answer a failed
            // one with the stale copy (so a dead upstream would look synced) and cache
            // `resources/read` results that the gateway relays live: off.
            running
                .peer()
                .set_response_cache_config(ClientCacheConfig::disabled())
                .await;
            Ok(running)
        }
        Ok(Err(e)) => Err(connect_error(super::errors::plain(&e.to_string()))),
        Err(_) => Err(connect_error(format!(
            "no answer to initialize within {} ms",
            connect_timeout.as_millis()
        ))),
    }
}

/// Sends an upstream's server-to-client request to the caller, within the target's timeout; the
/// caller's JSON-RPC error goes back to the upstream unchanged.
pub(crate) async fn relay_to_caller(
    handle: &UpstreamHandle,
    peer: &Peer<RoleServer>,
    request: ServerRequest,
) -> Result<ClientResult, ErrorData> {
    match tokio::time::timeout(handle.timeout, peer.send_request(request)).await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(rmcp::service::ServiceError::McpError(e))) => Err(e),
        Ok(Err(e)) => Err(ErrorData::internal_error(
            format!("the gateway could not ask its caller: {e}"),
            None,
        )),
        Err(_) => Err(ErrorData::internal_error(
            format!(
                "the caller did not answer within {} ms",
                handle.timeout.as_millis()
            ),
            None,
        )),
    }
}

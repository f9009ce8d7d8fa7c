//! Upstream MCP servers (`mcpServer` targets): one manager task per target keeps a connection
//! (rmcp's streamable-HTTP client), lists the upstream's tools, prompts, resources and resource
//! templates, and re-lists them when their `ttlMs` runs out (bounded by `syncInterval`, see
//! [`refresh`]), on `notifications/*/list_changed` and after a reconnect. A `Static` target's
//! tools are declared in its spec and never listed. The last good catalog stays served while the
//! upstream is unreachable; calls then fail fast with a tool error instead of waiting.
//!
//! The gateway's catalog is the only list cache: rmcp's own client response cache is switched off
//! for upstream sessions (see [`client::connect`]), so a re-list always reaches the upstream and
//! a failed one is reported as failed instead of being answered with a stale copy.
//!
//! The served [`Snapshot`](crate::runtime::Snapshot) is immutable, so a catalog change does not
//! edit it: the manager records the new catalog here and wakes the runtime's refresher, which
//! rebuilds the snapshot from the last applied config plus the current catalogs and bumps the
//! generation (so `list_changed` reaches clients). Bursts of changes coalesce into one rebuild.

pub mod catalog;
pub mod client;
pub mod errors;
pub mod listing;
pub mod manager;
pub mod meta;
pub mod mrtr;
pub mod progress;
pub mod refresh;
pub mod sse;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};
use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};
use rmcp::service::Peer;
use rmcp::{RoleClient, RoleServer};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use toolyard_crds::config::{Endpoint, GatewayConfig, TargetConfig};
use toolyard_crds::target::{ListingMode, McpTransport};

use crate::outbound::credentials::{CredentialsError, ResolvedCredentials, resolve_credentials};
use toolyard_compile::manifests::SecretValues;

pub use client::InFlight;
pub use progress::ProgressRoutes;

/// Why talking to an upstream failed. Messages name the target and say what to check.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The HTTP client could not be built (bad credential header value).
    #[error("upstream {target}: cannot build the HTTP client: {message}")]
    Client {
        /// Target name.
        target: String,
        /// Reason.
        message: String,
    },
    /// Connecting or the handshake failed.
    #[error(
        "upstream {target} ({url}) is unreachable: {message}; check that the server runs, that the URL and transport of the target are right and that the gateway can reach it"
    )]
    Connect {
        /// Target name.
        target: String,
        /// Upstream URL.
        url: String,
        /// Reason.
        message: String,
    },
    /// A request took longer than the target's timeout.
    #[error("upstream {target}: {what} did not answer within {timeout_ms} ms")]
    Timeout {
        /// Target name.
        target: String,
        /// Which request.
        what: String,
        /// The limit.
        timeout_ms: u64,
    },
    /// A request failed.
    #[error("upstream {target}: {what} failed: {message}")]
    Request {
        /// Target name.
        target: String,
        /// Which request.
        what: String,
        /// Reason.
        message: String,
    },
}

/// What an upstream offers, as last listed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    /// Tools (empty for a pinned tool schema: those come from the config).
    pub tools: Vec<Tool>,
    /// Prompts.
    pub prompts: Vec<Prompt>,
    /// Resources.
    pub resources: Vec<Resource>,
    /// Resource templates.
    pub templates: Vec<ResourceTemplate>,
}

/// An upstream's health, for `/readyz`, metrics and (later) the target's status.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamStatus {
    /// GatewayTarget name.
    pub target: String,
    /// Upstream URL (credentials are never part of it: query keys are added per request).
    pub url: String,
    /// `Cached` (the upstream's tools are listed and cached) or `Static` (declared in the spec;
    /// `tools/list` is never sent).
    pub listing_mode: ListingMode,
    /// Whether the upstream announces list changes on this session (it declared `listChanged`
    /// and the session has a stream for notifications: revisions before 2026-07-28).
    pub list_changed_notifications: bool,
    /// The freshness hint of the last good sync: the shortest `ttlMs` of its lists (absent when
    /// no list carried one; 0 is treated as no hint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// What set the time of the next sync: `ttl`, `ttlFloor` or `syncInterval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_basis: Option<refresh::RefreshBasis>,
    /// Milliseconds from the last good sync to the next one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_after_ms: Option<u64>,
    /// When the next sync is due (RFC 3339, UTC); absent while disconnected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_refresh: Option<String>,
    /// Whether a session with the upstream is open.
    pub connected: bool,
    /// The MCP revision negotiated with the upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// When the last successful sync finished (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_synchronized: Option<String>,
    /// The last sync or connection error; cleared by a successful sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_error: Option<String>,
    /// Successful syncs.
    pub syncs: u64,
    /// Failed syncs and connection attempts.
    pub failures: u64,
    /// Listed items of the last good catalog.
    pub tools: usize,
    /// Prompts listed.
    pub prompts: usize,
    /// Resources listed.
    pub resources: usize,
    /// Resource templates listed.
    pub resource_templates: usize,
}

impl Default for UpstreamStatus {
    fn default() -> Self {
        Self::new("", "", ListingMode::Cached)
    }
}

impl UpstreamStatus {
    /// The status of a target that has not connected yet.
    fn new(target: &str, url: &str, listing_mode: ListingMode) -> Self {
        Self {
            target: target.to_string(),
            url: url.to_string(),
            listing_mode,
            list_changed_notifications: false,
            ttl_ms: None,
            refresh_basis: None,
            refresh_after_ms: None,
            next_refresh: None,
            connected: false,
            protocol_version: None,
            last_synchronized: None,
            last_sync_error: None,
            syncs: 0,
            failures: 0,
            tools: 0,
            prompts: 0,
            resources: 0,
            resource_templates: 0,
        }
    }
}

/// One upstream target's shared state: its settings, the manager's catalog and status, and the
/// open session calls use.
pub struct UpstreamHandle {
    /// GatewayTarget name.
    pub target: String,
    /// Connection settings (URL, transport, timeout, credential hash): a change means a new
    /// handle and a new session.
    pub key: String,
    url: String,
    transport: McpTransport,
    /// Whether the tool list is pinned (only prompts/resources are listed then).
    pub pinned: bool,
    sync_interval: Duration,
    /// Per-request time limit.
    pub timeout: Duration,
    credentials: Option<ResolvedCredentials>,
    catalog: ArcSwap<Catalog>,
    status: Mutex<UpstreamStatus>,
    /// The open session's peer; `None` while disconnected (calls fail fast then).
    peer: ArcSwapOption<Peer<RoleClient>>,
    /// Wakes the manager: sync now (list_changed, a failed call, a config change).
    wake: Notify,
    /// Tells the manager to stop.
    stop: tokio::sync::watch::Sender<bool>,
    /// Wakes the runtime's refresher when the catalog changed.
    changed: Arc<Notify>,
    /// Upstream progress token → the downstream request to forward progress to.
    pub progress: Arc<ProgressRoutes>,
    /// Downstream sessions with a call in flight (log, sampling and elicitation relay).
    pub inflight: InFlight,
    /// Resource URI → downstream sessions subscribed to its updates.
    subscribers: Mutex<HashMap<String, Vec<Peer<RoleServer>>>>,
}

impl std::fmt::Debug for UpstreamHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamHandle")
            .field("target", &self.target)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl UpstreamHandle {
    /// The last good catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// The upstream URL (never with a query-parameter credential: that is added per connection).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The open session, if any.
    pub fn peer(&self) -> Option<Arc<Peer<RoleClient>>> {
        self.peer.load_full()
    }

    /// A copy of the status.
    pub fn status(&self) -> UpstreamStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| UpstreamStatus::new(&self.target, &self.url, self.listing_mode()))
    }

    /// Where this target's tools come from.
    pub fn listing_mode(&self) -> ListingMode {
        if self.pinned {
            ListingMode::Static
        } else {
            ListingMode::Cached
        }
    }

    /// The last error, for messages of calls that fail while disconnected.
    pub fn last_error(&self) -> Option<String> {
        self.status
            .lock()
            .ok()
            .and_then(|s| s.last_sync_error.clone())
    }

    /// Adds (`true`) or removes a downstream session's subscription to a resource URI; returns
    /// whether the upstream must be told (first subscriber / last one gone).
    pub fn set_subscribed(&self, uri: &str, peer: &Peer<RoleServer>, on: bool) -> bool {
        let Ok(mut subs) = self.subscribers.lock() else {
            return false;
        };
        let list = subs.entry(uri.to_string()).or_default();
        list.retain(|p| !p.is_transport_closed());
        let was_empty = list.is_empty();
        if on {
            list.push(peer.clone());
            was_empty
        } else {
            // Peers have no identity to compare, so a session's unsubscribe drops one entry.
            list.pop();
            let now_empty = list.is_empty();
            if now_empty {
                subs.remove(uri);
            }
            !was_empty && now_empty
        }
    }

    /// The live sessions subscribed to `uri`.
    pub fn subscribers_of(&self, uri: &str) -> Vec<Peer<RoleServer>> {
        self.subscribers
            .lock()
            .ok()
            .and_then(|s| s.get(uri).cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !p.is_transport_closed())
            .collect()
    }

    /// Asks the manager to re-list (or reconnect) now.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    fn set_connected(&self, peer: Option<Peer<RoleClient>>) {
        let info = peer.as_ref().and_then(|p| p.peer_info());
        let version = info.as_ref().map(|i| i.protocol_version.to_string());
        // A 2026-07-28 server sends list changes only on `subscriptions/listen` streams, which
        // the gateway does not open (its ttl-driven re-lists do not depend on them).
        let list_changed = info.as_ref().is_some_and(|i| {
            i.capabilities
                .tools
                .as_ref()
                .is_some_and(|t| t.list_changed == Some(true))
                && i.protocol_version.to_string().as_str() < "2026-07-28"
        });
        let connected = peer.is_some();
        self.peer.store(peer.map(Arc::new));
        if let Ok(mut s) = self.status.lock() {
            s.connected = connected;
            if connected {
                s.protocol_version = version;
                s.list_changed_notifications = list_changed;
            } else {
                s.next_refresh = None;
            }
        }
    }

    /// Records when the next sync is due and why.
    fn record_refresh(&self, ttl_ms: Option<u64>, refresh: refresh::Refresh) {
        if let Ok(mut s) = self.status.lock() {
            s.ttl_ms = ttl_ms;
            s.refresh_basis = Some(refresh.basis);
            s.refresh_after_ms = Some(refresh.after.as_millis() as u64);
            s.next_refresh = Some(rfc3339(SystemTime::now() + refresh.after));
        }
    }

    fn record_error(&self, error: &UpstreamError) {
        let message = self.redact(error.to_string());
        tracing::warn!(target_name = %self.target, error = %message, "upstream sync failed");
        if let Ok(mut s) = self.status.lock() {
            s.failures += 1;
            s.last_sync_error = Some(message);
        }
    }

    /// Removes the target's credential value from a message (an API key sent as a query
    /// parameter is part of the URL, which transport errors may quote).
    pub fn redact(&self, message: String) -> String {
        match &self.credentials {
            Some(ResolvedCredentials::ApiKey { value, .. }) if !value.0.is_empty() => {
                let encoded = percent_encoding::utf8_percent_encode(
                    &value.0,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string();
                message
                    .replace(&encoded, "<redacted>")
                    .replace(&value.0, "<redacted>")
            }
            _ => message,
        }
    }

    /// Stores a freshly listed catalog; wakes the refresher only when it differs.
    fn record_catalog(&self, catalog: Catalog) {
        if let Ok(mut s) = self.status.lock() {
            s.syncs += 1;
            s.last_sync_error = None;
            s.last_synchronized = Some(rfc3339(SystemTime::now()));
            s.tools = catalog.tools.len();
            s.prompts = catalog.prompts.len();
            s.resources = catalog.resources.len();
            s.resource_templates = catalog.templates.len();
        }
        if *self.catalog.load_full() != catalog {
            self.catalog.store(Arc::new(catalog));
            self.changed.notify_one();
        }
    }
}

/// Seconds since the epoch → `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, no date crate needed).
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// The handles of one config: target name → handle.
pub type Handles = HashMap<String, Arc<UpstreamHandle>>;

/// All upstream handles of the running gateway.
#[derive(Default)]
pub struct Upstreams {
    handles: Mutex<Handles>,
    /// Shared with every handle: a catalog changed.
    pub changed: Arc<Notify>,
}

impl Upstreams {
    /// The handles the config needs: existing ones whose connection settings are unchanged, new
    /// ones otherwise. Nothing starts or stops until [`Upstreams::commit`], so a refused config
    /// leaves the running upstreams alone.
    pub fn prepare(
        &self,
        config: &GatewayConfig,
        secrets: &SecretValues,
    ) -> Result<Handles, CredentialsError> {
        let current = self.current();
        let mut out = Handles::new();
        for target in &config.targets {
            let Endpoint::Mcp {
                url,
                transport,
                sync_interval_ms,
                pinned,
                ..
            } = &target.endpoint
            else {
                continue;
            };
            let credentials = resolve_credentials(target, secrets, None)?;
            let key = handle_key(target, credentials.as_ref());
            let handle = match current.get(&target.name) {
                Some(h) if h.key == key => h.clone(),
                _ => Arc::new(UpstreamHandle {
                    target: target.name.clone(),
                    key,
                    url: url.clone(),
                    transport: *transport,
                    pinned: *pinned,
                    sync_interval: Duration::from_millis((*sync_interval_ms).max(1_000)),
                    timeout: Duration::from_millis(target.timeout_ms.max(100)),
                    credentials,
                    catalog: ArcSwap::default(),
                    status: Mutex::new(UpstreamStatus::new(
                        &target.name,
                        url,
                        if *pinned {
                            ListingMode::Static
                        } else {
                            ListingMode::Cached
                        },
                    )),
                    peer: ArcSwapOption::default(),
                    wake: Notify::new(),
                    stop: tokio::sync::watch::Sender::new(false),
                    changed: self.changed.clone(),
                    progress: Arc::default(),
                    inflight: InFlight::default(),
                    subscribers: Mutex::default(),
                }),
            };
            out.insert(target.name.clone(), handle);
        }
        Ok(out)
    }

    /// Makes `handles` the running set: stops managers no longer needed, starts the new ones
    /// (when called inside a Tokio runtime; unit tests without one get no connections).
    pub fn commit(&self, handles: &Handles) {
        let Ok(mut current) = self.handles.lock() else {
            return;
        };
        for (name, old) in current.iter() {
            if handles.get(name).is_none_or(|h| !Arc::ptr_eq(h, old)) {
                old.stop.send_replace(true);
            }
        }
        let runtime = tokio::runtime::Handle::try_current().ok();
        for (name, new) in handles {
            let started = current.get(name).is_some_and(|h| Arc::ptr_eq(h, new));
            if !started && let Some(rt) = &runtime {
                rt.spawn(manager::run(new.clone()));
            }
        }
        *current = handles.clone();
    }

    /// The running handles.
    pub fn current(&self) -> Handles {
        self.handles.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// Every upstream's status, by target name.
    pub fn statuses(&self) -> Vec<UpstreamStatus> {
        let mut out: Vec<UpstreamStatus> = self.current().values().map(|h| h.status()).collect();
        out.sort_by(|a, b| a.target.cmp(&b.target));
        out
    }

    /// Stops every manager (shutdown).
    pub fn stop_all(&self) {
        for h in self.current().values() {
            h.stop.send_replace(true);
        }
    }
}

/// The settings whose change needs a new session. The credential enters as a hash only.
fn handle_key(target: &TargetConfig, credentials: Option<&ResolvedCredentials>) -> String {
    let mut hasher = Sha256::new();
    if let Some(c) = credentials {
        hasher.update(format!("{c:?}").as_bytes());
        if let ResolvedCredentials::ApiKey { value, .. } = c {
            hasher.update(value.0.as_bytes());
        }
    }
    format!(
        "{:?}|{}|{}",
        target.endpoint,
        target.timeout_ms,
        hex::encode(&hasher.finalize()[..8])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Runtime;

    const MANIFESTS: &str = r#"
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: gw}
spec:
  inboundAuth: {none: {}}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: alpha}
spec:
  gatewayRef: {name: gw}
  mcpServer: {url: "http://127.0.0.1:9/mcp"}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: beta}
spec:
  gatewayRef: {name: gw}
  mcpServer: {url: "http://127.0.0.1:10/mcp", prefix: Never}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: gamma}
spec:
  gatewayRef: {name: gw}
  mcpServer: {url: "http://127.0.0.1:11/mcp", prefix: Never}
"#;

    fn tool(name: &str) -> Tool {
        Tool::new(name.to_string(), "d", Arc::default())
    }

    fn resource(uri: &str) -> Resource {
        Resource::new(uri, uri)
    }

    fn template(uri_template: &str) -> ResourceTemplate {
        ResourceTemplate::new(uri_template, "t")
    }

    /// A runtime over three upstream targets (no Tokio runtime: no sessions are opened).
    fn runtime() -> Arc<Runtime> {
        let dir = std::env::temp_dir().join(format!(
            "toolyard-upstream-test-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("gw.yaml"), MANIFESTS).unwrap();
        let (config, secrets, _) = crate::source::watch::load(&dir, None).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let runtime = Runtime::new();
        runtime.apply(config, &secrets).unwrap();
        runtime
    }

    #[test]
    fn synced_catalogs_become_part_of_the_served_snapshot() {
        let runtime = runtime();
        let first = runtime.snapshot().unwrap();
        assert!(first.tools.is_empty(), "nothing synced yet");
        assert!(first.has_upstreams());
        let handles = runtime.upstreams.current();
        assert_eq!(handles.len(), 3);
        handles["alpha"].record_catalog(Catalog {
            tools: vec![tool("echo"), tool("sum")],
            prompts: vec![Prompt::new("greet", None::<String>, None)],
            resources: vec![resource("alpha://doc")],
            templates: vec![template("alpha://items/{id}")],
        });
        handles["beta"].record_catalog(Catalog {
            tools: vec![tool("echo"), tool("beta_only")],
            resources: vec![resource("beta://x")],
            ..Catalog::default()
        });
        handles["gamma"].record_catalog(Catalog {
            tools: vec![tool("echo"), tool("gamma_only")],
            ..Catalog::default()
        });
        let generation = runtime.refresh_upstreams().unwrap();
        let snap = runtime.snapshot().unwrap();
        assert_eq!(snap.generation, generation);
        assert!(generation > first.generation);
        assert_eq!(snap.config.revision, first.config.revision);
        let names: Vec<&str> = snap.tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "alpha___echo",
                "alpha___sum",
                "beta_only",
                "echo",
                "gamma_only"
            ]
        );
        // beta (earlier in config order) keeps `echo`; gamma's is reported, not served twice.
        let found = snap.find("echo").unwrap();
        assert_eq!(found.target.name, "beta");
        assert_eq!(
            found.tool.call,
            toolyard_crds::config::CallPlan::Mcp {
                upstream_name: "echo".into()
            }
        );
        assert!(found.runtime.upstream.is_some());
        assert_eq!(
            snap.upstream_skipped.len(),
            1,
            "{:?}",
            snap.upstream_skipped
        );
        assert!(snap.upstream_skipped[0].contains("gamma: upstream tool \"echo\""));
        assert!(snap.upstream_skipped[0].contains("already used by beta"));
        // Prompts get the prefix; resources keep their URIs and route to their upstream.
        assert_eq!(snap.prompts[0].name, "alpha___greet");
        let (target, _, upstream_name) = snap.find_prompt("alpha___greet").unwrap();
        assert_eq!((target.name.as_str(), upstream_name), ("alpha", "greet"));
        assert_eq!(snap.find_resource("beta://x").unwrap().0.name, "beta");
        assert_eq!(
            snap.find_resource("alpha://items/7").unwrap().0.name,
            "alpha"
        );
        assert!(snap.find_resource("zeta://unknown").is_none());
        assert_ne!(snap.upstream_lists, first.upstream_lists);
    }

    #[test]
    fn an_unchanged_catalog_does_not_rebuild_and_a_reload_keeps_sessions() {
        let runtime = runtime();
        let handles = runtime.upstreams.current();
        let catalog = Catalog {
            tools: vec![tool("x")],
            ..Catalog::default()
        };
        handles["alpha"].record_catalog(catalog.clone());
        let before = handles["alpha"].catalog();
        handles["alpha"].record_catalog(catalog);
        assert!(
            Arc::ptr_eq(&before, &handles["alpha"].catalog()),
            "same catalog stored again"
        );
        assert_eq!(handles["alpha"].status().syncs, 2);
        // Re-applying the same config keeps the handles (and their sessions and catalogs).
        let snapshot = runtime.snapshot().unwrap();
        let mut config = snapshot.config.clone();
        for t in &mut config.targets {
            t.tools.clear();
        }
        runtime.apply(config, &Default::default()).unwrap();
        let again = runtime.upstreams.current();
        assert!(Arc::ptr_eq(&handles["alpha"], &again["alpha"]));
        assert!(runtime.snapshot().unwrap().find("alpha___x").is_some());
    }

    #[test]
    fn formats_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        assert_eq!(rfc3339(t), "2025-11-24T16:00:00Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}

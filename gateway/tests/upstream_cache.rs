//! The gateway's list cache of upstream MCP servers against an in-process rmcp upstream whose
//! `tools/list` carries a `ttlMs` and can be made to fail:
//! - a tool added upstream without any notification is served once the ttl (floored at 5 s) ran out;
//! - a failing re-list is reported as a failed sync while the last good tools stay served (rmcp's
//!   own client cache would have answered it with its stale copy, hiding the outage);
//! - a `Static` target never sends `tools/list` and serves its declared tools.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
mod support;

use toolyard_gateway::admin::Metrics;
use toolyard_gateway::runtime::Runtime;
use toolyard_gateway::source::watch;
use toolyard_gateway::upstream::UpstreamStatus;

/// The upstream's mutable state, shared with the test.
#[derive(Default)]
struct State {
    tools: Mutex<Vec<String>>,
    lists: AtomicUsize,
    calls: AtomicUsize,
    fail_lists: AtomicBool,
}

#[derive(Clone)]
struct Upstream {
    state: Arc<State>,
    ttl_ms: u64,
}

impl ServerHandler for Upstream {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.state.lists.fetch_add(1, Ordering::SeqCst);
        if self.state.fail_lists.load(Ordering::SeqCst) {
            return Err(ErrorData::internal_error("the tool registry is down", None));
        }
        let tools = self
            .state
            .tools
            .lock()
            .map_err(|_| ErrorData::internal_error("poisoned", None))?
            .iter()
            .map(|n| Tool::new(n.clone(), "a test tool", Arc::default()))
            .collect();
        Ok(ListToolsResult::with_all_items(tools).with_ttl_ms(self.ttl_ms))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.state.calls.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResponse::Complete(CallToolResult::success(vec![
            ContentBlock::text(format!("called {}", request.name)),
        ])))
    }
}

async fn serve_upstream(ttl_ms: u64, tools: &[&str]) -> anyhow::Result<(Arc<State>, SocketAddr)> {
    let state = Arc::new(State::default());
    *state
        .tools
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))? = tools.iter().map(|t| t.to_string()).collect();
    let handler = Upstream {
        state: state.clone(),
        ttl_ms,
    };
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().disable_allowed_hosts(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((state, addr))
}

fn config_dir(yaml: &str) -> anyhow::Result<PathBuf> {
    support::config_dir("upstream-cache", "front", yaml)
}

fn gateway(cached: SocketAddr, pinned: SocketAddr) -> anyhow::Result<Arc<Runtime>> {
    let yaml = format!(
        r#"apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {{name: front}}
spec:
  inboundAuth: {{none: {{}}}}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {{name: cached}}
spec:
  gatewayRef: {{name: front}}
  mcpServer: {{url: "http://{cached}/mcp", syncInterval: 10m}}
  timeout: 5s
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {{name: pinned}}
spec:
  gatewayRef: {{name: front}}
  mcpServer:
    url: "http://{pinned}/mcp"
    syncInterval: 10m
    toolSchema:
      inline:
        - {{name: declared, inputSchema: {{type: object}}}}
  timeout: 5s
"#
    );
    let dir = config_dir(&yaml)?;
    let runtime = Runtime::new();
    watch::reload_once(&runtime, &Arc::new(Metrics::default()), &dir, None)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(runtime)
}

fn status(runtime: &Runtime, target: &str) -> UpstreamStatus {
    runtime
        .upstreams
        .statuses()
        .into_iter()
        .find(|s| s.target == target)
        .unwrap_or_default()
}

fn served(runtime: &Runtime) -> Vec<String> {
    runtime
        .snapshot()
        .map(|s| s.tools.iter().map(|t| t.name.to_string()).collect())
        .unwrap_or_default()
}

async fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_follow_the_ttl_failures_show_and_static_targets_are_never_listed()
-> anyhow::Result<()> {
    // ttlMs 1000 is below the floor: re-lists every 5 s.
    let (cached, cached_addr) = serve_upstream(1_000, &["alpha"]).await?;
    let (pinned, pinned_addr) = serve_upstream(1_000, &["declared", "undeclared"]).await?;
    // Inside a Tokio runtime the gateway rebuilds its snapshot by itself when a catalog changes.
    let runtime = gateway(cached_addr, pinned_addr)?;

    wait_for("the first syncs", Duration::from_secs(20), || {
        status(&runtime, "cached").syncs > 0 && status(&runtime, "pinned").syncs > 0
    })
    .await;
    let first = status(&runtime, "cached");
    // The page's own ttlMs (below the 5 s floor, so the floor decides).
    assert_eq!(first.ttl_ms, Some(1_000), "{first:?}");
    assert_eq!(
        first.refresh_basis,
        Some(toolyard_gateway::upstream::refresh::RefreshBasis::TtlFloor)
    );
    assert_eq!(first.refresh_after_ms, Some(5_000), "{first:?}");
    wait_for("alpha served", Duration::from_secs(5), || {
        served(&runtime).contains(&"cached___alpha".to_string())
    })
    .await;

    // A tool added without any notification appears after the floored ttl, not at syncInterval.
    cached
        .tools
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .push("beta".into());
    let added = Instant::now();
    wait_for("beta served", Duration::from_secs(10), || {
        served(&runtime).contains(&"cached___beta".to_string())
    })
    .await;
    let took = added.elapsed();
    assert!(took <= Duration::from_millis(5_500), "{took:?}");

    // The upstream's listing breaks: the sync fails visibly, the last good tools stay served.
    let failures = status(&runtime, "cached").failures;
    cached.fail_lists.store(true, Ordering::SeqCst);
    wait_for("a failed sync", Duration::from_secs(15), || {
        status(&runtime, "cached").failures > failures
    })
    .await;
    let broken = status(&runtime, "cached");
    let error = broken.last_sync_error.clone().unwrap_or_default();
    assert!(error.contains("tools/list"), "{broken:?}");
    assert!(error.contains("the tool registry is down"), "{broken:?}");
    assert!(served(&runtime).contains(&"cached___beta".to_string()));

    // The Static target: declared tools only, never a tools/list, calls still reach the upstream.
    let names = served(&runtime);
    assert!(
        names.contains(&"pinned___declared".to_string()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("undeclared")), "{names:?}");
    assert_eq!(pinned.lists.load(Ordering::SeqCst), 0);
    let pinned_status = status(&runtime, "pinned");
    assert_eq!(
        pinned_status.listing_mode,
        toolyard_crds::target::ListingMode::Static
    );
    assert!(pinned_status.connected, "{pinned_status:?}");
    let peer = runtime.upstreams.current()["pinned"]
        .peer()
        .ok_or_else(|| anyhow::anyhow!("pinned is not connected"))?;
    peer.call_tool(CallToolRequestParams::new("declared"))
        .await?;
    assert_eq!(pinned.calls.load(Ordering::SeqCst), 1);
    assert_eq!(pinned.lists.load(Ordering::SeqCst), 0);
    Ok(())
}

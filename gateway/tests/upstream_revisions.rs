//! Upstream MCP servers of both eras, connected the way their revision asks: a gateway serving
//! MCP 2026-07-28 (rmcp's stateless server) is reached with `server/discover`; a gateway limited
//! to 2025-11-25 refuses `server/discover` and is reached with the `initialize` fallback. Three
//! real gateways in one process (runtime + HTTP router each, on loopback ports); the front one
//! fronts the other two as `mcpServer` targets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use toolyard_gateway::admin::Metrics;
use toolyard_gateway::runtime::Runtime;
use toolyard_gateway::source::watch;

fn config_dir(name: &str, yaml: &str) -> anyhow::Result<PathBuf> {
    support::config_dir("upstream-revisions", name, yaml)
}

/// A gateway on `dir`'s manifests, serving MCP on a loopback port.
async fn serve(dir: &Path) -> anyhow::Result<(Arc<Runtime>, SocketAddr)> {
    let runtime = Runtime::new();
    let metrics = Arc::new(Metrics::default());
    watch::reload_once(&runtime, &metrics, dir, None)?;
    let sessions = toolyard_gateway::mcp::session::SignedSessions::new(
        toolyard_gateway::mcp::session::SessionKey::generate()?,
    );
    let app = toolyard_gateway::mcp::http::router(runtime.clone(), metrics, 4 << 20, sessions);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((runtime, addr))
}

fn upstream(name: &str, versions: &str) -> String {
    format!(
        r#"apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {{name: {name}}}
spec:
  inboundAuth: {{none: {{}}}}
  mcp: {{supportedVersions: {versions}}}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {{name: orders}}
spec:
  gatewayRef: {{name: {name}}}
  lambda:
    functionArn: arn:aws:lambda:us-east-1:123456789012:function:orders
    toolSchema:
      inline:
        - name: get_order_tool
          description: Get an order by id.
          inputSchema: {{type: object, properties: {{orderId: {{type: string}}}}}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_for_2026_upstreams_and_initialize_for_older_ones() -> anyhow::Result<()> {
    let modern_dir = config_dir(
        "modern",
        &upstream("modern", r#"["2025-11-25", "2026-07-28"]"#),
    )?;
    let (_modern_rt, modern) = serve(&modern_dir).await?;
    let legacy_dir = config_dir("legacy", &upstream("legacy", r#"["2025-11-25"]"#))?;
    let (_legacy_rt, legacy) = serve(&legacy_dir).await?;
    let front = format!(
        r#"apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {{name: front}}
spec:
  inboundAuth: {{none: {{}}}}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {{name: modern}}
spec:
  gatewayRef: {{name: front}}
  mcpServer: {{url: "http://{modern}/mcp"}}
  timeout: 5s
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {{name: legacy}}
spec:
  gatewayRef: {{name: front}}
  mcpServer: {{url: "http://{legacy}/mcp"}}
  timeout: 5s
"#
    );
    let (front_rt, _front) = serve(&config_dir("front", &front)?).await?;

    let deadline = Instant::now() + Duration::from_secs(30);
    let statuses = loop {
        let statuses = front_rt.upstreams.statuses();
        if statuses.len() == 2 && statuses.iter().all(|s| s.syncs > 0) {
            break statuses;
        }
        assert!(
            Instant::now() < deadline,
            "upstreams did not sync: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let by_name = |n: &str| {
        statuses
            .iter()
            .find(|s| s.target == n)
            .unwrap_or_else(|| panic!("no status for {n}"))
            .clone()
    };
    let modern_status = by_name("modern");
    assert_eq!(
        modern_status.protocol_version.as_deref(),
        Some("2026-07-28"),
        "{modern_status:?}"
    );
    assert_eq!(modern_status.tools, 1, "{modern_status:?}");
    let legacy_status = by_name("legacy");
    assert_eq!(
        legacy_status.protocol_version.as_deref(),
        Some("2025-11-25"),
        "{legacy_status:?}"
    );
    assert_eq!(legacy_status.tools, 1, "{legacy_status:?}");

    // Both catalogs are served by the front gateway.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let names: Vec<String> = front_rt
            .snapshot()
            .map(|s| s.tools.iter().map(|t| t.name.to_string()).collect())
            .unwrap_or_default();
        if names.contains(&"modern___orders___get_order_tool".to_string())
            && names.contains(&"legacy___orders___get_order_tool".to_string())
        {
            break;
        }
        assert!(Instant::now() < deadline, "front gateway lists {names:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

//! Cluster suite: an `mcpServer` target's sync results reach its GatewayTarget status.
//!
//! The gateway runs as a local process in in-cluster mode (the test cluster has no kubelet),
//! with a token of its own ServiceAccount, and reports its sync results next to the revision it
//! serves; the operator turns them into `lastSynchronized`, `lastSyncError` and the
//! `Synchronized` condition. The live upstream is a real MCP server: a second gateway process in
//! standalone mode serving a small Lambda tool schema (tools/list needs no backend).
//!
//! Run with `bash tests/run.sh cluster` (or `tests/cluster/cluster.sh run -- cargo test -p
//! toolyard-e2e --test cluster_upstream_status -- --ignored`).

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use toolyard_crds::GatewayTarget;
use toolyard_e2e::{
    LocalProcess, TestNamespace, WAIT, apply, client, free_port, install_crds,
    kubeconfig_for_token, kubectl_ok, mcp_tool_names, ready_gateway_pod, start_operator, wait_for,
    workspace_binary,
};

/// The API key of the target: it must never show up in status or annotations.
const API_KEY: &str = "k3y-never-in-status-8c1f";

fn objects(upstream_url: &str) -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
            "metadata": {"name": "sync"},
            "spec": {"inboundAuth": {"none": {}}, "security": {"allowedDomains": ["127.0.0.1"]}},
        }),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "up-key"}, "stringData": {"key": API_KEY}}),
        target(upstream_url),
    ]
}

/// The mcpServer target, with its API key sent as a query parameter (so it is part of the URL
/// the transport may quote in errors).
fn target(url: &str) -> Value {
    json!({
        "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
        "metadata": {"name": "up"},
        "spec": {
            "gatewayRef": {"name": "sync"},
            "mcpServer": {"url": url},
            "credentials": {"apiKey": {
                "secretRef": {"name": "up-key", "key": "key"},
                "location": "QueryParameter", "parameterName": "key",
            }},
            "timeout": "3s",
        },
    })
}

/// A standalone gateway serving one Lambda tool: the live upstream.
fn start_upstream() -> Result<(LocalProcess, String)> {
    let dir = std::env::temp_dir().join(toolyard_e2e::unique_name("upstream-config"));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("gateway.yaml"),
        r#"apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: live}
spec:
  inboundAuth: {none: {}}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: orders}
spec:
  gatewayRef: {name: live}
  lambda:
    functionArn: arn:aws:lambda:us-east-1:123456789012:function:orders
    toolSchema:
      inline:
        - name: get_order_tool
          description: Get an order by id.
          inputSchema: {type: object, properties: {orderId: {type: string}}}
"#,
    )?;
    let (port, admin) = (free_port()?, free_port()?);
    let addr = format!("127.0.0.1:{port}");
    let process = LocalProcess::start(
        "live-upstream",
        &workspace_binary("toolyard-gateway")?,
        &[
            "--config",
            &dir.to_string_lossy(),
            "--listen",
            &addr,
            "--admin-listen",
            &format!("127.0.0.1:{admin}"),
        ],
        &[("RUST_LOG", "info")],
    )?;
    Ok((process, addr))
}

/// The in-cluster gateway of Gateway `sync`, reporting as replica `pod` (the Deployment's pod,
/// marked Ready).
fn start_gateway(ns: &str, kubeconfig: &str, pod: &str) -> Result<(LocalProcess, String)> {
    let (port, admin) = (free_port()?, free_port()?);
    let addr = format!("127.0.0.1:{port}");
    let process = LocalProcess::start(
        "sync-gateway",
        &workspace_binary("toolyard-gateway")?,
        &[
            "--kube-config-map",
            "sync-toolyard-config",
            "--kube-secret",
            "sync-toolyard-credentials",
            "--namespace",
            ns,
            "--listen",
            &addr,
            "--admin-listen",
            &format!("127.0.0.1:{admin}"),
        ],
        &[
            ("KUBECONFIG", kubeconfig),
            ("POD_NAME", pod),
            ("RUST_LOG", "info"),
        ],
    )?;
    Ok((process, addr))
}

/// Waits until target `up` has a `Synchronized` condition with `status` and `reason`; returns
/// the target.
async fn wait_synchronized(
    client: &Client,
    ns: &str,
    status: &str,
    reason: &str,
) -> Result<GatewayTarget> {
    let api: Api<GatewayTarget> = Api::namespaced(client.clone(), ns);
    wait_for(
        &format!("Synchronized={status} ({reason})"),
        WAIT,
        || async {
            let t = api.get("up").await?;
            let hit = t.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Synchronized" && c.status == status && c.reason == reason)
            });
            Ok(hit.then_some(t))
        },
    )
    .await
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn mcp_server_sync_results_reach_the_target_status() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "upstream-status").await?;
    let ns = namespace.name.clone();
    let operator = start_operator(
        &ns,
        "operator-upstream-status",
        "info,toolyard_operator=debug",
    )?;

    // Nothing listens on this port: the upstream is unreachable.
    let dead_url = format!("http://127.0.0.1:{}/mcp", free_port()?);
    for obj in objects(&dead_url) {
        apply(&client, &obj, Some(&ns)).await?;
    }
    let token = wait_for("the gateway's ServiceAccount", WAIT, || async {
        Ok(kubectl_ok(&[
            "create",
            "token",
            "sync-toolyard",
            "-n",
            &ns,
            "--duration",
            "1h",
        ])
        .ok())
    })
    .await
    .with_context(|| operator.log_tail())?;
    let kubeconfig = kubeconfig_for_token(token.trim(), &ns)?;
    let pod = ready_gateway_pod(&client, &ns, "sync").await?;
    let (gateway, _addr) = start_gateway(&ns, &kubeconfig.to_string_lossy(), &pod)?;

    let failed = wait_synchronized(&client, &ns, "False", "SyncFailed")
        .await
        .with_context(|| format!("{}\n{}", gateway.log_tail(), operator.log_tail()))?;
    let status = failed.status.context("no status")?;
    let error = status.last_sync_error.clone().unwrap_or_default();
    assert!(error.contains("unreachable"), "{error}");
    assert!(error.contains("up"), "the error names the target: {error}");
    let condition = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Synchronized")
        .context("no Synchronized condition")?;
    assert!(
        condition.message.contains("unreachable"),
        "{}",
        condition.message
    );
    assert!(
        !serde_json::to_string(&status)?.contains(API_KEY),
        "the API key leaked into the status: {status:?}"
    );

    // The same target pointed at a live upstream: synchronized, error gone.
    let (upstream, upstream_addr) = start_upstream()?;
    wait_for("the live upstream to serve", WAIT, || async {
        upstream.check_running()?;
        Ok(mcp_tool_names(&upstream_addr)
            .await
            .ok()
            .filter(|n| !n.is_empty())
            .map(|_| ()))
    })
    .await?;
    apply(
        &client,
        &target(&format!("http://{upstream_addr}/mcp")),
        Some(&ns),
    )
    .await?;
    let synced = wait_synchronized(&client, &ns, "True", "Synchronized")
        .await
        .with_context(|| format!("{}\n{}", gateway.log_tail(), operator.log_tail()))?;
    let status = synced.status.context("no status")?;
    assert!(status.last_synchronized.is_some(), "{status:?}");
    assert_eq!(status.last_sync_error, None, "{status:?}");
    // No toolSchema: the tools are discovered and cached.
    assert_eq!(
        status.listing_mode,
        Some(toolyard_crds::target::ListingMode::Cached),
        "{status:?}"
    );

    // The report on the ConfigMap: one replica, JSON per target, no credential.
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .get("sync-toolyard-config")
        .await?;
    let report = cm
        .annotations()
        .get(&format!("sync.toolyard.dev/{pod}"))
        .context("no sync report annotation")?;
    let parsed: Value = serde_json::from_str(report)?;
    assert!(parsed["up"]["lastSynchronized"].is_string(), "{parsed}");
    assert!(!report.contains(API_KEY), "{report}");
    assert!(
        cm.annotations()
            .contains_key(&format!("served.toolyard.dev/{pod}")),
        "the served revision is still reported"
    );

    gateway.check_running()?;
    operator.check_running()?;
    Ok(())
}

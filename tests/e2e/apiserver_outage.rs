//! Cluster suite: the API server goes away and comes back.
//!
//! A gateway process watches its ConfigMap and Secret through the real kube-apiserver (in-cluster
//! mode, the ServiceAccount token the operator's Role is bound to). The test stops the API server
//! and etcd (`tests/cluster/cluster.sh stop-apiserver --etcd`): the gateway must keep serving its
//! last config (`tools/list` and `tools/call` against a local backend succeed throughout). Then
//! the control plane restarts on the same ports and data, a target changes, and the gateway must
//! catch up (the new tool is listed and callable) without a restart.
//!
//! Run with `bash tests/run.sh cluster` (or `tests/cluster/cluster.sh run -- cargo test -p
//! toolyard-e2e --test cluster_apiserver_outage -- --ignored`).

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use toolyard_e2e::{
    LocalProcess, RecordingBackend, TestNamespace, WAIT, apply, client, free_port, install_crds,
    kubeconfig_for_token, kubectl_ok, mcp_tool_call, mcp_tool_names, repo_root, start_operator,
    tool_result_text, wait_for, workspace_binary,
};

const SPEC: &str = "openapi: 3.0.3\ninfo: {title: Echo, version: '1'}\npaths:\n  /echo:\n    get:\n      operationId: echo\n      responses:\n        '200': {description: OK, content: {application/json: {schema: {type: object}}}}\n  /other:\n    get:\n      operationId: other\n      responses:\n        '200': {description: OK, content: {application/json: {schema: {type: object}}}}\n";

fn target(name: &str, backend: &str) -> Value {
    json!({
        "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
        "metadata": {"name": name},
        "spec": {
            "gatewayRef": {"name": "outage"},
            "openApi": {
                "schema": {"configMapRef": {"name": "echo-api", "key": "openapi.yaml"}},
                "baseUrl": format!("http://{backend}"),
            },
            "timeout": "5s",
        },
    })
}

/// `tests/cluster/cluster.sh <args>` against the cluster of this test run (TESTCLUSTER_DIR).
fn cluster_sh(args: &[&str]) -> Result<()> {
    let out = Command::new("bash")
        .arg(repo_root().join("tests/cluster/cluster.sh"))
        .args(args)
        .output()
        .context("running tests/cluster/cluster.sh")?;
    if !out.status.success() {
        bail!(
            "cluster.sh {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Puts the control plane back if the test fails while it is stopped (later tests share it).
struct Restart(bool);

impl Drop for Restart {
    fn drop(&mut self) {
        if self.0 {
            let _ = cluster_sh(&["start-apiserver"]);
        }
    }
}

/// Calls `name` and checks the backend answered (`{"ok":true}`).
async fn call_ok(addr: &str, name: &str) -> Result<()> {
    let result = mcp_tool_call(addr, name, json!({})).await?;
    ensure!(
        result["isError"] != json!(true) && tool_result_text(&result).contains("\"ok\""),
        "{name}: {result}"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn gateway_serves_its_last_config_while_the_api_server_is_down() -> Result<()> {
    std::env::var("TESTCLUSTER_DIR")
        .context("TESTCLUSTER_DIR is not set: run this under tests/cluster/cluster.sh run")?;
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "outage").await?;
    let ns = namespace.name.clone();
    let backend = RecordingBackend::start().await?;
    let operator = start_operator(&ns, "operator-outage", "info")?;
    apply(
        &client,
        &json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
            "metadata": {"name": "outage"},
            "spec": {"inboundAuth": {"none": {}}, "security": {"allowedDomains": ["127.0.0.1"]}},
        }),
        Some(&ns),
    )
    .await?;
    apply(
        &client,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "echo-api"}, "data": {"openapi.yaml": SPEC}}),
        Some(&ns),
    )
    .await?;
    apply(&client, &target("first", &backend.addr), Some(&ns)).await?;
    wait_for("the gateway's ServiceAccount", WAIT, || async {
        Ok(
            kubectl_ok(&["get", "serviceaccount", "outage-toolyard", "-n", &ns])
                .ok()
                .map(|_| ()),
        )
    })
    .await
    .with_context(|| operator.log_tail())?;
    let token = kubectl_ok(&[
        "create",
        "token",
        "outage-toolyard",
        "-n",
        &ns,
        "--duration",
        "1h",
    ])?;
    let kubeconfig = kubeconfig_for_token(token.trim(), &ns)?;
    let kubeconfig = kubeconfig.to_string_lossy().into_owned();
    let addr = format!("127.0.0.1:{}", free_port()?);
    let gateway = LocalProcess::start(
        "gateway-outage",
        &workspace_binary("toolyard-gateway")?,
        &[
            "--kube-config-map",
            "outage-toolyard-config",
            "--kube-secret",
            "outage-toolyard-credentials",
            "--namespace",
            &ns,
            "--listen",
            &addr,
            "--admin-listen",
            &format!("127.0.0.1:{}", free_port()?),
        ],
        &[
            ("KUBECONFIG", kubeconfig.as_str()),
            ("POD_NAME", "gateway-outage"),
            ("RUST_LOG", "info"),
        ],
    )?;
    wait_for("the gateway to serve first___echo", WAIT, || async {
        gateway.check_running()?;
        Ok(mcp_tool_names(&addr)
            .await
            .ok()
            .filter(|names| names.iter().any(|n| n == "first___echo"))
            .map(|_| ()))
    })
    .await
    .with_context(|| gateway.log_tail())?;
    call_ok(&addr, "first___echo").await?;

    // The control plane goes away (API server and etcd).
    cluster_sh(&["stop-apiserver", "--etcd"])?;
    let mut restart = Restart(true);
    // Long enough for the watches to fail and retry several times.
    let outage = std::time::Instant::now();
    let mut calls = 0;
    while outage.elapsed() < Duration::from_secs(15) {
        gateway.check_running()?;
        let names = mcp_tool_names(&addr)
            .await
            .with_context(|| gateway.log_tail())?;
        ensure!(
            names.iter().any(|n| n == "first___echo"),
            "the last config is not served during the outage: {names:?}"
        );
        call_ok(&addr, "first___echo")
            .await
            .with_context(|| gateway.log_tail())?;
        calls += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ensure!(calls >= 10, "only {calls} calls during the outage");
    println!(
        "API server down for {:.1} s: {calls} list + call rounds served from the last config",
        outage.elapsed().as_secs_f64()
    );

    // Back: a change made afterwards reaches the gateway without a restart. The operator exits
    // when it cannot renew its Lease for 15 s (its Deployment restarts it); start it again.
    cluster_sh(&["start-apiserver"])?;
    restart.0 = false;
    drop(operator);
    let operator = start_operator(&ns, "operator-outage", "info")?;
    let client = toolyard_e2e::client().await?;
    apply(&client, &target("second", &backend.addr), Some(&ns)).await?;
    let back = std::time::Instant::now();
    wait_for(
        "the gateway to catch up (second___other listed)",
        Duration::from_secs(120),
        || async {
            gateway.check_running()?;
            Ok(mcp_tool_names(&addr)
                .await
                .ok()
                .filter(|names| names.iter().any(|n| n == "second___other"))
                .map(|_| ()))
        },
    )
    .await
    .with_context(|| format!("{}\n{}", gateway.log_tail(), operator.log_tail()))?;
    println!(
        "caught up {:.1} s after the change was applied",
        back.elapsed().as_secs_f64()
    );
    call_ok(&addr, "second___other").await?;
    call_ok(&addr, "first___echo").await?;
    gateway.check_running()?;
    operator.check_running()?;
    Ok(())
}

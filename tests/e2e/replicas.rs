//! Cluster suite: `Programmed` counts every ready gateway replica, and needs one.
//!
//! A Gateway with two replicas. The test cluster has no kubelet, so the Deployment's pods stay
//! Pending; the test marks them Running and Ready (or not) through the status subresource (as a
//! kubelet would after its readiness probe) and runs one local gateway process per pod, each with
//! `POD_NAME` set to its pod and the gateway's own ServiceAccount token, so each reports the
//! revision it serves under its own annotation.
//!
//! Run with `bash tests/run.sh cluster` (or `tests/cluster/cluster.sh run -- cargo test -p
//! toolyard-e2e --test cluster_replicas -- --ignored`).

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DeleteParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use toolyard_crds::Gateway;
use toolyard_e2e::{
    LocalProcess, TestNamespace, WAIT, apply, client, free_port, gateway_pods, install_crds,
    kubeconfig_for_token, kubectl_ok, mark_pod, mcp_tool_names, start_operator, wait_for,
    workspace_binary,
};

const CONFIG_MAP: &str = "rep-toolyard-config";
const SERVED_PREFIX: &str = "served.toolyard.dev/";

fn gateway() -> Value {
    json!({
        "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
        "metadata": {"name": "rep"},
        "spec": {"inboundAuth": {"none": {}}, "deployment": {"replicas": 2}},
    })
}

/// A Lambda target (no backend needed: only tools/list matters here); `description` changes the
/// compiled revision.
fn target(description: &str) -> Value {
    json!({
        "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
        "metadata": {"name": "orders"},
        "spec": {
            "gatewayRef": {"name": "rep"},
            "description": description,
            "lambda": {
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders",
                "toolSchema": {"inline": [
                    {"name": "get_order_tool", "inputSchema": {"type": "object", "properties": {"orderId": {"type": "string"}}}},
                ]},
            },
        },
    })
}

fn programmed(g: &Gateway) -> Option<&Condition> {
    g.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Programmed")
}

/// Waits until the Gateway's `Programmed` condition has `status` and a message containing
/// `text`; returns the message.
async fn wait_programmed(client: &Client, ns: &str, status: &str, text: &str) -> Result<String> {
    let api: Api<Gateway> = Api::namespaced(client.clone(), ns);
    let what = format!("Programmed={status} with {text:?}");
    wait_for(&what, WAIT, || async {
        let g = api.get("rep").await?;
        Ok(programmed(&g)
            .filter(|c| c.status == status && c.message.contains(text))
            .map(|c| c.message.clone()))
    })
    .await
}

/// The `served.toolyard.dev/*` annotations of the config ConfigMap, by replica.
async fn reports(client: &Client, ns: &str) -> Result<Vec<(String, String)>> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get(CONFIG_MAP)
        .await?;
    Ok(cm
        .annotations()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(SERVED_PREFIX)?.to_string(), v.clone())))
        .collect())
}

/// A local gateway process reporting as pod `pod`.
fn start_gateway(ns: &str, pod: &str, kubeconfig: &str) -> Result<(LocalProcess, String)> {
    let (port, admin) = (free_port()?, free_port()?);
    let addr = format!("127.0.0.1:{port}");
    let process = LocalProcess::start(
        pod,
        &workspace_binary("toolyard-gateway")?,
        &[
            "--kube-config-map",
            CONFIG_MAP,
            "--kube-secret",
            "rep-toolyard-credentials",
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

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn programmed_counts_every_ready_replica() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "replicas").await?;
    let ns = namespace.name.clone();
    let operator = start_operator(&ns, "operator-replicas", "info,toolyard_operator=debug")?;
    apply(&client, &gateway(), Some(&ns)).await?;
    apply(&client, &target("v1"), Some(&ns)).await?;

    // The Deployment's two pods (created by kube-controller-manager, Pending without a kubelet).
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let names = gateway_pods(&client, &ns, "rep", 2)
        .await
        .with_context(|| operator.log_tail())?;
    let (pod_a, pod_b) = (names[0].clone(), names[1].clone());

    let token = kubectl_ok(&[
        "create",
        "token",
        "rep-toolyard",
        "-n",
        &ns,
        "--duration",
        "1h",
    ])?;
    let kubeconfig = kubeconfig_for_token(token.trim(), &ns)?;
    let kubeconfig = kubeconfig.to_string_lossy().into_owned();

    // Replica A serves the config while its pod is not ready yet (Pending, then Running with
    // a failing readiness probe): no traffic reaches it, so not programmed.
    let (gw_a, addr_a) = start_gateway(&ns, &pod_a, &kubeconfig)?;
    wait_for("replica A to serve", WAIT, || async {
        gw_a.check_running()?;
        Ok((!mcp_tool_names(&addr_a).await?.is_empty()).then_some(()))
    })
    .await
    .with_context(|| gw_a.log_tail())?;
    wait_for("replica A's report", WAIT, || async {
        Ok(reports(&client, &ns)
            .await?
            .iter()
            .any(|(k, _)| *k == pod_a)
            .then_some(()))
    })
    .await?;
    let message = wait_programmed(&client, &ns, "False", "to be ready").await?;
    assert!(message.contains("2 not ready"), "{message}");
    mark_pod(&client, &ns, &pod_a, false).await?;
    mark_pod(&client, &ns, &pod_b, false).await?;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    wait_programmed(&client, &ns, "False", "to be ready").await?;

    // Both ready, one serves: pending, naming the other.
    for pod in &names {
        mark_pod(&client, &ns, pod, true).await?;
    }
    wait_programmed(
        &client,
        &ns,
        "False",
        "1 of 2 ready replicas serve config revision",
    )
    .await?;
    let message = wait_programmed(&client, &ns, "False", &pod_b).await?;
    assert!(
        message.contains(&format!("waiting for {pod_b}")),
        "{message}"
    );

    // Both serve: programmed.
    let (gw_b, _addr_b) = start_gateway(&ns, &pod_b, &kubeconfig)?;
    wait_programmed(&client, &ns, "True", "all 2 ready replicas serve")
        .await
        .with_context(|| gw_b.log_tail())?;
    let r = reports(&client, &ns).await?;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0].1, r[1].1, "{r:?}");

    // Replica B stops; a new revision is served by A only: pending while B's pod is ready.
    gw_b.terminate(std::time::Duration::from_secs(10))?;
    apply(&client, &target("v2"), Some(&ns)).await?;
    let message = wait_programmed(&client, &ns, "False", "1 of 2 ready replicas").await?;
    assert!(
        message.contains(&format!("waiting for {pod_b}")),
        "{message}"
    );

    // B's pod fails its readiness probe: it takes no traffic, A is every ready replica.
    mark_pod(&client, &ns, &pod_b, false).await?;
    let message = wait_programmed(&client, &ns, "True", "all 1 ready replicas serve").await?;
    assert!(message.contains("1 pod(s) not ready"), "{message}");

    // B's pod goes away (its replacement is Pending): still programmed, and B's stale report is
    // removed.
    pods.delete(&pod_b, &DeleteParams::default().grace_period(0))
        .await?;
    wait_for("the gone pod's report to be removed", WAIT, || async {
        let r = reports(&client, &ns).await?;
        Ok((!r.iter().any(|(k, _)| *k == pod_b)).then_some(()))
    })
    .await?;
    wait_programmed(&client, &ns, "True", "all 1 ready replicas serve").await?;

    // A's pod is deleted too: nothing ready is left, whatever A's process still reports.
    pods.delete(&pod_a, &DeleteParams::default().grace_period(0))
        .await?;
    wait_programmed(&client, &ns, "False", "to be ready").await?;
    gw_a.check_running()?;
    operator.check_running()?;
    Ok(())
}

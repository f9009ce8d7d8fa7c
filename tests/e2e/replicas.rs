//! Cluster suite: `Programmed` counts every running gateway replica.
//!
//! A Gateway with two replicas. The test cluster has no kubelet, so the Deployment's pods stay
//! Pending; the test marks them Running through the status subresource (as a kubelet would) and
//! runs one local gateway process per pod, each with `POD_NAME` set to its pod and the gateway's
//! own ServiceAccount token, so each reports the revision it serves under its own annotation.
//!
//! Run with `bash tests/run.sh cluster` (or `tests/cluster/cluster.sh run -- cargo test -p
//! toolyard-e2e --test cluster_replicas -- --ignored`).

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use toolyard_crds::Gateway;
use toolyard_e2e::{
    LocalProcess, TestNamespace, WAIT, apply, client, free_port, install_crds,
    kubeconfig_for_token, kubectl_ok, mcp_tool_names, start_operator, wait_for, workspace_binary,
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

/// Marks a pod Running, as its kubelet would.
async fn mark_running(pods: &Api<Pod>, name: &str) -> Result<()> {
    pods.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running"}})),
    )
    .await
    .with_context(|| format!("marking pod {name} Running"))?;
    Ok(())
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
async fn programmed_counts_every_running_replica() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "replicas").await?;
    let ns = namespace.name.clone();
    let operator = start_operator(&ns, "operator-replicas", "info,toolyard_operator=debug")?;
    apply(&client, &gateway(), Some(&ns)).await?;
    apply(&client, &target("v1"), Some(&ns)).await?;

    // The Deployment's two pods (created by kube-controller-manager, Pending without a kubelet).
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let selector = "app.kubernetes.io/name=toolyard-gateway,app.kubernetes.io/instance=rep";
    let names = wait_for("the Deployment's 2 pods", WAIT, || async {
        let mut names: Vec<String> = pods
            .list(&ListParams::default().labels(selector))
            .await?
            .items
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        names.sort();
        Ok((names.len() == 2).then_some(names))
    })
    .await
    .with_context(|| operator.log_tail())?;
    let (pod_a, pod_b) = (names[0].clone(), names[1].clone());
    for pod in &names {
        mark_running(&pods, pod).await?;
    }

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

    // One replica serves: pending, naming the other.
    let (gw_a, addr_a) = start_gateway(&ns, &pod_a, &kubeconfig)?;
    wait_for("replica A to serve", WAIT, || async {
        gw_a.check_running()?;
        Ok((!mcp_tool_names(&addr_a).await?.is_empty()).then_some(()))
    })
    .await
    .with_context(|| gw_a.log_tail())?;
    wait_programmed(
        &client,
        &ns,
        "False",
        "1 of 2 running replicas serve config revision",
    )
    .await?;
    let message = wait_programmed(&client, &ns, "False", &pod_b).await?;
    assert!(
        message.contains(&format!("waiting for {pod_b}")),
        "{message}"
    );

    // Both serve: programmed.
    let (gw_b, _addr_b) = start_gateway(&ns, &pod_b, &kubeconfig)?;
    wait_programmed(&client, &ns, "True", "all 2 running replicas serve")
        .await
        .with_context(|| gw_b.log_tail())?;
    let r = reports(&client, &ns).await?;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0].1, r[1].1, "{r:?}");

    // Replica B stops; a new revision is served by A only.
    gw_b.terminate(std::time::Duration::from_secs(10))?;
    apply(&client, &target("v2"), Some(&ns)).await?;
    let message = wait_programmed(&client, &ns, "False", "1 of 2 running replicas").await?;
    assert!(
        message.contains(&format!("waiting for {pod_b}")),
        "{message}"
    );

    // B's pod goes away (its replacement is Pending): A is every running replica again, and
    // B's stale report is removed.
    pods.delete(&pod_b, &DeleteParams::default().grace_period(0))
        .await?;
    wait_programmed(&client, &ns, "True", "all 1 running replicas serve").await?;
    wait_for("the gone pod's report to be removed", WAIT, || async {
        let r = reports(&client, &ns).await?;
        Ok((!r.iter().any(|(k, _)| *k == pod_b)).then_some(()))
    })
    .await?;
    gw_a.check_running()?;
    operator.check_running()?;
    Ok(())
}

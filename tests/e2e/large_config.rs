//! Cluster suite: a catalog too large for one ConfigMap even gzipped.
//!
//! Four OpenAPI targets whose operations carry poorly compressible descriptions compile to a
//! config of about 2 MB gzipped, which the operator splits into parts (`<config>-1`, `-2`, …)
//! behind a manifest. A local gateway process with the gateway's own ServiceAccount token (so
//! its Role's access to the part names is really exercised) serves every tool; shrinking the
//! catalog again removes the parts.
//!
//! Run with `bash tests/run.sh cluster` (or `tests/cluster/cluster.sh run -- cargo test -p
//! toolyard-e2e --test cluster_large_config -- --ignored`).

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use toolyard_crds::Gateway;
use toolyard_e2e::{
    LocalProcess, TestNamespace, WAIT, apply, client, free_port, install_crds,
    kubeconfig_for_token, kubectl_ok, mcp_tool_names, ready_gateway_pod, start_operator, wait_for,
    workspace_binary,
};

const TARGETS: usize = 4;
const OPERATIONS: usize = 200;

/// Deterministic hex noise (gzip gets it to about half its size, no better).
fn noise(seed: u64, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 16);
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while out.len() < bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(&format!("{state:016x}"));
    }
    out
}

/// An OpenAPI document with `OPERATIONS` GET operations, each with a 3.5 KB description.
fn spec(target: usize) -> String {
    let mut paths = serde_json::Map::new();
    for op in 0..OPERATIONS {
        paths.insert(
            format!("/t{target}/op{op}"),
            json!({"get": {
                "operationId": format!("op{op}"),
                "description": noise((target * 1000 + op) as u64, 3500),
                "responses": {"200": {"description": "ok"}},
            }}),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": format!("big {target}"), "version": "1"},
        "paths": paths,
    })
    .to_string()
}

fn target(i: usize) -> Value {
    json!({
        "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
        "metadata": {"name": format!("big{i}")},
        "spec": {
            "gatewayRef": {"name": "big"},
            "openApi": {
                "schema": {"configMapRef": {"name": format!("big{i}-api"), "key": "openapi.json"}},
                "baseUrl": "http://127.0.0.1:9",
            },
        },
    })
}

/// Names of the config's part ConfigMaps.
async fn part_names(client: &Client, ns: &str) -> Result<Vec<String>> {
    let mut names: Vec<String> = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .list_metadata(&ListParams::default().labels("toolyard.dev/gateway=big"))
        .await?
        .items
        .iter()
        .map(ResourceExt::name_any)
        .filter(|n| n.starts_with("big-toolyard-config-"))
        .collect();
    names.sort();
    Ok(names)
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn configs_larger_than_a_config_map_are_split_into_parts() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "large").await?;
    let ns = namespace.name.clone();
    let operator = start_operator(&ns, "operator-large", "info,toolyard_operator=debug")?;
    apply(
        &client,
        &json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
            "metadata": {"name": "big"},
            "spec": {"inboundAuth": {"none": {}}},
        }),
        Some(&ns),
    )
    .await?;
    for i in 0..TARGETS {
        apply(
            &client,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("big{i}-api")},
                    "data": {"openapi.json": spec(i)}}),
            Some(&ns),
        )
        .await?;
        apply(&client, &target(i), Some(&ns)).await?;
    }

    let gateways: Api<Gateway> = Api::namespaced(client.clone(), &ns);
    wait_for("the Gateway to count every tool", WAIT, || async {
        let g = gateways.get("big").await?;
        Ok((g.status.and_then(|s| s.tools) == Some((TARGETS * OPERATIONS) as i32)).then_some(()))
    })
    .await
    .with_context(|| operator.log_tail())?;
    let parts = part_names(&client, &ns).await?;
    assert!(parts.len() >= 2, "expected the config in parts: {parts:?}");
    let main = Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .get("big-toolyard-config")
        .await?;
    assert!(
        main.data
            .as_ref()
            .is_some_and(|d| d.contains_key("config.shards.json")),
        "no manifest in the main ConfigMap"
    );

    // The gateway, as its own ServiceAccount, assembles the parts and serves every tool.
    let token = kubectl_ok(&[
        "create",
        "token",
        "big-toolyard",
        "-n",
        &ns,
        "--duration",
        "1h",
    ])?;
    let kubeconfig = kubeconfig_for_token(token.trim(), &ns)?;
    let kubeconfig = kubeconfig.to_string_lossy().into_owned();
    // It runs as the Deployment's pod, marked Ready (no kubelet): `Programmed` counts ready pods.
    let pod = ready_gateway_pod(&client, &ns, "big").await?;
    let (port, admin) = (free_port()?, free_port()?);
    let addr = format!("127.0.0.1:{port}");
    let gateway = LocalProcess::start(
        "gateway-large",
        &workspace_binary("toolyard-gateway")?,
        &[
            "--kube-config-map",
            "big-toolyard-config",
            "--kube-secret",
            "big-toolyard-credentials",
            "--namespace",
            &ns,
            "--listen",
            &addr,
            "--admin-listen",
            &format!("127.0.0.1:{admin}"),
        ],
        &[
            ("KUBECONFIG", kubeconfig.as_str()),
            ("POD_NAME", pod.as_str()),
            ("RUST_LOG", "info"),
        ],
    )?;
    let names = wait_for("every tool through the gateway", WAIT, || async {
        gateway.check_running()?;
        let names = mcp_tool_names(&addr).await?;
        Ok((names.len() == TARGETS * OPERATIONS).then_some(names))
    })
    .await
    .with_context(|| gateway.log_tail())?;
    assert!(
        names.iter().any(|n| n == "big3___op199"),
        "{:?}",
        &names[..5]
    );
    wait_for("Programmed", WAIT, || async {
        let g = gateways.get("big").await?;
        Ok(g.status
            .as_ref()
            .is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Programmed" && c.status == "True")
            })
            .then_some(()))
    })
    .await?;

    // Back under the limit: one ConfigMap again, the parts are deleted, the gateway follows.
    for i in 1..TARGETS {
        kubectl_ok(&["delete", "gatewaytarget", &format!("big{i}"), "-n", &ns])?;
    }
    wait_for("the parts to be deleted", WAIT, || async {
        Ok(part_names(&client, &ns).await?.is_empty().then_some(()))
    })
    .await
    .with_context(|| operator.log_tail())?;
    wait_for("the gateway to serve one target", WAIT, || async {
        let names = mcp_tool_names(&addr).await?;
        Ok((names.len() == OPERATIONS).then_some(()))
    })
    .await
    .with_context(|| gateway.log_tail())?;
    operator.check_running()?;
    Ok(())
}

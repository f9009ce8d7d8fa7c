//! Cluster suite: what goes wrong with gateway pods shows up in the Gateway's status, and a
//! Gateway applied before the operator runs converges once it starts.
//!
//! The test cluster has no kubelet, so the test writes the container states a kubelet reports
//! (image pull failures, a crash loop) into the pods' status subresource, and the operator (a
//! local process) must turn them into the Gateway's `Programmed` and `Ready` conditions: the
//! kubelet's reason, the pod and the container, without `kubectl describe`.
//!
//! Run with `tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e --test cluster_pod_status
//! -- --ignored`.

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::Api;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use toolyard_crds::Gateway;
use toolyard_e2e::{
    TestNamespace, WAIT, apply, client, gateway_pods, install_crds, set_pod_status, start_operator,
    wait_for,
};

fn gateway(name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
        "metadata": {"name": name},
        "spec": {
            "inboundAuth": {"none": {}},
            "deployment": {"image": image, "imagePullPolicy": "IfNotPresent"},
        },
    })
}

fn target(gateway: &str) -> Value {
    json!({
        "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
        "metadata": {"name": format!("{gateway}-orders")},
        "spec": {
            "gatewayRef": {"name": gateway},
            "lambda": {
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders",
                "toolSchema": {"inline": [
                    {"name": "get_order_tool", "inputSchema": {"type": "object", "properties": {"orderId": {"type": "string"}}}},
                ]},
            },
        },
    })
}

/// Waits until Gateway `name`'s conditions `Programmed` and `Ready` are both False with
/// `reason`; returns `Programmed`.
async fn wait_reason(client: &Client, ns: &str, name: &str, reason: &str) -> Result<Condition> {
    let api: Api<Gateway> = Api::namespaced(client.clone(), ns);
    wait_for(
        &format!("Gateway {name}: Programmed and Ready False with {reason}"),
        WAIT,
        || async {
            let g = api.get(name).await?;
            let conditions = g.status.map(|s| s.conditions).unwrap_or_default();
            let find = |t: &str| {
                conditions
                    .iter()
                    .find(|c| c.type_ == t && c.status == "False" && c.reason == reason)
                    .cloned()
            };
            Ok(find("Ready").and(find("Programmed")))
        },
    )
    .await
}

/// A container status as the kubelet writes it, waiting with `reason` and `message`.
fn waiting(image: &str, reason: &str, message: &str, restarts: i32, last: Value) -> Value {
    json!({
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
        ],
        "containerStatuses": [{
            "name": "gateway", "image": image, "imageID": "", "ready": false, "started": false,
            "restartCount": restarts,
            "state": {"waiting": {"reason": reason, "message": message}},
            "lastState": last,
        }],
    })
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn pod_faults_reach_the_gateway_status() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "pod-faults").await?;
    let ns = namespace.name.clone();
    let operator = start_operator(&ns, "operator-pod-faults", "info,toolyard_operator=debug")?;
    let image = "registry.invalid/toolyard-gateway:missing";
    apply(&client, &gateway("faulty", image), Some(&ns)).await?;
    apply(&client, &target("faulty"), Some(&ns)).await?;
    let pod = gateway_pods(&client, &ns, "faulty", 1)
        .await
        .with_context(|| operator.log_tail())?
        .remove(0);

    // Nothing reported yet: Pending.
    wait_reason(&client, &ns, "faulty", "Pending")
        .await
        .with_context(|| operator.log_tail())?;

    // The image cannot be pulled.
    let pull_message = format!("Back-off pulling image \"{image}\"");
    set_pod_status(
        &client,
        &ns,
        &pod,
        waiting(image, "ImagePullBackOff", &pull_message, 0, json!({})),
    )
    .await?;
    let c = wait_reason(&client, &ns, "faulty", "ImagePullBackOff").await?;
    for part in [pod.as_str(), "container gateway", pull_message.as_str()] {
        assert!(c.message.contains(part), "{part:?} missing: {}", c.message);
    }

    // `imagePullPolicy: Never` and the image not on the node.
    set_pod_status(
        &client,
        &ns,
        &pod,
        waiting(
            image,
            "ErrImageNeverPull",
            "Container image is not present with pull policy of Never",
            0,
            json!({}),
        ),
    )
    .await?;
    let c = wait_reason(&client, &ns, "faulty", "ErrImageNeverPull").await?;
    assert!(c.message.contains(&pod), "{}", c.message);

    // The container starts and keeps exiting.
    set_pod_status(
        &client,
        &ns,
        &pod,
        waiting(
            image,
            "CrashLoopBackOff",
            "back-off 40s restarting failed container=gateway",
            4,
            json!({"terminated": {"reason": "Error", "exitCode": 2}}),
        ),
    )
    .await?;
    let c = wait_reason(&client, &ns, "faulty", "CrashLoopBackOff").await?;
    for part in [
        pod.as_str(),
        "container gateway",
        "restarted 4 times",
        "exit code 2",
    ] {
        assert!(c.message.contains(part), "{part:?} missing: {}", c.message);
    }

    // Fixed: the pod runs and is ready, the faults are gone from the status.
    toolyard_e2e::mark_pod(&client, &ns, &pod, true).await?;
    set_pod_status(
        &client,
        &ns,
        &pod,
        json!({"containerStatuses": [{
            "name": "gateway", "image": image, "imageID": "", "ready": true, "started": true,
            "restartCount": 4, "state": {"running": {}},
        }]}),
    )
    .await?;
    // No gateway process reports for the pod: ready but not serving, so Pending again.
    let c = wait_reason(&client, &ns, "faulty", "Pending").await?;
    assert!(
        c.message.contains(&format!("waiting for {pod}")),
        "{}",
        c.message
    );
    operator.check_running()?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn a_gateway_applied_before_the_operator_starts_converges() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "late-operator").await?;
    let ns = namespace.name.clone();
    apply(
        &client,
        &gateway("early", "toolyard-gateway:e2e"),
        Some(&ns),
    )
    .await?;
    apply(&client, &target("early"), Some(&ns)).await?;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    assert!(
        cms.get_opt("early-toolyard-config").await?.is_none(),
        "a config ConfigMap exists before any operator ran"
    );

    let operator = start_operator(&ns, "operator-late", "info,toolyard_operator=debug")?;
    let cm = wait_for(
        "the config ConfigMap with the target's tool",
        WAIT,
        || async {
            operator.check_running()?;
            Ok(cms.get_opt("early-toolyard-config").await?.filter(|cm| {
                cm.data
                    .as_ref()
                    .and_then(|d| d.get("config.json"))
                    .is_some_and(|c| c.contains("get_order_tool"))
            }))
        },
    )
    .await
    .with_context(|| operator.log_tail())?;
    assert_eq!(
        cm.owner_references().first().map(|o| o.name.as_str()),
        Some("early")
    );
    // The Deployment comes last in a reconcile, after the ConfigMap: wait for it too.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    operator
        .wait_for_object(&deployments, "early", WAIT)
        .await?;
    let gateways: Api<Gateway> = Api::namespaced(client.clone(), &ns);
    let status = wait_for("the Gateway's status", WAIT, || async {
        let g = gateways.get("early").await?;
        Ok(g.status
            .filter(|s| s.tools == Some(1) && s.config_revision.is_some()))
    })
    .await?;
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Programmed" && c.status == "False"),
        "{:?}",
        status.conditions
    );
    operator.check_running()?;
    Ok(())
}

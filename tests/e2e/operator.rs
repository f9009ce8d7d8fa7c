//! Cluster suite: the operator and the gateway's in-cluster mode, end to end.
//!
//! The operator runs as a local process with the admin kubeconfig. The test cluster has no
//! kubelet, so the gateway's Deployment never gets pods; instead the gateway binary runs as a
//! local process with a kubeconfig holding a token of the gateway's own ServiceAccount (minted
//! with the TokenRequest API), so the Role the operator renders is what it really gets.
//!
//! Run with `bash tests/run.sh cluster` (or `tests/cluster/cluster.sh run -- cargo test -p
//! toolyard-e2e --test cluster_operator -- --ignored --test-threads=1`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use toolyard_crds::{Gateway, GatewayTarget};
use toolyard_e2e::{
    LocalProcess, OperatorProcess, RecordingBackend, TestNamespace, WAIT, api_error, apply, client,
    client_from_kubeconfig, free_port, http_get, install_crds, kubeconfig_for_token, kubectl,
    kubectl_ok, mcp_tool_call, mcp_tool_names, parse_yaml_docs, percentile, quickstart_openapi,
    ready_gateway_pod, repo_root, tool_result_text, wait_for, workspace_binary,
};

/// The objects of the scenario: a Gateway without inbound auth, an OpenAPI target with an API key,
/// a Lambda target, and a target whose ConfigMap does not exist (yet).
fn scenario() -> Result<Vec<Value>> {
    let spec = std::fs::read_to_string(repo_root().join("examples/orders/20-users-target.yaml"))?;
    let openapi = parse_yaml_docs(&spec)?
        .into_iter()
        .find(|d| d["kind"] == "ConfigMap")
        .context("examples/orders/20-users-target.yaml has no ConfigMap")?["data"]["openapi.yaml"]
        .clone();
    Ok(vec![
        json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
            "metadata": {"name": "demo"},
            "spec": {
                "inboundAuth": {"none": {}},
                "mcp": {"instructions": "e2e"},
                "security": {"allowedDomains": ["127.0.0.1"]},
            },
        }),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "users-api"}, "data": {"openapi.yaml": openapi}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "users-key"}, "stringData": {"token": "e2e-token-1", "unused": "never-copied"}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "other-secret"}, "stringData": {"password": "not-for-the-gateway"}}),
        users_target(None),
        json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
            "metadata": {"name": "lambda-using-sdk"},
            "spec": {
                "gatewayRef": {"name": "demo"},
                "toolPrefix": "LambdaUsingSDK",
                "lambda": {
                    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders",
                    "toolSchema": {"inline": [
                        {"name": "get_order_tool", "inputSchema": {"type": "object", "properties": {"orderId": {"type": "string"}}}},
                        {"name": "update_order_tool", "inputSchema": {"type": "object", "properties": {"orderId": {"type": "string"}}}},
                    ]},
                },
                "credentials": {"gatewayIamRole": {"service": "lambda"}},
            },
        }),
        json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
            "metadata": {"name": "broken"},
            "spec": {
                "gatewayRef": {"name": "demo"},
                "openApi": {"schema": {"configMapRef": {"name": "missing-api", "key": "openapi.yaml"}}, "baseUrl": "http://127.0.0.1:9"},
            },
        }),
    ])
}

/// The `users` OpenAPI target, optionally renaming `getUser`.
fn users_target(rename: Option<&str>) -> Value {
    let mut t = json!({
        "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
        "metadata": {"name": "users"},
        "spec": {
            "gatewayRef": {"name": "demo"},
            "openApi": {"schema": {"configMapRef": {"name": "users-api", "key": "openapi.yaml"}}, "baseUrl": "http://127.0.0.1:4010"},
            "credentials": {"apiKey": {"secretRef": {"name": "users-key", "key": "token"}}},
        },
    });
    if let Some(r) = rename {
        t["spec"]["tools"] = json!({"overrides": [{"name": "getUser", "rename": r}]});
    }
    t
}

fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn start_operator(ns: &str, identity: &str) -> Result<OperatorProcess> {
    toolyard_e2e::start_operator(ns, identity, "info,toolyard_operator=debug")
}

async fn gateway_status_where(
    client: &Client,
    ns: &str,
    what: &str,
    check: impl Fn(&Gateway) -> bool,
) -> Result<Gateway> {
    let api: Api<Gateway> = Api::namespaced(client.clone(), ns);
    wait_for(what, WAIT, || async {
        let g = api.get("demo").await?;
        Ok(check(&g).then_some(g))
    })
    .await
}

async fn target_where(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(&GatewayTarget) -> bool,
) -> Result<GatewayTarget> {
    let api: Api<GatewayTarget> = Api::namespaced(client.clone(), ns);
    wait_for(what, WAIT, || async {
        let t = api.get(name).await?;
        Ok(check(&t).then_some(t))
    })
    .await
}

fn is(conditions: Option<&Vec<Condition>>, type_: &str, status: &str) -> bool {
    conditions
        .and_then(|c| condition(c, type_))
        .is_some_and(|c| c.status == status)
}

/// The whole life of a Gateway: children, status, RBAC of the gateway identity, tools/list through
/// a local gateway process, propagation latency, a broken target, secret rotation, deleting a
/// target, an operator restart without writes, leader election, and garbage collection.
#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn operator_reconciles_a_gateway_end_to_end() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "operator").await?;
    let ns = namespace.name.clone();
    let operator = start_operator(&ns, "operator-a")?;

    for obj in scenario()? {
        apply(&client, &obj, Some(&ns)).await?;
    }

    // Children, with owner references and labels.
    let gateway: Gateway = Api::namespaced(client.clone(), &ns).get("demo").await?;
    let uid = gateway.meta().uid.clone().unwrap_or_default();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    // The first reconcile may run before every object of the scenario exists: wait for the
    // config that has the users target's tool.
    let config_map = wait_for(
        "the config ConfigMap with users___getUser",
        WAIT,
        || async {
            operator.check_running()?;
            Ok(cms.get_opt("demo-toolyard-config").await?.filter(|cm| {
                cm.data
                    .as_ref()
                    .and_then(|d| d.get("config.json"))
                    .is_some_and(|c| c.contains("users___getUser"))
            }))
        },
    )
    .await
    .with_context(|| operator.log_tail())?;
    // One reconcile applies the children in order (config, Secret, ServiceAccount, Role,
    // RoleBinding, Service, Deployment); the config can be seen before the rest exist, so wait for
    // the Deployment, the last of them, before reading the others.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let deployment = operator.wait_for_object(&deployments, "demo", WAIT).await?;
    let owned = |refs: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference]| {
        refs.iter()
            .any(|r| r.uid == uid && r.kind == "Gateway" && r.controller == Some(true))
    };
    assert!(
        owned(config_map.owner_references()),
        "ConfigMap not owned by the Gateway"
    );
    assert_eq!(
        config_map
            .labels()
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("toolyard-operator")
    );
    let config_text = config_map
        .data
        .as_ref()
        .and_then(|d| d.get("config.json"))
        .context("no config.json")?;
    let config: Value = serde_json::from_str(config_text)?;
    assert!(
        !config_text.contains("e2e-token-1"),
        "a secret value leaked into the ConfigMap"
    );
    let tool_names: Vec<&str> = config["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["tools"].as_array().into_iter().flatten())
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(tool_names.contains(&"users___getUser"), "{tool_names:?}");

    let secret: Secret = Api::namespaced(client.clone(), &ns)
        .get("demo-toolyard-credentials")
        .await?;
    assert!(owned(secret.owner_references()));
    let data = secret.data.clone().unwrap_or_default();
    assert_eq!(
        data.keys().cloned().collect::<Vec<_>>(),
        vec!["users-key.token".to_string()],
        "only referenced values are copied"
    );
    assert_eq!(data["users-key.token"].0, b"e2e-token-1");

    let sa: ServiceAccount = Api::namespaced(client.clone(), &ns)
        .get("demo-toolyard")
        .await?;
    assert!(owned(sa.owner_references()));
    let role: Role = Api::namespaced(client.clone(), &ns)
        .get("demo-toolyard")
        .await?;
    assert!(owned(role.owner_references()));
    let binding: RoleBinding = Api::namespaced(client.clone(), &ns)
        .get("demo-toolyard")
        .await?;
    assert!(owned(binding.owner_references()));
    let service: Service = Api::namespaced(client.clone(), &ns).get("demo").await?;
    assert!(owned(service.owner_references()));
    assert_eq!(
        service
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .map(|p| p[0].port),
        Some(80)
    );
    assert!(owned(deployment.owner_references()));
    let pod = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .context("no pod spec")?;
    let container = &pod.containers[0];
    assert_eq!(container.image.as_deref(), Some("toolyard-gateway:e2e"));
    assert_eq!(pod.service_account_name.as_deref(), Some("demo-toolyard"));
    let sc = container
        .security_context
        .as_ref()
        .context("no securityContext")?;
    assert_eq!(
        (
            sc.read_only_root_filesystem,
            sc.run_as_non_root,
            sc.allow_privilege_escalation
        ),
        (Some(true), Some(true), Some(false))
    );
    assert!(container.readiness_probe.is_some() && container.liveness_probe.is_some());
    let args = container.args.clone().unwrap_or_default();
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--kube-config-map" && w[1] == "demo-toolyard-config"),
        "{args:?}"
    );

    // Status before any gateway serves: counts, URL, Programmed False; the broken target explains.
    let gw = gateway_status_where(&client, &ns, "Gateway status with counts", |g| {
        g.status
            .as_ref()
            .is_some_and(|s| s.tools == Some(4) && s.targets == Some(2))
    })
    .await
    .with_context(|| operator.log_tail())?;
    let status = gw.status.clone().unwrap_or_default();
    assert_eq!(
        status.url.as_deref(),
        Some(format!("http://demo.{ns}.svc.cluster.local/mcp").as_str())
    );
    assert!(status.config_revision.is_some());
    assert!(
        is(Some(&status.conditions), "Programmed", "False"),
        "{:?}",
        status.conditions
    );
    let broken = target_where(&client, &ns, "broken", "broken's ResolvedRefs=False", |t| {
        is(
            t.status.as_ref().map(|s| &s.conditions),
            "ResolvedRefs",
            "False",
        )
    })
    .await?;
    let bs = broken.status.clone().unwrap_or_default();
    let rr = condition(&bs.conditions, "ResolvedRefs").context("no ResolvedRefs")?;
    assert_eq!(rr.reason, "ConfigMapNotFound");
    assert!(
        rr.message.contains("spec.openApi.schema.configMapRef"),
        "{}",
        rr.message
    );
    assert!(is(Some(&bs.conditions), "Ready", "False"));
    assert_eq!(bs.tools, Some(0));
    let users = target_where(&client, &ns, "users", "users accepted", |t| {
        is(t.status.as_ref().map(|s| &s.conditions), "Accepted", "True")
    })
    .await?;
    let us = users.status.clone().unwrap_or_default();
    assert!(
        us.tool_names.contains(&"users___getUser".to_string()),
        "{:?}",
        us.tool_names
    );
    assert!(is(Some(&us.conditions), "ResolvedRefs", "True"));

    // The gateway's identity: a ServiceAccount token, subject to the rendered Role.
    let token = kubectl_ok(&[
        "create",
        "token",
        "demo-toolyard",
        "-n",
        &ns,
        "--duration",
        "1h",
    ])?;
    let sa_kubeconfig = kubeconfig_for_token(token.trim(), &ns)?;
    let as_gateway = client_from_kubeconfig(&sa_kubeconfig).await?;
    Api::<ConfigMap>::namespaced(as_gateway.clone(), &ns)
        .get("demo-toolyard-config")
        .await
        .context("the gateway cannot read its own ConfigMap")?;
    Api::<Secret>::namespaced(as_gateway.clone(), &ns)
        .get("demo-toolyard-credentials")
        .await
        .context("the gateway cannot read its own Secret")?;
    for other in ["users-key", "other-secret"] {
        let err = Api::<Secret>::namespaced(as_gateway.clone(), &ns)
            .get(other)
            .await
            .err()
            .with_context(|| format!("the gateway could read Secret {other}"))?;
        assert_eq!(
            api_error(&anyhow::Error::from(err)).map(|s| s.code),
            Some(403)
        );
    }
    let err = Api::<Secret>::namespaced(as_gateway.clone(), &ns)
        .list(&ListParams::default())
        .await
        .err()
        .context("the gateway could list Secrets")?;
    assert_eq!(
        api_error(&anyhow::Error::from(err)).map(|s| s.code),
        Some(403)
    );

    // The gateway process, in-cluster mode, with that identity, as the Deployment's pod (marked
    // Ready, as a kubelet would once its readiness probe passes).
    let pod = ready_gateway_pod(&client, &ns, "demo").await?;
    let (port, admin_port) = (free_port()?, free_port()?);
    let addr = format!("127.0.0.1:{port}");
    let sa_kubeconfig_str = sa_kubeconfig.to_string_lossy().into_owned();
    let gateway_process = LocalProcess::start(
        "gateway",
        &workspace_binary("toolyard-gateway")?,
        &[
            "--kube-config-map",
            "demo-toolyard-config",
            "--kube-secret",
            "demo-toolyard-credentials",
            "--namespace",
            &ns,
            "--listen",
            &addr,
            "--admin-listen",
            &format!("127.0.0.1:{admin_port}"),
        ],
        &[
            ("KUBECONFIG", sa_kubeconfig_str.as_str()),
            ("POD_NAME", pod.as_str()),
            ("RUST_LOG", "info"),
        ],
    )?;
    let names = wait_for("tools/list through the gateway", WAIT, || async {
        gateway_process.check_running()?;
        let names = mcp_tool_names(&addr).await?;
        Ok((!names.is_empty()).then_some(names))
    })
    .await
    .with_context(|| gateway_process.log_tail())?;
    for expected in [
        "users___getUser",
        "users___listUsers",
        "LambdaUsingSDK___get_order_tool",
        "LambdaUsingSDK___update_order_tool",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n.starts_with("broken___")),
        "{names:?}"
    );

    // The gateway reports what it serves: Programmed, then Ready.
    let gw = gateway_status_where(&client, &ns, "Programmed=True", |g| {
        is(
            g.status.as_ref().map(|s| &s.conditions),
            "Programmed",
            "True",
        )
    })
    .await
    .with_context(|| {
        format!(
            "{}\n---\n{}",
            operator.log_tail(),
            gateway_process.log_tail()
        )
    })?;
    let status = gw.status.clone().unwrap_or_default();
    assert!(
        is(Some(&status.conditions), "Ready", "True"),
        "{:?}",
        status.conditions
    );
    assert_eq!(status.served_config_revision, status.config_revision);
    target_where(&client, &ns, "users", "users Ready", |t| {
        is(t.status.as_ref().map(|s| &s.conditions), "Ready", "True")
    })
    .await?;

    // Tool calls through the gateway process, and secret rotation reaching its outbound requests.
    tool_calls_and_secret_rotation(&client, &ns, &addr, admin_port)
        .await
        .with_context(|| {
            format!(
                "{}\n---\n{}",
                operator.log_tail(),
                gateway_process.log_tail()
            )
        })?;

    // Propagation latency: `kubectl apply` of a target change → the new tool in tools/list.
    let manifest =
        std::env::temp_dir().join(format!("{}.yaml", toolyard_e2e::unique_name("users")));
    let (mut from_start, mut from_applied) = (Vec::new(), Vec::new());
    for i in 0..20 {
        let new_name = format!("lookup_user_{i}");
        let mut t = users_target(Some(&new_name));
        t["metadata"]["namespace"] = json!(ns);
        std::fs::write(&manifest, serde_json::to_string(&t)?)?;
        let start = Instant::now();
        kubectl_ok(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager",
            "toolyard-e2e",
            "-f",
            &manifest.to_string_lossy(),
        ])?;
        let applied = Instant::now();
        let wanted = format!("users___{new_name}");
        loop {
            if mcp_tool_names(&addr).await?.contains(&wanted) {
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                bail!(
                    "{wanted} did not appear within 10 s\n{}\n---\n{}",
                    operator.log_tail(),
                    gateway_process.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        from_start.push(start.elapsed());
        from_applied.push(applied.elapsed());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "propagation kubectl apply -> tools/list over {} changes: from kubectl start p50 {:.0} ms, p95 {:.0} ms; from apply accepted p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        from_start.len(),
        ms(percentile(&from_start, 50.0)),
        ms(percentile(&from_start, 95.0)),
        ms(percentile(&from_applied, 50.0)),
        ms(percentile(&from_applied, 95.0)),
        ms(percentile(&from_applied, 100.0)),
    );

    // The broken target is fixed by creating its ConfigMap: the ConfigMap watch maps back to it.
    let fixed_spec = cms
        .get("users-api")
        .await?
        .data
        .unwrap_or_default()
        .get("openapi.yaml")
        .cloned()
        .unwrap_or_default();
    apply(&client, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "missing-api"}, "data": {"openapi.yaml": fixed_spec}}), Some(&ns)).await?;
    wait_for("broken___getUser to be served", WAIT, || async {
        Ok(mcp_tool_names(&addr)
            .await?
            .contains(&"broken___getUser".to_string())
            .then_some(()))
    })
    .await?;
    target_where(&client, &ns, "broken", "broken ResolvedRefs=True", |t| {
        is(
            t.status.as_ref().map(|s| &s.conditions),
            "ResolvedRefs",
            "True",
        )
    })
    .await?;

    // Secret rotation reaches the gateway's Secret (which the gateway watches) without a restart.
    apply(&client, &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "users-key"}, "stringData": {"token": "e2e-token-2"}}), Some(&ns)).await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    wait_for(
        "the rotated value in the credentials Secret",
        WAIT,
        || async {
            let s = secrets.get("demo-toolyard-credentials").await?;
            Ok(s.data
                .unwrap_or_default()
                .get("users-key.token")
                .is_some_and(|v| v.0 == b"e2e-token-2")
                .then_some(()))
        },
    )
    .await?;

    // Deleting a target removes its tools.
    Api::<GatewayTarget>::namespaced(client.clone(), &ns)
        .delete("lambda-using-sdk", &DeleteParams::default())
        .await?;
    wait_for("the Lambda tools to disappear", WAIT, || async {
        let names = mcp_tool_names(&addr).await?;
        Ok((!names.iter().any(|n| n.starts_with("LambdaUsingSDK___"))).then_some(()))
    })
    .await?;
    gateway_status_where(&client, &ns, "Ready with 2 targets", |g| {
        g.status
            .as_ref()
            .is_some_and(|s| s.targets == Some(2) && is(Some(&s.conditions), "Ready", "True"))
    })
    .await?;

    // An operator restart writes nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let versions = resource_versions(&client, &ns).await?;
    operator.terminate(Duration::from_secs(20))?;
    let operator = start_operator(&ns, "operator-b")?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    wait_for("operator-b to lead", WAIT, || async {
        let l = leases.get("toolyard-operator").await?;
        Ok((l.spec.and_then(|s| s.holder_identity).as_deref() == Some("operator-b")).then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    operator.check_running()?;
    assert_eq!(
        resource_versions(&client, &ns).await?,
        versions,
        "the restarted operator wrote something"
    );
    // Its metrics say the same: reconciles done, nothing written, and it leads.
    let reconciled = operator
        .metric(r#"toolyard_operator_reconciles_total{result="ok"}"#)
        .await?;
    assert!(reconciled >= 1.0, "no reconcile counted: {reconciled}");
    assert_eq!(
        operator
            .metric("toolyard_operator_object_writes_total")
            .await?,
        0.0
    );
    assert_eq!(operator.metric("toolyard_operator_leader").await?, 1.0);
    assert_eq!(http_get(&operator.admin, "/healthz").await?.0, 200);
    assert_eq!(
        http_get(&operator.admin, "/readyz").await?,
        (200, "leading".into())
    );

    // A second replica waits for the lease and changes nothing.
    let follower = start_operator(&ns, "operator-c")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    follower.check_running()?;
    let l = leases.get("toolyard-operator").await?;
    assert_eq!(
        l.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("operator-b")
    );
    assert!(
        follower.log_tail().contains("waiting for leadership"),
        "{}",
        follower.log_tail()
    );
    // A standby is ready (it takes over when the leader goes) but does not lead.
    assert_eq!(
        http_get(&follower.admin, "/readyz").await?,
        (200, "standby".into())
    );
    assert_eq!(follower.metric("toolyard_operator_leader").await?, 0.0);

    // Deleting the Gateway garbage-collects its children; its targets report GatewayNotFound.
    Api::<Gateway>::namespaced(client.clone(), &ns)
        .delete("demo", &DeleteParams::default())
        .await?;
    wait_for("the children to be garbage-collected", WAIT, || async {
        let cm = cms.get_opt("demo-toolyard-config").await?;
        let d = Api::<Deployment>::namespaced(client.clone(), &ns)
            .get_opt("demo")
            .await?;
        Ok((cm.is_none() && d.is_none()).then_some(()))
    })
    .await?;
    let t = target_where(&client, &ns, "users", "users GatewayNotFound", |t| {
        t.status
            .as_ref()
            .and_then(|s| condition(&s.conditions, "Accepted"))
            .is_some_and(|c| c.reason == "GatewayNotFound")
    })
    .await?;
    let accepted = condition(
        &t.status.as_ref().context("no status")?.conditions,
        "Accepted",
    )
    .cloned()
    .context("no Accepted")?;
    assert!(
        accepted.message.contains("spec.gatewayRef.name"),
        "{}",
        accepted.message
    );

    // The gateway process kept serving its last good config while its objects vanished.
    assert!(
        mcp_tool_names(&addr)
            .await?
            .iter()
            .any(|n| n.starts_with("users___"))
    );
    gateway_process.check_running()?;
    Ok(())
}

/// `tools/call` through the gateway process at `addr`: a target on the gateway's own admin API
/// (`GET /readyz`), then a target on a recording backend with an API key in a query parameter,
/// whose Secret is rotated: the next calls carry the new key within 10 s, without a restart. Both
/// targets are deleted again (and their tools gone) before returning.
async fn tool_calls_and_secret_rotation(
    client: &Client,
    ns: &str,
    addr: &str,
    admin_port: u16,
) -> Result<()> {
    let admin_spec = quickstart_openapi()?;
    apply(
        client,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "admin-api"}, "data": {"openapi.yaml": admin_spec}}),
        Some(ns),
    )
    .await?;
    apply(
        client,
        &json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
            "metadata": {"name": "admin"},
            "spec": {
                "gatewayRef": {"name": "demo"},
                "openApi": {
                    "schema": {"configMapRef": {"name": "admin-api", "key": "openapi.yaml"}},
                    "baseUrl": format!("http://127.0.0.1:{admin_port}"),
                },
                "timeout": "5s",
            },
        }),
        Some(ns),
    )
    .await?;
    wait_for("admin___getReadiness in tools/list", WAIT, || async {
        Ok(mcp_tool_names(addr)
            .await?
            .contains(&"admin___getReadiness".to_string())
            .then_some(()))
    })
    .await?;
    let result = mcp_tool_call(addr, "admin___getReadiness", json!({})).await?;
    assert_ne!(result["isError"], json!(true), "{result}");
    let text = tool_result_text(&result);
    assert!(
        text.contains(r#""ready":true"#) || result["structuredContent"]["ready"] == json!(true),
        "{result}"
    );

    // A backend of our own sees the API key the gateway sends.
    let backend = RecordingBackend::start().await?;
    let echo_spec = "openapi: 3.0.3\ninfo: {title: Echo, version: '1'}\npaths:\n  /echo:\n    get:\n      operationId: echo\n      responses:\n        '200': {description: OK, content: {application/json: {schema: {type: object}}}}\n";
    apply(
        client,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "echo-api"}, "data": {"openapi.yaml": echo_spec}}),
        Some(ns),
    )
    .await?;
    let rotate = |value: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "echo-key"}, "stringData": {"key": value}});
    apply(client, &rotate("echo-key-1"), Some(ns)).await?;
    apply(
        client,
        &json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
            "metadata": {"name": "echo"},
            "spec": {
                "gatewayRef": {"name": "demo"},
                "openApi": {
                    "schema": {"configMapRef": {"name": "echo-api", "key": "openapi.yaml"}},
                    "baseUrl": format!("http://{}", backend.addr),
                },
                "credentials": {"apiKey": {
                    "secretRef": {"name": "echo-key", "key": "key"},
                    "location": "QueryParameter",
                    "parameterName": "key",
                }},
                "timeout": "5s",
            },
        }),
        Some(ns),
    )
    .await?;
    wait_for("echo___echo in tools/list", WAIT, || async {
        Ok(mcp_tool_names(addr)
            .await?
            .contains(&"echo___echo".to_string())
            .then_some(()))
    })
    .await?;
    let result = mcp_tool_call(addr, "echo___echo", json!({})).await?;
    assert_ne!(result["isError"], json!(true), "{result}");
    let line = backend
        .last_request()
        .context("the backend got no request")?;
    assert!(
        line.starts_with("GET /echo?") && line.contains("key=echo-key-1"),
        "{line}"
    );

    // Rotate: the next calls carry the new value, without restarting anything.
    apply(client, &rotate("echo-key-2"), Some(ns)).await?;
    let rotated = Instant::now();
    loop {
        let result = mcp_tool_call(addr, "echo___echo", json!({})).await?;
        assert_ne!(result["isError"], json!(true), "{result}");
        let line = backend.last_request().unwrap_or_default();
        if line.contains("key=echo-key-2") {
            break;
        }
        assert!(line.contains("key=echo-key-1"), "{line}");
        if rotated.elapsed() > Duration::from_secs(10) {
            bail!("the rotated key did not reach the backend within 10 s (last request: {line})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "secret rotation: Secret applied -> new API key at the backend in {:.0} ms",
        rotated.elapsed().as_secs_f64() * 1000.0
    );

    // Leave the scenario as it was.
    let targets: Api<GatewayTarget> = Api::namespaced(client.clone(), ns);
    for name in ["admin", "echo"] {
        targets.delete(name, &DeleteParams::default()).await?;
    }
    wait_for("the admin and echo tools to disappear", WAIT, || async {
        let names = mcp_tool_names(addr).await?;
        Ok((!names
            .iter()
            .any(|n| n.starts_with("admin___") || n.starts_with("echo___")))
        .then_some(()))
    })
    .await?;
    Ok(())
}

/// The resourceVersion of one namespaced object.
async fn rv<K>(client: &Client, ns: &str, name: &str) -> Result<String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let obj: K = Api::namespaced(client.clone(), ns).get(name).await?;
    Ok(obj.resource_version().unwrap_or_default())
}

/// resourceVersions of the Gateway, its targets and every child but the Deployment (whose status
/// kube-controller-manager updates), plus the Deployment's generation.
async fn resource_versions(client: &Client, ns: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let g: Gateway = Api::namespaced(client.clone(), ns).get("demo").await?;
    out.insert("Gateway".into(), g.resource_version().unwrap_or_default());
    for t in Api::<GatewayTarget>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
    {
        out.insert(
            format!("GatewayTarget/{}", t.name_any()),
            t.resource_version().unwrap_or_default(),
        );
    }
    out.insert(
        "ConfigMap".into(),
        rv::<ConfigMap>(client, ns, "demo-toolyard-config").await?,
    );
    out.insert(
        "Secret".into(),
        rv::<Secret>(client, ns, "demo-toolyard-credentials").await?,
    );
    // Created once with a random key, never rewritten (a new key would end every session).
    out.insert(
        "Secret/session-key".into(),
        rv::<Secret>(client, ns, "demo-toolyard-session-key").await?,
    );
    out.insert(
        "ServiceAccount".into(),
        rv::<ServiceAccount>(client, ns, "demo-toolyard").await?,
    );
    out.insert(
        "Role".into(),
        rv::<Role>(client, ns, "demo-toolyard").await?,
    );
    out.insert(
        "RoleBinding".into(),
        rv::<RoleBinding>(client, ns, "demo-toolyard").await?,
    );
    out.insert("Service".into(), rv::<Service>(client, ns, "demo").await?);
    let d: Deployment = Api::namespaced(client.clone(), ns).get("demo").await?;
    out.insert(
        "Deployment.generation".into(),
        d.metadata.generation.unwrap_or_default().to_string(),
    );
    Ok(out)
}

/// Serves one OpenAPI document over HTTP on a free loopback port until dropped.
async fn serve_spec(spec: &'static str) -> Result<(String, tokio::task::JoinHandle<()>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/yaml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{spec}",
                    spec.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok((addr, task))
}

/// `schema.url` documents are fetched by the operator; a URL that cannot be fetched is explained
/// on its own target (reason, field path, cause) while the other target compiles.
#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn schema_urls_are_fetched_and_failures_explained() -> Result<()> {
    const SPEC: &str = "openapi: 3.0.3\ninfo: {title: remote, version: '1'}\nservers: [{url: 'http://127.0.0.1:9'}]\npaths:\n  /things/{id}:\n    get:\n      operationId: getThing\n      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n      responses: {'200': {description: ok}}\n";
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "urls").await?;
    let ns = namespace.name.clone();
    let (addr, server) = serve_spec(SPEC).await?;
    let operator = start_operator(&ns, "operator-urls")?;
    let objects = [
        json!({"apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway", "metadata": {"name": "urls"},
               "spec": {"inboundAuth": {"none": {}}}}),
        json!({"apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget", "metadata": {"name": "remote"},
               "spec": {"gatewayRef": {"name": "urls"},
                        "openApi": {"schema": {"url": format!("http://{addr}/openapi.yaml")}}}}),
        json!({"apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget", "metadata": {"name": "unreachable"},
               "spec": {"gatewayRef": {"name": "urls"},
                        "openApi": {"schema": {"url": "http://127.0.0.1:1/openapi.yaml"}}}}),
    ];
    for obj in &objects {
        apply(&client, obj, Some(&ns)).await?;
    }
    let remote = target_where(
        &client,
        &ns,
        "remote",
        "the URL-backed target's tools",
        |t| t.status.as_ref().is_some_and(|s| s.tools == Some(1)),
    )
    .await
    .with_context(|| operator.log_tail())?;
    let status = remote.status.unwrap_or_default();
    assert_eq!(status.tool_names, ["remote___getThing"]);
    assert!(
        is(Some(&status.conditions), "ResolvedRefs", "True"),
        "{:?}",
        status.conditions
    );

    let broken = target_where(
        &client,
        &ns,
        "unreachable",
        "the unreachable URL explained",
        |t| {
            is(
                t.status.as_ref().map(|s| &s.conditions),
                "ResolvedRefs",
                "False",
            )
        },
    )
    .await
    .with_context(|| operator.log_tail())?;
    let conditions = broken.status.unwrap_or_default().conditions;
    let resolved = condition(&conditions, "ResolvedRefs").context("no ResolvedRefs condition")?;
    assert_eq!(resolved.reason, "UrlNotFetched");
    assert!(
        resolved.message.contains("spec.openApi.schema.url"),
        "{}",
        resolved.message
    );
    assert!(
        resolved.message.contains("connection failed"),
        "{}",
        resolved.message
    );
    server.abort();
    drop(operator);
    Ok(())
}

/// The chart lints, renders, and installs (with its RBAC and operator Deployment) into the test
/// cluster, then upgrades and uninstalls. The operator pod never runs (no kubelet).
#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn helm_chart_lints_renders_and_installs() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let chart = repo_root().join("charts/toolyard");
    let chart = chart.to_string_lossy();
    let helm = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new(helm_path())
            .args(args)
            .output()
            .context("running helm")?;
        if !out.status.success() {
            bail!(
                "helm {} failed:\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    helm(&["lint", &chart])?;
    let rendered = helm(&[
        "template",
        "toolyard",
        &chart,
        "--namespace",
        "toolyard-system",
        "--kube-version",
        "1.35.0",
    ])?;
    let docs = parse_yaml_docs(&rendered)?;
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
    ] {
        assert!(
            kinds.contains(&kind),
            "{kind} missing from helm template: {kinds:?}"
        );
    }
    // Namespaced mode: no cluster-wide RBAC on the watched objects.
    let namespaced = helm(&[
        "template",
        "toolyard",
        &chart,
        "--namespace",
        "toolyard-system",
        "--kube-version",
        "1.35.0",
        "--set",
        "watchNamespace=agents",
    ])?;
    let docs = parse_yaml_docs(&namespaced)?;
    // The only cluster-wide rules: the auth-delegator bindings of TokenReview Gateways.
    for role in docs.iter().filter(|d| d["kind"] == "ClusterRole") {
        for rule in role["rules"].as_array().into_iter().flatten() {
            assert_eq!(
                rule["apiGroups"],
                json!(["rbac.authorization.k8s.io"]),
                "namespaced mode grants cluster-wide {rule}"
            );
            assert!(
                rule["resources"] == json!(["clusterrolebindings"])
                    || (rule["resources"] == json!(["clusterroles"])
                        && rule["resourceNames"] == json!(["system:auth-delegator"])
                        && rule["verbs"] == json!(["bind"])),
                "namespaced mode grants cluster-wide {rule}"
            );
        }
    }
    let without = helm(&[
        "template",
        "toolyard",
        &chart,
        "--namespace",
        "toolyard-system",
        "--kube-version",
        "1.35.0",
        "--set",
        "watchNamespace=agents",
        "--set",
        "serviceAccountAuth.tokenReview=false",
    ])?;
    assert!(
        !parse_yaml_docs(&without)?
            .iter()
            .any(|d| d["kind"] == "ClusterRole"),
        "namespaced mode without TokenReview rendered a ClusterRole"
    );
    let operator = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .context("no Deployment")?;
    assert!(operator.to_string().contains("TOOLYARD_WATCH_NAMESPACE"));

    let ns = TestNamespace::create(&client, "helm").await?;
    let release = "toolyard";
    helm(&[
        "install",
        release,
        &chart,
        "--namespace",
        &ns.name,
        "--set",
        "image.tag=e2e",
    ])?;
    let d: Deployment = Api::namespaced(client.clone(), &ns.name)
        .get("toolyard-operator")
        .await?;
    let image = d
        .spec
        .and_then(|s| s.template.spec)
        .map(|p| p.containers[0].image.clone().unwrap_or_default())
        .unwrap_or_default();
    assert!(image.ends_with(":e2e"), "{image}");
    // The ClusterRole lets the operator do its job, and no more on Secrets than it needs.
    let sa = format!("system:serviceaccount:{}:toolyard-operator", ns.name);
    for (verb, resource, subresource, expect) in [
        ("watch", "gateways.toolyard.dev", "", "yes"),
        ("patch", "gatewaytargets.toolyard.dev", "status", "yes"),
        ("patch", "gatewaytargets.toolyard.dev", "", "no"),
        ("create", "deployments.apps", "", "yes"),
        ("create", "horizontalpodautoscalers.autoscaling", "", "yes"),
        ("delete", "horizontalpodautoscalers.autoscaling", "", "yes"),
        ("get", "secrets", "", "yes"),
        ("delete", "secrets", "", "no"),
        ("create", "pods", "", "no"),
        ("watch", "pods", "", "yes"),
        ("watch", "replicasets.apps", "", "yes"),
        ("create", "replicasets.apps", "", "no"),
        // The auth-delegator bindings of TokenReview Gateways, and nothing else to bind.
        ("create", "clusterrolebindings", "", "yes"),
        ("delete", "clusterrolebindings", "", "yes"),
        ("bind", "clusterroles/system:auth-delegator", "", "yes"),
        ("bind", "clusterroles/cluster-admin", "", "no"),
        ("escalate", "clusterroles", "", "no"),
        ("patch", "gateways.toolyard.dev", "", "yes"),
    ] {
        let sub = format!("--subresource={subresource}");
        let mut args = vec![
            "auth", "can-i", verb, resource, "--as", &sa, "-n", "default",
        ];
        if !subresource.is_empty() {
            args.push(&sub);
        }
        let out = kubectl(&args)?;
        assert_eq!(
            out.stdout.trim(),
            expect,
            "can-i {verb} {resource}: {}{}",
            out.stdout,
            out.stderr
        );
    }
    helm(&[
        "upgrade",
        release,
        &chart,
        "--namespace",
        &ns.name,
        "--set",
        "image.tag=e2e2",
        "--set",
        "replicas=2",
    ])?;
    let d: Deployment = Api::namespaced(client.clone(), &ns.name)
        .get("toolyard-operator")
        .await?;
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(2));
    helm(&["uninstall", release, "--namespace", &ns.name])?;
    let gone: Option<Deployment> = Api::namespaced(client.clone(), &ns.name)
        .get_opt("toolyard-operator")
        .await?;
    assert!(gone.is_none());
    Ok(())
}

/// `spec.deployment.autoscaling` renders a HorizontalPodAutoscaler owned by the Gateway, and the
/// operator leaves the replica count to it: a scale by another field manager (as the HPA
/// controller does through the scale subresource) survives the operator's next apply. Removing
/// the setting deletes the HPA and the operator owns `replicas` again. `spec.deployment.tracing`
/// becomes the gateway container's OTEL_* variables.
#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn autoscaler_owns_the_replica_count() -> Result<()> {
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    use kube::api::{Patch, PatchParams};

    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "hpa").await?;
    let ns = namespace.name.clone();
    let operator = start_operator(&ns, "operator-hpa")?;
    let gateway = |deployment: Value| {
        json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
            "metadata": {"name": "scaled"},
            "spec": {"inboundAuth": {"none": {}}, "deployment": deployment},
        })
    };
    apply(
        &client,
        &gateway(json!({
            "replicas": 2,
            "autoscaling": {"minReplicas": 2, "maxReplicas": 5, "targetCpuUtilization": 70},
            "tracing": {"otlpEndpoint": "http://collector.observability:4318"},
        })),
        Some(&ns),
    )
    .await?;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let hpa = operator.wait_for_object(&hpas, "scaled", WAIT).await?;
    assert!(
        hpa.owner_references()
            .iter()
            .any(|r| r.kind == "Gateway" && r.name == "scaled" && r.controller == Some(true)),
        "HPA not owned by the Gateway"
    );
    let spec = hpa.spec.context("HPA without spec")?;
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 5));
    assert_eq!(spec.scale_target_ref.name, "scaled");
    let deployment = operator
        .wait_for_object(&deployments, "scaled", WAIT)
        .await?;
    let env = serde_json::to_string(&deployment.spec.as_ref().map(|s| &s.template))?;
    assert!(
        env.contains("OTEL_EXPORTER_OTLP_ENDPOINT")
            && env.contains("http://collector.observability:4318"),
        "{env}"
    );
    let managers = |d: &Deployment| -> Vec<String> {
        d.managed_fields()
            .iter()
            .filter(|f| {
                f.fields_v1
                    .as_ref()
                    .is_some_and(|v| v.0.pointer("/f:spec/f:replicas").is_some())
            })
            .filter_map(|f| f.manager.clone())
            .collect()
    };
    assert!(
        managers(&deployment).is_empty(),
        "the operator owns spec.replicas although an HPA is set: {:?}",
        managers(&deployment)
    );

    // The autoscaler scales (another field manager, through the scale subresource)...
    deployments
        .patch_scale(
            "scaled",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await?;
    // ...and a Gateway change that re-applies the Deployment keeps its count.
    apply(
        &client,
        &gateway(json!({
            "replicas": 2,
            "autoscaling": {"minReplicas": 2, "maxReplicas": 5, "targetCpuUtilization": 70},
            "tracing": {"otlpEndpoint": "http://collector.observability:4318"},
            "podAnnotations": {"example.com/rollout": "2"},
        })),
        Some(&ns),
    )
    .await?;
    let deployment = wait_for("the Deployment re-applied", WAIT, || async {
        let d = deployments.get("scaled").await?;
        let annotated = d
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .is_some_and(|a| a.contains_key("example.com/rollout"));
        Ok(annotated.then_some(d))
    })
    .await
    .with_context(|| operator.log_tail())?;
    assert_eq!(
        deployment.spec.as_ref().and_then(|s| s.replicas),
        Some(4),
        "the operator reset the autoscaler's replica count"
    );

    // Without autoscaling: the HPA goes, the operator owns the replica count again.
    apply(&client, &gateway(json!({"replicas": 2})), Some(&ns)).await?;
    wait_for("the HPA deleted", WAIT, || async {
        Ok(hpas.get_opt("scaled").await?.is_none().then_some(()))
    })
    .await
    .with_context(|| operator.log_tail())?;
    wait_for(
        "replicas back to spec.deployment.replicas",
        WAIT,
        || async {
            let d = deployments.get("scaled").await?;
            Ok((d.spec.as_ref().and_then(|s| s.replicas) == Some(2)).then_some(()))
        },
    )
    .await
    .with_context(|| operator.log_tail())?;
    drop(operator);
    Ok(())
}

/// The chart's extras (ServiceMonitor with its metrics Service, PodDisruptionBudget,
/// NetworkPolicy) are off by default and render, lint and select the operator pods when on. Needs
/// only the helm binary (TESTCLUSTER_BIN or PATH), no API server.
#[test]
#[ignore = "needs helm: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
fn helm_chart_extras_render_behind_values() -> Result<()> {
    let chart = repo_root().join("charts/toolyard");
    let chart = chart.to_string_lossy().into_owned();
    let helm = |extra: &[&str]| -> Result<Vec<serde_json::Value>> {
        let mut args = vec![
            "template",
            "toolyard",
            chart.as_str(),
            "--namespace",
            "toolyard-system",
            "--kube-version",
            "1.35.0",
        ];
        args.extend_from_slice(extra);
        let out = std::process::Command::new(helm_path())
            .args(&args)
            .output()
            .context("running helm")?;
        if !out.status.success() {
            bail!(
                "helm template failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        parse_yaml_docs(&String::from_utf8_lossy(&out.stdout))
    };
    let extras = [
        "ServiceMonitor",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Service",
    ];
    let plain = helm(&[])?;
    for kind in extras {
        assert!(
            !plain.iter().any(|d| d["kind"] == kind),
            "{kind} rendered without being asked for"
        );
    }
    let on = [
        "--set",
        "serviceMonitor.enabled=true,podDisruptionBudget.enabled=true,networkPolicy.enabled=true,serviceMonitor.interval=15s",
        "--set-json",
        r#"networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]"#,
    ];
    let docs = helm(&on)?;
    let find = |kind: &str| docs.iter().find(|d| d["kind"] == kind).cloned();
    let selector = serde_json::json!({
        "app.kubernetes.io/name": "toolyard-operator",
        "app.kubernetes.io/instance": "toolyard",
    });
    let monitor = find("ServiceMonitor").context("no ServiceMonitor")?;
    assert_eq!(monitor["spec"]["selector"]["matchLabels"], selector);
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "admin");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["interval"], "15s");
    let service = find("Service").context("no metrics Service")?;
    assert_eq!(service["spec"]["selector"], selector);
    assert_eq!(service["spec"]["ports"][0]["port"], 8081);
    let pdb = find("PodDisruptionBudget").context("no PodDisruptionBudget")?;
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(pdb["spec"]["selector"]["matchLabels"], selector);
    let policy = find("NetworkPolicy").context("no NetworkPolicy")?;
    assert_eq!(policy["spec"]["podSelector"]["matchLabels"], selector);
    assert_eq!(
        policy["spec"]["policyTypes"],
        serde_json::json!(["Ingress"])
    );
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], "admin");
    assert_eq!(
        policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "monitoring"
    );
    // And the chart still lints with every extra on.
    let out = std::process::Command::new(helm_path())
        .args(["lint", chart.as_str()])
        .args(on)
        .output()
        .context("running helm lint")?;
    assert!(
        out.status.success(),
        "helm lint failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn helm_path() -> std::path::PathBuf {
    match std::env::var_os("TESTCLUSTER_BIN") {
        Some(bin) if std::path::Path::new(&bin).join("helm").is_file() => {
            std::path::Path::new(&bin).join("helm")
        }
        _ => "helm".into(),
    }
}

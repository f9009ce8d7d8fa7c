//! Cluster suite: the operator at scale — 50 Gateways × 10 OpenAPI targets in one namespace.
//!
//! Measures, with the operator as a local process: the time from the first object created to
//! every Gateway's status counting its 10 targets and their tools, the number of reconciles and
//! the operator's peak resident set (`VmHWM`). It prints the numbers and asserts only that the
//! status converges within a generous bound (no timing assertions).
//!
//! Run with `bash tests/run.sh cluster` (or `tests/cluster/cluster.sh run -- cargo test -p
//! toolyard-e2e --test cluster_scale -- --ignored --nocapture`).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use toolyard_crds::{Gateway, GatewayTarget};
use toolyard_e2e::{
    FIELD_MANAGER, TestNamespace, apply, client, install_crds, start_operator, wait_for,
};

const GATEWAYS: usize = 50;
const TARGETS_PER_GATEWAY: usize = 10;
/// Operations in the shared OpenAPI spec, so tools per target.
const OPERATIONS: usize = 3;
/// Only to avoid hanging: the status must converge within this.
const CONVERGE_BOUND: Duration = Duration::from_secs(600);

const SPEC: &str = r#"openapi: 3.0.3
info: {title: Scale, version: "1"}
paths:
  /items:
    get:
      operationId: listItems
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
      responses:
        "200": {description: Items, content: {application/json: {schema: {type: array, items: {type: object}}}}}
  /items/{id}:
    get:
      operationId: getItem
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: The item, content: {application/json: {schema: {type: object}}}}
    delete:
      operationId: deleteItem
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "204": {description: Deleted}
"#;

fn gateway_name(g: usize) -> String {
    format!("gw-{g:02}")
}

/// Applies Gateway `g` and its targets (typed APIs, server-side apply).
async fn create_gateway(client: Client, ns: String, g: usize) -> Result<()> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let name = gateway_name(g);
    let gateways: Api<Gateway> = Api::namespaced(client.clone(), &ns);
    let gateway = json!({
        "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"inboundAuth": {"none": {}}},
    });
    gateways
        .patch(&name, &params, &Patch::Apply(&gateway))
        .await
        .with_context(|| format!("applying Gateway {name}"))?;
    let targets: Api<GatewayTarget> = Api::namespaced(client, &ns);
    for t in 0..TARGETS_PER_GATEWAY {
        let target_name = format!("{name}-t{t}");
        let target = json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
            "metadata": {"name": target_name, "namespace": ns},
            "spec": {
                "gatewayRef": {"name": name},
                "toolPrefix": format!("t{t}"),
                "openApi": {
                    "schema": {"configMapRef": {"name": "scale-api", "key": "openapi.yaml"}},
                    "baseUrl": "http://127.0.0.1:9",
                },
            },
        });
        targets
            .patch(&target_name, &params, &Patch::Apply(&target))
            .await
            .with_context(|| format!("applying GatewayTarget {target_name}"))?;
    }
    Ok(())
}

/// How many Gateways report all their targets and tools.
fn converged(gateways: &[Gateway]) -> usize {
    let tools = (TARGETS_PER_GATEWAY * OPERATIONS) as i32;
    gateways
        .iter()
        .filter(|g| {
            g.status.as_ref().is_some_and(|s| {
                s.targets == Some(TARGETS_PER_GATEWAY as i32) && s.tools == Some(tools)
            })
        })
        .count()
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn fifty_gateways_with_ten_targets_each_converge() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "scale").await?;
    let ns = namespace.name.clone();
    // The controller logs each finished reconcile (`reconciled`) at debug; they are counted.
    let operator = start_operator(&ns, "operator-scale", "info,toolyard_operator=debug")?;
    let baseline_kib = wait_for("the operator to start", Duration::from_secs(60), || async {
        operator.check_running()?;
        Ok(operator
            .log_tail()
            .contains("became the leader")
            .then(|| operator.proc_status_kib("VmRSS").ok())
            .flatten())
    })
    .await
    .unwrap_or(0);

    let start = Instant::now();
    apply(
        &client,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "scale-api"}, "data": {"openapi.yaml": SPEC}}),
        Some(&ns),
    )
    .await?;
    let mut tasks = tokio::task::JoinSet::new();
    for g in 0..GATEWAYS {
        tasks.spawn(create_gateway(client.clone(), ns.clone(), g));
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let created = start.elapsed();

    let gateways: Api<Gateway> = Api::namespaced(client.clone(), &ns);
    let mut peak_kib = 0u64;
    loop {
        operator.check_running()?;
        peak_kib = peak_kib.max(operator.proc_status_kib("VmHWM").unwrap_or(0));
        let list = gateways.list(&ListParams::default()).await?.items;
        let n = converged(&list);
        if n == GATEWAYS {
            break;
        }
        if start.elapsed() > CONVERGE_BOUND {
            let pending: Vec<String> = list
                .iter()
                .filter(|g| converged(std::slice::from_ref(g)) == 0)
                .map(|g| format!("{} {:?}", g.name_any(), g.status))
                .take(5)
                .collect();
            bail!(
                "only {n}/{GATEWAYS} Gateways converged within {CONVERGE_BOUND:?}; e.g. {pending:#?}\n{}",
                operator.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let converge = start.elapsed();

    // Let the operator settle (status writes, owned-object events), then read its peak again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    operator.check_running()?;
    let hwm_kib = operator.proc_status_kib("VmHWM")?.max(peak_kib);
    let rss_kib = operator.proc_status_kib("VmRSS")?;
    let log = std::fs::read_to_string(&operator.log).unwrap_or_default();
    let reconciles = log.lines().filter(|l| l.contains(" reconciled")).count();
    let failed = log
        .lines()
        .filter(|l| l.contains("reconcile failed"))
        .count();
    let targets = Api::<GatewayTarget>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await?
        .items
        .len();
    assert_eq!(targets, GATEWAYS * TARGETS_PER_GATEWAY);

    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "scale: {GATEWAYS} Gateways x {TARGETS_PER_GATEWAY} OpenAPI targets ({} tools each) in one namespace",
        TARGETS_PER_GATEWAY * OPERATIONS
    );
    println!(
        "scale: objects created in {:.1} s; every Gateway's status converged {:.1} s after the first object was created",
        secs(created),
        secs(converge)
    );
    println!(
        "scale: {:.0} ms per Gateway (convergence time / {GATEWAYS}); {reconciles} reconciles ({:.1} per Gateway, {failed} failed), {:.0} ms of wall time per reconcile",
        secs(converge) * 1000.0 / GATEWAYS as f64,
        reconciles as f64 / GATEWAYS as f64,
        if reconciles > 0 {
            secs(converge) * 1000.0 / reconciles as f64
        } else {
            0.0
        },
    );
    println!(
        "scale: operator RSS before {:.1} MiB, peak (VmHWM) {:.1} MiB, after settling {:.1} MiB",
        baseline_kib as f64 / 1024.0,
        hwm_kib as f64 / 1024.0,
        rss_kib as f64 / 1024.0
    );
    Ok(())
}

//! Cluster suite: ToolPolicy objects govern `tools/list`, the search tool and `tools/call` of a
//! gateway alike, for callers identified by real ServiceAccount tokens (TokenRequest API).
//!
//! The operator validates the policies against the Cedar schema of the Gateway's tools and
//! writes their status; the gateway runs as a local process with its own ServiceAccount's token
//! (as in `service_account.rs`) and picks policy changes up without a restart.
//!
//! Run with `bash tests/run.sh cluster` (or `tests/cluster/cluster.sh run -- cargo test -p
//! toolyard-e2e --test cluster_tool_policy -- --ignored --test-threads=1`).

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use toolyard_crds::{Gateway, ToolPolicy};
use toolyard_e2e::{
    LocalProcess, OperatorProcess, TestNamespace, WAIT, apply, client, free_port, install_crds,
    kubeconfig_for_token, kubectl_ok, mcp_as, quickstart_openapi, wait_for, workspace_binary,
};

const GATEWAY: &str = "tp";
const AUDIENCE: &str = "toolyard-e2e-policy";
const SEARCH: &str = "x_amz_bedrock_agentcore_search";
const HEALTH: &str = "admin___getHealth";
const READINESS: &str = "admin___getReadiness";

/// Everyone may check health; only `writer-bot` may call every tool.
fn policies() -> Value {
    json!([
        {"name": "everyone-health", "text": format!(
            "permit(principal is Toolyard::ServiceAccount, action == Toolyard::Action::\"{HEALTH}\", resource);")},
        {"name": "writers", "text":
            "permit(principal is Toolyard::ServiceAccount, action in Toolyard::Action::\"CallTool\", resource)\n\
             when { principal.name == \"writer-bot\" };"},
    ])
}

/// Two ServiceAccounts the inbound auth admits, the admin API as the target, the search tool and
/// a ToolPolicy.
fn objects(ns: &str, admin_port: u16) -> Result<Vec<Value>> {
    let admin_spec = quickstart_openapi()?;
    Ok(vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader-bot"}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "writer-bot"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "admin-api"}, "data": {"openapi.yaml": admin_spec}}),
        json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
            "metadata": {"name": GATEWAY},
            "spec": {
                "inboundAuth": {"serviceAccount": {
                    "audiences": [AUDIENCE],
                    "allowed": [format!("{ns}/*")],
                    "verification": "Oidc",
                }},
                "search": {"type": "Semantic"},
                "security": {"allowedDomains": ["127.0.0.1"]},
            },
        }),
        json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "GatewayTarget",
            "metadata": {"name": "admin"},
            "spec": {
                "gatewayRef": {"name": GATEWAY},
                "openApi": {
                    "schema": {"configMapRef": {"name": "admin-api", "key": "openapi.yaml"}},
                    "baseUrl": format!("http://127.0.0.1:{admin_port}"),
                },
                "timeout": "5s",
            },
        }),
        json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "ToolPolicy",
            "metadata": {"name": "admin-access"},
            "spec": {"gatewayRef": {"name": GATEWAY}, "policies": policies()},
        }),
    ])
}

/// A projected token of ServiceAccount `name` for the gateway's audience.
fn token(ns: &str, name: &str) -> Result<String> {
    Ok(kubectl_ok(&[
        "create",
        "token",
        name,
        "-n",
        ns,
        "--audience",
        AUDIENCE,
        "--duration",
        "10m",
    ])?
    .trim()
    .to_string())
}

/// What one caller sees and may do: listed tools, search results, and the outcome of calling
/// each admin tool (`Ok(())` or the JSON-RPC error message).
#[derive(Debug, PartialEq)]
struct View {
    listed: BTreeSet<String>,
    found: BTreeSet<String>,
    calls: Vec<(String, Result<(), String>)>,
}

async fn view(addr: &str, token: &str) -> Result<View> {
    let list = mcp_as(addr, Some(token), "tools/list", json!({}))
        .await?
        .json()?;
    let names = |tools: &Value| -> BTreeSet<String> {
        tools
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str().map(String::from))
            .collect()
    };
    let listed = names(&list["result"]["tools"]);
    let search = mcp_as(
        addr,
        Some(token),
        "tools/call",
        json!({"name": SEARCH, "arguments": {"query": "health readiness of the gateway"}}),
    )
    .await?
    .json()?;
    let text = search["result"]["content"][0]["text"]
        .as_str()
        .with_context(|| format!("search answered {search}"))?;
    let found = names(&serde_json::from_str::<Value>(text)?["tools"]);
    let mut calls = Vec::new();
    for tool in [HEALTH, READINESS] {
        let answer = mcp_as(
            addr,
            Some(token),
            "tools/call",
            json!({"name": tool, "arguments": {}}),
        )
        .await?
        .json()?;
        let outcome = match answer["error"]["message"].as_str() {
            Some(message) => Err(message.to_string()),
            None if answer["result"]["isError"] == true => {
                Err(format!("tool error: {}", answer["result"]))
            }
            None => Ok(()),
        };
        calls.push((tool.to_string(), outcome));
    }
    Ok(View {
        listed,
        found,
        calls,
    })
}

fn process_id(p: &LocalProcess) -> u32 {
    p.child.lock().map(|c| c.id()).unwrap_or_default()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The view of a caller permitted `allowed` of the two admin tools.
fn expected(allowed: &[&str]) -> impl Fn(&View) -> Result<()> {
    let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
    move |v: &View| {
        let mut listed = set(&[SEARCH]);
        listed.extend(allowed.iter().cloned());
        if v.listed != listed {
            bail!("listed {:?}, expected {listed:?}", v.listed);
        }
        if !v.found.iter().all(|t| allowed.contains(t)) || v.found.is_empty() {
            bail!("search found {:?}, allowed {allowed:?}", v.found);
        }
        for (tool, outcome) in &v.calls {
            match (allowed.contains(tool), outcome) {
                (true, Ok(())) => {}
                (false, Err(m)) if m == &format!("Tool call denied by policy: {tool}") => {}
                _ => bail!("{tool}: {outcome:?} (allowed: {allowed:?})"),
            }
        }
        Ok(())
    }
}

/// Waits until `who`'s view satisfies `check`.
async fn wait_view(
    what: &str,
    addr: &str,
    token: &str,
    check: impl Fn(&View) -> Result<()>,
    logs: impl Fn() -> String,
) -> Result<()> {
    let last = std::cell::RefCell::new(String::new());
    wait_for(what, WAIT, || async {
        let v = view(addr, token).await?;
        match check(&v) {
            Ok(()) => Ok(Some(())),
            Err(e) => {
                *last.borrow_mut() = e.to_string();
                Ok(None)
            }
        }
    })
    .await
    .with_context(|| format!("last: {}\n{}", last.borrow(), logs()))
}

/// The `Accepted` condition (status, reason, message) and the policy count of the ToolPolicy.
async fn accepted(client: &Client, ns: &str) -> Result<Option<(String, String, String, i32)>> {
    let tp = Api::<ToolPolicy>::namespaced(client.clone(), ns)
        .get("admin-access")
        .await?;
    let Some(status) = tp.status else {
        return Ok(None);
    };
    if status.observed_generation != tp.metadata.generation {
        return Ok(None);
    }
    Ok(status
        .conditions
        .iter()
        .find(|c| c.type_ == "Accepted")
        .map(|c| {
            (
                c.status.clone(),
                c.reason.clone(),
                c.message.clone(),
                status.policies.unwrap_or_default(),
            )
        }))
}

async fn gateway_policies(client: &Client, ns: &str) -> Result<Option<i32>> {
    Ok(Api::<Gateway>::namespaced(client.clone(), ns)
        .get(GATEWAY)
        .await?
        .status
        .and_then(|s| s.policies))
}

/// Starts the gateway with its own ServiceAccount's token once the operator wrote its config.
async fn start_gateway(
    client: &Client,
    ns: &str,
    operator: &OperatorProcess,
    addr: &str,
    admin_port: u16,
) -> Result<LocalProcess> {
    let sa_name = format!("{GATEWAY}-toolyard");
    let config = format!("{GATEWAY}-toolyard-config");
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    wait_for("the gateway's ServiceAccount and config", WAIT, || async {
        operator.check_running()?;
        Ok(
            (sas.get_opt(&sa_name).await?.is_some() && cms.get_opt(&config).await?.is_some())
                .then_some(()),
        )
    })
    .await
    .with_context(|| operator.log_tail())?;
    let own = kubectl_ok(&["create", "token", &sa_name, "-n", ns, "--duration", "1h"])?;
    let kubeconfig = kubeconfig_for_token(own.trim(), ns)?;
    LocalProcess::start(
        "gateway-tp",
        &workspace_binary("toolyard-gateway")?,
        &[
            "--kube-config-map",
            &config,
            "--kube-secret",
            &format!("{GATEWAY}-toolyard-credentials"),
            "--namespace",
            ns,
            "--listen",
            addr,
            "--admin-listen",
            &format!("127.0.0.1:{admin_port}"),
        ],
        &[
            ("KUBECONFIG", kubeconfig.to_string_lossy().as_ref()),
            ("RUST_LOG", "info,toolyard_gateway=debug"),
        ],
    )
}

/// Two ServiceAccounts under one ToolPolicy: list, search and call agree for each; the status
/// counts the policies; an invalid edit is reported with its path while the last accepted
/// policies keep serving; a valid edit and the ToolPolicy's deletion reach the running gateway.
#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn tool_policies_govern_list_search_and_call_for_service_accounts() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let namespace = TestNamespace::create(&client, "tp").await?;
    let ns = namespace.name.clone();
    let operator = toolyard_e2e::start_operator(&ns, "tp", "info,toolyard_operator=debug")?;
    let (port, admin_port) = (free_port()?, free_port()?);
    for obj in objects(&ns, admin_port)? {
        apply(&client, &obj, Some(&ns)).await?;
    }

    wait_for("the ToolPolicy to be accepted", WAIT, || async {
        operator.check_running()?;
        Ok(accepted(&client, &ns)
            .await?
            .filter(|(status, _, _, count)| status == "True" && *count == 2))
    })
    .await
    .with_context(|| operator.log_tail())?;
    wait_for("the Gateway to count the policies", WAIT, || async {
        Ok(gateway_policies(&client, &ns).await?.filter(|n| *n == 2))
    })
    .await
    .with_context(|| operator.log_tail())?;
    let printed = kubectl_ok(&["get", "toolpolicy", "admin-access", "-n", &ns])?;
    assert!(
        printed.contains("tp") && printed.contains("Enforce") && printed.contains("True"),
        "{printed}"
    );

    let addr = format!("127.0.0.1:{port}");
    let gateway = start_gateway(&client, &ns, &operator, &addr, admin_port).await?;
    let pid = process_id(&gateway);
    let logs = || format!("{}\n---\n{}", operator.log_tail(), gateway.log_tail());
    let reader = token(&ns, "reader-bot")?;
    let writer = token(&ns, "writer-bot")?;
    wait_view(
        "the writer's view",
        &addr,
        &writer,
        expected(&[HEALTH, READINESS]),
        logs,
    )
    .await?;
    wait_view(
        "the reader's view",
        &addr,
        &reader,
        expected(&[HEALTH]),
        logs,
    )
    .await?;

    // An invalid edit (an attribute the schema does not have): reported with its path and Cedar's
    // message; the last accepted policies keep serving.
    let policies_api = Api::<ToolPolicy>::namespaced(client.clone(), &ns);
    let mut bad = policies();
    bad[1]["text"] = json!(
        "permit(principal is Toolyard::ServiceAccount, action, resource) when { resource.readonly };"
    );
    policies_api
        .patch(
            "admin-access",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"policies": bad}})),
        )
        .await?;
    let (_, reason, message, count) =
        wait_for("the invalid policy to be reported", WAIT, || async {
            Ok(accepted(&client, &ns)
                .await?
                .filter(|(status, ..)| status == "False"))
        })
        .await
        .with_context(logs)?;
    assert_eq!(reason, "InvalidPolicy", "{message}");
    assert!(message.contains("spec.policies[1].text"), "{message}");
    assert!(message.contains("readonly"), "{message}");
    assert!(message.contains("keep serving"), "{message}");
    assert_eq!(count, 2, "{message}");
    expected(&[HEALTH, READINESS])(&view(&addr, &writer).await?)?;
    expected(&[HEALTH])(&view(&addr, &reader).await?)?;

    // A valid edit (every ServiceAccount of the namespace may call every tool) reaches the
    // running gateway.
    let mut open = policies();
    open[1]["text"] = json!(format!(
        "permit(principal is Toolyard::ServiceAccount, action in Toolyard::Action::\"CallTool\", resource)\n\
         when {{ principal.namespace == \"{ns}\" }};"
    ));
    policies_api
        .patch(
            "admin-access",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"policies": open}})),
        )
        .await?;
    wait_view(
        "the reader's view after the edit",
        &addr,
        &reader,
        expected(&[HEALTH, READINESS]),
        logs,
    )
    .await?;

    // A forbid wins over every permit, for list and search too.
    let mut forbid = open.clone();
    forbid.as_array_mut().context("policies")?.push(json!({
        "name": "no-readiness-for-readers",
        "text": format!("forbid(principal is Toolyard::ServiceAccount, action == Toolyard::Action::\"{READINESS}\", resource)\n\
                         when {{ principal.name == \"reader-bot\" }};"),
    }));
    policies_api
        .patch(
            "admin-access",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"policies": forbid}})),
        )
        .await?;
    wait_view(
        "the reader's view after the forbid",
        &addr,
        &reader,
        expected(&[HEALTH]),
        logs,
    )
    .await?;
    expected(&[HEALTH, READINESS])(&view(&addr, &writer).await?)?;

    // Without any ToolPolicy there is no authorization: every admitted caller sees every tool.
    policies_api
        .delete("admin-access", &DeleteParams::default())
        .await?;
    wait_view(
        "the reader's view without policies",
        &addr,
        &reader,
        expected(&[HEALTH, READINESS]),
        logs,
    )
    .await?;
    wait_for("the Gateway's policy count to go", WAIT, || async {
        Ok(gateway_policies(&client, &ns)
            .await?
            .is_none()
            .then_some(()))
    })
    .await
    .with_context(logs)?;
    assert_eq!(process_id(&gateway), pid, "the gateway restarted");
    gateway.check_running()?;
    operator.check_running()?;
    Ok(())
}

//! Cluster suite: the `Gateway` and `GatewayTarget` CRDs on a real API server.
//!
//! Every test is ignored by default; run them with
//! `tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored --test-threads=1`.
//! Each test installs the CRDs itself (idempotent server-side apply) and works in a namespace of
//! its own, so any single test can run alone.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use toolyard_crds::{Gateway, GatewayTarget};
use toolyard_e2e::{
    TestNamespace, WAIT, api_error, apply, client, client_from_kubeconfig, crd_condition,
    example_files, install_crds, invalid_manifests, kubectl, kubectl_ok, read_yaml_docs, repo_root,
    squash_whitespace, unique_name, wait_for,
};

/// Every document of every example manifest.
fn example_docs() -> Result<Vec<Value>> {
    let mut docs = Vec::new();
    for file in example_files()? {
        docs.extend(read_yaml_docs(&file)?);
    }
    Ok(docs)
}

/// The example object of `kind` named `name`.
fn example(kind: &str, name: &str) -> Result<Value> {
    example_docs()?
        .into_iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .with_context(|| format!("no {kind} {name} in examples/"))
}

/// Applies every example into `ns`; returns how many objects were applied.
async fn apply_examples(client: &kube::Client, ns: &str) -> Result<usize> {
    let docs = example_docs()?;
    for doc in &docs {
        apply(client, doc, Some(ns)).await.with_context(|| {
            format!(
                "applying example {} {}",
                doc["kind"], doc["metadata"]["name"]
            )
        })?;
    }
    Ok(docs.len())
}

/// A `Ready` condition as the operator would write it.
fn ready(status: &str, reason: &str) -> Value {
    json!({
        "type": "Ready", "status": status, "reason": reason, "message": "set by the e2e suite",
        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1
    })
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn crds_install_and_become_established() -> Result<()> {
    let client = client().await?;
    let names = install_crds(&client).await?;
    let names: BTreeSet<String> = names.into_iter().collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "gateways.toolyard.dev".to_string(),
            "gatewaytargets.toolyard.dev".to_string(),
            "toolpolicies.toolyard.dev".to_string()
        ])
    );

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut generations = Vec::new();
    for name in &names {
        let crd = crds.get(name).await?;
        assert!(
            crd_condition(&crd, "Established"),
            "{name} not Established: {:?}",
            crd.status
        );
        assert!(
            crd_condition(&crd, "NamesAccepted"),
            "{name} names not accepted: {:?}",
            crd.status
        );
        assert_eq!(crd.spec.group, "toolyard.dev");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["toolyard".to_string()][..]),
            "{name}"
        );
        let [version] = &crd.spec.versions[..] else {
            bail!("{name}: expected one version")
        };
        assert_eq!(version.name, "v1alpha1");
        assert!(
            version.served && version.storage,
            "{name}: v1alpha1 not served and stored"
        );
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "{name}: no status subresource"
        );
        generations.push(crd.metadata.generation);
    }

    // Installing again (as every other test does) changes nothing.
    install_crds(&client).await?;
    for (name, generation) in names.iter().zip(generations) {
        assert_eq!(
            crds.get(name).await?.metadata.generation,
            generation,
            "{name} changed on re-apply"
        );
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn kubectl_explain_shows_the_field_docs() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;

    // The OpenAPI document is published a moment after the CRD is Established.
    let out = wait_for("kubectl explain gateway.spec.inboundAuth", WAIT, || async {
        let out = kubectl(&["explain", "gateway.spec.inboundAuth"])?;
        if !out.success {
            bail!("{}", out.stderr.trim());
        }
        Ok(out.stdout.contains("FIELDS:").then_some(out.stdout))
    })
    .await?;
    let text = squash_whitespace(&out);

    assert!(text.contains("KIND: Gateway"), "{out}");
    assert!(text.contains("FIELD: inboundAuth <Object>"), "{out}");
    // The doc comment of `GatewaySpec::inbound_auth` in crds/src/gateway.rs …
    assert!(
        text.contains("Who may call the gateway. Exactly one of `jwt`, `serviceAccount` or `none` must be set;"),
        "{out}"
    );
    assert!(
        text.contains("`none: {}` is an explicit opt-out of authentication."),
        "{out}"
    );
    // … and of its fields.
    assert!(
        text.contains("jwt <Object> JSON Web Tokens from an OIDC provider (AgentCore's custom JWT authorizer)."),
        "{out}"
    );
    assert!(
        text.contains("serviceAccount <Object> Kubernetes ServiceAccount tokens"),
        "{out}"
    );
    assert!(
        text.contains("none <Object> No authentication: anyone who reaches the Service"),
        "{out}"
    );

    // And one field of the other kind, through its short name.
    let out = kubectl_ok(&["explain", "gwt.spec.timeout"])?;
    assert!(
        squash_whitespace(&out)
            .contains("Time limit for one backend call, as a duration from 100ms to 15m"),
        "{out}"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn every_example_manifest_is_accepted() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let ns = TestNamespace::create(&client, "crds-examples").await?;

    let applied = apply_examples(&client, &ns.name).await?;
    assert!(applied >= 5, "only {applied} example objects");

    // What the API server stored (after pruning and defaulting) reads back into the Rust types
    // and equals the manifest as the Rust types read it: the schema's defaults agree with serde's.
    let gateways: Api<Gateway> = Api::namespaced(client.clone(), &ns.name);
    let targets: Api<GatewayTarget> = Api::namespaced(client.clone(), &ns.name);
    let (mut n_gateways, mut n_targets) = (0, 0);
    for doc in example_docs()? {
        let name = doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match doc["kind"].as_str() {
            Some("Gateway") => {
                let local: Gateway = serde_json::from_value(doc)?;
                assert_eq!(
                    gateways.get(&name).await?.spec,
                    local.spec,
                    "Gateway {name}"
                );
                n_gateways += 1;
            }
            Some("GatewayTarget") => {
                let local: GatewayTarget = serde_json::from_value(doc)?;
                assert_eq!(
                    targets.get(&name).await?.spec,
                    local.spec,
                    "GatewayTarget {name}"
                );
                n_targets += 1;
            }
            _ => {}
        }
    }
    assert!(
        n_gateways >= 1 && n_targets >= 2,
        "{n_gateways} Gateways, {n_targets} GatewayTargets"
    );
    assert_eq!(
        gateways.list(&ListParams::default()).await?.items.len(),
        n_gateways
    );
    assert_eq!(
        targets.list(&ListParams::default()).await?.items.len(),
        n_targets
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn invalid_manifests_are_rejected_naming_the_field() -> Result<()> {
    let manifests = invalid_manifests()?;
    assert!(
        manifests.len() >= 12,
        "only {} invalid manifests",
        manifests.len()
    );
    let client = client().await?;
    install_crds(&client).await?;
    let ns = TestNamespace::create(&client, "crds-invalid").await?;

    let mut failures = Vec::new();
    for m in &manifests {
        let name = m.name();
        match apply(&client, &m.object, Some(&ns.name)).await {
            Ok(_) => failures.push(format!(
                "{name}: accepted; expected a rejection containing {:?}",
                m.expect
            )),
            Err(err) => match api_error(&err) {
                None => failures.push(format!(
                    "{name}: failed without an answer from the API server: {err:#}"
                )),
                Some(status) => {
                    eprintln!(
                        "{name}: {} {}: {}",
                        status.code, status.reason, status.message
                    );
                    if status.code != 422 || status.reason != "Invalid" {
                        failures.push(format!(
                            "{name}: expected 422 Invalid, got {} {}: {}",
                            status.code, status.reason, status.message
                        ));
                    }
                    for expect in &m.expect {
                        if !status.message.contains(expect.as_str()) {
                            failures.push(format!(
                                "{name}: message does not contain {expect:?}:\n    {}",
                                status.message
                            ));
                        }
                    }
                }
            },
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) with {} invalid manifests:\n{}",
        failures.len(),
        manifests.len(),
        failures.join("\n")
    );

    // Nothing was stored.
    let gateways: Api<Gateway> = Api::namespaced(client.clone(), &ns.name);
    let targets: Api<GatewayTarget> = Api::namespaced(client.clone(), &ns.name);
    assert!(
        gateways
            .list(&ListParams::default())
            .await?
            .items
            .is_empty()
    );
    assert!(targets.list(&ListParams::default()).await?.items.is_empty());
    Ok(())
}

/// The whitespace-separated cells of the output line starting with `first`.
fn row<'a>(out: &'a str, first: &str) -> Option<Vec<&'a str>> {
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&first))
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn kubectl_get_toolyard_lists_every_kind_with_printer_columns() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let ns = TestNamespace::create(&client, "crds-get").await?;
    apply_examples(&client, &ns.name).await?;

    // Statuses as the operator writes them, so the columns have values to show.
    let pp = PatchParams::default();
    let gateways: Api<Gateway> = Api::namespaced(client.clone(), &ns.name);
    let url = format!("http://orders.{}.svc.cluster.local/mcp", ns.name);
    let status = json!({"status": {"url": url, "targets": 2, "tools": 3, "policies": 4, "conditions": [ready("True", "Programmed")]}});
    gateways
        .patch_status("orders", &pp, &Patch::Merge(&status))
        .await?;
    let targets: Api<GatewayTarget> = Api::namespaced(client.clone(), &ns.name);
    let status = json!({"status": {"kind": "Lambda", "tools": 2, "conditions": [ready("True", "Accepted")]}});
    targets
        .patch_status("lambda-using-sdk", &pp, &Patch::Merge(&status))
        .await?;

    let policies: Api<toolyard_crds::ToolPolicy> = Api::namespaced(client.clone(), &ns.name);
    let mut accepted = ready("True", "Accepted");
    accepted["type"] = json!("Accepted");
    let status = json!({"status": {"policies": 4, "conditions": [accepted]}});
    policies
        .patch_status("orders-access", &pp, &Patch::Merge(&status))
        .await?;

    let out = kubectl_ok(&["get", "toolyard", "-n", &ns.name])?;
    eprintln!("kubectl get toolyard:\n{out}");
    let headers: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.first() == Some(&"NAME"))
        .collect();
    assert!(
        headers.contains(&vec![
            "NAME", "READY", "URL", "TARGETS", "TOOLS", "POLICIES", "AGE"
        ]),
        "no Gateway table:\n{out}"
    );
    assert!(
        headers.contains(&vec!["NAME", "GATEWAY", "KIND", "TOOLS", "READY", "AGE"]),
        "no GatewayTarget table:\n{out}"
    );
    assert!(
        headers.contains(&vec![
            "NAME", "GATEWAY", "MODE", "POLICIES", "ACCEPTED", "AGE"
        ]),
        "no ToolPolicy table:\n{out}"
    );
    assert_eq!(headers.len(), 3, "{out}");

    let gw = row(&out, "gateway.toolyard.dev/orders")
        .with_context(|| format!("no Gateway row:\n{out}"))?;
    assert_eq!(gw[1..6], ["True", url.as_str(), "2", "3", "4"], "{out}");
    let policy = row(&out, "toolpolicy.toolyard.dev/orders-access")
        .with_context(|| format!("no ToolPolicy row:\n{out}"))?;
    assert_eq!(policy[1..5], ["orders", "LogOnly", "4", "True"], "{out}");
    let lambda = row(&out, "gatewaytarget.toolyard.dev/lambda-using-sdk")
        .with_context(|| format!("no lambda-using-sdk row:\n{out}"))?;
    assert_eq!(lambda[1..5], ["orders", "Lambda", "2", "True"], "{out}");
    // No status yet: only the gateway reference and the age have values.
    let users = row(&out, "gatewaytarget.toolyard.dev/users")
        .with_context(|| format!("no users row:\n{out}"))?;
    assert_eq!(users[1], "orders", "{out}");

    // The short names work too, and list every example Gateway and GatewayTarget.
    let out = kubectl_ok(&["get", "gw,gwt", "-n", &ns.name, "-o", "name"])?;
    let listed: BTreeSet<String> = out.lines().map(str::to_string).collect();
    let expected: BTreeSet<String> = example_docs()?
        .iter()
        .filter_map(|d| match d["kind"].as_str() {
            Some("Gateway") => Some(format!(
                "gateway.toolyard.dev/{}",
                d["metadata"]["name"].as_str()?
            )),
            Some("GatewayTarget") => Some(format!(
                "gatewaytarget.toolyard.dev/{}",
                d["metadata"]["name"].as_str()?
            )),
            _ => None,
        })
        .collect();
    assert_eq!(listed, expected);
    Ok(())
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn status_subresource_changes_only_the_status() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let ns = TestNamespace::create(&client, "crds-status").await?;
    apply(&client, &example("Gateway", "orders")?, Some(&ns.name)).await?;

    let api: Api<Gateway> = Api::namespaced(client.clone(), &ns.name);
    let pp = PatchParams::default();
    let before = api.get("orders").await?;
    assert!(before.status.is_none(), "a new Gateway has no status");

    // Writing /status sets the status and leaves spec and generation alone.
    let status = json!({"status": {
        "url": "http://orders.example/mcp", "targets": 2, "tools": 3, "observedGeneration": 1,
        "configRevision": "abc123", "conditions": [ready("True", "Programmed")]
    }});
    let after = api
        .patch_status("orders", &pp, &Patch::Merge(&status))
        .await?;
    assert_eq!(after.spec, before.spec);
    assert_eq!(after.metadata.generation, before.metadata.generation);
    let s = after.status.clone().context("status not stored")?;
    assert_eq!(s.url.as_deref(), Some("http://orders.example/mcp"));
    assert_eq!(
        (s.targets, s.tools, s.observed_generation),
        (Some(2), Some(3), Some(1))
    );
    assert_eq!(s.conditions.len(), 1);
    assert_eq!(
        (
            s.conditions[0].type_.as_str(),
            s.conditions[0].status.as_str()
        ),
        ("Ready", "True")
    );

    // A spec change sent to /status is ignored.
    let both = json!({"spec": {"description": "changed through /status"}, "status": {"tools": 4}});
    api.patch_status("orders", &pp, &Patch::Merge(&both))
        .await?;
    let got = api.get("orders").await?;
    assert_eq!(got.spec, before.spec);
    assert_eq!(got.metadata.generation, before.metadata.generation);
    assert_eq!(got.status.as_ref().and_then(|s| s.tools), Some(4));

    // And a status change sent to the main resource is ignored, while its spec change bumps the
    // generation.
    let both = json!({"spec": {"description": "changed"}, "status": {"tools": 99}});
    api.patch("orders", &pp, &Patch::Merge(&both)).await?;
    let got = api.get("orders").await?;
    assert_eq!(got.spec.description.as_deref(), Some("changed"));
    assert_eq!(
        got.metadata.generation,
        before.metadata.generation.map(|g| g + 1)
    );
    assert_eq!(got.status.as_ref().and_then(|s| s.tools), Some(4));
    assert_eq!(
        got.status.as_ref().and_then(|s| s.url.as_deref()),
        Some("http://orders.example/mcp")
    );
    Ok(())
}

/// `cluster.sh kubeconfig-for-user` mints an identity that RBAC applies to (unlike the admin's
/// `system:masters`): the operator's RBAC tests build on it.
#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn a_minted_user_identity_is_subject_to_rbac() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let ns = TestNamespace::create(&client, "crds-rbac").await?;
    apply(&client, &example("Gateway", "orders")?, Some(&ns.name)).await?;
    apply(&client, &example("GatewayTarget", "users")?, Some(&ns.name)).await?;

    let user = unique_name("e2e-viewer");
    let group = unique_name("e2e-viewers");
    let script = repo_root().join("tests/cluster/cluster.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(["kubeconfig-for-user", &user, &group])
        .output()
        .context("running cluster.sh kubeconfig-for-user")?;
    if !out.status.success() {
        bail!(
            "cluster.sh kubeconfig-for-user failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let kubeconfig = Path::new(stdout.lines().last().unwrap_or_default().trim());
    let viewer = client_from_kubeconfig(kubeconfig).await?;

    let as_viewer: Api<Gateway> = Api::namespaced(viewer.clone(), &ns.name);
    let err = as_viewer
        .list(&ListParams::default())
        .await
        .err()
        .context("an unbound user could list Gateways")?;
    let err = anyhow::Error::from(err);
    assert_eq!(api_error(&err).map(|s| s.code), Some(403), "{err:#}");

    // Bind the user's group (the certificate's O) to a Role that may read Gateways only.
    let pp = PostParams::default();
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "gateway-reader"},
        "rules": [{"apiGroups": ["toolyard.dev"], "resources": ["gateways"], "verbs": ["get", "list"]}]
    }))?;
    Api::<Role>::namespaced(client.clone(), &ns.name)
        .create(&pp, &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "gateway-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gateway-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), &ns.name)
        .create(&pp, &binding)
        .await?;

    let listed = wait_for("the RoleBinding to take effect", WAIT, || async {
        Ok(as_viewer.list(&ListParams::default()).await.ok())
    })
    .await?;
    assert_eq!(listed.items.len(), 1);
    let err = Api::<GatewayTarget>::namespaced(viewer, &ns.name)
        .list(&ListParams::default())
        .await
        .err()
        .context("the viewer could list GatewayTargets")?;
    let err = anyhow::Error::from(err);
    assert_eq!(api_error(&err).map(|s| s.code), Some(403), "{err:#}");
    Ok(())
}

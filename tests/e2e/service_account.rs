//! Cluster suite: Kubernetes ServiceAccount tokens as the gateway's inbound identity, both
//! verifications, end to end.
//!
//! The operator runs as a local process (admin kubeconfig); the gateway binary runs as a local
//! process with a token of its own ServiceAccount, so what it may do (TokenReview through the
//! `system:auth-delegator` binding the operator writes, or reading the API server's OIDC discovery
//! and JWKS) is exactly what a gateway pod gets. Caller tokens are real projected tokens minted
//! with the TokenRequest API (`kubectl create token --audience`).
//!
//! Run with `bash tests/run.sh cluster` (or `tests/cluster/cluster.sh run -- cargo test -p
//! toolyard-e2e --test cluster_service_account -- --ignored --test-threads=1`).

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use toolyard_crds::Gateway;
use toolyard_e2e::{
    LocalProcess, OperatorProcess, TestNamespace, WAIT, apply, client, free_port, install_crds,
    kubeconfig_for_token, kubectl, kubectl_ok, mcp_as, quickstart_openapi, tool_result_text,
    wait_for, workspace_binary,
};

/// The Gateway's name.
const GATEWAY: &str = "sa";
/// The gateway's ServiceAccount (rendered by the operator).
const GATEWAY_SA: &str = "sa-toolyard";
/// The audience the callers' tokens are bound to.
const AUDIENCE: &str = "toolyard-e2e-gateway";
/// The tool of the target (the gateway's own admin API).
const TOOL: &str = "admin___getReadiness";

/// A running scenario: the namespace, the operator and the gateway process.
struct Scenario {
    client: Client,
    ns: String,
    operator: OperatorProcess,
    gateway: Option<LocalProcess>,
    addr: String,
    admin_port: u16,
    // Last: the namespace is deleted after the processes stop.
    _namespace: TestNamespace,
}

/// A projected token of ServiceAccount `name` for `audience`, from the TokenRequest API.
fn token(ns: &str, name: &str, audience: &str, extra: &[&str]) -> Result<String> {
    let mut args = vec![
        "create",
        "token",
        name,
        "-n",
        ns,
        "--audience",
        audience,
        "--duration",
        "10m",
    ];
    args.extend_from_slice(extra);
    Ok(kubectl_ok(&args)?.trim().to_string())
}

/// The Gateway (verifying ServiceAccount tokens with `verification`, allowing only
/// `<ns>/allowed-bot`) with one target: the gateway's own admin API on `admin_port`.
fn objects(ns: &str, verification: &str, admin_port: u16) -> Result<Vec<Value>> {
    let admin_spec = quickstart_openapi()?;
    Ok(vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "allowed-bot"}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "other-bot"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "admin-api"}, "data": {"openapi.yaml": admin_spec}}),
        json!({
            "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
            "metadata": {"name": GATEWAY},
            "spec": {
                "inboundAuth": {"serviceAccount": {
                    "audiences": [AUDIENCE],
                    "allowed": [format!("{ns}/allowed-bot")],
                    "verification": verification,
                }},
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
    ])
}

/// The binding the operator writes for a TokenReview Gateway.
fn binding_name(ns: &str) -> String {
    format!("toolyard:{ns}:{GATEWAY}:auth-delegator")
}

impl Scenario {
    /// Namespace, operator and objects; the gateway process starts with [`Scenario::start_gateway`].
    async fn create(prefix: &str, verification: &str) -> Result<Self> {
        Self::create_with(prefix, verification, |_| Ok(())).await
    }

    /// [`Scenario::create`], running `before(namespace)` before the operator starts.
    async fn create_with(
        prefix: &str,
        verification: &str,
        before: impl FnOnce(&str) -> Result<()>,
    ) -> Result<Self> {
        let client = client().await?;
        install_crds(&client).await?;
        let namespace = TestNamespace::create(&client, prefix).await?;
        let ns = namespace.name.clone();
        before(&ns)?;
        let operator = toolyard_e2e::start_operator(&ns, prefix, "info,toolyard_operator=debug")?;
        let (port, admin_port) = (free_port()?, free_port()?);
        for obj in objects(&ns, verification, admin_port)? {
            apply(&client, &obj, Some(&ns)).await?;
        }
        Ok(Self {
            client,
            ns,
            operator,
            gateway: None,
            addr: format!("127.0.0.1:{port}"),
            admin_port,
            _namespace: namespace,
        })
    }

    /// Starts the gateway process with a token of its own ServiceAccount, once the operator has
    /// written its config, and waits until it serves the target's tool to `allowed`.
    async fn start_gateway(&mut self, allowed: &str) -> Result<()> {
        let sa: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(self.client.clone(), &self.ns);
        let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(self.client.clone(), &self.ns);
        wait_for("the gateway's ServiceAccount and config", WAIT, || async {
            self.operator.check_running()?;
            Ok((sa.get_opt(GATEWAY_SA).await?.is_some()
                && cms.get_opt("sa-toolyard-config").await?.is_some())
            .then_some(()))
        })
        .await
        .with_context(|| self.operator.log_tail())?;
        let own = kubectl_ok(&[
            "create",
            "token",
            GATEWAY_SA,
            "-n",
            &self.ns,
            "--duration",
            "1h",
        ])?;
        let kubeconfig = kubeconfig_for_token(own.trim(), &self.ns)?;
        let kubeconfig = kubeconfig.to_string_lossy().into_owned();
        let process = LocalProcess::start(
            "gateway-sa",
            &workspace_binary("toolyard-gateway")?,
            &[
                "--kube-config-map",
                "sa-toolyard-config",
                "--kube-secret",
                "sa-toolyard-credentials",
                "--namespace",
                &self.ns,
                "--listen",
                &self.addr,
                "--admin-listen",
                &format!("127.0.0.1:{}", self.admin_port),
            ],
            &[
                ("KUBECONFIG", kubeconfig.as_str()),
                ("RUST_LOG", "info,toolyard_gateway=debug"),
            ],
        )?;
        let addr = self.addr.clone();
        wait_for("tools/list with the allowed token", WAIT, || async {
            process.check_running()?;
            let Ok(answer) = mcp_as(&addr, Some(allowed), "tools/list", json!({})).await else {
                return Ok(None);
            };
            Ok((answer.status == 200 && answer.body.contains(TOOL)).then_some(()))
        })
        .await
        .with_context(|| format!("{}\n---\n{}", self.operator.log_tail(), process.log_tail()))?;
        self.gateway = Some(process);
        Ok(())
    }

    fn logs(&self) -> String {
        format!(
            "operator:\n{}\n---\ngateway:\n{}",
            self.operator.log_tail(),
            self.gateway
                .as_ref()
                .map(LocalProcess::log_tail)
                .unwrap_or_default()
        )
    }

    async fn binding(&self) -> Result<Option<ClusterRoleBinding>> {
        Ok(Api::<ClusterRoleBinding>::all(self.client.clone())
            .get_opt(&binding_name(&self.ns))
            .await?)
    }

    async fn gateway_object(&self) -> Result<Option<Gateway>> {
        Ok(Api::<Gateway>::namespaced(self.client.clone(), &self.ns)
            .get_opt(GATEWAY)
            .await?)
    }

    async fn set_verification(&self, verification: &str) -> Result<()> {
        Api::<Gateway>::namespaced(self.client.clone(), &self.ns)
            .patch(
                GATEWAY,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"inboundAuth": {"serviceAccount": {"verification": verification}}}})),
            )
            .await?;
        Ok(())
    }
}

/// Whether the gateway's ServiceAccount may create TokenReviews.
fn gateway_can_review(ns: &str) -> Result<bool> {
    let out = kubectl(&[
        "auth",
        "can-i",
        "create",
        "tokenreviews.authentication.k8s.io",
        "--as",
        &format!("system:serviceaccount:{ns}:{GATEWAY_SA}"),
    ])?;
    Ok(out.stdout.trim() == "yes")
}

/// A token with its signature changed (same header and claims).
fn tampered(token: &str) -> String {
    let (rest, sig) = token.rsplit_once('.').unwrap_or((token, ""));
    let mut sig: Vec<char> = sig.chars().collect();
    if let Some(c) = sig.get_mut(10) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    format!("{rest}.{}", sig.into_iter().collect::<String>())
}

/// The `error_description` a 401 must carry, per case and verification.
struct Expected {
    case: &'static str,
    token: Option<String>,
    /// `None`: no `error` at all (no token).
    description: Option<&'static str>,
}

/// Every refused token: HTTP 401 and the exact `WWW-Authenticate` (RFC 6750 + RFC 9728).
async fn assert_refusals(s: &Scenario, cases: &[Expected]) -> Result<()> {
    let metadata = format!(
        "resource_metadata=\"http://{}/.well-known/oauth-protected-resource/mcp\"",
        s.addr
    );
    for c in cases {
        let answer = mcp_as(&s.addr, c.token.as_deref(), "tools/list", json!({})).await?;
        assert_eq!(answer.status, 401, "{}: {answer:?}\n{}", c.case, s.logs());
        let header = answer
            .www_authenticate
            .with_context(|| format!("{}: no WWW-Authenticate", c.case))?;
        let expected = match c.description {
            None => format!("Bearer {metadata}"),
            Some(d) => {
                format!("Bearer error=\"invalid_token\", error_description=\"{d}\", {metadata}")
            }
        };
        assert_eq!(header, expected, "{}", c.case);
        assert!(!answer.body.contains(TOOL), "{}: {}", c.case, answer.body);
    }
    Ok(())
}

/// tools/list and tools/call with the allowed token.
async fn assert_allowed(s: &Scenario, allowed: &str) -> Result<()> {
    let list = mcp_as(&s.addr, Some(allowed), "tools/list", json!({})).await?;
    assert_eq!(list.status, 200, "{list:?}");
    let names: Vec<String> = list.json()?["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect();
    assert!(names.iter().any(|n| n == TOOL), "{names:?}");
    let call = mcp_as(
        &s.addr,
        Some(allowed),
        "tools/call",
        json!({"name": TOOL, "arguments": {}}),
    )
    .await?;
    assert_eq!(call.status, 200, "{call:?}");
    let result = call.json()?["result"].clone();
    assert_ne!(result["isError"], json!(true), "{result}");
    assert!(
        tool_result_text(&result).contains(r#""ready":true"#)
            || result["structuredContent"]["ready"] == json!(true),
        "{result}"
    );
    Ok(())
}

/// A token bound to a Secret that is then deleted: TokenReview refuses it (the API server checks
/// the bound object), offline OIDC verification cannot know and accepts it until it expires.
async fn token_of_deleted_binding(s: &Scenario) -> Result<String> {
    apply(
        &s.client,
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bound"}, "stringData": {"k": "v"}}),
        Some(&s.ns),
    )
    .await?;
    let t = token(
        &s.ns,
        "allowed-bot",
        AUDIENCE,
        &[
            "--bound-object-kind",
            "Secret",
            "--bound-object-name",
            "bound",
        ],
    )?;
    Api::<Secret>::namespaced(s.client.clone(), &s.ns)
        .delete("bound", &DeleteParams::default())
        .await?;
    Ok(t)
}

/// `verification: TokenReview`: the operator binds the gateway's ServiceAccount to
/// `system:auth-delegator`; the gateway reviews real projected tokens; the binding follows the
/// Gateway's spec (gone when it switches to Oidc, back when it switches back) and is removed by
/// the finalizer when the Gateway is deleted.
#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn token_review_verification_end_to_end() -> Result<()> {
    let mut s = Scenario::create("sa-review", "TokenReview").await?;
    let ns = s.ns.clone();

    // The binding, labelled with the Gateway, and the finalizer that removes it.
    let binding = wait_for("the auth-delegator ClusterRoleBinding", WAIT, || async {
        s.binding().await
    })
    .await
    .with_context(|| s.logs())?;
    assert_eq!(binding.role_ref.kind, "ClusterRole");
    assert_eq!(binding.role_ref.name, "system:auth-delegator");
    let subjects = binding.subjects.clone().unwrap_or_default();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert_eq!(
        (
            subjects[0].kind.as_str(),
            subjects[0].name.as_str(),
            subjects[0].namespace.as_deref()
        ),
        ("ServiceAccount", GATEWAY_SA, Some(ns.as_str()))
    );
    let labels = binding.labels();
    assert_eq!(
        labels.get("toolyard.dev/gateway").map(String::as_str),
        Some(GATEWAY)
    );
    assert_eq!(
        labels
            .get("toolyard.dev/gateway-namespace")
            .map(String::as_str),
        Some(ns.as_str())
    );
    let gw = s.gateway_object().await?.context("no Gateway")?;
    assert!(
        gw.finalizers()
            .iter()
            .any(|f| f == "toolyard.dev/auth-delegator"),
        "{:?}",
        gw.finalizers()
    );
    assert!(
        gateway_can_review(&ns)?,
        "the binding does not grant TokenReview"
    );

    let allowed = token(&ns, "allowed-bot", AUDIENCE, &[])?;
    s.start_gateway(&allowed).await?;
    assert_allowed(&s, &allowed).await?;

    let not_valid = "the token is not a valid ServiceAccount token for this gateway's audience";
    let cases = vec![
        Expected {
            case: "no token",
            token: None,
            description: None,
        },
        Expected {
            case: "a ServiceAccount outside the allow-list",
            token: Some(token(&ns, "other-bot", AUDIENCE, &[])?),
            description: Some("the ServiceAccount is not allowed to call this gateway"),
        },
        Expected {
            case: "the wrong audience",
            token: Some(token(&ns, "allowed-bot", "some-other-service", &[])?),
            description: Some(not_valid),
        },
        Expected {
            case: "the API server's own audience",
            token: Some(
                kubectl_ok(&[
                    "create",
                    "token",
                    "allowed-bot",
                    "-n",
                    &ns,
                    "--duration",
                    "10m",
                ])?
                .trim()
                .to_string(),
            ),
            description: Some(not_valid),
        },
        Expected {
            case: "garbage",
            token: Some("not-a-token".into()),
            description: Some(not_valid),
        },
        Expected {
            case: "a bad signature",
            token: Some(tampered(&allowed)),
            description: Some(not_valid),
        },
        Expected {
            case: "a token whose bound object was deleted",
            token: Some(token_of_deleted_binding(&s).await?),
            description: Some(not_valid),
        },
    ];
    assert_refusals(&s, &cases).await?;

    // No longer TokenReview: the binding and the finalizer go; the gateway verifies offline.
    s.set_verification("Oidc").await?;
    wait_for(
        "the binding removed after the switch to Oidc",
        WAIT,
        || async {
            let gone = s.binding().await?.is_none();
            let gw = s.gateway_object().await?.context("no Gateway")?;
            let unfinalized = !gw
                .finalizers()
                .iter()
                .any(|f| f == "toolyard.dev/auth-delegator");
            Ok((gone && unfinalized).then_some(()))
        },
    )
    .await
    .with_context(|| s.logs())?;
    let wrong_audience = token(&ns, "allowed-bot", "some-other-service", &[])?;
    wait_for("the gateway verifying with Oidc", WAIT, || async {
        let a = mcp_as(&s.addr, Some(&wrong_audience), "tools/list", json!({})).await?;
        Ok(a.www_authenticate
            .is_some_and(|h| h.contains("the token's audience is not allowed"))
            .then_some(()))
    })
    .await
    .with_context(|| s.logs())?;
    assert_allowed(&s, &allowed).await?;

    // Back to TokenReview: the binding returns.
    s.set_verification("TokenReview").await?;
    wait_for("the binding back", WAIT, || async { s.binding().await })
        .await
        .with_context(|| s.logs())?;

    // Deleting the Gateway runs the finalizer: the binding goes, then the Gateway.
    Api::<Gateway>::namespaced(s.client.clone(), &ns)
        .delete(GATEWAY, &DeleteParams::default())
        .await?;
    wait_for("the Gateway and its binding gone", WAIT, || async {
        Ok((s.gateway_object().await?.is_none() && s.binding().await?.is_none()).then_some(()))
    })
    .await
    .with_context(|| s.logs())?;
    s.operator.check_running()?;
    Ok(())
}

/// `verification: Oidc`: no binding and no finalizer; the gateway verifies real projected tokens
/// with the API server's own OIDC discovery and JWKS, read with its ServiceAccount token.
#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn oidc_verification_end_to_end() -> Result<()> {
    let mut s = Scenario::create("sa-oidc", "Oidc").await?;
    let ns = s.ns.clone();
    let allowed = token(&ns, "allowed-bot", AUDIENCE, &[])?;
    s.start_gateway(&allowed).await?;
    assert_allowed(&s, &allowed).await?;

    // Neither a binding nor a finalizer, and the gateway cannot review tokens.
    assert!(
        s.binding().await?.is_none(),
        "an Oidc Gateway got a binding"
    );
    let gw = s.gateway_object().await?.context("no Gateway")?;
    assert!(
        !gw.finalizers()
            .iter()
            .any(|f| f == "toolyard.dev/auth-delegator"),
        "{:?}",
        gw.finalizers()
    );
    assert!(!gateway_can_review(&ns)?);

    let cases = vec![
        Expected {
            case: "no token",
            token: None,
            description: None,
        },
        Expected {
            case: "a ServiceAccount outside the allow-list",
            token: Some(token(&ns, "other-bot", AUDIENCE, &[])?),
            description: Some("the ServiceAccount is not allowed to call this gateway"),
        },
        Expected {
            case: "the wrong audience",
            token: Some(token(&ns, "allowed-bot", "some-other-service", &[])?),
            description: Some("the token's audience is not allowed"),
        },
        Expected {
            case: "the API server's own audience",
            token: Some(
                kubectl_ok(&[
                    "create",
                    "token",
                    "allowed-bot",
                    "-n",
                    &ns,
                    "--duration",
                    "10m",
                ])?
                .trim()
                .to_string(),
            ),
            description: Some("the token's audience is not allowed"),
        },
        Expected {
            case: "garbage",
            token: Some("not-a-token".into()),
            description: Some("the token is not a well-formed JWT"),
        },
        Expected {
            case: "a bad signature",
            token: Some(tampered(&allowed)),
            description: Some("the token's signature is invalid"),
        },
    ];
    assert_refusals(&s, &cases).await?;

    // The documented difference: offline verification cannot see that a bound object is gone.
    let orphaned = token_of_deleted_binding(&s).await?;
    let answer = mcp_as(&s.addr, Some(&orphaned), "tools/list", json!({})).await?;
    assert_eq!(answer.status, 200, "{answer:?}");

    // The operator never wrote a binding for this namespace.
    let listed = kubectl(&[
        "get",
        "clusterrolebindings",
        "-l",
        &format!("toolyard.dev/gateway-namespace={ns}"),
        "-o",
        "name",
    ])?;
    assert_eq!(listed.stdout.trim(), "", "{}", listed.stderr);
    s.operator.check_running()?;
    Ok(())
}

/// A ClusterRoleBinding the operator cannot write (someone else's object with the binding's name
/// and another, immutable, `roleRef`): the Gateway reports `AuthDelegatorBindingFailed` with the
/// API error and the fix; deleting the Gateway leaves the foreign object alone.
#[tokio::test]
#[ignore = "needs a Kubernetes API server: run tests/cluster/cluster.sh run -- cargo test -p toolyard-e2e -- --ignored"]
async fn a_binding_that_cannot_be_written_is_reported() -> Result<()> {
    let foreign = std::cell::RefCell::new(String::new());
    let s = Scenario::create_with("sa-conflict", "TokenReview", |ns| {
        let name = binding_name(ns);
        kubectl_ok(&[
            "create",
            "clusterrolebinding",
            &name,
            "--clusterrole",
            "view",
            "--user",
            "somebody",
        ])?;
        *foreign.borrow_mut() = name;
        Ok(())
    })
    .await?;
    let foreign = foreign.into_inner();
    let result = async {
        let gw = wait_for("Ready=False AuthDelegatorBindingFailed", WAIT, || async {
            let gw = s.gateway_object().await?.context("no Gateway")?;
            let failed = gw.status.as_ref().is_some_and(|st| {
                st.conditions.iter().any(|c| {
                    c.type_ == "Ready"
                        && c.status == "False"
                        && c.reason == "AuthDelegatorBindingFailed"
                })
            });
            Ok(failed.then_some(gw))
        })
        .await
        .with_context(|| s.logs())?;
        let conditions = gw.status.map(|st| st.conditions).unwrap_or_default();
        let ready = conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .context("no Ready")?;
        for part in [
            foreign.as_str(),
            "system:auth-delegator",
            "serviceAccountAuth.tokenReview",
        ] {
            assert!(
                ready.message.contains(part),
                "{part} missing from {}",
                ready.message
            );
        }
        // The foreign binding is untouched and survives the Gateway.
        Api::<Gateway>::namespaced(s.client.clone(), &s.ns)
            .delete(GATEWAY, &DeleteParams::default())
            .await?;
        wait_for("the Gateway gone", WAIT, || async {
            Ok(s.gateway_object().await?.is_none().then_some(()))
        })
        .await
        .with_context(|| s.logs())?;
        let still = s
            .binding()
            .await?
            .context("the foreign binding was deleted")?;
        assert_eq!(still.role_ref.name, "view");
        s.operator.check_running()?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    Api::<ClusterRoleBinding>::all(s.client.clone())
        .delete(&foreign, &DeleteParams::default())
        .await?;
    result
}

//! The `system:auth-delegator` ClusterRoleBinding of a Gateway whose inbound auth verifies
//! ServiceAccount tokens with TokenReview (`inboundAuth.serviceAccount.verification:
//! TokenReview`): the gateway's ServiceAccount must be allowed to `create tokenreviews`.
//!
//! A ClusterRoleBinding is cluster-scoped, so a namespaced Gateway cannot own it (no garbage
//! collection). Instead it is named deterministically after the Gateway ([`binding_name`]),
//! labelled with the Gateway's namespace and name, and removed by the controller: when the
//! Gateway stops using TokenReview, and, through the [`FINALIZER`] on the Gateway, when the
//! Gateway is deleted. Gateways that never use TokenReview never get the finalizer.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use sha2::{Digest, Sha256};
use toolyard_crds::Gateway;
use toolyard_crds::gateway::TokenVerification;

use crate::render::{GATEWAY_LABEL, MANAGED_BY};

/// The finalizer that removes the binding before a Gateway goes away.
pub const FINALIZER: &str = "toolyard.dev/auth-delegator";
/// The ClusterRole that allows TokenReviews (and SubjectAccessReviews), built into Kubernetes.
pub const CLUSTER_ROLE: &str = "system:auth-delegator";
/// Label with the Gateway's namespace (the name is in [`GATEWAY_LABEL`]).
pub const GATEWAY_NAMESPACE_LABEL: &str = "toolyard.dev/gateway-namespace";
/// Longest object name the API server accepts.
const MAX_NAME: usize = 253;

/// Why the binding could not be written or removed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call on the binding failed (most often: the operator's RBAC lacks `bind` on
    /// `system:auth-delegator` or write access to ClusterRoleBindings).
    #[error(
        "cannot {action} ClusterRoleBinding {name}, which gives the gateway's ServiceAccount {CLUSTER_ROLE} for TokenReview: {reason}. The operator needs get/create/patch/delete on clusterrolebindings and bind on clusterrole {CLUSTER_ROLE} (Helm value serviceAccountAuth.tokenReview=true); or use verification: Oidc"
    )]
    Api {
        /// `read`, `apply` or `delete`.
        action: &'static str,
        /// The binding.
        name: String,
        /// The API server's message (or the transport error).
        reason: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

impl Error {
    fn api(action: &'static str, name: &str, source: kube::Error) -> Self {
        let reason = match &source {
            kube::Error::Api(status) => status.message.clone(),
            other => other.to_string(),
        };
        Error::Api {
            action,
            name: name.to_string(),
            reason,
            source,
        }
    }
}

/// Whether `gateway` verifies ServiceAccount tokens with TokenReview.
pub fn uses_token_review(gateway: &Gateway) -> bool {
    gateway
        .spec
        .inbound_auth
        .service_account
        .as_ref()
        .is_some_and(|sa| sa.verification == TokenVerification::TokenReview)
}

/// The binding's name: `toolyard:<namespace>:<gateway>:auth-delegator`. Neither a namespace nor a
/// Gateway name can contain `:`, so two Gateways never share a name; names too long for the API
/// are cut and made unique again with a hash of `namespace/gateway`.
pub fn binding_name(namespace: &str, gateway: &str) -> String {
    let full = format!("toolyard:{namespace}:{gateway}:auth-delegator");
    if full.len() <= MAX_NAME {
        return full;
    }
    let digest = Sha256::digest(format!("{namespace}/{gateway}").as_bytes());
    let hash = hex::encode(&digest[..6]);
    let suffix = format!("-{hash}:auth-delegator");
    let mut head = format!("toolyard:{namespace}:{gateway}");
    let mut cut = MAX_NAME - suffix.len();
    while !head.is_char_boundary(cut) {
        cut -= 1;
    }
    head.truncate(cut);
    format!("{head}{suffix}")
}

/// The labels of the binding of Gateway `namespace/gateway`.
pub fn labels(namespace: &str, gateway: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/managed-by".into(), MANAGED_BY.into()),
        ("app.kubernetes.io/part-of".into(), "toolyard".into()),
        (GATEWAY_LABEL.into(), gateway.into()),
        (GATEWAY_NAMESPACE_LABEL.into(), namespace.into()),
    ])
}

/// The binding of `service_account` (in `namespace`) to [`CLUSTER_ROLE`].
pub fn render(namespace: &str, gateway: &str, service_account: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(binding_name(namespace, gateway)),
            labels: Some(labels(namespace, gateway)),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: CLUSTER_ROLE.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: service_account.into(),
            namespace: Some(namespace.into()),
            api_group: None,
        }]),
    }
}

/// Whether a stored binding is the one of Gateway `namespace/gateway` (so the operator never
/// deletes somebody else's object that happens to have the name).
fn is_ours(stored: &ClusterRoleBinding, namespace: &str, gateway: &str) -> bool {
    let l = stored.labels();
    l.get("app.kubernetes.io/managed-by").map(String::as_str) == Some(MANAGED_BY)
        && l.get(GATEWAY_LABEL).map(String::as_str) == Some(gateway)
        && l.get(GATEWAY_NAMESPACE_LABEL).map(String::as_str) == Some(namespace)
}

/// Writes the binding unless the stored one already matches. Returns whether it wrote.
pub async fn ensure(
    client: &Client,
    field_manager: &str,
    namespace: &str,
    gateway: &str,
    service_account: &str,
) -> Result<bool, Error> {
    let desired = render(namespace, gateway, service_account);
    let name = desired.name_any();
    let api: Api<ClusterRoleBinding> = Api::all(client.clone());
    let stored = api
        .get_opt(&name)
        .await
        .map_err(|source| Error::api("read", &name, source))?;
    if let Some(stored) = stored
        && is_ours(&stored, namespace, gateway)
        && stored.role_ref == desired.role_ref
        && stored.subjects == desired.subjects
    {
        return Ok(false);
    }
    api.patch(
        &name,
        &PatchParams::apply(field_manager).force(),
        &Patch::Apply(&desired),
    )
    .await
    .map_err(|source| Error::api("apply", &name, source))?;
    tracing::info!(binding = %name, %namespace, %gateway, "bound the gateway's ServiceAccount to system:auth-delegator");
    Ok(true)
}

/// Deletes the binding of Gateway `namespace/gateway` if it exists and is ours. Returns whether
/// it deleted.
pub async fn remove(client: &Client, namespace: &str, gateway: &str) -> Result<bool, Error> {
    let name = binding_name(namespace, gateway);
    let api: Api<ClusterRoleBinding> = Api::all(client.clone());
    let stored = api
        .get_opt(&name)
        .await
        .map_err(|source| Error::api("read", &name, source))?;
    if !stored.is_some_and(|s| is_ours(&s, namespace, gateway)) {
        return Ok(false);
    }
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(false),
        Err(source) => return Err(Error::api("delete", &name, source)),
    }
    tracing::info!(binding = %name, %namespace, %gateway, "removed the gateway's system:auth-delegator binding");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_fit() {
        assert_eq!(
            binding_name("agents", "demo"),
            "toolyard:agents:demo:auth-delegator"
        );
        // `-` cannot make two Gateways collide: the separator is `:`.
        assert_ne!(binding_name("a-b", "c"), binding_name("a", "b-c"));
        let long_gw = "g".repeat(253);
        let a = binding_name("ns", &long_gw);
        let b = binding_name("ns", &"g".repeat(252));
        assert!(a.len() <= MAX_NAME && b.len() <= MAX_NAME, "{}", a.len());
        assert_ne!(a, b);
        assert!(a.starts_with("toolyard:ns:ggg") && a.ends_with(":auth-delegator"));
        assert_eq!(a, binding_name("ns", &long_gw));
    }

    #[test]
    fn the_binding_names_the_gateway_service_account() {
        let b = render("agents", "demo", "demo-toolyard");
        assert_eq!(b.role_ref.name, CLUSTER_ROLE);
        assert_eq!(b.role_ref.kind, "ClusterRole");
        let s = &b.subjects.as_ref().expect("subjects")[0];
        assert_eq!(
            (s.kind.as_str(), s.name.as_str(), s.namespace.as_deref()),
            ("ServiceAccount", "demo-toolyard", Some("agents"))
        );
        assert!(is_ours(&b, "agents", "demo"));
        assert!(!is_ours(&b, "other", "demo"));
        assert!(!is_ours(&b, "agents", "demo2"));
    }

    #[test]
    fn only_token_review_gateways_need_it() {
        let gw = |auth: serde_json::Value| -> Gateway {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "toolyard.dev/v1alpha1", "kind": "Gateway",
                "metadata": {"name": "g", "namespace": "n"},
                "spec": {"inboundAuth": auth},
            }))
            .expect("gateway")
        };
        assert!(uses_token_review(&gw(serde_json::json!({
            "serviceAccount": {"audiences": ["g"], "allowed": ["a/b"]}
        }))));
        assert!(!uses_token_review(&gw(serde_json::json!({
            "serviceAccount": {"audiences": ["g"], "allowed": ["a/b"], "verification": "Oidc"}
        }))));
        assert!(!uses_token_review(&gw(serde_json::json!({"none": {}}))));
    }
}

//! The `ToolPolicy` custom resource: Cedar policies that decide which callers may call (and so
//! see) which tools of a Gateway.
//!
//! A separate kind rather than a field of the Gateway so that the teams who own tools can own the
//! rules for them under their own RBAC, without write access to the Gateway itself.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::target::GatewayRef;

/// A ToolPolicy attaches Cedar policies to the Gateway named by `gatewayRef`. Once any accepted
/// ToolPolicy applies to a Gateway, its tools are denied unless a policy permits them (and no
/// policy forbids them); a Gateway without ToolPolicies serves every tool to every authenticated
/// caller, as before.
// kube's `printcolumn(...)` repeats `type_`, which clippy mistakes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "toolyard.dev",
    version = "v1alpha1",
    kind = "ToolPolicy",
    namespaced,
    status = "ToolPolicyStatus",
    shortname = "tp",
    category = "toolyard",
    printcolumn(
        name = "Gateway",
        type_ = "string",
        json_path = ".spec.gatewayRef.name"
    ),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode"),
    printcolumn(name = "Policies", type_ = "integer", json_path = ".status.policies"),
    printcolumn(
        name = "Accepted",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Accepted\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ToolPolicySpec {
    /// The Gateway (in the same namespace) whose tools these policies govern.
    pub gateway_ref: GatewayRef,

    /// `Enforce` (default): denied calls fail and denied tools are hidden from `tools/list` and
    /// search. `LogOnly`: the gateway logs and counts what these policies would deny and changes
    /// nothing. A Gateway enforces only when at least one of its ToolPolicies is `Enforce`.
    #[serde(default)]
    pub mode: PolicyMode,

    /// The Cedar policies, each validated against the gateway's Cedar schema
    /// (see docs/security.md) before it is served.
    #[schemars(length(min = 1, max = 1000))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub policies: Vec<NamedPolicy>,
}

/// Whether policies are enforced or only logged.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum PolicyMode {
    /// Deny what the policies do not permit.
    #[default]
    Enforce,
    /// Log and count what would be denied; allow everything.
    LogOnly,
}

/// One Cedar policy (or several: one text may hold many policies).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedPolicy {
    /// Name of the policy, unique in this ToolPolicy; metrics and logs use
    /// `<ToolPolicy name>/<name>`.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9])?$"))]
    pub name: String,
    /// Cedar source, at most 10,000 characters.
    #[schemars(length(min = 1, max = 10000))]
    pub text: String,
}

/// Observed state of a ToolPolicy, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolPolicyStatus {
    /// `Accepted`: `True` when every policy parsed and validated against the gateway's Cedar
    /// schema; otherwise `False` with the path of the bad field (e.g. `spec.policies[2].text`)
    /// and Cedar's message, and the last accepted policies keep serving.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` the operator last validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Number of Cedar policies served from this ToolPolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<i32>,
    /// The policies last accepted, served while the current spec is invalid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_policies: Vec<NamedPolicy>,
}

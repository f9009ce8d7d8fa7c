//! References and small shared types used by both CRDs: Secret and ConfigMap keys, the schema
//! sources of a target, and the status conditions list.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A key of a Secret in the same namespace as the object that refers to it.
///
/// Cross-namespace references are deliberately impossible: a GatewayTarget can only hand the
/// gateway credentials its own namespace already holds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, KubeSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret, in the same namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret's `data` (or `stringData`).
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A key of a ConfigMap in the same namespace as the object that refers to it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, KubeSchema)]
pub struct ConfigMapKeyRef {
    /// Name of the ConfigMap, in the same namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the ConfigMap's `data` (or `binaryData`, which is decompressed if gzipped).
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// Where a schema document (OpenAPI, Swagger, Smithy JSON AST or a Lambda tool schema) comes from.
/// Exactly one of `inline`, `configMapRef` and `url` must be set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "[has(self.inline), has(self.configMapRef), has(self.url)].filter(x, x).size() == 1"
).message("schema: set exactly one of inline, configMapRef or url"))]
pub struct SchemaSource {
    /// The document itself, as YAML or JSON text. Good for small specs; an object is limited to
    /// about 1 MiB in total, so larger specs belong in a ConfigMap or behind a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
    /// A ConfigMap key holding the document (YAML or JSON; gzip in `binaryData` is accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeyRef>,
    /// An `http(s)` URL the operator fetches the document from. Fetched at reconcile time and on
    /// every resync; the gateway itself never fetches schemas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"), length(max = 2048))]
    pub url: Option<String>,
}

/// Condition types, reasons and statuses as constants, so the operator, the tests and the docs
/// spell them the same way.
pub mod conditions {
    /// The object is fully working: for a Gateway, the data plane serves the current config; for a
    /// GatewayTarget, its tools are served.
    pub const READY: &str = "Ready";
    /// Gateway: the data plane has applied the config generation compiled from this spec.
    pub const PROGRAMMED: &str = "Programmed";
    /// GatewayTarget: the spec compiled into tools and the referenced Gateway exists.
    pub const ACCEPTED: &str = "Accepted";
    /// GatewayTarget: every referenced Secret, ConfigMap and URL could be read.
    pub const RESOLVED_REFS: &str = "ResolvedRefs";
}

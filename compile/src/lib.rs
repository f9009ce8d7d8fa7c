//! Toolyard's compile library: Gateway + GatewayTargets (+ the documents they reference: OpenAPI,
//! Smithy, Lambda tool schemas, upstream MCP catalogs) → the compiled gateway config
//! (`toolyard_crds::config::GatewayConfig`) and a per-target report. The operator uses it to
//! validate and report status, the gateway (standalone) to build its routes.
//!
//! Pure functions and synchronous code only. This crate must not depend on tokio, an HTTP client
//! (reqwest), the kube client or either of its users (`toolyard-operator`, `toolyard-gateway`):
//! `tests/src/layers.rs` fails if it gains one of them, directly or transitively. The only I/O is
//! [`manifests`] reading a folder of YAML from the local file system (standalone mode's input).

pub mod duration;
pub mod fetch_limits;
pub mod gateway;
pub mod lambda;
pub mod manifests;
pub mod naming;
pub mod openapi;
pub mod policy;
pub mod schema_defs;
pub mod smithy;

use std::collections::BTreeMap;

use serde_json::Value;
use toolyard_crds::config::{CallPlan, ToolHints};
use toolyard_crds::target::SkippedOperation;

/// A tool as a source document describes it, before the target's prefix, selection and overrides
/// are applied (see `naming`).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceTool {
    /// The name in the source: the operationId, a name derived from method + path, a Lambda tool
    /// name or an upstream MCP tool name. May contain characters MCP names do not allow; naming
    /// sanitizes it.
    pub name: String,
    /// Display title (OpenAPI `summary` when there is also a `description`).
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// JSON Schema 2020-12 of the arguments object.
    pub input_schema: Value,
    /// JSON Schema of structured results, when the result is an object.
    pub output_schema: Option<Value>,
    /// Behaviour hints.
    pub annotations: Option<ToolHints>,
    /// The source marks the operation deprecated (OpenAPI `deprecated: true`, Smithy
    /// `@deprecated`).
    pub deprecated: bool,
    /// How a call is made.
    pub call: CallPlan,
}

/// What a source document compiles into.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SourceTools {
    /// The tools, in document order.
    pub tools: Vec<SourceTool>,
    /// Operations that could not become tools, with the reason.
    pub skipped: Vec<SkippedOperation>,
    /// Schema definitions the tools' schemas refer to (`{"$ref": "#/$defs/<name>"}`); see
    /// [`schema_defs`]. Empty for sources whose schemas are self-contained.
    pub schema_defs: BTreeMap<String, Value>,
}

//! The compile library: Gateway + GatewayTargets (+ the documents they reference) → the compiled
//! gateway config. Pure functions, no I/O: the operator uses it to validate and report status, the
//! gateway (standalone) to build its routes.

pub mod duration;
pub mod gateway;
pub mod lambda;
pub mod naming;
pub mod openapi;
pub mod smithy;

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
}

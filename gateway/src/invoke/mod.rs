//! Tool calls: a compiled call plan + the caller's arguments → a backend request → an MCP result.
//! Every failure a caller can cause or a backend can have becomes a tool result with
//! `isError: true` (the MCP rule), never a protocol error, a panic or a hang.

pub mod awsjson;
pub mod http;
pub mod lambda;
pub mod mcp;
pub mod request;
pub mod result;
pub mod transport;
pub mod validate;

use serde_json::{Map, Value};
use toolyard_crds::config::CallPlan;
use toolyard_crds::gateway::ExceptionLevel;

use crate::runtime::{Found, Snapshot};
use result::ToolOutcome;

/// What a call knows about its caller beyond the arguments: ids for the Lambda client context,
/// and the caller's session for relaying an upstream MCP server's progress and requests.
#[derive(Clone, Default)]
pub struct CallContext {
    /// The JSON-RPC id of the `tools/call` request.
    pub message_id: Option<String>,
    /// The MCP session id (`Mcp-Session-Id`), when the client has a session.
    pub session_id: Option<String>,
    /// The caller's session (server-to-client relay for upstream MCP tools).
    pub peer: Option<rmcp::service::Peer<rmcp::RoleServer>>,
    /// The caller's session and `_meta.progressToken`, when it asked for progress.
    pub progress: Option<(
        rmcp::service::Peer<rmcp::RoleServer>,
        rmcp::model::ProgressToken,
    )>,
    /// For a 2026-07-28 caller of an upstream MCP tool: the MRTR round that answers (or
    /// collects) the upstream's questions. See [`crate::upstream::mrtr`].
    pub round: Option<std::sync::Arc<crate::upstream::mrtr::Round>>,
    /// For a 2026-07-28 caller of a 2026-07-28 upstream: its `inputResponses` and
    /// `requestState` go upstream as they are, and so does the upstream's InputRequiredResult
    /// come back.
    pub passthrough: Option<std::sync::Arc<crate::upstream::mrtr::Passthrough>>,
}

/// Calls one tool of a snapshot.
pub async fn call(snapshot: &Snapshot, found: Found<'_>, args: Map<String, Value>) -> ToolOutcome {
    call_with(snapshot, found, args, &CallContext::default()).await
}

/// Calls one tool of a snapshot on behalf of the caller described by `ctx`.
pub async fn call_with(
    snapshot: &Snapshot,
    found: Found<'_>,
    args: Map<String, Value>,
    ctx: &CallContext,
) -> ToolOutcome {
    let Found {
        target,
        runtime,
        tool,
        listed,
        ..
    } = found;
    if let Some(limiter) = &runtime.limiter
        && !limiter.try_acquire()
    {
        return ToolOutcome::error_kind(
            result::ErrorKind::Throttled,
            format!(
                "Rate limit exceeded for target {}; retry later.",
                target.name
            ),
        );
    }
    if let Some(missing) = missing_required(&listed.input_schema, &args) {
        return ToolOutcome::error_kind(
            result::ErrorKind::User,
            format!(
                "Missing required argument {missing:?} for tool {}.",
                tool.name
            ),
        );
    }
    // Types, enums, formats and bounds, before anything is sent.
    if let Err(invalid) = found.validator.check(&args) {
        return ToolOutcome::error_kind(
            result::ErrorKind::User,
            format!("{invalid} (tool {}).", tool.name),
        );
    }
    let debug = snapshot.config.gateway.exception_level == ExceptionLevel::Debug;
    match &tool.call {
        CallPlan::Http(plan) => {
            http::call(&snapshot.config.gateway.security, found, plan, &args, debug).await
        }
        CallPlan::Lambda => lambda::call(&snapshot.config.gateway, found, &args, ctx, debug).await,
        CallPlan::AwsJson { operation } => {
            awsjson::call(
                &snapshot.config.gateway.security,
                found,
                operation,
                &args,
                debug,
            )
            .await
        }
        // Boxed: an upstream MCP call (rmcp's request and response futures) is three times the
        // size of the others, and this future is moved on every call of every kind.
        CallPlan::Mcp { upstream_name } => {
            Box::pin(mcp::call(found, upstream_name, args, ctx)).await
        }
    }
}

/// The first `required` property of the input schema that the arguments lack.
fn missing_required(schema: &Map<String, Value>, args: &Map<String, Value>) -> Option<String> {
    schema
        .get("required")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_str)
        .find(|name| !args.contains_key(*name))
        .map(str::to_string)
}

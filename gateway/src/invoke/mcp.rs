//! Calls of upstream MCP server tools: the upstream's result (content, structuredContent,
//! isError) is returned unchanged; progress the upstream reports is forwarded to the caller.
//! A disconnected upstream fails the call at once (the manager keeps reconnecting), and every
//! call is bounded by the target's timeout, so a dead upstream never hangs a client. The
//! caller's own credentials are never sent: the upstream session carries only the target's.

use rmcp::model::{CallToolRequestParams, CallToolResponse, RequestMetaObject};
use rmcp::service::ServiceError;
use serde_json::{Map, Value};

use super::CallContext;
use super::result::{ErrorKind, ToolOutcome};
use crate::runtime::Found;

/// Calls `upstream_name` on the target's upstream.
pub async fn call(
    found: Found<'_>,
    upstream_name: &str,
    args: Map<String, Value>,
    context: &CallContext,
) -> ToolOutcome {
    let target = &found.target.name;
    let Some(handle) = &found.runtime.upstream else {
        return ToolOutcome::error_kind(
            ErrorKind::Backend,
            format!("Target {target} has no upstream MCP session; this is a gateway bug, report it."),
        );
    };
    let Some(peer) = handle.peer() else {
        handle.poke();
        let why = handle
            .last_error()
            .map_or_else(String::new, |e| format!(" ({e})"));
        return ToolOutcome::error_kind(
            ErrorKind::Backend,
            format!(
                "The upstream MCP server of target {target} is unreachable{why}. The gateway keeps reconnecting; retry the call shortly."
            ),
        );
    };
    let mut params = CallToolRequestParams::new(upstream_name.to_string()).with_arguments(args);
    let _route = context.progress.as_ref().map(|(downstream, token)| {
        let (upstream_token, guard) = handle.progress.register(downstream.clone(), token.clone());
        let mut meta = RequestMetaObject::default();
        meta.set_progress_token(upstream_token);
        params.meta = Some(meta);
        guard
    });
    let timeout = found.runtime.timeout;
    match tokio::time::timeout(timeout, peer.call_tool_once(params)).await {
        Ok(Ok(CallToolResponse::Complete(result))) => ToolOutcome {
            error: (result.is_error == Some(true)).then_some(ErrorKind::Backend),
            result,
        },
        Ok(Ok(_)) => ToolOutcome::error_kind(
            ErrorKind::Backend,
            format!(
                "The upstream tool {upstream_name} of target {target} asked for client input or started a task; the gateway does not relay those yet."
            ),
        ),
        Ok(Err(ServiceError::McpError(e))) => ToolOutcome::error_kind(
            ErrorKind::User,
            format!(
                "The upstream MCP server of target {target} refused the call of {upstream_name}: {} (JSON-RPC error {}).",
                e.message, e.code.0
            ),
        ),
        Ok(Err(e)) => {
            handle.poke();
            ToolOutcome::error_kind(
                ErrorKind::Backend,
                format!(
                    "Calling {upstream_name} on the upstream MCP server of target {target} failed: {e}. The gateway reconnects in the background; retry shortly."
                ),
            )
        }
        Err(_) => {
            handle.poke();
            ToolOutcome::error_kind(
                ErrorKind::Backend,
                format!(
                    "The upstream MCP server of target {target} did not answer {upstream_name} within {} ms (the target's timeout).",
                    timeout.as_millis()
                ),
            )
        }
    }
}

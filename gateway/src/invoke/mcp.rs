//! Calls of upstream MCP server tools: the upstream's result (content, structuredContent,
//! isError) is returned unchanged; progress the upstream reports is forwarded to the caller.
//! A disconnected upstream fails the call at once (the manager keeps reconnecting), and every
//! call is bounded by the target's timeout, so a dead upstream never hangs a client. The
//! caller's own credentials are never sent: the upstream session carries only the target's.

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, ServerResult,
};
use rmcp::service::{PeerRequestOptions, ServiceError};
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
            format!(
                "Target {target} has no upstream MCP session; this is a gateway bug, report it."
            ),
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
    let params = CallToolRequestParams::new(upstream_name.to_string()).with_arguments(args);
    let timeout = found.runtime.timeout;
    let call = async {
        // rmcp gives every request its own progress token; progress the upstream reports under
        // it is routed back to the caller's token for as long as the call runs.
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let pending = peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await?;
        // A 2026-07-28 caller is asked through its round; a 2025 caller through its session.
        let _inflight = match &context.round {
            Some(round) => Some(handle.inflight.enter_round(round.clone())),
            None => context.peer.clone().map(|p| handle.inflight.enter(p)),
        };
        let _route = context.progress.as_ref().map(|(downstream, token)| {
            handle
                .progress
                .register_as(&pending.progress_token, downstream.clone(), token.clone())
        });
        let Some(round) = &context.round else {
            return pending.await_response().await;
        };
        let id = pending.id.clone();
        match round.drive(pending.await_response()).await {
            Some(result) => result,
            None => {
                // The caller is asked instead: the upstream call is abandoned (and repeated
                // with the answers).
                let cancelled = CancelledNotificationParam::new(
                    Some(id),
                    Some(
                        "the gateway's caller was asked for input; the call will be repeated"
                            .into(),
                    ),
                );
                let _ = peer.notify_cancelled(cancelled).await;
                Ok(ServerResult::empty(()))
            }
        }
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(ServerResult::CallToolResult(result))) => outcome(result),
        Ok(Ok(ServerResult::EmptyResult(_))) => outcome(CallToolResult::success(vec![])),
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
            let e = handle.redact(e.to_string());
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

/// The upstream's result, marked complete: a 2025 upstream sends no `resultType`, which
/// 2026-07-28 callers need (rmcp drops the field again for older callers).
fn outcome(mut result: CallToolResult) -> ToolOutcome {
    result.result_type = Some(rmcp::model::ResultType::COMPLETE);
    ToolOutcome {
        error: (result.is_error == Some(true)).then_some(ErrorKind::Backend),
        result,
    }
}

//! Calls of upstream MCP server tools: the upstream's result (content, structuredContent,
//! isError) is returned unchanged; progress the upstream reports is forwarded to the caller.
//! A disconnected upstream fails the call at once (the manager keeps reconnecting), and every
//! call is bounded by the target's timeout, so a dead upstream never hangs a client. The
//! caller's own credentials are never sent: the upstream session carries only the target's.

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, InputRequest, InputRequests, InputResponses, ProgressNotificationParam,
    ProgressToken, RequestMetaObject, ServerRequest, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, ServiceError};
use rmcp::{RoleClient, RoleServer};
use serde_json::{Map, Value};

use super::CallContext;
use super::result::{ErrorKind, ToolOutcome};
use crate::runtime::Found;
use crate::upstream::UpstreamHandle;
use crate::upstream::client::relay_to_caller;
use crate::upstream::progress::{ProgressRoute, ROUTE_META};

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
    let mut params = CallToolRequestParams::new(upstream_name.to_string()).with_arguments(args);
    if let Some(p) = &context.passthrough {
        params.input_responses = p.input_responses.clone();
        params.request_state = p.request_state.clone();
    }
    let timeout = found.runtime.timeout;
    let call = async {
        let mut params = params;
        for _ in 0..MAX_ROUNDS {
            let response = request_once(handle, &peer, params.clone(), context).await?;
            // A 2026-07-28 upstream asks with an InputRequiredResult. A 2025 caller (a session)
            // is asked on its session, and the call is repeated with the answers.
            match response {
                ServerResult::InputRequiredResult(asked)
                    if context.passthrough.is_none() && context.round.is_none() =>
                {
                    let Some(caller) = &context.peer else {
                        return Ok(ServerResult::InputRequiredResult(asked));
                    };
                    // Boxed: asking the caller is rare and its future large.
                    let answers = Box::pin(fulfil(
                        handle,
                        caller,
                        asked.input_requests.unwrap_or_default(),
                    ))
                    .await
                    .map_err(ServiceError::McpError)?;
                    params.input_responses = Some(answers);
                    params.request_state = asked.request_state;
                }
                other => return Ok(other),
            }
        }
        Err(ServiceError::McpError(rmcp::ErrorData::internal_error(
            format!("the upstream asked for input more than {MAX_ROUNDS} times"),
            None,
        )))
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(ServerResult::CallToolResult(result))) => outcome(result),
        Ok(Ok(ServerResult::EmptyResult(_))) => outcome(CallToolResult::success(vec![])),
        Ok(Ok(ServerResult::InputRequiredResult(asked))) if context.passthrough.is_some() => {
            // A 2026-07-28 upstream asks a 2026-07-28 caller: its result goes back as is.
            if let Some(p) = &context.passthrough {
                p.set(asked);
            }
            outcome(CallToolResult::success(vec![]))
        }
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
            let e = handle.redact(crate::upstream::errors::describe(&e));
            ToolOutcome::error_kind(
                ErrorKind::Backend,
                format!(
                    "Calling {upstream_name} on the upstream MCP server of target {target} ({}) failed: {e}. The gateway reconnects in the background; retry shortly, and if it keeps failing check that the upstream is running and reachable from the gateway.",
                    handle.url()
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

/// Most rounds of input a 2026-07-28 upstream may ask for in one call.
const MAX_ROUNDS: usize = 10;

/// One `tools/call` on the upstream: progress routed back to the caller, questions of a
/// 2025 upstream answered by the caller's session or collected by its MRTR round.
async fn request_once(
    handle: &UpstreamHandle,
    peer: &Peer<RoleClient>,
    params: CallToolRequestParams,
    context: &CallContext,
) -> Result<ServerResult, ServiceError> {
    // The route exists before the request leaves (see `upstream::progress`): the transport
    // links rmcp's progress token for this request to it and queues the upstream's progress.
    let mut route = context.progress.as_ref().map(|(downstream, token)| {
        (
            handle.progress.register(),
            downstream.clone(),
            token.clone(),
        )
    });
    let mut options = PeerRequestOptions::no_options();
    if let Some((r, _, _)) = &route {
        let mut meta = RequestMetaObject::default();
        meta.0.0.insert(ROUTE_META.into(), Value::from(r.id));
        options = options.with_meta(meta);
    }
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let pending = peer.send_request_with_option(request, options).await?;
    // A 2026-07-28 caller is asked through its round; a 2025 caller through its session.
    let _inflight = match &context.round {
        Some(round) => Some(handle.inflight.enter_round(round.clone())),
        None => context.peer.clone().map(|p| handle.inflight.enter(p)),
    };
    let id = pending.id.clone();
    let response = forwarding_progress(pending.await_response(), route.as_mut());
    let Some(round) = &context.round else {
        return response.await;
    };
    // Boxed, like the other rare paths here: the common call does not carry their state.
    match Box::pin(round.drive(response)).await {
        Some(result) => result,
        None => {
            // The caller is asked instead: the upstream call is abandoned (and repeated with
            // the answers).
            let cancelled = CancelledNotificationParam::new(
                Some(id),
                Some("the gateway's caller was asked for input; the call will be repeated".into()),
            );
            let _ = Box::pin(peer.notify_cancelled(cancelled)).await;
            Ok(ServerResult::empty(()))
        }
    }
}

/// Awaits `response` while forwarding the call's progress to the caller; once the response is
/// in, forwards what is still queued (everything the upstream sent before its response) first.
async fn forwarding_progress<T>(
    response: impl Future<Output = T>,
    route: Option<&mut (ProgressRoute, Peer<RoleServer>, ProgressToken)>,
) -> T {
    match route {
        None => response.await,
        // Boxed: only calls that asked for progress carry the forwarding loop.
        Some(route) => Box::pin(forward_while(response, route)).await,
    }
}

/// [`forwarding_progress`] with a route.
async fn forward_while<T>(
    response: impl Future<Output = T>,
    (route, caller, token): &mut (ProgressRoute, Peer<RoleServer>, ProgressToken),
) -> T {
    let forward = async |mut p: ProgressNotificationParam| {
        p.progress_token = token.clone();
        let _ = caller.notify_progress(p).await;
    };
    tokio::pin!(response);
    loop {
        tokio::select! {
            biased;
            out = &mut response => {
                while let Some(p) = route.try_next() {
                    forward(p).await;
                }
                return out;
            }
            Some(p) = route.next() => forward(p).await,
        }
    }
}

/// Asks a 2025 caller, on its session, what a 2026-07-28 upstream asked for.
async fn fulfil(
    handle: &UpstreamHandle,
    caller: &Peer<RoleServer>,
    requests: InputRequests,
) -> Result<InputResponses, rmcp::ErrorData> {
    let mut answers = InputResponses::new();
    for (key, request) in requests {
        let request = match request {
            InputRequest::CreateMessage(r) => ServerRequest::CreateMessageRequest(r),
            InputRequest::Elicitation(r) => ServerRequest::ElicitRequest(r),
            InputRequest::ListRoots(r) => ServerRequest::ListRootsRequest(r),
            _ => {
                return Err(rmcp::ErrorData::invalid_request(
                    format!(
                        "the upstream asked for input {key} of a kind this gateway cannot relay"
                    ),
                    None,
                ));
            }
        };
        let result = relay_to_caller(handle, caller, request).await?;
        let value = serde_json::to_value(result)
            .map_err(|e| rmcp::ErrorData::internal_error(e.to_string(), None))?;
        answers.insert(key, value);
    }
    Ok(answers)
}

/// The upstream's result, marked complete: a 2025 upstream sends no `resultType`, which
/// 2026-07-28 callers need (rmcp drops the field again for older callers).
/// The upstream's protocol `_meta` keys are dropped (see `upstream::meta`).
fn outcome(mut result: CallToolResult) -> ToolOutcome {
    result.result_type = Some(rmcp::model::ResultType::COMPLETE);
    result.meta = crate::upstream::meta::relayed(result.meta.take());
    ToolOutcome {
        error: (result.is_error == Some(true)).then_some(ErrorKind::Backend),
        result,
    }
}

//! Relaying `prompts/get`, `resources/read` and `completion/complete` to the upstream MCP server
//! that serves the prompt or resource. The upstream's result or JSON-RPC error is returned as is;
//! a disconnected or slow upstream gives an error at once or after the target's timeout, never a
//! hang. Relayed results are marked `resultType: complete` (2025 upstreams send none; rmcp drops
//! the field again for 2025 callers).

use rmcp::ErrorData;
use rmcp::model::{
    CompleteRequestParams, CompleteResult, ErrorCode, GetPromptRequestParams, GetPromptResponse,
    ReadResourceRequestParams, ReadResourceResponse, ResultType, SubscribeRequestParams,
    UnsubscribeRequestParams,
};
use rmcp::service::ServiceError;
use toolyard_crds::config::TargetConfig;

use crate::runtime::TargetRuntime;
use crate::upstream::UpstreamHandle;
use crate::upstream::manager::request;
use crate::upstream::meta::relayed as relayed_meta;
use crate::upstream::mrtr::Round;

/// The JSON-RPC error for a URI no upstream serves (-32602 with the URI, as 2026-07-28 asks;
/// 2025 clients accept any error there).
pub fn resource_not_found(uri: &str) -> ErrorData {
    ErrorData::new(
        ErrorCode::INVALID_PARAMS,
        format!("Resource not found: {uri}"),
        Some(serde_json::json!({ "uri": uri })),
    )
}

/// The target's open upstream session, or an error that says why there is none.
fn session(
    target: &TargetConfig,
    runtime: &TargetRuntime,
) -> Result<
    (
        std::sync::Arc<UpstreamHandle>,
        std::sync::Arc<rmcp::service::Peer<rmcp::RoleClient>>,
    ),
    ErrorData,
> {
    let handle = runtime.upstream.clone().ok_or_else(|| {
        ErrorData::internal_error(
            format!("target {} is not an upstream MCP server", target.name),
            None,
        )
    })?;
    let Some(peer) = handle.peer() else {
        handle.poke();
        let why = handle
            .last_error()
            .map_or_else(String::new, |e| format!(" ({e})"));
        return Err(ErrorData::internal_error(
            format!(
                "the upstream MCP server of target {} is unreachable{why}; the gateway keeps reconnecting, retry shortly",
                target.name
            ),
            None,
        ));
    };
    Ok((handle, peer))
}

/// Maps an upstream failure: the upstream's own JSON-RPC errors pass through unchanged.
fn relay_error(handle: &UpstreamHandle, error: crate::upstream::UpstreamError) -> ErrorData {
    handle.poke();
    ErrorData::internal_error(handle.redact(error.to_string()), None)
}

async fn relay<T>(
    handle: &UpstreamHandle,
    what: &str,
    fut: impl Future<Output = Result<T, ServiceError>>,
) -> Result<T, ErrorData> {
    // Keep the upstream's JSON-RPC error (code, message, data) when it sent one.
    let mut upstream_error = None;
    let result = request(handle, what, async {
        fut.await.map_err(|e| match e {
            ServiceError::McpError(data) => {
                upstream_error = Some(data);
                ServiceError::UnexpectedResponse
            }
            other => other,
        })
    })
    .await;
    match (result, upstream_error) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some(data)) => Err(data),
        (Err(e), None) => Err(relay_error(handle, e)),
    }
}

/// `prompts/get` on the upstream (name already mapped to the upstream's).
///
/// With a `round` (a 2026-07-28 caller), the upstream's questions during the call are answered
/// from the caller's `inputResponses` or turn into an `InputRequiredResult`.
pub async fn get_prompt(
    target: &TargetConfig,
    runtime: &TargetRuntime,
    params: GetPromptRequestParams,
    round: Option<std::sync::Arc<Round>>,
) -> Result<GetPromptResponse, ErrorData> {
    let (handle, peer) = session(target, runtime)?;
    let Some(round) = round else {
        let mut response = relay(&handle, "prompts/get", peer.get_prompt_once(params)).await?;
        if let GetPromptResponse::Complete(r) = &mut response {
            r.result_type = Some(ResultType::COMPLETE);
            r.meta = relayed_meta(r.meta.take());
        }
        return Ok(response);
    };
    let _inflight = handle.inflight.enter_round(round.clone());
    // Dropping the request on interruption leaves the upstream's answer unread; its questions
    // already failed, so it finishes (or times out) on its own.
    let driven = round
        .drive(relay(&handle, "prompts/get", peer.get_prompt_once(params)))
        .await;
    if let Some(invalid) = round.invalid() {
        return Err(invalid.to_rpc());
    }
    let Some(response) = driven else {
        return Ok(GetPromptResponse::InputRequired(round.input_required()));
    };
    let mut response = match response {
        Ok(r) => r,
        Err(e) => return Err(round.missing_capability().unwrap_or(e)),
    };
    if let GetPromptResponse::Complete(r) = &mut response {
        r.result_type = Some(ResultType::COMPLETE);
        r.meta = relayed_meta(r.meta.take());
    }
    Ok(response)
}

/// `resources/read` on the upstream.
pub async fn read_resource(
    target: &TargetConfig,
    runtime: &TargetRuntime,
    params: ReadResourceRequestParams,
) -> Result<ReadResourceResponse, ErrorData> {
    let (handle, peer) = session(target, runtime)?;
    let mut response = relay(&handle, "resources/read", peer.read_resource_once(params)).await?;
    if let ReadResourceResponse::Complete(r) = &mut response {
        r.result_type = Some(ResultType::COMPLETE);
        r.meta = relayed_meta(r.meta.take());
    }
    Ok(response)
}

/// `completion/complete` on the upstream.
pub async fn complete(
    target: &TargetConfig,
    runtime: &TargetRuntime,
    params: CompleteRequestParams,
) -> Result<CompleteResult, ErrorData> {
    let (handle, peer) = session(target, runtime)?;
    let mut result = relay(&handle, "completion/complete", peer.complete(params)).await?;
    result.result_type = Some(ResultType::COMPLETE);
    Ok(result)
}

/// `resources/subscribe`: recorded for the session; the upstream is subscribed on the first one.
pub async fn subscribe(
    target: &TargetConfig,
    runtime: &TargetRuntime,
    params: SubscribeRequestParams,
    caller: &rmcp::service::Peer<rmcp::RoleServer>,
) -> Result<(), ErrorData> {
    let (handle, peer) = session(target, runtime)?;
    if handle.set_subscribed(&params.uri, caller, true) {
        #[allow(deprecated)]
        let fut = peer.subscribe(params);
        relay(&handle, "resources/subscribe", fut).await?;
    }
    Ok(())
}

/// `resources/unsubscribe`: the upstream is unsubscribed when the last session goes.
pub async fn unsubscribe(
    target: &TargetConfig,
    runtime: &TargetRuntime,
    params: UnsubscribeRequestParams,
    caller: &rmcp::service::Peer<rmcp::RoleServer>,
) -> Result<(), ErrorData> {
    let (handle, peer) = session(target, runtime)?;
    if handle.set_subscribed(&params.uri, caller, false) {
        #[allow(deprecated)]
        let fut = peer.unsubscribe(params);
        relay(&handle, "resources/unsubscribe", fut).await?;
    }
    Ok(())
}

//! Lambda tool calls: one synchronous AWS Lambda Invoke (`RequestResponse`) per call, SigV4-signed
//! with the gateway's AWS identity, with AgentCore Gateway's event and client-context contract so
//! functions written for AgentCore work unchanged:
//!
//! - the event is the tool call's arguments object;
//! - `X-Amz-Client-Context` is base64 JSON whose `custom` holds `bedrockAgentCoreMessageVersion`
//!   ("1.0"), `bedrockAgentCoreGatewayId`, `bedrockAgentCoreTargetId`, `bedrockAgentCoreToolName`
//!   (the served `<target>___<tool>` name), `bedrockAgentCoreMcpMessageId`,
//!   `bedrockAgentCoreAwsRequestId` and `bedrockAgentCoreSessionId`;
//! - the function's JSON result is the tool result's text (and `structuredContent` when the tool
//!   has an output schema); a function error (`X-Amz-Function-Error`) or a failed invoke is a tool
//!   result with `isError: true`.

use base64::Engine;
use serde_json::{Map, Value, json};
use toolyard_crds::config::{GatewaySettings, SecurityConfig};

use super::CallContext;
use super::result::{self, ErrorKind, ToolOutcome};
use crate::outbound::credentials::ResolvedCredentials;
use crate::runtime::Found;
use crate::runtime::endpoint::invoke_url;

/// Lambda's synchronous invocation payload limit (request and response), bytes.
pub const MAX_PAYLOAD_BYTES: u64 = 6 * 1024 * 1024;

/// Lambda's limit on the base64-encoded `X-Amz-Client-Context` header, bytes.
const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;

/// Longest value kept in the client context (caller-chosen ids could otherwise fill the header).
const MAX_CONTEXT_VALUE: usize = 256;

/// The `X-Amz-Client-Context` header value (base64 of the client-context JSON).
pub fn client_context(
    gateway: &GatewaySettings,
    target: &str,
    tool: &str,
    ctx: &CallContext,
    aws_request_id: &str,
) -> String {
    let clip = |s: &str| -> String { s.chars().take(MAX_CONTEXT_VALUE).collect() };
    let mut custom = json!({
        "bedrockAgentCoreMessageVersion": "1.0",
        "bedrockAgentCoreGatewayId": clip(&gateway.name),
        "bedrockAgentCoreTargetId": clip(target),
        "bedrockAgentCoreToolName": clip(tool),
        "bedrockAgentCoreMcpMessageId": clip(ctx.message_id.as_deref().unwrap_or_default()),
        "bedrockAgentCoreAwsRequestId": aws_request_id,
        "bedrockAgentCoreSessionId": clip(ctx.session_id.as_deref().unwrap_or_default()),
    });
    let encode = |custom: &Value| {
        base64::engine::general_purpose::STANDARD.encode(json!({ "custom": custom }).to_string())
    };
    let mut header = encode(&custom);
    if header.len() > MAX_CLIENT_CONTEXT_BYTES {
        // Only caller-chosen ids can be long: drop them rather than fail the call.
        if let Some(c) = custom.as_object_mut() {
            c.insert(
                "bedrockAgentCoreSessionId".into(),
                Value::String(String::new()),
            );
            c.insert(
                "bedrockAgentCoreMcpMessageId".into(),
                Value::String(String::new()),
            );
        }
        header = encode(&custom);
    }
    header
}

/// Makes the call.
pub async fn call(
    gateway: &GatewaySettings,
    found: Found<'_>,
    args: &Map<String, Value>,
    ctx: &CallContext,
    debug: bool,
) -> ToolOutcome {
    let Found {
        target,
        runtime,
        tool,
        listed,
        ..
    } = found;
    let security: &SecurityConfig = &gateway.security;
    let Some(url) = runtime.base_url.clone() else {
        let why = match &target.endpoint {
            toolyard_crds::config::Endpoint::Lambda {
                function_arn, url, ..
            } => invoke_url(url, function_arn).err(),
            _ => Some("the target has no Lambda endpoint".into()),
        };
        return ToolOutcome::error_kind(
            ErrorKind::Backend,
            format!(
                "Target {} cannot be invoked: {}; fix spec.lambda.",
                target.name,
                why.unwrap_or_default()
            ),
        );
    };
    // The regional endpoint and an override alike: the platform team's allow-list decides.
    if let Some(refused) = super::transport::host_refused(security, &url) {
        return refused;
    }
    let signer = match &runtime.credentials {
        Some(ResolvedCredentials::AwsSigV4(signer)) => signer,
        Some(ResolvedCredentials::Unsupported(message)) => {
            return ToolOutcome::error_kind(ErrorKind::Backend, format!("{message}."));
        }
        _ => {
            return ToolOutcome::error_kind(
                ErrorKind::Backend,
                format!(
                    "Target {} is a Lambda target; it must use gatewayIamRole credentials (SigV4).",
                    target.name
                ),
            );
        }
    };
    let event = match serde_json::to_vec(args) {
        Ok(e) => e,
        Err(e) => {
            return ToolOutcome::error_kind(
                ErrorKind::User,
                format!("The arguments cannot be serialized: {e}."),
            );
        }
    };
    let limit = security.max_request_bytes.min(MAX_PAYLOAD_BYTES);
    if event.len() as u64 > limit {
        return ToolOutcome::error_kind(
            ErrorKind::User,
            format!(
                "The event is {} bytes, over the limit of {limit} bytes (Lambda allows 6 MB; the gateway's security.maxRequestBytes may be lower).",
                event.len()
            ),
        );
    }
    let aws_request_id = uuid::Uuid::new_v4().to_string();
    let context = client_context(gateway, &target.name, &tool.name, ctx, &aws_request_id);
    let mut request = match runtime
        .client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("x-amz-invocation-type", "RequestResponse")
        .header("x-amz-client-context", context)
        .body(event)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return ToolOutcome::error_kind(
                ErrorKind::Backend,
                format!("Could not build the Lambda request: {e}."),
            );
        }
    };
    if let Err(outcome) =
        super::transport::sign(signer, &mut request, runtime, &target.name, &tool.name).await
    {
        return outcome;
    }
    let response = match super::transport::execute(
        &runtime.client,
        request,
        runtime,
        &target.name,
        &tool.name,
    )
    .await
    {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return ToolOutcome::error_kind(
                ErrorKind::Backend,
                format!(
                    "The Lambda function did not answer within {} ms (the target's timeout).",
                    runtime.timeout.as_millis()
                ),
            );
        }
        Err(e) => {
            tracing::warn!(target = %target.name, tool = %tool.name, error = %e, "Lambda invoke failed");
            return ToolOutcome::error_kind(
                ErrorKind::Backend,
                if debug {
                    format!(
                        "The Lambda Invoke request failed: {}",
                        super::transport::without_url(&e)
                    )
                } else {
                    "The Lambda function could not be reached. Please retry later.".into()
                },
            );
        }
    };
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let function_error = header("x-amz-function-error");
    let error_type = header("x-amzn-errortype");
    let body = match super::transport::read_body(
        response,
        security.max_response_bytes.min(MAX_PAYLOAD_BYTES),
        runtime,
        debug,
        "The Lambda function",
    )
    .await
    {
        Ok(b) => b,
        Err(outcome) => return outcome,
    };
    if !status.is_success() {
        tracing::info!(target = %target.name, tool = %tool.name, status = status.as_u16(), error_type = ?error_type, "Lambda Invoke API error");
        return ToolOutcome::error_kind(
            ErrorKind::Backend,
            invoke_error(status.as_u16(), error_type.as_deref(), &body, debug),
        );
    }
    if let Some(kind) = function_error {
        tracing::info!(target = %target.name, tool = %tool.name, kind = %kind, "Lambda function error");
        return ToolOutcome::error_kind(
            ErrorKind::Backend,
            function_error_text(&kind, &body, debug),
        );
    }
    ToolOutcome::ok(result::success(
        "application/json",
        &body,
        listed.output_schema.is_some(),
        &format!("lambda:{}", tool.name),
    ))
}

/// The tool error text of an Invoke API error (403 signature or permission, 404 no such
/// function, 429 throttled, 5xx). The error type is always shown (it names what to fix); the
/// service's message only with `exceptionLevel: Debug`.
fn invoke_error(status: u16, error_type: Option<&str>, body: &[u8], debug: bool) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let kind = error_type
        .map(|t| t.split(':').next().unwrap_or(t).to_string())
        .or_else(|| {
            parsed
                .as_ref()
                .and_then(|v| v.get("Type").or_else(|| v.get("__type")))
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let hint = match status {
        401 | 403 => " Check the gateway's AWS identity and its lambda:InvokeFunction permission.",
        404 => " Check spec.lambda.functionArn (function name, account, qualifier).",
        429 => " The function is throttled; retry later.",
        _ => "",
    };
    let mut text = format!(
        "The Lambda Invoke API returned HTTP {status}{}.{hint}",
        kind.map(|k| format!(" ({k})")).unwrap_or_default()
    );
    if debug {
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message").or_else(|| v.get("Message")))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
        text.push_str(" Detail: ");
        text.push_str(&message);
    }
    text
}

/// The tool error text of a function error (`X-Amz-Function-Error: Unhandled|Handled`): the
/// error type always, the message and stack only with `exceptionLevel: Debug`.
fn function_error_text(kind: &str, body: &[u8], debug: bool) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error_type = parsed
        .as_ref()
        .and_then(|v| v.get("errorType"))
        .and_then(Value::as_str);
    let mut text = format!(
        "The Lambda function failed ({kind}{}).",
        error_type.map(|t| format!(": {t}")).unwrap_or_default()
    );
    if debug {
        text.push_str(" Detail: ");
        text.push_str(&String::from_utf8_lossy(body));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_url_from_arn_and_endpoint() {
        let url = invoke_url(
            "https://lambda.us-east-1.amazonaws.com",
            "arn:aws:lambda:us-east-1:123456789012:function:orders",
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aorders/invocations"
        );
        let url = invoke_url(
            "http://127.0.0.1:9001/",
            "arn:aws:lambda:eu-west-1:123456789012:function:orders:live",
        )
        .unwrap();
        assert_eq!(
            url.path(),
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Aorders/invocations"
        );
        assert_eq!(url.query(), Some("Qualifier=live"));
        let url = invoke_url(
            "https://vpce-1.lambda.us-east-1.vpce.amazonaws.com/base",
            "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
        )
        .unwrap();
        assert!(url.path().starts_with("/base/2015-03-31/functions/"));
        assert_eq!(url.query(), Some("Qualifier=%24LATEST"));
        assert!(invoke_url("ftp://x", "arn:aws:lambda:us-east-1:1:function:f").is_err());
        assert!(invoke_url("https://x", "arn:aws:s3:::bucket").is_err());
        assert!(invoke_url("not a url", "arn:aws:lambda:us-east-1:1:function:f").is_err());
    }

    fn settings() -> GatewaySettings {
        let text = "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {name: orders}\nspec:\n  inboundAuth: {none: {}}\n";
        let mut m = toolyard_compile::manifests::Manifests::default();
        m.add_text(std::path::Path::new("g.yaml"), text).unwrap();
        toolyard_compile::gateway::compile(
            &m.gateways[0],
            &[],
            &m.resolved_refs(),
            &toolyard_compile::gateway::CompileContext::default(),
        )
        .unwrap()
        .config
        .gateway
    }

    fn decode(header: &str) -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(header)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn client_context_has_agentcore_keys() {
        let ctx = CallContext {
            message_id: Some("7".into()),
            session_id: Some("s-1".into()),
            ..Default::default()
        };
        let value = decode(&client_context(
            &settings(),
            "lambda-using-sdk",
            "LambdaUsingSDK___get_order_tool",
            &ctx,
            "req-1",
        ));
        assert_eq!(
            value,
            json!({"custom": {
                "bedrockAgentCoreMessageVersion": "1.0",
                "bedrockAgentCoreGatewayId": "orders",
                "bedrockAgentCoreTargetId": "lambda-using-sdk",
                "bedrockAgentCoreToolName": "LambdaUsingSDK___get_order_tool",
                "bedrockAgentCoreMcpMessageId": "7",
                "bedrockAgentCoreAwsRequestId": "req-1",
                "bedrockAgentCoreSessionId": "s-1",
            }})
        );
    }

    #[test]
    fn client_context_stays_under_lambda_limit() {
        let ctx = CallContext {
            message_id: Some("m".repeat(10_000)),
            session_id: Some("s".repeat(10_000)),
            ..Default::default()
        };
        let header = client_context(&settings(), "t", "t___x", &ctx, "r");
        assert!(header.len() <= MAX_CLIENT_CONTEXT_BYTES);
        assert_eq!(
            decode(&header)["custom"]["bedrockAgentCoreToolName"],
            "t___x"
        );
    }

    #[test]
    fn error_texts_name_the_cause_and_hide_detail_unless_debug() {
        let body =
            br#"{"Type":"User","message":"The request signature we calculated does not match"}"#;
        let text = invoke_error(403, Some("InvalidSignatureException:http://x"), body, false);
        assert!(
            text.contains("HTTP 403 (InvalidSignatureException)"),
            "{text}"
        );
        assert!(text.contains("lambda:InvokeFunction"));
        assert!(!text.contains("calculated"));
        assert!(invoke_error(403, None, body, true).contains("(User)"));
        assert!(invoke_error(403, None, body, true).contains("does not match"));

        let body = br#"{"errorMessage":"boom","errorType":"KeyError","stackTrace":[]}"#;
        let text = function_error_text("Unhandled", body, false);
        assert_eq!(text, "The Lambda function failed (Unhandled: KeyError).");
        assert!(function_error_text("Unhandled", body, true).contains("boom"));
    }
}

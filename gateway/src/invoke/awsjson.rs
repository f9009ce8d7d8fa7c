//! Calling an AWS JSON-protocol operation (Smithy `awsJson1_0` / `awsJson1_1`): `POST /` to the
//! target's endpoint with `X-Amz-Target: <service>.<operation>`, the arguments as the JSON body,
//! under the same limits as HTTP calls (allowed domains and methods, request and response size,
//! the target's timeout). AWS errors become tool errors that name the AWS error code.

use reqwest::header::HeaderMap;
use serde_json::{Map, Value};
use toolyard_crds::config::{Endpoint, SecurityConfig};
use toolyard_crds::gateway::HttpMethod;

use super::result::{self, ErrorKind, ToolOutcome};
use super::transport::{host_refused, read_body, send, sign, without_url};
use crate::outbound::credentials::ResolvedCredentials;
use crate::runtime::Found;

/// Makes the call of `operation`.
pub async fn call(
    security: &SecurityConfig,
    found: Found<'_>,
    operation: &str,
    args: &Map<String, Value>,
    debug: bool,
) -> ToolOutcome {
    let Found {
        target,
        runtime,
        tool,
        listed,
        ..
    } = found;
    let Endpoint::AwsJson {
        url,
        json_version,
        target_prefix,
    } = &target.endpoint
    else {
        return ToolOutcome::error_kind(
            ErrorKind::Backend,
            "The target has no AWS JSON endpoint.".into(),
        );
    };
    if !security.allowed_methods.is_empty() && !security.allowed_methods.contains(&HttpMethod::Post)
    {
        return ToolOutcome::error_kind(
            ErrorKind::User,
            "Method POST (used by AWS JSON protocols) is not allowed by the gateway's security.allowedMethods.".into(),
        );
    }
    let Ok(mut url) = reqwest::Url::parse(url) else {
        return ToolOutcome::error_kind(
            ErrorKind::Backend,
            format!(
                "The endpoint of target {} is not a valid URL; fix spec.smithy.endpoint.",
                target.name
            ),
        );
    };
    if let Some(refused) = host_refused(security, &url) {
        return refused;
    }
    let body = serde_json::to_vec(args).unwrap_or_else(|_| b"{}".to_vec());
    if body.len() as u64 > security.max_request_bytes {
        return ToolOutcome::error_kind(
            ErrorKind::User,
            format!(
                "The request body is {} bytes, over the gateway's limit of {} bytes.",
                body.len(),
                security.max_request_bytes
            ),
        );
    }

    let mut headers = vec![
        (
            "X-Amz-Target".to_string(),
            format!("{target_prefix}.{operation}"),
        ),
        (
            "Content-Type".to_string(),
            format!("application/x-amz-json-{json_version}"),
        ),
    ];
    match &runtime.credentials {
        None => {}
        Some(ResolvedCredentials::ApiKey {
            in_header: true,
            name,
            value,
        }) => headers.push((name.clone(), value.0.clone())),
        Some(ResolvedCredentials::ApiKey {
            in_header: false,
            name,
            value,
        }) => {
            url.query_pairs_mut().append_pair(name, &value.0);
        }
        // Signed below, once the request is complete.
        Some(ResolvedCredentials::AwsSigV4(_)) => {}
        // A bearer token (an AWS-JSON API behind an OAuth2-protected proxy); no 401 retry here.
        Some(ResolvedCredentials::OAuth2(source)) => match source.token().await {
            Ok(token) => headers.push(("Authorization".into(), format!("Bearer {}", token.0))),
            Err(e) => {
                tracing::warn!(target = %target.name, error = %e, "could not obtain an OAuth2 access token");
                return ToolOutcome::error_kind(
                    ErrorKind::Backend,
                    format!(
                        "Could not obtain an OAuth2 access token for target {}: {e}.",
                        target.name
                    ),
                );
            }
        },
        Some(ResolvedCredentials::Unsupported(message)) => {
            return ToolOutcome::error_kind(ErrorKind::Backend, format!("{message}."));
        }
    }

    let mut req = runtime.client.post(url.clone());
    for (name, value) in headers {
        req = req.header(name, value);
    }
    let mut req = match req.body(body).build() {
        Ok(r) => r,
        Err(e) => {
            return ToolOutcome::error_kind(
                ErrorKind::User,
                format!(
                    "Could not build the request for {}: {}.",
                    tool.name,
                    without_url(&e)
                ),
            );
        }
    };
    if let Some(ResolvedCredentials::AwsSigV4(signer)) = &runtime.credentials
        && let Err(outcome) = sign(signer, &mut req, runtime, &target.name, &tool.name).await
    {
        return outcome;
    }
    let req = reqwest::RequestBuilder::from_parts(runtime.client.clone(), req);
    let response = match send(req, runtime, &target.name, &tool.name, debug).await {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    let status = response.status();
    let response_headers = response.headers().clone();
    let body = match read_body(
        response,
        security.max_response_bytes,
        runtime,
        debug,
        "The backend",
    )
    .await
    {
        Ok(b) => b,
        Err(outcome) => return outcome,
    };
    if !status.is_success() {
        let detail = error_detail(&response_headers, &body);
        tracing::info!(target = %target.name, tool = %tool.name, status = status.as_u16(), "AWS returned an error");
        return result::status_error(
            debug,
            status.as_u16(),
            &detail,
            &runtime
                .secret_values()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
    }
    // `application/x-amz-json-1.x` is JSON.
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    ToolOutcome::ok(result::success(
        "application/json",
        body,
        listed.output_schema.is_some(),
        url.as_str(),
    ))
}

/// `<Code>: <message>` of an AWS error response (JSON protocols and restJson1): the code from
/// `X-Amzn-ErrorType` or the body's `__type` / `code`, without namespace or URI parts; the
/// message from `message` / `Message`. Falls back to the body text.
pub fn error_detail(headers: &HeaderMap, body: &[u8]) -> String {
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(body).ok();
    let field = |names: &[&str]| {
        parsed.as_ref().and_then(|map| {
            names
                .iter()
                .find_map(|n| map.get(*n).and_then(Value::as_str))
                .map(str::to_owned)
        })
    };
    let code = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| field(&["__type", "code", "Code"]))
        .map(|c| {
            let c = c.split(':').next().unwrap_or_default();
            c.rsplit_once('#').map_or(c, |(_, n)| n).trim().to_owned()
        })
        .filter(|c| !c.is_empty());
    let message = field(&["message", "Message", "errorMessage"]);
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => format!("{code}: {}", String::from_utf8_lossy(body)),
        (None, Some(message)) => message,
        (None, None) => String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_error_codes_and_messages() {
        let mut headers = HeaderMap::new();
        let body = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#;
        assert_eq!(
            error_detail(&headers, body),
            "ResourceNotFoundException: Requested resource not found"
        );
        headers.insert(
            "x-amzn-ErrorType",
            "NotFoundException:http://internal.amazon.com/coral/com.amazonaws.apigateway/"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            error_detail(&headers, br#"{"Message":"Invalid API identifier"}"#),
            "NotFoundException: Invalid API identifier"
        );
        assert_eq!(error_detail(&HeaderMap::new(), b"oops"), "oops");
    }
}

//! Sending an HTTP call plan: gateway security limits, outbound credentials, the per-target
//! timeout and the response size limit, then the MCP result.

use futures::StreamExt;
use serde_json::{Map, Value};
use toolyard_crds::config::{HttpCall, SecurityConfig};

use super::request::{self, Body};
use super::result::{self, ErrorKind, ToolOutcome};
use crate::logging::CallStart;
use crate::runtime::Found;
use crate::runtime::snapshot::ResolvedCredentials;
use crate::telemetry;
use tracing::Instrument;

/// Whether `host` matches one of the allowed domain patterns (`*.example.com` matches any
/// subdomain; an empty list allows every host). Host names compare case-insensitively.
pub fn domain_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    allowed.is_empty()
        || allowed.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_prefix("*.") {
                Some(suffix) => {
                    host.len() > suffix.len() + 1
                        && host.ends_with(suffix)
                        && host[..host.len() - suffix.len()].ends_with('.')
                }
                None => pattern == host,
            }
        })
}

/// The refusal of a call to `url` when its host is not in `security.allowedDomains`; every
/// invoker (HTTP, AWS JSON, Lambda) checks the final URL with it, so the gateway only ever calls
/// hosts the platform team allowed. AWS endpoints get no implicit allowance: a Lambda or Smithy
/// target's `<service>.<region>.amazonaws.com` (or its endpoint override) must be listed, e.g. as
/// `*.amazonaws.com`.
pub fn host_refused(security: &SecurityConfig, url: &reqwest::Url) -> Option<ToolOutcome> {
    let host = url.host_str().unwrap_or_default();
    if domain_allowed(&security.allowed_domains, host) {
        return None;
    }
    Some(ToolOutcome::error_kind(
        ErrorKind::User,
        format!(
            "Host {host} is not in the gateway's security.allowedDomains; the platform team must add it (or a pattern such as *.{}) to the Gateway before this tool can be called.",
            host.split_once('.').map_or(host, |(_, rest)| rest)
        ),
    ))
}

/// Makes the call.
pub async fn call(
    security: &SecurityConfig,
    found: Found<'_>,
    plan: &HttpCall,
    args: &Map<String, Value>,
    debug: bool,
) -> ToolOutcome {
    let Found {
        target,
        runtime,
        tool,
        listed,
    } = found;
    let has_output_schema = listed.output_schema.is_some();
    let base_url = match &target.endpoint {
        toolyard_crds::config::Endpoint::Http { base_url } => base_url,
        _ => {
            return ToolOutcome::error_kind(
                ErrorKind::Backend,
                "The target has no HTTP endpoint.".into(),
            );
        }
    };
    if !security.allowed_methods.is_empty() && !security.allowed_methods.contains(&plan.method) {
        return ToolOutcome::error_kind(
            ErrorKind::User,
            format!(
                "Method {} is not allowed by the gateway's security.allowedMethods.",
                plan.method.as_str()
            ),
        );
    }
    let built = match request::build(base_url, plan, args) {
        Ok(b) => b,
        Err(e) => {
            return ToolOutcome::error_kind(
                ErrorKind::User,
                format!("Invalid arguments for {}: {e}.", tool.name),
            );
        }
    };
    let url = reqwest::Url::parse(&built.url);
    let (Some(base), Ok(mut url)) = (runtime.base_url.as_ref(), url) else {
        return ToolOutcome::error_kind(
            ErrorKind::User,
            format!("Could not build a valid URL for {}.", tool.name),
        );
    };
    // Arguments can never change where the request goes.
    if (url.scheme(), url.host_str(), url.port_or_known_default())
        != (base.scheme(), base.host_str(), base.port_or_known_default())
    {
        return ToolOutcome::error_kind(
            ErrorKind::User,
            "The arguments would change the backend's address; refused.".into(),
        );
    }
    if let Some(refused) = host_refused(security, &url) {
        return refused;
    }

    let mut headers = built.headers;
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
        // Signed last, below, once the request is complete.
        Some(ResolvedCredentials::AwsSigV4(_)) => {}
        // Added after the request is built (below), so it can be re-sent with a new token.
        Some(ResolvedCredentials::OAuth2(_)) => {}
        Some(ResolvedCredentials::Unsupported(message)) => {
            return ToolOutcome::error_kind(ErrorKind::Backend, format!("{message}."));
        }
    }

    let method = reqwest::Method::from_bytes(plan.method.as_str().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    let mut req = runtime.client.request(method, url.clone());
    for (name, value) in headers {
        req = req.header(name, value);
    }
    req = req.header(reqwest::header::ACCEPT, "application/json, */*;q=0.8");
    match built.body {
        None => {}
        Some((media_type, Body::Bytes(bytes))) => {
            if bytes.len() as u64 > security.max_request_bytes {
                return ToolOutcome::error_kind(
                    ErrorKind::User,
                    format!(
                        "The request body is {} bytes, over the gateway's limit of {} bytes.",
                        bytes.len(),
                        security.max_request_bytes
                    ),
                );
            }
            req = req
                .header(reqwest::header::CONTENT_TYPE, media_type)
                .body(bytes);
        }
        Some((_, Body::Multipart(fields))) => {
            let size: usize = fields.iter().map(|(k, v)| k.len() + v.len()).sum();
            if size as u64 > security.max_request_bytes {
                return ToolOutcome::error_kind(
                    ErrorKind::User,
                    format!(
                        "The request body is over the gateway's limit of {} bytes.",
                        security.max_request_bytes
                    ),
                );
            }
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in fields {
                form = form.text(k, v);
            }
            req = req.multipart(form);
        }
    }

    let response = match &runtime.credentials {
        Some(ResolvedCredentials::AwsSigV4(signer)) => {
            let mut built = match req.build() {
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
            if let Err(outcome) = sign(signer, &mut built, runtime, &target.name, &tool.name).await
            {
                return outcome;
            }
            let req = reqwest::RequestBuilder::from_parts(runtime.client.clone(), built);
            match send(req, runtime, &target.name, &tool.name, debug).await {
                Ok(r) => r,
                Err(outcome) => return outcome,
            }
        }
        Some(ResolvedCredentials::OAuth2(source)) => {
            // Multipart bodies cannot be cloned; those calls get no retry.
            let retry = req.try_clone();
            let token = match source.token().await {
                Ok(t) => t,
                Err(e) => return oauth_failure(&target.name, &e),
            };
            let response = match send(
                req.bearer_auth(&token.0),
                runtime,
                &target.name,
                &tool.name,
                debug,
            )
            .await
            {
                Ok(r) => r,
                Err(outcome) => return outcome,
            };
            match retry {
                // One refresh and one retry when the backend rejects the token.
                Some(retry) if response.status() == reqwest::StatusCode::UNAUTHORIZED => {
                    tracing::info!(target = %target.name, tool = %tool.name, "backend answered 401; refreshing the OAuth2 token and retrying once");
                    let token = match source.refresh_after_rejection(&token.0).await {
                        Ok(t) => t,
                        Err(e) => return oauth_failure(&target.name, &e),
                    };
                    match send(
                        retry.bearer_auth(&token.0),
                        runtime,
                        &target.name,
                        &tool.name,
                        debug,
                    )
                    .await
                    {
                        Ok(r) => r,
                        Err(outcome) => return outcome,
                    }
                }
                _ => response,
            }
        }
        _ => match send(req, runtime, &target.name, &tool.name, debug).await {
            Ok(r) => r,
            Err(outcome) => return outcome,
        },
    };
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    // Kept only for errors: AWS services (Smithy restJson1) name the error in a header.
    let error_headers = (!status.is_success())
        .then(|| response.headers().clone())
        .filter(|h| h.contains_key("x-amzn-errortype"));
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
        tracing::info!(target = %target.name, tool = %tool.name, status = status.as_u16(), "backend returned an error status");
        let detail = match &error_headers {
            Some(headers) => super::awsjson::error_detail(headers, &body),
            None => String::from_utf8_lossy(&body).into_owned(),
        };
        return result::backend_error(debug, Some(status.as_u16()), &detail);
    }
    url.set_query(None);
    // Smithy restJson1 bodies are JSON whatever the content type says.
    let content_type = if plan.json_response && !body.is_empty() {
        "application/json".to_string()
    } else {
        content_type
    };
    ToolOutcome::ok(result::success(
        &content_type,
        &body,
        has_output_schema,
        url.as_str(),
    ))
}

/// Sends one request; a transport failure becomes the tool error.
/// Signs `req` with SigV4, bounded by the target's timeout (a credential lookup can be slow), or
/// returns the tool error.
pub(crate) async fn sign(
    signer: &crate::aws::Signer,
    req: &mut reqwest::Request,
    runtime: &crate::runtime::TargetRuntime,
    target: &str,
    tool: &str,
) -> Result<(), ToolOutcome> {
    let signed = tokio::time::timeout(runtime.timeout, signer.sign(req))
        .await
        .unwrap_or_else(|_| {
            Err(crate::aws::Error::Credentials(format!(
                "not available within the target's timeout of {} ms",
                runtime.timeout.as_millis()
            )))
        });
    signed.map_err(|e| {
        tracing::warn!(target = %target, error = %e, "SigV4 signing failed");
        ToolOutcome::error_kind(
            ErrorKind::Backend,
            format!("Could not sign the request for {tool}: {e}."),
        )
    })
}

/// Sends a backend request; a failure becomes the tool error (logged without the URL).
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    runtime: &crate::runtime::TargetRuntime,
    target: &str,
    tool: &str,
    debug: bool,
) -> Result<reqwest::Response, ToolOutcome> {
    let (client, built) = req.build_split();
    let result = match built {
        Ok(request) => execute(&client, request, runtime, target, tool).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => Ok(r),
        Err(e) if e.is_timeout() => Err(ToolOutcome::error_kind(
            ErrorKind::Backend,
            format!(
                "The backend did not answer within {} ms.",
                runtime.timeout.as_millis()
            ),
        )),
        Err(e) => {
            // Without the URL: it may carry an API key in the query.
            let text = without_url(&e);
            tracing::warn!(target = %target, tool = %tool, error = %text, "backend request failed");
            Err(result::backend_error(debug, None, &text))
        }
    }
}

/// Sends one built backend request (every invoker's single way out): a client span around it,
/// its `traceparent` on the request, and the target's call log. The span and start time travel
/// in the response's extensions to [`read_body`], which ends them.
pub(crate) async fn execute(
    client: &reqwest::Client,
    mut request: reqwest::Request,
    runtime: &crate::runtime::TargetRuntime,
    target: &str,
    tool: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    let span = telemetry::client_span(request.method().as_str(), request.url(), target, tool);
    // After SigV4 signing is fine: AWS checks only the headers listed as signed.
    telemetry::inject(&span, request.headers_mut());
    runtime.call_log.request(tool, &request);
    let started = std::time::Instant::now();
    let mut result = client.execute(request).instrument(span.clone()).await;
    match &mut result {
        Ok(response) => {
            telemetry::record_status(&span, response.status().as_u16());
            response.extensions_mut().insert(CallStart {
                tool: tool.to_string(),
                started,
                span,
            });
        }
        Err(e) => {
            telemetry::record_error(
                &span,
                if e.is_timeout() {
                    "timeout"
                } else {
                    "transport"
                },
            );
        }
    }
    result
}

/// The tool error when no OAuth2 token could be obtained.
fn oauth_failure(target: &str, error: &crate::outbound::oauth2::OAuthError) -> ToolOutcome {
    tracing::warn!(target = %target, error = %error, "could not obtain an OAuth2 access token");
    ToolOutcome::error_kind(
        ErrorKind::Backend,
        format!("Could not obtain an OAuth2 access token for target {target}: {error}."),
    )
}

/// A reqwest error's text without its URL (which may carry an API key in the query).
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<backend>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Why a response body could not be read.
enum ReadError {
    /// Over the limit.
    TooLarge,
    /// The call's time limit passed.
    Timeout,
    /// Any other failure.
    Other(String),
}

/// Reads a backend's response body up to `limit` bytes, or returns the tool error saying why it
/// could not (`who` starts the message, e.g. "The backend").
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: u64,
    runtime: &crate::runtime::TargetRuntime,
    debug: bool,
    who: &str,
) -> Result<Vec<u8>, ToolOutcome> {
    let status = response.status().as_u16();
    let start = response.extensions_mut().remove::<CallStart>();
    let headers = runtime
        .call_log
        .wants_response(status)
        .then(|| response.headers().clone());
    let read = match &start {
        Some(s) => {
            read_limited(response, limit)
                .instrument(s.span.clone())
                .await
        }
        None => read_limited(response, limit).await,
    };
    if let Some(headers) = headers {
        runtime
            .call_log
            .response(start.as_ref(), status, &headers, read.as_deref().ok());
    }
    read.map_err(|e| match e {
        ReadError::TooLarge => ToolOutcome::error_kind(
            ErrorKind::Backend,
            format!("{who}'s response is over the gateway's limit of {limit} bytes."),
        ),
        ReadError::Timeout => ToolOutcome::error_kind(
            ErrorKind::Backend,
            format!(
                "{who} did not finish its response within {} ms.",
                runtime.timeout.as_millis()
            ),
        ),
        ReadError::Other(e) => result::backend_error(debug, Some(status), &e),
    })
}

async fn read_limited(response: reqwest::Response, limit: u64) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(ReadError::TooLarge);
    }
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            if e.is_timeout() {
                ReadError::Timeout
            } else {
                ReadError::Other(without_url(&e))
            }
        })?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_patterns() {
        let allowed = vec![
            "api.weather.com".to_string(),
            "*.svc.cluster.local".to_string(),
        ];
        assert!(domain_allowed(&allowed, "api.weather.com"));
        assert!(domain_allowed(&allowed, "users.agents.svc.cluster.local"));
        assert!(!domain_allowed(&allowed, "svc.cluster.local"));
        assert!(!domain_allowed(&allowed, "evilsvc.cluster.local"));
        assert!(!domain_allowed(&allowed, "api.weather.com.evil.io"));
        assert!(domain_allowed(&[], "anything"));
        // Case-insensitive on both sides, wildcards included.
        assert!(domain_allowed(&allowed, "Users.Agents.SVC.cluster.local"));
        assert!(domain_allowed(
            &["*.AmazonAWS.com".to_string()],
            "lambda.us-east-1.amazonaws.com"
        ));
    }

    #[test]
    fn refused_hosts_name_the_host_and_the_setting() {
        let security = |allowed: &[&str]| SecurityConfig {
            allowed_domains: allowed.iter().map(|s| s.to_string()).collect(),
            allowed_methods: vec![],
            max_request_bytes: 1 << 20,
            max_response_bytes: 1 << 20,
        };
        let lambda_only = security(&["127.0.0.1"]);
        let url = |s: &str| reqwest::Url::parse(s).expect("test URL");
        assert!(host_refused(&lambda_only, &url("http://127.0.0.1:9/x")).is_none());
        let refused = host_refused(
            &lambda_only,
            &url("https://lambda.us-east-1.amazonaws.com/2015-03-31"),
        )
        .expect("not allowed");
        assert_eq!(refused.error, Some(ErrorKind::User));
        let text = serde_json::to_string(&refused.result).expect("serializes");
        assert!(
            text.contains(
                "lambda.us-east-1.amazonaws.com is not in the gateway's security.allowedDomains"
            ),
            "{text}"
        );
        assert!(text.contains("*.us-east-1.amazonaws.com"), "{text}");
        assert!(host_refused(&security(&[]), &url("https://any.example.com")).is_none());
    }
}

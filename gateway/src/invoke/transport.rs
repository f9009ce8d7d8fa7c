//! Sending one backend request, shared by the HTTP, AWS JSON and Lambda invokers: the gateway's
//! host allowlist, SigV4 signing within the target's timeout, the single way out (client span,
//! `traceparent`, call log) and reading a size-limited response body. The invokers use this
//! module; it uses none of them.

use futures::StreamExt;
use toolyard_crds::config::SecurityConfig;
use tracing::Instrument;

use super::result::{self, ErrorKind, ToolOutcome};
use crate::logging::CallStart;
use crate::telemetry;

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

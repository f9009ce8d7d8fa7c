//! Sending an HTTP call plan: gateway security limits, outbound credentials, the per-target
//! timeout and the response size limit, then the MCP result.

use serde_json::{Map, Value};
use toolyard_crds::config::{HttpCall, SecurityConfig};

use super::request::{self, Body};
use super::result::{self, ErrorKind, ToolOutcome};
use super::transport::{host_refused, read_body, send, sign, without_url};
use crate::outbound::credentials::ResolvedCredentials;
use crate::runtime::Found;

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
        ..
    } = found;
    let has_output_schema = listed.output_schema.is_some();
    let target_base = match &target.endpoint {
        toolyard_crds::config::Endpoint::Http { base_url } => base_url,
        _ => {
            return ToolOutcome::error_kind(
                ErrorKind::Backend,
                "The target has no HTTP endpoint.".into(),
            );
        }
    };
    // An operation with a server of its own elsewhere (checked against allowedDomains below).
    let base_url = plan.base_url.as_ref().unwrap_or(target_base);
    let own_base = plan
        .base_url
        .as_deref()
        .map(reqwest::Url::parse)
        .transpose()
        .ok()
        .flatten();
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
    let (Some(base), Ok(mut url)) = (own_base.as_ref().or(runtime.base_url.as_ref()), url) else {
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
        Some((
            _,
            Body::Multipart {
                fields,
                json_parts,
                files,
            },
        )) => {
            let size: usize = fields
                .iter()
                .chain(&json_parts)
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
                + files.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
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
            for (k, v) in json_parts {
                let part = reqwest::multipart::Part::text(v.clone())
                    .mime_str("application/json")
                    .unwrap_or_else(|_| reqwest::multipart::Part::text(v));
                form = form.part(k, part);
            }
            for (k, bytes) in files {
                let part = reqwest::multipart::Part::bytes(bytes)
                    .file_name(k.clone())
                    .mime_str("application/octet-stream")
                    .unwrap_or_else(|_| reqwest::multipart::Part::bytes(Vec::new()));
                form = form.part(k, part);
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

/// The tool error when no OAuth2 token could be obtained.
fn oauth_failure(target: &str, error: &crate::outbound::oauth2::OAuthError) -> ToolOutcome {
    tracing::warn!(target = %target, error = %error, "could not obtain an OAuth2 access token");
    ToolOutcome::error_kind(
        ErrorKind::Backend,
        format!("Could not obtain an OAuth2 access token for target {target}: {error}."),
    )
}

//! The base URL: `servers[0]` (OpenAPI 3) or `schemes` + `host` + `basePath` (Swagger 2.0), and
//! the configured override.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{OpenApiError, OpenApiInput};

/// The base URL of the whole document.
pub(super) fn base_url(
    root: &Value,
    swagger: bool,
    input: &OpenApiInput<'_>,
) -> Result<String, OpenApiError> {
    let configured = match input.base_url.map(str::trim) {
        Some(url) if !url.is_empty() => {
            Some(absolute(url).ok_or_else(|| OpenApiError::InvalidBaseUrl {
                url: url.to_owned(),
            })?)
        }
        _ => None,
    };
    // The configured URL is where the API is served, path prefix included: it replaces the
    // document's servers (relative ones too) and Swagger's host and basePath. One rule, with no
    // joining, so what an operator writes is exactly where calls go.
    if let Some(configured) = configured {
        return Ok(configured);
    }
    if swagger {
        return swagger_base_url(root);
    }
    let server = root
        .get("servers")
        .and_then(Value::as_array)
        .and_then(|servers| servers.first());
    let Some(server) = server else {
        return Err(OpenApiError::NoBaseUrl {
            detail: "the document has no `servers`".to_owned(),
        });
    };
    let Some(template) = server.get("url").and_then(Value::as_str) else {
        return Err(OpenApiError::NoBaseUrl {
            detail: "`servers[0]` has no `url`".to_owned(),
        });
    };
    let url = substitute(template, server.get("variables"), input.server_variables)?;
    if has_scheme(&url) || url.starts_with("//") {
        return absolute(&url).ok_or_else(|| OpenApiError::NoBaseUrl {
            detail: format!("`servers[0].url` `{url}` is not an http(s) URL"),
        });
    }
    Err(OpenApiError::NoBaseUrl {
        detail: format!(
            "`servers[0].url` `{url}` is relative (set the full URL, with that path, as baseUrl)"
        ),
    })
}

fn swagger_base_url(root: &Value) -> Result<String, OpenApiError> {
    let base_path = root.get("basePath").and_then(Value::as_str).unwrap_or("");
    let host = root
        .get("host")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|host| !host.is_empty());
    let Some(host) = host else {
        return Err(OpenApiError::NoBaseUrl {
            detail: "the Swagger document has no `host`".to_owned(),
        });
    };
    // https when offered (the first scheme otherwise; https when none is listed).
    let schemes: Vec<&str> = root
        .get("schemes")
        .and_then(Value::as_array)
        .map(|schemes| schemes.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let scheme = if schemes.is_empty() || schemes.contains(&"https") {
        "https"
    } else if schemes.contains(&"http") {
        "http"
    } else {
        return Err(OpenApiError::NoBaseUrl {
            detail: format!("the Swagger document's schemes {schemes:?} include no http(s)"),
        });
    };
    let url = format!("{scheme}://{host}");
    absolute(&url)
        .map(|url| join(&url, base_path))
        .ok_or_else(|| OpenApiError::NoBaseUrl {
            detail: format!("`{url}` from `host` is not a usable URL"),
        })
}

/// `{name}` in a server URL replaced by the configured value, else the variable's default.
fn substitute(
    template: &str,
    variables: Option<&Value>,
    overrides: &BTreeMap<String, String>,
) -> Result<String, OpenApiError> {
    let mut url = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        url.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(OpenApiError::NoBaseUrl {
                detail: format!("`servers[0].url` `{template}` has an unclosed `{{`"),
            });
        };
        let name = &after[..close];
        let value = overrides.get(name).cloned().or_else(|| {
            match variables
                .and_then(|v| v.get(name))
                .and_then(|v| v.get("default"))
            {
                Some(Value::String(default)) => Some(default.clone()),
                Some(Value::Number(default)) => Some(default.to_string()),
                _ => None,
            }
        });
        let Some(value) = value else {
            return Err(OpenApiError::ServerVariable {
                name: name.to_owned(),
                url: template.to_owned(),
            });
        };
        url.push_str(&value);
        rest = &after[close + 1..];
    }
    url.push_str(rest);
    Ok(url)
}

fn has_scheme(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '{' | '}'))
    })
}

/// An absolute http(s) URL without trailing slashes (`//host` gets https); `None` otherwise.
fn absolute(url: &str) -> Option<String> {
    let url = url.trim();
    let url = match url.strip_prefix("//") {
        Some(rest) => format!("https://{rest}"),
        None => url.to_owned(),
    };
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    if rest.is_empty()
        || rest.starts_with('/')
        || url.contains(char::is_whitespace)
        || url.contains(['{', '}'])
    {
        return None;
    }
    Some(url.trim_end_matches('/').to_owned())
}

/// `relative` resolved as an RFC 3986 reference against the absolute URL `base`.
fn resolve(base: &str, relative: &str) -> Option<String> {
    let base = url::Url::parse(base).ok()?;
    absolute(base.join(relative.trim()).ok()?.as_str())
}

/// A relative server URL (`/v1`, `v1`) appended to an absolute base.
fn join(base: &str, relative: &str) -> String {
    let relative = relative.trim().trim_matches('/');
    if relative.is_empty() {
        base.to_owned()
    } else {
        format!("{}/{relative}", base.trim_end_matches('/'))
    }
}

/// Where an operation with its own `servers` (on the operation or its path item) goes.
#[derive(Debug, PartialEq)]
pub(super) enum OperationServer {
    /// Under the document's base URL, with this prefix before the path (usually empty).
    Prefix(String),
    /// Elsewhere: this absolute URL is the operation's base URL (the gateway still checks its
    /// host against `allowedDomains` on every call).
    Absolute(String),
}

/// Where an operation goes given its own `servers`: under the document's base URL when its
/// server is the document's or lies under it, else its own absolute URL. A relative server of
/// its own is resolved against the document's (absolute) server, else the base URL.
pub(super) fn operation_server(
    servers: &Value,
    root: &Value,
    base_url: &str,
    input: &OpenApiInput<'_>,
) -> Result<OperationServer, String> {
    let Some(server) = servers.as_array().and_then(|servers| servers.first()) else {
        return Ok(OperationServer::Prefix(String::new()));
    };
    let Some(template) = server.get("url").and_then(Value::as_str) else {
        return Ok(OperationServer::Prefix(String::new()));
    };
    let document_server = root.get("servers").and_then(|servers| servers.get(0));
    let document_template = document_server
        .and_then(|server| server.get("url"))
        .and_then(Value::as_str);
    if document_template.is_some_and(|t| t.trim_end_matches('/') == template.trim_end_matches('/'))
    {
        return Ok(OperationServer::Prefix(String::new()));
    }
    // What the operation's server is compared with: the document's own server when it is an
    // absolute URL (also when a configured base URL replaces it), else the base URL.
    let reference = document_server
        .and_then(|server| {
            let url = substitute(
                server.get("url")?.as_str()?,
                server.get("variables"),
                input.server_variables,
            )
            .ok()?;
            absolute(&url)
        })
        .unwrap_or_else(|| base_url.to_owned());
    let url = substitute(template, server.get("variables"), input.server_variables)
        .map_err(|error| error.to_string())?;
    if !(has_scheme(&url) || url.starts_with("//")) {
        // A relative server of its own is a relative reference (RFC 3986) to where the API is
        // served, which is the base URL (the configured one stands for the document's server):
        // `/v2` beside `https://api.example.com/v1` is `https://api.example.com/v2`.
        let resolved = resolve(base_url, &url).ok_or_else(|| {
            format!(
                "operation-level server `{template}` cannot be resolved against the base URL \
                 `{base_url}`"
            )
        })?;
        return Ok(beneath(resolved, base_url));
    }
    let url = absolute(&url).ok_or_else(|| {
        format!("operation-level server `{template}` is not an absolute http(s) URL")
    })?;
    Ok(beneath(url, &reference))
}

/// `Prefix` when `url` is `reference` or lies under it, else `Absolute(url)`.
fn beneath(url: String, reference: &str) -> OperationServer {
    if url.eq_ignore_ascii_case(reference) {
        return OperationServer::Prefix(String::new());
    }
    match url.strip_prefix(reference) {
        Some(rest) if rest.starts_with('/') => OperationServer::Prefix(rest.to_owned()),
        _ => OperationServer::Absolute(url),
    }
}

//! Backend responses → MCP tool results.

use base64::Engine;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::Value;

/// What kind of failure a tool error is, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad arguments or a request the gateway refuses to send.
    User,
    /// The backend failed, timed out or answered with an error.
    Backend,
    /// The target's rate limit.
    Throttled,
}

impl ErrorKind {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::User => "user",
            ErrorKind::Backend => "backend",
            ErrorKind::Throttled => "throttled",
        }
    }
}

/// A tool result plus, when it is an error, its kind.
#[derive(Debug)]
pub struct ToolOutcome {
    /// The MCP result.
    pub result: CallToolResult,
    /// Set for errors.
    pub error: Option<ErrorKind>,
}

impl ToolOutcome {
    /// An error result with a message the caller reads.
    pub fn error_kind(kind: ErrorKind, message: String) -> Self {
        ToolOutcome {
            result: CallToolResult::error(vec![ContentBlock::text(message)]),
            error: Some(kind),
        }
    }

    /// A success.
    pub fn ok(result: CallToolResult) -> Self {
        ToolOutcome {
            result,
            error: None,
        }
    }
}

/// Turns a 2xx response body into a result: JSON → text (+ `structuredContent` when the tool has
/// an output schema and the body is an object), text → text, images/audio → their content types,
/// other binary → an embedded blob resource.
pub fn success(
    content_type: &str,
    body: &[u8],
    has_output_schema: bool,
    uri: &str,
) -> CallToolResult {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let is_json = mime == "application/json" || mime.ends_with("+json");
    if (is_json || mime.is_empty())
        && let Ok(value) = serde_json::from_slice::<Value>(body)
    {
        let text = String::from_utf8_lossy(body).into_owned();
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        if has_output_schema && value.is_object() {
            result.structured_content = Some(value);
        }
        return result;
    }
    let b64 = || base64::engine::general_purpose::STANDARD.encode(body);
    if mime.starts_with("image/") {
        return CallToolResult::success(vec![ContentBlock::image(b64(), mime)]);
    }
    if mime.starts_with("audio/") {
        return CallToolResult::success(vec![ContentBlock::audio(b64(), mime)]);
    }
    match std::str::from_utf8(body) {
        // JSON that does not parse is still text a model can read (and a clue to the problem).
        Ok(text) if is_json || is_textual(&mime) => {
            CallToolResult::success(vec![ContentBlock::text(text.to_string())])
        }
        _ => CallToolResult::success(vec![ContentBlock::resource(
            ResourceContents::BlobResourceContents {
                uri: uri.to_string(),
                mime_type: Some(if mime.is_empty() {
                    "application/octet-stream".into()
                } else {
                    mime
                }),
                blob: b64(),
                meta: None,
            },
        )]),
    }
}

fn is_textual(mime: &str) -> bool {
    mime.is_empty()
        || mime.starts_with("text/")
        || mime.ends_with("+xml")
        || matches!(
            mime,
            "application/xml"
                | "application/javascript"
                | "application/x-yaml"
                | "application/yaml"
                | "application/x-www-form-urlencoded"
        )
}

/// Most characters of a backend's client-error body shown under the default `exceptionLevel`.
pub const CLIENT_ERROR_CHARS: usize = 1000;

/// The tool error of a backend's answer with a non-2xx status.
///
/// A client error (4xx) always carries its status and body (at most [`CLIENT_ERROR_CHARS`]
/// characters, credentials redacted): it says what is wrong with the request, which only the
/// caller can fix, and "retry later" would be wrong advice. Other statuses (5xx) keep the
/// `exceptionLevel` policy of [`backend_error`]. `secrets` are the target's credential values,
/// replaced wherever the backend echoed them.
pub fn status_error(debug: bool, status: u16, detail: &str, secrets: &[&str]) -> ToolOutcome {
    if !(400..500).contains(&status) {
        return backend_error(debug, Some(status), &redact(detail, secrets));
    }
    let detail = redact(detail.trim(), secrets);
    let shown = if debug {
        detail
    } else {
        truncate(&detail, CLIENT_ERROR_CHARS)
    };
    let message = if shown.is_empty() {
        format!("The backend rejected the request with HTTP {status} (no detail in its answer).")
    } else {
        format!("The backend rejected the request with HTTP {status}: {shown}")
    };
    ToolOutcome::error_kind(ErrorKind::Backend, message)
}

/// At most `max` characters of `text`, with a note of how much was cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!(
            "{}… ({} more characters)",
            &text[..at],
            text[at..].chars().count()
        ),
    }
}

/// Names of query parameters, headers and JSON fields whose values are credentials.
const SECRET_NAMES: [&str; 12] = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "api_key",
    "apikey",
    "api-key",
    "password",
    "secret",
    "token",
    "x-amz-signature",
    "x-amz-security-token",
];

/// `text` with every credential replaced by `[REDACTED]`: the given secret values (and the key
/// part of a `Bearer <key>`-style value), bearer tokens, AWS access key ids, and the values of
/// fields named like credentials (`"access_token": "…"`, `api_key=…`).
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        let key = secret.rsplit(' ').next().unwrap_or(secret);
        for value in [*secret, key] {
            if value.len() >= 4 {
                out = out.replace(value, "[REDACTED]");
            }
        }
    }
    out = redact_after(&out, "bearer ", |c| {
        !c.is_whitespace() && c != '"' && c != '\''
    });
    out = redact_aws_key_ids(&out);
    for name in SECRET_NAMES {
        out = redact_field(&out, name);
    }
    out
}

/// Replaces the run of `keep` characters after each (case-insensitive) `marker`.
fn redact_after(text: &str, marker: &str, keep: impl Fn(char) -> bool) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(marker) {
        let start = at + found + marker.len();
        out.push_str(&text[at..start]);
        let end = text[start..]
            .char_indices()
            .find(|(_, c)| !keep(*c))
            .map_or(text.len(), |(i, _)| start + i);
        if end > start {
            out.push_str("[REDACTED]");
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// `"name": "value"`, `name=value` and `name: value` with the value replaced.
fn redact_field(text: &str, name: &str) -> String {
    let value_char =
        |c: char| !matches!(c, '"' | '\'' | '&' | ',' | ';' | '}' | '<') && !c.is_whitespace();
    let mut out = text.to_string();
    for marker in [
        format!("\"{name}\":\""),
        format!("\"{name}\": \""),
        format!("{name}="),
        format!("{name}: "),
    ] {
        if out.to_ascii_lowercase().contains(&marker) {
            out = redact_after(&out, &marker, value_char);
        }
    }
    out
}

/// AWS access key ids (`AKIA…`/`ASIA…` and 16 more upper-case letters or digits).
fn redact_aws_key_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 20 <= bytes.len() {
        let window = &bytes[i..i + 20];
        if (window.starts_with(b"AKIA") || window.starts_with(b"ASIA"))
            && window[4..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            out.push_str(&text[copied..i]);
            out.push_str("[REDACTED]");
            i += 20;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The text of a failed backend call: detail only with `exceptionLevel: Debug`.
pub fn backend_error(debug: bool, status: Option<u16>, detail: &str) -> ToolOutcome {
    let message = if debug {
        match status {
            Some(s) => format!("The backend returned HTTP {s}: {detail}"),
            None => format!("The backend call failed: {detail}"),
        }
    } else {
        "An internal error occurred. Please retry later.".to_string()
    };
    ToolOutcome::error_kind(ErrorKind::Backend, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(outcome: &ToolOutcome) -> String {
        serde_json::to_value(&outcome.result).expect("serializes")["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn client_errors_reach_the_caller_truncated_and_redacted() {
        let body = format!(
            r#"{{"__type":"ResourceNotFoundException","message":"Table not found","echo":"Key s3cr3t-key-42","access_token":"tok-123","aws":"AKIAIOSFODNN7EXAMPLE","pad":"{}"}}"#,
            "x".repeat(3000)
        );
        let outcome = status_error(false, 404, &body, &["Key s3cr3t-key-42"]);
        let message = text(&outcome);
        assert!(
            message.starts_with("The backend rejected the request with HTTP 404: "),
            "{message}"
        );
        assert!(message.contains("ResourceNotFoundException"), "{message}");
        assert!(message.contains("Table not found"), "{message}");
        for secret in ["s3cr3t-key-42", "tok-123", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(!message.contains(secret), "{secret} leaked: {message}");
        }
        assert!(message.contains("more characters)"), "{message}");
        assert!(message.chars().count() < CLIENT_ERROR_CHARS + 200);
        assert_eq!(outcome.error, Some(ErrorKind::Backend));

        // Server errors keep the generic message under the default exceptionLevel.
        let server = text(&status_error(false, 503, "db password=hunter2 down", &[]));
        assert_eq!(server, "An internal error occurred. Please retry later.");
        // With Debug they carry the detail, still redacted.
        let debug = text(&status_error(
            true,
            500,
            "Authorization: Bearer abc.def",
            &[],
        ));
        assert!(debug.contains("HTTP 500"), "{debug}");
        assert!(!debug.contains("abc.def"), "{debug}");
        assert_eq!(
            text(&status_error(false, 400, "  ", &[])),
            "The backend rejected the request with HTTP 400 (no detail in its answer)."
        );
    }
}

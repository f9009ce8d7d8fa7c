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

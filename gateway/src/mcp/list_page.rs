//! `tools/list` pages written from pre-rendered JSON (`runtime::listed`).
//!
//! rmcp stays in charge of the protocol: it checks the request, negotiates the revision and
//! frames the JSON-RPC response (id, caching hints, JSON or SSE). What it does not do is the
//! expensive part, serialising hundreds of kilobytes of JSON Schema per page:
//!
//! 1. [`run`] (called by the HTTP guard, last) puts an empty [`PageSlot`] into the extensions of every request that may be a
//!    `tools/list` and that accepts a JSON answer;
//! 2. the handler finds the slot (rmcp hands the HTTP request's parts to it), puts the page's
//!    rendered `tools` array there and gives rmcp the page with an empty `tools` array;
//! 3. on the way out, [`run`] writes the rendered array into the empty one.
//!
//! Where the empty array is: `tools` is the last field rmcp serialises in a `ListToolsResult`,
//! and `result` the last member of a JSON-RPC response, so the message ends with
//! `"tools":[]}}`. No JSON string before it can contain those bytes (a quote inside a string is
//! escaped). A response that does not end that way (an error, say) is passed on unchanged.

use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;

/// What the handler leaves for [`run`]: the page's `tools` array as JSON.
#[derive(Clone, Default)]
pub struct PageSlot(Arc<OnceLock<Bytes>>);

impl PageSlot {
    /// The slot [`run`] put into this request, if any.
    pub fn of(extensions: &rmcp::model::Extensions) -> Option<&PageSlot> {
        extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<PageSlot>())
    }

    /// Leaves the page's tools, the JSON texts of one tool each, for the response.
    pub fn fill<'a>(&self, tools: impl Iterator<Item = &'a str>) {
        let mut array = Vec::with_capacity(64 * 1024);
        array.push(b'[');
        for (i, tool) in tools.enumerate() {
            if i > 0 {
                array.push(b',');
            }
            array.extend_from_slice(tool.as_bytes());
        }
        array.push(b']');
        // A request is listed once; a second fill would be a bug, and the first one stands.
        let _ = self.0.set(Bytes::from(array));
    }
}

/// The empty array rmcp writes for a page whose tools wait in the slot, with the two braces
/// that close the result and the message.
const EMPTY_TOOLS: &[u8] = br#""tools":[]}}"#;

/// `message` (the bytes of a response, or of the SSE event carrying it) with `tools` written
/// into its empty `tools` array; `None` when the message does not end with one.
fn splice(message: &[u8], tools: &[u8]) -> Option<Bytes> {
    let at = find_last(message, EMPTY_TOOLS)?;
    let after = &message[at + EMPTY_TOOLS.len()..];
    // Only whitespace (or, in an SSE event, the line end and the fields after the data) may
    // follow the message.
    let ends = after.iter().all(u8::is_ascii_whitespace)
        || after.starts_with(b"\n")
        || after.starts_with(b"\r\n");
    if !ends {
        return None;
    }
    let open = at + br#""tools":"#.len();
    let mut out = Vec::with_capacity(message.len() + tools.len());
    out.extend_from_slice(&message[..open]);
    out.extend_from_slice(tools);
    out.extend_from_slice(&message[open + 2..]);
    Some(Bytes::from(out))
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Whether a request may be a `tools/list` `run` can complete: a POST (2026-07-28
/// requests name their method in `Mcp-Method`; session requests do not) whose client takes a
/// plain JSON answer, which is what rmcp (and `json_reply` for sessions) gives for a list.
fn may_list(request: &Request) -> bool {
    request.method() == Method::POST
        && request
            .headers()
            .get("mcp-method")
            .is_none_or(|m| m.as_bytes() == b"tools/list")
        && super::json_reply::accepts_json(request.headers())
}

/// Runs the rest of the stack on `request`, completing its `tools/list` page if it is one (see
/// the module docs).
pub async fn run(mut request: Request, next: Next) -> Response {
    if !may_list(&request) {
        return next.run(request).await;
    }
    let slot = PageSlot::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    match slot.0.get() {
        Some(tools) => complete(response, tools.clone()).await,
        None => response,
    }
}

/// `response` with the rendered tools in its page.
async fn complete(response: Response, tools: Bytes) -> Response {
    let (mut parts, body) = response.into_parts();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        // The page without its tools: a few hundred bytes.
        let message = match axum::body::to_bytes(body, 1 << 20).await {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(error = %e, "reading a tools/list answer failed");
                return Response::from_parts(parts, Body::empty());
            }
        };
        let filled = splice(&message, &tools).unwrap_or_else(|| {
            tracing::debug!("a tools/list answer without an empty page; passed on unchanged");
            message
        });
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Response::from_parts(parts, Body::from(filled));
    }
    // An SSE stream (rmcp writes one event per chunk): the event carrying the page is filled in,
    // everything else goes through unchanged.
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut tools = Some(tools);
    let stream = body
        .into_data_stream()
        .map(move |chunk| -> Result<Bytes, axum::Error> {
            let chunk = chunk?;
            let Some(page) = tools.as_ref() else {
                return Ok(chunk);
            };
            match splice(&chunk, page) {
                Some(filled) => {
                    tools = None;
                    Ok(filled)
                }
                None => Ok(chunk),
            }
        });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests;

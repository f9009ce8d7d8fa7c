//! A session request answered with one JSON object instead of an SSE stream.
//!
//! rmcp answers every request of a 2025-xx session with a `text/event-stream`, even when the
//! stream carries nothing but the response (its own `json_response` switch covers stateless
//! requests only). The streamable HTTP transport lets a server answer a request with either
//! `text/event-stream` or one `application/json` object, and clients must accept both, so when
//! the client's `Accept` names `application/json` and the stream's first message is the
//! response itself, that message goes back as a plain JSON body: no chunked stream, no keep-alive
//! timer, no SSE framing on either side.
//!
//! Whatever has to stream still streams, unchanged, the bytes already read included, so no
//! message is lost or reordered:
//! - the handler sends anything before its response: a progress or log notification, or a
//!   request to the client (elicitation, sampling, roots);
//! - the call is slow: rmcp's first keep-alive comment (after 15 s of silence) hands the stream
//!   on, so the client sees keep-alives as it would without this module and its read timeouts
//!   are not stretched;
//! - anything this module does not recognise (another event type, a batch, a body that is not
//!   JSON, a stream that ends or fails without a response).
//!
//! Events only announcing themselves (rmcp's priming event: an id and a retry, empty data) are
//! skipped: a JSON answer needs no resumption point.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use futures::StreamExt;
use serde::Deserialize;
use serde::de::IgnoredAny;

/// Whether `headers` accept a plain JSON answer: `application/json` (or a wildcard covering it)
/// without `q=0`.
pub fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut params = item.split(';');
            let essence = params.next().unwrap_or_default().trim();
            let covers = essence.eq_ignore_ascii_case("application/json")
                || essence.eq_ignore_ascii_case("application/*")
                || essence == "*/*";
            covers && !params.any(refuses)
        })
}

/// Whether a media-range parameter is `q=0` (RFC 9110: "not acceptable").
fn refuses(param: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else {
        return false;
    };
    name.trim().eq_ignore_ascii_case("q") && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
}

/// Whether `response` is an SSE stream.
fn is_event_stream(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("text/event-stream")
        })
}

/// The fields that tell a JSON-RPC response (an `id`, no `method`) from a notification or a
/// request; the rest is skipped without being decoded.
#[derive(Deserialize)]
struct Kind {
    id: Option<IgnoredAny>,
    method: Option<IgnoredAny>,
}

/// What one SSE event means for the answer.
#[derive(Debug, PartialEq)]
enum Event {
    /// No message (a priming event: id and retry, empty data): read on.
    Skip,
    /// The JSON-RPC response (or error) to the request: the whole answer.
    Response(Bytes),
    /// Anything else (a notification, a server request, a keep-alive, an unknown event): the
    /// answer stays a stream.
    Stream,
}

/// Classifies one SSE event: its lines, without the blank line that ends it.
fn classify(event: &Bytes) -> Event {
    let mut first: Option<std::ops::Range<usize>> = None;
    let mut joined: Option<Vec<u8>> = None;
    let mut fields = false;
    let mut start = 0;
    while start < event.len() {
        let end = event[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(event.len(), |i| start + i);
        let mut line_end = end;
        if line_end > start && event[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        let line = &event[start..line_end];
        let next = end + 1;
        if line.is_empty() || line[0] == b':' {
            // A comment (keep-alive) says nothing about the message.
            start = next;
            continue;
        }
        fields = true;
        let colon = line.iter().position(|b| *b == b':');
        let name = colon.map_or(line, |i| &line[..i]);
        let mut value_start = colon.map_or(line_end, |i| start + i + 1);
        if event.get(value_start) == Some(&b' ') && value_start < line_end {
            value_start += 1;
        }
        match name {
            b"data" => match (&mut joined, &first) {
                (Some(joined), _) => {
                    joined.push(b'\n');
                    joined.extend_from_slice(&event[value_start..line_end]);
                }
                (None, Some(previous)) => {
                    let mut both = event[previous.clone()].to_vec();
                    both.push(b'\n');
                    both.extend_from_slice(&event[value_start..line_end]);
                    joined = Some(both);
                }
                (None, None) => first = Some(value_start..line_end),
            },
            // An empty event type is the default, `message`.
            b"event" if !matches!(&event[value_start..line_end], b"" | b"message") => {
                return Event::Stream;
            }
            // `id`, `retry` and unknown fields carry no message.
            _ => {}
        }
        start = next;
    }
    if !fields {
        // Only comments: rmcp's keep-alive, sent after a silence; the call is slow.
        return Event::Stream;
    }
    let data = match (joined, first) {
        (Some(joined), _) => Bytes::from(joined),
        (None, Some(range)) => event.slice(range),
        (None, None) => return Event::Skip,
    };
    if data.iter().all(u8::is_ascii_whitespace) {
        return Event::Skip;
    }
    match serde_json::from_slice::<Kind>(&data) {
        Ok(Kind {
            id: Some(_),
            method: None,
        }) => Event::Response(data),
        _ => Event::Stream,
    }
}

/// Where the first complete event in `buffer` ends, searching from `from`: the length of the
/// event and where the next one starts (after the blank line).
fn event_end(buffer: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i < buffer.len() {
        if buffer[i] == b'\n' {
            match &buffer[i + 1..] {
                [b'\n', ..] => return Some((i, i + 2)),
                [b'\r', b'\n', ..] => return Some((i, i + 3)),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// `response` with a single JSON body when its stream starts with the response to the request
/// (see the module docs); otherwise the same stream, unchanged.
pub async fn single_json(response: Response) -> Response {
    if !is_event_stream(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut stream = body.into_data_stream();
    // Everything read, to hand on if the answer stays a stream.
    let mut read: Vec<Bytes> = Vec::new();
    // Read bytes not classified yet (the start of an incomplete event), and how far they were
    // searched for the end of an event.
    let mut rest = Bytes::new();
    let mut searched = 0;
    let mut failed = None;
    'read: while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        // rmcp writes one event per chunk, so usually `rest` is the chunk itself (no copy).
        rest = if rest.is_empty() {
            chunk.clone()
        } else {
            let mut joined = Vec::with_capacity(rest.len() + chunk.len());
            joined.extend_from_slice(&rest);
            joined.extend_from_slice(&chunk);
            Bytes::from(joined)
        };
        read.push(chunk);
        while let Some((end, next)) = event_end(&rest, searched) {
            let event = rest.slice(..end);
            rest = rest.slice(next..);
            searched = 0;
            match classify(&event) {
                Event::Skip => {}
                Event::Response(json) => {
                    parts.headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    // The body has a known length now; these described the stream.
                    parts.headers.remove(header::CONTENT_LENGTH);
                    parts.headers.remove(header::TRANSFER_ENCODING);
                    parts.headers.remove("x-accel-buffering");
                    return Response::from_parts(parts, Body::from(json));
                }
                Event::Stream => break 'read,
            }
        }
        // The end of an event may start in the last two bytes ("\n" + "\r\n").
        searched = rest.len().saturating_sub(2);
    }
    // Not a lone response: hand on what was read, then the rest of the stream (or its error).
    let head = futures::stream::iter(read.into_iter().map(Ok::<_, axum::Error>));
    let tail = futures::stream::iter(failed.map(Err));
    Response::from_parts(parts, Body::from_stream(head.chain(tail).chain(stream)))
}

#[cfg(test)]
mod tests;

//! The legacy HTTP+SSE client transport of MCP 2024-11-05, for upstreams that only speak it
//! (`transport: Sse` on the mcpServer target).
//!
//! The client GETs the SSE endpoint and keeps the stream open; the server's first event,
//! `endpoint`, names the URL (relative to the SSE URL) to POST JSON-RPC messages to; every
//! response, request and notification of the server arrives as a `message` event on the stream.
//! rmcp has no client for it, so this implements rmcp's [`Transport`] over reqwest: a reader task
//! parses the stream into messages, `send` POSTs each message.

use std::borrow::Cow;
use std::time::Duration;

use futures::StreamExt;
use rmcp::RoleClient;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;

/// Why the SSE transport failed. Messages name the URL part that failed, never a credential.
#[derive(Debug, thiserror::Error)]
pub enum SseError {
    /// The GET of the SSE endpoint failed.
    #[error("opening the SSE stream failed: {0}")]
    Connect(String),
    /// The SSE endpoint answered with an error status or another content type.
    #[error(
        "the SSE endpoint answered HTTP {status} ({content_type}); is this a legacy HTTP+SSE MCP endpoint? Use transport StreamableHttp for /mcp endpoints"
    )]
    NotAStream {
        /// HTTP status.
        status: u16,
        /// The content type it sent.
        content_type: String,
    },
    /// No `endpoint` event arrived.
    #[error("the SSE stream sent no `endpoint` event within {0} ms")]
    NoEndpoint(u128),
    /// The `endpoint` event's URL is not valid or points to another origin.
    #[error("the SSE stream's endpoint {0:?} is not a URL on the same origin as the SSE endpoint")]
    BadEndpoint(String),
    /// A POST of a message failed.
    #[error("posting a message to the upstream failed: {0}")]
    Post(String),
    /// The stream ended.
    #[error("the SSE stream ended")]
    Closed,
}

/// One server-sent event.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// `event:` (default `message`).
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental parser of a `text/event-stream` body.
#[derive(Debug, Default)]
pub struct EventParser {
    buffer: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl EventParser {
    /// Feeds bytes; returns the events completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if line.is_empty() {
                if !self.data.is_empty() || self.event.is_some() {
                    out.push(Event {
                        event: self.event.take().unwrap_or_else(|| "message".into()),
                        data: std::mem::take(&mut self.data).join("\n"),
                    });
                }
                continue;
            }
            if line.starts_with(':') {
                continue; // comment (keep-alive)
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()),
                None => (line.clone(), String::new()),
            };
            match field.as_str() {
                "event" => self.event = Some(value),
                "data" => self.data.push(value),
                _ => {} // id, retry: not needed here
            }
        }
        out
    }
}

/// An open HTTP+SSE connection to an upstream.
pub struct SseTransport {
    client: reqwest::Client,
    post_url: String,
    messages: mpsc::Receiver<RxJsonRpcMessage<RoleClient>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for SseTransport {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The `endpoint` event's URL, resolved against the SSE URL; only the same origin is accepted
/// (the credentials the client carries must not go elsewhere). `extra_query` (a query-parameter
/// API key) is appended.
fn resolve_endpoint(
    sse_url: &reqwest::Url,
    endpoint: &str,
    extra_query: Option<&(String, String)>,
) -> Result<String, SseError> {
    let mut url = sse_url
        .join(endpoint.trim())
        .map_err(|_| SseError::BadEndpoint(endpoint.to_string()))?;
    if url.origin() != sse_url.origin() {
        return Err(SseError::BadEndpoint(endpoint.to_string()));
    }
    if let Some((name, value)) = extra_query {
        url.query_pairs_mut().append_pair(name, value);
    }
    Ok(url.to_string())
}

impl SseTransport {
    /// GETs `url`, waits (up to `timeout`) for the `endpoint` event and starts reading messages.
    /// `client` carries the target's credential headers; `api_key_query` a query-parameter API
    /// key, which the POST URL gets too.
    pub async fn connect(
        client: reqwest::Client,
        url: &str,
        api_key_query: Option<(String, String)>,
        timeout: Duration,
    ) -> Result<Self, SseError> {
        let mut sse_url =
            reqwest::Url::parse(url).map_err(|_| SseError::BadEndpoint(url.to_string()))?;
        if let Some((name, value)) = &api_key_query {
            sse_url.query_pairs_mut().append_pair(name, value);
        }
        let response = tokio::time::timeout(
            timeout,
            client
                .get(sse_url.clone())
                .header(reqwest::header::ACCEPT, "text/event-stream")
                .send(),
        )
        .await
        .map_err(|_| SseError::Connect(format!("no answer within {} ms", timeout.as_millis())))?
        .map_err(|e| SseError::Connect(e.without_url().to_string()))?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if !response.status().is_success() || !content_type.starts_with("text/event-stream") {
            return Err(SseError::NotAStream {
                status: response.status().as_u16(),
                content_type,
            });
        }
        let mut body = response.bytes_stream();
        let mut parser = EventParser::default();
        let mut early: Vec<Event> = Vec::new();
        let endpoint = tokio::time::timeout(timeout, async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| SseError::Connect(e.without_url().to_string()))?;
                let mut events = parser.feed(&chunk).into_iter();
                while let Some(event) = events.next() {
                    if event.event == "endpoint" {
                        early.extend(events);
                        return Ok(event.data);
                    }
                }
            }
            Err(SseError::Closed)
        })
        .await
        .map_err(|_| SseError::NoEndpoint(timeout.as_millis()))??;
        let post_url = resolve_endpoint(&sse_url, &endpoint, api_key_query.as_ref())?;
        let (tx, messages) = mpsc::channel(64);
        let reader = tokio::spawn(async move {
            let mut pending = early;
            loop {
                for event in pending.drain(..) {
                    if event.event != "message" {
                        continue;
                    }
                    match serde_json::from_str::<RxJsonRpcMessage<RoleClient>>(&event.data) {
                        Ok(message) => {
                            if tx.send(message).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring an SSE message that is not JSON-RPC")
                        }
                    }
                }
                match body.next().await {
                    Some(Ok(chunk)) => pending = parser.feed(&chunk),
                    // The stream ended or broke: closing the channel ends the session, and the
                    // manager reconnects.
                    Some(Err(_)) | None => return,
                }
            }
        });
        Ok(Self {
            client,
            post_url,
            messages,
            reader,
        })
    }
}

impl Transport<RoleClient> for SseTransport {
    type Error = SseError;

    fn name() -> Cow<'static, str> {
        "http+sse".into()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let client = self.client.clone();
        let url = self.post_url.clone();
        async move {
            let response = client
                .post(url)
                .json(&item)
                .send()
                .await
                .map_err(|e| SseError::Post(e.without_url().to_string()))?;
            if !response.status().is_success() {
                return Err(SseError::Post(format!("HTTP {}", response.status())));
            }
            Ok(())
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        self.messages.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.reader.abort();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_parsed_across_chunks_and_line_endings() {
        let mut p = EventParser::default();
        assert!(
            p.feed(b"event: endpoint\r\ndata: /messages/?session")
                .is_empty()
        );
        let events = p.feed(b"_id=abc\r\n\r\n: keep-alive\n\ndata: {\"a\":\ndata: 1}\n\n");
        assert_eq!(
            events,
            vec![
                Event {
                    event: "endpoint".into(),
                    data: "/messages/?session_id=abc".into()
                },
                Event {
                    event: "message".into(),
                    data: "{\"a\":\n1}".into()
                },
            ]
        );
    }

    #[test]
    fn the_endpoint_must_stay_on_the_same_origin() {
        let base =
            reqwest::Url::parse("http://127.0.0.1:8000/sse").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            resolve_endpoint(&base, "/messages/?session_id=1", None).ok(),
            Some("http://127.0.0.1:8000/messages/?session_id=1".to_string())
        );
        let key = ("key".to_string(), "s e".to_string());
        assert_eq!(
            resolve_endpoint(&base, "messages?x=1", Some(&key)).ok(),
            Some("http://127.0.0.1:8000/messages?x=1&key=s+e".to_string())
        );
        assert!(resolve_endpoint(&base, "http://evil.example/steal", None).is_err());
    }
}

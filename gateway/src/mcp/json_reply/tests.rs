use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Request, StatusCode};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    ProgressNotificationParam, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::mcp::session::{self, SessionKey, SignedSessionManager, SignedSessions};

fn sse(body: &'static str) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("mcp-session-id", "abc")
        .body(Body::from(body))
        .unwrap_or_default()
}

/// An SSE response whose body arrives one byte per chunk.
fn sse_bytewise(body: &'static str) -> Response {
    let chunks = body
        .as_bytes()
        .iter()
        .map(|b| Ok::<_, std::io::Error>(Bytes::copy_from_slice(&[*b])));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap_or_default()
}

fn content_type(response: &Response) -> String {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

const RESULT: &str = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;

#[test]
fn accept_headers() {
    let accepts = |value: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(value));
        accepts_json(&headers)
    };
    assert!(!accepts_json(&HeaderMap::new()));
    assert!(accepts("application/json, text/event-stream"));
    assert!(accepts("text/event-stream, Application/JSON;q=0.9"));
    assert!(accepts("text/event-stream, */*"));
    assert!(accepts("application/*"));
    assert!(!accepts("text/event-stream"));
    assert!(!accepts("application/json;q=0, text/event-stream"));
    assert!(!accepts("application/json; q=0.0"));
    assert!(!accepts("application/jsonl"));
    // Several Accept headers count together.
    let mut headers = HeaderMap::new();
    headers.append(
        header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.append(header::ACCEPT, HeaderValue::from_static("application/json"));
    assert!(accepts_json(&headers));
}

#[test]
fn events() {
    let classify = |s: &'static str| classify(&Bytes::from_static(s.as_bytes()));
    // rmcp's keep-alive (only comments): the call is slow, keep streaming.
    assert_eq!(classify(":"), Event::Stream);
    assert_eq!(classify(": ping"), Event::Stream);
    // rmcp's priming event: nothing to deliver.
    assert_eq!(classify("data: \nid: 0\nretry: 3000"), Event::Skip);
    assert_eq!(classify("id: 0\nretry: 3000"), Event::Skip);
    let response = |s| match classify(s) {
        Event::Response(json) => String::from_utf8_lossy(&json).into_owned(),
        other => panic!("{s:?} is {other:?}, not a response"),
    };
    assert_eq!(
        response("data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\nid: 0/1"),
        RESULT
    );
    assert_eq!(
        response(
            "data:{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":1,\"message\":\"x\"}}"
        ),
        r#"{"jsonrpc":"2.0","id":"a","error":{"code":1,"message":"x"}}"#
    );
    assert_eq!(
        response(
            "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\r\ndata: \"id\":1,\"result\":{}}\r"
        ),
        "{\"jsonrpc\":\"2.0\",\n\"id\":1,\"result\":{}}"
    );
    // Notifications and requests to the client keep the stream.
    assert_eq!(
        classify("data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}"),
        Event::Stream
    );
    assert_eq!(
        classify(
            "data: {\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"elicitation/create\",\"params\":{}}"
        ),
        Event::Stream
    );
    // Anything unrecognised too.
    assert_eq!(classify("event: other\ndata: {\"id\":1}"), Event::Stream);
    assert_eq!(classify("data: not json"), Event::Stream);
    assert_eq!(
        classify("data: [{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}]"),
        Event::Stream
    );
    assert_eq!(
        classify("data: {\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{}}"),
        Event::Stream
    );
}

#[test]
fn event_ends() {
    assert_eq!(event_end(b"data: x\n\ndata: y", 0), Some((7, 9)));
    assert_eq!(event_end(b"data: x\r\n\r\n", 0), Some((8, 11)));
    assert_eq!(event_end(b"data: x\n", 0), None);
    assert_eq!(event_end(b"data: x\n\r", 0), None);
    assert_eq!(event_end(b":\n\n", 0), Some((1, 3)));
}

#[tokio::test]
async fn a_lone_response_becomes_json() {
    let response = single_json(sse(
        "id: 0\nretry: 3000\ndata: \n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\nid: 0/1\n\n",
    ))
    .await;
    assert_eq!(content_type(&response), "application/json");
    // The session id and the other headers stay.
    assert!(response.headers().get("mcp-session-id").is_some());
    assert_eq!(text(response).await, RESULT);
}

#[tokio::test]
async fn a_response_split_across_chunks_becomes_json() {
    let response = single_json(sse_bytewise(
        "data: \r\nid: 0\r\n\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\r\n\r\n",
    ))
    .await;
    assert_eq!(content_type(&response), "application/json");
    assert_eq!(text(response).await, RESULT);
}

#[tokio::test]
async fn what_must_stream_streams_unchanged() {
    for body in [
        // Progress before the result.
        "data: \nid: 0\n\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n",
        // A request to the client (elicitation) first.
        "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"elicitation/create\",\"params\":{}}\n\n",
        // A keep-alive: the call is slow.
        ":\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n",
        // No response at all, or an unfinished event.
        "data: \nid: 0\n\n",
        "data: {\"jsonrpc\":\"2.0\",\"id\":1,",
    ] {
        let response = single_json(sse(body)).await;
        assert_eq!(content_type(&response), "text/event-stream", "{body}");
        assert_eq!(text(response).await, body);
        let response = single_json(sse_bytewise(body)).await;
        assert_eq!(content_type(&response), "text/event-stream", "{body}");
        assert_eq!(text(response).await, body);
    }
}

#[tokio::test]
async fn a_failing_stream_still_fails() {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"data: \nid: 0\n\n")),
        Err(std::io::Error::other("backend went away")),
    ];
    let response = Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap_or_default();
    let response = single_json(response).await;
    assert_eq!(content_type(&response), "text/event-stream");
    assert!(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn json_and_other_bodies_are_left_alone() {
    let response = Response::builder()
        .status(StatusCode::ACCEPTED)
        .body(Body::empty())
        .unwrap_or_default();
    let response = single_json(response).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap_or_default();
    assert_eq!(text(single_json(response).await).await, "{}");
}

// In front of rmcp: a real 2025-06-18 session through the session layer.

/// Tools that answer at once, after a progress notification, after asking the client for its
/// roots, or after a pause.
#[derive(Clone)]
struct Tools;

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let failed =
            |e: rmcp::service::ServiceError| ErrorData::internal_error(e.to_string(), None);
        let mut text = format!("done {}", request.name);
        match request.name.as_ref() {
            "progress" => {
                if let Some(token) = context.meta.get_progress_token() {
                    context
                        .peer
                        .notify_progress(ProgressNotificationParam::new(token, 0.5))
                        .await
                        .map_err(failed)?;
                }
            }
            // Roots are deprecated by SEP-2577 but still a server-to-client request of 2025-06-18.
            #[allow(deprecated)]
            "roots" => {
                let roots = context.peer.list_roots().await.map_err(failed)?;
                text = format!("{text}: {} roots", roots.roots.len());
            }
            "slow" => tokio::time::sleep(Duration::from_millis(400)).await,
            _ => {}
        }
        Ok(CallToolResponse::Complete(CallToolResult::success(vec![
            ContentBlock::text(text),
        ])))
    }
}

/// The gateway's MCP stack (signed sessions, the session layer) around [`Tools`].
fn app(keep_alive: Duration) -> Router {
    let sessions = SignedSessions::new(SessionKey::from_bytes(&[b'k'; 32], "test").unwrap());
    let mut config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    config.json_response = true;
    config.sse_keep_alive = Some(keep_alive);
    config.session_store = Some(sessions.clone());
    let service = StreamableHttpService::new(
        || Ok(Tools),
        Arc::new(SignedSessionManager::default()),
        config,
    );
    Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(
            sessions,
            session::layer,
        ))
}

fn post(session: Option<&str>, message: &Value) -> Request<Body> {
    let mut request = Request::builder()
        .method("POST")
        .uri("/mcp")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    if let Some(id) = session {
        request = request
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-06-18");
    }
    request
        .body(Body::from(message.to_string()))
        .unwrap_or_default()
}

async fn send(app: &Router, request: Request<Body>) -> Response {
    match app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The JSON-RPC messages of an SSE body.
fn sse_messages(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .flat_map(|event| event.lines())
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str(data.trim()).ok())
        .collect()
}

/// A session on `app`: its id.
async fn handshake(app: &Router) -> String {
    let response = send(
        app,
        post(
            None,
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {"roots": {}},
                "clientInfo": {"name": "test", "version": "1"}}}),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(id.contains('.'), "a signed session id, not {id:?}");
    let _ = text(response).await;
    let response = send(
        app,
        post(
            Some(&id),
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    id
}

fn call(id: u64, tool: &str, progress: Option<&str>) -> Value {
    let mut params = json!({"name": tool, "arguments": {}});
    if let Some(token) = progress {
        params["_meta"] = json!({"progressToken": token});
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

fn result_text(message: &Value) -> &str {
    message["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_session_call_without_intermediate_messages_is_one_json_object() {
    let app = app(Duration::from_secs(15));
    let session = handshake(&app).await;
    // A progress token alone does not force a stream: nothing is sent before the result.
    for (id, progress) in [(1, None), (2, Some("p"))] {
        let response = send(&app, post(Some(&session), &call(id, "plain", progress))).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(content_type(&response), "application/json");
        let message: Value = serde_json::from_str(&text(response).await).unwrap_or_default();
        assert_eq!(message["id"], id);
        assert_eq!(result_text(&message), "done plain");
    }
}

#[tokio::test]
async fn progress_before_the_result_streams() {
    let app = app(Duration::from_secs(15));
    let session = handshake(&app).await;
    let response = send(
        &app,
        post(Some(&session), &call(3, "progress", Some("tok"))),
    )
    .await;
    assert_eq!(content_type(&response), "text/event-stream");
    let messages = sse_messages(&text(response).await);
    let methods: Vec<_> = messages.iter().map(|m| m["method"].clone()).collect();
    assert_eq!(
        methods,
        [json!("notifications/progress"), Value::Null],
        "{messages:?}"
    );
    assert_eq!(messages[0]["params"]["progressToken"], "tok");
    assert_eq!(messages[1]["id"], 3);
    assert_eq!(result_text(&messages[1]), "done progress");
}

#[tokio::test]
async fn a_request_to_the_client_streams_and_its_answer_completes_the_call() {
    let app = app(Duration::from_secs(15));
    let session = handshake(&app).await;
    let response = send(&app, post(Some(&session), &call(4, "roots", None))).await;
    assert_eq!(content_type(&response), "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let mut seen = String::new();
    let request = loop {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .ok()
            .flatten()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("no roots/list request in {seen:?}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(request) = sse_messages(&seen)
            .into_iter()
            .find(|m| m["method"] == "roots/list")
        {
            break request;
        }
    };
    let answer =
        json!({"jsonrpc": "2.0", "id": request["id"], "result": {"roots": [{"uri": "file:///w"}]}});
    let accepted = send(&app, post(Some(&session), &answer)).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let rest = tokio::time::timeout(
        Duration::from_secs(10),
        axum::body::to_bytes(Body::from_stream(body), usize::MAX),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or_default();
    let messages = sse_messages(&String::from_utf8_lossy(&rest));
    let result = messages.iter().find(|m| m["id"] == 4);
    assert_eq!(
        result.map(result_text),
        Some("done roots: 1 roots"),
        "{messages:?}"
    );
}

#[tokio::test]
async fn a_slow_call_streams_once_keep_alives_start() {
    let app = app(Duration::from_millis(100));
    let session = handshake(&app).await;
    let response = send(&app, post(Some(&session), &call(5, "slow", None))).await;
    assert_eq!(content_type(&response), "text/event-stream");
    let body = text(response).await;
    assert!(body.contains(":\n\n"), "{body:?}");
    let messages = sse_messages(&body);
    assert_eq!(
        messages.last().map(result_text),
        Some("done slow"),
        "{body:?}"
    );
}

#[tokio::test]
async fn a_forged_session_id_is_refused_before_anything_runs() {
    let app = app(Duration::from_secs(15));
    let session = handshake(&app).await;
    let forged = format!("x{session}");
    let response = send(&app, post(Some(&forged), &call(6, "plain", None))).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

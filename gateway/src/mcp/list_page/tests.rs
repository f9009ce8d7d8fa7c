//! The splice on its own, and whole listings through the gateway's real MCP stack (rmcp,
//! signed sessions, the session layer) compared with the tools as rmcp serialises them.

use super::*;
use crate::admin::Metrics;
use crate::mcp::session::{SessionKey, SignedSessions};
use crate::runtime::Runtime;
use axum::Router;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

#[test]
fn fills_the_empty_array_at_the_end_of_the_message() {
    let message = br#"{"jsonrpc":"2.0","id":"x\"tools\":[]}}","result":{"nextCursor":"100","ttlMs":5000,"tools":[]}}"#;
    let filled = splice(message, br#"[{"name":"a"},{"name":"b"}]"#).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&filled).unwrap();
    assert_eq!(value["id"], r#"x"tools":[]}}"#);
    assert_eq!(value["result"]["tools"][1]["name"], "b");
    assert_eq!(value["result"]["nextCursor"], "100");
}

#[test]
fn fills_an_sse_event() {
    let event = b"id: 0/1\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}}\n\n";
    let filled = splice(event, br#"[{"name":"a"}]"#).unwrap();
    assert_eq!(
        &filled[..],
        &b"id: 0/1\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"a\"}]}}\n\n"[..]
    );
}

/// Anything else is left alone: an error, a page whose tools rmcp wrote itself, a message
/// that merely mentions the bytes.
#[test]
fn leaves_other_messages_alone() {
    let tools = br#"[{"name":"a"}]"#;
    for message in [
        &br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"invalid cursor"}}"#[..],
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"z"}]}}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}},"x":1}"#,
    ] {
        assert!(
            splice(message, tools).is_none(),
            "{}",
            String::from_utf8_lossy(message)
        );
    }
}

/// A gateway of 7 tools (pages of 3, so three pages), one of them with an output schema. (Only
/// tools of upstream MCP servers can have an output schema whose root is not an object, which
/// older peers must not get; `runtime::listed` tests that rendering.)
fn runtime(tag: &str) -> Arc<Runtime> {
    let dir = std::env::temp_dir().join(format!("toolyard-list-page-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut target = String::from(
        "apiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {name: orders}\nspec:\n  gatewayRef: {name: g}\n  lambda:\n    functionArn: arn:aws:lambda:us-east-1:123456789012:function:orders\n    toolSchema:\n      inline:\n",
    );
    for (i, name) in ["get", "list", "create", "cancel", "refund", "ship", "track"]
        .iter()
        .enumerate()
    {
        target.push_str(&format!(
            "        - name: {name}\n          description: \"{name} an order, \\\"quoted\\\" <html> {i}\"\n          inputSchema: {{type: object, properties: {{id: {{type: string}}}}, required: [id]}}\n"
        ));
        if *name == "list" {
            target.push_str(
                "          outputSchema: {type: object, properties: {ids: {type: array}}}\n",
            );
        }
    }
    std::fs::write(dir.join("t.yaml"), target).unwrap();
    std::fs::write(
        dir.join("g.yaml"),
        "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  mcp: {pageSize: 3}\n  inboundAuth: {none: {}}\n",
    )
    .unwrap();
    let runtime = Runtime::new();
    let (config, secrets, _) = crate::source::watch::load(&dir, None).unwrap();
    runtime.apply(config, &secrets).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    runtime
}

fn app(runtime: &Arc<Runtime>) -> Router {
    let sessions = SignedSessions::new(SessionKey::from_bytes(&[b'k'; 32], "test").unwrap());
    crate::mcp::http::router(
        runtime.clone(),
        Arc::new(Metrics::default()),
        1 << 20,
        sessions,
    )
}

/// Posts `message`; the status, the session id header and the JSON-RPC message of the answer
/// (a JSON body or the last message of an SSE stream).
async fn post(
    app: &Router,
    headers: &[(&str, &str)],
    message: Value,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::builder()
        .method("POST")
        .uri("/mcp")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::from(message.to_string())).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let message = serde_json::from_str(&text)
        .ok()
        .or_else(|| {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str(d.trim()).ok())
                .next_back()
        })
        .unwrap_or(Value::Null);
    (status, session, message)
}

/// Every page of a listing: the tools in order, and how many pages.
async fn list_all(
    app: &Router,
    headers: &[(&str, &str)],
    meta: Option<&Value>,
) -> (Vec<Value>, usize) {
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for pages in 1..10 {
        let mut params = json!({});
        if let Some(c) = &cursor {
            params["cursor"] = json!(c);
        }
        if let Some(meta) = meta {
            params["_meta"] = meta.clone();
        }
        let (status, _, answer) = post(
            app,
            headers,
            json!({"jsonrpc": "2.0", "id": pages, "method": "tools/list", "params": params}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["id"], pages, "{answer}");
        let result = &answer["result"];
        tools.extend(
            result["tools"]
                .as_array()
                .unwrap_or_else(|| panic!("{answer}"))
                .iter()
                .cloned(),
        );
        match result["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (tools, pages),
        }
    }
    panic!("the listing does not end");
}

/// A 2026-07-28 stateless listing is, tool for tool, what rmcp serialises for the snapshot's
/// tools, output schemas included, in three pages with the caching hints rmcp adds.
#[tokio::test]
async fn stateless_pages_are_the_tools_rmcp_would_send() {
    let runtime = runtime("stateless");
    let app = app(&runtime);
    let expected = serde_json::to_value(&runtime.snapshot().unwrap().tools).unwrap();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    });
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
    ];
    let (tools, pages) = list_all(&app, &headers, Some(&meta)).await;
    assert_eq!(pages, 3);
    assert_eq!(Value::Array(tools.clone()), expected);
    let list = tools.iter().find(|t| t["name"] == "orders___list").unwrap();
    assert_eq!(list["outputSchema"]["properties"]["ids"]["type"], "array");
    // A second listing comes from the rendered texts: the same again.
    assert_eq!(
        Value::Array(list_all(&app, &headers, Some(&meta)).await.0),
        expected
    );
    // The caching hints are rmcp's, around the filled page.
    let (_, _, first) = post(
        &app,
        &headers,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}),
    )
    .await;
    assert_eq!(first["result"]["resultType"], "complete", "{first}");
    assert_eq!(first["result"]["nextCursor"], "3");
    assert!(first["result"]["ttlMs"].is_u64(), "{first}");
}

/// In a 2025-06-18 session (its answers made plain JSON by the session layer) the pages are the
/// same tools; a bad cursor is rmcp's error, untouched.
#[tokio::test]
async fn session_pages_are_the_same_tools() {
    let runtime = runtime("session");
    let app = app(&runtime);
    let (status, session, answer) = post(
        &app,
        &[],
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let session = session.expect("a session id");
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let (status, _, _) = post(
        &app,
        &headers,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert!(status.is_success(), "{status}");
    let expected = serde_json::to_value(&runtime.snapshot().unwrap().tools).unwrap();
    let (tools, pages) = list_all(&app, &headers, None).await;
    assert_eq!(pages, 3);
    assert_eq!(Value::Array(tools), expected);
    let (_, _, error) = post(
        &app,
        &headers,
        json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {"cursor": "x"}}),
    )
    .await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid cursor"),
        "{error}"
    );
}

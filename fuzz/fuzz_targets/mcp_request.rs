//! Arbitrary bytes as the body of `POST /mcp` through the gateway's real HTTP stack: the
//! DNS-rebinding and auth guard, rmcp's streamable-HTTP transport (JSON-RPC parsing, sessions,
//! the stateless 2026-07-28 path) and the gateway's MCP handler (tools/list, tools/call with
//! argument validation and request building, the search tool, prompts and resources).
//!
//! The first byte picks the request's protocol headers, so every routing path is reachable:
//! 0 no MCP headers (the legacy handshake; a new session is closed again at once), 1
//! `MCP-Protocol-Version: 2026-07-28` (stateless), 2 an initialized 2025-06-18 session.
//!
//! Besides "no panic": every answer arrives within the deadline (a hang is a bug; only the
//! long-lived `subscriptions/listen` stream may stay open), no answer is a 500, and every JSON
//! answer is valid JSON. `FUZZ_MCP_DEBUG=1` prints each answer (to inspect a crash input).
#![no_main]

use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use toolyard_gateway::admin::Metrics;
use toolyard_gateway::runtime::Runtime;
use toolyard_gateway::source::watch;
use tower::ServiceExt;

/// Longest a single request may take: the backends refuse connections at once.
const DEADLINE: Duration = Duration::from_secs(10);

struct Fixture {
    tokio: tokio::runtime::Runtime,
    router: Router,
    session: String,
}

fn request(body: Vec<u8>, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::post("/mcp")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body)).expect("a valid request")
}

async fn send(router: &Router, request: Request<Body>) -> Option<(Response<()>, Vec<u8>)> {
    let work = async {
        let response = router.clone().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map(|b| b.to_bytes().to_vec());
        (Response::from_parts(parts, ()), bytes.unwrap_or_default())
    };
    tokio::time::timeout(DEADLINE, work).await.ok()
}

/// The routing headers a 2026-07-28 client sends with each request (`Mcp-Method`, and `Mcp-Name`
/// from `params.name` or `params.uri`), taken from the body when it is a JSON object, so the
/// fuzzer gets past header validation into the stateless handler.
fn stateless_headers(body: &[u8]) -> Vec<(&'static str, String)> {
    let Ok(serde_json::Value::Object(message)) = serde_json::from_slice(body) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(method) = message.get("method").and_then(|m| m.as_str()) {
        out.push(("mcp-method", method.to_string()));
    }
    let params = message.get("params");
    let name = params
        .and_then(|p| p.get("name").or_else(|| p.get("uri")))
        .and_then(|n| n.as_str());
    if let Some(name) = name {
        out.push(("mcp-name", name.to_string()));
    }
    out.retain(|(_, v)| axum::http::HeaderValue::from_str(v).is_ok());
    out
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let runtime = Runtime::new();
    let metrics = Arc::new(Metrics::default());
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/gateway");
    watch::reload_once(&runtime, &metrics, &fixtures, None).expect("the fixture gateway loads");
    let router = {
        let _guard = tokio.enter();
        let key = toolyard_gateway::mcp::session::SessionKey::generate().expect("a random session key");
        let sessions = toolyard_gateway::mcp::session::SignedSessions::new(key);
        toolyard_gateway::mcp::http::router(runtime, metrics, 1 << 20, sessions)
    };
    let session = tokio.block_on(async {
        let init = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"0"}}}"#;
        let (response, body) = send(&router, request(init.to_vec(), &[])).await.expect("initialize answers");
        assert_eq!(response.status(), StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let session = response.headers()["mcp-session-id"].to_str().expect("ascii").to_string();
        let initialized = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let headers = [("mcp-session-id", session.as_str()), ("mcp-protocol-version", "2025-06-18")];
        send(&router, request(initialized.to_vec(), &headers)).await.expect("initialized answers");
        session
    });
    Fixture { tokio, router, session }
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let fixture = &*FIXTURE;
    let session = fixture.session.as_str();
    let routing = stateless_headers(body);
    let mut headers: Vec<(&str, &str)> = match mode % 3 {
        0 => vec![],
        1 => vec![("mcp-protocol-version", "2026-07-28")],
        _ => vec![("mcp-session-id", session), ("mcp-protocol-version", "2025-06-18")],
    };
    if mode % 3 == 1 {
        headers.extend(routing.iter().map(|(n, v)| (*n, v.as_str())));
    }
    fixture.tokio.block_on(async {
        let Some((response, answer)) = send(&fixture.router, request(body.to_vec(), &headers)).await
        else {
            let listen = String::from_utf8_lossy(body).contains("subscriptions/listen");
            assert!(listen, "no answer within {DEADLINE:?}");
            return;
        };
        if std::env::var_os("FUZZ_MCP_DEBUG").is_some() {
            eprintln!("{} {}", response.status(), String::from_utf8_lossy(&answer));
        }
        assert_ne!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "500: {}",
            String::from_utf8_lossy(&answer)
        );
        let json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if json && !answer.is_empty() {
            assert!(
                serde_json::from_slice::<serde_json::Value>(&answer).is_ok(),
                "invalid JSON answer: {}",
                String::from_utf8_lossy(&answer)
            );
        }
        // A handshake outside the fixture's session opened a new one: close it again.
        if let Some(new) = response.headers().get("mcp-session-id")
            && new.as_bytes() != session.as_bytes()
        {
            let close = Request::delete("/mcp")
                .header(header::HOST, "localhost")
                .header("mcp-session-id", new.clone())
                .body(Body::empty())
                .expect("a valid request");
            let _ = send(&fixture.router, close).await;
        }
    });
});

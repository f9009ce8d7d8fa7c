//! The HTTP layer in front of rmcp: DNS-rebinding protection (Host and Origin), inbound
//! authentication (the principal is attached to the request's extensions, where rmcp hands it on
//! to tool handlers) and the RFC 9728 metadata, all read from the current snapshot so they
//! hot-reload with the config.
//! rmcp's own fixed Host allow-list is turned off because it cannot change at runtime.

use std::sync::Arc;
use std::time::Duration;

use super::server::GatewayHandler;
use super::session::{self, SignedSessionManager, SignedSessions};
use crate::admin::Metrics;
use crate::auth::metadata::{self, Origin};
use crate::auth::{AuthError, Authenticator};
use crate::runtime::{Runtime, Snapshot};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

/// Shared state of the middleware.
#[derive(Clone)]
struct Guard {
    runtime: Arc<Runtime>,
}

/// The MCP router: `/mcp` (streamable HTTP, every revision on one endpoint). Sessions of the
/// 2025 revisions are signed with `sessions`' key, so any replica sharing it serves them.
pub fn router(
    runtime: Arc<Runtime>,
    metrics: Arc<Metrics>,
    max_request_bytes: usize,
    sessions: Arc<SignedSessions>,
) -> Router {
    let peers = super::server::SessionPeers::default();
    tokio::spawn(super::server::notify_tool_list_changes(
        runtime.clone(),
        peers.clone(),
    ));
    let handler = GatewayHandler::new(runtime.clone(), metrics, peers);
    let mut config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    // Plain JSON for request/response calls (2026-07-28 and other stateless requests); rmcp falls
    // back to SSE by itself when a handler emits notifications before its result.
    config.json_response = true;
    config.sse_keep_alive = Some(Duration::from_secs(15));
    config.max_request_body_bytes = max_request_bytes;
    // The "store" keeps nothing: it decodes the handshake from the signed id (see `session`).
    config.session_store = Some(sessions.clone());
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(SignedSessionManager::default()),
        config,
    );
    let metadata = || async { StatusCode::NOT_FOUND };
    Router::new()
        .nest_service("/mcp", service)
        // Answered by the guard (it has the snapshot); the routes only make the paths exist.
        .route("/.well-known/oauth-protected-resource", get(metadata))
        .route("/.well-known/oauth-protected-resource/mcp", get(metadata))
        // Inside the guard: session ids are checked against the authenticated principal.
        .layer(middleware::from_fn_with_state(sessions, session::layer))
        .layer(middleware::from_fn_with_state(Guard { runtime }, guard))
}

/// Host part of a `Host` header value (without port; IPv6 brackets removed).
fn host_only(value: &str) -> &str {
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    value.rsplit_once(':').map_or(value, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            value
        }
    })
}

/// Loopback names are always accepted: the gateway is reached through them locally, and a
/// rebinding attack needs a non-loopback name.
fn host_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1")
        || allowed.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => host_only(&pattern) == host,
            }
        })
}

fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    // Without a configured list, only loopback origins (local tools such as the Inspector).
    let loopback = [
        "http://localhost",
        "http://127.0.0.1",
        "http://[::1]",
        "https://localhost",
        "https://127.0.0.1",
    ]
    .iter()
    .any(|p| {
        origin == *p
            || origin
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with(':'))
    });
    loopback
        || allowed
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(&origin))
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": message}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The RFC 9728 document (404 when the gateway does not authenticate callers).
fn protected_resource_metadata(snapshot: &Snapshot, origin: &Origin) -> Response {
    if matches!(snapshot.auth, Authenticator::None) {
        return json_error(
            StatusCode::NOT_FOUND,
            "this gateway does not require authorization (inboundAuth: none)",
        );
    }
    let doc = metadata::document(&snapshot.auth, origin, &snapshot.config.gateway.name);
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        doc.to_string(),
    )
        .into_response()
}

/// 401 / 403 / 503 with the RFC 6750 challenge pointing to the RFC 9728 document.
fn auth_failure(error: &AuthError, snapshot: &Snapshot, origin: &Origin) -> Response {
    let (status, message) = match error {
        AuthError::Missing => (
            StatusCode::UNAUTHORIZED,
            "Unauthorized: send an access token as Authorization: Bearer <token>".to_string(),
        ),
        AuthError::InvalidToken(reason) => {
            (StatusCode::UNAUTHORIZED, format!("Unauthorized: {reason}"))
        }
        AuthError::InsufficientScope => (
            StatusCode::FORBIDDEN,
            format!(
                "Forbidden: the token has none of the scopes this gateway requires ({})",
                snapshot.auth.scopes().join(" ")
            ),
        ),
        AuthError::Unavailable(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Service unavailable: {reason}; retry shortly"),
        ),
    };
    tracing::debug!(status = status.as_u16(), reason = %error, "rejected an unauthenticated request");
    let mut response = json_error(status, &message);
    if let Ok(value) =
        header::HeaderValue::from_str(&metadata::challenge(error, &snapshot.auth, origin))
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    }
    response
}

async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let Some(snapshot) = guard.runtime.snapshot() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the gateway has no valid configuration yet",
        );
    };
    let settings = &snapshot.config.gateway;
    let headers: &HeaderMap = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(host_only)
        .or_else(|| request.uri().host())
        .unwrap_or_default()
        .to_string();
    if !host_allowed(&settings.allowed_hosts, &host) {
        tracing::warn!(%host, "rejected a request with a Host that is not allowed (DNS rebinding protection)");
        return json_error(
            StatusCode::FORBIDDEN,
            "Forbidden: Host header is not allowed",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .is_ok_and(|o| origin_allowed(&settings.allowed_origins, o));
        if !ok {
            return json_error(
                StatusCode::FORBIDDEN,
                "Forbidden: Origin header is not allowed",
            );
        }
    }
    let origin = Origin::new(
        headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok()),
        headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(&host),
    );
    if request
        .uri()
        .path()
        .starts_with("/.well-known/oauth-protected-resource")
    {
        return protected_resource_metadata(&snapshot, &origin);
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let authorization = match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v.to_str().map(Some).map_err(|_| ()),
        (Some(_), Some(_)) => Err(()),
    };
    let outcome = match authorization {
        Ok(value) => snapshot.auth.authenticate(value).await,
        Err(()) => Err(AuthError::invalid(
            "send exactly one Authorization header with a bearer token",
        )),
    };
    let principal = match outcome {
        Ok(p) => p,
        Err(e) => return auth_failure(&e, &snapshot, &origin),
    };
    let mut request = request;
    request.extensions_mut().insert(principal);
    drop(snapshot);
    // Outside the session layer, so a session's page is filled in after it became plain JSON;
    // here rather than as a layer of its own, which would cost every call another boxed future.
    super::list_page::run(request, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let allowed = vec![
            "orders.agents.svc.cluster.local".to_string(),
            "*.example.com".to_string(),
        ];
        assert!(host_allowed(&allowed, "localhost"));
        assert!(host_allowed(&allowed, "127.0.0.1"));
        assert!(host_allowed(&allowed, "orders.agents.svc.cluster.local"));
        assert!(host_allowed(&allowed, "gw.example.com"));
        assert!(!host_allowed(&allowed, "example.com.evil.io"));
        assert!(!host_allowed(&allowed, "evil.io"));
        assert_eq!(host_only("localhost:8080"), "localhost");
        assert_eq!(host_only("[::1]:80"), "::1");
    }

    #[test]
    fn origins() {
        assert!(origin_allowed(&[], "http://localhost:6274"));
        assert!(!origin_allowed(&[], "http://evil.io"));
        assert!(!origin_allowed(&[], "http://localhost.evil.io"));
        assert!(origin_allowed(
            &["https://app.example.com".into()],
            "https://app.example.com"
        ));
    }
}

//! Sessions any replica can serve, without a shared store (MCP revisions before 2026-07-28).
//!
//! rmcp keeps a session as an in-memory worker. To let every replica of a Gateway serve every
//! session, the `Mcp-Session-Id` the client receives is a self-contained token signed with
//! HMAC-SHA256 under a key all replicas share:
//!
//! `base64url(JSON {n, v, c, i, p, t}) "." base64url(HMAC-SHA256(key, payload))`
//!
//! - `n`: the id of the in-memory worker (a random nonce, the same on every replica);
//! - `v`, `c`, `i`: what the client sent in `initialize` (protocol version, capabilities, name and
//!   version), so a replica that never saw the handshake can replay it;
//! - `p`: a fingerprint of the authenticated principal: a token of another principal cannot use
//!   the session;
//! - `t`: when it was issued (sessions end after [`MAX_SESSION_AGE`]).
//!
//! How it plugs into rmcp: [`SignedSessions`] is rmcp's `SessionStore` (it "stores" nothing: on
//! `load` it verifies the id and decodes the handshake from it, so rmcp re-creates the worker and
//! replays `initialize` on a replica that has no worker for it), [`SignedSessionManager`] wraps
//! rmcp's `LocalSessionManager` and keys workers by the nonce, and [`layer`] (an axum middleware
//! behind the authentication guard) seals the id of a new session and checks the id of every
//! other request: a forged, expired, closed or foreign id gets 404, which tells clients to
//! initialize again.
//!
//! Limits, by design: a DELETE ends the session on the replica that receives it (it remembers the
//! id until it would expire anyway); another replica cannot know, so it would serve the id again.
//! Server-to-client requests (sampling, elicitation) and GET streams live on the replica that
//! holds the stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use futures::Stream;
use ring::hmac;
use rmcp::model::{
    ClientCapabilities, ClientJsonRpcMessage, Implementation, InitializeRequestParams,
    ProtocolVersion, ServerJsonRpcMessage,
};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager, SessionState, SessionStore,
    SessionStoreError,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::{Principal, PrincipalKind};

/// The header that carries the session id.
const SESSION_HEADER: &str = "mcp-session-id";

/// How long a session id stays valid after it was issued. A client past it gets 404 and
/// initializes again (the spec's way to end a session).
pub const MAX_SESSION_AGE: Duration = Duration::from_secs(24 * 3600);

/// The shortest key accepted (the HMAC-SHA256 block is 64 bytes; 32 random bytes is the floor).
pub const MIN_KEY_BYTES: usize = 32;

/// Client capabilities larger than this are not carried in the id (their `experimental` part is
/// dropped), so ids stay a few hundred bytes.
const MAX_CAPABILITIES_BYTES: usize = 1024;

/// Handshakes waiting for their id to be sealed above which stale ones (requests dropped before
/// their response) are forgotten.
const MAX_PENDING: usize = 1024;

/// The cap on remembered DELETEd ids per replica (oldest forgotten first).
const MAX_CLOSED: usize = 100_000;

/// Why a session key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    /// The key file could not be read.
    #[error(
        "cannot read the session key file {path}: {source}; mount the Gateway's session-key Secret there or unset --session-key-file"
    )]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key is too short to be a secret.
    #[error(
        "the session key from {from} has {len} bytes; it needs at least {MIN_KEY_BYTES} random bytes (for example `head -c 32 /dev/urandom | base64`)"
    )]
    TooShort {
        /// Where it came from.
        from: String,
        /// Its length.
        len: usize,
    },
    /// No randomness for a generated key.
    #[error("cannot generate a random session key: the system random source failed")]
    Random,
}

/// The HMAC key every replica of a Gateway shares.
#[derive(Clone)]
pub struct SessionKey(hmac::Key);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

impl SessionKey {
    /// A key from secret bytes (at least [`MIN_KEY_BYTES`]; surrounding whitespace, such as the
    /// newline of a file, is not part of it).
    pub fn from_bytes(bytes: &[u8], from: &str) -> Result<Self, SessionKeyError> {
        let bytes = bytes.trim_ascii();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(SessionKeyError::TooShort {
                from: from.to_string(),
                len: bytes.len(),
            });
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }

    /// The key in a file (the mounted Secret).
    pub fn from_file(path: &std::path::Path) -> Result<Self, SessionKeyError> {
        let bytes = std::fs::read(path).map_err(|source| SessionKeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// A key for another purpose derived from this one (HMAC of `purpose`), so one shared
    /// Secret serves every signature the replicas must agree on without reusing the key itself.
    pub fn derive(&self, purpose: &[u8]) -> Vec<u8> {
        hmac::sign(&self.0, purpose).as_ref().to_vec()
    }

    /// A random key: sessions are then valid on this process only.
    pub fn generate() -> Result<Self, SessionKeyError> {
        let rng = ring::rand::SystemRandom::new();
        hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map(Self)
            .map_err(|_| SessionKeyError::Random)
    }
}

/// What a session id carries (short field names: it travels in every request).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Payload {
    /// The worker id (random, URL-safe).
    n: String,
    /// The protocol version the client asked for in `initialize`.
    v: ProtocolVersion,
    /// The client's capabilities.
    #[serde(default)]
    c: ClientCapabilities,
    /// The client's name and version.
    i: (String, String),
    /// The principal's fingerprint.
    p: String,
    /// Issued at (Unix seconds).
    t: u64,
}

/// The part of a [`Payload`] every request needs: whose it is and when it was issued. Checking an
/// id decodes only this (the client's capabilities, the costly part, are decoded only when a
/// replica replays the handshake).
#[derive(Debug, Deserialize)]
struct Stamp {
    /// The principal's fingerprint.
    p: String,
    /// Issued at (Unix seconds).
    t: u64,
}

/// The worker id of a [`Payload`], decoded alone (rmcp asks for it several times per request).
#[derive(Debug, Deserialize)]
struct Worker {
    n: String,
}

/// A decoded payload part that knows when its id was issued.
trait Issued: serde::de::DeserializeOwned {
    fn issued(&self) -> u64;
}

impl Issued for Payload {
    fn issued(&self) -> u64 {
        self.t
    }
}

impl Issued for Stamp {
    fn issued(&self) -> u64 {
        self.t
    }
}

/// Why a presented session id is refused (the text goes to the client with the 404).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SessionError {
    /// Not a token of this gateway (malformed or a bad signature).
    #[error("the session id is not one this gateway issued; initialize a new session")]
    Invalid,
    /// Issued too long ago.
    #[error("the session expired; initialize a new session")]
    Expired,
    /// Ended by a DELETE.
    #[error("the session was closed; initialize a new session")]
    Closed,
    /// Issued to another principal.
    #[error("the session belongs to another caller; initialize a new session")]
    OtherPrincipal,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A stable fingerprint of who the caller is (kind, issuer, subject, client), never a token.
pub fn principal_fingerprint(principal: Option<&Principal>) -> String {
    let mut hasher = Sha256::new();
    match principal {
        None => hasher.update(b"none"),
        Some(p) => {
            match &p.kind {
                PrincipalKind::Anonymous => hasher.update(b"anonymous"),
                PrincipalKind::Jwt => hasher.update(b"jwt"),
                PrincipalKind::ServiceAccount {
                    namespace, name, ..
                } => {
                    hasher.update(b"sa\0");
                    hasher.update(namespace.as_bytes());
                    hasher.update(b"\0");
                    hasher.update(name.as_bytes());
                }
            }
            for part in [
                p.claims.get("iss").and_then(|v| v.as_str()),
                p.subject.as_deref(),
                p.client.as_deref(),
            ] {
                hasher.update(b"\0");
                hasher.update(part.unwrap_or_default().as_bytes());
            }
        }
    }
    hex::encode(&hasher.finalize()[..16])
}

/// A random worker id.
fn nonce() -> String {
    let mut bytes = [0u8; 18];
    let rng = ring::rand::SystemRandom::new();
    if ring::rand::SecureRandom::fill(&rng, &mut bytes).is_err() {
        // Unreachable in practice; a UUID is still unguessable enough for a worker id (the
        // signature, not the nonce, protects the session).
        return uuid::Uuid::new_v4().simple().to_string();
    }
    B64.encode(bytes)
}

/// Issues and checks signed session ids; rmcp's `SessionStore` (see the module docs).
pub struct SignedSessions {
    key: SessionKey,
    /// Handshakes of sessions created on this replica, from rmcp's `store` call to the layer that
    /// seals the id in the same request.
    pending: Mutex<HashMap<String, (InitializeRequestParams, u64)>>,
    /// Ids ended by a DELETE on this replica, with when they expire anyway.
    closed: Mutex<HashMap<String, u64>>,
}

impl SignedSessions {
    /// Sessions signed with `key`.
    pub fn new(key: SessionKey) -> Arc<Self> {
        Arc::new(Self {
            key,
            pending: Mutex::new(HashMap::new()),
            closed: Mutex::new(HashMap::new()),
        })
    }

    fn sign(&self, payload: &Payload) -> String {
        self.sign_json(&serde_json::to_vec(payload).unwrap_or_default())
    }

    /// The id carrying `json` (a serialised [`Payload`]).
    fn sign_json(&self, json: &[u8]) -> String {
        let body = B64.encode(json);
        let tag = hmac::sign(&self.key.0, body.as_bytes());
        format!("{body}.{}", B64.encode(tag.as_ref()))
    }

    /// The signed id of a new session.
    fn seal(&self, worker: &str, init: &InitializeRequestParams, principal: &str) -> String {
        let mut capabilities = init.capabilities.clone();
        if serde_json::to_vec(&capabilities).map_or(0, |v| v.len()) > MAX_CAPABILITIES_BYTES {
            capabilities.experimental = None;
        }
        let clip = |s: &str| s.chars().take(64).collect::<String>();
        self.sign(&Payload {
            n: worker.to_string(),
            v: init.protocol_version.clone(),
            c: capabilities,
            i: (
                clip(&init.client_info.name),
                clip(&init.client_info.version),
            ),
            p: principal.to_string(),
            t: now_secs(),
        })
    }

    /// Verifies an id's signature and age (not the principal), decoding the part `T` of it.
    fn open<T: Issued>(&self, id: &str) -> Result<T, SessionError> {
        let (body, tag) = id.split_once('.').ok_or(SessionError::Invalid)?;
        let tag = B64.decode(tag).map_err(|_| SessionError::Invalid)?;
        hmac::verify(&self.key.0, body.as_bytes(), &tag).map_err(|_| SessionError::Invalid)?;
        let json = B64.decode(body).map_err(|_| SessionError::Invalid)?;
        let payload: T = serde_json::from_slice(&json).map_err(|_| SessionError::Invalid)?;
        if now_secs().saturating_sub(payload.issued()) > MAX_SESSION_AGE.as_secs() {
            return Err(SessionError::Expired);
        }
        if self
            .closed
            .lock()
            .map(|c| c.contains_key(id))
            .unwrap_or(false)
        {
            return Err(SessionError::Closed);
        }
        Ok(payload)
    }

    /// Checks an id presented by `principal` (its fingerprint).
    pub fn check(&self, id: &str, principal: &str) -> Result<(), SessionError> {
        let stamp: Stamp = self.open(id)?;
        if stamp.p != principal {
            return Err(SessionError::OtherPrincipal);
        }
        Ok(())
    }

    /// Remembers a DELETEd id until it would expire anyway (bounded).
    fn close(&self, id: &str) {
        let Ok(stamp) = self.open::<Stamp>(id) else {
            return;
        };
        if let Ok(mut closed) = self.closed.lock() {
            let now = now_secs();
            if closed.len() >= MAX_CLOSED {
                closed.retain(|_, expires| *expires > now);
            }
            if closed.len() >= MAX_CLOSED
                && let Some(oldest) = closed
                    .iter()
                    .min_by_key(|(_, expires)| **expires)
                    .map(|(k, _)| k.clone())
            {
                closed.remove(&oldest);
            }
            closed.insert(id.to_string(), stamp.t + MAX_SESSION_AGE.as_secs());
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for SignedSessions {
    /// Decodes the handshake from a valid id (a replica without a worker for it replays it).
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let Ok(payload) = self.open::<Payload>(session_id) else {
            return Ok(None);
        };
        let mut init =
            InitializeRequestParams::new(payload.c, Implementation::new(payload.i.0, payload.i.1));
        init.protocol_version = payload.v;
        Ok(Some(SessionState::new(init)))
    }

    /// Called by rmcp after a handshake on this replica, with the worker id: kept until the layer
    /// seals the id (same request).
    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        if let Ok(mut pending) = self.pending.lock() {
            // An entry stays only if its request was dropped before the layer saw the response.
            if pending.len() >= MAX_PENDING {
                let now = now_secs();
                pending.retain(|_, (_, at)| now.saturating_sub(*at) < 60);
            }
            pending.insert(
                session_id.to_string(),
                (state.initialize_params.clone(), now_secs()),
            );
        }
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        self.close(session_id);
        Ok(())
    }
}

/// The worker id inside a session id (the id itself when it is a bare worker id). Signatures are
/// checked by [`layer`] before rmcp sees an id.
fn worker_id(id: &SessionId) -> SessionId {
    id.split_once('.')
        .and_then(|(body, _)| B64.decode(body).ok())
        .and_then(|json| serde_json::from_slice::<Worker>(&json).ok())
        .map_or_else(|| id.clone(), |p| SessionId::from(p.n))
}

/// A stream of the inner manager, no longer tied to the borrowed worker id.
fn boxed(
    stream: impl Stream<Item = ServerSseMessage> + Send + Sync + 'static,
) -> std::pin::Pin<Box<dyn Stream<Item = ServerSseMessage> + Send + Sync>> {
    Box::pin(stream)
}

/// rmcp's `LocalSessionManager`, with workers keyed by the nonce inside the signed id and created
/// with random nonces.
#[derive(Default)]
pub struct SignedSessionManager {
    inner: LocalSessionManager,
}

impl SessionManager for SignedSessionManager {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        loop {
            let id = SessionId::from(nonce());
            match self.inner.restore_session(id.clone()).await? {
                RestoreOutcome::Restored(transport) => return Ok((id, transport)),
                // A collision of 144 random bits: draw again.
                _ => continue,
            }
        }
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.inner.initialize_session(&worker_id(id), message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(&worker_id(id)).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.inner.close_session(&worker_id(id)).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let worker = worker_id(id);
        let stream = self.inner.create_stream(&worker, message).await?;
        Ok(boxed(stream))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(&worker_id(id), message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let worker = worker_id(id);
        let stream = self.inner.create_standalone_stream(&worker).await?;
        Ok(boxed(stream))
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let worker = worker_id(id);
        let stream = self.inner.resume(&worker, last_event_id).await?;
        Ok(boxed(stream))
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.inner.restore_session(worker_id(&id)).await
    }
}

fn not_found(error: &SessionError) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32001, "message": format!("Session not found: {error}")},
    });
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The answer to a session DELETE that succeeded. rmcp answers 202 Accepted, but the streamable
/// HTTP transport has a DELETE end the session there and then, and clients check for 200 (the
/// official Python SDK logs "Session termination failed: 202" otherwise); 202 is for accepted
/// notifications and responses. Any other status (404 for an unknown id, 405) is left alone.
fn session_deleted(mut response: Response) -> Response {
    if response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    response
}

/// The axum middleware (behind the authentication guard, which attaches the principal): checks
/// the session id of every request that carries one, replaces the worker id of a new session
/// by its signed id, answers a successful session DELETE with 200, and answers a session request
/// with one JSON object when nothing has to stream ([`super::json_reply`]).
pub async fn layer(
    State(sessions): State<Arc<SignedSessions>>,
    request: Request,
    next: Next,
) -> Response {
    let principal = principal_fingerprint(request.extensions().get::<Principal>());
    if let Some(id) = request.headers().get(SESSION_HEADER) {
        let checked = id
            .to_str()
            .map_err(|_| SessionError::Invalid)
            .and_then(|id| sessions.check(id, &principal));
        if let Err(e) = checked {
            tracing::debug!(reason = %e, "refused a session id");
            return not_found(&e);
        }
        if request.method() == axum::http::Method::DELETE {
            return session_deleted(next.run(request).await);
        }
        // A request of a session whose answer is its response alone goes back as plain JSON.
        if request.method() == axum::http::Method::POST
            && super::json_reply::accepts_json(request.headers())
        {
            return super::json_reply::single_json(next.run(request).await).await;
        }
        return next.run(request).await;
    }
    let mut response = next.run(request).await;
    let Some(worker) = response
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return response;
    };
    let init = sessions
        .pending
        .lock()
        .ok()
        .and_then(|mut p| p.remove(&worker))
        .map(|(init, _)| init);
    match init {
        Some(init) => {
            let sealed = sessions.seal(&worker, &init, &principal);
            match HeaderValue::from_str(&sealed) {
                Ok(value) => {
                    response.headers_mut().insert(SESSION_HEADER, value);
                }
                Err(_) => {
                    response.headers_mut().remove(SESSION_HEADER);
                }
            }
        }
        None => {
            tracing::warn!("a new session had no recorded handshake; its id is not signed");
            response.headers_mut().remove(SESSION_HEADER);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Arc<SignedSessions> {
        SignedSessions::new(SessionKey::from_bytes(&[7u8; 32], "test").unwrap())
    }

    fn init() -> InitializeRequestParams {
        let mut p = InitializeRequestParams::new(
            ClientCapabilities::default(),
            Implementation::new("client", "1.0"),
        );
        p.protocol_version = ProtocolVersion::V_2025_06_18;
        p
    }

    #[test]
    fn short_keys_are_refused() {
        let e = SessionKey::from_bytes(b"short\n", "env TOOLYARD_SESSION_KEY").unwrap_err();
        assert!(e.to_string().contains("at least 32"), "{e}");
        assert!(SessionKey::from_bytes(&[1u8; 40], "x").is_ok());
    }

    #[tokio::test]
    async fn a_sealed_id_restores_its_handshake_on_another_replica() {
        let a = sessions();
        let b = sessions(); // same key, no shared state
        let id = a.seal("worker-1", &init(), "alice");
        assert!(id.bytes().all(|c| (0x21..=0x7e).contains(&c)));
        b.check(&id, "alice").unwrap();
        let state = b.load(&id).await.unwrap().unwrap();
        assert_eq!(
            state.initialize_params.protocol_version,
            ProtocolVersion::V_2025_06_18
        );
        assert_eq!(state.initialize_params.client_info.name, "client");
        assert_eq!(worker_id(&SessionId::from(id)).as_ref(), "worker-1");
    }

    #[tokio::test]
    async fn forged_foreign_and_closed_ids_are_refused() {
        let a = sessions();
        let id = a.seal("w", &init(), "alice");
        assert_eq!(a.check(&id, "bob"), Err(SessionError::OtherPrincipal));
        let other = SignedSessions::new(SessionKey::from_bytes(&[8u8; 32], "t").unwrap());
        assert_eq!(other.check(&id, "alice"), Err(SessionError::Invalid));
        assert!(other.load(&id).await.unwrap().is_none());
        // Tampering with the payload breaks the signature.
        let (body, tag) = id.split_once('.').unwrap();
        let mut payload: Payload = serde_json::from_slice(&B64.decode(body).unwrap()).unwrap();
        payload.p = "bob".into();
        let forged = format!(
            "{}.{tag}",
            B64.encode(serde_json::to_vec(&payload).unwrap())
        );
        assert_eq!(a.check(&forged, "bob"), Err(SessionError::Invalid));
        assert_eq!(a.check("garbage", "alice"), Err(SessionError::Invalid));
        a.delete(&id).await.unwrap();
        assert_eq!(a.check(&id, "alice"), Err(SessionError::Closed));
    }

    /// The layer in front of a stand-in for rmcp (which answers a session DELETE with 202).
    async fn delete_through_layer(id: &str, inner: StatusCode) -> StatusCode {
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route("/mcp", axum::routing::delete(move || async move { inner }))
            .layer(axum::middleware::from_fn_with_state(sessions(), layer));
        let request = axum::http::Request::builder()
            .method(axum::http::Method::DELETE)
            .uri("/mcp")
            .header(SESSION_HEADER, id)
            .body(axum::body::Body::empty())
            .unwrap();
        app.oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn session_delete_answers_200_not_202() {
        let id = sessions().seal("w", &init(), &principal_fingerprint(None));
        assert_eq!(
            delete_through_layer(&id, StatusCode::ACCEPTED).await,
            StatusCode::OK
        );
        // Refusals keep their status.
        assert_eq!(
            delete_through_layer(&id, StatusCode::METHOD_NOT_ALLOWED).await,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            delete_through_layer("forged", StatusCode::ACCEPTED).await,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn old_ids_expire() {
        let a = sessions();
        let payload = Payload {
            n: "w".into(),
            v: ProtocolVersion::V_2025_03_26,
            c: ClientCapabilities::default(),
            i: ("c".into(), "1".into()),
            p: "alice".into(),
            t: now_secs() - MAX_SESSION_AGE.as_secs() - 10,
        };
        assert_eq!(
            a.check(&a.sign(&payload), "alice"),
            Err(SessionError::Expired)
        );
    }

    /// A handshake with every kind of client capability.
    fn rich_init() -> InitializeRequestParams {
        let mut p = init();
        p.capabilities = serde_json::from_value(serde_json::json!({
            "roots": {"listChanged": true},
            "sampling": {},
            "elicitation": {"form": {}, "url": {}},
            "experimental": {"x-feature": {"level": 3, "names": ["a", "b"]}},
        }))
        .unwrap();
        p
    }

    #[tokio::test]
    async fn the_light_checks_agree_with_the_whole_payload() {
        let a = sessions();
        let init = rich_init();
        let id = a.seal("worker-7", &init, "alice");
        let whole: Payload = a.open(&id).unwrap();
        let stamp: Stamp = a.open(&id).unwrap();
        assert_eq!((stamp.p.as_str(), stamp.t), (whole.p.as_str(), whole.t));
        assert_eq!(worker_id(&SessionId::from(id.clone())).as_ref(), "worker-7");
        a.check(&id, "alice").unwrap();
        // The handshake a replica replays is still whole.
        let state = a.load(&id).await.unwrap().unwrap();
        assert_eq!(state.initialize_params.capabilities, init.capabilities);
    }

    #[test]
    fn signed_ids_without_a_principal_or_a_time_are_refused() {
        let a = sessions();
        let now = now_secs();
        for json in [
            serde_json::json!({"n": "w", "t": now}),
            serde_json::json!({"n": "w", "p": "alice"}),
            serde_json::json!({"n": "w", "p": "alice", "t": "yesterday"}),
            serde_json::json!({"n": "w", "p": 7, "t": now}),
            serde_json::json!(["w", "alice", now]),
        ] {
            let id = a.sign_json(json.to_string().as_bytes());
            assert_eq!(a.check(&id, "alice"), Err(SessionError::Invalid), "{json}");
        }
        let id = a.sign_json(b"not json");
        assert_eq!(a.check(&id, "alice"), Err(SessionError::Invalid));
        // Fields this replica does not know (a newer replica's id) do not matter.
        let id = a.sign_json(
            serde_json::json!({"n": "w", "p": "alice", "t": now, "z": {"new": true}})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(a.check(&id, "alice"), Ok(()));
        let old = a.sign_json(
            serde_json::json!({"n": "w", "p": "alice", "t": now - MAX_SESSION_AGE.as_secs() - 1})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(a.check(&old, "alice"), Err(SessionError::Expired));
    }

    #[test]
    fn worker_ids_of_bare_and_broken_ids_are_the_ids_themselves() {
        let a = sessions();
        for id in [
            "bare-worker".to_string(),
            "garbage.tag".to_string(),
            "!!!.???".to_string(),
            a.sign_json(br#"{"p":"alice","t":1}"#),
        ] {
            assert_eq!(worker_id(&SessionId::from(id.clone())).as_ref(), id);
        }
    }

    #[tokio::test]
    async fn closing_a_bad_id_remembers_nothing() {
        let a = sessions();
        a.delete("garbage").await.unwrap();
        a.delete("garbage.tag").await.unwrap();
        assert!(a.closed.lock().unwrap().is_empty());
        let id = a.seal("w", &init(), "alice");
        a.delete(&id).await.unwrap();
        let expires = a.closed.lock().unwrap().get(&id).copied();
        let stamp: Stamp = SignedSessions::new(SessionKey::from_bytes(&[7u8; 32], "t").unwrap())
            .open(&id)
            .unwrap();
        assert_eq!(expires, Some(stamp.t + MAX_SESSION_AGE.as_secs()));
    }

    #[test]
    fn fingerprints_separate_principals() {
        let mut alice = Principal::anonymous();
        alice.kind = PrincipalKind::Jwt;
        alice.subject = Some("alice".into());
        let mut bob = alice.clone();
        bob.subject = Some("bob".into());
        assert_ne!(
            principal_fingerprint(Some(&alice)),
            principal_fingerprint(Some(&bob))
        );
        assert_eq!(
            principal_fingerprint(Some(&alice)),
            principal_fingerprint(Some(&alice.clone()))
        );
    }
}

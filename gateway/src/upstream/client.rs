//! The gateway as an MCP client of one upstream: the rmcp `ClientHandler` (list-changed
//! notifications wake the manager; progress notifications are forwarded to the downstream caller
//! whose call they belong to) and the connection setup over streamable HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, NumberOrString, ProgressNotificationParam,
    ProgressToken,
};
use rmcp::service::{NotificationContext, Peer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, RoleServer, ServiceExt};
use toolyard_crds::target::McpTransport;

use super::{UpstreamError, UpstreamHandle};
use crate::runtime::snapshot::ResolvedCredentials;

/// Where progress of an in-flight upstream call goes: the token of the upstream request →
/// (the downstream session's peer, the downstream caller's own token).
#[derive(Default)]
pub struct ProgressRoutes {
    routes: Mutex<HashMap<String, (Peer<RoleServer>, ProgressToken)>>,
}

/// Removes a progress route when the call ends (also on cancellation or timeout).
pub struct ProgressGuard<'a> {
    routes: &'a ProgressRoutes,
    key: String,
}

impl Drop for ProgressGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.routes.routes.lock() {
            r.remove(&self.key);
        }
    }
}

impl ProgressRoutes {
    /// Routes progress reported under `upstream` (the token rmcp put on the request) to the
    /// downstream caller's token until the guard drops.
    pub fn register_as(
        &self,
        upstream: &ProgressToken,
        peer: Peer<RoleServer>,
        downstream: ProgressToken,
    ) -> ProgressGuard<'_> {
        let key = token_key(upstream);
        if let Ok(mut r) = self.routes.lock() {
            r.insert(key.clone(), (peer, downstream));
        }
        ProgressGuard { routes: self, key }
    }

    fn route(&self, token: &ProgressToken) -> Option<(Peer<RoleServer>, ProgressToken)> {
        self.routes.lock().ok()?.get(&token_key(token)).cloned()
    }
}

fn token_key(token: &ProgressToken) -> String {
    match &token.0 {
        NumberOrString::String(s) => format!("s:{s}"),
        NumberOrString::Number(n) => format!("n:{n}"),
    }
}

/// The client side of one upstream session.
#[derive(Clone)]
pub struct UpstreamClient {
    handle: Weak<UpstreamHandle>,
}

impl ClientHandler for UpstreamClient {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("toolyard-gateway", env!("CARGO_PKG_VERSION")),
        );
        info.client_info.title = Some("Toolyard MCP gateway".into());
        info
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(h) = self.handle.upgrade() {
            h.poke();
        }
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(h) = self.handle.upgrade() {
            h.poke();
        }
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(h) = self.handle.upgrade() {
            h.poke();
        }
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let Some(h) = self.handle.upgrade() else {
            return;
        };
        if let Some((peer, token)) = h.progress.route(&params.progress_token) {
            let mut forwarded = params;
            forwarded.progress_token = token;
            let _ = peer.notify_progress(forwarded).await;
        }
    }
}

/// Opens a session with the upstream (the `initialize` handshake), within the target's timeout
/// (at most 10 s). The caller's credentials are never involved: only the target's own.
pub async fn connect(
    handle: &Arc<UpstreamHandle>,
) -> Result<RunningService<RoleClient, UpstreamClient>, UpstreamError> {
    if handle.transport != McpTransport::StreamableHttp {
        return Err(UpstreamError::Transport {
            target: handle.target.clone(),
            transport: handle.transport,
        });
    }
    let mut url = handle.url.clone();
    let mut headers = reqwest13::header::HeaderMap::new();
    match &handle.credentials {
        None => {}
        Some(ResolvedCredentials::ApiKey {
            in_header: true,
            name,
            value,
        }) => {
            let name = reqwest13::header::HeaderName::from_bytes(name.as_bytes()).map_err(|e| {
                UpstreamError::Client {
                    target: handle.target.clone(),
                    message: format!("credentials header name: {e}"),
                }
            })?;
            let mut value = reqwest13::header::HeaderValue::from_str(&value.0).map_err(|_| {
                UpstreamError::Client {
                    target: handle.target.clone(),
                    message: "the API key is not a valid header value".into(),
                }
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Some(ResolvedCredentials::ApiKey {
            in_header: false,
            name,
            value,
        }) => {
            let encode = |s: &str| {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}{}={}", encode(name), encode(&value.0));
        }
        Some(ResolvedCredentials::Unsupported(message)) => {
            // OAuth2 hook: the `auth` branch resolves a token provider here and sets the
            // Authorization header from a cached, refreshed access token.
            return Err(UpstreamError::Client {
                target: handle.target.clone(),
                message: message.clone(),
            });
        }
    }
    let connect_timeout = handle.timeout.min(std::time::Duration::from_secs(10));
    // reqwest 0.13 is built without a bundled crypto provider: use the process-wide one, ring
    // (the same the in-cluster client uses); installing twice is a harmless no-op error.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest13::Client::builder()
        .connect_timeout(connect_timeout)
        .default_headers(headers)
        .redirect(reqwest13::redirect::Policy::none())
        .user_agent(concat!("toolyard-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| UpstreamError::Client {
            target: handle.target.clone(),
            message: e.to_string(),
        })?;
    let config = StreamableHttpClientTransportConfig::with_uri(url)
        .reinit_on_expired_session(true)
        .control_request_timeout(handle.timeout);
    let transport = StreamableHttpClientTransport::with_client(client, config);
    let service = UpstreamClient {
        handle: Arc::downgrade(handle),
    };
    let connect_error = |message: String| UpstreamError::Connect {
        target: handle.target.clone(),
        url: handle.url.clone(),
        message,
    };
    match tokio::time::timeout(connect_timeout, service.serve(transport)).await {
        Ok(Ok(running)) => Ok(running),
        Ok(Err(e)) => Err(connect_error(e.to_string())),
        Err(_) => Err(connect_error(format!(
            "no answer to initialize within {} ms",
            connect_timeout.as_millis()
        ))),
    }
}

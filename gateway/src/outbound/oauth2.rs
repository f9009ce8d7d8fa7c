//! OAuth 2.0 client credentials (RFC 6749 §4.4) for one target: the token endpoint from
//! `tokenUrl` or discovery (OIDC or RFC 8414 metadata), `client_secret_basic` or
//! `client_secret_post`, scopes, `audience`, the RFC 8707 `resource` and custom parameters.
//!
//! The token is cached and refreshed before it expires; concurrent calls share one in-flight
//! token request. After a backend answers 401, [`TokenSource::refresh_after_rejection`] gets a new
//! token once (unless another call already did). Neither the client secret nor a token ever
//! appears in an error or a log line: errors carry the endpoint and the provider's `error` code.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toolyard_crds::target::ClientAuthMethod;

use toolyard_compile::manifests::SecretValue;

/// Time limit of one token or discovery request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest token response read.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// Lifetime assumed when the provider sends no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// A token is renewed when less than this share of its lifetime is left (at most
/// [`MAX_EARLY_REFRESH`] before expiry), so calls never go out with an almost-expired token.
const EARLY_REFRESH_FRACTION: f64 = 0.2;
/// Upper bound of the early renewal.
const MAX_EARLY_REFRESH: Duration = Duration::from_secs(60);

/// The settings of one token source, with the secret values resolved.
#[derive(Clone)]
pub struct OAuth2Settings {
    /// The token endpoint, if configured directly.
    pub token_url: Option<String>,
    /// The discovery URL, if the endpoint is discovered.
    pub discovery_url: Option<String>,
    /// The client id.
    pub client_id: SecretValue,
    /// The client secret.
    pub client_secret: SecretValue,
    /// How the client authenticates.
    pub auth_method: ClientAuthMethod,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// `audience`.
    pub audience: Option<String>,
    /// `resource` (RFC 8707).
    pub resource: Option<String>,
    /// Extra form parameters.
    pub custom_parameters: BTreeMap<String, String>,
}

impl OAuth2Settings {
    /// A fingerprint of every setting (secrets hashed), to reuse the token cache across reloads
    /// only while nothing changed.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let parts = [
            self.token_url.as_deref().unwrap_or_default(),
            self.discovery_url.as_deref().unwrap_or_default(),
            &self.client_id.0,
            &self.client_secret.0,
            match self.auth_method {
                ClientAuthMethod::ClientSecretBasic => "basic",
                ClientAuthMethod::ClientSecretPost => "post",
            },
            &self.scopes.join(" "),
            self.audience.as_deref().unwrap_or_default(),
            self.resource.as_deref().unwrap_or_default(),
        ];
        for p in parts {
            h.update(p.as_bytes());
            h.update([0]);
        }
        for (k, v) in &self.custom_parameters {
            h.update(k.as_bytes());
            h.update([1]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }
}

/// Why no token could be obtained. Messages name the endpoint and the provider's error code
/// only.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    /// The token or discovery request failed on the network.
    #[error("the request to {url} failed: {message}")]
    Request {
        /// The endpoint.
        url: String,
        /// Why.
        message: String,
    },
    /// The token endpoint refused.
    #[error(
        "{url} answered HTTP {status}{detail}; check the client id, secret, scopes and audience of the target's oauth2 credentials"
    )]
    Refused {
        /// The endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// `: <error> (<error_description>)` from the provider, if any.
        detail: String,
    },
    /// The response is not a usable token response or discovery document.
    #[error("{url}: {message}")]
    Invalid {
        /// The endpoint.
        url: String,
        /// What is wrong.
        message: String,
    },
}

/// A cached access token.
#[derive(Clone)]
struct Cached {
    token: SecretValue,
    refresh_at: Instant,
    expires_at: Instant,
}

/// One target's token source.
pub struct TokenSource {
    settings: OAuth2Settings,
    fingerprint: String,
    http: reqwest::Client,
    cached: std::sync::Mutex<Option<Cached>>,
    /// The discovered token endpoint.
    endpoint: std::sync::Mutex<Option<String>>,
    /// Single flight for token requests.
    inflight: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.settings.token_url)
            .field("discovery_url", &self.settings.discovery_url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct EndpointMetadata {
    token_endpoint: String,
}

impl TokenSource {
    /// A token source (nothing is requested until the first call).
    pub fn new(settings: OAuth2Settings) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("toolyard-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            fingerprint: settings.fingerprint(),
            endpoint: std::sync::Mutex::new(settings.token_url.clone()),
            settings,
            http,
            cached: std::sync::Mutex::new(None),
            inflight: tokio::sync::Mutex::new(()),
        }
    }

    /// The settings fingerprint (reuse key).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The cached token, fresh or not (to redact it from error texts).
    pub fn cached_token(&self) -> Option<SecretValue> {
        Some(self.cached.lock().ok()?.as_ref()?.token.clone())
    }

    fn fresh(&self) -> Option<SecretValue> {
        let cached = self.cached.lock().ok()?.clone()?;
        (Instant::now() < cached.refresh_at).then_some(cached.token)
    }

    /// A token for the next call: the cached one while it is fresh, else a new one (one request
    /// for all concurrent callers).
    pub async fn token(&self) -> Result<SecretValue, OAuthError> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        // Boxed: fetching is a token request (kilobytes of future) that every call would
        // otherwise carry and move, though it runs once per token lifetime.
        Box::pin(self.fetch_once()).await
    }

    /// A new token, unless a concurrent caller got one while this one waited for the lock.
    async fn fetch_once(&self) -> Result<SecretValue, OAuthError> {
        let _flight = self.inflight.lock().await;
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        self.fetch().await
    }

    /// After the backend rejected `rejected` with 401: a new token, unless the cache already
    /// holds a different one (another call refreshed meanwhile).
    pub async fn refresh_after_rejection(&self, rejected: &str) -> Result<SecretValue, OAuthError> {
        Box::pin(self.refresh_unless_replaced(rejected)).await
    }

    /// [`Self::refresh_after_rejection`], boxed by it for the same reason as in [`Self::token`].
    async fn refresh_unless_replaced(&self, rejected: &str) -> Result<SecretValue, OAuthError> {
        let _flight = self.inflight.lock().await;
        let current = self.cached.lock().ok().and_then(|c| c.clone());
        if let Some(c) = current
            && c.token.0 != rejected
            && Instant::now() < c.expires_at
        {
            return Ok(c.token);
        }
        self.fetch().await
    }

    /// Requests a token (caller holds the single-flight lock).
    async fn fetch(&self) -> Result<SecretValue, OAuthError> {
        let url = self.token_endpoint().await?;
        let s = &self.settings;
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        let scope = s.scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        if let Some(a) = &s.audience {
            form.push(("audience", a));
        }
        if let Some(r) = &s.resource {
            form.push(("resource", r));
        }
        for (k, v) in &s.custom_parameters {
            form.push((k, v));
        }
        let mut request = self
            .http
            .post(&url)
            .header(reqwest::header::ACCEPT, "application/json");
        match s.auth_method {
            ClientAuthMethod::ClientSecretBasic => {
                // RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
                let user = url_form(&s.client_id.0);
                let pass = url_form(&s.client_secret.0);
                let basic =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                request = request.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"));
            }
            ClientAuthMethod::ClientSecretPost => {
                form.push(("client_id", &s.client_id.0));
                form.push(("client_secret", &s.client_secret.0));
            }
        }
        let started = Instant::now();
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| OAuthError::Request {
                url: url.clone(),
                message: e.without_url().to_string(),
            })?;
        let status = response.status();
        let body = read_limited(response, &url).await?;
        if !status.is_success() {
            return Err(OAuthError::Refused {
                url,
                status: status.as_u16(),
                detail: provider_error(&body),
            });
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| OAuthError::Invalid {
                url: url.clone(),
                message: "the token response is not JSON with an access_token".into(),
            })?;
        if let Some(t) = &parsed.token_type
            && !t.eq_ignore_ascii_case("bearer")
        {
            return Err(OAuthError::Invalid {
                url,
                message: format!("token_type {t:?} is not Bearer"),
            });
        }
        if parsed.access_token.is_empty() {
            return Err(OAuthError::Invalid {
                url,
                message: "the access_token is empty".into(),
            });
        }
        let lifetime = parsed
            .expires_in
            .as_ref()
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        let early = lifetime
            .mul_f64(EARLY_REFRESH_FRACTION)
            .min(MAX_EARLY_REFRESH);
        let cached = Cached {
            token: SecretValue(parsed.access_token),
            refresh_at: started + lifetime.saturating_sub(early),
            expires_at: started + lifetime,
        };
        tracing::debug!(token_endpoint = %url, lifetime_s = lifetime.as_secs(), "obtained an OAuth2 access token");
        let token = cached.token.clone();
        if let Ok(mut c) = self.cached.lock() {
            *c = Some(cached);
        }
        Ok(token)
    }

    async fn token_endpoint(&self) -> Result<String, OAuthError> {
        if let Some(url) = self.endpoint.lock().ok().and_then(|e| e.clone()) {
            return Ok(url);
        }
        let Some(discovery) = &self.settings.discovery_url else {
            return Err(OAuthError::Invalid {
                url: String::new(),
                message: "neither tokenUrl nor discoveryUrl is set".into(),
            });
        };
        let response = self
            .http
            .get(discovery)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| OAuthError::Request {
                url: discovery.clone(),
                message: e.without_url().to_string(),
            })?;
        let status = response.status();
        let body = read_limited(response, discovery).await?;
        if !status.is_success() {
            return Err(OAuthError::Refused {
                url: discovery.clone(),
                status: status.as_u16(),
                detail: String::new(),
            });
        }
        let meta: EndpointMetadata =
            serde_json::from_slice(&body).map_err(|_| OAuthError::Invalid {
                url: discovery.clone(),
                message: "not a discovery document with a token_endpoint".into(),
            })?;
        if let Ok(mut e) = self.endpoint.lock() {
            *e = Some(meta.token_endpoint.clone());
        }
        Ok(meta.token_endpoint)
    }
}

/// `: error (error_description)` of an RFC 6749 §5.2 error response, printable ASCII only.
fn provider_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    let Ok(e) = serde_json::from_slice::<ErrorBody>(body) else {
        return String::new();
    };
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| (' '..='~').contains(c))
            .take(200)
            .collect()
    };
    match e.error_description {
        Some(d) => format!(": {} ({})", clean(&e.error), clean(&d)),
        None => format!(": {}", clean(&e.error)),
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn url_form(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

async fn read_limited(response: reqwest::Response, url: &str) -> Result<Vec<u8>, OAuthError> {
    if response
        .content_length()
        .is_some_and(|n| n as usize > MAX_RESPONSE_BYTES)
    {
        return Err(OAuthError::Invalid {
            url: url.to_string(),
            message: "the response is too large".into(),
        });
    }
    let body = response.bytes().await.map_err(|e| OAuthError::Request {
        url: url.to_string(),
        message: e.without_url().to_string(),
    })?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(OAuthError::Invalid {
            url: url.to_string(),
            message: "the response is too large".into(),
        });
    }
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OAuth2Settings {
        OAuth2Settings {
            token_url: Some("http://idp/token".into()),
            discovery_url: None,
            client_id: SecretValue("id".into()),
            client_secret: SecretValue("secret".into()),
            auth_method: ClientAuthMethod::ClientSecretBasic,
            scopes: vec!["a".into()],
            audience: None,
            resource: None,
            custom_parameters: BTreeMap::new(),
        }
    }

    #[test]
    fn fingerprint_changes_with_every_setting() {
        let a = settings();
        let mut b = settings();
        b.client_secret = SecretValue("other".into());
        let mut c = settings();
        c.custom_parameters.insert("tenant".into(), "x".into());
        assert_eq!(a.fingerprint(), settings().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert!(!a.fingerprint().contains("secret"));
    }

    #[test]
    fn provider_errors_are_short_and_clean() {
        assert_eq!(
            provider_error(br#"{"error":"invalid_client","error_description":"bad\nsecret"}"#),
            ": invalid_client (badsecret)"
        );
        assert_eq!(provider_error(b"<html>"), "");
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(url_form("a b:c/é"), "a+b%3Ac%2F%C3%A9");
    }

    /// The operator's compile points the config at the gateway's own credentials Secret
    /// (`<secret>.<key>`), the config holds no secret value, and a snapshot over those values
    /// gets a token source.
    #[test]
    fn compiled_oauth2_credentials_reference_the_gateway_secret() {
        use toolyard_compile::gateway::{CompileContext, compile};
        use toolyard_compile::manifests::Manifests;
        use toolyard_crds::config::{OutboundCredentials, SecretValueRef};
        let text = "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  inboundAuth: {none: {}}\n---\napiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {name: t}\nspec:\n  gatewayRef: {name: g}\n  openApi:\n    baseUrl: https://api.example.com\n    schema:\n      inline: '{\"openapi\": \"3.0.3\", \"info\": {\"title\": \"t\", \"version\": \"1\"}, \"paths\": {\"/x\": {\"get\": {\"operationId\": \"x\", \"responses\": {\"200\": {\"description\": \"ok\"}}}}}}'\n  credentials:\n    oauth2:\n      tokenUrl: https://idp.example.com/token\n      clientIdRef: {name: idp, key: id}\n      clientSecretRef: {name: idp, key: secret}\n      scopes: [a]\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: idp}\nstringData: {id: the-client, secret: s3cr3t-value}\n";
        let mut m = Manifests::default();
        m.add_text(std::path::Path::new("t.yaml"), text)
            .expect("parses");
        let ctx = CompileContext {
            credentials_secret: Some("g-toolyard-credentials".into()),
            ..Default::default()
        };
        let compiled =
            compile(&m.gateways[0], &m.targets, &m.resolved_refs(), &ctx).expect("compiles");
        let Some(OutboundCredentials::OAuth2 {
            client_secret,
            client_id_ref,
            ..
        }) = &compiled.config.targets[0].credentials
        else {
            panic!(
                "no oauth2 credentials: {:?}",
                compiled.config.targets[0].credentials
            );
        };
        let own = |key: &str| SecretValueRef {
            secret: "g-toolyard-credentials".into(),
            key: key.into(),
        };
        assert_eq!(client_secret, &own("idp.secret"));
        assert_eq!(client_id_ref.as_ref(), Some(&own("idp.id")));
        let json = serde_json::to_string(&compiled.config).expect("serializes");
        assert!(!json.contains("s3cr3t-value") && !json.contains("the-client"));

        // Standalone: the users' own Secret, resolved into a token source.
        let compiled = compile(
            &m.gateways[0],
            &m.targets,
            &m.resolved_refs(),
            &CompileContext::default(),
        )
        .expect("compiles");
        let snapshot =
            crate::runtime::Snapshot::build(compiled.config, &m.secrets, 1, None).expect("builds");
        assert!(matches!(
            snapshot.targets[0].credentials,
            Some(crate::outbound::credentials::ResolvedCredentials::OAuth2(_))
        ));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let t = TokenSource::new(settings());
        assert!(!format!("{t:?}").contains("secret\""));
        assert!(!format!("{t:?}").contains("\"secret"));
    }
}

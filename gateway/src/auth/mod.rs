//! Inbound authentication: who may call the gateway. The configured [`Authenticator`] is part of
//! the runtime snapshot, so it hot-reloads with the config; the JWT key cache it holds is carried
//! over to the next snapshot while the discovery URL is unchanged.
//!
//! - `jwt`: bearer JWTs of an OIDC provider ([`jwt`], keys from [`jwks`], claim rules in
//!   [`claims`]);
//! - `serviceAccount`: Kubernetes ServiceAccount tokens ([`service_account`]);
//! - `none`: only when configured explicitly.
//!
//! The HTTP layer (`mcp::http`) turns an [`AuthError`] into the RFC 6750 / RFC 9728 answer (401
//! with `WWW-Authenticate: Bearer resource_metadata=...`, 403 `insufficient_scope`) and attaches
//! the [`Principal`] to the request, where tool handlers find it (see [`principal_of`]).

pub mod claims;
pub mod crypto;
pub mod jwks;
pub mod jwt;
pub mod metadata;
pub mod service_account;

use std::sync::Arc;

use serde_json::{Map, Value};
use toolyard_crds::config::InboundAuthConfig;

use jwks::KeySet;
use jwt::JwtVerifier;
use service_account::ServiceAccountVerifier;

/// How the caller was authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    /// `inboundAuth: none`.
    Anonymous,
    /// A JWT of the configured OIDC provider.
    Jwt,
    /// A Kubernetes ServiceAccount token.
    ServiceAccount {
        /// The ServiceAccount's namespace.
        namespace: String,
        /// The ServiceAccount's name.
        name: String,
        /// The pod the token is bound to (`kubernetes.io.pod.name`, or the TokenReview's
        /// `authentication.kubernetes.io/pod-name`), if any.
        pod: Option<String>,
    },
}

/// The authenticated caller, attached to the HTTP request's extensions (and so reachable from
/// tool handlers) for authorization, logs and the Lambda client context.
#[derive(Clone, Debug)]
pub struct Principal {
    /// How it was authenticated.
    pub kind: PrincipalKind,
    /// `sub`.
    pub subject: Option<String>,
    /// `client_id` or `azp`.
    pub client: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Every claim of the token (empty for anonymous callers). Never the token itself.
    pub claims: Map<String, Value>,
}

impl Principal {
    /// The caller of an unauthenticated gateway.
    pub fn anonymous() -> Self {
        Principal {
            kind: PrincipalKind::Anonymous,
            subject: None,
            client: None,
            scopes: Vec::new(),
            claims: Map::new(),
        }
    }
}

/// The principal of an MCP request, from the HTTP request parts rmcp puts into the request
/// context's extensions.
pub fn principal_of(extensions: &rmcp::model::Extensions) -> Option<Principal> {
    extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>())
        .cloned()
}

/// Why a request is not authenticated. The texts go to the caller (in `error_description`), so
/// they never contain the token or any secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer token (or another scheme): 401 without an error code (RFC 6750 §3.1).
    #[error("a bearer token is required")]
    Missing,
    /// A bad token: 401 `invalid_token`.
    #[error("{0}")]
    InvalidToken(String),
    /// A valid token without any required scope: 403 `insufficient_scope`.
    #[error("the token has none of the required scopes")]
    InsufficientScope,
    /// The tokens cannot be checked right now (no keys yet, API server unreachable): 503.
    #[error("{0}")]
    Unavailable(String),
}

impl AuthError {
    /// An `invalid_token` error.
    pub fn invalid(reason: &str) -> Self {
        AuthError::InvalidToken(reason.to_string())
    }
}

/// The inbound authenticator of one snapshot.
pub enum Authenticator {
    /// `none`.
    None,
    /// `jwt`.
    Jwt(Arc<JwtVerifier>),
    /// `serviceAccount`.
    ServiceAccount(Arc<ServiceAccountVerifier>),
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Authenticator::None => f.write_str("Authenticator::None"),
            Authenticator::Jwt(v) => {
                write!(f, "Authenticator::Jwt({})", v.key_set().discovery_url())
            }
            Authenticator::ServiceAccount(_) => f.write_str("Authenticator::ServiceAccount"),
        }
    }
}

impl Authenticator {
    /// The authenticator for `config`, reusing the key cache (and HTTP client) of `previous`
    /// when it verifies with the same discovery URL. Starts fetching keys in the background.
    pub fn build(config: &InboundAuthConfig, previous: Option<&Authenticator>) -> Authenticator {
        match config {
            InboundAuthConfig::None => Authenticator::None,
            InboundAuthConfig::Jwt(jwt) => {
                let reused = match previous {
                    Some(Authenticator::Jwt(v))
                        if v.key_set().discovery_url() == jwt.discovery_url =>
                    {
                        Some(v.key_set().clone())
                    }
                    _ => None,
                };
                let keys = reused.unwrap_or_else(|| {
                    let set = KeySet::new(jwt.discovery_url.clone(), fetch_client());
                    set.refresh_in_background();
                    set
                });
                Authenticator::Jwt(Arc::new(JwtVerifier::new(jwt.clone(), keys)))
            }
            InboundAuthConfig::ServiceAccount(sa) => {
                let previous = match previous {
                    Some(Authenticator::ServiceAccount(v)) => Some(v.as_ref()),
                    _ => None,
                };
                Authenticator::ServiceAccount(Arc::new(ServiceAccountVerifier::new(
                    sa.clone(),
                    previous,
                )))
            }
        }
    }

    /// Authenticates a request from its `Authorization` header values.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        if let Authenticator::None = self {
            return Ok(Principal::anonymous());
        }
        let token = bearer(authorization)?;
        match self {
            Authenticator::None => Ok(Principal::anonymous()),
            Authenticator::Jwt(v) => v.verify(token).await,
            Authenticator::ServiceAccount(v) => v.verify(token).await,
        }
    }

    /// Scopes to advertise (`scope` in `WWW-Authenticate`, `scopes_supported`).
    pub fn scopes(&self) -> &[String] {
        match self {
            Authenticator::Jwt(v) => &v.config().allowed_scopes,
            _ => &[],
        }
    }
}

/// The token of `Authorization: Bearer <token>`. Any other scheme counts as no token.
pub fn bearer(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.ok_or(AuthError::Missing)?;
    let (scheme, rest) = value.split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = rest.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(AuthError::invalid("the bearer token is empty or malformed"));
    }
    Ok(token)
}

/// The HTTP client for discovery and key fetches (no redirects to elsewhere, short timeouts).
fn fetch_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("toolyard-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_forms() {
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Bearer")), Err(AuthError::Missing));
        assert_eq!(bearer(Some("bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("Bearer  abc ")), Ok("abc"));
        assert!(matches!(
            bearer(Some("Bearer a b")),
            Err(AuthError::InvalidToken(_))
        ));
        assert!(matches!(
            bearer(Some("Bearer  ")),
            Err(AuthError::InvalidToken(_))
        ));
    }
}

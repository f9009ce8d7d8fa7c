//! Kubernetes ServiceAccount tokens as inbound identity: audience-bound projected tokens,
//! verified with a TokenReview against the API server (which also rejects tokens of deleted
//! pods), then matched against the `namespace/name` allow-list. Positive reviews are cached for
//! [`REVIEW_CACHE_TTL`] (by the token's SHA-256, never the token) so a busy agent does not cost
//! one TokenReview per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use toolyard_crds::gateway::{ServiceAccountAuthorizer, TokenVerification};

use super::{AuthError, Principal, PrincipalKind};

/// How long a successful review is reused.
pub const REVIEW_CACHE_TTL: Duration = Duration::from_secs(30);
/// Most cached reviews.
const REVIEW_CACHE_MAX: usize = 10_000;

/// A reviewed identity.
#[derive(Clone, Debug)]
struct Reviewed {
    namespace: String,
    name: String,
    at: Instant,
}

/// The ServiceAccount authorizer of one snapshot.
pub struct ServiceAccountVerifier {
    config: ServiceAccountAuthorizer,
    cache: Mutex<HashMap<[u8; 32], Reviewed>>,
    #[cfg(feature = "kube")]
    client: tokio::sync::OnceCell<Result<kube::Client, String>>,
}

impl ServiceAccountVerifier {
    /// A verifier for `config`. The review cache is not carried over (the allow-list may have
    /// changed); the API client is created on first use.
    pub fn new(
        config: ServiceAccountAuthorizer,
        _previous: Option<&ServiceAccountVerifier>,
    ) -> Self {
        Self {
            config,
            cache: Mutex::new(HashMap::new()),
            #[cfg(feature = "kube")]
            client: tokio::sync::OnceCell::new(),
        }
    }

    /// Whether `namespace/name` is on the allow-list (`namespace/*` allows a whole namespace).
    pub fn allowed(&self, namespace: &str, name: &str) -> bool {
        self.config.allowed.iter().any(|entry| {
            entry
                .split_once('/')
                .is_some_and(|(ns, sa)| ns == namespace && (sa == "*" || sa == name))
        })
    }

    /// Verifies a token.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > super::jwt::MAX_TOKEN_BYTES {
            return Err(AuthError::invalid("the token is too large"));
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&digest).cloned())
            .filter(|r| r.at.elapsed() < REVIEW_CACHE_TTL);
        let reviewed = match cached {
            Some(r) => r,
            None => {
                let (namespace, name) = self.review(token).await?;
                let r = Reviewed {
                    namespace,
                    name,
                    at: Instant::now(),
                };
                if let Ok(mut c) = self.cache.lock() {
                    if c.len() >= REVIEW_CACHE_MAX {
                        c.retain(|_, v| v.at.elapsed() < REVIEW_CACHE_TTL);
                        if c.len() >= REVIEW_CACHE_MAX {
                            c.clear();
                        }
                    }
                    c.insert(digest, r.clone());
                }
                r
            }
        };
        if !self.allowed(&reviewed.namespace, &reviewed.name) {
            return Err(AuthError::invalid(
                "the ServiceAccount is not allowed to call this gateway",
            ));
        }
        Ok(Principal {
            kind: PrincipalKind::ServiceAccount {
                namespace: reviewed.namespace.clone(),
                name: reviewed.name.clone(),
            },
            subject: Some(format!(
                "system:serviceaccount:{}:{}",
                reviewed.namespace, reviewed.name
            )),
            client: None,
            scopes: Vec::new(),
            claims: serde_json::Map::new(),
        })
    }

    #[cfg(feature = "kube")]
    async fn review(&self, token: &str) -> Result<(String, String), AuthError> {
        use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
        if self.config.verification == TokenVerification::Oidc {
            return Err(AuthError::Unavailable(
                "serviceAccount.verification Oidc is not supported by this gateway version; use TokenReview".into(),
            ));
        }
        let client = self
            .client
            .get_or_init(|| async { kube::Client::try_default().await.map_err(|e| e.to_string()) })
            .await
            .as_ref()
            .map_err(|e| {
                tracing::warn!(error = %e, "no Kubernetes API client for TokenReview");
                AuthError::Unavailable(
                    "the Kubernetes API is not reachable to review the token".into(),
                )
            })?
            .clone();
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                audiences: Some(self.config.audiences.clone()),
            },
            ..Default::default()
        };
        let api: kube::Api<TokenReview> = kube::Api::all(client);
        let done = api
            .create(&kube::api::PostParams::default(), &review)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "TokenReview failed");
                AuthError::Unavailable(
                    "the token could not be reviewed by the Kubernetes API".into(),
                )
            })?;
        let status = done.status.unwrap_or_default();
        if status.authenticated != Some(true) {
            return Err(AuthError::invalid(
                "the token is not a valid ServiceAccount token for this gateway's audience",
            ));
        }
        if let Some(audiences) = &status.audiences
            && !audiences.iter().any(|a| self.config.audiences.contains(a))
        {
            return Err(AuthError::invalid(
                "the token is not bound to this gateway's audience",
            ));
        }
        let username = status.user.and_then(|u| u.username).unwrap_or_default();
        parse_username(&username)
            .ok_or_else(|| AuthError::invalid("the token does not belong to a ServiceAccount"))
    }

    #[cfg(not(feature = "kube"))]
    async fn review(&self, _token: &str) -> Result<(String, String), AuthError> {
        let _ = TokenVerification::TokenReview;
        Err(AuthError::Unavailable(
            "this gateway was built without Kubernetes support; ServiceAccount tokens cannot be reviewed".into(),
        ))
    }
}

/// `system:serviceaccount:<namespace>:<name>` → (namespace, name).
pub fn parse_username(username: &str) -> Option<(String, String)> {
    let rest = username.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':'))
        .then(|| (ns.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(allowed: &[&str]) -> ServiceAccountVerifier {
        ServiceAccountVerifier::new(
            ServiceAccountAuthorizer {
                audiences: vec!["gw".into()],
                allowed: allowed.iter().map(|s| s.to_string()).collect(),
                verification: TokenVerification::TokenReview,
            },
            None,
        )
    }

    #[test]
    fn allow_list() {
        let v = verifier(&["agents/orders-bot", "tools/*"]);
        assert!(v.allowed("agents", "orders-bot"));
        assert!(!v.allowed("agents", "other"));
        assert!(v.allowed("tools", "anything"));
        assert!(!v.allowed("agentsx", "orders-bot"));
    }

    #[test]
    fn usernames() {
        assert_eq!(
            parse_username("system:serviceaccount:agents:bot"),
            Some(("agents".into(), "bot".into()))
        );
        assert_eq!(parse_username("system:node:n1"), None);
        assert_eq!(parse_username("system:serviceaccount:agents"), None);
        assert_eq!(parse_username("system:serviceaccount::bot"), None);
    }
}

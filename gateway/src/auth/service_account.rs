//! Kubernetes ServiceAccount tokens as inbound identity: audience-bound projected tokens,
//! matched against the `namespace/name` allow-list after one of two verifications:
//!
//! - `TokenReview` (default): the API server reviews the token, which also rejects tokens of
//!   deleted pods. The gateway's ServiceAccount needs `create tokenreviews` (the operator binds it
//!   to `system:auth-delegator`). Positive reviews are cached for [`REVIEW_CACHE_TTL`] (by the
//!   token's SHA-256, never the token) so a busy agent does not cost one TokenReview per request.
//! - `Oidc`: the signature, `iss`, `aud` and `exp`/`nbf` are checked locally, with the keys of
//!   the API server's own OIDC discovery, through the JWT authorizer's verifier and key cache
//!   ([`super::jwks::KeySource::KubernetesApi`]). No API call per token; a token stays valid
//!   until it expires even if its pod is deleted (projected tokens live one hour by default).
//!
//! Either way the identity is `sub = system:serviceaccount:<namespace>:<name>`; with `Oidc` the
//! `kubernetes.io` claim must name the same ServiceAccount, and its pod goes to the principal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use toolyard_crds::gateway::{JwtAuthorizer, ServiceAccountAuthorizer, TokenVerification};

use super::jwks::KeySet;
use super::jwt::JwtVerifier;
use super::{AuthError, Principal, PrincipalKind};

/// How long a successful review is reused.
pub const REVIEW_CACHE_TTL: Duration = Duration::from_secs(30);
/// Most cached reviews.
const REVIEW_CACHE_MAX: usize = 10_000;

/// A verified ServiceAccount identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub name: String,
    /// The pod the token is bound to, if it is bound to one.
    pub pod: Option<String>,
}

/// A reviewed identity.
#[derive(Clone, Debug)]
struct Reviewed {
    identity: Identity,
    at: Instant,
}

/// The ServiceAccount authorizer of one snapshot.
pub struct ServiceAccountVerifier {
    config: ServiceAccountAuthorizer,
    cache: Mutex<HashMap<[u8; 32], Reviewed>>,
    /// `Oidc`: the JWT verifier over the API server's keys (`None` for `TokenReview`, and when
    /// the gateway is built without Kubernetes support).
    offline: Option<JwtVerifier>,
    #[cfg(feature = "kube")]
    client: tokio::sync::OnceCell<Result<kube::Client, String>>,
}

impl ServiceAccountVerifier {
    /// A verifier for `config`. The review cache is not carried over (the allow-list may have
    /// changed); the API server's keys are (they do not depend on the config). The API client is
    /// created on first use; with `Oidc` the keys are fetched in the background right away.
    pub fn new(
        config: ServiceAccountAuthorizer,
        previous: Option<&ServiceAccountVerifier>,
    ) -> Self {
        let keys = match config.verification {
            TokenVerification::TokenReview => None,
            TokenVerification::Oidc => previous
                .and_then(|p| p.offline.as_ref())
                .map(|v| v.key_set().clone())
                .or_else(kubernetes_keys),
        };
        Self::with_keys(config, keys)
    }

    /// A verifier whose `Oidc` checks use `keys` (tests and benchmarks give a fixed key set).
    pub fn with_keys(config: ServiceAccountAuthorizer, keys: Option<Arc<KeySet>>) -> Self {
        let offline = keys
            .filter(|_| config.verification == TokenVerification::Oidc)
            .map(|keys| {
                let rules = JwtAuthorizer {
                    discovery_url: keys.discovery_url().to_string(),
                    allowed_audiences: config.audiences.clone(),
                    allowed_clients: Vec::new(),
                    allowed_scopes: Vec::new(),
                    custom_claims: Vec::new(),
                };
                JwtVerifier::new(rules, keys)
            });
        Self {
            config,
            cache: Mutex::new(HashMap::new()),
            offline,
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
        let (identity, claims) = match self.config.verification {
            TokenVerification::Oidc => self.verify_offline(token).await?,
            TokenVerification::TokenReview => (self.reviewed(token).await?, Map::new()),
        };
        if !self.allowed(&identity.namespace, &identity.name) {
            return Err(AuthError::invalid(
                "the ServiceAccount is not allowed to call this gateway",
            ));
        }
        Ok(Principal {
            subject: Some(format!(
                "system:serviceaccount:{}:{}",
                identity.namespace, identity.name
            )),
            kind: PrincipalKind::ServiceAccount {
                namespace: identity.namespace,
                name: identity.name,
                pod: identity.pod,
            },
            client: None,
            scopes: Vec::new(),
            claims,
        })
    }

    /// `Oidc`: the JWT checks (signature with a key of the API server's JWKS, `iss` equal to its
    /// issuer, `aud` one of the audiences, `exp`/`nbf`), then the ServiceAccount claims.
    async fn verify_offline(
        &self,
        token: &str,
    ) -> Result<(Identity, Map<String, Value>), AuthError> {
        let Some(jwt) = &self.offline else {
            return Err(AuthError::Unavailable(
                "this gateway was built without Kubernetes support; ServiceAccount tokens cannot be verified".into(),
            ));
        };
        let principal = jwt.verify(token).await.map_err(|e| match e {
            AuthError::Unavailable(_) => AuthError::Unavailable(
                "the Kubernetes API server's ServiceAccount signing keys could not be fetched yet"
                    .into(),
            ),
            AuthError::InvalidToken(m) if m.contains("issuer") => {
                AuthError::invalid("the token was not issued by this cluster's API server")
            }
            other => other,
        })?;
        let identity = identity_of(&principal.claims)?;
        Ok((identity, principal.claims))
    }

    /// `TokenReview`, through the cache.
    async fn reviewed(&self, token: &str) -> Result<Identity, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&digest).cloned())
            .filter(|r| r.at.elapsed() < REVIEW_CACHE_TTL);
        if let Some(r) = cached {
            return Ok(r.identity);
        }
        let identity = self.review(token).await?;
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= REVIEW_CACHE_MAX {
                c.retain(|_, v| v.at.elapsed() < REVIEW_CACHE_TTL);
                if c.len() >= REVIEW_CACHE_MAX {
                    c.clear();
                }
            }
            c.insert(
                digest,
                Reviewed {
                    identity: identity.clone(),
                    at: Instant::now(),
                },
            );
        }
        Ok(identity)
    }

    #[cfg(feature = "kube")]
    async fn review(&self, token: &str) -> Result<Identity, AuthError> {
        use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
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
                // A 403 here means the gateway's ServiceAccount lacks `create tokenreviews`.
                tracing::warn!(error = %e, "TokenReview failed; the gateway's ServiceAccount needs the system:auth-delegator ClusterRole (the operator binds it)");
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
        let user = status.user.unwrap_or_default();
        let (namespace, name) = parse_username(user.username.as_deref().unwrap_or_default())
            .ok_or_else(|| AuthError::invalid("the token does not belong to a ServiceAccount"))?;
        let pod = user
            .extra
            .as_ref()
            .and_then(|e| e.get("authentication.kubernetes.io/pod-name"))
            .and_then(|v| v.first().cloned());
        Ok(Identity {
            namespace,
            name,
            pod,
        })
    }

    #[cfg(not(feature = "kube"))]
    async fn review(&self, _token: &str) -> Result<Identity, AuthError> {
        Err(AuthError::Unavailable(
            "this gateway was built without Kubernetes support; ServiceAccount tokens cannot be reviewed".into(),
        ))
    }
}

/// The key cache of the API server's ServiceAccount tokens, prefetching in the background.
#[cfg(feature = "kube")]
fn kubernetes_keys() -> Option<Arc<KeySet>> {
    let set = KeySet::kubernetes();
    set.refresh_in_background();
    Some(set)
}

#[cfg(not(feature = "kube"))]
fn kubernetes_keys() -> Option<Arc<KeySet>> {
    None
}

/// The ServiceAccount of a verified token's claims: `sub` must be
/// `system:serviceaccount:<namespace>:<name>` and the `kubernetes.io` claim (present in every
/// projected token) must name the same namespace and ServiceAccount.
pub fn identity_of(claims: &Map<String, Value>) -> Result<Identity, AuthError> {
    let not_sa = || AuthError::invalid("the token does not belong to a Kubernetes ServiceAccount");
    let (namespace, name) = claims
        .get("sub")
        .and_then(Value::as_str)
        .and_then(parse_username)
        .ok_or_else(not_sa)?;
    let k8s = claims.get("kubernetes.io").ok_or_else(not_sa)?;
    let claim_ns = k8s.get("namespace").and_then(Value::as_str);
    let claim_sa = k8s
        .get("serviceaccount")
        .and_then(|s| s.get("name"))
        .and_then(Value::as_str);
    if claim_ns != Some(namespace.as_str()) || claim_sa != Some(name.as_str()) {
        return Err(AuthError::invalid(
            "the token's kubernetes.io claim does not match its subject",
        ));
    }
    let pod = k8s
        .get("pod")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Identity {
        namespace,
        name,
        pod,
    })
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
    use serde_json::json;

    use super::super::jwks::Keys;
    use super::super::jwt::tests::JWKS;
    use super::*;
    const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

    fn config(allowed: &[&str], verification: TokenVerification) -> ServiceAccountAuthorizer {
        ServiceAccountAuthorizer {
            audiences: vec!["gw".into()],
            allowed: allowed.iter().map(|s| s.to_string()).collect(),
            verification,
        }
    }

    fn verifier(allowed: &[&str]) -> ServiceAccountVerifier {
        ServiceAccountVerifier::new(config(allowed, TokenVerification::TokenReview), None)
    }

    /// An `Oidc` verifier over the bench key set, as if the API server's JWKS held it.
    fn offline(allowed: &[&str]) -> ServiceAccountVerifier {
        let keys = Keys::from_jwks(ISSUER.into(), &serde_json::from_str(JWKS).expect("jwks"))
            .expect("keys");
        let set = KeySet::with_keys(
            super::super::jwks::KUBERNETES_SOURCE.into(),
            reqwest::Client::new(),
            keys,
        );
        ServiceAccountVerifier::with_keys(config(allowed, TokenVerification::Oidc), Some(set))
    }

    fn sign(claims: &Value) -> String {
        super::super::jwt::tests::sign(&json!({"alg": "RS256", "kid": "bench-1"}), claims)
    }

    /// The claims of a projected token of `agents/bot` bound to pod `bot-1`, with `extra`
    /// merged in (a null removes a claim).
    fn projected(extra: Value) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let mut c = json!({
            "iss": ISSUER, "aud": ["gw"], "sub": "system:serviceaccount:agents:bot",
            "exp": now + 600, "iat": now, "nbf": now,
            "kubernetes.io": {
                "namespace": "agents",
                "serviceaccount": {"name": "bot", "uid": "u1"},
                "pod": {"name": "bot-1", "uid": "u2"},
            },
        });
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                if v.is_null() {
                    c.remove(k);
                } else {
                    c.insert(k.clone(), v.clone());
                }
            }
        }
        c
    }

    async fn check(v: &ServiceAccountVerifier, claims: Value) -> Result<Principal, AuthError> {
        v.verify(&sign(&claims)).await
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

    #[tokio::test]
    async fn oidc_accepts_an_allowed_projected_token_with_its_pod() {
        let p = check(&offline(&["agents/bot"]), projected(json!({})))
            .await
            .expect("valid");
        assert_eq!(
            p.kind,
            PrincipalKind::ServiceAccount {
                namespace: "agents".into(),
                name: "bot".into(),
                pod: Some("bot-1".into()),
            }
        );
        assert_eq!(
            p.subject.as_deref(),
            Some("system:serviceaccount:agents:bot")
        );
        assert_eq!(p.claims["kubernetes.io"]["namespace"], "agents");
        // A whole namespace, and a token without a pod binding.
        let p = check(
            &offline(&["agents/*"]),
            projected(json!({"kubernetes.io": {"namespace": "agents", "serviceaccount": {"name": "bot"}}})),
        )
        .await
        .expect("valid");
        assert!(matches!(
            p.kind,
            PrincipalKind::ServiceAccount { pod: None, .. }
        ));
    }

    #[tokio::test]
    async fn oidc_refuses_what_it_must() {
        let v = offline(&["agents/bot"]);
        let invalid = |m: &str| Err(AuthError::invalid(m));
        let cases: Vec<(Value, Result<(), AuthError>)> = vec![
            (
                projected(json!({"aud": ["https://kubernetes.default.svc"]})),
                invalid("the token's audience is not allowed"),
            ),
            (
                projected(json!({"aud": null})),
                invalid("the token's audience is not allowed"),
            ),
            (
                projected(json!({"exp": 1})),
                invalid("the token has expired"),
            ),
            (
                projected(json!({"nbf": 4_000_000_000u64})),
                invalid("the token is not valid yet"),
            ),
            (
                projected(json!({"iss": "https://other-cluster"})),
                invalid("the token was not issued by this cluster's API server"),
            ),
            (
                projected(json!({
                    "sub": "system:serviceaccount:agents:other",
                    "kubernetes.io": {"namespace": "agents", "serviceaccount": {"name": "other"}},
                })),
                invalid("the ServiceAccount is not allowed to call this gateway"),
            ),
            (
                projected(json!({"sub": "system:serviceaccount:agents:other"})),
                invalid("the token's kubernetes.io claim does not match its subject"),
            ),
            (
                projected(json!({"kubernetes.io": null})),
                invalid("the token does not belong to a Kubernetes ServiceAccount"),
            ),
            (
                projected(json!({"sub": "system:node:n1"})),
                invalid("the token does not belong to a Kubernetes ServiceAccount"),
            ),
        ];
        for (claims, expected) in cases {
            let got = check(&v, claims.clone()).await.map(|_| ());
            assert_eq!(got, expected, "{claims}");
        }
        assert_eq!(
            v.verify("not-a-jwt").await.err(),
            Some(AuthError::invalid("the token is not a well-formed JWT"))
        );
    }

    #[tokio::test]
    async fn oidc_keys_are_kept_across_reloads() {
        let first = offline(&["agents/bot"]);
        let next = ServiceAccountVerifier::new(
            config(&["agents/*"], TokenVerification::Oidc),
            Some(&first),
        );
        let (a, b) = (
            first.offline.as_ref().map(|v| v.key_set().clone()),
            next.offline.as_ref().map(|v| v.key_set().clone()),
        );
        assert!(a.zip(b).is_some_and(|(a, b)| Arc::ptr_eq(&a, &b)));
        // TokenReview has no offline verifier.
        let review = ServiceAccountVerifier::new(
            config(&["agents/*"], TokenVerification::TokenReview),
            Some(&first),
        );
        assert!(review.offline.is_none());
    }
}

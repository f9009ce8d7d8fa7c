//! The signing keys of one OIDC provider: discovery (issuer + `jwks_uri`), then the JWKS, cached.
//!
//! Keys are fetched off the request path, at most once at a time: when the snapshot is built
//! (prefetch), when a token names a `kid` the cache does not know (at most once per
//! [`MIN_REFRESH_INTERVAL`], so random `kid`s cannot make the gateway hammer the provider), and in
//! the background when the cache is older than [`MAX_AGE`]. A failed fetch keeps the keys it
//! had, so a provider that is briefly down does not lock anybody out. The cache is shared across
//! reloads while the discovery URL stays the same.
//!
//! The same cache serves Kubernetes ServiceAccount tokens verified offline
//! (`serviceAccount.verification: Oidc`): then the discovery document and the JWKS come from the
//! API server itself ([`KeySource::KubernetesApi`]), read with the pod's own credentials, since
//! the issuer URL in the document is often not reachable from inside the cluster.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// Smallest gap between two fetches caused by unknown `kid`s.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
/// Age after which the keys are refreshed in the background (they keep serving meanwhile).
pub const MAX_AGE: Duration = Duration::from_secs(600);
/// Time limit of one discovery or JWKS request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The `Accept` of discovery and JWKS requests: some servers (the Kubernetes API server among them)
/// serve a JWKS only as `application/jwk-set+json` (RFC 7517 §8.5).
const ACCEPT_DOCUMENTS: &str = "application/json, application/jwk-set+json";
/// Largest discovery document or JWKS read.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Why the keys could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The HTTP request failed.
    #[error("GET {url} failed: {message}")]
    Fetch {
        /// What was fetched.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// The document was not what the specs require.
    #[error("{url}: {message}")]
    Document {
        /// What was fetched.
        url: String,
        /// What is wrong with it.
        message: String,
    },
}

/// One verification key and the algorithms it may verify (from its `alg`, or its key type).
#[derive(Clone)]
pub struct VerifyKey {
    /// The key.
    pub key: DecodingKey,
    /// Algorithms accepted with this key (never HMAC, never `none`).
    pub algorithms: Vec<Algorithm>,
}

/// A fetched key set.
pub struct Keys {
    /// The provider's `issuer` (tokens' `iss` must equal it).
    pub issuer: String,
    /// Keys by `kid`.
    pub by_kid: HashMap<String, Arc<VerifyKey>>,
    /// Keys without a `kid` (only used when the JWKS holds exactly one key).
    pub anonymous: Vec<Arc<VerifyKey>>,
    /// When they were fetched.
    pub fetched_at: Instant,
}

impl Keys {
    /// Builds the key set from a JWKS document. Keys that are not usable for signature
    /// verification (symmetric, encryption keys, unknown types or curves) are left out.
    pub fn from_jwks(issuer: String, jwks: &serde_json::Value) -> Result<Keys, String> {
        let list = jwks
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .ok_or("the JWKS has no \"keys\" array")?;
        let mut by_kid = HashMap::new();
        let mut anonymous = Vec::new();
        for raw in list {
            let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
                continue;
            };
            let Some(key) = verify_key(&jwk) else {
                continue;
            };
            match &jwk.common.key_id {
                Some(kid) => {
                    by_kid.insert(kid.clone(), Arc::new(key));
                }
                None => anonymous.push(Arc::new(key)),
            }
        }
        Ok(Keys {
            issuer,
            by_kid,
            anonymous,
            fetched_at: Instant::now(),
        })
    }

    /// The key for a token header's `kid`.
    pub fn find(&self, kid: Option<&str>) -> Option<&Arc<VerifyKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None if self.by_kid.len() + self.anonymous.len() == 1 => self
                .anonymous
                .first()
                .or_else(|| self.by_kid.values().next()),
            None => None,
        }
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.by_kid.len() + self.anonymous.len()
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The verification key of a JWK with the algorithms it allows.
fn verify_key(jwk: &Jwk) -> Option<VerifyKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let family: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => &[
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => &[Algorithm::ES256],
            EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => &[Algorithm::EdDSA],
            _ => return None,
        },
        // Symmetric keys never verify tokens here.
        _ => return None,
    };
    let algorithms = match jwk.common.key_algorithm {
        None => family.to_vec(),
        Some(alg) => {
            let alg = key_algorithm(alg)?;
            if !family.contains(&alg) {
                return None;
            }
            vec![alg]
        }
    };
    let key = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            let n = URL_SAFE_NO_PAD.decode(p.n.trim_end_matches('=')).ok()?;
            let e = URL_SAFE_NO_PAD.decode(p.e.trim_end_matches('=')).ok()?;
            if n.len() < 256 {
                return None; // under 2048 bits
            }
            DecodingKey::from_rsa_der(&super::crypto::rsa_der(&n, &e))
        }
        _ => DecodingKey::from_jwk(jwk).ok()?,
    };
    Some(VerifyKey { key, algorithms })
}

fn key_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// Where a [`KeySet`] gets its issuer and keys.
pub enum KeySource {
    /// OIDC discovery at a URL (the JWT authorizer's `discoveryUrl`), then its `jwks_uri`.
    Discovery(reqwest::Client),
    /// The Kubernetes API server's service-account issuer discovery
    /// ([`KUBERNETES_DISCOVERY_PATH`] for the issuer, [`KUBERNETES_JWKS_PATH`] for the keys), read
    /// through the API client (in-cluster: the pod's ServiceAccount token and CA). Every
    /// ServiceAccount may read both through the default `system:service-account-issuer-discovery`
    /// binding.
    #[cfg(feature = "kube")]
    KubernetesApi(tokio::sync::OnceCell<Result<kube::Client, String>>),
}

/// The API server's OIDC discovery document.
pub const KUBERNETES_DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// The API server's ServiceAccount token signing keys.
pub const KUBERNETES_JWKS_PATH: &str = "/openid/v1/jwks";
/// The [`KeySet::discovery_url`] of the Kubernetes API source (a label, not fetched as a URL).
pub const KUBERNETES_SOURCE: &str = "kubernetes-api:/.well-known/openid-configuration";

/// Bookkeeping of fetches (under the single-flight lock).
#[derive(Default)]
struct FetchState {
    last_attempt: Option<Instant>,
}

/// The cached keys of one provider; shared by every snapshot with the same discovery URL.
pub struct KeySet {
    discovery_url: String,
    source: KeySource,
    keys: ArcSwapOption<Keys>,
    /// Single flight: one fetch at a time; waiters see its result.
    fetch: tokio::sync::Mutex<FetchState>,
    /// The last fetch error (for logs and the 503 text), cleared by a success.
    last_error: std::sync::Mutex<Option<String>>,
}

impl KeySet {
    /// An empty key set for `discovery_url` (nothing is fetched yet).
    pub fn new(discovery_url: String, http: reqwest::Client) -> Arc<KeySet> {
        Self::from_source(discovery_url, KeySource::Discovery(http))
    }

    /// An empty key set for the ServiceAccount tokens of the cluster the gateway runs in (the
    /// API client is created on the first fetch).
    #[cfg(feature = "kube")]
    pub fn kubernetes() -> Arc<KeySet> {
        Self::from_source(
            KUBERNETES_SOURCE.to_string(),
            KeySource::KubernetesApi(tokio::sync::OnceCell::new()),
        )
    }

    fn from_source(discovery_url: String, source: KeySource) -> Arc<KeySet> {
        Arc::new(KeySet {
            discovery_url,
            source,
            keys: ArcSwapOption::default(),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            last_error: std::sync::Mutex::new(None),
        })
    }

    /// A key set with keys already in place (benchmarks and tests).
    pub fn with_keys(discovery_url: String, http: reqwest::Client, keys: Keys) -> Arc<KeySet> {
        let set = KeySet::new(discovery_url, http);
        set.keys.store(Some(Arc::new(keys)));
        set
    }

    /// The discovery URL.
    pub fn discovery_url(&self) -> &str {
        &self.discovery_url
    }

    /// The cached keys, if any were ever fetched.
    pub fn current(&self) -> Option<Arc<Keys>> {
        self.keys.load_full()
    }

    /// The last fetch error, if the last fetch failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// The keys, fetching them first if there are none yet (the first requests after start
    /// wait for one fetch together).
    pub async fn ensure(self: &Arc<Self>) -> Option<Arc<Keys>> {
        if let Some(keys) = self.current() {
            if keys.fetched_at.elapsed() > MAX_AGE {
                self.refresh_in_background();
            }
            return Some(keys);
        }
        let mut state = self.fetch.lock().await;
        if let Some(keys) = self.current() {
            return Some(keys);
        }
        // Without keys, retry at most once per interval too.
        if state
            .last_attempt
            .is_some_and(|t| t.elapsed() < MIN_REFRESH_INTERVAL)
        {
            return None;
        }
        self.fetch_locked(&mut state).await;
        self.current()
    }

    /// Called for a `kid` the cache does not know: refetches unless another fetch just
    /// happened, then returns the (possibly) new keys.
    pub async fn refresh_for_unknown_kid(self: &Arc<Self>, kid: Option<&str>) -> Option<Arc<Keys>> {
        let mut state = self.fetch.lock().await;
        if let Some(keys) = self.current()
            && keys.find(kid).is_some()
        {
            return Some(keys);
        }
        if state
            .last_attempt
            .is_some_and(|t| t.elapsed() < MIN_REFRESH_INTERVAL)
        {
            return self.current();
        }
        self.fetch_locked(&mut state).await;
        self.current()
    }

    /// Starts a refresh without waiting for it (prefetch at build, refresh of old keys).
    pub fn refresh_in_background(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let set = self.clone();
        handle.spawn(async move {
            let Ok(mut state) = set.fetch.try_lock() else {
                return; // a fetch is running
            };
            if let Some(keys) = set.current()
                && keys.fetched_at.elapsed() < MAX_AGE
            {
                return;
            }
            set.fetch_locked(&mut state).await;
        });
    }

    async fn fetch_locked(&self, state: &mut FetchState) {
        state.last_attempt = Some(Instant::now());
        match self.fetch_keys().await {
            Ok(keys) => {
                tracing::info!(discovery_url = %self.discovery_url, issuer = %keys.issuer, keys = keys.len(), "fetched the JWT signing keys");
                self.keys.store(Some(Arc::new(keys)));
                if let Ok(mut e) = self.last_error.lock() {
                    *e = None;
                }
            }
            Err(e) => {
                let kept = self.current().map_or(0, |k| k.len());
                tracing::warn!(error = %e, kept_keys = kept, "could not fetch the JWT signing keys; keeping the cached ones");
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some(e.to_string());
                }
            }
        }
    }

    async fn fetch_keys(&self) -> Result<Keys, JwksError> {
        let http = match &self.source {
            KeySource::Discovery(http) => http,
            #[cfg(feature = "kube")]
            KeySource::KubernetesApi(client) => return fetch_kubernetes(client).await,
        };
        let discovery: Discovery = serde_json::from_slice(&get(http, &self.discovery_url).await?)
            .map_err(|e| JwksError::Document {
            url: self.discovery_url.clone(),
            message: format!("not an OIDC discovery document with issuer and jwks_uri: {e}"),
        })?;
        let jwks: serde_json::Value =
            serde_json::from_slice(&get(http, &discovery.jwks_uri).await?).map_err(|e| {
                JwksError::Document {
                    url: discovery.jwks_uri.clone(),
                    message: format!("not JSON: {e}"),
                }
            })?;
        let keys =
            Keys::from_jwks(discovery.issuer, &jwks).map_err(|message| JwksError::Document {
                url: discovery.jwks_uri.clone(),
                message,
            })?;
        if keys.is_empty() {
            return Err(JwksError::Document {
                url: discovery.jwks_uri,
                message: "the JWKS holds no asymmetric signing key".into(),
            });
        }
        Ok(keys)
    }
}

/// The issuer and keys of the API server's ServiceAccount tokens. The keys are read from
/// [`KUBERNETES_JWKS_PATH`] on the API server, not from the document's `jwks_uri`, which may
/// name a host only reachable from outside (for example a cloud provider's OIDC bucket).
#[cfg(feature = "kube")]
async fn fetch_kubernetes(
    client: &tokio::sync::OnceCell<Result<kube::Client, String>>,
) -> Result<Keys, JwksError> {
    let client = client
        .get_or_init(|| async { kube::Client::try_default().await.map_err(|e| e.to_string()) })
        .await
        .as_ref()
        .map_err(|e| JwksError::Fetch {
            url: KUBERNETES_SOURCE.into(),
            message: format!("no Kubernetes API client ({e}); run in a pod or set KUBECONFIG"),
        })?
        .clone();
    let get = |path: &'static str| {
        let client = client.clone();
        async move {
            // The API server answers the JWKS only as `application/jwk-set+json` (406 otherwise).
            let request = http::Request::get(path)
                .header(http::header::ACCEPT, ACCEPT_DOCUMENTS)
                .body(Vec::new())
                .map_err(|e| JwksError::Fetch {
                    url: path.into(),
                    message: e.to_string(),
                })?;
            let text = tokio::time::timeout(FETCH_TIMEOUT, client.request_text(request))
                .await
                .map_err(|_| JwksError::Fetch {
                    url: path.into(),
                    message: format!("no answer within {FETCH_TIMEOUT:?}"),
                })?
                .map_err(|e| JwksError::Fetch {
                    url: path.into(),
                    message: e.to_string(),
                })?;
            if text.len() > MAX_DOCUMENT_BYTES {
                return Err(JwksError::Fetch {
                    url: path.into(),
                    message: "the document is too large".into(),
                });
            }
            Ok::<_, JwksError>(text)
        }
    };
    #[derive(Deserialize)]
    struct Issuer {
        issuer: String,
    }
    let discovery: Issuer =
        serde_json::from_str(&get(KUBERNETES_DISCOVERY_PATH).await?).map_err(|e| {
            JwksError::Document {
                url: KUBERNETES_DISCOVERY_PATH.into(),
                message: format!("not an OIDC discovery document with an issuer: {e}"),
            }
        })?;
    let jwks: serde_json::Value =
        serde_json::from_str(&get(KUBERNETES_JWKS_PATH).await?).map_err(|e| {
            JwksError::Document {
                url: KUBERNETES_JWKS_PATH.into(),
                message: format!("not JSON: {e}"),
            }
        })?;
    let keys = Keys::from_jwks(discovery.issuer, &jwks).map_err(|message| JwksError::Document {
        url: KUBERNETES_JWKS_PATH.into(),
        message,
    })?;
    if keys.is_empty() {
        return Err(JwksError::Document {
            url: KUBERNETES_JWKS_PATH.into(),
            message: "the JWKS holds no asymmetric signing key".into(),
        });
    }
    Ok(keys)
}

/// GET with the fetch time limit and size limit.
async fn get(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, JwksError> {
    let fail = |message: String| JwksError::Fetch {
        url: url.to_string(),
        message,
    };
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, ACCEPT_DOCUMENTS)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status().as_u16())));
    }
    if response
        .content_length()
        .is_some_and(|n| n as usize > MAX_DOCUMENT_BYTES)
    {
        return Err(fail("the document is too large".into()));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(fail("the document is too large".into()));
    }
    Ok(body.to_vec())
}

//! The JWT authorizer (AgentCore's custom JWT authorizer): the signature with a key of the
//! provider's JWKS (algorithm taken from the key, not the token), `iss` equal to the discovered
//! issuer, `exp`/`nbf` with [`LEEWAY_SECS`], `aud` when audiences are configured, then the claim
//! checks of [`super::claims`].

use std::collections::HashSet;
use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::{Map, Value};
use toolyard_crds::gateway::JwtAuthorizer;

use super::claims::{self, ClaimError};
use super::jwks::{KeySet, Keys};
use super::{AuthError, Principal, PrincipalKind};

/// Clock skew tolerated on `exp` and `nbf`, seconds.
pub const LEEWAY_SECS: u64 = 30;
/// Largest token accepted (bytes). Real access tokens are 1-4 KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A JWT authorizer: its settings and the provider's key cache.
pub struct JwtVerifier {
    config: JwtAuthorizer,
    keys: Arc<KeySet>,
}

impl JwtVerifier {
    /// An authorizer over a key cache.
    pub fn new(config: JwtAuthorizer, keys: Arc<KeySet>) -> Self {
        super::crypto::install();
        Self { config, keys }
    }

    /// The settings.
    pub fn config(&self) -> &JwtAuthorizer {
        &self.config
    }

    /// The key cache (shared with the next snapshot when the discovery URL is unchanged).
    pub fn key_set(&self) -> &Arc<KeySet> {
        &self.keys
    }

    /// Verifies a bearer token, fetching keys only when none are cached yet or the token names
    /// an unknown `kid` (rate-limited in [`KeySet`]).
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::invalid("the token is too large"));
        }
        let header = decode_header(token)
            .map_err(|_| AuthError::invalid("the token is not a well-formed JWT"))?;
        let Some(keys) = self.keys.ensure().await else {
            return Err(AuthError::Unavailable(
                "the identity provider's signing keys could not be fetched yet".into(),
            ));
        };
        let kid = header.kid.as_deref();
        let keys = if keys.find(kid).is_some() {
            keys
        } else {
            match self.keys.refresh_for_unknown_kid(kid).await {
                Some(k) => k,
                None => keys,
            }
        };
        self.verify_with(&keys, token)
    }

    /// Verification against a given key set, without any fetch (the benchmark's path).
    pub fn verify_with(&self, keys: &Keys, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::invalid("the token is too large"));
        }
        let header = decode_header(token)
            .map_err(|_| AuthError::invalid("the token is not a well-formed JWT"))?;
        let key = keys
            .find(header.kid.as_deref())
            .ok_or_else(|| AuthError::invalid("the token is signed with an unknown key"))?;
        if !key.algorithms.contains(&header.alg) {
            return Err(AuthError::invalid(
                "the token's algorithm does not match its key",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = key.algorithms.clone();
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.required_spec_claims = HashSet::from(["exp".to_string(), "iss".to_string()]);
        validation.set_issuer(&[keys.issuer.as_str()]);
        if self.config.allowed_audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            // Without `aud` in the required claims, a token with no `aud` at all would pass.
            validation.set_audience(&self.config.allowed_audiences);
            validation.required_spec_claims.insert("aud".to_string());
        }
        let data = decode::<Map<String, Value>>(token, &key.key, &validation).map_err(|e| {
            AuthError::invalid(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidIssuer => "the token's issuer is not the configured provider",
                ErrorKind::InvalidAudience => "the token's audience is not allowed",
                ErrorKind::InvalidSignature => "the token's signature is invalid",
                ErrorKind::InvalidAlgorithm => "the token's algorithm does not match its key",
                ErrorKind::MissingRequiredClaim(c) if c == "aud" => {
                    "the token's audience is not allowed"
                }
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp, iss)",
                _ => "the token is not a valid JWT",
            })
        })?;
        let claims = data.claims;
        claims::check(&self.config, &claims).map_err(|e| match e {
            ClaimError::Scope => AuthError::InsufficientScope,
            other => AuthError::invalid(match other {
                ClaimError::Client => "the token's client is not allowed",
                _ => "the token's claims do not match the gateway's rules",
            }),
        })?;
        Ok(Principal {
            kind: PrincipalKind::Jwt,
            subject: claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_string),
            client: claims::client(&claims).map(str::to_string),
            scopes: claims::scopes(&claims),
            claims,
        })
    }
}

/// Also the token factory of the other authorizers' tests (one signing key, one JWKS).
#[cfg(test)]
pub(crate) mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    use serde_json::json;

    use super::*;

    const KEY_PEM: &str = include_str!("../../examples/testdata/jwt_bench_key.pem");
    pub(crate) const JWKS: &str = include_str!("../../examples/testdata/jwt_bench_jwks.json");
    const ISSUER: &str = "https://idp.example.com";

    /// A token signed (RS256) with the bench key, whose public half is in [`JWKS`].
    pub(crate) fn sign(header: &Value, claims: &Value) -> String {
        let der: String = KEY_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let pair = RsaKeyPair::from_pkcs8(&STANDARD.decode(der).expect("pem")).expect("key");
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .expect("signs");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn verifier() -> (JwtVerifier, Arc<Keys>) {
        let config = JwtAuthorizer {
            discovery_url: format!("{ISSUER}/.well-known/openid-configuration"),
            allowed_audiences: vec!["gw".into()],
            allowed_clients: vec![],
            allowed_scopes: vec!["call".into()],
            custom_claims: vec![],
        };
        let keys = Keys::from_jwks(ISSUER.into(), &serde_json::from_str(JWKS).expect("jwks"))
            .expect("keys");
        let set = KeySet::with_keys(config.discovery_url.clone(), reqwest::Client::new(), keys);
        let keys = set.current().expect("keys");
        (JwtVerifier::new(config, set), keys)
    }

    fn claims(extra: Value) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let mut c = json!({"iss": ISSUER, "sub": "s", "aud": "gw", "client_id": "c", "scope": "call", "exp": now + 60});
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

    const HEADER: fn() -> Value = || json!({"alg": "RS256", "kid": "bench-1"});

    #[test]
    fn a_good_token_gives_the_principal() {
        let (v, keys) = verifier();
        let p = v
            .verify_with(&keys, &sign(&HEADER(), &claims(json!({}))))
            .expect("valid");
        assert_eq!(p.kind, PrincipalKind::Jwt);
        assert_eq!(p.subject.as_deref(), Some("s"));
        assert_eq!(p.client.as_deref(), Some("c"));
        assert_eq!(p.scopes, ["call"]);
    }

    #[test]
    fn a_token_without_aud_is_refused_when_audiences_are_configured() {
        let (v, keys) = verifier();
        let token = sign(&HEADER(), &claims(json!({"aud": null})));
        assert_eq!(
            v.verify_with(&keys, &token).err(),
            Some(AuthError::invalid("the token's audience is not allowed"))
        );
    }

    #[test]
    fn the_algorithm_comes_from_the_key() {
        let (v, keys) = verifier();
        // Signed correctly with RS256 but labelled RS384 (the key's JWK says RS256).
        let token = sign(
            &json!({"alg": "RS384", "kid": "bench-1"}),
            &claims(json!({})),
        );
        assert_eq!(
            v.verify_with(&keys, &token).err(),
            Some(AuthError::invalid(
                "the token's algorithm does not match its key"
            ))
        );
    }

    #[test]
    fn scope_failures_are_403_and_the_rest_401() {
        let (v, keys) = verifier();
        let no_scope = sign(&HEADER(), &claims(json!({"scope": "other"})));
        assert_eq!(
            v.verify_with(&keys, &no_scope).err(),
            Some(AuthError::InsufficientScope)
        );
        let expired = sign(&HEADER(), &claims(json!({"exp": 1})));
        assert_eq!(
            v.verify_with(&keys, &expired).err(),
            Some(AuthError::invalid("the token has expired"))
        );
        let wrong_iss = sign(&HEADER(), &claims(json!({"iss": "https://evil"})));
        assert_eq!(
            v.verify_with(&keys, &wrong_iss).err(),
            Some(AuthError::invalid(
                "the token's issuer is not the configured provider"
            ))
        );
    }
}

//! Token validation cost with a warm JWKS cache: the full inbound check of the JWT authorizer
//! (header parse, key lookup by `kid`, RS256 signature with `ring`, `iss`/`aud`/`exp`/`nbf`,
//! client, scopes and custom claims) on a realistic access token, no network.
//!
//!   cargo run --release -p toolyard-gateway --example jwt_bench
//!
//! The key in `testdata/` is a throwaway test key generated for this benchmark.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use toolyard_crds::gateway::{ClaimOperator, ClaimValueType, CustomClaim, JwtAuthorizer};
use toolyard_gateway::auth::jwks::{KeySet, Keys};
use toolyard_gateway::auth::jwt::JwtVerifier;

const KEY_PEM: &str = include_str!("testdata/jwt_bench_key.pem");
const JWKS: &str = include_str!("testdata/jwt_bench_jwks.json");
const ISSUER: &str = "https://idp.example.com";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let der: String = KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let pair = RsaKeyPair::from_pkcs8(&STANDARD.decode(der)?).map_err(|e| e.to_string())?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let header = serde_json::json!({"alg": "RS256", "typ": "at+jwt", "kid": "bench-1"});
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": "agent-7", "aud": "https://gw.example.com/mcp", "client_id": "agent",
        "scope": "openid tools:read tools:call", "iat": now, "nbf": now, "exp": now + 3600,
        "jti": "5b0d0a5e-4d1c-4d9b-9f0a-3b1f2b7c9e11", "department": "sales", "groups": ["ops", "dev"],
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?)
    );
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|e| e.to_string())?;
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig));

    let config = JwtAuthorizer {
        discovery_url: format!("{ISSUER}/.well-known/openid-configuration"),
        allowed_audiences: vec!["https://gw.example.com/mcp".into()],
        allowed_clients: vec!["agent".into()],
        allowed_scopes: vec!["tools:call".into()],
        custom_claims: vec![CustomClaim {
            name: "groups".into(),
            value_type: ClaimValueType::StringArray,
            operator: ClaimOperator::Contains,
            value: Some("ops".into()),
            values: vec![],
        }],
    };
    let keys = Keys::from_jwks(ISSUER.into(), &serde_json::from_str(JWKS)?)?;
    let set = KeySet::with_keys(config.discovery_url.clone(), reqwest::Client::new(), keys);
    let verifier = JwtVerifier::new(config, set.clone());
    let keys = set.current().ok_or("no keys")?;

    let principal = verifier
        .verify_with(&keys, &token)
        .map_err(|e| e.to_string())?;
    assert_eq!(principal.client.as_deref(), Some("agent"));
    for _ in 0..2_000 {
        let _ = verifier.verify_with(&keys, &token);
    }
    let n = 20_000;
    let mut samples = Vec::with_capacity(n);
    let all = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let ok = verifier.verify_with(&keys, &token).is_ok();
        samples.push(t.elapsed());
        assert!(ok);
    }
    let total = all.elapsed();
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "JWT validation, warm JWKS cache, RS256 2048-bit, {} bytes token, {n} runs:",
        token.len()
    );
    println!(
        "  p50 {:.1} µs   p90 {:.1} µs   p99 {:.1} µs   {:.0} validations/s on one core",
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.9).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        n as f64 / total.as_secs_f64()
    );
    Ok(())
}

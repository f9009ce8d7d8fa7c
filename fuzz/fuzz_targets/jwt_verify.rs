//! The JWT authorizer on hostile input. The first byte picks what the rest of the input is:
//!
//! - 0: a whole bearer token (header, claims and signature all fuzzed);
//! - 1: the claims JSON of a token that is correctly signed (Ed25519) with a key of the JWKS, so
//!   the claim checks (`iss`, `exp`, `nbf`, `aud`, client, scopes, custom claims) see it;
//! - 2: the header JSON of a correctly signed token (`alg` / `kid` confusion);
//! - 3: a JWKS document (key parsing), then a valid token checked against it.
//!
//! A token is either accepted or refused with a reason; nothing may panic. Accepting a token
//! whose header or claims were fuzzed is checked against the rules it must have passed.
#![no_main]

use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use toolyard_crds::gateway::{ClaimOperator, ClaimValueType, CustomClaim, JwtAuthorizer};
use toolyard_gateway::auth::jwks::{KeySet, Keys};
use toolyard_gateway::auth::jwt::JwtVerifier;

const ISSUER: &str = "https://idp.example.com";
const RSA_JWKS: &str = include_str!("../../gateway/examples/testdata/jwt_bench_jwks.json");
/// A fixed Ed25519 seed: the fuzz target must be deterministic.
const ED25519_SEED: [u8; 32] = [7; 32];

struct Fixture {
    verifier: JwtVerifier,
    keys: Arc<Keys>,
    signer: Ed25519KeyPair,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let signer = Ed25519KeyPair::from_seed_unchecked(&ED25519_SEED).expect("a valid seed");
    let mut jwks: Value = serde_json::from_str(RSA_JWKS).expect("the bench JWKS parses");
    jwks["keys"].as_array_mut().expect("keys").push(json!({
        "kty": "OKP", "crv": "Ed25519", "kid": "fuzz-ed", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(signer.public_key().as_ref()),
    }));
    let config = JwtAuthorizer {
        discovery_url: format!("{ISSUER}/.well-known/openid-configuration"),
        allowed_audiences: vec!["https://gw.example.com/mcp".into()],
        allowed_clients: vec!["agent".into()],
        allowed_scopes: vec!["tools:call".into()],
        custom_claims: vec![
            CustomClaim {
                name: "groups".into(),
                value_type: ClaimValueType::StringArray,
                operator: ClaimOperator::ContainsAny,
                value: None,
                values: vec!["ops".into(), "admins".into()],
            },
            CustomClaim {
                name: "department".into(),
                value_type: ClaimValueType::String,
                operator: ClaimOperator::Equals,
                value: Some("sales".into()),
                values: vec![],
            },
        ],
    };
    let keys = Keys::from_jwks(ISSUER.into(), &jwks).expect("the JWKS is usable");
    let set = KeySet::with_keys(config.discovery_url.clone(), reqwest::Client::new(), keys);
    let verifier = JwtVerifier::new(config, set.clone());
    let keys = set.current().expect("keys are cached");
    Fixture {
        verifier,
        keys,
        signer,
    }
});

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A token with these raw header and claims bytes, signed with the Ed25519 key.
fn signed(fixture: &Fixture, header: &[u8], claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = fixture.signer.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

fn good_claims() -> Vec<u8> {
    let now = now();
    json!({
        "iss": ISSUER, "sub": "agent-7", "aud": "https://gw.example.com/mcp", "client_id": "agent",
        "scope": "openid tools:call", "iat": now, "nbf": now, "exp": now + 3600,
        "department": "sales", "groups": ["ops"],
    })
    .to_string()
    .into_bytes()
}

const GOOD_HEADER: &[u8] = br#"{"alg":"EdDSA","typ":"JWT","kid":"fuzz-ed"}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fixture = &*FIXTURE;
    match mode % 4 {
        0 => {
            if let Ok(token) = std::str::from_utf8(rest) {
                let _ = fixture.verifier.verify_with(&fixture.keys, token);
            }
        }
        1 => {
            let token = signed(fixture, GOOD_HEADER, rest);
            if fixture.verifier.verify_with(&fixture.keys, &token).is_ok() {
                // Accepted claims must be an object with the configured issuer.
                let claims: Value = serde_json::from_slice(rest).expect("accepted claims parse");
                assert_eq!(claims["iss"], ISSUER, "accepted a foreign issuer: {claims}");
                assert!(claims.get("exp").is_some(), "accepted a token without exp");
            }
        }
        2 => {
            let token = signed(fixture, rest, &good_claims());
            if fixture.verifier.verify_with(&fixture.keys, &token).is_ok() {
                let header: Value = serde_json::from_slice(rest).expect("accepted header parses");
                assert_eq!(header["alg"], "EdDSA", "accepted a token signed with EdDSA as {header}");
            }
        }
        _ => {
            let Ok(jwks) = serde_json::from_slice::<Value>(rest) else {
                return;
            };
            let Ok(keys) = Keys::from_jwks(ISSUER.into(), &jwks) else {
                return;
            };
            let token = signed(fixture, GOOD_HEADER, &good_claims());
            let _ = fixture.verifier.verify_with(&keys, &token);
        }
    }
});

//! The authorizer's checks on a token's claims once its signature, issuer and times are valid:
//! client (`client_id` or `azp`), scopes (at least one allowed) and custom claims (AgentCore
//! `customClaims`: String `Equals`, StringArray `Contains` / `ContainsAny`). Pure functions, so
//! every rule is unit-tested without tokens.

use serde_json::{Map, Value};
use toolyard_crds::gateway::{ClaimOperator, ClaimValueType, CustomClaim, JwtAuthorizer};

/// Why the claims are not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Neither `client_id` nor `azp` is an allowed client.
    #[error("the token's client is not allowed")]
    Client,
    /// No allowed scope in the token (a 403: the token is valid, it lacks permission).
    #[error("the token has none of the required scopes")]
    Scope,
    /// A custom claim rule failed.
    #[error("claim {0:?} does not match the gateway's rule")]
    Custom(String),
}

/// The token's scopes: `scope` (space-separated, RFC 8693/9068) or `scp` (array or string).
pub fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_string)),
            Some(Value::Array(items)) => {
                out.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
            }
            _ => {}
        }
    }
    out
}

/// The token's client: `client_id`, else `azp`.
pub fn client(claims: &Map<String, Value>) -> Option<&str> {
    claims
        .get("client_id")
        .and_then(Value::as_str)
        .or_else(|| claims.get("azp").and_then(Value::as_str))
}

/// Applies the client, custom-claim and scope checks, in that order (a wrong client is a bad
/// token, 401; a missing scope on an otherwise acceptable token is a 403).
pub fn check(config: &JwtAuthorizer, claims: &Map<String, Value>) -> Result<(), ClaimError> {
    if !config.allowed_clients.is_empty() {
        let ok = ["client_id", "azp"].iter().any(|name| {
            claims
                .get(*name)
                .and_then(Value::as_str)
                .is_some_and(|c| config.allowed_clients.iter().any(|a| a == c))
        });
        if !ok {
            return Err(ClaimError::Client);
        }
    }
    for rule in &config.custom_claims {
        if !custom_claim_matches(rule, claims.get(&rule.name)) {
            return Err(ClaimError::Custom(rule.name.clone()));
        }
    }
    if !config.allowed_scopes.is_empty() {
        let have = scopes(claims);
        if !config.allowed_scopes.iter().any(|s| have.contains(s)) {
            return Err(ClaimError::Scope);
        }
    }
    Ok(())
}

/// One custom-claim rule. A claim of the wrong JSON type never matches.
pub fn custom_claim_matches(rule: &CustomClaim, value: Option<&Value>) -> bool {
    match (rule.value_type, rule.operator, value) {
        (ClaimValueType::String, ClaimOperator::Equals, Some(Value::String(s))) => {
            rule.value.as_deref() == Some(s.as_str())
        }
        (ClaimValueType::StringArray, ClaimOperator::Contains, Some(Value::Array(items))) => rule
            .value
            .as_deref()
            .is_some_and(|want| items.iter().any(|i| i.as_str() == Some(want))),
        (ClaimValueType::StringArray, ClaimOperator::ContainsAny, Some(Value::Array(items))) => {
            items
                .iter()
                .filter_map(Value::as_str)
                .any(|i| rule.values.iter().any(|v| v == i))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn authorizer() -> JwtAuthorizer {
        JwtAuthorizer {
            discovery_url: "https://idp/.well-known/openid-configuration".into(),
            allowed_audiences: vec![],
            allowed_clients: vec![],
            allowed_scopes: vec![],
            custom_claims: vec![],
        }
    }

    fn rule(
        name: &str,
        t: ClaimValueType,
        op: ClaimOperator,
        value: Option<&str>,
        values: &[&str],
    ) -> CustomClaim {
        CustomClaim {
            name: name.into(),
            value_type: t,
            operator: op,
            value: value.map(str::to_string),
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn scopes_from_scope_and_scp() {
        assert_eq!(scopes(&claims(json!({"scope": "a  b"}))), ["a", "b"]);
        assert_eq!(scopes(&claims(json!({"scp": ["a", 1, "c"]}))), ["a", "c"]);
        assert_eq!(scopes(&claims(json!({"scp": "x"}))), ["x"]);
        assert!(scopes(&claims(json!({"scope": 5}))).is_empty());
    }

    #[test]
    fn client_id_or_azp() {
        let mut a = authorizer();
        a.allowed_clients = vec!["agent".into()];
        assert_eq!(check(&a, &claims(json!({"client_id": "agent"}))), Ok(()));
        assert_eq!(check(&a, &claims(json!({"azp": "agent"}))), Ok(()));
        assert_eq!(
            check(&a, &claims(json!({"client_id": "other", "azp": "agent"}))),
            Ok(())
        );
        assert_eq!(
            check(&a, &claims(json!({"client_id": "other"}))),
            Err(ClaimError::Client)
        );
        assert_eq!(
            check(&a, &claims(json!({"client_id": ["agent"]}))),
            Err(ClaimError::Client)
        );
        assert_eq!(check(&a, &claims(json!({}))), Err(ClaimError::Client));
    }

    #[test]
    fn at_least_one_scope() {
        let mut a = authorizer();
        a.allowed_scopes = vec!["tools:call".into(), "admin".into()];
        assert_eq!(check(&a, &claims(json!({"scope": "read admin"}))), Ok(()));
        assert_eq!(
            check(&a, &claims(json!({"scope": "read tools:callx"}))),
            Err(ClaimError::Scope)
        );
        assert_eq!(check(&a, &claims(json!({}))), Err(ClaimError::Scope));
    }

    #[test]
    fn client_is_checked_before_scope() {
        let mut a = authorizer();
        a.allowed_clients = vec!["agent".into()];
        a.allowed_scopes = vec!["s".into()];
        assert_eq!(
            check(&a, &claims(json!({"client_id": "x"}))),
            Err(ClaimError::Client)
        );
        assert_eq!(
            check(&a, &claims(json!({"client_id": "agent"}))),
            Err(ClaimError::Scope)
        );
    }

    #[test]
    fn custom_string_equals() {
        let r = rule(
            "department",
            ClaimValueType::String,
            ClaimOperator::Equals,
            Some("sales"),
            &[],
        );
        assert!(custom_claim_matches(&r, Some(&json!("sales"))));
        assert!(!custom_claim_matches(&r, Some(&json!("Sales"))));
        assert!(!custom_claim_matches(&r, Some(&json!(["sales"]))));
        assert!(!custom_claim_matches(&r, None));
    }

    #[test]
    fn custom_array_contains() {
        let r = rule(
            "groups",
            ClaimValueType::StringArray,
            ClaimOperator::Contains,
            Some("ops"),
            &[],
        );
        assert!(custom_claim_matches(&r, Some(&json!(["dev", "ops"]))));
        assert!(!custom_claim_matches(&r, Some(&json!(["dev"]))));
        assert!(!custom_claim_matches(&r, Some(&json!("ops"))));
        assert!(!custom_claim_matches(&r, Some(&json!([]))));
    }

    #[test]
    fn custom_array_contains_any() {
        let r = rule(
            "groups",
            ClaimValueType::StringArray,
            ClaimOperator::ContainsAny,
            None,
            &["a", "b"],
        );
        assert!(custom_claim_matches(&r, Some(&json!(["x", "b"]))));
        assert!(!custom_claim_matches(&r, Some(&json!(["x", "y"]))));
        assert!(!custom_claim_matches(&r, Some(&json!("a"))));
    }

    #[test]
    fn mismatched_rule_shapes_never_match() {
        let r = rule(
            "d",
            ClaimValueType::String,
            ClaimOperator::Contains,
            Some("a"),
            &[],
        );
        assert!(!custom_claim_matches(&r, Some(&json!("a"))));
        assert!(!custom_claim_matches(&r, Some(&json!(["a"]))));
    }

    #[test]
    fn every_custom_rule_must_pass() {
        let mut a = authorizer();
        a.custom_claims = vec![
            rule(
                "department",
                ClaimValueType::String,
                ClaimOperator::Equals,
                Some("sales"),
                &[],
            ),
            rule(
                "groups",
                ClaimValueType::StringArray,
                ClaimOperator::Contains,
                Some("ops"),
                &[],
            ),
        ];
        assert_eq!(
            check(
                &a,
                &claims(json!({"department": "sales", "groups": ["ops"]}))
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &a,
                &claims(json!({"department": "sales", "groups": ["dev"]}))
            ),
            Err(ClaimError::Custom("groups".into()))
        );
    }
}

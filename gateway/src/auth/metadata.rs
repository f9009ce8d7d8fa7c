//! RFC 9728 (OAuth 2.0 Protected Resource Metadata) and RFC 6750 challenges: the document at
//! `/.well-known/oauth-protected-resource[/mcp]` that tells MCP clients which authorization
//! server issues tokens for this gateway, and the `WWW-Authenticate` values that point to it.

use serde_json::json;

use super::{AuthError, Authenticator};

/// Where this gateway is reached, from the (already validated) request: the scheme from
/// `X-Forwarded-Proto` (behind a TLS-terminating proxy) or `http`, and the `Host` header.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Host and port, as sent.
    pub host: String,
}

impl Origin {
    /// From the `X-Forwarded-Proto` and `Host` header values. Characters that cannot appear in a
    /// host are dropped, so the value is safe inside a quoted header parameter.
    pub fn new(forwarded_proto: Option<&str>, host: &str) -> Self {
        let scheme = match forwarded_proto.map(|p| p.trim().to_ascii_lowercase()) {
            Some(p) if p == "https" => "https",
            _ => "http",
        };
        let host = host
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            .collect();
        Origin { scheme, host }
    }

    /// The protected resource: the MCP endpoint.
    pub fn resource(&self) -> String {
        format!("{}://{}/mcp", self.scheme, self.host)
    }

    /// Its metadata URL (the path-suffixed form of RFC 9728 §3.1).
    pub fn metadata_url(&self) -> String {
        format!(
            "{}://{}/.well-known/oauth-protected-resource/mcp",
            self.scheme, self.host
        )
    }
}

/// The protected resource metadata document.
pub fn document(auth: &Authenticator, origin: &Origin, gateway_name: &str) -> serde_json::Value {
    let mut doc = json!({
        "resource": origin.resource(),
        "bearer_methods_supported": ["header"],
        "resource_name": gateway_name,
    });
    if let Authenticator::Jwt(v) = auth {
        let issuer = v
            .key_set()
            .current()
            .map(|k| k.issuer.clone())
            .unwrap_or_else(|| {
                v.config()
                    .discovery_url
                    .trim_end_matches("/.well-known/openid-configuration")
                    .to_string()
            });
        doc["authorization_servers"] = json!([issuer]);
    }
    let scopes = auth.scopes();
    if !scopes.is_empty() {
        doc["scopes_supported"] = json!(scopes);
    }
    doc
}

/// The `WWW-Authenticate` value for an authentication failure.
pub fn challenge(error: &AuthError, auth: &Authenticator, origin: &Origin) -> String {
    let mut parts: Vec<String> = Vec::new();
    match error {
        AuthError::Missing | AuthError::Unavailable(_) => {}
        AuthError::InvalidToken(reason) => {
            parts.push("error=\"invalid_token\"".into());
            parts.push(format!("error_description=\"{}\"", quoted(reason)));
        }
        AuthError::InsufficientScope => {
            parts.push("error=\"insufficient_scope\"".into());
            parts.push(format!(
                "error_description=\"{}\"",
                quoted(&error.to_string())
            ));
        }
    }
    parts.push(format!("resource_metadata=\"{}\"", origin.metadata_url()));
    let scopes = auth.scopes();
    if !scopes.is_empty() {
        parts.push(format!("scope=\"{}\"", quoted(&scopes.join(" "))));
    }
    format!("Bearer {}", parts.join(", "))
}

/// A value safe inside a quoted-string (RFC 9110): no `"` or `\`, printable ASCII only.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_and_urls() {
        let o = Origin::new(Some("HTTPS"), "gw.example.com:8443\"evil");
        assert_eq!(o.resource(), "https://gw.example.com:8443evil/mcp");
        let o = Origin::new(None, "127.0.0.1:8080");
        assert_eq!(
            o.metadata_url(),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn challenges() {
        let o = Origin::new(None, "localhost:1");
        let auth = Authenticator::None;
        assert_eq!(
            challenge(&AuthError::Missing, &auth, &o),
            "Bearer resource_metadata=\"http://localhost:1/.well-known/oauth-protected-resource/mcp\""
        );
        assert_eq!(
            challenge(&AuthError::invalid("bad \"x\""), &auth, &o),
            "Bearer error=\"invalid_token\", error_description=\"bad x\", resource_metadata=\"http://localhost:1/.well-known/oauth-protected-resource/mcp\""
        );
    }
}

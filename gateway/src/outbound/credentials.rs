//! A target's outbound credentials with their secret values resolved: what the invokers, the
//! upstream MCP sessions and the call logs use to authenticate (and redact). Built by the runtime
//! once per reload; this module knows nothing of the snapshot that holds them.

use std::sync::Arc;

use toolyard_compile::manifests::{SecretValue, SecretValues};
use toolyard_crds::config::{Endpoint, OutboundCredentials, TargetConfig};

/// Why a target's credentials could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A referenced secret value is missing.
    #[error(
        "targets[{target}].credentials: Secret {secret} has no key {key:?}; create it or fix the reference"
    )]
    MissingSecret {
        /// Target name.
        target: String,
        /// Secret name.
        secret: String,
        /// Key.
        key: String,
    },
}

/// Credentials with secret values resolved.
#[derive(Clone, Debug)]
pub enum ResolvedCredentials {
    /// A static key sent in a header or query parameter.
    ApiKey {
        /// `true`: header; `false`: query parameter.
        in_header: bool,
        /// Header or parameter name.
        name: String,
        /// Prefix + key.
        value: SecretValue,
    },
    /// AWS SigV4 with the gateway's AWS identity (`gatewayIamRole`; Lambda targets default to
    /// it with service `lambda` and the function's region).
    AwsSigV4(crate::aws::Signer),
    /// OAuth 2.0 client credentials: a cached, refreshed token source (kept across reloads
    /// while its settings are unchanged).
    OAuth2(Arc<crate::outbound::oauth2::TokenSource>),
    /// Not yet supported by this data plane: calls fail with this message.
    Unsupported(String),
}

/// The target's outbound credentials with secret values filled in (an OAuth2 token source is
/// reused from `previous`, the same target's credentials in the previous snapshot, while its
/// settings are unchanged).
pub fn resolve_credentials(
    target: &TargetConfig,
    secrets: &SecretValues,
    previous: Option<&ResolvedCredentials>,
) -> Result<Option<ResolvedCredentials>, CredentialsError> {
    Ok(match &target.credentials {
        Some(OutboundCredentials::ApiKey {
            value,
            location,
            parameter_name,
            prefix,
        }) => {
            let secret = secrets
                .get(&(value.secret.clone(), value.key.clone()))
                .ok_or_else(|| CredentialsError::MissingSecret {
                    target: target.name.clone(),
                    secret: value.secret.clone(),
                    key: value.key.clone(),
                })?;
            Some(ResolvedCredentials::ApiKey {
                in_header: *location == toolyard_crds::target::ApiKeyLocation::Header,
                name: parameter_name.clone(),
                value: SecretValue(format!(
                    "{prefix}{}",
                    secret.0.trim_end_matches(['\n', '\r'])
                )),
            })
        }
        Some(OutboundCredentials::OAuth2 { .. }) => {
            Some(oauth2_credentials(target, secrets, previous)?)
        }
        Some(OutboundCredentials::AwsSigV4 { service, region }) => Some(
            ResolvedCredentials::AwsSigV4(crate::aws::Signer::new(service, region)),
        ),
        // Lambda is only reachable with SigV4: without explicit credentials a Lambda target
        // signs for `lambda` in the function's region (AgentCore's GATEWAY_IAM_ROLE default).
        None => match &target.endpoint {
            Endpoint::Lambda { region, .. } => Some(ResolvedCredentials::AwsSigV4(
                crate::aws::Signer::new("lambda", region),
            )),
            _ => None,
        },
    })
}

/// The OAuth2 token source of a target, reusing the previous snapshot's (and so its cached
/// token) when every setting, secrets included, is unchanged.
fn oauth2_credentials(
    target: &TargetConfig,
    secrets: &SecretValues,
    previous: Option<&ResolvedCredentials>,
) -> Result<ResolvedCredentials, CredentialsError> {
    use crate::outbound::oauth2::{OAuth2Settings, TokenSource};
    let Some(OutboundCredentials::OAuth2 {
        token_url,
        discovery_url,
        client_id,
        client_id_ref,
        client_secret,
        auth_method,
        scopes,
        audience,
        resource,
        custom_parameters,
    }) = &target.credentials
    else {
        return Ok(ResolvedCredentials::Unsupported(
            "the target has no OAuth2 credentials".into(),
        ));
    };
    let lookup = |r: &toolyard_crds::config::SecretValueRef| {
        secrets
            .get(&(r.secret.clone(), r.key.clone()))
            .map(|v| SecretValue(v.0.trim_end_matches(['\n', '\r']).to_string()))
            .ok_or_else(|| CredentialsError::MissingSecret {
                target: target.name.clone(),
                secret: r.secret.clone(),
                key: r.key.clone(),
            })
    };
    let client_id = match (client_id, client_id_ref) {
        (Some(id), _) => SecretValue(id.clone()),
        (None, Some(r)) => lookup(r)?,
        (None, None) => SecretValue(String::new()),
    };
    let settings = OAuth2Settings {
        token_url: token_url.clone(),
        discovery_url: discovery_url.clone(),
        client_id,
        client_secret: lookup(client_secret)?,
        auth_method: *auth_method,
        scopes: scopes.clone(),
        audience: audience.clone(),
        resource: resource.clone(),
        custom_parameters: custom_parameters.clone(),
    };
    let fingerprint = settings.fingerprint();
    let reused = previous.and_then(|p| match p {
        ResolvedCredentials::OAuth2(source) if source.fingerprint() == fingerprint => {
            Some(source.clone())
        }
        _ => None,
    });
    Ok(ResolvedCredentials::OAuth2(
        reused.unwrap_or_else(|| Arc::new(TokenSource::new(settings))),
    ))
}

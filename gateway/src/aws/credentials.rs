//! The process-wide AWS credential provider: the SDK's default chain, built once, cached.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use tokio::sync::{Mutex, OnceCell, RwLock};

use super::Error;

/// Credentials are refreshed this long before they expire, so a signed request never carries
/// credentials that expire while it is in flight (the SDKs use the same kind of margin).
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Longest wait for the chain (instance metadata retries can otherwise hold a call for long).
const CHAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// The chain plus the last credentials it gave.
struct Provider {
    chain: OnceCell<SharedCredentialsProvider>,
    cached: RwLock<Option<Credentials>>,
    /// Held while a refresh runs: concurrent callers wait for it instead of hitting the chain.
    refreshing: Mutex<()>,
}

fn provider() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| Provider {
        chain: OnceCell::new(),
        cached: RwLock::new(None),
        refreshing: Mutex::new(()),
    })
}

/// Whether `creds` can still be used for a request signed now.
fn fresh(creds: &Credentials, now: SystemTime) -> bool {
    creds
        .expiry()
        .is_none_or(|expiry| now + REFRESH_MARGIN < expiry)
}

/// The gateway's current AWS credentials from the default chain (environment, web identity /
/// IRSA, EKS Pod Identity, ECS, IMDS). The chain is built on first use (the gateway does not need
/// AWS access unless a target signs requests) and its answer is cached until 5 minutes before
/// expiry; only one refresh runs at a time.
pub async fn credentials() -> Result<Credentials, Error> {
    let p = provider();
    if let Some(c) = p.cached.read().await.as_ref()
        && fresh(c, SystemTime::now())
    {
        return Ok(c.clone());
    }
    // Boxed: the refresh (the SDK's chain) is a future of kilobytes that every signed call would
    // otherwise carry and move, though it runs once an hour.
    Box::pin(refresh(p)).await
}

/// Asks the default chain for new credentials (one refresh at a time) and caches them.
async fn refresh(p: &'static Provider) -> Result<Credentials, Error> {
    let _guard = p.refreshing.lock().await;
    // Another caller may have refreshed while this one waited.
    if let Some(c) = p.cached.read().await.as_ref()
        && fresh(c, SystemTime::now())
    {
        return Ok(c.clone());
    }
    let chain = p
        .chain
        .get_or_init(|| async {
            // The region here only matters to providers that call AWS (web identity → STS); it
            // is the pod's (AWS_REGION, injected by IRSA / Pod Identity), else us-east-1, whose
            // STS endpoint serves every commercial-partition account. Signing regions are per
            // target.
            let region = aws_config::meta::region::RegionProviderChain::default_provider()
                .or_else("us-east-1");
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(region)
                .load()
                .await;
            config
                .credentials_provider()
                .unwrap_or_else(|| SharedCredentialsProvider::new(NoChain))
        })
        .await;
    let creds = tokio::time::timeout(CHAIN_TIMEOUT, chain.provide_credentials())
        .await
        .map_err(|_| {
            Error::Credentials(format!(
                "the default credential chain did not answer within {} s",
                CHAIN_TIMEOUT.as_secs()
            ))
        })?
        // The SDK's credential errors describe which provider failed and why; they do not
        // contain secret values.
        .map_err(|e| Error::Credentials(error_chain(&e)))?;
    *p.cached.write().await = Some(creds.clone());
    Ok(creds)
}

/// An error and its sources on one line (the SDK's top-level messages are terse).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let message = s.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = s.source();
    }
    text
}

/// Stands in when the SDK config has no credentials provider at all (never with the default
/// loader, but the type allows it).
#[derive(Debug)]
struct NoChain;

impl ProvideCredentials for NoChain {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(
            aws_credential_types::provider::error::CredentialsError::not_loaded(
                "the AWS SDK configuration has no credentials provider",
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_near_expiry_are_refreshed() {
        let now = SystemTime::now();
        let long = Credentials::new(
            "AKID",
            "secret",
            None,
            Some(now + Duration::from_secs(3600)),
            "t",
        );
        let short = Credentials::new(
            "AKID",
            "secret",
            None,
            Some(now + Duration::from_secs(60)),
            "t",
        );
        let forever = Credentials::new("AKID", "secret", None, None, "t");
        assert!(fresh(&long, now));
        assert!(!fresh(&short, now));
        assert!(fresh(&forever, now));
    }

    #[test]
    fn error_chain_joins_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("inner reason")]
        struct Inner;
        assert_eq!(error_chain(&Outer(Inner)), "outer: inner reason");
    }
}

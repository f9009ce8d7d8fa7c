//! AWS request signing with the pod's AWS identity.
//!
//! Lambda targets, `gatewayIamRole` credentials on HTTP targets and Smithy (AWS protocol) targets
//! all sign their requests the same way: SigV4 with a service (signing) name and a region, using
//! credentials from the AWS SDK for Rust's default chain (environment variables, web identity /
//! IRSA, EKS Pod Identity, ECS container credentials, instance metadata).
//!
//! The API is deliberately small and stable:
//!
//! - [`credentials`]: the process-wide provider's current credentials. The chain is built lazily on
//!   first use and its result cached until shortly before it expires; refreshes are single-flight.
//! - [`Signer`]: `Signer::new(service, region)` then `signer.sign(&mut request).await` signs a
//!   `reqwest::Request` in place (body bytes included). [`Signer::sign_with`] signs with given
//!   credentials at a given time (tests, or callers that manage their own identity).
//!
//! Secret values (secret access key, session token) never appear in this module's errors or
//! `Debug` output: `Credentials` redacts them and errors only name what failed.

mod credentials;
mod signer;

pub use aws_credential_types::Credentials;
pub use credentials::credentials;
pub use signer::Signer;

/// Why an AWS request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The default credential chain found no usable credentials (or a provider failed).
    #[error(
        "no AWS credentials for the gateway: {0}. Give the gateway's pod an AWS identity (IRSA, EKS Pod Identity, instance profile) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    Credentials(String),
    /// The request body is a stream, whose bytes SigV4 cannot hash without buffering it.
    #[error("SigV4 signing needs the request body as bytes, not a stream")]
    StreamingBody,
    /// The signer rejected the request (e.g. an invalid URL or header value).
    #[error("SigV4 signing failed: {0}")]
    Signing(String),
}

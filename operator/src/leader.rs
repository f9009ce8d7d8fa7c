//! Leader election with a `coordination.k8s.io/v1` Lease, so two operator replicas never reconcile
//! at once. kube-runtime has none built in; this is the client-go algorithm, reduced:
//!
//! - acquire: take the Lease when it is free, expired, or already ours; retry every `retry`;
//! - hold: renew every `renew`; when a renewal has not succeeded for `duration`, leadership is
//!   lost and [`hold`] returns (the process then exits, and Kubernetes restarts it as a follower).
//!
//! Updates use `replace` with the read `resourceVersion`: a compare-and-swap, which is exactly
//! what a lock needs (server-side apply would let two candidates both "win").

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

/// Lease settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Lease name.
    pub name: String,
    /// Lease namespace.
    pub namespace: String,
    /// This candidate's identity (pod name).
    pub identity: String,
    /// How long a lease is valid without renewal.
    pub duration: Duration,
    /// How often the leader renews.
    pub renew: Duration,
    /// How often a follower retries.
    pub retry: Duration,
}

/// Why leadership could not be held.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another candidate took the lease.
    #[error("lost the lease {name} to {holder}")]
    Lost {
        /// Lease name.
        name: String,
        /// The new holder.
        holder: String,
    },
    /// Renewals kept failing for longer than the lease duration.
    #[error("could not renew the lease {name} for {secs}s")]
    Expired {
        /// Lease name.
        name: String,
        /// Seconds without renewal.
        secs: u64,
        /// The last API error.
        #[source]
        source: Option<kube::Error>,
    },
}

/// The outcome of one attempt.
enum Attempt {
    Held,
    HeldBy(String),
}

/// Waits until this candidate holds the lease.
pub async fn acquire(client: &Client, config: &Config) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &config.namespace);
    let mut last_holder = String::new();
    loop {
        match try_acquire(&api, config).await {
            Ok(Attempt::Held) => {
                tracing::info!(lease = %config.name, identity = %config.identity, "became the leader");
                return;
            }
            Ok(Attempt::HeldBy(holder)) => {
                if holder != last_holder {
                    tracing::info!(lease = %config.name, %holder, "waiting for leadership");
                    last_holder = holder;
                }
            }
            Err(e) => {
                tracing::warn!(lease = %config.name, error = %e, "leader election attempt failed")
            }
        }
        tokio::time::sleep(config.retry).await;
    }
}

/// Renews the lease until leadership is lost; returns why.
pub async fn hold(client: Client, config: Config) -> Error {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    let mut last_success = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(config.renew).await;
        match try_acquire(&api, &config).await {
            Ok(Attempt::Held) => last_success = tokio::time::Instant::now(),
            Ok(Attempt::HeldBy(holder)) => {
                return Error::Lost {
                    name: config.name.clone(),
                    holder,
                };
            }
            Err(e) => {
                tracing::warn!(lease = %config.name, error = %e, "failed to renew the lease");
                if last_success.elapsed() >= config.duration {
                    return Error::Expired {
                        name: config.name.clone(),
                        secs: config.duration.as_secs(),
                        source: Some(e),
                    };
                }
            }
        }
    }
}

/// Releases the lease (on shutdown), so a follower takes over without waiting for expiry.
pub async fn release(client: &Client, config: &Config) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &config.namespace);
    if let Ok(Some(mut lease)) = api.get_opt(&config.name).await
        && let Some(spec) = lease.spec.as_mut()
        && spec.holder_identity.as_deref() == Some(config.identity.as_str())
    {
        spec.holder_identity = None;
        spec.renew_time = None;
        let _ = api
            .replace(&config.name, &PostParams::default(), &lease)
            .await;
    }
}

async fn try_acquire(api: &Api<Lease>, config: &Config) -> Result<Attempt, kube::Error> {
    let now = Timestamp::now();
    let duration_secs = config.duration.as_secs().max(1) as i32;
    let Some(mut lease) = api.get_opt(&config.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(config.name.clone()),
                namespace: Some(config.namespace.clone()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(config.identity.clone()),
                lease_duration_seconds: Some(duration_secs),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(Attempt::Held),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                Ok(Attempt::HeldBy("another candidate".into()))
            }
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(Default::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let ours = holder == config.identity;
    let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
        (Some(MicroTime(renewed)), Some(secs)) => {
            *renewed + SignedDuration::from_secs(i64::from(secs)) < now
        }
        _ => true,
    };
    if !ours && !holder.is_empty() && !expired {
        return Ok(Attempt::HeldBy(holder));
    }
    if !ours {
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.holder_identity = Some(config.identity.clone());
    spec.lease_duration_seconds = Some(duration_secs);
    spec.renew_time = Some(MicroTime(now));
    match api
        .replace(&config.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(Attempt::Held),
        // Someone else wrote the lease between our read and write.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            Ok(Attempt::HeldBy("another candidate".into()))
        }
        Err(e) => Err(e),
    }
}

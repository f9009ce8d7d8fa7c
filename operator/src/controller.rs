//! The Gateway controller: one pipeline per Gateway,
//! dereference → compile → render → apply → status.
//!
//! - **dereference** ([`crate::dereference`]): the Gateway's targets come from the controller's
//!   cache; the ConfigMap and Secret keys they reference are read from the API.
//! - **compile**: the shared, pure compile library of the gateway crate, with the gateway's own
//!   credentials Secret as the home of every secret reference. A bad target is left out and
//!   reported; only a bad Gateway spec stops the pipeline (status, then wait for a change).
//! - **render** ([`crate::render`]): the children, each stamped with a hash of its content.
//! - **apply**: server-side apply with one field manager, only for children whose stored hash (or,
//!   for the Secret, data) differs, so a reconcile that changes nothing writes nothing.
//! - **status** ([`crate::status`]): Gateway and GatewayTarget status, written only when it
//!   differs from the stored one; Events on `Ready` transitions.
//!
//! Triggers: the Gateway, its children (owner references), its GatewayTargets (by `gatewayRef`),
//! ConfigMaps/Secrets referenced by its targets or itself (metadata-only watches), and its pods and
//! ReplicaSets. Pods are cached whole (their readiness and container states are in `status`;
//! the cache drops `spec` and managed fields) and ReplicaSets as metadata, both only those
//! labelled `app.kubernetes.io/name=toolyard-gateway`: a reconcile reads them from the caches,
//! without an API call.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::core::{
    DeserializeGuard, NamespaceResourceScope, PartialObjectMeta, error_boundary::InvalidObject,
};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use toolyard_compile::gateway::{CompileContext, compile};
use toolyard_crds::refs::conditions::READY;
use toolyard_crds::served::{
    SERVED_ANNOTATION_PREFIX, SYNC_ANNOTATION_PREFIX, SyncReport, replica_key,
};
use toolyard_crds::target::TargetKind;
use toolyard_crds::{Gateway, GatewayTarget, ToolPolicy};

use crate::admin::Metrics;
use crate::auth_delegator;
use crate::dereference::{self, gateway_references, target_references};
use crate::render::{self, Children, DESIRED_HASH_ANNOTATION, Names};
use crate::status::{self, GatewayOutcome};

/// The one field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "toolyard-operator";
/// Resync period of a healthy Gateway.
const RESYNC: Duration = Duration::from_secs(300);
/// Retry delay after a transient error.
const RETRY: Duration = Duration::from_secs(5);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Gateway object does not match the API (skipped until it changes).
    #[error("Gateway object is malformed")]
    InvalidObject(#[source] Box<InvalidObject>),
    /// The object lacks a name, namespace or uid.
    #[error("object has no {0}")]
    MissingMetadata(&'static str),
    /// Reading referenced objects failed.
    #[error("failed to read referenced objects")]
    Dereference(#[from] dereference::Error),
    /// Rendering failed.
    #[error("failed to render the gateway's children")]
    Render(#[from] render::Error),
    /// The `system:auth-delegator` binding of a TokenReview Gateway could not be removed.
    #[error("failed to remove the auth-delegator binding")]
    AuthDelegator(#[from] crate::auth_delegator::Error),
    /// Adding or removing the Gateway's finalizer failed.
    #[error(
        "failed to {action} the finalizer {}",
        crate::auth_delegator::FINALIZER
    )]
    Finalizer {
        /// `add` or `remove`.
        action: &'static str,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// An API call on a child or status failed.
    #[error("failed to {action} {kind} {name}")]
    Kube {
        /// `apply`, `read`, `list`, `write`, `create`, `delete` or `write the status of`.
        action: &'static str,
        /// Kind of the object.
        kind: &'static str,
        /// Name of the object.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The system random source failed.
    #[error("cannot generate {0}: the system random source failed")]
    Random(&'static str),
}

impl Error {
    /// A stable label for logs, metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::InvalidObject(_) => "InvalidObject",
            Error::MissingMetadata(_) => "MissingMetadata",
            Error::Dereference(_) => "DereferenceFailed",
            Error::Render(_) => "RenderFailed",
            Error::AuthDelegator(_) => "AuthDelegatorBindingFailed",
            Error::Finalizer { .. } => "FinalizerFailed",
            Error::Kube {
                action: "apply", ..
            } => "ApplyFailed",
            Error::Kube {
                action: "write the status of",
                ..
            } => "StatusFailed",
            Error::Kube { .. } => "ApiFailed",
            Error::Random(_) => "RandomFailed",
        }
    }
}

/// Shared state of every reconcile.
pub struct Context {
    /// API client.
    pub client: Client,
    /// HTTP client for schema URLs.
    pub http: reqwest::Client,
    /// Render settings (gateway image, …).
    pub settings: render::Settings,
    /// Cache of every GatewayTarget in the watched namespaces.
    pub targets: Store<DeserializeGuard<GatewayTarget>>,
    /// Cache of every ToolPolicy in the watched namespaces.
    pub policies: Store<DeserializeGuard<ToolPolicy>>,
    /// Cache of the gateway pods (without `spec`).
    pub pods: Store<Pod>,
    /// Cache of the gateway ReplicaSets' metadata.
    pub replica_sets: Store<PartialObjectMeta<ReplicaSet>>,
    /// Publishes Events.
    pub recorder: Recorder,
    /// Reconcile and write counters.
    pub metrics: Arc<Metrics>,
}

/// Reconciles one Gateway. A Gateway that verifies ServiceAccount tokens with TokenReview
/// also gets the `system:auth-delegator` binding and the finalizer that removes it (see
/// [`crate::auth_delegator`]); the finalizer stays only while the Gateway uses TokenReview.
pub async fn reconcile(
    obj: Arc<DeserializeGuard<Gateway>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let gateway = match &obj.0 {
        Ok(g) => g,
        Err(invalid) => return Err(Error::InvalidObject(Box::new(invalid.clone()))),
    };
    let wants_binding = auth_delegator::uses_token_review(gateway);
    let has_finalizer = gateway
        .finalizers()
        .iter()
        .any(|f| f == auth_delegator::FINALIZER);
    if !wants_binding && !has_finalizer {
        return reconcile_gateway(gateway, &ctx).await;
    }
    let (name, namespace) = name_and_namespace(gateway).map_err(Error::MissingMetadata)?;
    let api: Api<Gateway> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer::finalizer(
        &api,
        auth_delegator::FINALIZER,
        Arc::new(gateway.clone()),
        |event| async {
            match event {
                finalizer::Event::Apply(g) if wants_binding => {
                    let sa = Names::of(&name).service_account;
                    let bound = auth_delegator::ensure(
                        &ctx.client,
                        FIELD_MANAGER,
                        &namespace,
                        &name,
                        &sa,
                    )
                    .await;
                    match bound {
                        Ok(wrote) => {
                            if wrote {
                                ctx.metrics.wrote();
                            }
                            reconcile_gateway(&g, &ctx).await
                        }
                        Err(e) => {
                            // Usually the operator's RBAC: say so on the Gateway, retry later.
                            let message = e.to_string();
                            tracing::warn!(gateway = %name, %namespace, error = %message, "cannot bind the gateway's ServiceAccount to system:auth-delegator");
                            let now = Time(k8s_openapi::jiff::Timestamp::now());
                            write_gateway_status(
                                &ctx,
                                &g,
                                GatewayOutcome::Failed {
                                    reason: "AuthDelegatorBindingFailed",
                                    message: &message,
                                },
                                &now,
                            )
                            .await?;
                            Ok(Action::requeue(RETRY * 6))
                        }
                    }
                }
                // No longer TokenReview: drop the binding, then the finalizer.
                finalizer::Event::Apply(g) => {
                    if auth_delegator::remove(&ctx.client, &namespace, &name).await? {
                        ctx.metrics.wrote();
                    }
                    remove_finalizer(&api, &g).await?;
                    ctx.metrics.wrote();
                    reconcile_gateway(&g, &ctx).await
                }
                finalizer::Event::Cleanup(_) => {
                    if auth_delegator::remove(&ctx.client, &namespace, &name).await? {
                        ctx.metrics.wrote();
                    }
                    Ok(Action::await_change())
                }
            }
        },
    )
    .await;
    result.map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
        finalizer::Error::AddFinalizer(source) => Error::Finalizer {
            action: "add",
            source,
        },
        finalizer::Error::RemoveFinalizer(source) => Error::Finalizer {
            action: "remove",
            source,
        },
        finalizer::Error::UnnamedObject | finalizer::Error::InvalidFinalizer => {
            Error::MissingMetadata("name")
        }
    })
}

/// Removes [`auth_delegator::FINALIZER`] from `gateway`: a merge patch of the remaining list
/// with the stored `resourceVersion` as precondition, so a concurrent change of the list fails
/// (and is retried) instead of being overwritten.
async fn remove_finalizer(api: &Api<Gateway>, gateway: &Gateway) -> Result<(), Error> {
    let rest: Vec<&String> = gateway
        .finalizers()
        .iter()
        .filter(|f| *f != auth_delegator::FINALIZER)
        .collect();
    let patch = json!({"metadata": {
        "resourceVersion": gateway.resource_version(),
        "finalizers": rest,
    }});
    api.patch(
        &gateway.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|source| Error::Finalizer {
        action: "remove",
        source,
    })?;
    Ok(())
}

/// A stored Gateway's name and namespace (the API server always sets both; a missing one is an
/// error, not a panic). The error names the missing field.
fn name_and_namespace(gateway: &Gateway) -> Result<(String, String), &'static str> {
    let name = gateway.metadata.name.clone().ok_or("name")?;
    let namespace = gateway.metadata.namespace.clone().ok_or("namespace")?;
    Ok((name, namespace))
}

/// The pipeline of one Gateway: dereference → compile → render → apply → status.
async fn reconcile_gateway(gateway: &Gateway, ctx: &Context) -> Result<Action, Error> {
    let (name, namespace) = name_and_namespace(gateway).map_err(Error::MissingMetadata)?;
    let names = Names::of(&name);
    let now = Time(k8s_openapi::jiff::Timestamp::now());

    // 1. dereference. Until the GatewayTarget cache has its first full list, a Gateway would
    // look target-less and its gateway would be emptied for a moment.
    if !ready(&ctx.targets).await {
        return Ok(Action::requeue(RETRY));
    }
    let mut targets: Vec<GatewayTarget> = ctx
        .targets
        .state()
        .iter()
        .filter_map(|t| t.0.as_ref().ok())
        .filter(|t| {
            t.metadata.namespace.as_deref() == Some(namespace.as_str())
                && t.spec.gateway_ref.name == name
        })
        .cloned()
        .collect();
    targets.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut refs = gateway_references(&gateway.spec);
    for t in &targets {
        let r = target_references(&t.spec);
        refs.config_maps.extend(r.config_maps);
        refs.secrets.extend(r.secrets);
        refs.urls.extend(r.urls);
    }
    let resolved = dereference::resolve(&ctx.client, &ctx.http, &namespace, &refs).await?;

    // 2. compile
    let compile_ctx = CompileContext {
        extra_allowed_hosts: render::service_hosts(&name, &namespace),
        credentials_secret: Some(names.secret.clone()),
    };
    let mut compiled = match compile(gateway, &targets, &resolved.refs, &compile_ctx) {
        Ok(c) => c,
        Err(e) => {
            let message = e.to_string();
            tracing::warn!(gateway = %name, %namespace, error = %message, "Gateway spec is invalid");
            write_gateway_status(
                ctx,
                gateway,
                GatewayOutcome::Failed {
                    reason: "InvalidSpec",
                    message: &message,
                },
                &now,
            )
            .await?;
            for t in &targets {
                let s = status::blocked_target_status(
                    t.status.as_ref(),
                    t.metadata.generation,
                    t.spec.kind(),
                    "GatewayInvalid",
                    &format!("Gateway {name} is invalid: {message}"),
                    &now,
                );
                write_target_status(ctx, t, s).await?;
            }
            return Ok(Action::await_change());
        }
    };

    // 2b. policies: each ToolPolicy is validated against the schema of the compiled tools; an
    // invalid one keeps serving its last accepted policies (see `policy::attach`).
    if !ready(&ctx.policies).await {
        return Ok(Action::requeue(RETRY));
    }
    let policies: Vec<ToolPolicy> = ctx
        .policies
        .state()
        .iter()
        .filter_map(|p| p.0.as_ref().ok())
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace.as_str()))
        .cloned()
        .collect();
    let policy_reports = toolyard_compile::policy::attach(&mut compiled.config, &policies);

    // 3. render (only the secret values of targets that compiled reach the gateway's Secret)
    let mut used: BTreeSet<(String, String)> = gateway_references(&gateway.spec).secrets;
    for report in compiled.targets.iter().filter(|r| r.outcome.is_ok()) {
        if let Some(t) = targets
            .iter()
            .find(|t| t.metadata.name.as_deref() == Some(report.name.as_str()))
        {
            used.extend(target_references(&t.spec).secrets);
        }
    }
    let credentials = dereference::credentials(&used, &resolved);
    let children = match render::render(gateway, &compiled.config, &credentials, &ctx.settings) {
        Ok(c) => c,
        Err(e @ render::Error::ConfigTooLarge { .. }) => {
            let message = e.to_string();
            write_gateway_status(
                ctx,
                gateway,
                GatewayOutcome::Failed {
                    reason: "ConfigTooLarge",
                    message: &message,
                },
                &now,
            )
            .await?;
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e.into()),
    };

    // 4. apply
    let (config_map, deployment) =
        apply_children(&ctx.client, &ctx.metrics, &namespace, &children).await?;
    let (replicas, syncs) =
        replica_reports(ctx, &namespace, &name, &config_map, &deployment).await?;

    // 5. status
    let failed_targets = compiled
        .targets
        .iter()
        .filter(|r| r.outcome.is_err())
        .count();
    let outcome = GatewayOutcome::Applied {
        config: &compiled.config,
        failed_targets,
        replicas: &replicas,
    };
    write_gateway_status(ctx, gateway, outcome, &now).await?;
    let programmed = replicas.serving(&compiled.config.revision).programmed;
    for report in &compiled.targets {
        if let Some(t) = targets
            .iter()
            .find(|t| t.metadata.name.as_deref() == Some(report.name.as_str()))
        {
            let mut s = status::target_status(
                t.status.as_ref(),
                t.metadata.generation,
                &name,
                report,
                programmed,
                &now,
            );
            if report.kind == Some(TargetKind::McpServer) && report.outcome.is_ok() {
                let state = crate::sync::target_sync(
                    &replicas,
                    &syncs,
                    &compiled.config.revision,
                    &report.name,
                );
                crate::sync::apply(&mut s, t.status.as_ref(), &state, &now);
            }
            write_target_status(ctx, t, s).await?;
        }
    }
    for report in &policy_reports {
        if let Some(p) = policies
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(report.name.as_str()))
        {
            if let Err(e) = &report.outcome {
                tracing::warn!(gateway = %name, %namespace, policy = %report.name, error = %e, "ToolPolicy is invalid");
            }
            let new = status::policy_status(p.status.as_ref(), p.metadata.generation, report, &now);
            let old = p.status.as_ref().map(|s| (s, s.conditions.as_slice()));
            write_status(ctx, p, "ToolPolicy", old, (&new, &new.conditions)).await?;
        }
    }
    Ok(Action::requeue(RESYNC))
}

/// What the gateway's replicas report serving: the `served.toolyard.dev/*` annotations of its
/// config ConfigMap, and the pods of its current Deployment (see [`crate::pods`]); and their
/// upstream sync results (`sync.toolyard.dev/*`, by replica key; a report that does not parse is
/// ignored). Reports of pods that no longer exist are removed (only while some current pod is
/// ready: gateways run outside the Deployment, as in the test cluster, have no pod to match).
async fn replica_reports(
    ctx: &Context,
    namespace: &str,
    gateway: &str,
    config_map: &ConfigMap,
    deployment: &Deployment,
) -> Result<(status::Replicas, BTreeMap<String, SyncReport>), Error> {
    let reports: BTreeMap<String, String> = config_map
        .annotations()
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(SERVED_ANNOTATION_PREFIX)
                .map(|key| (key.to_string(), v.clone()))
        })
        .collect();
    let syncs: BTreeMap<String, SyncReport> = config_map
        .annotations()
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix(SYNC_ANNOTATION_PREFIX)?;
            match serde_json::from_str(v) {
                Ok(report) => Some((key.to_string(), report)),
                Err(e) => {
                    tracing::warn!(%gateway, annotation = %k, error = %e, "ignoring an upstream sync report that does not parse");
                    None
                }
            }
        })
        .collect();
    // Until both caches have their first full list they may miss pods: nothing is ready then
    // (Programmed waits), and no report is removed as stale. Their first list triggers
    // another reconcile.
    let caches_ready = listed(&ctx.pods) && listed(&ctx.replica_sets);
    let selector = render::selector_labels(gateway);
    let selected =
        |labels: &BTreeMap<String, String>| selector.iter().all(|(k, v)| labels.get(k) == Some(v));
    let pods: Vec<Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace) && selected(p.labels()))
        .collect();
    let sets: Vec<Arc<PartialObjectMeta<ReplicaSet>>> = ctx
        .replica_sets
        .state()
        .into_iter()
        .filter(|r| r.metadata.namespace.as_deref() == Some(namespace) && selected(r.labels()))
        .collect();
    let hash = crate::pods::current_template_hash(deployment, sets.iter().map(|r| &r.metadata));
    let current = crate::pods::current_pods(hash.as_deref(), pods.iter().map(|p| p.as_ref()));
    let existing: BTreeSet<String> = pods.iter().map(|p| replica_key(&p.name_any())).collect();
    let stale: BTreeSet<&String> = reports
        .keys()
        .chain(syncs.keys())
        .filter(|k| !existing.contains(*k))
        .collect();
    let some_ready = current.iter().any(|p| p.ready);
    if caches_ready && some_ready && !stale.is_empty() {
        let removals: serde_json::Map<String, serde_json::Value> = stale
            .iter()
            .flat_map(|k| {
                [
                    format!("{SERVED_ANNOTATION_PREFIX}{k}"),
                    format!("{SYNC_ANNOTATION_PREFIX}{k}"),
                ]
            })
            .filter(|key| config_map.annotations().contains_key(key))
            .map(|key| (key, serde_json::Value::Null))
            .collect();
        let cm_name = config_map.name_any();
        tracing::debug!(%gateway, stale = ?stale, "removing the served reports of gone pods");
        ctx.metrics.wrote();
        Api::<ConfigMap>::namespaced(ctx.client.clone(), namespace)
            .patch(
                &cm_name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": removals}})),
            )
            .await
            .map_err(|source| kube_error("write", "ConfigMap", &cm_name, source))?;
    }
    Ok((
        status::Replicas {
            reports,
            pods: current,
        },
        syncs,
    ))
}

/// [`reconcile`], counted and timed in the operator's metrics.
async fn timed_reconcile(
    obj: Arc<DeserializeGuard<Gateway>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let start = std::time::Instant::now();
    let result = reconcile(obj, ctx.clone()).await;
    ctx.metrics
        .reconciled(start.elapsed(), result.as_ref().err().map(Error::category));
    result
}

/// Waits until a cache has its first full list; false if its writer is gone.
///
/// `Store::wait_until_ready` wakes only the last of several concurrent waiters (one oneshot
/// receiver shared by all), so each wait is bounded and retried: a re-poll sees the value.
async fn ready<K>(store: &Store<K>) -> bool
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    for _ in 0..600 {
        match tokio::time::timeout(Duration::from_millis(100), store.wait_until_ready()).await {
            Ok(r) => return r.is_ok(),
            Err(_) => continue,
        }
    }
    false
}

/// Whether a cache has its first full list, without waiting.
fn listed<K>(store: &Store<K>) -> bool
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    futures::FutureExt::now_or_never(store.wait_until_ready()).is_some_and(|r| r.is_ok())
}

/// Malformed objects wait for a change; everything else is retried.
pub fn error_policy(
    obj: Arc<DeserializeGuard<Gateway>>,
    error: &Error,
    _ctx: Arc<Context>,
) -> Action {
    let name = obj.name_any();
    match error {
        Error::InvalidObject(e) => {
            tracing::warn!(gateway = %name, error = %e, "skipping a malformed Gateway until it changes");
            Action::await_change()
        }
        other => {
            tracing::warn!(gateway = %name, category = other.category(), error = %error_chain(other), "reconcile failed; retrying");
            Action::requeue(RETRY)
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// Applies every child whose content changed; returns the config ConfigMap and the Deployment
/// as stored.
async fn apply_children(
    client: &Client,
    metrics: &Metrics,
    namespace: &str,
    c: &Children,
) -> Result<(ConfigMap, Deployment), Error> {
    // Parts first: a gateway that sees a new manifest must find its parts.
    for part in &c.config_parts {
        apply_if_changed(client, metrics, namespace, part, |_, _| true).await?;
    }
    let config_map =
        apply_if_changed(client, metrics, namespace, &c.config_map, |_, _| true).await?;
    delete_stale_parts(client, metrics, namespace, c).await?;
    apply_if_changed(
        client,
        metrics,
        namespace,
        &c.secret,
        |stored: &Secret, desired: &Secret| {
            stored.data.clone().unwrap_or_default() == desired.data.clone().unwrap_or_default()
        },
    )
    .await?;
    ensure_session_key(client, metrics, namespace, &c.session_key).await?;
    apply_if_changed(client, metrics, namespace, &c.service_account, |_, _| true).await?;
    apply_if_changed(client, metrics, namespace, &c.role, |_, _| true).await?;
    apply_if_changed(client, metrics, namespace, &c.role_binding, |_, _| true).await?;
    apply_if_changed(client, metrics, namespace, &c.service, |_, _| true).await?;
    let deployment =
        apply_if_changed(client, metrics, namespace, &c.deployment, |_, _| true).await?;
    match &c.pod_disruption_budget {
        Some(pdb) => {
            apply_if_changed(client, metrics, namespace, pdb, |_, _| true).await?;
        }
        None => delete_if_ours::<PodDisruptionBudget>(client, metrics, namespace, c).await?,
    }
    match &c.autoscaler {
        Some(hpa) => {
            apply_if_changed(client, metrics, namespace, hpa, |_, _| true).await?;
        }
        None => delete_if_ours::<HorizontalPodAutoscaler>(client, metrics, namespace, c).await?,
    }
    Ok((config_map, deployment))
}

/// Deletes the optional child of kind `K` (named like the Deployment) when the spec no longer
/// asks for it and the operator made it.
async fn delete_if_ours<K>(
    client: &Client,
    metrics: &Metrics,
    namespace: &str,
    c: &Children,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let name = c.deployment.name_any();
    let kind = kind_of::<K>();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let stored = api
        .get_opt(&name)
        .await
        .map_err(|source| kube_error("read", kind, &name, source))?;
    let owned = stored.is_some_and(|p| {
        p.labels()
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str)
            == Some(render::MANAGED_BY)
    });
    if owned {
        metrics.wrote();
        api.delete(&name, &DeleteParams::default())
            .await
            .map_err(|source| kube_error("delete", kind, &name, source))?;
    }
    Ok(())
}

/// Creates the session-signing key Secret with a random key when it does not exist. An existing
/// one is never rewritten (a new key would end every client's session), so this is a read in a
/// steady state; deleting the Secret makes a new key (a rotation that ends the sessions).
async fn ensure_session_key(
    client: &Client,
    metrics: &Metrics,
    namespace: &str,
    template: &Secret,
) -> Result<(), Error> {
    let name = template.name_any();
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let stored = api
        .get_metadata_opt(&name)
        .await
        .map_err(|source| kube_error("read", "Secret", &name, source))?;
    if stored.is_some() {
        return Ok(());
    }
    let mut key = vec![0u8; render::SESSION_KEY_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| Error::Random("the session-signing key"))?;
    let mut secret = template.clone();
    secret.data = Some(std::collections::BTreeMap::from([(
        render::SESSION_KEY_FIELD.to_string(),
        k8s_openapi::ByteString(key),
    )]));
    metrics.wrote();
    match api.create(&kube::api::PostParams::default(), &secret).await {
        Ok(_) => Ok(()),
        // Another reconcile (or operator replica) created it first: keep theirs.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(kube_error("create", "Secret", &name, source)),
    }
}

/// Deletes config parts (see [`toolyard_crds::shards`]) the current config no longer has.
async fn delete_stale_parts(
    client: &Client,
    metrics: &Metrics,
    namespace: &str,
    c: &Children,
) -> Result<(), Error> {
    let main = c.config_map.name_any();
    let gateway = c.deployment.name_any();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let selector = format!(
        "{}={gateway},app.kubernetes.io/managed-by={}",
        render::GATEWAY_LABEL,
        render::MANAGED_BY
    );
    let listed = api
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| kube_error("list", "ConfigMap", &main, source))?;
    let possible = Names::of(&gateway).config_parts();
    for cm in listed.items {
        let name = cm.name_any();
        let is_part = possible.contains(&name);
        let wanted = c.config_parts.iter().any(|p| p.name_any() == name);
        if is_part && !wanted {
            metrics.wrote();
            api.delete(&name, &DeleteParams::default())
                .await
                .map_err(|source| kube_error("delete", "ConfigMap", &name, source))?;
        }
    }
    Ok(())
}

fn kube_error(action: &'static str, kind: &'static str, name: &str, source: kube::Error) -> Error {
    Error::Kube {
        action,
        kind,
        name: name.to_string(),
        source,
    }
}

/// Server-side applies `desired` unless the stored object carries the same content hash, the same
/// owner and `same(stored, desired)` holds. Returns the stored (or newly applied) object.
async fn apply_if_changed<K>(
    client: &Client,
    metrics: &Metrics,
    namespace: &str,
    desired: &K,
    same: impl Fn(&K, &K) -> bool,
) -> Result<K, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    let kind = kind_of::<K>();
    let name = desired.name_any();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let stored = api
        .get_opt(&name)
        .await
        .map_err(|source| kube_error("read", kind, &name, source))?;
    if let Some(stored) = stored {
        let hash = |o: &K| o.annotations().get(DESIRED_HASH_ANNOTATION).cloned();
        let owners = |o: &K| {
            o.owner_references()
                .iter()
                .map(|r| r.uid.clone())
                .collect::<Vec<_>>()
        };
        if hash(&stored) == hash(desired)
            && owners(&stored) == owners(desired)
            && same(&stored, desired)
        {
            return Ok(stored);
        }
    }
    // Forced: these children are the operator's alone, and a conflicting manager (someone's
    // `kubectl edit`) must not keep the gateway from getting its config.
    tracing::debug!(%kind, %name, %namespace, "applying");
    metrics.wrote();
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(desired),
    )
    .await
    .map_err(|source| kube_error("apply", kind, &name, source))
}

fn kind_of<K: Resource<DynamicType = ()>>() -> &'static str {
    // The kinds the operator writes; `K::kind` is a Cow, the error wants a static str.
    match K::kind(&()).as_ref() {
        "ConfigMap" => "ConfigMap",
        "Secret" => "Secret",
        "ServiceAccount" => "ServiceAccount",
        "Role" => "Role",
        "RoleBinding" => "RoleBinding",
        "Service" => "Service",
        "Deployment" => "Deployment",
        "PodDisruptionBudget" => "PodDisruptionBudget",
        "HorizontalPodAutoscaler" => "HorizontalPodAutoscaler",
        _ => "object",
    }
}

async fn write_gateway_status(
    ctx: &Context,
    gateway: &Gateway,
    outcome: GatewayOutcome<'_>,
    now: &Time,
) -> Result<(), Error> {
    let name = gateway.name_any();
    let namespace = gateway.namespace().unwrap_or_default();
    let new = status::gateway_status(
        gateway.status.as_ref(),
        &name,
        &namespace,
        gateway.metadata.generation,
        outcome,
        now,
    );
    let old = gateway
        .status
        .as_ref()
        .map(|s| (s, s.conditions.as_slice()));
    write_status(ctx, gateway, "Gateway", old, (&new, &new.conditions)).await
}

async fn write_target_status(
    ctx: &Context,
    target: &GatewayTarget,
    new: toolyard_crds::GatewayTargetStatus,
) -> Result<(), Error> {
    let old = target.status.as_ref().map(|s| (s, s.conditions.as_slice()));
    write_status(ctx, target, "GatewayTarget", old, (&new, &new.conditions)).await
}

/// Writes `new` as the status of `object` (server-side apply, forced: statuses are the
/// operator's alone) unless it equals the stored `old`, and publishes an Event on a `Ready`
/// transition.
async fn write_status<K, S>(
    ctx: &Context,
    object: &K,
    kind: &'static str,
    old: Option<(&S, &[Condition])>,
    (new, new_conditions): (&S, &[Condition]),
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
    S: Serialize + PartialEq,
{
    if old.is_some_and(|(o, _)| o == new) {
        return Ok(());
    }
    let name = object.name_any();
    let namespace = object.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let patch = json!({"apiVersion": "toolyard.dev/v1alpha1", "kind": kind, "status": new});
    ctx.metrics.wrote();
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| kube_error("write the status of", kind, &name, source))?;
    let old_conditions = old.map(|(_, c)| c).unwrap_or_default();
    publish_transition(ctx, object.object_ref(&()), old_conditions, new_conditions).await;
    Ok(())
}

/// Publishes an Event when `Ready` changes status or reason. Failures are logged only: Events are
/// best effort.
async fn publish_transition(
    ctx: &Context,
    reference: k8s_openapi::api::core::v1::ObjectReference,
    old: &[Condition],
    new: &[Condition],
) {
    let (Some(after), before) = (status::condition(new, READY), status::condition(old, READY))
    else {
        return;
    };
    if before.is_some_and(|b| b.status == after.status && b.reason == after.reason) {
        return;
    }
    let event = Event {
        type_: if after.status == "True" {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: after.reason.clone(),
        note: Some(after.message.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &reference).await {
        tracing::debug!(error = %e, "failed to publish an Event");
    }
}

/// Marks GatewayTargets whose Gateway does not exist (`GatewayNotFound`). The Gateway controller
/// never sees them, since it only reconciles existing Gateways.
async fn report_orphans(ctx: Arc<Context>, gateways: Store<DeserializeGuard<Gateway>>) {
    while !(ready(&ctx.targets).await && ready(&gateways).await) {
        tokio::time::sleep(RETRY).await;
    }
    tracing::debug!("watching for GatewayTargets without a Gateway");
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        for guard in ctx.targets.state() {
            let Ok(t) = &guard.0 else { continue };
            let namespace = t.namespace().unwrap_or_default();
            let gateway = ObjectRef::<DeserializeGuard<Gateway>>::new(&t.spec.gateway_ref.name)
                .within(&namespace);
            if gateways.get(&gateway).is_some() {
                continue;
            }
            let now = Time(k8s_openapi::jiff::Timestamp::now());
            let message = format!(
                "spec.gatewayRef.name: no Gateway named {} in namespace {namespace}",
                t.spec.gateway_ref.name
            );
            let new = status::blocked_target_status(
                t.status.as_ref(),
                t.metadata.generation,
                t.spec.kind(),
                "GatewayNotFound",
                &message,
                &now,
            );
            tracing::debug!(target_name = %t.name_any(), %namespace, "GatewayTarget without Gateway");
            if let Err(e) = write_target_status(&ctx, t, new).await {
                tracing::warn!(target_name = %t.name_any(), error = %error_chain(&e), "failed to report a missing Gateway");
            }
        }
    }
}

/// Where the controller looks.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Only this namespace; `None`: every namespace.
    pub namespace: Option<String>,
}

impl Scope {
    fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    client: Client,
    settings: render::Settings,
    scope: Scope,
    reporter: Reporter,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let gateways_api: Api<DeserializeGuard<Gateway>> = scope.api(&client);
    // Fail early, with the fix, when the CRDs are missing or the operator may not read them.
    scope
        .api::<Gateway>(&client)
        .list(&ListParams::default().limit(1))
        .await
        .map_err(|e| anyhow::anyhow!("cannot list Gateways ({e}); install the CRDs (charts/toolyard/crds/) and check the operator's RBAC"))?;

    let (targets, targets_writer) = reflector::store::<DeserializeGuard<GatewayTarget>>();
    let target_events = reflector::reflector(
        targets_writer,
        watcher(
            scope.api::<DeserializeGuard<GatewayTarget>>(&client),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .touched_objects();
    let config_maps = watcher(
        scope.api::<PartialObjectMeta<ConfigMap>>(&client),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    let secrets = watcher(
        scope.api::<PartialObjectMeta<Secret>>(&client),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    // Gateway pods and ReplicaSets: a pod that turns ready, fails or goes away, or a rollout,
    // changes what `Programmed` counts (see `crate::pods`). Cached, so a reconcile reads them
    // without an API call; pods without their spec (only labels and status matter).
    let gateway_pods = watcher::Config::default().labels("app.kubernetes.io/name=toolyard-gateway");
    let (pods, pods_writer) = reflector::store::<Pod>();
    let pod_events = reflector::reflector(
        pods_writer,
        watcher(scope.api::<Pod>(&client), gateway_pods.clone())
            .default_backoff()
            .modify(|p| {
                p.managed_fields_mut().clear();
                p.spec = None;
            }),
    )
    .touched_objects();
    let (replica_sets, sets_writer) = reflector::store::<PartialObjectMeta<ReplicaSet>>();
    let set_events = reflector::reflector(
        sets_writer,
        watcher(
            scope.api::<PartialObjectMeta<ReplicaSet>>(&client),
            gateway_pods,
        )
        .default_backoff()
        .modify(|r| r.managed_fields_mut().clear()),
    )
    .touched_objects();
    let managed = watcher::Config::default().labels(&format!(
        "app.kubernetes.io/managed-by={}",
        render::MANAGED_BY
    ));

    let (policies, policies_writer) = reflector::store::<DeserializeGuard<ToolPolicy>>();
    let policy_events = reflector::reflector(
        policies_writer,
        watcher(
            scope.api::<DeserializeGuard<ToolPolicy>>(&client),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .touched_objects();

    let controller = Controller::new(gateways_api, watcher::Config::default().any_semantic());
    let gateways = controller.store();
    let http = dereference::http_client()
        .map_err(|e| anyhow::anyhow!("failed to build the HTTP client for schema URLs: {e}"))?;
    let ctx = Arc::new(Context {
        client: client.clone(),
        http,
        settings,
        targets: targets.clone(),
        policies,
        pods,
        replica_sets,
        recorder: Recorder::new(client.clone(), reporter),
        metrics,
    });

    let (store_cm, store_secret) = (targets.clone(), targets.clone());
    let (gw_cm, gw_secret) = (gateways.clone(), gateways.clone());
    let orphans = tokio::spawn(report_orphans(ctx.clone(), gateways.clone()));
    controller
        .owns(scope.api::<Deployment>(&client), managed.clone())
        .owns(scope.api::<Service>(&client), managed.clone())
        .owns(scope.api::<ServiceAccount>(&client), managed.clone())
        .owns(scope.api::<Role>(&client), managed.clone())
        .owns(scope.api::<RoleBinding>(&client), managed.clone())
        .owns(scope.api::<PodDisruptionBudget>(&client), managed.clone())
        .owns(scope.api::<HorizontalPodAutoscaler>(&client), managed)
        .watches_stream(target_events, |t: DeserializeGuard<GatewayTarget>| {
            let gateway = t.0.as_ref().ok().map(|t| t.spec.gateway_ref.name.clone());
            let namespace = t.namespace();
            gateway.zip(namespace).map(|(g, ns)| ObjectRef::new(&g).within(&ns))
        })
        .watches_stream(policy_events, |p: DeserializeGuard<ToolPolicy>| {
            let gateway = p.0.as_ref().ok().map(|p| p.spec.gateway_ref.name.clone());
            let namespace = p.namespace();
            gateway.zip(namespace).map(|(g, ns)| ObjectRef::new(&g).within(&ns))
        })
        // ConfigMaps and Secrets: the owning Gateway (its config and credentials) plus every
        // Gateway whose targets (or itself) reference the object.
        .watches_stream(config_maps, move |cm: PartialObjectMeta<ConfigMap>| referrers(&cm, &store_cm, &gw_cm, |r, n| r.uses_config_map(n)))
        .watches_stream(secrets, move |s: PartialObjectMeta<Secret>| referrers(&s, &store_secret, &gw_secret, |r, n| r.uses_secret(n)))
        .watches_stream(pod_events, |p: Pod| gateway_of(&p))
        .watches_stream(set_events, |r: PartialObjectMeta<ReplicaSet>| gateway_of(&r))
        .graceful_shutdown_on(shutdown)
        .run(timed_reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(gateway = %object.name, "reconciled"),
                Err(kube::runtime::controller::Error::ReconcilerFailed(e, object)) => {
                    tracing::debug!(gateway = %object.name, category = e.category(), "reconcile failed")
                }
                Err(e) => tracing::warn!(error = %e, "controller error"),
            }
        })
        .await;
    orphans.abort();
    Ok(())
}

/// The Gateway of a gateway pod or ReplicaSet (its `app.kubernetes.io/instance` label).
fn gateway_of<K: Resource>(object: &K) -> Option<ObjectRef<DeserializeGuard<Gateway>>> {
    let gateway = object.labels().get("app.kubernetes.io/instance")?;
    Some(ObjectRef::new(gateway).within(&object.namespace()?))
}

/// The Gateways a ConfigMap or Secret matters to.
fn referrers<K: Resource>(
    object: &PartialObjectMeta<K>,
    targets: &Store<DeserializeGuard<GatewayTarget>>,
    gateways: &Store<DeserializeGuard<Gateway>>,
    uses: impl Fn(&dereference::References, &str) -> bool,
) -> Vec<ObjectRef<DeserializeGuard<Gateway>>> {
    let name = object.name_any();
    let Some(namespace) = object.namespace() else {
        return Vec::new();
    };
    let mut out: BTreeSet<String> = object
        .owner_references()
        .iter()
        .filter(|o| o.kind == "Gateway" && o.api_version.starts_with("toolyard.dev/"))
        .map(|o| o.name.clone())
        .collect();
    for t in targets.state() {
        if let Ok(t) = &t.0
            && t.metadata.namespace.as_deref() == Some(namespace.as_str())
            && uses(&target_references(&t.spec), &name)
        {
            out.insert(t.spec.gateway_ref.name.clone());
        }
    }
    for g in gateways.state() {
        if let Ok(g) = &g.0
            && g.metadata.namespace.as_deref() == Some(namespace.as_str())
            && uses(&gateway_references(&g.spec), &name)
        {
            out.insert(g.name_any());
        }
    }
    out.into_iter()
        .map(|g| ObjectRef::new(&g).within(&namespace))
        .collect()
}

//! Render: a Gateway and its compiled config → the Kubernetes objects that run it. Pure (no API
//! calls), so every child can be checked in unit tests.
//!
//! Children of Gateway `<gw>` (all in its namespace, all with a controller owner reference and the
//! recommended labels):
//! - ConfigMap `<gw>-toolyard-config`: the compiled config, JSON under `config.json`, or gzip under
//!   `binaryData.config.json.gz` when the JSON would not fit a ConfigMap comfortably, or — when
//!   even the gzip does not fit — a manifest of parts in ConfigMaps `<gw>-toolyard-config-<n>`
//!   (see [`toolyard_crds::shards`]);
//! - Secret `<gw>-toolyard-credentials`: only the credential values the config references, under
//!   `<secret>.<key>`;
//! - ServiceAccount + Role + RoleBinding `<gw>-toolyard`: the gateway may read its own ConfigMap
//!   and Secret and nothing else (plus `patch` on its ConfigMap, to report the served revision);
//! - Deployment and Service `<gw>`: so the URL is `http://<gw>.<ns>.svc.cluster.local/mcp`;
//! - PodDisruptionBudget `<gw>`, when `spec.deployment.podDisruptionBudgetMinAvailable` is set;
//! - HorizontalPodAutoscaler `<gw>`, when `spec.deployment.autoscaling` is set (the Deployment then
//!   has no `replicas`, so the operator's server-side apply never fights the autoscaler).
//!
//! Every child carries [`DESIRED_HASH_ANNOTATION`], a hash of what was rendered (Secret values
//! excepted), so the controller can skip writes when nothing changed.

use std::collections::BTreeMap;
use std::io::Write;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use toolyard_crds::gateway::{ImagePullPolicy, LogLevel, ServiceType};
use toolyard_crds::{Gateway, GatewayConfig};

/// Key of the compiled config (JSON) in the ConfigMap's `data`.
pub const CONFIG_KEY: &str = "config.json";
/// Key of the gzipped compiled config in the ConfigMap's `binaryData`.
pub const CONFIG_GZ_KEY: &str = "config.json.gz";
/// Above this size the config JSON is gzipped (a ConfigMap holds at most 1 MiB in total).
pub const COMPRESS_ABOVE_BYTES: usize = 900 * 1024;
/// The largest (compressed) config one ConfigMap holds; larger ones are split into parts.
pub const MAX_CONFIG_BYTES: usize = 1000 * 1024;
/// Annotation on every child: hash of its rendered content, for change detection.
pub const DESIRED_HASH_ANNOTATION: &str = "toolyard.dev/desired-hash";
/// Annotation on the config ConfigMap: the revision of the config it holds.
pub const CONFIG_REVISION_ANNOTATION: &str = "toolyard.dev/config-revision";
/// The label every child carries, naming its Gateway.
pub const GATEWAY_LABEL: &str = "toolyard.dev/gateway";
/// `app.kubernetes.io/managed-by` value of every child.
pub const MANAGED_BY: &str = "toolyard-operator";
/// Port of the MCP endpoint inside the gateway container.
pub const MCP_PORT: i32 = 8080;
/// Port of the admin endpoints (`/healthz`, `/readyz`, `/metrics`).
pub const ADMIN_PORT: i32 = 9090;

/// Why children could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Gateway has no name or namespace (it always has, once stored).
    #[error("Gateway object has no {0}")]
    MissingMetadata(&'static str),
    /// The config does not fit even in the most parts.
    #[error(
        "the compiled config is {bytes} bytes gzipped, more than the {} parts of {} bytes a Gateway's config may span; split the targets over several Gateways",
        toolyard_crds::shards::MAX_PARTS,
        toolyard_crds::shards::PART_BYTES
    )]
    ConfigTooLarge {
        /// Compressed size.
        bytes: usize,
    },
    /// Serializing or compressing failed (a bug).
    #[error("failed to encode the {what}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Default `preStop` sleep of a gateway pod (`spec.deployment.preStopDelaySeconds`).
pub const DEFAULT_PRE_STOP_SECONDS: i32 = 5;
/// Default `terminationGracePeriodSeconds` of a gateway pod.
pub const DEFAULT_GRACE_SECONDS: i32 = 30;
/// The gateway's drain window after SIGTERM (`--drain-seconds`): still accepting, not ready.
pub const DRAIN_SECONDS: i32 = 3;

/// Where the gateway container finds the session-signing key Secret.
pub const SESSION_KEY_DIR: &str = "/var/run/toolyard/session-key";

/// The key of the session-signing Secret that holds the key.
pub const SESSION_KEY_FIELD: &str = "key";

/// Bytes of a generated session key.
pub const SESSION_KEY_BYTES: usize = 48;

/// Operator-wide rendering settings (from flags).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Gateway image used when `spec.deployment.image` is not set.
    pub gateway_image: String,
    /// Pull policy used when `spec.deployment.imagePullPolicy` is not set.
    pub image_pull_policy: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            gateway_image: "ghcr.io/toolyard/toolyard-gateway:latest".into(),
            image_pull_policy: None,
        }
    }
}

/// The names of a Gateway's children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    /// Deployment, Service and PodDisruptionBudget.
    pub workload: String,
    /// The config ConfigMap.
    pub config_map: String,
    /// The credentials Secret.
    pub secret: String,
    /// ServiceAccount, Role and RoleBinding.
    pub service_account: String,
    /// The key that signs MCP session ids, shared by every replica (created once, never
    /// rewritten: a new key would end every session).
    pub session_key: String,
}

impl Names {
    /// Every possible config part name (see [`toolyard_crds::shards`]).
    pub fn config_parts(&self) -> Vec<String> {
        (1..=toolyard_crds::shards::MAX_PARTS)
            .map(|i| toolyard_crds::shards::part_name(&self.config_map, i))
            .collect()
    }

    /// Children names of Gateway `gateway`.
    pub fn of(gateway: &str) -> Self {
        Self {
            workload: gateway.to_string(),
            config_map: format!("{gateway}-toolyard-config"),
            secret: format!("{gateway}-toolyard-credentials"),
            service_account: format!("{gateway}-toolyard"),
            session_key: format!("{gateway}-toolyard-session-key"),
        }
    }
}

/// The in-cluster MCP URL of a gateway.
pub fn url(name: &str, namespace: &str) -> String {
    format!("http://{name}.{namespace}.svc.cluster.local/mcp")
}

/// The `Host` values the gateway's Service is reached by.
pub fn service_hosts(name: &str, namespace: &str) -> Vec<String> {
    vec![
        name.to_string(),
        format!("{name}.{namespace}"),
        format!("{name}.{namespace}.svc"),
        format!("{name}.{namespace}.svc.cluster.local"),
    ]
}

/// Everything one Gateway runs on.
#[derive(Clone, Debug)]
pub struct Children {
    /// The compiled config (or the manifest of its parts).
    pub config_map: ConfigMap,
    /// The parts of a config too large for one ConfigMap, in order (usually none). Applied before
    /// `config_map`.
    pub config_parts: Vec<ConfigMap>,
    /// The referenced credential values.
    pub secret: Secret,
    /// The session-signing key Secret without its value (the controller creates it once with a
    /// random key and leaves it alone afterwards).
    pub session_key: Secret,
    /// The gateway's identity.
    pub service_account: ServiceAccount,
    /// Read access to its own config objects.
    pub role: Role,
    /// Binds `role` to `service_account`.
    pub role_binding: RoleBinding,
    /// The gateway pods.
    pub deployment: Deployment,
    /// The MCP endpoint.
    pub service: Service,
    /// Only when `spec.deployment.podDisruptionBudgetMinAvailable` is set.
    pub pod_disruption_budget: Option<PodDisruptionBudget>,
    /// Only when `spec.deployment.autoscaling` is set.
    pub autoscaler: Option<HorizontalPodAutoscaler>,
}

/// Labels shared by every child of `gateway`.
pub fn labels(gateway: &str) -> BTreeMap<String, String> {
    let mut l = selector_labels(gateway);
    l.insert("app.kubernetes.io/component".into(), "gateway".into());
    l.insert("app.kubernetes.io/part-of".into(), "toolyard".into());
    l.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
    l.insert(
        "app.kubernetes.io/version".into(),
        env!("CARGO_PKG_VERSION").into(),
    );
    l.insert(GATEWAY_LABEL.into(), gateway.into());
    l
}

/// The labels that select a gateway's pods (stable across upgrades: a Deployment's selector is
/// immutable).
pub fn selector_labels(gateway: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "toolyard-gateway".to_string(),
        ),
        (
            "app.kubernetes.io/instance".to_string(),
            gateway.to_string(),
        ),
    ])
}

/// Renders every child of `gateway` serving `config`, with `credentials` (`<secret>.<key>` →
/// value) in its Secret.
pub fn render(
    gateway: &Gateway,
    config: &GatewayConfig,
    credentials: &BTreeMap<String, Vec<u8>>,
    settings: &Settings,
) -> Result<Children, Error> {
    let name = gateway
        .metadata
        .name
        .as_deref()
        .ok_or(Error::MissingMetadata("name"))?;
    let namespace = gateway
        .metadata
        .namespace
        .as_deref()
        .ok_or(Error::MissingMetadata("namespace"))?;
    let owner = gateway
        .controller_owner_ref(&())
        .ok_or(Error::MissingMetadata("uid"))?;
    let names = Names::of(name);
    let meta = |object_name: &str| Meta {
        name: object_name.to_string(),
        namespace: namespace.to_string(),
        labels: labels(name),
        owner: owner.clone(),
    };

    let (config_map, config_parts) = config_maps(&names.config_map, meta, config)?;
    let secret = secret(meta(&names.secret), credentials)?;
    let session_key: Secret = build(
        meta(&names.session_key),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque"}),
    )?;
    let service_account: ServiceAccount = build(
        meta(&names.service_account),
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            // The gateway talks to the API server (to watch its config), so it needs its token.
            "automountServiceAccountToken": true,
        }),
    )?;
    let role: Role = build(
        meta(&names.service_account),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "rules": [
                // list/watch with resourceNames are allowed for requests with a metadata.name field
                // selector, which is how the gateway watches. `patch` reports the served revision.
                {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [names.config_map], "verbs": ["get", "list", "watch", "patch"]},
                // The parts of a config too large for one ConfigMap, read by name when the
                // manifest changes. Every possible name, so the Role never changes with the size.
                {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": names.config_parts(), "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [names.secret], "verbs": ["get", "list", "watch"]},
            ],
        }),
    )?;
    let role_binding: RoleBinding = build(
        meta(&names.service_account),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": names.service_account},
            "subjects": [{"kind": "ServiceAccount", "name": names.service_account, "namespace": namespace}],
        }),
    )?;
    let deployment = deployment(meta(&names.workload), gateway, &names, settings)?;
    let service = service(meta(&names.workload), gateway)?;
    let pod_disruption_budget = match gateway
        .spec
        .deployment
        .as_ref()
        .and_then(|d| d.pod_disruption_budget_min_available)
    {
        Some(min) => Some(build(
            meta(&names.workload),
            json!({
                "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "spec": {"minAvailable": min, "selector": {"matchLabels": selector_labels(name)}},
            }),
        )?),
        None => None,
    };
    let autoscaler = match gateway
        .spec
        .deployment
        .as_ref()
        .and_then(|d| d.autoscaling.as_ref())
    {
        Some(a) => Some(build(
            meta(&names.workload),
            json!({
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": names.workload},
                    "minReplicas": a.min_replicas.unwrap_or(1),
                    "maxReplicas": a.max_replicas,
                    "metrics": [{
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": a.target_cpu_utilization.unwrap_or(80)}},
                    }],
                },
            }),
        )?),
        None => None,
    };
    Ok(Children {
        config_map,
        config_parts,
        secret,
        session_key,
        service_account,
        role,
        role_binding,
        deployment,
        service,
        pod_disruption_budget,
        autoscaler,
    })
}

struct Meta {
    name: String,
    namespace: String,
    labels: BTreeMap<String, String>,
    owner: OwnerReference,
}

/// Builds a typed object from `body` plus metadata, and stamps its content hash.
fn build<K: Resource + Serialize + DeserializeOwned>(
    meta: Meta,
    mut body: Value,
) -> Result<K, Error> {
    body["metadata"] = json!({
        "name": meta.name,
        "namespace": meta.namespace,
        "labels": meta.labels,
        "ownerReferences": [meta.owner],
    });
    let mut object: K = serde_json::from_value(body).map_err(|e| encode("object", e))?;
    stamp(&mut object, None)?;
    Ok(object)
}

/// Sets [`DESIRED_HASH_ANNOTATION`] to the hash of the object (without its annotations' hash and
/// without `exclude`d top-level fields).
fn stamp<K: Resource + Serialize>(object: &mut K, exclude: Option<&str>) -> Result<(), Error> {
    object
        .meta_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .remove(DESIRED_HASH_ANNOTATION);
    let mut value = serde_json::to_value(&*object).map_err(|e| encode("object", e))?;
    if let (Some(field), Some(map)) = (exclude, value.as_object_mut()) {
        map.remove(field);
    }
    let hash = hex::encode(&Sha256::digest(value.to_string().as_bytes())[..8]);
    object
        .meta_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(DESIRED_HASH_ANNOTATION.into(), hash);
    Ok(())
}

fn encode(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Encode {
        what,
        source: Box::new(e),
    }
}

/// The config ConfigMap, and its parts when the config needs them.
fn config_maps(
    name: &str,
    meta: impl Fn(&str) -> Meta,
    config: &GatewayConfig,
) -> Result<(ConfigMap, Vec<ConfigMap>), Error> {
    let text = serde_json::to_string(config).map_err(|e| encode("config", e))?;
    let mut cm: ConfigMap = build(meta(name), json!({"apiVersion": "v1", "kind": "ConfigMap"}))?;
    let mut parts = Vec::new();
    if text.len() <= COMPRESS_ABOVE_BYTES {
        cm.data = Some(BTreeMap::from([(CONFIG_KEY.to_string(), text)]));
    } else {
        let gz = gzip(text.as_bytes())?;
        if gz.len() <= MAX_CONFIG_BYTES {
            cm.binary_data = Some(BTreeMap::from([(
                CONFIG_GZ_KEY.to_string(),
                ByteString(gz),
            )]));
        } else {
            let (manifest, chunks) = split(name, &config.revision, &gz)?;
            for (part, chunk) in manifest.parts.iter().zip(chunks) {
                let mut p: ConfigMap = build(
                    meta(&part.name),
                    json!({"apiVersion": "v1", "kind": "ConfigMap"}),
                )?;
                p.binary_data = Some(BTreeMap::from([(
                    toolyard_crds::shards::PART_KEY.to_string(),
                    ByteString(chunk.to_vec()),
                )]));
                p.metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert(CONFIG_REVISION_ANNOTATION.into(), config.revision.clone());
                stamp(&mut p, None)?;
                parts.push(p);
            }
            let manifest = serde_json::to_string(&manifest).map_err(|e| encode("config", e))?;
            cm.data = Some(BTreeMap::from([(
                toolyard_crds::shards::MANIFEST_KEY.to_string(),
                manifest,
            )]));
        }
    }
    cm.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(CONFIG_REVISION_ANNOTATION.into(), config.revision.clone());
    stamp(&mut cm, None)?;
    Ok((cm, parts))
}

/// Splits gzipped config bytes into parts of ConfigMap `name`: the manifest and the chunks.
pub fn split<'a>(
    name: &str,
    revision: &str,
    gz: &'a [u8],
) -> Result<(toolyard_crds::shards::ShardManifest, Vec<&'a [u8]>), Error> {
    use toolyard_crds::shards::{MAX_PARTS, PART_BYTES, ShardManifest, ShardPart, part_name};
    let chunks: Vec<&[u8]> = gz.chunks(PART_BYTES).collect();
    if chunks.len() > MAX_PARTS {
        return Err(Error::ConfigTooLarge { bytes: gz.len() });
    }
    let parts = chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| ShardPart {
            name: part_name(name, i + 1),
            sha256: hex::encode(Sha256::digest(chunk)),
            bytes: chunk.len(),
        })
        .collect();
    Ok((
        ShardManifest {
            revision: revision.to_string(),
            parts,
        },
        chunks,
    ))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).map_err(|e| encode("config", e))?;
    encoder.finish().map_err(|e| encode("config", e))
}

fn secret(meta: Meta, credentials: &BTreeMap<String, Vec<u8>>) -> Result<Secret, Error> {
    let mut secret: Secret = build(
        meta,
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque"}),
    )?;
    secret.data = Some(
        credentials
            .iter()
            .map(|(k, v)| (k.clone(), ByteString(v.clone())))
            .collect(),
    );
    // The values stay out of the hash: a hash of a short secret in an annotation could be guessed.
    // The controller compares `data` itself.
    stamp(&mut secret, Some("data"))?;
    Ok(secret)
}

fn deployment(
    meta: Meta,
    gateway: &Gateway,
    names: &Names,
    settings: &Settings,
) -> Result<Deployment, Error> {
    let name = meta.name.clone();
    let namespace = meta.namespace.clone();
    let d = gateway.spec.deployment.clone().unwrap_or_default();
    let mut pod_labels = d.pod_labels.clone();
    pod_labels.extend(labels(&name));
    let image = d
        .image
        .clone()
        .unwrap_or_else(|| settings.gateway_image.clone());
    let pull_policy = d
        .image_pull_policy
        .map(|p| {
            match p {
                ImagePullPolicy::Always => "Always",
                ImagePullPolicy::IfNotPresent => "IfNotPresent",
                ImagePullPolicy::Never => "Never",
            }
            .to_string()
        })
        .or_else(|| settings.image_pull_policy.clone());
    let log_level = match d.log_level.unwrap_or_default() {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
    };
    let resources = match &d.resources {
        Some(r) => serde_json::to_value(r).map_err(|e| encode("resources", e))?,
        None => {
            json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}})
        }
    };
    let mut env = vec![
        json!({"name": "RUST_LOG", "value": log_level}),
        json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
        // Every replica signs and checks MCP session ids with this key, so any replica serves any
        // session.
        json!({"name": "TOOLYARD_SESSION_KEY_FILE", "value": format!("{SESSION_KEY_DIR}/{SESSION_KEY_FIELD}")}),
    ];
    if let Some(t) = &d.tracing {
        env.push(json!({"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": t.otlp_endpoint}));
        env.push(json!({"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "http/protobuf"}));
        env.push(json!({"name": "OTEL_SERVICE_NAME", "value": format!("toolyard-gateway/{name}")}));
        env.push(json!({"name": "OTEL_RESOURCE_ATTRIBUTES", "value": format!("service.namespace={namespace},k8s.namespace.name={namespace}")}));
        if let Some(ratio) = t.sampling_ratio {
            env.push(json!({"name": "OTEL_TRACES_SAMPLER", "value": "parentbased_traceidratio"}));
            env.push(json!({"name": "OTEL_TRACES_SAMPLER_ARG", "value": ratio.to_string()}));
        }
    }
    let termination = Termination::of(&d);
    let mut container = json!({
        "name": "gateway",
        "image": image,
        "args": [
            "--kube-config-map", names.config_map,
            "--kube-secret", names.secret,
            "--namespace", namespace,
            "--listen", format!("0.0.0.0:{MCP_PORT}"),
            "--admin-listen", format!("0.0.0.0:{ADMIN_PORT}"),
            "--log-json",
            "--drain-seconds", DRAIN_SECONDS.to_string(),
            "--shutdown-timeout-seconds", termination.in_flight_seconds.to_string(),
        ],
        "env": env,
        "ports": [
            {"name": "http", "containerPort": MCP_PORT, "protocol": "TCP"},
            {"name": "admin", "containerPort": ADMIN_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "admin"}, "periodSeconds": 2, "failureThreshold": 2},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "admin"}, "periodSeconds": 10, "failureThreshold": 3},
        "startupProbe": {"httpGet": {"path": "/healthz", "port": "admin"}, "periodSeconds": 2, "failureThreshold": 30},
        "resources": resources,
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "session-key", "mountPath": SESSION_KEY_DIR, "readOnly": true},
        ],
    });
    if let Some(p) = pull_policy {
        container["imagePullPolicy"] = json!(p);
    }
    // The kubelet's own sleep action: the image has no shell and no `sleep` binary.
    if termination.pre_stop_seconds > 0 {
        container["lifecycle"] =
            json!({"preStop": {"sleep": {"seconds": termination.pre_stop_seconds}}});
    }
    // Volumes users bring (a model directory for search embeddings, for example); the CRD
    // refuses the gateway's own names and paths.
    if let Some(mounts) = container["volumeMounts"].as_array_mut() {
        for m in &d.volume_mounts {
            mounts.push(serde_json::to_value(m).map_err(|e| encode("volumeMounts", e))?);
        }
    }
    let mut pod_meta = json!({"labels": pod_labels});
    if !d.pod_annotations.is_empty() {
        pod_meta["annotations"] = json!(d.pod_annotations);
    }
    let mut pod_spec = json!({
        "terminationGracePeriodSeconds": termination.grace_seconds,
        "serviceAccountName": names.service_account,
        "automountServiceAccountToken": true,
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            {"name": "session-key", "secret": {"secretName": names.session_key, "items": [{"key": SESSION_KEY_FIELD, "path": SESSION_KEY_FIELD}]}},
        ],
    });
    if let Some(volumes) = pod_spec["volumes"].as_array_mut() {
        for v in &d.volumes {
            volumes.push(serde_json::to_value(v).map_err(|e| encode("volumes", e))?);
        }
    }
    if !d.node_selector.is_empty() {
        pod_spec["nodeSelector"] = json!(d.node_selector);
    }
    if !d.tolerations.is_empty() {
        pod_spec["tolerations"] =
            serde_json::to_value(&d.tolerations).map_err(|e| encode("tolerations", e))?;
    }
    let mut spec = json!({
        "selector": {"matchLabels": selector_labels(&name)},
        "template": {"metadata": pod_meta, "spec": pod_spec},
    });
    // With an autoscaler the replica count is its field: not applying it leaves it alone.
    if d.autoscaling.is_none() {
        spec["replicas"] = json!(d.replicas.unwrap_or(1));
    }
    build(
        meta,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": spec}),
    )
}

/// How a gateway pod ends (see the gateway's `drain` module): Kubernetes marks it terminating (its
/// endpoint stops being ready), the `preStop` sleep lets kube-proxy and load balancers catch up,
/// then SIGTERM starts the gateway's drain window, then in-flight calls get what is left of the
/// grace period (less a 2 s margin), so the process exits before the kubelet kills it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termination {
    /// The `preStop` sleep (0: none).
    pub pre_stop_seconds: i32,
    /// The pod's `terminationGracePeriodSeconds`.
    pub grace_seconds: i32,
    /// The gateway's `--shutdown-timeout-seconds`.
    pub in_flight_seconds: i32,
}

impl Termination {
    /// From `spec.deployment`. A grace period too short for the default delay shortens the
    /// delay (the CRD rejects an explicit delay that does not fit).
    pub fn of(d: &toolyard_crds::gateway::DeploymentSettings) -> Self {
        let grace_seconds = d
            .termination_grace_period_seconds
            .unwrap_or(DEFAULT_GRACE_SECONDS)
            .max(1);
        let pre_stop_seconds = d
            .pre_stop_delay_seconds
            .unwrap_or(DEFAULT_PRE_STOP_SECONDS)
            .clamp(0, (grace_seconds - DRAIN_SECONDS - 2).max(0));
        Self {
            pre_stop_seconds,
            grace_seconds,
            in_flight_seconds: (grace_seconds - pre_stop_seconds - DRAIN_SECONDS - 2).max(1),
        }
    }
}

fn service(mut meta: Meta, gateway: &Gateway) -> Result<Service, Error> {
    let name = meta.name.clone();
    let s = gateway.spec.service.clone().unwrap_or_default();
    let service_type = match s.service_type.unwrap_or_default() {
        ServiceType::ClusterIP => "ClusterIP",
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
    };
    meta.labels
        .insert("app.kubernetes.io/component".into(), "gateway".into());
    let mut service: Service = build(
        meta,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "spec": {
                "type": service_type,
                "selector": selector_labels(&name),
                "ports": [{"name": "http", "port": s.port.unwrap_or(80), "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}],
            },
        }),
    )?;
    if !s.annotations.is_empty() {
        service
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .extend(s.annotations.clone());
        stamp(&mut service, None)?;
    }
    Ok(service)
}

/// Decodes the config a ConfigMap rendered by [`render`] holds (JSON, gzip in `binaryData`, or
/// a manifest of `parts`).
pub fn decode_config_text(cm: &ConfigMap, parts: &[ConfigMap]) -> Option<String> {
    if let Some(text) = cm.data.as_ref().and_then(|d| d.get(CONFIG_KEY)) {
        return Some(text.clone());
    }
    let gz = match cm.binary_data.as_ref().and_then(|d| d.get(CONFIG_GZ_KEY)) {
        Some(gz) => gz.0.clone(),
        None => {
            let manifest = cm.data.as_ref()?.get(toolyard_crds::shards::MANIFEST_KEY)?;
            let manifest: toolyard_crds::shards::ShardManifest =
                serde_json::from_str(manifest).ok()?;
            toolyard_crds::shards::assemble(&manifest, |name| {
                let part = parts
                    .iter()
                    .find(|p| p.metadata.name.as_deref() == Some(name))?;
                let bytes = part
                    .binary_data
                    .as_ref()?
                    .get(toolyard_crds::shards::PART_KEY)?;
                Some(&bytes.0[..])
            })
            .ok()?
        }
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).ok()?;
    Some(out)
}

//! The `Gateway` custom resource: one MCP endpoint with its inbound auth, search, security and
//! deployment settings. Its tools come from the `GatewayTarget`s that point at it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::refs::SecretKeyRef;

/// The MCP revisions the gateway can serve, all on the same endpoint.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum McpVersion {
    /// MCP 2025-03-26 (streamable HTTP, sessions).
    #[serde(rename = "2025-03-26")]
    V2025_03_26,
    /// MCP 2025-06-18 (structured tool output, protocol version header).
    #[serde(rename = "2025-06-18")]
    V2025_06_18,
    /// MCP 2025-11-25 (JSON Schema 2020-12 by default, tool-name guidance).
    #[serde(rename = "2025-11-25")]
    V2025_11_25,
    /// MCP 2026-07-28 (stateless: no sessions, `server/discover`).
    #[serde(rename = "2026-07-28")]
    V2026_07_28,
}

impl McpVersion {
    /// Every revision Toolyard implements, oldest first.
    pub const ALL: [McpVersion; 4] = [
        McpVersion::V2025_03_26,
        McpVersion::V2025_06_18,
        McpVersion::V2025_11_25,
        McpVersion::V2026_07_28,
    ];

    /// The revision string as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            McpVersion::V2025_03_26 => "2025-03-26",
            McpVersion::V2025_06_18 => "2025-06-18",
            McpVersion::V2025_11_25 => "2025-11-25",
            McpVersion::V2026_07_28 => "2026-07-28",
        }
    }
}

/// A Gateway is one MCP endpoint (streamable HTTP at `/mcp`) that serves the tools of every
/// GatewayTarget referring to it, behind one inbound authorizer.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "toolyard.dev",
    version = "v1alpha1",
    kind = "Gateway",
    namespaced,
    status = "GatewayStatus",
    shortname = "gw",
    shortname = "mcpgw",
    category = "toolyard",
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(name = "Targets", type_ = "integer", json_path = ".status.targets"),
    printcolumn(name = "Tools", type_ = "integer", json_path = ".status.tools"),
    printcolumn(name = "Policies", type_ = "integer", json_path = ".status.policies"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = kube::core::Rule::new("self.metadata.name.size() <= 48")
        .message("metadata.name: a Gateway name must be at most 48 characters (it names the gateway's Deployment, Service and config objects)")
)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// Human-readable description of the gateway, up to 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub description: Option<String>,

    /// MCP protocol settings: supported revisions, server instructions and allowed hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpSettings>,

    /// Built-in tool search. `type: Semantic` adds a search tool (listed first) that returns the
    /// tools best matching a natural-language query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchSettings>,

    /// Who may call the gateway. Exactly one of `jwt`, `serviceAccount` or `none` must be set;
    /// `none: {}` is an explicit opt-out of authentication.
    pub inbound_auth: InboundAuth,

    /// Limits on the requests the gateway sends to backends: allowed domains, methods and sizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecuritySettings>,

    /// How much backend error detail tool errors show. A client error (HTTP 4xx, also AWS
    /// errors such as `ResourceNotFoundException`) always shows its status and body, cut to
    /// 1,000 characters with the target's credentials and credential-like fields redacted: only
    /// the caller can fix its arguments. For server errors (5xx) and transport failures, `None`
    /// (default): a generic message; `Debug`: the status and body, for development only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_level: Option<ExceptionLevel>,

    /// Settings of the gateway's Deployment: replicas, image, resources and pod placement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentSettings>,

    /// Settings of the gateway's Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSettings>,
}

/// MCP protocol settings of a gateway.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpSettings {
    /// MCP revisions the gateway accepts; a client asking for another one is offered the newest
    /// listed. Defaults to all of 2025-03-26, 2025-06-18, 2025-11-25 and 2026-07-28.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Set)]
    pub supported_versions: Vec<McpVersion>,

    /// Instructions returned to clients at initialization, up to 2048 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub instructions: Option<String>,

    /// Extra `Host` header values the gateway accepts, besides loopback and its own Service DNS
    /// names (which are always allowed). Guards against DNS rebinding; `*.example.com` matches
    /// one or more labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub allowed_hosts: Vec<String>,

    /// `Origin` header values accepted from browsers, e.g. `https://app.example.com`. Requests
    /// without an `Origin` header (non-browser clients) are always accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub allowed_origins: Vec<String>,

    /// Tools per `tools/list` page; larger lists are paginated with `nextCursor`. 1-1000, default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub page_size: Option<u32>,
}

/// The kind of built-in tool search.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum SearchType {
    /// No search tool.
    #[default]
    None,
    /// A search tool ranking tools by relevance to a natural-language query (BM25, fused with
    /// dense embeddings when `embedding` is set).
    Semantic,
}

/// Built-in tool search settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchSettings {
    /// `None` (default) or `Semantic`.
    #[serde(default, rename = "type")]
    pub search_type: SearchType,

    /// Name of the search tool. Default `x_amz_bedrock_agentcore_search`, as in AgentCore Gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]{1,64}$"))]
    pub tool_name: Option<String>,

    /// Maximum number of tools a search returns, 1-100. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub top_k: Option<u32>,

    /// Dense embeddings fused with BM25. Without it, the model the gateway image carries
    /// (all-MiniLM-L6-v2) is used; a gateway image without one searches with BM25 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingSettings>,
}

/// Where tool-search embeddings come from. Exactly one of `localModel` or `openAi`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.localModel) != has(self.openAi)")
    .message("search.embedding: set exactly one of localModel or openAi"))]
pub struct EmbeddingSettings {
    /// A sentence-embedding model in a directory of the gateway pod (safetensors + tokenizer.json),
    /// for example mounted from a volume. Works offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_model: Option<LocalModel>,
    /// An OpenAI-compatible `/v1/embeddings` endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_ai: Option<OpenAiEmbeddings>,
}

/// A local embedding model.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalModel {
    /// Absolute path of the model directory inside the gateway container.
    #[schemars(regex(pattern = r"^/.*"), length(max = 1024))]
    pub path: String,
}

/// An OpenAI-compatible embeddings endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenAiEmbeddings {
    /// Base URL; the gateway posts to `<url>/v1/embeddings` unless the URL already ends in `/embeddings`.
    #[schemars(regex(pattern = r"^https?://[^\s]+$"), length(max = 2048))]
    pub url: String,
    /// Model name sent in the request.
    #[schemars(length(min = 1, max = 256))]
    pub model: String,
    /// Secret key holding the API key, sent as `Authorization: Bearer <key>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeyRef>,
}

/// Inbound authentication: exactly one of `jwt`, `serviceAccount` or `none`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "[has(self.jwt), has(self.serviceAccount), has(self.none)].filter(x, x).size() == 1"
).message("inboundAuth: set exactly one of jwt, serviceAccount or none"))]
pub struct InboundAuth {
    /// JSON Web Tokens from an OIDC provider (AgentCore's custom JWT authorizer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtAuthorizer>,
    /// Kubernetes ServiceAccount tokens (audience-bound projected tokens) of in-cluster agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccountAuthorizer>,
    /// No authentication: anyone who reaches the Service may call every tool. Must be set
    /// explicitly as `none: {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub none: Option<NoAuth>,
}

/// Explicit opt-out of inbound authentication.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, KubeSchema)]
pub struct NoAuth {}

/// A JWT authorizer with AgentCore `customJWTAuthorizer` semantics: every configured check must pass.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "(has(self.allowedAudiences) && size(self.allowedAudiences) > 0) || (has(self.allowedClients) && size(self.allowedClients) > 0) || (has(self.allowedScopes) && size(self.allowedScopes) > 0) || (has(self.customClaims) && size(self.customClaims) > 0)"
).message("inboundAuth.jwt: set at least one of allowedAudiences, allowedClients, allowedScopes or customClaims"))]
pub struct JwtAuthorizer {
    /// OIDC discovery URL, ending in `/.well-known/openid-configuration`. It gives the issuer
    /// (`iss` must equal it) and the JWKS URI of the signing keys.
    #[schemars(
        regex(pattern = r"^https?://[^\s]+/\.well-known/openid-configuration$"),
        length(max = 2048)
    )]
    pub discovery_url: String,
    /// Accepted `aud` values; the token must carry at least one of them.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub allowed_audiences: Vec<String>,
    /// Accepted `client_id` (or `azp`) values.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub allowed_clients: Vec<String>,
    /// Scopes; the token's `scope` must contain at least one of them.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub allowed_scopes: Vec<String>,
    /// Rules on other claims; all must match.
    #[serde(default)]
    #[schemars(length(max = 32))]
    pub custom_claims: Vec<CustomClaim>,
}

/// The type of a custom claim's value.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ClaimValueType {
    /// A single string.
    String,
    /// An array of strings.
    StringArray,
}

/// How a custom claim is compared.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ClaimOperator {
    /// The claim (a String) equals `value`.
    Equals,
    /// The claim (a StringArray) contains `value`.
    Contains,
    /// The claim (a StringArray) contains at least one of `values`.
    ContainsAny,
}

/// A rule on one claim of the token.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "(self.operator == 'ContainsAny') ? (has(self.values) && size(self.values) > 0 && !has(self.value)) : (has(self.value) && (!has(self.values) || size(self.values) == 0))"
).message("customClaims: operator ContainsAny takes values (a list); Equals and Contains take value (a string)"))]
#[x_kube(validation = kube::core::Rule::new(
    "(self.operator == 'Equals') == (self.valueType == 'String')"
).message("customClaims: operator Equals needs valueType String; Contains and ContainsAny need valueType StringArray"))]
pub struct CustomClaim {
    /// Claim name, e.g. `department`.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// `String` or `StringArray`.
    pub value_type: ClaimValueType,
    /// `Equals` (String), `Contains` or `ContainsAny` (StringArray).
    pub operator: ClaimOperator,
    /// The value for `Equals` and `Contains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The values for `ContainsAny`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// How ServiceAccount tokens are verified.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum TokenVerification {
    /// Ask the API server with a TokenReview (default; also rejects tokens of deleted pods).
    #[default]
    TokenReview,
    /// Verify the signature offline with the cluster's OIDC discovery document and JWKS.
    Oidc,
}

/// Kubernetes ServiceAccount tokens as inbound identity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountAuthorizer {
    /// Audiences the projected token must be bound to. Use a dedicated audience (for example the
    /// gateway's name), never the API server's, so tokens for the gateway cannot call the API.
    #[schemars(length(min = 1, max = 16))]
    pub audiences: Vec<String>,
    /// ServiceAccounts allowed to call, as `namespace/name`; `namespace/*` allows every
    /// ServiceAccount of a namespace.
    #[schemars(length(min = 1, max = 256), inner(length(min = 3, max = 317)))]
    #[x_kube(validation = kube::core::Rule::new(
        "self.all(x, x.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?/([*]|[a-z0-9]([-.a-z0-9]*[a-z0-9])?)$'))"
    ).message("serviceAccount.allowed: entries must be namespace/name or namespace/*"))]
    pub allowed: Vec<String>,
    /// `TokenReview` (default) or `Oidc`.
    #[serde(default)]
    pub verification: TokenVerification,
}

/// An HTTP method a gateway may use towards backends.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET
    Get,
    /// PUT
    Put,
    /// POST
    Post,
    /// DELETE
    Delete,
    /// PATCH
    Patch,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
    /// TRACE
    Trace,
    /// QUERY (a safe method with a request body; OpenAPI 3.2's `query` operations)
    Query,
}

impl HttpMethod {
    /// The method as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Head => "HEAD",
            HttpMethod::Options => "OPTIONS",
            HttpMethod::Trace => "TRACE",
            HttpMethod::Query => "QUERY",
        }
    }
}

/// Limits on what the gateway sends to backends. Violations fail the tool call with a clear error.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuritySettings {
    /// Host names backends may have; `*.example.com` matches subdomains. Empty: any host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub allowed_domains: Vec<String>,
    /// HTTP methods tools may use. Empty: any method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Set)]
    pub allowed_methods: Vec<HttpMethod>,
    /// Largest request body sent to a backend, in bytes (1 KiB-64 MiB). Default 1 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1024, max = 67108864))]
    pub max_request_bytes: Option<u64>,
    /// Largest backend response read, in bytes (1 KiB-64 MiB). Default 6 MiB (the Lambda payload limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1024, max = 67108864))]
    pub max_response_bytes: Option<u64>,
}

/// How much backend detail tool errors carry for server errors (5xx) and transport failures. A
/// backend's client error (4xx) always reaches the caller with its status and body (at most
/// 1,000 characters, credentials redacted), whatever the level: only the caller can fix it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ExceptionLevel {
    /// A generic message for server errors; details only in the gateway's logs.
    #[default]
    None,
    /// The backend's status code and body in the tool error.
    Debug,
}

/// Settings of the gateway Deployment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.preStopDelaySeconds) || !has(self.terminationGracePeriodSeconds) || self.preStopDelaySeconds + 5 <= self.terminationGracePeriodSeconds")
    .message("deployment: terminationGracePeriodSeconds must be at least preStopDelaySeconds + 5 (the gateway drains and finishes in-flight calls after the delay)"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.volumes) || self.volumes.all(v, v.name != 'tmp' && v.name != 'session-key')")
    .message("deployment.volumes: the names tmp and session-key are taken by the gateway's own volumes"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.volumeMounts) || self.volumeMounts.all(m, m.mountPath != '/tmp' && !m.mountPath.startsWith('/var/run/toolyard'))")
    .message("deployment.volumeMounts: /tmp and /var/run/toolyard are taken by the gateway's own mounts"))]
pub struct DeploymentSettings {
    /// Number of gateway pods, 0-100. Default 1. Any replica serves any request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: Option<i32>,
    /// Gateway container image. Default: the image the operator was installed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub image: Option<String>,
    /// `Always`, `IfNotPresent` or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,
    /// CPU and memory requests and limits of the gateway container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Node labels the gateway pods must run on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the gateway pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Extra annotations on the gateway pods (for example for a service mesh or scraping).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
    /// Extra labels on the gateway pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
    /// Adds a PodDisruptionBudget with this `minAvailable` (1 or more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub pod_disruption_budget_min_available: Option<i32>,
    /// Log level of the gateway process: `error`, `warn`, `info` (default) or `debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// A HorizontalPodAutoscaler for the gateway pods (on CPU). When set, the operator leaves
    /// the Deployment's replica count to it and `replicas` is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSettings>,
    /// OpenTelemetry tracing of the gateway pods (OTLP/HTTP). Off when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingSettings>,
    /// Seconds a gateway pod keeps serving after Kubernetes starts deleting it, before the
    /// process gets SIGTERM (a `preStop` sleep), so Services stop sending it new connections
    /// first. 0-120, default 5; 0: no delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 120))]
    pub pre_stop_delay_seconds: Option<i32>,
    /// How long Kubernetes waits for a deleted gateway pod (the preStop delay, the drain and the
    /// in-flight calls) before killing it: the pods' `terminationGracePeriodSeconds`. 5-3600,
    /// default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 3600))]
    pub termination_grace_period_seconds: Option<i32>,
    /// Extra volumes of the gateway pods, for example a PersistentVolumeClaim or an image
    /// volume holding a sentence-embedding model for `spec.search.embedding.localModel`. The
    /// names `tmp` and `session-key` are the gateway's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub volumes: Vec<Volume>,
    /// Where the gateway container mounts `volumes` (mount model directories read-only, for
    /// example at `/models`). `/tmp` and the session key directory are the gateway's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub volume_mounts: Vec<VolumeMount>,
}

/// The gateway's HorizontalPodAutoscaler (autoscaling/v2, CPU utilization).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.minReplicas) || self.minReplicas <= self.maxReplicas")
    .message("autoscaling: minReplicas must not exceed maxReplicas"))]
pub struct AutoscalingSettings {
    /// Fewest pods. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub min_replicas: Option<i32>,
    /// Most pods.
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: i32,
    /// Average CPU utilization (percent of the CPU request) the autoscaler aims for. Default 80.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization: Option<i32>,
}

/// Where the gateway pods send their traces. Rendered as the standard `OTEL_*` environment
/// variables of the gateway container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TracingSettings {
    /// Base URL of an OTLP/HTTP receiver (the gateway posts protobuf to `<url>/v1/traces`), for
    /// example `http://otel-collector.observability:4318`.
    #[schemars(length(min = 1, max = 2048))]
    pub otlp_endpoint: String,
    /// Fraction of new traces recorded, 0 to 1. Default 1. A caller's sampled `traceparent` is
    /// always followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub sampling_ratio: Option<f64>,
}

/// A container image pull policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ImagePullPolicy {
    /// Always pull.
    Always,
    /// Pull when the image is missing.
    IfNotPresent,
    /// Never pull.
    Never,
}

/// A log level.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Normal operation.
    #[default]
    Info,
    /// Verbose.
    Debug,
}

/// The Service type of the gateway.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ServiceType {
    /// In-cluster only (default).
    #[default]
    ClusterIP,
    /// Also on a port of every node.
    NodePort,
    /// Also through a cloud load balancer.
    LoadBalancer,
}

/// Settings of the gateway Service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSettings {
    /// Service port, 1-65535. Default 80.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// `ClusterIP` (default), `NodePort` or `LoadBalancer`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
    /// Extra annotations on the Service.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Observed state of a Gateway, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    /// `Ready` and `Programmed`, with reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` the operator last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The MCP endpoint inside the cluster, e.g. `http://orders.agents.svc.cluster.local/mcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Number of GatewayTargets compiled into the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<i32>,
    /// Number of tools the gateway serves (search tool not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<i32>,
    /// Number of Cedar policies (from accepted ToolPolicies) the gateway evaluates; absent when
    /// no ToolPolicy applies and every tool is served to every authenticated caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<i32>,
    /// Revision (content hash) of the compiled config the operator last published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_revision: Option<String>,
    /// Revision the data plane reports serving; equal to `configRevision` when `Programmed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_config_revision: Option<String>,
}

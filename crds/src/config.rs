//! The compiled gateway config: the contract between the operator (or standalone loader), which
//! compiles Gateway + GatewayTargets into it, and the gateway data plane, which serves it.
//!
//! Rules for evolving it safely, since operator and gateway pods are upgraded independently:
//! - adding an optional field (with `#[serde(default)]`) is compatible: older gateways ignore it;
//! - anything else (removing, renaming, changing meaning) bumps [`CONFIG_VERSION`], and a gateway
//!   refuses a version it does not know while it keeps serving its last good config.
//!
//! The config never holds secret values, only [`SecretValueRef`]s; the gateway reads the values
//! from its credentials Secret (or, standalone, from Secret manifests).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::gateway::{
    ExceptionLevel, HttpMethod, JwtAuthorizer, McpVersion, ServiceAccountAuthorizer,
};
use crate::policy::PolicyMode;
use crate::target::{
    ApiKeyLocation, ClientAuthMethod, McpTransport, PrefixMode, RateLimit, SkippedOperation,
    TargetKind, TargetLogging,
};

/// The version string of this contract. A gateway rejects configs of other versions.
///
/// `v1alpha2`: tool schemas may reference their target's shared [`TargetConfig::schema_defs`]
/// (`{"$ref": "#/$defs/<name>"}`), which a `v1alpha1` gateway would serve as dangling references.
pub const CONFIG_VERSION: &str = "toolyard.dev/gateway-config/v1alpha2";

/// The version of a config with [`GatewayConfig::authorization`]: the same contract plus Cedar
/// policies. Gateways accept both; a `v1alpha2`-only gateway refuses it rather than serving
/// tools its policies would deny.
pub const CONFIG_VERSION_AUTHZ: &str = "toolyard.dev/gateway-config/v1alpha3";

/// Everything one gateway serves.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConfig {
    /// Must be [`CONFIG_VERSION`].
    pub version: String,
    /// Content hash of everything below; the gateway reports the revision it serves.
    pub revision: String,
    /// Gateway-wide settings.
    pub gateway: GatewaySettings,
    /// The targets and their tools, ordered by prefix.
    pub targets: Vec<TargetConfig>,
    /// Cedar authorization from the Gateway's accepted ToolPolicies; absent when none applies
    /// (every tool is served to every authenticated caller). A config with it carries
    /// [`CONFIG_VERSION_AUTHZ`], so a gateway too old to enforce it refuses it (and keeps its last
    /// good config) instead of silently serving everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationConfig>,
}

/// The Cedar policies one gateway evaluates.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationConfig {
    /// Whether decisions are enforced: true when at least one ToolPolicy is `Enforce` (then
    /// everything not permitted is denied, even with no policy served); false when all are
    /// `LogOnly` (every decision is only logged).
    pub enforce: bool,
    /// Every accepted policy, one Cedar policy each, ordered by id.
    pub policies: Vec<CompiledPolicy>,
}

/// One accepted Cedar policy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompiledPolicy {
    /// `<ToolPolicy name>/<policy name>` (`#<n>` appended when one text holds several policies);
    /// the `policy` label of metrics and logs.
    pub id: String,
    /// Enforced, or only logged.
    pub mode: PolicyMode,
    /// The policy's Cedar source.
    pub text: String,
}

/// Gateway-wide settings compiled from the Gateway spec.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySettings {
    /// Gateway name.
    pub name: String,
    /// Gateway namespace (`default` standalone).
    pub namespace: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Server instructions returned at initialization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// MCP revisions accepted, oldest first.
    pub supported_versions: Vec<McpVersion>,
    /// Accepted `Host` values besides loopback (includes the Service's DNS names in a cluster).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Accepted browser `Origin` values.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Tools per `tools/list` page.
    pub page_size: u32,
    /// Backend error detail in tool errors.
    pub exception_level: ExceptionLevel,
    /// Outbound request limits.
    pub security: SecurityConfig,
    /// Inbound authentication.
    pub inbound_auth: InboundAuthConfig,
    /// Built-in tool search.
    pub search: SearchConfig,
}

/// Outbound request limits with defaults filled in.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityConfig {
    /// Allowed backend host patterns; empty means any.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Allowed methods; empty means any.
    #[serde(default)]
    pub allowed_methods: Vec<HttpMethod>,
    /// Largest request body, bytes.
    pub max_request_bytes: u64,
    /// Largest response read, bytes.
    pub max_response_bytes: u64,
}

/// Inbound authentication, exactly one kind.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum InboundAuthConfig {
    /// JWT bearer tokens from an OIDC provider.
    Jwt(JwtAuthorizer),
    /// Kubernetes ServiceAccount tokens.
    ServiceAccount(ServiceAccountAuthorizer),
    /// No authentication (explicitly configured).
    None,
}

/// Built-in search settings with defaults filled in.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchConfig {
    /// Whether the search tool is listed and callable.
    pub enabled: bool,
    /// Name of the search tool.
    pub tool_name: String,
    /// Maximum results.
    pub top_k: u32,
    /// Dense embeddings to fuse with BM25.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingConfig>,
}

/// Where embeddings come from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EmbeddingConfig {
    /// A model directory in the gateway's file system.
    #[serde(rename_all = "camelCase")]
    LocalModel {
        /// Directory path.
        path: String,
    },
    /// An OpenAI-compatible endpoint.
    #[serde(rename_all = "camelCase")]
    OpenAi {
        /// Base URL.
        url: String,
        /// Model name.
        model: String,
        /// API key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key: Option<SecretValueRef>,
    },
}

/// A secret value by reference: a key of a Secret in the gateway's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretValueRef {
    /// Secret name.
    pub secret: String,
    /// Key in the Secret.
    pub key: String,
}

/// One compiled target.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetConfig {
    /// The GatewayTarget's name.
    pub name: String,
    /// Tool-name prefix.
    pub prefix: String,
    /// Target kind.
    pub kind: TargetKind,
    /// Description (searched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Time limit of one backend call, milliseconds.
    pub timeout_ms: u64,
    /// Rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Call logging.
    #[serde(default)]
    pub logging: TargetLogging,
    /// Outbound credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<OutboundCredentials>,
    /// Where calls go.
    pub endpoint: Endpoint,
    /// The tools, in served order (by name).
    pub tools: Vec<ToolConfig>,
    /// Schema definitions shared by this target's tools, by name: a tool schema refers to one as
    /// `{"$ref": "#/$defs/<name>"}`, and so may a definition (recursive shapes are cycles of
    /// references). Stored once here instead of copied into every tool, because large APIs
    /// reference the same shapes from thousands of operations. The gateway serves each tool's
    /// schema with a `$defs` holding the definitions it reaches, so clients get self-contained
    /// JSON Schema. Names match `[A-Za-z0-9._-]+` (usable in a JSON pointer as they are).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schema_defs: BTreeMap<String, serde_json::Value>,
    /// Operations that could not become tools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedOperation>,
}

/// Where a target's calls go.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Endpoint {
    /// An HTTP API (OpenAPI, Swagger, Smithy restJson1).
    #[serde(rename_all = "camelCase")]
    Http {
        /// Base URL; operation paths are appended to its path.
        base_url: String,
    },
    /// An AWS JSON-protocol API (Smithy awsJson1_0/1_1).
    #[serde(rename_all = "camelCase")]
    AwsJson {
        /// Endpoint URL.
        url: String,
        /// `1.0` or `1.1`.
        json_version: String,
        /// The `X-Amz-Target` prefix (the service's shape name).
        target_prefix: String,
    },
    /// An AWS Lambda function.
    #[serde(rename_all = "camelCase")]
    Lambda {
        /// Function ARN (with qualifier, if any).
        function_arn: String,
        /// Region from the ARN.
        region: String,
        /// Lambda API endpoint.
        url: String,
    },
    /// An upstream MCP server.
    #[serde(rename_all = "camelCase")]
    Mcp {
        /// MCP endpoint URL.
        url: String,
        /// Transport.
        transport: McpTransport,
        /// Whether tool names get the prefix.
        prefix: PrefixMode,
        /// Tool re-list interval, milliseconds.
        sync_interval_ms: u64,
        /// Whether the tool list is pinned (no sync).
        pinned: bool,
    },
}

/// Outbound credentials, by reference.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OutboundCredentials {
    /// A static key.
    #[serde(rename_all = "camelCase")]
    ApiKey {
        /// The key.
        value: SecretValueRef,
        /// Header or query parameter.
        location: ApiKeyLocation,
        /// Header or parameter name.
        parameter_name: String,
        /// Text before the key.
        #[serde(default)]
        prefix: String,
    },
    /// OAuth 2.0 client credentials.
    #[serde(rename_all = "camelCase")]
    OAuth2 {
        /// Token endpoint, if given directly.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_url: Option<String>,
        /// Discovery URL, if the token endpoint is discovered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        discovery_url: Option<String>,
        /// Client id in clear, if not secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// Client id from a Secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id_ref: Option<SecretValueRef>,
        /// Client secret.
        client_secret: SecretValueRef,
        /// Client authentication method.
        auth_method: ClientAuthMethod,
        /// Scopes.
        #[serde(default)]
        scopes: Vec<String>,
        /// Audience.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audience: Option<String>,
        /// Resource indicator.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource: Option<String>,
        /// Extra parameters.
        #[serde(default)]
        custom_parameters: BTreeMap<String, String>,
    },
    /// SigV4 with the pod's AWS identity.
    #[serde(rename_all = "camelCase")]
    AwsSigV4 {
        /// Signing name.
        service: String,
        /// Signing region.
        region: String,
    },
}

/// One tool as served.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    /// The served name (`<prefix>___<tool>`, shortened to 64 characters if needed).
    pub name: String,
    /// The name in the source (operationId, Lambda tool name, upstream tool name).
    pub original_name: String,
    /// Display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema (2020-12) of the arguments; may refer to the target's `schemaDefs`.
    pub input_schema: serde_json::Value,
    /// JSON Schema of `structuredContent`, when the result is an object; may refer to the
    /// target's `schemaDefs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<serde_json::Value>,
    /// Behaviour hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolHints>,
    /// The source marks the operation deprecated; tool search ranks it below its replacements.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// How a call is made.
    pub call: CallPlan,
}

/// MCP tool annotations derived from the source (e.g. GET is read-only).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolHints {
    /// The tool does not modify anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may destroy data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Repeating the call has no further effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
}

/// How a tool call becomes a backend request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CallPlan {
    /// An HTTP request built from the arguments.
    Http(HttpCall),
    /// An AWS JSON-protocol request: the arguments are the body.
    #[serde(rename_all = "camelCase")]
    AwsJson {
        /// The operation name appended to the target prefix in `X-Amz-Target`.
        operation: String,
    },
    /// A Lambda invocation with the arguments as the event.
    Lambda,
    /// A call of the upstream MCP server's tool.
    #[serde(rename_all = "camelCase")]
    Mcp {
        /// The upstream's tool name.
        upstream_name: String,
    },
}

/// An HTTP request template.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpCall {
    /// Method.
    pub method: HttpMethod,
    /// Path template relative to the base URL, e.g. `/users/{userId}`.
    pub path: String,
    /// Parameters, each bound to one argument.
    #[serde(default)]
    pub params: Vec<ParamBinding>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyBinding>,
    /// The response body is JSON whatever its content type says (Smithy restJson1).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub json_response: bool,
    /// This call's own base URL (an OpenAPI operation-level server elsewhere than the
    /// document's), used instead of the target's; its host must still be in `allowedDomains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

/// Where a parameter goes.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ParamLocation {
    /// A `{name}` segment of the path.
    Path,
    /// The query string.
    Query,
    /// A header.
    Header,
    /// A cookie.
    Cookie,
}

/// OpenAPI serialization style.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ParamStyle {
    /// `a,b` (path, header default).
    Simple,
    /// `name=a&name=b` or `name=a,b` (query, cookie default).
    Form,
    /// `.a.b`
    Label,
    /// `;name=a`
    Matrix,
    /// `a b`
    SpaceDelimited,
    /// `a|b`
    PipeDelimited,
    /// `name[key]=value`
    DeepObject,
}

/// One parameter bound to one argument.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParamBinding {
    /// Argument (property) name in the tool's input.
    pub arg: String,
    /// Name on the wire.
    pub name: String,
    /// Location.
    #[serde(rename = "in")]
    pub location: ParamLocation,
    /// Serialization style.
    pub style: ParamStyle,
    /// Explode arrays and objects.
    pub explode: bool,
    /// Whether the argument must be given.
    #[serde(default)]
    pub required: bool,
    /// Keep RFC 3986 reserved characters unencoded in query values.
    #[serde(default)]
    pub allow_reserved: bool,
    /// A Smithy binding that expands one argument beyond OpenAPI's styles (greedy labels,
    /// prefix headers, query-parameter maps). Absent for OpenAPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand: Option<ParamExpansion>,
}

/// How a Smithy HTTP binding expands one argument (restJson1).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ParamExpansion {
    /// `{name+}` path label: the value may span segments; each segment is encoded, `/` kept.
    Greedy,
    /// `@httpPrefixHeaders`: each key of the object argument becomes header `<name><key>`.
    PrefixHeaders,
    /// `@httpQueryParams`: each key of the object argument becomes a query parameter (arrays
    /// repeat it); parameters bound by name win over the same key here.
    QueryMap,
}

/// How the body is encoded.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BodyEncoding {
    /// JSON.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`.
    Multipart,
    /// Plain text (the argument is a string).
    Text,
}

/// Where the body comes from in the arguments.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BodyShape {
    /// The body object's properties are top-level arguments; these names.
    #[serde(rename_all = "camelCase")]
    Merged {
        /// Property names that belong to the body.
        properties: Vec<String>,
    },
    /// The whole body is one argument.
    #[serde(rename_all = "camelCase")]
    Argument {
        /// Argument name.
        name: String,
    },
}

/// The request body of an HTTP call.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BodyBinding {
    /// Content type sent.
    pub media_type: String,
    /// Encoding.
    pub encoding: BodyEncoding,
    /// Where it comes from.
    pub shape: BodyShape,
    /// Whether a body is required.
    #[serde(default)]
    pub required: bool,
    /// The argument is base64 text of raw bytes, sent decoded (a Smithy blob `@httpPayload`, an
    /// OpenAPI binary body such as `application/octet-stream`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base64: bool,
    /// Multipart parts sent as files: their values (or array items) are base64 text of the
    /// bytes, sent decoded with the part's name as file name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_parts: Vec<String>,
}

impl GatewayConfig {
    /// Number of tools over all targets (the search tool not counted).
    pub fn tool_count(&self) -> usize {
        self.targets.iter().map(|t| t.tools.len()).sum()
    }
}

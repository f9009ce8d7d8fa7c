//! The `GatewayTarget` custom resource: one source of tools (an OpenAPI or Smithy REST API,
//! a Lambda function, or an upstream MCP server) attached to a Gateway.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::refs::{ConfigMapKeyRef, SchemaSource, SecretKeyRef};

/// Pattern of a tool prefix: short, `[a-zA-Z0-9-]`, no leading or trailing dash. The prefix plus
/// `___` plus the tool name must fit MCP clients' 64-character limit, so prefixes stay at 30.
pub const TOOL_PREFIX_PATTERN: &str = r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,28}[a-zA-Z0-9])?$";

/// A GatewayTarget turns one API, function or MCP server into tools named `<toolPrefix>___<tool>`
/// on the Gateway named by `gatewayRef`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "toolyard.dev",
    version = "v1alpha1",
    kind = "GatewayTarget",
    namespaced,
    status = "GatewayTargetStatus",
    shortname = "gwt",
    category = "toolyard",
    printcolumn(name = "Gateway", type_ = "string", json_path = ".spec.gatewayRef.name"),
    printcolumn(name = "Kind", type_ = "string", json_path = ".status.kind"),
    printcolumn(name = "Tools", type_ = "integer", json_path = ".status.tools"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = kube::core::Rule::new(
        "has(self.spec.toolPrefix) || self.metadata.name.matches('^[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?$')"
    ).message("metadata.name: without spec.toolPrefix the name is the tool prefix, so it must be at most 30 characters of [a-z0-9-]; set spec.toolPrefix to keep a longer name")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "[has(self.openApi), has(self.smithy), has(self.lambda), has(self.mcpServer)].filter(x, x).size() == 1"
).message("spec: set exactly one target kind: openApi, smithy, lambda or mcpServer"))]
pub struct GatewayTargetSpec {
    /// The Gateway (in the same namespace) that serves this target's tools.
    pub gateway_ref: GatewayRef,

    /// Prefix of this target's tool names (`<toolPrefix>___<tool>`): 1-30 characters of
    /// `[a-zA-Z0-9-]`. Default: `metadata.name`. Use it for mixed-case AgentCore names such as
    /// `LambdaUsingSDK`, which Kubernetes object names cannot hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,28}[a-zA-Z0-9])?$"))]
    pub tool_prefix: Option<String>,

    /// Human-readable description of the target, up to 200 characters. Tool search also matches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub description: Option<String>,

    /// A REST API described by OpenAPI 3.0/3.1 or Swagger 2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_api: Option<OpenApiTarget>,

    /// An AWS-style API described by a Smithy JSON AST model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smithy: Option<SmithyTarget>,

    /// An AWS Lambda function with a tool schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<LambdaTarget>,

    /// An upstream MCP server whose tools, prompts and resources are federated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_server: Option<McpServerTarget>,

    /// How the gateway authenticates to the backend. At most one of `apiKey`, `oauth2` or
    /// `gatewayIamRole`; none means unauthenticated requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,

    /// Which tools to expose and how to rename or redescribe them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolSelection>,

    /// Token-bucket limit on calls to this target, shared by all callers of one gateway pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,

    /// Time limit for one backend call, as a duration from 100ms to 15m (e.g. `30s`, `2m`).
    /// Default 30s. A call over the limit returns a tool error, never hangs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    #[x_kube(validation = kube::core::Rule::new(
        "!self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') || (duration(self) >= duration('100ms') && duration(self) <= duration('15m'))"
    ).message("timeout: must be between 100ms and 15m"))]
    pub timeout: Option<String>,

    /// Per-target logging of backend calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<TargetLogging>,
}

/// A reference to a Gateway in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, KubeSchema)]
pub struct GatewayRef {
    /// Name of the Gateway.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A REST API described by OpenAPI or Swagger.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenApiTarget {
    /// The OpenAPI 3.0/3.1 or Swagger 2.0 document (YAML or JSON).
    pub schema: SchemaSource,
    /// Base URL of the API, e.g. `http://users.agents.svc.cluster.local/v1`: where calls go,
    /// with any path prefix included. When set it replaces the document's `servers[0]` entirely,
    /// a relative one (`/api/v2`) too, and Swagger's `host` and `basePath`: nothing of them is
    /// appended. Required when the document has no absolute server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"), length(max = 2048))]
    pub base_url: Option<String>,
    /// Values for the variables of `servers[0].url` (e.g. `{region}`), overriding their defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub server_variables: BTreeMap<String, String>,
}

/// An API described by a Smithy JSON AST model.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmithyTarget {
    /// The Smithy model in JSON AST form.
    pub schema: SchemaSource,
    /// Shape id of the service to expose, e.g. `com.amazonaws.dynamodb#DynamoDB_20120810`.
    /// Required when the model holds more than one service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_.]*#[A-Za-z_][A-Za-z0-9_]*$"))]
    pub service: Option<String>,
    /// AWS region used for the endpoint and SigV4 signing, e.g. `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
    pub region: Option<String>,
    /// Endpoint override (VPC endpoints, local emulators). Default: derived from the region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"), length(max = 2048))]
    pub endpoint: Option<String>,
}

/// An AWS Lambda function exposed as tools.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LambdaTarget {
    /// Function ARN, optionally with a version or alias qualifier; it gives region and account.
    #[schemars(regex(
        pattern = r"^arn:aws[a-zA-Z-]*:lambda:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:function:[a-zA-Z0-9-_]{1,64}(:[a-zA-Z0-9-_$]+)?$"
    ))]
    pub function_arn: String,
    /// The tools this function implements (name, description, inputSchema, optional outputSchema).
    pub tool_schema: ToolSchemaSource,
    /// Lambda endpoint override (VPC endpoints, emulators). Default `https://lambda.<region>.amazonaws.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"), length(max = 2048))]
    pub endpoint: Option<String>,
}

/// Tool definitions for a Lambda target, or a pinned tool schema for an MCP server target.
/// Exactly one of `inline` or `configMapRef`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.inline) != has(self.configMapRef)")
    .message("toolSchema: set exactly one of inline or configMapRef"))]
pub struct ToolSchemaSource {
    /// Tool definitions in AgentCore's ToolDefinition format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1000))]
    pub inline: Option<Vec<ToolDefinition>>,
    /// A ConfigMap key holding a JSON or YAML list of tool definitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeyRef>,
}

/// One tool definition (AgentCore ToolDefinition format; JSON Schema for inputs and outputs).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolDefinition {
    /// Tool name, without the target prefix: `[A-Za-z0-9_.-]`, 1-64 characters.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]{1,64}$"))]
    pub name: String,
    /// What the tool does; agents choose tools by this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
    /// JSON Schema of the arguments object.
    #[schemars(schema_with = "crate::schema::any_object")]
    pub input_schema: serde_json::Value,
    /// JSON Schema of the result; when set, results also carry `structuredContent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::any_object_opt")]
    pub output_schema: Option<serde_json::Value>,
}

/// When an upstream MCP server's tool names get the target prefix.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum PrefixMode {
    /// `<toolPrefix>___<tool>` (default, as in AgentCore).
    #[default]
    Always,
    /// The upstream's own names; collisions with other targets are reported in status.
    Never,
}

/// The transport of an upstream MCP server.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum McpTransport {
    /// Streamable HTTP (default).
    #[default]
    StreamableHttp,
    /// The legacy HTTP+SSE transport of revision 2024-11-05.
    Sse,
}

/// How an MCP server target's tools are listed: `Cached` (discovered with `tools/list`, cached and
/// refreshed by the upstream's `ttlMs`, `list_changed` and `syncInterval`) or `Static` (the tools
/// declared in `toolSchema`; the upstream's list is never fetched). Default: `Static` when
/// `toolSchema` is set, `Cached` otherwise.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ListingMode {
    /// The gateway lists the upstream's tools (`tools/list`) and serves its cached list: re-listed
    /// when the list's `ttlMs` runs out (at least 5s, at most `syncInterval`), on
    /// `notifications/tools/list_changed` and after a reconnect.
    Cached,
    /// The gateway serves the tools declared in `toolSchema` and never lists the upstream's tools;
    /// calls are still forwarded to the upstream.
    Static,
}

impl ListingMode {
    /// The mode's name as written in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cached => "Cached",
            Self::Static => "Static",
        }
    }
}

/// An upstream MCP server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.listingMode) || self.listingMode != 'Static' || has(self.toolSchema)"
).message("mcpServer.listingMode: Static serves the tools declared in toolSchema; set toolSchema, or use Cached to discover the upstream's tools"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.listingMode) || self.listingMode != 'Cached' || !has(self.toolSchema)"
).message("mcpServer.listingMode: Cached discovers the upstream's tools, so toolSchema would be ignored; remove toolSchema, or use Static to serve the declared tools"))]
pub struct McpServerTarget {
    /// The upstream's MCP endpoint URL, e.g. `http://search.tools.svc.cluster.local/mcp`.
    #[schemars(regex(pattern = r"^https?://[^\s]+$"), length(max = 2048))]
    pub url: String,
    /// `StreamableHttp` (default) or `Sse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<McpTransport>,
    /// `Always` (default) or `Never`: whether tool names get the target prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<PrefixMode>,
    /// The longest time the gateway serves the upstream's lists (tools, prompts, resources)
    /// without listing them again, from 10s to 24h. Default 5m. Lists are refreshed sooner when
    /// their `ttlMs` runs out (MCP 2026-07-28; never sooner than 5s), on
    /// `notifications/*/list_changed` and after a reconnect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))]
    #[x_kube(validation = kube::core::Rule::new(
        "!self.matches('^([0-9]+(ms|s|m|h))+$') || (duration(self) >= duration('10s') && duration(self) <= duration('24h'))"
    ).message("mcpServer.syncInterval: must be between 10s and 24h"))]
    pub sync_interval: Option<String>,
    /// The declared tools of a `Static` target (like AgentCore's `mcpToolSchema`): only these
    /// tools are served, with these definitions, and the gateway never calls `tools/list` on the
    /// upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_schema: Option<ToolSchemaSource>,
    /// `Cached` (discover the upstream's tools and serve the cached list) or `Static` (serve the
    /// tools declared in `toolSchema`, no discovery). Default: `Static` when `toolSchema` is set,
    /// `Cached` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_mode: Option<ListingMode>,
}

impl McpServerTarget {
    /// The listing mode in effect: the one set, or the default for the spec.
    pub fn effective_listing_mode(&self) -> ListingMode {
        self.listing_mode.unwrap_or(if self.tool_schema.is_some() {
            ListingMode::Static
        } else {
            ListingMode::Cached
        })
    }
}

/// Outbound credentials: at most one kind.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "[has(self.apiKey), has(self.oauth2), has(self.gatewayIamRole)].filter(x, x).size() <= 1"
).message("credentials: set at most one of apiKey, oauth2 or gatewayIamRole"))]
pub struct Credentials {
    /// A static API key from a Secret, sent in a header or query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKeyCredential>,
    /// OAuth 2.0 client credentials; the gateway fetches, caches and refreshes the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2Credential>,
    /// AWS SigV4 with the gateway pod's AWS identity (IRSA, EKS Pod Identity or the default chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_iam_role: Option<GatewayIamRoleCredential>,
}

/// Where an API key is sent.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ApiKeyLocation {
    /// In a request header (default).
    #[default]
    Header,
    /// In a query parameter.
    QueryParameter,
}

/// A static API key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCredential {
    /// The Secret key holding the API key.
    pub secret_ref: SecretKeyRef,
    /// `Header` (default) or `QueryParameter`.
    #[serde(default)]
    pub location: ApiKeyLocation,
    /// Header or query parameter name. Default `Authorization` for headers, `api_key` for queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$"))]
    pub parameter_name: Option<String>,
    /// Text put before the key, e.g. `Bearer ` (with the space). Default: `Bearer ` for the
    /// `Authorization` header, nothing otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub prefix: Option<String>,
}

/// How the client authenticates at the token endpoint.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ClientAuthMethod {
    /// HTTP Basic with client id and secret (default).
    #[default]
    ClientSecretBasic,
    /// Client id and secret in the form body.
    ClientSecretPost,
}

/// OAuth 2.0 client credentials grant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.tokenUrl) != has(self.discoveryUrl)")
    .message("oauth2: set exactly one of tokenUrl or discoveryUrl"))]
#[x_kube(validation = kube::core::Rule::new("has(self.clientId) != has(self.clientIdRef)")
    .message("oauth2: set exactly one of clientId or clientIdRef"))]
pub struct OAuth2Credential {
    /// The token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"), length(max = 2048))]
    pub token_url: Option<String>,
    /// OIDC or OAuth authorization-server discovery URL that gives the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"), length(max = 2048))]
    pub discovery_url: Option<String>,
    /// The client id, in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub client_id: Option<String>,
    /// The client id, from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_ref: Option<SecretKeyRef>,
    /// The client secret, from a Secret.
    pub client_secret_ref: SecretKeyRef,
    /// `ClientSecretBasic` (default) or `ClientSecretPost`.
    #[serde(default)]
    pub auth_method: ClientAuthMethod,
    /// Scopes requested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub scopes: Vec<String>,
    /// `audience` parameter (Auth0, Okta style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// RFC 8707 `resource` indicator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Extra token-request parameters (at most 10).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = kube::core::Rule::new("self.size() <= 10")
        .message("oauth2.customParameters: at most 10 parameters"))]
    pub custom_parameters: BTreeMap<String, String>,
}

/// SigV4 signing with the gateway's AWS identity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayIamRoleCredential {
    /// SigV4 signing name, e.g. `lambda`, `dynamodb`, `execute-api`. Default: from the target
    /// (`lambda` for Lambda, the model's `aws.auth#sigv4` name for Smithy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9-]{1,64}$"))]
    pub service: Option<String>,
    /// Signing region. Default: from the target (ARN or `smithy.region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
    pub region: Option<String>,
}

/// Which tools a target exposes, and under which names.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolSelection {
    /// Only these tools (names before prefixing; `*` wildcards allowed). Empty: all tools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Tools to leave out (names before prefixing; `*` wildcards allowed). Applied after `include`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Per-tool renames and descriptions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub overrides: Vec<ToolOverride>,
}

/// A change to one tool.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolOverride {
    /// The tool's name before prefixing (e.g. the operationId).
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// New tool name (before prefixing): `[A-Za-z0-9_.-]`, 1-64 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]{1,64}$"))]
    pub rename: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
}

/// A token-bucket rate limit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.burst) || self.burst >= self.requestsPerSecond")
    .message("rateLimit.burst: must be at least requestsPerSecond"))]
pub struct RateLimit {
    /// Sustained calls per second, 1-100000.
    #[schemars(range(min = 1, max = 100000))]
    pub requests_per_second: u32,
    /// Largest burst, at least `requestsPerSecond`. Default: `requestsPerSecond`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000))]
    pub burst: Option<u32>,
}

/// Logging of one target's backend calls. Credentials are always redacted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetLogging {
    /// `Error`, `Warn`, `Info` (default) or `Debug`.
    #[serde(default)]
    pub level: crate::gateway::LogLevel,
    /// Log request and response headers (credential headers redacted).
    #[serde(default)]
    pub include_headers: bool,
    /// Log request and response bodies.
    #[serde(default)]
    pub include_body: bool,
}

/// The kind of a target, as shown in status and `kubectl get`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum TargetKind {
    /// OpenAPI or Swagger.
    OpenApi,
    /// Smithy.
    Smithy,
    /// AWS Lambda.
    Lambda,
    /// Upstream MCP server.
    McpServer,
}

impl GatewayTargetSpec {
    /// Which of the four target kinds is set, if exactly one is.
    pub fn kind(&self) -> Option<TargetKind> {
        match (
            self.open_api.is_some(),
            self.smithy.is_some(),
            self.lambda.is_some(),
            self.mcp_server.is_some(),
        ) {
            (true, false, false, false) => Some(TargetKind::OpenApi),
            (false, true, false, false) => Some(TargetKind::Smithy),
            (false, false, true, false) => Some(TargetKind::Lambda),
            (false, false, false, true) => Some(TargetKind::McpServer),
            _ => None,
        }
    }
}

/// An operation that could not become a tool, and why.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedOperation {
    /// The operation, e.g. `GET /avatar` or an operationId.
    pub operation: String,
    /// Why it was skipped.
    pub reason: String,
}

/// A tool whose name was shortened to fit 64 characters.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShortenedName {
    /// The full name it would have had.
    pub original: String,
    /// The name it is served under.
    pub name: String,
}

/// Observed state of a GatewayTarget, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayTargetStatus {
    /// `Accepted`, `ResolvedRefs` and `Ready`, with reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` the operator last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Which target kind is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TargetKind>,
    /// Number of tools this target contributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<i32>,
    /// Full names of the tools (first 500).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_names: Vec<String>,
    /// Tools whose names were shortened to 64 characters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shortened_names: Vec<ShortenedName>,
    /// Operations that could not become tools, with the reason (first 500).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedOperation>,
    /// When the tool list was last synchronized (MCP server targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synchronized: Option<Time>,
    /// The last synchronization error, if the last sync failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_error: Option<String>,
    /// MCP server targets: whether the tools are discovered and cached (`Cached`) or declared in
    /// the spec (`Static`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_mode: Option<ListingMode>,
}

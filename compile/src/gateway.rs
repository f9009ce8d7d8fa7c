//! Gateway + GatewayTargets + the documents they reference → [`GatewayConfig`] and one report
//! per target (for status). Pure: the caller (operator or standalone loader) dereferences
//! ConfigMaps, Secrets and URLs first and passes their contents in [`ResolvedRefs`].
//!
//! A broken target never breaks the gateway: it is left out of the config and its report says
//! why (reason + the path of the bad field). Only a broken Gateway spec fails the whole compile.
//! Standalone mode has no API server to enforce the CRD's CEL rules, so the rules that matter
//! for correctness are checked here again.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use toolyard_crds::config::{
    CallPlan, EmbeddingConfig, Endpoint, GatewayConfig, GatewaySettings, InboundAuthConfig,
    OutboundCredentials, SearchConfig, SecretValueRef, SecurityConfig, TargetConfig, ToolConfig,
};
use toolyard_crds::gateway::{ExceptionLevel, McpVersion, SearchType};
use toolyard_crds::refs::{SchemaSource, SecretKeyRef};
use toolyard_crds::target::{
    ApiKeyLocation, Credentials, ListingMode, McpServerTarget, McpTransport, PrefixMode,
    ShortenedName, SkippedOperation, TargetKind,
};
use toolyard_crds::{CONFIG_VERSION, Gateway, GatewayTarget};

use super::{SourceTools, duration, lambda, naming, openapi, smithy};

/// Default search tool name, as in AgentCore Gateway.
pub const DEFAULT_SEARCH_TOOL: &str = "x_amz_bedrock_agentcore_search";
/// Default backend call timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Default request body limit (1 MiB).
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 1 << 20;
/// Default response limit (6 MiB, the Lambda payload limit).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 6 << 20;

/// The contents of everything the objects reference, read by the caller.
#[derive(Clone, Debug, Default)]
pub struct ResolvedRefs {
    /// ConfigMap `(name, key)` → text.
    pub config_maps: BTreeMap<(String, String), String>,
    /// URL → fetched text.
    pub urls: BTreeMap<String, String>,
    /// URL → why it could not be fetched (for the target's status message).
    pub url_errors: BTreeMap<String, String>,
    /// Secret `(name, key)` pairs that exist (values are never needed to compile).
    pub secrets: BTreeSet<(String, String)>,
}

/// Why the Gateway itself cannot be compiled.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct GatewayError {
    /// Path of the bad field, e.g. `spec.inboundAuth`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Why a target was left out: a condition reason, the bad field and a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TargetError {
    /// `ResolvedRefs` reasons (`SecretNotFound`, `ConfigMapNotFound`, `UrlNotFetched`) or
    /// `Accepted` reasons (`InvalidSpec`, `InvalidSchema`, `NameConflict`).
    pub reason: &'static str,
    /// Path of the bad field, e.g. `spec.openApi.schema.configMapRef`.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl TargetError {
    fn new(reason: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason,
            field: field.into(),
            message: message.into(),
        }
    }

    /// Whether the failure is an unresolved reference (as opposed to an invalid spec).
    pub fn is_ref_error(&self) -> bool {
        matches!(
            self.reason,
            "SecretNotFound" | "ConfigMapNotFound" | "UrlNotFetched"
        )
    }
}

/// What one target compiled into, for its status.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetReport {
    /// GatewayTarget name.
    pub name: String,
    /// Which kind it is (None if zero or several are set).
    pub kind: Option<TargetKind>,
    /// Served tool names, or why the target was left out.
    pub outcome: Result<TargetSummary, TargetError>,
}

/// A successfully compiled target.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TargetSummary {
    /// Served tool names.
    pub tool_names: Vec<String>,
    /// Names shortened to 64 characters.
    pub shortened: Vec<ShortenedName>,
    /// Operations not exposed, with reasons.
    pub skipped: Vec<SkippedOperation>,
    /// Non-fatal findings (e.g. an override that matched no tool).
    pub warnings: Vec<String>,
    /// MCP server targets: the listing mode in effect (set or defaulted).
    pub listing_mode: Option<ListingMode>,
}

/// The result of compiling one gateway.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The config to serve.
    pub config: GatewayConfig,
    /// One report per target, in input order.
    pub targets: Vec<TargetReport>,
}

/// Extra settings from the environment the gateway runs in.
#[derive(Clone, Debug, Default)]
pub struct CompileContext {
    /// Host names the gateway is reached by (its Service DNS names), always allowed.
    pub extra_allowed_hosts: Vec<String>,
    /// Name of the Secret that holds credential values in the gateway's namespace. `None`
    /// (standalone): refer to the users' own Secrets by name.
    pub credentials_secret: Option<String>,
}

/// Compiles a gateway and the targets that refer to it (targets for other gateways are ignored).
pub fn compile(
    gateway: &Gateway,
    targets: &[GatewayTarget],
    refs: &ResolvedRefs,
    ctx: &CompileContext,
) -> Result<Compiled, GatewayError> {
    let settings = gateway_settings(gateway, ctx)?;
    let gateway_name = gateway.metadata.name.clone().unwrap_or_default();

    let mut ordered: Vec<&GatewayTarget> = targets
        .iter()
        .filter(|t| t.spec.gateway_ref.name == gateway_name)
        .collect();
    ordered.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));

    let mut reports = Vec::new();
    let mut compiled_targets = Vec::new();
    let mut taken: BTreeMap<String, String> = BTreeMap::new(); // tool name → target name
    if settings.search.enabled {
        taken.insert(
            settings.search.tool_name.clone(),
            "(built-in search)".into(),
        );
    }
    for target in ordered {
        let name = target.metadata.name.clone().unwrap_or_default();
        let kind = target.spec.kind();
        let outcome = compile_target(target, refs, ctx).and_then(|(config, summary)| {
            claim_names(&config, &name, &mut taken)?;
            compiled_targets.push(config);
            Ok(summary)
        });
        reports.push(TargetReport {
            name,
            kind,
            outcome,
        });
    }
    compiled_targets.sort_by(|a, b| a.prefix.cmp(&b.prefix).then(a.name.cmp(&b.name)));

    let mut config = GatewayConfig {
        version: CONFIG_VERSION.to_string(),
        revision: String::new(),
        gateway: settings,
        targets: compiled_targets,
        authorization: None,
    };
    config.revision = revision(&config);
    Ok(Compiled {
        config,
        targets: reports,
    })
}

/// Content hash of a config (with an empty revision field), 16 hex characters.
pub fn revision(config: &GatewayConfig) -> String {
    let mut hasher = Sha256::new();
    let mut copy = config.clone();
    copy.revision.clear();
    hasher.update(serde_json::to_vec(&copy).unwrap_or_default());
    hex::encode(&hasher.finalize()[..8])
}

fn claim_names(
    config: &TargetConfig,
    target: &str,
    taken: &mut BTreeMap<String, String>,
) -> Result<(), TargetError> {
    for tool in &config.tools {
        if let Some(owner) = taken.get(&tool.name) {
            return Err(TargetError::new(
                "NameConflict",
                "spec.toolPrefix",
                format!(
                    "tool name {} is already served by {owner}; set a different spec.toolPrefix or rename the tool",
                    tool.name
                ),
            ));
        }
    }
    for tool in &config.tools {
        taken.insert(tool.name.clone(), format!("GatewayTarget {target}"));
    }
    Ok(())
}

fn gateway_settings(
    gateway: &Gateway,
    ctx: &CompileContext,
) -> Result<GatewaySettings, GatewayError> {
    let spec = &gateway.spec;
    let err = |field: &str, message: &str| GatewayError {
        field: field.into(),
        message: message.into(),
    };

    let inbound = &spec.inbound_auth;
    let inbound_auth = match (&inbound.jwt, &inbound.service_account, &inbound.none) {
        (Some(jwt), None, None) => {
            let checks = jwt.allowed_audiences.len()
                + jwt.allowed_clients.len()
                + jwt.allowed_scopes.len()
                + jwt.custom_claims.len();
            if checks == 0 {
                return Err(err(
                    "spec.inboundAuth.jwt",
                    "set at least one of allowedAudiences, allowedClients, allowedScopes or customClaims",
                ));
            }
            InboundAuthConfig::Jwt(jwt.clone())
        }
        (None, Some(sa), None) => InboundAuthConfig::ServiceAccount(sa.clone()),
        (None, None, Some(_)) => InboundAuthConfig::None,
        _ => {
            return Err(err(
                "spec.inboundAuth",
                "set exactly one of jwt, serviceAccount or none",
            ));
        }
    };

    let mcp = spec.mcp.clone().unwrap_or_default();
    let mut supported_versions = if mcp.supported_versions.is_empty() {
        McpVersion::ALL.to_vec()
    } else {
        mcp.supported_versions.clone()
    };
    supported_versions.sort();
    supported_versions.dedup();

    let search_spec = spec.search.clone().unwrap_or_default();
    let embedding = match &search_spec.embedding {
        None => None,
        Some(e) => match (&e.local_model, &e.open_ai) {
            (Some(local), None) => Some(EmbeddingConfig::LocalModel {
                path: local.path.clone(),
            }),
            (None, Some(oa)) => Some(EmbeddingConfig::OpenAi {
                url: oa.url.clone(),
                model: oa.model.clone(),
                api_key: oa.api_key_secret_ref.as_ref().map(|r| secret_ref(r, ctx)),
            }),
            _ => {
                return Err(err(
                    "spec.search.embedding",
                    "set exactly one of localModel or openAi",
                ));
            }
        },
    };
    let search = SearchConfig {
        enabled: search_spec.search_type == SearchType::Semantic,
        tool_name: search_spec
            .tool_name
            .clone()
            .unwrap_or_else(|| DEFAULT_SEARCH_TOOL.to_string()),
        top_k: search_spec.top_k.unwrap_or(10).clamp(1, 100),
        embedding,
    };

    let sec = spec.security.clone().unwrap_or_default();
    let security = SecurityConfig {
        allowed_domains: sec.allowed_domains.clone(),
        allowed_methods: sec.allowed_methods.clone(),
        max_request_bytes: sec.max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES),
        max_response_bytes: sec.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
    };

    let mut allowed_hosts = mcp.allowed_hosts.clone();
    allowed_hosts.extend(ctx.extra_allowed_hosts.iter().cloned());
    allowed_hosts.sort();
    allowed_hosts.dedup();

    Ok(GatewaySettings {
        name: gateway.metadata.name.clone().unwrap_or_default(),
        namespace: gateway
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        description: spec.description.clone(),
        instructions: mcp.instructions.clone(),
        supported_versions,
        allowed_hosts,
        allowed_origins: mcp.allowed_origins.clone(),
        page_size: mcp.page_size.unwrap_or(100).clamp(1, 1000),
        exception_level: spec.exception_level.unwrap_or(ExceptionLevel::None),
        security,
        inbound_auth,
        search,
    })
}

fn secret_ref(r: &SecretKeyRef, ctx: &CompileContext) -> SecretValueRef {
    match &ctx.credentials_secret {
        // In a cluster the operator copies each referenced value into the gateway's own Secret
        // under `<secret>.<key>`, so the gateway can only ever read what targets reference.
        Some(own) => SecretValueRef {
            secret: own.clone(),
            key: format!("{}.{}", r.name, r.key),
        },
        None => SecretValueRef {
            secret: r.name.clone(),
            key: r.key.clone(),
        },
    }
}

/// The listing mode of an MCP server target, checked against its declared tools (the CRD's CEL
/// rules, again for standalone mode): `Static` serves `toolSchema`, so it needs one; `Cached`
/// discovers the tools, so a `toolSchema` would be silently ignored and is refused instead.
fn mcp_listing_mode(m: &McpServerTarget) -> Result<ListingMode, TargetError> {
    match (m.listing_mode, m.tool_schema.is_some()) {
        (Some(ListingMode::Static), false) => Err(TargetError::new(
            "InvalidSpec",
            "spec.mcpServer.listingMode",
            "Static serves the tools declared in toolSchema; set toolSchema, or use Cached to discover the upstream's tools",
        )),
        (Some(ListingMode::Cached), true) => Err(TargetError::new(
            "InvalidSpec",
            "spec.mcpServer.listingMode",
            "Cached discovers the upstream's tools, so toolSchema would be ignored; remove toolSchema, or use Static to serve the declared tools",
        )),
        _ => Ok(m.effective_listing_mode()),
    }
}

fn compile_target(
    target: &GatewayTarget,
    refs: &ResolvedRefs,
    ctx: &CompileContext,
) -> Result<(TargetConfig, TargetSummary), TargetError> {
    let spec = &target.spec;
    let name = target.metadata.name.clone().unwrap_or_default();
    let prefix = match &spec.tool_prefix {
        Some(p) => p.clone(),
        None => name.clone(),
    };
    let prefix_field = if spec.tool_prefix.is_some() {
        "spec.toolPrefix"
    } else {
        "metadata.name"
    };
    if !valid_prefix(&prefix) {
        return Err(TargetError::new(
            "InvalidSpec",
            prefix_field,
            format!(
                "tool prefix {prefix:?} must be 1-30 characters of [a-zA-Z0-9-], not starting or ending with '-'"
            ),
        ));
    }
    let kind = spec.kind().ok_or_else(|| {
        TargetError::new(
            "InvalidSpec",
            "spec",
            "set exactly one target kind: openApi, smithy, lambda or mcpServer",
        )
    })?;
    let timeout_ms = match &spec.timeout {
        None => DEFAULT_TIMEOUT_MS,
        Some(t) => match duration::parse(t) {
            Some(d) if d.as_millis() >= 100 && d.as_secs() <= 900 => d.as_millis() as u64,
            _ => {
                return Err(TargetError::new(
                    "InvalidSpec",
                    "spec.timeout",
                    format!("{t:?} is not a duration between 100ms and 15m (e.g. 30s)"),
                ));
            }
        },
    };
    if let Some(rl) = &spec.rate_limit
        && (rl.requests_per_second == 0 || rl.burst.is_some_and(|b| b < rl.requests_per_second))
    {
        return Err(TargetError::new(
            "InvalidSpec",
            "spec.rateLimit",
            "requestsPerSecond must be at least 1 and burst at least requestsPerSecond",
        ));
    }
    let mut credentials = credentials(spec.credentials.as_ref(), kind, spec, refs, ctx)?;
    // The Smithy model's SigV4 name, the default signing name of `gatewayIamRole`.
    let mut signing_name: Option<String> = None;
    // MCP server targets: where their tools come from.
    let mut listing_mode: Option<ListingMode> = None;
    let (endpoint, source) = match kind {
        TargetKind::OpenApi => {
            let api = spec
                .open_api
                .as_ref()
                .ok_or_else(|| TargetError::new("InvalidSpec", "spec.openApi", "missing"))?;
            let document = resolve_schema(&api.schema, "spec.openApi.schema", refs)?;
            let input = openapi::OpenApiInput {
                document: &document,
                base_url: api.base_url.as_deref(),
                server_variables: &api.server_variables,
            };
            let compiled = openapi::compile(&input).map_err(|e| {
                TargetError::new("InvalidSchema", "spec.openApi.schema", e.to_string())
            })?;
            (
                Endpoint::Http {
                    base_url: compiled.base_url,
                },
                compiled.tools,
            )
        }
        TargetKind::Lambda => {
            let l = spec
                .lambda
                .as_ref()
                .ok_or_else(|| TargetError::new("InvalidSpec", "spec.lambda", "missing"))?;
            let region = arn_region(&l.function_arn).ok_or_else(|| {
                TargetError::new(
                    "InvalidSpec",
                    "spec.lambda.functionArn",
                    "expected arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]",
                )
            })?;
            if spec
                .credentials
                .as_ref()
                .is_some_and(|c| c.api_key.is_some() || c.oauth2.is_some())
            {
                return Err(TargetError::new(
                    "InvalidSpec",
                    "spec.credentials",
                    "Lambda targets are invoked with the gateway's AWS identity: use gatewayIamRole or no credentials (which means gatewayIamRole)",
                ));
            }
            let defs = tool_definitions(&l.tool_schema, "spec.lambda.toolSchema", refs)?;
            let url = l
                .endpoint
                .clone()
                .unwrap_or_else(|| format!("https://lambda.{region}.amazonaws.com"));
            (
                Endpoint::Lambda {
                    function_arn: l.function_arn.clone(),
                    region,
                    url,
                },
                lambda::compile(&defs, |_| CallPlan::Lambda),
            )
        }
        TargetKind::McpServer => {
            let m = spec
                .mcp_server
                .as_ref()
                .ok_or_else(|| TargetError::new("InvalidSpec", "spec.mcpServer", "missing"))?;
            let sync_interval_ms = match &m.sync_interval {
                None => 300_000,
                Some(s) => duration::parse(s)
                    .map(|d| d.as_millis() as u64)
                    .filter(|ms| (10_000..=86_400_000).contains(ms))
                    .ok_or_else(|| {
                        TargetError::new(
                            "InvalidSpec",
                            "spec.mcpServer.syncInterval",
                            "must be a duration between 10s and 24h",
                        )
                    })?,
            };
            listing_mode = Some(mcp_listing_mode(m)?);
            // Tools of a Static target are known now; a Cached one's are listed at runtime.
            let source = match &m.tool_schema {
                Some(ts) => {
                    let defs = tool_definitions(ts, "spec.mcpServer.toolSchema", refs)?;
                    lambda::compile(&defs, |d| CallPlan::Mcp {
                        upstream_name: d.name.clone(),
                    })
                }
                None => SourceTools::default(),
            };
            (
                Endpoint::Mcp {
                    url: m.url.clone(),
                    transport: m.transport.unwrap_or(McpTransport::StreamableHttp),
                    prefix: m.prefix.unwrap_or(PrefixMode::Always),
                    sync_interval_ms,
                    pinned: listing_mode == Some(ListingMode::Static),
                },
                source,
            )
        }
        TargetKind::Smithy => {
            let s = spec
                .smithy
                .as_ref()
                .ok_or_else(|| TargetError::new("InvalidSpec", "spec.smithy", "missing"))?;
            let document = resolve_schema(&s.schema, "spec.smithy.schema", refs)?;
            let input = smithy::SmithyInput {
                document: &document,
                service: s.service.as_deref(),
                region: s.region.as_deref(),
                endpoint: s.endpoint.as_deref(),
            };
            let compiled = smithy::compile(&input)
                .map_err(|e| TargetError::new(e.reason(), e.field(), e.to_string()))?;
            signing_name = compiled.signing_name;
            (compiled.endpoint, compiled.tools)
        }
    };
    // A Smithy target's `gatewayIamRole` without a service signs with the model's name.
    if let Some(OutboundCredentials::AwsSigV4 { service, .. }) = &mut credentials
        && service.is_empty()
    {
        *service = signing_name.clone().ok_or_else(|| {
            TargetError::new(
                "InvalidSpec",
                "spec.credentials.gatewayIamRole.service",
                "the model's service has no aws.auth#sigv4 name; set the SigV4 signing name",
            )
        })?;
    }
    // AWS APIs take SigV4: a Smithy target without credentials signs with the pod's AWS
    // identity, the model's signing name and the target's region (unsigned only when the model
    // has no `aws.auth#sigv4` or no region is set, e.g. a local emulator behind `endpoint`).
    if kind == TargetKind::Smithy
        && credentials.is_none()
        && let (Some(service), Some(region)) = (
            signing_name.clone(),
            spec.smithy.as_ref().and_then(|s| s.region.clone()),
        )
    {
        credentials = Some(OutboundCredentials::AwsSigV4 { service, region });
    }

    let use_prefix = !matches!(
        endpoint,
        Endpoint::Mcp {
            prefix: PrefixMode::Never,
            ..
        }
    );
    let (selected, unused_overrides) = naming::select(source.tools, spec.tools.as_ref());
    let mut summary = TargetSummary {
        skipped: source.skipped,
        listing_mode,
        ..Default::default()
    };
    for o in unused_overrides {
        summary
            .warnings
            .push(format!("spec.tools.overrides: no tool named {o:?}"));
    }
    let mut tools = Vec::with_capacity(selected.len());
    let mut seen = BTreeSet::new();
    for (tool, original) in selected {
        let (full, shortened) =
            naming::full_name(use_prefix.then_some(prefix.as_str()), &tool.name);
        if !seen.insert(full.clone()) {
            summary.skipped.push(SkippedOperation {
                operation: original.clone(),
                reason: format!("tool name {full} is already used by another tool of this target"),
            });
            continue;
        }
        if shortened {
            let long = if use_prefix {
                format!("{prefix}{}{}", naming::SEPARATOR, tool.name)
            } else {
                tool.name.clone()
            };
            summary.shortened.push(ShortenedName {
                original: long,
                name: full.clone(),
            });
        }
        tools.push(ToolConfig {
            name: full,
            original_name: original,
            title: tool.title,
            description: tool.description,
            input_schema: tool.input_schema,
            output_schema: tool.output_schema,
            annotations: tool.annotations,
            deprecated: tool.deprecated,
            call: tool.call,
        });
    }
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    // Only what the selected tools reach is kept.
    let mut schema_defs = source.schema_defs;
    crate::schema_defs::prune(
        &mut schema_defs,
        tools
            .iter()
            .flat_map(|t| std::iter::once(&t.input_schema).chain(t.output_schema.as_ref())),
    );
    summary.tool_names = tools.iter().map(|t| t.name.clone()).collect();

    let config = TargetConfig {
        name,
        prefix,
        kind,
        description: spec.description.clone(),
        timeout_ms,
        rate_limit: spec.rate_limit.clone(),
        logging: spec.logging.clone().unwrap_or_default(),
        credentials,
        endpoint,
        tools,
        schema_defs,
        skipped: summary.skipped.clone(),
    };
    Ok((config, summary))
}

fn valid_prefix(prefix: &str) -> bool {
    let bytes = prefix.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 30
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Region of a Lambda function ARN.
fn arn_region(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    (parts.len() >= 7
        && parts[0] == "arn"
        && parts[2] == "lambda"
        && parts[5] == "function"
        && !parts[3].is_empty())
    .then(|| parts[3].to_string())
}

fn resolve_schema(
    source: &SchemaSource,
    field: &str,
    refs: &ResolvedRefs,
) -> Result<String, TargetError> {
    match (&source.inline, &source.config_map_ref, &source.url) {
        (Some(text), None, None) => Ok(text.clone()),
        (None, Some(cm), None) => config_map_text(refs, cm, field).cloned(),
        (None, None, Some(url)) => refs.urls.get(url).cloned().ok_or_else(|| {
            let why = refs
                .url_errors
                .get(url)
                .map_or("it was not fetched".into(), |e| e.clone());
            TargetError::new(
                "UrlNotFetched",
                format!("{field}.url"),
                format!("could not fetch {url}: {why}"),
            )
        }),
        _ => Err(TargetError::new(
            "InvalidSpec",
            field,
            "set exactly one of inline, configMapRef or url",
        )),
    }
}

/// The text of a referenced ConfigMap key, or a `ConfigMapNotFound` error at `<field>.configMapRef`.
fn config_map_text<'a>(
    refs: &'a ResolvedRefs,
    cm: &toolyard_crds::refs::ConfigMapKeyRef,
    field: &str,
) -> Result<&'a String, TargetError> {
    refs.config_maps
        .get(&(cm.name.clone(), cm.key.clone()))
        .ok_or_else(|| {
            TargetError::new(
                "ConfigMapNotFound",
                format!("{field}.configMapRef"),
                format!(
                    "ConfigMap {} has no key {:?} (or does not exist)",
                    cm.name, cm.key
                ),
            )
        })
}

fn tool_definitions(
    source: &toolyard_crds::target::ToolSchemaSource,
    field: &str,
    refs: &ResolvedRefs,
) -> Result<Vec<toolyard_crds::target::ToolDefinition>, TargetError> {
    match (&source.inline, &source.config_map_ref) {
        (Some(defs), None) => Ok(defs.clone()),
        (None, Some(cm)) => {
            let text = config_map_text(refs, cm, field)?;
            lambda::parse_definitions(text).map_err(|e| {
                TargetError::new(
                    "InvalidSchema",
                    format!("{field}.configMapRef"),
                    e.to_string(),
                )
            })
        }
        _ => Err(TargetError::new(
            "InvalidSpec",
            field,
            "set exactly one of inline or configMapRef",
        )),
    }
}

fn credentials(
    creds: Option<&Credentials>,
    kind: TargetKind,
    spec: &toolyard_crds::GatewayTargetSpec,
    refs: &ResolvedRefs,
    ctx: &CompileContext,
) -> Result<Option<OutboundCredentials>, TargetError> {
    let Some(c) = creds else { return Ok(None) };
    let check = |r: &SecretKeyRef, field: &str| -> Result<SecretValueRef, TargetError> {
        if refs.secrets.contains(&(r.name.clone(), r.key.clone())) {
            Ok(secret_ref(r, ctx))
        } else {
            Err(TargetError::new(
                "SecretNotFound",
                field,
                format!(
                    "Secret {} has no key {:?} (or does not exist)",
                    r.name, r.key
                ),
            ))
        }
    };
    match (&c.api_key, &c.oauth2, &c.gateway_iam_role) {
        (None, None, None) => Ok(None),
        (Some(k), None, None) => {
            let value = check(&k.secret_ref, "spec.credentials.apiKey.secretRef")?;
            let parameter_name = k
                .parameter_name
                .clone()
                .unwrap_or_else(|| match k.location {
                    ApiKeyLocation::Header => "Authorization".into(),
                    ApiKeyLocation::QueryParameter => "api_key".into(),
                });
            let prefix = k.prefix.clone().unwrap_or_else(|| {
                if k.location == ApiKeyLocation::Header
                    && parameter_name.eq_ignore_ascii_case("authorization")
                {
                    "Bearer ".into()
                } else {
                    String::new()
                }
            });
            Ok(Some(OutboundCredentials::ApiKey {
                value,
                location: k.location,
                parameter_name,
                prefix,
            }))
        }
        (None, Some(o), None) => {
            let client_secret = check(
                &o.client_secret_ref,
                "spec.credentials.oauth2.clientSecretRef",
            )?;
            let client_id_ref = match &o.client_id_ref {
                Some(r) => Some(check(r, "spec.credentials.oauth2.clientIdRef")?),
                None => None,
            };
            if o.token_url.is_some() == o.discovery_url.is_some() {
                return Err(TargetError::new(
                    "InvalidSpec",
                    "spec.credentials.oauth2",
                    "set exactly one of tokenUrl or discoveryUrl",
                ));
            }
            if o.client_id.is_some() == client_id_ref.is_some() {
                return Err(TargetError::new(
                    "InvalidSpec",
                    "spec.credentials.oauth2",
                    "set exactly one of clientId or clientIdRef",
                ));
            }
            Ok(Some(OutboundCredentials::OAuth2 {
                token_url: o.token_url.clone(),
                discovery_url: o.discovery_url.clone(),
                client_id: o.client_id.clone(),
                client_id_ref,
                client_secret,
                auth_method: o.auth_method,
                scopes: o.scopes.clone(),
                audience: o.audience.clone(),
                resource: o.resource.clone(),
                custom_parameters: o.custom_parameters.clone(),
            }))
        }
        (None, None, Some(iam)) => {
            let default_service = match kind {
                TargetKind::Lambda => Some("lambda"),
                // Filled in from the model once it is compiled.
                TargetKind::Smithy => Some(""),
                _ => None,
            };
            let service = iam
                .service
                .clone()
                .or(default_service.map(String::from))
                .ok_or_else(|| {
                    TargetError::new(
                        "InvalidSpec",
                        "spec.credentials.gatewayIamRole.service",
                        "set the SigV4 signing name (e.g. execute-api)",
                    )
                })?;
            let default_region = spec
                .lambda
                .as_ref()
                .and_then(|l| arn_region(&l.function_arn))
                .or_else(|| spec.smithy.as_ref().and_then(|s| s.region.clone()));
            let region = iam.region.clone().or(default_region).ok_or_else(|| {
                TargetError::new(
                    "InvalidSpec",
                    "spec.credentials.gatewayIamRole.region",
                    "set the signing region (e.g. us-east-1)",
                )
            })?;
            Ok(Some(OutboundCredentials::AwsSigV4 { service, region }))
        }
        _ => Err(TargetError::new(
            "InvalidSpec",
            "spec.credentials",
            "set at most one of apiKey, oauth2 or gatewayIamRole",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::Manifests;
    use std::path::Path;

    const GATEWAY: &str = "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  inboundAuth: {none: {}}\n  search: {type: Semantic}\n";
    const SPEC: &str = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers: [{url: 'http://127.0.0.1:1'}]\npaths:\n  /u/{id}:\n    get:\n      operationId: getUser\n      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n      responses: {'200': {description: ok}}\n";

    fn target(name: &str, extra: &str) -> String {
        format!(
            "---\napiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {{name: {name}}}\nspec:\n  gatewayRef: {{name: g}}\n{extra}"
        )
    }

    fn compile_text(text: &str) -> Compiled {
        let mut m = Manifests::default();
        m.add_text(Path::new("t.yaml"), text)
            .expect("manifests parse");
        compile(
            &m.gateways[0],
            &m.targets,
            &m.resolved_refs(),
            &CompileContext::default(),
        )
        .expect("gateway compiles")
    }

    #[test]
    fn a_broken_target_is_left_out_with_the_field_path_and_the_others_serve() {
        let spec: String = SPEC.lines().map(|l| format!("    {l}\n")).collect();
        let text = format!(
            "{GATEWAY}{}{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: api}}\ndata:\n  spec.yaml: |\n{spec}",
            target(
                "good",
                "  openApi:\n    schema: {configMapRef: {name: api, key: spec.yaml}}\n"
            ),
            target(
                "broken",
                "  openApi:\n    schema: {configMapRef: {name: missing, key: spec.yaml}}\n"
            ),
        );
        let compiled = compile_text(&text);
        let broken = compiled
            .targets
            .iter()
            .find(|t| t.name == "broken")
            .unwrap();
        let err = broken.outcome.as_ref().unwrap_err();
        assert_eq!(err.reason, "ConfigMapNotFound");
        assert_eq!(err.field, "spec.openApi.schema.configMapRef");
        assert!(err.is_ref_error());
        let names: Vec<&str> = compiled
            .config
            .targets
            .iter()
            .flat_map(|t| t.tools.iter().map(|x| x.name.as_str()))
            .collect();
        assert_eq!(names, ["good___getUser"]);
        assert!(compiled.config.gateway.search.enabled);
        assert_eq!(compiled.config.revision, revision(&compiled.config));
    }

    #[test]
    fn bad_prefix_timeout_and_missing_secret_name_their_fields() {
        let lambda = "  lambda:\n    functionArn: arn:aws:lambda:us-east-1:123456789012:function:f\n    toolSchema: {inline: [{name: t, inputSchema: {type: object}}]}\n";
        let text = format!(
            "{GATEWAY}{}{}{}",
            target("a", &format!("  toolPrefix: bad_prefix\n{lambda}")),
            target("b", &format!("  timeout: 20m\n{lambda}")),
            target(
                "c",
                &format!(
                    "{lambda}  credentials: {{apiKey: {{secretRef: {{name: nope, key: k}}}}}}\n"
                )
            ),
        );
        let compiled = compile_text(&text);
        let fields: Vec<(&str, &str)> = compiled
            .targets
            .iter()
            .map(|t| {
                let e = t.outcome.as_ref().unwrap_err();
                (e.reason, e.field.as_str())
            })
            .collect();
        assert_eq!(
            fields,
            [
                ("InvalidSpec", "spec.toolPrefix"),
                ("InvalidSpec", "spec.timeout"),
                ("SecretNotFound", "spec.credentials.apiKey.secretRef")
            ]
        );
    }

    #[test]
    fn mcp_listing_mode_defaults_from_the_declared_tools_and_must_agree_with_them() {
        let tools = "    toolSchema: {inline: [{name: search, inputSchema: {type: object}}]}\n";
        let mcp = |extra: &str| format!("  mcpServer:\n    url: http://127.0.0.1:9/mcp\n{extra}");
        let text = format!(
            "{GATEWAY}{}{}{}{}{}{}",
            target("discovered", &mcp("")),
            target("declared", &mcp(tools)),
            target("cached", &mcp("    listingMode: Cached\n")),
            target("static", &mcp(&format!("    listingMode: Static\n{tools}"))),
            target("static-bare", &mcp("    listingMode: Static\n")),
            target(
                "cached-tools",
                &mcp(&format!("    listingMode: Cached\n{tools}"))
            ),
        );
        let compiled = compile_text(&text);
        let report = |n: &str| compiled.targets.iter().find(|t| t.name == n).unwrap();
        let mode = |n: &str| report(n).outcome.as_ref().unwrap().listing_mode;
        assert_eq!(mode("discovered"), Some(ListingMode::Cached));
        assert_eq!(mode("declared"), Some(ListingMode::Static));
        assert_eq!(mode("cached"), Some(ListingMode::Cached));
        assert_eq!(mode("static"), Some(ListingMode::Static));
        for bad in ["static-bare", "cached-tools"] {
            let err = report(bad).outcome.as_ref().unwrap_err();
            assert_eq!(
                (err.reason, err.field.as_str()),
                ("InvalidSpec", "spec.mcpServer.listingMode"),
                "{bad}"
            );
        }
        assert!(
            report("static-bare")
                .outcome
                .as_ref()
                .unwrap_err()
                .message
                .contains("set toolSchema")
        );
        // Static pins the declared tools (no discovery); Cached leaves them to the gateway.
        let pinned = |n: &str| {
            let t = compiled
                .config
                .targets
                .iter()
                .find(|t| t.name == n)
                .unwrap();
            let Endpoint::Mcp { pinned, .. } = t.endpoint else {
                panic!("{n} is not an MCP target")
            };
            (pinned, t.tools.len())
        };
        assert_eq!(pinned("declared"), (true, 1));
        assert_eq!(pinned("static"), (true, 1));
        assert_eq!(pinned("discovered"), (false, 0));
        assert_eq!(pinned("cached"), (false, 0));
        // Other kinds have no listing mode.
        let lambda = "  lambda:\n    functionArn: arn:aws:lambda:us-east-1:123456789012:function:f\n    toolSchema: {inline: [{name: t, inputSchema: {type: object}}]}\n";
        let compiled = compile_text(&format!("{GATEWAY}{}", target("fn", lambda)));
        assert_eq!(
            compiled.targets[0].outcome.as_ref().unwrap().listing_mode,
            None
        );
    }

    #[test]
    fn a_tool_name_taken_by_another_target_is_a_conflict() {
        let lambda = "  lambda:\n    functionArn: arn:aws:lambda:us-east-1:123456789012:function:f\n    toolSchema: {inline: [{name: t, inputSchema: {type: object}}]}\n";
        let text = format!(
            "{GATEWAY}{}{}",
            target("first", &format!("  toolPrefix: same\n{lambda}")),
            target("second", &format!("  toolPrefix: same\n{lambda}")),
        );
        let compiled = compile_text(&text);
        assert!(compiled.targets[0].outcome.is_ok());
        let err = compiled.targets[1].outcome.as_ref().unwrap_err();
        assert_eq!(err.reason, "NameConflict");
        assert!(err.message.contains("same___t"), "{}", err.message);
    }

    #[test]
    fn lambda_targets_take_region_endpoint_and_only_iam_credentials() {
        let lambda = "  lambda:\n    functionArn: arn:aws:lambda:eu-west-1:123456789012:function:f:live\n    endpoint: http://127.0.0.1:9001\n    toolSchema: {inline: [{name: t, inputSchema: {type: object}}]}\n";
        let text = format!(
            "{GATEWAY}{}{}{}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{k: v}}\n",
            target("plain", lambda),
            target(
                "iam",
                &format!("{lambda}  credentials: {{gatewayIamRole: {{}}}}\n")
            ),
            target(
                "keyed",
                &format!("{lambda}  credentials: {{apiKey: {{secretRef: {{name: s, key: k}}}}}}\n")
            ),
        );
        let compiled = compile_text(&text);
        let keyed = compiled.targets.iter().find(|t| t.name == "keyed").unwrap();
        let err = keyed.outcome.as_ref().unwrap_err();
        assert_eq!(
            (err.reason, err.field.as_str()),
            ("InvalidSpec", "spec.credentials")
        );
        let by_name = |n: &str| {
            compiled
                .config
                .targets
                .iter()
                .find(|t| t.name == n)
                .unwrap()
        };
        let plain = by_name("plain");
        assert_eq!(
            plain.endpoint,
            Endpoint::Lambda {
                function_arn: "arn:aws:lambda:eu-west-1:123456789012:function:f:live".into(),
                region: "eu-west-1".into(),
                url: "http://127.0.0.1:9001".into(),
            }
        );
        assert_eq!(plain.credentials, None);
        assert_eq!(
            by_name("iam").credentials,
            Some(OutboundCredentials::AwsSigV4 {
                service: "lambda".into(),
                region: "eu-west-1".into(),
            })
        );
    }

    #[test]
    fn a_gateway_without_inbound_auth_choice_fails_as_a_whole() {
        let mut m = Manifests::default();
        m.add_text(Path::new("g.yaml"), "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  inboundAuth: {}\n").unwrap();
        let err = compile(
            &m.gateways[0],
            &[],
            &m.resolved_refs(),
            &CompileContext::default(),
        )
        .unwrap_err();
        assert_eq!(err.field, "spec.inboundAuth");
    }

    #[test]
    fn smithy_targets_compile_with_sigv4_by_default_and_name_bad_fields() {
        let model = r#"{"smithy":"2.0","shapes":{"ex#Svc":{"type":"service","operations":[{"target":"ex#Ping"}],"traits":{"aws.protocols#awsJson1_1":{},"aws.api#service":{"endpointPrefix":"ex"},"aws.auth#sigv4":{"name":"exsign"}}},"ex#Ping":{"type":"operation"}}}"#;
        let smithy = |extra: &str| format!("  smithy:\n    schema: {{inline: '{model}'}}\n{extra}");
        let text = format!(
            "{GATEWAY}{}{}{}{}",
            target("a", &smithy("    region: eu-west-1\n")),
            target(
                "b",
                &smithy(
                    "    endpoint: http://127.0.0.1:1\n  credentials: {gatewayIamRole: {region: us-east-2}}\n"
                )
            ),
            target("c", &smithy("    endpoint: http://127.0.0.1:1\n")),
            target("d", &smithy("")),
        );
        let compiled = compile_text(&text);
        let config = |name: &str| {
            compiled
                .config
                .targets
                .iter()
                .find(|t| t.name == name)
                .unwrap()
        };
        let a = config("a");
        assert_eq!(a.tools[0].name, "a___Ping");
        assert_eq!(
            a.endpoint,
            Endpoint::AwsJson {
                url: "https://ex.eu-west-1.amazonaws.com".into(),
                json_version: "1.1".into(),
                target_prefix: "Svc".into()
            }
        );
        assert_eq!(
            a.credentials,
            Some(OutboundCredentials::AwsSigV4 {
                service: "exsign".into(),
                region: "eu-west-1".into()
            })
        );
        assert_eq!(
            config("b").credentials,
            Some(OutboundCredentials::AwsSigV4 {
                service: "exsign".into(),
                region: "us-east-2".into()
            })
        );
        // An emulator endpoint without a region: unsigned.
        assert_eq!(config("c").credentials, None);
        let d = compiled.targets.iter().find(|t| t.name == "d").unwrap();
        let err = d.outcome.as_ref().unwrap_err();
        assert_eq!(
            (err.reason, err.field.as_str()),
            ("InvalidSpec", "spec.smithy.region")
        );
    }
}

//! One immutable view of everything the gateway serves: the MCP tool list (pre-rendered in served
//! order), a name index, and per-target runtime parts (pooled HTTP client, resolved credentials,
//! rate limiter). Built off the request path, once per reload.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool, ToolAnnotations};
use serde_json::Value;
use toolyard_crds::config::{Endpoint, GatewayConfig, TargetConfig, ToolConfig};

use super::listed::RenderedTool;
use super::search::{EmbedJob, Prepared, SearchEmbeddings};
use super::served_schema::{INPUT_BUDGET, OUTPUT_BUDGET, ServedDefs};
use crate::invoke::validate::Validator;
use crate::outbound::credentials::{CredentialsError, ResolvedCredentials, resolve_credentials};
use crate::search::views::DenseViews;
use crate::search::{SearchIndex, ToolText};
use crate::upstream::{Handles, UpstreamHandle, catalog as upstream_catalog};
use toolyard_compile::manifests::SecretValues;

/// A token bucket.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    state: std::sync::Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A bucket refilled at `rate` per second holding at most `burst`.
    pub fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(rate).max(1));
        Self {
            rate: f64::from(rate.max(1)),
            burst,
            state: std::sync::Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes one token if available.
    pub fn try_acquire(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let now = Instant::now();
        let (tokens, last) = *state;
        let refilled =
            (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        if refilled >= 1.0 {
            *state = (refilled - 1.0, now);
            true
        } else {
            *state = (refilled, now);
            false
        }
    }
}

/// Runtime parts of one target.
#[derive(Debug)]
pub struct TargetRuntime {
    /// Pooled keep-alive client, reused across reloads while the target's transport settings
    /// are unchanged.
    pub client: reqwest::Client,
    /// Transport settings the client was built for (the reuse key).
    pub client_key: String,
    /// Credentials with values.
    pub credentials: Option<ResolvedCredentials>,
    /// Rate limiter.
    pub limiter: Option<Arc<RateLimiter>>,
    /// Call time limit.
    pub timeout: Duration,
    /// The HTTP endpoint's base URL, or a Lambda target's Invoke URL, parsed once per reload (None
    /// for other endpoints or an unparsable URL, which fails the call with a clear error).
    pub base_url: Option<reqwest::Url>,
    /// The upstream session manager of an `mcpServer` target.
    pub upstream: Option<Arc<UpstreamHandle>>,
    /// What is logged about each backend call (`spec.logging`) and what is redacted.
    pub call_log: crate::logging::CallLog,
}

impl TargetRuntime {
    /// The credential values this target sends (API key, current OAuth2 token), for redacting
    /// them from what a backend echoes back in an error.
    pub fn secret_values(&self) -> Vec<String> {
        match &self.credentials {
            Some(ResolvedCredentials::ApiKey { value, .. }) => vec![value.0.clone()],
            Some(ResolvedCredentials::OAuth2(source)) => {
                source.cached_token().map(|t| t.0).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }
}

/// A tool found by name, with everything a call needs.
#[derive(Clone, Copy, Debug)]
pub struct Found<'a> {
    /// Its target's config.
    pub target: &'a TargetConfig,
    /// Its target's runtime parts.
    pub runtime: &'a TargetRuntime,
    /// Its compiled call plan (schemas moved into `listed`).
    pub tool: &'a ToolConfig,
    /// Its MCP definition, with the input and output schemas.
    pub listed: &'a Tool,
    /// Its input schema compiled for checking arguments (once per snapshot, on first use).
    pub validator: &'a Validator,
}

/// Tool name → (position in the served list, (target index, tool index) unless built in).
type ToolIndex = HashMap<String, (usize, Option<(usize, usize)>)>;

/// Everything served at one point in time.
#[derive(Debug)]
pub struct Snapshot {
    /// The compiled config. The tools' JSON Schemas are moved out of it into `tools` (they are
    /// only needed once, and at 10,000 tools holding them twice doubles the memory).
    pub config: GatewayConfig,
    /// Local reload counter (1 for the first config).
    pub generation: u64,
    /// Tools in served order (search tool first, then by name).
    pub tools: Vec<Tool>,
    /// Tool name → (position in `tools`, target index, tool index); the search tool has no target.
    index: ToolIndex,
    /// One per `tools`: the input schema's validator, compiled on the tool's first call (a
    /// snapshot of 10,000 tools does not compile them all up front).
    validators: Vec<OnceLock<Validator>>,
    /// One per `tools`: its JSON as `tools/list` serves it, rendered on its first listing.
    listed: Vec<RenderedTool>,
    /// One per `config.targets`.
    pub targets: Vec<TargetRuntime>,
    /// The search index over `tools` (positions; the search tool itself is not indexed), when
    /// search is enabled. Hybrid (BM25 + dense) when embeddings are configured and worked. BM25
    /// at first when tool texts must be embedded: the runtime embeds them in the background and
    /// then swaps the hybrid index in here (same generation: the tool list does not change).
    pub search: Option<ArcSwap<SearchIndex>>,
    /// The embedding the runtime still has to do for this snapshot's index (taken by the
    /// runtime before the snapshot is served).
    pub pending_embedding: Option<EmbedJob>,
    /// Inbound authentication (its key cache carried over from `previous` when unchanged).
    pub auth: crate::auth::Authenticator,
    /// Prompts of upstream MCP servers, by served name.
    pub prompts: Vec<Prompt>,
    /// Served prompt name → (target index, the upstream's prompt name).
    prompt_index: HashMap<String, (usize, String)>,
    /// Resources of upstream MCP servers (URIs as the upstreams list them).
    pub resources: Vec<Resource>,
    /// Resource URI → target index.
    resource_index: HashMap<String, usize>,
    /// Resource templates of upstream MCP servers.
    pub resource_templates: Vec<ResourceTemplate>,
    /// (literal head of a template, target index), longest head first.
    template_routes: Vec<(String, usize)>,
    /// Upstream items left out of this snapshot (name collisions), each with its reason.
    pub upstream_skipped: Vec<String>,
    /// Bumped by the runtime each time upstream catalogs change the served lists.
    pub upstream_epoch: u64,
    /// Fingerprints of what upstreams contribute to the tools, prompts and resources lists: with
    /// the config revision, they tell which `*/list_changed` notifications a rebuild needs.
    pub upstream_lists: [u64; 3],
    /// Why the search index is BM25-only although embeddings are configured (the model could
    /// not be loaded, the endpoint failed, ...). The snapshot serves regardless.
    pub search_error: Option<String>,
    /// Cedar authorization, when ToolPolicies apply to the gateway.
    pub authz: Option<super::authz::Authz>,
}

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A target's outbound credentials could not be resolved (a referenced secret is missing).
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// An HTTP client could not be built.
    #[error("targets[{target}]: failed to build the HTTP client: {message}")]
    Client {
        /// Target name.
        target: String,
        /// Reason.
        message: String,
    },
    /// The config's policies could not be loaded (the operator validated them: a gateway older
    /// or newer than the operator may parse them differently).
    #[error("authorization: {0}")]
    Policy(#[from] toolyard_compile::policy::PolicyError),
}

impl Snapshot {
    /// Builds a snapshot, reusing clients of `previous` where the transport settings match.
    pub fn build(
        config: GatewayConfig,
        secrets: &SecretValues,
        generation: u64,
        previous: Option<&Snapshot>,
    ) -> Result<Snapshot, SnapshotError> {
        Self::build_full(config, secrets, generation, previous, &Handles::new(), None)
    }

    /// [`Snapshot::build`] plus the current catalogs of upstream MCP servers (no embeddings).
    pub fn build_with(
        config: GatewayConfig,
        secrets: &SecretValues,
        generation: u64,
        previous: Option<&Snapshot>,
        upstreams: &Handles,
    ) -> Result<Snapshot, SnapshotError> {
        Self::build_full(config, secrets, generation, previous, upstreams, None)
    }

    /// Builds a snapshot with everything: the current catalogs of upstream MCP servers (their
    /// tools join the served list — a name another target already serves is left out and
    /// reported in `upstream_skipped` — and their prompts, resources and templates are served),
    /// and dense vectors in the search index when `search.embedding` is configured and
    /// `embeddings` (the runtime's embedder and cache) is given. Only cached vectors are used
    /// here (texts embedded by an earlier reload): if any is missing, the index starts as BM25
    /// and `pending_embedding` holds the texts for the runtime to embed in the background. An
    /// embedder that cannot be built never fails the build: the index stays BM25-only and
    /// `search_error` says why.
    pub fn build_full(
        mut config: GatewayConfig,
        secrets: &SecretValues,
        generation: u64,
        previous: Option<&Snapshot>,
        upstreams: &Handles,
        embeddings: Option<&mut SearchEmbeddings>,
    ) -> Result<Snapshot, SnapshotError> {
        let mut tools = Vec::with_capacity(config.tool_count() + 1);
        let mut index = HashMap::with_capacity(config.tool_count());
        if config.gateway.search.enabled {
            index.insert(config.gateway.search.tool_name.clone(), (0, None));
            tools.push(search_tool(&config.gateway.search.tool_name));
        }
        let mut targets = Vec::with_capacity(config.targets.len());
        let mut all: Vec<(String, usize, usize)> = Vec::with_capacity(config.tool_count());
        for (ti, target) in config.targets.iter().enumerate() {
            let mut rt = target_runtime(target, secrets, previous)?;
            rt.upstream = upstreams.get(&target.name).cloned();
            targets.push(rt);
            for (ki, tool) in target.tools.iter().enumerate() {
                all.push((tool.name.clone(), ti, ki));
            }
        }
        let upstream = UpstreamParts::collect(&mut config, &targets, &index, &all);
        for (ti, ki, _) in &upstream.tools {
            all.push((config.targets[*ti].tools[*ki].name.clone(), *ti, *ki));
        }
        let mut listed: HashMap<(usize, usize), Tool> = upstream
            .tools
            .into_iter()
            .map(|(ti, ki, tool)| ((ti, ki), tool))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        // Before the tools' schemas move out of the config: the engine reads argument types.
        let authz = super::authz::Authz::build(&config)?;
        // Each target's shared schema definitions, taken out of the config: what a tool reaches
        // is copied into its served schemas below, and nothing else reads them.
        let shared: Vec<_> = config
            .targets
            .iter_mut()
            .map(|t| std::mem::take(&mut t.schema_defs))
            .collect();
        let measured: Vec<ServedDefs<'_>> = shared.iter().map(ServedDefs::new).collect();
        let mut owners = Vec::with_capacity(all.len());
        for (name, ti, ki) in all {
            index.insert(name, (tools.len(), Some((ti, ki))));
            owners.push((tools.len(), ti, config.targets[ti].tools[ki].deprecated));
            match listed.remove(&(ti, ki)) {
                Some(tool) => tools.push(tool),
                None => tools.push(mcp_tool(&mut config.targets[ti].tools[ki], &measured[ti])),
            }
        }
        drop(measured);
        drop(shared);
        let texts = || {
            owners.iter().map(|&(pos, ti, deprecated)| {
                let tool = &tools[pos];
                (
                    pos,
                    ToolText {
                        name: &tool.name,
                        title: tool.title.as_deref(),
                        description: tool.description.as_deref(),
                        input_schema: Some(&tool.input_schema),
                        target_description: config.targets[ti].description.as_deref(),
                        deprecated,
                    },
                )
            })
        };
        let mut search = config
            .gateway
            .search
            .enabled
            .then(|| SearchIndex::build(texts()));
        let mut search_error = None;
        let mut pending_embedding = None;
        let embedding = config
            .gateway
            .search
            .embedding
            .as_ref()
            .filter(|_| config.gateway.search.enabled);
        match (embedding, embeddings, search.as_mut()) {
            (Some(embedding), Some(embeddings), Some(index)) => {
                let views = DenseViews::default();
                let dense: Vec<String> = texts().flat_map(|(_, t)| views.texts(&t)).collect();
                match embeddings.prepare(embedding, secrets, views, dense) {
                    Ok(Prepared::Ready(embedder, vectors)) => {
                        index.set_dense(embedder, &vectors);
                        embeddings.record(Ok(()));
                    }
                    Ok(Prepared::Embed(job)) => pending_embedding = Some(job),
                    Err(e) => {
                        embeddings.record(Err(&e));
                        search_error = Some(e.to_string());
                    }
                }
            }
            (None, Some(embeddings), _) => embeddings.clear(),
            _ => {}
        }
        let auth = crate::auth::Authenticator::build(
            &config.gateway.inbound_auth,
            previous.map(|p| &p.auth),
        );
        Ok(Snapshot {
            config,
            generation,
            validators: (0..tools.len()).map(|_| OnceLock::new()).collect(),
            listed: (0..tools.len()).map(|_| RenderedTool::default()).collect(),
            tools,
            index,
            targets,
            search: search.map(ArcSwap::from_pointee),
            pending_embedding,
            auth,
            prompts: upstream.prompts,
            prompt_index: upstream.prompt_index,
            resources: upstream.resources,
            resource_index: upstream.resource_index,
            resource_templates: upstream.templates,
            template_routes: upstream.template_routes,
            upstream_skipped: upstream.skipped,
            upstream_epoch: 0,
            upstream_lists: upstream.fingerprints,
            search_error,
            authz,
        })
    }

    /// The target serving a prompt, and the upstream's name for it.
    pub fn find_prompt(&self, name: &str) -> Option<(&TargetConfig, &TargetRuntime, &str)> {
        let (ti, upstream_name) = self.prompt_index.get(name)?;
        Some((
            self.config.targets.get(*ti)?,
            self.targets.get(*ti)?,
            upstream_name.as_str(),
        ))
    }

    /// The target serving a resource URI: a listed resource, else the upstream whose template's
    /// literal head is the longest prefix of the URI, else the only upstream offering resources.
    pub fn find_resource(&self, uri: &str) -> Option<(&TargetConfig, &TargetRuntime)> {
        let ti = self
            .resource_index
            .get(uri)
            .copied()
            .or_else(|| {
                self.template_routes
                    .iter()
                    .find(|(head, _)| !head.is_empty() && uri.starts_with(head.as_str()))
                    .map(|&(_, ti)| ti)
            })
            .or_else(|| {
                let mut owners = self
                    .resource_index
                    .values()
                    .chain(self.template_routes.iter().map(|(_, ti)| ti))
                    .copied()
                    .collect::<Vec<_>>();
                owners.sort_unstable();
                owners.dedup();
                (owners.len() == 1).then(|| owners[0])
            })?;
        Some((self.config.targets.get(ti)?, self.targets.get(ti)?))
    }

    /// Any upstream offers prompts / resources (capabilities to advertise).
    pub fn has_upstreams(&self) -> bool {
        self.targets.iter().any(|t| t.upstream.is_some())
    }

    /// The target and tool serving `name`.
    pub fn find(&self, name: &str) -> Option<Found<'_>> {
        let &(pos, Some((ti, ki))) = self.index.get(name)? else {
            return None;
        };
        let target = self.config.targets.get(ti)?;
        let listed = self.tools.get(pos)?;
        Some(Found {
            target,
            runtime: self.targets.get(ti)?,
            tool: target.tools.get(ki)?,
            listed,
            validator: self
                .validators
                .get(pos)?
                .get_or_init(|| Validator::new(&listed.input_schema)),
        })
    }

    /// The JSON of the tool at `pos` in `tools` as `tools/list` serves it to a peer of
    /// 2026-07-28 or later, or of an older revision (`legacy`).
    pub fn listed_json(&self, pos: usize, legacy: bool) -> Option<&str> {
        Some(self.listed.get(pos)?.json(self.tools.get(pos)?, legacy))
    }

    /// The MCP definition of a listed tool (search tool included).
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.index
            .get(name)
            .and_then(|&(pos, _)| self.tools.get(pos))
    }
}

fn target_runtime(
    target: &TargetConfig,
    secrets: &SecretValues,
    previous: Option<&Snapshot>,
) -> Result<TargetRuntime, SnapshotError> {
    let timeout = Duration::from_millis(target.timeout_ms);
    let client_key = format!("{}|{:?}", target.timeout_ms, target.endpoint);
    let reused = previous.and_then(|p| {
        p.config
            .targets
            .iter()
            .position(|t| t.name == target.name)
            .and_then(|i| p.targets.get(i))
            .filter(|rt| rt.client_key == client_key)
            .map(|rt| rt.client.clone())
    });
    let client = match reused {
        Some(c) => c,
        None => reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // Shorter than the keep-alive timeout of common servers (uvicorn, Node.js: 5 s), so
            // the gateway drops an idle connection before the backend closes it: reusing one the
            // backend is closing fails the call with "connection reset" (seen in the soak test).
            .pool_idle_timeout(Duration::from_secs(4))
            .tcp_nodelay(true)
            // Redirects could leave the allowed host; the backend's 3xx is returned as is.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("toolyard-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SnapshotError::Client {
                target: target.name.clone(),
                message: e.to_string(),
            })?,
    };
    let previous_credentials = previous.and_then(|p| {
        p.config
            .targets
            .iter()
            .position(|t| t.name == target.name)
            .and_then(|i| p.targets.get(i))
            .and_then(|rt| rt.credentials.as_ref())
    });
    let credentials = resolve_credentials(target, secrets, previous_credentials)?;
    let limiter = target.rate_limit.as_ref().map(|r| {
        Arc::new(RateLimiter::new(
            r.requests_per_second,
            r.burst.unwrap_or(r.requests_per_second),
        ))
    });
    let base_url = match &target.endpoint {
        Endpoint::Http { base_url } => reqwest::Url::parse(base_url).ok(),
        Endpoint::Lambda {
            function_arn, url, ..
        } => super::endpoint::invoke_url(url, function_arn).ok(),
        _ => None,
    };
    let call_log = crate::logging::CallLog::new(target, credentials.as_ref(), secrets);
    Ok(TargetRuntime {
        client,
        client_key,
        credentials,
        limiter,
        timeout,
        base_url,
        upstream: None,
        call_log,
    })
}

fn as_object(value: &Value) -> Arc<serde_json::Map<String, Value>> {
    Arc::new(value.as_object().cloned().unwrap_or_default())
}

/// Moves a schema out of the config (leaving `null`) into the shape rmcp wants, without a copy.
fn take_object(value: &mut Value) -> Arc<serde_json::Map<String, Value>> {
    match value.take() {
        Value::Object(map) => Arc::new(map),
        _ => Arc::default(),
    }
}

/// The MCP rendering of a compiled tool; takes its schemas and serves them with the shared
/// definitions they reach (`defs`: its target's).
fn mcp_tool(tool: &mut ToolConfig, defs: &ServedDefs<'_>) -> Tool {
    let mut input = defs.serve(tool.input_schema.take(), INPUT_BUDGET);
    let mut output = tool
        .output_schema
        .take()
        .map(|schema| defs.serve(schema, OUTPUT_BUDGET));
    let mut t = Tool::new(
        tool.name.clone(),
        tool.description.clone().unwrap_or_default(),
        take_object(&mut input),
    );
    if tool.description.is_none() {
        t.description = None;
    }
    t.title = tool.title.clone();
    t.output_schema = output.as_mut().map(take_object);
    if let Some(h) = &tool.annotations {
        let mut a = ToolAnnotations::default();
        a.read_only_hint = h.read_only_hint;
        a.destructive_hint = h.destructive_hint;
        a.idempotent_hint = h.idempotent_hint;
        t.annotations = Some(a);
    }
    t
}

/// The built-in search tool's definition (AgentCore-compatible).
fn search_tool(name: &str) -> Tool {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"query": {"type": "string", "description": "search query to use for finding tools"}},
        "required": ["query"]
    });
    Tool::new(
        name.to_string(),
        "A special tool that returns a trimmed down list of tools given a context. Use this tool only when there are many tools available and you want to get a subset that matches the provided context.",
        as_object(&schema),
    )
}

/// The served parts of upstream catalogs, collected once per snapshot build.
#[derive(Default)]
struct UpstreamParts {
    /// (target index, index in its `tools`, listed definition) of every synced tool.
    tools: Vec<(usize, usize, Tool)>,
    prompts: Vec<Prompt>,
    prompt_index: HashMap<String, (usize, String)>,
    resources: Vec<Resource>,
    resource_index: HashMap<String, usize>,
    templates: Vec<ResourceTemplate>,
    template_routes: Vec<(String, usize)>,
    skipped: Vec<String>,
    fingerprints: [u64; 3],
}

/// A stable-enough fingerprint of listed items (their JSON).
fn fingerprint<T: serde::Serialize>(items: &[T]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for item in items {
        serde_json::to_vec(item)
            .unwrap_or_default()
            .hash(&mut hasher);
    }
    hasher.finish()
}

impl UpstreamParts {
    /// Adds the synced tools of unpinned upstream targets to `config` (after the compiled ones,
    /// which win a name collision) and gathers prompts and resources.
    fn collect(
        config: &mut GatewayConfig,
        targets: &[TargetRuntime],
        index: &ToolIndex,
        compiled: &[(String, usize, usize)],
    ) -> UpstreamParts {
        let mut parts = UpstreamParts::default();
        let mut taken: HashMap<String, String> = compiled
            .iter()
            .map(|(name, ti, _)| (name.clone(), config.targets[*ti].name.clone()))
            .collect();
        for name in index.keys() {
            taken
                .entry(name.clone())
                .or_insert_with(|| "the gateway (built-in search tool)".into());
        }
        for (ti, rt) in targets.iter().enumerate() {
            let Some(handle) = &rt.upstream else { continue };
            let catalog = handle.catalog();
            let target = &mut config.targets[ti];
            if !matches!(target.endpoint, Endpoint::Mcp { pinned: false, .. }) {
                // Pinned: the compiled tools are served; prompts and resources still come from
                // the upstream.
            } else {
                let (served, skipped) = upstream_catalog::served_tools(target, &catalog.tools);
                parts.skipped.extend(skipped);
                for (config_tool, listed) in served {
                    if let Some(owner) = taken.get(&config_tool.name) {
                        parts.skipped.push(format!(
                            "{}: upstream tool {:?} is not served: the name {} is already used by {owner}",
                            target.name, config_tool.original_name, config_tool.name
                        ));
                        continue;
                    }
                    taken.insert(config_tool.name.clone(), target.name.clone());
                    parts.tools.push((ti, target.tools.len(), listed));
                    target.tools.push(config_tool);
                }
            }
            for prompt in &catalog.prompts {
                let served = upstream_catalog::served_prompt(target, prompt);
                if parts.prompt_index.contains_key(&served.name) {
                    parts.skipped.push(format!(
                        "{}: upstream prompt {:?} is not served: another upstream serves a prompt named {}",
                        target.name, prompt.name, served.name
                    ));
                    continue;
                }
                parts
                    .prompt_index
                    .insert(served.name.clone(), (ti, prompt.name.clone()));
                parts.prompts.push(served);
            }
            for resource in &catalog.resources {
                if parts.resource_index.contains_key(&resource.uri) {
                    parts.skipped.push(format!(
                        "{}: upstream resource {} is not served: another upstream lists the same URI",
                        target.name, resource.uri
                    ));
                    continue;
                }
                parts.resource_index.insert(resource.uri.clone(), ti);
                parts.resources.push(resource.clone());
            }
            for template in &catalog.templates {
                parts.template_routes.push((
                    upstream_catalog::template_head(&template.uri_template).to_string(),
                    ti,
                ));
                parts.templates.push(template.clone());
            }
        }
        parts
            .template_routes
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let tools: Vec<&Tool> = parts.tools.iter().map(|(_, _, t)| t).collect();
        parts.fingerprints = [
            fingerprint(&tools),
            fingerprint(&parts.prompts),
            fingerprint(&parts.resources) ^ fingerprint(&parts.templates).rotate_left(1),
        ];
        parts
    }
}

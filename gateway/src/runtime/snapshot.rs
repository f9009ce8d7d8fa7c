//! One immutable view of everything the gateway serves: the MCP tool list (pre-rendered in served
//! order), a name index, and per-target runtime parts (pooled HTTP client, resolved credentials,
//! rate limiter). Built off the request path, once per reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::Value;
use toolyard_crds::config::{GatewayConfig, OutboundCredentials, TargetConfig, ToolConfig};

use super::search::SearchEmbeddings;
use crate::search::{SearchIndex, ToolText};
use crate::source::manifests::{SecretValue, SecretValues};

/// Credentials with secret values resolved.
#[derive(Clone, Debug)]
pub enum ResolvedCredentials {
    /// A static key sent in a header or query parameter.
    ApiKey {
        /// `true`: header; `false`: query parameter.
        in_header: bool,
        /// Header or parameter name.
        name: String,
        /// Prefix + key.
        value: SecretValue,
    },
    /// Not yet supported by this data plane: calls fail with this message.
    Unsupported(String),
}

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
    /// The HTTP endpoint's base URL, parsed once per reload (None for other endpoints or an
    /// unparsable URL, which fails the call with a clear error).
    pub base_url: Option<reqwest::Url>,
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
}

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
    index: HashMap<String, (usize, Option<(usize, usize)>)>,
    /// One per `config.targets`.
    pub targets: Vec<TargetRuntime>,
    /// The search index over `tools` (positions; the search tool itself is not indexed), when
    /// search is enabled. Hybrid (BM25 + dense) when embeddings are configured and worked.
    pub search: Option<SearchIndex>,
    /// Why the search index is BM25-only although embeddings are configured (the model could
    /// not be loaded, the endpoint failed, ...). The snapshot serves regardless.
    pub search_error: Option<String>,
}

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A referenced secret value is missing.
    #[error(
        "targets[{target}].credentials: Secret {secret} has no key {key:?}; create it or fix the reference"
    )]
    MissingSecret {
        /// Target name.
        target: String,
        /// Secret name.
        secret: String,
        /// Key.
        key: String,
    },
    /// An HTTP client could not be built.
    #[error("targets[{target}]: failed to build the HTTP client: {message}")]
    Client {
        /// Target name.
        target: String,
        /// Reason.
        message: String,
    },
}

impl Snapshot {
    /// Builds a snapshot, reusing clients of `previous` where the transport settings match.
    pub fn build(
        config: GatewayConfig,
        secrets: &SecretValues,
        generation: u64,
        previous: Option<&Snapshot>,
    ) -> Result<Snapshot, SnapshotError> {
        Self::build_with_embeddings(config, secrets, generation, previous, None)
    }

    /// [`Snapshot::build`], adding dense vectors to the search index when `search.embedding` is
    /// configured and `embeddings` (the runtime's embedder and cache) is given. Texts already
    /// embedded by an earlier reload come from the cache. An embedding failure never fails the
    /// build: the index stays BM25-only and `search_error` says why.
    pub fn build_with_embeddings(
        mut config: GatewayConfig,
        secrets: &SecretValues,
        generation: u64,
        previous: Option<&Snapshot>,
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
            targets.push(target_runtime(target, secrets, previous)?);
            for (ki, tool) in target.tools.iter().enumerate() {
                all.push((tool.name.clone(), ti, ki));
            }
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut owners = Vec::with_capacity(all.len());
        for (name, ti, ki) in all {
            index.insert(name, (tools.len(), Some((ti, ki))));
            owners.push((tools.len(), ti));
            tools.push(mcp_tool(&mut config.targets[ti].tools[ki]));
        }
        let texts = || {
            owners.iter().map(|&(pos, ti)| {
                let tool = &tools[pos];
                (
                    pos,
                    ToolText {
                        name: &tool.name,
                        title: tool.title.as_deref(),
                        description: tool.description.as_deref(),
                        input_schema: Some(&tool.input_schema),
                        target_description: config.targets[ti].description.as_deref(),
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
        let embedding = config
            .gateway
            .search
            .embedding
            .as_ref()
            .filter(|_| config.gateway.search.enabled);
        match (embedding, embeddings, search.as_mut()) {
            (Some(embedding), Some(embeddings), Some(index)) => {
                let dense: Vec<String> = texts().map(|(_, t)| t.dense_text()).collect();
                match embeddings.vectors(embedding, secrets, &dense) {
                    Ok((embedder, vectors)) => {
                        index.set_dense(embedder, &vectors);
                        embeddings.record(Ok(()));
                    }
                    Err(e) => {
                        embeddings.record(Err(&e));
                        search_error = Some(e.to_string());
                    }
                }
            }
            (None, Some(embeddings), _) => embeddings.clear(),
            _ => {}
        }
        Ok(Snapshot {
            config,
            generation,
            tools,
            index,
            targets,
            search,
            search_error,
        })
    }

    /// The target and tool serving `name`.
    pub fn find(&self, name: &str) -> Option<Found<'_>> {
        let &(pos, Some((ti, ki))) = self.index.get(name)? else {
            return None;
        };
        let target = self.config.targets.get(ti)?;
        Some(Found {
            target,
            runtime: self.targets.get(ti)?,
            tool: target.tools.get(ki)?,
            listed: self.tools.get(pos)?,
        })
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
            .pool_idle_timeout(Duration::from_secs(90))
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
    let credentials = match &target.credentials {
        None => None,
        Some(OutboundCredentials::ApiKey {
            value,
            location,
            parameter_name,
            prefix,
        }) => {
            let secret = secrets
                .get(&(value.secret.clone(), value.key.clone()))
                .ok_or_else(|| SnapshotError::MissingSecret {
                    target: target.name.clone(),
                    secret: value.secret.clone(),
                    key: value.key.clone(),
                })?;
            Some(ResolvedCredentials::ApiKey {
                in_header: *location == toolyard_crds::target::ApiKeyLocation::Header,
                name: parameter_name.clone(),
                value: SecretValue(format!(
                    "{prefix}{}",
                    secret.0.trim_end_matches(['\n', '\r'])
                )),
            })
        }
        Some(OutboundCredentials::OAuth2 { .. }) => Some(ResolvedCredentials::Unsupported(
            "OAuth2 client-credentials outbound auth is not supported by this gateway version yet"
                .into(),
        )),
        Some(OutboundCredentials::AwsSigV4 { .. }) => Some(ResolvedCredentials::Unsupported(
            "AWS SigV4 outbound auth is not supported by this gateway version yet".into(),
        )),
    };
    let limiter = target.rate_limit.as_ref().map(|r| {
        Arc::new(RateLimiter::new(
            r.requests_per_second,
            r.burst.unwrap_or(r.requests_per_second),
        ))
    });
    let base_url = match &target.endpoint {
        toolyard_crds::config::Endpoint::Http { base_url } => reqwest::Url::parse(base_url).ok(),
        _ => None,
    };
    Ok(TargetRuntime {
        client,
        client_key,
        credentials,
        limiter,
        timeout,
        base_url,
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

/// The MCP rendering of a compiled tool; takes its schemas.
fn mcp_tool(tool: &mut ToolConfig) -> Tool {
    let mut t = Tool::new(
        tool.name.clone(),
        tool.description.clone().unwrap_or_default(),
        take_object(&mut tool.input_schema),
    );
    if tool.description.is_none() {
        t.description = None;
    }
    t.title = tool.title.clone();
    t.output_schema = tool.output_schema.take().as_mut().map(take_object);
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

//! Per-tool authorization on the request path: the Cedar [`Engine`] of a snapshot, the caller as
//! Cedar sees it, and a per-caller cache of the engine's [`CallerView`]: which tools
//! `tools/list` and search may show, and the call decision of every tool whose decision does not
//! depend on the arguments (so most calls cost a lookup, not an evaluation).
//!
//! The cache lives in the snapshot, so it is keyed by snapshot revision for free: a reload (new
//! policies or tools) starts with an empty one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::Tool;
use serde_json::{Map, Value};
use toolyard_compile::policy::{Caller, CallerKind, CallerView, Engine, PolicyError, Verdict};
use toolyard_crds::config::GatewayConfig;

use crate::auth::{Principal, PrincipalKind};

/// Callers whose views are kept per snapshot; past it the cache starts over (a
/// flood of distinct tokens costs decisions, never memory).
const MAX_CACHED_CALLERS: usize = 4096;

/// A snapshot's authorization.
#[derive(Debug)]
pub struct Authz {
    engine: Engine,
    /// Whether decisions are enforced (false: every ToolPolicy is `LogOnly`).
    pub enforce: bool,
    views: Mutex<HashMap<String, Arc<CallerView>>>,
}

impl Authz {
    /// The authorization of a config, `None` when no ToolPolicy applies.
    pub fn build(config: &GatewayConfig) -> Result<Option<Authz>, PolicyError> {
        let enforce = config.authorization.as_ref().is_some_and(|a| a.enforce);
        Ok(Engine::build(config)?.map(|engine| Authz {
            engine,
            enforce,
            views: Mutex::new(HashMap::new()),
        }))
    }

    /// The decision for one call.
    pub fn call(&self, caller: &Caller, tool: &str, arguments: &Map<String, Value>) -> Verdict {
        let view = self.view(caller);
        self.engine.call_in(&view, caller, tool, arguments)
    }

    /// Which of `tools` (a snapshot's served list) `caller` may see; `always` (the built-in
    /// search tool) is always visible.
    pub fn visible(&self, caller: &Caller, tools: &[Tool], always: Option<&str>) -> Vec<bool> {
        if !self.enforce {
            return vec![true; tools.len()];
        }
        let view = self.view(caller);
        tools
            .iter()
            .map(|t| always == Some(t.name.as_ref()) || self.engine.shows(&view, &t.name))
            .collect()
    }

    /// The caller's view, cached for the snapshot's life.
    fn view(&self, caller: &Caller) -> Arc<CallerView> {
        let key = cache_key(caller);
        if let Ok(cache) = self.views.lock()
            && let Some(hit) = cache.get(&key)
        {
            return hit.clone();
        }
        let view = Arc::new(self.engine.view(caller));
        if let Ok(mut cache) = self.views.lock() {
            if cache.len() >= MAX_CACHED_CALLERS {
                cache.clear();
            }
            cache.insert(key, view.clone());
        }
        view
    }

    /// The target label of a tool (empty for unknown tools).
    pub fn target_of(&self, tool: &str) -> &str {
        self.engine.target_of(tool).unwrap_or_default()
    }
}

/// Everything of a caller a decision can depend on, as one string.
fn cache_key(caller: &Caller) -> String {
    serde_json::to_string(&(
        format!("{:?}", caller.kind),
        &caller.subject,
        &caller.client,
        &caller.scopes,
        &caller.claims,
    ))
    .unwrap_or_default()
}

/// The caller as policies see it.
pub fn caller_of(principal: Option<&Principal>) -> Caller {
    let Some(p) = principal else {
        return Caller::default();
    };
    let kind = match &p.kind {
        PrincipalKind::Anonymous => CallerKind::Anonymous,
        PrincipalKind::Jwt => CallerKind::OAuthUser,
        PrincipalKind::ServiceAccount {
            namespace, name, ..
        } => CallerKind::ServiceAccount {
            namespace: namespace.clone(),
            name: name.clone(),
        },
    };
    Caller {
        claims: if kind == CallerKind::OAuthUser {
            Caller::claim_tags(&p.claims)
        } else {
            Default::default()
        },
        kind,
        subject: p.subject.clone().unwrap_or_default(),
        client: p.client.clone().unwrap_or_default(),
        scopes: p.scopes.clone(),
    }
}

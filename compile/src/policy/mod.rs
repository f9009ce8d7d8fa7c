//! Cedar authorization: the schema a gateway's policies are written against, the validation of
//! ToolPolicies (operator and standalone loader), and the engine the gateway decides with.
//!
//! One engine answers both questions the gateway asks, so `tools/list`, search and `tools/call`
//! cannot disagree:
//! - [`Engine::call`]: may this caller call this tool with these arguments (the whole request);
//! - [`Engine::visible`]: could this caller call this tool with some arguments. It evaluates the
//!   same policies with the context (the arguments) unknown, by Cedar's partial evaluation: a tool
//!   is listed unless the policies deny it whatever the arguments are. [`Engine::visible_all`]
//!   answers it for a whole list at once.
//!
//! Both evaluate only the policies whose scope may match the request, and a list evaluates once
//! per class of tools that must get the same answer (the [`index`] module).
//!
//! Entities (names follow AgentCore's where they fit, so policies carry over):
//! - principal `Toolyard::OAuthUser` (JWT callers: `subject`, `clientId`, `scopes`, the token's
//!   scalar claims as tags), `Toolyard::ServiceAccount` (`namespace`, `name`, `subject`) or
//!   `Toolyard::Anonymous` (a gateway without inbound auth);
//! - action: one per tool, `Toolyard::Action::"<served tool name>"`, each in the group
//!   `Toolyard::Action::"CallTool"`;
//! - resource `Toolyard::Tool::"<served tool name>"` (`name`, `target`, `originalName`,
//!   `readOnly`, `destructive`, `idempotent`) in `Toolyard::Target::"<GatewayTarget name>"`;
//! - context `{ input: { <argument>?: ... } }`: the tool's top-level arguments of type integer,
//!   string, boolean or an array of those, every one optional (policies test them with `has`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityUid, Policy, PolicyId, PolicySet,
    Request, RequestBuilder, RestrictedExpression, Schema, ValidationMode, Validator,
};
use serde_json::{Map, Value, json};
use toolyard_crds::config::{
    AuthorizationConfig, CONFIG_VERSION_AUTHZ, CompiledPolicy, GatewayConfig, ToolConfig,
};
use toolyard_crds::policy::{NamedPolicy, PolicyMode, ToolPolicy};

mod index;

/// The Cedar namespace of every entity type and action.
pub const NAMESPACE: &str = "Toolyard";
/// The action group every tool's action belongs to.
pub const CALL_TOOL: &str = "CallTool";
/// Most tags taken from a token's claims, and the longest claim value kept.
const MAX_CLAIM_TAGS: usize = 64;
const MAX_CLAIM_LEN: usize = 1024;

/// Why policies or the engine could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A policy text does not parse or does not validate.
    #[error("{path}: {message}")]
    Invalid {
        /// The field, e.g. `spec.policies[2].text`.
        path: String,
        /// Cedar's message.
        message: String,
    },
    /// The generated schema was rejected by Cedar (a bug: report it with the tool names).
    #[error("the Cedar schema generated from the gateway's tools is invalid: {0}")]
    Schema(String),
}

/// A top-level argument type policies can see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArgType {
    Long,
    String,
    Bool,
    SetLong,
    SetString,
    SetBool,
}

impl ArgType {
    fn of(schema: &Value) -> Option<ArgType> {
        let scalar = |s: &Value| match s.get("type").and_then(Value::as_str) {
            Some("integer") => Some(ArgType::Long),
            Some("string") => Some(ArgType::String),
            Some("boolean") => Some(ArgType::Bool),
            _ => None,
        };
        if s_type(schema) == Some("array") {
            return match schema.get("items").and_then(scalar) {
                Some(ArgType::Long) => Some(ArgType::SetLong),
                Some(ArgType::String) => Some(ArgType::SetString),
                Some(ArgType::Bool) => Some(ArgType::SetBool),
                _ => None,
            };
        }
        scalar(schema)
    }

    fn cedar(self) -> Value {
        let scalar = |name: &str| json!({ "type": name });
        match self {
            ArgType::Long => scalar("Long"),
            ArgType::String => scalar("String"),
            ArgType::Bool => scalar("Boolean"),
            ArgType::SetLong => json!({ "type": "Set", "element": scalar("Long") }),
            ArgType::SetString => json!({ "type": "Set", "element": scalar("String") }),
            ArgType::SetBool => json!({ "type": "Set", "element": scalar("Boolean") }),
        }
    }

    /// The argument's value when it has this type (else it is left out of the context).
    /// `value` (already [`ArgType::accepts`]ed) as a Cedar value.
    fn expression(self, value: &Value) -> Option<RestrictedExpression> {
        let scalar = |v: &Value| match self {
            ArgType::Long | ArgType::SetLong => v.as_i64().map(RestrictedExpression::new_long),
            ArgType::String | ArgType::SetString => v
                .as_str()
                .map(|s| RestrictedExpression::new_string(s.to_string())),
            ArgType::Bool | ArgType::SetBool => v.as_bool().map(RestrictedExpression::new_bool),
        };
        match self {
            ArgType::Long | ArgType::String | ArgType::Bool => scalar(value),
            _ => value
                .as_array()?
                .iter()
                .map(scalar)
                .collect::<Option<Vec<_>>>()
                .map(RestrictedExpression::new_set),
        }
    }

    fn accepts(self, value: &Value) -> bool {
        let scalar = |t: ArgType, v: &Value| match t {
            ArgType::Long | ArgType::SetLong => v.as_i64().is_some(),
            ArgType::String | ArgType::SetString => v.is_string(),
            ArgType::Bool | ArgType::SetBool => v.is_boolean(),
        };
        match self {
            ArgType::Long | ArgType::String | ArgType::Bool => scalar(self, value),
            _ => value
                .as_array()
                .is_some_and(|items| items.iter().all(|v| scalar(self, v))),
        }
    }
}

fn s_type(schema: &Value) -> Option<&str> {
    schema.get("type").and_then(Value::as_str)
}

/// The arguments of a tool that policies can see, by name.
fn arg_types(tool: &ToolConfig) -> BTreeMap<String, ArgType> {
    tool.input_schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter_map(|(name, schema)| ArgType::of(schema).map(|t| (name.clone(), t)))
                .collect()
        })
        .unwrap_or_default()
}

/// The Cedar schema (JSON form) of a gateway's tools.
pub fn schema_json(config: &GatewayConfig) -> Value {
    let principals = json!(["OAuthUser", "ServiceAccount", "Anonymous"]);
    let string = json!({ "type": "String" });
    let boolean = json!({ "type": "Boolean" });
    let mut actions = Map::new();
    actions.insert(CALL_TOOL.into(), json!({}));
    for target in &config.targets {
        for tool in &target.tools {
            let input: Map<String, Value> = arg_types(tool)
                .into_iter()
                .map(|(name, t)| {
                    let mut ty = t.cedar();
                    ty["required"] = json!(false);
                    (name, ty)
                })
                .collect();
            actions.insert(
                tool.name.clone(),
                json!({
                    "memberOf": [{ "id": CALL_TOOL }],
                    "appliesTo": {
                        "principalTypes": principals,
                        "resourceTypes": ["Tool"],
                        "context": {
                            "type": "Record",
                            "attributes": {
                                "input": { "type": "Record", "attributes": input }
                            }
                        }
                    }
                }),
            );
        }
    }
    json!({ NAMESPACE: {
        "entityTypes": {
            "OAuthUser": {
                "shape": { "type": "Record", "attributes": {
                    "subject": string,
                    "clientId": string,
                    "scopes": { "type": "Set", "element": string },
                }},
                "tags": string,
            },
            "ServiceAccount": {
                "shape": { "type": "Record", "attributes": {
                    "subject": string, "namespace": string, "name": string,
                }},
            },
            "Anonymous": {},
            "Target": {},
            "Tool": {
                "memberOfTypes": ["Target"],
                "shape": { "type": "Record", "attributes": {
                    "name": string, "target": string, "originalName": string,
                    "readOnly": boolean, "destructive": boolean, "idempotent": boolean,
                }},
            },
        },
        "actions": actions,
    }})
}

/// The Cedar schema of a gateway's tools.
pub fn schema(config: &GatewayConfig) -> Result<Schema, PolicyError> {
    Schema::from_json_value(schema_json(config)).map_err(|e| PolicyError::Schema(e.to_string()))
}

/// Parses one policy text (one or more Cedar policies) into policies with stable ids, validated
/// against `schema`. `path` names the field in errors.
pub fn parse_policies(
    id: &str,
    text: &str,
    schema: &Schema,
    path: &str,
) -> Result<Vec<Policy>, PolicyError> {
    let invalid = |message: String| PolicyError::Invalid {
        path: path.to_string(),
        message,
    };
    let parsed = PolicySet::from_str(text).map_err(|e| invalid(cedar_message(&e)))?;
    if parsed.templates().next().is_some() {
        return Err(invalid(
            "templates (policies with ?principal or ?resource) are not supported; write the principal or resource out".into(),
        ));
    }
    let result = Validator::new(schema.clone()).validate(&parsed, ValidationMode::Strict);
    if let Some(error) = result.validation_errors().next() {
        return Err(invalid(cedar_message(error)));
    }
    let policies: Vec<Policy> = parsed.policies().cloned().collect();
    let single = policies.len() == 1;
    let mut out = Vec::with_capacity(policies.len());
    for (i, policy) in policies.into_iter().enumerate() {
        let name = if single {
            id.to_string()
        } else {
            format!("{id}#{i}")
        };
        out.push(policy.new_id(PolicyId::new(name)));
    }
    if out.is_empty() {
        return Err(invalid("the text holds no Cedar policy".into()));
    }
    Ok(out)
}

/// A Cedar error with its underlying causes, on one line.
fn cedar_message(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// What became of one ToolPolicy.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyReport {
    /// The ToolPolicy's name.
    pub name: String,
    /// `Ok` when the current spec was accepted, else why not.
    pub outcome: Result<(), PolicyError>,
    /// The policies served from this ToolPolicy: the spec's when accepted, else the last accepted
    /// ones (from its status) when they still validate, else none.
    pub served: Vec<NamedPolicy>,
    /// Number of Cedar policies served.
    pub count: usize,
}

/// Validates the ToolPolicies of `config`'s gateway (those whose `gatewayRef` names it) and
/// attaches the accepted ones to the config (and bumps its version and revision). A ToolPolicy
/// whose spec is invalid keeps serving its last accepted policies (`status.acceptedPolicies`).
pub fn attach(config: &mut GatewayConfig, policies: &[ToolPolicy]) -> Vec<PolicyReport> {
    let mut mine: Vec<&ToolPolicy> = policies
        .iter()
        .filter(|p| p.spec.gateway_ref.name == config.gateway.name)
        .collect();
    mine.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    if mine.is_empty() {
        return Vec::new();
    }
    let schema = match schema(config) {
        Ok(s) => s,
        Err(e) => {
            return mine
                .iter()
                .map(|p| PolicyReport {
                    name: p.metadata.name.clone().unwrap_or_default(),
                    outcome: Err(e.clone()),
                    served: Vec::new(),
                    count: 0,
                })
                .collect();
        }
    };
    // An `Enforce` ToolPolicy enforces even while none of its policies can be served (default
    // deny), so a typo never opens the gateway.
    let enforce = mine.iter().any(|p| p.spec.mode == PolicyMode::Enforce);
    let mut compiled = Vec::new();
    let mut reports = Vec::new();
    for policy in mine {
        let name = policy.metadata.name.clone().unwrap_or_default();
        let mode = policy.spec.mode;
        let current = compile_named(&name, mode, &policy.spec.policies, &schema, "spec.policies");
        let (outcome, served, list) = match current {
            Ok(list) => (Ok(()), policy.spec.policies.clone(), list),
            Err(e) => {
                let last = policy
                    .status
                    .as_ref()
                    .map(|s| s.accepted_policies.clone())
                    .unwrap_or_default();
                match compile_named(&name, mode, &last, &schema, "status.acceptedPolicies") {
                    Ok(list) if !last.is_empty() => (Err(e), last, list),
                    _ => (Err(e), Vec::new(), Vec::new()),
                }
            }
        };
        reports.push(PolicyReport {
            name,
            outcome,
            served,
            count: list.len(),
        });
        compiled.extend(list);
    }
    compiled.sort_by(|a, b| a.id.cmp(&b.id));
    config.authorization = Some(AuthorizationConfig {
        enforce,
        policies: compiled,
    });
    config.version = CONFIG_VERSION_AUTHZ.to_string();
    config.revision = crate::gateway::revision(config);
    reports
}

fn compile_named(
    name: &str,
    mode: PolicyMode,
    policies: &[NamedPolicy],
    schema: &Schema,
    field: &str,
) -> Result<Vec<CompiledPolicy>, PolicyError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, named) in policies.iter().enumerate() {
        let path = format!("{field}[{i}].text");
        if !seen.insert(named.name.as_str()) {
            return Err(PolicyError::Invalid {
                path: format!("{field}[{i}].name"),
                message: format!(
                    "duplicate policy name {:?}; names must be unique",
                    named.name
                ),
            });
        }
        let id = format!("{name}/{}", named.name);
        for policy in parse_policies(&id, &named.text, schema, &path)? {
            out.push(CompiledPolicy {
                id: policy.id().to_string(),
                mode,
                text: policy.to_string(),
            });
        }
    }
    Ok(out)
}

/// The caller, as the gateway's inbound auth established it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Caller {
    /// How the caller authenticated.
    pub kind: CallerKind,
    /// `sub`.
    pub subject: String,
    /// `client_id` or `azp`.
    pub client: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The token's top-level string, number and boolean claims (tags of an `OAuthUser`).
    pub claims: BTreeMap<String, String>,
}

/// How the caller authenticated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum CallerKind {
    /// No inbound auth.
    #[default]
    Anonymous,
    /// A JWT of the OIDC provider.
    OAuthUser,
    /// A Kubernetes ServiceAccount token.
    ServiceAccount {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
}

impl CallerKind {
    /// The position of the kind in [`index::KINDS`].
    fn index(&self) -> usize {
        match self {
            CallerKind::Anonymous => 0,
            CallerKind::OAuthUser => 1,
            CallerKind::ServiceAccount { .. } => 2,
        }
    }
}

impl Caller {
    /// The tags of an `OAuthUser` from a token's claims: top-level strings, numbers and booleans
    /// (as strings), at most 64, each at most 1 KiB.
    pub fn claim_tags(claims: &Map<String, Value>) -> BTreeMap<String, String> {
        claims
            .iter()
            .filter_map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                (text.len() <= MAX_CLAIM_LEN).then(|| (k.clone(), text))
            })
            .take(MAX_CLAIM_TAGS)
            .collect()
    }

    /// A short, log-safe name: `OAuthUser::"<sub>"`, `ServiceAccount::"<ns>/<name>"`.
    pub fn display(&self) -> String {
        match &self.kind {
            CallerKind::Anonymous => "Anonymous".into(),
            CallerKind::OAuthUser => format!("OAuthUser::{:?}", self.subject),
            CallerKind::ServiceAccount { namespace, name } => {
                format!("ServiceAccount::\"{namespace}/{name}\"")
            }
        }
    }

    fn entity(&self) -> Result<Entity, String> {
        let string = |s: &str| RestrictedExpression::new_string(s.to_string());
        let (kind, id, attrs, tags): (&str, String, Vec<(String, RestrictedExpression)>, _) =
            match &self.kind {
                CallerKind::Anonymous => ("Anonymous", "anonymous".into(), Vec::new(), Vec::new()),
                CallerKind::OAuthUser => (
                    "OAuthUser",
                    self.subject.clone(),
                    vec![
                        ("subject".into(), string(&self.subject)),
                        ("clientId".into(), string(&self.client)),
                        (
                            "scopes".into(),
                            RestrictedExpression::new_set(self.scopes.iter().map(|s| string(s))),
                        ),
                    ],
                    self.claims
                        .iter()
                        .map(|(k, v)| (k.clone(), string(v)))
                        .collect::<Vec<_>>(),
                ),
                CallerKind::ServiceAccount { namespace, name } => (
                    "ServiceAccount",
                    format!("{namespace}/{name}"),
                    vec![
                        ("subject".into(), string(&self.subject)),
                        ("namespace".into(), string(namespace)),
                        ("name".into(), string(name)),
                    ],
                    Vec::new(),
                ),
            };
        Entity::new_with_tags(uid(kind, &id), attrs, [], tags).map_err(|e| e.to_string())
    }
}

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(
        // A fixed, valid name: parsing cannot fail.
        cedar_policy::EntityTypeName::from_str(&format!("{NAMESPACE}::{kind}"))
            .unwrap_or_else(|_| unreachable_type()),
        cedar_policy::EntityId::new(id),
    )
}

#[allow(clippy::panic)]
fn unreachable_type() -> cedar_policy::EntityTypeName {
    panic!("Toolyard's entity type names are valid Cedar names")
}

/// The per-tool parts of a decision, built once per snapshot.
#[derive(Debug)]
struct ToolEntry {
    action: EntityUid,
    resource: EntityUid,
    /// The tool, its target, its action and the `CallTool` group.
    entities: Vec<Entity>,
    args: BTreeMap<String, ArgType>,
    target: String,
    /// Per kind of caller ([`index::KINDS`]): the slice of policies that may apply.
    slice: [usize; 3],
    /// Per kind of caller: the class of tools that get the same list/search answer.
    class: [usize; 3],
}

/// The policies that may apply to some requests (see [`index`]).
#[derive(Debug)]
struct Slice {
    /// Every policy (enforced and `LogOnly`) of the slice.
    all: PolicySet,
    /// The enforced ones, when they differ from `all`.
    enforced: Option<PolicySet>,
    /// For views: the policies that are not principal-only (evaluated per class)...
    rest_all: PolicySet,
    rest_enforced: Option<PolicySet>,
    /// ...and the principal-only ones (indices into [`Engine::fixed`], evaluated once per
    /// caller).
    fixed: Vec<usize>,
}

/// A policy whose conditions read only the principal, with a tool its scope admits to evaluate
/// it with.
#[derive(Debug)]
struct Fixed {
    set: PolicySet,
    id: String,
    permit: bool,
    enforced: bool,
    tool: String,
}

/// The outcome of one decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request may proceed (always true in `LogOnly`-only gateways).
    pub allowed: bool,
    /// Whether the policies, all modes included, deny it (logged when `allowed` is true: the
    /// `LogOnly` "would deny").
    pub denied_by_any: bool,
    /// Ids of the policies that decided it: the forbids that matched, or the permits that did.
    pub policies: Vec<String>,
}

/// A gateway's policies, ready to decide.
#[derive(Debug)]
pub struct Engine {
    /// Whether any policy is enforced (false: every ToolPolicy is `LogOnly`).
    any_enforced: bool,
    slices: Vec<Slice>,
    /// Per policy: `Some` for the principal-only ones.
    fixed: Vec<Option<Fixed>>,
    tools: HashMap<String, ToolEntry>,
    /// Per kind of caller: each class of tools with one representative tool.
    classes: [Vec<(usize, String)>; 3],
    /// Number of distinct classes (class ids are below it).
    class_count: usize,
    authorizer: Authorizer,
}

impl Engine {
    /// The engine of a config, or `None` when it has no authorization (everything allowed).
    pub fn build(config: &GatewayConfig) -> Result<Option<Engine>, PolicyError> {
        let Some(authz) = &config.authorization else {
            return Ok(None);
        };
        let mut policies = Vec::new();
        for p in &authz.policies {
            let policy = Policy::parse(Some(PolicyId::new(&p.id)), &p.text).map_err(|e| {
                PolicyError::Invalid {
                    path: format!("authorization.policies[{}]", p.id),
                    message: cedar_message(&e),
                }
            })?;
            policies.push((index::Scope::of(&policy), policy, p.mode));
        }
        let kinds = index::KINDS.map(|k| uid(k, "-").type_name().clone());
        let tool_type = uid("Tool", "-").type_name().clone();
        let call_tool = uid("Action", CALL_TOOL);
        let group = Entity::new_no_attrs(call_tool.clone(), HashSet::new());
        let mut slice_ids = index::Interner::new();
        let mut slice_members: Vec<Vec<usize>> = Vec::new();
        let mut class_ids = index::Interner::new();
        let mut classes: [Vec<(usize, String)>; 3] = Default::default();
        let mut seen: [HashSet<usize>; 3] = Default::default();
        // A tool each principal-only policy's scope admits.
        let mut fixed_tool: Vec<Option<String>> = vec![None; policies.len()];
        let mut tools = HashMap::new();
        for target in &config.targets {
            let target_uid = uid("Target", &target.name);
            for tool in &target.tools {
                let mut entry = tool_entry(tool, &target.name, &target_uid, &call_tool, &group)
                    .map_err(|message| PolicyError::Invalid {
                        path: format!("targets[{}].tools[{}]", target.name, tool.name),
                        message,
                    })?;
                let ids = index::ToolIds {
                    action: &entry.action,
                    resource: &entry.resource,
                    target: &target_uid,
                    call_tool: &call_tool,
                    tool_type: &tool_type,
                };
                for (k, kind) in kinds.iter().enumerate() {
                    let members: Vec<usize> = policies
                        .iter()
                        .enumerate()
                        .filter(|(_, (scope, ..))| {
                            scope.admits_principal(kind) && scope.admits_tool(&ids)
                        })
                        .map(|(i, _)| i)
                        .collect();
                    let mut reads = index::Reads::default();
                    for &i in &members {
                        reads.union(policies[i].0.reads());
                        if fixed_tool[i].is_none() {
                            fixed_tool[i] = Some(tool.name.clone());
                        }
                    }
                    let (slice, new) = slice_ids.intern(members.clone());
                    if new {
                        slice_members.push(members);
                    }
                    let read_values: Vec<String> = if reads.whole {
                        vec![tool.name.clone()]
                    } else {
                        reads
                            .attributes
                            .iter()
                            .map(|a| tool_attribute(tool, &target.name, a))
                            .collect()
                    };
                    entry.slice[k] = slice;
                    let class = class_ids.intern((slice, read_values)).0;
                    entry.class[k] = class;
                    if seen[k].insert(class) {
                        classes[k].push((class, tool.name.clone()));
                    }
                }
                tools.insert(tool.name.clone(), entry);
            }
        }
        let mut slices = Vec::with_capacity(slice_members.len());
        let bad = |policy: &Policy, e: cedar_policy::PolicySetError| PolicyError::Invalid {
            path: format!("authorization.policies[{}]", policy.id()),
            message: cedar_message(&e),
        };
        for members in slice_members {
            let (mut all, mut enforced) = (PolicySet::new(), PolicySet::new());
            let (mut rest_all, mut rest_enforced) = (PolicySet::new(), PolicySet::new());
            let mut fixed = Vec::new();
            for &i in &members {
                let (scope, policy, mode) = &policies[i];
                let enforce = *mode == PolicyMode::Enforce;
                let principal_only = scope.reads().principal_only();
                let add = |set: &mut PolicySet| set.add(policy.clone()).map_err(|e| bad(policy, e));
                add(&mut all)?;
                if enforce {
                    add(&mut enforced)?;
                }
                if principal_only {
                    fixed.push(i);
                } else {
                    add(&mut rest_all)?;
                    if enforce {
                        add(&mut rest_enforced)?;
                    }
                }
            }
            let differ = members
                .iter()
                .any(|&i| policies[i].2 != PolicyMode::Enforce);
            slices.push(Slice {
                all,
                enforced: differ.then_some(enforced),
                rest_all,
                rest_enforced: differ.then_some(rest_enforced),
                fixed,
            });
        }
        let mut fixed = Vec::with_capacity(policies.len());
        for ((scope, policy, mode), tool) in policies.iter().zip(fixed_tool) {
            fixed.push(match tool {
                Some(tool) if scope.reads().principal_only() => {
                    let mut set = PolicySet::new();
                    set.add(policy.clone()).map_err(|e| bad(policy, e))?;
                    Some(Fixed {
                        set,
                        id: policy.id().to_string(),
                        permit: policy.effect() == cedar_policy::Effect::Permit,
                        enforced: *mode == PolicyMode::Enforce,
                        tool,
                    })
                }
                _ => None,
            });
        }
        let class_count = classes
            .iter()
            .flatten()
            .map(|(c, _)| c + 1)
            .max()
            .unwrap_or(0);
        Ok(Some(Engine {
            any_enforced: authz.enforce,
            slices,
            fixed,
            tools,
            classes,
            class_count,
            authorizer: Authorizer::new(),
        }))
    }

    /// The target of a tool the engine knows.
    pub fn target_of(&self, tool: &str) -> Option<&str> {
        self.tools.get(tool).map(|t| t.target.as_str())
    }

    /// May `caller` call `tool` with `arguments`? Unknown tools are denied.
    pub fn call(&self, caller: &Caller, tool: &str, arguments: &Map<String, Value>) -> Verdict {
        let Some(entry) = self.tools.get(tool) else {
            return deny_unknown();
        };
        let Some((request, entities)) = concrete_request(caller, entry, arguments) else {
            return deny_unknown();
        };
        let decide = |set: &PolicySet, _enforced_only: bool| {
            let response = self.authorizer.is_authorized(&request, set, &entities);
            let ids = response
                .diagnostics()
                .reason()
                .map(ToString::to_string)
                .collect::<Vec<_>>();
            (response.decision() == Decision::Allow, ids)
        };
        let slice = &self.slices[entry.slice[caller.kind.index()]];
        self.combine(&slice.all, slice.enforced.as_ref(), decide)
    }

    /// A call decided with the arguments, the principal-only policies taken from `view`: only
    /// the slice's other policies are evaluated.
    fn call_with_view(
        &self,
        view: &CallerView,
        caller: &Caller,
        entry: &ToolEntry,
        arguments: &Map<String, Value>,
    ) -> Verdict {
        let Some((request, entities)) = concrete_request(caller, entry, arguments) else {
            return deny_unknown();
        };
        let slice = &self.slices[entry.slice[caller.kind.index()]];
        let decide = |set: &PolicySet, enforced_only: bool| {
            let response = self.authorizer.is_authorized(&request, set, &entities);
            // The reasons are the satisfied forbids of a deny, the satisfied permits of an allow.
            let reasons: Vec<String> = response
                .diagnostics()
                .reason()
                .map(ToString::to_string)
                .collect();
            let (mut forbids, mut permits) = match response.decision() {
                Decision::Deny => (reasons, Vec::new()),
                Decision::Allow => (Vec::new(), reasons),
            };
            for i in &slice.fixed {
                let Some(f) = &self.fixed[*i] else { continue };
                if view.fixed.get(i) == Some(&true) && (f.enforced || !enforced_only) {
                    if f.permit { &mut permits } else { &mut forbids }.push(f.id.clone());
                }
            }
            if !forbids.is_empty() {
                (false, forbids)
            } else if !permits.is_empty() {
                (true, permits)
            } else {
                (false, Vec::new())
            }
        };
        self.combine(&slice.rest_all, slice.rest_enforced.as_ref(), decide)
    }

    /// Could `caller` call `tool` with some arguments? The list and search views: the same
    /// policies with the arguments unknown; a tool is visible unless they deny it whatever the
    /// arguments are.
    pub fn visible(&self, caller: &Caller, tool: &str) -> Verdict {
        let Ok(principal) = caller.entity() else {
            return deny_unknown();
        };
        match self.tools.get(tool) {
            None => deny_unknown(),
            Some(entry) => {
                let mut fixed = HashMap::new();
                self.answer(caller, &principal, entry, &mut fixed).verdict
            }
        }
    }

    /// [`Engine::visible`] for many tools of one caller, through [`Engine::view`].
    pub fn visible_all<'a>(
        &self,
        caller: &Caller,
        tools: impl IntoIterator<Item = &'a str>,
    ) -> Vec<bool> {
        let view = self.view(caller);
        tools.into_iter().map(|t| self.shows(&view, t)).collect()
    }

    /// Everything the policies decide for `caller` without its arguments: one evaluation per
    /// class of tools (see [`index`]). What `tools/list` and search show, and, for every tool
    /// whose decision does not depend on the arguments, the `tools/call` decision too. Cached
    /// by the gateway per caller and snapshot.
    pub fn view(&self, caller: &Caller) -> CallerView {
        let kind = caller.kind.index();
        let mut answers = vec![None; self.class_count];
        let mut fixed = HashMap::new();
        if let Ok(principal) = caller.entity() {
            for (class, tool) in &self.classes[kind] {
                if let Some(entry) = self.tools.get(tool) {
                    answers[*class] = Some(self.answer(caller, &principal, entry, &mut fixed));
                }
            }
        }
        CallerView {
            kind,
            answers,
            fixed,
        }
    }

    /// Whether `view`'s caller may see `tool` in `tools/list` and search.
    pub fn shows(&self, view: &CallerView, tool: &str) -> bool {
        self.tools
            .get(tool)
            .and_then(|entry| view.answers.get(entry.class[view.kind])?.as_ref())
            .is_some_and(|a| a.verdict.allowed)
    }

    /// Whether `view` decides calls of `tool` (its decision does not depend on the arguments).
    pub fn decided_by(&self, view: &CallerView, tool: &str) -> bool {
        self.tools
            .get(tool)
            .and_then(|entry| view.answers.get(entry.class[view.kind])?.as_ref())
            .is_some_and(|a| a.definite)
    }

    /// [`Engine::call`] with the caller's [`Engine::view`]: a tool whose decision does not
    /// depend on the arguments is decided by the view (no evaluation); the others are
    /// evaluated with the arguments.
    pub fn call_in(
        &self,
        view: &CallerView,
        caller: &Caller,
        tool: &str,
        arguments: &Map<String, Value>,
    ) -> Verdict {
        let answer = self
            .tools
            .get(tool)
            .and_then(|entry| view.answers.get(entry.class[view.kind])?.as_ref());
        match (answer, self.tools.get(tool)) {
            (Some(a), _) if a.definite => a.verdict.clone(),
            (Some(_), Some(entry)) => self.call_with_view(view, caller, entry, arguments),
            _ => self.call(caller, tool, arguments),
        }
    }

    /// The arguments-unknown decision for one tool. The slice's principal-only policies are
    /// looked up in (or added to) `fixed`, the caller's outcome per policy; the others are
    /// evaluated with the arguments unknown (Cedar partial evaluation). The two parts combine
    /// as Cedar does: a satisfied forbid denies; a satisfied permit allows unless a forbid might
    /// still match; nothing that could permit denies; anything else depends on the arguments.
    fn answer(
        &self,
        caller: &Caller,
        principal: &Entity,
        entry: &ToolEntry,
        fixed: &mut HashMap<usize, bool>,
    ) -> Answer {
        let unknown = Answer {
            verdict: deny_unknown(),
            definite: true,
        };
        let slice = &self.slices[entry.slice[caller.kind.index()]];
        for &i in &slice.fixed {
            if let std::collections::hash_map::Entry::Vacant(e) = fixed.entry(i) {
                let Some(satisfied) = self.satisfied(i, principal) else {
                    return unknown;
                };
                e.insert(satisfied);
            }
        }
        let request = RequestBuilder::default()
            .principal(principal.uid())
            .action(entry.action.clone())
            .resource(entry.resource.clone())
            .build();
        let Some(entities) = entities(principal.clone(), entry) else {
            return unknown;
        };
        // Some(allowed) when decided whatever the arguments, with the deciding policies.
        let decide = |set: &PolicySet, enforced_only: bool| -> (Option<bool>, Vec<String>) {
            let response = self
                .authorizer
                .is_authorized_partial(&request, set, &entities);
            let (mut forbids, mut permits) = (Vec::new(), Vec::new());
            for p in response.definitely_satisfied() {
                match p.effect() {
                    cedar_policy::Effect::Forbid => forbids.push(p.id().to_string()),
                    cedar_policy::Effect::Permit => permits.push(p.id().to_string()),
                }
            }
            let (mut forbid_may, mut permit_may) = (false, false);
            for p in response.nontrivial_residuals() {
                match p.effect() {
                    cedar_policy::Effect::Forbid => forbid_may = true,
                    cedar_policy::Effect::Permit => permit_may = true,
                }
            }
            for i in &slice.fixed {
                let Some(f) = &self.fixed[*i] else { continue };
                if fixed.get(i) == Some(&true) && (f.enforced || !enforced_only) {
                    if f.permit { &mut permits } else { &mut forbids }.push(f.id.clone());
                }
            }
            if !forbids.is_empty() {
                (Some(false), forbids)
            } else if !permits.is_empty() && !forbid_may {
                (Some(true), permits)
            } else if permits.is_empty() && !permit_may {
                (Some(false), Vec::new())
            } else {
                (None, permits)
            }
        };
        let (all, all_ids) = decide(&slice.rest_all, false);
        let (enforced, ids) = match (&slice.rest_enforced, self.any_enforced) {
            (_, false) => (Some(true), Vec::new()),
            (None, true) => (all, all_ids.clone()),
            (Some(set), true) => decide(set, true),
        };
        Answer {
            verdict: verdict(enforced != Some(false), all != Some(false), ids, all_ids),
            definite: all.is_some() && enforced.is_some(),
        }
    }

    /// Whether the principal-only policy `i` is satisfied for `principal` (`None` when it
    /// cannot be evaluated).
    fn satisfied(&self, i: usize, principal: &Entity) -> Option<bool> {
        let f = self.fixed.get(i)?.as_ref()?;
        let entry = self.tools.get(&f.tool)?;
        let request = Request::new(
            principal.uid(),
            entry.action.clone(),
            entry.resource.clone(),
            Context::empty(),
            None,
        )
        .ok()?;
        let entities = entities(principal.clone(), entry)?;
        let response = self.authorizer.is_authorized(&request, &f.set, &entities);
        Some(response.diagnostics().reason().next().is_some())
    }

    /// One verdict from the decision over every policy (`all`) and over the enforced ones
    /// (`enforced`, when they differ): enforcement decides, `all` tells a `LogOnly` would-deny.
    fn combine(
        &self,
        all: &PolicySet,
        enforced: Option<&PolicySet>,
        decide: impl Fn(&PolicySet, bool) -> (bool, Vec<String>),
    ) -> Verdict {
        let (all_allowed, all_ids) = decide(all, false);
        let (allowed, ids) = match (enforced, self.any_enforced) {
            (_, false) => (true, Vec::new()),
            (None, true) => (all_allowed, all_ids.clone()),
            (Some(set), true) => decide(set, true),
        };
        verdict(allowed, all_allowed, ids, all_ids)
    }
}

/// What the policies decide for one caller without its arguments, per class of tools.
#[derive(Clone, Debug)]
pub struct CallerView {
    kind: usize,
    answers: Vec<Option<Answer>>,
    /// Whether each principal-only policy (by index) is satisfied for the caller.
    fixed: HashMap<usize, bool>,
}

/// The arguments-unknown decision of one class of tools.
#[derive(Clone, Debug)]
struct Answer {
    /// Allowed: visible in list and search.
    verdict: Verdict,
    /// Whether the decision holds whatever the arguments (then it is the call decision too).
    definite: bool,
}

/// The verdict from the enforced decision (`allowed`, with the policies behind it) and the
/// decision over every policy (`all_allowed`): for a `LogOnly` "would deny", the policies named
/// are those that would have denied.
fn verdict(allowed: bool, all_allowed: bool, ids: Vec<String>, all_ids: Vec<String>) -> Verdict {
    Verdict {
        allowed,
        denied_by_any: !all_allowed,
        policies: if allowed && !all_allowed {
            all_ids
        } else {
            ids
        },
    }
}

/// The value of a tool attribute policies can read, as the class key compares it.
fn tool_attribute(tool: &ToolConfig, target: &str, attribute: &str) -> String {
    let hints = tool.annotations.clone().unwrap_or_default();
    match attribute {
        "name" => tool.name.clone(),
        "target" => target.to_string(),
        "originalName" => tool.original_name.clone(),
        "readOnly" => hints.read_only_hint.unwrap_or(false).to_string(),
        "destructive" => hints.destructive_hint.unwrap_or(false).to_string(),
        "idempotent" => hints.idempotent_hint.unwrap_or(false).to_string(),
        // Not an attribute of a tool: reading it fails the same way for every tool.
        _ => String::new(),
    }
}

/// The request of a call with its arguments (those policies can see, as `context.input`) and
/// the entities it is decided with.
fn concrete_request(
    caller: &Caller,
    entry: &ToolEntry,
    arguments: &Map<String, Value>,
) -> Option<(Request, Entities)> {
    let principal = caller.entity().ok()?;
    let input = arguments.iter().filter_map(|(k, v)| {
        let kind = entry.args.get(k).filter(|t| t.accepts(v))?;
        Some((k.clone(), kind.expression(v)?))
    });
    let input = RestrictedExpression::new_record(input).ok()?;
    let context = Context::from_pairs([("input".to_string(), input)]).ok()?;
    let request = Request::new(
        principal.uid(),
        entry.action.clone(),
        entry.resource.clone(),
        context,
        None,
    )
    .ok()?;
    Some((request, entities(principal, entry)?))
}

fn deny_unknown() -> Verdict {
    Verdict {
        allowed: false,
        denied_by_any: true,
        policies: Vec::new(),
    }
}

fn entities(principal: Entity, entry: &ToolEntry) -> Option<Entities> {
    Entities::from_entities(
        entry
            .entities
            .iter()
            .cloned()
            .chain(std::iter::once(principal)),
        None,
    )
    .ok()
}

fn tool_entry(
    tool: &ToolConfig,
    target: &str,
    target_uid: &EntityUid,
    call_tool: &EntityUid,
    group: &Entity,
) -> Result<ToolEntry, String> {
    let hints = tool.annotations.clone().unwrap_or_default();
    let string = |s: &str| RestrictedExpression::new_string(s.to_string());
    let resource = uid("Tool", &tool.name);
    let tool_entity = Entity::new(
        resource.clone(),
        HashMap::from([
            ("name".to_string(), string(&tool.name)),
            ("target".to_string(), string(target)),
            ("originalName".to_string(), string(&tool.original_name)),
            (
                "readOnly".to_string(),
                RestrictedExpression::new_bool(hints.read_only_hint.unwrap_or(false)),
            ),
            (
                "destructive".to_string(),
                RestrictedExpression::new_bool(hints.destructive_hint.unwrap_or(false)),
            ),
            (
                "idempotent".to_string(),
                RestrictedExpression::new_bool(hints.idempotent_hint.unwrap_or(false)),
            ),
        ]),
        HashSet::from([target_uid.clone()]),
    )
    .map_err(|e| e.to_string())?;
    let action = uid("Action", &tool.name);
    let action_entity = Entity::new_no_attrs(action.clone(), HashSet::from([call_tool.clone()]));
    Ok(ToolEntry {
        action,
        resource,
        entities: vec![
            tool_entity,
            Entity::new_no_attrs(target_uid.clone(), HashSet::new()),
            action_entity,
            group.clone(),
        ],
        args: arg_types(tool),
        target: target.to_string(),
        slice: [0; 3],
        class: [0; 3],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::Manifests;
    use std::path::Path;

    /// The seed's order tools (one read, one write) and a refund tool with an amount.
    const MANIFESTS: &str = r#"
apiVersion: toolyard.dev/v1alpha1
kind: Gateway
metadata: {name: orders}
spec: {inboundAuth: {none: {}}}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: orders}
spec:
  gatewayRef: {name: orders}
  lambda:
    functionArn: arn:aws:lambda:us-east-1:123456789012:function:orders
    toolSchema:
      inline:
        - name: get_order_tool
          description: get an order
          inputSchema: {type: object, properties: {orderId: {type: string}}, required: [orderId]}
        - name: update_order_tool
          description: update an order
          inputSchema: {type: object, properties: {orderId: {type: string}}, required: [orderId]}
        - name: refund_tool
          description: refund an order
          inputSchema: {type: object, properties: {orderId: {type: string}, amount: {type: integer}, tags: {type: array, items: {type: string}}}}
"#;

    fn manifests(extra: &str) -> Manifests {
        let mut m = Manifests::default();
        m.add_text(Path::new("m.yaml"), &format!("{MANIFESTS}{extra}"))
            .expect("manifests parse");
        m
    }

    fn compiled(extra: &str) -> (GatewayConfig, Vec<PolicyReport>) {
        let m = manifests(extra);
        let compiled = crate::gateway::compile(
            &m.gateways[0],
            &m.targets,
            &m.resolved_refs(),
            &crate::gateway::CompileContext::default(),
        )
        .expect("compiles");
        let mut config = compiled.config;
        let reports = attach(&mut config, &m.policies);
        (config, reports)
    }

    fn policy(name: &str, mode: &str, policies: &[(&str, &str)]) -> String {
        let mut out = format!(
            "\n---\napiVersion: toolyard.dev/v1alpha1\nkind: ToolPolicy\nmetadata: {{name: {name}}}\nspec:\n  gatewayRef: {{name: orders}}\n  mode: {mode}\n  policies:\n"
        );
        for (n, text) in policies {
            out.push_str(&format!("    - name: {n}\n      text: {}\n", json!(text)));
        }
        out
    }

    const ORDERS_POLICY: &[(&str, &str)] = &[
        (
            "readers",
            r#"permit(principal is Toolyard::OAuthUser, action in Toolyard::Action::"CallTool", resource) when { principal.scopes.contains("orders:read") && resource.readOnly };"#,
        ),
        (
            "read-tool",
            r#"permit(principal is Toolyard::OAuthUser, action == Toolyard::Action::"orders___get_order_tool", resource) when { principal.scopes.contains("orders:read") };"#,
        ),
        (
            "writers",
            r#"permit(principal is Toolyard::OAuthUser, action, resource in Toolyard::Target::"orders") when { principal.scopes.contains("orders:write") };"#,
        ),
        (
            "small-refunds",
            r#"forbid(principal, action == Toolyard::Action::"orders___refund_tool", resource) unless { context.input has amount && context.input.amount < 1000 };"#,
        ),
        (
            "payments-sa",
            r#"permit(principal is Toolyard::ServiceAccount, action, resource) when { principal.namespace == "payments" };"#,
        ),
        (
            "no-blocked",
            r#"forbid(principal is Toolyard::OAuthUser, action, resource) when { principal.hasTag("blocked") && principal.getTag("blocked") == "true" };"#,
        ),
    ];

    fn user(scopes: &[&str]) -> Caller {
        Caller {
            kind: CallerKind::OAuthUser,
            subject: "alice".into(),
            client: "agent".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            claims: BTreeMap::new(),
        }
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn no_tool_policy_means_no_authorization() {
        let (config, reports) = compiled("");
        assert!(reports.is_empty());
        assert!(config.authorization.is_none());
        assert_eq!(config.version, toolyard_crds::CONFIG_VERSION);
        assert!(Engine::build(&config).expect("builds").is_none());
    }

    #[test]
    fn list_search_and_call_agree_on_a_table() {
        let (config, reports) = compiled(&policy("orders", "Enforce", ORDERS_POLICY));
        assert!(reports.iter().all(|r| r.outcome.is_ok()), "{reports:?}");
        assert_eq!(reports[0].count, ORDERS_POLICY.len());
        assert_eq!(config.version, CONFIG_VERSION_AUTHZ);
        let engine = Engine::build(&config)
            .expect("builds")
            .expect("has policies");
        let reader = user(&["orders:read"]);
        let writer = user(&["orders:write"]);
        let mut blocked = user(&["orders:write"]);
        blocked.claims.insert("blocked".into(), "true".into());
        let payments = Caller {
            kind: CallerKind::ServiceAccount {
                namespace: "payments".into(),
                name: "bot".into(),
            },
            subject: "system:serviceaccount:payments:bot".into(),
            ..Caller::default()
        };
        let other_sa = Caller {
            kind: CallerKind::ServiceAccount {
                namespace: "web".into(),
                name: "bot".into(),
            },
            ..payments.clone()
        };
        let anonymous = Caller::default();
        let get = "orders___get_order_tool";
        let update = "orders___update_order_tool";
        let refund = "orders___refund_tool";
        // caller, tool, arguments, visible (list + search), call allowed
        let table: Vec<(&Caller, &str, Value, bool, bool)> = vec![
            (&reader, get, json!({"orderId": "1"}), true, true),
            (&reader, update, json!({"orderId": "1"}), false, false),
            (&reader, refund, json!({"amount": 5}), false, false),
            (&writer, get, json!({"orderId": "1"}), true, true),
            (&writer, update, json!({"orderId": "1"}), true, true),
            (&writer, refund, json!({"amount": 999}), true, true),
            (&writer, refund, json!({"amount": 1000}), true, false),
            (&writer, refund, json!({"amount": "5"}), true, false),
            (&writer, refund, json!({}), true, false),
            (&blocked, get, json!({"orderId": "1"}), false, false),
            (&payments, update, json!({"orderId": "1"}), true, true),
            (&payments, refund, json!({"amount": 10}), true, true),
            (&other_sa, get, json!({"orderId": "1"}), false, false),
            (&anonymous, get, json!({}), false, false),
            (&writer, "orders___missing", json!({}), false, false),
        ];
        for (caller, tool, arguments, visible, callable) in table {
            let seen = engine.visible(caller, tool);
            let called = engine.call(caller, tool, &args(arguments.clone()));
            assert_eq!(seen.allowed, visible, "visible {} {tool}", caller.display());
            assert_eq!(
                called.allowed,
                callable,
                "call {} {tool} {arguments}",
                caller.display()
            );
            // A call that is allowed is never of a tool the views hide.
            assert!(!called.allowed || seen.allowed);
            // The cached view decides calls that do not depend on the arguments alike.
            let view = engine.view(caller);
            let fast = engine.call_in(&view, caller, tool, &args(arguments.clone()));
            assert_eq!(
                (fast.allowed, fast.denied_by_any),
                (called.allowed, called.denied_by_any),
                "view call {} {tool} {arguments}",
                caller.display()
            );
            assert_eq!(engine.shows(&view, tool), visible);
        }
        let denied = engine.call(&writer, refund, &args(json!({"amount": 5000})));
        assert_eq!(denied.policies, vec!["orders/small-refunds".to_string()]);

        // The whole-list answer (one evaluation per class of tools) is the per-tool answer.
        let all = [get, update, refund, "orders___missing"];
        for caller in [&reader, &writer, &blocked, &payments, &other_sa, &anonymous] {
            let per_tool: Vec<bool> = all
                .iter()
                .map(|t| engine.visible(caller, t).allowed)
                .collect();
            assert_eq!(
                engine.visible_all(caller, all),
                per_tool,
                "{}",
                caller.display()
            );
        }
    }

    #[test]
    fn list_classes_tell_tools_apart_by_what_conditions_read() {
        // Both conditions read something that differs between the three tools (the action, the
        // resource's name); a class shared by them would show all three or none.
        for text in [
            r#"permit(principal, action, resource) when { action == Toolyard::Action::"orders___get_order_tool" };"#,
            r#"permit(principal, action, resource) when { resource.name == "orders___update_order_tool" };"#,
            r#"permit(principal, action, resource) when { resource in Toolyard::Tool::"orders___refund_tool" };"#,
        ] {
            let (config, reports) = compiled(&policy("p", "Enforce", &[("only-one", text)]));
            assert!(reports.iter().all(|r| r.outcome.is_ok()), "{reports:?}");
            let engine = Engine::build(&config).unwrap().unwrap();
            let tools = [
                "orders___get_order_tool",
                "orders___update_order_tool",
                "orders___refund_tool",
            ];
            let shown = engine.visible_all(&Caller::default(), tools);
            assert_eq!(shown.iter().filter(|v| **v).count(), 1, "{text}: {shown:?}");
            let per_tool: Vec<bool> = tools
                .iter()
                .map(|t| engine.visible(&Caller::default(), t).allowed)
                .collect();
            assert_eq!(shown, per_tool, "{text}");
        }
    }

    #[test]
    fn invalid_policy_is_rejected_with_path_and_cedar_message() {
        let bad = policy(
            "orders",
            "Enforce",
            &[
                ("ok", ORDERS_POLICY[0].1),
                (
                    "typo",
                    r#"permit(principal, action, resource) when { resource.readonly };"#,
                ),
            ],
        );
        let (config, reports) = compiled(&bad);
        let Err(PolicyError::Invalid { path, message }) = &reports[0].outcome else {
            panic!("expected invalid: {reports:?}");
        };
        assert_eq!(path, "spec.policies[1].text");
        assert!(message.contains("readonly"), "{message}");
        // Nothing accepted before: nothing served, and so every tool is denied.
        assert_eq!(reports[0].count, 0);
        let engine = Engine::build(&config).expect("builds").expect("authz");
        assert!(
            !engine
                .visible(&user(&["orders:read"]), "orders___get_order_tool")
                .allowed
        );

        let syntax = policy("orders", "Enforce", &[("broken", "permit(principal")]);
        let (_, reports) = compiled(&syntax);
        let Err(PolicyError::Invalid { path, message }) = &reports[0].outcome else {
            panic!("expected invalid: {reports:?}");
        };
        assert_eq!(path, "spec.policies[0].text");
        assert!(!message.is_empty());
    }

    #[test]
    fn last_accepted_policies_keep_serving() {
        let bad = policy(
            "orders",
            "Enforce",
            &[(
                "typo",
                r#"permit(principal, action, resource) when { nope };"#,
            )],
        );
        let mut m = manifests(&bad);
        m.policies[0].status = Some(toolyard_crds::ToolPolicyStatus {
            accepted_policies: vec![NamedPolicy {
                name: "readers".into(),
                text: ORDERS_POLICY[1].1.into(),
            }],
            ..Default::default()
        });
        let mut config = crate::gateway::compile(
            &m.gateways[0],
            &m.targets,
            &m.resolved_refs(),
            &crate::gateway::CompileContext::default(),
        )
        .expect("compiles")
        .config;
        let reports = attach(&mut config, &m.policies);
        assert!(reports[0].outcome.is_err());
        assert_eq!(reports[0].count, 1);
        let engine = Engine::build(&config).expect("builds").expect("authz");
        assert!(
            engine
                .visible(&user(&["orders:read"]), "orders___get_order_tool")
                .allowed
        );
    }

    #[test]
    fn log_only_changes_nothing_but_reports_would_deny() {
        let (config, reports) = compiled(&policy("orders", "LogOnly", ORDERS_POLICY));
        assert!(reports[0].outcome.is_ok());
        let engine = Engine::build(&config).expect("builds").expect("authz");
        let reader = user(&["orders:read"]);
        let v = engine.call(&reader, "orders___update_order_tool", &Map::new());
        assert!(v.allowed);
        assert!(v.denied_by_any);
        assert!(
            engine
                .visible(&reader, "orders___update_order_tool")
                .allowed
        );
        let ok = engine.call(&reader, "orders___get_order_tool", &Map::new());
        assert!(ok.allowed && !ok.denied_by_any);
        let view = engine.view(&reader);
        for tool in ["orders___update_order_tool", "orders___get_order_tool"] {
            let slow = engine.call(&reader, tool, &Map::new());
            let fast = engine.call_in(&view, &reader, tool, &Map::new());
            assert_eq!(
                (fast.allowed, fast.denied_by_any),
                (slow.allowed, slow.denied_by_any)
            );
        }
    }

    #[test]
    fn log_only_next_to_enforce_only_logs() {
        let enforce = policy(
            "a-enforce",
            "Enforce",
            &[("all", "permit(principal, action, resource);")],
        );
        let log = policy(
            "b-log",
            "LogOnly",
            &[(
                "no-updates",
                r#"forbid(principal, action == Toolyard::Action::"orders___update_order_tool", resource);"#,
            )],
        );
        let (config, _) = compiled(&format!("{enforce}{log}"));
        let engine = Engine::build(&config).expect("builds").expect("authz");
        let v = engine.call(&user(&[]), "orders___update_order_tool", &Map::new());
        assert!(v.allowed && v.denied_by_any);
        assert_eq!(v.policies, vec!["b-log/no-updates".to_string()]);
        // The view's decision (no evaluation at call time) is the same, policies included.
        let view = engine.view(&user(&[]));
        let fast = engine.call_in(&view, &user(&[]), "orders___update_order_tool", &Map::new());
        assert_eq!(fast, v);
    }

    #[test]
    fn arguments_of_other_types_or_shapes_are_not_visible_to_policies() {
        let tags = ArgType::SetString;
        assert!(tags.accepts(&json!(["a"])));
        assert!(!tags.accepts(&json!([1])));
        assert!(!ArgType::Long.accepts(&json!(1.5)));
        // An object argument (which could smuggle Cedar's `__entity` escapes) is never passed.
        assert_eq!(ArgType::of(&json!({"type": "object"})), None);
    }
}

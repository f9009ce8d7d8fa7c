//! Which policies can apply to which tool, and which tools must get the same list/search answer,
//! worked out once per snapshot.
//!
//! Cedar's authorizer evaluates every policy it is given, so a decision over a gateway's whole
//! policy set costs time in proportion to all policies, though most are scoped to other tools or
//! other kinds of caller (`action == Toolyard::Action::"orders___refund"`, `principal is
//! Toolyard::ServiceAccount`). A policy whose scope cannot match a request cannot change its
//! decision (the scope is a conjunct of the policy), so each tool gets the slice of policies
//! whose scope may match it, per kind of caller; identical slices are shared.
//!
//! For `tools/list` and search, a caller's answer for a tool depends only on the slice and on
//! what the slice's conditions read of the tool: tools with the same slice and the same values of
//! those attributes (a "class") get the same answer, so a list needs one evaluation per class,
//! not per tool. A condition that uses the resource or the action other than by reading an
//! attribute (`resource in …`, `action == …`) makes every tool its own class.

use std::collections::{BTreeSet, HashMap};

use cedar_policy::{
    ActionConstraint, EntityTypeName, EntityUid, Policy, PrincipalConstraint, ResourceConstraint,
};
use serde_json::Value;

/// The kinds of caller a principal can be, in the order of [`KINDS`] indices.
pub(super) const KINDS: [&str; 3] = ["Anonymous", "OAuthUser", "ServiceAccount"];

/// What a policy's scope admits and what its conditions read of the tool.
#[derive(Debug)]
pub(super) struct Scope {
    principal: PrincipalConstraint,
    action: ActionConstraint,
    resource: ResourceConstraint,
    reads: Reads,
}

/// What a policy's conditions read of the resource and action.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Reads {
    /// Attributes of `resource` read (`resource.readOnly`, `resource has target`).
    pub attributes: BTreeSet<String>,
    /// The resource or the action used as a whole: every tool differs.
    pub whole: bool,
    /// Whether `context` (the arguments) is read.
    pub context: bool,
}

impl Reads {
    pub fn union(&mut self, other: &Reads) {
        self.attributes.extend(other.attributes.iter().cloned());
        self.whole |= other.whole;
        self.context |= other.context;
    }

    /// Whether the conditions read only the principal: the policy is satisfied or not for a
    /// caller whatever the tool in its scope, so it is evaluated once per caller.
    pub fn principal_only(&self) -> bool {
        !self.whole && !self.context && self.attributes.is_empty()
    }
}

/// The identities a tool is decided with.
pub(super) struct ToolIds<'a> {
    pub action: &'a EntityUid,
    pub resource: &'a EntityUid,
    pub target: &'a EntityUid,
    pub call_tool: &'a EntityUid,
    pub tool_type: &'a EntityTypeName,
}

impl Scope {
    pub fn of(policy: &Policy) -> Scope {
        let reads = policy
            .to_json()
            .map(|est| {
                let mut reads = Reads::default();
                walk(&est["conditions"], &mut reads);
                reads
            })
            // A policy the JSON form cannot express: assume it reads everything.
            .unwrap_or(Reads {
                attributes: BTreeSet::new(),
                whole: true,
                context: true,
            });
        Scope {
            principal: policy.principal_constraint(),
            action: policy.action_constraint(),
            resource: policy.resource_constraint(),
            reads,
        }
    }

    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// Whether the scope may match a principal of type `Toolyard::<kind>` (`kind_type`).
    /// Principals have no parents, so `principal in X` holds only for `X` itself.
    pub fn admits_principal(&self, kind_type: &EntityTypeName) -> bool {
        match &self.principal {
            PrincipalConstraint::Any => true,
            PrincipalConstraint::Is(t) | PrincipalConstraint::IsIn(t, _) => t == kind_type,
            PrincipalConstraint::Eq(u) | PrincipalConstraint::In(u) => u.type_name() == kind_type,
        }
    }

    /// Whether the scope may match the tool's action and resource.
    pub fn admits_tool(&self, ids: &ToolIds<'_>) -> bool {
        let action = match &self.action {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(a) => a == ids.action,
            ActionConstraint::In(list) => {
                list.iter().any(|a| a == ids.action || a == ids.call_tool)
            }
        };
        let within = |u: &EntityUid| u == ids.resource || u == ids.target;
        let resource = match &self.resource {
            ResourceConstraint::Any => true,
            ResourceConstraint::Is(t) => t == ids.tool_type,
            ResourceConstraint::Eq(u) => u == ids.resource,
            ResourceConstraint::In(u) => within(u),
            ResourceConstraint::IsIn(t, u) => t == ids.tool_type && within(u),
        };
        action && resource
    }
}

/// Records in `reads` what the condition expression `v` (Cedar's JSON form) reads of the
/// resource and action.
fn walk(v: &Value, reads: &mut Reads) {
    match v {
        Value::Object(map) => {
            if let Some(var) = map.get("Var").and_then(Value::as_str) {
                match var {
                    "resource" | "action" => reads.whole = true,
                    "context" => reads.context = true,
                    _ => {}
                }
                return;
            }
            for (op, inner) in map {
                let attribute = (op == "." || op == "has")
                    .then(|| inner.get("left").filter(|l| l["Var"] == "resource"))
                    .flatten()
                    .and(inner.get("attr").and_then(Value::as_str));
                match attribute {
                    Some(attr) => {
                        reads.attributes.insert(attr.to_string());
                    }
                    None => walk(inner, reads),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, reads)),
        _ => {}
    }
}

/// Shares equal values: the index of each distinct key, in order of first appearance.
#[derive(Debug)]
pub(super) struct Interner<K> {
    ids: HashMap<K, usize>,
}

impl<K: std::hash::Hash + Eq> Interner<K> {
    pub fn new() -> Self {
        Interner {
            ids: HashMap::new(),
        }
    }

    /// The id of `key` and whether it is new.
    pub fn intern(&mut self, key: K) -> (usize, bool) {
        let next = self.ids.len();
        match self.ids.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => (*e.get(), false),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(next);
                (next, true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::PolicyId;

    fn reads(text: &str) -> Reads {
        let policy = Policy::parse(Some(PolicyId::new("p")), text).unwrap();
        Scope::of(&policy).reads
    }

    #[test]
    fn attribute_reads_are_told_apart_from_whole_resource_uses() {
        assert_eq!(
            reads("permit(principal, action, resource);"),
            Reads::default()
        );
        let r = reads(
            "permit(principal, action, resource) when { resource.readOnly && resource has target && principal.name == \"x\" && context.input has a };",
        );
        assert_eq!(
            r.attributes,
            BTreeSet::from(["readOnly".to_string(), "target".to_string()])
        );
        assert!(!r.whole && r.context && !r.principal_only());
        assert!(reads("permit(principal, action == Toolyard::Action::\"t\", resource) when { principal.name == \"x\" };").principal_only());
        assert!(
            reads(
                "permit(principal, action, resource) when { action == Toolyard::Action::\"t\" };"
            )
            .whole
        );
        assert!(
            reads(
                "permit(principal, action, resource) when { resource in Toolyard::Target::\"t\" };"
            )
            .whole
        );
        assert!(
            reads("permit(principal, action, resource) when { resource.name like \"a*\" || resource == Toolyard::Tool::\"t\" };")
                .whole
        );
    }
}

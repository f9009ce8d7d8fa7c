//! Shared schema definitions: a target's tools refer to one table of converted schemas
//! (`TargetConfig::schema_defs`) with `{"$ref": "#/$defs/<name>"}` instead of each carrying its
//! own copy of every shape it uses.
//!
//! Large APIs reference the same shapes from thousands of operations (GitHub's `repository`,
//! Microsoft Graph's entities); copied into every tool they made configs of hundreds of
//! megabytes. Here are the pieces both sides need: finding the references of a schema, the
//! definitions a set of schemas reaches, and dropping the ones nothing reaches. The gateway
//! builds what clients see from these (each tool's schema with the `$defs` it reaches).
//!
//! References are found only where a schema may stand (`properties`, `items`, `allOf`, …), so a
//! `{"$ref": …}` that is example or default *data* is never taken for one.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The prefix of a reference into the shared table.
pub const DEFS_PREFIX: &str = "#/$defs/";

/// Keywords whose value is a map of name → schema.
const SCHEMA_MAPS: [&str; 4] = [
    "properties",
    "patternProperties",
    "dependentSchemas",
    "$defs",
];
/// Keywords whose value is an array of schemas.
const SCHEMA_ARRAYS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value is one schema.
const SCHEMA_SINGLES: [&str; 11] = [
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "contentSchema",
];
/// Deepest nesting walked (converted schemas are at most 64 deep).
const MAX_WALK_DEPTH: usize = 128;

/// The definition a schema node refers to: `Some("Pet")` for `{"$ref": "#/$defs/Pet", …}`.
pub fn def_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix(DEFS_PREFIX))
}

/// Calls `found` with the name of every shared definition `schema` refers to, in document
/// order, repeats included (definitions are not followed).
pub fn for_each_ref<'s>(schema: &'s Value, found: &mut impl FnMut(&'s str)) {
    walk(schema, found, 0);
}

fn walk<'s>(schema: &'s Value, found: &mut impl FnMut(&'s str), depth: usize) {
    let Value::Object(map) = schema else {
        return;
    };
    if depth > MAX_WALK_DEPTH {
        return;
    }
    if let Some(name) = def_name(schema) {
        found(name);
    }
    for (key, value) in map {
        let key = key.as_str();
        if SCHEMA_MAPS.contains(&key) {
            if let Value::Object(entries) = value {
                for entry in entries.values() {
                    walk(entry, found, depth + 1);
                }
            }
        } else if SCHEMA_ARRAYS.contains(&key) {
            if let Value::Array(items) = value {
                for item in items {
                    walk(item, found, depth + 1);
                }
            }
        } else if SCHEMA_SINGLES.contains(&key) {
            walk(value, found, depth + 1);
        }
    }
}

/// The names `schema` refers to directly, each once, in first-use order.
pub fn direct_refs(schema: &Value) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for_each_ref(schema, &mut |name| {
        if seen.insert(name) {
            out.push(name);
        }
    });
    out
}

/// Every definition of `defs` reachable from `roots` (through other definitions too), and the
/// referenced names `defs` does not have (dangling).
pub fn closure<'r, 'd>(
    roots: impl IntoIterator<Item = &'r Value>,
    defs: &'d BTreeMap<String, Value>,
) -> (BTreeSet<&'d str>, BTreeSet<String>) {
    let mut reached: BTreeSet<&'d str> = BTreeSet::new();
    let mut missing: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<&str> = Vec::new();
    for root in roots {
        for_each_ref(root, &mut |name| queue.push(name));
    }
    while let Some(name) = queue.pop() {
        if reached.contains(name) || missing.contains(name) {
            continue;
        }
        match defs.get_key_value(name) {
            Some((key, schema)) => {
                reached.insert(key.as_str());
                for_each_ref(schema, &mut |next| queue.push(next));
            }
            None => {
                missing.insert(name.to_owned());
            }
        }
    }
    (reached, missing)
}

/// Drops the definitions none of `roots` reaches (a tool left out by the target's selection,
/// an output schema that was not kept).
pub fn prune<'r>(defs: &mut BTreeMap<String, Value>, roots: impl IntoIterator<Item = &'r Value>) {
    if defs.is_empty() {
        return;
    }
    let keep: BTreeSet<String> = {
        let (reached, _) = closure(roots, defs);
        reached.into_iter().map(str::to_owned).collect()
    };
    defs.retain(|name, _| keep.contains(name));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn references_are_found_only_where_schemas_stand() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": {"$ref": "#/$defs/A"},
                "b": {"type": "array", "items": {"$ref": "#/$defs/B"}},
                "c": {"anyOf": [{"$ref": "#/$defs/C"}, {"type": "null"}]},
                "d": {"type": "object", "examples": [{"$ref": "#/$defs/NotASchema"}],
                      "default": {"$ref": "#/$defs/NotASchema"}},
                "e": {"$ref": "#/components/schemas/External"}
            },
            "additionalProperties": {"$ref": "#/$defs/A"}
        });
        assert_eq!(direct_refs(&schema), vec!["A", "B", "C"]);
    }

    #[test]
    fn closure_follows_definitions_and_cycles_and_reports_dangling_names() {
        let defs: BTreeMap<String, Value> = [
            ("Node", json!({"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}, "leaf": {"$ref": "#/$defs/Leaf"}}})),
            ("Leaf", json!({"type": "string"})),
            ("Other", json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/Gone"}}})),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let root = json!({"type": "object", "properties": {"n": {"$ref": "#/$defs/Node"}}});
        let (reached, missing) = closure([&root], &defs);
        assert_eq!(
            reached.into_iter().collect::<Vec<_>>(),
            vec!["Leaf", "Node"]
        );
        assert!(missing.is_empty());
        let other = json!({"$ref": "#/$defs/Other"});
        let (reached, missing) = closure([&other], &defs);
        assert_eq!(reached.into_iter().collect::<Vec<_>>(), vec!["Other"]);
        assert_eq!(missing.into_iter().collect::<Vec<_>>(), vec!["Gone"]);

        let mut pruned = defs.clone();
        prune(&mut pruned, [&root]);
        assert_eq!(pruned.keys().collect::<Vec<_>>(), vec!["Leaf", "Node"]);
    }
}

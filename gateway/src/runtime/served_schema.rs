//! Tool schemas as clients receive them: the compiled schema plus a `$defs` holding exactly the
//! target's shared definitions it reaches.
//!
//! The config stores each shape of an API once (`TargetConfig::schema_defs`) and tool schemas
//! refer to it with `{"$ref": "#/$defs/<name>"}`. MCP clients get one tool at a time and know
//! nothing of the table, so every served schema must be self-contained. Built once per snapshot
//! (the `Tool`s hold them behind `Arc`s, so a `tools/list` copies no schema), and the
//! validators, the search index and `tools/list` all read the same served schema.
//!
//! A tool that reaches a very large part of an API (Microsoft Graph's entities reach thousands
//! of shapes) would be listed with all of it, so what one served schema takes is bounded: the
//! definitions are added nearest first, and past the budget a definition that is still
//! referenced is served as a permissive stand-in that keeps its type and says it was left out.
//! The result stays valid JSON Schema, never has a dangling reference, and is at most about
//! twice the budget.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::{Map, Value, json};
use toolyard_compile::schema_defs::direct_refs;

/// Most bytes of JSON of the definitions served with one input schema (as much as the compiler
/// allowed an inlined input schema before definitions were shared).
pub const INPUT_BUDGET: usize = 96_000;
/// The same for output schemas, which only describe results.
pub const OUTPUT_BUDGET: usize = 24_000;

/// One target's shared definitions, measured once per snapshot.
pub struct ServedDefs<'c> {
    defs: &'c BTreeMap<String, Value>,
    /// Name → (JSON size, names it refers to).
    facts: HashMap<&'c str, (usize, Vec<&'c str>)>,
}

impl<'c> ServedDefs<'c> {
    /// Measures a target's table.
    pub fn new(defs: &'c BTreeMap<String, Value>) -> Self {
        let facts = defs
            .iter()
            .map(|(name, schema)| {
                let size = serde_json::to_string(schema).map_or(0, |s| s.len());
                (name.as_str(), (size, direct_refs(schema)))
            })
            .collect();
        ServedDefs { defs, facts }
    }

    /// `schema` with the `$defs` it reaches (within `budget` bytes, stand-ins past it). A schema
    /// that refers to no shared definition is returned as it is; one that already has `$defs` of
    /// its own keeps them (names the table also has are not replaced).
    pub fn serve(&self, schema: Value, budget: usize) -> Value {
        if self.defs.is_empty() {
            return schema;
        }
        let included = self.reach(direct_refs(&schema).into_iter(), budget);
        if included.is_empty() {
            return schema;
        }
        let Value::Object(mut map) = schema else {
            return schema;
        };
        let mut defs = match map.remove("$defs") {
            Some(Value::Object(own)) => own,
            _ => Map::new(),
        };
        for (name, full) in included {
            if defs.contains_key(name) {
                continue;
            }
            let Some(schema) = self.defs.get(name) else {
                continue;
            };
            let value = if full {
                schema.clone()
            } else {
                stand_in(name, schema)
            };
            defs.insert(name.to_owned(), value);
        }
        if !defs.is_empty() {
            map.insert("$defs".to_owned(), Value::Object(defs));
        }
        Value::Object(map)
    }

    /// The definitions reached from `roots`, breadth first, each with whether it is served in
    /// full (`false`: a stand-in, past the budget; its references are not followed). Names the
    /// table does not have are left out (the compiler never makes such references).
    fn reach<'r>(
        &self,
        roots: impl Iterator<Item = &'r str>,
        budget: usize,
    ) -> Vec<(&'c str, bool)> {
        let mut out = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&'c str> = VecDeque::new();
        for root in roots {
            if let Some((name, _)) = self.facts.get_key_value(root)
                && seen.insert(name)
            {
                queue.push_back(name);
            }
        }
        let mut used = 0usize;
        while let Some(name) = queue.pop_front() {
            let Some((size, refs)) = self.facts.get(name) else {
                continue;
            };
            if used + size > budget {
                out.push((name, false));
                continue;
            }
            used += size;
            out.push((name, true));
            for next in refs {
                if let Some((key, _)) = self.facts.get_key_value(next)
                    && seen.insert(key)
                {
                    queue.push_back(key);
                }
            }
        }
        out
    }
}

/// A permissive definition for one left out: its type (when it has one) and a note.
fn stand_in(name: &str, schema: &Value) -> Value {
    let note = format!(
        "(a `{name}`; its schema is left out of this tool's listing for size, any value is accepted here)"
    );
    let description = match schema.get("description").and_then(Value::as_str) {
        Some(text) if !text.trim().is_empty() => format!("{} {note}", text.trim()),
        _ => note,
    };
    let mut out = json!({ "description": description });
    if let Some(kind) = schema.get("type").filter(|t| t.is_string() || t.is_array()) {
        out["type"] = kind.clone();
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::invoke::validate::Validator;

    fn table() -> BTreeMap<String, Value> {
        [
            (
                "Node",
                json!({"type": "object", "properties": {
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    "owner": {"$ref": "#/$defs/Owner"}}}),
            ),
            (
                "Owner",
                json!({"type": "object", "description": "Who.", "properties": {"name": {"type": "string"}}}),
            ),
            ("Unrelated", json!({"type": "string"})),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    #[test]
    fn a_served_schema_has_exactly_the_definitions_it_reaches() {
        let defs = table();
        let served = ServedDefs::new(&defs);
        let schema = json!({"type": "object", "properties": {"tree": {"$ref": "#/$defs/Node"}}});
        let out = served.serve(schema.clone(), INPUT_BUDGET);
        let names: Vec<&String> = out["$defs"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["Node", "Owner"]);
        assert_eq!(out["$defs"]["Node"], defs["Node"]);
        assert_eq!(out["properties"], schema["properties"]);
        // Nothing referenced: served as it is, no `$defs`.
        let plain = json!({"type": "object", "properties": {"q": {"type": "string"}}});
        assert_eq!(served.serve(plain.clone(), INPUT_BUDGET), plain);
        // A schema with its own `$defs` (an upstream MCP tool's) keeps them.
        let own = json!({"type": "object", "$defs": {"Owner": {"type": "integer"}},
                         "properties": {"o": {"$ref": "#/$defs/Owner"}}});
        assert_eq!(served.serve(own.clone(), INPUT_BUDGET), own);
    }

    #[test]
    fn past_the_budget_definitions_are_permissive_stand_ins_and_nothing_dangles() {
        let defs = table();
        let served = ServedDefs::new(&defs);
        let schema = json!({"type": "object", "properties": {"tree": {"$ref": "#/$defs/Node"}}});
        let node_size = serde_json::to_string(&defs["Node"]).unwrap().len();
        let out = served.serve(schema, node_size);
        assert_eq!(out["$defs"]["Node"], defs["Node"]);
        let owner = &out["$defs"]["Owner"];
        assert_eq!(owner["type"], "object");
        assert!(owner.get("properties").is_none());
        assert!(
            owner["description"]
                .as_str()
                .unwrap()
                .starts_with("Who. (a `Owner`")
        );
        // Zero budget: the first definition itself is a stand-in, and its references are not
        // followed.
        let out = served.serve(json!({"$ref": "#/$defs/Node"}), 0);
        let names: Vec<&String> = out["$defs"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["Node"]);
    }

    #[test]
    fn arguments_are_checked_through_shared_definitions() {
        let defs = table();
        let served = ServedDefs::new(&defs);
        let schema = json!({"type": "object", "properties": {"tree": {"$ref": "#/$defs/Node"}}});
        let Value::Object(out) = served.serve(schema, INPUT_BUDGET) else {
            panic!("not an object");
        };
        let validator = Validator::new(&out);
        let args = |v: Value| v.as_object().cloned().unwrap();
        assert!(
            validator
                .check(&args(
                    json!({"tree": {"children": [{"owner": {"name": "a"}}]}})
                ))
                .is_ok()
        );
        let invalid = validator
            .check(&args(
                json!({"tree": {"children": [{"owner": {"name": 7}}]}}),
            ))
            .unwrap_err();
        assert_eq!(invalid.path, "tree.children[0].owner.name");
    }

    /// Every `$ref` of a served schema resolves within it (self-contained).
    fn self_contained(schema: &Value) {
        let defs = schema.get("$defs").and_then(Value::as_object);
        let mut check = |name: &str| {
            assert!(
                defs.is_some_and(|d| d.contains_key(name)),
                "{name} not in $defs of {schema}"
            );
        };
        toolyard_compile::schema_defs::for_each_ref(schema, &mut check);
    }

    #[test]
    fn a_snapshot_serves_compiled_tools_with_their_definitions() {
        use toolyard_compile::gateway::{CompileContext, compile};
        use toolyard_compile::manifests::Manifests;
        let document = json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "components": {"schemas": {
                "Pet": {"type": "object", "description": "A pet of the store, long enough to be shared, not copied in place.",
                        "properties": {"id": {"type": "integer", "readOnly": true},
                                       "name": {"type": "string", "description": "The pet's name."},
                                       "friends": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}}}
            }},
            "paths": {"/pets": {"post": {
                "operationId": "addPet",
                "requestBody": {"content": {"application/json": {"schema": {
                    "type": "object", "properties": {"pet": {"$ref": "#/components/schemas/Pet"}}}}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"pet": {"$ref": "#/components/schemas/Pet"}}}}}}}
            }}}
        });
        let text = format!(
            "apiVersion: toolyard.dev/v1alpha1\nkind: Gateway\nmetadata: {{name: g}}\nspec:\n  inboundAuth: {{none: {{}}}}\n---\napiVersion: toolyard.dev/v1alpha1\nkind: GatewayTarget\nmetadata: {{name: t}}\nspec:\n  gatewayRef: {{name: g}}\n  openApi:\n    baseUrl: https://api.example.com\n    schema:\n      inline: '{}'\n",
            document.to_string().replace('\'', "''")
        );
        let mut m = Manifests::default();
        m.add_text(std::path::Path::new("t.yaml"), &text)
            .expect("parses");
        let compiled = compile(
            &m.gateways[0],
            &m.targets,
            &m.resolved_refs(),
            &CompileContext::default(),
        )
        .expect("compiles");
        let names: Vec<&String> = compiled.config.targets[0].schema_defs.keys().collect();
        assert_eq!(names, ["Pet", "Pet.response"]);
        let snapshot =
            crate::runtime::Snapshot::build(compiled.config, &m.secrets, 1, None).expect("builds");
        let found = snapshot.find("t___addPet").expect("served");
        let input = Value::Object((*found.listed.input_schema).clone());
        assert_eq!(input["properties"]["pet"], json!({"$ref": "#/$defs/Pet"}));
        let defs: Vec<&String> = input["$defs"].as_object().unwrap().keys().collect();
        assert_eq!(defs, ["Pet"]);
        self_contained(&input);
        let output = Value::Object((*found.listed.output_schema.clone().unwrap()).clone());
        let defs: Vec<&String> = output["$defs"].as_object().unwrap().keys().collect();
        assert_eq!(defs, ["Pet.response"]);
        assert!(
            output["$defs"]["Pet.response"]["properties"]
                .get("id")
                .is_some()
        );
        self_contained(&output);
        // The table itself is not kept once the tools are served.
        assert!(snapshot.config.targets[0].schema_defs.is_empty());
        // Arguments are checked through the definitions.
        let args = json!({"pet": {"name": 7}});
        let invalid = found
            .validator
            .check(args.as_object().unwrap())
            .unwrap_err();
        assert_eq!(invalid.path, "pet.name");
    }

    /// What a real compiled config costs to serve: snapshot build time and the bytes of the
    /// served tool list (run with `TOOLYARD_SERVED_CONFIG=<config.json>` written by the
    /// compiler's `config_size` test, under `/usr/bin/time -v` for the memory).
    #[test]
    #[ignore = "needs a compiled config: set TOOLYARD_SERVED_CONFIG"]
    fn served_sizes_of_a_real_config() {
        let Some(path) = std::env::var_os("TOOLYARD_SERVED_CONFIG") else {
            panic!("TOOLYARD_SERVED_CONFIG is not set");
        };
        let text = std::fs::read(path).expect("reads");
        let config: toolyard_crds::GatewayConfig = serde_json::from_slice(&text).expect("parses");
        drop(text);
        let started = std::time::Instant::now();
        let snapshot =
            crate::runtime::Snapshot::build(config, &Default::default(), 1, None).expect("builds");
        let millis = started.elapsed().as_millis();
        let bytes: usize = snapshot
            .tools
            .iter()
            .map(|t| serde_json::to_vec(t).map_or(0, |v| v.len()))
            .sum();
        println!(
            "{} tools, snapshot built in {millis} ms, tools/list {bytes} bytes ({} per tool)",
            snapshot.tools.len(),
            bytes / snapshot.tools.len().max(1)
        );
    }
}

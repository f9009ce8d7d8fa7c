//! The shared definitions of one document being compiled: every component schema a tool
//! references is converted once per direction into one table (`TargetConfig::schema_defs`),
//! and tool schemas refer to it with `{"$ref": "#/$defs/<name>"}`.
//!
//! Copying each referenced schema into every tool made configs grow with operations × shapes
//! (Microsoft Graph: 630 MB for 11,000 operations) and needed a size budget with stubs. Shared,
//! each shape costs its size once, recursion is an exact cycle of references, and nothing has
//! to be cut off.
//!
//! - **Directions.** What is sent leaves out `readOnly` properties and what is received
//!   `writeOnly` ones, so a schema that reaches either keyword (through its own references too)
//!   gets two entries, `Name` (request) and `Name.response`; any other is shared by both.
//! - **Names** come from the reference (`#/components/schemas/Pet` → `Pet`, Swagger
//!   `#/definitions/Pet` → `Pet`, other pointers → their segments joined by `.`), with
//!   characters outside `[A-Za-z0-9._-]` made `_`; a name already taken gets `_2`, `_3`, … in
//!   order of first use, which is document order, so the same document gives the same names.
//! - **Tiny schemas are inlined**: one without references whose JSON is at most
//!   [`INLINE_LIMIT`] bytes (an enum of a few values, `{"type": "string", "format": "date"}`)
//!   costs less in place than as a reference, and models read it without a lookup.
//! - **Errors** (an external or dangling reference, Swagger `type: file` inside a shape) are
//!   remembered per entry: every tool that reaches the entry is skipped with the same reason,
//!   including through cycles, which [`SharedDefs::finish`] settles once the document is done.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};
use toolyard_crds::config::CallPlan;
use toolyard_crds::target::SkippedOperation;

use super::document::Doc;
use super::schema::Direction;
use crate::SourceTools;
use crate::schema_defs::{DEFS_PREFIX, direct_refs, prune};

/// Largest JSON (bytes) of a reference-free schema that is copied in place instead of shared.
pub(super) const INLINE_LIMIT: usize = 160;
/// Longest definition name kept (characters, before a `.response` or `_2` suffix).
const MAX_NAME_CHARS: usize = 100;
/// Deepest nesting scanned when looking for references and `readOnly`/`writeOnly`.
const MAX_SCAN_DEPTH: usize = 256;

/// What a (reference, direction) became.
#[derive(Clone, Debug)]
pub(super) enum Entry {
    /// Shared under this name (converted when the queue is drained).
    Shared(String),
    /// Tiny: copied where it is referenced.
    Inline(Value),
    /// Could not be converted: the reason, for every tool that reaches it.
    Failed(String),
}

/// A shared entry waiting to be converted.
pub(super) struct Pending {
    pub reference: String,
    pub direction: Direction,
    pub name: String,
}

/// What a referenced part of the document contains by itself (its references not followed).
struct Local {
    /// It has a `readOnly: true` or `writeOnly: true`.
    direction_sensitive: bool,
    /// The `$ref`s in it.
    refs: Vec<String>,
}

/// The table being built for one document.
#[derive(Default)]
pub(super) struct SharedDefs {
    entries: HashMap<(String, Direction), Entry>,
    names: HashSet<String>,
    table: BTreeMap<String, Value>,
    /// Entries that failed, by name, with the reason.
    failed: BTreeMap<String, String>,
    queue: Vec<Pending>,
    /// Whether the schema at a reference reaches `readOnly` / `writeOnly` (memo).
    sensitive: HashMap<String, bool>,
    local: HashMap<String, Local>,
}

impl SharedDefs {
    /// The direction an entry for `reference` is kept under: `Request` for schemas both
    /// directions convert alike (one shared entry), else `direction`.
    pub fn direction_of(
        &mut self,
        doc: &Doc<'_>,
        reference: &str,
        direction: Direction,
    ) -> Direction {
        if direction == Direction::Request || !self.is_sensitive(doc, reference) {
            Direction::Request
        } else {
            Direction::Response
        }
    }

    pub fn get(&self, reference: &str, direction: Direction) -> Option<Entry> {
        self.entries
            .get(&(reference.to_owned(), direction))
            .cloned()
    }

    pub fn set(&mut self, reference: &str, direction: Direction, entry: Entry) {
        self.entries
            .insert((reference.to_owned(), direction), entry);
    }

    /// Names a new shared entry and queues it for conversion.
    pub fn assign(&mut self, reference: &str, direction: Direction) -> String {
        let mut base = base_name(reference);
        if direction == Direction::Response {
            base.push_str(".response");
        }
        let mut name = base.clone();
        let mut n = 2;
        while self.names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        self.set(reference, direction, Entry::Shared(name.clone()));
        self.queue.push(Pending {
            reference: reference.to_owned(),
            direction,
            name: name.clone(),
        });
        name
    }

    pub fn next_pending(&mut self) -> Option<Pending> {
        self.queue.pop()
    }

    pub fn store(&mut self, pending: Pending, value: Value) {
        self.table.insert(pending.name, value);
    }

    pub fn fail(&mut self, pending: Pending, reason: String) {
        self.set(
            &pending.reference,
            pending.direction,
            Entry::Failed(reason.clone()),
        );
        self.failed.insert(pending.name, reason);
    }

    /// A converted shared definition, for a compiler step that looks into a schema it got as a
    /// `{"$ref": "#/$defs/…"}` (multipart file parts).
    pub fn definition(&self, name: &str) -> Option<&Value> {
        self.table.get(name)
    }

    /// Whether the schema at `reference` has `readOnly` / `writeOnly` in it or in anything it
    /// references. A search from a schema that finds neither proves it for every schema it
    /// visited, so each part of the document is visited a few times at most.
    fn is_sensitive(&mut self, doc: &Doc<'_>, reference: &str) -> bool {
        if let Some(known) = self.sensitive.get(reference) {
            return *known;
        }
        let mut visited: HashSet<String> = HashSet::new();
        let mut stack = vec![reference.to_owned()];
        let mut found = false;
        while let Some(current) = stack.pop() {
            if !visited.insert(current.clone()) {
                continue;
            }
            match self.sensitive.get(&current) {
                Some(true) => {
                    found = true;
                    break;
                }
                Some(false) => continue,
                None => {}
            }
            let local = self.local.entry(current.clone()).or_insert_with(|| {
                let mut local = Local {
                    direction_sensitive: false,
                    refs: Vec::new(),
                };
                if let Ok(target) = doc.lookup(&current) {
                    scan(target, &mut local, 0);
                }
                local
            });
            if local.direction_sensitive {
                found = true;
                break;
            }
            stack.extend(local.refs.iter().cloned());
        }
        if found {
            self.sensitive.insert(reference.to_owned(), true);
        } else {
            for seen in visited {
                self.sensitive.insert(seen, false);
            }
        }
        found
    }

    /// Settles the table once every operation is compiled: a definition that reaches a failed
    /// one fails too (possible through cycles, where a definition was finished before the one
    /// it refers back to failed); tools whose input reaches a failed definition are skipped
    /// with its reason, output schemas that do are dropped; definitions no tool reaches are
    /// dropped. Returns the table.
    pub fn finish(self, tools: &mut SourceTools) -> BTreeMap<String, Value> {
        let mut table = self.table;
        let mut bad = self.failed;
        loop {
            let newly: Vec<(String, String)> = table
                .iter()
                .filter_map(|(name, schema)| {
                    let reason = direct_refs(schema)
                        .into_iter()
                        .find_map(|r| reason_for(r, &table, &bad))?;
                    Some((name.clone(), reason))
                })
                .collect();
            if newly.is_empty() {
                break;
            }
            for (name, reason) in newly {
                table.remove(&name);
                bad.insert(name, reason);
            }
        }
        if !bad.is_empty() {
            let mut kept = Vec::with_capacity(tools.tools.len());
            for mut tool in std::mem::take(&mut tools.tools) {
                let failed = direct_refs(&tool.input_schema)
                    .into_iter()
                    .find_map(|r| reason_for(r, &table, &bad));
                if let Some(reason) = failed {
                    let operation = match &tool.call {
                        CallPlan::Http(call) => format!("{} {}", call.method.as_str(), call.path),
                        _ => tool.name.clone(),
                    };
                    tools.skipped.push(SkippedOperation { operation, reason });
                    continue;
                }
                if tool.output_schema.as_ref().is_some_and(|output| {
                    direct_refs(output)
                        .into_iter()
                        .any(|r| reason_for(r, &table, &bad).is_some())
                }) {
                    tool.output_schema = None;
                }
                kept.push(tool);
            }
            tools.tools = kept;
        }
        prune(
            &mut table,
            tools
                .tools
                .iter()
                .flat_map(|t| std::iter::once(&t.input_schema).chain(t.output_schema.as_ref())),
        );
        table
    }
}

/// Why a reference to `name` can not be served: it failed, or it is missing from the table.
fn reason_for(
    name: &str,
    table: &BTreeMap<String, Value>,
    bad: &BTreeMap<String, String>,
) -> Option<String> {
    if let Some(reason) = bad.get(name) {
        return Some(reason.clone());
    }
    (!table.contains_key(name)).then(|| format!("schema `{name}` could not be converted"))
}

/// Collects the `$ref`s and whether `readOnly` / `writeOnly` is set anywhere in `value`.
fn scan(value: &Value, local: &mut Local, depth: usize) {
    if depth > MAX_SCAN_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("$ref", Value::String(reference)) => local.refs.push(reference.clone()),
                    ("readOnly" | "writeOnly", Value::Bool(true)) => {
                        local.direction_sensitive = true;
                    }
                    _ => scan(item, local, depth + 1),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                scan(item, local, depth + 1);
            }
        }
        _ => {}
    }
}

/// Whether `value` has no `$ref` and its JSON is at most about [`INLINE_LIMIT`] bytes: cheap to
/// tell before converting it.
pub(super) fn is_tiny(value: &Value) -> bool {
    let mut left = INLINE_LIMIT as isize;
    tiny_walk(value, &mut left) && left >= 0
}

fn tiny_walk(value: &Value, left: &mut isize) -> bool {
    *left -= 2;
    if *left < 0 {
        return false;
    }
    match value {
        Value::Object(map) => map.iter().all(|(key, item)| {
            *left -= key.len() as isize + 4;
            key != "$ref" && tiny_walk(item, left)
        }),
        Value::Array(items) => items.iter().all(|item| tiny_walk(item, left)),
        Value::String(text) => {
            *left -= text.len() as isize;
            *left >= 0
        }
        _ => {
            *left -= 4;
            *left >= 0
        }
    }
}

/// The JSON length of a converted schema, counting no further than `limit`.
pub(super) fn fits(value: &Value, limit: usize) -> bool {
    let mut left = limit as isize;
    fits_walk(value, &mut left) && left >= 0
}

fn fits_walk(value: &Value, left: &mut isize) -> bool {
    *left -= 2;
    if *left < 0 {
        return false;
    }
    match value {
        Value::Object(map) => map.iter().all(|(key, item)| {
            *left -= key.len() as isize + 4;
            fits_walk(item, left)
        }),
        Value::Array(items) => items.iter().all(|item| fits_walk(item, left)),
        other => {
            *left -= other.to_string().len() as isize;
            *left >= 0
        }
    }
}

/// A reference to a shared definition, with the target's `readOnly` / `writeOnly` beside it so
/// that the enclosing object still leaves such a property out in the direction it is hidden.
pub(super) fn reference_to(name: &str, target: &Value) -> Value {
    let mut out = Map::new();
    out.insert(
        "$ref".to_owned(),
        Value::String(format!("{DEFS_PREFIX}{name}")),
    );
    for flag in ["readOnly", "writeOnly"] {
        if target.get(flag) == Some(&Value::Bool(true)) {
            out.insert(flag.to_owned(), Value::Bool(true));
        }
    }
    Value::Object(out)
}

/// The readable part of a reference, as a definition name.
fn base_name(reference: &str) -> String {
    let fragment = reference.strip_prefix('#').unwrap_or(reference);
    let decoded = percent_encoding::percent_decode_str(fragment).decode_utf8_lossy();
    let segments: Vec<String> = decoded
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let rest: &[String] = match segments.as_slice() {
        [a, b, rest @ ..] if a == "components" && b == "schemas" && !rest.is_empty() => rest,
        [a, rest @ ..] if a == "definitions" && !rest.is_empty() => rest,
        all => all,
    };
    let joined = rest.join(".");
    let mut name: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME_CHARS)
        .collect();
    if name.is_empty() {
        name = "schema".to_owned();
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_and_valid_in_a_pointer() {
        assert_eq!(base_name("#/components/schemas/Pet"), "Pet");
        assert_eq!(
            base_name("#/definitions/io.k8s.api.core.v1.Pod"),
            "io.k8s.api.core.v1.Pod"
        );
        assert_eq!(base_name("#/components/schemas/a%20b~1c"), "a_b_c");
        assert_eq!(
            base_name("#/components/schemas/Pet/properties/owner"),
            "Pet.properties.owner"
        );
        assert_eq!(
            base_name("#/paths/~1pets/get/parameters/0/schema"),
            "paths._pets.get.parameters.0.schema"
        );
        assert_eq!(base_name("#/"), "schema");
    }

    #[test]
    fn tiny_means_small_and_without_references() {
        assert!(is_tiny(
            &serde_json::json!({"type": "string", "enum": ["a", "b"]})
        ));
        assert!(!is_tiny(
            &serde_json::json!({"$ref": "#/components/schemas/A"})
        ));
        let long = "x".repeat(INLINE_LIMIT);
        assert!(!is_tiny(
            &serde_json::json!({"type": "string", "description": long})
        ));
    }
}

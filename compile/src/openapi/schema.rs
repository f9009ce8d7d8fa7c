//! OpenAPI / Swagger Schema Objects → JSON Schema 2020-12 that refers only to the target's
//! shared definitions.
//!
//! The schema a tool states is converted in place, and so are the schemas its top-level `$ref`
//! and its top-level `allOf` parts point to (the request body's properties become arguments, and
//! the output schema must be seen to be an object). Every other local `$ref` becomes
//! `{"$ref": "#/$defs/<name>"}` into the document's shared table ([`super::defs`]), converted
//! once per direction; a tiny reference-free schema is copied in place instead. Recursion is an
//! exact cycle of references, and every produced schema is bounded by the size of the part of
//! the document it was made from. Only JSON Schema 2020-12 keywords are kept, each with a value
//! of the right kind, so that strict validators (e.g. Ajv in MCP clients) accept every schema
//! produced once the gateway adds the `$defs` it reaches.

use serde_json::{Map, Value, json};

use super::defs::{Entry, INLINE_LIMIT, fits, is_tiny, reference_to};
use super::document::Doc;

/// Deepest schema nesting produced; deeper parts become stubs.
const MAX_DEPTH: usize = 64;
/// Most `$ref`s followed in place from the top of a tool's schema (a chain of aliases, or
/// `allOf` parts that are references to `allOf`s); further ones are shared.
const MAX_INLINED_REFS: usize = 8;
/// Deepest `allOf` nesting whose parts are converted in place.
const MAX_INLINED_ALL_OF: usize = 4;
/// Longest chain of schemas that are only a `$ref` to another followed to tell whether it
/// comes back to itself.
const MAX_ALIAS_HOPS: usize = 32;

/// The reason used to skip an operation that uploads a Swagger 2.0 `type: file`.
pub(super) const FILE_REASON: &str = "file upload (Swagger 2.0 `type: file`) is not supported";

/// Whether a schema describes what is sent (read-only properties dropped) or received (write-only
/// properties dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Direction {
    Request,
    Response,
}

const TYPES: [&str; 7] = [
    "string", "number", "integer", "boolean", "array", "object", "null",
];

/// Keywords whose value is a map of name → schema.
const SCHEMA_MAPS: [&str; 3] = ["properties", "patternProperties", "dependentSchemas"];
/// Keywords whose value is a non-empty array of schemas.
const SCHEMA_ARRAYS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value is one schema.
const SCHEMA_SINGLES: [&str; 10] = [
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
/// Keywords whose value is a number.
const NUMBERS: [&str; 3] = ["minimum", "maximum", "multipleOf"];
/// Keywords whose value is a non-negative integer.
const COUNTS: [&str; 8] = [
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minContains",
    "maxContains",
];
/// Keywords whose value is a boolean.
const BOOLEANS: [&str; 4] = ["uniqueItems", "readOnly", "writeOnly", "deprecated"];
/// Keywords whose value is a string.
const STRINGS: [&str; 7] = [
    "title",
    "description",
    "format",
    "pattern",
    "contentEncoding",
    "contentMediaType",
    "$comment",
];
/// Annotations moved to the outside when a schema is wrapped for `nullable`.
const ANNOTATIONS: [&str; 6] = [
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
];

/// Converts the schemas of one document, one schema at a time.
pub(super) struct Converter<'d, 'a> {
    doc: &'d Doc<'a>,
    direction: Direction,
    /// The `$ref`s being followed in place, outermost first.
    inlining: Vec<String>,
}

impl<'d, 'a> Converter<'d, 'a> {
    pub fn new(doc: &'d Doc<'a>, direction: Direction) -> Self {
        Converter {
            doc,
            direction,
            inlining: Vec::new(),
        }
    }

    /// Converts one schema, and every shared definition it reaches that is not converted yet;
    /// an error (a reason to skip the operation) for external or dangling references and for
    /// Swagger `type: file`, here or in anything it reaches.
    pub fn convert(&mut self, schema: &Value) -> Result<Value, String> {
        let converted = self.in_place(schema, 0, 0);
        // Drained even when the schema failed: queued entries must not stay unconverted.
        let drained = drain(self.doc);
        let converted = converted?;
        drained?;
        Ok(converted)
    }

    /// A schema converted in place: its `$ref` followed (not shared) and its `allOf` parts too,
    /// down to [`MAX_INLINED_ALL_OF`] levels.
    fn in_place(&mut self, schema: &Value, depth: usize, all_of: usize) -> Result<Value, String> {
        let Value::Object(map) = schema else {
            return self.node(schema, depth);
        };
        if depth > MAX_DEPTH {
            return self.node(schema, depth);
        }
        let Some(reference) = map.get("$ref") else {
            return self.object(map, depth, Some(all_of));
        };
        let Value::String(reference) = reference else {
            return Err("a schema `$ref` is not a string".to_owned());
        };
        if self.inlining.len() >= MAX_INLINED_REFS || self.inlining.contains(reference) {
            return self.node(schema, depth);
        }
        let target = self.doc.lookup(reference)?;
        self.inlining.push(reference.clone());
        let resolved = self.in_place(target, depth + 1, all_of);
        self.inlining.pop();
        self.refine(map, resolved?, depth)
    }

    fn node(&mut self, schema: &Value, depth: usize) -> Result<Value, String> {
        let map = match schema {
            Value::Bool(_) => return Ok(schema.clone()),
            Value::Object(map) => map,
            // Not a schema at all: accept anything rather than fail the operation.
            _ => return Ok(json!({})),
        };
        if depth > MAX_DEPTH {
            return Ok(stub(schema, "nested too deeply; not expanded"));
        }
        let Some(reference) = map.get("$ref") else {
            return self.object(map, depth, None);
        };
        let Value::String(reference) = reference else {
            return Err("a schema `$ref` is not a string".to_owned());
        };
        let resolved = self.shared(reference)?;
        self.refine(map, resolved, depth)
    }

    /// Keywords beside `$ref` (OpenAPI 3.1, and common in 3.0 documents for `description`)
    /// refine the referenced schema (`resolved`); `nullable: true` beside it (not valid 3.0,
    /// but common) makes it nullable.
    fn refine(
        &mut self,
        map: &Map<String, Value>,
        mut resolved: Value,
        depth: usize,
    ) -> Result<Value, String> {
        let is_nullable = |key: &str, value: &Value| {
            matches!(key, "nullable" | "x-nullable") && value == &Value::Bool(true)
        };
        let nullable = map.iter().any(|(key, value)| is_nullable(key, value));
        let siblings: Map<String, Value> = map
            .iter()
            .filter(|(key, value)| key.as_str() != "$ref" && !is_nullable(key, value))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if !siblings.is_empty()
            && let Value::Object(overlay) = self.object(&siblings, depth, None)?
        {
            match &mut resolved {
                Value::Object(target) => {
                    for (key, value) in overlay {
                        target.insert(key, value);
                    }
                }
                Value::Bool(true) => resolved = Value::Object(overlay),
                _ => {}
            }
        }
        if nullable && let Value::Object(target) = resolved {
            return Ok(make_nullable(target));
        }
        Ok(resolved)
    }

    /// A referenced schema where it is used: a reference to its shared entry (made and queued
    /// the first time), or its conversion when it is tiny.
    fn shared(&mut self, reference: &str) -> Result<Value, String> {
        let target = self.doc.lookup(reference)?;
        let direction =
            self.doc
                .defs
                .borrow_mut()
                .direction_of(self.doc, reference, self.direction);
        let known = self.doc.defs.borrow().get(reference, direction);
        match known {
            Some(Entry::Shared(name)) => return Ok(reference_to(&name, target)),
            Some(Entry::Inline(value)) => return Ok(value),
            Some(Entry::Failed(reason)) => return Err(reason),
            None => {}
        }
        if is_tiny(target) {
            // No references inside: converted here, nothing is queued.
            match Converter::new(self.doc, direction).node(target, 0) {
                Ok(value) if fits(&value, INLINE_LIMIT) => {
                    self.doc.defs.borrow_mut().set(
                        reference,
                        direction,
                        Entry::Inline(value.clone()),
                    );
                    return Ok(value);
                }
                Ok(_) => {}
                Err(reason) => {
                    self.doc.defs.borrow_mut().set(
                        reference,
                        direction,
                        Entry::Failed(reason.clone()),
                    );
                    return Err(reason);
                }
            }
        }
        let name = self.doc.defs.borrow_mut().assign(reference, direction);
        Ok(reference_to(&name, target))
    }

    /// The body of a shared entry: `target` converted, its own references shared. A schema
    /// that is only a reference to one that comes back to it (`A: {$ref: B}`, `B: {$ref: A}`)
    /// describes nothing and accepts anything.
    fn definition(&mut self, reference: &str, target: &Value) -> Result<Value, String> {
        let mut seen = vec![reference.to_owned()];
        let mut current = target;
        for _ in 0..MAX_ALIAS_HOPS {
            let Some(Value::String(next)) = current.get("$ref") else {
                break;
            };
            if seen.contains(next) {
                return Ok(stub(target, "a reference to itself; describes nothing"));
            }
            seen.push(next.clone());
            current = self.doc.lookup(next)?;
        }
        self.node(target, 0)
    }

    /// Converts a schema object without `$ref`; with `in_place` (the `allOf` level), its
    /// `allOf` parts are converted in place.
    fn object(
        &mut self,
        map: &Map<String, Value>,
        depth: usize,
        in_place: Option<usize>,
    ) -> Result<Value, String> {
        let mut out = Map::new();
        // `required: true` on a property (a common Swagger-era mistake) lifted to the parent.
        let mut lifted_required: Vec<String> = Vec::new();
        for (key, value) in map {
            let key = key.as_str();
            if SCHEMA_MAPS.contains(&key) {
                let Value::Object(entries) = value else {
                    continue;
                };
                let mut converted = Map::new();
                for (name, schema) in entries {
                    if key == "properties" && schema.get("required") == Some(&Value::Bool(true)) {
                        lifted_required.push(name.clone());
                    }
                    converted.insert(name.clone(), self.node(schema, depth + 1)?);
                }
                out.insert(key.to_owned(), Value::Object(converted));
            } else if SCHEMA_ARRAYS.contains(&key) {
                if let Value::Array(items) = value
                    && !items.is_empty()
                {
                    let mut converted = Vec::with_capacity(items.len());
                    for item in items {
                        converted.push(match in_place {
                            Some(level) if key == "allOf" && level < MAX_INLINED_ALL_OF => {
                                self.in_place(item, depth + 1, level + 1)?
                            }
                            _ => self.node(item, depth + 1)?,
                        });
                    }
                    out.insert(key.to_owned(), Value::Array(converted));
                }
            } else if SCHEMA_SINGLES.contains(&key) {
                if value.is_object() || value.is_boolean() {
                    out.insert(key.to_owned(), self.node(value, depth + 1)?);
                }
            } else if NUMBERS.contains(&key) {
                if let Some(number) = as_number(value) {
                    out.insert(key.to_owned(), number);
                }
            } else if COUNTS.contains(&key) {
                if let Some(count) = as_count(value) {
                    out.insert(key.to_owned(), count);
                }
            } else if BOOLEANS.contains(&key) {
                if let Value::Bool(b) = value {
                    out.insert(key.to_owned(), Value::Bool(*b));
                }
            } else if STRINGS.contains(&key) {
                if let Value::String(s) = value {
                    out.insert(key.to_owned(), Value::String(s.clone()));
                }
            } else {
                match key {
                    "type" => {
                        if let Some(types) = self.types(value)? {
                            out.insert("type".to_owned(), types);
                        }
                    }
                    "items" => match value {
                        // Draft-04 tuple form.
                        Value::Array(items) if !items.is_empty() => {
                            let mut converted = Vec::with_capacity(items.len());
                            for item in items {
                                converted.push(self.node(item, depth + 1)?);
                            }
                            out.insert("prefixItems".to_owned(), Value::Array(converted));
                            if let Some(rest) = map.get("additionalItems")
                                && (rest.is_object() || rest.is_boolean())
                            {
                                out.insert("items".to_owned(), self.node(rest, depth + 1)?);
                            }
                        }
                        Value::Object(_) | Value::Bool(_) => {
                            out.insert("items".to_owned(), self.node(value, depth + 1)?);
                        }
                        _ => {}
                    },
                    "exclusiveMinimum" | "exclusiveMaximum" => {
                        // 3.1 / 2020-12 numeric form; the 3.0 boolean form is handled below.
                        if let Some(number) = as_number(value) {
                            out.insert(key.to_owned(), number);
                        }
                    }
                    "required" => {
                        if let Value::Array(names) = value {
                            let mut names: Vec<Value> =
                                names.iter().filter(|n| n.is_string()).cloned().collect();
                            dedupe(&mut names);
                            out.insert("required".to_owned(), Value::Array(names));
                        }
                    }
                    "enum" => {
                        if let Value::Array(values) = value {
                            out.insert(key.to_owned(), Value::Array(values.clone()));
                        }
                    }
                    "examples" => {
                        if let Value::Array(values) = value {
                            let values = values.iter().filter_map(|v| self.example(v)).collect();
                            out.insert(key.to_owned(), Value::Array(values));
                        }
                    }
                    "default" | "const" => {
                        out.insert(key.to_owned(), value.clone());
                    }
                    "dependentRequired" if value.is_object() => {
                        out.insert(key.to_owned(), value.clone());
                    }
                    // Not JSON Schema 2020-12 (OpenAPI-only, extensions, or meaningless once
                    // references are resolved): `nullable`, `example` are applied below;
                    // `discriminator`, `xml`, `externalDocs`, `x-*`, `$id`, `$defs`, … dropped.
                    _ => {}
                }
            }
        }

        // OpenAPI 3.0 `exclusiveMaximum: true` next to `maximum` → 2020-12 numeric form.
        for (flag, bound) in [
            ("exclusiveMaximum", "maximum"),
            ("exclusiveMinimum", "minimum"),
        ] {
            if map.get(flag) == Some(&Value::Bool(true))
                && let Some(limit) = out.remove(bound)
            {
                out.insert(flag.to_owned(), limit);
            }
        }
        if !out.contains_key("examples")
            && let Some(example) = map.get("example").and_then(|v| self.example(v))
        {
            out.insert("examples".to_owned(), Value::Array(vec![example]));
        }
        if !lifted_required.is_empty() {
            let mut required = match out.remove("required") {
                Some(Value::Array(names)) => names,
                _ => Vec::new(),
            };
            required.extend(lifted_required.into_iter().map(Value::String));
            dedupe(&mut required);
            out.insert("required".to_owned(), Value::Array(required));
        }
        self.drop_invisible_properties(&mut out);

        let nullable = map.get("nullable") == Some(&Value::Bool(true))
            || map.get("x-nullable") == Some(&Value::Bool(true));
        if nullable {
            return Ok(make_nullable(out));
        }
        Ok(Value::Object(out))
    }

    /// An example value; one that is only a `$ref` (to an Example Object, a common mistake) is
    /// replaced by that example's `value`, or dropped.
    fn example(&self, value: &Value) -> Option<Value> {
        example_value(self.doc, value)
    }

    /// `type`: a valid type name or a list of them. Swagger `file` is an error (it can not be sent
    /// as JSON); other unknown names are dropped.
    fn types(&self, value: &Value) -> Result<Option<Value>, String> {
        let names: Vec<&str> = match value {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => return Ok(None),
        };
        if names.contains(&"file") {
            return Err(FILE_REASON.to_owned());
        }
        let mut valid: Vec<Value> = names
            .into_iter()
            .filter(|name| TYPES.contains(name))
            .map(|name| Value::String(name.to_owned()))
            .collect();
        dedupe(&mut valid);
        Ok(match (value, valid.len()) {
            (_, 0) => None,
            (Value::String(_), _) => valid.pop(),
            _ => Some(Value::Array(valid)),
        })
    }

    /// Drops `readOnly` properties from what is sent and `writeOnly` ones from what is received
    /// (OpenAPI: such a property listed in `required` is required only in the other direction).
    fn drop_invisible_properties(&self, out: &mut Map<String, Value>) {
        let hidden = match self.direction {
            Direction::Request => "readOnly",
            Direction::Response => "writeOnly",
        };
        let Some(Value::Object(properties)) = out.get_mut("properties") else {
            return;
        };
        let dropped: Vec<String> = properties
            .iter()
            .filter(|(_, schema)| schema.get(hidden) == Some(&Value::Bool(true)))
            .map(|(name, _)| name.clone())
            .collect();
        if dropped.is_empty() {
            return;
        }
        for name in &dropped {
            properties.remove(name);
        }
        if let Some(Value::Array(required)) = out.get_mut("required") {
            required.retain(|name| {
                !name
                    .as_str()
                    .is_some_and(|n| dropped.iter().any(|d| d == n))
            });
        }
    }
}

/// Converts the queued shared entries (and those they queue); the first error, after all are
/// done (each failure is recorded on its entry).
fn drain(doc: &Doc<'_>) -> Result<(), String> {
    let mut first_error = None;
    loop {
        let Some(pending) = doc.defs.borrow_mut().next_pending() else {
            break;
        };
        let converted = doc.lookup(&pending.reference).and_then(|target| {
            Converter::new(doc, pending.direction).definition(&pending.reference, target)
        });
        let mut defs = doc.defs.borrow_mut();
        match converted {
            Ok(value) => defs.store(pending, value),
            Err(reason) => {
                first_error.get_or_insert_with(|| reason.clone());
                defs.fail(pending, reason);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// OpenAPI 3.0 `nullable: true` (and Swagger's `x-nullable`) as 2020-12: `null` added to `type`
/// (and to `enum`), or the schema wrapped in `anyOf: [schema, {type: null}]` when it has no type.
fn make_nullable(mut out: Map<String, Value>) -> Value {
    if let Some(Value::Array(values)) = out.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    match out.get_mut("type") {
        Some(Value::String(name)) => {
            if name != "null" {
                let name = std::mem::take(name);
                out.insert("type".to_owned(), json!([name, "null"]));
            }
            Value::Object(out)
        }
        Some(Value::Array(names)) => {
            if !names.contains(&json!("null")) {
                names.push(json!("null"));
            }
            Value::Object(out)
        }
        _ => {
            let only_annotations = out.keys().all(|key| ANNOTATIONS.contains(&key.as_str()));
            if only_annotations || out.contains_key("enum") {
                // Already accepts null.
                return Value::Object(out);
            }
            let mut wrapper = Map::new();
            for key in ANNOTATIONS {
                if let Some(value) = out.remove(key) {
                    wrapper.insert(key.to_owned(), value);
                }
            }
            wrapper.insert(
                "anyOf".to_owned(),
                json!([Value::Object(out), {"type": "null"}]),
            );
            Value::Object(wrapper)
        }
    }
}

/// An example value, with a lone `{"$ref": …}` (an Example Object reference) replaced by the
/// referenced example's `value`, or `None` when it has none.
pub(super) fn example_value(doc: &Doc<'_>, value: &Value) -> Option<Value> {
    match value {
        Value::Object(map) if map.len() == 1 => match map.get("$ref") {
            Some(Value::String(reference)) => doc
                .deref(value)
                .ok()
                .or_else(|| doc.lookup(reference).ok())
                .and_then(|example| example.get("value"))
                .cloned(),
            _ => Some(value.clone()),
        },
        _ => Some(value.clone()),
    }
}

/// A permissive stand-in for a schema that is not expanded, keeping its type and description.
fn stub(target: &Value, note: &str) -> Value {
    let mut out = Map::new();
    if let Some(kind) = target.get("type").and_then(Value::as_str)
        && TYPES.contains(&kind)
    {
        out.insert("type".to_owned(), Value::String(kind.to_owned()));
    }
    let description = match target.get("description").and_then(Value::as_str) {
        Some(text) if !text.trim().is_empty() => format!("{} ({note})", text.trim()),
        _ => format!("({note})"),
    };
    out.insert("description".to_owned(), Value::String(description));
    Value::Object(out)
}

fn as_number(value: &Value) -> Option<Value> {
    match value {
        Value::Number(_) => Some(value.clone()),
        Value::String(text) => {
            let text = text.trim();
            if let Ok(i) = text.parse::<i64>() {
                Some(Value::Number(i.into()))
            } else {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            }
        }
        _ => None,
    }
}

fn as_count(value: &Value) -> Option<Value> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 9.0e15)
                    .map(|f| f as u64)
            })
            .map(|u| Value::Number(u.into())),
        Value::String(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .map(|u| Value::Number(u.into())),
        _ => None,
    }
}

fn dedupe(values: &mut Vec<Value>) {
    let mut seen: Vec<Value> = Vec::with_capacity(values.len());
    values.retain(|value| {
        if seen.contains(value) {
            false
        } else {
            seen.push(value.clone());
            true
        }
    });
}

/// Whether a converted schema describes objects: `type: object` (alone or with `null`), or no type
/// but `properties`, or an `allOf` of such.
pub(super) fn is_object_schema(schema: &Value) -> bool {
    is_object_at(schema, 0)
}

fn is_object_at(schema: &Value, depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    match schema.get("type") {
        Some(Value::String(kind)) => kind == "object",
        Some(Value::Array(kinds)) => {
            kinds.contains(&json!("object")) && kinds.iter().all(|k| k == "object" || k == "null")
        }
        Some(_) => false,
        None => {
            schema.get("properties").is_some_and(Value::is_object)
                || schema
                    .get("allOf")
                    .and_then(Value::as_array)
                    .is_some_and(|parts| {
                        !parts.is_empty() && parts.iter().all(|p| is_object_at(p, depth + 1))
                    })
        }
    }
}

//! OpenAPI / Swagger Schema Objects → self-contained JSON Schema 2020-12.
//!
//! Every local `$ref` is inlined (MCP clients never see the document); a reference to a schema
//! that is already being expanded (recursion) becomes a stub with a note, and so does any
//! reference past the size budget, so the output is always finite and bounded. Only JSON Schema
//! 2020-12 keywords are kept, each with a value of the right kind, so that strict validators
//! (e.g. Ajv in MCP clients) accept every schema produced.

use serde_json::{Map, Value, json};

use super::document::{Doc, ref_name};

/// Deepest schema nesting produced; deeper parts become stubs.
const MAX_DEPTH: usize = 64;
/// Approximate size (bytes of JSON) of one converted input schema past which further `$ref`s
/// become stubs. Inlining a DAG of references can otherwise grow exponentially: large APIs
/// reference the same shapes from many places (Stripe's fully inlined response schemas would be
/// about 1 MB each). Every schema is listed to the model, so they should stay small.
const REQUEST_BUDGET: usize = 96_000;
/// The same for output schemas, which only describe results and are smaller still.
const RESPONSE_BUDGET: usize = 24_000;
/// Size charged per schema object besides its texts.
const NODE_WEIGHT: usize = 24;
/// Most `$ref`s expanded inside one another.
const MAX_REF_NESTING: usize = 24;

/// The reason used to skip an operation that uploads a Swagger 2.0 `type: file`.
pub(super) const FILE_REASON: &str = "file upload (Swagger 2.0 `type: file`) is not supported";

/// Whether a schema describes what is sent (read-only properties dropped) or received (write-only
/// properties dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Converts the schemas of one document. One converter per produced schema (the node budget and
/// the recursion guard are per schema).
pub(super) struct Converter<'d, 'a> {
    doc: &'d Doc<'a>,
    direction: Direction,
    /// The `$ref`s being expanded, outermost first.
    stack: Vec<String>,
    /// Approximate size produced so far.
    weight: usize,
}

impl<'d, 'a> Converter<'d, 'a> {
    pub fn new(doc: &'d Doc<'a>, direction: Direction) -> Self {
        Converter {
            doc,
            direction,
            stack: Vec::new(),
            weight: 0,
        }
    }

    /// Converts one schema; an error (a reason to skip the operation) for external or dangling
    /// references and for Swagger `type: file`.
    pub fn convert(&mut self, schema: &Value) -> Result<Value, String> {
        self.node(schema, 0)
    }

    fn node(&mut self, schema: &Value, depth: usize) -> Result<Value, String> {
        self.weight += NODE_WEIGHT;
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
            return self.object(map, depth);
        };
        let Value::String(reference) = reference else {
            return Err("a schema `$ref` is not a string".to_owned());
        };
        let mut resolved = self.expand(reference, depth)?;
        // Keywords beside `$ref` (OpenAPI 3.1, and common in 3.0 documents for `description`)
        // refine the referenced schema.
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
            && let Value::Object(overlay) = self.object(&siblings, depth)?
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
        // `$ref` with `nullable: true` beside it (not valid 3.0, but common).
        if nullable && let Value::Object(target) = resolved {
            return Ok(make_nullable(target));
        }
        Ok(resolved)
    }

    fn expand(&mut self, reference: &str, depth: usize) -> Result<Value, String> {
        let target = self.doc.lookup(reference)?;
        let name = ref_name(reference);
        if self.stack.iter().any(|seen| seen == reference) {
            return Ok(stub(
                target,
                &format!("recursive: the same shape as the enclosing `{name}`; not expanded"),
            ));
        }
        let budget = match self.direction {
            Direction::Request => REQUEST_BUDGET,
            Direction::Response => RESPONSE_BUDGET,
        };
        if self.weight > budget || self.stack.len() >= MAX_REF_NESTING {
            return Ok(stub(
                target,
                &format!("a `{name}`; not expanded (schema size limit)"),
            ));
        }
        self.stack.push(reference.to_owned());
        let converted = self.node(target, depth + 1);
        self.stack.pop();
        converted
    }

    /// Converts a schema object without `$ref`.
    fn object(&mut self, map: &Map<String, Value>, depth: usize) -> Result<Value, String> {
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
                        converted.push(self.node(item, depth + 1)?);
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
                    self.weight += s.len();
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
                            self.weight += 8 * values.len();
                            out.insert(key.to_owned(), Value::Array(values.clone()));
                        }
                    }
                    "examples" => {
                        if let Value::Array(values) = value {
                            self.weight += 8 * values.len();
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
                    // references are inlined): `nullable`, `example` are applied below;
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

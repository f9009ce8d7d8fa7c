//! Smithy shapes → JSON Schema 2020-12 for tool inputs and outputs.
//!
//! - Simple shapes map to JSON types: blobs are base64 strings, `long`/`bigInteger` integers,
//!   `document` any value, timestamps a number (epoch seconds) or a string (`date-time`,
//!   `http-date`) by their `@timestampFormat` or the binding's default.
//! - `enum` / `intEnum` shapes and the older `@enum` trait become `enum` lists; `@length`,
//!   `@range`, `@required` and `@default` the matching keywords. `@pattern` is left out: AWS
//!   patterns are Java regular expressions that other engines reject.
//! - Structures and unions are inlined where first used. A shape met again inside itself (e.g.
//!   DynamoDB's `AttributeValue`) or used a second time goes to `$defs` and is referenced, so
//!   recursion is finite and repeated shapes are written once. Depth and the number of
//!   expansions are bounded, so any model gives a finite schema.
//! - Output schemas are lenient (no `required`, enums or constraints; members may be `null`,
//!   which Smithy reads as absent): they describe what the service sends, and MCP clients
//!   validate `structuredContent` against them.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value, json};

use super::docs;
use super::model::{Member, Model, Shape};

/// Deepest nesting expanded (deeper values are left open).
const MAX_DEPTH: usize = 48;
/// Most structure/union expansions in one schema.
const MAX_EXPANSIONS: usize = 3000;

/// Whether a schema describes arguments or results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Tool input: constraints, enums and `required` kept.
    Input,
    /// Tool output: lenient.
    Output,
}

/// The timestamp format where no `@timestampFormat` says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampDefault {
    /// JSON bodies: seconds since the epoch.
    EpochSeconds,
    /// Labels and query strings: RFC 3339.
    DateTime,
    /// Headers: RFC 7231 IMF-fixdate.
    HttpDate,
}

/// Builds the schemas of one tool (one input or output root and its `$defs`).
pub struct SchemaBuilder<'m> {
    model: &'m Model,
    mode: Mode,
    json_names: bool,
    defs: Map<String, Value>,
    names: BTreeMap<&'m str, String>,
    taken_names: HashSet<String>,
    defined: HashSet<&'m str>,
    stack: Vec<&'m str>,
    referenced: HashSet<&'m str>,
    seen: HashSet<&'m str>,
    expansions: usize,
}

impl<'m> SchemaBuilder<'m> {
    /// A builder; `json_names`: property names from `@jsonName` (restJson1), else member names.
    pub fn new(model: &'m Model, mode: Mode, json_names: bool) -> Self {
        Self {
            model,
            mode,
            json_names,
            defs: Map::new(),
            names: BTreeMap::new(),
            taken_names: HashSet::new(),
            defined: HashSet::new(),
            stack: Vec::new(),
            referenced: HashSet::new(),
            seen: HashSet::new(),
            expansions: 0,
        }
    }

    /// The JSON property name of a member.
    pub fn property_name(&self, m: &Member<'m>) -> &'m str {
        if self.json_names {
            m.trait_str("smithy.api#jsonName").unwrap_or(m.name)
        } else {
            m.name
        }
    }

    /// The schema of a top-level member with the given timestamp default.
    pub fn member(&mut self, m: &Member<'m>, timestamps: TimestampDefault) -> Value {
        self.member_at(m, timestamps, 1)
    }

    /// The object schema of a structure's members (the tool's root), without `$defs`.
    pub fn structure_root(&mut self, id: &'m str) -> Value {
        match self.model.shape(id) {
            Some(shape) if matches!(shape.kind, "structure" | "union") => {
                self.stack.push(shape.id);
                let schema = self.object(shape, 0);
                self.stack.pop();
                // The root met again inside itself: its members are also a definition.
                if self.referenced.remove(shape.id) {
                    let name = self.names.get(shape.id).cloned().unwrap_or_default();
                    self.defs.insert(name, schema.clone());
                }
                schema
            }
            _ => json!({"type": "object", "properties": {}}),
        }
    }

    /// Adds the collected `$defs` to a root schema.
    pub fn finish(self, mut root: Value) -> Value {
        if !self.defs.is_empty()
            && let Value::Object(map) = &mut root
        {
            map.insert("$defs".into(), Value::Object(self.defs));
        }
        root
    }

    fn member_at(&mut self, m: &Member<'m>, timestamps: TimestampDefault, depth: usize) -> Value {
        let mut schema = self.shape_at(m.target, Some(m), timestamps, depth);
        let kind = self.model.shape(m.target).map(|s| s.kind);
        if let Value::Object(map) = &mut schema {
            if self.mode == Mode::Input {
                constraints(map, kind.unwrap_or(""), |t| m.trait_value(t));
                if let Some(default) = m.trait_value("smithy.api#default")
                    && !default.is_null()
                {
                    map.insert("default".into(), default.clone());
                }
            }
            // Smithy reads a JSON `null` member as absent, and some services (and emulators)
            // send one: outputs accept it.
            if self.mode == Mode::Output
                && let Some(Value::String(t)) = map.get("type").cloned()
            {
                map.insert("type".into(), json!([t, "null"]));
            }
            if let Some(doc) = m
                .trait_str("smithy.api#documentation")
                .and_then(|d| docs::plain_text(d, docs::MAX_PARAM_DESCRIPTION))
            {
                map.insert("description".into(), Value::String(doc));
            }
        }
        schema
    }

    fn shape_at(
        &mut self,
        id: &'m str,
        member: Option<&Member<'m>>,
        timestamps: TimestampDefault,
        depth: usize,
    ) -> Value {
        let Some(shape) = self.model.shape(id) else {
            return json!({});
        };
        let input = self.mode == Mode::Input;
        let mut schema = match shape.kind {
            "blob" => json!({"type": "string", "contentEncoding": "base64"}),
            "boolean" => json!({"type": "boolean"}),
            "string" => {
                let mut s = json!({"type": "string"});
                if input && let Some(values) = legacy_enum(shape) {
                    s["enum"] = values;
                }
                s
            }
            "enum" => {
                let mut s = json!({"type": "string"});
                if input {
                    let values: Vec<Value> = shape
                        .members()
                        .iter()
                        .map(|m| {
                            m.trait_value("smithy.api#enumValue")
                                .filter(|v| v.is_string())
                                .cloned()
                                .unwrap_or_else(|| Value::String(m.name.to_owned()))
                        })
                        .collect();
                    if !values.is_empty() {
                        s["enum"] = Value::Array(values);
                    }
                }
                s
            }
            "intEnum" => {
                let mut s = json!({"type": "integer"});
                if input {
                    let values: Vec<Value> = shape
                        .members()
                        .iter()
                        .filter_map(|m| m.trait_value("smithy.api#enumValue"))
                        .filter(|v| v.is_i64() || v.is_u64())
                        .cloned()
                        .collect();
                    if !values.is_empty() {
                        s["enum"] = Value::Array(values);
                    }
                }
                s
            }
            "byte" | "short" | "integer" | "long" | "bigInteger" => json!({"type": "integer"}),
            "float" | "double" | "bigDecimal" => json!({"type": "number"}),
            "timestamp" => {
                let format = member
                    .and_then(|m| m.trait_str("smithy.api#timestampFormat"))
                    .or_else(|| {
                        shape
                            .trait_value("smithy.api#timestampFormat")
                            .and_then(Value::as_str)
                    });
                timestamp(format, timestamps)
            }
            "document" => json!({}),
            "list" | "set" => {
                let items = match shape.member_field("member") {
                    Some(item) if depth < MAX_DEPTH => self.member_at(&item, timestamps, depth + 1),
                    _ => json!({}),
                };
                let mut s = json!({"type": "array", "items": items});
                if shape.kind == "set" || shape.has_trait("smithy.api#uniqueItems") {
                    s["uniqueItems"] = json!(true);
                }
                s
            }
            "map" => {
                let values = match shape.member_field("value") {
                    Some(value) if depth < MAX_DEPTH => {
                        self.member_at(&value, timestamps, depth + 1)
                    }
                    _ => json!({}),
                };
                json!({"type": "object", "additionalProperties": values})
            }
            "structure" | "union" => return self.aggregate(shape, depth),
            // Services, operations and resources are not values.
            _ => json!({}),
        };
        if input && let Value::Object(map) = &mut schema {
            constraints(map, shape.kind, |t| shape.trait_value(t));
        }
        schema
    }

    fn aggregate(&mut self, shape: Shape<'m>, depth: usize) -> Value {
        let id = shape.id;
        if self.defined.contains(id) {
            return self.reference(shape);
        }
        if self.stack.contains(&id) {
            self.referenced.insert(id);
            return self.reference(shape);
        }
        if depth > MAX_DEPTH || self.expansions >= MAX_EXPANSIONS {
            return json!({
                "type": "object",
                "description": "(not expanded: the schema is too deep or too large)"
            });
        }
        self.expansions += 1;
        let second_use = !self.seen.insert(id);
        if second_use {
            self.defined.insert(id);
        }
        self.stack.push(id);
        let schema = self.object(shape, depth);
        self.stack.pop();
        if second_use || self.referenced.remove(id) {
            self.defined.insert(id);
            let reference = self.reference(shape);
            let name = self.names.get(id).cloned().unwrap_or_default();
            self.defs.insert(name, schema);
            return reference;
        }
        schema
    }

    fn object(&mut self, shape: Shape<'m>, depth: usize) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for m in shape.members() {
            let name = self.property_name(&m);
            let schema = self.member_at(&m, TimestampDefault::EpochSeconds, depth + 1);
            if self.mode == Mode::Input
                && shape.kind == "structure"
                && m.has_trait("smithy.api#required")
            {
                required.push(Value::String(name.to_owned()));
            }
            properties.insert(name.to_owned(), schema);
        }
        let mut schema = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        if shape.kind == "union" && self.mode == Mode::Input {
            schema["minProperties"] = json!(1);
            schema["maxProperties"] = json!(1);
        }
        schema
    }

    /// `{"$ref": "#/$defs/<name>"}`, allocating a unique definition name for the shape.
    fn reference(&mut self, shape: Shape<'m>) -> Value {
        let name = match self.names.get(shape.id) {
            Some(name) => name.clone(),
            None => {
                let base = sanitize(shape.name());
                let mut name = base.clone();
                let mut n = 2;
                while self.taken_names.contains(&name) {
                    name = format!("{base}_{n}");
                    n += 1;
                }
                self.taken_names.insert(name.clone());
                self.names.insert(shape.id, name.clone());
                name
            }
        };
        json!({"$ref": format!("#/$defs/{name}")})
    }
}

fn timestamp(format: Option<&str>, default: TimestampDefault) -> Value {
    let format = match format {
        Some("epoch-seconds") => TimestampDefault::EpochSeconds,
        Some("date-time") => TimestampDefault::DateTime,
        Some("http-date") => TimestampDefault::HttpDate,
        _ => default,
    };
    match format {
        TimestampDefault::EpochSeconds => json!({"type": "number"}),
        TimestampDefault::DateTime => json!({"type": "string", "format": "date-time"}),
        TimestampDefault::HttpDate => json!({"type": "string"}),
    }
}

/// Values of the Smithy 1.0 `@enum` trait on a string.
fn legacy_enum(shape: Shape<'_>) -> Option<Value> {
    let values: Vec<Value> = shape
        .trait_value("smithy.api#enum")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("value").filter(|v| v.is_string()).cloned())
        .collect();
    (!values.is_empty()).then_some(Value::Array(values))
}

/// `@length` and `@range` as JSON Schema keywords for a shape of `kind`.
fn constraints<'a>(
    map: &mut Map<String, Value>,
    kind: &str,
    get: impl Fn(&str) -> Option<&'a Value>,
) {
    let bound = |v: Option<&Value>| -> Option<Value> {
        match v? {
            Value::Number(n) => Some(Value::Number(n.clone())),
            Value::String(s) => s.parse::<f64>().ok().map(|f| json!(f)),
            _ => None,
        }
    };
    if let Some(length) = get("smithy.api#length") {
        let keys = match kind {
            "string" => Some(("minLength", "maxLength")),
            "list" | "set" => Some(("minItems", "maxItems")),
            "map" => Some(("minProperties", "maxProperties")),
            _ => None,
        };
        if let Some((min_key, max_key)) = keys {
            for (key, field) in [(min_key, "min"), (max_key, "max")] {
                if let Some(v) = bound(length.get(field)).filter(|v| v.is_u64()) {
                    map.insert(key.into(), v);
                }
            }
        }
    }
    if let Some(range) = get("smithy.api#range")
        && matches!(
            kind,
            "byte"
                | "short"
                | "integer"
                | "long"
                | "float"
                | "double"
                | "bigInteger"
                | "bigDecimal"
        )
    {
        for (key, field) in [("minimum", "min"), ("maximum", "max")] {
            if let Some(v) = bound(range.get(field)) {
                map.insert(key.into(), v);
            }
        }
    }
}

fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".into()
    } else {
        cleaned
    }
}

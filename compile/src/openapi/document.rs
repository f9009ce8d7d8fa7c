//! Reading the document text (JSON or YAML) into a `serde_json::Value`, remembering the order of
//! `paths`, and resolving local `$ref`s.

use std::cell::RefCell;
use std::fmt;

use percent_encoding::percent_decode_str;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::OpenApiError;
use super::defs::SharedDefs;

/// Deepest YAML nesting converted (serde_yaml itself stops at 128).
const MAX_YAML_DEPTH: usize = 256;
/// Longest chain of `$ref` → `$ref` → … followed for non-schema objects.
const MAX_REF_HOPS: usize = 32;

/// A parsed document: the tree, and the keys of `paths` in document order (a `serde_json::Map`
/// without `preserve_order` sorts its keys).
pub(super) struct Parsed {
    pub root: Value,
    pub path_order: Vec<String>,
}

/// Parses JSON or YAML. JSON is tried first when the text starts with `{`; YAML (a superset of
/// JSON in practice) otherwise, or when the JSON parser fails on text YAML accepts.
pub(super) fn parse(text: &str) -> Result<Parsed, OpenApiError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        match serde_json::from_str::<Value>(text) {
            Ok(root) => {
                // The same text parsed once more, keeping only the keys of `paths`, in order.
                let path_order = serde_json::from_str::<PathOrder>(text)
                    .map(|order| order.0)
                    .unwrap_or_default();
                return Ok(Parsed { root, path_order });
            }
            Err(json_error) => {
                return parse_yaml(text).map_err(|_| OpenApiError::Syntax {
                    format: "JSON",
                    line: json_error.line(),
                    column: json_error.column(),
                    message: json_error.to_string(),
                });
            }
        }
    }
    parse_yaml(text)
}

fn parse_yaml(text: &str) -> Result<Parsed, OpenApiError> {
    let mut yaml: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|error| OpenApiError::Syntax {
            format: "YAML",
            line: error.location().map_or(0, |l| l.line()),
            column: error.location().map_or(0, |l| l.column()),
            message: error.to_string(),
        })?;
    // `<<: *anchor` merge keys; a document whose merges do not apply is used as written.
    let mut merged = yaml.clone();
    if merged.apply_merge().is_ok() {
        yaml = merged;
    }
    let path_order = match &yaml {
        serde_yaml::Value::Mapping(root) => match root.get("paths") {
            Some(serde_yaml::Value::Mapping(paths)) => paths.keys().filter_map(yaml_key).collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    Ok(Parsed {
        root: yaml_to_json(&yaml, 0),
        path_order,
    })
}

/// A YAML mapping key as a JSON object key: strings as they are, numbers and booleans as written
/// (`200:` is a response code), anything else unusable.
fn yaml_key(key: &serde_yaml::Value) -> Option<String> {
    match key {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Null => Some("null".to_owned()),
        serde_yaml::Value::Tagged(tagged) => yaml_key(&tagged.value),
        serde_yaml::Value::Sequence(_) | serde_yaml::Value::Mapping(_) => None,
    }
}

fn yaml_to_json(value: &serde_yaml::Value, depth: usize) -> Value {
    if depth > MAX_YAML_DEPTH {
        return Value::Null;
    }
    match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(*b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else {
                n.as_f64()
                    .and_then(Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s.clone()),
        serde_yaml::Value::Sequence(items) => Value::Array(
            items
                .iter()
                .map(|item| yaml_to_json(item, depth + 1))
                .collect(),
        ),
        serde_yaml::Value::Mapping(mapping) => {
            let mut map = Map::new();
            for (key, item) in mapping {
                if let Some(key) = yaml_key(key) {
                    map.insert(key, yaml_to_json(item, depth + 1));
                }
            }
            Value::Object(map)
        }
        serde_yaml::Value::Tagged(tagged) => yaml_to_json(&tagged.value, depth + 1),
    }
}

/// The keys of the top-level `paths` object, in document order.
struct PathOrder(Vec<String>);

impl<'de> serde::Deserialize<'de> for PathOrder {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Root;
        impl<'de> Visitor<'de> for Root {
            type Value = PathOrder;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PathOrder, A::Error> {
                let mut order = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "paths" && order.is_empty() {
                        order = map.next_value::<Keys>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(PathOrder(order))
            }
        }
        deserializer.deserialize_map(Root)
    }
}

/// The keys of an object, in order (values skipped); nothing for a non-object.
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Keys, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Keys(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Keys, E> {
                Ok(Keys(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Keys, E> {
                Ok(Keys(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Keys, E> {
                Ok(Keys(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Keys, E> {
                Ok(Keys(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<Keys, E> {
                Ok(Keys(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<Keys, E> {
                Ok(Keys(Vec::new()))
            }
        }
        deserializer.deserialize_any(KeysVisitor)
    }
}

/// The document being compiled, for `$ref` lookups, and the schema definitions its tools share.
pub(super) struct Doc<'a> {
    pub root: &'a Value,
    /// Swagger 2.0 (else OpenAPI 3.x).
    pub swagger: bool,
    /// Filled while operations are compiled (converters are made in many places and all hold a
    /// `&Doc`, hence the cell; no borrow of it is held across a conversion).
    pub defs: RefCell<SharedDefs>,
}

impl<'a> Doc<'a> {
    /// A document with an empty table of shared definitions.
    pub fn new(root: &'a Value, swagger: bool) -> Self {
        Doc {
            root,
            swagger,
            defs: RefCell::new(SharedDefs::default()),
        }
    }

    /// The target of a local `$ref` (`#/json/pointer`); an error naming the reference for external
    /// references and for pointers to nothing.
    pub fn lookup(&self, reference: &str) -> Result<&'a Value, String> {
        let Some(fragment) = reference.strip_prefix('#') else {
            return Err(format!(
                "external $ref `{reference}` is not supported (only references within the document)"
            ));
        };
        let pointer = percent_decode_str(fragment)
            .decode_utf8()
            .map_err(|_| format!("$ref `{reference}` is not valid UTF-8 once decoded"))?;
        if pointer.is_empty() {
            return Ok(self.root);
        }
        if !pointer.starts_with('/') {
            return Err(format!(
                "$ref `{reference}` is not a JSON pointer (anchors are not supported)"
            ));
        }
        self.root
            .pointer(&pointer)
            .ok_or_else(|| format!("$ref `{reference}` points to nothing in the document"))
    }

    /// Follows `$ref`s of a non-schema object (parameter, request body, response, path item) until
    /// the object itself.
    pub fn deref(&self, value: &'a Value) -> Result<&'a Value, String> {
        let mut current = value;
        for _ in 0..MAX_REF_HOPS {
            match current.get("$ref") {
                None => return Ok(current),
                Some(Value::String(reference)) => current = self.lookup(reference)?,
                Some(_) => return Err("`$ref` is not a string".to_owned()),
            }
        }
        Err("$ref chain is circular or too long".to_owned())
    }
}

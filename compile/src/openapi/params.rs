//! Parameters: declared (path item + operation), serialized (`style` / `explode`, Swagger
//! `collectionFormat`), and named as arguments.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use toolyard_crds::config::{ParamLocation, ParamStyle};

use super::document::Doc;
use super::operation::Operation;
use super::schema::{Converter, Direction, example_value};
use super::text;

/// A parameter as declared (after `$ref` resolution).
pub(super) struct Declared<'a> {
    pub name: String,
    pub location: String,
    pub value: &'a Value,
}

/// A parameter ready to become an argument.
pub(super) struct Param {
    pub name: String,
    pub location: ParamLocation,
    pub schema: Value,
    pub style: ParamStyle,
    pub explode: bool,
    pub required: bool,
    pub allow_reserved: bool,
}

/// Path-item parameters, then the operation's (which override by name + location).
pub(super) fn declared_parameters<'a>(
    doc: &Doc<'a>,
    op: &Operation<'a>,
) -> Result<Vec<Declared<'a>>, String> {
    let mut declared: Vec<Declared<'a>> = Vec::new();
    for list in [
        op.path_item.get("parameters"),
        op.operation.get("parameters"),
    ] {
        let Some(Value::Array(items)) = list else {
            continue;
        };
        for (index, item) in items.iter().enumerate() {
            let value = doc.deref(item)?;
            let name = value.get("name").and_then(Value::as_str);
            let location = value.get("in").and_then(Value::as_str);
            let (Some(name), Some(location)) = (name, location) else {
                return Err(format!("parameter #{} has no `name` or no `in`", index + 1));
            };
            let same = |d: &Declared<'a>| {
                d.location == location
                    && if location == "header" {
                        d.name.eq_ignore_ascii_case(name)
                    } else {
                        d.name == name
                    }
            };
            let parameter = Declared {
                name: name.to_owned(),
                location: location.to_owned(),
                value,
            };
            match declared.iter_mut().find(|d| same(d)) {
                Some(existing) => *existing = parameter,
                None => declared.push(parameter),
            }
        }
    }
    Ok(declared)
}

/// The `{name}`s of a path template, in order.
pub(super) fn template_variables(path: &str) -> Vec<String> {
    let mut variables = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            break;
        };
        let name = &after[..close];
        if !name.is_empty() && !variables.iter().any(|v| v == name) {
            variables.push(name.to_owned());
        }
        rest = &after[close + 1..];
    }
    variables
}

/// Longest argument name. Model APIs restrict the property names of tool inputs (Anthropic's,
/// for one, to `^[a-zA-Z0-9_.-]{1,64}$`), so arguments are named within that.
const MAX_ARG_LEN: usize = 64;

/// Whether a name is usable as an argument as it is.
pub(super) fn is_arg_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ARG_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A wire name made a usable argument name: other characters become `_` (`filter[status]` →
/// `filter_status`), cut to 64 characters.
pub(super) fn arg_name(name: &str) -> String {
    if is_arg_name(name) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    let mut out: String = if trimmed.is_empty() { "param" } else { trimmed }
        .chars()
        .take(MAX_ARG_LEN)
        .collect();
    if out.is_empty() {
        out.push_str("param");
    }
    out
}

/// `name` when free, else `fallback`, else `fallback_2`, `fallback_3`, … (within 64 characters).
pub(super) fn claim(taken: &mut BTreeSet<String>, name: &str, fallback: &str) -> String {
    if taken.insert(name.to_owned()) {
        return name.to_owned();
    }
    let mut candidate = fallback.to_owned();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        let suffix = format!("_{n}");
        let base: String = fallback
            .chars()
            .take(MAX_ARG_LEN.saturating_sub(suffix.len()))
            .collect();
        candidate = format!("{base}{suffix}");
        n += 1;
    }
    candidate
}

/// An OpenAPI 3 parameter.
pub(super) fn openapi_param(
    doc: &Doc<'_>,
    p: &Declared<'_>,
    location: ParamLocation,
) -> Result<Param, String> {
    let value = p.value;
    let mut schema = if let Some(schema) = value.get("schema") {
        Converter::new(doc, Direction::Request).convert(schema)?
    } else if let Some((media_type, media)) = value
        .get("content")
        .and_then(Value::as_object)
        .and_then(|content| content.iter().next())
    {
        // A serialized value (usually JSON) passed as a string.
        let inner = match media.get("schema") {
            Some(schema) => Converter::new(doc, Direction::Request).convert(schema)?,
            None => json!({}),
        };
        json!({"type": "string", "contentMediaType": media_type, "contentSchema": inner})
    } else {
        json!({"type": "string"})
    };
    annotate(doc, &mut schema, value);

    let (default_style, allowed): (ParamStyle, &[ParamStyle]) = match location {
        ParamLocation::Path => (
            ParamStyle::Simple,
            &[ParamStyle::Simple, ParamStyle::Label, ParamStyle::Matrix],
        ),
        ParamLocation::Query => (
            ParamStyle::Form,
            &[
                ParamStyle::Form,
                ParamStyle::SpaceDelimited,
                ParamStyle::PipeDelimited,
                ParamStyle::DeepObject,
            ],
        ),
        ParamLocation::Header => (ParamStyle::Simple, &[ParamStyle::Simple]),
        ParamLocation::Cookie => (ParamStyle::Form, &[ParamStyle::Form]),
    };
    let style = value
        .get("style")
        .and_then(Value::as_str)
        .and_then(parse_style)
        .filter(|style| allowed.contains(style))
        .unwrap_or(default_style);
    let explode = value
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == ParamStyle::Form);
    Ok(Param {
        name: p.name.clone(),
        location,
        schema,
        style,
        explode,
        required: location == ParamLocation::Path
            || value.get("required").and_then(Value::as_bool) == Some(true),
        allow_reserved: location == ParamLocation::Query
            && value.get("allowReserved").and_then(Value::as_bool) == Some(true),
    })
}

fn parse_style(style: &str) -> Option<ParamStyle> {
    Some(match style {
        "simple" => ParamStyle::Simple,
        "form" => ParamStyle::Form,
        "label" => ParamStyle::Label,
        "matrix" => ParamStyle::Matrix,
        "spaceDelimited" => ParamStyle::SpaceDelimited,
        "pipeDelimited" => ParamStyle::PipeDelimited,
        "deepObject" => ParamStyle::DeepObject,
        _ => return None,
    })
}

/// Parameter-level `description`, `deprecated` and examples onto its schema.
fn annotate(doc: &Doc<'_>, schema: &mut Value, parameter: &Value) {
    if !schema.is_object() {
        *schema = json!({});
    }
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(description) = text(parameter.get("description")) {
        map.insert("description".to_owned(), Value::String(description));
    }
    if parameter.get("deprecated") == Some(&Value::Bool(true)) {
        map.insert("deprecated".to_owned(), Value::Bool(true));
    }
    if !map.contains_key("examples") {
        let mut examples: Vec<Value> = Vec::new();
        if let Some(example) = parameter.get("example") {
            examples.extend(example_value(doc, example));
        } else if let Some(Value::Object(named)) = parameter.get("examples") {
            examples.extend(
                named
                    .values()
                    .filter_map(|e| doc.deref(e).ok()?.get("value"))
                    .cloned(),
            );
        }
        if !examples.is_empty() {
            map.insert("examples".to_owned(), Value::Array(examples));
        }
    }
}

/// Swagger 2.0 keywords of a non-body parameter that make its schema.
const SWAGGER_SCHEMA_KEYS: [&str; 17] = [
    "type",
    "format",
    "items",
    "enum",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "x-nullable",
];

/// The schema of a Swagger 2.0 non-body parameter (its keywords sit on the parameter itself).
pub(super) fn swagger_param_schema(doc: &Doc<'_>, value: &Value) -> Result<Value, String> {
    let mut raw = Map::new();
    for key in SWAGGER_SCHEMA_KEYS {
        if let Some(v) = value.get(key) {
            raw.insert(key.to_owned(), v.clone());
        }
    }
    if let Some(schema) = value.get("schema") {
        // Not valid 2.0 for non-body parameters, but seen in the wild.
        return Converter::new(doc, Direction::Request).convert(schema);
    }
    let mut schema = Converter::new(doc, Direction::Request).convert(&Value::Object(raw))?;
    annotate(doc, &mut schema, value);
    Ok(schema)
}

/// A Swagger 2.0 path, query or header parameter (`collectionFormat` → style + explode).
pub(super) fn swagger_param(
    doc: &Doc<'_>,
    p: &Declared<'_>,
    location: ParamLocation,
) -> Result<Param, String> {
    let value = p.value;
    let mut schema = swagger_param_schema(doc, value)?;
    let is_array = value.get("type").and_then(Value::as_str) == Some("array");
    let default_style = match location {
        ParamLocation::Path | ParamLocation::Header => ParamStyle::Simple,
        ParamLocation::Query | ParamLocation::Cookie => ParamStyle::Form,
    };
    let format = value
        .get("collectionFormat")
        .and_then(Value::as_str)
        .unwrap_or("csv");
    let query = location == ParamLocation::Query;
    let (style, explode) = if !is_array {
        (default_style, default_style == ParamStyle::Form)
    } else {
        match format {
            "multi" if query => (ParamStyle::Form, true),
            "ssv" if query => (ParamStyle::SpaceDelimited, false),
            "pipes" if query => (ParamStyle::PipeDelimited, false),
            "csv" | "multi" => (default_style, false),
            separator => {
                // No style joins with tabs (or these separators outside the query): the caller
                // passes the joined string itself.
                let joined_by = match separator {
                    "tsv" => "tab",
                    "ssv" => "space",
                    "pipes" => "`|`",
                    _ => "`,`",
                };
                let description = text(value.get("description"));
                let note = format!("Items joined by a {joined_by}.");
                schema = json!({
                    "type": "string",
                    "description": match description {
                        Some(d) => format!("{d} ({note})"),
                        None => note,
                    },
                });
                (default_style, false)
            }
        }
    };
    Ok(Param {
        name: p.name.clone(),
        location,
        schema,
        style,
        explode,
        required: location == ParamLocation::Path
            || value.get("required").and_then(Value::as_bool) == Some(true),
        allow_reserved: false,
    })
}

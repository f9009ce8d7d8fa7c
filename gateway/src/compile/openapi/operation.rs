//! One operation → input schema, output schema and HTTP call plan.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use toolyard_crds::config::{
    BodyBinding, BodyEncoding, BodyShape, HttpCall, ParamBinding, ParamLocation, ParamStyle,
};
use toolyard_crds::gateway::HttpMethod;

use super::document::Doc;
use super::schema::{Converter, Direction, FILE_REASON, is_object_schema};

/// Header parameters the gateway controls; they never become arguments.
const GATEWAY_HEADERS: [&str; 3] = ["accept", "content-type", "authorization"];

/// An operation of the document.
pub(super) struct Operation<'a> {
    pub method: HttpMethod,
    pub path: &'a str,
    pub path_item: &'a Value,
    pub operation: &'a Value,
}

/// What an operation compiles into.
pub(super) struct Compiled {
    pub input_schema: Value,
    pub output_schema: Option<Value>,
    pub call: HttpCall,
}

/// A parameter as declared (after `$ref` resolution).
struct Declared<'a> {
    name: String,
    location: String,
    value: &'a Value,
}

/// A parameter ready to become an argument.
struct Param {
    name: String,
    location: ParamLocation,
    schema: Value,
    style: ParamStyle,
    explode: bool,
    required: bool,
    allow_reserved: bool,
}

/// A request body ready to become arguments.
struct Body {
    media_type: String,
    encoding: BodyEncoding,
    schema: Value,
    required: bool,
    description: Option<String>,
}

/// Compiles one operation; `Err(reason)` when it can not be exposed as a tool.
pub(super) fn compile(
    doc: &Doc<'_>,
    op: &Operation<'_>,
    path_prefix: &str,
) -> Result<Compiled, String> {
    let declared = declared_parameters(doc, op)?;
    let template = template_variables(op.path);

    let mut params: Vec<Param> = Vec::new();
    let mut body_params: Vec<&Declared<'_>> = Vec::new();
    let mut form_params: Vec<&Declared<'_>> = Vec::new();
    for parameter in &declared {
        let location = match parameter.location.as_str() {
            "path" => ParamLocation::Path,
            "query" => ParamLocation::Query,
            "header" => ParamLocation::Header,
            "cookie" if !doc.swagger => ParamLocation::Cookie,
            "body" if doc.swagger => {
                body_params.push(parameter);
                continue;
            }
            "formData" if doc.swagger => {
                form_params.push(parameter);
                continue;
            }
            other => {
                return Err(format!(
                    "parameter `{}` has an unsupported location `in: {other}`",
                    parameter.name
                ));
            }
        };
        if location == ParamLocation::Header
            && GATEWAY_HEADERS.contains(&parameter.name.to_ascii_lowercase().as_str())
        {
            continue;
        }
        if location == ParamLocation::Path && !template.contains(&parameter.name) {
            // Declared but not in the path template: nothing to substitute.
            continue;
        }
        params.push(if doc.swagger {
            swagger_param(doc, parameter, location)?
        } else {
            openapi_param(doc, parameter, location)?
        });
    }
    // Template variables nobody declared (a common omission) still need a value.
    for variable in &template {
        if !params
            .iter()
            .any(|p| p.location == ParamLocation::Path && &p.name == variable)
        {
            params.push(Param {
                name: variable.clone(),
                location: ParamLocation::Path,
                schema: json!({"type": "string"}),
                style: ParamStyle::Simple,
                explode: false,
                required: true,
                allow_reserved: false,
            });
        }
    }
    // Precedence for argument names: path > query > header > cookie (stable within each).
    params.sort_by_key(|p| p.location);

    let body = if doc.swagger {
        swagger_body(doc, op, &body_params, &form_params)?
    } else {
        openapi_body(doc, op)?
    };

    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut properties = Map::new();
    let mut required: Vec<Value> = Vec::new();
    let mut bindings = Vec::with_capacity(params.len());
    for param in params {
        let prefix = match param.location {
            ParamLocation::Path => "path",
            ParamLocation::Query => "query",
            ParamLocation::Header => "header",
            ParamLocation::Cookie => "cookie",
        };
        let arg = claim(&mut taken, &param.name, &format!("{prefix}_{}", param.name));
        properties.insert(arg.clone(), param.schema);
        if param.required {
            required.push(Value::String(arg.clone()));
        }
        bindings.push(ParamBinding {
            arg,
            name: param.name,
            location: param.location,
            style: param.style,
            explode: param.explode,
            required: param.required,
            allow_reserved: param.allow_reserved,
        });
    }

    let body = body.map(|body| {
        let merged = match body.encoding {
            BodyEncoding::Text => None,
            _ => mergeable(&body.schema).filter(|(names, _)| {
                names.keys().all(|name| !taken.contains(name.as_str()))
            }),
        };
        let shape = match merged {
            Some((body_properties, body_required)) => {
                let names: Vec<String> = body_properties.keys().cloned().collect();
                for (name, schema) in body_properties {
                    taken.insert(name.clone());
                    properties.insert(name, schema);
                }
                if body.required {
                    required.extend(body_required.into_iter().map(Value::String));
                }
                BodyShape::Merged { properties: names }
            }
            None => {
                let name = claim(&mut taken, "body", "requestBody");
                let mut schema = body.schema;
                if let (Some(description), Value::Object(map)) = (body.description, &mut schema)
                    && !map.contains_key("description")
                {
                    map.insert("description".to_owned(), Value::String(description));
                }
                properties.insert(name.clone(), schema);
                if body.required {
                    required.push(Value::String(name.clone()));
                }
                BodyShape::Argument { name }
            }
        };
        BodyBinding {
            media_type: body.media_type,
            encoding: body.encoding,
            shape,
            required: body.required,
        }
    });

    let mut input_schema = Map::new();
    input_schema.insert("type".to_owned(), json!("object"));
    input_schema.insert("properties".to_owned(), Value::Object(properties));
    if !required.is_empty() {
        input_schema.insert("required".to_owned(), Value::Array(required));
    }

    let path = if op.path.starts_with('/') {
        format!("{path_prefix}{}", op.path)
    } else {
        format!("{path_prefix}/{}", op.path)
    };
    Ok(Compiled {
        input_schema: Value::Object(input_schema),
        output_schema: output_schema(doc, op),
        call: HttpCall {
            method: op.method,
            path,
            params: bindings,
            body,
        },
    })
}

/// Path-item parameters, then the operation's (which override by name + location).
fn declared_parameters<'a>(doc: &Doc<'a>, op: &Operation<'a>) -> Result<Vec<Declared<'a>>, String> {
    let mut declared: Vec<Declared<'a>> = Vec::new();
    for list in [op.path_item.get("parameters"), op.operation.get("parameters")] {
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
fn template_variables(path: &str) -> Vec<String> {
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

/// `name` when free, else `fallback`, else `fallback_2`, `fallback_3`, …
fn claim(taken: &mut BTreeSet<String>, name: &str, fallback: &str) -> String {
    if taken.insert(name.to_owned()) {
        return name.to_owned();
    }
    let mut candidate = fallback.to_owned();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{fallback}_{n}");
        n += 1;
    }
    candidate
}

/// An OpenAPI 3 parameter.
fn openapi_param(doc: &Doc<'_>, p: &Declared<'_>, location: ParamLocation) -> Result<Param, String> {
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
    annotate(&mut schema, value);

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
fn annotate(schema: &mut Value, parameter: &Value) {
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
            examples.push(example.clone());
        } else if let Some(Value::Object(named)) = parameter.get("examples") {
            examples.extend(named.values().filter_map(|e| e.get("value")).cloned());
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
fn swagger_param_schema(doc: &Doc<'_>, value: &Value) -> Result<Value, String> {
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
    annotate(&mut schema, value);
    Ok(schema)
}

/// A Swagger 2.0 path, query or header parameter (`collectionFormat` → style + explode).
fn swagger_param(doc: &Doc<'_>, p: &Declared<'_>, location: ParamLocation) -> Result<Param, String> {
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

/// How a request body media type is sent, with its preference (lower first).
fn body_kind(media_type: &str) -> Option<(u8, BodyEncoding)> {
    let essence = essence(media_type);
    Some(match essence.as_str() {
        "application/json" => (0, BodyEncoding::Json),
        e if e.ends_with("+json") || e == "text/json" || e == "application/x-json" => {
            (1, BodyEncoding::Json)
        }
        "*/*" | "application/*" => (2, BodyEncoding::Json),
        "application/x-www-form-urlencoded" => (3, BodyEncoding::Form),
        "multipart/form-data" => (4, BodyEncoding::Multipart),
        "text/plain" => (5, BodyEncoding::Text),
        e if e.starts_with("text/")
            || e.ends_with("+xml")
            || matches!(
                e,
                "application/xml" | "application/yaml" | "application/x-yaml" | "application/graphql"
            ) =>
        {
            (6, BodyEncoding::Text)
        }
        _ => return None,
    })
}

/// The media type without parameters, lower case.
fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_binary_media(media_type: &str) -> bool {
    let essence = essence(media_type);
    essence == "application/octet-stream"
        || ["image/", "audio/", "video/", "font/"]
            .iter()
            .any(|prefix| essence.starts_with(prefix))
        || ["zip", "pdf", "gzip", "tar", "binary"]
            .iter()
            .any(|word| essence.contains(word))
}

/// The preferred sendable media type among `media_types`; the reason to skip when none is.
fn choose_media<'m>(media_types: impl Iterator<Item = &'m str> + Clone) -> Result<(&'m str, BodyEncoding), String> {
    let best = media_types
        .clone()
        .filter_map(|media_type| body_kind(media_type).map(|(rank, encoding)| (rank, media_type, encoding)))
        .min_by_key(|(rank, _, _)| *rank);
    match best {
        Some((_, media_type, encoding)) => Ok((media_type, encoding)),
        None => {
            let all: Vec<&str> = media_types.collect();
            match all.iter().find(|m| is_binary_media(m)) {
                Some(binary) => Err(format!("binary request body ({binary})")),
                None => Err(format!(
                    "unsupported request body media type ({})",
                    all.join(", ")
                )),
            }
        }
    }
}

/// The media type sent for a chosen content key.
fn sent_media_type(media_type: &str) -> String {
    match essence(media_type).as_str() {
        "*/*" | "application/*" => "application/json".to_owned(),
        _ => media_type.trim().to_owned(),
    }
}

/// OpenAPI 3 `requestBody`.
fn openapi_body(doc: &Doc<'_>, op: &Operation<'_>) -> Result<Option<Body>, String> {
    let Some(request_body) = op.operation.get("requestBody") else {
        return Ok(None);
    };
    let request_body = doc.deref(request_body)?;
    let Some(content) = request_body
        .get("content")
        .and_then(Value::as_object)
        .filter(|content| !content.is_empty())
    else {
        return Ok(None);
    };
    let (media_type, encoding) = choose_media(content.keys().map(String::as_str))?;
    let media = content.get(media_type).unwrap_or(&Value::Null);
    let schema = match (encoding, media.get("schema")) {
        (BodyEncoding::Text, _) => json!({"type": "string"}),
        (_, Some(schema)) => Converter::new(doc, Direction::Request).convert(schema)?,
        (_, None) => json!({}),
    };
    if encoding == BodyEncoding::Multipart
        && let Some(part) = binary_part(&schema, media.get("encoding"))
    {
        return Err(format!(
            "binary multipart part `{part}` (file uploads are not supported)"
        ));
    }
    Ok(Some(Body {
        media_type: sent_media_type(media_type),
        encoding,
        schema,
        required: request_body.get("required").and_then(Value::as_bool) == Some(true),
        description: text(request_body.get("description")),
    }))
}

/// The first multipart part that carries binary data, if any.
fn binary_part(schema: &Value, encoding: Option<&Value>) -> Option<String> {
    let is_binary = |s: &Value| {
        matches!(
            s.get("format").and_then(Value::as_str),
            Some("binary" | "base64")
        ) || s.get("contentMediaType").is_some()
            || s.get("contentEncoding").is_some()
    };
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, property) in properties {
            if is_binary(property) || property.get("items").is_some_and(is_binary) {
                return Some(name.clone());
            }
        }
    }
    if let Some(Value::Object(parts)) = encoding {
        for (name, part) in parts {
            if let Some(content_type) = part.get("contentType").and_then(Value::as_str)
                && content_type.split(',').any(is_binary_media)
            {
                return Some(name.clone());
            }
        }
    }
    None
}

/// Swagger 2.0 `in: body` or `in: formData` parameters, sent as `consumes` says.
fn swagger_body(
    doc: &Doc<'_>,
    op: &Operation<'_>,
    body_params: &[&Declared<'_>],
    form_params: &[&Declared<'_>],
) -> Result<Option<Body>, String> {
    let consumes: Vec<&str> = op
        .operation
        .get("consumes")
        .or_else(|| doc.root.get("consumes"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !body_params.is_empty() && !form_params.is_empty() {
        return Err("both `in: body` and `in: formData` parameters".to_owned());
    }
    if let Some(parameter) = body_params.first() {
        let (media_type, encoding) = if consumes.is_empty() {
            ("application/json", BodyEncoding::Json)
        } else {
            choose_media(consumes.iter().copied())?
        };
        let schema = match (encoding, parameter.value.get("schema")) {
            (BodyEncoding::Text, _) => json!({"type": "string"}),
            (_, Some(schema)) => Converter::new(doc, Direction::Request).convert(schema)?,
            (_, None) => json!({}),
        };
        return Ok(Some(Body {
            media_type: sent_media_type(media_type),
            encoding,
            schema,
            required: parameter.value.get("required").and_then(Value::as_bool) == Some(true),
            description: text(parameter.value.get("description")),
        }));
    }
    if form_params.is_empty() {
        return Ok(None);
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    for parameter in form_params {
        if parameter.value.get("type").and_then(Value::as_str) == Some("file") {
            return Err(format!(
                "form field `{}`: {FILE_REASON}",
                parameter.name
            ));
        }
        properties.insert(
            parameter.name.clone(),
            swagger_param_schema(doc, parameter.value)?,
        );
        if parameter.value.get("required").and_then(Value::as_bool) == Some(true) {
            required.push(Value::String(parameter.name.clone()));
        }
    }
    let multipart = consumes
        .iter()
        .any(|m| essence(m) == "multipart/form-data");
    let urlencoded = consumes
        .iter()
        .any(|m| essence(m) == "application/x-www-form-urlencoded");
    let (media_type, encoding) = if multipart && !urlencoded {
        ("multipart/form-data", BodyEncoding::Multipart)
    } else {
        ("application/x-www-form-urlencoded", BodyEncoding::Form)
    };
    let is_required = !required.is_empty();
    let mut schema = Map::new();
    schema.insert("type".to_owned(), json!("object"));
    schema.insert("properties".to_owned(), Value::Object(properties));
    if is_required {
        schema.insert("required".to_owned(), Value::Array(required));
    }
    Ok(Some(Body {
        media_type: media_type.to_owned(),
        encoding,
        schema: Value::Object(schema),
        required: is_required,
        description: None,
    }))
}

/// Keywords that constrain an object beyond its properties: such a body can not be flattened
/// into the arguments without losing them.
const OBJECT_CONSTRAINTS: [&str; 12] = [
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "patternProperties",
    "dependentSchemas",
    "dependentRequired",
    "unevaluatedProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",
];

/// The properties and required names of a body whose properties can become top-level arguments:
/// an object with properties and nothing else that constrains it (an `allOf` of such objects is
/// flattened).
fn mergeable(schema: &Value) -> Option<(Map<String, Value>, Vec<String>)> {
    let object = schema.as_object()?;
    if let Some(Value::Array(parts)) = object.get("allOf")
        && !object.contains_key("properties")
    {
        let mut outer = object.clone();
        outer.remove("allOf");
        let (mut properties, mut required) = plain_object(&outer, true)?;
        for part in parts {
            let (part_properties, part_required) = plain_object(part.as_object()?, false)?;
            for (name, property) in part_properties {
                if properties.insert(name, property).is_some() {
                    return None;
                }
            }
            required.extend(part_required);
        }
        required.dedup();
        return (!properties.is_empty()).then_some((properties, required));
    }
    let (properties, required) = plain_object(object, false)?;
    (!properties.is_empty()).then_some((properties, required))
}

/// Properties and required names of an object schema with no other constraints.
fn plain_object(
    object: &Map<String, Value>,
    allow_empty: bool,
) -> Option<(Map<String, Value>, Vec<String>)> {
    match object.get("type") {
        None => {}
        Some(Value::String(kind)) if kind == "object" => {}
        _ => return None,
    }
    if OBJECT_CONSTRAINTS.iter().any(|k| object.contains_key(*k)) {
        return None;
    }
    match object.get("additionalProperties") {
        None | Some(Value::Bool(false)) => {}
        _ => return None,
    }
    let properties = match object.get("properties") {
        Some(Value::Object(properties)) => properties.clone(),
        None if allow_empty => Map::new(),
        _ => return None,
    };
    let required = object
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .filter(|name| properties.contains_key(*name))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some((properties, required))
}

/// The JSON Schema of the structured result: the first 2xx response (200 preferred) with JSON
/// content whose schema describes an object. MCP requires `type: object` at the top.
fn output_schema(doc: &Doc<'_>, op: &Operation<'_>) -> Option<Value> {
    let responses = op.operation.get("responses")?.as_object()?;
    let response = match responses.get("200") {
        Some(response) => response,
        None => responses
            .iter()
            .find(|(code, _)| code.starts_with('2'))
            .map(|(_, response)| response)?,
    };
    let response = doc.deref(response).ok()?;
    let schema = if doc.swagger {
        let produces: Vec<&str> = op
            .operation
            .get("produces")
            .or_else(|| doc.root.get("produces"))
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !produces.is_empty() && !produces.iter().any(|m| is_json(m)) {
            return None;
        }
        response.get("schema")?
    } else {
        let content = response.get("content")?.as_object()?;
        let (_, media) = content.iter().find(|(media_type, _)| is_json(media_type))?;
        media.get("schema")?
    };
    let schema = Converter::new(doc, Direction::Response).convert(schema).ok()?;
    if !is_object_schema(&schema) {
        return None;
    }
    let Value::Object(mut map) = schema else {
        return None;
    };
    map.insert("type".to_owned(), json!("object"));
    Some(Value::Object(map))
}

fn is_json(media_type: &str) -> bool {
    let essence = essence(media_type);
    essence == "application/json" || essence.ends_with("+json")
}

/// A non-empty trimmed string.
pub(super) fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

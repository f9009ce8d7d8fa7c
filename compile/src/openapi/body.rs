//! Request bodies: OpenAPI 3 `requestBody` and Swagger 2.0 `in: body` / `in: formData`, the
//! media type sent, and whether the body's properties can be merged into the arguments.

use serde_json::{Map, Value, json};
use toolyard_crds::config::BodyEncoding;

use super::document::Doc;
use super::operation::Operation;
use super::params::{Declared, swagger_param_schema};
use super::schema::{Converter, Direction};
use super::text;
use crate::schema_defs::def_name;

/// A request body ready to become arguments.
pub(super) struct Body {
    pub media_type: String,
    pub encoding: BodyEncoding,
    pub schema: Value,
    pub required: bool,
    pub description: Option<String>,
    /// The argument is base64 text of the bytes sent (binary media types).
    pub base64: bool,
    /// Multipart parts sent as files (base64 arguments).
    pub file_parts: Vec<String>,
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
        // `application/form-data` is not a registered type; documents that use it (Mastodon's)
        // mean multipart, which is what their servers read.
        "multipart/form-data" | "application/form-data" => (4, BodyEncoding::Multipart),
        "text/plain" => (5, BodyEncoding::Text),
        e if e.starts_with("text/")
            || e.ends_with("+xml")
            || matches!(
                e,
                "application/xml"
                    | "application/yaml"
                    | "application/x-yaml"
                    | "application/graphql"
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

/// How a chosen body media type is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    /// JSON, form, multipart or text, as [`BodyEncoding`] says.
    As(BodyEncoding),
    /// Raw bytes: the argument is their base64 text (images, `application/octet-stream`, …).
    Binary,
    /// Any other media type (`application/jwt`, vendor types, an empty key): the argument is
    /// the body text, sent as it is.
    Raw,
}

/// The preferred media type among `media_types`: a structured one when offered, else a binary
/// one (base64 argument), else the first (raw text argument).
fn choose_media<'m>(media_types: impl Iterator<Item = &'m str> + Clone) -> Option<(&'m str, Sent)> {
    let best = media_types
        .clone()
        .filter_map(|media_type| {
            body_kind(media_type).map(|(rank, encoding)| (rank, media_type, encoding))
        })
        .min_by_key(|(rank, _, _)| *rank);
    if let Some((_, media_type, encoding)) = best {
        return Some((media_type, Sent::As(encoding)));
    }
    let all: Vec<&'m str> = media_types.collect();
    if let Some(binary) = all.iter().find(|m| is_binary_media(m)) {
        return Some((*binary, Sent::Binary));
    }
    all.first().map(|first| (*first, Sent::Raw))
}

/// A string schema that is not `format: binary`: the body is that text.
fn is_text_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("string")
        && schema.get("format").and_then(Value::as_str) != Some("binary")
}

/// The argument schema of a body sent as bytes or raw text.
fn opaque_schema(media_type: &str, sent: Sent) -> Value {
    let media = sent_media_type(media_type);
    match sent {
        Sent::Binary => json!({
            "type": "string",
            "contentEncoding": "base64",
            "contentMediaType": media,
            "description": format!("The request body ({media}), base64-encoded."),
        }),
        _ => json!({
            "type": "string",
            "contentMediaType": media,
            "description": format!("The request body ({media}), as text."),
        }),
    }
}

/// The media type sent for a chosen content key (an empty or wildcard binary key: bytes).
fn sent_media_type(media_type: &str) -> String {
    match essence(media_type).as_str() {
        "*/*" | "application/*" => "application/json".to_owned(),
        "application/form-data" => "multipart/form-data".to_owned(),
        "" => "application/octet-stream".to_owned(),
        e if e.ends_with("/*") => "application/octet-stream".to_owned(),
        _ => media_type.trim().to_owned(),
    }
}

/// OpenAPI 3 `requestBody`.
pub(super) fn openapi_body(doc: &Doc<'_>, op: &Operation<'_>) -> Result<Option<Body>, String> {
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
    let Some((media_type, sent)) = choose_media(content.keys().map(String::as_str)) else {
        return Ok(None);
    };
    let media = content.get(media_type).unwrap_or(&Value::Null);
    let required = request_body.get("required").and_then(Value::as_bool) == Some(true);
    let description = text(request_body.get("description"));
    let encoding = match sent {
        Sent::As(encoding) => encoding,
        Sent::Binary | Sent::Raw => {
            // A binary type whose schema is text (base64 `format: byte`, a pattern) is sent as
            // that text; raw bytes (`format: binary`, or no schema) travel base64-encoded.
            let sent = match (sent, media.get("schema")) {
                (Sent::Binary, Some(schema)) if is_text_schema(schema) => Sent::Raw,
                _ => sent,
            };
            return Ok(Some(Body {
                media_type: sent_media_type(media_type),
                encoding: BodyEncoding::Text,
                schema: opaque_schema(media_type, sent),
                required,
                description,
                base64: sent == Sent::Binary,
                file_parts: Vec::new(),
            }));
        }
    };
    let mut schema = match (encoding, media.get("schema")) {
        (BodyEncoding::Text, _) => json!({"type": "string"}),
        (_, Some(schema)) => Converter::new(doc, Direction::Request).convert(schema)?,
        (_, None) => json!({}),
    };
    let file_parts = if encoding == BodyEncoding::Multipart {
        file_parts(doc, &mut schema, media.get("encoding"))
    } else {
        Vec::new()
    };
    Ok(Some(Body {
        media_type: sent_media_type(media_type),
        encoding,
        schema,
        required,
        description,
        base64: false,
        file_parts,
    }))
}

/// The multipart parts that carry files (`format: binary`/`base64`, `contentMediaType`, or a
/// binary `encoding.contentType`), their schemas made base64 strings (arrays of them: arrays of
/// base64 strings). The gateway sends each decoded, as a file part. A part given as a reference
/// to a shared definition is judged by that definition.
fn file_parts(doc: &Doc<'_>, schema: &mut Value, encoding: Option<&Value>) -> Vec<String> {
    let shared = |s: &Value| -> Value {
        def_name(s)
            .and_then(|name| doc.defs.borrow().definition(name).cloned())
            .unwrap_or_else(|| s.clone())
    };
    let is_binary = |s: &Value| {
        matches!(
            s.get("format").and_then(Value::as_str),
            Some("binary" | "base64")
        ) || s.get("contentMediaType").is_some()
            || s.get("contentEncoding").is_some()
    };
    let binary_encoding = |name: &str| {
        encoding
            .and_then(|e| e.get(name))
            .and_then(|part| part.get("contentType"))
            .and_then(Value::as_str)
            .is_some_and(|content_type| content_type.split(',').any(is_binary_media))
    };
    let file = |description: Option<&Value>| {
        let note = "A file, base64-encoded.";
        let description = match description.and_then(Value::as_str) {
            Some(d) => format!("{d} ({note})"),
            None => note.to_owned(),
        };
        json!({"type": "string", "contentEncoding": "base64", "description": description})
    };
    let mut names = Vec::new();
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            let resolved = shared(property);
            let description = property
                .get("description")
                .or_else(|| resolved.get("description"))
                .cloned();
            let items = resolved.get("items").map(shared);
            if is_binary(&resolved) || (binary_encoding(name) && items.is_none()) {
                *property = file(description.as_ref());
                names.push(name.clone());
            } else if items.as_ref().is_some_and(is_binary) {
                let mut array = json!({"type": "array", "items": file(None)});
                if let Some(d) = description {
                    array["description"] = d;
                }
                *property = array;
                names.push(name.clone());
            }
        }
    }
    names
}

/// Swagger 2.0 `in: body` or `in: formData` parameters, sent as `consumes` says.
pub(super) fn swagger_body(
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
        let (media_type, sent) = if consumes.is_empty() {
            ("application/json", Sent::As(BodyEncoding::Json))
        } else {
            choose_media(consumes.iter().copied())
                .unwrap_or(("application/json", Sent::As(BodyEncoding::Json)))
        };
        let required = parameter.value.get("required").and_then(Value::as_bool) == Some(true);
        let description = text(parameter.value.get("description"));
        let encoding = match sent {
            Sent::As(encoding) => encoding,
            Sent::Binary | Sent::Raw => {
                return Ok(Some(Body {
                    media_type: sent_media_type(media_type),
                    encoding: BodyEncoding::Text,
                    schema: opaque_schema(media_type, sent),
                    required,
                    description,
                    base64: sent == Sent::Binary,
                    file_parts: Vec::new(),
                }));
            }
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
            required,
            description,
            base64: false,
            file_parts: Vec::new(),
        }));
    }
    if form_params.is_empty() {
        return Ok(None);
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut files = Vec::new();
    for parameter in form_params {
        if parameter.value.get("type").and_then(Value::as_str) == Some("file") {
            // A file upload: base64 text of the bytes, sent as a file part.
            let note = "A file, base64-encoded.";
            let description = match text(parameter.value.get("description")) {
                Some(d) => format!("{d} ({note})"),
                None => note.to_owned(),
            };
            properties.insert(
                parameter.name.clone(),
                json!({"type": "string", "contentEncoding": "base64", "description": description}),
            );
            files.push(parameter.name.clone());
        } else {
            properties.insert(
                parameter.name.clone(),
                swagger_param_schema(doc, parameter.value)?,
            );
        }
        if parameter.value.get("required").and_then(Value::as_bool) == Some(true) {
            required.push(Value::String(parameter.name.clone()));
        }
    }
    let multipart = consumes.iter().any(|m| essence(m) == "multipart/form-data");
    let urlencoded = consumes
        .iter()
        .any(|m| essence(m) == "application/x-www-form-urlencoded");
    // Files can only go in multipart.
    let (media_type, encoding) = if (multipart && !urlencoded) || !files.is_empty() {
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
        base64: false,
        file_parts: files,
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
///
/// A required name the document does not describe (Mastodon's account sign-up requires a
/// `token` it never lists) is still an argument, of any JSON value, unless the object forbids
/// undescribed properties: dropping it would make every call fail at the API.
pub(super) fn mergeable(schema: &Value) -> Option<(Map<String, Value>, Vec<String>)> {
    let object = schema.as_object()?;
    let (mut properties, mut required, closed) = if let Some(Value::Array(parts)) =
        object.get("allOf")
        && !object.contains_key("properties")
    {
        let mut outer = object.clone();
        outer.remove("allOf");
        let (mut properties, mut required, mut closed) = plain_object(&outer, true)?;
        for part in parts {
            let (part_properties, part_required, part_closed) =
                plain_object(part.as_object()?, false)?;
            for (name, property) in part_properties {
                if properties.insert(name, property).is_some() {
                    return None;
                }
            }
            required.extend(part_required);
            closed |= part_closed;
        }
        (properties, required, closed)
    } else {
        plain_object(object, false)?
    };
    if properties.is_empty() {
        return None;
    }
    let mut seen = std::collections::HashSet::new();
    required.retain(|name| seen.insert(name.clone()));
    required.retain(|name| {
        if properties.contains_key(name) {
            return true;
        }
        if closed {
            return false;
        }
        properties.insert(
            name.clone(),
            json!({"description": "Required by the API; its document does not describe this field."}),
        );
        true
    });
    Some((properties, required))
}

/// Properties, required names and whether undescribed properties are forbidden
/// (`additionalProperties: false`), of an object schema with no other constraints.
fn plain_object(
    object: &Map<String, Value>,
    allow_empty: bool,
) -> Option<(Map<String, Value>, Vec<String>, bool)> {
    match object.get("type") {
        None => {}
        Some(Value::String(kind)) if kind == "object" => {}
        _ => return None,
    }
    if OBJECT_CONSTRAINTS.iter().any(|k| object.contains_key(*k)) {
        return None;
    }
    let closed = match object.get("additionalProperties") {
        None => false,
        Some(Value::Bool(false)) => true,
        _ => return None,
    };
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
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some((properties, required, closed))
}

pub(super) fn is_json(media_type: &str) -> bool {
    let essence = essence(media_type);
    essence == "application/json" || essence.ends_with("+json")
}

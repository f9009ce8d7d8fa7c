//! restJson1 HTTP bindings of one operation → an [`HttpCall`] plus the tool's input schema.
//!
//! Every input member becomes one argument: `@httpLabel` (greedy `{x+}` keeps `/`),
//! `@httpQuery`, `@httpQueryParams`, `@httpHeader`, `@httpPrefixHeaders`, `@httpPayload`, or —
//! without a binding — a property of the JSON body, named by its `@jsonName`. Timestamps take
//! the binding's default format (labels and query: `date-time`, headers: `http-date`, body:
//! epoch seconds) unless `@timestampFormat` says otherwise.

use serde_json::{Map, Value, json};
use toolyard_crds::config::{
    BodyBinding, BodyEncoding, BodyShape, HttpCall, ParamBinding, ParamExpansion, ParamLocation,
    ParamStyle,
};
use toolyard_crds::gateway::HttpMethod;

use super::model::{Model, Shape};
use super::schema::{Mode, SchemaBuilder, TimestampDefault};

/// A compiled restJson1 operation.
pub struct RestOperation {
    /// The request template.
    pub call: HttpCall,
    /// JSON Schema of the arguments.
    pub input_schema: Value,
    /// JSON Schema of the response body, when it is an object.
    pub output_schema: Option<Value>,
}

/// Compiles the bindings of `operation`; `Err` is the reason to skip it.
pub fn compile(model: &Model, operation: Shape<'_>) -> Result<RestOperation, String> {
    let http = operation
        .trait_value("smithy.api#http")
        .ok_or("restJson1 operation without an @http trait")?;
    let method_text = http.get("method").and_then(Value::as_str).unwrap_or("");
    let method = method(method_text)
        .ok_or_else(|| format!("HTTP method {method_text:?} is not supported"))?;
    let uri = http
        .get("uri")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with('/'))
        .ok_or("the @http trait has no absolute uri")?;
    let (path_part, literal_query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    };
    // `{Key+}` → `{Key}` (greedy labels are marked on their binding).
    let mut greedy = Vec::new();
    let mut path = String::with_capacity(uri.len());
    for (i, segment) in path_part.split('/').enumerate() {
        if i > 0 {
            path.push('/');
        }
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(label) => {
                let name = label.strip_suffix('+').unwrap_or(label);
                if label.ends_with('+') {
                    greedy.push(name.to_owned());
                }
                path.push('{');
                path.push_str(name);
                path.push('}');
            }
            None => path.push_str(segment),
        }
    }
    if let Some(q) = literal_query.filter(|q| !q.is_empty()) {
        path.push('?');
        path.push_str(q);
    }

    let mut input = SchemaBuilder::new(model, Mode::Input, true);
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut params = Vec::new();
    let mut body_members = Vec::new();
    let mut body = None;
    let input_shape = operation.target("input").and_then(|id| model.shape(id));
    let members = input_shape.map(|s| s.members()).unwrap_or_default();
    for m in &members {
        let param = |location, style, explode, name: &str, expand| ParamBinding {
            arg: m.name.to_owned(),
            name: name.to_owned(),
            location,
            style,
            explode,
            required: m.has_trait("smithy.api#required"),
            allow_reserved: false,
            expand,
        };
        let (arg, schema) = if m.has_trait("smithy.api#httpLabel") {
            if !path.contains(&format!("{{{}}}", m.name)) {
                return Err(format!("label {} is not in the uri {uri}", m.name));
            }
            let expand = greedy
                .iter()
                .any(|g| g == m.name)
                .then_some(ParamExpansion::Greedy);
            let mut p = param(
                ParamLocation::Path,
                ParamStyle::Simple,
                false,
                m.name,
                expand,
            );
            p.required = true;
            params.push(p);
            (m.name, input.member(m, TimestampDefault::DateTime))
        } else if let Some(name) = m.trait_str("smithy.api#httpQuery") {
            params.push(param(
                ParamLocation::Query,
                ParamStyle::Form,
                true,
                name,
                None,
            ));
            (m.name, input.member(m, TimestampDefault::DateTime))
        } else if m.has_trait("smithy.api#httpQueryParams") {
            let expand = Some(ParamExpansion::QueryMap);
            params.push(param(
                ParamLocation::Query,
                ParamStyle::Form,
                true,
                m.name,
                expand,
            ));
            (m.name, input.member(m, TimestampDefault::DateTime))
        } else if let Some(name) = m.trait_str("smithy.api#httpHeader") {
            params.push(param(
                ParamLocation::Header,
                ParamStyle::Simple,
                false,
                name,
                None,
            ));
            (m.name, input.member(m, TimestampDefault::HttpDate))
        } else if let Some(prefix) = m.trait_str("smithy.api#httpPrefixHeaders") {
            let expand = Some(ParamExpansion::PrefixHeaders);
            params.push(param(
                ParamLocation::Header,
                ParamStyle::Simple,
                false,
                prefix,
                expand,
            ));
            (m.name, input.member(m, TimestampDefault::HttpDate))
        } else if m.has_trait("smithy.api#httpPayload") {
            let target = model.shape(m.target);
            let kind = target.map_or("", |t| t.kind);
            let media_type = m
                .trait_str("smithy.api#mediaType")
                .or_else(|| {
                    target
                        .and_then(|t| t.trait_value("smithy.api#mediaType"))
                        .and_then(Value::as_str)
                })
                .map(str::to_owned);
            let (media_type, encoding, base64) = match kind {
                "structure" | "union" | "document" | "list" | "map" => (
                    media_type.unwrap_or_else(|| "application/json".into()),
                    BodyEncoding::Json,
                    false,
                ),
                "string" | "enum" => (
                    media_type.unwrap_or_else(|| "text/plain".into()),
                    BodyEncoding::Text,
                    false,
                ),
                "blob" => (
                    media_type.unwrap_or_else(|| "application/octet-stream".into()),
                    BodyEncoding::Text,
                    true,
                ),
                other => return Err(format!("an @httpPayload of type {other} is not supported")),
            };
            body = Some(BodyBinding {
                media_type,
                encoding,
                shape: BodyShape::Argument {
                    name: m.name.to_owned(),
                },
                required: m.has_trait("smithy.api#required"),
                base64,
                file_parts: Vec::new(),
            });
            (m.name, input.member(m, TimestampDefault::EpochSeconds))
        } else if m.has_trait("smithy.api#hostLabel") {
            return Err("host labels (@endpoint hostPrefix) are not supported".into());
        } else {
            let name = input.property_name(m);
            body_members.push(name.to_owned());
            (name, input.member(m, TimestampDefault::EpochSeconds))
        };
        if properties.contains_key(arg) {
            return Err(format!("two members are both sent as argument {arg:?}"));
        }
        if m.has_trait("smithy.api#required") || m.has_trait("smithy.api#httpLabel") {
            required.push(Value::String(arg.to_owned()));
        }
        properties.insert(arg.to_owned(), schema);
    }
    if body.is_none() && !body_members.is_empty() {
        body = Some(BodyBinding {
            media_type: "application/json".into(),
            encoding: BodyEncoding::Json,
            shape: BodyShape::Merged {
                properties: body_members,
            },
            required: true,
            base64: false,
            file_parts: Vec::new(),
        });
    }
    let mut root = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        root["required"] = Value::Array(required);
    }
    let input_schema = input.finish(root);

    Ok(RestOperation {
        call: HttpCall {
            method,
            path,
            params,
            body,
            json_response: true,
            base_url: None,
        },
        input_schema,
        output_schema: output_schema(model, operation),
    })
}

/// The schema of the response body: the unbound output members, or an object `@httpPayload`.
fn output_schema(model: &Model, operation: Shape<'_>) -> Option<Value> {
    let output = model.shape(operation.target("output")?)?;
    let members = output.members();
    let mut builder = SchemaBuilder::new(model, Mode::Output, true);
    if let Some(payload) = members
        .iter()
        .find(|m| m.has_trait("smithy.api#httpPayload"))
    {
        let target = model.shape(payload.target)?;
        if !matches!(target.kind, "structure" | "union") {
            return None;
        }
        let root = builder.structure_root(target.id);
        return Some(builder.finish(root));
    }
    let mut properties = Map::new();
    for m in &members {
        let bound = [
            "smithy.api#httpHeader",
            "smithy.api#httpPrefixHeaders",
            "smithy.api#httpResponseCode",
        ]
        .iter()
        .any(|t| m.has_trait(t));
        if !bound {
            let schema = builder.member(m, TimestampDefault::EpochSeconds);
            properties.insert(builder.property_name(m).to_owned(), schema);
        }
    }
    if properties.is_empty() {
        return None;
    }
    let root = json!({"type": "object", "properties": properties});
    Some(builder.finish(root))
}

fn method(text: &str) -> Option<HttpMethod> {
    Some(match text.to_ascii_uppercase().as_str() {
        "GET" => HttpMethod::Get,
        "PUT" => HttpMethod::Put,
        "POST" => HttpMethod::Post,
        "DELETE" => HttpMethod::Delete,
        "PATCH" => HttpMethod::Patch,
        "HEAD" => HttpMethod::Head,
        "OPTIONS" => HttpMethod::Options,
        "TRACE" => HttpMethod::Trace,
        "QUERY" => HttpMethod::Query,
        _ => return None,
    })
}

//! One operation → input schema, output schema and HTTP call plan.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use toolyard_crds::config::{
    BodyBinding, BodyEncoding, BodyShape, HttpCall, ParamBinding, ParamLocation, ParamStyle,
};
use toolyard_crds::gateway::HttpMethod;

use super::body::{is_json, mergeable, openapi_body, swagger_body};
use super::document::Doc;
use super::params::{
    Declared, Param, arg_name, claim, declared_parameters, is_arg_name, openapi_param,
    swagger_param, template_variables,
};
use super::schema::{Converter, Direction, is_object_schema};

/// Header parameters the gateway (or its HTTP client) controls; they never become arguments. A
/// caller-set `Content-Length` that disagrees with the body would stall or break the request.
const GATEWAY_HEADERS: [&str; 8] = [
    "accept",
    "content-type",
    "authorization",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "expect",
];

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

/// Compiles one operation; `Err(reason)` when it can not be exposed as a tool.
pub(super) fn compile(
    doc: &Doc<'_>,
    op: &Operation<'_>,
    path_prefix: &str,
) -> Result<Compiled, String> {
    let declared = declared_parameters(doc, op)?;
    let (op_path, mut fixed) = split_fragment(op.path);
    let template = template_variables(op_path);

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
        if let Some(at) = fixed.iter().position(|(name, _)| name == &parameter.name) {
            if location == ParamLocation::Query {
                // The path's fragment fixes its value (`/#Action=X` and a query `Action` whose
                // enum is `[X]`): sent from the path, not asked for.
                continue;
            }
            // A header the fragment names (`/#X-Amz-Target=…`) is declared with its value:
            // the parameter carries it.
            fixed.remove(at);
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
    let mut dependent_required = Map::new();
    let mut bindings = Vec::with_capacity(params.len());
    for param in params {
        let prefix = match param.location {
            ParamLocation::Path => "path",
            ParamLocation::Query => "query",
            ParamLocation::Header => "header",
            ParamLocation::Cookie => "cookie",
        };
        let arg = claim(
            &mut taken,
            &arg_name(&param.name),
            &arg_name(&format!("{prefix}_{}", param.name)),
        );
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
            expand: None,
        });
    }

    let body = body.map(|body| {
        let merged = match body.encoding {
            BodyEncoding::Text => None,
            _ => mergeable(&body.schema).filter(|(names, _)| {
                names
                    .keys()
                    .all(|name| is_arg_name(name) && !taken.contains(name.as_str()))
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
                } else if !body_required.is_empty() {
                    // An optional body with required fields: "if you send it, these are
                    // required". Each body argument, when given, requires the body's required
                    // ones (JSON Schema `dependentRequired`, which the gateway also checks).
                    for name in &names {
                        let others: Vec<Value> = body_required
                            .iter()
                            .filter(|r| *r != name)
                            .map(|r| Value::String(r.clone()))
                            .collect();
                        if !others.is_empty() {
                            dependent_required.insert(name.clone(), Value::Array(others));
                        }
                    }
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
            base64: body.base64,
            file_parts: body.file_parts,
        }
    });

    let mut input_schema = Map::new();
    input_schema.insert("type".to_owned(), json!("object"));
    input_schema.insert("properties".to_owned(), Value::Object(properties));
    if !required.is_empty() {
        input_schema.insert("required".to_owned(), Value::Array(required));
    }
    if !dependent_required.is_empty() {
        input_schema.insert(
            "dependentRequired".to_owned(),
            Value::Object(dependent_required),
        );
    }

    let mut path = if op_path.starts_with('/') {
        format!("{path_prefix}{op_path}")
    } else {
        format!("{path_prefix}/{op_path}")
    };
    if !fixed.is_empty() {
        let pairs: Vec<String> = fixed
            .iter()
            .map(|(name, value)| match value {
                Some(value) => format!("{}={}", query_text(name), query_text(value)),
                None => query_text(name),
            })
            .collect();
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(&pairs.join("&"));
    }
    Ok(Compiled {
        input_schema: Value::Object(input_schema),
        output_schema: output_schema(doc, op),
        call: HttpCall {
            method: op.method,
            path,
            params: bindings,
            body,
            json_response: false,
            base_url: None,
        },
    })
}
/// A path key with a fragment, as AWS query-protocol documents write one operation per action
/// (`/#Action=DescribeCacheClusters`, `/#X-Amz-Target=Service.Op`: OpenAPI paths must be unique,
/// so the action goes after a `#`): the path before the `#`, and the fragment's `name=value`
/// pairs (`&`-separated). A fragment never reaches a server, so each pair becomes a fixed query
/// parameter of the call, unless a declared parameter of that name carries it.
pub(super) fn split_fragment(path: &str) -> (&str, Vec<(String, Option<String>)>) {
    let Some((before, fragment)) = path.split_once('#') else {
        return (path, Vec::new());
    };
    let pairs = fragment
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (pair.to_owned(), None),
        })
        .collect();
    (if before.is_empty() { "/" } else { before }, pairs)
}

/// A fixed query name or value, percent-encoded (RFC 3986 unreserved characters kept).
fn query_text(text: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
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
    let schema = Converter::new(doc, Direction::Response)
        .convert(schema)
        .ok()?;
    if !is_object_schema(&schema) {
        return None;
    }
    let Value::Object(mut map) = schema else {
        return None;
    };
    map.insert("type".to_owned(), json!("object"));
    Some(Value::Object(map))
}

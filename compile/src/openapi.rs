//! OpenAPI 3.0 / 3.1 and Swagger 2.0 → MCP tools.
//!
//! [`compile`] turns one document into one base URL plus one [`SourceTool`] per operation, each
//! with a JSON Schema 2020-12 `inputSchema`, an optional `outputSchema` and an HTTP call plan
//! ([`CallPlan::Http`]) that tells the gateway how arguments become the request. It is a pure
//! function over the text: no I/O, no panics, bounded work (reference depth, node budgets and
//! cycle guards), so a hostile or broken document costs at most an error.
//!
//! The document is read as an untyped `serde_json::Value` (YAML through `serde_yaml`), not a
//! typed OpenAPI model, because real-world documents break typed models in countless small ways;
//! each rule below reads what it needs and tolerates the rest.
//!
//! # Mapping rules, and why
//!
//! - **One tool per operation** (methods in the order get, put, post, delete, options, head,
//!   patch; paths in document order). The name is the `operationId` as written (the naming layer
//!   sanitizes it); without one, a readable name from method and path
//!   (`GET /users/{id}/orders` → `get_users_by_id_orders`). Names are unique per document: a
//!   repeated name gets `_2`, `_3`, … in document order, and derived names never take an
//!   `operationId` used elsewhere.
//! - **Description** is `description`, else `summary`; `title` is the `summary` when both exist.
//! - **Arguments** are one flat object, because that is what MCP clients and models handle best:
//!   path, query, header and cookie parameters keep their names in that precedence; a later one
//!   whose name is taken becomes `<in>_<name>` (`header_id`), and its binding records the
//!   argument name. Argument names are kept within `[A-Za-z0-9_.-]{1,64}`, which model APIs
//!   require of tool input properties (`filter[status]` → `filter_status`; the binding keeps the
//!   wire name). Path-item parameters apply to every operation under it, overridden by the
//!   operation's own by name + location. `Accept`, `Content-Type` and `Authorization` header
//!   parameters are the gateway's business and are left out. A path variable that is not
//!   declared is still an argument (a required string), as it must be filled in.
//! - **Request body**: an object body with properties (an `allOf` of such objects counts) whose
//!   names are all free (and usable as argument names) has its properties merged into the arguments ([`BodyShape::Merged`]);
//!   any other body is one argument `body` (`requestBody` if `body` is taken). The required
//!   fields of a merged body are required arguments when the body is; when it is optional they
//!   become `dependentRequired` (sending any body argument requires them), so "if you send it,
//!   these are required" is kept. A required field the body's schema does not describe is an
//!   argument of any value (unless the object forbids undescribed fields); the gateway sends a
//!   multipart body's objects as `application/json` parts. JSON is preferred among media types, then form, multipart,
//!   then text types, then binary ones, then anything else. Bytes can not travel in JSON
//!   arguments, so a binary body (`application/octet-stream`, images, …) is one base64 string
//!   argument sent decoded, and a binary multipart part (or Swagger `type: file` field) is a
//!   base64 argument sent as a file part; any other media type (`application/jwt`, vendor
//!   types) is one string argument sent as it is. Swagger 2.0 `in: body` and `in: formData`
//!   parameters make the body, with `consumes` choosing the media type.
//! - **Schemas** are JSON Schema 2020-12 (MCP clients never see the document). References to
//!   parameters, request bodies, responses and path items are followed; the schema an operation
//!   states (and its top-level `$ref` and `allOf` parts) is converted in place, and every other
//!   referenced schema is converted once per direction into the target's shared table
//!   (`schemaDefs`) and referred to as `{"$ref": "#/$defs/<name>"}`: large APIs reference the
//!   same shapes from thousands of operations, and copies made their configs huge. Tiny
//!   reference-free schemas are copied in place instead; recursion is an exact cycle of
//!   references. The gateway serves each tool's schema with the `$defs` it reaches, so clients
//!   get self-contained schemas (see `openapi/defs.rs` for names and directions). OpenAPI 3.0 `nullable`
//!   becomes a type array (`["string", "null"]`), boolean `exclusiveMaximum` the numeric form,
//!   `example` becomes `examples: [example]`, and every keyword that is not JSON Schema 2020-12
//!   (`discriminator`, `xml`, `externalDocs`, `x-*`, …) is dropped, so strict validators accept
//!   every schema. Read-only properties are left out of inputs, write-only ones out of outputs.
//! - **Serialization** follows OpenAPI's `style` / `explode` defaults (query and cookie: form,
//!   exploded; path and header: simple, not exploded); Swagger 2.0 `collectionFormat` maps to the
//!   equivalent style (`tsv`, which no style expresses, becomes a string the caller joins).
//! - **Output schema** comes from the first 2xx response (200 preferred) with JSON content whose
//!   schema describes an object, because MCP requires an object `outputSchema`; arrays and
//!   primitives get none.
//! - **Hints**: GET, HEAD, OPTIONS, TRACE and QUERY (OpenAPI 3.2) are read-only; DELETE is
//!   destructive; PUT and DELETE are idempotent. Other methods get no hints (MCP's defaults are the cautious ones).
//! - **Base URL**: the configured one when given, as it is (it replaces `servers`, relative
//!   ones too, and Swagger's `host` + `basePath`: the operator writes where calls go, path
//!   prefix included), else `servers[0].url` with its variables (configured values over
//!   defaults), else Swagger `scheme://host/basePath` (https when offered). A relative server
//!   URL or a host-less Swagger document without a configured URL is an error that says to set
//!   `spec.openApi.baseUrl`.
//! - **Operation servers**: an operation (or path item) whose own server is the document's or
//!   lies under it gets the extra path as a prefix; one elsewhere (an upload host, say) keeps
//!   its absolute URL as the call's own base URL, and the gateway checks its host against
//!   `allowedDomains` like any other. A relative server of its own is an RFC 3986 reference
//!   resolved against the base URL (`/v2` beside `https://h/v1` is `https://h/v2`), so with a
//!   configured base URL it goes to the configured host.
//! - **Nothing is dropped silently**: an operation that can not be exposed (external `$ref`,
//!   a server variable without a value, …) is listed in `skipped` with the reason, and the
//!   rest of the document still compiles. Only whole-document problems (not JSON/YAML, not
//!   OpenAPI, unsupported version, no base URL) are errors.

mod body;
mod defs;
mod document;
mod operation;
mod params;
mod schema;
mod servers;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use toolyard_crds::config::{CallPlan, ToolHints};
use toolyard_crds::gateway::HttpMethod;
use toolyard_crds::target::SkippedOperation;

use super::{SourceTool, SourceTools};
use document::Doc;
use operation::Operation;

#[cfg(doc)]
use toolyard_crds::config::BodyShape;

/// What to compile.
#[derive(Clone, Copy, Debug)]
pub struct OpenApiInput<'a> {
    /// The document, YAML or JSON.
    pub document: &'a str,
    /// The configured base URL (`spec.openApi.baseUrl`); replaces `servers[0]` (relative ones
    /// too) or Swagger `host` + `basePath`.
    pub base_url: Option<&'a str>,
    /// Values for the variables of `servers[0].url`, overriding their defaults.
    pub server_variables: &'a BTreeMap<String, String>,
}

/// A compiled document.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledApi {
    /// Where calls go, without a trailing slash; tool paths are appended to it.
    pub base_url: String,
    /// The tools and the skipped operations.
    pub tools: SourceTools,
}

/// Why a whole document can not be compiled. Problems of single operations are not errors: they
/// are listed in [`SourceTools::skipped`].
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// Neither valid JSON nor valid YAML.
    #[error("the document is not valid {format}: {message} (line {line}, column {column})")]
    Syntax {
        /// `JSON` or `YAML`: the syntax the text was read as.
        format: &'static str,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// 1-based column of the problem (0 when unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// Valid JSON/YAML, but not an OpenAPI or Swagger document.
    #[error("not an OpenAPI or Swagger document: {detail}")]
    NotOpenApi {
        /// What was expected.
        detail: String,
    },
    /// An OpenAPI or Swagger version this compiler does not read.
    #[error("unsupported {kind} version `{version}` (supported: OpenAPI 3.0, 3.1 and Swagger 2.0)")]
    UnsupportedVersion {
        /// `openapi` or `swagger`: the key that gave the version.
        kind: &'static str,
        /// The version found.
        version: String,
    },
    /// No base URL could be determined.
    #[error("no base URL: {detail}; set spec.openApi.baseUrl")]
    NoBaseUrl {
        /// Why the document gives none.
        detail: String,
    },
    /// A server variable without a default and without a configured value.
    #[error(
        "server variable `{name}` of `{url}` has no default; set it in spec.openApi.serverVariables"
    )]
    ServerVariable {
        /// The variable.
        name: String,
        /// The server URL template.
        url: String,
    },
    /// The configured base URL is not an absolute http(s) URL.
    #[error("spec.openApi.baseUrl `{url}` is not an absolute http(s) URL")]
    InvalidBaseUrl {
        /// The configured value.
        url: String,
    },
}

/// Methods in the order their operations are listed (`query` is OpenAPI 3.2's); `None`: not
/// supported, skipped.
const METHODS: [(&str, Option<HttpMethod>); 9] = [
    ("get", Some(HttpMethod::Get)),
    ("put", Some(HttpMethod::Put)),
    ("post", Some(HttpMethod::Post)),
    ("delete", Some(HttpMethod::Delete)),
    ("options", Some(HttpMethod::Options)),
    ("head", Some(HttpMethod::Head)),
    ("patch", Some(HttpMethod::Patch)),
    ("trace", Some(HttpMethod::Trace)),
    ("query", Some(HttpMethod::Query)),
];

/// Compiles an OpenAPI 3.0/3.1 or Swagger 2.0 document into tools.
pub fn compile(input: &OpenApiInput<'_>) -> Result<CompiledApi, OpenApiError> {
    let parsed = document::parse(input.document)?;
    let root = &parsed.root;
    let swagger = detect_version(root)?;
    let base_url = servers::base_url(root, swagger, input)?;
    let doc = Doc::new(root, swagger);

    let tools = SourceTools::default();
    let Some(paths) = root.get("paths").and_then(Value::as_object) else {
        // OpenAPI 3.1 allows a document of only webhooks or components.
        return Ok(CompiledApi { base_url, tools });
    };
    let mut tools = compile_paths(&doc, &parsed.path_order, paths, &base_url, input, tools);
    tools.schema_defs = doc.defs.into_inner().finish(&mut tools);
    Ok(CompiledApi { base_url, tools })
}

/// One tool per operation of `paths`, or a skipped entry saying why not.
fn compile_paths(
    doc: &Doc<'_>,
    path_order: &[String],
    paths: &serde_json::Map<String, Value>,
    base_url: &str,
    input: &OpenApiInput<'_>,
    mut tools: SourceTools,
) -> SourceTools {
    // Document order where known; keys missing from it (none, normally) after, sorted.
    let mut order: Vec<&str> = path_order
        .iter()
        .map(String::as_str)
        .filter(|path| paths.contains_key(*path))
        .collect();
    let listed: BTreeSet<&str> = order.iter().copied().collect();
    order.extend(
        paths
            .keys()
            .map(String::as_str)
            .filter(|path| !listed.contains(path)),
    );
    let mut seen_paths = BTreeSet::new();
    order.retain(|path| seen_paths.insert(*path));

    // Every operationId of the document, so derived names never take one.
    let reserved: BTreeSet<String> = paths
        .values()
        .filter_map(|item| doc.deref(item).ok())
        .flat_map(|item| {
            METHODS
                .iter()
                .filter_map(|(key, _)| operation_id(item.get(*key)?))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut names = BTreeSet::new();

    for path in order {
        let Some(raw_item) = paths.get(path) else {
            continue;
        };
        let item = match doc.deref(raw_item) {
            Ok(item) if item.is_object() => item,
            Ok(_) => continue,
            Err(reason) => {
                tools.skipped.push(SkippedOperation {
                    operation: path.to_owned(),
                    reason: format!("path item: {reason}"),
                });
                continue;
            }
        };
        for (key, method) in METHODS {
            let Some(operation) = item.get(key) else {
                continue;
            };
            let label = format!("{} {path}", key.to_ascii_uppercase());
            if !operation.is_object() {
                tools.skipped.push(SkippedOperation {
                    operation: label,
                    reason: "the operation is not an object".to_owned(),
                });
                continue;
            }
            let Some(method) = method else {
                tools.skipped.push(SkippedOperation {
                    operation: label,
                    reason: format!("the {} method is not supported", key.to_ascii_uppercase()),
                });
                continue;
            };
            let op = Operation {
                method,
                path,
                path_item: item,
                operation,
            };
            match compile_tool(doc, &op, base_url, input, &reserved, &mut names) {
                Ok(tool) => tools.tools.push(tool),
                Err(reason) => tools.skipped.push(SkippedOperation {
                    operation: label,
                    reason,
                }),
            }
        }
    }
    tools
}

/// `true` for Swagger 2.0, `false` for OpenAPI 3.0/3.1.
fn detect_version(root: &Value) -> Result<bool, OpenApiError> {
    let Some(map) = root.as_object() else {
        return Err(OpenApiError::NotOpenApi {
            detail: "expected a mapping with an `openapi` (3.x) or `swagger` (2.0) key at the top"
                .to_owned(),
        });
    };
    let version = |value: &Value| match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    if let Some(value) = map.get("openapi") {
        let version = version(value);
        let mut parts = version.split('.');
        let supported = parts.next() == Some("3")
            && parts
                .next()
                .and_then(|minor| minor.parse::<u32>().ok())
                .is_some_and(|minor| minor <= 2);
        return if supported {
            Ok(false)
        } else {
            Err(OpenApiError::UnsupportedVersion {
                kind: "openapi",
                version,
            })
        };
    }
    if let Some(value) = map.get("swagger") {
        let version = version(value);
        return if version == "2.0" || version == "2" {
            Ok(true)
        } else {
            Err(OpenApiError::UnsupportedVersion {
                kind: "swagger",
                version,
            })
        };
    }
    if let Some(value) = map.get("swaggerVersion") {
        return Err(OpenApiError::UnsupportedVersion {
            kind: "swagger",
            version: version(value),
        });
    }
    Err(OpenApiError::NotOpenApi {
        detail: "expected an `openapi` (3.x) or `swagger` (2.0) key at the top".to_owned(),
    })
}

fn operation_id(operation: &Value) -> Option<String> {
    text(operation.get("operationId"))
}

fn compile_tool(
    doc: &Doc<'_>,
    op: &Operation<'_>,
    base_url: &str,
    input: &OpenApiInput<'_>,
    reserved: &BTreeSet<String>,
    names: &mut BTreeSet<String>,
) -> Result<SourceTool, String> {
    let servers = op
        .operation
        .get("servers")
        .or_else(|| op.path_item.get("servers"));
    let server = match servers {
        Some(servers) if !doc.swagger => {
            servers::operation_server(servers, doc.root, base_url, input)?
        }
        _ => servers::OperationServer::Prefix(String::new()),
    };
    let (prefix, own_base) = match server {
        servers::OperationServer::Prefix(prefix) => (prefix, None),
        servers::OperationServer::Absolute(url) => (String::new(), Some(url)),
    };
    let mut compiled = operation::compile(doc, op, &prefix)?;
    compiled.call.base_url = own_base;

    let name = match operation_id(op.operation) {
        Some(id) => unique(&id, names, reserved, true),
        None => unique(&derived_name(op.method, op.path), names, reserved, false),
    };
    let summary = text(op.operation.get("summary"));
    let description = text(op.operation.get("description"));
    let (title, description) = match (summary, description) {
        (Some(summary), Some(description)) => (Some(summary), Some(description)),
        (summary, None) => (None, summary),
        (None, description) => (None, description),
    };
    Ok(SourceTool {
        name,
        title,
        description,
        input_schema: compiled.input_schema,
        output_schema: compiled.output_schema,
        annotations: hints(op.method),
        deprecated: op.operation.get("deprecated") == Some(&Value::Bool(true)),
        call: CallPlan::Http(compiled.call),
    })
}

/// `name`, or `name_2`, `name_3`, … : the first not used yet nor reserved (`name` itself may be
/// reserved when it is the operation's own `operationId`); recorded as used.
fn unique(
    name: &str,
    used: &mut BTreeSet<String>,
    reserved: &BTreeSet<String>,
    own_id: bool,
) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while used.contains(&candidate) || (reserved.contains(&candidate) && !(own_id && n == 2)) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

/// A readable name from method and path: `GET /users/{id}/orders` → `get_users_by_id_orders`.
fn derived_name(method: HttpMethod, path: &str) -> String {
    let mut parts = vec![method.as_str().to_ascii_lowercase()];
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let whole_variable =
            segment.starts_with('{') && segment.ends_with('}') && segment.matches('{').count() == 1;
        let cleaned = words(segment);
        if cleaned.is_empty() {
            continue;
        }
        if whole_variable {
            parts.push(format!("by_{cleaned}"));
        } else {
            parts.push(cleaned);
        }
    }
    if parts.len() == 1 {
        parts.push("root".to_owned());
    }
    parts.join("_")
}

/// Letters and digits kept, every other run of characters one `_`, none at the ends.
fn words(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for c in segment.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// MCP hints from the method's HTTP semantics.
fn hints(method: HttpMethod) -> Option<ToolHints> {
    let hints = ToolHints {
        read_only_hint: matches!(
            method,
            HttpMethod::Get
                | HttpMethod::Head
                | HttpMethod::Options
                | HttpMethod::Trace
                | HttpMethod::Query
        )
        .then_some(true),
        destructive_hint: (method == HttpMethod::Delete).then_some(true),
        idempotent_hint: matches!(method, HttpMethod::Put | HttpMethod::Delete).then_some(true),
    };
    (hints != ToolHints::default()).then_some(hints)
}

/// A non-empty trimmed string.
fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

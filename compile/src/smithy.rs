//! Smithy JSON AST models → tools: one per operation of the chosen service.
//!
//! - **Service**: the model's only service, or the one `spec.smithy.service` names.
//!   Operations come from the service and, recursively, its resources (lifecycle operations,
//!   `operations`, `collectionOperations`, nested resources), each once.
//! - **Protocols**: `aws.protocols#restJson1` compiles to HTTP call plans (see [`http`]);
//!   `awsJson1_0` / `awsJson1_1` to [`CallPlan::AwsJson`] (`POST /`, `X-Amz-Target:
//!   <service shape name>.<operation>`, the arguments as the JSON body). A service with only
//!   other protocols (restXml, awsQuery, ec2Query, rpcv2Cbor, …) compiles with every operation
//!   skipped and the protocol named as the reason.
//! - **Endpoint**: the configured override, else `https://<endpointPrefix>.<region>.amazonaws.com`
//!   from `aws.api#service` (falling back to the `aws.auth#sigv4` name). The SigV4 signing name
//!   comes from `aws.auth#sigv4`.
//! - **Tools**: named by the operation shape, described by its `@documentation` (HTML stripped),
//!   input and output schemas from the input and output structures (see [`schema`]);
//!   `@readonly` / `@idempotent` / DELETE become hints. Streaming members, event streams and
//!   host-prefixed endpoints are skipped with the reason.
//!
//! Any model compiles without a panic: unknown targets are open schemas, recursion goes through
//! `$defs`, and nesting and size are bounded.

mod docs;
mod http;
mod model;
mod schema;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use toolyard_crds::config::{CallPlan, Endpoint, ToolHints};
use toolyard_crds::gateway::HttpMethod;
use toolyard_crds::target::SkippedOperation;

use super::{SourceTool, SourceTools};
use model::{Model, Shape};
use schema::{Mode, SchemaBuilder};

/// Protocols this compiler turns into calls, in order of preference.
const PROTOCOLS: [(&str, Protocol); 3] = [
    ("aws.protocols#restJson1", Protocol::RestJson1),
    ("aws.protocols#awsJson1_0", Protocol::AwsJson("1.0")),
    ("aws.protocols#awsJson1_1", Protocol::AwsJson("1.1")),
];

/// Protocol traits recognised (to name them when unsupported).
const OTHER_PROTOCOLS: [&str; 5] = [
    "aws.protocols#restXml",
    "aws.protocols#awsQuery",
    "aws.protocols#ec2Query",
    "smithy.protocols#rpcv2Cbor",
    "smithy.protocols#rpcv2Json",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    RestJson1,
    AwsJson(&'static str),
}

/// What to compile.
#[derive(Clone, Copy, Debug)]
pub struct SmithyInput<'a> {
    /// The model, JSON AST text.
    pub document: &'a str,
    /// Shape id of the service (`spec.smithy.service`); needed when the model has several.
    pub service: Option<&'a str>,
    /// AWS region (`spec.smithy.region`).
    pub region: Option<&'a str>,
    /// Endpoint override (`spec.smithy.endpoint`).
    pub endpoint: Option<&'a str>,
}

/// A compiled model.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledSmithy {
    /// Where calls go.
    pub endpoint: Endpoint,
    /// The service's `aws.auth#sigv4` signing name, if it has one.
    pub signing_name: Option<String>,
    /// The service shape id.
    pub service: String,
    /// The tools and the skipped operations.
    pub tools: SourceTools,
}

/// Why a model can not be compiled at all (single operations are skipped instead).
#[derive(Debug, thiserror::Error)]
pub enum SmithyError {
    /// Not JSON.
    #[error(
        "the model is not valid JSON: {message} (line {line}, column {column}); Smithy targets take the JSON AST form"
    )]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// JSON, but not a Smithy JSON AST.
    #[error("not a Smithy JSON AST model: {detail}")]
    NotSmithy {
        /// What was expected.
        detail: String,
    },
    /// No service shape, or several and none chosen, or the chosen one is missing.
    #[error("{detail}")]
    Service {
        /// What is wrong and what to set.
        detail: String,
    },
    /// No endpoint can be derived.
    #[error("{detail}")]
    Endpoint {
        /// What is missing.
        detail: String,
    },
}

impl SmithyError {
    /// The spec field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            SmithyError::Syntax { .. } | SmithyError::NotSmithy { .. } => "spec.smithy.schema",
            SmithyError::Service { .. } => "spec.smithy.service",
            SmithyError::Endpoint { .. } => "spec.smithy.region",
        }
    }

    /// `InvalidSchema` for the document, `InvalidSpec` for settings.
    pub fn reason(&self) -> &'static str {
        match self {
            SmithyError::Syntax { .. } | SmithyError::NotSmithy { .. } => "InvalidSchema",
            _ => "InvalidSpec",
        }
    }
}

/// Compiles a Smithy model into tools.
pub fn compile(input: &SmithyInput<'_>) -> Result<CompiledSmithy, SmithyError> {
    let model = Model::parse(input.document)?;
    let service = pick_service(&model, input.service)?;
    let sigv4 = service
        .trait_value("aws.auth#sigv4")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let protocol = PROTOCOLS
        .iter()
        .find(|(id, _)| service.has_trait(id))
        .map(|(_, p)| *p);

    let url = match input.endpoint {
        Some(endpoint) => endpoint.trim_end_matches('/').to_owned(),
        None => {
            let prefix = service
                .trait_value("aws.api#service")
                .and_then(|t| t.get("endpointPrefix"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| sigv4.clone())
                .ok_or_else(|| SmithyError::Endpoint {
                    detail: format!(
                        "service {} has no aws.api#service endpointPrefix; set spec.smithy.endpoint",
                        service.id
                    ),
                })?;
            let region = input.region.ok_or_else(|| SmithyError::Endpoint {
                detail: "set spec.smithy.region (or spec.smithy.endpoint) so the endpoint can be derived".into(),
            })?;
            format!("https://{prefix}.{region}.amazonaws.com")
        }
    };
    let endpoint = match protocol {
        Some(Protocol::AwsJson(version)) => Endpoint::AwsJson {
            url,
            json_version: version.to_owned(),
            target_prefix: service.name().to_owned(),
        },
        _ => Endpoint::Http { base_url: url },
    };

    let mut tools = SourceTools::default();
    for id in operations(&model, service) {
        let Some(operation) = model.shape(id).filter(|s| s.kind == "operation") else {
            tools.skipped.push(SkippedOperation {
                operation: id.to_owned(),
                reason: "the target is not an operation shape in the model".into(),
            });
            continue;
        };
        let result = match protocol {
            None => Err(unsupported_protocol(service)),
            Some(p) => compile_operation(&model, operation, p),
        };
        match result {
            Ok(tool) => tools.tools.push(tool),
            Err(reason) => tools.skipped.push(SkippedOperation {
                operation: operation.name().to_owned(),
                reason,
            }),
        }
    }
    Ok(CompiledSmithy {
        endpoint,
        signing_name: sigv4,
        service: service.id.to_owned(),
        tools,
    })
}

fn pick_service<'m>(model: &'m Model, wanted: Option<&'m str>) -> Result<Shape<'m>, SmithyError> {
    let services = model.of_kind("service");
    let list = || {
        let names: Vec<&str> = services.iter().take(10).map(|s| s.id).collect();
        names.join(", ")
    };
    match wanted {
        Some(id) => model
            .shape(id)
            .filter(|s| s.kind == "service")
            .ok_or_else(|| SmithyError::Service {
                detail: format!("the model has no service {id}; it has: {}", list()),
            }),
        None => match services.as_slice() {
            [one] => Ok(*one),
            [] => Err(SmithyError::Service {
                detail: "the model has no service shape".into(),
            }),
            _ => Err(SmithyError::Service {
                detail: format!(
                    "the model has {} services ({}); set spec.smithy.service to one of them",
                    services.len(),
                    list()
                ),
            }),
        },
    }
}

/// Operation ids of a service and its resources, each once, in declaration order.
fn operations<'m>(model: &'m Model, service: Shape<'m>) -> Vec<&'m str> {
    let mut out = Vec::new();
    let mut seen_ops = BTreeSet::new();
    let mut seen_resources = BTreeSet::new();
    let mut pending: Vec<Shape<'m>> = vec![service];
    while let Some(container) = pending.pop() {
        let mut ids: Vec<&'m str> = Vec::new();
        for key in ["create", "put", "read", "update", "delete", "list"] {
            if let Some(id) = container.target(key) {
                ids.push(id);
            }
        }
        ids.extend(container.targets("operations"));
        ids.extend(container.targets("collectionOperations"));
        for id in ids {
            if seen_ops.insert(id) {
                out.push(id);
            }
        }
        let mut resources: Vec<Shape<'m>> = container
            .targets("resources")
            .into_iter()
            .filter(|id| seen_resources.insert(*id))
            .filter_map(|id| model.shape(id))
            .filter(|s| s.kind == "resource")
            .collect();
        resources.reverse();
        pending.extend(resources);
    }
    out
}

fn unsupported_protocol(service: Shape<'_>) -> String {
    let found: Vec<&str> = OTHER_PROTOCOLS
        .iter()
        .filter(|id| service.has_trait(id))
        .map(|id| id.rsplit_once('#').map_or(*id, |(_, n)| n))
        .collect();
    if found.is_empty() {
        "the service declares no supported protocol (restJson1, awsJson1_0, awsJson1_1)".into()
    } else {
        format!(
            "the service's protocol {} is not supported (restJson1, awsJson1_0 and awsJson1_1 are)",
            found.join(", ")
        )
    }
}

fn compile_operation(
    model: &Model,
    operation: Shape<'_>,
    protocol: Protocol,
) -> Result<SourceTool, String> {
    for (key, what) in [("input", "input"), ("output", "output")] {
        if let Some(reason) = operation
            .target(key)
            .and_then(|id| model.shape(id))
            .and_then(|s| streaming(model, s))
        {
            return Err(format!("streaming {what}: {reason}"));
        }
    }
    if operation.has_trait("smithy.api#endpoint") {
        return Err("operations with a host prefix (@endpoint) are not supported".into());
    }
    let description = operation
        .trait_value("smithy.api#documentation")
        .and_then(Value::as_str)
        .and_then(|d| docs::plain_text(d, docs::MAX_DESCRIPTION));
    let mut hints = ToolHints {
        read_only_hint: operation.has_trait("smithy.api#readonly").then_some(true),
        idempotent_hint: operation.has_trait("smithy.api#idempotent").then_some(true),
        destructive_hint: None,
    };
    let (call, input_schema, output_schema) = match protocol {
        Protocol::RestJson1 => {
            let rest = http::compile(model, operation)?;
            if rest.call.method == HttpMethod::Delete {
                hints.destructive_hint = Some(true);
            }
            (
                CallPlan::Http(rest.call),
                rest.input_schema,
                rest.output_schema,
            )
        }
        Protocol::AwsJson(_) => {
            let mut input = SchemaBuilder::new(model, Mode::Input, false);
            let root = match operation.target("input") {
                Some(id) => input.structure_root(id),
                None => json!({"type": "object", "properties": {}}),
            };
            let input_schema = input.finish(root);
            let output_schema = operation.target("output").and_then(|id| {
                let shape = model.shape(id)?;
                if shape.members().is_empty() {
                    return None;
                }
                let mut output = SchemaBuilder::new(model, Mode::Output, false);
                let root = output.structure_root(shape.id);
                Some(output.finish(root))
            });
            (
                CallPlan::AwsJson {
                    operation: operation.name().to_owned(),
                },
                input_schema,
                output_schema,
            )
        }
    };
    Ok(SourceTool {
        name: operation.name().to_owned(),
        title: None,
        description,
        input_schema,
        output_schema,
        annotations: (hints != ToolHints::default()).then_some(hints),
        deprecated: operation.has_trait("smithy.api#deprecated"),
        call,
    })
}

/// Why a structure streams, if it does: a member targeting a `@streaming` blob or union.
fn streaming(model: &Model, structure: Shape<'_>) -> Option<String> {
    structure.members().iter().find_map(|m| {
        let target = model.shape(m.target)?;
        target.has_trait("smithy.api#streaming").then(|| {
            if target.kind == "union" {
                format!("member {} is an event stream", m.name)
            } else {
                format!("member {} is a streaming blob", m.name)
            }
        })
    })
}

//! Unit tests: small inline documents, one rule at a time. Helpers here, tests by topic below.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use toolyard_crds::config::{
    BodyBinding, BodyEncoding, BodyShape, CallPlan, HttpCall, ParamBinding, ParamLocation,
    ParamStyle, ToolHints,
};
use toolyard_crds::gateway::HttpMethod;

use super::{CompiledApi, OpenApiError, OpenApiInput, compile};
use crate::SourceTool;

fn compile_with(
    document: &str,
    base_url: Option<&str>,
    variables: &[(&str, &str)],
) -> Result<CompiledApi, OpenApiError> {
    let server_variables: BTreeMap<String, String> = variables
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    compile(&OpenApiInput {
        document,
        base_url,
        server_variables: &server_variables,
    })
}

/// Compiles with a configured base URL (so documents need no `servers`).
fn api(document: &str) -> CompiledApi {
    match compile_with(document, Some("https://api.test"), &[]) {
        Ok(api) => api,
        Err(error) => panic!("compile failed: {error}"),
    }
}

fn tool<'a>(api: &'a CompiledApi, name: &str) -> &'a SourceTool {
    match api.tools.tools.iter().find(|t| t.name == name) {
        Some(tool) => tool,
        None => panic!(
            "no tool {name}; tools: {:?}; skipped: {:?}",
            names(api),
            api.tools.skipped
        ),
    }
}

fn names(api: &CompiledApi) -> Vec<&str> {
    api.tools.tools.iter().map(|t| t.name.as_str()).collect()
}

fn http(tool: &SourceTool) -> &HttpCall {
    match &tool.call {
        CallPlan::Http(call) => call,
        other => panic!("not an HTTP call: {other:?}"),
    }
}

fn binding<'a>(tool: &'a SourceTool, arg: &str) -> &'a ParamBinding {
    match http(tool).params.iter().find(|p| p.arg == arg) {
        Some(binding) => binding,
        None => panic!("no binding for {arg}: {:?}", http(tool).params),
    }
}

fn body(tool: &SourceTool) -> &BodyBinding {
    match &http(tool).body {
        Some(body) => body,
        None => panic!("no body: {:?}", http(tool)),
    }
}

fn skip_reason<'a>(api: &'a CompiledApi, operation: &str) -> &'a str {
    match api.tools.skipped.iter().find(|s| s.operation == operation) {
        Some(skipped) => &skipped.reason,
        None => panic!("{operation} not skipped: {:?}", api.tools.skipped),
    }
}

fn contains_key(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k == key || contains_key(v, key)),
        Value::Array(items) => items.iter().any(|v| contains_key(v, key)),
        _ => false,
    }
}

mod basics;
mod bodies;
mod documents;
mod outputs;
mod parameters;
mod schemas;
mod servers;
mod swagger;

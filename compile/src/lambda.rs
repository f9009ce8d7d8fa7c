//! Lambda and pinned MCP tool schemas: AgentCore ToolDefinition lists → tools.
//!
//! The definitions come inline in the GatewayTarget or as a JSON/YAML list in a ConfigMap. Both a
//! plain list and AgentCore's `{"inlinePayload": [...]}` wrapper are accepted, so a payload copied
//! from a `create_gateway_target` call works unchanged.

use serde_json::Value;
use toolyard_crds::config::CallPlan;
use toolyard_crds::target::ToolDefinition;

use super::{SourceTool, SourceTools};

/// Why a tool-definition document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ToolSchemaError {
    /// Not YAML/JSON.
    #[error("the tool schema is not valid JSON or YAML: {0}")]
    Parse(String),
    /// Parsed, but not a list of tool definitions.
    #[error("the tool schema must be a list of {{name, description, inputSchema}} objects: {0}")]
    Shape(String),
}

/// Parses a tool-definition document (JSON or YAML list, or `{inlinePayload: [...]}`).
pub fn parse_definitions(text: &str) -> Result<Vec<ToolDefinition>, ToolSchemaError> {
    let value: Value =
        serde_yaml::from_str(text).map_err(|e| ToolSchemaError::Parse(e.to_string()))?;
    let list = match value {
        Value::Object(mut map) if map.contains_key("inlinePayload") => {
            map.remove("inlinePayload").unwrap_or(Value::Null)
        }
        other => other,
    };
    serde_json::from_value(list).map_err(|e| ToolSchemaError::Shape(e.to_string()))
}

/// Turns tool definitions into tools called with `plan`. Definitions whose input schema is not an
/// object schema are skipped with a reason (MCP requires `type: object`).
pub fn compile(
    definitions: &[ToolDefinition],
    plan: impl Fn(&ToolDefinition) -> CallPlan,
) -> SourceTools {
    let mut out = SourceTools::default();
    for def in definitions {
        let schema_ok = def
            .input_schema
            .as_object()
            .is_some_and(|o| o.get("type").is_none_or(|t| t == "object"));
        if !schema_ok {
            out.skipped.push(toolyard_crds::target::SkippedOperation {
                operation: def.name.clone(),
                reason: "inputSchema must be a JSON Schema with type object".into(),
            });
            continue;
        }
        let mut input_schema = def.input_schema.clone();
        if let Some(obj) = input_schema.as_object_mut() {
            obj.entry("type")
                .or_insert_with(|| Value::String("object".into()));
        }
        let output_schema = def
            .output_schema
            .clone()
            .filter(|s| s.get("type").and_then(Value::as_str) == Some("object"));
        out.tools.push(SourceTool {
            name: def.name.clone(),
            title: None,
            description: def.description.clone(),
            input_schema,
            output_schema,
            annotations: None,
            deprecated: false,
            call: plan(def),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_list_and_agentcore_wrapper() {
        let plain = r#"[{"name":"get_order_tool","description":"d","inputSchema":{"type":"object","properties":{"orderId":{"type":"string"}}}}]"#;
        let wrapped = format!(r#"{{"inlinePayload": {plain}}}"#);
        assert_eq!(parse_definitions(plain).unwrap().len(), 1);
        assert_eq!(
            parse_definitions(&wrapped).unwrap()[0].name,
            "get_order_tool"
        );
        assert!(parse_definitions("{").is_err());
        assert!(parse_definitions("[1]").is_err());
    }

    #[test]
    fn skips_non_object_schemas() {
        let defs = parse_definitions(r#"[{"name":"a","inputSchema":{"type":"string"}},{"name":"b","inputSchema":{"properties":{}}}]"#).unwrap();
        let tools = compile(&defs, |_| CallPlan::Lambda);
        assert_eq!(tools.tools.len(), 1);
        assert_eq!(tools.tools[0].input_schema["type"], "object");
        assert_eq!(tools.skipped[0].operation, "a");
    }
}

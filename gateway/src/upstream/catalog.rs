//! An upstream's catalog as the gateway serves it: tool and prompt names get the target prefix
//! (`<prefix>___<name>`, unless the target says `prefix: Never`), with the same sanitizing and
//! 64-character shortening as compiled tools. Everything else of an upstream tool (schemas,
//! annotations, icons, `_meta`) is served as the upstream lists it.

use std::collections::BTreeSet;

use rmcp::model::{Prompt, Tool};
use serde_json::Value;
use toolyard_crds::config::{CallPlan, Endpoint, TargetConfig, ToolConfig};
use toolyard_crds::target::PrefixMode;

use toolyard_compile::naming;

/// Whether served names of this target carry its prefix.
pub fn uses_prefix(target: &TargetConfig) -> bool {
    !matches!(
        target.endpoint,
        Endpoint::Mcp {
            prefix: PrefixMode::Never,
            ..
        }
    )
}

/// The served name of an upstream tool or prompt.
pub fn served_name(target: &TargetConfig, upstream: &str) -> String {
    naming::full_name(
        uses_prefix(target).then_some(target.prefix.as_str()),
        upstream,
    )
    .0
}

/// The served tools of a synced catalog: a call plan (schemas stay in the listed tool) and the
/// listed definition under its served name, in upstream order. Upstream names that collapse to
/// the same served name keep the first; the rest are returned as skipped with a reason.
pub fn served_tools(
    target: &TargetConfig,
    tools: &[Tool],
) -> (Vec<(ToolConfig, Tool)>, Vec<String>) {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(tools.len());
    let mut skipped = Vec::new();
    for tool in tools {
        let name = served_name(target, &tool.name);
        if !seen.insert(name.clone()) {
            skipped.push(format!(
                "{}: upstream tool {:?} is served as {name}, which another tool of this upstream already uses",
                target.name, tool.name
            ));
            continue;
        }
        let mut listed = tool.clone();
        listed.name = name.clone().into();
        out.push((
            ToolConfig {
                name,
                original_name: tool.name.to_string(),
                title: tool.title.clone(),
                description: tool.description.as_ref().map(|d| d.to_string()),
                input_schema: Value::Null,
                output_schema: None,
                annotations: None,
                deprecated: false,
                call: CallPlan::Mcp {
                    upstream_name: tool.name.to_string(),
                },
            },
            listed,
        ));
    }
    (out, skipped)
}

/// A prompt under its served name.
pub fn served_prompt(target: &TargetConfig, prompt: &Prompt) -> Prompt {
    let mut p = prompt.clone();
    p.name = served_name(target, &prompt.name);
    p
}

/// The literal head of a URI template (everything before the first `{`), used to route reads of
/// template-expanded URIs to the upstream that listed the template.
pub fn template_head(template: &str) -> &str {
    template.split('{').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolyard_crds::target::{McpTransport, TargetKind, TargetLogging};

    fn target(prefix: PrefixMode) -> TargetConfig {
        TargetConfig {
            name: "everything".into(),
            prefix: "every".into(),
            kind: TargetKind::McpServer,
            description: None,
            timeout_ms: 1000,
            rate_limit: None,
            logging: TargetLogging::default(),
            credentials: None,
            endpoint: Endpoint::Mcp {
                url: "http://127.0.0.1:1/mcp".into(),
                transport: McpTransport::StreamableHttp,
                prefix,
                sync_interval_ms: 60_000,
                pinned: false,
            },
            tools: vec![],
            schema_defs: Default::default(),
            skipped: vec![],
        }
    }

    fn tool(name: &str) -> Tool {
        Tool::new(name.to_string(), "d", std::sync::Arc::default())
    }

    #[test]
    fn prefixes_unless_never() {
        assert_eq!(
            served_name(&target(PrefixMode::Always), "echo"),
            "every___echo"
        );
        assert_eq!(served_name(&target(PrefixMode::Never), "echo"), "echo");
        assert_eq!(served_name(&target(PrefixMode::Never), "a/b"), "a_b");
    }

    #[test]
    fn served_tools_keep_upstream_names_in_the_plan_and_skip_duplicates() {
        let (tools, skipped) = served_tools(
            &target(PrefixMode::Never),
            &[tool("a/b"), tool("a_b"), tool("c")],
        );
        assert_eq!(tools.len(), 2);
        assert_eq!(tools[0].1.name, "a_b");
        assert_eq!(
            tools[0].0.call,
            CallPlan::Mcp {
                upstream_name: "a/b".into()
            }
        );
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("a_b"), "{skipped:?}");
    }

    #[test]
    fn template_heads() {
        assert_eq!(
            template_head("test://template/{id}/data"),
            "test://template/"
        );
        assert_eq!(template_head("file:///x"), "file:///x");
    }
}

//! Each tool's JSON as `tools/list` serves it, rendered once per snapshot.
//!
//! A listing of a large catalog is mostly JSON Schema: GitHub's REST API is 1,223 tools and about
//! 3.5 MB. Cloning the `Tool`s and serialising their schema trees on every listing was most of
//! its cost, and the answer only changes with the snapshot. So each tool is rendered on its first
//! listing and kept here; a page is those texts joined (`mcp::list_page`). Rendering lazily keeps
//! a gateway that is only ever called, never listed, from holding a second copy of its catalog.
//!
//! rmcp answers peers of revisions before 2026-07-28 without output schemas whose root is not an
//! object (SEP-2106). Those peers get a second rendering, made only for the tools it changes.

use std::sync::OnceLock;

use rmcp::model::Tool;
use serde_json::Value;

/// One tool's rendered JSON, for the current revision and for older peers.
#[derive(Debug, Default)]
pub struct RenderedTool {
    current: OnceLock<Box<str>>,
    /// `None` when older peers get the same text as current ones.
    legacy: OnceLock<Option<Box<str>>>,
}

impl RenderedTool {
    /// `tool`'s JSON for a peer of 2026-07-28 or later (`legacy` false) or of an older revision.
    pub fn json<'a>(&'a self, tool: &Tool, legacy: bool) -> &'a str {
        let current = self.current.get_or_init(|| render(tool));
        if !legacy {
            return current;
        }
        self.legacy
            .get_or_init(|| {
                let root_is_object = |schema: &serde_json::Map<String, Value>| {
                    schema.get("type").and_then(Value::as_str) == Some("object")
                };
                match &tool.output_schema {
                    Some(schema) if !root_is_object(schema) => {
                        let mut older = tool.clone();
                        older.output_schema = None;
                        Some(render(&older))
                    }
                    _ => None,
                }
            })
            .as_deref()
            .unwrap_or(current)
    }
}

fn render(tool: &Tool) -> Box<str> {
    // A `Tool` is plain data (strings, numbers, JSON values): serialising it cannot fail.
    serde_json::to_string(tool)
        .unwrap_or_else(|e| unreachable!("a Tool always serialises: {e}"))
        .into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn tool(output: Option<Value>) -> Tool {
        let input = serde_json::json!({"type": "object", "properties": {"id": {"type": "string"}}});
        let mut tool = Tool::new(
            "orders___get",
            "Gets an order",
            Arc::new(input.as_object().unwrap().clone()),
        );
        tool.output_schema = output.map(|o| Arc::new(o.as_object().unwrap().clone()));
        tool
    }

    /// The rendered text is exactly what serde gives for the tool: a page built from it reads
    /// back as the same tools rmcp would have sent.
    #[test]
    fn renders_the_tool_as_serde_does() {
        let tool = tool(Some(serde_json::json!({"type": "object"})));
        let rendered = RenderedTool::default();
        let text = rendered.json(&tool, false);
        assert_eq!(text, serde_json::to_string(&tool).unwrap());
        let back: Tool = serde_json::from_str(text).unwrap();
        assert_eq!(back, tool);
        // An object output schema is served to older peers as it is, from the same text.
        assert!(std::ptr::eq(rendered.json(&tool, true), text));
    }

    /// Older peers do not get an output schema whose root is not an object (rmcp's rule for
    /// them); current peers do.
    #[test]
    fn older_peers_lose_non_object_output_schemas() {
        let tool = tool(Some(serde_json::json!({"type": "array"})));
        let rendered = RenderedTool::default();
        let current: Value = serde_json::from_str(rendered.json(&tool, false)).unwrap();
        assert_eq!(current["outputSchema"]["type"], "array");
        let older: Value = serde_json::from_str(rendered.json(&tool, true)).unwrap();
        assert!(older.get("outputSchema").is_none(), "{older}");
        assert_eq!(older["name"], "orders___get");
    }
}

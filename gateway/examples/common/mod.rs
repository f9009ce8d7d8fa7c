//! Helpers shared by the MCP load clients (`mcp_load`, `mcp_bench`); included with `#[path]`.

use serde_json::Value;

/// The JSON-RPC message answering request `id` in a plain JSON or an SSE response body.
pub fn response_for(body: &[u8], id: u64) -> Option<Value> {
    let matches = |v: &Value| v.get("id").and_then(Value::as_u64) == Some(id);
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return matches(&v).then_some(v);
    }
    std::str::from_utf8(body)
        .ok()?
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(matches)
}

//! Which `_meta` keys of an upstream's results reach the gateway's callers.
//!
//! A result relayed from an upstream is the gateway's result: the caller's session is with the
//! gateway, and it negotiated the gateway's protocol revision, capabilities and identity. Keys
//! under a prefix MCP reserves for the protocol (a prefix whose second label is
//! `modelcontextprotocol` or `mcp`, such as `io.modelcontextprotocol/serverInfo`) describe the
//! upstream's own session with the gateway (its server info, revision, capabilities, related
//! task), so they are dropped: passing them on would make the result claim to come from the
//! upstream. Every other key (an application's own, prefixed or not) is the tool author's data
//! and is relayed unchanged. An object left empty is dropped.

use rmcp::model::MetaObject;

/// Whether a `_meta` key belongs to the protocol (reserved prefix), not the application.
pub fn is_protocol_key(key: &str) -> bool {
    let Some((prefix, _name)) = key.split_once('/') else {
        return false;
    };
    // The prefix's labels, as in `io.modelcontextprotocol` or `dev.mcp.example`.
    prefix
        .split('.')
        .nth(1)
        .is_some_and(|label| label == "modelcontextprotocol" || label == "mcp")
}

/// The `_meta` of an upstream result as relayed to the caller.
pub fn relayed(meta: Option<MetaObject>) -> Option<MetaObject> {
    let mut meta = meta?;
    meta.0.retain(|key, _| !is_protocol_key(key));
    (!meta.0.is_empty()).then_some(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_keys_are_dropped_application_keys_kept() {
        let mut meta = MetaObject::default();
        for key in [
            "io.modelcontextprotocol/serverInfo",
            "io.modelcontextprotocol/protocolVersion",
            "dev.mcp/anything",
            "com.example/trace",
            "plain",
            "io.example.mcp/x",
        ] {
            meta.0.insert(key.into(), serde_json::json!(1));
        }
        let kept = relayed(Some(meta)).unwrap();
        let mut keys: Vec<&str> = kept.0.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, vec!["com.example/trace", "io.example.mcp/x", "plain"]);
    }

    #[test]
    fn only_protocol_keys_leave_no_meta() {
        let mut meta = MetaObject::default();
        meta.0.insert(
            "io.modelcontextprotocol/serverInfo".into(),
            serde_json::json!({"name": "upstream"}),
        );
        assert!(relayed(Some(meta)).is_none());
        assert!(relayed(None).is_none());
    }
}

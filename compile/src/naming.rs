//! Tool names: `<prefix>___<tool>`, restricted to the characters and length MCP clients accept,
//! plus the target's include/exclude/override selection.
//!
//! MCP clients (and the conformance suite) reject names over 64 characters or outside
//! `[A-Za-z0-9_.-]`, so names are sanitized and, when too long, shortened deterministically: the
//! head of the name is kept and a stable hash of the full name is appended, so the same spec always
//! gives the same names and two long names that share a head still differ.

use sha2::{Digest, Sha256};
use toolyard_crds::target::ToolSelection;

use super::SourceTool;

/// The separator between target prefix and tool name, as in AgentCore Gateway.
pub const SEPARATOR: &str = "___";

/// Longest tool name MCP clients accept.
pub const MAX_TOOL_NAME: usize = 64;

/// Replaces every character outside `[A-Za-z0-9_.-]` with `_` (e.g. GitHub's `issues/create`).
pub fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".to_string()
    } else {
        cleaned
    }
}

/// The served name of a tool: prefix (if any), separator, sanitized name; shortened to 64
/// characters with a hash suffix when longer. Returns the name and whether it was shortened.
pub fn full_name(prefix: Option<&str>, tool: &str) -> (String, bool) {
    let joined = match prefix {
        Some(p) => format!("{p}{SEPARATOR}{}", sanitize(tool)),
        None => sanitize(tool),
    };
    if joined.len() <= MAX_TOOL_NAME {
        return (joined, false);
    }
    let digest = Sha256::digest(joined.as_bytes());
    let suffix = hex::encode(&digest[..4]);
    // ASCII only after sanitize, so byte slicing is on char boundaries.
    let keep = MAX_TOOL_NAME - suffix.len() - 1;
    (format!("{}_{suffix}", &joined[..keep]), true)
}

/// `*` wildcard match (any run of characters), case-sensitive.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Applies include, exclude and overrides to a target's tools. Returns the kept tools with
/// overrides applied (the override's `rename` replaces the name, keeping the original for
/// status) and the names of overrides that matched no tool, so typos are reported.
pub fn select(
    tools: Vec<SourceTool>,
    selection: Option<&ToolSelection>,
) -> (Vec<(SourceTool, String)>, Vec<String>) {
    let Some(sel) = selection else {
        return (
            tools
                .into_iter()
                .map(|t| {
                    let original = t.name.clone();
                    (t, original)
                })
                .collect(),
            Vec::new(),
        );
    };
    let mut used = vec![false; sel.overrides.len()];
    let mut kept = Vec::new();
    for mut tool in tools {
        let included =
            sel.include.is_empty() || sel.include.iter().any(|p| glob_match(p, &tool.name));
        let excluded = sel.exclude.iter().any(|p| glob_match(p, &tool.name));
        if !included || excluded {
            continue;
        }
        let original = tool.name.clone();
        if let Some((i, ov)) = sel
            .overrides
            .iter()
            .enumerate()
            .find(|(_, o)| o.name == tool.name)
        {
            used[i] = true;
            if let Some(rename) = &ov.rename {
                tool.name = rename.clone();
            }
            if let Some(description) = &ov.description {
                tool.description = Some(description.clone());
            }
        }
        kept.push((tool, original));
    }
    let unused = sel
        .overrides
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|(o, _)| o.name.clone())
        .collect();
    (kept, unused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_invalid_characters() {
        assert_eq!(sanitize("issues/create"), "issues_create");
        assert_eq!(sanitize("get user"), "get_user");
        assert_eq!(sanitize(""), "_");
    }

    #[test]
    fn joins_prefix_and_keeps_short_names() {
        assert_eq!(
            full_name(Some("LambdaUsingSDK"), "get_order_tool"),
            ("LambdaUsingSDK___get_order_tool".into(), false)
        );
        assert_eq!(full_name(None, "echo"), ("echo".into(), false));
    }

    #[test]
    fn shortens_long_names_deterministically_and_distinctly() {
        let long_a = "a".repeat(80);
        let long_b = format!("{}b", "a".repeat(79));
        let (a1, s1) = full_name(Some("t"), &long_a);
        let (a2, _) = full_name(Some("t"), &long_a);
        let (b, _) = full_name(Some("t"), &long_b);
        assert!(s1);
        assert_eq!(a1.len(), MAX_TOOL_NAME);
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
    }

    #[test]
    fn globs() {
        assert!(glob_match("get*", "getUser"));
        assert!(glob_match("*User", "getUser"));
        assert!(glob_match("g*U*r", "getUser"));
        assert!(!glob_match("list*", "getUser"));
        assert!(glob_match("getUser", "getUser"));
    }
}

//! How gateway replicas report the config revision they serve, so the operator can tell when
//! *every* replica serves the current config (the Gateway's `Programmed` condition).
//!
//! Each replica writes one annotation on its config ConfigMap: key
//! `served.toolyard.dev/<replica>` (the pod name), value the revision it serves. Each replica
//! applies it with its own server-side-apply field manager, so replicas never remove each
//! other's keys. The operator compares the reports of the gateway's running pods with the
//! revision it compiled, and removes the keys of pods that no longer exist.

//!
//! **Upstream sync results.** A replica that serves `mcpServer` targets also writes
//! `sync.toolyard.dev/<replica>`: a JSON object [`SyncReport`] with, per target, when its last
//! successful sync of the upstream's catalog finished and the last sync error (already redacted:
//! no credential value is ever part of it). The replica applies both annotations in one
//! server-side apply with the same field manager (an apply without one of them would remove it).
//! Operators that predate this key ignore it; gateways that predate it never write it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Prefix of the per-replica annotation keys.
pub const SERVED_ANNOTATION_PREFIX: &str = "served.toolyard.dev/";

/// Prefix of the per-replica upstream sync report keys.
pub const SYNC_ANNOTATION_PREFIX: &str = "sync.toolyard.dev/";

/// Longest sync error a report carries (characters); longer ones are cut, so a chatty upstream
/// cannot push the ConfigMap's annotations towards their 256 KiB limit.
pub const MAX_SYNC_ERROR_CHARS: usize = 1024;

/// One target's sync result as a replica saw it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TargetSync {
    /// When the last successful sync finished (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synchronized: Option<String>,
    /// The last sync or connection error; absent after a successful sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_error: Option<String>,
}

/// A replica's sync results: GatewayTarget name → result.
pub type SyncReport = BTreeMap<String, TargetSync>;

/// The sync report key of replica `replica`.
pub fn sync_annotation_key(replica: &str) -> String {
    format!("{SYNC_ANNOTATION_PREFIX}{}", replica_key(replica))
}

/// Cuts `message` to [`MAX_SYNC_ERROR_CHARS`] characters (on a character boundary).
pub fn truncate_error(message: &str) -> String {
    match message.char_indices().nth(MAX_SYNC_ERROR_CHARS) {
        Some((at, _)) => format!("{}…", &message[..at]),
        None => message.to_string(),
    }
}

/// The annotation key of replica `replica` (a pod name). Pod names that are not valid
/// annotation names (over 63 characters, or other characters) are replaced by a stable digest,
/// which [`replica_key`] computes the same way on both sides.
pub fn served_annotation_key(replica: &str) -> String {
    format!("{SERVED_ANNOTATION_PREFIX}{}", replica_key(replica))
}

/// The server-side-apply field manager a replica reports with.
pub fn served_field_manager(replica: &str) -> String {
    format!("toolyard-gateway-{}", replica_key(replica))
}

/// `replica` itself when it is a valid annotation name part, else `r-<hex of FNV-1a 64>`.
pub fn replica_key(replica: &str) -> String {
    let valid = !replica.is_empty()
        && replica.len() <= 63
        && replica
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && replica.as_bytes()[0].is_ascii_alphanumeric()
        && replica.as_bytes()[replica.len() - 1].is_ascii_alphanumeric();
    if valid {
        return replica.to_string();
    }
    // FNV-1a: stable across versions and platforms, no dependency; collisions between the few
    // replicas of one gateway are not a practical concern.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in replica.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("r-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_are_used_as_is() {
        assert_eq!(
            served_annotation_key("demo-7c9f8d5b6-x2x9z"),
            "served.toolyard.dev/demo-7c9f8d5b6-x2x9z"
        );
        assert_eq!(
            served_field_manager("demo-7c9f8d5b6-x2x9z"),
            "toolyard-gateway-demo-7c9f8d5b6-x2x9z"
        );
    }

    #[test]
    fn sync_reports_round_trip_and_errors_are_cut() {
        assert_eq!(sync_annotation_key("demo-0"), "sync.toolyard.dev/demo-0");
        let report: SyncReport = BTreeMap::from([(
            "search".to_string(),
            TargetSync {
                last_synchronized: Some("2026-01-02T03:04:05Z".into()),
                last_sync_error: None,
            },
        )]);
        let json = serde_json::to_string(&report).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"search":{"lastSynchronized":"2026-01-02T03:04:05Z"}}"#
        );
        let back: SyncReport = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, report);
        let long = "é".repeat(MAX_SYNC_ERROR_CHARS + 10);
        let cut = truncate_error(&long);
        assert_eq!(cut.chars().count(), MAX_SYNC_ERROR_CHARS + 1);
        assert_eq!(truncate_error("short"), "short");
    }

    #[test]
    fn invalid_names_become_stable_digests() {
        let long = "a".repeat(64);
        let key = replica_key(&long);
        assert!(key.starts_with("r-") && key.len() == 18, "{key}");
        assert_eq!(key, replica_key(&long));
        assert_ne!(replica_key("my host!"), replica_key("my host?"));
        assert!(replica_key("-x").starts_with("r-"));
        assert!(replica_key("").starts_with("r-"));
    }
}

//! How gateway replicas report the config revision they serve, so the operator can tell when
//! *every* replica serves the current config (the Gateway's `Programmed` condition).
//!
//! Each replica writes one annotation on its config ConfigMap: key
//! `served.toolyard.dev/<replica>` (the pod name), value the revision it serves. Each replica
//! applies it with its own server-side-apply field manager, so replicas never remove each
//! other's keys. The operator compares the reports of the gateway's running pods with the
//! revision it compiled, and removes the keys of pods that no longer exist.

/// Prefix of the per-replica annotation keys.
pub const SERVED_ANNOTATION_PREFIX: &str = "served.toolyard.dev/";

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

//! Upstream sync results of `mcpServer` targets → their GatewayTarget status: `lastSynchronized`,
//! `lastSyncError` and the `Synchronized` condition. Pure.
//!
//! Each gateway replica reports, next to the revision it serves, when it last synchronized each
//! upstream's catalog and the last error (annotation `sync.toolyard.dev/<replica>` of the config
//! ConfigMap, see [`toolyard_crds::served`]). Only the reports of ready pods of the current
//! Deployment (see [`crate::pods`]) that serve the revision just compiled count: a replica still on an older config may be talking to an
//! upstream the target no longer names. Among those, the newest sync time wins, and any replica
//! that cannot sync makes the condition False (a client may land on that replica).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use toolyard_crds::served::SyncReport;
use toolyard_crds::target::GatewayTargetStatus;

use crate::status::{Desired, Replicas, merge_one};

/// The `Synchronized` condition type.
pub const SYNCHRONIZED: &str = "Synchronized";

/// What the counted replicas say about one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// No replica serving the current revision has reported this target yet.
    Pending,
    /// Every counted replica synchronized; the newest sync time.
    Synchronized {
        /// RFC 3339.
        at: String,
        /// Replicas counted.
        replicas: usize,
    },
    /// Some counted replica's last sync failed.
    Failed {
        /// The error (prefixed with the replica when more than one replica reports).
        error: String,
        /// The newest successful sync time of any counted replica, if any.
        at: Option<String>,
    },
}

/// The sync state of `target` from the replicas' reports (replica key → report).
pub fn target_sync(
    replicas: &Replicas,
    syncs: &BTreeMap<String, SyncReport>,
    revision: &str,
    target: &str,
) -> SyncState {
    let counted: Vec<&String> = replicas
        .reports
        .iter()
        .filter(|(key, served)| served.as_str() == revision && replicas.counts(key))
        .map(|(key, _)| key)
        .collect();
    let results: Vec<(&String, &toolyard_crds::served::TargetSync)> = counted
        .iter()
        .filter_map(|key| Some((*key, syncs.get(*key)?.get(target)?)))
        .collect();
    if results.is_empty() {
        return SyncState::Pending;
    }
    let at = results
        .iter()
        .filter_map(|(_, r)| r.last_synchronized.clone())
        .max();
    let errors: Vec<String> = results
        .iter()
        .filter_map(|(key, r)| {
            let e = r.last_sync_error.as_ref()?;
            Some(if results.len() > 1 {
                format!("replica {key}: {e}")
            } else {
                e.clone()
            })
        })
        .collect();
    if !errors.is_empty() {
        return SyncState::Failed {
            error: errors.join("; "),
            at,
        };
    }
    match at {
        Some(at) => SyncState::Synchronized {
            at,
            replicas: results.len(),
        },
        // Reported, but neither synced nor failed yet (the first attempt is under way).
        None => SyncState::Pending,
    }
}

/// Sets `lastSynchronized`, `lastSyncError` and the `Synchronized` condition of an `mcpServer`
/// target's status. A `Pending` state keeps the previous sync time and error.
pub fn apply(
    status: &mut GatewayTargetStatus,
    old: Option<&GatewayTargetStatus>,
    state: &SyncState,
    now: &Time,
) {
    let old_conditions = old.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let desired = match state {
        SyncState::Pending => Desired::new(
            SYNCHRONIZED,
            false,
            "Pending",
            "no gateway replica serving the current config has reported a sync of this upstream yet",
        ),
        SyncState::Synchronized { at, replicas } => {
            status.last_synchronized = parse_time(at).or(status.last_synchronized.take());
            status.last_sync_error = None;
            Desired::new(
                SYNCHRONIZED,
                true,
                "Synchronized",
                format!(
                    "the upstream's catalog was synchronized at {at} ({replicas} replica(s) reporting)"
                ),
            )
        }
        SyncState::Failed { error, at } => {
            if let Some(t) = at.as_deref().and_then(parse_time) {
                status.last_synchronized = Some(t);
            }
            status.last_sync_error = Some(error.clone());
            Desired::new(
                SYNCHRONIZED,
                false,
                "SyncFailed",
                format!(
                    "{error}; the last synchronized tools stay listed and calls fail fast until the upstream answers"
                ),
            )
        }
    };
    let generation = status.observed_generation;
    status
        .conditions
        .push(merge_one(old_conditions, &desired, generation, now));
}

fn parse_time(s: &str) -> Option<Time> {
    s.parse::<k8s_openapi::jiff::Timestamp>().ok().map(Time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::PodState;
    use toolyard_crds::served::TargetSync;

    /// Replicas with these reports; the pods named in `ready` are ready, `not_ready` are not.
    fn replicas(reports: &[(&str, &str)], ready: &[&str], not_ready: &[&str]) -> Replicas {
        let pod = |name: &&str, ready: bool| PodState {
            name: name.to_string(),
            key: name.to_string(),
            ready,
            fault: None,
        };
        Replicas {
            reports: reports
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            pods: ready
                .iter()
                .map(|n| pod(n, true))
                .chain(not_ready.iter().map(|n| pod(n, false)))
                .collect(),
        }
    }

    fn report(target: &str, at: Option<&str>, error: Option<&str>) -> SyncReport {
        SyncReport::from([(
            target.to_string(),
            TargetSync {
                last_synchronized: at.map(Into::into),
                last_sync_error: error.map(Into::into),
            },
        )])
    }

    #[test]
    fn only_replicas_serving_the_current_revision_count() {
        let r = replicas(&[("a", "rev2"), ("b", "rev1")], &["a", "b"], &[]);
        let syncs = BTreeMap::from([
            (
                "a".to_string(),
                report("up", Some("2026-01-01T00:00:05Z"), None),
            ),
            (
                "b".to_string(),
                report("up", None, Some("old URL unreachable")),
            ),
        ]);
        assert_eq!(
            target_sync(&r, &syncs, "rev2", "up"),
            SyncState::Synchronized {
                at: "2026-01-01T00:00:05Z".into(),
                replicas: 1
            }
        );
        assert_eq!(target_sync(&r, &syncs, "rev3", "up"), SyncState::Pending);
        assert_eq!(target_sync(&r, &syncs, "rev2", "other"), SyncState::Pending);
        // A pod that is not ready takes no traffic: its report does not count.
        let r = replicas(&[("a", "rev2")], &[], &["a"]);
        assert_eq!(target_sync(&r, &syncs, "rev2", "up"), SyncState::Pending);
    }

    #[test]
    fn one_failing_replica_fails_the_target_and_is_named() {
        let r = replicas(&[("a", "rev"), ("b", "rev")], &["a", "b"], &[]);
        let syncs = BTreeMap::from([
            (
                "a".to_string(),
                report("up", Some("2026-01-01T00:00:05Z"), None),
            ),
            (
                "b".to_string(),
                report("up", None, Some("connection refused")),
            ),
        ]);
        let state = target_sync(&r, &syncs, "rev", "up");
        assert_eq!(
            state,
            SyncState::Failed {
                error: "replica b: connection refused".into(),
                at: Some("2026-01-01T00:00:05Z".into())
            }
        );
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let mut status = GatewayTargetStatus::default();
        apply(&mut status, None, &state, &now);
        assert_eq!(
            status.last_sync_error.as_deref(),
            Some("replica b: connection refused")
        );
        assert!(status.last_synchronized.is_some());
        let c = &status.conditions[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            ("Synchronized", "False", "SyncFailed")
        );
        assert!(c.message.contains("connection refused"), "{}", c.message);
    }

    #[test]
    fn a_successful_sync_clears_the_error_and_pending_keeps_the_old_values() {
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let mut status = GatewayTargetStatus {
            last_sync_error: Some("was down".into()),
            ..Default::default()
        };
        let state = SyncState::Synchronized {
            at: "2026-01-01T00:00:05Z".into(),
            replicas: 1,
        };
        apply(&mut status, None, &state, &now);
        assert_eq!(status.last_sync_error, None);
        assert_eq!(
            status.last_synchronized.as_ref().map(|t| t.0.to_string()),
            Some("2026-01-01T00:00:05Z".to_string())
        );
        assert_eq!(status.conditions[0].status, "True");

        let mut pending = GatewayTargetStatus {
            last_sync_error: Some("kept".into()),
            ..Default::default()
        };
        apply(&mut pending, None, &SyncState::Pending, &now);
        assert_eq!(pending.last_sync_error.as_deref(), Some("kept"));
        assert_eq!(pending.conditions[0].reason, "Pending");
    }
}

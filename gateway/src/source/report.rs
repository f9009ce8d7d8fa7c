//! In-cluster mode: what this replica tells the operator, through two annotations of the config
//! ConfigMap (see [`toolyard_crds::served`]): the config revision it serves, and the sync results
//! of its `mcpServer` targets (last successful sync, last error).
//!
//! One task owns both annotations and writes them in one server-side apply with the replica's
//! own field manager (an apply that left one out would remove it). It writes when the served
//! revision or a target's error changes, at once; a sync that only moves `lastSynchronized`
//! forward is written at most every [`TIMESTAMP_REFRESH`], so periodic syncs do not turn into a
//! ConfigMap write (and an operator reconcile) each. It also rewrites when the ConfigMap shows
//! something else than it wrote (someone removed the annotation).

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};
use tokio::sync::watch;
use tokio::time::Instant;
use toolyard_crds::served::{
    SyncReport, TargetSync, served_annotation_key, served_field_manager, sync_annotation_key,
    truncate_error,
};

use crate::upstream::UpstreamStatus;

/// How often the upstreams' status is looked at.
const POLL: Duration = Duration::from_secs(2);
/// Longest a newer `lastSynchronized` waits before it is written.
pub const TIMESTAMP_REFRESH: Duration = Duration::from_secs(60);

/// What the config watch last saw: the revision this replica serves and the ConfigMap's current
/// values of this replica's two annotations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// The revision being served (`None` until a config was applied).
    pub served: Option<String>,
    /// The ConfigMap's name.
    pub config_map: String,
    /// The ConfigMap's `served.toolyard.dev/<replica>` value.
    pub served_annotation: Option<String>,
    /// The ConfigMap's `sync.toolyard.dev/<replica>` value.
    pub sync_annotation: Option<String>,
}

/// What should be on the ConfigMap.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// The served revision.
    pub served: String,
    /// The sync results (empty: no `mcpServer` target, and no sync annotation).
    pub report: SyncReport,
}

impl Desired {
    /// The sync annotation's value (`None` for an empty report).
    pub fn sync_value(&self) -> Option<String> {
        if self.report.is_empty() {
            return None;
        }
        serde_json::to_string(&self.report).ok()
    }
}

/// The sync results of the running upstreams.
pub fn sync_report(statuses: &[UpstreamStatus]) -> SyncReport {
    statuses
        .iter()
        .map(|s| {
            (
                s.target.clone(),
                TargetSync {
                    last_synchronized: s.last_synchronized.clone(),
                    last_sync_error: s.last_sync_error.as_deref().map(truncate_error),
                },
            )
        })
        .collect()
}

/// Whether `desired` must be written, given what was written last (and when) and, when the
/// ConfigMap just changed, what it shows now.
pub fn needs_write(
    written: Option<&(Desired, Instant)>,
    desired: &Desired,
    observed: Option<&Observed>,
    now: Instant,
) -> bool {
    let Some((last, at)) = written else {
        return true;
    };
    if let Some(o) = observed
        && (o.served_annotation.as_deref() != Some(desired.served.as_str())
            || o.sync_annotation != desired.sync_value())
        && last == desired
    {
        // The ConfigMap lost (or never got) what was written.
        return true;
    }
    if last.served != desired.served
        || last.report.len() != desired.report.len()
        || last.report.keys().ne(desired.report.keys())
    {
        return true;
    }
    let mut timestamps_moved = false;
    for (name, new) in &desired.report {
        let Some(old) = last.report.get(name) else {
            return true;
        };
        if old.last_sync_error != new.last_sync_error
            || old.last_synchronized.is_some() != new.last_synchronized.is_some()
        {
            return true;
        }
        timestamps_moved |= old.last_synchronized != new.last_synchronized;
    }
    timestamps_moved && now.duration_since(*at) >= TIMESTAMP_REFRESH
}

/// Runs until the config watch ends (its sender is dropped).
pub async fn run(
    runtime: std::sync::Arc<crate::runtime::Runtime>,
    api: Api<ConfigMap>,
    replica: String,
    mut observed: watch::Receiver<Observed>,
) {
    let mut written: Option<(Desired, Instant)> = None;
    loop {
        let changed = tokio::select! {
            r = observed.changed() => {
                if r.is_err() {
                    return;
                }
                true
            }
            _ = tokio::time::sleep(POLL) => false,
        };
        let seen = observed.borrow_and_update().clone();
        let Some(served) = seen.served.clone() else {
            continue;
        };
        let desired = Desired {
            served,
            report: sync_report(&runtime.upstreams.statuses()),
        };
        let now = Instant::now();
        if !needs_write(written.as_ref(), &desired, changed.then_some(&seen), now) {
            continue;
        }
        if write(&api, &seen.config_map, &replica, &desired).await {
            written = Some((desired, now));
        }
    }
}

/// Applies both annotations; `false` (and a warning) when the API refused.
async fn write(api: &Api<ConfigMap>, config_map: &str, replica: &str, desired: &Desired) -> bool {
    let mut annotations = serde_json::Map::new();
    annotations.insert(
        served_annotation_key(replica),
        serde_json::Value::String(desired.served.clone()),
    );
    if let Some(sync) = desired.sync_value() {
        annotations.insert(
            sync_annotation_key(replica),
            serde_json::Value::String(sync),
        );
    }
    let patch = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": config_map, "annotations": annotations},
    });
    // Forced: this replica's field manager owns these two annotations and nothing else.
    let manager = served_field_manager(replica);
    match api
        .patch(
            config_map,
            &PatchParams::apply(&manager).force(),
            &Patch::Apply(&patch),
        )
        .await
    {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "failed to report the served revision and upstream sync results (the Gateway's Programmed condition and the targets' Synchronized condition will lag)");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(synced: Option<&str>, error: Option<&str>) -> Desired {
        Desired {
            served: "rev1".into(),
            report: SyncReport::from([(
                "search".to_string(),
                TargetSync {
                    last_synchronized: synced.map(Into::into),
                    last_sync_error: error.map(Into::into),
                },
            )]),
        }
    }

    #[test]
    fn first_report_and_revision_or_error_changes_are_written_at_once() {
        let now = Instant::now();
        let d = desired(None, Some("unreachable"));
        assert!(needs_write(None, &d, None, now));
        let written = (d.clone(), now);
        assert!(!needs_write(Some(&written), &d, None, now));
        let synced = desired(Some("2026-01-01T00:00:00Z"), None);
        assert!(needs_write(Some(&written), &synced, None, now));
        let mut other_rev = d.clone();
        other_rev.served = "rev2".into();
        assert!(needs_write(Some(&written), &other_rev, None, now));
        let other_error = desired(None, Some("timeout"));
        assert!(needs_write(Some(&written), &other_error, None, now));
    }

    #[test]
    fn a_newer_sync_time_alone_waits_for_the_refresh_interval() {
        let now = Instant::now();
        let written = (desired(Some("2026-01-01T00:00:00Z"), None), now);
        let later = desired(Some("2026-01-01T00:00:10Z"), None);
        assert!(!needs_write(Some(&written), &later, None, now + POLL));
        assert!(needs_write(
            Some(&written),
            &later,
            None,
            now + TIMESTAMP_REFRESH
        ));
    }

    #[test]
    fn a_lost_annotation_is_written_again() {
        let now = Instant::now();
        let d = desired(Some("2026-01-01T00:00:00Z"), None);
        let written = (d.clone(), now);
        let intact = Observed {
            served: Some("rev1".into()),
            config_map: "cm".into(),
            served_annotation: Some("rev1".into()),
            sync_annotation: d.sync_value(),
        };
        assert!(!needs_write(Some(&written), &d, Some(&intact), now));
        let lost = Observed {
            sync_annotation: None,
            ..intact
        };
        assert!(needs_write(Some(&written), &d, Some(&lost), now));
    }

    #[test]
    fn errors_in_the_report_are_cut_and_an_empty_report_has_no_annotation() {
        let long = "x".repeat(5000);
        let report = sync_report(&[UpstreamStatus {
            target: "search".into(),
            last_sync_error: Some(long),
            ..Default::default()
        }]);
        let error = report["search"].last_sync_error.clone().unwrap_or_default();
        assert!(error.chars().count() <= toolyard_crds::served::MAX_SYNC_ERROR_CHARS + 1);
        let empty = Desired {
            served: "r".into(),
            report: SyncReport::new(),
        };
        assert_eq!(empty.sync_value(), None);
    }
}

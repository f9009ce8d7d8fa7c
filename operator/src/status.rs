//! Status: compile reports → the `status` of a Gateway and of each GatewayTarget. Pure.
//!
//! Conditions keep their `lastTransitionTime` while their status does not change, so a reconcile
//! that changes nothing computes a status equal to the stored one, and the controller writes
//! nothing.
//!
//! Gateway: `Programmed` is True when the gateway reports (annotation
//! `toolyard.dev/served-revision` on its config ConfigMap) that it serves the revision just
//! compiled; `Ready` is True when the config compiled, the children are applied and it is
//! programmed. GatewayTarget: `Accepted` (the spec compiled into tools, or why not: `InvalidSpec`,
//! `InvalidSchema`, `NameConflict`, `GatewayNotFound`, `GatewayInvalid`), `ResolvedRefs` (every
//! referenced ConfigMap, Secret and URL was read, or `ConfigMapNotFound`, `SecretNotFound`,
//! `UrlNotFetched`), `Ready` (its tools are served).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use std::collections::BTreeMap;
use toolyard_compile::gateway::TargetReport;
use toolyard_crds::GatewayConfig;
use toolyard_crds::gateway::GatewayStatus;
use toolyard_crds::refs::conditions::{ACCEPTED, PROGRAMMED, READY, RESOLVED_REFS};
use toolyard_crds::target::{GatewayTargetStatus, TargetKind};

/// At most this many tool names and skipped operations go into a target's status.
pub const MAX_LISTED: usize = 500;

/// A condition to set, before transition times are merged in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// Condition type.
    pub type_: &'static str,
    /// True or False.
    pub status: bool,
    /// CamelCase reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}

impl Desired {
    /// A condition to set.
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Merges `desired` into `old`: a condition whose status is unchanged keeps its
/// `lastTransitionTime`; conditions not in `desired` are dropped (the operator owns them all).
pub fn merge_conditions(
    old: &[Condition],
    desired: &[Desired],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    desired
        .iter()
        .map(|d| merge_one(old, d, generation, now))
        .collect()
}

/// One condition of [`merge_conditions`].
pub fn merge_one(old: &[Condition], d: &Desired, generation: Option<i64>, now: &Time) -> Condition {
    let status = if d.status { "True" } else { "False" }.to_string();
    let last_transition_time = old
        .iter()
        .find(|c| c.type_ == d.type_ && c.status == status)
        .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    Condition {
        type_: d.type_.to_string(),
        status,
        reason: d.reason.clone(),
        message: truncate(&d.message, 1024),
        last_transition_time,
        observed_generation: generation,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// What a gateway's replicas report serving (see [`toolyard_crds::served`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replicas {
    /// Revision served, by replica key (from the ConfigMap's `served.toolyard.dev/*` annotations).
    pub reports: BTreeMap<String, String>,
    /// Replica keys of the gateway's running pods. Empty when none runs (for example gateways
    /// run outside the Deployment, as in the test cluster); then every report counts.
    pub running: Vec<String>,
}

/// Whether the replicas serve a revision, and what to say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serving {
    /// Every running replica (or, with none running, some reporting gateway) serves it.
    pub programmed: bool,
    /// The condition message.
    pub message: String,
    /// The revision for `status.servedConfigRevision`: the wanted one when programmed, else the
    /// one most replicas report (none when nobody reported).
    pub served_revision: Option<String>,
}

impl Replicas {
    /// How `revision` is served.
    pub fn serving(&self, revision: &str) -> Serving {
        let counted: Vec<(&str, Option<&str>)> = if self.running.is_empty() {
            self.reports
                .iter()
                .map(|(k, r)| (k.as_str(), Some(r.as_str())))
                .collect()
        } else {
            self.running
                .iter()
                .map(|k| (k.as_str(), self.reports.get(k).map(String::as_str)))
                .collect()
        };
        let serving = counted.iter().filter(|(_, r)| *r == Some(revision)).count();
        let mut others: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, r) in &counted {
            if let Some(r) = r.filter(|r| *r != revision) {
                *others.entry(r).or_default() += 1;
            }
        }
        let most_common_other = others
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(r, _)| r.to_string());
        if self.running.is_empty() {
            return if serving > 0 {
                Serving {
                    programmed: true,
                    message: format!(
                        "{serving} gateway(s) serve config revision {revision} (no running pod of the gateway's Deployment; every reporting gateway counts)"
                    ),
                    served_revision: Some(revision.to_string()),
                }
            } else {
                let seen = most_common_other.as_ref().map_or_else(
                    || "no gateway has reported a revision yet".to_string(),
                    |r| format!("it serves {r}"),
                );
                Serving {
                    programmed: false,
                    message: format!(
                        "waiting for the gateway to load config revision {revision} ({seen})"
                    ),
                    served_revision: most_common_other,
                }
            };
        }
        let total = counted.len();
        if serving == total {
            return Serving {
                programmed: true,
                message: format!("all {total} running replicas serve config revision {revision}"),
                served_revision: Some(revision.to_string()),
            };
        }
        let waiting: Vec<&str> = counted
            .iter()
            .filter(|(_, r)| *r != Some(revision))
            .map(|(k, _)| *k)
            .take(5)
            .collect();
        Serving {
            programmed: false,
            message: format!(
                "{serving} of {total} running replicas serve config revision {revision}; waiting for {}",
                waiting.join(", ")
            ),
            served_revision: most_common_other,
        }
    }
}

/// How reconciling a Gateway went, as far as its status is concerned.
#[derive(Clone, Copy, Debug)]
pub enum GatewayOutcome<'a> {
    /// The config compiled and the children were applied.
    Applied {
        /// The config.
        config: &'a GatewayConfig,
        /// Targets left out of the config.
        failed_targets: usize,
        /// What the gateway's replicas report serving.
        replicas: &'a Replicas,
    },
    /// The Gateway cannot be served: reason and message (with the bad field's path).
    Failed {
        /// CamelCase reason, e.g. `InvalidSpec`.
        reason: &'a str,
        /// Message.
        message: &'a str,
    },
}

/// The status of Gateway `name` in `namespace`.
pub fn gateway_status(
    old: Option<&GatewayStatus>,
    name: &str,
    namespace: &str,
    generation: Option<i64>,
    outcome: GatewayOutcome<'_>,
    now: &Time,
) -> GatewayStatus {
    let old_conditions = old.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let url = crate::render::url(name, namespace);
    match outcome {
        GatewayOutcome::Applied {
            config,
            failed_targets,
            replicas,
        } => {
            let tools = config.tool_count();
            let targets = config.targets.len();
            let serving = replicas.serving(&config.revision);
            let programmed = serving.programmed;
            let programmed_condition = if programmed {
                Desired::new(PROGRAMMED, true, "Programmed", serving.message)
            } else {
                Desired::new(PROGRAMMED, false, "Pending", serving.message)
            };
            let left_out = if failed_targets > 0 {
                format!("; {failed_targets} GatewayTarget(s) left out, see their status")
            } else {
                String::new()
            };
            let ready = if programmed {
                Desired::new(
                    READY,
                    true,
                    "Ready",
                    format!("{tools} tools from {targets} targets at {url}{left_out}"),
                )
            } else {
                Desired::new(
                    READY,
                    false,
                    "Pending",
                    format!(
                        "the config is published; waiting for the gateway to load it{left_out}"
                    ),
                )
            };
            GatewayStatus {
                conditions: merge_conditions(
                    old_conditions,
                    &[ready, programmed_condition],
                    generation,
                    now,
                ),
                observed_generation: generation,
                url: Some(url),
                targets: Some(targets as i32),
                tools: Some(tools as i32),
                config_revision: Some(config.revision.clone()),
                served_config_revision: serving.served_revision,
            }
        }
        GatewayOutcome::Failed { reason, message } => GatewayStatus {
            conditions: merge_conditions(
                old_conditions,
                &[
                    Desired::new(READY, false, reason, message),
                    Desired::new(
                        PROGRAMMED,
                        false,
                        reason,
                        "the last good config (if any) keeps serving",
                    ),
                ],
                generation,
                now,
            ),
            observed_generation: generation,
            url: Some(url),
            targets: old.and_then(|s| s.targets),
            tools: old.and_then(|s| s.tools),
            config_revision: old.and_then(|s| s.config_revision.clone()),
            served_config_revision: old.and_then(|s| s.served_config_revision.clone()),
        },
    }
}

/// The status of a target from its compile report. `programmed`: the gateway serves the config
/// the report belongs to.
pub fn target_status(
    old: Option<&GatewayTargetStatus>,
    generation: Option<i64>,
    gateway: &str,
    report: &TargetReport,
    programmed: bool,
    now: &Time,
) -> GatewayTargetStatus {
    let old_conditions = old.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let mut status = GatewayTargetStatus {
        observed_generation: generation,
        kind: report.kind,
        last_synchronized: old.and_then(|s| s.last_synchronized.clone()),
        last_sync_error: old.and_then(|s| s.last_sync_error.clone()),
        ..Default::default()
    };
    let desired = match &report.outcome {
        Ok(summary) => {
            let n = summary.tool_names.len();
            status.tools = Some(n as i32);
            status.tool_names = summary
                .tool_names
                .iter()
                .take(MAX_LISTED)
                .cloned()
                .collect();
            status.shortened_names = summary.shortened.iter().take(MAX_LISTED).cloned().collect();
            status.skipped = summary.skipped.iter().take(MAX_LISTED).cloned().collect();
            let mut accepted = format!("compiled into {n} tools");
            if !summary.skipped.is_empty() {
                accepted.push_str(&format!(", {} operations skipped", summary.skipped.len()));
            }
            for w in &summary.warnings {
                accepted.push_str("; ");
                accepted.push_str(w);
            }
            let ready = if programmed {
                Desired::new(
                    READY,
                    true,
                    "Ready",
                    format!("{n} tools served by Gateway {gateway}"),
                )
            } else {
                Desired::new(
                    READY,
                    false,
                    "Pending",
                    format!("waiting for Gateway {gateway}'s data plane to load the new config"),
                )
            };
            vec![
                Desired::new(ACCEPTED, true, "Accepted", accepted),
                Desired::new(
                    RESOLVED_REFS,
                    true,
                    "ResolvedRefs",
                    "every reference was resolved",
                ),
                ready,
            ]
        }
        Err(e) => {
            status.tools = Some(0);
            let message = e.to_string();
            let not_ready = Desired::new(
                READY,
                false,
                e.reason,
                format!("no tools served: {message}"),
            );
            if e.is_ref_error() {
                vec![
                    Desired::new(ACCEPTED, true, "Accepted", "the spec is valid"),
                    Desired::new(RESOLVED_REFS, false, e.reason, message),
                    not_ready,
                ]
            } else {
                vec![
                    Desired::new(ACCEPTED, false, e.reason, message),
                    Desired::new(
                        RESOLVED_REFS,
                        true,
                        "ResolvedRefs",
                        "every reference was resolved",
                    ),
                    not_ready,
                ]
            }
        }
    };
    status.conditions = merge_conditions(old_conditions, &desired, generation, now);
    status
}

/// The status of a target that cannot be compiled because of its Gateway (`GatewayNotFound`,
/// `GatewayInvalid`).
pub fn blocked_target_status(
    old: Option<&GatewayTargetStatus>,
    generation: Option<i64>,
    kind: Option<TargetKind>,
    reason: &str,
    message: &str,
    now: &Time,
) -> GatewayTargetStatus {
    let old_conditions = old.map(|s| s.conditions.as_slice()).unwrap_or_default();
    GatewayTargetStatus {
        conditions: merge_conditions(
            old_conditions,
            &[
                Desired::new(ACCEPTED, false, reason, message),
                Desired::new(READY, false, reason, format!("no tools served: {message}")),
            ],
            generation,
            now,
        ),
        observed_generation: generation,
        kind,
        tools: Some(0),
        last_synchronized: old.and_then(|s| s.last_synchronized.clone()),
        last_sync_error: old.and_then(|s| s.last_sync_error.clone()),
        ..Default::default()
    }
}

/// The status (`True`/`False`) and reason of condition `type_`, if set.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

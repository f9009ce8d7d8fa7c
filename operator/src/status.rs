//! Status: compile reports → the `status` of a Gateway and of each GatewayTarget. Pure.
//!
//! Conditions keep their `lastTransitionTime` while their status does not change, so a reconcile
//! that changes nothing computes a status equal to the stored one, and the controller writes
//! nothing.
//!
//! Gateway: `Programmed` is True when some pod of the gateway's current Deployment is ready and
//! every ready one reports (annotation `served.toolyard.dev/<pod>` on its config ConfigMap) that
//! it serves the revision just compiled; with no ready pod its reason says why (`Pending`, or a
//! pod fault such as `ImagePullBackOff` or `CrashLoopBackOff`, see [`crate::pods`]). `Ready` is
//! True when the config compiled, the children are applied and it is programmed. GatewayTarget: `Accepted` (the spec compiled into tools, or why not: `InvalidSpec`,
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

use crate::pods::PodState;

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

/// What a gateway's replicas report serving, and its current pods (see [`crate::pods`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replicas {
    /// Revision served, by replica key (from the ConfigMap's `served.toolyard.dev/*` annotations).
    pub reports: BTreeMap<String, String>,
    /// The pods of the Deployment's current ReplicaSet that are not being deleted, by name.
    pub pods: Vec<PodState>,
}

/// Whether the replicas serve a revision, and what to say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serving {
    /// Some pod is ready and every ready pod serves it.
    pub programmed: bool,
    /// The condition reason: `Programmed`, `Pending`, or a pod fault's (`ImagePullBackOff`,
    /// `CrashLoopBackOff`, …) when no pod is ready.
    pub reason: String,
    /// The condition message.
    pub message: String,
    /// The revision for `status.servedConfigRevision`: the wanted one when programmed, else the
    /// one most ready replicas report (none when no ready replica reported).
    pub served_revision: Option<String>,
}

/// At most this many pod names or faults go into a message.
const MAX_NAMED: usize = 5;

impl Replicas {
    /// Whether replica `key` counts: its pod is current and ready.
    pub fn counts(&self, key: &str) -> bool {
        self.pods.iter().any(|p| p.ready && p.key == key)
    }

    /// How `revision` is served.
    pub fn serving(&self, revision: &str) -> Serving {
        let ready: Vec<&PodState> = self.pods.iter().filter(|p| p.ready).collect();
        let faults: Vec<&str> = self
            .pods
            .iter()
            .filter_map(|p| p.fault.as_ref().map(|f| f.message.as_str()))
            .take(MAX_NAMED)
            .collect();
        let report = |p: &PodState| self.reports.get(&p.key).map(String::as_str);
        let mut others: BTreeMap<&str, usize> = BTreeMap::new();
        for r in ready.iter().filter_map(|p| report(p)) {
            if r != revision {
                *others.entry(r).or_default() += 1;
            }
        }
        let most_common_other = others
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(r, _)| r.to_string());
        if ready.is_empty() {
            let first_fault = self.pods.iter().find_map(|p| p.fault.as_ref());
            let (reason, message) = match first_fault {
                Some(f) => (
                    f.reason.clone(),
                    format!("no gateway pod is ready: {}", faults.join("; ")),
                ),
                None if self.pods.is_empty() => (
                    "Pending".to_string(),
                    format!(
                        "waiting for a pod of the gateway's Deployment to be ready to serve config revision {revision} (no current pod yet)"
                    ),
                ),
                None => (
                    "Pending".to_string(),
                    format!(
                        "waiting for a pod of the gateway's Deployment to be ready to serve config revision {revision} ({} not ready: {})",
                        self.pods.len(),
                        names(self.pods.iter())
                    ),
                ),
            };
            return Serving {
                programmed: false,
                reason,
                message,
                served_revision: None,
            };
        }
        let total = ready.len();
        let serving = ready.iter().filter(|p| report(p) == Some(revision)).count();
        let not_ready = self.pods.len() - total;
        let mut aside = String::new();
        if not_ready > 0 {
            aside = format!("; {not_ready} pod(s) not ready");
            if !faults.is_empty() {
                aside.push_str(&format!(": {}", faults.join("; ")));
            }
        }
        if serving == total {
            return Serving {
                programmed: true,
                reason: "Programmed".into(),
                message: format!(
                    "all {total} ready replicas serve config revision {revision}{aside}"
                ),
                served_revision: Some(revision.to_string()),
            };
        }
        let waiting = names(
            ready
                .iter()
                .copied()
                .filter(|p| report(p) != Some(revision)),
        );
        Serving {
            programmed: false,
            reason: "Pending".into(),
            message: format!(
                "{serving} of {total} ready replicas serve config revision {revision}; waiting for {waiting}{aside}"
            ),
            served_revision: most_common_other,
        }
    }
}

/// The first [`MAX_NAMED`] pod names, comma-separated.
fn names<'a>(pods: impl Iterator<Item = &'a PodState>) -> String {
    pods.take(MAX_NAMED)
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
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
            let programmed_condition = Desired::new(
                PROGRAMMED,
                programmed,
                serving.reason.clone(),
                serving.message,
            );
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
                    serving.reason,
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
                policies: config
                    .authorization
                    .as_ref()
                    .map(|a| a.policies.len() as i32),
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
            policies: old.and_then(|s| s.policies),
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
            status.listing_mode = summary.listing_mode;
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

/// The status of a ToolPolicy from its validation report: `Accepted` with the bad field's path
/// and Cedar's message when it is invalid (the last accepted policies keep serving).
pub fn policy_status(
    old: Option<&toolyard_crds::ToolPolicyStatus>,
    generation: Option<i64>,
    report: &toolyard_compile::policy::PolicyReport,
    now: &Time,
) -> toolyard_crds::ToolPolicyStatus {
    let old_conditions = old.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let accepted = match &report.outcome {
        Ok(()) => Desired::new(
            ACCEPTED,
            true,
            "Accepted",
            format!("{} Cedar policies validated and served", report.count),
        ),
        Err(e) => {
            let keeps = if report.count > 0 {
                format!("; the last accepted {} policies keep serving", report.count)
            } else {
                "; no policy of this ToolPolicy is served (its tools are denied)".to_string()
            };
            Desired::new(ACCEPTED, false, "InvalidPolicy", format!("{e}{keeps}"))
        }
    };
    toolyard_crds::ToolPolicyStatus {
        conditions: merge_conditions(old_conditions, &[accepted], generation, now),
        observed_generation: generation,
        policies: Some(report.count as i32),
        accepted_policies: report.served.clone(),
    }
}

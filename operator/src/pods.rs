//! Gateway pods → what the Gateway's `Programmed` condition counts. Pure.
//!
//! `Programmed` means clients can use the current config: every *ready* pod of the *current*
//! Deployment serves it and at least one pod is ready. So:
//!
//! - **Which pods.** Those of the Deployment's current ReplicaSet: the one it owns whose
//!   `deployment.kubernetes.io/revision` equals the Deployment's own (what the Deployment
//!   controller sets when it rolls out a template), matched to pods by the `pod-template-hash`
//!   label. Pods of older ReplicaSets are on their way out during a rollout; pods being deleted
//!   (a `deletionTimestamp`) are leaving too and never count.
//! - **Ready.** The pod's `Ready` condition, which is what puts it behind the Service: a pod that
//!   runs but fails its readiness probe takes no traffic, so it neither counts nor blocks.
//! - **Faults.** A container that waits for a reason no retry fixes by itself on a healthy
//!   cluster (an image that cannot be pulled, a crash loop, a bad container config) or a pod the
//!   scheduler cannot place. These become the reason and message of `Programmed` when no pod is
//!   ready, so `kubectl get gateway` says what is wrong and where, without `kubectl describe`.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use toolyard_crds::served::replica_key;

/// The Deployment controller's revision annotation (on the Deployment and its ReplicaSets).
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The label the Deployment controller puts on a ReplicaSet and its pods.
pub const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// Container waiting reasons that are faults (the kubelet's words; it keeps retrying, but
/// without a change by someone these do not go away).
const FAULT_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "ImageInspectError",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// What is wrong with a pod, for the Gateway's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// CamelCase reason, the kubelet's or scheduler's (`ImagePullBackOff`, `CrashLoopBackOff`,
    /// `Unschedulable`, …).
    pub reason: String,
    /// Which pod and container, and the kubelet's message.
    pub message: String,
}

/// One pod of the gateway's current Deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodState {
    /// Pod name.
    pub name: String,
    /// Its replica key (see [`toolyard_crds::served::replica_key`]).
    pub key: String,
    /// Its `Ready` condition is True.
    pub ready: bool,
    /// What keeps it from running, if anything.
    pub fault: Option<Fault>,
}

impl PodState {
    /// The state of `pod`.
    pub fn of(pod: &Pod) -> Self {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        Self {
            key: replica_key(&name),
            fault: fault(pod),
            ready,
            name,
        }
    }
}

/// The fault of `pod`, if any: the first faulty container (init containers first, as they run
/// first), else an unschedulable pod.
pub fn fault(pod: &Pod) -> Option<Fault> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let status = pod.status.as_ref()?;
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for c in containers {
        if let Some(f) = container_fault(name, c) {
            return Some(f);
        }
    }
    let unschedulable = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    })?;
    Some(Fault {
        reason: "Unschedulable".into(),
        message: format!(
            "pod {name} cannot be scheduled: {}",
            unschedulable.message.as_deref().unwrap_or("no node fits")
        ),
    })
}

fn container_fault(pod: &str, c: &ContainerStatus) -> Option<Fault> {
    let waiting = c.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    if !FAULT_REASONS.contains(&reason) {
        return None;
    }
    let mut message = format!("pod {pod} container {}: {reason}", c.name);
    if let Some(m) = waiting.message.as_deref().filter(|m| !m.is_empty()) {
        message.push_str(": ");
        message.push_str(m);
    }
    if reason == "CrashLoopBackOff" {
        message.push_str(&format!(" (restarted {} times", c.restart_count));
        if let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
            message.push_str(&format!(
                "; last exit: {}, exit code {}",
                t.reason.as_deref().unwrap_or("terminated"),
                t.exit_code
            ));
        }
        message.push(')');
    } else if reason.contains("Image") && !message.contains(&c.image) && !c.image.is_empty() {
        message.push_str(&format!(" (image {})", c.image));
    }
    Some(Fault {
        reason: reason.to_string(),
        message,
    })
}

/// The `pod-template-hash` of `deployment`'s current ReplicaSet among `replica_sets` (their
/// metadata): owned by the Deployment, with its revision. `None` before the Deployment
/// controller has made one.
pub fn current_template_hash<'a>(
    deployment: &Deployment,
    replica_sets: impl IntoIterator<Item = &'a ObjectMeta>,
) -> Option<String> {
    let uid = deployment.metadata.uid.as_deref()?;
    let revision = deployment
        .metadata
        .annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)?;
    replica_sets
        .into_iter()
        .find(|rs| {
            let owned = rs
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.kind == "Deployment" && o.controller == Some(true));
            owned
                && rs
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(REVISION_ANNOTATION))
                    == Some(revision)
        })
        .and_then(|rs| rs.labels.as_ref()?.get(TEMPLATE_HASH_LABEL).cloned())
}

/// The pods among `pods` that count: of the current ReplicaSet (`template_hash`), not being
/// deleted; sorted by name.
pub fn current_pods<'a>(
    template_hash: Option<&str>,
    pods: impl IntoIterator<Item = &'a Pod>,
) -> Vec<PodState> {
    let Some(hash) = template_hash else {
        return Vec::new();
    };
    let mut out: Vec<PodState> = pods
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(TEMPLATE_HASH_LABEL))
                .map(String::as_str)
                == Some(hash)
        })
        .map(PodState::of)
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap_or_default()
    }

    #[test]
    fn ready_is_the_ready_condition() {
        let running = pod(json!({
            "metadata": {"name": "gw-1"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]},
        }));
        assert!(!PodState::of(&running).ready);
        let ready = pod(json!({
            "metadata": {"name": "gw-1"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        }));
        assert!(PodState::of(&ready).ready);
        assert!(!PodState::of(&pod(json!({"metadata": {"name": "p"}}))).ready);
    }

    #[test]
    fn image_pull_and_crash_loop_are_faults_with_pod_and_container() {
        let pull = pod(json!({
            "metadata": {"name": "gw-1"},
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "gateway", "image": "example.invalid/gw:nope", "imageID": "", "ready": false,
                "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"example.invalid/gw:nope\""}},
            }]},
        }));
        let f = fault(&pull).expect("a fault");
        assert_eq!(f.reason, "ImagePullBackOff");
        assert_eq!(
            f.message,
            "pod gw-1 container gateway: ImagePullBackOff: Back-off pulling image \"example.invalid/gw:nope\""
        );

        let never = pod(json!({
            "metadata": {"name": "gw-2"},
            "status": {"containerStatuses": [{
                "name": "gateway", "image": "local/gw:1", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImageNeverPull"}},
            }]},
        }));
        let f = fault(&never).expect("a fault");
        assert_eq!(f.reason, "ErrImageNeverPull");
        assert_eq!(
            f.message,
            "pod gw-2 container gateway: ErrImageNeverPull (image local/gw:1)"
        );

        let crash = pod(json!({
            "metadata": {"name": "gw-3"},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "gateway", "image": "gw", "imageID": "", "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=gateway"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
            }]},
        }));
        let f = fault(&crash).expect("a fault");
        assert_eq!(f.reason, "CrashLoopBackOff");
        assert_eq!(
            f.message,
            "pod gw-3 container gateway: CrashLoopBackOff: back-off 40s restarting failed container=gateway (restarted 4 times; last exit: Error, exit code 1)"
        );
    }

    #[test]
    fn ordinary_waiting_is_no_fault_and_unschedulable_is() {
        let creating = pod(json!({
            "metadata": {"name": "gw-1"},
            "status": {"containerStatuses": [{
                "name": "gateway", "image": "gw", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }]},
        }));
        assert_eq!(fault(&creating), None);
        let unschedulable = pod(json!({
            "metadata": {"name": "gw-1"},
            "status": {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient cpu.",
            }]},
        }));
        let f = fault(&unschedulable).expect("a fault");
        assert_eq!(f.reason, "Unschedulable");
        assert!(f.message.contains("1 Insufficient cpu"), "{}", f.message);
    }

    fn deployment(uid: &str, revision: &str) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "gw", "uid": uid, "annotations": {REVISION_ANNOTATION: revision}},
        }))
        .unwrap_or_default()
    }

    fn replica_set(owner: &str, revision: &str, hash: &str) -> ObjectMeta {
        serde_json::from_value(json!({
            "name": format!("gw-{hash}"),
            "annotations": {REVISION_ANNOTATION: revision},
            "labels": {TEMPLATE_HASH_LABEL: hash},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "gw", "uid": owner, "controller": true}],
        }))
        .unwrap_or_default()
    }

    #[test]
    fn the_current_replica_set_has_the_deployments_revision() {
        let d = deployment("u1", "2");
        let sets = [
            replica_set("u1", "1", "old"),
            replica_set("u1", "2", "new"),
            replica_set("other", "2", "foreign"),
        ];
        assert_eq!(current_template_hash(&d, &sets).as_deref(), Some("new"));
        assert_eq!(current_template_hash(&d, &sets[..1]), None);
        assert_eq!(current_template_hash(&Deployment::default(), &sets), None);
    }

    #[test]
    fn only_current_pods_not_being_deleted_count() {
        let pods = [
            pod(json!({"metadata": {"name": "gw-new-b", "labels": {TEMPLATE_HASH_LABEL: "new"}}})),
            pod(json!({"metadata": {"name": "gw-new-a", "labels": {TEMPLATE_HASH_LABEL: "new"}}})),
            pod(json!({"metadata": {"name": "gw-old-a", "labels": {TEMPLATE_HASH_LABEL: "old"}}})),
            pod(json!({"metadata": {
                "name": "gw-new-c", "labels": {TEMPLATE_HASH_LABEL: "new"},
                "deletionTimestamp": "2026-01-01T00:00:00Z",
            }})),
        ];
        let names: Vec<String> = current_pods(Some("new"), &pods)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["gw-new-a", "gw-new-b"]);
        assert!(current_pods(None, &pods).is_empty());
    }
}

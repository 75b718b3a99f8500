//! The status of a source Deployment or Job in a management control plane, summed over its
//! copies in the workload clusters, as the Deployment and Job controllers would write it if
//! the whole fleet were one cluster.
//!
//! A management control plane (see [`ManagementMode::ControlPlane`]) runs no Deployment or
//! Job controller, so nobody else writes these statuses; with them, `kubectl get deploy`,
//! `kubectl rollout status` and `kubectl wait --for=condition=complete job/...` work on the
//! source as on one cluster, and `kubectl scale` (the scale subresource an HPA uses) changes
//! the fleet's total.
//!
//! **Deployment**: `replicas`, `updatedReplicas`, `readyReplicas`, `availableReplicas` are the
//! sums over the copies; `unavailableReplicas` what the target lacks of available replicas.
//! `observedGeneration` becomes the source's generation once every copy carries that
//! generation ([`SOURCE_GENERATION_ANNOTATION`]) and its own controller has observed it, so
//! that `kubectl rollout status` never reports a rollout done before the clusters took it.
//! `Available` is true when the available replicas reach the target less `maxUnavailable`
//! (25% by default, as Kubernetes rounds it: down); `Progressing` says `NewReplicaSetAvailable`
//! once every replica of the target is updated and available, `ReplicaSetUpdated` until then.
//!
//! **Job**: `active`, `ready`, `succeeded`, `failed` and `terminating` are sums; `startTime`
//! is the earliest copy's. It is `Complete` once every copy is (with `SuccessCriteriaMet`
//! before it, and `completionTime` the last copy's, as the API server demands), and `Failed`
//! once a copy failed (with `FailureTarget` before it), with that copy's reason.
//!
//! Conditions of other types on the source (such as fleetplan's own `FleetplanPlaced`) are
//! kept; a condition keeps its `lastTransitionTime` while its status stays the same.

use serde_json::{Map, Value, json};

/// The annotation on each copy naming the source generation it was made from.
pub const SOURCE_GENERATION_ANNOTATION: &str = "fleetplan.io/source-generation";

/// How the management cluster treats opted-in workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagementMode {
    /// An API server without the Deployment, ReplicaSet and Job controllers: fleetplan
    /// writes the sources' status, summed over the fleet.
    ControlPlane,
    /// A full cluster: its own controllers own the sources' status; their pods must be held
    /// by the scheduling gate (see the README), and fleetplan reports through annotations
    /// and its condition only.
    Cluster,
}

/// One copy of a source in a workload cluster, as read there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyState {
    /// The copy's `metadata.generation`.
    pub generation: i64,
    /// The source generation it was made from ([`SOURCE_GENERATION_ANNOTATION`]).
    pub source_generation: Option<i64>,
    /// The copy's `status`.
    pub status: Value,
}

fn int(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

fn sum(copies: &[CopyState], field: &str) -> i64 {
    copies.iter().map(|c| int(&c.status[field])).sum()
}

/// `maxUnavailable` of a Deployment's rolling update for `replicas`: 25% by default, a
/// percentage rounded down; 0 for `Recreate` or no replicas.
fn max_unavailable(source: &Value, replicas: i64) -> i64 {
    let strategy = &source["spec"]["strategy"];
    if strategy["type"].as_str() == Some("Recreate") || replicas == 0 {
        return 0;
    }
    match &strategy["rollingUpdate"]["maxUnavailable"] {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(0, |p| replicas * p / 100),
        _ => replicas * 25 / 100,
    }
    .clamp(0, replicas)
}

/// A condition, keeping the previous one's `lastTransitionTime` when its status is the same.
fn condition(previous: &Value, kind: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    let status = if status { "True" } else { "False" };
    let before = previous["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"].as_str() == Some(kind));
    let transition = before
        .filter(|c| c["status"].as_str() == Some(status))
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now);
    let mut c = json!({"type": kind, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": transition});
    if let Some(probe) = before.and_then(|c| c.get("lastUpdateTime")) {
        let same = before.is_some_and(|b| b["status"] == c["status"] && b["reason"] == c["reason"]);
        c["lastUpdateTime"] = if same { probe.clone() } else { json!(now) };
    }
    c
}

/// `computed` conditions, then the previous ones of other types.
fn conditions(previous: &Value, computed: Vec<Value>) -> Value {
    let mut all = computed;
    for c in previous["conditions"].as_array().into_iter().flatten() {
        if !all.iter().any(|n| n["type"] == c["type"]) {
            all.push(c.clone());
        }
    }
    Value::Array(all)
}

/// The fleet status of a source Deployment (`source` as read, with its current `status`)
/// from its copies; `now` is an RFC 3339 time for new transitions.
pub fn deployment_status(source: &Value, copies: &[CopyState], now: &str) -> Value {
    let previous = &source["status"];
    let generation = int(&source["metadata"]["generation"]);
    let target = source["spec"]["replicas"].as_i64().unwrap_or(1);
    let (replicas, updated, ready, available) = (
        sum(copies, "replicas"),
        sum(copies, "updatedReplicas"),
        sum(copies, "readyReplicas"),
        sum(copies, "availableReplicas"),
    );
    let observed = copies.iter().all(|c| {
        c.source_generation == Some(generation) && int(&c.status["observedGeneration"]) >= c.generation
    });
    let observed_generation = if observed {
        json!(generation)
    } else {
        previous.get("observedGeneration").cloned().unwrap_or(Value::Null)
    };
    let enough = available >= target - max_unavailable(source, target);
    let done = observed && updated >= target && replicas == updated && available >= updated;
    let name = source["metadata"]["name"].as_str().unwrap_or_default();
    let (reason, message) = if done {
        (
            "NewReplicaSetAvailable",
            format!("Deployment \"{name}\" has successfully progressed across the fleet."),
        )
    } else {
        (
            "ReplicaSetUpdated",
            format!("{updated} of {target} replicas updated across the fleet, {available} available."),
        )
    };
    let computed = vec![
        if enough {
            condition(
                previous,
                "Available",
                true,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            )
        } else {
            condition(
                previous,
                "Available",
                false,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            )
        },
        condition(previous, "Progressing", true, reason, &message, now),
    ];
    let mut status = Map::new();
    status.insert("observedGeneration".into(), observed_generation);
    status.insert("replicas".into(), json!(replicas));
    status.insert("updatedReplicas".into(), json!(updated));
    status.insert("readyReplicas".into(), json!(ready));
    status.insert("availableReplicas".into(), json!(available));
    status.insert("unavailableReplicas".into(), json!((target - available).max(0)));
    status.insert("conditions".into(), conditions(previous, computed));
    Value::Object(status)
}

/// Whether a status's condition `kind` is `True`.
fn has(status: &Value, kind: &str) -> bool {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"].as_str() == Some(kind) && c["status"].as_str() == Some("True"))
}

/// The fleet status of a source Job (`source` as read, with its current `status`) from its
/// copies; `now` is an RFC 3339 time for new transitions.
pub fn job_status(source: &Value, copies: &[CopyState], now: &str) -> Value {
    let previous = &source["status"];
    let mut status = Map::new();
    for field in ["active", "ready", "succeeded", "failed", "terminating"] {
        status.insert(field.into(), json!(sum(copies, field)));
    }
    // The API server refuses a change of a start or completion time once set: a Job whose
    // copy moved (a drain) keeps the times it had.
    let start = previous["startTime"]
        .as_str()
        .or_else(|| copies.iter().filter_map(|c| c.status["startTime"].as_str()).min());
    if let Some(start) = start {
        status.insert("startTime".into(), json!(start));
    }
    let failed = copies.iter().find(|c| has(&c.status, "Failed"));
    let complete = !copies.is_empty() && copies.iter().all(|c| has(&c.status, "Complete"));
    let mut computed = Vec::new();
    if let Some(copy) = failed {
        let reason = copy.status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"].as_str() == Some("Failed"))
            .and_then(|c| c["reason"].as_str())
            .unwrap_or("BackoffLimitExceeded");
        let message = "A copy of the Job in a workload cluster failed.";
        computed.push(condition(previous, "FailureTarget", true, reason, message, now));
        computed.push(condition(previous, "Failed", true, reason, message, now));
        status.insert("active".into(), json!(0));
    } else if complete {
        let message = "Every copy of the Job in the workload clusters completed.";
        computed.push(condition(
            previous,
            "SuccessCriteriaMet",
            true,
            "CompletionsReached",
            message,
            now,
        ));
        computed.push(condition(
            previous,
            "Complete",
            true,
            "CompletionsReached",
            message,
            now,
        ));
        let end = previous["completionTime"].as_str().unwrap_or_else(|| {
            copies
                .iter()
                .filter_map(|c| c.status["completionTime"].as_str())
                .max()
                .unwrap_or(now)
        });
        status.insert("completionTime".into(), json!(end));
        if !status.contains_key("startTime") {
            status.insert("startTime".into(), json!(end));
        }
    }
    if !computed.is_empty() || previous.get("conditions").is_some() {
        status.insert("conditions".into(), conditions(previous, computed));
    }
    Value::Object(status)
}

/// Whether writing `next` would change `current` (timestamps of unchanged conditions are
/// kept by construction, so a plain comparison of the fields written suffices).
pub fn changes(current: &Value, next: &Value) -> bool {
    next.as_object()
        .into_iter()
        .flatten()
        .any(|(k, v)| current.get(k) != Some(v) && !(v.is_null() && current.get(k).is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-12-04T00:00:00Z";

    fn condition_types(status: &Value) -> Vec<&str> {
        status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["type"].as_str())
            .collect()
    }

    fn copy(generation: i64, source: i64, status: Value) -> CopyState {
        CopyState {
            generation,
            source_generation: Some(source),
            status,
        }
    }

    fn web(replicas: i64, generation: i64) -> Value {
        json!({"metadata": {"name": "web", "generation": generation}, "spec": {"replicas": replicas},
               "status": {"conditions": [{"type": "FleetplanPlaced", "status": "True"}]}})
    }

    fn full(n: i64, generation: i64) -> Value {
        json!({"observedGeneration": generation, "replicas": n, "updatedReplicas": n, "readyReplicas": n,
               "availableReplicas": n})
    }

    #[test]
    fn a_rolled_out_fleet_sums_its_copies_and_is_done() {
        let status = deployment_status(&web(5, 3), &[copy(2, 3, full(3, 2)), copy(1, 3, full(2, 1))], NOW);
        assert_eq!(status["observedGeneration"], json!(3));
        assert_eq!(status["readyReplicas"], json!(5));
        assert_eq!(status["unavailableReplicas"], json!(0));
        let conditions = status["conditions"].as_array().unwrap();
        assert_eq!(conditions[0]["type"], json!("Available"));
        assert_eq!(conditions[0]["status"], json!("True"));
        assert_eq!(conditions[1]["reason"], json!("NewReplicaSetAvailable"));
        assert_eq!(
            conditions[2]["type"],
            json!("FleetplanPlaced"),
            "other conditions kept"
        );
    }

    #[test]
    fn the_generation_is_observed_only_once_every_copy_took_it() {
        let mut source = web(4, 7);
        source["status"]["observedGeneration"] = json!(6);
        let lagging = copy(2, 6, full(2, 2));
        let status = deployment_status(&source, &[copy(1, 7, full(2, 1)), lagging], NOW);
        assert_eq!(
            status["observedGeneration"],
            json!(6),
            "a copy is still of generation 6"
        );
        let unobserved = copy(2, 7, full(2, 1));
        let status = deployment_status(&source, &[copy(1, 7, full(2, 1)), unobserved], NOW);
        assert_eq!(
            status["observedGeneration"],
            json!(6),
            "its own controller has not seen it"
        );
        assert_eq!(status["conditions"][1]["reason"], json!("ReplicaSetUpdated"));
    }

    #[test]
    fn unplaced_replicas_keep_the_rollout_going_and_may_cost_availability() {
        let status = deployment_status(&web(8, 1), &[copy(1, 1, full(5, 1))], NOW);
        assert_eq!(status["unavailableReplicas"], json!(3));
        assert_eq!(status["conditions"][0]["status"], json!("False"), "5 < 8 - 2");
        assert_eq!(status["conditions"][1]["reason"], json!("ReplicaSetUpdated"));
        let status = deployment_status(&web(4, 1), &[copy(1, 1, full(3, 1))], NOW);
        assert_eq!(status["conditions"][0]["status"], json!("True"), "3 >= 4 - 1");
        let mut recreate = web(4, 1);
        recreate["spec"]["strategy"] = json!({"type": "Recreate"});
        let status = deployment_status(&recreate, &[copy(1, 1, full(3, 1))], NOW);
        assert_eq!(status["conditions"][0]["status"], json!("False"));
    }

    #[test]
    fn transitions_keep_their_time_while_the_status_holds() {
        let mut source = web(2, 1);
        source["status"]["conditions"] = json!([{"type": "Available", "status": "True",
            "lastTransitionTime": "2026-01-01T00:00:00Z", "lastUpdateTime": "2026-01-01T00:00:00Z",
            "reason": "MinimumReplicasAvailable"}]);
        let status = deployment_status(&source, &[copy(1, 1, full(2, 1))], NOW);
        assert_eq!(
            status["conditions"][0]["lastTransitionTime"],
            json!("2026-01-01T00:00:00Z")
        );
        assert!(!changes(
            &json!({"conditions": status["conditions"]}),
            &json!({"conditions": status["conditions"]})
        ));
    }

    #[test]
    fn a_job_completes_when_every_copy_has() {
        let source = json!({"metadata": {"name": "report"}, "spec": {"completions": 3}});
        let done = |start: &str, end: &str, n: i64| {
            copy(
                1,
                1,
                json!({"succeeded": n, "startTime": start, "completionTime": end,
                "conditions": [{"type": "Complete", "status": "True"}]}),
            )
        };
        let running = copy(1, 1, json!({"active": 1, "startTime": "2026-01-01T00:00:05Z"}));
        let status = job_status(
            &source,
            &[done("2026-01-01T00:00:01Z", "2026-01-01T00:01:00Z", 2), running],
            NOW,
        );
        assert_eq!(
            (status["active"].clone(), status["succeeded"].clone()),
            (json!(1), json!(2))
        );
        assert_eq!(status["startTime"], json!("2026-01-01T00:00:01Z"));
        assert!(status.get("completionTime").is_none() && status.get("conditions").is_none());
        let status = job_status(
            &source,
            &[
                done("2026-01-01T00:00:01Z", "2026-01-01T00:01:00Z", 2),
                done("2026-01-01T00:00:05Z", "2026-01-01T00:02:00Z", 1),
            ],
            NOW,
        );
        assert_eq!(status["completionTime"], json!("2026-01-01T00:02:00Z"));
        assert_eq!(condition_types(&status), ["SuccessCriteriaMet", "Complete"]);
        // A copy moved by a drain completes again later: the times the source has stay (the
        // API server refuses to change them).
        let completed = json!({"metadata": {"name": "report"}, "spec": {"completions": 3}, "status": status});
        let moved = job_status(
            &completed,
            &[
                done("2026-01-01T00:00:01Z", "2026-01-01T00:01:00Z", 2),
                done("2026-01-01T00:09:00Z", "2026-01-01T00:10:00Z", 1),
            ],
            NOW,
        );
        assert_eq!(moved["completionTime"], json!("2026-01-01T00:02:00Z"));
        assert_eq!(moved["startTime"], json!("2026-01-01T00:00:01Z"));
    }

    #[test]
    fn a_job_fails_when_a_copy_fails() {
        let source = json!({"metadata": {"name": "report"}, "spec": {}});
        let failed = copy(
            1,
            1,
            json!({"failed": 7, "active": 0,
            "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}),
        );
        let status = job_status(&source, &[failed], NOW);
        assert_eq!(condition_types(&status), ["FailureTarget", "Failed"]);
        assert_eq!(status["failed"], json!(7));
    }
}

//! What a source Deployment or Job says about its placement: the annotations
//! [`PLACEMENT`] (JSON: cluster -> replicas), [`READY`] (`ready/target` over the fleet) and
//! [`UNPLACED`] (how many could not be placed, and why, per cluster), and the one-line
//! summary its Events and its `FleetplanPlaced` condition carry.

use std::collections::BTreeMap;

use fleetplan::{Plan, Unplaced, WorkloadId};
use serde_json::{Value, json};

use crate::annotations::{PLACEMENT, READY, UNPLACED};

/// The condition type set on source Deployments: whether every replica is placed.
pub const PLACED_CONDITION: &str = "FleetplanPlaced";

/// What one source should show after a pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceReport {
    /// [`PLACEMENT`]: compact JSON, clusters in name order.
    pub placement: String,
    /// [`READY`]: Ready replicas over the fleet, then the target.
    pub ready: String,
    /// [`UNPLACED`]: absent when every replica is placed.
    pub unplaced: Option<String>,
    /// `N replica(s): a 2, b 1`, for the `Placed` Event and the condition.
    pub summary: String,
}

/// Why replicas of one workload are unplaced, as one line: `cluster: reason; ...`.
pub fn reasons(unplaced: &Unplaced) -> String {
    let reasons: Vec<String> = unplaced
        .reasons
        .iter()
        .map(|r| format!("{}: {}", r.cluster, r.reason))
        .collect();
    reasons.join("; ")
}

impl SourceReport {
    /// The report of source `id` (written as `object`) under `plan`, with `ready` of its
    /// replicas Ready over the fleet. The target is a Deployment's `replicas` or a Job's
    /// `parallelism`, both 1 when unset.
    pub fn of(plan: &Plan, id: &WorkloadId, object: &Value, ready: u32) -> SourceReport {
        let placed: BTreeMap<&str, u32> = plan
            .placements
            .iter()
            .filter(|p| &p.workload == id)
            .map(|p| (p.cluster.as_str(), p.replicas))
            .collect();
        let spec = &object["spec"];
        let target = spec["replicas"]
            .as_u64()
            .or_else(|| spec["parallelism"].as_u64())
            .unwrap_or(1);
        let unplaced = plan
            .unplaced
            .iter()
            .find(|u| &u.workload == id)
            .map(|u| format!("{} replica(s) unplaced; {}", u.replicas, reasons(u)));
        let spread: Vec<String> = placed.iter().map(|(c, n)| format!("{c} {n}")).collect();
        SourceReport {
            placement: serde_json::to_string(&placed).unwrap_or_default(),
            ready: format!("{ready}/{target}"),
            unplaced,
            summary: format!(
                "{} replica(s): {}",
                placed.values().sum::<u32>(),
                spread.join(", ")
            ),
        }
    }

    /// Whether the placement or the unplaced reason differ from what `object` shows (then
    /// an Event and the condition are due).
    pub fn plan_changed(&self, object: &Value) -> bool {
        let annotations = &object["metadata"]["annotations"];
        annotations[PLACEMENT].as_str() != Some(self.placement.as_str())
            || annotations[UNPLACED].as_str() != self.unplaced.as_deref()
    }

    /// Whether anything differs from what `object` shows (then the annotations are written).
    pub fn changed(&self, object: &Value) -> bool {
        self.plan_changed(object)
            || object["metadata"]["annotations"][READY].as_str() != Some(self.ready.as_str())
    }

    /// The merge patch writing the three annotations (a `null` removes [`UNPLACED`]).
    pub fn patch(&self) -> Value {
        json!({"metadata": {"annotations": {
            PLACEMENT: self.placement,
            UNPLACED: self.unplaced,
            READY: self.ready,
        }}})
    }
}

#[cfg(test)]
mod tests {
    use fleetplan::{ClusterReason, Placement, PoolReplicas, Reason};

    use super::*;

    fn plan(placed: &[(&str, u32)], unplaced: u32) -> Plan {
        let web = WorkloadId::new("shop", "web");
        let mut plan = Plan::default();
        for (cluster, replicas) in placed {
            plan.placements.push(Placement {
                workload: web.clone(),
                cluster: (*cluster).into(),
                region: "r".into(),
                replicas: *replicas,
                pools: vec![PoolReplicas {
                    pool: "p".into(),
                    replicas: *replicas,
                }],
            });
        }
        if unplaced > 0 {
            plan.unplaced.push(Unplaced {
                workload: web,
                replicas: unplaced,
                reasons: vec![ClusterReason {
                    cluster: "b".into(),
                    reason: Reason::ClusterDraining,
                }],
            });
        }
        plan
    }

    #[test]
    fn a_report_says_where_how_many_are_ready_and_why_some_are_not_placed() {
        let web = WorkloadId::new("shop", "web");
        let source = json!({"spec": {"replicas": 5}});
        let report = SourceReport::of(&plan(&[("b", 1), ("a", 3)], 1), &web, &source, 2);
        assert_eq!(report.placement, r#"{"a":3,"b":1}"#);
        assert_eq!(report.ready, "2/5");
        assert_eq!(report.summary, "4 replica(s): a 3, b 1");
        let unplaced = report.unplaced.clone().expect("unplaced");
        assert!(unplaced.starts_with("1 replica(s) unplaced; b: "), "{unplaced}");
        // A Job's target is its parallelism; nothing else set means 1.
        let job = SourceReport::of(&plan(&[], 0), &web, &json!({"spec": {"parallelism": 4}}), 0);
        assert_eq!((job.ready.as_str(), job.unplaced), ("0/4", None));
        assert_eq!(SourceReport::of(&plan(&[], 0), &web, &json!({}), 0).ready, "0/1");
    }

    #[test]
    fn only_a_change_is_written_and_only_a_plan_change_is_an_event() {
        let web = WorkloadId::new("shop", "web");
        let report = SourceReport::of(&plan(&[("a", 2)], 0), &web, &json!({"spec": {"replicas": 2}}), 2);
        let shown = json!({"metadata": {"annotations": report.patch()["metadata"]["annotations"]}});
        assert!(!report.changed(&shown) && !report.plan_changed(&shown));
        let mut fewer_ready = shown.clone();
        fewer_ready["metadata"]["annotations"][READY] = json!("1/2");
        assert!(report.changed(&fewer_ready) && !report.plan_changed(&fewer_ready));
        assert!(report.plan_changed(&json!({})));
        assert_eq!(
            report.patch()["metadata"]["annotations"][UNPLACED],
            Value::Null,
            "removed when all are placed"
        );
    }
}

//! Properties of what-if simulation on random fleets: a failure moves exactly the failed
//! cluster's replicas, recovery with `stay` moves nothing, and a drain empties the cluster
//! make-before-break without the ready replicas ever dropping below the target minus
//! `maxUnavailable` (when the other clusters have room for them).

mod common;

use std::collections::BTreeMap;

use common::Shape;
use fleetplan::simulate::{Action, Disruption, Operation, RecoveryPolicy, Simulation, Step};
use fleetplan::{Health, PlanOptions, Problem, SolverChoice};
use proptest::prelude::*;

fn start(problem: Problem, recovery: RecoveryPolicy, disruption: Disruption) -> (Simulation, Step) {
    let options = PlanOptions {
        solver: SolverChoice::Fast,
        ..PlanOptions::default()
    };
    Simulation::new(problem, options, recovery, disruption).expect("a valid problem")
}

/// Replicas per (workload, cluster) of a plan.
fn counts(step: &Step) -> BTreeMap<(String, String), u32> {
    step.plan
        .placements
        .iter()
        .map(|p| ((p.workload.to_string(), p.cluster.to_string()), p.replicas))
        .collect()
}

/// The first cluster (by index from `pick`) that is Ready and holds replicas after `step`.
fn holding(problem: &Problem, step: &Step, pick: usize) -> Option<String> {
    let mut names: Vec<String> = problem
        .clusters
        .iter()
        .filter(|c| c.health == Health::Ready)
        .map(|c| c.name.to_string())
        .filter(|n| step.plan.placements.iter().any(|p| p.cluster.as_str() == n))
        .collect();
    names.sort();
    names.dedup();
    (!names.is_empty()).then(|| names[pick % names.len()].clone())
}

proptest! {
    #![proptest_config(common::config(200))]

    #[test]
    fn a_failure_moves_exactly_the_failed_clusters_replicas(problem in common::problem(Shape::FULL), pick in 0..8usize) {
        let (mut sim, first) = start(problem, RecoveryPolicy::Stay, Disruption::default());
        let Some(failed) = holding(&sim.problem, &first, pick) else { return Ok(()) };
        let before = counts(&first);
        let step = sim.step(&[Operation::Fail { cluster: failed.clone() }]).unwrap();
        let after = counts(&step);
        // No replica on another cluster goes away.
        for ((w, c), &n) in &before {
            if *c != failed {
                let now = after.get(&(w.clone(), c.clone())).copied().unwrap_or(0);
                prop_assert!(now >= n, "{w} in {c}: {n} before, {now} after failing {failed}");
            }
        }
        prop_assert!(after.keys().all(|(_, c)| *c != failed));
        let on_failed: u64 = before.iter().filter(|((_, c), _)| *c == failed).map(|(_, &n)| u64::from(n)).sum();
        prop_assert_eq!(step.lost, on_failed);
        prop_assert_eq!(step.moved, 0);
        // Exactly the lost replicas are placed again when capacity allows.
        let placed_before = first.plan.summary.placed;
        if step.plan.summary.unplaced == first.plan.summary.unplaced {
            prop_assert_eq!(step.plan.summary.placed, placed_before);
            let grown: u64 = step.changes.iter().filter(|c| c.after > c.before).map(|c| u64::from(c.after - c.before)).sum();
            prop_assert_eq!(grown, on_failed);
        }
        // Replacements are plain growths, no shrinking elsewhere.
        let only_grows = step.actions.iter().all(|a| matches!(a, Action::Grow { .. }));
        prop_assert!(only_grows, "{:?}", step.actions);
    }

    #[test]
    fn recovery_with_stay_moves_nothing(problem in common::problem(Shape::FULL), pick in 0..8usize) {
        let (mut sim, first) = start(problem, RecoveryPolicy::Stay, Disruption::default());
        let Some(failed) = holding(&sim.problem, &first, pick) else { return Ok(()) };
        let failed_step = sim.step(&[Operation::Fail { cluster: failed.clone() }]).unwrap();
        let recovered = sim.step(&[Operation::Recover { cluster: failed }]).unwrap();
        prop_assert_eq!(recovered.moved, 0);
        prop_assert!(recovered.changes.iter().all(|c| c.after >= c.before), "{:?}", recovered.changes);
        if failed_step.plan.summary.unplaced == 0 {
            prop_assert!(recovered.changes.is_empty(), "{:?}", recovered.changes);
        }
    }

    #[test]
    fn a_drain_empties_the_cluster_make_before_break(
        problem in common::problem(Shape::FULL),
        pick in 0..8usize,
        surge in 1..4u32,
        unavailable in 0..3u32,
    ) {
        let disruption = Disruption { max_surge: surge, max_unavailable: unavailable };
        let (mut sim, first) = start(problem, RecoveryPolicy::Stay, disruption);
        let Some(drained) = holding(&sim.problem, &first, pick) else { return Ok(()) };
        let before = counts(&first);
        let step = sim.step(&[Operation::Drain { cluster: drained.clone() }]).unwrap();
        prop_assert!(step.plan.placements.iter().all(|p| p.cluster.as_str() != drained));
        prop_assert_eq!(step.lost, 0);
        // Walk the actions: ready replicas per workload never drop below where they started
        // minus maxUnavailable.
        let mut ready: BTreeMap<String, i64> = BTreeMap::new();
        for ((w, _), &n) in &before {
            *ready.entry(w.clone()).or_default() += i64::from(n);
        }
        let floor: BTreeMap<String, i64> = ready.iter().map(|(w, &n)| (w.clone(), n - i64::from(unavailable))).collect();
        let mut pending: BTreeMap<String, i64> = BTreeMap::new();
        for action in &step.actions {
            match action {
                Action::Grow { workload, replicas, .. } => *pending.entry(workload.clone()).or_default() += i64::from(*replicas),
                Action::WaitReady { workload, .. } => {
                    let p = pending.remove(workload).unwrap_or(0);
                    *ready.entry(workload.clone()).or_default() += p;
                }
                Action::Shrink { workload, replicas, .. } => {
                    let r = ready.entry(workload.clone()).or_default();
                    *r -= i64::from(*replicas);
                    // A workload with nowhere to go for some replicas reports them unplaced.
                    let id = fleetplan::WorkloadId::new(
                        workload.split_once('/').unwrap().0,
                        workload.split_once('/').unwrap().1,
                    );
                    if step.plan.placed(&id) >= first.plan.placed(&id) {
                        prop_assert!(*r >= floor[workload], "{workload}: {r} ready, floor {}", floor[workload]);
                    }
                }
            }
        }
    }
}

#[test]
fn max_unavailable_lets_old_replicas_stop_before_the_new_ones_are_ready() {
    use fleetplan::{Cluster, NodePool, Resources, Workload};
    let fleet = || {
        let node = Resources::new().with("cpu", 8000).with("pods", 110);
        ["a", "b"]
            .iter()
            .map(|name| {
                let mut c = Cluster::new(name, "r");
                c.pools.push(NodePool::uniform("p", 1, node.clone()));
                c
            })
            .collect::<Vec<_>>()
    };
    let kinds = |unavailable: u32| -> Vec<&'static str> {
        let problem = Problem {
            clusters: fleet(),
            workloads: vec![Workload::new("ns", "w", 4, Resources::new().with("cpu", 100))],
            ..Problem::default()
        };
        let disruption = Disruption {
            max_surge: 1,
            max_unavailable: unavailable,
        };
        let (mut sim, _) = start(problem, RecoveryPolicy::Stay, disruption);
        let step = sim.step(&[Operation::Drain { cluster: "a".into() }]).unwrap();
        step.actions
            .iter()
            .map(|a| match a {
                Action::Grow { .. } => "grow",
                Action::WaitReady { .. } => "wait",
                Action::Shrink { .. } => "shrink",
            })
            .collect()
    };
    assert_eq!(kinds(0), ["grow", "wait", "shrink", "grow", "wait", "shrink"]);
    assert_eq!(kinds(1), ["grow", "shrink", "wait", "shrink", "grow"]);
}

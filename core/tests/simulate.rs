//! Properties of what-if simulation on random fleets: a failure moves exactly the failed
//! cluster's replicas, recovery with `stay` moves nothing, and a drain empties the cluster
//! make-before-break without the ready replicas ever dropping below the target minus
//! `maxUnavailable` (when the other clusters have room for them).

mod common;

use std::collections::BTreeMap;

use common::Shape;
use fleetplan::simulate::{Action, Disruption, Operation, RecoveryPolicy};
use fleetplan::{Health, Plan, PlanOptions, Problem, SolverChoice};
use proptest::prelude::*;

/// Replicas per (workload, cluster) of a plan.
fn counts(plan: &Plan) -> BTreeMap<(String, String), u32> {
    plan.placements
        .iter()
        .map(|p| ((p.workload.to_string(), p.cluster.to_string()), p.replicas))
        .collect()
}

proptest! {
    #![proptest_config(common::config(200))]

    #[test]
    fn a_failure_moves_exactly_the_failed_clusters_replicas(problem in common::problem(Shape::FULL), pick in 0..8usize) {
        let (mut sim, first) = common::start_simulation(problem, RecoveryPolicy::Stay, Disruption::default());
        let Some(failed) = common::holding(&sim.fleet(), &first, pick) else { return Ok(()) };
        let before = counts(&first);
        let step = sim.step(&[Operation::Fail { cluster: failed.clone() }]).unwrap();
        let after = counts(&sim.plan());
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
        let placed_before = first.summary.placed;
        if step.summary.unplaced == first.summary.unplaced {
            prop_assert_eq!(step.summary.placed, placed_before);
            let grown: u64 = step.changes.iter().filter(|c| c.after > c.before).map(|c| u64::from(c.after - c.before)).sum();
            prop_assert_eq!(grown, on_failed);
        }
        // Replacements are plain growths, no shrinking elsewhere.
        let only_grows = step.actions.iter().all(|a| matches!(a, Action::Grow { .. }));
        prop_assert!(only_grows, "{:?}", step.actions);
    }

    #[test]
    fn an_incremental_step_plans_what_a_full_re_plan_does(
        problem in common::problem(Shape::FULL),
        pick in 0..8usize,
        drain in any::<bool>(),
        scale in proptest::option::of((0..8usize, 0..40u32)),
    ) {
        let (mut sim, first) = common::start_simulation(problem, RecoveryPolicy::Stay, Disruption::default());
        let Some(failed) = common::holding(&sim.fleet(), &first, pick) else { return Ok(()) };
        let mut fleet = sim.fleet();
        let mut ops = vec![if drain {
            Operation::Drain { cluster: failed.clone() }
        } else {
            Operation::Fail { cluster: failed.clone() }
        }];
        if let Some((w, replicas)) = scale {
            let n = fleet.workloads.len();
            let w = &mut fleet.workloads[w % n];
            w.replicas = replicas;
            ops.push(Operation::Scale { workload: w.id.to_string(), replicas });
        }
        let step = sim.step(&ops).unwrap();
        // The same fleet planned whole, from the same running replicas.
        for c in &mut fleet.clusters {
            if c.name.as_str() == failed {
                c.health = if drain { Health::Draining } else { Health::NotReady };
            }
        }
        if !drain {
            fleet.current.retain(|r| r.cluster.as_str() != failed);
        }
        let options = PlanOptions { solver: SolverChoice::Fast, ..PlanOptions::default() };
        let whole = fleetplan::plan(&fleet, &options).unwrap();
        let incremental = sim.plan();
        prop_assert_eq!(&incremental.placements, &whole.placements);
        prop_assert_eq!(&incremental.unplaced, &whole.unplaced);
        prop_assert_eq!(&incremental.costs, &whole.costs);
        prop_assert_eq!(&step.summary, &whole.summary);
    }

    #[test]
    fn recovery_with_stay_moves_nothing(problem in common::problem(Shape::FULL), pick in 0..8usize) {
        let (mut sim, first) = common::start_simulation(problem, RecoveryPolicy::Stay, Disruption::default());
        let Some(failed) = common::holding(&sim.fleet(), &first, pick) else { return Ok(()) };
        let failed_step = sim.step(&[Operation::Fail { cluster: failed.clone() }]).unwrap();
        let recovered = sim.step(&[Operation::Recover { cluster: failed }]).unwrap();
        prop_assert_eq!(recovered.moved, 0);
        prop_assert!(recovered.changes.iter().all(|c| c.after >= c.before), "{:?}", recovered.changes);
        if failed_step.summary.unplaced == 0 {
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
        let (mut sim, first) = common::start_simulation(problem, RecoveryPolicy::Stay, disruption);
        let Some(drained) = common::holding(&sim.fleet(), &first, pick) else { return Ok(()) };
        let before = counts(&first);
        let step = sim.step(&[Operation::Drain { cluster: drained.clone() }]).unwrap();
        let after = sim.plan();
        prop_assert!(after.placements.iter().all(|p| p.cluster.as_str() != drained));
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
                    if after.placed(&id) >= first.placed(&id) {
                        prop_assert!(*r >= floor[workload], "{workload}: {r} ready, floor {}", floor[workload]);
                    }
                }
                _ => {}
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
        let (mut sim, _) = common::start_simulation(problem, RecoveryPolicy::Stay, disruption);
        let step = sim.step(&[Operation::Drain { cluster: "a".into() }]).unwrap();
        step.actions
            .iter()
            .map(|a| match a {
                Action::Grow { .. } => "grow",
                Action::WaitReady { .. } => "wait",
                Action::Shrink { .. } => "shrink",
                Action::SetWeight { .. } | Action::RemoveRecord { .. } | Action::WaitTtl { .. } => "traffic",
            })
            .collect()
    };
    assert_eq!(kinds(0), ["grow", "wait", "shrink", "grow", "wait", "shrink"]);
    assert_eq!(kinds(1), ["grow", "shrink", "wait", "shrink", "grow"]);
}

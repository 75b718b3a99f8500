//! Smoke tests of the synthetic generator: determinism, the presets' shape, and plans whose
//! totals add up.

use std::collections::HashMap;

use fleetplan::{PlanOptions, Problem, WorkloadId, plan};
use fleetplan_benches::{SyntheticSpec, distinct_rule_sets, synthetic};

fn json(problem: &Problem) -> String {
    serde_json::to_string(problem).expect("a problem serialises")
}

#[test]
fn the_same_seed_gives_the_same_problem() {
    for spec in [SyntheticSpec::small(), SyntheticSpec::small().with_running(0.5)] {
        let a = synthetic(&spec, 42);
        let b = synthetic(&spec, 42);
        assert_eq!(json(&a), json(&b));
        assert_ne!(json(&a), json(&synthetic(&spec, 43)));
    }
}

#[test]
fn a_current_state_leaves_the_fleet_layout_and_the_workloads_unchanged() {
    let fresh = synthetic(&SyntheticSpec::small(), 7);
    let running = synthetic(&SyntheticSpec::small().with_running(0.5), 7);
    assert!(fresh.current.is_empty());
    assert!(!running.current.is_empty());
    assert_eq!(fresh.workloads, running.workloads);
    let layout = |p: &Problem| -> Vec<(String, String, u64)> {
        p.clusters
            .iter()
            .flat_map(|c| {
                c.pools
                    .iter()
                    .map(|p| (c.name.to_string(), p.name.to_string(), p.node_count()))
            })
            .collect()
    };
    assert_eq!(layout(&fresh), layout(&running));
}

#[test]
fn the_small_preset_plans_and_adds_up() {
    let spec = SyntheticSpec::small();
    for problem in [
        synthetic(&spec, 42),
        synthetic(&spec.clone().with_running(0.5), 42),
    ] {
        problem.validate().unwrap();
        assert_eq!(problem.clusters.len(), 10);
        assert!(problem.clusters.iter().all(|c| c.pools.len() == 5));
        assert_eq!(problem.workloads.len(), 100);
        let target: u64 = problem.workloads.iter().map(|w| u64::from(w.replicas)).sum();
        assert_eq!(target, 10_000);

        let plan = plan(&problem, &PlanOptions::default()).unwrap();
        let s = &plan.summary;
        assert_eq!(s.target, target);
        assert_eq!(s.placed + s.unplaced, s.target);
        // Most replicas fit: the fleet is sized to its demand.
        assert!(
            s.placed * 100 >= s.target * 85,
            "only {} of {} placed",
            s.placed,
            s.target
        );

        let mut placed: HashMap<&WorkloadId, u64> = HashMap::new();
        for p in &plan.placements {
            assert_eq!(p.replicas, p.pools.iter().map(|q| q.replicas).sum::<u32>());
            *placed.entry(&p.workload).or_default() += u64::from(p.replicas);
        }
        assert_eq!(placed.values().sum::<u64>(), s.placed);
        for w in &problem.workloads {
            let got = placed.get(&w.id).copied().unwrap_or(0) + u64::from(plan.unplaced(&w.id));
            assert_eq!(got, u64::from(w.replicas), "{}", w.id);
        }
    }
}

#[test]
fn the_million_preset_has_the_promised_shape() {
    let problem = synthetic(&SyntheticSpec::million(), 42);
    assert_eq!(problem.clusters.len(), 100);
    assert_eq!(
        problem.clusters.iter().map(|c| c.pools.len()).sum::<usize>(),
        2000
    );
    assert_eq!(problem.workloads.len(), 10_000);
    let target: u64 = problem.workloads.iter().map(|w| u64::from(w.replicas)).sum();
    assert_eq!(target, 1_000_000);
    let rule_sets = distinct_rule_sets(&problem);
    assert!((10..=300).contains(&rule_sets), "{rule_sets} rule sets");
    let regions: std::collections::BTreeSet<&str> =
        problem.clusters.iter().map(|c| c.region.as_str()).collect();
    assert_eq!(regions.len(), 10);
    assert!(regions.contains("us-east-1") && regions.contains("eu-west-1"));
}

//! Criterion benchmarks of what-if simulation on the million-replica fleet (100 clusters):
//!
//! - `failover/one_of_100_clusters_fails`: one simulation step in which the busiest cluster
//!   fails and its replicas are placed again from the current placement (the fast planner,
//!   replicas elsewhere kept), including the step's bookkeeping (moves, actions).
//! - `failover/replan_keeping_replicas`: the planner's part of that step alone.
//! - `failover/full_replan_after_failure`: the same fleet with that cluster down planned from
//!   scratch, with no replica running, for comparison.
//!
//! Building the fleet and the first placement is never timed.

use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode};
use fleetplan::simulate::{Disruption, Operation, RecoveryPolicy, Simulation};
use fleetplan::{Health, PlanOptions, SolverChoice, plan};
use fleetplan_benches::{SyntheticSpec, synthetic};

const SEED: u64 = 42;

fn main() {
    let problem = synthetic(&SyntheticSpec::million(), SEED);
    let options = PlanOptions {
        solver: SolverChoice::Fast,
        ..PlanOptions::default()
    };
    let (sim, first) = Simulation::new(
        problem,
        options.clone(),
        RecoveryPolicy::Stay,
        Disruption::default(),
    )
    .expect("a valid fleet");
    // The cluster holding the most replicas.
    let mut per_cluster: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for p in &first.plan.placements {
        *per_cluster.entry(p.cluster.to_string()).or_default() += u64::from(p.replicas);
    }
    let (busiest, held) = per_cluster
        .into_iter()
        .max_by_key(|&(_, n)| n)
        .expect("a placement");
    println!(
        "failover: {busiest} holds {held} of {} replicas",
        first.plan.summary.placed
    );
    let fail = [Operation::Fail {
        cluster: busiest.clone(),
    }];
    let mut kept = sim.problem.clone();
    for c in &mut kept.clusters {
        if c.name.as_str() == busiest {
            c.health = Health::NotReady;
        }
    }
    let mut after = sim.problem.clone();
    after.current.clear();
    for c in &mut after.clusters {
        if c.name.as_str() == busiest {
            c.health = Health::NotReady;
        }
    }

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("failover");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    group.bench_function("one_of_100_clusters_fails", |b| {
        b.iter_batched(
            || sim.clone(),
            |mut sim| sim.step(&fail).expect("a known cluster"),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("replan_keeping_replicas", |b| {
        b.iter_with_large_drop(|| plan(&kept, &options).expect("a valid fleet"));
    });
    group.bench_function("full_replan_after_failure", |b| {
        b.iter_with_large_drop(|| plan(&after, &options).expect("a valid fleet"));
    });
    group.finish();
    c.final_summary();
}

//! Criterion benchmarks of what-if simulation on the million-replica fleet (100 clusters):
//!
//! - `failover/one_of_100_clusters_fails`: one simulation step in which the busiest cluster
//!   fails and only the workloads it held are planned again from the current placement (the
//!   fast planner's kept state), including the step's bookkeeping (changes, actions).
//! - `failover/full_replan_keeping_replicas`: the same fleet after the failure planned whole
//!   by the fast planner, every running replica kept where it is (what the step computes,
//!   done the non-incremental way).
//! - `failover/full_replan_from_scratch`: the same fleet planned with no replica running.
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
    let (sim, _) = Simulation::new(
        problem,
        options.clone(),
        RecoveryPolicy::Stay,
        Disruption::default(),
    )
    .expect("a valid fleet");
    // The cluster holding the most replicas.
    let mut per_cluster: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let start = sim.plan();
    for p in &start.placements {
        *per_cluster.entry(p.cluster.to_string()).or_default() += u64::from(p.replicas);
    }
    let (busiest, held) = per_cluster
        .into_iter()
        .max_by_key(|&(_, n)| n)
        .expect("a placement");
    println!(
        "failover: {busiest} holds {held} of {} replicas",
        start.summary.placed
    );
    let fail = [Operation::Fail {
        cluster: busiest.clone(),
    }];
    let mut kept = sim.fleet();
    kept.current.retain(|r| r.cluster.as_str() != busiest);
    for c in &mut kept.clusters {
        if c.name.as_str() == busiest {
            c.health = Health::NotReady;
        }
    }
    let mut after = sim.fleet();
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
        // The simulation is cloned before and dropped after each step, untimed.
        b.iter_batched_ref(
            || sim.clone(),
            |sim| sim.step(&fail).expect("a known cluster"),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("full_replan_keeping_replicas", |b| {
        b.iter_with_large_drop(|| plan(&kept, &options).expect("a valid fleet"));
    });
    group.bench_function("full_replan_from_scratch", |b| {
        b.iter_with_large_drop(|| plan(&after, &options).expect("a valid fleet"));
    });
    group.finish();
    c.final_summary();
}

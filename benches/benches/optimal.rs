//! Criterion benchmarks of the optimal solvers, each named after the question it answers:
//!
//! - `optimal/flow_10k_workloads_100_clusters`: how long does the min-cost-flow solver take
//!   on 10,000 workloads over 100 clusters (200,000 replicas), fast warm start included?
//! - `optimal/exact_500_workloads_20_clusters`: how long does the MILP take on 500 workloads
//!   over 20 clusters with minimums, maximums and gangs (10 s time limit)?
//! - `optimal/flow_3_workloads_100k_clusters`: does the flow solver (model, network, scoring)
//!   stay linear in clusters on a fleet of 100,000 one-pool clusters and 150,000 replicas?
//!
//! Each prints the solver statistics of one run first (score, bound, gap, model size).
//! `cargo bench -p fleetplan-benches --bench optimal` takes about seven minutes on two cores.

use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use fleetplan::{PlanOptions, Problem, SolverChoice, solve};
use fleetplan_benches::optimal::{exact_instance, flow_instance, wide_instance};

const SEED: u64 = 42;

fn report(name: &str, problem: &Problem, options: &PlanOptions) {
    let plan = solve(problem, options).expect("valid problem");
    let s = plan.solver.expect("statistics");
    println!(
        "{name}: solver {} in {:.0} ms, score {:.1}, bound {:?}, gap {:?}, proven {}, size {}, unplaced {}{}",
        s.solver,
        s.millis,
        s.objective.total,
        s.bound,
        s.gap,
        s.proven_optimal,
        s.size,
        s.objective.unplaced,
        s.note.map(|n| format!(" ({n})")).unwrap_or_default()
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let flow = flow_instance(SEED);
    let exact = exact_instance(SEED);
    let wide = wide_instance(SEED);
    let flow_options = PlanOptions {
        solver: SolverChoice::Flow,
        ..PlanOptions::default()
    };
    let exact_options = PlanOptions {
        solver: SolverChoice::Exact,
        ..PlanOptions::default()
    };
    let fast_options = PlanOptions {
        solver: SolverChoice::Fast,
        ..PlanOptions::default()
    };
    report("flow instance, fast", &flow, &fast_options);
    report("flow instance, flow", &flow, &flow_options);
    report("exact instance, fast", &exact, &fast_options);
    report("exact instance, exact", &exact, &exact_options);
    report("wide instance, flow", &wide, &flow_options);

    let mut group = c.benchmark_group("optimal");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("flow_10k_workloads_100_clusters", |b| {
        b.iter_with_large_drop(|| solve(&flow, &flow_options).expect("valid problem"));
    });
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("exact_500_workloads_20_clusters", |b| {
        b.iter_with_large_drop(|| solve(&exact, &exact_options).expect("valid problem"));
    });
    group.measurement_time(Duration::from_secs(40));
    group.bench_function("flow_3_workloads_100k_clusters", |b| {
        b.iter_with_large_drop(|| solve(&wide, &flow_options).expect("valid problem"));
    });
    group.finish();
    c.final_summary();
}

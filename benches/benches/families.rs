//! Criterion benchmarks per solver and per planning phase on the harness's families (see
//! `fleetplan_benches::Family`), each named after the question it answers:
//!
//! - `solvers/<family>/<runner>`: how long does each of our engines take on the family's
//!   10,000-replica instance? Runners: `fast` (`plan()`), `fast_scored` (`solve()`, which adds
//!   the score), `flow`, `mcf` (the network simplex alone on the flow solver's network),
//!   `pod_loop` (the one-pod-at-a-time peer), and `exact` on the 1,000-replica instance.
//! - `phases/<phase>`: how long does each phase of the fast planner take on the skewed-sizes
//!   family's 1,000,000-replica instance? Phases: `index`, `candidates`, `distribute`,
//!   `assemble`, and `score` (what `solve()` adds).
//!
//! Generating instances is never timed. `cargo bench -p fleetplan-benches --bench families`
//! takes about six minutes on two cores.

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use fleetplan::optimize::export;
use fleetplan::optimize::min_cost_flow::min_cost_flow;
use fleetplan::{PhaseTimings, PlanOptions, SolverChoice, Weights, evaluate, plan, plan_with_timings, solve};
use fleetplan_benches::Family;
use fleetplan_benches::pod_loop::PodLoop;

const SEED: u64 = 1;

fn options(solver: SolverChoice) -> PlanOptions {
    PlanOptions {
        solver,
        time_limit: Duration::from_secs(10),
        ..PlanOptions::default()
    }
}

fn bench_solvers(c: &mut Criterion) {
    let mut group = c.benchmark_group("solvers");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sampling_mode(SamplingMode::Flat);
    for family in Family::ALL {
        let problem = family.instance(10_000, SEED);
        let small = family.instance(1_000, SEED);
        let network = export::flow_network(&problem, Weights::default()).expect("valid problem");
        let name = family.name();
        group.bench_function(format!("{name}/fast"), |b| {
            b.iter_with_large_drop(|| plan(&problem, &options(SolverChoice::Fast)).expect("valid problem"));
        });
        group.bench_function(format!("{name}/fast_scored"), |b| {
            b.iter_with_large_drop(|| solve(&problem, &options(SolverChoice::Fast)).expect("valid problem"));
        });
        group.bench_function(format!("{name}/flow"), |b| {
            b.iter_with_large_drop(|| solve(&problem, &options(SolverChoice::Flow)).expect("valid problem"));
        });
        group.bench_function(format!("{name}/mcf"), |b| {
            b.iter_with_large_drop(|| min_cost_flow(&network).expect("a feasible network"));
        });
        group.bench_function(format!("{name}/pod_loop"), |b| {
            b.iter_with_large_drop(|| {
                let mut pods = PodLoop::new(&problem);
                pods.schedule_all();
                pods.placed()
            });
        });
        group.bench_function(format!("{name}/exact"), |b| {
            b.iter_with_large_drop(|| solve(&small, &options(SolverChoice::Exact)).expect("valid problem"));
        });
    }
    group.finish();
}

/// Picks one phase's duration out of a plan's timings.
type PhasePick = fn(&PhaseTimings) -> Duration;

/// One phase's duration, as criterion's custom timing: the sum over `iters` plans.
fn phase(problem: &fleetplan::Problem, iters: u64, pick: PhasePick) -> Duration {
    (0..iters)
        .map(|_| {
            pick(
                &plan_with_timings(problem, &PlanOptions::default())
                    .expect("valid problem")
                    .1,
            )
        })
        .sum()
}

fn bench_phases(c: &mut Criterion) {
    let problem = Family::SkewedSizes.instance(1_000_000, SEED);
    let mut group = c.benchmark_group("phases");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .sampling_mode(SamplingMode::Flat);
    let phases: [(&str, PhasePick); 4] = [
        ("index", |t| t.index),
        ("candidates", |t| t.candidates),
        ("distribute", |t| t.distribute),
        ("assemble", |t| t.assemble),
    ];
    for (name, pick) in phases {
        group.bench_function(name, |b| b.iter_custom(|iters| phase(&problem, iters, pick)));
    }
    let planned = plan(&problem, &PlanOptions::default()).expect("valid problem");
    group.bench_function("score", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                evaluate(&problem, &planned, &PlanOptions::default()).expect("valid problem");
            }
            started.elapsed()
        });
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_solvers(&mut criterion);
    bench_phases(&mut criterion);
    criterion.final_summary();
}

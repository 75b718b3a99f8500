//! Criterion benchmarks of the fast planner on synthetic fleets, each named after the
//! question it answers:
//!
//! - `plan/small_full`: how long does a 10,000-replica fleet take (a smoke number)?
//! - `plan/million_replicas_full`: how long does planning a million replicas over 100
//!   clusters x 20 pools take from scratch?
//! - `plan/million_replicas_half_running`: and a steady-state re-plan, with half the
//!   workloads already running?
//! - `plan/million_replicas_explain_all`: what does explaining every workload and cluster
//!   cost on top?
//!
//! Before them, `plan/phase_split` prints the median time of each planner phase (index,
//! candidates, distribute, assemble) over a few runs; it runs unless a filter excludes it.
//! Generating the instances is never timed. `cargo bench -p fleetplan-benches` takes about
//! two minutes on two cores.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode};
use fleetplan::{PhaseTimings, PlanOptions, Problem, plan, plan_with_timings};
use fleetplan_benches::{SyntheticSpec, synthetic};

const SEED: u64 = 42;

fn bench_plan(c: &mut Criterion, small: &Problem, fresh: &Problem, running: &Problem) {
    let mut group = c.benchmark_group("plan");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));

    group.measurement_time(Duration::from_secs(3));
    let options = PlanOptions::default();
    group.bench_function("small_full", |b| {
        b.iter_with_large_drop(|| plan(small, &options).expect("valid problem"));
    });

    // A million-replica run takes about a second: one run per sample.
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("million_replicas_full", |b| {
        b.iter_with_large_drop(|| plan(fresh, &options).expect("valid problem"));
    });
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("million_replicas_half_running", |b| {
        b.iter_with_large_drop(|| plan(running, &options).expect("valid problem"));
    });
    let explain = PlanOptions {
        explain: true,
        ..PlanOptions::default()
    };
    group.measurement_time(Duration::from_secs(25));
    group.bench_function(BenchmarkId::from_parameter("million_replicas_explain_all"), |b| {
        b.iter_with_large_drop(|| plan(fresh, &explain).expect("valid problem"));
    });
    group.finish();
}

/// Median of each phase over `runs` plans of `problem`.
fn phase_medians(problem: &Problem, runs: usize) -> PhaseTimings {
    let all: Vec<PhaseTimings> = (0..runs)
        .map(|_| {
            plan_with_timings(problem, &PlanOptions::default())
                .expect("valid problem")
                .1
        })
        .collect();
    let median = |f: fn(&PhaseTimings) -> Duration| {
        let mut v: Vec<Duration> = all.iter().map(f).collect();
        v.sort_unstable();
        v[v.len() / 2]
    };
    PhaseTimings {
        index: median(|t| t.index),
        candidates: median(|t| t.candidates),
        distribute: median(|t| t.distribute),
        assemble: median(|t| t.assemble),
    }
}

fn print_phase_split(name: &str, problem: &Problem) {
    let t = phase_medians(problem, 5);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let total = ms(t.total());
    let pct = |d: Duration| 100.0 * ms(d) / total;
    println!(
        "plan/phase_split/{name}: median of 5 runs: index {:.1} ms ({:.0}%), candidates {:.1} ms ({:.0}%), \
         distribute {:.1} ms ({:.0}%), assemble {:.1} ms ({:.0}%), total {total:.1} ms",
        ms(t.index),
        pct(t.index),
        ms(t.candidates),
        pct(t.candidates),
        ms(t.distribute),
        pct(t.distribute),
        ms(t.assemble),
        pct(t.assemble),
    );
}

/// True unless the command line has filters and none of them matches `name` (criterion's
/// own filtering, approximated: plain substrings only).
fn selected(name: &str) -> bool {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

fn main() {
    let small = synthetic(&SyntheticSpec::small(), SEED);
    let fresh = synthetic(&SyntheticSpec::million(), SEED);
    let running = synthetic(&SyntheticSpec::million().with_running(0.5), SEED);

    let test_mode = std::env::args().any(|a| a == "--test" || a == "--list");
    if !test_mode && selected("plan/phase_split") {
        print_phase_split("million_replicas_full", &fresh);
        print_phase_split("million_replicas_half_running", &running);
    }

    let mut criterion = Criterion::default().configure_from_args();
    bench_plan(&mut criterion, &small, &fresh, &running);
    criterion.final_summary();
}

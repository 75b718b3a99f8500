//! How far is the fast planner (and the flow solver) from the exact optimum? Plans seeded
//! instances of each family of `fleetplan_benches::optimal::gap_families` with all three
//! solvers and prints, per family, the median and largest relative gap
//! `(score - exact) / exact` and how many exact plans were proven optimal.
//!
//! `cargo run --release -p fleetplan-benches --bin optimality_gap -- [SEEDS]` (default 10).

use fleetplan::{PlanOptions, Problem, SolverChoice, solve};
use fleetplan_benches::optimal::{gap_families, gap_instance};

fn score(problem: &Problem, solver: SolverChoice) -> (f64, bool) {
    let options = PlanOptions {
        solver,
        time_limit: std::time::Duration::from_secs(30),
        ..PlanOptions::default()
    };
    let plan = solve(problem, &options).expect("valid problem");
    let stats = plan.solver.expect("statistics");
    (stats.objective.total, stats.proven_optimal)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SEEDS must be a number"))
        .unwrap_or(10);
    println!(
        "| family | instances | proven optimal | fast gap median | fast gap max | flow gap median | flow gap max |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, spec) in gap_families() {
        let (mut fast_gaps, mut flow_gaps, mut proven) = (Vec::new(), Vec::new(), 0);
        for seed in 1..=seeds {
            let problem = gap_instance(&spec, seed);
            let (exact, is_proven) = score(&problem, SolverChoice::Exact);
            let (fast, _) = score(&problem, SolverChoice::Fast);
            let (flow, _) = score(&problem, SolverChoice::Flow);
            proven += usize::from(is_proven);
            let base = exact.abs().max(1.0);
            fast_gaps.push((fast - exact) / base);
            flow_gaps.push((flow - exact) / base);
        }
        let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        println!(
            "| {name} | {seeds} | {proven} | {:.2}% | {:.2}% | {:.2}% | {:.2}% |",
            100.0 * median(&mut fast_gaps.clone()),
            100.0 * max(&fast_gaps),
            100.0 * median(&mut flow_gaps.clone()),
            100.0 * max(&flow_gaps),
        );
    }
}

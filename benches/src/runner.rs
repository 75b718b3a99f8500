//! The harness's runners of our own engines (`fast`, `flow`, `exact`; `mcf`, our network
//! simplex alone on the flow network; `highs`, the exact solver's HiGHS binding alone on the
//! MILP) and of the filter-and-score peer (`pod-loop`), and the
//! result object every runner prints (see "What every runner prints" in
//! `benches/INSTANCES.md`).
//!
//! Each runner is run in a process of its own by the harness, so that its peak memory is its
//! own: [`run`] reads the instance, resets the kernel's high-water mark, solves `repeat` times,
//! and reads the mark back.

use std::path::Path;
use std::time::{Duration, Instant};

use fleetplan::optimize::min_cost_flow::min_cost_flow;
use fleetplan::simulate::{Disruption, Operation, RecoveryPolicy, Simulation};
use fleetplan::{PlanOptions, Problem, SolverChoice, evaluate, plan, solve};
use serde::{Deserialize, Serialize};

use crate::files::{self, FlowFile, Meta, MilpFile};
use crate::pod_loop::PodLoop;
use crate::violations::violations;

/// What one runner reports on one instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The runner's name, such as `fast` or `ortools-mcf`.
    pub runner: String,
    /// `ok`, `unavailable`, `time-limit`, `failed`, or `skipped` (set by the harness).
    pub status: String,
    /// Versions, what was timed, or why it did not run.
    #[serde(default)]
    pub detail: String,
    /// Wall-clock time of each repetition.
    #[serde(default)]
    pub times_ms: Vec<f64>,
    /// Peak resident memory during the solves.
    #[serde(default)]
    pub peak_rss_kib: Option<u64>,
    /// The score or cost (see `benches/INSTANCES.md`).
    #[serde(default)]
    pub objective: Option<f64>,
    /// Replicas placed.
    #[serde(default)]
    pub placed: Option<u64>,
    /// Replicas not placed.
    #[serde(default)]
    pub unplaced: Option<u64>,
    /// Replicas taken from healthy clusters when the failover cluster fails.
    #[serde(default)]
    pub moves_after_failure: Option<u64>,
    /// Karmada only: replicas assigned beyond what the cluster's resource summary holds.
    #[serde(default)]
    pub over_capacity: Option<u64>,
    /// Replicas placed against the problem's rules (see [`crate::violations`]); for runners
    /// that produce a placement fleetplan can read.
    #[serde(default)]
    pub violations: Option<u64>,
}

impl RunResult {
    /// A result that says why the runner did not produce one.
    pub fn not_run(runner: &str, status: &str, detail: impl Into<String>) -> Self {
        RunResult {
            runner: runner.to_string(),
            status: status.to_string(),
            detail: detail.into(),
            ..RunResult::default()
        }
    }

    /// The median of `times_ms`, if any.
    pub fn median_ms(&self) -> Option<f64> {
        let mut t = self.times_ms.clone();
        t.sort_by(f64::total_cmp);
        match t.len() {
            0 => None,
            n if n % 2 == 1 => Some(t[n / 2]),
            n => Some((t[n / 2 - 1] + t[n / 2]) / 2.0),
        }
    }
}

/// Repetitions stop once they have taken this long in all (there is always at least one).
const REPEAT_BUDGET: Duration = Duration::from_secs(10);

/// Whether to run another repetition after `times` (milliseconds) out of `repeat`.
fn another(times: &[f64], repeat: usize) -> bool {
    times.len() < repeat && times.iter().sum::<f64>() < REPEAT_BUDGET.as_secs_f64() * 1e3
}

/// Our runners, by the name the harness gives them.
pub const OURS: [&str; 6] = ["fast", "flow", "exact", "mcf", "highs", "pod-loop"];

/// Resets the process's peak resident memory to its current size; false when the kernel
/// refuses.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's peak resident memory since the last reset, in KiB.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs our runner `name` on the instance folder `dir`, `repeat` times.
pub fn run(name: &str, dir: &Path, repeat: usize, time_limit: Duration) -> RunResult {
    match run_inner(name, dir, repeat.max(1), time_limit) {
        Ok(result) => result,
        Err(detail) => RunResult::not_run(name, "failed", detail),
    }
}

fn run_inner(name: &str, dir: &Path, repeat: usize, time_limit: Duration) -> Result<RunResult, String> {
    let meta: Meta = files::read(dir, "meta.json")?;
    if name == "mcf" {
        return run_mcf(dir, repeat);
    }
    if name == "highs" {
        return run_highs(dir, repeat, time_limit);
    }
    let problem: Problem = files::read(dir, "problem.json")?;
    problem.validate().map_err(|e| format!("problem.json: {e}"))?;
    let fail = problem
        .clusters
        .iter()
        .position(|c| c.name.as_str() == meta.fail_cluster)
        .ok_or_else(|| format!("meta.json: fail_cluster `{}` is not a cluster", meta.fail_cluster))?;
    if name == "pod-loop" {
        return Ok(run_pod_loop(&problem, fail, repeat));
    }
    let solver = match name {
        "fast" => SolverChoice::Fast,
        "flow" => SolverChoice::Flow,
        "exact" => SolverChoice::Exact,
        other => {
            return Err(format!(
                "unknown runner `{other}` (ours are: {})",
                OURS.join(", ")
            ));
        }
    };
    let options = PlanOptions {
        solver,
        time_limit,
        ..PlanOptions::default()
    };
    let peak_reset = reset_peak();
    let mut times = Vec::with_capacity(repeat);
    let mut last = None;
    while another(&times, repeat) {
        let started = Instant::now();
        // The fast planner is timed as `plan()`: `solve()` adds a scoring pass (see `detail`).
        let planned = if solver == SolverChoice::Fast {
            plan(&problem, &options)
        } else {
            solve(&problem, &options)
        }
        .map_err(|e| e.to_string())?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        last = Some(planned);
    }
    let peak = peak_reset.then(peak_kib).flatten();
    let planned = last.expect("at least one repetition");
    let objective = evaluate(&problem, &planned, &options)
        .map_err(|e| e.to_string())?
        .total;
    let detail = match &planned.solver {
        Some(stats) => format!(
            "fleetplan {} solver (plan from {}{}); timed: solve()",
            name,
            stats.solver,
            if stats.proven_optimal {
                ", proven optimal"
            } else {
                ""
            }
        ),
        None => "fleetplan fast planner; timed: plan() (solve() adds a scoring pass of about the same cost)"
            .to_string(),
    };
    let moves = moves_after_failure(&problem, &meta.fail_cluster, options)?;
    let broken = violations(&problem, &planned)?;
    Ok(RunResult {
        runner: name.to_string(),
        status: "ok".into(),
        detail,
        times_ms: times,
        peak_rss_kib: peak,
        objective: Some(objective),
        placed: Some(planned.summary.placed),
        unplaced: Some(planned.summary.unplaced),
        moves_after_failure: Some(moves),
        over_capacity: None,
        violations: Some(broken),
    })
}

/// Plans with `options`, fails `cluster`, re-plans, and counts the replicas taken from the
/// clusters that did not fail.
fn moves_after_failure(problem: &Problem, cluster: &str, options: PlanOptions) -> Result<u64, String> {
    let (mut sim, _) = Simulation::new(
        problem.clone(),
        options,
        RecoveryPolicy::Stay,
        Disruption::default(),
    )
    .map_err(|e| e.to_string())?;
    let step = sim
        .step(&[Operation::Fail {
            cluster: cluster.to_string(),
        }])
        .map_err(|e| e.to_string())?;
    Ok(step
        .changes
        .iter()
        .filter(|c| c.cluster.as_str() != cluster)
        .map(|c| u64::from(c.before.saturating_sub(c.after)))
        .sum())
}

/// Our network simplex alone on `flow.json`: building the network from the arrays and solving
/// it are timed, as for the flow peers.
fn run_mcf(dir: &Path, repeat: usize) -> Result<RunResult, String> {
    let file: FlowFile = files::read(dir, "flow.json")?;
    let peak_reset = reset_peak();
    let mut times = Vec::with_capacity(repeat);
    let mut cost = 0;
    while another(&times, repeat) {
        let started = Instant::now();
        let network = file.network()?;
        let solution = min_cost_flow(&network).map_err(|e| format!("flow.json: {e:?}"))?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        cost = solution.cost;
    }
    Ok(RunResult {
        runner: "mcf".into(),
        status: "ok".into(),
        detail: format!(
            "fleetplan min_cost_flow (network simplex) on {} nodes, {} arcs; timed: building the network and solving",
            file.nodes.len(),
            file.arcs.len()
        ),
        times_ms: times,
        peak_rss_kib: peak_reset.then(peak_kib).flatten(),
        objective: Some(cost as f64),
        ..RunResult::default()
    })
}

/// The exact solver's backend alone (the `highs` crate, single-threaded, relative gap 1e-6, as
/// the exact solver sets it) on `milp.json`: building HiGHS's model from the arrays and solving
/// it are timed, as scipy's `milp()` call is.
fn run_highs(dir: &Path, repeat: usize, time_limit: Duration) -> Result<RunResult, String> {
    let m: MilpFile = files::read(dir, "milp.json")?;
    let bound = |b: Option<f64>, infinite: f64| b.unwrap_or(infinite);
    let peak_reset = reset_peak();
    let mut times = Vec::with_capacity(repeat);
    let (mut status, mut objective) = ("ok", None);
    while another(&times, repeat) {
        let started = Instant::now();
        let mut problem = highs::RowProblem::default();
        let columns: Vec<_> = (0..m.c.len())
            .map(|j| {
                let range = bound(m.lb[j], f64::NEG_INFINITY)..=bound(m.ub[j], f64::INFINITY);
                problem.add_column_with_integrality(m.c[j], range, m.integrality[j] == 1)
            })
            .collect();
        for i in 0..m.row_lb.len() {
            let entries = (m.a.indptr[i]..m.a.indptr[i + 1]).map(|k| (columns[m.a.indices[k]], m.a.data[k]));
            problem.add_row(
                bound(m.row_lb[i], f64::NEG_INFINITY)..=bound(m.row_ub[i], f64::INFINITY),
                entries,
            );
        }
        let mut model = problem.optimise(highs::Sense::Minimise);
        model.set_option("threads", 1);
        model.set_option("mip_rel_gap", 1e-6);
        model.set_option("time_limit", time_limit.as_secs_f64());
        let solved = model.try_solve().map_err(|e| format!("HiGHS failed: {e:?}"))?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        status = match solved.status() {
            highs::HighsModelStatus::Optimal => "ok",
            highs::HighsModelStatus::ReachedTimeLimit => "time-limit",
            other => return Err(format!("HiGHS ended with status {other:?}")),
        };
        objective = Some(solved.objective_value() + m.constant);
        if status != "ok" {
            break;
        }
    }
    Ok(RunResult {
        runner: "highs".into(),
        status: status.into(),
        detail: format!(
            "fleetplan's HiGHS binding (highs crate), 1 thread, mip_rel_gap 1e-6; {} columns, {} rows; timed: building the model from the arrays and solving",
            m.c.len(),
            m.row_lb.len()
        ),
        times_ms: times,
        peak_rss_kib: peak_reset.then(peak_kib).flatten(),
        objective,
        ..RunResult::default()
    })
}

/// The one-pod-at-a-time loop, from scratch each repetition.
fn run_pod_loop(problem: &Problem, fail: usize, repeat: usize) -> RunResult {
    let peak_reset = reset_peak();
    let mut times = Vec::with_capacity(repeat);
    let mut last = None;
    while another(&times, repeat) {
        let started = Instant::now();
        let mut pods = PodLoop::new(problem);
        pods.schedule_all();
        times.push(started.elapsed().as_secs_f64() * 1e3);
        last = Some(pods);
    }
    let peak = peak_reset.then(peak_kib).flatten();
    let mut pods = last.expect("at least one repetition");
    let placed = pods.placed();
    let target: u64 = problem.workloads.iter().map(|w| u64::from(w.replicas)).sum();
    let placement = pods.to_plan();
    let objective = evaluate(problem, &placement, &PlanOptions::default())
        .ok()
        .map(|v| v.total);
    let broken = violations(problem, &placement).ok();
    let before = pods.per_cluster();
    pods.fail_cluster(fail);
    let after = pods.per_cluster();
    let moves: u64 = before
        .iter()
        .zip(&after)
        .flat_map(|(b, a)| {
            b.iter()
                .filter(|(c, _)| **c != fail)
                .map(move |(c, r)| u64::from(r.saturating_sub(a.get(c).copied().unwrap_or(0))))
        })
        .sum();
    RunResult {
        runner: "pod-loop".into(),
        status: "ok".into(),
        detail: "one pod at a time, kube-scheduler's filters, LeastAllocated and node sampling (benches/src/pod_loop.rs); timed: the whole loop".into(),
        times_ms: times,
        peak_rss_kib: peak,
        objective,
        placed: Some(placed),
        unplaced: Some(target.saturating_sub(placed)),
        moves_after_failure: Some(moves),
        over_capacity: None,
        violations: broken,
    }
}

//! The one interface every planning engine implements, and the choice between them.
//!
//! - [`FastPlanner`]: greedy, milliseconds for a million replicas, never breaks a hard rule.
//! - [`FlowSolver`]: a min-cost flow over workloads, clusters and pools; optimal when every
//!   pool is shared by one request shape and no rule needs repair, a strong improvement
//!   otherwise.
//! - [`ExactSolver`]: a MILP (HiGHS); optimal with a bound and a gap, within a time limit.
//!
//! The flow and exact solvers start from the fast plan and return it when they cannot beat
//! it, so their score is never worse. [`solve`] runs the solver that [`PlanOptions::solver`]
//! names; `auto` picks by size and by the rules present (see [`SolverChoice::Auto`]).

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use crate::error::Error;
use crate::objective::ObjectiveValue;
use crate::optimize::{self, Outcome};
use crate::plan::{Plan, SolverStats};
use crate::planner::{self, PlanOptions};
use crate::problem::Problem;

/// A planning engine.
pub trait Solver {
    /// A short name for reports, such as `fast`.
    fn name(&self) -> &'static str;

    /// Plans `problem`; the plan carries [`SolverStats`].
    ///
    /// # Errors
    /// When the problem is invalid (see [`Problem::validate`]) or the solver is not built in.
    fn solve(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, Error>;
}

/// Which solver to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SolverChoice {
    /// The exact solver for small problems (at most [`AUTO_EXACT_PAIRS`] workload × pool
    /// pairs, or [`AUTO_EXACT_RULES_PAIRS`] when a workload needs `min-regions` or a cluster
    /// has a fixed price, which only it optimises), the flow solver up to
    /// [`AUTO_FLOW_PAIRS`] pairs, the fast planner beyond.
    #[default]
    Auto,
    /// The fast planner.
    Fast,
    /// The min-cost-flow solver.
    Flow,
    /// The MILP solver.
    Exact,
}

/// `auto` runs the exact solver up to this many workload × pool pairs.
pub const AUTO_EXACT_PAIRS: usize = 20_000;
/// `auto` runs the exact solver up to this many pairs when only it can honour the rules.
pub const AUTO_EXACT_RULES_PAIRS: usize = 200_000;
/// `auto` runs the flow solver up to this many pairs.
pub const AUTO_FLOW_PAIRS: usize = 100_000;

impl SolverChoice {
    /// The choice's name: `auto`, `fast`, `flow` or `exact`.
    pub fn name(self) -> &'static str {
        match self {
            SolverChoice::Auto => "auto",
            SolverChoice::Fast => "fast",
            SolverChoice::Flow => "flow",
            SolverChoice::Exact => "exact",
        }
    }

    /// What `auto` resolves to for `problem` (other choices resolve to themselves).
    pub fn resolve(self, problem: &Problem) -> SolverChoice {
        if self != SolverChoice::Auto {
            return self;
        }
        let pools: usize = problem.clusters.iter().map(|c| c.pools.len()).sum();
        let pairs = problem.workloads.len().saturating_mul(pools);
        let needs_exact = problem.workloads.iter().any(|w| w.policy.min_regions.is_some())
            || problem.clusters.iter().any(|c| c.fixed_price.is_some());
        let exact_built = cfg!(any(feature = "highs", feature = "microlp"));
        if exact_built && (pairs <= AUTO_EXACT_PAIRS || (needs_exact && pairs <= AUTO_EXACT_RULES_PAIRS)) {
            SolverChoice::Exact
        } else if pairs <= AUTO_FLOW_PAIRS {
            SolverChoice::Flow
        } else {
            SolverChoice::Fast
        }
    }
}

impl fmt::Display for SolverChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SolverChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(SolverChoice::Auto),
            "fast" => Ok(SolverChoice::Fast),
            "flow" => Ok(SolverChoice::Flow),
            "exact" => Ok(SolverChoice::Exact),
            other => Err(Error::UnknownSolver {
                name: other.to_string(),
            }),
        }
    }
}

/// Plans `problem` with the solver [`PlanOptions::solver`] names (after resolving `auto`).
///
/// # Errors
/// When the problem is invalid, or the exact solver is asked for but not built in.
pub fn solve(problem: &Problem, options: &PlanOptions) -> Result<Plan, Error> {
    let requested = options.solver;
    let mut plan = match requested.resolve(problem) {
        SolverChoice::Flow => FlowSolver.solve(problem, options),
        SolverChoice::Exact => ExactSolver.solve(problem, options),
        SolverChoice::Fast | SolverChoice::Auto => FastPlanner.solve(problem, options),
    }?;
    if let Some(stats) = &mut plan.solver {
        stats.requested = requested.name();
    }
    problem.attach_followers(&mut plan);
    Ok(plan)
}

/// Scores a plan of `problem` with `options.weights` (see [`crate::objective`]).
///
/// # Errors
/// When the problem is invalid.
pub fn evaluate(problem: &Problem, plan: &Plan, options: &PlanOptions) -> Result<ObjectiveValue, Error> {
    problem.validate()?;
    Ok(optimize::evaluate(problem, plan, options.weights))
}

/// The greedy, deterministic planner of [`crate::planner`]: milliseconds for a million
/// replicas, never violates a hard rule, and explains every unplaced replica.
#[derive(Clone, Copy, Debug, Default)]
pub struct FastPlanner;

impl Solver for FastPlanner {
    fn name(&self) -> &'static str {
        "fast"
    }

    fn solve(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, Error> {
        let started = Instant::now();
        let mut plan = planner::plan(problem, options)?;
        let objective = optimize::evaluate(problem, &plan, options.weights);
        plan.solver = Some(SolverStats {
            requested: "fast",
            solver: "fast",
            millis: started.elapsed().as_secs_f64() * 1e3,
            objective,
            bound: None,
            gap: None,
            proven_optimal: false,
            size: 0,
            note: None,
        });
        Ok(plan)
    }
}

/// The min-cost-flow solver (see the module documentation).
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowSolver;

impl Solver for FlowSolver {
    fn name(&self) -> &'static str {
        "flow"
    }

    fn solve(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, Error> {
        let started = Instant::now();
        let outcome = optimize::flow_plan(problem, options)?;
        Ok(finish(outcome, "flow", started))
    }
}

/// The MILP solver (see the module documentation).
#[derive(Clone, Copy, Debug, Default)]
pub struct ExactSolver;

impl Solver for ExactSolver {
    fn name(&self) -> &'static str {
        "exact"
    }

    fn solve(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, Error> {
        let started = Instant::now();
        let outcome = optimize::exact_plan(problem, options)?;
        Ok(finish(outcome, "exact", started))
    }
}

/// Attaches the statistics of an optimal solver's outcome to its plan.
fn finish(outcome: Outcome, name: &'static str, started: Instant) -> Plan {
    debug_assert!(["fast", "flow", "exact"].contains(&outcome.source));
    let Outcome {
        mut plan,
        objective,
        source,
        bound,
        proven_optimal,
        size,
        note,
    } = outcome;
    let gap = bound.map(|b| ((objective.total - b) / objective.total.abs().max(1.0)).max(0.0));
    plan.solver = Some(SolverStats {
        requested: name,
        solver: source,
        millis: started.elapsed().as_secs_f64() * 1e3,
        objective,
        bound,
        gap,
        proven_optimal,
        size,
        note,
    });
    plan
}

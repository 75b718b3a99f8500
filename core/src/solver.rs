//! The one interface every planning engine implements.
//!
//! The fast planner is the first engine; optimal engines (min-cost flow, MILP) implement the
//! same trait so that callers, tests and benchmarks treat them alike.

use crate::error::Error;
use crate::plan::Plan;
use crate::planner::{self, PlanOptions};
use crate::problem::Problem;

/// A planning engine.
pub trait Solver {
    /// A short name for reports, such as `fast`.
    fn name(&self) -> &'static str;

    /// Plans `problem`.
    ///
    /// # Errors
    /// When the problem is invalid (see [`Problem::validate`]).
    fn solve(&self, problem: &Problem, options: &PlanOptions) -> Result<Plan, Error>;
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
        planner::plan(problem, options)
    }
}

//! Optimal planning: the flow and exact solvers, the shared model they solve, and the score
//! of any plan.
//!
//! Both solvers run the same pipeline: plan fast (the starting point), build the model
//! (`model.rs`), solve it (`flow.rs` or `exact.rs`), pack the result onto real nodes and trim
//! it to every hard rule (`assemble.rs`), score it, and keep whichever of it and the fast plan
//! scores better.

mod assemble;
#[cfg(any(feature = "highs", feature = "microlp"))]
mod exact;
pub mod export;
mod flow;
pub mod min_cost_flow;
mod model;

use std::time::Instant;

use min_cost_flow::FlowError;
use model::Model;

use crate::error::Error;
use crate::objective::{ObjectiveValue, Weights};
use crate::plan::Plan;
use crate::planner::{self, PlanOptions};
use crate::problem::Problem;

/// What an optimal solver returns before its statistics are attached.
pub(crate) struct Outcome {
    pub plan: Plan,
    pub objective: ObjectiveValue,
    /// Which solver's plan this is: `fast`, `flow` or `exact`.
    pub source: &'static str,
    pub bound: Option<f64>,
    pub proven_optimal: bool,
    pub size: usize,
    pub note: Option<String>,
}

/// Plans below this score difference count as equal (rounding in the flow's integer costs).
const TOLERANCE: f64 = 1e-6;

/// Scores `plan` as a plan of `problem` (which must be valid).
pub(crate) fn evaluate(problem: &Problem, plan: &Plan, weights: Weights) -> ObjectiveValue {
    let model = Model::new(problem, weights);
    model.evaluate(&model.assignment_of(plan))
}

/// The fast plan the optimal solvers start from, with its score.
fn fast_start(
    problem: &Problem,
    model: &Model<'_>,
    options: &PlanOptions,
) -> Result<(Plan, ObjectiveValue), Error> {
    let plan = planner::plan(problem, options)?;
    let value = model.evaluate(&model.assignment_of(&plan));
    Ok((plan, value))
}

/// One solver's packed result, scored.
struct Candidate {
    packed: assemble::Packed,
    value: ObjectiveValue,
    proven: bool,
    bound: Option<f64>,
    size: usize,
    note: Option<String>,
}

/// The note of a plan kept because the time limit ran out before the flow solver finished.
const FLOW_TIME_LIMIT_NOTE: &str =
    "the time limit was reached before the flow solver finished; the fast plan is kept";

/// The note of a plan kept because the time limit ran out before the exact solver (and the
/// flow solver it falls back to) finished.
#[cfg(any(feature = "highs", feature = "microlp"))]
const EXACT_TIME_LIMIT_NOTE: &str =
    "the time limit was reached before the exact solver finished; the fast plan is kept";

/// When a solver started now with `options` must stop (none when the limit is beyond the
/// clock's range).
fn deadline(options: &PlanOptions) -> Option<Instant> {
    Instant::now().checked_add(options.time_limit)
}

/// The flow solver's packed result, or none when `deadline` passed first.
fn flow_candidate(model: &Model<'_>, deadline: Option<Instant>) -> Result<Option<Candidate>, Error> {
    let result = match flow::solve(model, deadline) {
        Ok(result) => result,
        Err(FlowError::TimeLimit) => return Ok(None),
        Err(e) => {
            return Err(Error::FlowFailed {
                detail: format!("{e:?}"),
            });
        }
    };
    let packed = assemble::pack(model, result.assignment, !result.exact_model);
    let value = model.evaluate(&packed.assignment);
    let proven = result.exact_model && !packed.trimmed;
    let note = if packed.trimmed {
        Some("not proven optimal: the flow's counts were trimmed to fit nodes and hard rules".to_string())
    } else if !proven {
        Some(
            "not proven optimal: pools shared by different request shapes, or rules the flow cannot express, were estimated"
                .to_string(),
        )
    } else {
        None
    };
    Ok(Some(Candidate {
        packed,
        value,
        proven,
        bound: proven.then_some(value.total),
        size: result.arcs,
        note,
    }))
}

/// The best of the solver's own candidates and the fast plan (ties go to the candidates, in
/// order).
fn best(
    model: &Model<'_>,
    options: &PlanOptions,
    fast: (Plan, ObjectiveValue),
    candidates: Vec<(&'static str, Candidate)>,
) -> Outcome {
    let (fast_plan, fast_value) = fast;
    // A proven bound holds whichever plan is returned.
    let bound = candidates
        .iter()
        .filter_map(|(_, c)| c.bound)
        .fold(None, |acc: Option<f64>, b| Some(acc.map_or(b, |a| a.max(b))));
    let size = candidates.first().map_or(0, |(_, c)| c.size);
    let own = candidates.first().map_or("fast", |(name, _)| *name);
    let own_note = candidates.first().map(|(name, c)| {
        let score = format!("{name} scored {:.3}, fast {:.3}", c.value.total, fast_value.total);
        match &c.note {
            Some(note) => format!("{score}; {note}"),
            None => score,
        }
    });
    let winner = candidates
        .into_iter()
        .filter(|(_, c)| c.value.total <= fast_value.total + TOLERANCE || c.proven)
        .min_by(|(_, a), (_, b)| a.value.total.total_cmp(&b.value.total));
    match winner {
        Some((source, c)) => {
            let bound = bound.map(|b| b.min(c.value.total));
            let proven = c.proven
                || bound.is_some_and(|b| c.value.total - b <= TOLERANCE * c.value.total.abs().max(1.0));
            let note = match (proven, source) {
                (true, _) => None,
                (false, source) if source != own => Some(format!(
                    "the {source} solver's plan scored better than the {own} solver's after packing onto nodes"
                )),
                _ => c.note,
            };
            Outcome {
                plan: assemble::to_plan(model, &c.packed, options.explain),
                objective: c.value,
                source,
                bound,
                proven_optimal: proven,
                size,
                note,
            }
        }
        None => Outcome {
            plan: fast_plan,
            objective: fast_value,
            source: "fast",
            bound,
            proven_optimal: false,
            size,
            note: Some(match own_note {
                Some(note) => format!("the fast plan scored better and is kept ({note})"),
                None => "the fast plan scored better and is kept".to_string(),
            }),
        },
    }
}

/// The flow solver's plan.
pub(crate) fn flow_plan(problem: &Problem, options: &PlanOptions) -> Result<Outcome, Error> {
    problem.validate()?;
    let deadline = deadline(options);
    let model = Model::new(problem, options.weights);
    let fast = fast_start(problem, &model, options)?;
    Ok(match flow_candidate(&model, deadline)? {
        Some(flow) => best(&model, options, fast, vec![("flow", flow)]),
        None => {
            let mut outcome = best(&model, options, fast, Vec::new());
            outcome.note = Some(FLOW_TIME_LIMIT_NOTE.to_string());
            outcome
        }
    })
}

/// The exact solver's plan: the MILP's, unless packing it onto nodes left it worse than the
/// flow's or the fast plan.
#[cfg(any(feature = "highs", feature = "microlp"))]
pub(crate) fn exact_plan(problem: &Problem, options: &PlanOptions) -> Result<Outcome, Error> {
    problem.validate()?;
    let deadline = deadline(options);
    let model = Model::new(problem, options.weights);
    let fast = fast_start(problem, &model, options)?;
    let mut candidates = Vec::new();
    match exact::solve(&model, deadline) {
        Ok(result) => {
            let packed = assemble::pack(&model, result.assignment, false);
            let value = model.evaluate(&packed.assignment);
            // The bound holds for the relaxation, so for the real problem too.
            let bound = result.bound.map(|b| b.min(value.total));
            let closed = bound.is_some_and(|b| value.total - b <= TOLERANCE * value.total.abs().max(1.0));
            let note = if packed.trimmed {
                Some("not proven optimal: the MILP's counts were trimmed to fit nodes".to_string())
            } else if !result.optimal {
                Some("not proven optimal: the time limit was reached".to_string())
            } else if !closed {
                Some("not proven optimal: the solver's bound does not meet the plan's score".to_string())
            } else {
                None
            };
            let proven = result.optimal && !packed.trimmed && closed;
            candidates.push((
                "exact",
                Candidate {
                    proven,
                    packed,
                    value,
                    bound,
                    size: result.variables,
                    note,
                },
            ));
            // A proven optimum cannot be beaten: the flow's plan is only worth building when
            // the MILP's was trimmed or stopped early.
            if !proven {
                candidates.extend(flow_candidate(&model, deadline)?.map(|flow| ("flow", flow)));
            }
        }
        Err(detail) => {
            if let Some(mut flow) = flow_candidate(&model, deadline)? {
                flow.note = Some(format!("the MILP found no plan ({detail})"));
                candidates.push(("flow", flow));
            }
        }
    }
    let timed_out = candidates.is_empty();
    let mut outcome = best(&model, options, fast, candidates);
    if timed_out {
        // Without a MILP answer the flow was tried, and only its deadline stops it.
        outcome.note = Some(EXACT_TIME_LIMIT_NOTE.to_string());
    }
    Ok(outcome)
}

/// Without a MILP backend the exact solver is unavailable.
#[cfg(not(any(feature = "highs", feature = "microlp")))]
pub(crate) fn exact_plan(_problem: &Problem, _options: &PlanOptions) -> Result<Outcome, Error> {
    Err(Error::ExactUnavailable)
}

//! The exact solver: the placement as a mixed-integer linear program (MILP), built with
//! `good_lp` and solved by HiGHS (or the pure-Rust microlp with the `microlp` feature).
//!
//! Variables, per workload: new and kept replicas per pool (integers), unplaced replicas, and
//! where needed a gang switch, minimum shortfalls, imbalance per cluster, the smallest count of
//! each hard spread constraint, one switch per region for `min-regions`; per cluster with a
//! fixed price, a "used" switch. Constraints: every resource of every pool in aggregate, the
//! per-node fit of each workload alone, targets, cluster and region maximums, hard topology
//! spread (`count(d) <= min + maxSkew` over the eligible domains), gangs (all or nothing).
//! The objective is the one of [`crate::objective`], term for term.
//!
//! The aggregate pool capacity is a relaxation of packing onto nodes: when the optimum packs
//! (checked in `assemble.rs`) it is optimal for the real problem too, otherwise it is trimmed
//! and reported as not proven optimal. The fast plan is the incumbent the result must beat
//! (see `optimize::exact_plan`); it is not handed to HiGHS as a MIP start, because with a
//! start set through this binding HiGHS reported an objective that disagreed with the point
//! it returned (seen on the tutorial), and a wrong score is worse than a slower search.

use std::time::Instant;

use good_lp::{Constraint, Expression, IntoAffineExpression, ProblemVariables, Variable, variable};

use super::model::{Assignment, Model};

/// How the MILP solve ended.
pub(crate) struct ExactResult {
    pub assignment: Assignment,
    /// Proven optimal for the MILP (within HiGHS' tolerances).
    pub optimal: bool,
    /// The best proven lower bound, when the backend reports one.
    pub bound: Option<f64>,
    pub variables: usize,
}

/// The MILP, ready for a backend.
struct Milp {
    vars: ProblemVariables,
    objective: Expression,
    constant: f64,
    constraints: Vec<Constraint>,
    /// Per workload and arc: the kept and new variables with their column numbers.
    arcs: Vec<Vec<ArcColumns>>,
    /// Variables created so far.
    columns: usize,
}

/// A variable and its column number (its position in creation order).
type Column = (Variable, usize);

/// An arc's kept and new replica variables, when it has them.
type ArcColumns = (Option<Column>, Option<Column>);

impl Milp {
    fn var(&mut self, definition: good_lp::VariableDefinition) -> Variable {
        self.columns += 1;
        self.vars.add(definition)
    }

    fn column(&mut self, definition: good_lp::VariableDefinition) -> Column {
        let index = self.columns;
        (self.var(definition), index)
    }
}

/// Builds the MILP of `model`.
fn build(model: &Model<'_>) -> Milp {
    let wt = model.weights;
    let mut milp = Milp {
        vars: ProblemVariables::new(),
        objective: Expression::from(0.0),
        constant: 0.0,
        constraints: Vec::new(),
        arcs: Vec::with_capacity(model.workloads.len()),
        columns: 0,
    };
    let width = model.index.resources.len();
    // Per pool and resource: the new replicas' demand.
    let mut pool_demand: Vec<Option<Vec<Expression>>> = vec![None; model.index.pools.len()];
    // Per Fargate bucket: the new replicas' vCPU.
    let mut bucket_demand: Vec<Expression> = vec![Expression::from(0.0); model.index.buckets.len()];
    // Per cluster: everything placed there (for fixed prices).
    let mut cluster_load: Vec<Expression> = vec![Expression::from(0.0); model.problem.clusters.len()];
    for (w, m) in model.workloads.iter().enumerate() {
        let request = &model.requests[w];
        let mut vars = Vec::with_capacity(m.arcs.len());
        let mut placed = Expression::from(0.0);
        let mut per_slot = vec![Expression::from(0.0); m.clusters.len()];
        for arc in &m.arcs {
            let keep = (arc.running > 0)
                .then(|| milp.column(variable().integer().min(0).max(f64::from(arc.running))));
            let new = (arc.new_ok && arc.fit > 0)
                .then(|| milp.column(variable().integer().min(0).max(arc.fit as f64)));
            for (v, extra) in [(keep, -wt.moved), (new, 0.0)] {
                let Some((v, _)) = v else { continue };
                placed.add_mul(1.0, v);
                per_slot[arc.slot].add_mul(1.0, v);
                cluster_load[m.clusters[arc.slot].cluster].add_mul(1.0, v);
                milp.objective.add_mul(arc.unit + extra, v);
            }
            match (new, model.index.pools[arc.pool].bucket) {
                (Some((v, _)), Some(b)) => {
                    let cpu = request.fargate.map_or(0, |size| size.cpu_millis);
                    bucket_demand[b].add_mul(cpu as f64, v);
                }
                (Some((v, _)), None) => {
                    let demand =
                        pool_demand[arc.pool].get_or_insert_with(|| vec![Expression::from(0.0); width]);
                    for &(r, amount) in &request.items {
                        demand[r].add_mul(amount as f64, v);
                    }
                }
                (None, _) => {}
            }
            vars.push((keep, new));
        }
        milp.arcs.push(vars);
        milp.constant += wt.moved * m.running_total as f64;
        let target = f64::from(m.target);
        // Target, unplaced replicas and gangs.
        let unplaced = milp.var(variable().min(0).max(target));
        milp.objective.add_mul(wt.unplaced * m.unplaced_factor, unplaced);
        milp.constraints.push((placed.clone() + unplaced).eq(target));
        if m.gang {
            let whole = milp.var(variable().binary());
            milp.constraints.push((placed.clone() - target * whole).eq(0.0));
        }
        // Clusters: maximums, minimums, imbalance.
        let mut per_region = vec![Expression::from(0.0); m.region_min.len()];
        for (slot, term) in m.clusters.iter().enumerate() {
            let x = per_slot[slot].clone();
            per_region[term.region] += x.clone();
            if term.max < m.target {
                milp.constraints.push(x.clone().leq(f64::from(term.max)));
            }
            if term.min > 0 {
                let short = milp.var(variable().min(0));
                milp.objective.add_mul(wt.below_minimum, short);
                milp.constraints
                    .push((x.clone() + short).geq(f64::from(term.min)));
            }
            if let Some(share) = term.share {
                let distance = milp.var(variable().min(0));
                milp.objective.add_mul(wt.imbalance, distance);
                milp.constraints.push((x.clone() - distance).leq(share));
                milp.constraints.push((x + distance).geq(share));
            }
        }
        // Regions: maximums, minimums, at least k regions.
        let mut used_regions = Expression::from(0.0);
        for (r, x) in per_region.into_iter().enumerate() {
            if m.region_max[r] < m.target {
                milp.constraints.push(x.clone().leq(f64::from(m.region_max[r])));
            }
            if m.region_min[r] > 0 {
                let short = milp.var(variable().min(0));
                milp.objective.add_mul(wt.below_minimum, short);
                milp.constraints
                    .push((x.clone() + short).geq(f64::from(m.region_min[r])));
            }
            if m.min_regions > 0 {
                let used = milp.var(variable().binary());
                milp.constraints.push((x - used).geq(0.0));
                used_regions.add_mul(1.0, used);
            }
        }
        if m.min_regions > 0 {
            let short = milp.var(variable().min(0));
            milp.objective.add_mul(wt.below_minimum, short);
            milp.constraints
                .push((used_regions + short).geq(f64::from(m.min_regions)));
        }
        // Hard topology spread, as the Kubernetes scheduler applies it to new pods: a domain
        // that receives new replicas holds at most the smallest count over the eligible
        // domains plus maxSkew. Running replicas are never moved for skew alone.
        for spread in &m.spreads {
            let domains = spread.eligible.len();
            let mut per_domain: Vec<Expression> = vec![Expression::from(0.0); domains];
            let mut new_in: Vec<Expression> = vec![Expression::from(0.0); domains];
            for (a, domain) in spread.arc_domain.iter().enumerate() {
                let Some(d) = *domain else { continue };
                let (keep, new) = milp.arcs[w][a];
                for (v, _) in [keep, new].into_iter().flatten() {
                    per_domain[d].add_mul(1.0, v);
                }
                if let Some((v, _)) = new {
                    new_in[d].add_mul(1.0, v);
                }
            }
            let smallest = milp.var(variable().min(0));
            for d in (0..domains).filter(|&d| spread.eligible[d]) {
                let count = per_domain[d].clone();
                milp.constraints.push((count.clone() - smallest).geq(0.0));
                if m.running_total == 0 {
                    milp.constraints
                        .push((count - smallest).leq(f64::from(spread.max_skew)));
                } else {
                    // `grows` is 1 when the domain takes new replicas; only then is it bound.
                    let grows = milp.var(variable().binary());
                    milp.constraints
                        .push((new_in[d].clone() - target * grows).leq(0.0));
                    milp.constraints
                        .push((count - smallest + target * grows).leq(f64::from(spread.max_skew) + target));
                }
            }
        }
    }
    // Shared capacity: every resource of every pool, in aggregate.
    for (p, demand) in pool_demand.into_iter().enumerate() {
        let Some(demand) = demand else { continue };
        let pool = &model.index.pools[p];
        let mut free = vec![0f64; width];
        for g in &model.problem.clusters[pool.cluster].pools[pool.local].nodes {
            for (r, amount) in model.index.dense(&g.free).into_iter().enumerate() {
                free[r] += f64::from(g.count) * amount.max(0) as f64;
            }
        }
        for (r, expr) in demand.into_iter().enumerate() {
            if (&expr).linear_coefficients().next().is_some() {
                milp.constraints.push(expr.leq(free[r]));
            }
        }
    }
    // Fargate quotas, shared by the profiles of an account in a region.
    for (b, demand) in bucket_demand.into_iter().enumerate() {
        if (&demand).linear_coefficients().next().is_some() {
            milp.constraints
                .push(demand.leq(model.fargate_free[b].max(0) as f64));
        }
    }
    // Fixed cluster prices.
    let total: f64 = model.workloads.iter().map(|m| f64::from(m.target)).sum();
    for (c, load) in cluster_load.into_iter().enumerate() {
        let (_, normalised) = model.fixed[c];
        if normalised > 0.0 {
            let used = milp.var(variable().binary());
            milp.objective.add_mul(wt.fixed * normalised, used);
            milp.constraints.push((load - total.max(1.0) * used).leq(0.0));
        }
    }
    milp
}

/// Reads the counts of a solution.
fn read(arcs: &[Vec<ArcColumns>], value: impl Fn(Column) -> f64) -> Assignment {
    arcs.iter()
        .map(|arcs| {
            arcs.iter()
                .map(|&(keep, new)| {
                    let get = |v: Option<Column>| v.map_or(0, |v| value(v).round().max(0.0) as u32);
                    (get(keep), get(new))
                })
                .collect()
        })
        .collect()
}

/// The MILP of `model` handed to a good_lp backend, with the parts the caller reads back.
fn load<S: good_lp::Solver>(
    model: &Model<'_>,
    backend: S,
) -> (S::Model, Expression, f64, Vec<Vec<ArcColumns>>, usize) {
    use good_lp::SolverModel;
    let Milp {
        vars,
        objective,
        constant,
        constraints,
        arcs,
        columns,
    } = build(model);
    let mut problem = vars.minimise(objective.clone()).using(backend);
    for c in constraints {
        problem.add_constraint(c);
    }
    (problem, objective, constant, arcs, columns)
}

/// The error of a MILP not started because the deadline passed first.
pub(crate) const TIME_LIMIT: &str = "the time limit was reached before the MILP was solved";

/// True once `deadline` (none: no limit) has passed.
fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Solves the MILP with HiGHS, stopping at `deadline` (none: no limit). Building the model
/// counts against the deadline: HiGHS gets what is left of it, and is not started (its
/// presolve does not watch the clock) when nothing is left.
#[cfg(feature = "highs")]
pub(crate) fn solve(model: &Model<'_>, deadline: Option<Instant>) -> Result<ExactResult, String> {
    if passed(deadline) {
        return Err(TIME_LIMIT.into());
    }
    let (problem, _, constant, arcs, variables) = load(model, good_lp::highs);
    let mut highs = problem
        .try_into_inner()
        .map_err(|e| format!("HiGHS could not build the model: {e}"))?;
    if let Some(deadline) = deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TIME_LIMIT.into());
        }
        highs.set_option("time_limit", left.as_secs_f64());
    }
    highs.set_option("mip_rel_gap", 1e-6);
    highs.set_option("threads", 1);
    let solved = highs.try_solve().map_err(|e| format!("HiGHS failed: {e:?}"))?;
    use highs::{HighsModelStatus as S, HighsSolutionStatus};
    let optimal = match solved.status() {
        S::Optimal => true,
        S::ReachedTimeLimit | S::ReachedIterationLimit | S::ReachedSolutionLimit | S::ReachedInterrupt => {
            false
        }
        status => return Err(format!("HiGHS ended with status {status:?}")),
    };
    if solved.primal_solution_status() != HighsSolutionStatus::Feasible {
        return Err("HiGHS found no solution within the time limit".into());
    }
    let columns = solved.get_solution();
    let values = columns.columns();
    let assignment = read(&arcs, |(_, column)| values[column]);
    // A model without integer columns is solved as an LP, whose optimum is its own bound;
    // otherwise HiGHS reports the MIP dual bound.
    let objective = solved.objective_value();
    let bound = if solved.mip_gap().is_finite() {
        solved
            .double_info_value(c"mip_dual_bound")
            .ok()
            .filter(|b| b.is_finite())
    } else {
        optimal.then_some(objective)
    }
    .map(|b| b + constant);
    Ok(ExactResult {
        assignment,
        optimal,
        bound,
        variables,
    })
}

/// Solves the MILP with microlp (which runs to optimality once started: the deadline only
/// decides whether it starts).
#[cfg(all(feature = "microlp", not(feature = "highs")))]
pub(crate) fn solve(model: &Model<'_>, deadline: Option<Instant>) -> Result<ExactResult, String> {
    use good_lp::{Solution, SolverModel};
    if passed(deadline) {
        return Err(TIME_LIMIT.into());
    }
    let (problem, objective, constant, arcs, variables) = load(model, good_lp::microlp);
    let solution = problem.solve().map_err(|e| format!("microlp failed: {e}"))?;
    let assignment = read(&arcs, |(v, _)| solution.value(v));
    let objective = objective.eval_with(&solution) + constant;
    Ok(ExactResult {
        assignment,
        optimal: true,
        bound: Some(objective),
        variables,
    })
}

/// The MILP of `model` as a sparse matrix (see [`super::export::MilpMatrix`]).
pub(crate) fn matrix(model: &Model<'_>) -> super::export::MilpMatrix {
    use std::collections::HashMap;
    let Milp {
        vars,
        objective,
        constant,
        constraints,
        ..
    } = build(model);
    let mut column_of = HashMap::with_capacity(vars.len());
    let mut m = super::export::MilpMatrix::default();
    for (j, (v, def)) in vars.iter_variables_with_def().enumerate() {
        column_of.insert(v, j);
        m.integer.push(def.is_integer());
        m.lower.push(def.get_min());
        m.upper.push(def.get_max());
    }
    m.objective = vec![0.0; column_of.len()];
    for (v, c) in (&objective).linear_coefficients() {
        m.objective[column_of[&v]] += c;
    }
    m.constant = constant + objective.constant();
    m.row_starts.push(0);
    for c in &constraints {
        // good_lp keeps every constraint as `expression <= 0` or `expression == 0`.
        let expression = c.expression();
        let mut row: Vec<(usize, f64)> = expression
            .linear_coefficients()
            .map(|(v, a)| (column_of[&v], a))
            .collect();
        row.sort_unstable_by_key(|&(j, _)| j);
        for (j, a) in row {
            m.columns.push(j);
            m.values.push(a);
        }
        m.row_starts.push(m.columns.len());
        let rhs = -expression.constant();
        m.row_upper.push(rhs);
        m.row_lower
            .push(if c.is_equality() { rhs } else { f64::NEG_INFINITY });
    }
    m
}

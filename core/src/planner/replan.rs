//! The fast planner's state kept between runs, so that a change to the fleet re-plans only
//! the workloads it touches.
//!
//! A [`Replanner`] plans a whole fleet once (this is also how [`super::plan`] runs) and keeps
//! what that built: the dense indices, the candidate pools of every rule set, the capacity
//! left after the placement, and every workload's share of the plan. Afterwards,
//! [`Replanner::replan`] divides again only the workloads it is given, in priority order,
//! from where their replicas run now and against the capacity the others left; every other
//! workload keeps its placement, untouched and uncopied. The simulation uses it so that a
//! failed cluster costs work in proportion to the replicas it held, not to the fleet.
//!
//! What it does not follow: changes to the shape of the fleet (clusters, pools, nodes, labels,
//! taints, Fargate quotas) or to workloads' rules and requests. Those need a new `Replanner`.
//! Health, replica targets and placement policies are read from the problem at each run.

use std::sync::Arc;
use std::time::Instant;

use super::candidates::{self, Candidates, Rules, group_by_rules};
use super::capacity::Capacity;
use super::index::{Index, Request};
use super::pricing::Prices;
use super::seats::{Distributor, Job, Outcome, stable_hash};
use super::{Context, PhaseTimings, PlanOptions, WorkloadResult, priority_order, running_by_workload};
use crate::cluster::HourlyPrice;
use crate::error::Error;
use crate::plan::{Plan, Summary};
use crate::problem::Problem;

/// Where one workload's replicas run: `(cluster, pool, replicas)` sorted by cluster and pool,
/// in the dense indices of the planner.
pub(crate) type Seats = Vec<(usize, usize, u32)>;

/// What never changes between runs over the same fleet shape.
struct Fixed {
    index: Index,
    requests: Vec<Request>,
    /// Per workload: its rule set's index in `candidates`.
    rules_of: Vec<usize>,
    candidates: Vec<Candidates>,
    with_fargate: bool,
    /// Per workload: its position in the order workloads take capacity.
    priority_rank: Vec<usize>,
    /// Workload indices by id, the plan's order.
    by_name: Vec<usize>,
}

/// One workload divided again by [`Replanner::replan`].
pub(crate) struct Replanned {
    pub workload: usize,
    /// Where its replicas ran before.
    pub before: Seats,
}

/// The fast planner's indices, capacity and placement of one fleet, ready to re-plan a few
/// workloads.
#[derive(Clone)]
pub(crate) struct Replanner {
    fixed: Arc<Fixed>,
    capacity: Capacity,
    /// Per workload: where its replicas run after the last run.
    seats: Vec<Seats>,
    /// Per workload: its part of the last plan.
    results: Vec<WorkloadResult>,
    summary: Summary,
}

impl std::fmt::Debug for Replanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replanner")
            .field("workloads", &self.seats.len())
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl Replanner {
    /// Plans every workload of `problem`, keeping running replicas where the rules allow.
    ///
    /// # Errors
    /// When [`Problem::validate`] fails.
    pub fn new(problem: &Problem, options: &PlanOptions) -> Result<(Replanner, PhaseTimings), Error> {
        problem.validate()?;
        let mut timings = PhaseTimings::default();

        let started = Instant::now();
        let index = Index::new(problem);
        let requests = index.replica_requests(problem);
        let capacity = Capacity::new(problem, &index, &requests);
        timings.index = started.elapsed();

        let started = Instant::now();
        let (rule_sets, rules_of) = group_by_rules(problem);
        let candidates = candidates::compute(problem, &index, &rule_sets);
        let with_fargate = rule_sets.first().is_some_and(|r| r.fargate.is_some());
        drop(rule_sets);
        timings.candidates = started.elapsed();

        let started = Instant::now();
        let by_priority = priority_order(problem);
        let mut priority_rank = vec![0; by_priority.len()];
        for (rank, &w) in by_priority.iter().enumerate() {
            priority_rank[w] = rank;
        }
        let mut by_name: Vec<usize> = (0..problem.workloads.len()).collect();
        by_name.sort_by(|&a, &b| problem.workloads[a].id.cmp(&problem.workloads[b].id));
        let mut running = running_by_workload(problem, &index);
        let seats = problem
            .workloads
            .iter()
            .map(|w| running.remove(&w.id).unwrap_or_default())
            .collect();
        let mut results = Vec::with_capacity(problem.workloads.len());
        results.resize_with(problem.workloads.len(), WorkloadResult::default);
        let mut replanner = Replanner {
            fixed: Arc::new(Fixed {
                index,
                requests,
                rules_of,
                candidates,
                with_fargate,
                priority_rank,
                by_name,
            }),
            capacity,
            seats,
            results,
            summary: Summary {
                workloads: problem.workloads.len(),
                ..Summary::default()
            },
        };
        replanner.divide(problem, options, &by_priority);
        timings.distribute = started.elapsed();
        Ok((replanner, timings))
    }

    /// Divides `workloads` again (in priority order, whatever order they come in) from where
    /// their replicas run now, less those in pools for which `lost(pool)` holds; every other
    /// workload keeps its placement. New replicas take the capacity they use.
    ///
    /// # Errors
    /// [`Error::TooManyReplicas`] when the targets and running replicas add up to more than
    /// [`crate::MAX_REPLICAS`]; nothing changes then.
    pub fn replan(
        &mut self,
        problem: &Problem,
        options: &PlanOptions,
        mut workloads: Vec<usize>,
        lost: impl Fn(usize) -> bool,
    ) -> Result<Vec<Replanned>, Error> {
        let target: u64 = problem.workloads.iter().map(|w| u64::from(w.replicas)).sum();
        if target + self.summary.placed > crate::problem::MAX_REPLICAS {
            return Err(Error::TooManyReplicas {
                replicas: target + self.summary.placed,
            });
        }
        workloads.sort_unstable_by_key(|&w| self.fixed.priority_rank[w]);
        workloads.dedup();
        let mut befores = Vec::with_capacity(workloads.len());
        for &w in &workloads {
            let before = self.seats[w].clone();
            self.seats[w].retain(|&(_, pool, _)| !lost(pool));
            self.forget(w);
            befores.push(before);
        }
        let outcomes = self.divide(problem, options, &workloads);
        // Workloads not divided again keep every replica they had.
        let redone_kept: u64 = outcomes.iter().map(|o| o.kept).sum();
        let redone_placed: u64 = outcomes.iter().map(|o| o.placed).sum();
        self.summary.kept = self.summary.placed - redone_placed + redone_kept;
        self.summary.removed = outcomes.iter().map(|o| o.removed).sum();
        Ok(workloads
            .into_iter()
            .zip(befores)
            .map(|(workload, before)| Replanned { workload, before })
            .collect())
    }

    /// Takes workload `w`'s last result out of the totals.
    fn forget(&mut self, w: usize) {
        let result = std::mem::take(&mut self.results[w]);
        let placed: u64 = result.placements.iter().map(|p| u64::from(p.replicas)).sum();
        let unplaced = result.unplaced.as_ref().map_or(0, |u| u64::from(u.replicas));
        let s = &mut self.summary;
        s.placed -= placed;
        s.unplaced -= unplaced;
        s.target -= placed + unplaced;
        if let Some(cost) = &result.cost {
            s.cost_per_hour = HourlyPrice(s.cost_per_hour.0 - cost.per_hour.0);
        }
    }

    /// Divides `workloads`, in that order, from `self.seats`; records their results and new
    /// seats and adds them to the totals.
    fn divide(&mut self, problem: &Problem, options: &PlanOptions, workloads: &[usize]) -> Vec<Outcome> {
        let fixed = Arc::clone(&self.fixed);
        let context = Context::new(problem, &fixed.index, Prices::new(problem, &fixed.index));
        let mut distributor = Distributor::default();
        let mut outcomes = Vec::with_capacity(workloads.len());
        for &w in workloads {
            let workload = &problem.workloads[w];
            let rules = Rules::of(workload, fixed.with_fargate);
            let running = std::mem::take(&mut self.seats[w]);
            let job = Job {
                problem,
                index: &fixed.index,
                workload,
                rules: &rules,
                candidates: &fixed.candidates[fixed.rules_of[w]],
                request: &fixed.requests[w],
                running: &running,
                workload_hash: stable_hash(&[&workload.id.namespace, &workload.id.name]),
                cluster_hashes: &context.cluster_hashes,
            };
            let outcome = distributor.run(&job, &mut self.capacity);
            let explain = options.explain || outcome.unplaced > 0;
            let result = context.record(
                &job,
                &distributor,
                &self.capacity,
                outcome.unplaced,
                explain,
                options.explain,
            );
            let s = &mut self.summary;
            s.target += u64::from(workload.replicas);
            s.placed += outcome.placed;
            s.unplaced += u64::from(outcome.unplaced);
            s.kept += outcome.kept;
            s.removed += outcome.removed;
            if let Some(cost) = &result.cost {
                s.cost_per_hour = HourlyPrice(s.cost_per_hour.0 + cost.per_hour.0);
            }
            let mut seats: Seats = distributor
                .pools
                .iter()
                .filter(|p| p.seats() > 0)
                .map(|p| (fixed.index.pools[p.pool].cluster, p.pool, p.seats()))
                .collect();
            seats.sort_unstable();
            self.seats[w] = seats;
            self.results[w] = result;
            outcomes.push(outcome);
        }
        outcomes
    }

    /// Where workload `w`'s replicas run after the last run.
    pub fn seats(&self, w: usize) -> &[(usize, usize, u32)] {
        &self.seats[w]
    }

    /// The nodes of `pool` (a dense index) as this placement leaves them.
    pub fn nodes(&self, pool: usize) -> Vec<crate::cluster::NodeGroup> {
        self.capacity.nodes(&self.fixed.index, pool)
    }

    /// The dense indices the seats refer to.
    pub fn index(&self) -> &Index {
        &self.fixed.index
    }

    /// The totals of the last run: `kept` and `removed` count that run's changes only.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Workloads with unplaced replicas.
    pub fn with_unplaced(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.results.len()).filter(|&w| self.results[w].unplaced.is_some())
    }

    /// The whole plan, copied out.
    pub fn plan(&self) -> Plan {
        assemble(
            self.summary.clone(),
            self.fixed.by_name.iter().map(|&w| self.results[w].clone()),
        )
    }

    /// The whole plan, moved out.
    pub fn into_plan(mut self) -> Plan {
        let results = std::mem::take(&mut self.results);
        let mut by_index: Vec<Option<WorkloadResult>> = results.into_iter().map(Some).collect();
        assemble(
            self.summary.clone(),
            self.fixed.by_name.iter().filter_map(|&w| by_index[w].take()),
        )
    }
}

/// A plan from the workloads' results in the plan's order.
fn assemble(summary: Summary, results: impl Iterator<Item = WorkloadResult>) -> Plan {
    let mut plan = Plan {
        summary,
        ..Plan::default()
    };
    for result in results {
        plan.placements.extend(result.placements);
        plan.unplaced.extend(result.unplaced);
        plan.explanations.extend(result.explanations);
        plan.costs.extend(result.cost);
    }
    plan
}

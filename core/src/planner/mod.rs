//! The fast planner: a greedy, deterministic placement in four phases.
//!
//! 1. **Index**: dense indices for resources, regions, zones and pools, and the free capacity
//!    of every node group.
//! 2. **Candidates**: for each distinct rule set, the pools a replica may use in each cluster
//!    and why every other cluster is refused (in parallel).
//! 3. **Distribute**: workloads in priority order (then by name) take shared capacity; each
//!    one's target is divided seat by seat (see `planner/seats.rs`).
//! 4. **Assemble**: placements, unplaced replicas with a reason per cluster, explanations.

pub(crate) mod candidates;
pub(crate) mod capacity;
pub(crate) mod index;
pub(crate) mod pricing;
pub(crate) mod replan;
mod seats;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use candidates::{Candidates, ClusterVerdict};
use capacity::Capacity;
use index::{Index, Request};
use pricing::Prices;
use replan::Replanner;
use seats::{Distributor, Job, Stop, stable_hash};

use crate::cluster::{Cluster, Health, PoolName, Taint};
use crate::error::Error;
use crate::explain::Reason;
use crate::objective::Weights;
use crate::plan::{ClusterReason, Explanation, Placement, Plan, PoolReplicas, Unplaced, WorkloadCost};
use crate::problem::Problem;
use crate::solver::SolverChoice;
use crate::workload::WorkloadId;

/// Options of a planning run.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanOptions {
    /// Explain every workload and cluster pair, not only those with unplaced replicas.
    pub explain: bool,
    /// Which solver [`crate::solve`] uses (the fast planner's [`plan`] ignores it).
    pub solver: SolverChoice,
    /// The objective's weights, for scoring and for the optimal solvers.
    pub weights: Weights,
    /// How long the exact solver may search before it returns its best plan so far.
    pub time_limit: Duration,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            explain: false,
            solver: SolverChoice::Auto,
            weights: Weights::default(),
            time_limit: Duration::from_secs(10),
        }
    }
}

/// Wall-clock time spent in each phase of one planning run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseTimings {
    /// Building dense indices and node capacity.
    pub index: Duration,
    /// Static candidates per rule set.
    pub candidates: Duration,
    /// Dividing every workload's target.
    pub distribute: Duration,
    /// Ordering placements and reasons into the plan.
    pub assemble: Duration,
}

impl PhaseTimings {
    /// The sum of all phases.
    pub fn total(&self) -> Duration {
        self.index + self.candidates + self.distribute + self.assemble
    }
}

/// Plans `problem` with the fast planner.
///
/// # Errors
/// When [`Problem::validate`] fails. Shortages of capacity are not errors: they appear in
/// [`Plan::unplaced`].
pub fn plan(problem: &Problem, options: &PlanOptions) -> Result<Plan, Error> {
    plan_with_timings(problem, options).map(|(plan, _)| plan)
}

/// Plans `problem` and reports the time spent in each phase.
///
/// # Errors
/// As [`plan`].
pub fn plan_with_timings(problem: &Problem, options: &PlanOptions) -> Result<(Plan, PhaseTimings), Error> {
    let (replanner, mut timings) = Replanner::new(problem, options)?;
    let started = Instant::now();
    let mut plan = replanner.into_plan();
    problem.attach_followers(&mut plan);
    timings.assemble = started.elapsed();
    Ok((plan, timings))
}

/// Workload indices in the order they take shared capacity: higher priority first, then by
/// id. Every solver packs in this order.
pub(crate) fn priority_order(problem: &Problem) -> Vec<usize> {
    let mut order: Vec<usize> = (0..problem.workloads.len()).collect();
    order.sort_by(|&a, &b| {
        let (wa, wb) = (&problem.workloads[a], &problem.workloads[b]);
        wb.template
            .priority
            .cmp(&wa.template.priority)
            .then(wa.id.cmp(&wb.id))
    });
    order
}

/// What one workload contributes to the plan.
#[derive(Clone, Default)]
struct WorkloadResult {
    placements: Vec<Placement>,
    unplaced: Option<Unplaced>,
    explanations: Vec<Explanation>,
    cost: Option<WorkloadCost>,
}

/// Per-run data shared by every workload.
struct Context<'p> {
    problem: &'p Problem,
    /// Cluster indices in name order.
    clusters_by_name: Vec<usize>,
    /// Each cluster's position in name order.
    cluster_rank: Vec<usize>,
    cluster_hashes: Vec<u64>,
    regions: Vec<Arc<str>>,
    prices: Prices,
}

impl<'p> Context<'p> {
    fn new(problem: &'p Problem, index: &Index, prices: Prices) -> Self {
        let mut clusters_by_name: Vec<usize> = (0..problem.clusters.len()).collect();
        clusters_by_name.sort_by(|&a, &b| problem.clusters[a].name.cmp(&problem.clusters[b].name));
        let mut cluster_rank = vec![0; clusters_by_name.len()];
        for (rank, &c) in clusters_by_name.iter().enumerate() {
            cluster_rank[c] = rank;
        }
        Context {
            problem,
            clusters_by_name,
            cluster_rank,
            cluster_hashes: problem
                .clusters
                .iter()
                .map(|c| stable_hash(&[c.name.as_str()]))
                .collect(),
            regions: index.regions.iter().map(|r| Arc::from(r.as_str())).collect(),
            prices,
        }
    }

    /// Turns the distributor's state after one workload into plan entries.
    fn record(
        &self,
        job: &Job<'_>,
        distributor: &Distributor,
        capacity: &Capacity,
        unplaced: u32,
        with_reasons: bool,
        explain_all: bool,
    ) -> WorkloadResult {
        let id = &job.workload.id;
        let mut result = WorkloadResult::default();
        let mut by_name: Vec<(usize, &seats::Slot)> = distributor
            .slots
            .iter()
            .filter(|slot| slot.seats > 0)
            .map(|slot| (self.cluster_rank[slot.cluster], slot))
            .collect();
        by_name.sort_unstable_by_key(|&(rank, _)| rank);
        result.placements.reserve(by_name.len());
        for (_, slot) in by_name {
            let cluster = &self.problem.clusters[slot.cluster];
            let mut pools: Vec<PoolReplicas> = distributor.pools[slot.pools.clone()]
                .iter()
                .filter(|p| p.seats() > 0)
                .map(|p| PoolReplicas {
                    pool: self.pool_name(job.index, p.pool),
                    replicas: p.seats(),
                })
                .collect();
            pools.sort_by(|a, b| a.pool.cmp(&b.pool));
            result.placements.push(Placement {
                workload: id.clone(),
                cluster: cluster.name.clone(),
                region: self.regions[job.index.cluster_region[slot.cluster]].clone(),
                replicas: slot.seats,
                pools,
            });
        }
        result.cost = self.prices.workload_cost(
            job.index,
            id,
            job.request,
            distributor.pools.iter().map(|p| (p.pool, p.seats())),
        );
        if !with_reasons {
            return result;
        }
        let slot_of_cluster: HashMap<usize, usize> = distributor
            .slots
            .iter()
            .enumerate()
            .map(|(s, slot)| (slot.cluster, s))
            .collect();
        let mut reasons = Vec::new();
        for &c in &self.clusters_by_name {
            let slot = slot_of_cluster.get(&c).map(|&s| &distributor.slots[s]);
            let reason = match slot {
                Some(slot) => match &slot.stop {
                    None => None,
                    Some(Stop::Because(reason)) => Some(reason.clone()),
                    Some(Stop::Full) => Some(self.shortage(job, slot.cluster, capacity)),
                },
                None => Some(self.refusal(job.candidates, c)),
            };
            let cluster = &self.problem.clusters[c];
            if explain_all {
                result.explanations.push(Explanation {
                    workload: id.clone(),
                    cluster: cluster.name.clone(),
                    replicas: slot.map_or(0, |s| s.seats),
                    reason: reason.clone(),
                });
            }
            if let Some(reason) = reason {
                reasons.push(ClusterReason {
                    cluster: cluster.name.clone(),
                    reason,
                });
            }
        }
        if unplaced > 0 {
            result.unplaced = Some(Unplaced {
                workload: id.clone(),
                replicas: unplaced,
                reasons,
            });
        }
        result
    }

    fn pool_name(&self, index: &Index, pool: usize) -> PoolName {
        let r = &index.pools[pool];
        self.problem.clusters[r.cluster].pools[r.local].name.clone()
    }

    /// Why a cluster with no slot takes nothing.
    fn refusal(&self, candidates: &Candidates, c: usize) -> Reason {
        match (&candidates.clusters[c], self.problem.clusters[c].health) {
            (Err(reason), _) => reason.clone(),
            (Ok(_), Health::Draining) => Reason::ClusterDraining,
            (Ok(_), health) => Reason::ClusterUnhealthy { health },
        }
    }

    /// Why a cluster whose pools are full takes no more.
    fn shortage(&self, job: &Job<'_>, cluster: usize, capacity: &Capacity) -> Reason {
        shortage_reason(
            job.index,
            capacity,
            &self.problem.clusters[cluster],
            &job.candidates.clusters[cluster],
            job.request,
        )
    }
}

/// Why `cluster`, whose static verdict is `verdict`, takes no more replicas of `request` in
/// the pools it allows: the Fargate quota for a Fargate profile, else the resource their
/// nodes ran out of, else (when they have no node that takes pods) which nodes take none and
/// which of the cluster's other pools have a taint the workload does not tolerate.
pub(crate) fn shortage_reason(
    index: &Index,
    capacity: &Capacity,
    cluster: &Cluster,
    verdict: &ClusterVerdict,
    request: &Request,
) -> Reason {
    let (choices, untolerated): (&[candidates::PoolChoice], &[(PoolName, Taint)]) = match verdict {
        Ok(choices) => (&choices.pools, &choices.untolerated),
        Err(_) => (&[], &[]),
    };
    let mut pools = choices.iter().map(|c| c.pool);
    if let Some(bucket) = pools.clone().next().and_then(|p| index.pools[p].bucket) {
        let b = &index.buckets[bucket];
        return Reason::FargateQuota {
            account: b.account.clone(),
            region: index.regions[b.region].clone(),
            needs_millis: request.fargate.map_or(0, |size| size.cpu_millis),
            free_millis: capacity.bucket_free(bucket).max(0),
            quota_millis: b.quota_millis,
        };
    }
    match capacity.shortage(&mut pools, request) {
        Some((resource, largest_free)) => Reason::Insufficient {
            resource: index.resources[resource].clone(),
            needs: amount(request, resource),
            largest_free,
        },
        // Every node lacks something when nothing fits, so no shortage means no node.
        None => Reason::NoNodes {
            unavailable: choices
                .iter()
                .flat_map(|c| &cluster.pools[index.pools[c.pool].local].unavailable)
                .cloned()
                .collect(),
            untolerated: untolerated.to_vec(),
        },
    }
}

pub(crate) fn amount(request: &Request, resource: usize) -> i64 {
    request
        .items
        .iter()
        .find(|(r, _)| *r == resource)
        .map_or(0, |(_, a)| *a)
}

/// Current replicas grouped by workload: `(cluster, pool, replicas)` sorted by cluster.
pub(crate) fn running_by_workload<'p>(
    problem: &'p Problem,
    index: &Index,
) -> HashMap<&'p WorkloadId, Vec<(usize, usize, u32)>> {
    let clusters: HashMap<&str, usize> = problem
        .clusters
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let mut out: HashMap<&WorkloadId, Vec<(usize, usize, u32)>> = HashMap::new();
    for r in &problem.current {
        let (Some(&c), true) = (clusters.get(r.cluster.as_str()), r.replicas > 0) else {
            continue;
        };
        let Some(local) = problem.clusters[c].pools.iter().position(|p| p.name == r.pool) else {
            continue;
        };
        out.entry(&r.workload)
            .or_default()
            .push((c, index.cluster_pools[c].start + local, r.replicas));
    }
    for list in out.values_mut() {
        // One entry per pool: the same pool may be listed more than once.
        list.sort_unstable();
        list.dedup_by(|next, first| {
            let same = (next.0, next.1) == (first.0, first.1);
            if same {
                first.2 += next.2;
            }
            same
        });
    }
    out
}

//! The placement problem as an optimisation model shared by the flow and exact solvers and by
//! the scoring of any plan: per workload, the pools it may use ("arcs") with their capacity
//! and per-replica cost, its cluster and region limits, its topology spread domains.
//!
//! Rules come from the fast planner's candidates, so every solver agrees on what is allowed.
//! Running replicas that may stay ("kept") use no new capacity: their pods are already
//! counted in the pools' free resources, and a move starts the new replica before the old one
//! stops, so the old one's room is never reused within one plan.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::cluster::Health;
use crate::objective::{ObjectiveValue, Weights};
use crate::plan::Plan;
use crate::planner::candidates::{self, Candidates, may_keep};
use crate::planner::capacity::{fargate_free, node_fit};
use crate::planner::index::{Index, Request};
use crate::planner::pricing::Prices;
use crate::planner::running_by_workload;
use crate::problem::Problem;
use crate::workload::{Strategy, TopologyKey, WhenUnsatisfiable, Workload, WorkloadId};

/// A pool one workload may use.
#[derive(Clone, Debug)]
pub(crate) struct Arc {
    /// Dense pool index.
    pub pool: usize,
    /// Position of the pool's cluster in [`WorkloadModel::clusters`].
    pub slot: usize,
    /// New replicas may go here.
    pub new_ok: bool,
    /// New replicas that fit on the pool's nodes when this workload is alone (at most the
    /// target); zero when `new_ok` is false.
    pub fit: u64,
    /// Running replicas that may stay here.
    pub running: u32,
    /// Unmet preference per replica.
    pub preference: f64,
    /// Price per replica per hour, in currency units.
    pub price: f64,
    /// `price` divided by the workload's most expensive pool price.
    pub cost: f64,
    /// Distance from demand per replica.
    pub demand: f64,
    /// For `pack`: the cluster's fill rank divided by the number of clusters.
    pub rank: f64,
    /// The weighted sum of the linear terms above: what one replica here costs.
    pub unit: f64,
}

/// One cluster a workload may run in.
#[derive(Clone, Debug)]
pub(crate) struct ClusterTerm {
    /// Index in `Problem::clusters`.
    pub cluster: usize,
    /// Dense region index.
    pub region: usize,
    /// Takes new replicas (Ready, allowed, positive weight).
    pub eligible: bool,
    /// Minimum replicas (zero when none or not eligible).
    pub min: u32,
    /// Maximum replicas (`u32::MAX` when none).
    pub max: u32,
    /// For `spread` and `weighted` on eligible clusters: the weighted share of the target.
    pub share: Option<f64>,
}

/// A hard topology spread constraint.
#[derive(Clone, Debug)]
pub(crate) struct SpreadTerm {
    /// The domain kind.
    pub key: TopologyKey,
    /// The allowed skew (at least one).
    pub max_skew: u32,
    /// Per domain: it can take new replicas.
    pub eligible: Vec<bool>,
    /// Per arc: its domain.
    pub arc_domain: Vec<Option<usize>>,
}

/// One workload's part of the model.
#[derive(Clone, Debug)]
pub(crate) struct WorkloadModel {
    /// The replica target.
    pub target: u32,
    /// Weight factor of an unplaced replica: `1 + priority tier`.
    pub unplaced_factor: f64,
    /// All or nothing.
    pub gang: bool,
    /// Regions the replicas must span.
    pub min_regions: u32,
    /// The pools it may use, by cluster.
    pub arcs: Vec<Arc>,
    /// The clusters of `arcs`.
    pub clusters: Vec<ClusterTerm>,
    /// Per region: minimum (zero outside eligible regions) and maximum.
    pub region_min: Vec<u32>,
    /// Per region: maximum (`u32::MAX` when none).
    pub region_max: Vec<u32>,
    /// Hard topology spread constraints.
    pub spreads: Vec<SpreadTerm>,
    /// Every running replica of the workload, wherever it runs.
    pub running_total: u64,
}

/// Per workload and arc: `(kept, new)` replicas.
pub(crate) type Assignment = Vec<Vec<(u32, u32)>>;

/// The model of one problem.
pub(crate) struct Model<'p> {
    pub problem: &'p Problem,
    pub index: Index,
    pub requests: Vec<Request>,
    pub candidates: Vec<Candidates>,
    pub rules_of: Vec<usize>,
    pub weights: Weights,
    pub workloads: Vec<WorkloadModel>,
    /// Per cluster: fixed price per hour, and that price over the largest one.
    pub fixed: Vec<(f64, f64)>,
    /// What a replica costs in each pool.
    pub prices: Prices,
    /// Per Fargate bucket: the quota left before any new replica, in millicores.
    pub fargate_free: Vec<i64>,
}

impl<'p> Model<'p> {
    /// Builds the model. The problem must be valid.
    pub fn new(problem: &'p Problem, weights: Weights) -> Self {
        let index = Index::new(problem);
        let requests = index.replica_requests(problem);
        let (rule_sets, rules_of) = candidates::group_by_rules(problem);
        let candidates = candidates::compute(problem, &index, &rule_sets);
        // Dense node groups and per-replica price inputs of every pool.
        let groups: Vec<Vec<(u64, Vec<i64>)>> = index
            .pools
            .iter()
            .map(|p| {
                problem.clusters[p.cluster].pools[p.local]
                    .nodes
                    .iter()
                    .map(|g| (u64::from(g.count), index.dense(&g.free)))
                    .collect()
            })
            .collect();
        let prices = Prices::new(problem, &index);
        let fargate_free = fargate_free(problem, &index, &requests);
        let mut priorities: Vec<i32> = problem.workloads.iter().map(|w| w.template.priority).collect();
        priorities.sort_unstable();
        priorities.dedup();
        let running = running_by_workload(problem, &index);
        let context = Context {
            problem,
            index: &index,
            requests: &requests,
            candidates: &candidates,
            rules: &rule_sets,
            rules_of: &rules_of,
            groups: &groups,
            prices: &prices,
            fargate_free: &fargate_free,
            running: &running,
            weights: &weights,
        };
        // Workloads are independent: build them in parallel (this is most of the cost of
        // scoring a plan of a large fleet).
        let workloads = problem
            .workloads
            .par_iter()
            .enumerate()
            .map(|(w, workload)| {
                let tier = priorities.partition_point(|&p| p < workload.template.priority);
                let mut model = context.workload(w, workload);
                model.unplaced_factor = 1.0 + tier as f64;
                model
            })
            .collect();
        let largest_fixed = problem
            .clusters
            .iter()
            .filter_map(|c| c.fixed_price)
            .map(|p| p.units())
            .fold(0.0, f64::max);
        let fixed = problem
            .clusters
            .iter()
            .map(|c| {
                let price = c.fixed_price.map_or(0.0, |p| p.units());
                (
                    price,
                    if largest_fixed > 0.0 {
                        price / largest_fixed
                    } else {
                        0.0
                    },
                )
            })
            .collect();
        Model {
            problem,
            index,
            requests,
            candidates,
            rules_of,
            weights,
            workloads,
            fixed,
            prices,
            fargate_free,
        }
    }

    /// True when some cluster has a fixed price.
    pub fn has_fixed_prices(&self) -> bool {
        self.fixed.iter().any(|&(price, _)| price > 0.0)
    }

    /// The assignment a plan makes: placed replicas count as kept up to what runs there.
    /// Replicas in pools the workload may not use are left out.
    pub fn assignment_of(&self, plan: &Plan) -> Assignment {
        let workload_of: HashMap<_, usize> = self
            .problem
            .workloads
            .iter()
            .enumerate()
            .map(|(i, w)| (&w.id, i))
            .collect();
        let cluster_of: HashMap<&str, usize> = self
            .problem
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let mut out: Assignment = self
            .workloads
            .iter()
            .map(|m| vec![(0, 0); m.arcs.len()])
            .collect();
        // Per workload, built when the plan first places it: its arc of each pool (a scan
        // of the arcs per placement is quadratic on fleets of many clusters).
        let mut arc_of: Vec<Option<HashMap<usize, usize>>> = vec![None; self.workloads.len()];
        for placement in &plan.placements {
            let (Some(&w), Some(&c)) = (
                workload_of.get(&placement.workload),
                cluster_of.get(placement.cluster.as_str()),
            ) else {
                continue;
            };
            let cluster = &self.problem.clusters[c];
            for pr in &placement.pools {
                let Some(local) = cluster.pools.iter().position(|p| p.name == pr.pool) else {
                    continue;
                };
                let pool = self.index.cluster_pools[c].start + local;
                let arcs = arc_of[w].get_or_insert_with(|| {
                    self.workloads[w]
                        .arcs
                        .iter()
                        .enumerate()
                        .map(|(a, arc)| (arc.pool, a))
                        .collect()
                });
                if let Some(&a) = arcs.get(&pool) {
                    let arc = &self.workloads[w].arcs[a];
                    let kept = pr.replicas.min(arc.running);
                    out[w][a] = (kept, pr.replicas - kept);
                }
            }
        }
        out
    }

    /// Scores an assignment.
    pub fn evaluate(&self, assignment: &Assignment) -> ObjectiveValue {
        let wt = &self.weights;
        let mut value = ObjectiveValue::default();
        let mut used = vec![false; self.problem.clusters.len()];
        let mut unplaced_score = 0.0;
        for (m, counts) in self.workloads.iter().zip(assignment) {
            let mut per_slot = vec![0u64; m.clusters.len()];
            let mut kept = 0u64;
            for (arc, &(k, n)) in m.arcs.iter().zip(counts) {
                let total = u64::from(k) + u64::from(n);
                per_slot[arc.slot] += total;
                kept += u64::from(k);
                let x = total as f64;
                value.preference += x * arc.preference;
                value.cost_per_hour += x * arc.price;
                value.cost += x * arc.cost;
                value.demand += x * arc.demand;
                value.imbalance += x * arc.rank;
            }
            let placed: u64 = per_slot.iter().sum();
            let unplaced = u64::from(m.target).saturating_sub(placed);
            value.unplaced += unplaced;
            unplaced_score += unplaced as f64 * m.unplaced_factor;
            value.moved += m.running_total.saturating_sub(kept);
            let mut per_region = vec![0u64; m.region_min.len()];
            for (term, &x) in m.clusters.iter().zip(&per_slot) {
                per_region[term.region] += x;
                used[term.cluster] |= x > 0;
                value.below_minimum += u64::from(term.min).saturating_sub(x);
                if let Some(share) = term.share {
                    value.imbalance += (x as f64 - share).abs();
                }
            }
            for (r, &x) in per_region.iter().enumerate() {
                value.below_minimum += u64::from(m.region_min[r]).saturating_sub(x);
            }
            let regions_used = per_region.iter().filter(|&&x| x > 0).count() as u64;
            value.below_minimum += u64::from(m.min_regions).saturating_sub(regions_used);
        }
        let mut fixed_score = 0.0;
        for (c, &(price, normalised)) in self.fixed.iter().enumerate() {
            if used[c] {
                value.fixed_per_hour += price;
                fixed_score += normalised;
            }
        }
        value.total = wt.unplaced * unplaced_score
            + wt.below_minimum * value.below_minimum as f64
            + wt.moved * value.moved as f64
            + wt.imbalance * value.imbalance
            + wt.preference * value.preference
            + wt.cost * value.cost
            + wt.demand * value.demand
            + wt.fixed * fixed_score;
        value
    }
}

/// What building one workload's model reads.
struct Context<'a, 'p> {
    problem: &'p Problem,
    index: &'a Index,
    requests: &'a [Request],
    candidates: &'a [Candidates],
    rules: &'a [candidates::Rules<'p>],
    rules_of: &'a [usize],
    groups: &'a [Vec<(u64, Vec<i64>)>],
    prices: &'a Prices,
    fargate_free: &'a [i64],
    /// Running replicas per workload: `(cluster, pool, replicas)`.
    running: &'a HashMap<&'p WorkloadId, Vec<(usize, usize, u32)>>,
    weights: &'a Weights,
}

impl Context<'_, '_> {
    fn workload(&self, w: usize, workload: &Workload) -> WorkloadModel {
        let problem = self.problem;
        let index = self.index;
        let policy = &workload.policy;
        let request = &self.requests[w];
        let candidates = &self.candidates[self.rules_of[w]];
        let rules = &self.rules[self.rules_of[w]];
        let running = self.running.get(&workload.id).map_or(&[][..], Vec::as_slice);
        let total_preference: i64 = workload
            .template
            .affinity
            .preferred
            .iter()
            .map(|t| i64::from(t.weight))
            .sum();
        let max_demand = index
            .regions
            .iter()
            .filter_map(|r| policy.region_demand.get(r))
            .max()
            .unwrap_or(0);
        let mut arcs = Vec::new();
        let mut clusters = Vec::new();
        for (c, cluster) in problem.clusters.iter().enumerate() {
            if !cluster.health.keeps_running() {
                continue;
            }
            let weight = policy.weight_of(cluster.name.as_str(), &cluster.region);
            let verdict = candidates.clusters[c].as_ref().ok();
            let eligible = cluster.health == Health::Ready && weight > 0 && verdict.is_some();
            let slot = clusters.len();
            let first = arcs.len();
            let region = index.cluster_region[c];
            let demand = if max_demand > 0 {
                1.0 - f64::from(policy.region_demand.get(&index.regions[region]).unwrap_or(0))
                    / f64::from(max_demand)
            } else {
                0.0
            };
            for p in index.cluster_pools[c].clone() {
                let choice = verdict.and_then(|v| v.pools.iter().find(|choice| choice.pool == p));
                // `running` is sorted by cluster and pool, one entry per pool.
                let here = running
                    .binary_search_by_key(&(c, p), |&(cluster, pool, _)| (cluster, pool))
                    .map_or(0, |i| running[i].2);
                let local = p - index.cluster_pools[c].start;
                let keepable =
                    here > 0 && (choice.is_some() || may_keep(cluster, &cluster.pools[local], rules));
                let new_ok = eligible && choice.is_some();
                if !new_ok && !keepable {
                    continue;
                }
                let fit = match (new_ok, index.pools[p].bucket, request.fargate) {
                    (false, _, _) => 0,
                    (true, Some(bucket), Some(size)) if size.cpu_millis > 0 => {
                        (self.fargate_free[bucket].max(0) / size.cpu_millis) as u64
                    }
                    (true, Some(_), _) => 0,
                    (true, None, _) => self.groups[p]
                        .iter()
                        .map(|(count, free)| count.saturating_mul(node_fit(free, request)))
                        .fold(0u64, u64::saturating_add),
                }
                .min(u64::from(workload.replicas));
                let score = choice.map_or(0, |choice| choice.score);
                arcs.push(Arc {
                    pool: p,
                    slot,
                    new_ok,
                    fit,
                    running: if keepable { here } else { 0 },
                    preference: (total_preference - score).max(0) as f64 / 100.0,
                    price: self.prices.replica(p, request),
                    cost: 0.0,
                    demand,
                    rank: 0.0,
                    unit: 0.0,
                });
            }
            if arcs.len() == first {
                continue;
            }
            clusters.push((
                ClusterTerm {
                    cluster: c,
                    region,
                    eligible,
                    min: if eligible {
                        policy.cluster_min.get(cluster.name.as_str()).unwrap_or(0)
                    } else {
                        0
                    },
                    max: policy.cluster_max.get(cluster.name.as_str()).unwrap_or(u32::MAX),
                    share: None,
                },
                weight,
                verdict.map_or(i64::MIN, |v| v.best_score),
            ));
        }
        // Shares (spread, weighted) or fill ranks (pack) over the eligible clusters.
        let eligible: Vec<usize> = (0..clusters.len()).filter(|&s| clusters[s].0.eligible).collect();
        let total_weight: u64 = eligible.iter().map(|&s| clusters[s].1).sum();
        let mut rank = vec![0.0; clusters.len()];
        match policy.strategy {
            Strategy::Spread | Strategy::Weighted => {
                for &s in &eligible {
                    clusters[s].0.share = Some(
                        f64::from(workload.replicas) * clusters[s].1 as f64 / total_weight.max(1) as f64,
                    );
                }
            }
            Strategy::Pack => {
                let mut order = eligible.clone();
                order.sort_by(|&a, &b| {
                    (clusters[b].1, clusters[b].2)
                        .cmp(&(clusters[a].1, clusters[a].2))
                        .then_with(|| {
                            problem.clusters[clusters[a].0.cluster]
                                .name
                                .cmp(&problem.clusters[clusters[b].0.cluster].name)
                        })
                });
                for (position, &s) in order.iter().enumerate() {
                    rank[s] = position as f64 / order.len() as f64;
                }
            }
        }
        let most_expensive = arcs.iter().map(|a| a.price).fold(0.0, f64::max);
        let wt = self.weights;
        for arc in &mut arcs {
            arc.cost = if most_expensive > 0.0 {
                arc.price / most_expensive
            } else {
                0.0
            };
            arc.rank = rank[arc.slot];
            arc.unit = wt.preference * arc.preference
                + wt.cost * arc.cost
                + wt.demand * arc.demand
                + wt.imbalance * arc.rank;
        }
        let clusters: Vec<ClusterTerm> = clusters.into_iter().map(|(term, _, _)| term).collect();
        let regions = index.regions.len();
        let mut region_eligible = vec![false; regions];
        for term in clusters.iter().filter(|t| t.eligible) {
            region_eligible[term.region] = true;
        }
        let region_min = (0..regions)
            .map(|r| {
                if region_eligible[r] {
                    policy.region_min.get(&index.regions[r]).unwrap_or(0)
                } else {
                    0
                }
            })
            .collect();
        let region_max = (0..regions)
            .map(|r| policy.region_max.get(&index.regions[r]).unwrap_or(u32::MAX))
            .collect();
        let spreads = workload
            .template
            .topology_spread
            .iter()
            .filter(|t| t.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule)
            .map(|t| {
                let (domains, arc_domain): (usize, Vec<Option<usize>>) = match t.topology_key {
                    TopologyKey::Cluster => (
                        problem.clusters.len(),
                        arcs.iter().map(|a| Some(clusters[a.slot].cluster)).collect(),
                    ),
                    TopologyKey::Region => (
                        regions,
                        arcs.iter().map(|a| Some(clusters[a.slot].region)).collect(),
                    ),
                    TopologyKey::Zone => (
                        index.zone_count,
                        arcs.iter().map(|a| index.pools[a.pool].zone).collect(),
                    ),
                };
                let mut eligible = vec![false; domains];
                for (arc, domain) in arcs.iter().zip(&arc_domain) {
                    if let (true, Some(d)) = (arc.new_ok, domain) {
                        eligible[*d] = true;
                    }
                }
                SpreadTerm {
                    key: t.topology_key,
                    max_skew: t.max_skew.max(1),
                    eligible,
                    arc_domain,
                }
            })
            .collect();
        WorkloadModel {
            target: workload.replicas,
            unplaced_factor: 1.0,
            gang: policy.gang,
            min_regions: policy.min_regions.unwrap_or(0),
            arcs,
            clusters,
            region_min,
            region_max,
            spreads,
            running_total: running.iter().map(|r| u64::from(r.2)).sum(),
        }
    }
}

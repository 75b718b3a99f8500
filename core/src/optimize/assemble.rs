//! From a solver's counts to a plan: pack the new replicas onto real nodes, trim whatever
//! would break a hard rule, and write placements, unplaced replicas and their reasons.
//!
//! Optimal solvers reason about pools in aggregate (the flow about one resource, the MILP
//! about every resource but not node by node), so their counts are checked here against the
//! nodes, in priority order, exactly as the fast planner takes capacity. Anything trimmed
//! makes the result "not proven optimal".

use std::collections::HashMap;

use super::model::{Assignment, Model, SpreadTerm, WorkloadModel};
use crate::cluster::{Health, HourlyPrice};
use crate::explain::Reason;
use crate::plan::{
    ClusterReason, Explanation, PLAN_FORMAT, Placement, Plan, PoolReplicas, Summary, Unplaced,
};
use crate::planner::capacity::Capacity;
use crate::planner::index::Request;
use crate::planner::{priority_order, shortage_reason};

/// A feasible assignment and the node capacity left after it.
pub(crate) struct Packed {
    pub assignment: Assignment,
    pub capacity: Capacity,
    /// Something was trimmed to fit nodes or hard rules.
    pub trimmed: bool,
}

/// Packs `assignment` onto the nodes and trims it to every hard rule. Replicas still missing
/// go greedily to the cheapest arcs with room when anything was trimmed, or always with
/// `fill` (for counts made with estimated capacities).
pub(crate) fn pack(model: &Model<'_>, mut assignment: Assignment, fill: bool) -> Packed {
    let mut capacity = Capacity::new(model.problem, &model.index, &model.requests);
    let mut trimmed = false;
    for w in priority_order(model.problem) {
        let m = &model.workloads[w];
        let request = &model.requests[w];
        let counts = &mut assignment[w];
        let mut cut = false;
        // Fargate quota given to this workload's earlier arcs: a bucket is shared by pools.
        let mut bucket_used = vec![0u64; model.index.buckets.len()];
        for (arc, count) in m.arcs.iter().zip(counts.iter_mut()) {
            count.0 = count.0.min(arc.running);
            let new = if arc.new_ok { count.1 } else { 0 };
            let fit = match model.index.pools[arc.pool].bucket {
                Some(b) => {
                    let fit = capacity
                        .bucket_fit(b, request)
                        .saturating_sub(bucket_used[b])
                        .min(u64::from(new));
                    bucket_used[b] += fit;
                    fit as u32
                }
                None => capacity.fit_up_to(arc.pool, request, u64::from(new)) as u32,
            };
            cut |= fit != count.1;
            count.1 = fit;
        }
        cut |= trim_limits(m, counts);
        cut |= trim_spreads(m, counts);
        if cut || fill {
            cut |= top_up(model, m, counts, &capacity, request);
        }
        trimmed |= cut;
        let placed: u64 = counts.iter().map(|&(k, n)| u64::from(k) + u64::from(n)).sum();
        if m.gang && placed < u64::from(m.target) && placed > 0 {
            counts.iter_mut().for_each(|c| *c = (0, 0));
            trimmed = true;
        }
        // Trimming takes new replicas first and topping up adds new ones, so an arc can end
        // with replicas counted as new where the same number run now: those stay (kept),
        // take no capacity and are not moves.
        for (arc, count) in m.arcs.iter().zip(counts.iter_mut()) {
            let total = count.0 + count.1;
            *count = (total.min(arc.running), total - total.min(arc.running));
        }
        for (arc, &(_, new)) in m.arcs.iter().zip(counts.iter()) {
            if new > 0 {
                capacity.take(arc.pool, request, u64::from(new));
            }
        }
    }
    Packed {
        assignment,
        capacity,
        trimmed,
    }
}

/// After trimming: gives replicas still missing to the workload's cheapest arcs with room
/// (nodes, cluster and region maximums, hard spread), so that a trimmed solution loses as
/// little as possible; true when it added any. Capacity for the workload is not taken yet, so room on an arc is what
/// fits beyond the replicas already counted there.
fn top_up(
    model: &Model<'_>,
    m: &WorkloadModel,
    counts: &mut [(u32, u32)],
    capacity: &Capacity,
    request: &Request,
) -> bool {
    let placed: u32 = counts.iter().map(|&(k, n)| k + n).sum();
    let wanted = m.target.saturating_sub(placed);
    let mut missing = wanted;
    if missing == 0 {
        return false;
    }
    let mut order: Vec<usize> = (0..m.arcs.len()).filter(|&a| m.arcs[a].new_ok).collect();
    order.sort_by(|&a, &b| m.arcs[a].unit.total_cmp(&m.arcs[b].unit));
    let mut per_slot = vec![0u32; m.clusters.len()];
    let mut per_region = vec![0u32; m.region_max.len()];
    for (arc, &(k, n)) in m.arcs.iter().zip(counts.iter()) {
        per_slot[arc.slot] += k + n;
        per_region[m.clusters[arc.slot].region] += k + n;
    }
    for a in order {
        let arc = &m.arcs[a];
        let term = &m.clusters[arc.slot];
        let new = counts[a].1;
        let free = match model.index.pools[arc.pool].bucket {
            // The quota left beside every arc of the workload in the same bucket.
            Some(b) => {
                let used: u64 = m
                    .arcs
                    .iter()
                    .zip(counts.iter())
                    .filter(|(other, _)| model.index.pools[other.pool].bucket == Some(b))
                    .map(|(_, &(_, n))| u64::from(n))
                    .sum();
                capacity.bucket_fit(b, request).saturating_sub(used)
            }
            None => capacity
                .fit_up_to(arc.pool, request, u64::from(new) + u64::from(missing))
                .saturating_sub(u64::from(new)),
        };
        let mut room = u32::try_from(free)
            .unwrap_or(u32::MAX)
            .min(missing)
            .min(term.max.saturating_sub(per_slot[arc.slot]))
            .min(m.region_max[term.region].saturating_sub(per_region[term.region]));
        while room > 0 {
            // With hard spread constraints, one replica at a time.
            if !m.spreads.is_empty() && blocking_spread(m, counts, a).is_some() {
                break;
            }
            let step = if m.spreads.is_empty() { room } else { 1 };
            counts[a].1 += step;
            per_slot[arc.slot] += step;
            per_region[term.region] += step;
            missing -= step;
            room -= step;
        }
        if missing == 0 {
            break;
        }
    }
    missing != wanted
}

/// Removes one replica from arc `a`, new before kept.
fn remove_one(count: &mut (u32, u32)) {
    if count.1 > 0 {
        count.1 -= 1;
    } else {
        count.0 -= 1;
    }
}

/// Trims to the target and to cluster and region maximums; true when anything changed.
fn trim_limits(m: &WorkloadModel, counts: &mut [(u32, u32)]) -> bool {
    let mut changed = false;
    let mut per_slot = vec![0u32; m.clusters.len()];
    let mut per_region = vec![0u32; m.region_max.len()];
    let mut total = 0u32;
    for (arc, count) in m.arcs.iter().zip(counts.iter_mut()) {
        let term = &m.clusters[arc.slot];
        let x = count.0 + count.1;
        let room = (m.target - total)
            .min(term.max - per_slot[arc.slot])
            .min(m.region_max[term.region] - per_region[term.region]);
        let over = x.saturating_sub(room);
        for _ in 0..over {
            remove_one(count);
            changed = true;
        }
        let x = count.0 + count.1;
        per_slot[arc.slot] += x;
        per_region[term.region] += x;
        total += x;
    }
    changed
}

/// Trims new replicas from the fullest domains until every hard spread constraint holds as
/// the Kubernetes scheduler applies it: a domain that receives new replicas holds at most the
/// smallest count over the eligible domains plus maxSkew (running replicas are never moved
/// for skew alone). True when anything changed.
fn trim_spreads(m: &WorkloadModel, counts: &mut [(u32, u32)]) -> bool {
    let mut changed = false;
    // Trimming one constraint can lower the smallest domain of another (a replica taken from
    // a cluster also leaves its region), so go round until no constraint trims anything.
    loop {
        let mut trimmed = false;
        for spread in &m.spreads {
            trimmed |= trim_spread(spread, counts);
        }
        if !trimmed {
            return changed;
        }
        changed = true;
    }
}

/// Trims new replicas until `spread` holds; true when it trimmed any.
fn trim_spread(spread: &SpreadTerm, counts: &mut [(u32, u32)]) -> bool {
    let mut changed = false;
    loop {
        let mut per_domain = vec![0u32; spread.eligible.len()];
        let mut new_in = vec![0u32; spread.eligible.len()];
        for (domain, &(k, n)) in spread.arc_domain.iter().zip(counts.iter()) {
            if let Some(d) = domain {
                per_domain[*d] += k + n;
                new_in[*d] += n;
            }
        }
        let Some(min) = (0..per_domain.len())
            .filter(|&d| spread.eligible[d])
            .map(|d| per_domain[d])
            .min()
        else {
            return changed;
        };
        let worst = (0..per_domain.len())
            .filter(|&d| spread.eligible[d] && new_in[d] > 0 && per_domain[d] > min + spread.max_skew)
            .max_by_key(|&d| per_domain[d]);
        let Some(worst) = worst else { return changed };
        // The arc of that domain with the most new replicas gives one up.
        let Some(a) = (0..counts.len())
            .filter(|&a| spread.arc_domain[a] == Some(worst) && counts[a].1 > 0)
            .max_by_key(|&a| counts[a].1)
        else {
            return changed;
        };
        counts[a].1 -= 1;
        changed = true;
    }
}

/// Writes the plan of a packed assignment.
pub(crate) fn to_plan(model: &Model<'_>, packed: &Packed, explain_all: bool) -> Plan {
    let problem = model.problem;
    let mut clusters_by_name: Vec<usize> = (0..problem.clusters.len()).collect();
    clusters_by_name.sort_by(|&a, &b| problem.clusters[a].name.cmp(&problem.clusters[b].name));
    let mut by_name: Vec<usize> = (0..problem.workloads.len()).collect();
    by_name.sort_by(|&a, &b| problem.workloads[a].id.cmp(&problem.workloads[b].id));
    let mut plan = Plan {
        format: PLAN_FORMAT,
        placements: Vec::new(),
        unplaced: Vec::new(),
        explanations: Vec::new(),
        costs: Vec::new(),
        follow: Vec::new(),
        traffic: Vec::new(),
        summary: Summary {
            workloads: problem.workloads.len(),
            ..Summary::default()
        },
        solver: None,
    };
    for w in by_name {
        let m = &model.workloads[w];
        let workload = &problem.workloads[w];
        let counts = &packed.assignment[w];
        let mut per_cluster: HashMap<usize, Vec<PoolReplicas>> = HashMap::new();
        let mut kept = 0u64;
        for (arc, &(k, n)) in m.arcs.iter().zip(counts) {
            kept += u64::from(k);
            if k + n > 0 {
                let pool = &model.index.pools[arc.pool];
                per_cluster.entry(pool.cluster).or_default().push(PoolReplicas {
                    pool: problem.clusters[pool.cluster].pools[pool.local].name.clone(),
                    replicas: k + n,
                });
            }
        }
        let placed: u64 = per_cluster
            .values()
            .flatten()
            .map(|p| u64::from(p.replicas))
            .sum();
        plan.costs.extend(model.prices.workload_cost(
            &model.index,
            &workload.id,
            &model.requests[w],
            m.arcs.iter().zip(counts).map(|(arc, &(k, n))| (arc.pool, k + n)),
        ));
        let unplaced = u64::from(m.target).saturating_sub(placed) as u32;
        plan.summary.target += u64::from(m.target);
        plan.summary.placed += placed;
        plan.summary.unplaced += u64::from(unplaced);
        plan.summary.kept += kept;
        plan.summary.removed += m.running_total.saturating_sub(kept);
        let mut reasons = Vec::new();
        for &c in &clusters_by_name {
            let cluster = &problem.clusters[c];
            let pools = per_cluster.remove(&c);
            let replicas: u32 = pools.iter().flatten().map(|p| p.replicas).sum();
            if let Some(mut pools) = pools {
                pools.sort_by(|a, b| a.pool.cmp(&b.pool));
                plan.placements.push(Placement {
                    workload: workload.id.clone(),
                    cluster: cluster.name.clone(),
                    region: cluster.region.as_str().into(),
                    replicas,
                    pools,
                });
            }
            if unplaced == 0 && !explain_all {
                continue;
            }
            let reason = why_no_more(model, packed, w, c, unplaced);
            if explain_all {
                plan.explanations.push(Explanation {
                    workload: workload.id.clone(),
                    cluster: cluster.name.clone(),
                    replicas,
                    reason: reason.clone(),
                });
            }
            if unplaced > 0 {
                // Room the solver left unused is reported by what it would run out of.
                let reason = reason.unwrap_or_else(|| shortage(model, packed, w, c));
                reasons.push(ClusterReason {
                    cluster: cluster.name.clone(),
                    reason,
                });
            }
        }
        if unplaced > 0 {
            plan.unplaced.push(Unplaced {
                workload: workload.id.clone(),
                replicas: unplaced,
                reasons,
            });
        }
    }
    plan.summary.cost_per_hour = HourlyPrice(plan.costs.iter().map(|c| c.per_hour.0).sum());
    plan
}

/// Why cluster `c` takes no more replicas of workload `w`; `None` when it could.
fn why_no_more(model: &Model<'_>, packed: &Packed, w: usize, c: usize, unplaced: u32) -> Option<Reason> {
    let m = &model.workloads[w];
    let cluster = &model.problem.clusters[c];
    let Some(slot) = m.clusters.iter().position(|t| t.cluster == c && t.eligible) else {
        return Some(refusal(model, w, c));
    };
    let counts = &packed.assignment[w];
    let term = &m.clusters[slot];
    let here: u32 = m
        .arcs
        .iter()
        .zip(counts)
        .filter(|(a, _)| a.slot == slot)
        .map(|(_, &(k, n))| k + n)
        .sum();
    if here >= term.max {
        return Some(Reason::ClusterMax { max: term.max });
    }
    let in_region: u32 = m
        .arcs
        .iter()
        .zip(counts)
        .filter(|(a, _)| m.clusters[a.slot].region == term.region)
        .map(|(_, &(k, n))| k + n)
        .sum();
    if in_region >= m.region_max[term.region] {
        return Some(Reason::RegionMax {
            region: cluster.region.clone(),
            max: m.region_max[term.region],
        });
    }
    let request = &model.requests[w];
    let mut room = false;
    let mut spread_block = None;
    for (a, arc) in m
        .arcs
        .iter()
        .enumerate()
        .filter(|(_, a)| a.slot == slot && a.new_ok)
    {
        if packed.capacity.fit_up_to(arc.pool, request, 1) == 0 {
            continue;
        }
        match blocking_spread(m, counts, a) {
            Some(block) => spread_block = Some(block),
            None => room = true,
        }
    }
    if room {
        let placed = m.target - unplaced;
        return (m.gang && placed == 0 && unplaced > 0).then(|| Reason::Gang {
            fit: gang_fit(model, packed, w),
            target: m.target,
        });
    }
    Some(spread_block.unwrap_or_else(|| shortage(model, packed, w, c)))
}

/// The hard spread constraint one more replica on arc `a` would break.
fn blocking_spread(m: &WorkloadModel, counts: &[(u32, u32)], a: usize) -> Option<Reason> {
    for spread in &m.spreads {
        let domain = spread.arc_domain[a]?;
        let mut per_domain = vec![0u32; spread.eligible.len()];
        for (d, &(k, n)) in spread.arc_domain.iter().zip(counts) {
            if let Some(d) = d {
                per_domain[*d] += k + n;
            }
        }
        per_domain[domain] += 1;
        let min = (0..per_domain.len())
            .filter(|&d| spread.eligible[d])
            .map(|d| per_domain[d])
            .min()
            .unwrap_or(0);
        if per_domain[domain] > min + spread.max_skew {
            return Some(Reason::TopologySpread {
                key: spread.key,
                max_skew: spread.max_skew,
            });
        }
    }
    None
}

/// Replicas of a gang that would fit on what is left, counted up to its target.
fn gang_fit(model: &Model<'_>, packed: &Packed, w: usize) -> u32 {
    let m = &model.workloads[w];
    let fit: u64 = m
        .arcs
        .iter()
        .filter(|a| a.new_ok)
        .map(|a| {
            packed
                .capacity
                .fit_up_to(a.pool, &model.requests[w], u64::from(m.target))
        })
        .sum();
    fit.min(u64::from(m.target).saturating_sub(1)) as u32
}

/// Why a cluster that takes no new replicas of the workload refuses them.
fn refusal(model: &Model<'_>, w: usize, c: usize) -> Reason {
    let cluster = &model.problem.clusters[c];
    match (&model.candidates[model.rules_of[w]].clusters[c], cluster.health) {
        (Err(reason), _) => reason.clone(),
        (Ok(_), Health::Draining) => Reason::ClusterDraining,
        (Ok(_), Health::Cordoned) => Reason::ClusterCordoned,
        (Ok(_), Health::Ready) => Reason::ZeroWeight,
        (Ok(_), health) => Reason::ClusterUnhealthy { health },
    }
}

/// The resource (or Fargate quota) the cluster's usable pools ran out of.
fn shortage(model: &Model<'_>, packed: &Packed, w: usize, c: usize) -> Reason {
    shortage_reason(
        &model.index,
        &packed.capacity,
        &model.problem.clusters[c],
        &model.candidates[model.rules_of[w]].clusters[c],
        &model.requests[w],
    )
}

//! The invariants every plan must keep, whatever the solver, as functions that say what broke:
//! shared by the property tests (one test per invariant) and the fuzz targets (all of them on
//! every generated problem, for every solver).

use std::collections::BTreeMap;

use fleetplan::{Plan, Problem};

use super::{
    Packing, cluster_counts, current_pools, json, may_stay, pack_plan, plan_pools, pool_allows_new, takes_new,
};

/// What an invariant found broken, with the problem and the plan.
fn broken(what: String, problem: &Problem, plan: &Plan) -> String {
    format!("{what}\nproblem: {}\nplan: {}", json(problem), json(plan))
}

/// Every invariant below, in order.
///
/// # Errors
/// The first invariant broken.
pub fn all(problem: &Problem, plan: &Plan) -> Result<(), String> {
    capacity(problem, plan)?;
    rules(problem, plan)?;
    accounting(problem, plan)?;
    running_accounted(problem, plan)?;
    maximums(problem, plan)
}

/// The new replicas of every pool (all workloads, in priority order) can be packed onto its
/// nodes: an independent best-fit, then an exhaustive search, must find a packing.
///
/// # Errors
/// The first pool that cannot be packed.
pub fn capacity(problem: &Problem, plan: &Plan) -> Result<(), String> {
    for ((cluster, pool), outcome) in pack_plan(problem, plan) {
        if outcome == Packing::Impossible {
            return Err(broken(
                format!("new replicas in {cluster}/{pool} cannot be packed on its nodes"),
                problem,
                plan,
            ));
        }
    }
    Ok(())
}

/// New replicas go only where the cluster is Ready with a positive weight and the cluster
/// selector, node selector, required affinity, hard taints (and, with a hard zone spread, a
/// zone label) allow; kept replicas only where the cluster keeps what it runs and nothing
/// evicts or forbids them.
///
/// # Errors
/// The first replicas found where they may not be.
pub fn rules(problem: &Problem, plan: &Plan) -> Result<(), String> {
    let current = current_pools(problem);
    for ((w, c, p), n) in plan_pools(plan) {
        let (Some(workload), Some(cluster)) = (
            problem.workloads.iter().find(|x| x.id.to_string() == w),
            problem.clusters.iter().find(|x| x.name.as_str() == c),
        ) else {
            return Err(broken(format!("{w} placed in unknown {c}"), problem, plan));
        };
        let Some(pool) = cluster.pools.iter().find(|x| x.name.as_str() == p) else {
            return Err(broken(
                format!("{w} placed in unknown pool {c}/{p}"),
                problem,
                plan,
            ));
        };
        let running = current
            .get(&(w.clone(), c.clone(), p.clone()))
            .copied()
            .unwrap_or(0);
        if n > running && !(takes_new(workload, cluster) && pool_allows_new(workload, cluster, pool)) {
            return Err(broken(
                format!("{} new replicas of {w} in forbidden {c}/{p}", n - running),
                problem,
                plan,
            ));
        }
        if n.min(running) > 0 && !may_stay(workload, cluster, pool) {
            return Err(broken(
                format!(
                    "{} replicas of {w} kept in {c}/{p} where they may not stay",
                    n.min(running)
                ),
                problem,
                plan,
            ));
        }
    }
    Ok(())
}

/// Per workload, placed plus unplaced is the target; a workload with unplaced replicas has one
/// reason per cluster of the fleet, in cluster name order; placements are well formed and
/// ordered; the summary adds up.
///
/// # Errors
/// The first sum or list that is wrong.
pub fn accounting(problem: &Problem, plan: &Plan) -> Result<(), String> {
    let fail = |what: String| Err(broken(what, problem, plan));
    let mut names: Vec<String> = problem.clusters.iter().map(|c| c.name.to_string()).collect();
    names.sort();
    for w in &problem.workloads {
        let entries: Vec<_> = plan.unplaced.iter().filter(|u| u.workload == w.id).collect();
        if entries.len() > 1 {
            return fail(format!("{}: {} unplaced entries", w.id, entries.len()));
        }
        let placed = plan.placed(&w.id);
        let unplaced = entries.first().map_or(0, |u| u.replicas);
        if placed + u64::from(unplaced) != u64::from(w.replicas) {
            return fail(format!(
                "{}: {placed} placed + {unplaced} unplaced != target {}",
                w.id, w.replicas
            ));
        }
        if let Some(u) = entries.first() {
            let reasons: Vec<String> = u.reasons.iter().map(|r| r.cluster.to_string()).collect();
            if u.replicas == 0 || reasons != names {
                return fail(format!(
                    "{}: unplaced {} with reasons for {reasons:?}",
                    w.id, u.replicas
                ));
            }
        }
    }
    let keys: Vec<(String, String)> = plan
        .placements
        .iter()
        .map(|p| (p.workload.to_string(), p.cluster.to_string()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    if keys != sorted {
        return fail("placements out of order or repeated".into());
    }
    for p in &plan.placements {
        let Some(cluster) = problem.clusters.iter().find(|c| c.name == p.cluster) else {
            return fail(format!("placement in unknown cluster {}", p.cluster));
        };
        let pools: Vec<&str> = p.pools.iter().map(|r| r.pool.as_str()).collect();
        if *p.region != *cluster.region.as_str()
            || p.replicas == 0
            || p.pools.iter().any(|r| r.replicas == 0)
            || p.pools.iter().map(|r| r.replicas).sum::<u32>() != p.replicas
            || !pools.windows(2).all(|w| w[0] < w[1])
        {
            return fail(format!(
                "placement of {} in {} is malformed",
                p.workload, p.cluster
            ));
        }
    }
    let s = &plan.summary;
    let sums = (
        problem.workloads.len(),
        problem
            .workloads
            .iter()
            .map(|w| u64::from(w.replicas))
            .sum::<u64>(),
        plan.placements.iter().map(|p| u64::from(p.replicas)).sum::<u64>(),
        plan.unplaced.iter().map(|u| u64::from(u.replicas)).sum::<u64>(),
    );
    if (s.workloads, s.target, s.placed, s.unplaced) != sums {
        return fail(format!(
            "summary {:?} does not add up to {sums:?}",
            (s.workloads, s.target, s.placed, s.unplaced)
        ));
    }
    Ok(())
}

/// Every running replica of a known workload is either kept or removed: `summary.kept +
/// summary.removed` is the number running, and `kept` is what stays in the pools where it
/// runs.
///
/// # Errors
/// When the summary's kept or removed count is wrong.
pub fn running_accounted(problem: &Problem, plan: &Plan) -> Result<(), String> {
    let current = current_pools(problem);
    let placed = plan_pools(plan);
    let running: u64 = current.values().map(|&n| u64::from(n)).sum();
    let stayed: u64 = current
        .iter()
        .map(|(k, &n)| u64::from(n.min(placed.get(k).copied().unwrap_or(0))))
        .sum();
    if plan.summary.kept != stayed || plan.summary.kept + plan.summary.removed != running {
        return Err(broken(
            format!(
                "kept {} (stayed {stayed}) + removed {} != running {running}",
                plan.summary.kept, plan.summary.removed
            ),
            problem,
            plan,
        ));
    }
    Ok(())
}

/// No cluster ever holds more than its maximum and no region more than its maximum, kept
/// replicas included.
///
/// # Errors
/// The first cluster or region over its maximum.
pub fn maximums(problem: &Problem, plan: &Plan) -> Result<(), String> {
    for w in &problem.workloads {
        let mut regions: BTreeMap<String, u32> = BTreeMap::new();
        for (cluster, n) in cluster_counts(plan, &w.id) {
            if let Some(max) = w.policy.cluster_max.get(&cluster).filter(|&max| n > max) {
                return Err(broken(
                    format!("{}: cluster {cluster} has {n} > max {max}", w.id),
                    problem,
                    plan,
                ));
            }
            if let Some(c) = problem.clusters.iter().find(|c| c.name.as_str() == cluster) {
                *regions.entry(c.region.clone()).or_default() += n;
            }
        }
        for (region, n) in regions {
            if let Some(max) = w.policy.region_max.get(&region).filter(|&max| n > max) {
                return Err(broken(
                    format!("{}: region {region} has {n} > max {max}", w.id),
                    problem,
                    plan,
                ));
            }
        }
    }
    Ok(())
}

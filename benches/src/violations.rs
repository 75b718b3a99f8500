//! Replicas a plan places against rules of the problem, counted the same way for every runner
//! that produces a placement, so that the table can show who breaks what: placements in
//! clusters the workload's rules or health do not allow (unless the replicas already run
//! there), above a cluster or region maximum, and gangs placed only in part.
//!
//! fleetplan's own solvers must always score zero here; the one-pod-at-a-time peer has no notion
//! of cluster or region limits or gangs, so it may not.

use std::collections::{BTreeMap, BTreeSet};

use fleetplan::optimize::export::candidate_clusters;
use fleetplan::{Plan, Problem};

/// The replicas of `plan` that break a rule of `problem` (see the module documentation).
///
/// # Errors
/// When the problem is invalid.
pub fn violations(problem: &Problem, plan: &Plan) -> Result<u64, String> {
    let candidates = candidate_clusters(problem).map_err(|e| e.to_string())?;
    let index: BTreeMap<_, usize> = problem
        .workloads
        .iter()
        .enumerate()
        .map(|(i, w)| (&w.id, i))
        .collect();
    let cluster_index: BTreeMap<&str, usize> = problem
        .clusters
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let running: BTreeSet<(&fleetplan::WorkloadId, &str)> = problem
        .current
        .iter()
        .map(|r| (&r.workload, r.cluster.as_str()))
        .collect();
    let mut broken = 0u64;
    let mut placed = vec![0u64; problem.workloads.len()];
    let mut per_region: BTreeMap<(usize, &str), u64> = BTreeMap::new();
    for p in &plan.placements {
        let (Some(&w), Some(&c)) = (index.get(&p.workload), cluster_index.get(p.cluster.as_str())) else {
            broken += u64::from(p.replicas);
            continue;
        };
        let workload = &problem.workloads[w];
        let replicas = u64::from(p.replicas);
        placed[w] += replicas;
        *per_region.entry((w, &p.region)).or_insert(0) += replicas;
        if !candidates[w].contains(&c) && !running.contains(&(&workload.id, p.cluster.as_str())) {
            broken += replicas;
            continue;
        }
        if let Some(max) = workload.policy.cluster_max.get(p.cluster.as_str()) {
            broken += replicas.saturating_sub(u64::from(max));
        }
    }
    for ((w, region), replicas) in per_region {
        if let Some(max) = problem.workloads[w].policy.region_max.get(region) {
            broken += replicas.saturating_sub(u64::from(max));
        }
    }
    for (w, workload) in problem.workloads.iter().enumerate() {
        if workload.policy.gang && placed[w] > 0 && placed[w] < u64::from(workload.replicas) {
            broken += placed[w];
        }
    }
    Ok(broken)
}

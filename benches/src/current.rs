//! The current state: replicas of some workloads already running in some of their clusters,
//! taking room on the nodes, as a controller would find the fleet before a re-plan.

use fleetplan::{
    ClusterName, PoolName, Running, Strategy, WhenUnsatisfiable, Workload, node_selector_failure,
    required_affinity_matches, untolerated_hard_taint,
};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::fleet::{Fleet, GPU, PoolDraft, Vector};
use crate::random::sample;
use crate::vector;
use crate::workloads::Profile;

/// True when a replica of `workload` may run in `pool`.
fn compatible(pool: &PoolDraft, workload: &Workload, request: &Vector) -> bool {
    let t = &workload.template;
    node_selector_failure(&t.node_selector, &pool.labels).is_none()
        && required_affinity_matches(&t.affinity.required, &pool.labels)
        && untolerated_hard_taint(&pool.taints, &t.tolerations).is_none()
        && (request[GPU] == 0 || pool.allocatable[GPU] > 0)
}

/// Places their target (some below or above it, as autoscalers leave them) of `fraction` of the workloads in a few of their
/// clusters (one or two for `pack`), first fit on the nodes, and returns what runs.
pub(crate) fn running(
    fraction: f64,
    fleet: &mut Fleet,
    workloads: &[Workload],
    profiles: &[Profile],
    profile_of: &[usize],
    rng: &mut SmallRng,
) -> Vec<Running> {
    let mut out = Vec::new();
    if fraction <= 0.0 {
        return out;
    }
    for (workload, &p) in workloads.iter().zip(profile_of) {
        if !rng.random_bool(fraction.min(1.0)) {
            continue;
        }
        let eligible = &profiles[p].eligible;
        let request = vector(&workload.template.effective_requests());
        // Most run at their target; autoscalers have moved some below or above it.
        let scale = match rng.random_range(0..100) {
            0..70 => 1.0,
            70..85 => rng.random_range(0.5..0.95),
            _ => rng.random_range(1.05..1.3),
        };
        let wanted = (f64::from(workload.replicas) * scale).round().max(1.0) as u64;
        // Workloads with a hard spread constraint run everywhere they may, as the controller
        // that kept the constraint would have left them.
        let hard = workload
            .template
            .topology_spread
            .iter()
            .any(|t| t.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule);
        let k = match workload.policy.strategy {
            _ if hard => eligible.len(),
            Strategy::Pack => rng.random_range(1..=2),
            _ => rng.random_range(1..=eligible.len()),
        }
        .min(eligible.len());
        let clusters = sample(rng, eligible, k);
        for (j, &c) in clusters.iter().enumerate() {
            let mut left = wanted / k as u64 + u64::from((j as u64) < wanted % k as u64);
            let cluster = &mut fleet.clusters[c];
            // The scheduler put them on the nodes of up to four pools.
            let compatible: Vec<usize> = (0..cluster.pools.len())
                .filter(|&q| compatible(&cluster.pools[q], workload, &request))
                .collect();
            let pools = sample(rng, &compatible, if hard { compatible.len() } else { 4 });
            if pools.is_empty() || left == 0 {
                continue;
            }
            let first = rng.random_range(0..pools.len());
            let each = left.div_ceil(pools.len() as u64);
            let mut placed = vec![0u64; pools.len()];
            // An even share per pool, then whatever is left wherever it fits.
            for pass in 0..2 {
                for k in 0..pools.len() {
                    let slot = (first + k) % pools.len();
                    let ask = if pass == 0 { each.min(left) } else { left };
                    if ask == 0 {
                        break;
                    }
                    let got = cluster.pools[pools[slot]].take(&request, ask);
                    placed[slot] += got;
                    left -= got;
                }
            }
            for (slot, &n) in placed.iter().enumerate() {
                if n > 0 {
                    out.push(Running {
                        workload: workload.id.clone(),
                        cluster: ClusterName::from(cluster.name.as_str()),
                        pool: PoolName::from(cluster.pools[pools[slot]].name.as_str()),
                        replicas: n as u32,
                    });
                }
            }
        }
    }
    out
}

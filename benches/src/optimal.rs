//! Instances for the optimal solvers: the flow benchmark's 10,000 workloads over 100 clusters,
//! the exact benchmark's 500 workloads over 20 clusters with minimums, maximums and gangs, and
//! the small seeded families on which the fast planner's score is compared with the exact
//! optimum.

use fleetplan::{HourlyPrice, PerName, Problem, WorkloadKind};

use crate::{Mix, SyntheticSpec, synthetic};

/// 100 clusters of 2 pools in 10 regions, 10,000 workloads, 200,000 replicas, priced nodes.
pub fn flow_instance(seed: u64) -> Problem {
    let spec = SyntheticSpec {
        clusters: 100,
        pools_per_cluster: 2,
        workloads: 10_000,
        total_replicas: 200_000,
        regions: 10,
        rule_profiles: 100,
        namespaces: 100,
        running_fraction: 0.0,
        unhealthy_fraction: 0.02,
        capacity_factor: 1.0,
        mix: Mix::default(),
    };
    priced(synthetic(&spec, seed))
}

/// 100,000 one-pool clusters in 20 regions, 3 workloads, 150,000 replicas: a fleet far wider
/// than deep, where any work per cluster and placement (rather than per arc) shows.
pub fn wide_instance(seed: u64) -> Problem {
    let spec = SyntheticSpec {
        clusters: 100_000,
        pools_per_cluster: 1,
        workloads: 3,
        total_replicas: 150_000,
        regions: 20,
        rule_profiles: 1,
        namespaces: 1,
        running_fraction: 0.0,
        unhealthy_fraction: 0.0,
        capacity_factor: 1.0,
        mix: Mix::default(),
    };
    synthetic(&spec, seed)
}

/// 20 clusters of 3 pools in 4 regions, 500 workloads, 10,000 replicas, with per-cluster
/// minimums and maximums on some workloads and every Job a gang.
pub fn exact_instance(seed: u64) -> Problem {
    let spec = SyntheticSpec {
        clusters: 20,
        pools_per_cluster: 3,
        workloads: 500,
        total_replicas: 10_000,
        regions: 4,
        rule_profiles: 40,
        namespaces: 20,
        running_fraction: 0.0,
        unhealthy_fraction: 0.05,
        capacity_factor: 1.0,
        mix: Mix::default(),
    };
    constrained(priced(synthetic(&spec, seed)))
}

/// The families of the optimality-gap report: name and spec (40 workloads, 8 clusters).
pub fn gap_families() -> Vec<(&'static str, SyntheticSpec)> {
    let base = SyntheticSpec {
        clusters: 8,
        pools_per_cluster: 3,
        workloads: 40,
        total_replicas: 800,
        regions: 3,
        rule_profiles: 10,
        namespaces: 5,
        running_fraction: 0.0,
        unhealthy_fraction: 0.0,
        capacity_factor: 1.5,
        mix: Mix::default(),
    };
    vec![
        ("roomy", base.clone()),
        (
            "tight",
            SyntheticSpec {
                capacity_factor: 0.9,
                ..base.clone()
            },
        ),
        ("half-running", base.clone().with_running(0.5)),
        (
            "failed-clusters",
            SyntheticSpec {
                unhealthy_fraction: 0.25,
                ..base.clone().with_running(0.5)
            },
        ),
    ]
}

/// The problem of a gap family, priced and constrained like the exact benchmark.
pub fn gap_instance(spec: &SyntheticSpec, seed: u64) -> Problem {
    constrained(priced(synthetic(spec, seed)))
}

/// Gives every pool a node price: a base by pool name hash (0.10 to 0.50 per hour), higher
/// in later regions, so that cheap and dear pools compete.
pub fn priced(mut problem: Problem) -> Problem {
    for (c, cluster) in problem.clusters.iter_mut().enumerate() {
        for (p, pool) in cluster.pools.iter_mut().enumerate() {
            let step = (c * 7 + p * 13) % 9;
            pool.node_price = HourlyPrice::from_units(0.10 + 0.05 * step as f64);
        }
    }
    problem
}

/// Every fifth workload gets a per-cluster maximum of a third of its target (at least 1)
/// and a minimum of one replica in its first eligible-looking cluster; every Job is a gang.
pub fn constrained(mut problem: Problem) -> Problem {
    let first = problem.clusters.first().map(|c| c.name.to_string());
    for (i, w) in problem.workloads.iter_mut().enumerate() {
        if i % 5 == 0 {
            w.policy.cluster_max = PerName {
                default: Some((w.replicas / 3).max(1)),
                named: Default::default(),
            };
            if let Some(name) = &first {
                w.policy.cluster_min.named.insert(name.clone(), 1);
            }
        }
        if w.kind == WorkloadKind::Job {
            w.policy.gang = true;
        }
    }
    problem
}

//! Utilisation of each cluster's node pools under a plan: per cluster and resource, what the
//! planned replicas request against what the pools' nodes offer.
//!
//! **Decision:** only the plan's replicas on node pools count, against the allocatable of
//! every node of the cluster's node pools; pods that are not part of the problem and Fargate
//! pools (which have a vCPU quota, not nodes) are left out. It answers "how full would the
//! plan make these clusters", for capacity planning and plots.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cluster::ClusterName;
use crate::plan::Plan;
use crate::problem::Problem;
use crate::resources::ResourceName;

/// One cluster's use of one resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Utilisation {
    /// The cluster.
    pub cluster: ClusterName,
    /// Its region.
    pub region: String,
    /// The resource (canonical units: CPU in millicores, memory in bytes).
    pub resource: ResourceName,
    /// What the planned replicas on its node pools request.
    pub planned: i64,
    /// The allocatable of every node of its node pools.
    pub capacity: i64,
}

impl Utilisation {
    /// `planned / capacity`, or 0 without capacity.
    pub fn fraction(&self) -> f64 {
        if self.capacity > 0 {
            self.planned as f64 / self.capacity as f64
        } else {
            0.0
        }
    }
}

/// The utilisation of every cluster of `problem` under `plan`, per resource any of its node
/// pools offers, by cluster then resource name.
pub fn utilisation(problem: &Problem, plan: &Plan) -> Vec<Utilisation> {
    let requests: BTreeMap<_, _> = problem
        .workloads
        .iter()
        .map(|w| (&w.id, w.template.effective_requests()))
        .collect();
    let mut out = Vec::new();
    for cluster in &problem.clusters {
        let mut capacity: BTreeMap<ResourceName, i64> = BTreeMap::new();
        for pool in cluster.pools.iter().filter(|p| p.fargate.is_none()) {
            let nodes = i64::try_from(pool.node_count()).unwrap_or(i64::MAX);
            for (name, amount) in pool.allocatable.iter() {
                let total = capacity.entry(name.clone()).or_default();
                *total = total.saturating_add(amount.saturating_mul(nodes));
            }
        }
        let mut planned: BTreeMap<ResourceName, i64> = BTreeMap::new();
        for placement in plan.placements.iter().filter(|p| p.cluster == cluster.name) {
            let Some(request) = requests.get(&placement.workload) else {
                continue;
            };
            let on_nodes: u32 = placement
                .pools
                .iter()
                .filter(|p| {
                    cluster
                        .pools
                        .iter()
                        .any(|q| q.name == p.pool && q.fargate.is_none())
                })
                .map(|p| p.replicas)
                .sum();
            for (name, amount) in request.iter() {
                let total = planned.entry(name.clone()).or_default();
                *total = total.saturating_add(amount.saturating_mul(i64::from(on_nodes)));
            }
        }
        for (resource, capacity) in capacity {
            out.push(Utilisation {
                cluster: cluster.name.clone(),
                region: cluster.region.clone(),
                planned: planned.get(&resource).copied().unwrap_or(0),
                resource,
                capacity,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cluster, NodePool, PlanOptions, Resources, Workload, plan};

    #[test]
    fn planned_requests_count_against_node_pool_capacity() {
        let mut east = Cluster::new("east", "r1");
        east.pools.push(NodePool::uniform(
            "general",
            2,
            Resources::new()
                .with("cpu", 4000)
                .with("memory", 8 << 30)
                .with("pods", 110),
        ));
        let problem = Problem {
            clusters: vec![east],
            workloads: vec![Workload::new(
                "shop",
                "web",
                3,
                Resources::new().with("cpu", 1000),
            )],
            ..Problem::default()
        };
        let plan = plan(&problem, &PlanOptions::default()).unwrap();
        let used = utilisation(&problem, &plan);
        let cpu = used.iter().find(|u| u.resource.as_str() == "cpu").unwrap();
        assert_eq!((cpu.planned, cpu.capacity), (3000, 8000));
        assert!((cpu.fraction() - 0.375).abs() < 1e-9);
        let memory = used.iter().find(|u| u.resource.as_str() == "memory").unwrap();
        assert_eq!((memory.planned, memory.capacity), (0, 16 << 30));
    }
}

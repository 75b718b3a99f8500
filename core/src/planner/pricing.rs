//! What a replica costs per hour in each pool, and what a workload's placed replicas cost.
//!
//! In a node pool a replica pays its share of the node: the node price times the largest
//! fraction of the node's allocatable resources it requests (pod slots included). On Fargate
//! it pays for the size Fargate gives it at the region's vCPU-hour and GB-hour rates. Pools
//! with no price are free. The cost objective and the plan's `costs` both read these prices.

use super::index::{Index, Request};
use crate::HourlyPrice;
use crate::fargate::FargateRates;
use crate::plan::{FargateUse, WorkloadCost};
use crate::problem::Problem;
use crate::workload::WorkloadId;

/// How one pool prices a replica.
enum PoolPrice {
    /// No price known.
    Free,
    /// A share of a node costing `price` per hour with `allocatable` resources (dense).
    Node { price: f64, allocatable: Vec<i64> },
    /// Fargate at these rates.
    Fargate(FargateRates),
}

/// The prices of every pool of a problem.
pub(crate) struct Prices {
    pools: Vec<PoolPrice>,
    /// Some pool has a price or is Fargate (else no workload has a cost to report).
    any: bool,
}

impl Prices {
    pub fn new(problem: &Problem, index: &Index) -> Self {
        let pools = index
            .pools
            .iter()
            .map(|p| {
                let pool = &problem.clusters[p.cluster].pools[p.local];
                match (p.bucket, pool.node_price) {
                    (Some(bucket), _) => PoolPrice::Fargate(index.buckets[bucket].rates),
                    (None, Some(price)) if price.0 > 0 => PoolPrice::Node {
                        price: price.units(),
                        allocatable: index.dense(&pool.allocatable),
                    },
                    (None, _) => PoolPrice::Free,
                }
            })
            .collect::<Vec<_>>();
        let any = pools.iter().any(|p| !matches!(p, PoolPrice::Free));
        Prices { pools, any }
    }

    /// What one replica of `request` costs per hour in `pool`, in currency units.
    pub fn replica(&self, pool: usize, request: &Request) -> f64 {
        match &self.pools[pool] {
            PoolPrice::Free => 0.0,
            PoolPrice::Node { price, allocatable } => {
                let share = request
                    .items
                    .iter()
                    .filter(|&&(r, _)| allocatable[r] > 0)
                    .map(|&(r, amount)| amount as f64 / allocatable[r] as f64)
                    .fold(0.0, f64::max);
                price * share.min(1.0)
            }
            PoolPrice::Fargate(rates) => request.fargate.map_or(0.0, |size| size.price(*rates).units()),
        }
    }

    /// What `workload`'s placed replicas cost, from `(pool, replicas)` pairs; `None` when
    /// nothing it runs has a price and none of it runs on Fargate.
    pub fn workload_cost(
        &self,
        index: &Index,
        workload: &WorkloadId,
        request: &Request,
        pools: impl Iterator<Item = (usize, u32)>,
    ) -> Option<WorkloadCost> {
        if !self.any {
            return None;
        }
        let mut per_hour = 0.0;
        let mut fargate: Option<(u32, f64)> = None;
        for (pool, replicas) in pools.filter(|&(_, n)| n > 0) {
            let cost = self.replica(pool, request) * f64::from(replicas);
            per_hour += cost;
            if index.pools[pool].bucket.is_some() {
                let (n, c) = fargate.get_or_insert((0, 0.0));
                *n += replicas;
                *c += cost;
            }
        }
        let fargate = match (fargate, request.fargate) {
            (Some((replicas, cost)), Some(size)) => Some(FargateUse {
                replicas,
                cpu_millis: size.cpu_millis,
                memory_bytes: size.memory_bytes,
                requested_cpu_millis: size.requested_cpu_millis,
                requested_memory_bytes: size.requested_memory_bytes,
                waste_cpu_millis: size.cpu_waste_millis(),
                waste_memory_bytes: size.memory_waste_bytes(),
                per_hour: to_price(cost),
            }),
            _ => None,
        };
        let per_hour = to_price(per_hour);
        (per_hour.0 > 0 || fargate.is_some()).then(|| WorkloadCost {
            workload: workload.clone(),
            per_hour,
            fargate,
        })
    }
}

fn to_price(units: f64) -> HourlyPrice {
    HourlyPrice::from_units(units).unwrap_or_default()
}

//! Free capacity of every pool, per group of identical nodes, and how replicas consume it.
//!
//! The replicas of one workload that fit in a pool are the sum over its nodes of the minimum
//! over resources of `floor(free / request)`. Placing replicas fills nodes first-fit, fullest
//! first, so that the planner's view of fragmentation stays close to a packing scheduler's and
//! the number of distinct node states stays small.

use super::index::{Index, Request};
use crate::problem::Problem;

/// The free resources of one pool's nodes.
#[derive(Clone, Debug)]
pub(crate) struct PoolCapacity {
    /// How many nodes are in each group.
    counts: Vec<u32>,
    /// Free resources per group, `width` values each.
    free: Vec<i64>,
}

/// The free capacity of every pool of the fleet.
pub(crate) struct Capacity {
    width: usize,
    pools: Vec<PoolCapacity>,
}

/// Replicas of `request` that fit on one node with `free` resources.
fn node_fit(free: &[i64], request: &Request) -> u64 {
    request
        .items
        .iter()
        .map(|&(r, amount)| (free[r].max(0) / amount) as u64)
        .min()
        .unwrap_or(u64::MAX)
}

impl Capacity {
    pub fn new(problem: &Problem, index: &Index) -> Self {
        let width = index.resources.len();
        let pools = index
            .pools
            .iter()
            .map(|p| {
                let pool = &problem.clusters[p.cluster].pools[p.local];
                let mut cap = PoolCapacity {
                    counts: Vec::with_capacity(pool.nodes.len()),
                    free: Vec::with_capacity(pool.nodes.len() * width),
                };
                for group in pool.nodes.iter().filter(|g| g.count > 0) {
                    cap.counts.push(group.count);
                    cap.free.extend(index.dense(&group.free));
                }
                cap.normalise(width);
                cap
            })
            .collect();
        Capacity { width, pools }
    }

    /// Replicas of `request` that fit in `pool`.
    pub fn fit(&self, pool: usize, request: &Request) -> u64 {
        let cap = &self.pools[pool];
        cap.counts
            .iter()
            .zip(cap.free.chunks_exact(self.width))
            .map(|(&count, free)| u64::from(count).saturating_mul(node_fit(free, request)))
            .fold(0u64, u64::saturating_add)
    }

    /// Takes `replicas` replicas of `request` from `pool`, filling nodes first-fit. The caller
    /// guarantees they fit (`replicas <= fit(pool, request)`).
    pub fn take(&mut self, pool: usize, request: &Request, mut replicas: u64) {
        let width = self.width;
        let cap = &mut self.pools[pool];
        let groups = cap.counts.len();
        for g in 0..groups {
            if replicas == 0 {
                break;
            }
            let per_node = node_fit(&cap.free[g * width..(g + 1) * width], request);
            if per_node == 0 {
                continue;
            }
            let taken = replicas.min(u64::from(cap.counts[g]).saturating_mul(per_node));
            replicas -= taken;
            let full_nodes = taken / per_node;
            let rest = taken % per_node;
            let base: Vec<i64> = cap.free[g * width..(g + 1) * width].to_vec();
            for (n, each) in [(full_nodes, per_node), (u64::from(rest > 0), rest)] {
                if n == 0 {
                    continue;
                }
                cap.counts[g] -= n as u32;
                cap.counts.push(n as u32);
                let start = cap.free.len();
                cap.free.extend_from_slice(&base);
                for &(r, amount) in &request.items {
                    cap.free[start + r] -= amount * each as i64;
                }
            }
        }
        debug_assert_eq!(replicas, 0, "take() was asked for more than fits");
        cap.normalise(width);
    }

    /// For a request that no longer fits anywhere in `pools`: the resource short on the most
    /// nodes, and the largest free amount of it on any of those nodes.
    pub fn shortage(&self, pools: impl Iterator<Item = usize>, request: &Request) -> Option<(usize, i64)> {
        let mut short_nodes: Vec<(usize, u64, i64)> =
            request.items.iter().map(|&(r, _)| (r, 0, i64::MIN)).collect();
        for pool in pools {
            let cap = &self.pools[pool];
            for (&count, free) in cap.counts.iter().zip(cap.free.chunks_exact(self.width)) {
                for (slot, &(r, amount)) in short_nodes.iter_mut().zip(&request.items) {
                    if free[r] < amount {
                        slot.1 += u64::from(count);
                    }
                    slot.2 = slot.2.max(free[r]);
                }
            }
        }
        short_nodes
            .into_iter()
            .filter(|&(_, nodes, _)| nodes > 0)
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(r, _, largest)| (r, largest.max(0)))
    }
}

impl PoolCapacity {
    /// Drops empty groups and nodes with no pod slot left, merges identical groups, and sorts
    /// groups fullest first (least free) so that `take` packs.
    fn normalise(&mut self, width: usize) {
        let mut order: Vec<usize> = (0..self.counts.len())
            .filter(|&g| self.counts[g] > 0 && self.free[g * width] > 0)
            .collect();
        let free = &self.free;
        order.sort_by(|&a, &b| free[a * width..(a + 1) * width].cmp(&free[b * width..(b + 1) * width]));
        let mut counts = Vec::with_capacity(order.len());
        let mut merged: Vec<i64> = Vec::with_capacity(order.len() * width);
        for g in order {
            let row = &self.free[g * width..(g + 1) * width];
            if counts.last().is_some() && merged[merged.len() - width..] == *row {
                *counts.last_mut().expect("checked above") += self.counts[g];
            } else {
                counts.push(self.counts[g]);
                merged.extend_from_slice(row);
            }
        }
        self.counts = counts;
        self.free = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Cluster, NodeGroup, NodePool};
    use crate::resources::Resources;
    use crate::workload::Workload;

    fn setup(groups: Vec<(u32, Resources)>, request: Resources) -> (Capacity, Request) {
        let mut cluster = Cluster::new("c", "r");
        let mut pool = NodePool::uniform("p", 0, Resources::new());
        pool.nodes = groups
            .into_iter()
            .map(|(count, free)| NodeGroup { count, free })
            .collect();
        cluster.pools.push(pool);
        let problem = Problem {
            clusters: vec![cluster],
            workloads: vec![Workload::new("ns", "w", 1, request.clone())],
            current: vec![],
        };
        let index = Index::new(&problem);
        let mut request = request;
        request.set("pods", 1);
        let dense = index.request(&request);
        (Capacity::new(&problem, &index), dense)
    }

    fn node(cpu: i64, mem: i64, pods: i64) -> Resources {
        Resources::new()
            .with("cpu", cpu)
            .with("memory", mem)
            .with("pods", pods)
    }

    #[test]
    fn fit_is_the_sum_over_nodes_of_the_scarcest_resource() {
        // 2 nodes fit min(4000/1000, 10/4, 110) = 2 each; 1 node fits min(1, 10, 110) = 1.
        let (cap, req) = setup(
            vec![(2, node(4000, 10, 110)), (1, node(1000, 40, 110))],
            Resources::new().with("cpu", 1000).with("memory", 4),
        );
        assert_eq!(cap.fit(0, &req), 5);
    }

    #[test]
    fn pod_slots_cap_the_fit() {
        let (cap, req) = setup(vec![(3, node(100_000, 100, 2))], Resources::new().with("cpu", 10));
        assert_eq!(cap.fit(0, &req), 6);
    }

    #[test]
    fn a_resource_the_nodes_lack_fits_nothing() {
        let (cap, req) = setup(
            vec![(3, node(4000, 10, 110))],
            Resources::new().with("nvidia.com/gpu", 1),
        );
        assert_eq!(cap.fit(0, &req), 0);
        let (r, largest) = cap.shortage([0].into_iter(), &req).unwrap();
        assert_eq!((r, largest), (3, 0));
    }

    #[test]
    fn taking_consumes_capacity_exactly() {
        let (mut cap, req) = setup(
            vec![(4, node(4000, 100, 110))],
            Resources::new().with("cpu", 1000),
        );
        assert_eq!(cap.fit(0, &req), 16);
        cap.take(0, &req, 6);
        assert_eq!(cap.fit(0, &req), 10);
        cap.take(0, &req, 10);
        assert_eq!(cap.fit(0, &req), 0);
        let (r, largest) = cap.shortage([0].into_iter(), &req).unwrap();
        assert_eq!((r, largest), (1, 0));
    }

    #[test]
    fn taking_packs_nodes_so_large_requests_still_fit() {
        // Two 4-cpu nodes: three 1-cpu replicas go on one node, leaving a whole node free.
        let (mut cap, small) = setup(
            vec![(2, node(4000, 100, 110))],
            Resources::new().with("cpu", 1000),
        );
        cap.take(0, &small, 3);
        let big = Request {
            items: vec![(1, 4000)],
        };
        assert_eq!(cap.fit(0, &big), 1);
    }
}

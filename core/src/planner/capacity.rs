//! Free capacity of every pool, per group of identical nodes, and how replicas consume it.
//!
//! The replicas of one workload that fit in a pool are the sum over its nodes of the minimum
//! over resources of `floor(free / request)`. Placing replicas fills nodes first-fit, fullest
//! first, so that the planner's view of fragmentation stays close to a packing scheduler's.
//!
//! Every placement can split a node group in two (nodes filled up and one partly filled
//! node). To keep queries fast, a pool holds at most [`MAX_GROUPS`] groups: past that, the two
//! fullest groups merge into one whose free amount is the smaller of the two in every
//! resource. Merging only ever under-counts free capacity, so a plan never over-commits a
//! node; it can at worst leave a sliver of a nearly full node unused.
//!
//! A Fargate pool has no nodes: its capacity is the vCPU quota left in its account and region
//! (a "bucket" shared by every Fargate pool there), and a replica takes the vCPUs of its
//! Fargate size from it.

use std::collections::HashMap;

use super::index::{Index, Request};
use crate::cluster::NodeGroup;
use crate::problem::Problem;
use crate::resources::Resources;

/// Identical nodes: how many, and the free amount of every resource on each.
type Group = (u32, Vec<i64>);

/// The most node groups a pool tracks before merging the fullest ones.
pub(crate) const MAX_GROUPS: usize = 32;

/// The free resources of one pool's nodes, fullest group first.
#[derive(Clone, Debug)]
pub(crate) struct PoolCapacity {
    /// How many nodes are in each group.
    counts: Vec<u32>,
    /// Free resources per group, `width` values each.
    free: Vec<i64>,
    /// Nodes too full for any replica, kept only to explain shortages: `(count, free)`.
    /// Past [`MAX_GROUPS`] they merge, keeping the larger free amount of each resource.
    dead: Vec<Group>,
}

/// The free capacity of every pool of the fleet.
#[derive(Clone)]
pub(crate) struct Capacity {
    width: usize,
    pools: Vec<PoolCapacity>,
    /// Resources every workload requests, with the smallest request: a node with less free
    /// than that can take no replica of any workload, so it is dropped.
    useful: Vec<(usize, i64)>,
    /// Per pool: its Fargate bucket, if it is a Fargate profile.
    bucket_of: Vec<Option<usize>>,
    /// Per Fargate bucket: millicores of quota left.
    buckets: Vec<i64>,
}

/// The Fargate quota left in every bucket of `index`, in millicores, after the replicas of
/// the problem's workloads running on Fargate now (replicas of workloads not in the problem
/// cannot be sized: count them in the quota given to the fleet).
pub(crate) fn fargate_free(problem: &Problem, index: &Index, requests: &[Request]) -> Vec<i64> {
    let mut free: Vec<i64> = index.buckets.iter().map(|b| b.quota_millis).collect();
    if free.is_empty() {
        return free;
    }
    let workloads: HashMap<_, usize> = problem
        .workloads
        .iter()
        .enumerate()
        .map(|(w, workload)| (&workload.id, w))
        .collect();
    for running in &problem.current {
        let (Some(&w), Some(c)) = (
            workloads.get(&running.workload),
            problem.clusters.iter().position(|c| c.name == running.cluster),
        ) else {
            continue;
        };
        let pools = index.cluster_pools[c].clone();
        let Some(bucket) = pools
            .clone()
            .find(|&p| problem.clusters[c].pools[index.pools[p].local].name == running.pool)
            .and_then(|p| index.pools[p].bucket)
        else {
            continue;
        };
        if let Some(size) = requests[w].fargate {
            free[bucket] -= size.cpu_millis * i64::from(running.replicas);
        }
    }
    free
}

/// Replicas of `request` that fit on one node with `free` resources.
pub(crate) fn node_fit(free: &[i64], request: &Request) -> u64 {
    request
        .items
        .iter()
        .map(|&(r, amount)| (free[r].max(0) / amount) as u64)
        .min()
        .unwrap_or(u64::MAX)
}

impl Capacity {
    /// The capacity of every pool; `requests` are the replica requests of every workload.
    pub fn new(problem: &Problem, index: &Index, requests: &[Request]) -> Self {
        let width = index.resources.len();
        let useful = smallest_common_requests(requests);
        let pools = index
            .pools
            .iter()
            .map(|p| {
                let pool = &problem.clusters[p.cluster].pools[p.local];
                let (mut groups, dead): (Vec<Group>, Vec<Group>) = pool
                    .nodes
                    .iter()
                    .filter(|g| g.count > 0)
                    .map(|g| (g.count, index.dense(&g.free)))
                    .partition(|(_, free)| useful.iter().all(|&(r, least)| free[r] >= least));
                // Fullest first; identical nodes form one group.
                groups.sort_by(|a, b| a.1.cmp(&b.1));
                let mut cap = PoolCapacity {
                    counts: Vec::with_capacity(groups.len()),
                    free: Vec::with_capacity(groups.len() * width),
                    dead: Vec::new(),
                };
                for (count, free) in groups {
                    if cap.counts.last().is_some() && cap.free[cap.free.len() - width..] == free[..] {
                        *cap.counts.last_mut().expect("checked above") += count;
                    } else {
                        cap.counts.push(count);
                        cap.free.extend(free);
                    }
                }
                for (count, free) in dead {
                    cap.bury(count, &free);
                }
                cap.bound(width);
                cap
            })
            .collect();
        Capacity {
            width,
            pools,
            useful,
            bucket_of: index.pools.iter().map(|p| p.bucket).collect(),
            buckets: fargate_free(problem, index, requests),
        }
    }

    /// Replicas of `request` the Fargate quota of `bucket` still takes.
    pub fn bucket_fit(&self, bucket: usize, request: &Request) -> u64 {
        match request.fargate {
            Some(size) if size.cpu_millis > 0 => (self.buckets[bucket].max(0) / size.cpu_millis) as u64,
            _ => 0,
        }
    }

    /// The Fargate quota left in `bucket`, in millicores.
    pub fn bucket_free(&self, bucket: usize) -> i64 {
        self.buckets[bucket]
    }

    /// Replicas of `request` that fit in `pool`, counted up to `limit`: the exact fit when it
    /// is below `limit`, else `limit`. Emptiest nodes are counted first, so the usual answer
    /// ("plenty") comes after looking at one group.
    pub fn fit_up_to(&self, pool: usize, request: &Request, limit: u64) -> u64 {
        if let Some(bucket) = self.bucket_of[pool] {
            return self.bucket_fit(bucket, request).min(limit);
        }
        let cap = &self.pools[pool];
        let mut total = 0u64;
        for (&count, free) in cap.counts.iter().zip(cap.free.chunks_exact(self.width)).rev() {
            total = total.saturating_add(u64::from(count).saturating_mul(node_fit(free, request)));
            if total >= limit {
                return limit;
            }
        }
        total
    }

    /// Takes `replicas` replicas of `request` from `pool`, filling the fullest nodes first. The
    /// caller guarantees they fit (`replicas <= fit_up_to(pool, request, replicas)`).
    pub fn take(&mut self, pool: usize, request: &Request, mut replicas: u64) {
        if let Some(bucket) = self.bucket_of[pool] {
            let cpu = request.fargate.map_or(0, |size| size.cpu_millis);
            self.buckets[bucket] -= cpu.saturating_mul(i64::try_from(replicas).unwrap_or(i64::MAX));
            return;
        }
        let width = self.width;
        let cap = &mut self.pools[pool];
        let mut g = 0;
        while replicas > 0 && g < cap.counts.len() {
            let row = g * width..(g + 1) * width;
            let per_node = node_fit(&cap.free[row.clone()], request);
            if per_node == 0 {
                g += 1;
                continue;
            }
            let taken = replicas.min(u64::from(cap.counts[g]).saturating_mul(per_node));
            replicas -= taken;
            let full_nodes = (taken / per_node) as u32;
            let rest = taken % per_node;
            // The filled nodes and the partly filled node become groups of their own, placed
            // before their source group since they are fuller.
            let mut inserted = 0;
            for (nodes, each) in [(u32::from(rest > 0), rest), (full_nodes, per_node)] {
                if nodes == 0 {
                    continue;
                }
                let source = g + inserted;
                cap.counts[source] -= nodes;
                cap.counts.insert(g, nodes);
                // Open a row at `g` and copy the source row (now one row later) into it.
                let end = cap.free.len();
                cap.free.resize(end + width, 0);
                cap.free.copy_within(g * width..end, (g + 1) * width);
                cap.free
                    .copy_within((source + 1) * width..(source + 2) * width, g * width);
                for &(r, amount) in &request.items {
                    cap.free[g * width + r] -= amount * each as i64;
                }
                inserted += 1;
            }
            g += inserted + 1;
        }
        debug_assert_eq!(replicas, 0, "take() was asked for more than fits");
        cap.sort(width);
        cap.compact(width, &self.useful);
        cap.bound(width);
    }

    /// The nodes of `pool` as node groups, the planner's view of where replicas went: for a
    /// fleet that carries on from this placement. Empty for a Fargate profile.
    pub fn nodes(&self, index: &Index, pool: usize) -> Vec<NodeGroup> {
        let cap = &self.pools[pool];
        let group = |count: u32, free: &[i64]| {
            let mut resources = Resources::new();
            for (r, &amount) in free.iter().enumerate().filter(|&(_, &a)| a != 0) {
                resources.set(index.resources[r].as_str(), amount);
            }
            NodeGroup {
                count,
                free: resources,
            }
        };
        cap.counts
            .iter()
            .zip(cap.free.chunks_exact(self.width))
            .map(|(&count, free)| group(count, free))
            .chain(cap.dead.iter().map(|(count, free)| group(*count, free)))
            .collect()
    }

    /// For a request that no longer fits anywhere in `pools`: the resource short on the most
    /// nodes (ties to the first in canonical order), and the largest free amount of it on a
    /// node where it is short, so the message never contradicts itself.
    pub fn shortage(&self, pools: impl Iterator<Item = usize>, request: &Request) -> Option<(usize, i64)> {
        // Per requested resource: nodes short of it, and the most any of them has free.
        let mut short: Vec<(u64, i64)> = vec![(0, 0); request.items.len()];
        let mut count_node = |count: u32, free: &[i64]| {
            for (slot, &(r, amount)) in short.iter_mut().zip(&request.items) {
                if free[r] < amount {
                    slot.0 += u64::from(count);
                    slot.1 = slot.1.max(free[r]);
                }
            }
        };
        for pool in pools {
            let cap = &self.pools[pool];
            for (&count, free) in cap.counts.iter().zip(cap.free.chunks_exact(self.width)) {
                count_node(count, free);
            }
            for (count, free) in &cap.dead {
                count_node(*count, free);
            }
        }
        short
            .iter()
            .zip(&request.items)
            .filter(|((nodes, _), _)| *nodes > 0)
            .max_by(|((a, _), (ra, _)), ((b, _), (rb, _))| a.cmp(b).then(rb.cmp(ra)))
            .map(|((_, largest), &(r, _))| (r, *largest))
    }
}

/// The resources that every request asks for, each with its smallest amount. `pods` (index
/// 0, one per replica) is always among them.
fn smallest_common_requests(requests: &[Request]) -> Vec<(usize, i64)> {
    let mut common: Vec<(usize, i64)> = vec![(0, 1)];
    if let Some((first, rest)) = requests.split_first() {
        common = first.items.clone();
        for request in rest {
            common.retain_mut(|(r, least)| match request.items.iter().find(|(q, _)| q == r) {
                Some(&(_, amount)) => {
                    *least = (*least).min(amount);
                    true
                }
                None => false,
            });
        }
    }
    common
}

impl PoolCapacity {
    /// Orders the groups fullest first, as [`Capacity::new`] does, so that a pool's groups
    /// are in the same order however its nodes came to be in this state (taking replicas
    /// leaves the new groups only roughly in place).
    fn sort(&mut self, width: usize) {
        let sorted = (1..self.counts.len())
            .all(|g| self.free[(g - 1) * width..g * width] <= self.free[g * width..(g + 1) * width]);
        if sorted {
            return;
        }
        let free = &self.free;
        let row = |g: usize| &free[g * width..(g + 1) * width];
        let mut order: Vec<usize> = (0..self.counts.len()).collect();
        order.sort_by(|&a, &b| row(a).cmp(row(b)));
        let counts: Vec<u32> = order.iter().map(|&g| self.counts[g]).collect();
        let mut sorted = Vec::with_capacity(self.free.len());
        for &g in &order {
            sorted.extend_from_slice(row(g));
        }
        self.counts = counts;
        self.free = sorted;
    }

    /// Drops groups with no node, or too little left for any replica, and merges
    /// neighbouring identical groups, in place.
    fn compact(&mut self, width: usize, useful: &[(usize, i64)]) {
        let mut kept = 0;
        for g in 0..self.counts.len() {
            let row = &self.free[g * width..(g + 1) * width];
            if self.counts[g] == 0 {
                continue;
            }
            if useful.iter().any(|&(r, least)| row[r] < least) {
                let row = row.to_vec();
                self.bury(self.counts[g], &row);
                continue;
            }
            if kept > 0
                && self.free[(kept - 1) * width..kept * width] == self.free[g * width..(g + 1) * width]
            {
                self.counts[kept - 1] += self.counts[g];
                continue;
            }
            if kept != g {
                self.counts[kept] = self.counts[g];
                self.free.copy_within(g * width..(g + 1) * width, kept * width);
            }
            kept += 1;
        }
        self.counts.truncate(kept);
        self.free.truncate(kept * width);
    }

    /// Keeps `count` nodes that can take no replica, for explanations only.
    fn bury(&mut self, count: u32, free: &[i64]) {
        if let Some(same) = self.dead.iter_mut().find(|(_, f)| f[..] == *free) {
            same.0 += count;
        } else if self.dead.len() < MAX_GROUPS {
            self.dead.push((count, free.to_vec()));
        } else if let Some(last) = self.dead.last_mut() {
            last.0 += count;
            for (kept, &new) in last.1.iter_mut().zip(free) {
                *kept = (*kept).max(new);
            }
        }
    }

    /// Merges the two fullest groups until at most [`MAX_GROUPS`] remain; the merged group
    /// keeps the smaller free amount of every resource.
    fn bound(&mut self, width: usize) {
        while self.counts.len() > MAX_GROUPS {
            for r in 0..width {
                self.free[width + r] = self.free[width + r].min(self.free[r]);
            }
            self.counts[1] += self.counts[0];
            self.counts.remove(0);
            self.free.drain(0..width);
        }
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
            ..Problem::default()
        };
        let index = Index::new(&problem);
        let mut request = request;
        request.set("pods", 1);
        let dense = index.request(&request);
        let pods_only = Request {
            items: vec![(0, 1)],
            fargate: None,
        };
        (Capacity::new(&problem, &index, &[pods_only]), dense)
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
        assert_eq!(cap.fit_up_to(0, &req, u64::MAX), 5);
    }

    #[test]
    fn pod_slots_cap_the_fit() {
        let (cap, req) = setup(vec![(3, node(100_000, 100, 2))], Resources::new().with("cpu", 10));
        assert_eq!(cap.fit_up_to(0, &req, u64::MAX), 6);
    }

    #[test]
    fn a_resource_the_nodes_lack_fits_nothing() {
        let (cap, req) = setup(
            vec![(3, node(4000, 10, 110))],
            Resources::new().with("nvidia.com/gpu", 1),
        );
        assert_eq!(cap.fit_up_to(0, &req, u64::MAX), 0);
        let (r, largest) = cap.shortage([0].into_iter(), &req).unwrap();
        assert_eq!((r, largest), (3, 0));
    }

    #[test]
    fn taking_consumes_capacity_exactly() {
        let (mut cap, req) = setup(
            vec![(4, node(4000, 100, 110))],
            Resources::new().with("cpu", 1000),
        );
        assert_eq!(cap.fit_up_to(0, &req, u64::MAX), 16);
        cap.take(0, &req, 6);
        assert_eq!(cap.fit_up_to(0, &req, u64::MAX), 10);
        cap.take(0, &req, 10);
        assert_eq!(cap.fit_up_to(0, &req, u64::MAX), 0);
        let (r, largest) = cap.shortage([0].into_iter(), &req).unwrap();
        assert_eq!((r, largest), (1, 0));
    }

    #[test]
    fn fit_stops_counting_at_the_limit() {
        let (cap, req) = setup(
            vec![(4, node(4000, 100, 110))],
            Resources::new().with("cpu", 1000),
        );
        assert_eq!(cap.fit_up_to(0, &req, 5), 5);
        assert_eq!(cap.fit_up_to(0, &req, 100), 16);
    }

    #[test]
    fn many_partial_nodes_merge_without_overcounting() {
        // Forty single replicas of different sizes, each on a fresh node, then a bound.
        let (mut cap, _) = setup(
            vec![(100, node(64_000, 1 << 40, 110))],
            Resources::new().with("cpu", 1),
        );
        let mut requested = 0;
        for i in 1..=40 {
            let req = Request {
                items: vec![(0, 1), (1, 64_000 - i)],
                ..Request::default()
            };
            cap.take(0, &req, 1);
            requested += 1;
        }
        assert!(cap.pools[0].counts.len() <= MAX_GROUPS);
        let nodes: u32 = cap.pools[0].counts.iter().sum();
        assert_eq!(nodes, 100);
        // Every partly used node has at most 40m left: no merge may claim more.
        let small = Request {
            items: vec![(0, 1), (1, 41)],
            ..Request::default()
        };
        assert_eq!(cap.fit_up_to(0, &small, u64::MAX), (100 - requested) * 110);
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
            ..Request::default()
        };
        assert_eq!(cap.fit_up_to(0, &big, u64::MAX), 1);
    }
}

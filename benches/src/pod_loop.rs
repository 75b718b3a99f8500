//! A peer for the benchmark harness: the one-pod-at-a-time filter-and-score loop of
//! kube-scheduler, run over the nodes of every cluster a workload may use, which is how
//! Admiralty places a multi-cluster Deployment (each candidate pod is filtered and scored by
//! the target clusters' schedulers and the best node wins).
//!
//! What it does, as kube-scheduler's default profile does:
//! - a queue ordered by priority (highest first), then by workload order; one pod at a time;
//! - **filter**: the node must be in a `Ready` cluster whose labels match the cluster selector
//!   and whose taints are tolerated, match the node selector and required node affinity,
//!   tolerate the node's hard taints, have room for the pod's CPU, memory, pods and GPUs
//!   (`NodeResourcesFit`), and keep a hard zone spread within its skew (`PodTopologySpread`);
//! - filtering stops once enough feasible nodes are found (`percentageOfNodesToScore`'s
//!   adaptive default: all nodes below 100, else `max(5, 50 - nodes/125)`% and at least 100),
//!   starting where the previous pod stopped;
//! - **score**: `LeastAllocated` (the mean share of CPU and memory left free after the pod)
//!   plus matched preferred node affinity weights; the best node wins, ties to the first.
//!
//! What it leaves out, and why: the label and taint rules and preferred affinity are evaluated
//! once per workload and node pool rather than per pod and node (every node of a pool carries
//! the same labels and taints, so the verdict is the same; this only makes the peer faster); Fargate profiles are
//! not nodes and are not used (EKS places those pods itself); gangs, cluster minimums and
//! maximums, region limits and demand have no kube-scheduler counterpart and are ignored.

use std::collections::BTreeMap;

use fleetplan::{
    Health, Placement, Plan, PoolReplicas, Problem, TopologyKey, WhenUnsatisfiable, node_selector_failure,
    required_affinity_matches, untolerated_hard_taint,
};

/// CPU, memory, pods and GPUs.
type Vector = [i64; 4];

fn dense(r: &fleetplan::Resources) -> Vector {
    [
        r.get("cpu"),
        r.get("memory"),
        r.get("pods"),
        r.get("nvidia.com/gpu"),
    ]
}

/// One node of the fleet.
#[derive(Clone, Debug)]
struct Node {
    cluster: usize,
    pool: usize,
    /// Dense zone index (per cluster and zone name), if the pool has a zone.
    zone: Option<usize>,
    free: Vector,
    allocatable: Vector,
}

/// The loop's state: every node, and what each workload got where.
pub struct PodLoop<'p> {
    problem: &'p Problem,
    nodes: Vec<Node>,
    zones: usize,
    /// Per workload: node index to replicas.
    bound: Vec<BTreeMap<usize, u32>>,
    /// Each node pool's nodes, which are contiguous in `nodes`: cluster, pool, node range.
    pools: Vec<(usize, usize, std::ops::Range<usize>)>,
    /// Where the next search starts (kube-scheduler's `nextStartNodeIndex`).
    next_start: usize,
    /// Clusters taken out of service.
    failed: Vec<bool>,
}

impl<'p> PodLoop<'p> {
    /// The fleet's nodes as they are in `problem`, with its running replicas bound where they
    /// run (in clusters that keep them).
    pub fn new(problem: &'p Problem) -> Self {
        let mut zone_ids: BTreeMap<(usize, &str), usize> = BTreeMap::new();
        let mut nodes = Vec::new();
        let mut pools = Vec::new();
        for (c, cluster) in problem.clusters.iter().enumerate() {
            for (p, pool) in cluster.pools.iter().enumerate() {
                if pool.fargate.is_some() {
                    continue;
                }
                let first = nodes.len();
                let zone = pool.zone.as_deref().map(|z| {
                    let next = zone_ids.len();
                    *zone_ids.entry((c, z)).or_insert(next)
                });
                let allocatable = dense(&pool.allocatable);
                for group in &pool.nodes {
                    let free = dense(&group.free);
                    for _ in 0..group.count {
                        nodes.push(Node {
                            cluster: c,
                            pool: p,
                            zone,
                            free,
                            allocatable,
                        });
                    }
                }
                pools.push((c, p, first..nodes.len()));
            }
        }
        // Running pods stay where they are (their resources are already taken from the free
        // ones), in clusters that keep them; they count against their workload's target and
        // its zone spread. They are bound to their pool's first node.
        let first_node: BTreeMap<(&str, &str), usize> = pools
            .iter()
            .filter(|(c, _, _)| problem.clusters[*c].health.keeps_running())
            .filter(|(_, _, range)| !range.is_empty())
            .map(|(c, p, range)| {
                let cluster = &problem.clusters[*c];
                (
                    (cluster.name.as_str(), cluster.pools[*p].name.as_str()),
                    range.start,
                )
            })
            .collect();
        let workload_of: BTreeMap<&fleetplan::WorkloadId, usize> = problem
            .workloads
            .iter()
            .enumerate()
            .map(|(w, wl)| (&wl.id, w))
            .collect();
        let mut bound = vec![BTreeMap::new(); problem.workloads.len()];
        for running in &problem.current {
            let node = first_node.get(&(running.cluster.as_str(), running.pool.as_str()));
            if let (Some(&n), Some(&w)) = (node, workload_of.get(&running.workload)) {
                *bound[w].entry(n).or_insert(0) += running.replicas;
            }
        }
        PodLoop {
            problem,
            nodes,
            zones: zone_ids.len(),
            bound,
            pools,
            next_start: 0,
            failed: vec![false; problem.clusters.len()],
        }
    }

    /// Schedules every workload's target, pod by pod, in priority order.
    pub fn schedule_all(&mut self) {
        let mut order: Vec<usize> = (0..self.problem.workloads.len()).collect();
        order.sort_by_key(|&w| std::cmp::Reverse(self.problem.workloads[w].template.priority));
        for w in order {
            let running: u32 = self.bound[w].values().sum();
            let missing = self.problem.workloads[w].replicas.saturating_sub(running);
            self.schedule(w, missing);
        }
    }

    /// Takes cluster `c` out of service and schedules the pods it held again elsewhere, as
    /// each workload's controller recreates them.
    pub fn fail_cluster(&mut self, c: usize) {
        self.failed[c] = true;
        let mut lost = vec![0u32; self.bound.len()];
        for (w, bound) in self.bound.iter_mut().enumerate() {
            bound.retain(|&n, &mut replicas| {
                let gone = self.nodes[n].cluster == c;
                if gone {
                    lost[w] += replicas;
                }
                !gone
            });
        }
        let mut order: Vec<usize> = (0..lost.len()).filter(|&w| lost[w] > 0).collect();
        order.sort_by_key(|&w| std::cmp::Reverse(self.problem.workloads[w].template.priority));
        for w in order {
            self.schedule(w, lost[w]);
        }
    }

    /// Up to `count` more pods of workload `w`, one at a time.
    fn schedule(&mut self, w: usize, count: u32) {
        let workload = &self.problem.workloads[w];
        let template = &workload.template;
        let request = dense(&template.effective_requests());
        let (eligible, preferred) = self.eligible_nodes(w);
        if eligible.is_empty() {
            return;
        }
        let spreads: Vec<u32> = template
            .topology_spread
            .iter()
            .filter(|s| {
                s.topology_key == TopologyKey::Zone
                    && s.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule
            })
            .map(|s| s.max_skew.max(1))
            .collect();
        // Pods per zone (for the spread filter) over the zones of the eligible nodes.
        let mut per_zone = vec![0u32; self.zones];
        let mut zone_eligible = vec![false; self.zones];
        for &n in &eligible {
            if let Some(z) = self.nodes[n].zone {
                zone_eligible[z] = true;
            }
        }
        for (&n, &replicas) in &self.bound[w] {
            if let Some(z) = self.nodes[n].zone {
                per_zone[z] += replicas;
            }
        }
        let to_find = feasible_to_find(self.nodes.len());
        for _ in 0..count {
            let smallest = (0..self.zones)
                .filter(|&z| zone_eligible[z])
                .map(|z| per_zone[z])
                .min()
                .unwrap_or(0);
            let mut best: Option<(i64, usize)> = None;
            let mut found = 0;
            let start = self.next_start % eligible.len();
            let mut last = start;
            for i in 0..eligible.len() {
                let k = (start + i) % eligible.len();
                let node = &self.nodes[eligible[k]];
                last = k;
                if !fits(&node.free, &request) {
                    continue;
                }
                let spread_ok = match node.zone {
                    Some(z) => spreads.iter().all(|&skew| per_zone[z] < smallest + skew),
                    None => spreads.is_empty(),
                };
                if !spread_ok {
                    continue;
                }
                let score = least_allocated(node, &request) + preferred[k];
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, k));
                }
                found += 1;
                if found >= to_find {
                    break;
                }
            }
            self.next_start = last + 1;
            let Some((_, k)) = best else { break };
            let n = eligible[k];
            for (f, r) in self.nodes[n].free.iter_mut().zip(request) {
                *f -= r;
            }
            if let Some(z) = self.nodes[n].zone {
                per_zone[z] += 1;
            }
            *self.bound[w].entry(n).or_insert(0) += 1;
        }
    }

    /// The nodes whose labels and taints let workload `w` in, in cluster and pool order, with
    /// the summed weights of the preferred node affinity terms each matches. Every node of a
    /// pool carries the pool's labels and taints, so each pool is judged once.
    fn eligible_nodes(&self, w: usize) -> (Vec<usize>, Vec<i64>) {
        let workload = &self.problem.workloads[w];
        let t = &workload.template;
        let (mut eligible, mut preferred) = (Vec::new(), Vec::new());
        for (c, p, nodes) in &self.pools {
            let cluster = &self.problem.clusters[*c];
            let pool = &cluster.pools[*p];
            let allowed = cluster.health == Health::Ready
                && !self.failed[*c]
                && workload
                    .policy
                    .cluster_selector
                    .matches(&cluster.selector_labels())
                && untolerated_hard_taint(&cluster.taints, &t.tolerations).is_none()
                && node_selector_failure(&t.node_selector, &pool.labels).is_none()
                && required_affinity_matches(&t.affinity.required, &pool.labels)
                && untolerated_hard_taint(&pool.taints, &t.tolerations).is_none();
            if !allowed {
                continue;
            }
            let weight: i64 = t
                .affinity
                .preferred
                .iter()
                .filter(|term| term.preference.matches(&pool.labels))
                .map(|term| i64::from(term.weight))
                .sum();
            eligible.extend(nodes.clone());
            preferred.extend(std::iter::repeat_n(weight, nodes.len()));
        }
        (eligible, preferred)
    }

    /// Replicas placed so far.
    pub fn placed(&self) -> u64 {
        self.bound
            .iter()
            .flat_map(|b| b.values())
            .map(|&r| u64::from(r))
            .sum()
    }

    /// Replicas per workload and cluster.
    pub fn per_cluster(&self) -> Vec<BTreeMap<usize, u32>> {
        self.bound
            .iter()
            .map(|bound| {
                let mut out = BTreeMap::new();
                for (&n, &replicas) in bound {
                    *out.entry(self.nodes[n].cluster).or_insert(0) += replicas;
                }
                out
            })
            .collect()
    }

    /// The placement as a fleetplan plan (placements only), so that fleetplan can score it.
    pub fn to_plan(&self) -> Plan {
        let mut placements = Vec::new();
        for (w, bound) in self.bound.iter().enumerate() {
            let mut per_pool: BTreeMap<(usize, usize), u32> = BTreeMap::new();
            for (&n, &replicas) in bound {
                *per_pool
                    .entry((self.nodes[n].cluster, self.nodes[n].pool))
                    .or_insert(0) += replicas;
            }
            let mut by_cluster: BTreeMap<usize, Vec<PoolReplicas>> = BTreeMap::new();
            for ((c, p), replicas) in per_pool {
                by_cluster.entry(c).or_default().push(PoolReplicas {
                    pool: self.problem.clusters[c].pools[p].name.clone(),
                    replicas,
                });
            }
            for (c, mut pools) in by_cluster {
                pools.sort_by(|a, b| a.pool.cmp(&b.pool));
                let cluster = &self.problem.clusters[c];
                placements.push(Placement {
                    workload: self.problem.workloads[w].id.clone(),
                    cluster: cluster.name.clone(),
                    region: cluster.region.as_str().into(),
                    replicas: pools.iter().map(|p| p.replicas).sum(),
                    pools,
                });
            }
        }
        Plan {
            placements,
            ..Plan::default()
        }
    }
}

fn fits(free: &Vector, request: &Vector) -> bool {
    free.iter().zip(request).all(|(f, r)| f >= r)
}

/// kube-scheduler's `LeastAllocated` score (0 to 100): the mean share of CPU and memory left
/// free on the node after the pod.
fn least_allocated(node: &Node, request: &Vector) -> i64 {
    let share = |i: usize| {
        if node.allocatable[i] <= 0 {
            0
        } else {
            (node.free[i] - request[i]) * 100 / node.allocatable[i]
        }
    };
    (share(0) + share(1)) / 2
}

/// kube-scheduler's adaptive `percentageOfNodesToScore`: how many feasible nodes to find before
/// scoring.
fn feasible_to_find(nodes: usize) -> usize {
    if nodes < 100 {
        return nodes.max(1);
    }
    let percent = (50usize.saturating_sub(nodes / 125)).max(5);
    (nodes * percent / 100).max(100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Family;

    #[test]
    fn never_overfills_a_node_and_keeps_placing_after_a_failure() {
        let problem = Family::SkewedSizes.instance(2_000, 3);
        let mut pods = PodLoop::new(&problem);
        pods.schedule_all();
        assert!(pods.nodes.iter().all(|n| n.free.iter().all(|&f| f >= 0)));
        let before = pods.placed();
        assert!(before > 1_000, "placed {before}");
        let busiest = (0..problem.clusters.len())
            .max_by_key(|&c| {
                pods.per_cluster()
                    .iter()
                    .map(|m| m.get(&c).copied().unwrap_or(0))
                    .sum::<u32>()
            })
            .unwrap();
        let kept: Vec<BTreeMap<usize, u32>> = pods.per_cluster();
        pods.fail_cluster(busiest);
        let after = pods.per_cluster();
        assert!(after.iter().all(|m| !m.contains_key(&busiest)));
        for (b, a) in kept.iter().zip(&after) {
            for (c, r) in b.iter().filter(|(c, _)| **c != busiest) {
                assert!(
                    a.get(c).copied().unwrap_or(0) >= *r,
                    "a healthy cluster lost replicas"
                );
            }
        }
    }

    #[test]
    fn feasible_nodes_follow_kube_scheduler() {
        assert_eq!(feasible_to_find(50), 50);
        assert_eq!(feasible_to_find(1_000), 420);
        assert_eq!(feasible_to_find(10_000), 500);
    }
}

//! The flow solver: the placement as a transportation problem, solved by min-cost flow.
//!
//! The network, per workload `w` (supply: its target):
//!
//! ```text
//! w ──(unplaced)──────────────────────────────────────────────────────────────▶ sink
//! w ──(region min / max, when set)──▶ w@region ──▶ w@cluster ──(new)──▶ pool ──(capacity)──▶ sink
//!                                                  w@cluster ──(keep)────────────────────────▶ sink
//! ```
//!
//! Arcs into `w@cluster` are split where the cost changes slope (the cluster minimum, the
//! floor and ceiling of its weighted share, its maximum), so the convex per-cluster terms
//! (minimum shortfall and imbalance) are exact. A pool's shared capacity is counted in
//! replicas of the average request of the workloads that may use it, node by node: exact when
//! they all request the same, an estimate otherwise. Every arc `w@cluster -> pool` is also
//! capped by what fits when `w` is alone, so each workload on its own is exact.
//!
//! What a flow cannot say (other resources, hard topology spread, gangs, minimum regions,
//! fixed cluster prices) is repaired afterwards by packing onto nodes (see `assemble.rs`);
//! the result then says it is not proven optimal.

use std::time::Instant;

use petgraph::graph::NodeIndex;

use super::min_cost_flow::{FlowArc, FlowError, FlowNetwork, min_cost_flow_until};
use super::model::{Assignment, Model, WorkloadModel};
use crate::planner::capacity::node_fit;

/// Objective units per cost unit: costs are rounded to thousandths for the integer solver.
const SCALE: f64 = 1000.0;

/// What the flow found.
pub(crate) struct FlowResult {
    pub assignment: Assignment,
    /// The flow model is the full problem: one request shape per pool and no rule that
    /// needs repair.
    pub exact_model: bool,
    pub arcs: usize,
}

fn scaled(cost: f64) -> i64 {
    (cost * SCALE).round() as i64
}

/// Where one model arc's flow is read back.
enum Edge {
    New { w: usize, a: usize },
    Keep { w: usize, a: usize },
    Other,
}

/// The network of a model, with where each arc's flow is read back.
pub(crate) struct Network {
    pub net: FlowNetwork,
    edges: Vec<Edge>,
    exact_model: bool,
}

/// Builds the network of `model`.
pub(crate) fn network(model: &Model<'_>) -> Network {
    let mut net = FlowNetwork::new();
    let mut edges: Vec<Edge> = Vec::new();
    let sink = net.add_node(0);
    let (pool_nodes, exact_pools) = pool_capacities(model, &mut net, sink, &mut edges);
    let wt = model.weights;
    let mut exact_model = exact_pools && !model.has_fixed_prices();
    for (w, m) in model.workloads.iter().enumerate() {
        if m.target == 0 {
            continue;
        }
        exact_model &= !m.gang && m.spreads.is_empty() && m.min_regions == 0;
        let source = net.add_node(i64::from(m.target));
        *net.node_weight_mut(sink).expect("sink exists") -= i64::from(m.target);
        add(
            &mut net,
            &mut edges,
            source,
            sink,
            u64::from(m.target),
            wt.unplaced * m.unplaced_factor,
            Edge::Other,
        );
        let regions = region_nodes(m, &mut net, source, &mut edges, wt.below_minimum);
        // The arcs in cluster order, walked alongside the clusters (a filter per cluster
        // would be quadratic on fleets of many clusters).
        let mut by_slot: Vec<usize> = (0..m.arcs.len()).collect();
        by_slot.sort_by_key(|&a| m.arcs[a].slot);
        let mut next = by_slot.iter().peekable();
        for (slot, term) in m.clusters.iter().enumerate() {
            let parent = regions.as_ref().map_or(source, |r| r[term.region]);
            let node = net.add_node(0);
            let cap = u64::from(term.max.min(m.target));
            for (length, slope) in cluster_segments(m, slot, wt.below_minimum, wt.imbalance, cap) {
                add(&mut net, &mut edges, parent, node, length, slope, Edge::Other);
            }
            while let Some(&&a) = next.peek()
                && m.arcs[a].slot == slot
            {
                next.next();
                let arc = &m.arcs[a];
                if arc.new_ok && arc.fit > 0 {
                    add(
                        &mut net,
                        &mut edges,
                        node,
                        pool_nodes[arc.pool],
                        arc.fit,
                        arc.unit,
                        Edge::New { w, a },
                    );
                }
                add(
                    &mut net,
                    &mut edges,
                    node,
                    sink,
                    u64::from(arc.running),
                    arc.unit - wt.moved,
                    Edge::Keep { w, a },
                );
            }
        }
    }
    Network {
        net,
        edges,
        exact_model,
    }
}

/// Builds and solves the network, giving up once `deadline` has passed.
pub(crate) fn solve(model: &Model<'_>, deadline: Option<Instant>) -> Result<FlowResult, FlowError> {
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(FlowError::TimeLimit);
    }
    let Network {
        net,
        edges,
        exact_model,
    } = network(model);
    let arcs = net.edge_count();
    let solution = min_cost_flow_until(&net, deadline)?;
    let mut assignment: Assignment = model
        .workloads
        .iter()
        .map(|m| vec![(0, 0); m.arcs.len()])
        .collect();
    for (edge, &flow) in edges.iter().zip(&solution.flow) {
        match *edge {
            Edge::New { w, a } => assignment[w][a].1 += flow as u32,
            Edge::Keep { w, a } => assignment[w][a].0 += flow as u32,
            Edge::Other => {}
        }
    }
    Ok(FlowResult {
        assignment,
        exact_model,
        arcs,
    })
}

/// One node per pool with an arc to the sink holding its shared capacity. Returns the node of
/// every pool and whether every pool's capacity is exact (one request shape).
fn pool_capacities(
    model: &Model<'_>,
    net: &mut FlowNetwork,
    sink: NodeIndex,
    edges: &mut Vec<Edge>,
) -> (Vec<NodeIndex>, bool) {
    let width = model.index.resources.len();
    let pools = model.index.pools.len();
    // Per pool: replica-weighted sum of requests, total weight, and one shape if unique.
    let mut sum = vec![0f64; pools * width];
    let mut weight = vec![0f64; pools];
    let mut shape: Vec<Option<Option<usize>>> = vec![None; pools];
    for (w, m) in model.workloads.iter().enumerate() {
        for arc in m.arcs.iter().filter(|a| a.new_ok && a.fit > 0) {
            let p = arc.pool;
            let n = arc.fit as f64;
            weight[p] += n;
            for &(r, amount) in &model.requests[w].items {
                sum[p * width + r] += n * amount as f64;
            }
            shape[p] = match shape[p] {
                None => Some(Some(w)),
                Some(Some(other)) if model.requests[other].items == model.requests[w].items => {
                    Some(Some(other))
                }
                _ => Some(None),
            };
        }
    }
    let mut exact = true;
    let mut nodes = Vec::with_capacity(pools);
    let buckets = fargate_buckets(model, net, sink, edges);
    exact &= buckets.iter().all(|&(_, exact)| exact);
    for p in 0..pools {
        let node = net.add_node(0);
        nodes.push(node);
        if weight[p] == 0.0 {
            continue;
        }
        if let Some(b) = model.index.pools[p].bucket {
            // A Fargate profile drains into its account's quota in the region.
            add(net, edges, node, buckets[b].0, weight[p] as u64, 0.0, Edge::Other);
            continue;
        }
        let capacity = match shape[p] {
            Some(Some(w)) => group_fit(model, p, |free| node_fit(free, &model.requests[w])),
            _ => {
                exact = false;
                let average: Vec<f64> = (0..width).map(|r| sum[p * width + r] / weight[p]).collect();
                group_fit(model, p, |free| {
                    (0..width)
                        .filter(|&r| average[r] > 0.0)
                        .map(|r| (free[r].max(0) as f64 / average[r]).floor() as u64)
                        .min()
                        .unwrap_or(0)
                })
            }
        };
        if capacity > 0 {
            net.add_edge(
                node,
                sink,
                FlowArc {
                    capacity: capacity.min(i64::MAX as u64 >> 24) as i64,
                    cost: 0,
                },
            );
            edges.push(Edge::Other);
        }
    }
    (nodes, exact)
}

/// One node per Fargate bucket with an arc to the sink holding its quota, in replicas of
/// the average vCPU of the Fargate replicas that may use it; true beside a node when every
/// such replica has the same vCPU (the capacity is then exact).
fn fargate_buckets(
    model: &Model<'_>,
    net: &mut FlowNetwork,
    sink: NodeIndex,
    edges: &mut Vec<Edge>,
) -> Vec<(NodeIndex, bool)> {
    let count = model.index.buckets.len();
    let (mut cpu, mut weight) = (vec![0f64; count], vec![0f64; count]);
    let mut sizes: Vec<Option<Option<i64>>> = vec![None; count];
    for (w, m) in model.workloads.iter().enumerate() {
        let Some(size) = model.requests[w].fargate else {
            continue;
        };
        for arc in m.arcs.iter().filter(|a| a.new_ok && a.fit > 0) {
            let Some(b) = model.index.pools[arc.pool].bucket else {
                continue;
            };
            cpu[b] += arc.fit as f64 * size.cpu_millis as f64;
            weight[b] += arc.fit as f64;
            sizes[b] = match sizes[b] {
                None => Some(Some(size.cpu_millis)),
                Some(Some(other)) if other == size.cpu_millis => Some(Some(other)),
                _ => Some(None),
            };
        }
    }
    (0..count)
        .map(|b| {
            let node = net.add_node(0);
            if weight[b] > 0.0 {
                let average = cpu[b] / weight[b];
                let replicas = (model.fargate_free[b].max(0) as f64 / average).floor() as u64;
                let replicas = replicas.min(i64::MAX as u64 >> 24);
                add(net, edges, node, sink, replicas, 0.0, Edge::Other);
            }
            (node, !matches!(sizes[b], Some(None)))
        })
        .collect()
}

/// Sum over the pool's node groups of `count * per_node(free)`.
fn group_fit(model: &Model<'_>, p: usize, per_node: impl Fn(&[i64]) -> u64) -> u64 {
    let pool = &model.index.pools[p];
    model.problem.clusters[pool.cluster].pools[pool.local]
        .nodes
        .iter()
        .map(|g| u64::from(g.count).saturating_mul(per_node(&model.index.dense(&g.free))))
        .fold(0, u64::saturating_add)
}

/// Adds an arc of `capacity` replicas at `cost` each (nothing when the capacity is zero).
fn add(
    net: &mut FlowNetwork,
    edges: &mut Vec<Edge>,
    from: NodeIndex,
    to: NodeIndex,
    capacity: u64,
    cost: f64,
    edge: Edge,
) {
    if capacity > 0 {
        net.add_edge(
            from,
            to,
            FlowArc {
                capacity: capacity as i64,
                cost: scaled(cost),
            },
        );
        edges.push(edge);
    }
}

/// Region nodes, when the workload has region minimums or maximums.
fn region_nodes(
    m: &WorkloadModel,
    net: &mut FlowNetwork,
    source: NodeIndex,
    edges: &mut Vec<Edge>,
    below_minimum: f64,
) -> Option<Vec<NodeIndex>> {
    let limited = m.region_min.iter().any(|&n| n > 0) || m.region_max.iter().any(|&n| n < u32::MAX);
    if !limited {
        return None;
    }
    let target = u64::from(m.target);
    let nodes = (0..m.region_min.len())
        .map(|r| {
            let node = net.add_node(0);
            let max = u64::from(m.region_max[r]).min(target);
            let min = u64::from(m.region_min[r]).min(max);
            add(net, edges, source, node, min, -below_minimum, Edge::Other);
            add(net, edges, source, node, max - min, 0.0, Edge::Other);
            node
        })
        .collect();
    Some(nodes)
}

/// The convex cost of `x` replicas in cluster `slot` (minimum shortfall and imbalance,
/// without constants) as `(length, slope per replica)` segments covering `0..cap`.
fn cluster_segments(
    m: &WorkloadModel,
    slot: usize,
    below_minimum: f64,
    imbalance: f64,
    cap: u64,
) -> Vec<(u64, f64)> {
    let term = &m.clusters[slot];
    let cost = |x: u64| {
        let x = x as f64;
        let short = (f64::from(term.min) - x).max(0.0) * below_minimum;
        short + term.share.map_or(0.0, |s| imbalance * (x - s).abs())
    };
    let mut points = vec![0, cap, u64::from(term.min).min(cap)];
    if let Some(s) = term.share {
        points.push((s.floor() as u64).min(cap));
        points.push((s.ceil() as u64).min(cap));
    }
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .map(|pair| {
            let (a, b) = (pair[0], pair[1]);
            (b - a, (cost(b) - cost(a)) / (b - a) as f64)
        })
        .collect()
}

//! Property tests of the minimum-cost flow solver (`optimize::min_cost_flow`) on random small
//! networks: every returned flow is checked for bounds, conservation, its cost and the
//! optimality conditions of its potentials, and compared (cost and feasibility) with an
//! independent reference: successive shortest paths with Bellman-Ford on the residual graph.

mod common;

use common::config;
use fleetplan::optimize::min_cost_flow::{FlowArc, FlowError, FlowNetwork, FlowSolution, min_cost_flow};
use petgraph::graph::NodeIndex;
use proptest::prelude::*;

/// `(from, to, capacity, cost)`.
type Arc = (usize, usize, i64, i64);

fn network(supplies: &[i64], arcs: &[Arc]) -> FlowNetwork {
    let mut net = FlowNetwork::new();
    let nodes: Vec<NodeIndex> = supplies.iter().map(|&b| net.add_node(b)).collect();
    for &(from, to, capacity, cost) in arcs {
        net.add_edge(nodes[from], nodes[to], FlowArc { capacity, cost });
    }
    net
}

/// The reference: the cost of a minimum-cost flow, or `None` if there is none.
///
/// Negative arcs are saturated first, so the residual graph has no negative cycle; then, while
/// some node has excess, flow is sent along a shortest residual path (Bellman-Ford from all
/// nodes with excess at once) to the nearest node with a deficit. With no way left, the network
/// is infeasible.
fn reference(supplies: &[i64], arcs: &[Arc]) -> Option<i128> {
    let n = supplies.len();
    let mut flow: Vec<i64> = arcs
        .iter()
        .map(|&(_, _, cap, cost)| if cost < 0 { cap } else { 0 })
        .collect();
    let mut excess = supplies.to_vec();
    for (&(u, v, _, _), &f) in arcs.iter().zip(&flow) {
        excess[u] -= f;
        excess[v] += f;
    }
    loop {
        if excess.iter().all(|&e| e == 0) {
            let cost = arcs
                .iter()
                .zip(&flow)
                .map(|(a, &f)| i128::from(f) * i128::from(a.3))
                .sum();
            return Some(cost);
        }
        // Residual moves: (arc, forward). Forward: along the arc with room left; backward:
        // against it, undoing flow.
        let mut dist: Vec<Option<i64>> = excess.iter().map(|&e| (e > 0).then_some(0)).collect();
        let mut pred: Vec<Option<(usize, bool)>> = vec![None; n];
        for _ in 0..n {
            let mut changed = false;
            for (i, &(u, v, cap, cost)) in arcs.iter().enumerate() {
                if u == v {
                    continue;
                }
                for (from, to, room, step, forward) in
                    [(u, v, cap - flow[i], cost, true), (v, u, flow[i], -cost, false)]
                {
                    if room > 0
                        && let Some(d) = dist[from]
                        && dist[to].is_none_or(|old| d + step < old)
                    {
                        dist[to] = Some(d + step);
                        pred[to] = Some((i, forward));
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let target = (0..n)
            .filter(|&v| excess[v] < 0 && dist[v].is_some())
            .min_by_key(|&v| (dist[v], v))?;
        // Walk back to a node with excess, finding how much the path can take.
        let mut amount = -excess[target];
        let mut v = target;
        while let Some((i, forward)) = pred[v] {
            let (u, w, cap, _) = arcs[i];
            amount = amount.min(if forward { cap - flow[i] } else { flow[i] });
            v = if forward { u } else { w };
        }
        let source = v;
        amount = amount.min(excess[source]);
        assert!(amount > 0, "the reference found an empty path");
        v = target;
        while let Some((i, forward)) = pred[v] {
            let (u, w, _, _) = arcs[i];
            flow[i] += if forward { amount } else { -amount };
            v = if forward { u } else { w };
        }
        excess[source] -= amount;
        excess[target] += amount;
    }
}

/// Checks everything a solution promises and returns its cost.
fn check(supplies: &[i64], arcs: &[Arc], solution: &FlowSolution) -> Result<i128, TestCaseError> {
    prop_assert_eq!(solution.flow.len(), arcs.len());
    prop_assert_eq!(solution.potentials.len(), supplies.len());
    let mut balance = supplies.to_vec();
    let mut cost = 0i128;
    for (&(u, v, cap, c), &f) in arcs.iter().zip(&solution.flow) {
        prop_assert!((0..=cap).contains(&f), "flow {} outside 0..={}", f, cap);
        balance[u] -= f;
        balance[v] += f;
        cost += i128::from(f) * i128::from(c);
        let reduced = i128::from(c) + i128::from(solution.potentials[u]) - i128::from(solution.potentials[v]);
        prop_assert!(
            reduced >= 0 || f == cap,
            "negative reduced cost {} but flow {} < {}",
            reduced,
            f,
            cap
        );
        prop_assert!(
            reduced <= 0 || f == 0,
            "positive reduced cost {} but flow {}",
            reduced,
            f
        );
    }
    prop_assert!(balance.iter().all(|&b| b == 0), "not conserved: {:?}", balance);
    prop_assert_eq!(cost, solution.cost);
    Ok(cost)
}

/// Solves with the solver and the reference and checks that they agree.
fn agree(supplies: &[i64], arcs: &[Arc]) -> Result<(), TestCaseError> {
    let expected = reference(supplies, arcs);
    match min_cost_flow(&network(supplies, arcs)) {
        Ok(solution) => {
            let cost = check(supplies, arcs, &solution)?;
            prop_assert_eq!(Some(cost), expected, "cost differs from the reference");
        }
        Err(error) => {
            prop_assert_eq!(error, FlowError::Infeasible);
            prop_assert_eq!(expected, None, "the reference found a flow");
        }
    }
    Ok(())
}

/// Balanced supplies as a sum of transfers `from -> to` of `amount`.
fn transfers(n: usize, count: usize, amount: i64) -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec((0..n, 0..n, 1..=amount), 0..=count).prop_map(move |moves| {
        let mut supplies = vec![0; n];
        for (from, to, amount) in moves {
            supplies[from] += amount;
            supplies[to] -= amount;
        }
        supplies
    })
}

fn arcs(n: usize, count: usize, capacity: i64, cost: (i64, i64)) -> impl Strategy<Value = Vec<Arc>> {
    prop::collection::vec((0..n, 0..n, 0..=capacity, cost.0..=cost.1), 0..=count)
}

/// Small networks: up to 7 nodes and 14 arcs (self loops, parallel arcs and zero capacities
/// included), small capacities, costs from -5 to 10.
fn small() -> impl Strategy<Value = (Vec<i64>, Vec<Arc>)> {
    (1usize..=7).prop_flat_map(|n| (transfers(n, 5, 6), arcs(n, 14, 6, (-5, 10))))
}

/// Medium networks, for deeper trees: up to 30 nodes and 120 arcs.
fn medium() -> impl Strategy<Value = (Vec<i64>, Vec<Arc>)> {
    (2usize..=30).prop_flat_map(|n| (transfers(n, 20, 9), arcs(n, 120, 12, (-20, 40))))
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn small_networks_match_the_reference((supplies, arcs) in small()) {
        agree(&supplies, &arcs)?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn medium_networks_match_the_reference((supplies, arcs) in medium()) {
        agree(&supplies, &arcs)?;
    }

    #[test]
    fn dense_feasible_networks_match_the_reference(
        (supplies, mut arcs) in (2usize..=12).prop_flat_map(|n| (transfers(n, 12, 8), arcs(n, 60, 8, (-10, 10))))
    ) {
        // A ring of expensive arcs makes every balanced supply feasible.
        let n = supplies.len();
        arcs.extend((0..n).map(|v| (v, (v + 1) % n, 200, 50)));
        prop_assert!(reference(&supplies, &arcs).is_some());
        agree(&supplies, &arcs)?;
    }

    #[test]
    fn unbalanced_supplies_are_rejected(
        (mut supplies, arcs) in small(),
        node in any::<prop::sample::Index>(),
        extra in prop_oneof![-5i64..=-1, 1i64..=5],
    ) {
        let at = node.index(supplies.len());
        supplies[at] += extra;
        prop_assert_eq!(min_cost_flow(&network(&supplies, &arcs)), Err(FlowError::Unbalanced));
    }

    #[test]
    fn arc_order_changes_neither_cost_nor_feasibility(
        (supplies, arcs) in medium(),
        seed in any::<u64>(),
    ) {
        let mut shuffled = arcs.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let cost = |arcs: &[Arc]| min_cost_flow(&network(&supplies, arcs)).map(|s| s.cost);
        prop_assert_eq!(cost(&arcs), cost(&shuffled));
    }

    #[test]
    fn same_input_same_output((supplies, arcs) in medium()) {
        let net = network(&supplies, &arcs);
        prop_assert_eq!(min_cost_flow(&net), min_cost_flow(&net));
    }
}

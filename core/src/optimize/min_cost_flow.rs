//! Minimum-cost flow on a petgraph network, solved exactly by the primal network simplex method.
//!
//! The flow solver states a placement as a transportation-like network (workloads supply
//! replicas, pools and a sink absorb them) and asks for the cheapest integral flow; this module
//! is that solver, free of any placement notion. [`min_cost_flow`] takes a [`FlowNetwork`] (node
//! weight: supply, arc weight: [`FlowArc`]) and returns the flow on every arc, its total cost
//! and node potentials that prove the flow optimal.
//!
//! ## Algorithm
//!
//! Primal network simplex with a big-M start:
//!
//! * An artificial root is joined to every node by an artificial arc of cost `M` (node to root
//!   for a supply or zero node, root to node for a demand node) that carries the node's whole
//!   supply, which gives a first feasible spanning tree. `M = n·C + 1` (`n` nodes, `C` the
//!   largest absolute arc cost) is dearer than any path of real arcs, so the optimum carries no
//!   artificial flow whenever a real flow exists; an artificial arc that still carries flow at
//!   the end proves the network infeasible. An artificial arc that leaves the tree is dropped
//!   for good (it carries no flow and is never priced again).
//! * The spanning tree is kept as, per node, its parent, the tree arc to the parent (with its
//!   direction, flow and capacity) and its subtree size, plus a thread: all nodes in preorder
//!   as a circular doubly linked list, in which every subtree is one contiguous run. The
//!   nearest common ancestor of the entering arc's ends is found by climbing from the end with
//!   the smaller subtree; the potentials of a re-hung subtree are updated by walking its run,
//!   and the run is rearranged by relinking only the ends of its pieces, so a pivot costs time
//!   proportional to the cycle plus the re-hung subtree.
//! * Entering arcs are chosen by block search with a short candidate list carried over between
//!   pivots: each search re-prices the kept candidates, prices the next block of about `√m / 2`
//!   arcs (cyclically, resuming where the last search stopped, and going on to more blocks only
//!   while too few candidates turn up), keeps the `√m / 10` most violating arcs and lets the
//!   most violating one enter. On transportation-like networks this needs far fewer pivots than
//!   plain block search for the same pricing work.
//! * The leaving arc follows Cunningham's rule (the last blocking arc met when walking the
//!   cycle from its apex along its orientation), which keeps the tree strongly feasible and so
//!   rules out cycling: the method always terminates.
//!
//! Self loops never take part in a cycle: they carry their full capacity when their cost is
//! negative and nothing otherwise. Arcs of zero capacity are left out of the simplex.
//!
//! ## Complexity
//!
//! Memory is `O(n + m)`: about 30 bytes per arc and 70 per node besides the network and the
//! result. A pivot costs `O(√m)` for pricing (more when violating arcs are rare, `O(m)` for
//! the last search, which proves optimality), `O(length of the cycle)` to find the leaving arc
//! and push flow, and `O(size of the re-hung subtree)` to update the tree; nothing is
//! allocated per pivot.
//! The number of pivots has no polynomial bound in the worst case, but in practice it grows
//! roughly linearly with the network: a transportation instance of 12,000 nodes and 1.8 million
//! arcs takes about 200,000 pivots and about one second in release mode.
//!
//! ## Limits
//!
//! All arithmetic is in `i64` (the total cost in `i128`); the inputs are checked first so that
//! no intermediate value can overflow. See [`min_cost_flow`] for the limits.

use std::time::Instant;

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};

/// An arc: at most `capacity` units at `cost` per unit. Lower bounds are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowArc {
    /// The most units the arc may carry (at least zero).
    pub capacity: i64,
    /// The cost of one unit on the arc (may be negative).
    pub cost: i64,
}

/// A flow network: node weight = supply (positive: units leave this node; negative: demand).
pub type FlowNetwork = DiGraph<i64, FlowArc>;

/// Why no flow was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowError {
    /// Supplies do not sum to zero.
    Unbalanced,
    /// No flow meets every supply and demand within the capacities.
    Infeasible,
    /// The arc breaks a limit of [`min_cost_flow`]: its capacity is negative, the running total
    /// of capacities passes 2^61 at this arc, or its cost is the largest in absolute value and
    /// `|cost| · 4 · (nodes + 1)` exceeds 2^62.
    InvalidArc(EdgeIndex),
    /// The deadline given to [`min_cost_flow_until`] passed before the flow was optimal.
    TimeLimit,
}

/// A minimum-cost flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSolution {
    /// Flow on every arc, indexed by `EdgeIndex::index()`.
    pub flow: Vec<i64>,
    /// Total cost (sum of flow * cost), as i128 so it cannot overflow.
    pub cost: i128,
    /// Node potentials (duals) proving optimality, indexed by `NodeIndex::index()`.
    ///
    /// Sign convention: the reduced cost of an arc `u -> v` is
    /// `cost + potentials[u] - potentials[v]` (a potential behaves like a distance label: it
    /// grows along an arc by the arc's cost). Every arc with a negative reduced cost carries its
    /// full capacity, every arc with a positive reduced cost carries nothing, and arcs carrying
    /// something strictly between have a reduced cost of zero. Self loops have a reduced cost
    /// equal to their cost. The values are bounded by `(2n - 1)·C + 1` in absolute value (`n`
    /// nodes, `C` the largest absolute cost), so reduced costs computed in `i64` cannot overflow
    /// within the limits of [`min_cost_flow`].
    pub potentials: Vec<i64>,
}

/// Sum of all capacities allowed (so that every flow, artificial ones included, stays within
/// `2^62`).
const CAPACITY_LIMIT: i128 = 1 << 61;
/// `max |cost| · 4 · (nodes + 1)` allowed (so that potentials and reduced costs stay within
/// `2^62`).
const COST_LIMIT: i128 = 1 << 62;

/// Solves the minimum-cost flow problem exactly (integral flows).
///
/// Minimises `sum(flow[a] * cost[a])` subject to `0 <= flow[a] <= capacity[a]` on every arc and,
/// at every node, `outflow - inflow = supply`. Deterministic: the same network (same node and
/// arc order) always gives the same solution.
///
/// # Limits
///
/// Checked before solving, in this order, so that no `i64` computation can overflow:
///
/// * every capacity is at least zero, and the sum of all capacities is at most `2^61`
///   ([`FlowError::InvalidArc`] names the negative arc, or the arc at which the running sum
///   passes the limit). A capacity used as "infinite" should therefore be no larger than needed,
///   e.g. `2^40` on networks with up to two million arcs;
/// * `max |cost| · 4 · (n + 1) <= 2^62` with `n` the number of nodes
///   ([`FlowError::InvalidArc`] names the first arc of largest absolute cost): costs up to
///   `2^40` are accepted on networks of up to a million nodes;
/// * the supplies sum to zero ([`FlowError::Unbalanced`]; supplies may be any `i64`).
///
/// # Errors
///
/// [`FlowError::InvalidArc`] and [`FlowError::Unbalanced`] as above;
/// [`FlowError::Infeasible`] when no flow meets every supply and demand within the capacities.
pub fn min_cost_flow(network: &FlowNetwork) -> Result<FlowSolution, FlowError> {
    min_cost_flow_until(network, None)
}

/// As [`min_cost_flow`], giving up with [`FlowError::TimeLimit`] once `deadline` (when given)
/// has passed; the clock is read every 256 pivots.
///
/// # Errors
///
/// As [`min_cost_flow`], and [`FlowError::TimeLimit`].
pub fn min_cost_flow_until(
    network: &FlowNetwork,
    deadline: Option<Instant>,
) -> Result<FlowSolution, FlowError> {
    let nodes = network.node_count();
    let edges = network.raw_edges();
    let mut total_capacity: i128 = 0;
    let mut largest_cost: Option<(u64, usize)> = None;
    for (i, edge) in edges.iter().enumerate() {
        let arc = edge.weight;
        if arc.capacity < 0 {
            return Err(FlowError::InvalidArc(EdgeIndex::new(i)));
        }
        total_capacity += i128::from(arc.capacity);
        if total_capacity > CAPACITY_LIMIT {
            return Err(FlowError::InvalidArc(EdgeIndex::new(i)));
        }
        let size = arc.cost.unsigned_abs();
        if largest_cost.is_none_or(|(largest, _)| size > largest) {
            largest_cost = Some((size, i));
        }
    }
    if let Some((size, i)) = largest_cost {
        // `nodes` is below 2^32 (the graph's index type), so the product fits in i128.
        if i128::from(size) * 4 * (nodes as i128 + 1) > COST_LIMIT {
            return Err(FlowError::InvalidArc(EdgeIndex::new(i)));
        }
    }

    let supplies: Vec<i64> = network.node_weights().copied().collect();
    if supplies.iter().map(|&b| i128::from(b)).sum::<i128>() != 0 {
        return Err(FlowError::Unbalanced);
    }
    // Everything the supply nodes send must cross the arcs leaving them. Besides being a quick
    // infeasibility test, this bounds the total supply by the total capacity (2^61), so every
    // flow in the solver stays below 2^62.
    let total_supply: i128 = supplies.iter().filter(|&&b| b > 0).map(|&b| i128::from(b)).sum();
    let leaving_supply: i128 = edges
        .iter()
        .filter(|e| supplies[e.source().index()] > 0 && supplies[e.target().index()] <= 0)
        .map(|e| i128::from(e.weight.capacity))
        .sum();
    if total_supply > leaving_supply {
        return Err(FlowError::Infeasible);
    }

    let (mut simplex, original) = Simplex::new(network, &supplies);
    let mut pivots: u32 = 0;
    while let Some(entering) = simplex.find_entering() {
        simplex.pivot(entering);
        pivots = pivots.wrapping_add(1);
        if pivots.is_multiple_of(256) && deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(FlowError::TimeLimit);
        }
    }
    simplex.solution(network, &original)
}

/// What pricing reads of an arc, packed together (16 bytes).
#[derive(Clone, Copy)]
struct PricedArc {
    cost: i64,
    source: u32,
    target: u32,
}

/// A node of the spanning tree with the tree arc to its parent (its "pred" arc): what walking
/// the pivot cycle reads.
#[derive(Clone, Copy)]
struct TreeNode {
    /// Flow on the pred arc.
    flow: i64,
    /// Capacity of the pred arc (`i64::MAX` for an artificial arc).
    capacity: i64,
    /// The pred arc: a priced arc index, or `priced + node` for the node's artificial arc.
    pred: usize,
    /// The number of nodes in the subtree under this node, itself included.
    size: usize,
    /// The parent (the root's parent is itself).
    parent: u32,
    /// The pred arc points from this node to its parent.
    up: bool,
}

/// A tree arc as it moves from node to node while a path is reversed.
#[derive(Clone, Copy)]
struct PredArc {
    arc: usize,
    flow: i64,
    capacity: i64,
    up: bool,
}

/// Arc states, also the sign with which a reduced cost makes a non-tree arc eligible to enter.
const LOWER: i8 = 1;
const TREE: i8 = 0;
const UPPER: i8 = -1;

/// The network simplex state.
///
/// Arcs `0..priced` are the network's arcs that take part (self loops and zero capacities are
/// left out). A non-tree arc's flow is implied by its state (0 or its capacity); a tree arc's
/// flow is kept on the node below it. Artificial arcs exist only as tree arcs: once one leaves
/// the tree it is gone. Node `root` (the node count) is the artificial root.
///
/// The tree is stored as parent pointers with subtree sizes plus a thread: the nodes in
/// preorder as a circular doubly linked list, in which every subtree is a contiguous run that
/// starts at its top node.
struct Simplex {
    arcs: Vec<PricedArc>,
    capacity: Vec<i64>,
    state: Vec<i8>,
    priced: usize,
    root: usize,
    /// Node potentials (apart from `tree`, so that pricing reads a compact array).
    potential: Vec<i64>,
    tree: Vec<TreeNode>,
    /// The next node in preorder (the root follows the last node).
    thread: Vec<u32>,
    /// The previous node in preorder.
    rev_thread: Vec<u32>,
    /// Scratch for re-hanging a subtree: its nodes in preorder, and each node's place there.
    order: Vec<u32>,
    place: Vec<u32>,
    /// Pricing: arcs per block, candidates kept, the kept candidates (violation and arc;
    /// the capacity covers the most a search can gather), and where the next block starts.
    block: usize,
    kept: usize,
    candidates: Vec<(i64, u32)>,
    next_arc: usize,
}

impl Simplex {
    /// The priced arcs (with the network's edge of each) and the starting tree: every node
    /// hangs from the root by its artificial arc.
    fn new(network: &FlowNetwork, supplies: &[i64]) -> (Self, Vec<EdgeIndex>) {
        let nodes = supplies.len();
        let edges = network.raw_edges();
        let index = |node: NodeIndex| node_u32(node.index());
        let mut arcs = Vec::with_capacity(edges.len());
        let mut capacity = Vec::with_capacity(edges.len());
        let mut original = Vec::with_capacity(edges.len());
        let mut largest: i64 = 0;
        for (i, edge) in edges.iter().enumerate() {
            let (source, target) = (edge.source(), edge.target());
            if source == target || edge.weight.capacity == 0 {
                continue;
            }
            arcs.push(PricedArc {
                cost: edge.weight.cost,
                source: index(source),
                target: index(target),
            });
            capacity.push(edge.weight.capacity);
            original.push(EdgeIndex::new(i));
            largest = largest.max(edge.weight.cost.saturating_abs());
        }
        let priced = arcs.len();
        // Dearer than any path of real arcs; within the cost limit it is below 2^60.
        let big_m = nodes as i64 * largest + 1;
        let root = nodes;
        let mut potential = Vec::with_capacity(nodes + 1);
        let mut tree = Vec::with_capacity(nodes + 1);
        for (i, &b) in supplies.iter().enumerate() {
            // Supply and zero nodes send to the root, demand nodes receive from it: a tree arc
            // without flow then points up, which makes the tree strongly feasible.
            let up = b >= 0;
            potential.push(if up { -big_m } else { big_m });
            tree.push(TreeNode {
                flow: b.saturating_abs(),
                capacity: i64::MAX,
                pred: priced + i,
                size: 1,
                parent: node_u32(root),
                up,
            });
        }
        potential.push(0);
        tree.push(TreeNode {
            flow: 0,
            capacity: 0,
            pred: usize::MAX,
            size: nodes + 1,
            parent: node_u32(root),
            up: false,
        });
        // Preorder: the root, then the nodes in index order.
        let thread = (0..=nodes)
            .map(|v| node_u32(if v == root { 0 } else { v + 1 }))
            .collect();
        let rev_thread = (0..=nodes)
            .map(|v| node_u32(if v == 0 { root } else { v - 1 }))
            .collect();
        let block = (priced.isqrt() / 2).max(10);
        let kept = (priced.isqrt() / 10).max(3);
        let simplex = Simplex {
            arcs,
            capacity,
            state: vec![LOWER; priced],
            priced,
            root,
            potential,
            tree,
            thread,
            rev_thread,
            order: vec![0; nodes + 1],
            place: vec![0; nodes + 1],
            block,
            kept,
            candidates: Vec::with_capacity(kept + 2 * block),
            next_arc: 0,
        };
        (simplex, original)
    }

    /// The entering arc, or `None` when no arc violates its optimality condition.
    ///
    /// Re-prices the kept candidates (dropping those no longer violating), then prices blocks
    /// from where the last search stopped: the first block always, more only while there are
    /// no more candidates than are kept (then while there are none at all). The most violating
    /// candidates are kept for the next search and the most violating one enters. Returns
    /// `None` only after a full round of the arcs found nothing.
    fn find_entering(&mut self) -> Option<usize> {
        let (arcs, state, potential) = (&self.arcs, &self.state, &self.potential);
        let candidates = &mut self.candidates;
        candidates.retain_mut(|(violation, arc)| {
            let e = *arc as usize;
            *violation = violation_of(arcs[e], state[e], potential);
            *violation < 0
        });
        let mut scanned = 0;
        let mut enough = self.kept;
        let mut from = self.next_arc;
        while scanned < self.priced {
            let to = (from + self.block).min(self.priced);
            for (k, (&arc, &s)) in arcs[from..to].iter().zip(&state[from..to]).enumerate() {
                let violation = violation_of(arc, s, potential);
                if violation < 0 {
                    // An arc index fits in u32: it is below the network's edge count.
                    candidates.push((violation, (from + k) as u32));
                }
            }
            scanned += to - from;
            from = if to == self.priced { 0 } else { to };
            if candidates.len() > enough {
                break;
            }
            enough = 0;
        }
        self.next_arc = from;
        if candidates.len() > self.kept {
            candidates.select_nth_unstable(self.kept - 1);
            candidates.truncate(self.kept);
        }
        candidates.iter().min().map(|&(_, arc)| arc as usize)
    }

    /// The nearest common ancestor of `a` and `b` (an ancestor has a larger subtree, so the
    /// node with the smaller one is never the answer unless both are equal).
    fn join(&self, mut a: usize, mut b: usize) -> usize {
        while a != b {
            if self.tree[a].size < self.tree[b].size {
                a = self.tree[a].parent as usize;
            } else {
                b = self.tree[b].parent as usize;
            }
        }
        a
    }

    /// Brings `entering` into the tree (or moves it to its other bound).
    fn pivot(&mut self, entering: usize) {
        let arc = self.arcs[entering];
        let (source, target) = (arc.source as usize, arc.target as usize);
        let state = self.state[entering];
        // Loaded early: it is likely a cache miss, which can then overlap the walks below.
        let capacity = std::hint::black_box(self.capacity[entering]);
        // Flow goes around the cycle join -> .. -> first -> (entering) -> second -> .. -> join.
        let (first, second) = if state == LOWER {
            (source, target)
        } else {
            (target, source)
        };
        let join = self.join(first, second);

        // Cunningham's rule: the last blocking arc met walking from the apex along the
        // orientation. The first path is walked against the orientation, so on a tie the arc
        // found earlier (nearer `first`) stays, and the entering arc (met after the whole first
        // path) beats the first path on a tie. The second path is walked along it, so a later
        // arc wins every tie, against the entering arc too.
        let mut first_room = i64::MAX;
        let mut first_block = usize::MAX;
        let mut w = first;
        while w != join {
            let node = &self.tree[w];
            let room = if node.up {
                node.flow
            } else {
                node.capacity - node.flow
            };
            if room < first_room {
                first_room = room;
                first_block = w;
            }
            w = node.parent as usize;
        }
        let mut second_room = i64::MAX;
        let mut second_block = usize::MAX;
        w = second;
        while w != join {
            let node = &self.tree[w];
            let room = if node.up {
                node.capacity - node.flow
            } else {
                node.flow
            };
            if room <= second_room {
                second_room = room;
                second_block = w;
            }
            w = node.parent as usize;
        }
        // `leaving` is the node below the leaving tree arc, `usize::MAX` for the entering arc.
        let (mut delta, mut leaving, mut leaving_on_first) = if first_room < capacity {
            (first_room, first_block, true)
        } else {
            (capacity, usize::MAX, false)
        };
        if second_room <= delta {
            (delta, leaving, leaving_on_first) = (second_room, second_block, false);
        }

        if delta > 0 {
            w = first;
            while w != join {
                let node = &mut self.tree[w];
                node.flow += if node.up { -delta } else { delta };
                w = node.parent as usize;
            }
            w = second;
            while w != join {
                let node = &mut self.tree[w];
                node.flow += if node.up { delta } else { -delta };
                w = node.parent as usize;
            }
        }

        if leaving == usize::MAX {
            // The entering arc itself blocks (delta is its capacity): it changes bound.
            self.state[entering] = -state;
            return;
        }
        let left = self.tree[leaving];
        if left.pred < self.priced {
            self.state[left.pred] = if left.flow == 0 { LOWER } else { UPPER };
        }
        self.state[entering] = TREE;
        let (inside, outside) = if leaving_on_first {
            (first, second)
        } else {
            (second, first)
        };
        // The entering arc's reduced cost becomes zero.
        let hung = if source == inside {
            self.potential[outside] - arc.cost
        } else {
            self.potential[outside] + arc.cost
        };
        let shift = hung - self.potential[inside];
        let pred = PredArc {
            arc: entering,
            flow: if state == LOWER { delta } else { capacity - delta },
            capacity,
            up: source == inside,
        };
        self.rehang(inside, outside, pred, leaving, join, shift);
    }

    /// Cuts the tree arc above `cut` and hangs the cut-off subtree (which holds `inside`) below
    /// `outside` by `pred`, reversing the path from `inside` up to `cut` (the stem). `join` is
    /// the nearest common ancestor of `inside` and `outside`; the subtree's potentials move by
    /// `shift`.
    fn rehang(&mut self, inside: usize, outside: usize, pred: PredArc, cut: usize, join: usize, shift: i64) {
        // The subtree's run of the thread, recorded (with each node's place in it) while its
        // potentials are shifted, then closed over.
        let size = self.tree[cut].size;
        let mut v = cut;
        for (k, slot) in self.order[..size].iter_mut().enumerate() {
            *slot = node_u32(v);
            self.place[v] = node_u32(k);
            self.potential[v] += shift;
            v = self.thread[v] as usize;
        }
        let before = self.rev_thread[cut] as usize;
        self.link(before, v);

        // Subtree sizes change only on the two paths from the ends of the cycle to the join.
        let mut a = self.tree[cut].parent as usize;
        while a != join {
            self.tree[a].size -= size;
            a = self.tree[a].parent as usize;
        }
        a = outside;
        while a != join {
            self.tree[a].size += size;
            a = self.tree[a].parent as usize;
        }

        // The new preorder of the subtree: the run under `inside`, then, for every stem node
        // above it, its old run without the run of the stem node below it (the part before,
        // which starts with the stem node itself, and the part after, possibly empty). Each
        // part is contiguous in `order`, so only the ends of the parts are relinked.
        let mut lower = inside;
        let mut lower_size = self.tree[inside].size;
        let mut tail = self.order[self.place[inside] as usize + lower_size - 1] as usize;
        while lower != cut {
            let upper = self.tree[lower].parent as usize;
            let upper_size = self.tree[upper].size;
            let (lower_at, upper_at) = (self.place[lower] as usize, self.place[upper] as usize);
            self.link(tail, upper);
            tail = self.order[lower_at - 1] as usize;
            let (after_from, after_to) = (lower_at + lower_size, upper_at + upper_size);
            if after_from < after_to {
                self.link(tail, self.order[after_from] as usize);
                tail = self.order[after_to - 1] as usize;
            }
            lower = upper;
            lower_size = upper_size;
        }
        // The subtree goes right after `outside`: it becomes its first child.
        let next = self.thread[outside] as usize;
        self.link(outside, inside);
        self.link(tail, next);

        // Reverse the stem: every stem node takes the arc (and flow) of the node below it as
        // its pred arc, `inside` takes the entering arc. A stem node's new subtree is the whole
        // subtree without the old subtree of the stem node below it.
        let mut child = inside;
        let mut new_parent = outside;
        let mut carried = pred;
        let mut below = 0;
        loop {
            let old = self.tree[child];
            self.tree[child] = TreeNode {
                flow: carried.flow,
                capacity: carried.capacity,
                pred: carried.arc,
                size: size - below,
                parent: node_u32(new_parent),
                up: carried.up,
            };
            if child == cut {
                break;
            }
            below = old.size;
            carried = PredArc {
                arc: old.pred,
                flow: old.flow,
                capacity: old.capacity,
                up: !old.up,
            };
            new_parent = child;
            child = old.parent as usize;
        }
    }

    /// Makes `b` follow `a` in the thread.
    fn link(&mut self, a: usize, b: usize) {
        self.thread[a] = node_u32(b);
        self.rev_thread[b] = node_u32(a);
    }

    /// The flow on every network edge, or `Infeasible` if an artificial arc carries flow.
    fn solution(&self, network: &FlowNetwork, original: &[EdgeIndex]) -> Result<FlowSolution, FlowError> {
        let edges = network.raw_edges();
        let mut flow = vec![0; edges.len()];
        for ((edge, &state), &capacity) in original.iter().zip(&self.state).zip(&self.capacity) {
            if state == UPPER {
                flow[edge.index()] = capacity;
            }
        }
        for node in &self.tree[..self.root] {
            if node.pred < self.priced {
                flow[original[node.pred].index()] = node.flow;
            } else if node.flow > 0 {
                return Err(FlowError::Infeasible);
            }
        }
        for (f, edge) in flow.iter_mut().zip(edges) {
            if edge.source() == edge.target() && edge.weight.cost < 0 {
                *f = edge.weight.capacity;
            }
        }
        let cost = flow
            .iter()
            .zip(edges)
            .map(|(&f, edge)| i128::from(f) * i128::from(edge.weight.cost))
            .sum();
        Ok(FlowSolution {
            flow,
            cost,
            potentials: self.potential[..self.root].to_vec(),
        })
    }
}

/// How much an arc violates its optimality condition: `state × reduced cost`, negative when
/// the arc may enter (at its lower bound with a negative reduced cost, or at its upper bound
/// with a positive one), zero for a tree arc.
#[inline]
fn violation_of(arc: PricedArc, state: i8, potential: &[i64]) -> i64 {
    let reduced = arc.cost + potential[arc.source as usize] - potential[arc.target as usize];
    i64::from(state) * reduced
}

/// A node index as stored in the solver. The graph's index type is `u32`, so every node index
/// fits, and so does the root's (the node count), since index `u32::MAX` is never a node.
fn node_u32(node: usize) -> u32 {
    node as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A network from supplies and `(from, to, capacity, cost)` arcs.
    fn network(supplies: &[i64], arcs: &[(usize, usize, i64, i64)]) -> FlowNetwork {
        let mut net = FlowNetwork::new();
        let nodes: Vec<NodeIndex> = supplies.iter().map(|&b| net.add_node(b)).collect();
        for &(from, to, capacity, cost) in arcs {
            net.add_edge(nodes[from], nodes[to], FlowArc { capacity, cost });
        }
        net
    }

    /// Solves and checks everything a solution promises: bounds, conservation, the cost, and
    /// the optimality conditions of the potentials.
    fn solve(net: &FlowNetwork) -> FlowSolution {
        let solution = min_cost_flow(net).expect("a flow");
        assert_eq!(solution.flow.len(), net.edge_count());
        assert_eq!(solution.potentials.len(), net.node_count());
        let mut balance: Vec<i64> = net.node_weights().copied().collect();
        let mut cost = 0i128;
        for (edge, &flow) in net.raw_edges().iter().zip(&solution.flow) {
            let (u, v) = (edge.source().index(), edge.target().index());
            let arc = edge.weight;
            assert!(
                (0..=arc.capacity).contains(&flow),
                "flow {flow} outside 0..={}",
                arc.capacity
            );
            balance[u] -= flow;
            balance[v] += flow;
            cost += i128::from(flow) * i128::from(arc.cost);
            let reduced = arc.cost + solution.potentials[u] - solution.potentials[v];
            if reduced < 0 {
                assert_eq!(flow, arc.capacity, "negative reduced cost on an unsaturated arc");
            }
            if reduced > 0 {
                assert_eq!(flow, 0, "positive reduced cost on an arc with flow");
            }
        }
        assert!(balance.iter().all(|&b| b == 0), "conservation: {balance:?}");
        assert_eq!(cost, solution.cost);
        solution
    }

    #[test]
    fn empty_network() {
        let solution = solve(&FlowNetwork::new());
        assert_eq!(solution.cost, 0);
        assert!(solution.flow.is_empty() && solution.potentials.is_empty());
    }

    #[test]
    fn simple_path() {
        let net = network(&[4, 0, -4], &[(0, 1, 10, 2), (1, 2, 5, 3)]);
        let solution = solve(&net);
        assert_eq!(solution.flow, vec![4, 4]);
        assert_eq!(solution.cost, 20);
    }

    #[test]
    fn cheap_route_first_then_expensive() {
        // s -> t directly (cheap, 3 units) or through m (2 + 2 per unit).
        let net = network(&[5, 0, -5], &[(0, 2, 3, 1), (0, 1, 10, 2), (1, 2, 10, 2)]);
        let solution = solve(&net);
        assert_eq!(solution.flow, vec![3, 2, 2]);
        assert_eq!(solution.cost, 3 + 2 * 4);
    }

    #[test]
    fn negative_costs() {
        // A negative arc on the way is used fully even with nothing to send through it...
        let net = network(&[2, 0, -2], &[(0, 1, 5, -3), (1, 2, 5, 1), (0, 2, 5, 0)]);
        let solution = solve(&net);
        assert_eq!(solution.flow, vec![2, 2, 0]);
        assert_eq!(solution.cost, -4);
        // ... and a negative cycle is saturated without any supply.
        let net = network(
            &[0, 0, 0],
            &[(0, 1, 3, -5), (1, 2, 2, 1), (2, 0, 4, 1), (1, 0, 1, 10)],
        );
        let solution = solve(&net);
        assert_eq!(solution.flow, vec![2, 2, 2, 0]);
        assert_eq!(solution.cost, -6);
    }

    #[test]
    fn infeasible_demand() {
        // Too little capacity.
        let net = network(&[5, -5], &[(0, 1, 3, 1)]);
        assert_eq!(min_cost_flow(&net), Err(FlowError::Infeasible));
        // No route at all (the arc points the wrong way).
        let net = network(&[1, 0, -1], &[(0, 1, 3, 1), (2, 1, 3, 1)]);
        assert_eq!(min_cost_flow(&net), Err(FlowError::Infeasible));
        // Enough capacity out of the supply, too little further on.
        let net = network(&[4, 0, -4], &[(0, 1, 9, 1), (1, 2, 3, 1), (1, 0, 9, 1)]);
        assert_eq!(min_cost_flow(&net), Err(FlowError::Infeasible));
    }

    #[test]
    fn unbalanced_supplies() {
        let net = network(&[3, -2], &[(0, 1, 5, 1)]);
        assert_eq!(min_cost_flow(&net), Err(FlowError::Unbalanced));
        let net = network(&[i64::MAX, i64::MAX, 0], &[]);
        assert_eq!(min_cost_flow(&net), Err(FlowError::Unbalanced));
    }

    #[test]
    fn parallel_arcs() {
        let net = network(&[4, -4], &[(0, 1, 2, 1), (0, 1, 5, 3), (0, 1, 1, 2)]);
        let solution = solve(&net);
        assert_eq!(solution.flow, vec![2, 1, 1]);
        assert_eq!(solution.cost, 2 + 3 + 2);
    }

    #[test]
    fn zero_capacity_arcs() {
        let net = network(&[2, -2], &[(0, 1, 0, -100), (0, 1, 5, 1), (1, 0, 0, -7)]);
        let solution = solve(&net);
        assert_eq!(solution.flow, vec![0, 2, 0]);
        assert_eq!(solution.cost, 2);
    }

    #[test]
    fn self_loops() {
        let net = network(
            &[1, -1],
            &[(0, 0, 4, -2), (1, 1, 4, 3), (0, 1, 1, 1), (1, 1, 2, 0)],
        );
        let solution = solve(&net);
        assert_eq!(solution.flow, vec![4, 0, 1, 0]);
        assert_eq!(solution.cost, -8 + 1);
    }

    #[test]
    fn transportation_problem() {
        // Three plants, four markets (a classic textbook instance; optimum 435).
        let supply: [i64; 3] = [15, 25, 10];
        let demand: [i64; 4] = [5, 15, 15, 15];
        let cost = [[10, 2, 20, 11], [12, 7, 9, 20], [4, 14, 16, 18]];
        let supplies: Vec<i64> = supply.iter().copied().chain(demand.iter().map(|d| -d)).collect();
        let mut arcs = Vec::new();
        for (p, row) in cost.iter().enumerate() {
            for (m, &c) in row.iter().enumerate() {
                arcs.push((p, 3 + m, 100, c));
            }
        }
        let solution = solve(&network(&supplies, &arcs));
        assert_eq!(solution.cost, 435);
    }

    #[test]
    fn invalid_arcs() {
        let net = network(&[0, 0], &[(0, 1, 1, 1), (0, 1, -1, 1)]);
        assert_eq!(min_cost_flow(&net), Err(FlowError::InvalidArc(EdgeIndex::new(1))));
        // Capacities adding up to more than 2^61, reported where the sum passes it.
        let net = network(&[0, 0], &[(0, 1, 1 << 60, 1), (0, 1, 1 << 60, 1), (1, 0, 1, 1)]);
        assert_eq!(min_cost_flow(&net), Err(FlowError::InvalidArc(EdgeIndex::new(2))));
        let net = network(&[0, 0], &[(0, 1, 1 << 60, 1), (1, 0, 1 << 60, -1)]);
        assert_eq!(solve(&net).cost, 0);
        // A cost too large for the node count, reported at the largest one.
        let net = network(&[0, 0], &[(0, 1, 1, 5), (0, 1, 1, i64::MIN), (1, 0, 1, i64::MAX)]);
        assert_eq!(min_cost_flow(&net), Err(FlowError::InvalidArc(EdgeIndex::new(1))));
        // Two nodes: |cost| * 4 * (2 + 1) <= 2^62 holds for 2^58, not for 2^59.
        let net = network(&[1, -1], &[(0, 1, 1, 1 << 58), (0, 1, 1, -(1 << 58))]);
        assert_eq!(solve(&net).cost, -(1 << 58));
        let net = network(&[1, -1], &[(0, 1, 1, 1 << 59)]);
        assert_eq!(min_cost_flow(&net), Err(FlowError::InvalidArc(EdgeIndex::new(0))));
    }

    #[test]
    fn huge_supplies_are_infeasible_not_overflowing() {
        let net = network(&[i64::MAX, i64::MIN + 1, 0], &[(0, 1, 1 << 40, 1), (0, 2, 5, 1)]);
        assert_eq!(min_cost_flow(&net), Err(FlowError::Infeasible));
    }

    #[test]
    fn large_values_within_limits() {
        let big = 1i64 << 59;
        let net = network(
            &[big, 0, -big],
            &[(0, 1, big, 1 << 40), (1, 2, big, -(1 << 40)), (0, 2, big, 3)],
        );
        let solution = solve(&net);
        assert_eq!(solution.flow, vec![big, big, 0]);
        assert_eq!(solution.cost, 0);
    }

    #[test]
    fn deterministic() {
        let mut arcs = Vec::new();
        for i in 0..12 {
            for j in 0..12 {
                if i != j {
                    arcs.push((
                        i,
                        j,
                        (i * 7 + j * 3) as i64 % 5 + 1,
                        (i * 13 + j * 5) as i64 % 11 - 3,
                    ));
                }
            }
        }
        let supplies = [5, -3, 2, 0, -4, 1, 0, 3, -2, -1, 0, -1];
        let net = network(&supplies, &arcs);
        let first = solve(&net);
        assert_eq!(first, solve(&net));
    }

    #[test]
    fn layered_network_matches_greedy_bound() {
        // Sources send to pools (each source prefers a different pool) and pools to a sink with
        // room for all: every source uses its cheapest pool.
        let sources = 40;
        let pools = 7;
        let mut supplies = vec![0i64; 1 + pools + sources];
        let mut arcs = Vec::new();
        let mut expected = 0;
        for p in 0..pools {
            arcs.push((1 + p, 0, 1000, 0));
        }
        for s in 0..sources {
            let node = 1 + pools + s;
            let amount = (s % 5 + 1) as i64;
            supplies[node] = amount;
            supplies[0] -= amount;
            let mut cheapest = i64::MAX;
            for p in 0..pools {
                let cost = ((s * 31 + p * 17) % 23) as i64 - 5;
                cheapest = cheapest.min(cost);
                arcs.push((node, 1 + p, amount, cost));
            }
            expected += i128::from(cheapest * amount);
        }
        assert_eq!(solve(&network(&supplies, &arcs)).cost, expected);
    }
}

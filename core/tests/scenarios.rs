//! Scenario tests of the fast planner: failover, cordoning, draining, weighted and packed
//! division, soft taints, and the minimal counterexamples the property tests found. Fixed
//! ones stay as regressions; open ones (`known_gap_*`) are ignored with the reason until the
//! planner handles them. Each asserts the behaviour it should have and checks that the
//! exhaustive oracle's placement is valid.

mod common;

use std::collections::BTreeMap;

use common::{Demands, oracle, skew_violation};
use fleetplan::{
    Cluster, Health, NodePool, Plan, PlanOptions, Problem, Resources, Running, Strategy, Taint, TaintEffect,
    TopologyKey, TopologySpread, WhenUnsatisfiable, Workload, plan,
};

/// A pool of one node with plenty of CPU and `pods` pod slots.
fn pool(name: &str, zone: Option<&str>, pods: i64) -> NodePool {
    let mut p = NodePool::uniform(name, 1, Resources::new().with("cpu", 64_000).with("pods", pods));
    p.zone = zone.map(String::from);
    p
}

/// One node with the given free CPU (millicores), memory (bytes) and pod slots.
fn one_node(cpu: i64, memory: i64, pods: i64) -> fleetplan::NodeGroup {
    fleetplan::NodeGroup {
        count: 1,
        free: Resources::new()
            .with("cpu", cpu)
            .with("memory", memory)
            .with("pods", pods),
    }
}

fn cluster(name: &str, region: &str, pools: Vec<NodePool>) -> Cluster {
    let mut c = Cluster::new(name, region);
    c.pools = pools;
    c
}

fn workload(replicas: u32) -> Workload {
    Workload::new("ns", "w0", replicas, Resources::new().with("cpu", 100))
}

/// A workload with no replica and no request: it keeps every node "useful", so that the
/// planner does not drop nodes as too full for every workload.
fn idle() -> Workload {
    Workload::new("ns", "idle", 0, Resources::new())
}

fn hard(key: TopologyKey, max_skew: u32) -> TopologySpread {
    TopologySpread {
        max_skew,
        topology_key: key,
        when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
    }
}

fn running(cluster: &str, pool: &str, replicas: u32) -> Running {
    Running {
        workload: workload(0).id,
        cluster: cluster.into(),
        pool: pool.into(),
        replicas,
    }
}

fn solve(clusters: Vec<Cluster>, w: Workload, current: Vec<Running>) -> (Problem, Plan) {
    let problem = Problem {
        clusters,
        workloads: vec![w],
        current,
        ..Problem::default()
    };
    let plan = plan(&problem, &PlanOptions::default()).expect("valid problem");
    (problem, plan)
}

/// `cluster/pool -> replicas` of the only workload.
fn pools_of(plan: &Plan) -> BTreeMap<String, u32> {
    plan.placements
        .iter()
        .flat_map(|p| {
            p.pools
                .iter()
                .map(move |r| (format!("{}/{}", p.cluster, r.pool), r.replicas))
        })
        .collect()
}

fn map(entries: &[(&str, u32)]) -> BTreeMap<String, u32> {
    entries.iter().map(|&(k, n)| (k.to_string(), n)).collect()
}

fn two_clusters() -> Vec<Cluster> {
    vec![
        cluster("a", "r1", vec![pool("p", None, 110)]),
        cluster("b", "r2", vec![pool("p", None, 110)]),
    ]
}

#[test]
fn failover_moves_a_not_ready_clusters_replicas_and_keeps_the_total() {
    for health in [Health::NotReady, Health::Unreachable] {
        let mut clusters = two_clusters();
        clusters[0].health = health;
        let current = vec![running("a", "p", 3), running("b", "p", 3)];
        let (_, plan) = solve(clusters, workload(6), current);
        assert_eq!(pools_of(&plan), map(&[("b/p", 6)]), "{health}");
        assert_eq!(
            (plan.summary.kept, plan.summary.removed, plan.summary.unplaced),
            (3, 3, 0)
        );
    }
}

#[test]
fn cordoned_cluster_keeps_its_replicas_and_takes_no_new_ones() {
    let mut clusters = two_clusters();
    clusters[0].health = Health::Cordoned;
    let (_, plan) = solve(clusters.clone(), workload(8), vec![running("a", "p", 2)]);
    assert_eq!(pools_of(&plan), map(&[("a/p", 2), ("b/p", 6)]));
    assert_eq!((plan.summary.kept, plan.summary.removed), (2, 0));
    // Scaling down gives up the cordoned cluster's replicas first.
    let (_, plan) = solve(
        clusters,
        workload(1),
        vec![running("a", "p", 2), running("b", "p", 2)],
    );
    assert_eq!(pools_of(&plan), map(&[("b/p", 1)]));
}

#[test]
fn draining_cluster_keeps_nothing_and_takes_nothing() {
    let mut clusters = two_clusters();
    clusters[0].health = Health::Draining;
    let (_, plan) = solve(
        clusters,
        workload(6),
        vec![running("a", "p", 4), running("b", "p", 2)],
    );
    assert_eq!(pools_of(&plan), map(&[("b/p", 6)]));
    assert_eq!((plan.summary.kept, plan.summary.removed), (2, 4));
    let reason = plan.unplaced.first().map(|u| u.reasons.clone());
    assert_eq!(reason, None);
}

#[test]
fn weighted_split_is_three_to_one() {
    let mut w = workload(8);
    w.policy.strategy = Strategy::Weighted;
    w.policy.cluster_weights.named = [("a".to_string(), 3), ("b".to_string(), 1)].into();
    let (_, plan) = solve(two_clusters(), w, vec![]);
    assert_eq!(pools_of(&plan), map(&[("a/p", 6), ("b/p", 2)]));
}

#[test]
fn weight_zero_excludes_a_cluster_under_every_strategy_and_spread_ignores_other_weights() {
    for strategy in [Strategy::Weighted, Strategy::Spread, Strategy::Pack] {
        let mut w = workload(4);
        w.policy.strategy = strategy;
        w.policy.cluster_weights.named = [("a".to_string(), 0)].into();
        let (_, plan) = solve(two_clusters(), w, vec![]);
        assert_eq!(pools_of(&plan), map(&[("b/p", 4)]), "{strategy:?}");
    }
    // `*=0` excludes every cluster, under the default `spread` too.
    let mut w = workload(4);
    w.policy.cluster_weights.default = Some(0);
    let (_, plan) = solve(two_clusters(), w, vec![]);
    assert_eq!(plan.summary.unplaced, 4);
    let reasons: Vec<String> = plan.unplaced[0]
        .reasons
        .iter()
        .map(|r| r.reason.to_string())
        .collect();
    assert_eq!(reasons, ["cluster weight is 0", "cluster weight is 0"]);
    // Other weights do not change an equal spread.
    let mut w = workload(4);
    w.policy.cluster_weights.named = [("a".to_string(), 3)].into();
    let (_, plan) = solve(two_clusters(), w, vec![]);
    assert_eq!(pools_of(&plan), map(&[("a/p", 2), ("b/p", 2)]));
}

#[test]
fn a_minimum_above_its_maximum_is_refused() {
    let mut w = workload(4);
    w.policy.cluster_min.default = Some(5);
    w.policy.cluster_max.default = Some(2);
    let problem = Problem {
        clusters: two_clusters(),
        workloads: vec![w],
        ..Problem::default()
    };
    let e = problem.validate().unwrap_err().to_string();
    assert_eq!(
        e,
        "workload `ns/w0`: cluster `*` has a minimum of 5 above its maximum of 2"
    );
}

#[test]
fn pack_fills_the_most_preferred_cluster_first() {
    let clusters = vec![
        cluster("a", "r1", vec![pool("p", None, 4)]),
        cluster("b", "r2", vec![pool("p", None, 110)]),
    ];
    let mut w = workload(3);
    w.policy.strategy = Strategy::Pack;
    w.policy.cluster_weights.named = [("a".to_string(), 2)].into();
    let (_, plan) = solve(clusters.clone(), w.clone(), vec![]);
    assert_eq!(pools_of(&plan), map(&[("a/p", 3)]));
    w.replicas = 6;
    let (_, plan) = solve(clusters, w, vec![]);
    assert_eq!(pools_of(&plan), map(&[("a/p", 4), ("b/p", 2)]));
}

#[test]
fn prefer_no_schedule_pool_is_used_only_when_needed() {
    let mut soft = pool("spot", None, 110);
    soft.taints.push(Taint {
        key: "spot".into(),
        value: String::new(),
        effect: TaintEffect::PreferNoSchedule,
    });
    let clusters = vec![cluster("a", "r1", vec![soft, pool("clean", None, 2)])];
    let (_, plan) = solve(clusters.clone(), workload(2), vec![]);
    assert_eq!(pools_of(&plan), map(&[("a/clean", 2)]));
    let (_, plan) = solve(clusters, workload(5), vec![]);
    assert_eq!(pools_of(&plan), map(&[("a/clean", 2), ("a/spot", 3)]));
}

#[test]
fn no_schedule_taints_keep_running_replicas_and_no_execute_taints_evict_them() {
    for (effect, kept) in [(TaintEffect::NoSchedule, 2), (TaintEffect::NoExecute, 0)] {
        let mut tainted = pool("t", None, 110);
        tainted.taints.push(Taint {
            key: "dedicated".into(),
            value: "ml".into(),
            effect,
        });
        let clusters = vec![cluster("a", "r1", vec![tainted, pool("p", None, 110)])];
        let (_, plan) = solve(clusters, workload(4), vec![running("a", "t", 2)]);
        assert_eq!(plan.summary.kept, kept, "{effect}");
        assert_eq!(
            u64::from(pools_of(&plan).get("a/t").copied().unwrap_or(0)),
            kept,
            "{effect}"
        );
        assert_eq!(plan.summary.placed, 4, "{effect}");
    }
}

#[test]
fn summary_counts_replicas_trimmed_to_a_maximum_as_removed() {
    let mut w = workload(4);
    w.policy.cluster_max.named = [("a".to_string(), 1)].into();
    let (_, plan) = solve(two_clusters(), w, vec![running("a", "p", 3)]);
    assert_eq!(pools_of(&plan), map(&[("a/p", 1), ("b/p", 3)]));
    assert_eq!((plan.summary.kept, plan.summary.removed), (1, 2));
}

#[test]
fn hard_zone_spread_balances_zones_and_refuses_zoneless_pools() {
    let clusters = vec![
        cluster(
            "a",
            "r1",
            vec![pool("z1", Some("r1-a"), 110), pool("none", None, 110)],
        ),
        cluster("b", "r1", vec![pool("z2", Some("r1-b"), 2)]),
    ];
    let mut w = workload(6);
    w.template.topology_spread.push(hard(TopologyKey::Zone, 1));
    let (_, plan) = solve(clusters, w, vec![]);
    // Zone r1-b holds two, so r1-a may hold three: one replica stays unplaced.
    assert_eq!(pools_of(&plan), map(&[("a/z1", 3), ("b/z2", 2)]));
    assert_eq!(plan.summary.unplaced, 1);
    let codes: Vec<&str> = plan.unplaced[0].reasons.iter().map(|r| r.reason.code()).collect();
    assert_eq!(codes, ["TopologySpread", "Insufficient"]);
}

// ---------------------------------------------------------------------------------------------
// Minimal counterexamples found by the property tests
// ---------------------------------------------------------------------------------------------

/// Asserts that the oracle places every replica as `expected` (so a full placement exists),
/// then that the planner leaves nothing unplaced.
fn assert_full_placement_exists_and_is_found(problem: &Problem, plan: &Plan, expected: &[(&str, u32)]) {
    let w = &problem.workloads[0];
    let solution = oracle(problem, w, Demands { minimums: false }).expect("the oracle finds a placement");
    let solution: BTreeMap<String, u32> = solution
        .into_iter()
        .map(|((c, p), n)| (format!("{c}/{p}"), n))
        .collect();
    assert_eq!(solution, map(expected), "oracle");
    assert!(skew_violation(w, problem, &to_pairs(expected)).is_none());
    assert_eq!(
        plan.summary.unplaced,
        0,
        "planner placed {:?}, a full placement is {:?}",
        pools_of(plan),
        expected
    );
}

fn to_pairs(entries: &[(&str, u32)]) -> BTreeMap<(String, String), u32> {
    entries
        .iter()
        .map(|&(k, n)| {
            let (c, p) = k.split_once('/').expect("cluster/pool");
            ((c.to_string(), p.to_string()), n)
        })
        .collect()
}

/// Regression (found by the oracle property): zone spread (maxSkew 1) and a cluster maximum
/// of 1. Filling `c0`'s first pool (zone `r0-b`) used to leave `c1`, which only has zone
/// `r0-b`, blocked by the skew. The pool choice now prefers the emptiest zone, then the zone
/// fewest clusters offer, so `c0` takes `r0-a` and both replicas are placed.
#[test]
fn zone_spread_with_a_cluster_maximum_places_everything() {
    let clusters = vec![
        cluster(
            "c0",
            "r0",
            vec![pool("p0", Some("r0-b"), 110), pool("p1", Some("r0-a"), 110)],
        ),
        cluster("c1", "r0", vec![pool("p0", Some("r0-b"), 110)]),
    ];
    let mut w = workload(2);
    w.template.topology_spread.push(hard(TopologyKey::Zone, 1));
    w.policy.cluster_max.named = [("c0".to_string(), 1)].into();
    let (problem, plan) = solve(clusters, w, vec![]);
    assert_full_placement_exists_and_is_found(&problem, &plan, &[("c0/p1", 1), ("c1/p0", 1)]);
}

/// Cluster spread (maxSkew 2), `pack`, region `r0` at most 2. Pack fills `c2` (region `r0`)
/// to 2, which uses up the region: `c1` stays at 0, holding the eligible minimum at 0, so `c0`
/// stops at 2. Planner: `c0=2, c2=2`, one unplaced. A full placement: `c0=3, c1=1, c2=1`.
#[test]
#[ignore = "known gap: cluster spread with a region maximum; pack spends the region's seats on one cluster"]
fn known_gap_cluster_spread_with_a_region_maximum() {
    let clusters = vec![
        cluster("c0", "r1", vec![pool("p0", None, 110)]),
        cluster("c1", "r0", vec![pool("p0", None, 110)]),
        cluster("c2", "r0", vec![pool("p0", None, 110)]),
    ];
    let mut w = workload(5);
    w.template.topology_spread.push(hard(TopologyKey::Cluster, 2));
    w.policy.strategy = Strategy::Pack;
    w.policy.region_max.named = [("r0".to_string(), 2)].into();
    let (problem, plan) = solve(clusters, w, vec![]);
    assert_full_placement_exists_and_is_found(&problem, &plan, &[("c0/p0", 3), ("c1/p0", 1), ("c2/p0", 1)]);
}

/// Regression: cluster spread and zone spread (both maxSkew 1), ample capacity, any strategy.
/// `c0` used to fill its first pool (zone `r0-b`), after which `c1` (zone `r0-b` only) was
/// blocked by the zone skew and `c0` by the cluster skew. Both replicas must be placed:
/// `c0` in zone `r0-a`, `c1` in zone `r0-b`.
#[test]
fn two_hard_spread_constraints_place_everything() {
    for strategy in [Strategy::Spread, Strategy::Weighted, Strategy::Pack] {
        let clusters = vec![
            cluster(
                "c0",
                "r0",
                vec![pool("p0", Some("r0-b"), 110), pool("p1", Some("r0-a"), 110)],
            ),
            cluster("c1", "r0", vec![pool("p0", Some("r0-b"), 110)]),
        ];
        let mut w = workload(2);
        w.policy.strategy = strategy;
        w.template.topology_spread.push(hard(TopologyKey::Cluster, 1));
        w.template.topology_spread.push(hard(TopologyKey::Zone, 1));
        let (problem, plan) = solve(clusters, w, vec![]);
        assert_full_placement_exists_and_is_found(&problem, &plan, &[("c0/p1", 1), ("c1/p0", 1)]);
    }
}

/// Regression: zone spread (maxSkew 1), every cluster minimum 1, target 2. `c0` used to take
/// zone `r0-a`, the only zone of `c1`, which was then blocked below its minimum. Every
/// minimum must be met: `c0` in zone `r0-b`, `c1` in zone `r0-a`.
#[test]
fn minimum_is_met_under_zone_spread() {
    let clusters = vec![
        cluster(
            "c0",
            "r0",
            vec![pool("p0", Some("r0-a"), 110), pool("p1", Some("r0-b"), 110)],
        ),
        cluster("c1", "r0", vec![pool("p0", Some("r0-a"), 110)]),
    ];
    let mut w = workload(2);
    w.template.topology_spread.push(hard(TopologyKey::Zone, 1));
    w.policy.cluster_min.default = Some(1);
    let (problem, plan) = solve(clusters, w, vec![]);
    let w = &problem.workloads[0];
    assert!(oracle(&problem, w, Demands { minimums: true }).is_some());
    assert_eq!(
        plan.replicas_in(&w.id, "c1"),
        1,
        "planner placed {:?}",
        pools_of(&plan)
    );
}

/// Cluster spread (maxSkew 2), `pack`, `c1` minimum 3, target 5. `c1` takes two seats and is
/// blocked (the eligible minimum is 0); pack then fills another cluster to 2 and the last one
/// to 1, which unblocks `c1` only after the target is reached. Planner: `c1=2`. A placement
/// meeting the minimum: `c0=1, c1=3, c2=1`.
#[test]
#[ignore = "known gap: a minimum blocked by cluster spread; lower tiers spend the seats it needed"]
fn known_gap_minimum_blocked_by_cluster_spread() {
    let clusters = vec![
        cluster("c0", "r0", vec![pool("p0", None, 110)]),
        cluster("c1", "r0", vec![pool("p0", None, 110)]),
        cluster("c2", "r0", vec![pool("p0", None, 110)]),
    ];
    let mut w = workload(5);
    w.template.topology_spread.push(hard(TopologyKey::Cluster, 2));
    w.policy.strategy = Strategy::Pack;
    w.policy.cluster_min.named = [("c1".to_string(), 3)].into();
    let (problem, plan) = solve(clusters, w, vec![]);
    let w = &problem.workloads[0];
    assert!(oracle(&problem, w, Demands { minimums: true }).is_some());
    assert!(
        plan.replicas_in(&w.id, "c1") >= 3,
        "planner placed {:?}",
        pools_of(&plan)
    );
}

/// Regression: memory and GPUs are both short on every node. The `Insufficient` reason used
/// to depend on the order in which the fleet first mentioned them; resource indices are now
/// canonical, so listing the clusters in another order gives the same reasons. (`idle` asks
/// for nothing, so that no node is dropped as too full for every workload.)
#[test]
fn insufficient_reason_does_not_depend_on_cluster_order() {
    let mut a = Cluster::new("c0", "r0");
    a.pools.push(NodePool::uniform(
        "p0",
        1,
        Resources::new().with("nvidia.com/gpu", 0).with("pods", 110),
    ));
    let mut b = Cluster::new("c1", "r0");
    b.pools.push(NodePool::uniform(
        "p0",
        1,
        Resources::new().with("memory", 0).with("pods", 110),
    ));
    let w = Workload::new(
        "ns",
        "w0",
        1,
        Resources::new().with("memory", 1 << 30).with("nvidia.com/gpu", 1),
    );
    let reasons = |clusters: Vec<Cluster>| {
        let problem = Problem {
            clusters,
            workloads: vec![w.clone(), idle()],
            current: vec![],
            ..Problem::default()
        };
        let plan = plan(&problem, &PlanOptions::default()).expect("valid");
        plan.unplaced[0]
            .reasons
            .iter()
            .map(|r| format!("{}: {}", r.cluster, r.reason))
            .collect::<Vec<_>>()
    };
    assert_eq!(reasons(vec![a.clone(), b.clone()]), reasons(vec![b, a]));
}

/// Regression: node `A` has 1 CPU and 4Gi free, node `B` 4 CPUs and 1Gi. `first` (higher
/// priority, 1Gi) fits on both; `second` (2 CPUs, 1Gi) only on `B`. Packing order used to
/// follow the order in which clusters mentioned resources, so listing the NotReady cluster
/// `c1` first left `second` unplaced. Both orders must place both.
#[test]
fn packing_does_not_depend_on_cluster_order() {
    const GIB: i64 = 1 << 30;
    let mut c0 = cluster("c0", "r0", vec![NodePool::uniform("p0", 0, Resources::new())]);
    c0.pools[0].nodes = vec![one_node(1000, 4 * GIB, 110), one_node(4000, GIB, 110)];
    let mut c1 = Cluster::new("c1", "r0");
    c1.health = Health::NotReady;
    c1.pools.push(NodePool::uniform(
        "p0",
        1,
        Resources::new().with("memory", GIB).with("pods", 110),
    ));
    let mut first = Workload::new("ns", "first", 1, Resources::new().with("memory", GIB));
    first.template.priority = 100;
    let second = Workload::new(
        "ns",
        "second",
        1,
        Resources::new().with("cpu", 2000).with("memory", GIB),
    );
    let unplaced = |clusters: Vec<Cluster>| {
        let problem = Problem {
            clusters,
            workloads: vec![first.clone(), second.clone()],
            current: vec![],
            ..Problem::default()
        };
        plan(&problem, &PlanOptions::default())
            .expect("valid")
            .summary
            .unplaced
    };
    assert_eq!(unplaced(vec![c0.clone(), c1.clone()]), 0);
    assert_eq!(
        unplaced(vec![c1, c0]),
        0,
        "listing c1 first leaves `second` unplaced"
    );
}

/// Regression: node `A` lacks CPU, node `B` memory. The reason used to read "insufficient
/// cpu: needs 2, largest free 4", taking the largest free amount over every node; it now
/// takes it over the nodes short of that resource, so it never contradicts itself.
#[test]
fn insufficient_reason_names_a_resource_no_node_has_enough_of() {
    const GIB: i64 = 1 << 30;
    let mut c0 = cluster("c0", "r0", vec![NodePool::uniform("p0", 0, Resources::new())]);
    c0.pools[0].nodes = vec![one_node(1000, 4 * GIB, 110), one_node(4000, 0, 110)];
    let w = Workload::new(
        "ns",
        "w0",
        1,
        Resources::new().with("cpu", 2000).with("memory", GIB),
    );
    let problem = Problem {
        clusters: vec![c0],
        workloads: vec![w, idle()],
        current: vec![],
        ..Problem::default()
    };
    let plan = plan(&problem, &PlanOptions::default()).expect("valid");
    let reason = &plan.unplaced[0].reasons[0].reason;
    match reason {
        fleetplan::Reason::Insufficient {
            needs, largest_free, ..
        } => assert!(largest_free < needs, "{reason}"),
        other => panic!("unexpected reason {other}"),
    }
}

/// Regression: the crate-level example's GPU workload planned alone. Nodes too full for every
/// workload are dropped from the capacity, and the reason used to fall back to "insufficient
/// pods"; dropped nodes are now kept aside for explanations, so it names `nvidia.com/gpu`.
#[test]
fn insufficient_reason_names_the_missing_gpu_when_the_workload_is_alone() {
    let node = Resources::new()
        .with("cpu", 4000)
        .with("memory", 16 << 30)
        .with("pods", 110);
    let mut east = Cluster::new("east", "us-east-1");
    east.pools.push(NodePool::uniform("general", 3, node.clone()));
    let mut west = Cluster::new("west", "us-west-2");
    west.pools
        .push(NodePool::uniform("gpu", 2, node.with("nvidia.com/gpu", 1)));
    let train = Workload::new("ml", "train", 3, Resources::new().with("nvidia.com/gpu", 1));
    let (_, plan) = solve(vec![east, west], train, vec![]);
    let reasons: Vec<String> = plan.unplaced[0]
        .reasons
        .iter()
        .map(|r| format!("{}: {}", r.cluster, r.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            "east: insufficient nvidia.com/gpu: needs 1, largest free 0",
            "west: insufficient nvidia.com/gpu: needs 1, largest free 0",
        ]
    );
}

/// A pool with no node at all explains itself as such, not as a shortage of some resource.
#[test]
fn a_pool_without_nodes_is_reported_as_no_nodes() {
    let mut empty = pool("p0", None, 110);
    empty.nodes.clear();
    let (_, plan) = solve(vec![cluster("c0", "r0", vec![empty])], workload(2), vec![]);
    assert_eq!(plan.unplaced.len(), 1);
    let reason = &plan.unplaced[0].reasons[0].reason;
    assert_eq!(reason.code(), "NoNodes");
    assert_eq!(reason.to_string(), "the pools this workload may use have no node");
}

/// A pool whose nodes take no pods names them and why, with the cluster's pools refused for
/// a taint, whichever solver plans; a cluster whose only pool is tainted names the pool.
#[test]
fn pools_without_usable_nodes_say_which_nodes_and_taints_stop_the_workload() {
    let mut down = pool("general", None, 110);
    down.nodes.clear();
    down.unavailable = vec![
        fleetplan::UnavailableNode {
            name: "kwok-node-0".into(),
            why: fleetplan::Unavailability::NotReady,
        },
        fleetplan::UnavailableNode {
            name: "n2".into(),
            why: fleetplan::Unavailability::Cordoned,
        },
    ];
    let mut gpu = pool("gpu", None, 110);
    gpu.taints.push(Taint {
        key: "dedicated".into(),
        value: "gpu".into(),
        effect: TaintEffect::NoSchedule,
    });
    let problem = Problem {
        clusters: vec![
            cluster("mixed", "r0", vec![down, gpu.clone()]),
            cluster("tainted", "r0", vec![gpu]),
        ],
        workloads: vec![workload(2)],
        ..Problem::default()
    };
    for solver in [
        fleetplan::SolverChoice::Fast,
        fleetplan::SolverChoice::Flow,
        fleetplan::SolverChoice::Exact,
    ] {
        let options = PlanOptions {
            solver,
            ..PlanOptions::default()
        };
        let plan = plan(&problem, &options).expect("valid problem");
        let reasons: Vec<String> = plan.unplaced[0]
            .reasons
            .iter()
            .map(|r| format!("{} {}: {}", r.cluster, r.reason.code(), r.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                "mixed NoNodes: node kwok-node-0 is not Ready; node n2 is cordoned; \
                 taint dedicated=gpu:NoSchedule on pool gpu is not tolerated",
                "tainted PoolTaint: taint dedicated=gpu:NoSchedule on pool gpu is not tolerated",
            ],
            "{solver:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Planning time follows the problem's size, not the replica count (issue 20)
// ---------------------------------------------------------------------------------------------

/// A pool of `nodes` nodes of 110 pods each in `zone`.
fn wide_pool(name: &str, zone: &str, nodes: u32) -> NodePool {
    let mut p = NodePool::uniform(
        name,
        nodes,
        Resources::new().with("cpu", 64_000_000).with("pods", 110),
    );
    p.zone = Some(zone.into());
    p
}

/// Two billion replicas under a hard zone spread took minutes, one seat at a time; rounds
/// repeated in bulk seat them at once, with the skew kept: zone c is full at 330 million, so
/// a and b stop one above it.
#[test]
fn two_billion_replicas_under_a_hard_zone_spread_are_seated_in_rounds() {
    let clusters = vec![cluster(
        "huge",
        "r1",
        vec![
            wide_pool("a", "r1-a", 10_000_000),
            wide_pool("b", "r1-b", 10_000_000),
            wide_pool("c", "r1-c", 3_000_000),
        ],
    )];
    let mut w = Workload::new("ns", "w0", 2_000_000_000, Resources::new().with("cpu", 10));
    w.template.topology_spread.push(hard(TopologyKey::Zone, 1));
    let (_, plan) = solve(clusters, w, vec![]);
    assert_eq!(
        pools_of(&plan),
        map(&[
            ("huge/a", 330_000_001),
            ("huge/b", 330_000_001),
            ("huge/c", 330_000_000)
        ])
    );
    let codes: Vec<&str> = plan.unplaced[0].reasons.iter().map(|r| r.reason.code()).collect();
    assert_eq!(codes, ["TopologySpread"]);
}

/// A billion replicas over six clusters in three regions with a hard region spread and
/// uneven weights: every region within the skew, every replica placed, and the clusters of a
/// region split by weight.
#[test]
fn a_billion_replicas_under_a_hard_region_spread_keep_the_skew() {
    let clusters: Vec<Cluster> = (0..6)
        .map(|i| {
            let region = format!("r{}", i / 2);
            cluster(
                &format!("c{i}"),
                &region,
                vec![wide_pool("p", &format!("{region}-a"), 10_000_000)],
            )
        })
        .collect();
    let mut w = Workload::new("ns", "w0", 1_000_000_000, Resources::new().with("cpu", 10));
    w.template.topology_spread.push(hard(TopologyKey::Region, 1));
    w.policy.strategy = fleetplan::Strategy::Weighted;
    w.policy.cluster_weights.named = [("c0", 3), ("c1", 1), ("c2", 1), ("c3", 1), ("c4", 1), ("c5", 4)]
        .map(|(c, n)| (c.to_string(), n))
        .into();
    let (_, plan) = solve(clusters, w, vec![]);
    assert_eq!(plan.summary.unplaced, 0);
    let by_cluster = pools_of(&plan);
    let region = |a: &str, b: &str| by_cluster[&format!("{a}/p")] + by_cluster[&format!("{b}/p")];
    let regions = [region("c0", "c1"), region("c2", "c3"), region("c4", "c5")];
    assert!(
        regions.iter().max().unwrap() - regions.iter().min().unwrap() <= 1,
        "{regions:?}"
    );
    let (c4, c5) = (by_cluster["c4/p"], by_cluster["c5/p"]);
    assert!(c5 > 3 * c4 && c5 < 5 * c4, "weights 1:4 split {c4}:{c5}");
}

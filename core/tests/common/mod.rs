//! Shared test support: random problem generators, an independent reading of the placement
//! rules, a node-level packing checker and an exhaustive placement oracle.
//!
//! Nothing here calls planner internals: the rules (label selectors, tolerations, health,
//! weights), the per-node fit and the skew definition are re-derived from the documentation
//! and the Kubernetes semantics, so that a disagreement with the planner is a finding.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod invariants;

use std::collections::{BTreeMap, BTreeSet};

use fleetplan::{
    Cluster, Container, Health, LabelRequirement, LabelSelector, Labels, NodeAffinity, NodeGroup, NodePool,
    Operator, PerName, PlacementPolicy, Plan, PodTemplate, PoolName, PreferredTerm, Problem, Resources,
    Running, Strategy as Split, Taint, TaintEffect, Toleration, TolerationOperator, TopologyKey,
    TopologySpread, WhenUnsatisfiable, Workload, WorkloadId, WorkloadKind,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

/// A proptest configuration of `cases` cases, or more when `PROPTEST_CASES` asks for more
/// (for deeper runs); failures are reported, not persisted.
pub fn config(cases: u32) -> proptest::test_runner::Config {
    let env = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    proptest::test_runner::Config {
        cases: cases.max(env),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// The size of the problems a generator makes.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Clusters, at least and at most.
    pub clusters: (usize, usize),
    /// Pools per cluster, at least and at most.
    pub pools: (usize, usize),
    /// Node groups per pool, at least and at most.
    pub groups: (usize, usize),
    /// Workloads, at least and at most.
    pub workloads: (usize, usize),
    /// The largest replica target.
    pub max_target: u32,
    /// Whether to generate replicas that run now.
    pub current: bool,
    /// How many regions clusters are spread over.
    pub regions: usize,
    /// For the oracle: maximums and hard spread constraints much more often, and fewer
    /// selectors, taints and scarce resources, so that most problems have a full placement
    /// that only the placement limits make hard to find.
    pub tight: bool,
}

impl Shape {
    /// 1-4 clusters, 1-3 pools, 1-3 node groups, 1-4 workloads of up to 12 replicas.
    pub const FULL: Shape = Shape {
        clusters: (1, 4),
        pools: (1, 3),
        groups: (1, 3),
        workloads: (1, 4),
        max_target: 12,
        current: true,
        regions: 3,
        tight: false,
    };

    /// As [`Shape::FULL`] without running replicas.
    pub const FRESH: Shape = Shape {
        current: false,
        ..Shape::FULL
    };

    /// One workload on a fleet small enough for the exhaustive oracle.
    pub const ORACLE: Shape = Shape {
        clusters: (1, 3),
        pools: (1, 2),
        groups: (1, 2),
        workloads: (1, 1),
        max_target: 6,
        current: false,
        regions: 2,
        tight: true,
    };

    /// One workload on a full-size fleet, with running replicas.
    pub const SINGLE: Shape = Shape {
        workloads: (1, 1),
        ..Shape::FULL
    };

    /// One workload on a full-size fleet, nothing running.
    pub const SINGLE_FRESH: Shape = Shape {
        current: false,
        ..Shape::SINGLE
    };
}

/// Cluster names the generators use; workload policies name them too (and unknown ones).
pub const CLUSTERS: [&str; 5] = ["c0", "c1", "c2", "c3", "c4"];
/// Region names the generators use.
pub const REGIONS: [&str; 3] = ["r0", "r1", "r2"];
/// The resources of the generated problems, in the order of the dense vectors below.
pub const RESOURCES: [&str; 4] = ["cpu", "memory", "nvidia.com/gpu", "pods"];
const GIB: i64 = 1 << 30;

fn taint() -> impl Strategy<Value = Taint> {
    (
        select(vec!["dedicated", "spot", "gpu"]),
        select(vec!["", "ml"]),
        select(vec![
            TaintEffect::NoSchedule,
            TaintEffect::PreferNoSchedule,
            TaintEffect::NoExecute,
        ]),
    )
        .prop_map(|(key, value, effect)| Taint {
            key: key.into(),
            value: value.into(),
            effect,
        })
}

fn health() -> impl Strategy<Value = Health> {
    prop_oneof![
        12 => Just(Health::Ready),
        1 => Just(Health::NotReady),
        1 => Just(Health::Unreachable),
        2 => Just(Health::Cordoned),
        1 => Just(Health::Draining),
    ]
}

/// An amount that is sometimes absent from the resource list (absent means zero).
fn amount(choices: Vec<i64>) -> impl Strategy<Value = Option<i64>> {
    option::weighted(0.9, select(choices))
}

fn node_group(tight: bool) -> impl Strategy<Value = NodeGroup> {
    let (cpu, mem) = if tight {
        (vec![1000, 2000, 4000], vec![2, 4, 8])
    } else {
        (vec![0, 500, 1000, 2000, 4000], vec![0, 1, 2, 4, 8])
    };
    (
        1..=3u32,
        amount(cpu),
        amount(mem),
        option::weighted(0.25, 0..=2i64),
        prop_oneof![u32::from(!tight) => Just(0i64), 6 => 1..=4i64, 3 => Just(110i64)],
    )
        .prop_map(|(count, cpu, mem, gpu, pods)| {
            let mut free = Resources::new();
            if let Some(cpu) = cpu {
                free.set("cpu", cpu);
            }
            if let Some(mem) = mem {
                free.set("memory", mem * GIB);
            }
            if let Some(gpu) = gpu {
                free.set("nvidia.com/gpu", gpu);
            }
            free.set("pods", pods);
            NodeGroup { count, free }
        })
}

/// A pool before it knows its name and region.
type PoolSpec = (Option<u8>, Labels, Option<Taint>, Vec<NodeGroup>);

fn pool(shape: Shape) -> impl Strategy<Value = PoolSpec> {
    let tight = shape.tight;
    (
        option::weighted(0.8, 0..2u8),
        option::of(select(vec!["ssd", "hdd"])),
        any::<bool>(),
        option::weighted(0.3, select(vec!["2", "8"])),
        option::weighted(if tight { 0.1 } else { 0.25 }, taint()),
        vec(node_group(tight), shape.groups.0..=shape.groups.1),
    )
        .prop_map(|(zone, disk, gpu, cores, taint, nodes)| {
            let mut labels = Labels::new();
            if let Some(disk) = disk {
                labels.insert("disktype".into(), disk.into());
            }
            if gpu {
                labels.insert("gpu".into(), "true".into());
            }
            if let Some(cores) = cores {
                labels.insert("cores".into(), cores.into());
            }
            (zone, labels, taint, nodes)
        })
}

type ClusterSpec = (usize, Option<&'static str>, Option<Taint>, Health, Vec<PoolSpec>);

fn cluster(shape: Shape) -> impl Strategy<Value = ClusterSpec> {
    (
        0..shape.regions,
        option::weighted(0.7, select(vec!["prod", "dev"])),
        option::weighted(if shape.tight { 0.05 } else { 0.15 }, taint()),
        health(),
        vec(pool(shape), shape.pools.0..=shape.pools.1),
    )
}

fn build_cluster(i: usize, (region, tier, taint, health, pools): ClusterSpec) -> Cluster {
    let region = REGIONS[region];
    let mut c = Cluster::new(CLUSTERS[i], region);
    if let Some(tier) = tier {
        c.labels.insert("tier".into(), tier.into());
    }
    c.taints.extend(taint);
    c.health = health;
    for (j, (zone, labels, taint, nodes)) in pools.into_iter().enumerate() {
        c.pools.push(NodePool {
            name: PoolName::from(format!("p{j}").as_str()),
            zone: zone.map(|z| format!("{region}-{}", ["a", "b"][usize::from(z)])),
            labels,
            taints: taint.into_iter().collect(),
            allocatable: nodes[0].free.clone(),
            nodes,
            unavailable: Vec::new(),
            node_price: None,
            fargate: None,
        });
    }
    c
}

fn requirement() -> impl Strategy<Value = LabelRequirement> {
    let r = |key: &str, operator: Operator, values: &[&str]| LabelRequirement {
        key: key.into(),
        operator,
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    select(vec![
        r("disktype", Operator::In, &["ssd"]),
        r("disktype", Operator::In, &["ssd", "hdd"]),
        r("disktype", Operator::NotIn, &["hdd"]),
        r("gpu", Operator::Exists, &[]),
        r("gpu", Operator::DoesNotExist, &[]),
        r("cores", Operator::Gt, &["4"]),
        r("cores", Operator::Lt, &["4"]),
    ])
}

fn cluster_requirement() -> impl Strategy<Value = LabelRequirement> {
    let r = |key: &str, operator: Operator, values: &[&str]| LabelRequirement {
        key: key.into(),
        operator,
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    select(vec![
        r("tier", Operator::In, &["prod"]),
        r("tier", Operator::NotIn, &["dev"]),
        r("tier", Operator::Exists, &[]),
        r("fleetplan.io/region", Operator::In, &["r0", "r1"]),
        r("fleetplan.io/cluster", Operator::NotIn, &["c1"]),
    ])
}

fn toleration() -> impl Strategy<Value = Toleration> {
    let t = |key: &str, operator, value: &str, effect| Toleration {
        key: key.into(),
        operator,
        value: value.into(),
        effect,
    };
    select(vec![
        t("dedicated", TolerationOperator::Equal, "ml", None),
        t(
            "dedicated",
            TolerationOperator::Exists,
            "",
            Some(TaintEffect::NoSchedule),
        ),
        t("spot", TolerationOperator::Exists, "", None),
        t(
            "spot",
            TolerationOperator::Equal,
            "",
            Some(TaintEffect::PreferNoSchedule),
        ),
        t(
            "gpu",
            TolerationOperator::Exists,
            "",
            Some(TaintEffect::NoExecute),
        ),
        t("gpu", TolerationOperator::Equal, "ml", None),
        t("", TolerationOperator::Exists, "", None),
    ])
}

fn per_name(
    names: &'static [&'static str],
    values: std::ops::RangeInclusive<u32>,
) -> impl Strategy<Value = PerName> {
    (
        option::weighted(0.2, values.clone()),
        btree_map(select(names.to_vec()).prop_map(String::from), values, 0..=3),
    )
        .prop_map(|(default, named)| PerName { default, named })
}

fn rarely(tight: bool, s: impl Strategy<Value = PerName>) -> impl Strategy<Value = PerName> {
    let (none, some) = if tight { (1, 2) } else { (2, 1) };
    prop_oneof![none => Just(PerName::default()), some => s]
}

fn spread() -> impl Strategy<Value = TopologySpread> {
    (
        select(vec![TopologyKey::Region, TopologyKey::Zone, TopologyKey::Cluster]),
        1..=2u32,
        prop_oneof![3 => Just(WhenUnsatisfiable::DoNotSchedule), 1 => Just(WhenUnsatisfiable::ScheduleAnyway)],
    )
        .prop_map(|(topology_key, max_skew, when_unsatisfiable)| TopologySpread {
            max_skew,
            topology_key,
            when_unsatisfiable,
        })
}

fn template(tight: bool) -> impl Strategy<Value = PodTemplate> {
    let requests = (
        select(vec![0i64, 250, 500, 1000, 1500]),
        select(vec![0i64, 1, 2]),
        prop_oneof![5 => Just(0i64), u32::from(!tight) => Just(1i64)],
    )
        .prop_map(|(cpu, mem, gpu)| {
            let mut r = Resources::new().with("cpu", cpu).with("memory", mem * GIB);
            if gpu > 0 {
                r.set("nvidia.com/gpu", gpu);
            }
            r
        });
    let init = option::weighted(0.15, (select(vec![500i64, 2000]), any::<bool>()));
    let rules = if tight { 0.1 } else { 0.25 };
    (
        requests,
        init,
        option::weighted(rules, select(vec!["ssd", "hdd"])),
        prop_oneof![
            u32::from(tight) * 3 => Just(Vec::new()),
            1 => vec(vec(requirement(), 1..=2), 0..=2),
        ],
        option::weighted(0.15, (1..=100i32, requirement())),
        vec(toleration(), 0..=2),
        vec(spread(), usize::from(tight)..=2),
        select(vec![0i32, 10, 100]),
    )
        .prop_map(
            |(requests, init, disk, required, preferred, tolerations, spreads, priority)| {
                let mut t = PodTemplate {
                    containers: vec![Container {
                        name: "main".into(),
                        requests,
                        sidecar: false,
                    }],
                    ..PodTemplate::default()
                };
                if let Some((cpu, sidecar)) = init {
                    t.init_containers.push(Container {
                        name: "init".into(),
                        requests: Resources::new().with("cpu", cpu),
                        sidecar,
                    });
                }
                if let Some(disk) = disk {
                    t.node_selector.insert("disktype".into(), disk.into());
                }
                t.affinity = NodeAffinity {
                    required: required
                        .into_iter()
                        .map(|requirements| LabelSelector { requirements })
                        .collect(),
                    preferred: preferred
                        .into_iter()
                        .map(|(weight, r)| PreferredTerm {
                            weight,
                            preference: LabelSelector {
                                requirements: vec![r],
                            },
                        })
                        .collect(),
                };
                t.tolerations = tolerations;
                t.topology_spread = spreads;
                t.priority = priority;
                t
            },
        )
}

/// `min` lowered to `max` name by name (`*` included): a minimum above its maximum is
/// refused as a contradiction, so the generators make none.
fn at_most(mut min: PerName, max: &PerName) -> PerName {
    for (name, value) in &mut min.named {
        if let Some(hi) = max.get(name) {
            *value = (*value).min(hi);
        }
    }
    if let (Some(lo), Some(hi)) = (min.default, max.default) {
        min.default = Some(lo.min(hi));
    }
    if let Some(lo) = min.default {
        for (name, &hi) in &max.named {
            if lo > hi && !min.named.contains_key(name) {
                min.named.insert(name.clone(), hi);
            }
        }
    }
    min
}

fn policy(tight: bool) -> impl Strategy<Value = PlacementPolicy> {
    (
        option::weighted(if tight { 0.1 } else { 0.3 }, cluster_requirement()),
        select(vec![Split::Spread, Split::Weighted, Split::Pack]),
        per_name(&CLUSTERS, 0..=3),
        rarely(false, per_name(&REGIONS, 0..=2)),
        rarely(tight, per_name(&CLUSTERS, 0..=4)),
        rarely(tight, per_name(&CLUSTERS, 0..=4)),
        rarely(tight, per_name(&REGIONS, 0..=4)),
        rarely(tight, per_name(&REGIONS, 0..=6)),
    )
        .prop_map(
            |(selector, strategy, weights, region_weights, cmin, cmax, rmin, rmax)| PlacementPolicy {
                cluster_selector: LabelSelector {
                    requirements: selector.into_iter().collect(),
                },
                strategy,
                cluster_weights: weights,
                region_weights,
                cluster_min: at_most(cmin, &cmax),
                cluster_max: cmax,
                region_min: at_most(rmin, &rmax),
                region_max: rmax,
                ..PlacementPolicy::default()
            },
        )
}

fn workload(shape: Shape) -> impl Strategy<Value = (u32, PodTemplate, PlacementPolicy)> {
    (
        u32::from(shape.tight)..=shape.max_target,
        template(shape.tight),
        policy(shape.tight),
    )
}

/// Random problems of the given shape. Names: clusters `c0..`, pools `p0..`, regions `r0..r2`,
/// zones `<region>-a|b`, workloads `ns/w0..`.
pub fn problem(shape: Shape) -> impl Strategy<Value = Problem> {
    let current = if shape.current {
        vec((any::<u8>(), any::<u8>(), any::<u8>(), 1..=4u32), 0..=5).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (
        vec(cluster(shape), shape.clusters.0..=shape.clusters.1),
        vec(workload(shape), shape.workloads.0..=shape.workloads.1),
        current,
    )
        .prop_map(|(clusters, workloads, current)| {
            let clusters: Vec<Cluster> = clusters
                .into_iter()
                .enumerate()
                .map(|(i, spec)| build_cluster(i, spec))
                .collect();
            let workloads: Vec<Workload> = workloads
                .into_iter()
                .enumerate()
                .map(|(i, (replicas, template, policy))| Workload {
                    id: WorkloadId::new("ns", &format!("w{i}")),
                    kind: WorkloadKind::Deployment,
                    replicas,
                    template,
                    policy,
                })
                .collect();
            let current = current
                .into_iter()
                .map(|(w, c, p, replicas)| {
                    let w = &workloads[usize::from(w) % workloads.len()];
                    let c = &clusters[usize::from(c) % clusters.len()];
                    let p = &c.pools[usize::from(p) % c.pools.len()];
                    Running {
                        workload: w.id.clone(),
                        cluster: c.name.clone(),
                        pool: p.name.clone(),
                        replicas,
                    }
                })
                .collect();
            Problem {
                clusters,
                workloads,
                current,
                ..Problem::default()
            }
        })
}

// ---------------------------------------------------------------------------------------------
// The rules, read independently of the planner
// ---------------------------------------------------------------------------------------------

/// Kubernetes label requirement semantics.
pub fn requirement_holds(r: &LabelRequirement, labels: &Labels) -> bool {
    let value = labels.get(&r.key);
    let int = |s: &str| s.parse::<i64>().ok();
    match r.operator {
        Operator::In => matches!(value, Some(v) if r.values.iter().any(|x| x == v)),
        Operator::NotIn => !matches!(value, Some(v) if r.values.iter().any(|x| x == v)),
        Operator::Exists => value.is_some(),
        Operator::DoesNotExist => value.is_none(),
        Operator::Gt | Operator::Lt => {
            match (value.and_then(|v| int(v)), r.values.first().and_then(|v| int(v))) {
                (Some(v), Some(limit)) => {
                    if r.operator == Operator::Gt {
                        v > limit
                    } else {
                        v < limit
                    }
                }
                _ => false,
            }
        }
    }
}

/// All requirements hold.
pub fn selector_holds(s: &LabelSelector, labels: &Labels) -> bool {
    s.requirements.iter().all(|r| requirement_holds(r, labels))
}

/// Kubernetes toleration semantics.
pub fn tolerated(taint: &Taint, tolerations: &[Toleration]) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t.effect.is_none() || t.effect == Some(taint.effect);
        let key_ok = match t.operator {
            TolerationOperator::Exists => t.key.is_empty() || t.key == taint.key,
            TolerationOperator::Equal => t.key == taint.key && t.value == taint.value,
        };
        effect_ok && key_ok
    })
}

/// Some taint with one of `effects` goes untolerated.
pub fn blocks(taints: &[Taint], tolerations: &[Toleration], effects: &[TaintEffect]) -> bool {
    taints
        .iter()
        .any(|t| effects.contains(&t.effect) && !tolerated(t, tolerations))
}

const HARD: [TaintEffect; 2] = [TaintEffect::NoSchedule, TaintEffect::NoExecute];

/// The labels a cluster selector sees.
pub fn cluster_labels(c: &Cluster) -> Labels {
    let mut l = c.labels.clone();
    l.insert("fleetplan.io/cluster".into(), c.name.as_str().into());
    l.insert("fleetplan.io/region".into(), c.region.clone());
    l
}

/// The workload has a hard zone spread constraint.
pub fn needs_zone(w: &Workload) -> bool {
    w.template.topology_spread.iter().any(|t| {
        t.topology_key == TopologyKey::Zone && t.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule
    })
}

/// The cluster passes the workload's cluster-level rules (selector, hard cluster taints).
pub fn cluster_allows(w: &Workload, c: &Cluster) -> bool {
    selector_holds(&w.policy.cluster_selector, &cluster_labels(c))
        && !blocks(&c.taints, &w.template.tolerations, &HARD)
}

/// A new replica may go to `pool` of `c` as far as static rules go (health and weight aside).
pub fn pool_allows_new(w: &Workload, c: &Cluster, pool: &NodePool) -> bool {
    let t = &w.template;
    cluster_allows(w, c)
        && t.node_selector.iter().all(|(k, v)| pool.labels.get(k) == Some(v))
        && (t.affinity.required.is_empty()
            || t.affinity
                .required
                .iter()
                .any(|s| selector_holds(s, &pool.labels)))
        && !blocks(&pool.taints, &t.tolerations, &HARD)
        && (!needs_zone(w) || pool.zone.is_some())
}

/// The cluster's weight for the workload (for `Spread`, 1 unless a weight of 0 excludes it).
pub fn weight(w: &Workload, c: &Cluster) -> u64 {
    let weight = u64::from(w.policy.cluster_weights.get(c.name.as_str()).unwrap_or(1))
        * u64::from(w.policy.region_weights.get(&c.region).unwrap_or(1));
    match w.policy.strategy {
        Split::Spread => weight.min(1),
        Split::Weighted | Split::Pack => weight,
    }
}

/// The cluster takes new replicas of the workload at all: Ready and a positive weight.
pub fn takes_new(w: &Workload, c: &Cluster) -> bool {
    c.health == Health::Ready && weight(w, c) > 0
}

/// A running replica in `pool` of `c` may stay: the cluster keeps what it runs, the selectors
/// and affinity still hold and no `NoExecute` taint evicts it.
pub fn may_stay(w: &Workload, c: &Cluster, pool: &NodePool) -> bool {
    let t = &w.template;
    matches!(c.health, Health::Ready | Health::Cordoned)
        && selector_holds(&w.policy.cluster_selector, &cluster_labels(c))
        && !blocks(&c.taints, &t.tolerations, &[TaintEffect::NoExecute])
        && !blocks(&pool.taints, &t.tolerations, &[TaintEffect::NoExecute])
        && t.node_selector.iter().all(|(k, v)| pool.labels.get(k) == Some(v))
        && (t.affinity.required.is_empty()
            || t.affinity
                .required
                .iter()
                .any(|s| selector_holds(s, &pool.labels)))
}

/// A resource set as a dense vector over [`RESOURCES`].
pub fn dense(r: &Resources) -> [i64; 4] {
    RESOURCES.map(|name| r.get(name))
}

/// What one replica needs from a node, per the Kubernetes rules for init containers and
/// sidecars, with one pod slot.
pub fn replica_request(t: &PodTemplate) -> [i64; 4] {
    let mut running = [0i64; 4];
    let add = |acc: &mut [i64; 4], c: &Container| {
        for (a, b) in acc.iter_mut().zip(dense(&c.requests)) {
            *a += b;
        }
    };
    for c in &t.containers {
        add(&mut running, c);
    }
    for c in t.init_containers.iter().filter(|c| c.sidecar) {
        add(&mut running, c);
    }
    let mut need = running;
    let mut sidecars = [0i64; 4];
    for c in &t.init_containers {
        if c.sidecar {
            add(&mut sidecars, c);
        } else {
            let mut alone = sidecars;
            add(&mut alone, c);
            for (n, a) in need.iter_mut().zip(alone) {
                *n = (*n).max(a);
            }
        }
    }
    need[3] = 1;
    need
}

/// Replicas of `request` that fit on a node with `free`.
pub fn node_fit(free: &[i64; 4], request: &[i64; 4]) -> u64 {
    (0..4)
        .filter(|&r| request[r] > 0)
        .map(|r| (free[r].max(0) / request[r]) as u64)
        .min()
        .unwrap_or(u64::MAX)
}

/// Replicas of `request` that fit in `pool` when nothing else is placed there.
pub fn pool_fit(pool: &NodePool, request: &[i64; 4]) -> u64 {
    pool.nodes
        .iter()
        .map(|g| u64::from(g.count).saturating_mul(node_fit(&dense(&g.free), request)))
        .fold(0, u64::saturating_add)
}

// ---------------------------------------------------------------------------------------------
// Reading a plan
// ---------------------------------------------------------------------------------------------

/// `(workload, cluster, pool) -> replicas`, for a plan or for the running replicas.
pub type PoolCounts = BTreeMap<(String, String, String), u32>;

/// Replicas per workload, cluster and pool in a plan.
pub fn plan_pools(plan: &Plan) -> PoolCounts {
    let mut out = PoolCounts::new();
    for p in &plan.placements {
        for pr in &p.pools {
            *out.entry((p.workload.to_string(), p.cluster.to_string(), pr.pool.to_string()))
                .or_default() += pr.replicas;
        }
    }
    out
}

/// Running replicas per workload, cluster and pool (entries of unknown workloads dropped).
pub fn current_pools(problem: &Problem) -> PoolCounts {
    let known: BTreeSet<String> = problem.workloads.iter().map(|w| w.id.to_string()).collect();
    let mut out = PoolCounts::new();
    for r in &problem.current {
        if known.contains(&r.workload.to_string()) {
            *out.entry((r.workload.to_string(), r.cluster.to_string(), r.pool.to_string()))
                .or_default() += r.replicas;
        }
    }
    out
}

/// Replicas of `w` per cluster name in a plan.
pub fn cluster_counts(plan: &Plan, w: &WorkloadId) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for p in plan.placements.iter().filter(|p| &p.workload == w) {
        *out.entry(p.cluster.to_string()).or_default() += p.replicas;
    }
    out
}

/// The plan as JSON, for messages.
pub fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serialisable")
}

// ---------------------------------------------------------------------------------------------
// Node-level packing
// ---------------------------------------------------------------------------------------------

/// The outcome of packing replicas onto the nodes of a pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packing {
    /// They fit; the nodes' free resources afterwards.
    Packed(Vec<[i64; 4]>),
    /// Proven impossible by exhaustive search.
    Impossible,
    /// The search budget ran out.
    Unknown,
}

fn fits(free: &[i64; 4], req: &[i64; 4]) -> bool {
    (0..4).all(|r| req[r] == 0 || free[r] >= req[r])
}

fn take(free: &mut [i64; 4], req: &[i64; 4]) {
    for r in 0..4 {
        free[r] -= req[r];
    }
}

/// Packs `demands` (request, replicas), in the order given, onto the nodes of `pool`: first a
/// best-fit pass in that order (each replica on the fitting node with the least free, GPUs
/// weighed first); when that fails, an exhaustive search over all assignments.
pub fn pack(pool: &NodePool, demands: &[([i64; 4], u32)]) -> Packing {
    let nodes: Vec<[i64; 4]> = pool
        .nodes
        .iter()
        .flat_map(|g| std::iter::repeat_n(dense(&g.free), g.count as usize))
        .collect();
    let mut greedy = nodes.clone();
    let mut ok = true;
    'outer: for (req, n) in demands {
        for _ in 0..*n {
            let order = |f: &[i64; 4]| (f[2], f[0], f[1], f[3]);
            let best = (0..greedy.len())
                .filter(|&i| fits(&greedy[i], req))
                .min_by_key(|&i| order(&greedy[i]));
            match best {
                Some(i) => take(&mut greedy[i], req),
                None => {
                    ok = false;
                    break 'outer;
                }
            }
        }
    }
    if ok {
        return Packing::Packed(greedy);
    }
    let mut items: Vec<[i64; 4]> = demands
        .iter()
        .flat_map(|(req, n)| std::iter::repeat_n(*req, *n as usize))
        .collect();
    items.sort_by_key(|r| std::cmp::Reverse((r[2], r[0], r[1])));
    let mut state = nodes;
    let mut budget = 200_000u32;
    match search(&mut state, &items, 0, &mut budget) {
        Some(true) => Packing::Packed(state),
        Some(false) => Packing::Impossible,
        None => Packing::Unknown,
    }
}

/// Depth-first search; `None` when the budget ran out.
fn search(nodes: &mut [[i64; 4]], items: &[[i64; 4]], next: usize, budget: &mut u32) -> Option<bool> {
    if next == items.len() {
        return Some(true);
    }
    if *budget == 0 {
        return None;
    }
    *budget -= 1;
    let req = items[next];
    let mut tried: Vec<[i64; 4]> = Vec::new();
    let mut exhausted = false;
    for i in 0..nodes.len() {
        if !fits(&nodes[i], &req) || tried.contains(&nodes[i]) {
            continue;
        }
        tried.push(nodes[i]);
        take(&mut nodes[i], &req);
        match search(nodes, items, next + 1, budget) {
            Some(true) => return Some(true),
            Some(false) => {}
            None => exhausted = true,
        }
        for r in 0..4 {
            nodes[i][r] += req[r];
        }
        if exhausted {
            return None;
        }
    }
    Some(false)
}

/// Workload indices in the order they take shared capacity: priority, then id.
pub fn priority_order(problem: &Problem) -> Vec<usize> {
    let mut order: Vec<usize> = (0..problem.workloads.len()).collect();
    order.sort_by(|&a, &b| {
        let (wa, wb) = (&problem.workloads[a], &problem.workloads[b]);
        wb.template
            .priority
            .cmp(&wa.template.priority)
            .then(wa.id.cmp(&wb.id))
    });
    order
}

/// New replicas (beyond those running there now) per workload, cluster and pool.
pub fn new_replicas(problem: &Problem, plan: &Plan) -> PoolCounts {
    let current = current_pools(problem);
    plan_pools(plan)
        .into_iter()
        .filter_map(|(key, n)| {
            let extra = n.saturating_sub(current.get(&key).copied().unwrap_or(0));
            (extra > 0).then_some((key, extra))
        })
        .collect()
}

/// Packs every pool's new replicas, workloads in priority order. Returns per cluster and pool
/// the outcome.
pub fn pack_plan(problem: &Problem, plan: &Plan) -> BTreeMap<(String, String), Packing> {
    let new = new_replicas(problem, plan);
    let order = priority_order(problem);
    let mut out = BTreeMap::new();
    for c in &problem.clusters {
        // A Fargate pool has no nodes: its limit is the account's vCPU quota (see
        // `tests/fargate.rs`), not a packing.
        for pool in c.pools.iter().filter(|p| p.fargate.is_none()) {
            let demands: Vec<([i64; 4], u32)> = order
                .iter()
                .map(|&w| &problem.workloads[w])
                .filter_map(|w| {
                    let key = (w.id.to_string(), c.name.to_string(), pool.name.to_string());
                    new.get(&key).map(|&n| (replica_request(&w.template), n))
                })
                .collect();
            if !demands.is_empty() {
                out.insert((c.name.to_string(), pool.name.to_string()), pack(pool, &demands));
            }
        }
    }
    out
}

/// Node groups for free vectors, identical nodes merged (first appearance order).
pub fn regroup(nodes: &[[i64; 4]]) -> Vec<NodeGroup> {
    let mut groups: Vec<([i64; 4], u32)> = Vec::new();
    for n in nodes {
        match groups.iter_mut().find(|(f, _)| f == n) {
            Some((_, count)) => *count += 1,
            None => groups.push((*n, 1)),
        }
    }
    groups
        .into_iter()
        .map(|(f, count)| NodeGroup {
            count,
            free: RESOURCES
                .iter()
                .zip(f)
                .filter(|(_, a)| *a != 0)
                .map(|(n, a)| (*n, a))
                .collect(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Topology spread domains
// ---------------------------------------------------------------------------------------------

/// The domain of a pool of `c` under a topology key (`None`: a pool without a zone).
pub fn domain(key: TopologyKey, c: &Cluster, pool: &NodePool) -> Option<String> {
    match key {
        TopologyKey::Cluster => Some(c.name.to_string()),
        TopologyKey::Region => Some(c.region.clone()),
        TopologyKey::Zone => pool.zone.clone(),
    }
}

/// Eligible domains of a hard spread constraint: those with at least one statically feasible
/// pool in a Ready cluster with a positive weight.
pub fn eligible_domains(w: &Workload, problem: &Problem, key: TopologyKey) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in problem.clusters.iter().filter(|c| takes_new(w, c)) {
        for pool in c.pools.iter().filter(|p| pool_allows_new(w, c, p)) {
            out.extend(domain(key, c, pool));
        }
    }
    out
}

/// Replicas per domain, from `(cluster, pool) -> replicas`.
pub fn domain_counts(
    problem: &Problem,
    key: TopologyKey,
    counts: &BTreeMap<(String, String), u32>,
) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for ((cn, pn), &n) in counts {
        let c = problem
            .clusters
            .iter()
            .find(|c| c.name.as_str() == cn)
            .expect("cluster");
        let pool = c.pools.iter().find(|p| p.name.as_str() == pn).expect("pool");
        if let Some(d) = domain(key, c, pool) {
            *out.entry(d).or_default() += n;
        }
    }
    out
}

/// The first hard spread constraint whose skew over eligible domains exceeds its maximum:
/// `(key, domain, count, min)`.
pub fn skew_violation(
    w: &Workload,
    problem: &Problem,
    counts: &BTreeMap<(String, String), u32>,
) -> Option<(TopologyKey, String, u32, u32)> {
    for t in &w.template.topology_spread {
        if t.when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule {
            continue;
        }
        let eligible = eligible_domains(w, problem, t.topology_key);
        let per = domain_counts(problem, t.topology_key, counts);
        let count = |d: &String| per.get(d).copied().unwrap_or(0);
        let Some(min) = eligible.iter().map(count).min() else {
            continue;
        };
        for d in &eligible {
            if count(d) > min + t.max_skew.max(1) {
                return Some((t.topology_key, d.clone(), count(d), min));
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The exhaustive oracle
// ---------------------------------------------------------------------------------------------

/// What the oracle must honour besides the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Demands {
    /// Every cluster that takes new replicas and has a feasible pool gets its minimum, and
    /// every region with such a cluster its region minimum.
    pub minimums: bool,
}

/// Searches every assignment of `w.replicas` new replicas to pools for one that fits each
/// pool (exact per-node formula: one workload alone), honours the cluster and region maximums,
/// every hard spread constraint over its eligible domains, and (with `demands.minimums`) the
/// cluster minimums. Returns `(cluster, pool) -> replicas`, or `None` when none exists.
pub fn oracle(problem: &Problem, w: &Workload, demands: Demands) -> Option<BTreeMap<(String, String), u32>> {
    let request = replica_request(&w.template);
    let mut pools: Vec<(usize, usize, u32)> = Vec::new();
    for (ci, c) in problem.clusters.iter().enumerate() {
        if !takes_new(w, c) {
            continue;
        }
        for (pi, p) in c.pools.iter().enumerate() {
            if pool_allows_new(w, c, p) {
                let fit = pool_fit(p, &request).min(u64::from(w.replicas)) as u32;
                pools.push((ci, pi, fit));
            }
        }
    }
    let mut counts = vec![0u32; pools.len()];
    let mut found = None;
    enumerate(
        problem,
        w,
        demands,
        &pools,
        0,
        w.replicas,
        &mut counts,
        &mut found,
    );
    found
}

fn to_map(
    problem: &Problem,
    pools: &[(usize, usize, u32)],
    counts: &[u32],
) -> BTreeMap<(String, String), u32> {
    pools
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(&(ci, pi, _), &n)| {
            let c = &problem.clusters[ci];
            ((c.name.to_string(), c.pools[pi].name.to_string()), n)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn enumerate(
    problem: &Problem,
    w: &Workload,
    demands: Demands,
    pools: &[(usize, usize, u32)],
    next: usize,
    left: u32,
    counts: &mut Vec<u32>,
    found: &mut Option<BTreeMap<(String, String), u32>>,
) {
    if found.is_some() {
        return;
    }
    if next == pools.len() {
        if left == 0 && acceptable(problem, w, demands, pools, counts) {
            *found = Some(to_map(problem, pools, counts));
        }
        return;
    }
    let rest: u32 = pools[next + 1..].iter().map(|p| p.2).sum();
    for n in (0..=pools[next].2.min(left)).rev() {
        if left - n > rest {
            break;
        }
        counts[next] = n;
        enumerate(problem, w, demands, pools, next + 1, left - n, counts, found);
        counts[next] = 0;
    }
}

fn acceptable(
    problem: &Problem,
    w: &Workload,
    demands: Demands,
    pools: &[(usize, usize, u32)],
    counts: &[u32],
) -> bool {
    let mut per_cluster: BTreeMap<usize, u32> = BTreeMap::new();
    let mut per_region: BTreeMap<&str, u32> = BTreeMap::new();
    for (&(ci, _, _), &n) in pools.iter().zip(counts) {
        *per_cluster.entry(ci).or_default() += n;
        *per_region
            .entry(problem.clusters[ci].region.as_str())
            .or_default() += n;
    }
    for (&ci, &n) in &per_cluster {
        let c = &problem.clusters[ci];
        if w.policy
            .cluster_max
            .get(c.name.as_str())
            .is_some_and(|max| n > max)
        {
            return false;
        }
        if demands.minimums
            && w.policy
                .cluster_min
                .get(c.name.as_str())
                .is_some_and(|min| n < min)
        {
            return false;
        }
    }
    for (&region, &n) in &per_region {
        if w.policy.region_max.get(region).is_some_and(|max| n > max) {
            return false;
        }
        if demands.minimums && w.policy.region_min.get(region).is_some_and(|min| n < min) {
            return false;
        }
    }
    skew_violation(w, problem, &to_map(problem, pools, counts)).is_none()
}

/// `(cluster, pool) -> replicas` of one workload in a plan.
pub fn workload_pools(plan: &Plan, w: &WorkloadId) -> BTreeMap<(String, String), u32> {
    let mut out = BTreeMap::new();
    for p in plan.placements.iter().filter(|p| &p.workload == w) {
        for pr in &p.pools {
            *out.entry((p.cluster.to_string(), pr.pool.to_string()))
                .or_default() += pr.replicas;
        }
    }
    out
}

/// The clusters the minimum property talks about: they take new replicas and have a pool the
/// rules allow.
pub fn eligible_clusters<'p>(problem: &'p Problem, w: &Workload) -> Vec<&'p Cluster> {
    problem
        .clusters
        .iter()
        .filter(|c| takes_new(w, c) && c.pools.iter().any(|p| pool_allows_new(w, c, p)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Problem classes where the greedy division is complete
// ---------------------------------------------------------------------------------------------

fn keep_hard_spreads(w: &mut Workload, keep: usize) {
    let mut hard = 0;
    w.template.topology_spread.retain(|t| {
        if t.when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule {
            return true;
        }
        hard += 1;
        hard <= keep
    });
}

/// Reduces the only workload to a class where a maximal greedy fill is a maximum one: either
/// no hard spread constraint (pool, cluster and region limits are then nested, a laminar
/// family), or a single hard spread constraint whose domains nest with the maximums kept:
/// a region spread keeps both maximums, a cluster spread keeps cluster maximums, a zone spread
/// keeps none (a cluster maximum, or a region maximum, spans several zones).
pub fn nested_limits(mut problem: Problem, without_spread: bool) -> Problem {
    let w = &mut problem.workloads[0];
    if without_spread {
        keep_hard_spreads(w, 0);
        return problem;
    }
    keep_hard_spreads(w, 1);
    let key = w
        .template
        .topology_spread
        .iter()
        .find(|t| t.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule)
        .map(|t| t.topology_key);
    match key {
        Some(TopologyKey::Zone) => {
            w.policy.cluster_max = PerName::default();
            w.policy.region_max = PerName::default();
        }
        Some(TopologyKey::Cluster) => w.policy.region_max = PerName::default(),
        Some(TopologyKey::Region) | None => {}
    }
    problem
}

/// The only workload without hard spread constraints.
pub fn without_hard_spread(mut problem: Problem) -> Problem {
    keep_hard_spreads(&mut problem.workloads[0], 0);
    problem
}

/// The same problem with every resource of [`RESOURCES`] listed on every node (absent ones as
/// zero), so that the order in which the fleet first mentions resources is always the same.
pub fn list_every_resource(mut problem: Problem) -> Problem {
    for c in &mut problem.clusters {
        for pool in &mut c.pools {
            for g in &mut pool.nodes {
                for name in RESOURCES {
                    let amount = g.free.get(name);
                    g.free.set(name, amount);
                }
            }
        }
    }
    problem
}

/// The only workload with no minimum, no region maximum, no hard spread constraint and the
/// given strategy: the seats past the minimums are then divided in one go (the bulk path).
pub fn plain_division(mut problem: Problem, strategy: Split) -> Problem {
    let w = &mut problem.workloads[0];
    keep_hard_spreads(w, 0);
    w.policy.strategy = strategy;
    w.policy.cluster_min = PerName::default();
    w.policy.region_min = PerName::default();
    w.policy.region_max = PerName::default();
    problem.current.clear();
    problem
}

/// Per eligible cluster of the only workload: `(name, weight, cap)`, where the cap is the
/// smaller of its maximum and the replicas its feasible pools fit (one workload alone).
pub fn cluster_caps(problem: &Problem) -> Vec<(String, u64, u64)> {
    let w = &problem.workloads[0];
    let request = replica_request(&w.template);
    eligible_clusters(problem, w)
        .into_iter()
        .map(|c| {
            let room: u64 = c
                .pools
                .iter()
                .filter(|p| pool_allows_new(w, c, p))
                .map(|p| pool_fit(p, &request))
                .fold(0, u64::saturating_add);
            let max = w
                .policy
                .cluster_max
                .get(c.name.as_str())
                .map_or(u64::MAX, u64::from);
            (c.name.to_string(), weight(w, c), room.min(max))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Simulation support
// ---------------------------------------------------------------------------------------------

/// Starts a simulation with the fast planner; returns it and the first plan.
pub fn start_simulation(
    problem: Problem,
    recovery: fleetplan::simulate::RecoveryPolicy,
    disruption: fleetplan::simulate::Disruption,
) -> (fleetplan::simulate::Simulation, Plan) {
    let options = fleetplan::PlanOptions {
        solver: fleetplan::SolverChoice::Fast,
        ..fleetplan::PlanOptions::default()
    };
    let (sim, _) = fleetplan::simulate::Simulation::new(problem, options, recovery, disruption)
        .expect("a valid problem");
    let plan = sim.plan();
    (sim, plan)
}

/// The `pick`th (modulo their number) of the Ready clusters holding replicas in `plan`, by
/// name.
pub fn holding(problem: &Problem, plan: &Plan, pick: usize) -> Option<String> {
    let mut names: Vec<String> = problem
        .clusters
        .iter()
        .filter(|c| c.health == Health::Ready)
        .map(|c| c.name.to_string())
        .filter(|n| {
            plan.placements
                .iter()
                .any(|p| p.cluster.as_str() == n && p.replicas > 0)
        })
        .collect();
    names.sort();
    names.dedup();
    (!names.is_empty()).then(|| names[pick % names.len()].clone())
}

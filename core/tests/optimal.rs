//! Property tests of the optimal solvers (flow and exact) against the fast planner and an
//! exhaustive search.
//!
//! The exhaustive search enumerates every assignment of replicas to pools on tiny problems,
//! keeps those that pass the rules as `common` reads them independently (selectors, taints,
//! health, maximums, hard spread, gangs, and a node-level packing of the new replicas), and
//! scores them with `fleetplan::evaluate`. The exact solver must never beat it (that would
//! mean it broke a rule) and must match it whenever it claims a proven optimum.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{
    PoolCounts, Shape, config, current_pools, domain, eligible_domains, invariants, json, may_stay,
    plan_pools, pool_allows_new, problem, takes_new,
};
use fleetplan::{
    HourlyPrice, PerName, Placement, Plan, PlanOptions, PoolReplicas, Problem, SolverChoice,
    WhenUnsatisfiable, evaluate, solve,
};
use proptest::prelude::*;

fn plan_with(problem: &Problem, solver: SolverChoice) -> Plan {
    let options = PlanOptions {
        solver,
        ..PlanOptions::default()
    };
    solve(problem, &options).expect("generated problems are valid")
}

fn score(plan: &Plan) -> f64 {
    plan.solver
        .as_ref()
        .expect("solve() attaches statistics")
        .objective
        .total
}

/// Adds what the foundation generators do not make: node and cluster prices, region demand,
/// gangs and `min-regions`.
fn with_extras(problem: Problem) -> impl Strategy<Value = Problem> {
    let pools: usize = problem.clusters.iter().map(|c| c.pools.len()).sum();
    let clusters = problem.clusters.len();
    let workloads = problem.workloads.len();
    (
        proptest::collection::vec(prop::option::weighted(0.6, 1u64..400_000), pools),
        proptest::collection::vec(prop::option::weighted(0.2, 50_000u64..150_000), clusters),
        proptest::collection::vec(
            (
                any::<bool>(),
                0u8..4,
                prop::option::weighted(0.2, 1u32..=3),
                0u32..4,
            ),
            workloads,
        ),
    )
        .prop_map(move |(node_prices, fixed, extras)| {
            let mut problem = problem.clone();
            let mut prices = node_prices.into_iter();
            for (c, cluster) in problem.clusters.iter_mut().enumerate() {
                cluster.fixed_price = fixed[c].map(HourlyPrice);
                for pool in &mut cluster.pools {
                    pool.node_price = prices.next().flatten().map(HourlyPrice);
                }
            }
            for (w, (gang, demand, min_regions, r0)) in problem.workloads.iter_mut().zip(extras) {
                w.policy.gang = gang && demand == 0;
                w.policy.min_regions = min_regions;
                if demand > 0 {
                    w.policy.region_demand = PerName {
                        default: Some(1),
                        named: [("r0".to_string(), r0 * 2 + 1)].into(),
                    };
                }
            }
            problem
        })
}

/// The tiny problems the exhaustive search can cover.
const TINY: Shape = Shape {
    clusters: (1, 2),
    pools: (1, 2),
    groups: (1, 2),
    workloads: (1, 2),
    max_target: 4,
    current: true,
    regions: 2,
    tight: false,
};

/// Every way to split `total` or fewer replicas over `slots` places, each at most `caps[i]`.
fn splits(caps: &[u32], total: u32) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut current = vec![0; caps.len()];
    fn go(caps: &[u32], left: u32, i: usize, current: &mut Vec<u32>, out: &mut Vec<Vec<u32>>) {
        if i == caps.len() {
            out.push(current.clone());
            return;
        }
        for n in 0..=caps[i].min(left) {
            current[i] = n;
            go(caps, left - n, i + 1, current, out);
        }
        current[i] = 0;
    }
    go(caps, total, 0, &mut current, &mut out);
    out
}

/// A plan holding exactly `counts` (`(workload, cluster, pool) -> replicas`).
fn plan_of_counts(problem: &Problem, counts: &PoolCounts) -> Plan {
    let mut by_cluster: BTreeMap<(String, String), Vec<PoolReplicas>> = BTreeMap::new();
    for ((w, c, p), &n) in counts.iter().filter(|(_, n)| **n > 0) {
        by_cluster
            .entry((w.clone(), c.clone()))
            .or_default()
            .push(PoolReplicas {
                pool: p.as_str().into(),
                replicas: n,
            });
    }
    let placements = by_cluster
        .into_iter()
        .map(|((w, c), pools)| {
            let workload = problem
                .workloads
                .iter()
                .find(|x| x.id.to_string() == w)
                .expect("workload");
            let cluster = problem
                .clusters
                .iter()
                .find(|x| x.name.as_str() == c)
                .expect("cluster");
            Placement {
                workload: workload.id.clone(),
                cluster: cluster.name.clone(),
                region: cluster.region.as_str().into(),
                replicas: pools.iter().map(|p| p.replicas).sum(),
                pools,
            }
        })
        .collect();
    Plan {
        placements,
        ..Plan::default()
    }
}

/// Checks the hard rules of a plan independently of the solvers; `Err` names the first
/// broken one.
fn hard_rules_hold(problem: &Problem, plan: &Plan) -> Result<(), String> {
    invariants::rules(problem, plan)?;
    invariants::maximums(problem, plan)?;
    invariants::capacity(problem, plan)?;
    let current = current_pools(problem);
    let counts = plan_pools(plan);
    for w in &problem.workloads {
        let mine: BTreeMap<(String, String), u32> = counts
            .iter()
            .filter(|((id, _, _), _)| *id == w.id.to_string())
            .map(|((_, c, p), &n)| ((c.clone(), p.clone()), n))
            .collect();
        let placed: u32 = mine.values().sum();
        if placed > w.replicas {
            return Err(format!("{} placed {placed} > target {}", w.id, w.replicas));
        }
        if w.policy.gang && placed != 0 && placed != w.replicas {
            return Err(format!("gang {} placed {placed} of {}", w.id, w.replicas));
        }
        if let Some(v) = spread_broken(problem, w, &mine, &current) {
            return Err(format!("{}: spread broken {v}", w.id));
        }
    }
    Ok(())
}

/// A hard spread constraint broken as the Kubernetes scheduler applies it to new pods: a
/// domain that receives new replicas may hold at most the smallest count over the eligible
/// domains plus maxSkew (running replicas are never moved for skew alone).
fn spread_broken(
    problem: &Problem,
    w: &fleetplan::Workload,
    mine: &BTreeMap<(String, String), u32>,
    current: &PoolCounts,
) -> Option<String> {
    for t in &w.template.topology_spread {
        if t.when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule {
            continue;
        }
        let eligible = eligible_domains(w, problem, t.topology_key);
        let mut count: BTreeMap<String, u32> = BTreeMap::new();
        let mut new: BTreeMap<String, u32> = BTreeMap::new();
        for ((c, p), &n) in mine {
            let cluster = problem
                .clusters
                .iter()
                .find(|x| x.name.as_str() == c)
                .expect("cluster");
            let pool = cluster.pools.iter().find(|x| x.name.as_str() == p).expect("pool");
            let Some(d) = domain(t.topology_key, cluster, pool) else {
                continue;
            };
            let running = current
                .get(&(w.id.to_string(), c.clone(), p.clone()))
                .copied()
                .unwrap_or(0);
            *count.entry(d.clone()).or_default() += n;
            *new.entry(d).or_default() += n.saturating_sub(running);
        }
        let get = |m: &BTreeMap<String, u32>, d: &String| m.get(d).copied().unwrap_or(0);
        let min = eligible.iter().map(|d| get(&count, d)).min()?;
        for d in &eligible {
            if get(&new, d) > 0 && get(&count, d) > min + t.max_skew.max(1) {
                return Some(format!(
                    "{:?} domain {d}: {} > {min} + {}",
                    t.topology_key,
                    get(&count, d),
                    t.max_skew
                ));
            }
        }
    }
    None
}

/// The best score over every assignment that passes the hard rules.
fn brute_force_optimum(problem: &Problem) -> f64 {
    // Per workload: the pools it may use and how many replicas each could hold.
    let places: Vec<Vec<(String, String, u32)>> = problem
        .workloads
        .iter()
        .map(|w| {
            let mut out = Vec::new();
            for c in &problem.clusters {
                for p in &c.pools {
                    let running: u32 = problem
                        .current
                        .iter()
                        .filter(|r| r.workload == w.id && r.cluster == c.name && r.pool == p.name)
                        .map(|r| r.replicas)
                        .sum();
                    let new_ok = takes_new(w, c) && pool_allows_new(w, c, p);
                    let keep_ok = running > 0 && may_stay(w, c, p);
                    if new_ok || keep_ok {
                        let cap = if new_ok {
                            w.replicas
                        } else {
                            running.min(w.replicas)
                        };
                        out.push((c.name.to_string(), p.name.to_string(), cap));
                    }
                }
            }
            out
        })
        .collect();
    let options: Vec<Vec<Vec<u32>>> = problem
        .workloads
        .iter()
        .zip(&places)
        .map(|(w, pl)| splits(&pl.iter().map(|p| p.2).collect::<Vec<_>>(), w.replicas))
        .collect();
    let mut best = f64::INFINITY;
    let mut choice = vec![0usize; options.len()];
    loop {
        let mut counts = PoolCounts::new();
        for (w, (&k, pl)) in choice.iter().zip(&places).enumerate() {
            for ((c, p, _), &n) in pl.iter().zip(&options[w][k]) {
                if n > 0 {
                    counts.insert((problem.workloads[w].id.to_string(), c.clone(), p.clone()), n);
                }
            }
        }
        let plan = plan_of_counts(problem, &counts);
        if hard_rules_hold(problem, &plan).is_ok() {
            let value = evaluate(problem, &plan, &PlanOptions::default())
                .expect("valid")
                .total;
            best = best.min(value);
        }
        // Next combination.
        let mut i = 0;
        loop {
            if i == choice.len() {
                return best;
            }
            choice[i] += 1;
            if choice[i] < options[i].len() {
                break;
            }
            choice[i] = 0;
            i += 1;
        }
    }
}

static PROVEN: AtomicU32 = AtomicU32::new(0);
static CASES: AtomicU32 = AtomicU32::new(0);

proptest! {
    #![proptest_config(config(300))]

    /// The exact solver's plan passes every hard rule, never scores below the exhaustive
    /// optimum, and equals it whenever it claims to be proven optimal.
    #[test]
    fn exact_equals_the_exhaustive_optimum(problem in problem(TINY).prop_flat_map(with_extras)) {
        let plan = plan_with(&problem, SolverChoice::Exact);
        let stats = plan.solver.clone().expect("stats");
        prop_assert!(hard_rules_hold(&problem, &plan).is_ok(), "{:?}\nproblem: {}\nplan: {}",
            hard_rules_hold(&problem, &plan), json(&problem), json(&plan));
        let best = brute_force_optimum(&problem);
        let tolerance = 1e-6 * best.abs().max(1.0);
        prop_assert!(stats.objective.total >= best - tolerance,
            "exact {} below the exhaustive optimum {best}\nproblem: {}\nplan: {}",
            stats.objective.total, json(&problem), json(&plan));
        CASES.fetch_add(1, Ordering::Relaxed);
        if stats.proven_optimal {
            PROVEN.fetch_add(1, Ordering::Relaxed);
            prop_assert!(stats.objective.total <= best + tolerance,
                "exact claims optimal at {} but {best} exists\nproblem: {}\nplan: {}",
                stats.objective.total, json(&problem), json(&plan));
        }
    }

    /// On the foundation's random problems (with prices, demand, gangs and `min-regions`
    /// added), exact <= flow <= fast in score, every plan passes every hard rule, and every
    /// running replica is counted as kept (where it stays) or removed.
    #[test]
    fn exact_scores_at_most_flow_and_flow_at_most_fast(problem in problem(Shape::FULL).prop_flat_map(with_extras)) {
        let fast = plan_with(&problem, SolverChoice::Fast);
        let flow = plan_with(&problem, SolverChoice::Flow);
        let exact = plan_with(&problem, SolverChoice::Exact);
        let tolerance = 1e-6 * score(&fast).abs().max(1.0);
        prop_assert!(score(&flow) <= score(&fast) + tolerance, "flow {} > fast {}\nproblem: {}",
            score(&flow), score(&fast), json(&problem));
        prop_assert!(score(&exact) <= score(&flow) + tolerance, "exact {} > flow {}\nproblem: {}\nexact: {}\nflow: {}",
            score(&exact), score(&flow), json(&problem), json(&exact), json(&flow));
        for (name, plan) in [("fast", &fast), ("flow", &flow), ("exact", &exact)] {
            let check = hard_rules_hold(&problem, plan)
                .and_then(|()| invariants::running_accounted(&problem, plan));
            prop_assert!(check.is_ok(), "{name}: {:?}\nproblem: {}\nplan: {}", check, json(&problem), json(plan));
            // Placed plus unplaced is the target, and the summary adds up.
            for w in &problem.workloads {
                prop_assert_eq!(plan.placed(&w.id) + u64::from(plan.unplaced(&w.id)), u64::from(w.replicas),
                    "{} {}\nplan: {}", name, w.id, json(plan));
            }
            prop_assert_eq!(plan.summary.placed + plan.summary.unplaced, plan.summary.target);
        }
    }
}

/// Every amount of a generated problem times 1000 (targets, running replicas, minimums,
/// maximums and the nodes' free resources): targets above the fast planner's threshold for
/// repeating rounds of seats in bulk (see `planner::seats`).
fn scaled_up(mut problem: Problem) -> Problem {
    const TIMES: u32 = 1000;
    let scale = |per: &mut PerName| {
        per.default = per.default.map(|n| n.saturating_mul(TIMES));
        per.named.values_mut().for_each(|n| *n = n.saturating_mul(TIMES));
    };
    for w in &mut problem.workloads {
        w.replicas *= TIMES;
        scale(&mut w.policy.cluster_min);
        scale(&mut w.policy.cluster_max);
        scale(&mut w.policy.region_min);
        scale(&mut w.policy.region_max);
    }
    for r in &mut problem.current {
        r.replicas *= TIMES;
    }
    let scale_resources = |amounts: &mut fleetplan::Resources| {
        let names: Vec<String> = amounts.iter().map(|(r, _)| r.as_str().to_owned()).collect();
        for name in names {
            let n = amounts.get(&name);
            amounts.set(&name, n.saturating_mul(i64::from(TIMES)));
        }
    };
    for pool in problem.clusters.iter_mut().flat_map(|c| &mut c.pools) {
        pool.nodes
            .iter_mut()
            .for_each(|group| scale_resources(&mut group.free));
        scale_resources(&mut pool.allocatable);
    }
    problem
}

proptest! {
    #![proptest_config(config(512))]

    /// Large targets, seated in rounds repeated in bulk under hard spread constraints, keep
    /// every hard rule and account for every replica.
    #[test]
    fn scaled_up_problems_keep_every_hard_rule(problem in problem(Shape::FULL).prop_map(scaled_up)) {
        prop_assume!(problem.validate().is_ok());
        let plan = plan_with(&problem, SolverChoice::Fast);
        let check = hard_rules_hold(&problem, &plan)
            .and_then(|()| invariants::accounting(&problem, &plan))
            .and_then(|()| invariants::running_accounted(&problem, &plan));
        prop_assert!(check.is_ok(), "{:?}\nproblem: {}\nplan: {}", check, json(&problem), json(&plan));
    }
}

/// Most tiny problems are solved to a proven optimum (otherwise the equality above would
/// rarely be tested). Runs the same property once more to read the counters.
#[test]
fn most_exact_plans_are_proven_optimal() {
    let mut runner = proptest::test_runner::TestRunner::new(config(100));
    let outcome = runner.run(&problem(TINY).prop_flat_map(with_extras), |problem| {
        let plan = plan_with(&problem, SolverChoice::Exact);
        CASES.fetch_add(1, Ordering::Relaxed);
        if plan.solver.expect("stats").proven_optimal {
            PROVEN.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    outcome.expect("runs");
    let (proven, cases) = (PROVEN.load(Ordering::Relaxed), CASES.load(Ordering::Relaxed));
    assert!(
        proven * 10 >= cases * 9,
        "only {proven} of {cases} exact plans proven optimal"
    );
}

// ---------------------------------------------------------------------------------------------
// Examples of each objective term and of what only the exact solver optimises
// ---------------------------------------------------------------------------------------------

fn two_regions(price_a: f64, price_b: f64) -> Problem {
    use fleetplan::{Cluster, NodePool, Resources};
    let node = Resources::new().with("cpu", 4000).with("pods", 110);
    let mut a = Cluster::new("a", "r0");
    let mut pool = NodePool::uniform("p", 4, node.clone());
    pool.node_price = HourlyPrice::from_units(price_a);
    a.pools.push(pool);
    let mut b = Cluster::new("b", "r1");
    let mut pool = NodePool::uniform("p", 4, node);
    pool.node_price = HourlyPrice::from_units(price_b);
    b.pools.push(pool);
    let web = fleetplan::Workload::new("shop", "web", 4, Resources::new().with("cpu", 1000));
    Problem {
        clusters: vec![a, b],
        workloads: vec![web],
        current: vec![],
        ..Problem::default()
    }
}

#[test]
fn the_score_counts_imbalance_cost_and_moves() {
    let mut problem = two_regions(0.2, 0.4);
    let web = problem.workloads[0].id.clone();
    problem.current.push(fleetplan::Running {
        workload: web.clone(),
        cluster: "b".into(),
        pool: "p".into(),
        replicas: 2,
    });
    // 3 in a, 1 in b: shares are 2 and 2, so imbalance 2; one of the two running in b moves.
    let counts: PoolCounts = [
        (("shop/web".to_string(), "a".to_string(), "p".to_string()), 3),
        (("shop/web".to_string(), "b".to_string(), "p".to_string()), 1),
    ]
    .into();
    let plan = plan_of_counts(&problem, &counts);
    let value = evaluate(&problem, &plan, &PlanOptions::default()).expect("valid");
    assert_eq!((value.unplaced, value.moved), (0, 1));
    assert!((value.imbalance - 2.0).abs() < 1e-9, "{value:?}");
    // A replica takes a quarter of a node: 0.05/h in a, 0.10/h in b.
    assert!(
        (value.cost_per_hour - (3.0 * 0.05 + 0.10)).abs() < 1e-9,
        "{value:?}"
    );
    // Normalised by the dearest pool: 3 * 0.5 + 1 * 1.0.
    assert!((value.cost - 2.5).abs() < 1e-9, "{value:?}");
    assert!((value.total - (10.0 + 2.0 + 2.5)).abs() < 1e-9, "{value:?}");
}

#[test]
fn with_cost_weighed_above_balance_every_solver_prefers_the_cheaper_cluster_but_only_optimal_ones_fully() {
    let problem = two_regions(0.1, 0.4);
    let mut options = PlanOptions {
        solver: SolverChoice::Exact,
        ..PlanOptions::default()
    };
    options.weights.cost = 10.0;
    let exact = solve(&problem, &options).expect("valid");
    let web = &problem.workloads[0].id;
    assert_eq!((exact.replicas_in(web, "a"), exact.replicas_in(web, "b")), (4, 0));
    assert!(
        exact
            .solver
            .as_ref()
            .is_some_and(|s| s.proven_optimal && s.gap == Some(0.0))
    );
    options.solver = SolverChoice::Fast;
    let fast = solve(&problem, &options).expect("valid");
    assert_eq!((fast.replicas_in(web, "a"), fast.replicas_in(web, "b")), (2, 2));
    assert!(score(&exact) < score(&fast));
}

#[test]
fn min_regions_and_fixed_prices_are_optimised_by_the_exact_solver() {
    let mut problem = two_regions(0.1, 0.1);
    problem.workloads[0].policy.strategy = fleetplan::Strategy::Pack;
    let exact = plan_with(&problem, SolverChoice::Exact);
    let web = problem.workloads[0].id.clone();
    assert_eq!(exact.replicas_in(&web, "a") + exact.replicas_in(&web, "b"), 4);
    assert!(exact.replicas_in(&web, "a") == 4 || exact.replicas_in(&web, "b") == 4);
    // At least two regions: one replica moves to the second region despite `pack`.
    problem.workloads[0].policy.min_regions = Some(2);
    let exact = plan_with(&problem, SolverChoice::Exact);
    assert!(
        exact.replicas_in(&web, "a") >= 1 && exact.replicas_in(&web, "b") >= 1,
        "{}",
        json(&exact)
    );
    // A fixed price on each cluster, with `spread` and no region rule: one cluster is cheaper
    // than two when the fixed price outweighs the imbalance.
    problem.workloads[0].policy.min_regions = None;
    problem.workloads[0].policy.strategy = fleetplan::Strategy::Spread;
    for c in &mut problem.clusters {
        c.fixed_price = HourlyPrice::from_units(0.10);
    }
    let mut options = PlanOptions {
        solver: SolverChoice::Exact,
        ..PlanOptions::default()
    };
    options.weights.fixed = 10.0;
    let exact = solve(&problem, &options).expect("valid");
    let used = ["a", "b"]
        .iter()
        .filter(|c| exact.replicas_in(&web, c) > 0)
        .count();
    assert_eq!(used, 1, "{}", json(&exact));
    assert!((exact.solver.expect("stats").objective.fixed_per_hour - 0.10).abs() < 1e-9);
}

#[test]
fn a_gang_that_does_not_fit_whole_is_not_placed_by_any_solver() {
    let mut problem = two_regions(0.1, 0.1);
    let w = &mut problem.workloads[0];
    w.kind = fleetplan::WorkloadKind::Job;
    w.replicas = 40; // 32 fit (8 nodes of 4 CPUs, 1 CPU each)
    w.policy.gang = true;
    for solver in [SolverChoice::Fast, SolverChoice::Flow, SolverChoice::Exact] {
        let plan = plan_with(&problem, solver);
        assert_eq!(plan.summary.placed, 0, "{solver}: {}", json(&plan));
        assert_eq!(plan.unplaced[0].replicas, 40);
        let codes: Vec<&str> = plan.unplaced[0].reasons.iter().map(|r| r.reason.code()).collect();
        assert_eq!(codes, ["Gang", "Gang"], "{solver}: {}", json(&plan));
        assert_eq!(
            plan.unplaced[0].reasons[0].reason.to_string(),
            "all-or-nothing gang: only 32 of 40 replicas fit, so none is placed"
        );
    }
    problem.workloads[0].replicas = 32;
    for solver in [SolverChoice::Fast, SolverChoice::Flow, SolverChoice::Exact] {
        assert_eq!(plan_with(&problem, solver).summary.placed, 32, "{solver}");
    }
}

/// The time limit bounds the flow and exact solvers too: with a deadline already past, the
/// flow stops within 256 pivots, the MILP is not started, and the fast plan is kept, saying
/// why.
#[test]
fn the_time_limit_stops_the_flow_and_exact_solvers_and_keeps_the_fast_plan() {
    use fleetplan::{Cluster, NodePool, Resources, Workload};
    let node = Resources::new().with("cpu", 4000).with("pods", 110);
    let clusters = (0u32..60)
        .map(|c| {
            let mut cluster = Cluster::new(&format!("c{c}"), &format!("r{}", c % 6));
            cluster
                .pools
                .push(NodePool::uniform("p", 3 + c % 5, node.clone()));
            cluster
        })
        .collect();
    let workloads = (0u32..40)
        .map(|w| {
            Workload::new(
                "ns",
                &format!("w{w}"),
                5 + w % 7,
                Resources::new().with("cpu", 250 + 50 * i64::from(w % 4)),
            )
        })
        .collect();
    let problem = Problem {
        clusters,
        workloads,
        ..Problem::default()
    };
    let fast = plan_with(&problem, SolverChoice::Fast);
    for (solver, name) in [(SolverChoice::Flow, "flow"), (SolverChoice::Exact, "exact")] {
        let options = PlanOptions {
            solver,
            time_limit: std::time::Duration::from_nanos(1),
            ..PlanOptions::default()
        };
        let plan = solve(&problem, &options).expect("a valid problem");
        let stats = plan.solver.as_ref().expect("solver stats");
        assert_eq!(stats.solver, "fast", "{name}");
        let note =
            format!("the time limit was reached before the {name} solver finished; the fast plan is kept");
        assert_eq!(stats.note.as_deref(), Some(note.as_str()));
        assert_eq!(plan.placements, fast.placements, "{name}");
        invariants::all(&problem, &plan).expect("the kept fast plan keeps every invariant");
    }
}

/// Found by the `solvers` fuzz target: the flow's counts for a workload under a hard region
/// spread were trimmed and topped up so that the 2 replicas staying in c3 were counted as new,
/// and the summary reported 0 kept and 5 removed of the 3 running. What stays is kept, by
/// every solver.
#[test]
fn replicas_that_stay_after_trimming_are_counted_as_kept_by_every_solver() {
    let problem: Problem = serde_json::from_str(
        r#"{"clusters":[{"name":"c1","region":"r1","labels":{"tier":"prod"},"taints":[],"health":"Ready","pools":[{"name":"p1","zone":"r1-a","labels":{"cores":"2","gpu":"true"},"taints":[],"allocatable":{"cpu":0,"memory":1073741824,"pods":2},"nodes":[{"count":1,"free":{"cpu":1000,"memory":8589934592,"nvidia.com/gpu":2,"pods":3}}],"node_price":null,"fargate":null}],"fixed_price":null,"account":null},{"name":"c2","region":"r0","labels":{"tier":"dev"},"taints":[{"key":"spot","value":"","effect":"PreferNoSchedule"}],"health":"Ready","pools":[{"name":"p0","zone":"r0-a","labels":{"disktype":"ssd","gpu":"true"},"taints":[],"allocatable":{"cpu":2000,"memory":2147483648,"pods":4},"nodes":[{"count":2,"free":{"cpu":2000,"memory":2147483648,"pods":4}}],"node_price":null,"fargate":null}],"fixed_price":null,"account":null},{"name":"c3","region":"r2","labels":{},"taints":[],"health":"Ready","pools":[{"name":"p0","zone":null,"labels":{"gpu":"true"},"taints":[],"allocatable":{"cpu":4000,"memory":2147483648,"pods":110},"nodes":[{"count":1,"free":{"cpu":4000,"memory":2147483648,"pods":110}}],"node_price":null,"fargate":null}],"fixed_price":null,"account":null}],"workloads":[{"id":{"namespace":"ns","name":"w2"},"kind":"Deployment","replicas":5,"template":{"labels":{},"containers":[{"name":"main","requests":{"cpu":500,"memory":0},"sidecar":false}],"init_containers":[],"node_selector":{},"affinity":{"required":[],"preferred":[]},"tolerations":[],"topology_spread":[{"max_skew":1,"topology_key":"Region","when_unsatisfiable":"DoNotSchedule"}],"priority":0,"host_needs":{"privileged":false,"host_network":false,"host_ports":[],"ebs_volume":false}},"policy":{"cluster_selector":{"requirements":[]},"strategy":"Weighted","cluster_weights":{"default":null,"named":{}},"region_weights":{"default":null,"named":{}},"cluster_min":{"default":null,"named":{"c1":2,"c2":3}},"cluster_max":{"default":null,"named":{}},"region_min":{"default":null,"named":{}},"region_max":{"default":null,"named":{}},"region_demand":{"default":null,"named":{}},"gang":false,"min_regions":null}}],"current":[{"workload":{"namespace":"ns","name":"w2"},"cluster":"c3","pool":"p0","replicas":3}],"fargate":{"default_quota_vcpus":6,"quotas":[],"rates":{}}}"#,
    )
    .expect("the found problem reads");
    for solver in [SolverChoice::Fast, SolverChoice::Flow, SolverChoice::Exact] {
        let plan = plan_with(&problem, solver);
        invariants::all(&problem, &plan).unwrap_or_else(|broken| panic!("{solver}: {broken}"));
        let moved = plan.solver.as_ref().expect("stats").objective.moved;
        assert_eq!(
            moved, plan.summary.removed,
            "{solver}: the score counts the moves the summary reports"
        );
    }
}

//! Properties of the traffic actions on random fleets with global hosts: after a failure, a
//! drain, a scale or a rebalance, the step's ordered actions take the records from where the
//! users went to where the plan sends them; a failed cluster's records go first; a cluster
//! reaches its lower weight (0 when emptied) and the TTL is waited out before any of its
//! replicas stop; a new record comes only after its replicas are ready; and the output is
//! deterministic.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Shape;
use fleetplan::actions::{Action, apply_to, record_stages};
use fleetplan::follow::ObjectRef;
use fleetplan::simulate::{Disruption, Operation, RecoveryPolicy, Step};
use fleetplan::traffic::{HostTraffic, MAX_WEIGHT, Policy, Route};
use fleetplan::{Plan, Problem};
use proptest::prelude::*;

/// The problem with a host in front of every other workload (and one in front of all, under
/// the weighted policy).
fn with_routes(mut problem: Problem, ttl: u32) -> Problem {
    let ids: Vec<_> = problem.workloads.iter().map(|w| w.id.clone()).collect();
    for (i, pair) in ids.chunks(2).enumerate() {
        problem.routes.push(Route {
            host: format!("h{i}.example.com"),
            source: ObjectRef::new("Ingress", "shop", &format!("h{i}")),
            backends: pair.to_vec(),
            policy: Policy::LatencyOverWeighted,
            ttl,
            endpoints: Vec::new(),
        });
    }
    problem.routes.push(Route {
        host: "all.example.com".into(),
        source: ObjectRef::new("Ingress", "shop", "all"),
        backends: ids,
        policy: Policy::Weighted,
        ttl,
        endpoints: Vec::new(),
    });
    problem
}

/// `(host, cluster) -> weight` of every record.
fn weights(hosts: &[HostTraffic]) -> BTreeMap<(String, String), u32> {
    hosts
        .iter()
        .flat_map(|h| {
            h.regions.iter().flat_map(move |r| {
                r.clusters
                    .iter()
                    .map(move |c| ((h.host.clone(), c.cluster.to_string()), c.weight))
            })
        })
        .collect()
}

/// Checks one step's actions against the traffic before and after it.
fn check_step(
    problem: &Problem,
    before: &[HostTraffic],
    step: &Step,
    after: &Plan,
    failed: &BTreeSet<String>,
) -> Result<(), TestCaseError> {
    let hosts_of = |workload: &str| -> BTreeSet<String> {
        problem
            .routes
            .iter()
            .filter(|r| r.backends.iter().any(|b| b.to_string() == workload))
            .map(|r| r.host.clone())
            .collect()
    };
    // Replaying the actions on the records before gives the records after.
    let mut state = before.to_vec();
    let mut ready: BTreeSet<(String, String)> = BTreeSet::new();
    let mut grown: BTreeSet<(String, String)> = BTreeSet::new();
    let mut first_other = None;
    for (i, action) in step.actions.iter().enumerate() {
        let now = weights(&state);
        match action {
            Action::RemoveRecord { cluster, .. } if failed.contains(cluster.as_str()) => {
                prop_assert!(
                    first_other.is_none(),
                    "a failed cluster's record goes first: {:?}",
                    step.actions
                );
            }
            Action::Shrink {
                workload, cluster, ..
            } => {
                first_other.get_or_insert(i);
                // Every record of this cluster for this workload's hosts is already at its
                // final (lower) weight, and a wait followed the lowering.
                let target = weights(&after.traffic);
                for host in hosts_of(workload) {
                    let key = (host.clone(), cluster.to_string());
                    if let Some(&w) = now.get(&key) {
                        let final_weight = target.get(&key).copied().unwrap_or(0);
                        let was = weights(before).get(&key).copied().unwrap_or(0);
                        if final_weight < was {
                            prop_assert_eq!(
                                w,
                                final_weight,
                                "{} in {} lowered before it shrinks: {:?}",
                                host,
                                cluster,
                                step.actions
                            );
                            let lowered = step.actions[..i].iter().rposition(|a| matches!(a, Action::SetWeight { host: h, cluster: c, .. } if *h == host && c == cluster));
                            let waited = step.actions[..i]
                                .iter()
                                .rposition(|a| matches!(a, Action::WaitTtl { .. }));
                            prop_assert!(
                                lowered < waited,
                                "the TTL is waited out after lowering {host} in {cluster}"
                            );
                        }
                    }
                }
            }
            Action::Grow {
                workload, cluster, ..
            } => {
                first_other.get_or_insert(i);
                grown.insert((workload.clone(), cluster.to_string()));
            }
            Action::WaitReady { workload, cluster } => {
                first_other.get_or_insert(i);
                ready.insert((workload.clone(), cluster.to_string()));
            }
            Action::SetWeight {
                host,
                cluster,
                weight,
                ..
            } => {
                first_other.get_or_insert(i);
                prop_assert!(*weight <= MAX_WEIGHT);
                let key = (host.clone(), cluster.to_string());
                if !now.contains_key(&key) {
                    // A new record: a backend's replicas there were grown and are ready, or
                    // were running already.
                    let backends: Vec<String> = problem
                        .routes
                        .iter()
                        .filter(|r| &r.host == host)
                        .flat_map(|r| r.backends.iter().map(ToString::to_string))
                        .collect();
                    let waited_or_ran = backends.iter().any(|b| {
                        let pair = (b.clone(), cluster.to_string());
                        ready.contains(&pair) || !grown.contains(&pair)
                    });
                    prop_assert!(
                        waited_or_ran,
                        "{host} in {cluster} before its replicas are ready: {:?}",
                        step.actions
                    );
                }
            }
            _ => {
                first_other.get_or_insert(i);
            }
        }
        apply_to(&mut state, action);
    }
    prop_assert_eq!(
        weights(&state),
        weights(&after.traffic),
        "the actions reach the plan's records"
    );
    // No record for a failed cluster, or a cluster without replicas.
    for ((_, cluster), _) in weights(&after.traffic) {
        prop_assert!(!failed.contains(&cluster));
        prop_assert!(
            after
                .placements
                .iter()
                .any(|p| p.cluster.as_str() == cluster && p.replicas > 0)
        );
    }
    // An executor working in phases writes the same records in the same order: the failed
    // clusters' go at once; before any replica stops, every record has its final weight
    // (0 for a cluster being emptied); the emptied clusters' records go last.
    let stages = record_stages(&step.actions, before, &after.traffic);
    let (start, target) = (weights(before), weights(&after.traffic));
    for (key, _) in weights(&stages.at_once) {
        prop_assert!(!failed.contains(&key.1), "{:?} after the failure", key);
    }
    let mid = weights(&stages.before_shrink);
    for (key, was) in &start {
        let wanted = target
            .get(key)
            .copied()
            .or((!failed.contains(&key.1)).then_some(0));
        prop_assert_eq!(
            mid.get(key).copied(),
            wanted,
            "{:?} (was {}) before the shrinks",
            key,
            was
        );
    }
    for (key, weight) in &target {
        prop_assert_eq!(mid.get(key), Some(weight), "{:?} before the shrinks", key);
    }
    prop_assert_eq!(weights(&stages.after), target);
    Ok(())
}

proptest! {
    #![proptest_config(common::config(200))]

    #[test]
    fn every_step_moves_the_records_safely_and_reaches_the_plan(
        problem in common::problem(Shape::FULL),
        picks in proptest::collection::vec((0..4u8, 0..8usize), 1..4),
        surge in 1..3u32,
        ttl in 1..300u32,
    ) {
        let problem = with_routes(problem, ttl);
        let disruption = Disruption { max_surge: surge, max_unavailable: 0 };
        let (mut sim, mut plan) = common::start_simulation(problem, RecoveryPolicy::Rebalance, disruption);
        let mut failed: BTreeSet<String> = BTreeSet::new();
        for (kind, pick) in picks {
            let fleet = sim.fleet();
            let Some(cluster) = common::holding(&fleet, &plan, pick) else { break };
            let op = match kind {
                0 => Operation::Fail { cluster: cluster.clone() },
                1 => Operation::Drain { cluster: cluster.clone() },
                2 => match failed.iter().next() {
                    Some(c) => Operation::Recover { cluster: c.clone() },
                    None => Operation::Cordon { cluster: cluster.clone() },
                },
                _ => {
                    let w = &fleet.workloads[pick % fleet.workloads.len()];
                    Operation::Scale { workload: w.id.to_string(), replicas: w.replicas / 2 }
                }
            };
            match &op {
                Operation::Fail { cluster } => { failed.insert(cluster.clone()); }
                Operation::Recover { cluster } => { failed.remove(cluster); }
                _ => {}
            }
            let now_failed: BTreeSet<String> = match &op {
                Operation::Fail { cluster } => [cluster.clone()].into(),
                _ => BTreeSet::new(),
            };
            let before = plan.traffic.clone();
            let step = sim.step(std::slice::from_ref(&op)).expect("steps");
            let after = sim.plan();
            check_step(&fleet, &before, &step, &after, &now_failed)?;
            plan = after;
        }
    }

    #[test]
    fn the_same_steps_give_the_same_actions(
        problem in common::problem(Shape::FULL),
        pick in 0..8usize,
    ) {
        let problem = with_routes(problem, 60);
        let run = || {
            let (mut sim, plan) = common::start_simulation(problem.clone(), RecoveryPolicy::Stay, Disruption::default());
            let cluster = common::holding(&sim.fleet(), &plan, pick)?;
            let drained = sim.step(&[Operation::Drain { cluster: cluster.clone() }]).ok()?;
            Some((serde_json::to_string(&drained.actions).ok()?, serde_json::to_string(&sim.plan()).ok()?))
        };
        prop_assert_eq!(run(), run());
    }
}

#[test]
fn a_drained_cluster_reaches_weight_zero_before_it_shrinks_and_its_record_goes_after() {
    use fleetplan::{Cluster, NodePool, Resources, Workload};
    let node = Resources::new().with("cpu", 4000).with("pods", 110);
    let mut clusters = Vec::new();
    for name in ["a", "b"] {
        let mut c = Cluster::new(name, "us-west-2");
        c.pools.push(NodePool::uniform("p", 2, node.clone()));
        clusters.push(c);
    }
    let web = Workload::new("shop", "web", 2, Resources::new().with("cpu", 100));
    let problem = with_routes(
        Problem {
            clusters,
            workloads: vec![web],
            ..Problem::default()
        },
        30,
    );
    let (mut sim, plan) = common::start_simulation(problem, RecoveryPolicy::Stay, Disruption::default());
    assert_eq!(
        weights(&plan.traffic).len(),
        4,
        "two hosts, two clusters: {:?}",
        plan.traffic
    );
    let step = sim
        .step(&[Operation::Drain { cluster: "a".into() }])
        .expect("drains");
    let text: Vec<String> = step
        .actions
        .iter()
        .map(|a| serde_json::to_string(a).expect("json"))
        .collect();
    let at = |needle: &str| text.iter().position(|t| t.contains(needle)).unwrap_or(usize::MAX);
    let lowered =
        at(r#""action":"setWeight","host":"all.example.com","region":"us-west-2","cluster":"a","weight":0"#);
    let waited = at(r#""action":"waitTtl""#);
    let shrunk = at(r#""action":"shrink""#);
    let removed =
        at(r#""action":"removeRecord","host":"all.example.com","region":"us-west-2","cluster":"a""#);
    assert!(
        lowered < waited && waited < shrunk && shrunk < removed,
        "{text:#?}"
    );
    assert!(text[waited].contains(r#""seconds":30"#), "{}", text[waited]);
    let raised = at(
        r#""action":"setWeight","host":"all.example.com","region":"us-west-2","cluster":"b","weight":255"#,
    );
    let ready = at(r#""action":"waitReady""#);
    assert!(ready < raised && raised < shrunk, "{text:#?}");
}

#[test]
fn a_controller_drains_a_cluster_to_weight_zero_before_it_shrinks_and_drops_a_failed_one_at_once() {
    use fleetplan::actions::carry_out;
    use fleetplan::{Cluster, Health, NodePool, PlanOptions, Resources, Running, Workload};
    let node = Resources::new().with("cpu", 4000).with("pods", 110);
    let mut clusters = Vec::new();
    for name in ["a", "b", "c"] {
        let mut c = Cluster::new(name, "us-west-2");
        c.pools.push(NodePool::uniform("p", 2, node.clone()));
        clusters.push(c);
    }
    let web = Workload::new("shop", "web", 3, Resources::new().with("cpu", 100));
    let running = |cluster: &str| Running {
        workload: web.id.clone(),
        cluster: cluster.into(),
        pool: "p".into(),
        replicas: 1,
    };
    let mut problem = with_routes(
        Problem {
            current: vec![running("a"), running("b"), running("c")],
            clusters,
            workloads: vec![web.clone()],
            ..Problem::default()
        },
        30,
    );
    // `a` is drained (it may hold nothing) and `c` failed.
    problem.clusters[0].health = Health::Draining;
    problem.clusters[2].health = Health::Unreachable;
    let plan = fleetplan::plan(&problem, &PlanOptions::default()).expect("plans");
    let (actions, stages) = carry_out(&problem, &plan, None, Disruption::default());
    let at_once = weights(&stages.at_once);
    assert!(
        at_once.keys().all(|(_, c)| c != "c"),
        "the failed cluster's records go at once: {at_once:?}"
    );
    assert_eq!(at_once.get(&("all.example.com".into(), "a".into())), Some(&85));
    let mid = weights(&stages.before_shrink);
    assert_eq!(
        mid.get(&("all.example.com".into(), "a".into())),
        Some(&0),
        "{actions:?}"
    );
    assert_eq!(mid.get(&("all.example.com".into(), "b".into())), Some(&255));
    assert_eq!(stages.wait_seconds, 30);
    let end = weights(&stages.after);
    assert_eq!(
        end.keys().map(|(_, c)| c.as_str()).collect::<Vec<_>>(),
        ["b", "b"]
    );
    // From records written before, the same.
    let (_, again) = carry_out(&problem, &plan, Some(&stages.at_once), Disruption::default());
    assert_eq!(weights(&again.before_shrink), mid);
}

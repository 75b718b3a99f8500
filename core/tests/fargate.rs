//! Fargate on EKS through the planner: which pods go to a profile, what they cost and how
//! big they are, and the vCPU quota shared by an account's clusters in a region, for every
//! solver. The property test checks on random fleets that no solver ever exceeds a quota,
//! puts a pod on a profile that does not take it, or on nodes of a cluster whose profile does.

mod common;

use std::collections::HashMap;

use fleetplan::fargate::{FargateProfile, FargateQuota, FargateSelector};
use fleetplan::{
    Cluster, HostNeeds, HourlyPrice, NodePool, Plan, PlanOptions, Problem, Reason, Resources, Running,
    SolverChoice, Workload, WorkloadId, plan, solve,
};
use proptest::prelude::*;

const GIB: i64 = 1 << 30;

fn profile(name: &str, namespace: &str) -> NodePool {
    NodePool::fargate(FargateProfile::new(name, vec![FargateSelector::new(namespace)]))
}

fn nodes(name: &str, count: u32) -> NodePool {
    NodePool::uniform(
        name,
        count,
        Resources::new()
            .with("cpu", 4000)
            .with("memory", 16 * GIB)
            .with("pods", 110),
    )
}

fn cluster(name: &str, region: &str, pools: Vec<NodePool>) -> Cluster {
    let mut c = Cluster::new(name, region);
    c.pools = pools;
    c
}

/// A workload asking for `cpu` millicores and `memory` bytes per replica.
fn app(namespace: &str, name: &str, replicas: u32, cpu: i64, memory: i64) -> Workload {
    Workload::new(
        namespace,
        name,
        replicas,
        Resources::new().with("cpu", cpu).with("memory", memory),
    )
}

fn quota(region: &str, vcpus: u32) -> FargateQuota {
    FargateQuota {
        account: None,
        region: region.into(),
        vcpus,
    }
}

fn pools_of(plan: &Plan, workload: &WorkloadId) -> HashMap<(String, String), u32> {
    plan.placements
        .iter()
        .filter(|p| &p.workload == workload)
        .flat_map(|p| {
            p.pools
                .iter()
                .map(move |r| ((p.cluster.to_string(), r.pool.to_string()), r.replicas))
        })
        .collect()
}

fn every_solver(problem: &Problem) -> Vec<(SolverChoice, Plan)> {
    [SolverChoice::Fast, SolverChoice::Flow, SolverChoice::Exact]
        .into_iter()
        .map(|solver| {
            let options = PlanOptions {
                solver,
                ..PlanOptions::default()
            };
            (solver, solve(problem, &options).unwrap())
        })
        .collect()
}

#[test]
fn a_pod_a_profile_takes_runs_on_fargate_and_others_on_nodes() {
    let mut problem = Problem {
        clusters: vec![cluster(
            "east",
            "us-east-1",
            vec![nodes("general", 2), profile("shop", "shop")],
        )],
        workloads: vec![
            app("shop", "web", 4, 500, GIB / 2),
            app("ops", "agent", 3, 250, GIB / 4),
        ],
        ..Problem::default()
    };
    // Fargate ignores the node selector that no node group could satisfy.
    problem.workloads[0]
        .template
        .node_selector
        .insert("disktype".into(), "ssd".into());
    problem.fargate.quotas.push(quota("us-east-1", 100));
    for (solver, plan) in every_solver(&problem) {
        let web = pools_of(&plan, &WorkloadId::new("shop", "web"));
        assert_eq!(
            web,
            HashMap::from([(("east".into(), "shop".into()), 4)]),
            "{solver:?}"
        );
        let agent = pools_of(&plan, &WorkloadId::new("ops", "agent"));
        assert_eq!(
            agent,
            HashMap::from([(("east".into(), "general".into()), 3)]),
            "{solver:?}"
        );
    }
}

#[test]
fn the_plan_shows_fargate_sizes_waste_and_cost() {
    let mut problem = Problem {
        clusters: vec![cluster("east", "us-east-1", vec![profile("shop", "shop")])],
        // 1 vCPU and 8Gi become 2 vCPU and 9Gi on Fargate.
        workloads: vec![app("shop", "big", 3, 1000, 8 * GIB)],
        ..Problem::default()
    };
    problem.fargate.quotas.push(quota("us-east-1", 100));
    let plan = plan(&problem, &PlanOptions::default()).unwrap();
    let cost = &plan.costs[0];
    let fargate = cost.fargate.as_ref().unwrap();
    assert_eq!(fargate.replicas, 3);
    assert_eq!((fargate.cpu_millis, fargate.memory_bytes), (2000, 9 * GIB));
    assert_eq!(
        (fargate.requested_cpu_millis, fargate.requested_memory_bytes),
        (1000, 8 * GIB)
    );
    assert_eq!(fargate.waste_cpu_millis, 1000);
    assert_eq!(fargate.waste_memory_bytes, 9 * GIB - 8 * GIB - (256 << 20));
    // 3 * (2 * 0.04048 + 9 * 0.004445) = 0.362895 per hour.
    assert_eq!(cost.per_hour, HourlyPrice(362_895));
    assert_eq!(plan.summary.cost_per_hour, HourlyPrice(362_895));
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["costs"][0]["fargate"]["cpuMillis"], 2000);
    assert_eq!(json["summary"]["costPerHour"], 0.362895);
}

#[test]
fn a_pod_fargate_cannot_run_stays_off_the_cluster_its_profile_takes_it_in() {
    let mut problem = Problem {
        clusters: vec![
            cluster(
                "east",
                "us-east-1",
                vec![nodes("general", 2), profile("shop", "shop")],
            ),
            cluster("west", "us-west-2", vec![nodes("general", 2)]),
        ],
        workloads: vec![app("shop", "root", 2, 100, GIB / 4)],
        ..Problem::default()
    };
    problem.workloads[0].template.host_needs = HostNeeds {
        privileged: true,
        ..HostNeeds::default()
    };
    let plan = plan(
        &problem,
        &PlanOptions {
            explain: true,
            ..PlanOptions::default()
        },
    )
    .unwrap();
    let id = WorkloadId::new("shop", "root");
    assert_eq!(
        (plan.replicas_in(&id, "east"), plan.replicas_in(&id, "west")),
        (0, 2)
    );
    let east = plan
        .explanations
        .iter()
        .find(|e| e.cluster.as_str() == "east")
        .unwrap();
    assert_eq!(east.reason.as_ref().unwrap().code(), "Fargate");
    assert_eq!(
        east.reason.as_ref().unwrap().to_string(),
        "privileged containers cannot run on Fargate"
    );
}

#[test]
fn a_cluster_with_only_profiles_refuses_pods_no_profile_takes() {
    let problem = Problem {
        clusters: vec![cluster("east", "us-east-1", vec![profile("shop", "shop")])],
        workloads: vec![app("ops", "agent", 1, 100, GIB / 4)],
        ..Problem::default()
    };
    let plan = plan(&problem, &PlanOptions::default()).unwrap();
    let reason = &plan.unplaced[0].reasons[0].reason;
    assert_eq!(
        reason.to_string(),
        "no Fargate profile matches the pod's namespace and labels"
    );
}

/// Two clusters of one account in us-east-1 share a 2-vCPU quota; eu-west-1 has 100.
fn quota_fleet(regions_allowed: &[&str]) -> Problem {
    let mut problem = Problem {
        clusters: vec![
            cluster("east-a", "us-east-1", vec![profile("shop", "shop")]),
            cluster("east-b", "us-east-1", vec![profile("shop", "shop")]),
            cluster("eu", "eu-west-1", vec![profile("shop", "shop")]),
        ],
        // 0.5 vCPU and 1Gi on Fargate.
        workloads: vec![app("shop", "web", 20, 500, GIB / 2)],
        ..Problem::default()
    };
    problem.fargate.quotas = vec![quota("us-east-1", 2), quota("eu-west-1", 100)];
    let allowed = &mut problem.workloads[0].policy.cluster_selector;
    allowed.requirements.push(fleetplan::LabelRequirement {
        key: fleetplan::REGION_LABEL.into(),
        operator: fleetplan::Operator::In,
        values: regions_allowed.iter().map(|r| r.to_string()).collect(),
    });
    problem
}

#[test]
fn quota_exhaustion_moves_the_overflow_to_another_allowed_region() {
    let problem = quota_fleet(&["us-east-1", "eu-west-1"]);
    let id = WorkloadId::new("shop", "web");
    for (solver, plan) in every_solver(&problem) {
        let east = plan.replicas_in(&id, "east-a") + plan.replicas_in(&id, "east-b");
        assert!(
            east <= 4,
            "{solver:?}: {east} replicas of 0.5 vCPU in a 2-vCPU quota"
        );
        assert_eq!(plan.placed(&id), 20, "{solver:?}");
        assert_eq!(plan.replicas_in(&id, "eu"), 20 - east, "{solver:?}");
    }
    // The fast planner spreads: both us-east-1 clusters share the quota, the rest goes to eu.
    let fast = plan(&problem, &PlanOptions::default()).unwrap();
    assert_eq!(
        fast.replicas_in(&id, "east-a") + fast.replicas_in(&id, "east-b"),
        4
    );
}

#[test]
fn quota_exhaustion_with_no_other_region_is_unplaced_with_the_quota_as_reason() {
    let problem = quota_fleet(&["us-east-1"]);
    let id = WorkloadId::new("shop", "web");
    for (solver, plan) in every_solver(&problem) {
        assert_eq!((plan.placed(&id), plan.unplaced(&id)), (4, 16), "{solver:?}");
        let reasons: Vec<String> = plan.unplaced[0]
            .reasons
            .iter()
            .map(|r| format!("{}: {}", r.cluster, r.reason))
            .collect();
        assert_eq!(
            reasons[..2],
            [
                "east-a: Fargate vCPU quota of the account in us-east-1 used up: a replica needs 0.5 vCPU, 0 of 2 free",
                "east-b: Fargate vCPU quota of the account in us-east-1 used up: a replica needs 0.5 vCPU, 0 of 2 free",
            ],
            "{solver:?}"
        );
        assert!(matches!(
            plan.unplaced[0].reasons[0].reason,
            Reason::FargateQuota { .. }
        ));
    }
}

#[test]
fn accounts_have_separate_quotas() {
    let mut problem = quota_fleet(&["us-east-1"]);
    problem.clusters[1].account = Some("222".into());
    problem.fargate.quotas.push(FargateQuota {
        account: Some("222".into()),
        region: "us-east-1".into(),
        vcpus: 1,
    });
    let plan = plan(&problem, &PlanOptions::default()).unwrap();
    let id = WorkloadId::new("shop", "web");
    assert_eq!(
        (plan.replicas_in(&id, "east-a"), plan.replicas_in(&id, "east-b")),
        (4, 2)
    );
}

#[test]
fn running_fargate_replicas_stay_and_use_the_quota() {
    let mut problem = quota_fleet(&["us-east-1"]);
    problem.current.push(Running {
        workload: WorkloadId::new("shop", "web"),
        cluster: "east-a".into(),
        pool: "shop".into(),
        replicas: 3,
    });
    let plan = plan(&problem, &PlanOptions::default()).unwrap();
    let id = WorkloadId::new("shop", "web");
    // 3 running use 1.5 of the 2 vCPUs: one more fits, in either cluster.
    assert_eq!(plan.placed(&id), 4);
    assert!(plan.replicas_in(&id, "east-a") >= 3);
    assert_eq!(plan.summary.kept, 3);
}

#[test]
fn cheaper_capacity_wins_under_the_cost_objective() {
    // The same pod on a pricey node pool in one cluster and on Fargate in another.
    let mut pricey = nodes("general", 4);
    pricey.node_price = HourlyPrice::from_units(10.0);
    let mut problem = Problem {
        clusters: vec![
            cluster("nodes", "us-east-1", vec![pricey]),
            cluster("fargate", "us-east-1", vec![profile("shop", "shop")]),
        ],
        workloads: vec![app("shop", "web", 4, 500, GIB / 2)],
        ..Problem::default()
    };
    problem.workloads[0].policy.strategy = fleetplan::Strategy::Pack;
    problem.fargate.quotas.push(quota("us-east-1", 100));
    let options = PlanOptions {
        solver: SolverChoice::Exact,
        weights: {
            let mut w = fleetplan::Weights::default();
            w.set("cost", 100.0).unwrap();
            w
        },
        ..PlanOptions::default()
    };
    let plan = solve(&problem, &options).unwrap();
    let id = WorkloadId::new("shop", "web");
    // The workload's pods match the profile only in the Fargate cluster; the node cluster has
    // no profile, so both are allowed and the cheaper one takes everything.
    assert_eq!(plan.replicas_in(&id, "fargate"), 4);
}

/// A random fleet: clusters in two regions and two accounts, each with node pools, Fargate
/// profiles or both; workloads in namespaces some profiles select, some privileged.
fn arb_problem() -> impl Strategy<Value = Problem> {
    let cluster_spec = (0..2usize, 0..2usize, 0..3u8, 1..4u32, any::<bool>());
    let workload = (0..3usize, 1..12u32, 0..4usize, any::<bool>());
    (
        prop::collection::vec(cluster_spec, 1..5),
        prop::collection::vec(workload, 1..5),
        1..6u32,
        1..6u32,
    )
        .prop_map(|(clusters, workloads, quota_a, quota_b)| {
            let namespaces = ["shop", "ops", "batch"];
            let mut problem = Problem::default();
            for (i, (region, account, kind, count, wildcard)) in clusters.into_iter().enumerate() {
                let region = ["us-east-1", "eu-west-1"][region];
                let mut pools = Vec::new();
                if kind != 1 {
                    pools.push(nodes("general", count));
                }
                if kind != 0 {
                    pools.push(profile("a-shop", if wildcard { "sh*" } else { "shop" }));
                    pools.push(profile("b-ops", "ops"));
                }
                let mut c = cluster(&format!("c{i}"), region, pools);
                c.account = (account == 1).then(|| "222".to_string());
                problem.clusters.push(c);
            }
            for (i, (ns, replicas, size, privileged)) in workloads.into_iter().enumerate() {
                let (cpu, memory) = [(250, GIB / 4), (500, GIB), (1000, 3 * GIB), (2000, 8 * GIB)][size];
                let mut w = app(namespaces[ns], &format!("w{i}"), replicas, cpu, memory);
                w.template.host_needs.privileged = privileged;
                problem.workloads.push(w);
            }
            problem.fargate.quotas = vec![quota("us-east-1", quota_a), quota("eu-west-1", quota_b)];
            problem
        })
}

/// Checks the Fargate rules of a plan on its own: only pods a profile takes are on it, never
/// privileged ones, never on nodes of a cluster whose profile takes them, and every quota holds.
fn fargate_rules_hold(problem: &Problem, plan: &Plan) -> Result<(), String> {
    let mut used: HashMap<(Option<String>, String), i64> = HashMap::new();
    for placement in &plan.placements {
        let workload = problem
            .workloads
            .iter()
            .find(|w| w.id == placement.workload)
            .unwrap();
        let cluster = problem
            .clusters
            .iter()
            .find(|c| c.name == placement.cluster)
            .unwrap();
        let ns = &*workload.id.namespace;
        let takes = cluster
            .pools
            .iter()
            .filter_map(|p| p.fargate.as_ref())
            .filter(|f| f.matches(ns, &workload.template.labels))
            .map(|f| f.name.clone())
            .min();
        for pool in &placement.pools {
            let on_fargate = cluster
                .pools
                .iter()
                .any(|p| p.name == pool.pool && p.fargate.is_some());
            match (&takes, on_fargate) {
                (Some(name), true) if *name == pool.pool.as_str() => {
                    if workload.template.host_needs.privileged {
                        return Err(format!("{} is privileged but on Fargate", workload.id));
                    }
                    let size = fleetplan::fargate::fargate_size_for(&workload.template).unwrap();
                    *used
                        .entry((cluster.account.clone(), cluster.region.clone()))
                        .or_default() += size.cpu_millis * i64::from(pool.replicas);
                }
                (takes, true) => {
                    return Err(format!(
                        "{} on profile {} of {} but taken by {takes:?}",
                        workload.id, pool.pool, cluster.name
                    ));
                }
                (Some(name), false) => {
                    return Err(format!(
                        "{} on nodes of {} though profile {name} takes it",
                        workload.id, cluster.name
                    ));
                }
                (None, false) => {}
            }
        }
    }
    for ((account, region), millis) in used {
        let quota = i64::from(problem.fargate.quota_vcpus(account.as_deref(), &region)) * 1000;
        if millis > quota {
            return Err(format!(
                "{account:?} {region}: {millis}m used of a {quota}m quota"
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(common::config(64))]

    #[test]
    fn no_solver_breaks_a_fargate_rule(problem in arb_problem()) {
        for (solver, plan) in every_solver(&problem) {
            prop_assert_eq!(fargate_rules_hold(&problem, &plan), Ok(()), "{:?}", solver);
            prop_assert_eq!(plan.summary.placed + plan.summary.unplaced, plan.summary.target);
        }
    }
}

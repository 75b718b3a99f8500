//! End-to-end: the test scenarios under `tests/data` loaded with `load()` and planned with
//! `fleetplan::plan()`.

use std::path::{Path, PathBuf};

use fleetplan::{Health, PlanOptions, Problem, WorkloadId, plan};
use fleetplan_kube::{load, load_scenario};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn pools(problem: &Problem, cluster: &str) -> Vec<(String, Option<String>, u64)> {
    let c = problem
        .clusters
        .iter()
        .find(|c| c.name.as_str() == cluster)
        .expect("cluster");
    c.pools
        .iter()
        .map(|p| (p.name.to_string(), p.zone.clone(), p.node_count()))
        .collect()
}

fn running(problem: &Problem) -> Vec<(String, String, String, u32)> {
    let mut r: Vec<_> = problem
        .current
        .iter()
        .map(|r| {
            (
                r.workload.to_string(),
                r.cluster.to_string(),
                r.pool.to_string(),
                r.replicas,
            )
        })
        .collect();
    r.sort();
    r
}

#[test]
fn kubectl_dumps_load_and_plan() {
    let scenario = load_scenario(&data("shop")).expect("loads");
    let problem = &scenario.problem;

    let names: Vec<&str> = problem.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["east-a", "west-b"]);
    let east = &problem.clusters[0];
    assert_eq!(east.region, "us-east-1");
    assert_eq!(east.labels["tier"], "prod");
    assert_eq!(
        problem.clusters[1].taints[0].to_string(),
        "fleetplan.io/canary=true:PreferNoSchedule"
    );

    // The cordoned node keeps its pool but offers nothing.
    assert_eq!(
        pools(problem, "east-a"),
        [
            ("general-us-east-1a".into(), Some("us-east-1a".into()), 1),
            ("general-us-east-1b".into(), Some("us-east-1b".into()), 1)
        ]
    );
    assert_eq!(
        pools(problem, "west-b"),
        [
            ("default-us-west-2a".into(), Some("us-west-2a".into()), 1),
            ("default-us-west-2b".into(), Some("us-west-2b".into()), 1)
        ]
    );
    // Free = allocatable less the running pods (web 500m + coredns 100m on the first node; web
    // 500m + aws-node 25m on the second; the finished report Job pod counts for nothing).
    let free = |pool: usize| east.pools[pool].nodes[0].free.clone();
    assert_eq!(free(0).get("cpu"), 3920 - 600);
    assert_eq!(
        free(0).get("memory"),
        15_214_040 * 1024 - (512 << 20) - (70 << 20)
    );
    assert_eq!(free(0).get("pods"), 56);
    assert_eq!(free(1).get("cpu"), 3920 - 525);

    assert_eq!(
        running(problem),
        [
            ("shop/web".into(), "east-a".into(), "general-us-east-1a".into(), 1),
            ("shop/web".into(), "east-a".into(), "general-us-east-1b".into(), 1),
            ("shop/web".into(), "west-b".into(), "default-us-west-2b".into(), 1),
            (
                "shop/worker".into(),
                "west-b".into(),
                "default-us-west-2a".into(),
                1
            ),
        ]
    );

    let web = problem
        .workloads
        .iter()
        .find(|w| w.id == WorkloadId::new("shop", "web"))
        .expect("web");
    assert_eq!(web.replicas, 6);
    assert_eq!(web.template.priority, 100_000);
    assert_eq!(
        web.template.topology_spread.len(),
        1,
        "the hostname constraint is node-level"
    );

    let carried: Vec<(&str, &str)> = scenario
        .carried
        .iter()
        .map(|c| (c.kind.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        carried,
        [
            ("Namespace", "shop"),
            ("PriorityClass", "shop-critical"),
            ("Service", "web"),
            ("HorizontalPodAutoscaler", "web"),
            ("ConfigMap", "worker-config"),
            ("ServiceMonitor", "web"),
        ]
    );

    let plan = plan(problem, &PlanOptions::default()).expect("plans");
    let id = WorkloadId::new("shop", "web");
    // Spread over the two prod clusters; the canary taint of west-b is tolerated.
    assert_eq!(
        (plan.replicas_in(&id, "east-a"), plan.replicas_in(&id, "west-b")),
        (3, 3)
    );
    assert_eq!(plan.unplaced(&id), 0);
    // Packed into the heaviest cluster, where one replica runs already.
    let worker = WorkloadId::new("shop", "worker");
    assert_eq!(plan.replicas_in(&worker, "west-b"), 3);
}

#[test]
fn concise_fleet_loads_and_plans() {
    let dir = data("synthetic");
    let scenario = load(&dir.join("fleet/fleet.yaml"), &dir.join("apps")).expect("loads");
    let problem = &scenario.problem;
    assert_eq!(problem.clusters[1].health, Health::Cordoned);
    // 7 replicas of 1 cpu on 4-cpu nodes, first fit: one full node, three on the next.
    let general = &problem.clusters[0].pools[0];
    assert_eq!(general.nodes.iter().map(|g| g.count).sum::<u32>(), 3);
    let cpus: Vec<i64> = general
        .nodes
        .iter()
        .flat_map(|g| std::iter::repeat_n(g.free.get("cpu"), g.count as usize))
        .collect();
    assert_eq!(cpus, [0, 1000, 4000]);
    assert_eq!(general.labels["topology.kubernetes.io/zone"], "us-east-1a");

    let train = problem
        .workloads
        .iter()
        .find(|w| w.id == WorkloadId::new("ml", "train"))
        .expect("train");
    assert_eq!(train.template.containers[0].requests.get("nvidia.com/gpu"), 1);

    let plan = plan(problem, &PlanOptions::default()).expect("plans");
    let train = WorkloadId::new("ml", "train");
    assert_eq!(plan.replicas_in(&train, "east-a"), 6);
    let web = WorkloadId::new("shop", "web");
    // west-a is cordoned: it keeps its two replicas and takes no new ones.
    assert_eq!(plan.replicas_in(&web, "west-a"), 2);
}

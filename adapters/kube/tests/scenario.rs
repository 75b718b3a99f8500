//! End-to-end: the test scenarios under `tests/data` loaded with `load()` and planned with
//! `fleetplan::plan()`, and the placement annotations and prices loaded into the problem.

use std::path::{Path, PathBuf};

use fleetplan::{Health, HourlyPrice, PlanOptions, Problem, WorkloadId, plan};
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

/// A Job with every new placement annotation, and a Deployment with gang and region demand.
const PLACEMENT_APPS: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: train\n  namespace: ml\n  \
    annotations:\n    fleetplan.io/gang: \"true\"\n    fleetplan.io/min-regions: \"2\"\n    \
    fleetplan.io/region-demand: \"us-east-1=70, *=30\"\nspec:\n  parallelism: 4\n  template:\n    spec:\n      \
    restartPolicy: Never\n      containers: [{name: t, resources: {requests: {cpu: '1'}}}]\n---\n\
    apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  annotations:\n    \
    fleetplan.io/gang: \"false\"\n    fleetplan.io/region-demand: \"us-west-2=5\"\nspec:\n  replicas: 2\n  \
    selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      \
    containers: [{name: web, resources: {requests: {cpu: 500m}}}]\n";

fn workload<'a>(problem: &'a Problem, namespace: &str, name: &str) -> &'a fleetplan::Workload {
    problem
        .workloads
        .iter()
        .find(|w| w.id == WorkloadId::new(namespace, name))
        .expect("workload")
}

#[test]
fn placement_annotations_and_concise_prices_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.yaml");
    let apps = dir.path().join("apps.yaml");
    std::fs::write(
        &fleet,
        "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- name: east\n  region: us-east-1\n  \
         fixedPricePerHour: 0.10\n  pools:\n  - {name: general, count: 4, allocatable: {cpu: '4'}, pricePerHour: 0.192}\n  \
         - {name: spot, count: 2, allocatable: {cpu: '4'}, pricePerHour: \"0.0712\"}\n- name: west\n  region: us-west-2\n  \
         pools:\n  - {name: general, count: 4, allocatable: {cpu: '4'}}\n",
    )
    .expect("write");
    std::fs::write(&apps, PLACEMENT_APPS).expect("write");
    let problem = load(&fleet, &apps).expect("loads").problem;

    let train = workload(&problem, "ml", "train");
    assert!(train.policy.gang);
    assert_eq!(train.policy.min_regions, Some(2));
    assert_eq!(
        (
            train.policy.region_demand.get("us-east-1"),
            train.policy.region_demand.get("us-west-2")
        ),
        (Some(70), Some(30))
    );
    let web = workload(&problem, "shop", "web");
    assert!(!web.policy.gang);
    assert_eq!(web.policy.min_regions, None);
    assert_eq!(web.policy.region_demand.get("us-west-2"), Some(5));
    assert_eq!(web.policy.region_demand.get("us-east-1"), None);

    let east = &problem.clusters[0];
    assert_eq!(east.fixed_price, Some(HourlyPrice(100_000)));
    let prices: Vec<Option<HourlyPrice>> = east.pools.iter().map(|p| p.node_price).collect();
    assert_eq!(prices, [Some(HourlyPrice(192_000)), Some(HourlyPrice(71_200))]);
    let west = &problem.clusters[1];
    assert_eq!((west.fixed_price, west.pools[0].node_price), (None, None));
}

/// A cluster's name, fixed price and node price of each pool.
type PricedCluster<'a> = (&'a str, Option<HourlyPrice>, Vec<Option<HourlyPrice>>);

#[test]
fn cluster_metadata_prices_dumped_pools_by_instance_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet");
    std::fs::create_dir(&fleet).expect("mkdir");
    for name in ["east-a.yaml", "west-b.yaml"] {
        std::fs::copy(data("shop/fleet").join(name), fleet.join(name)).expect("copy");
    }
    std::fs::write(
        fleet.join("_clusters.yaml"),
        "clusters:\n  east-a:\n    labels: {tier: prod}\n    fixedPricePerHour: 0.10\n    \
         instancePricesPerHour: {m5.xlarge: 0.192}\n  west-b:\n    labels: {tier: prod}\n    \
         instancePricesPerHour: {m6i.2xlarge: \"0.384\"}\n",
    )
    .expect("write");
    let problem = load(&fleet, &data("shop/apps")).expect("loads").problem;
    let priced: Vec<PricedCluster> = problem
        .clusters
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.fixed_price,
                c.pools.iter().map(|p| p.node_price).collect(),
            )
        })
        .collect();
    let m5 = Some(HourlyPrice(192_000));
    let m6i = Some(HourlyPrice(384_000));
    assert_eq!(
        priced,
        [
            ("east-a", Some(HourlyPrice(100_000)), vec![m5, m5]),
            ("west-b", None, vec![m6i, m6i]),
        ]
    );
}

//! End-to-end tests of the test bed against the real control-plane binaries. They need
//! `FLEETPLAN_TESTBED_BIN` (set by `scripts/test`); without it they fail with the command to
//! build the binaries, they never skip.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleetplan::{Cluster, NodePool, Resources};
use fleetplan_testbed::{Binaries, TestBed};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};

fn binaries() -> Binaries {
    Binaries::from_env().unwrap_or_else(|e| panic!("the test bed is required: {e}"))
}

fn cluster(name: &str, region: &str) -> Cluster {
    let mut c = Cluster::new(name, region);
    for zone in ["a", "b"] {
        let mut pool = NodePool::uniform(
            &format!("general-{zone}"),
            2,
            Resources::new()
                .with("cpu", 4000)
                .with("memory", 16 << 30)
                .with("pods", 110),
        );
        pool.zone = Some(format!("{region}{zone}"));
        c.pools.push(pool);
    }
    c
}

fn deployment(name: &str, replicas: i32) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "web", "image": "nginx",
                    "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}
                }]}
            }
        }
    })
}

async fn running_pods(pods: &Api<Pod>, app: &str) -> Vec<Pod> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    list.into_iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .collect()
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; count only processes that have not exited.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.split_whitespace().nth(2).is_none_or(|state| state != "Z"))
        .unwrap_or(false)
}

fn assert_all_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "processes of the bed still running: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clusters_run_a_deployment_survive_an_api_outage_and_leave_nothing_behind() {
    let clusters = [
        cluster("east-a", "us-east-1"),
        cluster("east-b", "us-east-1"),
        cluster("west-a", "us-west-2"),
    ];
    let started = Instant::now();
    let mut bed = TestBed::start(&clusters, &binaries())
        .await
        .expect("the bed starts");
    eprintln!("3 clusters ready in {:.1} s", started.elapsed().as_secs_f64());
    let infos = bed.clusters();
    assert_eq!(infos.iter().map(|c| c.nodes).collect::<Vec<_>>(), [4, 4, 4]);

    // The merged kubeconfig has one context per cluster.
    let kubeconfig = std::fs::read_to_string(bed.kubeconfig()).expect("kubeconfig");
    for name in ["east-a", "east-b", "west-a"] {
        assert!(
            kubeconfig.contains(&format!("\"name\": \"{name}\"")),
            "{kubeconfig}"
        );
    }

    // A Deployment applied with kube-rs gets its pods scheduled onto simulated nodes and Running.
    let client = bed.client("east-b").await.expect("client");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
    namespaces
        .patch("shop", &PatchParams::apply("fleetplan-test"), &Patch::Apply(&ns))
        .await
        .expect("namespace");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    deployments
        .patch(
            "web",
            &PatchParams::apply("fleetplan-test"),
            &Patch::Apply(&deployment("web", 5)),
        )
        .await
        .expect("apply the deployment");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut running = Vec::new();
    while Instant::now() < deadline {
        running = running_pods(&pods, "web").await;
        if running.len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(running.len(), 5, "pods Running: {}", running.len());
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for pod in &running {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .expect("bound to a node");
        assert!(
            node.starts_with("general-"),
            "bound to a simulated node, got {node}"
        );
        *per_node.entry(node).or_default() += 1;
    }
    eprintln!("pods per node: {per_node:?}");

    // Stopping the API server makes clients fail fast; restarting it recovers.
    bed.stop_api_server("east-b").expect("stop");
    let asked = Instant::now();
    let failed = deployments.get("web").await;
    assert!(failed.is_err(), "the API server is down");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "failed after {:?}",
        asked.elapsed()
    );
    // The other clusters are unaffected.
    let west = bed.client("west-a").await.expect("client");
    Api::<Namespace>::all(west)
        .get("default")
        .await
        .expect("west-a still answers");
    let restarted = Instant::now();
    bed.start_api_server("east-b").await.expect("restart");
    eprintln!("API server back in {:.1} s", restarted.elapsed().as_secs_f64());
    let web = deployments
        .get("web")
        .await
        .expect("the deployment survived in etcd");
    assert_eq!(web.spec.replicas, Some(5));

    let pids = bed.pids();
    assert_eq!(pids.len(), 1 + 3 * 4, "etcd plus four processes per cluster");
    let dir = bed.dir().to_path_buf();
    drop(bed);
    assert_all_gone(&pids);
    assert!(!dir.exists(), "the bed's folder is removed");
}

#[test]
fn a_panicking_test_leaves_no_process_behind() {
    let pids: Arc<Mutex<Vec<u32>>> = Arc::default();
    let seen = Arc::clone(&pids);
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let bed = TestBed::start(&[cluster("solo", "eu-west-1")], &binaries())
                .await
                .expect("the bed starts");
            *seen.lock().expect("lock") = bed.pids();
            panic!("a test fails while the bed runs");
        })
    })
    .join();
    assert!(outcome.is_err(), "the thread panicked");
    let pids = pids.lock().expect("lock").clone();
    assert_eq!(pids.len(), 5);
    assert_all_gone(&pids);
}

#[test]
fn missing_binaries_give_the_command_that_builds_them() {
    let err = Binaries::in_dir(Path::new("/nonexistent")).expect_err("no binaries there");
    assert!(err.to_string().contains("adapters/testbed/build.sh"), "{err}");
}

//! Helpers shared by the tests that run on the local test bed (each test file uses some).
#![allow(dead_code)]

use fleetplan::{Cluster, NodePool, Resources};
use std::collections::BTreeMap;
use std::time::Duration;

use fleetplan_testbed::{Binaries, TestBed};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};

/// The bed's binaries; without them the test fails with the command that builds them.
pub fn binaries() -> Binaries {
    Binaries::from_env().unwrap_or_else(|e| {
        panic!(
            "the test bed is required: export FLEETPLAN_TESTBED_BIN=$(bash adapters/testbed/build.sh): {e}"
        )
    })
}

/// A cluster of `nodes` 4-CPU, 16 GiB nodes in one pool (none: a management cluster).
pub fn cluster(name: &str, region: &str, nodes: u32) -> Cluster {
    let mut c = Cluster::new(name, region);
    if nodes > 0 {
        c.pools.push(NodePool::uniform(
            "general",
            nodes,
            Resources::new()
                .with("cpu", 4000)
                .with("memory", 16 << 30)
                .with("pods", 110),
        ));
    }
    c
}

/// Server-side applies `value` (any kind the API server serves, namespaced or not) as the
/// test, taking over conflicting fields.
pub async fn put(client: &kube::Client, value: &serde_json::Value) {
    use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};
    use kube::discovery::{Scope, pinned_kind};
    let name = value["metadata"]["name"].as_str().expect("a name");
    let (group, version) = match value["apiVersion"]
        .as_str()
        .expect("an apiVersion")
        .split_once('/')
    {
        Some((group, version)) => (group, version),
        None => ("", value["apiVersion"].as_str().unwrap_or_default()),
    };
    let kind = value["kind"].as_str().expect("a kind");
    let (resource, capabilities) = pinned_kind(client, &GroupVersionKind::gvk(group, version, kind))
        .await
        .unwrap_or_else(|e| panic!("the API server does not serve {kind}: {e}"));
    let api: Api<DynamicObject> = match (capabilities.scope, value["metadata"]["namespace"].as_str()) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        (Scope::Namespaced, None) => Api::default_namespaced_with(client.clone(), &resource),
        (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
    };
    api.patch(name, &PatchParams::apply("test").force(), &Patch::Apply(value))
        .await
        .unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
}

/// A Namespace object.
pub fn namespace(name: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// The Secret registering the workload cluster `name` of region `region`: `kubeconfig` with
/// that cluster as its current context (as `fleetplan testbed up --management` writes it).
pub fn registration(kubeconfig: &kube::config::Kubeconfig, name: &str, region: &str) -> serde_json::Value {
    fleetplan_kube::live::registration_secret(&Cluster::new(name, region), kubeconfig, "fleetplan-system")
        .expect("a registration")
}

/// A `fleetplan controller` started by a test; killed when dropped, however the test ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `fleetplan controller --context mgmt --interval 1` on `kubeconfig` with `extra`
/// flags, its log appended to `log`.
pub fn controller(kubeconfig: &std::path::Path, log: &std::path::Path, extra: &[&str]) -> Running {
    controller_with_env(kubeconfig, log, extra, &[])
}

/// [`controller`] with `env` added to its environment.
pub fn controller_with_env(
    kubeconfig: &std::path::Path,
    log: &std::path::Path,
    extra: &[&str],
    env: &[(String, String)],
) -> Running {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args(["controller", "--context", "mgmt", "--interval", "1"])
        .args(extra)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the controller starts");
    Running(child)
}

/// The objects fleetplan put in `cluster`'s namespace `shop`, as `Kind name`.
pub async fn carried(bed: &fleetplan_testbed::TestBed, cluster: &str) -> std::collections::BTreeSet<String> {
    let client = bed.client(cluster).await.expect("client");
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
    let mut out = std::collections::BTreeSet::new();
    let owned = ListParams::default().labels("fleetplan.io/managed-by=fleetplan");
    for (group, version, kind) in [
        ("", "v1", "ConfigMap"),
        ("", "v1", "Secret"),
        ("", "v1", "ServiceAccount"),
        ("", "v1", "Service"),
        ("networking.k8s.io", "v1", "Ingress"),
        ("policy", "v1", "PodDisruptionBudget"),
        ("apps", "v1", "Deployment"),
    ] {
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "shop", &resource);
        for item in api.list(&owned).await.expect("list").items {
            out.insert(format!("{kind} {}", item.metadata.name.unwrap_or_default()));
        }
    }
    out
}

/// Runs kubectl on the management cluster `mgmt` of `kubeconfig`, in `namespace`; fails the
/// test when it fails; returns what it printed.
pub fn kubectl(kubeconfig: &std::path::Path, namespace: &str, args: &[&str]) -> String {
    let output = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--context", "mgmt", "--namespace", namespace])
        .args(args)
        .output()
        .expect("kubectl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "kubectl {args:?}: {text}");
    text
}

/// A moto server, with the bed's stand-in for the AWS Load Balancer Controller giving each
/// `alb` Ingress a load balancer in its ELBv2; fails (never skips) without moto.
pub async fn moto_with_load_balancers(bed: &mut fleetplan_testbed::TestBed) -> fleetplan_testbed::MotoServer {
    let moto = fleetplan_testbed::MotoServer::start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    bed.run_load_balancers(&moto.endpoint())
        .await
        .expect("the load balancer stand-in starts");
    moto
}

/// Running pods of `app=web` per workload cluster, counting only clusters that answer.
pub async fn running(bed: &TestBed, clusters: &[&str]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for &name in clusters {
        let Ok(client) = bed.client(name).await else {
            continue;
        };
        let pods: Api<Pod> = Api::namespaced(client, "shop");
        let Ok(Ok(list)) = tokio::time::timeout(
            Duration::from_secs(3),
            pods.list(&ListParams::default().labels("app=web")),
        )
        .await
        else {
            continue;
        };
        let n = list
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count();
        out.insert(name.to_string(), n);
    }
    out
}

/// What each cluster holds, for a failure message: its nodes (Ready, taints), the pods of
/// `app=web` (phase, node) and the source's placement annotations.
pub async fn diagnose(bed: &TestBed, clusters: &[&str]) -> String {
    use k8s_openapi::api::core::v1::Node;
    let mut out = String::new();
    for &name in clusters {
        let Ok(client) = bed.client(name).await else {
            out.push_str(&format!("{name}: no client\n"));
            continue;
        };
        let nodes = Api::<Node>::all(client.clone())
            .list(&ListParams::default())
            .await;
        let pods = Api::<Pod>::namespaced(client, "shop")
            .list(&ListParams::default().labels("app=web"))
            .await;
        let (Ok(nodes), Ok(pods)) = (nodes, pods) else {
            out.push_str(&format!("{name}: does not answer\n"));
            continue;
        };
        for node in nodes.items {
            let status = node.status.unwrap_or_default();
            let ready = status
                .conditions
                .unwrap_or_default()
                .into_iter()
                .find(|c| c.type_ == "Ready");
            let spec = node.spec.unwrap_or_default();
            out.push_str(&format!(
                "{name}: node {:?} Ready={:?} unschedulable={:?} taints={:?}\n",
                node.metadata.name,
                ready.map(|c| c.status),
                spec.unschedulable,
                spec.taints
                    .unwrap_or_default()
                    .iter()
                    .map(|t| format!("{}:{}", t.key, t.effect))
                    .collect::<Vec<_>>()
            ));
        }
        for pod in pods.items {
            out.push_str(&format!(
                "{name}: pod {:?} phase={:?} node={:?}\n",
                pod.metadata.name,
                pod.status.and_then(|s| s.phase),
                pod.spec.and_then(|s| s.node_name)
            ));
        }
    }
    if let Ok(mgmt) = bed.client("mgmt").await
        && let Ok(web) = Api::<Deployment>::namespaced(mgmt, "shop").get("web").await
    {
        out.push_str(&format!("source annotations: {:?}\n", web.metadata.annotations));
    }
    out
}

/// Sets the source's replica target.
pub async fn scale(bed: &TestBed, replicas: u32) {
    let mgmt = bed.client("mgmt").await.expect("mgmt client");
    let source: Api<Deployment> = Api::namespaced(mgmt, "shop");
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    source
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("scale");
}

/// Every Deployment fleetplan owns in the workload clusters: `(cluster, namespace/name,
/// replicas)`.
pub async fn owned_copies(bed: &TestBed, clusters: &[&str]) -> Vec<(String, String, i32)> {
    let mut out = Vec::new();
    for &cluster in clusters {
        let Ok(client) = bed.client(cluster).await else {
            continue;
        };
        let api: Api<Deployment> = Api::all(client);
        let Ok(list) = api
            .list(&ListParams::default().labels("fleetplan.io/managed-by=fleetplan"))
            .await
        else {
            continue;
        };
        for d in list.items {
            let name = format!(
                "{}/{}",
                d.metadata.namespace.unwrap_or_default(),
                d.metadata.name.unwrap_or_default()
            );
            out.push((cluster.to_string(), name, d.spec.replicas.unwrap_or(0)));
        }
    }
    out
}

/// The workload clusters of the controller's tests, with their regions.
pub const WORKLOAD_CLUSTERS: [(&str, &str); 3] = [
    ("east", "us-east-1"),
    ("west", "us-west-2"),
    ("europe", "eu-west-1"),
];

/// A bed of a management cluster `mgmt` (no nodes) and [`WORKLOAD_CLUSTERS`] (two nodes
/// each), with its kubeconfig.
pub fn controller_bed(runtime: &tokio::runtime::Runtime) -> (TestBed, kube::config::Kubeconfig) {
    let binaries = binaries();
    let mut clusters = vec![cluster("mgmt", "us-east-1", 0)];
    clusters.extend(WORKLOAD_CLUSTERS.iter().map(|(n, r)| cluster(n, r, 2)));
    let bed = runtime
        .block_on(TestBed::start(&clusters, &binaries))
        .expect("the bed starts");
    let kubeconfig = kube::config::Kubeconfig::read_from(bed.kubeconfig()).expect("the bed's kubeconfig");
    (bed, kubeconfig)
}

/// The Deployment `shop/web` opted in with strategy `spread`: `replicas` of a 250m, 128Mi
/// nginx labelled `app: web`.
pub fn spread_web(replicas: usize) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop",
            "labels": {"app": "web", "fleetplan.io/schedule": "true"},
            "annotations": {"fleetplan.io/strategy": "spread"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                "name": "web", "image": "nginx",
                "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}}}]}}
        }
    })
}

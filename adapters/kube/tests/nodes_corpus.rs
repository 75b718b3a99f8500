//! Real node and pod dumps from public repositories (`tests/corpus/nodes/`, sources in its
//! `SOURCES.md`): an EKS node group, a GKE node pool, a k3s node with its pods, and a
//! DigitalOcean cluster, read as the fleet as `kubectl get nodes,pods -A -o json` would give
//! them: typed lists whose items lack `kind` (as the API returns them), kubectl's `List`, and
//! JSON documents in a YAML stream.

use std::path::{Path, PathBuf};

use fleetplan::{Cluster, NodePool};
use fleetplan_kube::load;

fn corpus(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/nodes")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A scenario folder whose fleet holds the dumps `files` as one cluster `name` (JSON
/// documents joined into a YAML stream when there are several), and an empty apps folder.
fn scenario(clusters: &[(&str, &[&str])], extra: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (fleet, apps) = (dir.path().join("fleet"), dir.path().join("apps"));
    std::fs::create_dir_all(&fleet).expect("mkdir");
    std::fs::create_dir_all(&apps).expect("mkdir");
    for (name, files) in clusters {
        let (file, text) = match files {
            [one] => (format!("{name}.json"), corpus(one)),
            many => (
                format!("{name}.yaml"),
                many.iter().map(|f| corpus(f)).collect::<Vec<_>>().join("\n---\n"),
            ),
        };
        std::fs::write(fleet.join(file), text).expect("writes");
    }
    for (file, text) in extra {
        std::fs::write(fleet.join(file), text).expect("writes");
    }
    (dir, fleet, apps)
}

fn cluster<'a>(clusters: &'a [Cluster], name: &str) -> &'a Cluster {
    clusters
        .iter()
        .find(|c| c.name.as_str() == name)
        .unwrap_or_else(|| panic!("no cluster {name}"))
}

fn pool<'a>(cluster: &'a Cluster, name: &str) -> &'a NodePool {
    cluster
        .pools
        .iter()
        .find(|p| p.name.as_str() == name)
        .unwrap_or_else(|| panic!("{}: no pool {name} in {:?}", cluster.name, cluster.pools))
}

#[test]
fn gke_k3s_and_digitalocean_dumps_become_their_node_pools() {
    let (_dir, fleet, apps) = scenario(
        &[
            ("gke", &["gke-flux-operator-nodes.json"]),
            (
                "k3s",
                &[
                    "k3s-support-bundle-nodes.json",
                    "k3s-support-bundle-pods-default.json",
                    "k3s-support-bundle-pods-kube-system.json",
                ],
            ),
            ("doks", &["doks-microk8s-support-bundle-nodes.json"]),
        ],
        // k3s and microk8s nodes carry no region label.
        &[(
            "_clusters.yaml",
            "clusters:\n  k3s: {region: lab}\n  doks: {region: sfo2}\n",
        )],
    );
    let scenario = load(&fleet, &apps).expect("the dumps read");
    let clusters = &scenario.problem.clusters;

    let gke = cluster(clusters, "gke");
    assert_eq!(gke.region, "us-central1");
    let default_pool = pool(gke, "default-pool");
    assert_eq!(default_pool.node_count(), 8);
    assert_eq!(default_pool.allocatable.get("cpu"), 55_790);
    assert_eq!(default_pool.allocatable.get("pods"), 110);

    // One node of 2 CPUs; its running pods use part of it, the Pending ones none.
    let k3s = cluster(clusters, "k3s");
    let nodes: u64 = k3s.pools.iter().map(NodePool::node_count).sum();
    assert_eq!(nodes, 1);
    let free = &k3s.pools[0].nodes[0].free;
    assert!(free.get("cpu") < 2000 && free.get("cpu") >= 0, "{free:?}");

    // DigitalOcean: typed lists whose items lack kind and apiVersion, as the API returns them.
    let doks = cluster(clusters, "doks");
    let nodes: u64 = doks.pools.iter().map(NodePool::node_count).sum();
    assert_eq!(nodes, 6);
    for (name, count, cpu) in [
        ("biggernode", 1, 8000),
        ("pool-yd23sqk7u", 3, 2000),
        ("smallnode", 1, 1000),
    ] {
        let pool = pool(doks, name);
        assert_eq!(
            (pool.node_count(), pool.allocatable.get("cpu")),
            (count, cpu),
            "{name}"
        );
    }
}

#[test]
fn an_eks_node_group_keeps_its_labels_and_taints() {
    let (_dir, fleet, apps) = scenario(
        &[("eks", &["eks-honeycomb-nodes.json", "eks-honeycomb-pods.json"])],
        &[],
    );
    // The dump was sanitised upstream: its two nodes claim two regions, which no cluster has.
    let error = load(&fleet, &apps).expect_err("two regions").to_string();
    assert!(
        error.contains("us-east-1") && error.contains("us-east-2"),
        "{error}"
    );

    let text = corpus("eks-honeycomb-nodes.json").replace("\"us-east-2\"", "\"us-east-1\"");
    std::fs::write(
        fleet.join("eks.yaml"),
        format!("{text}\n---\n{}", corpus("eks-honeycomb-pods.json")),
    )
    .expect("writes");
    let scenario = load(&fleet, &apps).expect("the EKS dump reads");
    let eks = cluster(&scenario.problem.clusters, "eks");
    assert_eq!(eks.region, "us-east-1");
    let nodes: u64 = eks.pools.iter().map(NodePool::node_count).sum();
    assert_eq!(nodes, 2);
    for pool in &eks.pools {
        assert!(pool.name.as_str().starts_with("custom-1"), "{}", pool.name);
        assert_eq!(pool.labels["kubernetes.io/arch"], "arm64");
        assert_eq!(pool.labels["node.kubernetes.io/instance-type"], "m6gd.2xlarge");
        let taints: Vec<String> = pool.taints.iter().map(ToString::to_string).collect();
        assert_eq!(taints, ["type=hound:NoSchedule"]);
    }
}

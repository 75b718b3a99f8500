//! eksctl's own example configs (every `examples/*.yaml` of eksctl's repository, copied into
//! `tests/corpus/eksctl/` with their source in `SOURCES.md`) read as eksctl and EKS would make
//! them: every file reads, except those whose node group takes its instance type from a launch
//! template, which fleetplan documents it does not read, and one that asks for an instance
//! type EC2 no longer offers; and the pools carry what EKS gives
//! the nodes (operating system, architecture, capacity type, volume, instance types).

use std::path::{Path, PathBuf};

use fleetplan::Cluster;
use fleetplan_aws::node_groups::{
    ARCH_LABEL, CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL, OS_LABEL, REGION_LABEL,
};
use fleetplan_aws::read_cluster_config;

const GIB: i64 = 1 << 30;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/eksctl")
}

fn read(name: &str) -> Result<Vec<Cluster>, String> {
    let path = corpus().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let documents: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(&text)
        .map(|document| serde::Deserialize::deserialize(document).unwrap_or_else(|e| panic!("{name}: {e}")))
        .filter(|value: &serde_json::Value| !value.is_null())
        .collect();
    read_cluster_config(&documents, Path::new(name)).map_err(|e| e.to_string())
}

/// The files that must fail, and what the error must say: two name their instance type only
/// in a launch template, and one asks for P3 instances, which EC2 no longer offers in any
/// region (EKS could not launch its nodes either).
const REFUSED: &[(&str, &str)] = &[
    (
        "15-managed-nodes.yaml",
        "managedNodeGroups[3].launchTemplate: the instance type is in launch template `lt-1234`, which fleetplan does not read",
    ),
    (
        "23-kubeflow-spot-instance.yaml",
        "instancesDistribution.instanceTypes[0]: unknown instance type `p3.2xlarge`: EC2 does not offer it",
    ),
    (
        "22-managed-nodes-launch-template.yaml",
        "managedNodeGroups[0].launchTemplate: the instance type is in launch template `lt-1234`, which fleetplan does not read",
    ),
];

#[test]
fn every_example_reads_or_names_the_feature_fleetplan_does_not_model() {
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .expect("the corpus")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 49, "eksctl's 49 examples");
    for name in &names {
        match (read(name), REFUSED.iter().find(|(n, _)| n == name)) {
            (Ok(clusters), None) => {
                assert_eq!(clusters.len(), 1, "{name}: one ClusterConfig");
                for pool in clusters[0].pools.iter().filter(|p| p.fargate.is_none()) {
                    for key in [OS_LABEL, ARCH_LABEL, INSTANCE_TYPE_LABEL, REGION_LABEL] {
                        assert!(
                            pool.labels.contains_key(key),
                            "{name}: pool {} lacks {key}",
                            pool.name
                        );
                    }
                    assert!(
                        pool.allocatable.get("ephemeral-storage") > 0,
                        "{name}: {}",
                        pool.name
                    );
                    assert!(pool.node_price.is_some(), "{name}: {} has no price", pool.name);
                }
            }
            (Err(error), Some((_, expected))) => {
                assert!(
                    error.starts_with(name) && error.contains(expected),
                    "{name}: {error}"
                );
            }
            (Ok(_), Some(_)) => panic!("{name} must be refused"),
            (Err(error), None) => panic!("{name} must read: {error}"),
        }
    }
}

fn pool<'a>(clusters: &'a [Cluster], name: &str) -> &'a fleetplan::NodePool {
    clusters[0]
        .pools
        .iter()
        .find(|p| p.name.as_str() == name)
        .unwrap_or_else(|| panic!("no pool {name}"))
}

#[test]
fn windows_groups_run_windows() {
    let clusters = read("14-windows-nodes.yaml").unwrap();
    let windows: Vec<&str> = clusters[0]
        .pools
        .iter()
        .filter(|p| p.labels[OS_LABEL] == "windows")
        .map(|p| p.name.as_str())
        .collect();
    assert!(!windows.is_empty(), "{:?}", clusters[0].pools);
    let clusters = read("32-windows-nodes-with-containerd.yaml").unwrap();
    assert!(
        clusters[0]
            .pools
            .iter()
            .filter(|p| p.labels[OS_LABEL] == "windows")
            .count()
            >= 2
    );
    let clusters = read("20-bottlerocket.yaml").unwrap();
    assert!(clusters[0].pools.iter().all(|p| p.labels[OS_LABEL] == "linux"));
}

#[test]
fn spot_groups_are_priced_and_labelled_as_spot() {
    let clusters = read("26-managed-nodegroup-spot-instances.yaml").unwrap();
    let spot: Vec<&fleetplan::NodePool> = clusters[0]
        .pools
        .iter()
        .filter(|p| p.labels.get(CAPACITY_TYPE_LABEL).map(String::as_str) == Some("SPOT"))
        .collect();
    assert!(!spot.is_empty());
    for pool in spot {
        let instance = &pool.labels[INSTANCE_TYPE_LABEL];
        let on_demand = fleetplan_aws::prices::on_demand_linux(instance, &clusters[0].region).unwrap();
        let price = pool.node_price.unwrap().units();
        assert!(
            price < on_demand,
            "{}: {price} is not below {on_demand}",
            pool.name
        );
    }
}

#[test]
fn instance_selectors_resolve_to_types_of_that_size() {
    let clusters = read("28-instance-selector.yaml").unwrap();
    for (name, memory) in [("ng", 4 * GIB), ("mng", 2 * GIB)] {
        let pool = pool(&clusters, name);
        let instance =
            fleetplan_aws::instance_types::instance_type(&pool.labels[INSTANCE_TYPE_LABEL]).unwrap();
        assert_eq!(instance.vcpus, 2, "{name}");
        assert_eq!(instance.memory_bytes(), memory, "{name}");
        assert_eq!(pool.labels[ARCH_LABEL], "amd64");
    }
}

#[test]
fn volume_sizes_give_ephemeral_storage() {
    let clusters = read("01-simple-cluster.yaml").unwrap();
    for pool in &clusters[0].pools {
        assert_eq!(
            pool.allocatable.get("ephemeral-storage"),
            71 * GIB,
            "{}",
            pool.name
        );
    }
}

//! Simulated nodes: the Node objects kwok manages, made from a cluster's pools.

use std::collections::BTreeMap;

use fleetplan::{Cluster, NodePool, ResourceName, Resources, TaintEffect};
use k8s_openapi::api::core::v1::{Node, NodeSpec, NodeStatus, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::fargate::fargate_nodes;

/// The label that marks a Fargate pool; its nodes also get the Fargate `NoSchedule` taint,
/// as EKS gives them.
pub const FARGATE_LABEL: (&str, &str) = ("eks.amazonaws.com/compute-type", "fargate");

/// The annotation that hands a node to kwok.
pub(crate) const KWOK_ANNOTATION: (&str, &str) = ("kwok.x-k8s.io/node", "fake");

/// The Node objects for every node of every pool of `cluster`, named `<pool>-<n>`, with the
/// cluster's region, the pool's zone, labels, taints and allocatable resources; then the
/// virtual Fargate nodes when the cluster has Fargate profiles (see [`crate::fargate`]).
pub fn node_objects(cluster: &Cluster) -> Vec<Node> {
    cluster
        .pools
        .iter()
        .flat_map(|pool| {
            (0..pool.node_count()).map(move |n| node(cluster, pool, format!("{}-{n}", pool.name)))
        })
        .chain(fargate_nodes(cluster))
        .collect()
}

/// The node `name` of `pool` in `cluster`.
pub(crate) fn node(cluster: &Cluster, pool: &NodePool, name: String) -> Node {
    let mut labels: BTreeMap<String, String> = pool.labels.clone();
    labels.insert("kubernetes.io/hostname".into(), name.clone());
    labels.insert("topology.kubernetes.io/region".into(), cluster.region.clone());
    if let Some(zone) = &pool.zone {
        labels.insert("topology.kubernetes.io/zone".into(), zone.clone());
    }
    labels.insert("fleetplan.io/pool".into(), pool.name.to_string());
    labels.insert("type".into(), "kwok".into());
    let mut taints: Vec<Taint> = pool
        .taints
        .iter()
        .map(|t| Taint {
            key: t.key.clone(),
            value: (!t.value.is_empty()).then(|| t.value.clone()),
            effect: match t.effect {
                TaintEffect::NoSchedule => "NoSchedule",
                TaintEffect::PreferNoSchedule => "PreferNoSchedule",
                TaintEffect::NoExecute => "NoExecute",
            }
            .into(),
            time_added: None,
        })
        .collect();
    let fargate = labels.get(FARGATE_LABEL.0).is_some_and(|v| v == FARGATE_LABEL.1);
    if fargate && !taints.iter().any(|t| t.key == FARGATE_LABEL.0) {
        taints.push(Taint {
            key: FARGATE_LABEL.0.into(),
            value: Some(FARGATE_LABEL.1.into()),
            effect: "NoSchedule".into(),
            time_added: None,
        });
    }
    let resources = quantities(&pool.allocatable);
    Node {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(labels),
            annotations: Some([(KWOK_ANNOTATION.0.to_string(), KWOK_ANNOTATION.1.to_string())].into()),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: (!taints.is_empty()).then_some(taints),
            ..NodeSpec::default()
        }),
        status: Some(NodeStatus {
            allocatable: Some(resources.clone()),
            capacity: Some(resources),
            ..NodeStatus::default()
        }),
    }
}

/// Canonical amounts as Kubernetes quantities (CPU in millicores, the rest in units).
fn quantities(resources: &Resources) -> BTreeMap<String, Quantity> {
    resources
        .iter()
        .map(|(name, amount)| {
            let text = if name.as_str() == ResourceName::CPU {
                format!("{amount}m")
            } else {
                amount.to_string()
            };
            (name.to_string(), Quantity(text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetplan::{NodePool, Taint as CoreTaint};

    #[test]
    fn nodes_carry_topology_pool_labels_taints_and_allocatable() {
        let mut cluster = Cluster::new("east", "us-east-1");
        let mut pool = NodePool::uniform(
            "gpu",
            2,
            Resources::new()
                .with("cpu", 4000)
                .with("memory", 16 << 30)
                .with("pods", 110),
        );
        pool.zone = Some("us-east-1a".into());
        pool.labels.insert("accelerator".into(), "a10g".into());
        pool.taints.push(CoreTaint {
            key: "nvidia.com/gpu".into(),
            value: String::new(),
            effect: TaintEffect::NoSchedule,
        });
        cluster.pools.push(pool);
        let nodes = node_objects(&cluster);
        assert_eq!(nodes.len(), 2);
        let node = &nodes[1];
        assert_eq!(node.metadata.name.as_deref(), Some("gpu-1"));
        let labels = node.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels["topology.kubernetes.io/region"], "us-east-1");
        assert_eq!(labels["topology.kubernetes.io/zone"], "us-east-1a");
        assert_eq!(labels["accelerator"], "a10g");
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .expect("taints");
        assert_eq!(
            (taints[0].key.as_str(), taints[0].effect.as_str()),
            ("nvidia.com/gpu", "NoSchedule")
        );
        let allocatable = node
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .expect("allocatable");
        assert_eq!(allocatable["cpu"].0, "4000m");
        assert_eq!(allocatable["memory"].0, (16u64 << 30).to_string());
    }

    #[test]
    fn fargate_pools_get_the_fargate_taint() {
        let mut cluster = Cluster::new("east", "us-east-1");
        let mut pool = NodePool::uniform("fargate", 1, Resources::new().with("cpu", 4000));
        pool.labels.insert(FARGATE_LABEL.0.into(), FARGATE_LABEL.1.into());
        cluster.pools.push(pool);
        let nodes = node_objects(&cluster);
        let taints = nodes[0]
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .expect("taints");
        assert_eq!(taints[0].key, FARGATE_LABEL.0);
        assert_eq!(taints[0].value.as_deref(), Some("fargate"));
    }
}

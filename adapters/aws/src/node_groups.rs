//! EKS node groups as node pools: the nodes' size from their instance type, their ephemeral
//! storage from the root volume, their price, and the labels EKS and the kubelet put on every
//! node, so that a workload's node selectors and affinities match what they would match on
//! the real nodes.
//!
//! Both readers (eksctl files and the EKS API) describe a group as a [`NodeGroupSpec`] and
//! turn it into a pool with [`node_pool`].

use fleetplan::{Labels, NodePool, ResourceName, Taint};

use crate::error::AwsError;
use crate::instance_types::{InstanceType, Os, ephemeral_storage_bytes, lookup};
use crate::prices::{Capacity, node_price};

/// The node label holding the instance type.
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
/// The node label holding the managed node group name.
pub const NODEGROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";
/// The node label of a managed node group's capacity type: `ON_DEMAND` or `SPOT`.
pub const CAPACITY_TYPE_LABEL: &str = "eks.amazonaws.com/capacityType";
/// The node label holding the zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The node label holding the region.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
/// The node label holding the operating system.
pub const OS_LABEL: &str = "kubernetes.io/os";
/// The node label holding the CPU architecture.
pub const ARCH_LABEL: &str = "kubernetes.io/arch";

/// A node group as both readers see it: an EKS managed node group, an eksctl self-managed node
/// group, or one described by the EKS API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeGroupSpec {
    /// The node group name; it names the pool.
    pub name: String,
    /// An EKS managed node group (whose nodes carry the `eks.amazonaws.com/` labels), rather
    /// than a self-managed one.
    pub managed: bool,
    /// The EC2 instance types it may launch, in priority order; the nodes are taken to be of
    /// the first (EKS launches on-demand nodes in that order).
    pub instance_types: Vec<String>,
    /// How many nodes it runs (the desired size).
    pub desired: u32,
    /// The cluster's region.
    pub region: String,
    /// Its zone, when all its nodes are in one.
    pub zone: Option<String>,
    /// The nodes' operating system.
    pub os: Os,
    /// How it buys its nodes.
    pub capacity: Capacity,
    /// The size of each node's root volume, in GiB.
    pub volume_gib: u32,
    /// The Kubernetes labels it puts on its nodes.
    pub labels: Labels,
    /// The Kubernetes taints it puts on its nodes.
    pub taints: Vec<Taint>,
}

/// What went wrong with a spec, and the index of the instance type at fault (for the field
/// path), if one is.
#[derive(Debug)]
pub struct SpecError {
    /// The index in [`NodeGroupSpec::instance_types`] of the type at fault, if one is.
    pub instance_type: Option<usize>,
    /// What was wrong.
    pub error: Box<AwsError>,
}

/// The pool of a node group: `desired` empty nodes of its first instance type's
/// allocatable resources with the root volume's ephemeral storage, priced for its region,
/// operating system and capacity ([`crate::prices`]).
///
/// Its labels are the group's own plus those the kubelet and EKS put on every node, which win
/// over a group label of the same key as the kubelet's do: `kubernetes.io/os` and
/// `kubernetes.io/arch` (and their `beta.` twins), [`INSTANCE_TYPE_LABEL`] (and
/// `beta.kubernetes.io/instance-type`), [`REGION_LABEL`], [`ZONE_LABEL`] when the zone is
/// known; for managed groups also [`NODEGROUP_LABEL`] and [`CAPACITY_TYPE_LABEL`].
///
/// Every instance type must be known (in the table, or in `live`: types read from the EC2
/// API, [`crate::ec2`]), of one architecture, and not an EC2 Mac type.
pub fn node_pool(spec: &NodeGroupSpec, live: &[InstanceType]) -> Result<NodePool, SpecError> {
    let find = |name: &str| match live.iter().find(|t| t.name == name) {
        Some(found) => Ok(found),
        None => lookup(name),
    };
    let at = |i: usize| {
        move |error: AwsError| SpecError {
            instance_type: Some(i),
            error: Box::new(error),
        }
    };
    let Some(first) = spec.instance_types.first() else {
        return Err(SpecError {
            instance_type: None,
            error: Box::new(AwsError::NoInstanceType),
        });
    };
    let instance = find(first).map_err(at(0))?;
    for (i, name) in spec.instance_types.iter().enumerate() {
        let other = find(name).map_err(at(i))?;
        if other.mac {
            return Err(at(i)(AwsError::MacInstanceType {
                instance_type: name.clone(),
            }));
        }
        if other.arch != instance.arch {
            return Err(at(i)(AwsError::MixedArchitectures {
                first: first.clone(),
                other: name.clone(),
            }));
        }
    }
    let mut allocatable = instance.allocatable(spec.os);
    allocatable.set(
        ResourceName::EPHEMERAL_STORAGE,
        ephemeral_storage_bytes(spec.volume_gib),
    );
    let mut pool = NodePool::uniform(&spec.name, spec.desired, allocatable);
    pool.labels = spec.labels.clone();
    for (key, value) in node_labels(spec, instance) {
        pool.labels.insert(key.to_owned(), value);
    }
    pool.zone = spec.zone.clone();
    pool.taints = spec.taints.clone();
    pool.node_price = node_price(instance, &spec.region, spec.os, spec.capacity);
    Ok(pool)
}

/// The labels the kubelet and EKS put on every node of the group (see [`node_pool`]).
fn node_labels(spec: &NodeGroupSpec, instance: &InstanceType) -> Vec<(&'static str, String)> {
    let os = spec.os.label().to_owned();
    let arch = instance.arch.label().to_owned();
    let mut labels = vec![
        (OS_LABEL, os.clone()),
        ("beta.kubernetes.io/os", os),
        (ARCH_LABEL, arch.clone()),
        ("beta.kubernetes.io/arch", arch),
        (INSTANCE_TYPE_LABEL, instance.name.clone()),
        ("beta.kubernetes.io/instance-type", instance.name.clone()),
        (REGION_LABEL, spec.region.clone()),
    ];
    if let Some(zone) = &spec.zone {
        labels.push((ZONE_LABEL, zone.clone()));
    }
    if spec.managed {
        labels.push((NODEGROUP_LABEL, spec.name.clone()));
        let capacity = match spec.capacity {
            Capacity::Spot => "SPOT",
            Capacity::OnDemand | Capacity::Mixed { .. } => "ON_DEMAND",
        };
        labels.push((CAPACITY_TYPE_LABEL, capacity.to_owned()));
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance_types::allocatable;
    use fleetplan::{HourlyPrice, TaintEffect};

    fn spec(types: &[&str]) -> NodeGroupSpec {
        NodeGroupSpec {
            name: "workers".into(),
            managed: true,
            instance_types: types.iter().map(|t| (*t).to_owned()).collect(),
            desired: 3,
            region: "us-east-1".into(),
            zone: Some("us-east-1a".into()),
            volume_gib: 80,
            labels: [("role".to_owned(), "web".to_owned())].into(),
            taints: vec![Taint {
                key: "dedicated".into(),
                value: "web".into(),
                effect: TaintEffect::NoSchedule,
            }],
            ..NodeGroupSpec::default()
        }
    }

    #[test]
    fn node_pools_carry_the_eks_labels_storage_and_price() {
        let spec = spec(&["m5.xlarge"]);
        let pool = node_pool(&spec, &[]).unwrap();
        assert_eq!(pool.name.as_str(), "workers");
        assert_eq!(pool.node_count(), 3);
        assert_eq!(
            pool.allocatable.get("cpu"),
            allocatable("m5.xlarge").unwrap().get("cpu")
        );
        assert_eq!(pool.allocatable.get("ephemeral-storage"), 71 << 30);
        assert_eq!(pool.nodes[0].free, pool.allocatable);
        for (key, value) in [
            (INSTANCE_TYPE_LABEL, "m5.xlarge"),
            (NODEGROUP_LABEL, "workers"),
            (CAPACITY_TYPE_LABEL, "ON_DEMAND"),
            (ZONE_LABEL, "us-east-1a"),
            (REGION_LABEL, "us-east-1"),
            (OS_LABEL, "linux"),
            (ARCH_LABEL, "amd64"),
            ("role", "web"),
        ] {
            assert_eq!(pool.labels[key], value, "{key}");
        }
        assert_eq!(pool.zone.as_deref(), Some("us-east-1a"));
        assert_eq!(pool.taints, spec.taints);
        assert_eq!(pool.node_price, HourlyPrice::from_units(0.192));
        assert_eq!(pool.fargate, None);
    }

    #[test]
    fn self_managed_groups_lack_the_managed_labels() {
        let pool = node_pool(
            &NodeGroupSpec {
                managed: false,
                ..spec(&["m5.large"])
            },
            &[],
        )
        .unwrap();
        assert!(!pool.labels.contains_key(NODEGROUP_LABEL));
        assert!(!pool.labels.contains_key(CAPACITY_TYPE_LABEL));
    }

    #[test]
    fn graviton_windows_and_spot_groups_are_labelled_and_priced_as_such() {
        let graviton = node_pool(&spec(&["m6g.large"]), &[]).unwrap();
        assert_eq!(graviton.labels[ARCH_LABEL], "arm64");
        let windows = node_pool(
            &NodeGroupSpec {
                os: Os::Windows,
                ..spec(&["m5.large"])
            },
            &[],
        )
        .unwrap();
        assert_eq!(windows.labels[OS_LABEL], "windows");
        assert_eq!(windows.allocatable.get("pods"), 9);
        let spot = node_pool(
            &NodeGroupSpec {
                capacity: Capacity::Spot,
                ..spec(&["m5.large"])
            },
            &[],
        )
        .unwrap();
        assert_eq!(spot.labels[CAPACITY_TYPE_LABEL], "SPOT");
        assert!(spot.node_price.unwrap().units() < 0.05);
    }

    #[test]
    fn types_read_live_stand_beside_the_table() {
        let mut new = crate::instance_types::instance_type("m5.large").unwrap().clone();
        new.name = "m9.large".into();
        let pool = node_pool(&spec(&["m9.large"]), std::slice::from_ref(&new)).unwrap();
        assert_eq!(pool.labels[INSTANCE_TYPE_LABEL], "m9.large");
        assert_eq!(pool.allocatable.get("pods"), 29);
        assert_eq!(pool.node_price, None, "no price is known for it");
    }

    #[test]
    fn every_instance_type_must_be_known_and_of_one_architecture() {
        let unknown = node_pool(&spec(&["m5.large", "x9.huge"]), &[]).unwrap_err();
        assert_eq!(unknown.instance_type, Some(1));
        assert!(unknown.error.to_string().contains("x9.huge"));
        let mixed = node_pool(&spec(&["m5.large", "m6g.large"]), &[]).unwrap_err();
        assert_eq!(mixed.instance_type, Some(1));
        assert!(
            mixed.error.to_string().contains("architecture"),
            "{}",
            mixed.error
        );
        let mac = node_pool(&spec(&["mac1.metal"]), &[]).unwrap_err();
        assert!(mac.error.to_string().contains("Mac"), "{}", mac.error);
        assert_eq!(node_pool(&spec(&[]), &[]).unwrap_err().instance_type, None);
    }
}

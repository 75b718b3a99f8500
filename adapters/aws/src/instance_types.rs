//! EC2 instance types of EKS managed and self-managed node groups: their size, what a node of
//! each type can give to pods, what it costs, and the [`NodePool`] a node group of them is.
//!
//! **Source.** The table ([`INSTANCE_TYPES`]) follows the EKS AMI `eni-max-pods` data and
//! bootstrap reservation formula, and AWS on-demand prices (Linux, us-east-1, 2026). Every
//! type listed is x86-64 with nominal memory in GiB.
//!
//! **Max pods** is the EKS AMI ENI formula: `enis × (ips_per_eni − 1) + 2` (each ENI keeps one
//! address for itself; two host-network pods, `aws-node` and `kube-proxy`, need none). An
//! m5.large (3 ENIs of 10 addresses) runs 29 pods.
//!
//! **Allocatable** is what the EKS AL2023 and AL2 AMIs leave to pods, with no
//! `systemReserved`:
//!
//! - CPU: the capacity less kube-reserved, which is 6% of the first core, 1% of the second,
//!   0.5% of each of cores 3 and 4, and 0.25% of every core above 4, computed per range in
//!   whole millicores, rounded down, as the bootstrap script does. Two vCPUs reserve
//!   60 + 10 = 70m and leave 1930m; eight reserve 60 + 10 + 10 + 10 = 90m.
//! - Memory: the nominal capacity less kube-reserved, `11 MiB × max_pods + 255 MiB`, less the
//!   hard eviction threshold of 100 MiB. An m5.large (8 GiB, 29 pods) leaves
//!   8192 − 574 − 100 = 7518 MiB. (A real node's memory capacity is a few percent below the
//!   nominal size, the kernel's share; plans from this table are that much optimistic.)
//! - Pods: max pods.
//! - `nvidia.com/gpu`: the GPUs of GPU types (g4dn, g5, p3), with the NVIDIA device plugin.
//!
//! Ephemeral storage is not listed: it depends on the node group's volume size.

use fleetplan::{HourlyPrice, Labels, NodePool, ResourceName, Resources, Taint};

use crate::error::AwsError;

/// The node label holding the instance type.
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
/// The node label holding the node group name.
pub const NODEGROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";
/// The node label holding the zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The extended resource of NVIDIA GPUs.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The hard eviction threshold for memory of the EKS AMIs: 100 MiB.
pub const EVICTION_HARD_MEMORY_BYTES: i64 = 100 * MIB;

const MIB: i64 = 1 << 20;
const GIB: i64 = 1 << 30;

/// One EC2 instance type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstanceType {
    /// The API name, such as `m5.large`.
    pub name: &'static str,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory, in GiB.
    pub memory_gib: u32,
    /// Elastic network interfaces a node can attach.
    pub enis: u32,
    /// IPv4 addresses per network interface.
    pub ips_per_eni: u32,
    /// NVIDIA GPUs.
    pub gpus: u32,
    /// On-demand Linux price in us-east-1, in millionths of a US dollar per hour.
    pub price_micros: u64,
}

const fn t(
    name: &'static str,
    vcpus: u32,
    memory_gib: u32,
    enis: u32,
    ips_per_eni: u32,
    gpus: u32,
    price_micros: u64,
) -> InstanceType {
    InstanceType {
        name,
        vcpus,
        memory_gib,
        enis,
        ips_per_eni,
        gpus,
        price_micros,
    }
}

/// The instance table: name, vCPUs, memory GiB, ENIs, IPv4 addresses per ENI, GPUs, and the
/// us-east-1 on-demand Linux price per hour in millionths of a dollar.
pub const INSTANCE_TYPES: &[InstanceType] = &[
    t("t3.small", 2, 2, 3, 4, 0, 20_800),
    t("t3.medium", 2, 4, 3, 6, 0, 41_600),
    t("t3.large", 2, 8, 3, 12, 0, 83_200),
    t("t3.xlarge", 4, 16, 4, 15, 0, 166_400),
    t("t3.2xlarge", 8, 32, 4, 15, 0, 332_800),
    t("m5.large", 2, 8, 3, 10, 0, 96_000),
    t("m5.xlarge", 4, 16, 4, 15, 0, 192_000),
    t("m5.2xlarge", 8, 32, 4, 15, 0, 384_000),
    t("m5.4xlarge", 16, 64, 8, 30, 0, 768_000),
    t("m5.8xlarge", 32, 128, 8, 30, 0, 1_536_000),
    t("m6i.large", 2, 8, 3, 10, 0, 96_000),
    t("m6i.xlarge", 4, 16, 4, 15, 0, 192_000),
    t("m6i.2xlarge", 8, 32, 4, 15, 0, 384_000),
    t("m6i.4xlarge", 16, 64, 8, 30, 0, 768_000),
    t("m7i.large", 2, 8, 3, 10, 0, 100_800),
    t("m7i.xlarge", 4, 16, 4, 15, 0, 201_600),
    t("m7i.2xlarge", 8, 32, 4, 15, 0, 403_200),
    t("c5.large", 2, 4, 3, 10, 0, 85_000),
    t("c5.xlarge", 4, 8, 4, 15, 0, 170_000),
    t("c5.2xlarge", 8, 16, 4, 15, 0, 340_000),
    t("c5.4xlarge", 16, 32, 8, 30, 0, 680_000),
    t("c6i.large", 2, 4, 3, 10, 0, 85_000),
    t("c6i.xlarge", 4, 8, 4, 15, 0, 170_000),
    t("c6i.2xlarge", 8, 16, 4, 15, 0, 340_000),
    t("r5.large", 2, 16, 3, 10, 0, 126_000),
    t("r5.xlarge", 4, 32, 4, 15, 0, 252_000),
    t("r5.2xlarge", 8, 64, 4, 15, 0, 504_000),
    t("r6i.large", 2, 16, 3, 10, 0, 126_000),
    t("r6i.xlarge", 4, 32, 4, 15, 0, 252_000),
    t("r6i.2xlarge", 8, 64, 4, 15, 0, 504_000),
    t("g4dn.xlarge", 4, 16, 3, 10, 1, 526_000),
    t("g4dn.2xlarge", 8, 32, 3, 10, 1, 752_000),
    t("g5.xlarge", 4, 16, 4, 15, 1, 1_006_000),
    t("g5.2xlarge", 8, 32, 4, 15, 1, 1_212_000),
    t("p3.2xlarge", 8, 61, 4, 15, 1, 3_060_000),
];

/// The CPU reservation ranges of the EKS AMIs: `(from, to)` in millicores of capacity and the
/// share reserved in that range, in hundredths of a percent.
const CPU_RESERVATION: [(i64, i64, i64); 4] = [
    (0, 1000, 600),
    (1000, 2000, 100),
    (2000, 4000, 50),
    (4000, i64::MAX, 25),
];

impl InstanceType {
    /// Pods a node can run: `enis × (ips_per_eni − 1) + 2`.
    pub fn max_pods(&self) -> u32 {
        self.enis * (self.ips_per_eni - 1) + 2
    }

    /// CPU capacity, in millicores.
    pub fn cpu_millis(&self) -> i64 {
        i64::from(self.vcpus) * 1000
    }

    /// Memory capacity, in bytes.
    pub fn memory_bytes(&self) -> i64 {
        i64::from(self.memory_gib) * GIB
    }

    /// The CPU the AMI reserves for the kubelet and the container runtime, in millicores.
    pub fn kube_reserved_cpu_millis(&self) -> i64 {
        let capacity = self.cpu_millis();
        CPU_RESERVATION
            .iter()
            .filter(|(from, _, _)| capacity > *from)
            .map(|&(from, to, share)| (capacity.min(to) - from) * share / 10_000)
            .sum()
    }

    /// The memory the AMI reserves for the kubelet and the container runtime, in bytes:
    /// `11 MiB × max_pods + 255 MiB`.
    pub fn kube_reserved_memory_bytes(&self) -> i64 {
        (11 * i64::from(self.max_pods()) + 255) * MIB
    }

    /// What one node gives to pods, in canonical units: CPU, memory, pods, and GPUs when it
    /// has any.
    pub fn allocatable(&self) -> Resources {
        let mut resources = Resources::new()
            .with(
                ResourceName::CPU,
                self.cpu_millis() - self.kube_reserved_cpu_millis(),
            )
            .with(
                ResourceName::MEMORY,
                self.memory_bytes() - self.kube_reserved_memory_bytes() - EVICTION_HARD_MEMORY_BYTES,
            )
            .with(ResourceName::PODS, i64::from(self.max_pods()));
        if self.gpus > 0 {
            resources.set(GPU_RESOURCE, i64::from(self.gpus));
        }
        resources
    }

    /// The on-demand price of one node per hour.
    pub fn price(&self) -> HourlyPrice {
        HourlyPrice(self.price_micros)
    }
}

/// The table entry of `instance_type`, if the table has it.
pub fn instance_type(instance_type: &str) -> Option<&'static InstanceType> {
    INSTANCE_TYPES.iter().find(|t| t.name == instance_type)
}

/// What one node of `instance_type` gives to pods (see the module docs), or `None` for a type
/// the table does not have.
pub fn allocatable(instance_type: &str) -> Option<Resources> {
    self::instance_type(instance_type).map(InstanceType::allocatable)
}

/// The us-east-1 on-demand Linux price of one node of `instance_type` per hour, or `None` for a
/// type the table does not have.
pub fn price(instance_type: &str) -> Option<HourlyPrice> {
    self::instance_type(instance_type).map(InstanceType::price)
}

/// The table entry of `instance_type`, or [`AwsError::UnknownInstanceType`].
pub fn lookup(instance_type: &str) -> Result<&'static InstanceType, AwsError> {
    self::instance_type(instance_type).ok_or_else(|| AwsError::UnknownInstanceType {
        instance_type: instance_type.to_owned(),
        known: INSTANCE_TYPES
            .iter()
            .map(|t| t.name)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A node group as both readers see it: an EKS managed node group, an eksctl self-managed node
/// group, or one described by the EKS API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeGroupSpec {
    /// The node group name; it names the pool.
    pub name: String,
    /// The EC2 instance type of its nodes.
    pub instance_type: String,
    /// How many nodes it runs (the desired size).
    pub desired: u32,
    /// The Kubernetes labels it puts on its nodes.
    pub labels: Labels,
    /// The Kubernetes taints it puts on its nodes.
    pub taints: Vec<Taint>,
    /// Its zone, when all its nodes are in one.
    pub zone: Option<String>,
}

/// The pool of a node group: `desired` empty nodes of the instance type's
/// [`allocatable`] resources, priced from the table. Its labels are the group's own plus the
/// labels EKS puts on every node: [`INSTANCE_TYPE_LABEL`], [`NODEGROUP_LABEL`] (the group's
/// name), `kubernetes.io/os: linux`, `kubernetes.io/arch: amd64`, and [`ZONE_LABEL`] when
/// the zone is known; those win over a group label of the same key, as the kubelet's do.
///
/// An instance type the table does not have is an [`AwsError::UnknownInstanceType`].
pub fn node_pool(spec: &NodeGroupSpec) -> Result<NodePool, AwsError> {
    let instance = lookup(&spec.instance_type)?;
    let mut pool = NodePool::uniform(&spec.name, spec.desired, instance.allocatable());
    pool.labels = spec.labels.clone();
    let mut set = |key: &str, value: &str| pool.labels.insert(key.to_owned(), value.to_owned());
    set(INSTANCE_TYPE_LABEL, instance.name);
    set(NODEGROUP_LABEL, &spec.name);
    set("kubernetes.io/os", "linux");
    set("kubernetes.io/arch", "amd64");
    if let Some(zone) = &spec.zone {
        set(ZONE_LABEL, zone);
    }
    pool.zone = spec.zone.clone();
    pool.taints = spec.taints.clone();
    pool.node_price = Some(instance.price());
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetplan::TaintEffect;

    #[test]
    fn m5_large_follows_the_ami_formula() {
        let r = allocatable("m5.large").unwrap();
        assert_eq!(r.get("cpu"), 1930);
        assert_eq!(r.get("pods"), 29);
        // 8 GiB less 11 MiB x 29 + 255 MiB and the 100 MiB eviction threshold.
        assert_eq!(r.get("memory"), (8192 - 574 - 100) << 20);
        assert_eq!(r.get(GPU_RESOURCE), 0);
        assert!(!r.iter().any(|(name, _)| name.as_str() == GPU_RESOURCE));
        assert_eq!(price("m5.large"), HourlyPrice::from_units(0.096));
    }

    #[test]
    fn cpu_reservation_follows_the_ranges() {
        let cpu = |name: &str| instance_type(name).unwrap().kube_reserved_cpu_millis();
        assert_eq!(cpu("t3.medium"), 70);
        assert_eq!(cpu("m5.xlarge"), 80);
        assert_eq!(cpu("m5.2xlarge"), 90);
        assert_eq!(cpu("m5.4xlarge"), 110);
        assert_eq!(cpu("m5.8xlarge"), 150);
        // Odd counts above 4 round down per range, as the bootstrap script's integers do.
        let five = InstanceType {
            vcpus: 5,
            ..*instance_type("m5.xlarge").unwrap()
        };
        assert_eq!(five.kube_reserved_cpu_millis(), 82);
    }

    #[test]
    fn max_pods_follow_the_eni_formula() {
        let pods = |name: &str| instance_type(name).unwrap().max_pods();
        assert_eq!(pods("t3.small"), 11);
        assert_eq!(pods("t3.medium"), 17);
        assert_eq!(pods("t3.large"), 35);
        assert_eq!(pods("m5.large"), 29);
        assert_eq!(pods("m5.xlarge"), 58);
        assert_eq!(pods("m5.4xlarge"), 234);
        assert_eq!(pods("g4dn.xlarge"), 29);
    }

    #[test]
    fn gpu_types_offer_gpus() {
        for name in ["g4dn.xlarge", "g5.xlarge", "p3.2xlarge"] {
            assert_eq!(allocatable(name).unwrap().get(GPU_RESOURCE), 1, "{name}");
        }
        let p3 = allocatable("p3.2xlarge").unwrap();
        assert_eq!(p3.get("cpu"), 8000 - 90);
        assert_eq!(p3.get("memory"), 61 * GIB - (11 * 58 + 255) * MIB - 100 * MIB);
    }

    #[test]
    fn the_table_is_sane() {
        for (i, t) in INSTANCE_TYPES.iter().enumerate() {
            assert!(
                INSTANCE_TYPES[..i].iter().all(|u| u.name != t.name),
                "{} twice",
                t.name
            );
            let r = t.allocatable();
            assert!(
                r.get("cpu") > 0 && r.get("memory") > 0 && r.get("pods") > 0,
                "{}",
                t.name
            );
            assert!(t.price_micros > 0, "{}", t.name);
        }
        for name in [
            "t3.medium",
            "t3.large",
            "t3.xlarge",
            "m5.large",
            "m5.xlarge",
            "m5.2xlarge",
            "m5.4xlarge",
            "m6i.large",
            "m6i.xlarge",
            "m6i.2xlarge",
            "m7i.large",
            "m7i.xlarge",
            "c5.large",
            "c5.xlarge",
            "c5.2xlarge",
            "c6i.large",
            "c6i.xlarge",
            "r5.large",
            "r5.xlarge",
            "r6i.large",
            "r6i.xlarge",
            "g4dn.xlarge",
            "g5.xlarge",
            "p3.2xlarge",
        ] {
            assert!(instance_type(name).is_some(), "{name} is missing");
        }
    }

    #[test]
    fn node_pools_carry_the_eks_labels_and_price() {
        let spec = NodeGroupSpec {
            name: "workers".into(),
            instance_type: "c5.xlarge".into(),
            desired: 3,
            labels: [("role".to_owned(), "web".to_owned())].into(),
            taints: vec![Taint {
                key: "dedicated".into(),
                value: "web".into(),
                effect: TaintEffect::NoSchedule,
            }],
            zone: Some("us-east-1a".into()),
        };
        let pool = node_pool(&spec).unwrap();
        assert_eq!(pool.name.as_str(), "workers");
        assert_eq!(pool.node_count(), 3);
        assert_eq!(pool.allocatable, allocatable("c5.xlarge").unwrap());
        assert_eq!(pool.nodes[0].free, pool.allocatable);
        assert_eq!(pool.labels[INSTANCE_TYPE_LABEL], "c5.xlarge");
        assert_eq!(pool.labels[NODEGROUP_LABEL], "workers");
        assert_eq!(pool.labels[ZONE_LABEL], "us-east-1a");
        assert_eq!(pool.labels["role"], "web");
        assert_eq!(pool.labels["kubernetes.io/os"], "linux");
        assert_eq!(pool.zone.as_deref(), Some("us-east-1a"));
        assert_eq!(pool.taints, spec.taints);
        assert_eq!(pool.node_price, HourlyPrice::from_units(0.17));
        assert_eq!(pool.fargate, None);
    }

    #[test]
    fn unknown_instance_types_are_named() {
        let spec = NodeGroupSpec {
            name: "big".into(),
            instance_type: "x9.huge".into(),
            desired: 1,
            ..NodeGroupSpec::default()
        };
        let message = node_pool(&spec).unwrap_err().to_string();
        assert!(
            message.starts_with("unknown instance type `x9.huge`"),
            "{message}"
        );
        assert!(message.contains("m5.large"), "{message}");
    }
}

//! EC2 instance types: their size, and what one node of each gives to pods on EKS.
//!
//! **Source.** The table is generated, never hand-kept: `adapters/aws/data/generate.py` writes
//! `adapters/aws/data/instance-types.tsv` from the EC2 `DescribeInstanceTypes` data that the
//! moto package ships (every type, previous generations included), and CI runs it in check
//! mode. See `adapters/aws/data/README.md` for the source versions and how to regenerate.
//! Prices are in [`crate::prices`].
//!
//! **Max pods** is the EKS AMI rule for the AWS VPC CNI. Linux: `enis × (ips_per_eni − 1) + 2`
//! (each ENI keeps one address for itself; two host-network pods, `aws-node` and `kube-proxy`,
//! need none), with the ENIs of the default network card only, as EKS's `eni-max-pods` data
//! has it: an m5.large (3 ENIs of 10 addresses) runs 29 pods, a p4d.24xlarge 737. Windows:
//! `ips_per_eni − 1` (Windows pods use the primary ENI's secondary addresses only).
//!
//! **Allocatable** is what the EKS AL2023 and AL2 AMIs leave to pods, with no
//! `systemReserved` (Windows nodes are given the same reservations, an approximation):
//!
//! - CPU: the capacity less kube-reserved, which is 6% of the first core, 1% of the second,
//!   0.5% of each of cores 3 and 4, and 0.25% of every core above 4, computed per range in
//!   whole millicores, rounded down, as the bootstrap script does. Two vCPUs reserve
//!   60 + 10 = 70m and leave 1930m; eight reserve 60 + 10 + 10 + 10 = 90m.
//! - Memory: the capacity less kube-reserved, `11 MiB × max_pods + 255 MiB`, less the hard
//!   eviction threshold of 100 MiB. An m5.large (8 GiB, 29 pods) leaves
//!   8192 − 574 − 100 = 7518 MiB. (A real node's memory capacity is a few percent below the
//!   nominal size, the kernel's share; plans from this table are that much optimistic.)
//! - Pods: max pods.
//! - Accelerators, as their device plugins advertise them: `nvidia.com/gpu` (NVIDIA),
//!   `amd.com/gpu` (AMD), `aws.amazon.com/neuron` and `aws.amazon.com/neuroncore` (AWS
//!   Inferentia and Trainium).
//! - Ephemeral storage comes from the node group's root volume, not the type
//!   ([`ephemeral_storage_bytes`]); instance-store disks are not used by the EKS AMIs
//!   unless a node group configures it, so they are not counted.

use std::sync::LazyLock;

use fleetplan::{ResourceName, Resources};

use crate::error::AwsError;

/// The extended resource of NVIDIA GPUs.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The extended resource of AMD GPUs.
pub const AMD_GPU_RESOURCE: &str = "amd.com/gpu";
/// The extended resource of AWS Neuron devices (Inferentia, Trainium).
pub const NEURON_RESOURCE: &str = "aws.amazon.com/neuron";
/// The extended resource of AWS Neuron cores.
pub const NEURON_CORE_RESOURCE: &str = "aws.amazon.com/neuroncore";
/// The hard eviction threshold for memory of the EKS AMIs: 100 MiB.
pub const EVICTION_HARD_MEMORY_BYTES: i64 = 100 * MIB;
/// The ephemeral storage the EKS AMIs reserve for the kubelet: 1 GiB.
pub const KUBE_RESERVED_EPHEMERAL_BYTES: i64 = GIB;
/// The kubelet's hard eviction threshold for the node's file system: 10% free.
pub const EVICTION_HARD_NODEFS_PERCENT: i64 = 10;

const MIB: i64 = 1 << 20;
const GIB: i64 = 1 << 30;

/// The generated table (see the module docs).
const TABLE: &str = include_str!("../data/instance-types.tsv");

/// A CPU architecture, as Kubernetes spells it in `kubernetes.io/arch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// x86-64.
    Amd64,
    /// 64-bit ARM (AWS Graviton).
    Arm64,
}

impl Arch {
    /// The `kubernetes.io/arch` value: `amd64` or `arm64`.
    pub fn label(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The architecture of an EC2 or eksctl name: `x86_64` or `amd64`, `arm64`.
    pub fn parse(text: &str) -> Option<Arch> {
        match text {
            "x86_64" | "amd64" => Some(Arch::Amd64),
            "arm64" => Some(Arch::Arm64),
            _ => None,
        }
    }
}

/// The operating system of a node group's nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Os {
    /// Linux (Amazon Linux, Bottlerocket, Ubuntu, ...).
    #[default]
    Linux,
    /// Windows Server.
    Windows,
}

impl Os {
    /// The `kubernetes.io/os` value: `linux` or `windows`.
    pub fn label(self) -> &'static str {
        match self {
            Os::Linux => "linux",
            Os::Windows => "windows",
        }
    }
}

/// One EC2 instance type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstanceType {
    /// The API name, such as `m5.large`.
    pub name: String,
    /// Whether EC2 lists it as current generation.
    pub current_generation: bool,
    /// Its CPU architecture.
    pub arch: Arch,
    /// An EC2 Mac instance (which EKS cannot run).
    pub mac: bool,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory, in MiB.
    pub memory_mib: u64,
    /// Network interfaces of the default network card (what the VPC CNI uses).
    pub enis: u32,
    /// IPv4 addresses per network interface.
    pub ips_per_eni: u32,
    /// GPUs.
    pub gpus: u32,
    /// Who makes the GPUs (`NVIDIA`, `AMD`), empty without GPUs.
    pub gpu_manufacturer: String,
    /// The GPU model (`A100`, `T4`), empty without GPUs.
    pub gpu_name: String,
    /// AWS Neuron devices (Inferentia, Trainium).
    pub neuron_devices: u32,
    /// AWS Neuron cores, over all devices.
    pub neuron_cores: u32,
    /// Local instance-store disks, in GB (0 for EBS-only types).
    pub local_storage_gb: u64,
    /// Whether it can run as Spot.
    pub spot: bool,
}

/// The CPU reservation ranges of the EKS AMIs: `(from, to)` in millicores of capacity and the
/// share reserved in that range, in hundredths of a percent.
const CPU_RESERVATION: [(i64, i64, i64); 4] = [
    (0, 1000, 600),
    (1000, 2000, 100),
    (2000, 4000, 50),
    (4000, i64::MAX, 25),
];

impl InstanceType {
    /// Pods a node running `os` can run (see the module docs).
    pub fn max_pods(&self, os: Os) -> u32 {
        let per_eni = self.ips_per_eni.saturating_sub(1);
        match os {
            Os::Linux => self.enis * per_eni + 2,
            Os::Windows => per_eni,
        }
    }

    /// CPU capacity, in millicores.
    pub fn cpu_millis(&self) -> i64 {
        i64::from(self.vcpus) * 1000
    }

    /// Memory capacity, in bytes.
    pub fn memory_bytes(&self) -> i64 {
        i64::try_from(self.memory_mib).unwrap_or(i64::MAX / MIB) * MIB
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
    pub fn kube_reserved_memory_bytes(&self, os: Os) -> i64 {
        (11 * i64::from(self.max_pods(os)) + 255) * MIB
    }

    /// What one node running `os` gives to pods, in canonical units: CPU, memory, pods, and
    /// its accelerators (see the module docs). Ephemeral storage is the node group's
    /// ([`ephemeral_storage_bytes`]).
    pub fn allocatable(&self, os: Os) -> Resources {
        let mut resources = Resources::new()
            .with(
                ResourceName::CPU,
                self.cpu_millis() - self.kube_reserved_cpu_millis(),
            )
            .with(
                ResourceName::MEMORY,
                (self.memory_bytes() - self.kube_reserved_memory_bytes(os) - EVICTION_HARD_MEMORY_BYTES)
                    .max(0),
            )
            .with(ResourceName::PODS, i64::from(self.max_pods(os)));
        if let Some(resource) = self.gpu_resource() {
            resources.set(resource, i64::from(self.gpus));
        }
        if self.neuron_devices > 0 {
            resources.set(NEURON_RESOURCE, i64::from(self.neuron_devices));
            resources.set(NEURON_CORE_RESOURCE, i64::from(self.neuron_cores));
        }
        resources
    }

    /// The extended resource its GPUs are advertised as, when it has GPUs of a maker with a
    /// Kubernetes device plugin.
    pub fn gpu_resource(&self) -> Option<&'static str> {
        if self.gpus == 0 {
            return None;
        }
        match self.gpu_manufacturer.as_str() {
            "NVIDIA" => Some(GPU_RESOURCE),
            "AMD" => Some(AMD_GPU_RESOURCE),
            _ => None,
        }
    }
}

/// What the kubelet gives pods of a root volume of `volume_gib` GiB: its size less the 1 GiB
/// kube-reserved and the 10% hard eviction threshold. 80 GiB (eksctl's default) leaves
/// 71 GiB.
pub fn ephemeral_storage_bytes(volume_gib: u32) -> i64 {
    let capacity = i64::from(volume_gib) * GIB;
    (capacity - KUBE_RESERVED_EPHEMERAL_BYTES - capacity * EVICTION_HARD_NODEFS_PERCENT / 100).max(0)
}

/// Every instance type of the table, sorted by name.
pub fn all() -> &'static [InstanceType] {
    static PARSED: LazyLock<Vec<InstanceType>> =
        LazyLock::new(|| parse_table(TABLE).unwrap_or_else(|e| panic!("the generated instance table: {e}")));
    &PARSED
}

/// The table entry of `instance_type`, if the table has it.
pub fn instance_type(instance_type: &str) -> Option<&'static InstanceType> {
    let table = all();
    table
        .binary_search_by(|t| t.name.as_str().cmp(instance_type))
        .ok()
        .map(|i| &table[i])
}

/// What one Linux node of `instance_type` gives to pods (see the module docs), or `None` for
/// a type the table does not have.
pub fn allocatable(instance_type: &str) -> Option<Resources> {
    self::instance_type(instance_type).map(|t| t.allocatable(Os::Linux))
}

/// The table entry of `instance_type`, or [`AwsError::UnknownInstanceType`] with the known
/// types of the same family as suggestions.
pub fn lookup(instance_type: &str) -> Result<&'static InstanceType, AwsError> {
    self::instance_type(instance_type).ok_or_else(|| {
        let family = instance_type.split('.').next().unwrap_or_default();
        let suggestions: Vec<&str> = all()
            .iter()
            .filter(|t| t.name.split('.').next() == Some(family))
            .map(|t| t.name.as_str())
            .take(8)
            .collect();
        AwsError::UnknownInstanceType {
            instance_type: instance_type.to_owned(),
            known: all().len(),
            suggestions: suggestions.join(", "),
        }
    })
}

/// The columns of the generated table this module reads.
const COLUMNS: [&str; 15] = [
    "name",
    "current",
    "arch",
    "mac",
    "vcpus",
    "memory_mib",
    "enis",
    "ipv4_per_eni",
    "gpus",
    "gpu_manufacturer",
    "gpu_name",
    "neuron_devices",
    "neuron_cores",
    "local_storage_gb",
    "spot",
];

/// What an eksctl `instanceSelector` asks for; `None` fields match anything.
#[derive(Clone, Debug)]
pub struct Selector {
    /// Exactly this many vCPUs.
    pub vcpus: Option<u32>,
    /// Exactly this much memory, in MiB.
    pub memory_mib: Option<u64>,
    /// Exactly this many GPUs (0: types without GPUs).
    pub gpus: Option<u32>,
    /// Exactly this many Neuron devices.
    pub neuron_devices: Option<u32>,
    /// This architecture (eksctl's default is x86-64).
    pub arch: Arch,
    /// Only types whose name this matches.
    pub allow: Option<regex::Regex>,
    /// No type whose name this matches.
    pub deny: Option<regex::Regex>,
}

/// The instance types `selector` matches, sorted by name, as eksctl's instance selector
/// resolves them (less its check that each is offered in the group's zones, which the table
/// does not know). EC2 Mac types never match.
pub fn select(selector: &Selector) -> Vec<&'static InstanceType> {
    all()
        .iter()
        .filter(|t| {
            !t.mac
                && t.arch == selector.arch
                && selector.vcpus.is_none_or(|v| t.vcpus == v)
                && selector.memory_mib.is_none_or(|m| t.memory_mib == m)
                && selector
                    .gpus
                    .is_none_or(|g| t.gpus == g && (g > 0 || t.gpu_name.is_empty()))
                && selector.neuron_devices.is_none_or(|n| t.neuron_devices == n)
                && selector.allow.as_ref().is_none_or(|r| r.is_match(&t.name))
                && !selector.deny.as_ref().is_some_and(|r| r.is_match(&t.name))
        })
        .collect()
}

/// Parses the generated table: `#` comment lines, a header row naming the columns (others
/// than [`COLUMNS`] are ignored), then one tab-separated row per type, sorted by name.
fn parse_table(text: &str) -> Result<Vec<InstanceType>, String> {
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().ok_or("no header row")?.split('\t').collect();
    let mut at = [0; COLUMNS.len()];
    for (slot, name) in at.iter_mut().zip(COLUMNS) {
        *slot = header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no column `{name}`"))?;
    }
    let mut types = Vec::new();
    for (number, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split('\t').collect();
        let row = number + 1;
        if at.iter().any(|&i| i >= cells.len()) {
            return Err(format!("row {row}: too few cells"));
        }
        let [
            name,
            current,
            arch,
            mac,
            vcpus,
            memory,
            enis,
            ips,
            gpus,
            maker,
            gpu_name,
            neurons,
            cores,
            storage,
            spot,
        ] = at.map(|i| cells[i]);
        let count = |cell: &str| -> Result<u64, String> {
            cell.parse()
                .map_err(|_| format!("row {row}: `{cell}` is not a count"))
        };
        let small =
            |cell| u32::try_from(count(cell)?).map_err(|_| format!("row {row}: a count is too large"));
        let flag = |cell| Ok::<bool, String>(count(cell)? == 1);
        types.push(InstanceType {
            name: name.to_owned(),
            current_generation: flag(current)?,
            arch: Arch::parse(arch).ok_or(format!("row {row}: architecture `{arch}`"))?,
            mac: flag(mac)?,
            vcpus: small(vcpus)?,
            memory_mib: count(memory)?,
            enis: small(enis)?,
            ips_per_eni: small(ips)?,
            gpus: small(gpus)?,
            gpu_manufacturer: maker.to_owned(),
            gpu_name: gpu_name.to_owned(),
            neuron_devices: small(neurons)?,
            neuron_cores: small(cores)?,
            local_storage_gb: count(storage)?,
            spot: flag(spot)?,
        });
    }
    if !types.windows(2).all(|w| w[0].name < w[1].name) {
        return Err("rows are not sorted by name, or a name is repeated".into());
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(name: &str) -> &'static InstanceType {
        instance_type(name).unwrap_or_else(|| panic!("{name} is not in the table"))
    }

    #[test]
    fn m5_large_follows_the_ami_formula() {
        let r = allocatable("m5.large").unwrap();
        assert_eq!(r.get("cpu"), 1930);
        assert_eq!(r.get("pods"), 29);
        // 8 GiB less 11 MiB x 29 + 255 MiB and the 100 MiB eviction threshold.
        assert_eq!(r.get("memory"), (8192 - 574 - 100) << 20);
        assert!(!r.iter().any(|(name, _)| name.as_str() == GPU_RESOURCE));
        assert_eq!(get("m5.large").arch, Arch::Amd64);
    }

    #[test]
    fn cpu_reservation_follows_the_ranges() {
        let cpu = |name: &str| get(name).kube_reserved_cpu_millis();
        assert_eq!(cpu("t3.medium"), 70);
        assert_eq!(cpu("m5.xlarge"), 80);
        assert_eq!(cpu("m5.2xlarge"), 90);
        assert_eq!(cpu("m5.4xlarge"), 110);
        assert_eq!(cpu("m5.8xlarge"), 150);
        // Odd counts above 4 round down per range, as the bootstrap script's integers do.
        let five = InstanceType {
            vcpus: 5,
            ..get("m5.xlarge").clone()
        };
        assert_eq!(five.kube_reserved_cpu_millis(), 82);
    }

    /// Figures from EKS's `eni-max-pods.txt`.
    #[test]
    fn max_pods_follow_the_eks_eni_data() {
        for (name, pods) in [
            ("t3.small", 11),
            ("t3.medium", 17),
            ("t3.large", 35),
            ("m5.large", 29),
            ("m5.xlarge", 58),
            ("m5.4xlarge", 234),
            ("g4dn.xlarge", 29),
            ("c3.8xlarge", 234),
            ("t2.large", 35),
            ("m6g.large", 29),
            ("p4d.24xlarge", 737),
        ] {
            assert_eq!(get(name).max_pods(Os::Linux), pods, "{name}");
        }
        assert_eq!(get("m5.large").max_pods(Os::Windows), 9);
    }

    #[test]
    fn accelerators_are_advertised_as_their_device_plugins_do() {
        for name in ["g4dn.xlarge", "g5.xlarge", "g6.xlarge"] {
            assert_eq!(allocatable(name).unwrap().get(GPU_RESOURCE), 1, "{name}");
        }
        assert_eq!(allocatable("p4d.24xlarge").unwrap().get(GPU_RESOURCE), 8);
        assert_eq!(get("p4d.24xlarge").gpu_name, "A100");
        let inf2 = allocatable("inf2.xlarge").unwrap();
        assert_eq!(inf2.get(NEURON_RESOURCE), 1);
        assert_eq!(inf2.get(NEURON_CORE_RESOURCE), 2);
        let g5 = allocatable("g5.2xlarge").unwrap();
        assert_eq!(g5.get("cpu"), 8000 - 90);
        assert_eq!(g5.get("memory"), 32768 * MIB - (11 * 58 + 255) * MIB - 100 * MIB);
    }

    #[test]
    fn graviton_types_are_arm64() {
        for name in ["m6g.large", "c7g.xlarge", "t4g.small", "r8g.large"] {
            assert_eq!(get(name).arch, Arch::Arm64, "{name}");
        }
    }

    #[test]
    fn the_table_covers_current_and_previous_generations() {
        let table = all();
        assert!(table.len() > 1000, "{} types", table.len());
        assert!(table.iter().filter(|t| t.current_generation).count() > 900);
        for t in table {
            assert!(
                t.vcpus > 0 && t.memory_mib > 0 && t.enis > 0 && t.ips_per_eni > 1,
                "{t:?}"
            );
            let r = t.allocatable(Os::Linux);
            assert!(r.get("cpu") > 0 && r.get("pods") > 0, "{}", t.name);
        }
        assert!(!get("c3.8xlarge").current_generation);
    }

    #[test]
    fn root_volumes_give_ephemeral_storage() {
        assert_eq!(ephemeral_storage_bytes(80), 71 * GIB);
        assert_eq!(ephemeral_storage_bytes(20), 17 * GIB);
        assert_eq!(ephemeral_storage_bytes(0), 0);
    }

    #[test]
    fn unknown_instance_types_are_named_with_their_family() {
        let message = lookup("m5.huge").unwrap_err().to_string();
        assert!(
            message.starts_with("unknown instance type `m5.huge`"),
            "{message}"
        );
        assert!(message.contains("m5.large"), "{message}");
        let message = lookup("x9.huge").unwrap_err().to_string();
        assert!(!message.contains("did you mean"), "{message}");
    }

    #[test]
    fn selectors_match_size_architecture_and_names() {
        let names = |selector: &Selector| {
            select(selector)
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
        };
        let two_by_four = Selector {
            vcpus: Some(2),
            memory_mib: Some(4096),
            gpus: Some(0),
            neuron_devices: None,
            arch: Arch::Amd64,
            allow: None,
            deny: None,
        };
        let found = names(&two_by_four);
        assert!(
            found.contains(&"c5.large") && found.contains(&"t3.medium"),
            "{found:?}"
        );
        assert!(!found.contains(&"c6g.large"), "{found:?}");
        let graviton = names(&Selector {
            arch: Arch::Arm64,
            ..two_by_four.clone()
        });
        assert!(
            graviton.contains(&"c6g.large") && !graviton.contains(&"c5.large"),
            "{graviton:?}"
        );
        let only_c5 = names(&Selector {
            allow: Some(regex::Regex::new(r"^c5\.").unwrap()),
            ..two_by_four.clone()
        });
        assert_eq!(only_c5, ["c5.large"]);
        let no_t = names(&Selector {
            deny: Some(regex::Regex::new(r"^t").unwrap()),
            ..two_by_four
        });
        assert!(!no_t.iter().any(|n| n.starts_with('t')), "{no_t:?}");
        // Fractional-GPU types (g6f) report 0 GPUs but are GPU types: `gpus: 0` excludes them.
        let none = names(&Selector {
            vcpus: Some(2),
            memory_mib: Some(8192),
            gpus: Some(0),
            neuron_devices: None,
            arch: Arch::Amd64,
            allow: None,
            deny: None,
        });
        assert!(!none.iter().any(|n| n.starts_with("g6f")), "{none:?}");
    }

    #[test]
    fn malformed_tables_are_refused() {
        assert!(parse_table("").is_err());
        let header = COLUMNS.join("\t");
        let row = "a.large\t1\tamd64\t0\t2\t8192\t3\t10\t0\t\t\t0\t0\t0\t1";
        assert_eq!(parse_table(&format!("{header}\n{row}\n")).unwrap().len(), 1);
        assert!(parse_table(&format!("{header}\n{row}\n{row}\n")).is_err());
        assert!(parse_table(&format!("{header}\n{}\n", row.replace("amd64", "sparc"))).is_err());
        assert!(parse_table(&format!("{header}\n{}\n", row.replace("8192", "lots"))).is_err());
    }
}

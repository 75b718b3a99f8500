//! Fixed catalogues the generator draws from: region names, instance types, request sizes and
//! application names. Everything here is plain data; the randomness lives in the callers.

/// One gibibyte.
pub(crate) const GI: i64 = 1 << 30;
/// One mebibyte.
pub(crate) const MI: i64 = 1 << 20;

/// Region names, most popular first; specs with more regions get `region-N` names.
const REGIONS: [&str; 12] = [
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "ap-southeast-1",
    "eu-central-1",
    "ap-northeast-1",
    "us-east-2",
    "ap-south-1",
    "sa-east-1",
    "ca-central-1",
    "eu-north-1",
    "ap-southeast-2",
];

/// The name of region `i`.
pub(crate) fn region_name(i: usize) -> String {
    REGIONS
        .get(i)
        .map_or_else(|| format!("region-{i}"), |r| (*r).to_string())
}

/// A cloud instance type: the shape of every node in a pool.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InstanceType {
    /// Such as `m5.2xlarge`.
    pub name: &'static str,
    /// Such as `m5`.
    pub family: &'static str,
    /// Virtual CPUs.
    pub cores: i64,
    /// Memory in GiB.
    pub memory_gib: i64,
    /// GPUs (`nvidia.com/gpu`).
    pub gpus: i64,
    /// The accelerator label value, for GPU types.
    pub accelerator: &'static str,
}

impl InstanceType {
    /// Allocatable CPU in millicores: what the kubelet leaves after its reservation.
    pub fn cpu(&self) -> i64 {
        self.cores * 1000 - 60 - 10 * self.cores
    }

    /// Allocatable memory in bytes (about 92% of the machine).
    pub fn memory(&self) -> i64 {
        self.memory_gib * GI / 100 * 92
    }
}

const fn general(name: &'static str, family: &'static str, cores: i64, memory_gib: i64) -> InstanceType {
    InstanceType {
        name,
        family,
        cores,
        memory_gib,
        gpus: 0,
        accelerator: "",
    }
}

const fn gpu(
    name: &'static str,
    cores: i64,
    memory_gib: i64,
    gpus: i64,
    accelerator: &'static str,
) -> InstanceType {
    InstanceType {
        name,
        family: "gpu",
        cores,
        memory_gib,
        gpus,
        accelerator,
    }
}

/// General-purpose instance types with their popularity.
pub(crate) const GENERAL_TYPES: [(InstanceType, u32); 7] = [
    (general("m5.xlarge", "m5", 4, 16), 15),
    (general("m5.2xlarge", "m5", 8, 32), 25),
    (general("m5.4xlarge", "m5", 16, 64), 20),
    (general("c5.2xlarge", "c5", 8, 16), 10),
    (general("c5.4xlarge", "c5", 16, 32), 10),
    (general("r5.xlarge", "r5", 4, 32), 10),
    (general("r5.2xlarge", "r5", 8, 64), 10),
];

/// GPU instance types with their popularity.
pub(crate) const GPU_TYPES: [(InstanceType, u32); 3] = [
    (gpu("g4dn.2xlarge", 8, 32, 1, "nvidia-t4"), 5),
    (gpu("g5.12xlarge", 48, 192, 4, "nvidia-a10g"), 3),
    (gpu("p3.8xlarge", 32, 244, 4, "nvidia-v100"), 2),
];

/// Common container requests `(millicores, bytes)` with their popularity: small services
/// dominate.
pub(crate) const REQUEST_SIZES: [((i64, i64), u32); 10] = [
    ((100, 128 * MI), 20),
    ((100, 256 * MI), 10),
    ((250, 256 * MI), 15),
    ((250, 512 * MI), 15),
    ((500, 512 * MI), 10),
    ((500, GI), 10),
    ((1000, GI), 7),
    ((1000, 2 * GI), 6),
    ((2000, 2 * GI), 3),
    ((2000, 4 * GI), 4),
];

/// Requests of GPU containers `(millicores, bytes)`.
pub(crate) const GPU_REQUEST_SIZES: [((i64, i64), u32); 3] =
    [((2000, 8 * GI), 4), ((4000, 16 * GI), 4), ((8000, 32 * GI), 2)];

/// Application name stems.
pub(crate) const APPS: [&str; 16] = [
    "api",
    "web",
    "worker",
    "consumer",
    "gateway",
    "cache",
    "search",
    "auth",
    "billing",
    "checkout",
    "catalog",
    "ingest",
    "notifier",
    "scheduler",
    "reporter",
    "frontend",
];

/// Priority classes `(value, popularity)`.
pub(crate) const PRIORITIES: [(i32, u32); 5] =
    [(0, 55), (1000, 25), (10_000, 12), (100_000, 6), (1_000_000, 2)];

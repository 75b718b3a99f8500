//! The fleet: regions and zones, clusters with labels and health, node pools with instance
//! types, labels and taints, and their nodes sized to the demand the workloads bring.
//!
//! Pools are drafted with dense resource vectors ([`Vector`]) and turned into
//! [`fleetplan::NodePool`]s at the end, after the current state has used some of their room.

use fleetplan::{
    Cluster, ClusterName, Health, Labels, NodeGroup, NodePool, PoolName, Resources, Taint, TaintEffect,
};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::catalog::{GENERAL_TYPES, GPU_TYPES, InstanceType, MI, region_name};
use crate::random::{Skewed, pick, sample};
use crate::spec::SyntheticSpec;

/// A dense resource vector: CPU (millicores), memory (bytes), pods, GPUs.
pub(crate) type Vector = [i64; 4];
/// Index of CPU in a [`Vector`].
pub(crate) const CPU: usize = 0;
/// Index of memory in a [`Vector`].
pub(crate) const MEMORY: usize = 1;
/// Index of pod slots in a [`Vector`].
pub(crate) const PODS: usize = 2;
/// Index of GPUs in a [`Vector`].
pub(crate) const GPU: usize = 3;

/// Pod slots per node (the kubelet default).
const MAX_PODS: i64 = 110;
/// What the DaemonSets (CNI, kube-proxy, log and metrics agents) take on every node.
const DAEMONSETS: Vector = [300, 512 * MI, 5, 0];

/// What a pool is for, which decides the demand it is sized to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoolClass {
    /// Untainted pools any workload may use.
    General,
    /// Pools tainted `dedicated=batch:NoSchedule`.
    Batch,
    /// GPU pools tainted `nvidia.com/gpu=present:NoSchedule`.
    Gpu,
}

/// Demand expected in one cluster, per kind of pool it must land in (fractional replicas).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Demand {
    /// Workloads that may use any general pool.
    pub general: [f64; 4],
    /// Workloads that need `disktype=ssd`.
    pub ssd: [f64; 4],
    /// Batch workloads (they prefer the batch pools).
    pub batch: [f64; 4],
    /// GPU workloads.
    pub gpu: [f64; 4],
}

/// A node pool being drafted.
pub(crate) struct PoolDraft {
    pub name: String,
    pub zone: String,
    pub labels: Labels,
    pub taints: Vec<Taint>,
    pub class: PoolClass,
    pub ssd: bool,
    weight: f64,
    pub allocatable: Vector,
    /// Groups of identical nodes `(count, free)`, fullest first.
    pub groups: Vec<(u32, Vector)>,
}

/// A cluster being drafted.
pub(crate) struct ClusterDraft {
    pub name: String,
    pub region: usize,
    pub labels: Labels,
    pub health: Health,
    pub pools: Vec<PoolDraft>,
    /// The labels a cluster selector sees (own labels, name and region).
    pub selector_labels: Labels,
}

/// The drafted fleet.
pub(crate) struct Fleet {
    pub regions: Vec<String>,
    pub clusters: Vec<ClusterDraft>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
    Taint {
        key: key.into(),
        value: value.into(),
        effect,
    }
}

impl Fleet {
    /// Regions, zones, clusters and pool layouts; no nodes yet.
    pub fn new(spec: &SyntheticSpec, rng: &mut SmallRng) -> Self {
        let regions: Vec<String> = (0..spec.regions.max(1)).map(region_name).collect();
        let zones: Vec<Vec<String>> = regions
            .iter()
            .map(|r| {
                let n = if rng.random_bool(0.7) { 3 } else { 2 };
                (0..n).map(|z| format!("{r}{}", char::from(b'a' + z))).collect()
            })
            .collect();
        // Every region gets a cluster; the rest follow the regions' popularity.
        let popularity = Skewed::new(regions.len(), 0.5);
        let mut per_region = vec![0usize; regions.len()];
        let mut clusters = Vec::with_capacity(spec.clusters);
        for i in 0..spec.clusters {
            let region = if i < regions.len() {
                i
            } else {
                popularity.sample(rng)
            };
            per_region[region] += 1;
            let tier = if rng.random_bool(0.7) { "prod" } else { "dev" };
            let provider = pick(rng, &[("aws", 6), ("gcp", 3), ("azure", 1)]);
            let name = format!("{}-{tier}-{:02}", regions[region], per_region[region]);
            let pools = pools(spec.pools_per_cluster, &zones[region], rng);
            let mut cluster_labels = labels(&[("tier", tier), ("provider", provider)]);
            if pools.iter().any(|p| p.class == PoolClass::Gpu) {
                cluster_labels.insert("gpu".into(), "true".into());
            }
            let mut selector_labels = cluster_labels.clone();
            selector_labels.insert(fleetplan::CLUSTER_NAME_LABEL.into(), name.clone());
            selector_labels.insert(fleetplan::REGION_LABEL.into(), regions[region].clone());
            clusters.push(ClusterDraft {
                name,
                region,
                labels: cluster_labels,
                health: Health::Ready,
                pools,
                selector_labels,
            });
        }
        let unhealthy = (spec.clusters as f64 * spec.unhealthy_fraction).round() as usize;
        let all: Vec<usize> = (0..clusters.len()).collect();
        for (k, c) in sample(rng, &all, unhealthy).into_iter().enumerate() {
            clusters[c].health = if k % 2 == 0 {
                Health::NotReady
            } else {
                Health::Cordoned
            };
        }
        Fleet { regions, clusters }
    }

    /// Gives every pool nodes for its share of `demand` (one entry per cluster), times
    /// `factor`, with DaemonSets on every node and some nodes partly used by other pods.
    pub fn size(&mut self, demand: &[Demand], factor: f64, rng: &mut SmallRng) {
        for (cluster, demand) in self.clusters.iter_mut().zip(demand) {
            let total = |class: PoolClass, ssd_only: bool| -> f64 {
                cluster
                    .pools
                    .iter()
                    .filter(|p| p.class == class && (!ssd_only || p.ssd))
                    .map(|p| p.weight)
                    .sum()
            };
            let (general, ssd) = (total(PoolClass::General, false), total(PoolClass::General, true));
            let (batch, gpu) = (total(PoolClass::Batch, false), total(PoolClass::Gpu, false));
            let mut general_demand = demand.general;
            if batch == 0.0 {
                add(&mut general_demand, &demand.batch, 1.0);
            }
            let mut shares = Vec::with_capacity(cluster.pools.len());
            for pool in &cluster.pools {
                let mut share = [0.0; 4];
                match pool.class {
                    PoolClass::General => {
                        add(&mut share, &general_demand, pool.weight / general);
                        if pool.ssd {
                            add(&mut share, &demand.ssd, pool.weight / ssd);
                        }
                    }
                    PoolClass::Batch => add(&mut share, &demand.batch, pool.weight / batch),
                    PoolClass::Gpu => add(&mut share, &demand.gpu, pool.weight / gpu),
                }
                shares.push(share);
            }
            for (pool, share) in cluster.pools.iter_mut().zip(shares) {
                pool.add_nodes(&share, factor, rng);
            }
        }
    }

    /// The finished clusters.
    pub fn into_clusters(self) -> Vec<Cluster> {
        let regions = self.regions;
        self.clusters
            .into_iter()
            .map(|c| Cluster {
                name: ClusterName::from(c.name.as_str()),
                region: regions[c.region].clone(),
                labels: c.labels,
                taints: Vec::new(),
                health: c.health,
                pools: c.pools.into_iter().map(PoolDraft::into_pool).collect(),
                fixed_price: None,
                account: None,
            })
            .collect()
    }
}

fn add(to: &mut [f64; 4], what: &[f64; 4], scale: f64) {
    for (t, w) in to.iter_mut().zip(what) {
        *t += w * scale;
    }
}

/// The pool layout of one cluster: general pools (the first always `disktype=ssd`, one
/// sometimes spot with a `PreferNoSchedule` taint), and in some clusters batch and GPU pools.
fn pools(count: usize, zones: &[String], rng: &mut SmallRng) -> Vec<PoolDraft> {
    let gpu_pools = if count >= 4 && rng.random_bool(0.35) {
        1 + usize::from(count >= 15)
    } else {
        0
    };
    let batch_pools = if count >= 3 && rng.random_bool(0.5) {
        1 + usize::from(count >= 15)
    } else {
        0
    };
    let general = count - gpu_pools - batch_pools;
    let spot = (general >= 3 && rng.random_bool(0.3)).then_some(general - 1);
    (0..count)
        .map(|j| {
            let class = if j < general {
                PoolClass::General
            } else if j < general + batch_pools {
                PoolClass::Batch
            } else {
                PoolClass::Gpu
            };
            let itype: InstanceType = match class {
                PoolClass::Gpu => pick(rng, &GPU_TYPES),
                _ => pick(rng, &GENERAL_TYPES),
            };
            let ssd = match class {
                PoolClass::General => j == 0 || rng.random_bool(0.5),
                PoolClass::Batch => false,
                PoolClass::Gpu => true,
            };
            let mut pool_labels = labels(&[
                ("node.kubernetes.io/instance-type", itype.name),
                ("instance-family", itype.family),
                ("disktype", if ssd { "ssd" } else { "hdd" }),
                (
                    "capacity-type",
                    if spot == Some(j) { "spot" } else { "on-demand" },
                ),
            ]);
            let mut taints = Vec::new();
            match class {
                PoolClass::General if spot == Some(j) => {
                    taints.push(taint("spot", "true", TaintEffect::PreferNoSchedule));
                }
                PoolClass::General => {}
                PoolClass::Batch => {
                    pool_labels.insert("dedicated".into(), "batch".into());
                    taints.push(taint("dedicated", "batch", TaintEffect::NoSchedule));
                }
                PoolClass::Gpu => {
                    pool_labels.insert("nvidia.com/gpu.present".into(), "true".into());
                    pool_labels.insert("accelerator".into(), itype.accelerator.into());
                    taints.push(taint("nvidia.com/gpu", "present", TaintEffect::NoSchedule));
                }
            }
            PoolDraft {
                name: format!("{}-{j:02}", itype.name.replace('.', "-")),
                zone: zones[j % zones.len()].clone(),
                labels: pool_labels,
                taints,
                class,
                ssd,
                weight: rng.random_range(0.5..1.5),
                allocatable: [itype.cpu(), itype.memory(), MAX_PODS, itype.gpus],
                groups: Vec::new(),
            }
        })
        .collect()
}

/// Replicas of `request` that fit on a node with `free` resources.
pub(crate) fn node_fit(free: &Vector, request: &Vector) -> u64 {
    (0..4)
        .filter(|&r| request[r] > 0)
        .map(|r| (free[r].max(0) / request[r]) as u64)
        .min()
        .unwrap_or(u64::MAX)
}

impl PoolDraft {
    /// Adds nodes for `share` (fractional replicas' worth of each resource) times `factor`.
    fn add_nodes(&mut self, share: &[f64; 4], factor: f64, rng: &mut SmallRng) {
        let alloc = self.allocatable;
        let mut base = alloc;
        for r in 0..4 {
            base[r] -= DAEMONSETS[r];
        }
        let need = (0..4)
            .filter(|&r| base[r] > 0)
            .map(|r| share[r] / base[r] as f64)
            .fold(0.0, f64::max);
        // Some nodes also run pods the planner does not manage.
        let partial_share: f64 = rng.random_range(0.0..0.5);
        let used: f64 = rng.random_range(0.15..0.6);
        let minimum = if self.class == PoolClass::General {
            2.0
        } else {
            1.0
        };
        let nodes = (need * factor / (1.0 - partial_share * used)).ceil().max(minimum) as u32;
        let partial = (f64::from(nodes) * partial_share).round() as u32;
        self.groups.push((nodes - partial, base));
        let groups = partial.min(3);
        for g in 0..groups {
            let count = partial / groups + u32::from(g < partial % groups);
            let level = (used * rng.random_range(0.5..1.5)).clamp(0.05, 0.95);
            let mut free = base;
            free[CPU] -= (alloc[CPU] as f64 * level) as i64 / 10 * 10;
            free[MEMORY] -= (alloc[MEMORY] as f64 * level) as i64 / MI * MI;
            free[PODS] -= (level * 60.0) as i64;
            free[GPU] -= (alloc[GPU] as f64 * level).floor() as i64;
            self.groups.push((count, free.map(|v| v.max(0))));
        }
        self.normalise();
    }

    /// Places up to `replicas` replicas of `request`, first fit over the groups (fullest
    /// first); returns how many were placed.
    pub fn take(&mut self, request: &Vector, replicas: u64) -> u64 {
        let mut left = replicas;
        let mut split = Vec::new();
        for group in &mut self.groups {
            if left == 0 {
                break;
            }
            let per_node = node_fit(&group.1, request);
            if per_node == 0 {
                continue;
            }
            let taken = left.min(u64::from(group.0) * per_node);
            left -= taken;
            let (full, rest) = (taken / per_node, taken % per_node);
            group.0 -= (full + u64::from(rest > 0)) as u32;
            for (nodes, each) in [(full, per_node), (u64::from(rest > 0), rest)] {
                if nodes > 0 {
                    let mut free = group.1;
                    for r in 0..4 {
                        free[r] -= request[r] * each as i64;
                    }
                    split.push((nodes as u32, free));
                }
            }
        }
        self.groups.extend(split);
        self.normalise();
        replicas - left
    }

    /// Drops empty groups, sorts fullest first and merges identical groups.
    fn normalise(&mut self) {
        self.groups.retain(|g| g.0 > 0);
        self.groups.sort_by_key(|g| g.1);
        let mut merged: Vec<(u32, Vector)> = Vec::with_capacity(self.groups.len());
        for &(count, free) in &self.groups {
            match merged.last_mut() {
                Some(last) if last.1 == free => last.0 += count,
                _ => merged.push((count, free)),
            }
        }
        self.groups = merged;
    }

    fn resources(&self, v: &Vector) -> Resources {
        let mut r = Resources::new()
            .with("cpu", v[CPU])
            .with("memory", v[MEMORY])
            .with("pods", v[PODS]);
        if self.allocatable[GPU] > 0 {
            r.set("nvidia.com/gpu", v[GPU]);
        }
        r
    }

    fn into_pool(self) -> NodePool {
        NodePool {
            name: PoolName::from(self.name.as_str()),
            zone: Some(self.zone.clone()),
            labels: self.labels.clone(),
            taints: self.taints.clone(),
            allocatable: self.resources(&self.allocatable),
            nodes: self
                .groups
                .iter()
                .map(|(count, free)| NodeGroup {
                    count: *count,
                    free: self.resources(free),
                })
                .collect(),
            unavailable: Vec::new(),
            node_price: None,
            fargate: None,
        }
    }
}

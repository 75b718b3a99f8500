//! Workloads to place: a replica target, a pod template and a placement policy.
//!
//! The pod template keeps the scheduling fields of a Kubernetes pod spec that matter across
//! clusters (requests, node selector, node affinity, tolerations, topology spread, priority).
//! The [`PlacementPolicy`] comes from annotations on the Deployment or Job (see the README for
//! the keys); it needs no new API.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cluster::{Labels, TaintEffect};
use crate::resources::{ResourceName, Resources};

/// A workload's identity: `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkloadId {
    /// The namespace.
    pub namespace: Arc<str>,
    /// The object name.
    pub name: Arc<str>,
}

impl WorkloadId {
    /// Builds an id from a namespace and a name.
    pub fn new(namespace: &str, name: &str) -> Self {
        WorkloadId {
            namespace: Arc::from(namespace),
            name: Arc::from(name),
        }
    }
}

impl fmt::Display for WorkloadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The kind of object a workload came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WorkloadKind {
    /// A long-running `apps/v1` Deployment.
    #[default]
    Deployment,
    /// A `batch/v1` Job; its replica target is its parallelism.
    Job,
}

/// One container's resource requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Container {
    /// The container name.
    pub name: String,
    /// Its resource requests, in canonical units.
    #[serde(default)]
    pub requests: Resources,
    /// For init containers only: `restartPolicy: Always` (a sidecar), which keeps running
    /// beside the app containers and so adds to their sum.
    #[serde(default)]
    pub sidecar: bool,
}

/// A label selector operator, as in node affinity and label selectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operator {
    /// The label value is one of `values`.
    In,
    /// The label is absent or its value is none of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label value, read as an integer, is greater than the single value.
    Gt,
    /// The label value, read as an integer, is less than the single value.
    Lt,
}

/// One requirement on a set of labels, such as `disktype In (ssd)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LabelRequirement {
    /// The label key.
    pub key: String,
    /// How the label is compared.
    pub operator: Operator,
    /// The values compared against (empty for `Exists` and `DoesNotExist`).
    #[serde(default)]
    pub values: Vec<String>,
}

/// Requirements that must all hold (a `nodeSelectorTerm`, or a label selector).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LabelSelector {
    /// The requirements, all of which must hold. Empty selects everything.
    #[serde(default)]
    pub requirements: Vec<LabelRequirement>,
}

/// A preferred node affinity term: pools matching it are preferred by `weight` (1-100).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PreferredTerm {
    /// The preference weight, 1 to 100.
    pub weight: i32,
    /// The labels a preferred pool carries.
    pub preference: LabelSelector,
}

/// Node affinity of a pod template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeAffinity {
    /// `requiredDuringScheduling...`: a pool must match at least one term (when any is given).
    #[serde(default)]
    pub required: Vec<LabelSelector>,
    /// `preferredDuringScheduling...`: weighted preferences among feasible pools.
    #[serde(default)]
    pub preferred: Vec<PreferredTerm>,
}

/// How a toleration compares its value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TolerationOperator {
    /// Key and value must be equal.
    #[default]
    Equal,
    /// Key must be equal; any value.
    Exists,
}

/// A pod toleration, with Kubernetes semantics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Toleration {
    /// The taint key; empty with `Exists` tolerates every taint.
    #[serde(default)]
    pub key: String,
    /// How the value is compared.
    #[serde(default)]
    pub operator: TolerationOperator,
    /// The value for `Equal`.
    #[serde(default)]
    pub value: String,
    /// The effect tolerated; `None` tolerates every effect.
    #[serde(default)]
    pub effect: Option<TaintEffect>,
}

/// The domain a topology spread constraint counts replicas in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TopologyKey {
    /// `topology.kubernetes.io/region`.
    Region,
    /// `topology.kubernetes.io/zone`.
    Zone,
    /// `fleetplan.io/cluster`: each cluster is a domain.
    Cluster,
}

impl fmt::Display for TopologyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TopologyKey::Region => "region",
            TopologyKey::Zone => "zone",
            TopologyKey::Cluster => "cluster",
        })
    }
}

/// What happens when a topology spread constraint cannot be met.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WhenUnsatisfiable {
    /// Hard: a replica that would break the skew stays unplaced.
    #[default]
    DoNotSchedule,
    /// Soft: the planner spreads as it does anyway, but never leaves a replica unplaced for it.
    ScheduleAnyway,
}

/// A topology spread constraint on the workload's own replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TopologySpread {
    /// The largest allowed difference between a domain's count and the smallest count over
    /// the eligible domains.
    pub max_skew: u32,
    /// The domain kind.
    pub topology_key: TopologyKey,
    /// Hard or soft.
    #[serde(default)]
    pub when_unsatisfiable: WhenUnsatisfiable,
}

/// The scheduling part of a pod template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PodTemplate {
    /// Pod labels.
    #[serde(default)]
    pub labels: Labels,
    /// App containers.
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Init containers (run before the app containers, sidecars excepted).
    #[serde(default)]
    pub init_containers: Vec<Container>,
    /// `nodeSelector`: every pair must be a label of the pool.
    #[serde(default)]
    pub node_selector: Labels,
    /// Node affinity.
    #[serde(default)]
    pub affinity: NodeAffinity,
    /// Tolerations, for pool taints and cluster taints alike.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// Topology spread constraints with a region, zone or cluster key.
    #[serde(default)]
    pub topology_spread: Vec<TopologySpread>,
    /// Pod priority: higher-priority workloads take shared capacity first.
    #[serde(default)]
    pub priority: i32,
    /// What the pod needs from its host beyond resources (Fargate refuses all of it).
    #[serde(default)]
    pub host_needs: HostNeeds,
}

/// What a pod needs from the machine it runs on beyond resources. Nodes give all of it;
/// Fargate gives none, so a pod needing any of it cannot run there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HostNeeds {
    /// Some container runs privileged.
    #[serde(default)]
    pub privileged: bool,
    /// The pod uses the host's network namespace (`hostNetwork: true`).
    #[serde(default)]
    pub host_network: bool,
    /// Host ports its containers bind, in order of appearance.
    #[serde(default)]
    pub host_ports: Vec<u16>,
    /// The pod mounts an EBS volume (an `awsElasticBlockStore` volume or the EBS CSI driver).
    #[serde(default)]
    pub ebs_volume: bool,
}

impl PodTemplate {
    /// What one replica needs from a node, as the Kubernetes scheduler computes it: per
    /// resource, the larger of the largest init container and the sum of the app containers
    /// (sidecar init containers count with the app containers), plus one pod slot.
    pub fn effective_requests(&self) -> Resources {
        let mut running = Resources::new();
        for c in self
            .containers
            .iter()
            .chain(self.init_containers.iter().filter(|c| c.sidecar))
        {
            running.add(&c.requests);
        }
        let mut needed = running.clone();
        // A classic init container runs alone, beside the sidecars started before it.
        let mut sidecars_so_far = Resources::new();
        for c in &self.init_containers {
            if c.sidecar {
                sidecars_so_far.add(&c.requests);
            } else {
                let mut while_running = sidecars_so_far.clone();
                while_running.add(&c.requests);
                needed.raise_to(&while_running);
            }
        }
        needed.set(ResourceName::PODS, 1);
        needed
    }
}

/// How the replica target is divided among the eligible clusters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Strategy {
    /// Equal shares over every eligible cluster (weights ignored, except that a weight of 0
    /// still excludes a cluster).
    #[default]
    Spread,
    /// Shares proportional to cluster weights (times region weights).
    Weighted,
    /// As few clusters as possible: fill the most preferred cluster first.
    Pack,
}

/// A number per cluster or per region name, with `*` as the default for names not listed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PerName {
    /// The value for names not listed (`*`).
    #[serde(default)]
    pub default: Option<u32>,
    /// Values by name.
    #[serde(default)]
    pub named: BTreeMap<String, u32>,
}

impl PerName {
    /// The value for `name`: its own, else the default.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.named.get(name).copied().or(self.default)
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.named.is_empty()
    }
}

/// Where a workload's replicas may go and how they are divided, read from annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlacementPolicy {
    /// Which clusters are eligible, by cluster labels.
    #[serde(default)]
    pub cluster_selector: LabelSelector,
    /// How replicas are divided.
    #[serde(default)]
    pub strategy: Strategy,
    /// Cluster weights (default 1).
    #[serde(default)]
    pub cluster_weights: PerName,
    /// Region weights (default 1), multiplied into the cluster weights.
    #[serde(default)]
    pub region_weights: PerName,
    /// Minimum replicas per cluster.
    #[serde(default)]
    pub cluster_min: PerName,
    /// Maximum replicas per cluster.
    #[serde(default)]
    pub cluster_max: PerName,
    /// Minimum replicas per region.
    #[serde(default)]
    pub region_min: PerName,
    /// Maximum replicas per region.
    #[serde(default)]
    pub region_max: PerName,
    /// Demand per region (default 0 when any is set): the demand objective places replicas
    /// in the regions with the most demand, near their users.
    #[serde(default)]
    pub region_demand: PerName,
    /// All or nothing: either every replica is placed or none is (a gang of a batch Job).
    #[serde(default)]
    pub gang: bool,
    /// The replicas must span at least this many regions; only the exact solver enforces it.
    #[serde(default)]
    pub min_regions: Option<u32>,
}

impl PerName {
    /// The first name (in name order, `*` last) whose value in `self`, read as minimums, is
    /// above its value in `max`: `(name, min, max)`. `*` stands for every name listed in
    /// neither.
    pub fn first_above(&self, max: &PerName) -> Option<(String, u32, u32)> {
        let names = self.named.keys().chain(max.named.keys());
        let named = names.filter_map(|name| match (self.get(name), max.get(name)) {
            (Some(lo), Some(hi)) if lo > hi => Some((name.clone(), lo, hi)),
            _ => None,
        });
        let rest = match (self.default, max.default) {
            (Some(lo), Some(hi)) if lo > hi => Some(("*".to_string(), lo, hi)),
            _ => None,
        };
        named.min().or(rest)
    }
}

impl PlacementPolicy {
    /// The first contradiction between the policy's minimums and maximums: a cluster or
    /// region whose minimum is above its maximum, as `(what, name, min, max)` with `what`
    /// `cluster` or `region`.
    pub fn contradiction(&self) -> Option<(&'static str, String, u32, u32)> {
        let cluster = self
            .cluster_min
            .first_above(&self.cluster_max)
            .map(|(n, lo, hi)| ("cluster", n, lo, hi));
        cluster.or_else(|| {
            self.region_min
                .first_above(&self.region_max)
                .map(|(n, lo, hi)| ("region", n, lo, hi))
        })
    }

    /// The weight of a cluster named `cluster` in `region` for the division: its cluster
    /// weight times its region weight (1 each unless set). Under [`Strategy::Spread`] every
    /// cluster weighs 1, but a weight of 0 excludes a cluster under every strategy.
    pub fn weight_of(&self, cluster: &str, region: &str) -> u64 {
        let weight = u64::from(self.cluster_weights.get(cluster).unwrap_or(1))
            * u64::from(self.region_weights.get(region).unwrap_or(1));
        match self.strategy {
            Strategy::Spread => weight.min(1),
            Strategy::Weighted | Strategy::Pack => weight,
        }
    }
}

/// A workload to place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// `namespace/name`.
    pub id: WorkloadId,
    /// Deployment or Job.
    #[serde(default)]
    pub kind: WorkloadKind,
    /// The replica target across all clusters.
    pub replicas: u32,
    /// The pod template.
    #[serde(default)]
    pub template: PodTemplate,
    /// The placement policy.
    #[serde(default)]
    pub policy: PlacementPolicy,
}

impl Workload {
    /// A Deployment with `replicas` replicas whose single container requests `requests`.
    pub fn new(namespace: &str, name: &str, replicas: u32, requests: Resources) -> Self {
        Workload {
            id: WorkloadId::new(namespace, name),
            kind: WorkloadKind::Deployment,
            replicas,
            template: PodTemplate {
                containers: vec![Container {
                    name: "main".into(),
                    requests,
                    sidecar: false,
                }],
                ..PodTemplate::default()
            },
            policy: PlacementPolicy::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, cpu: i64, mem: i64, sidecar: bool) -> Container {
        Container {
            name: name.into(),
            requests: Resources::new().with("cpu", cpu).with("memory", mem),
            sidecar,
        }
    }

    #[test]
    fn effective_requests_sum_app_containers_and_add_a_pod_slot() {
        let t = PodTemplate {
            containers: vec![container("a", 250, 100, false), container("b", 500, 50, false)],
            ..PodTemplate::default()
        };
        let r = t.effective_requests();
        assert_eq!((r.get("cpu"), r.get("memory"), r.get("pods")), (750, 150, 1));
    }

    #[test]
    fn effective_requests_take_the_largest_init_container() {
        let t = PodTemplate {
            containers: vec![container("a", 250, 100, false)],
            init_containers: vec![container("i1", 1000, 10, false), container("i2", 10, 400, false)],
            ..PodTemplate::default()
        };
        let r = t.effective_requests();
        assert_eq!((r.get("cpu"), r.get("memory")), (1000, 400));
    }

    #[test]
    fn sidecar_init_containers_add_to_the_app_sum() {
        let t = PodTemplate {
            containers: vec![container("a", 250, 100, false)],
            init_containers: vec![container("proxy", 100, 50, true), container("i", 300, 10, false)],
            ..PodTemplate::default()
        };
        let r = t.effective_requests();
        // Running: 250+100 cpu; the init container runs beside the sidecar: 300+100.
        assert_eq!((r.get("cpu"), r.get("memory")), (400, 150));
    }

    #[test]
    fn per_name_falls_back_to_the_default() {
        let p = PerName {
            default: Some(2),
            named: [("a".to_string(), 5)].into(),
        };
        assert_eq!((p.get("a"), p.get("b")), (Some(5), Some(2)));
        assert_eq!(PerName::default().get("a"), None);
    }
}

//! Workload clusters and the capacity targets inside them.
//!
//! A [`Cluster`] lives in one region, carries labels and taints that placement policies select
//! and tolerate, has a [`Health`], and holds [`NodePool`]s: groups of nodes with identical
//! labels, taints and allocatable resources. A pool records the free resources of each of its
//! nodes (after the pods already bound there) as [`NodeGroup`]s of identical nodes.
//!
//! A pool can instead be an EKS Fargate profile ([`NodePool::fargate`]): it has no nodes; its
//! capacity is the vCPU quota of the cluster's AWS account in its region, shared with the
//! account's other clusters there (see [`crate::fargate`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::fargate::FargateProfile;
use crate::resources::Resources;

/// Labels, as on any Kubernetes object.
pub type Labels = BTreeMap<String, String>;

/// The name of a workload cluster, unique in a fleet.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClusterName(pub Arc<str>);

/// The name of a node pool, unique in its cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PoolName(pub Arc<str>);

macro_rules! display_as_str {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                $name(Arc::from(value))
            }
        }
        impl $name {
            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    )*};
}
display_as_str!(ClusterName, PoolName);

/// The longest cluster name: EKS's limit.
pub const MAX_CLUSTER_NAME_LEN: usize = 100;

/// Why `name` cannot name a cluster, as a sentence naming it; `None` when it can.
///
/// A cluster name is 1 to [`MAX_CLUSTER_NAME_LEN`] (100) ASCII letters, digits, `-`, `_` and
/// `.`, starting with a letter or digit. The one rule for every reader (fleet files, dump file
/// names, eksctl configs, live registrations) and for [`crate::Problem::validate`].
///
/// Why this rule: cluster names are printed in tables and become Kubernetes object names and
/// label values, so whitespace, control characters, `/` and `:` (which break output or
/// objects) are refused; but no name that EKS (`[0-9A-Za-z][A-Za-z0-9-_]*`, at most 100) or
/// Kubernetes (a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`) allows is refused,
/// up to 100 characters. Kubernetes contexts are looser (`arn:aws:eks:...:cluster/x`): name
/// the file or the fleet entry after the cluster, not the context.
///
/// ```
/// assert_eq!(fleetplan::cluster_name_error("shop-east_1.prod"), None);
/// assert!(fleetplan::cluster_name_error("east\n").is_some());
/// ```
pub fn cluster_name_error(name: &str) -> Option<String> {
    let shown = || name.escape_debug().to_string();
    let Some(first) = name.chars().next() else {
        return Some("a cluster name must not be empty".into());
    };
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Some(format!(
            "cluster name `{}` holds {bad:?}; use only ASCII letters, digits, `-`, `_` and `.`",
            shown()
        ));
    }
    if !first.is_ascii_alphanumeric() {
        return Some(format!(
            "cluster name `{}` must start with a letter or digit",
            shown()
        ));
    }
    if name.len() > MAX_CLUSTER_NAME_LEN {
        return Some(format!(
            "cluster name `{}` is {} characters long; at most {MAX_CLUSTER_NAME_LEN}",
            shown(),
            name.len()
        ));
    }
    None
}

/// Whether a cluster can run replicas, as the planner sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Health {
    /// Takes new replicas and keeps the ones it runs.
    #[default]
    Ready,
    /// Its nodes are not ready: replicas there are lost and placed again elsewhere.
    NotReady,
    /// Its API server cannot be reached: treated like `NotReady`.
    Unreachable,
    /// Keeps the replicas it runs but takes no new ones.
    Cordoned,
    /// Everything moves out (a blue/green upgrade): it keeps nothing and takes nothing.
    Draining,
}

impl Health {
    /// True when the cluster may receive new replicas.
    pub fn accepts_new(self) -> bool {
        self == Health::Ready
    }

    /// True when replicas already running there stay.
    pub fn keeps_running(self) -> bool {
        matches!(self, Health::Ready | Health::Cordoned)
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What a taint does to pods that do not tolerate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaintEffect {
    /// Intolerant pods are never placed there.
    NoSchedule,
    /// Intolerant pods go there only when nothing better is left.
    PreferNoSchedule,
    /// Intolerant pods are never placed there and running ones are evicted.
    NoExecute,
}

impl fmt::Display for TaintEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A taint on a cluster or on the nodes of a pool, with Kubernetes semantics.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Taint {
    /// The taint key.
    pub key: String,
    /// The taint value (may be empty).
    #[serde(default)]
    pub value: String,
    /// What the taint does.
    pub effect: TaintEffect,
}

impl fmt::Display for Taint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect)
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect)
        }
    }
}

/// An hourly price in millionths of the currency unit. Integers keep plans exact, comparable
/// and hashable; [`HourlyPrice::from_units`] converts from a price such as `0.192`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HourlyPrice(pub u64);

impl HourlyPrice {
    /// The price of `units` currency units per hour, rounded to the nearest millionth;
    /// `None` for negative, infinite or absurd (above 10^12) amounts.
    pub fn from_units(units: f64) -> Option<Self> {
        (units.is_finite() && (0.0..=1e12).contains(&units))
            .then(|| HourlyPrice((units * 1e6).round() as u64))
    }

    /// The price in currency units per hour.
    pub fn units(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// Identical nodes of a pool that share the same free resources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeGroup {
    /// How many nodes are in this state.
    pub count: u32,
    /// Free resources on each of these nodes: allocatable minus the requests of bound pods.
    pub free: Resources,
}

/// Why a node takes no new pods (and so offers its pool no capacity).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Unavailability {
    /// The node is not Ready.
    NotReady,
    /// The node is cordoned: marked unschedulable.
    Cordoned,
    /// The node carries a taint that marks its state (disk pressure, shutting down...).
    Tainted {
        /// The taint.
        taint: Taint,
    },
}

impl fmt::Display for Unavailability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailability::NotReady => f.write_str("not Ready"),
            Unavailability::Cordoned => f.write_str("cordoned"),
            Unavailability::Tainted { taint } => write!(f, "tainted {taint}"),
        }
    }
}

/// A node of a pool that takes no new pods, kept by name so that reasons can say why the
/// pool has no room.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UnavailableNode {
    /// The node's name.
    pub name: String,
    /// Why it takes no new pods.
    pub why: Unavailability,
}

/// Nodes with identical labels, taints and allocatable resources inside one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePool {
    /// The pool name, unique in its cluster.
    pub name: PoolName,
    /// The zone of the nodes (`topology.kubernetes.io/zone`), if they have one.
    #[serde(default)]
    pub zone: Option<String>,
    /// The labels every node of the pool carries.
    #[serde(default)]
    pub labels: Labels,
    /// The taints every node of the pool carries.
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// Allocatable resources of one node.
    pub allocatable: Resources,
    /// The nodes, grouped by their free resources.
    pub nodes: Vec<NodeGroup>,
    /// The pool's nodes that take no new pods, which `nodes` leaves out: they give no
    /// capacity, and reasons name them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<UnavailableNode>,
    /// What one node costs per hour, for the cost objective; `None` when unknown (free).
    #[serde(default)]
    pub node_price: Option<HourlyPrice>,
    /// When set, the pool is this Fargate profile rather than nodes: its name is the
    /// profile's, and `nodes`, `allocatable`, `labels`, `taints` and `zone` are not used.
    #[serde(default)]
    pub fargate: Option<FargateProfile>,
}

impl NodePool {
    /// A pool of `count` empty nodes, each with `allocatable` free.
    pub fn uniform(name: &str, count: u32, allocatable: Resources) -> Self {
        NodePool {
            name: PoolName::from(name),
            zone: None,
            labels: Labels::new(),
            taints: Vec::new(),
            nodes: vec![NodeGroup {
                count,
                free: allocatable.clone(),
            }],
            allocatable,
            unavailable: Vec::new(),
            node_price: None,
            fargate: None,
        }
    }

    /// A pool that is the Fargate profile `profile`, named after it.
    pub fn fargate(profile: FargateProfile) -> Self {
        NodePool {
            name: PoolName::from(profile.name.as_str()),
            zone: None,
            labels: Labels::new(),
            taints: Vec::new(),
            allocatable: Resources::new(),
            nodes: Vec::new(),
            unavailable: Vec::new(),
            node_price: None,
            fargate: Some(profile),
        }
    }

    /// Total number of nodes in the pool.
    pub fn node_count(&self) -> u64 {
        self.nodes.iter().map(|g| u64::from(g.count)).sum()
    }

    /// Replicas needing `request` (per replica, as [`crate::PodTemplate::effective_requests`]
    /// gives it) that fit on the pool's free resources.
    pub fn fit(&self, request: &Resources) -> u64 {
        self.nodes
            .iter()
            .map(|g| g.fit(request).saturating_mul(u64::from(g.count)))
            .fold(0, u64::saturating_add)
    }

    /// Takes the resources of `replicas` replicas needing `request` from the nodes, first fit
    /// in node order, and returns how many did not fit. Running replicas are recorded this way
    /// when a fleet is described by its allocatable resources rather than by its bound pods.
    pub fn occupy(&mut self, request: &Resources, replicas: u32) -> u32 {
        let mut left = u64::from(replicas);
        let mut out = Vec::with_capacity(self.nodes.len() + 2);
        for group in self.nodes.drain(..) {
            let per_node = group.fit(request);
            if left == 0 || per_node == 0 {
                out.push(group);
                continue;
            }
            let count = u64::from(group.count);
            let full = count.min(left / per_node);
            if full > 0 {
                out.push(NodeGroup {
                    count: u32::try_from(full).unwrap_or(u32::MAX),
                    free: group.less(request, per_node),
                });
                left -= full * per_node;
            }
            let mut rest = count - full;
            if rest > 0 && left > 0 {
                // Fewer than `per_node` replicas are left: they all go on the next node.
                out.push(NodeGroup {
                    count: 1,
                    free: group.less(request, left),
                });
                left = 0;
                rest -= 1;
            }
            if rest > 0 {
                out.push(NodeGroup {
                    count: u32::try_from(rest).unwrap_or(u32::MAX),
                    free: group.free,
                });
            }
        }
        self.nodes = out;
        self.merge_identical_nodes();
        u32::try_from(left).unwrap_or(u32::MAX)
    }

    /// Merges node groups with equal free resources, in order of first appearance.
    pub fn merge_identical_nodes(&mut self) {
        let mut merged: Vec<NodeGroup> = Vec::with_capacity(self.nodes.len());
        for group in self.nodes.drain(..) {
            match merged.iter_mut().find(|g| g.free == group.free) {
                Some(g) => g.count = g.count.saturating_add(group.count),
                None => merged.push(group),
            }
        }
        self.nodes = merged;
    }
}

impl NodeGroup {
    /// Replicas needing `request` that fit on one of these nodes: the minimum over the
    /// requested resources of `floor(free / request)`.
    pub fn fit(&self, request: &Resources) -> u64 {
        request
            .iter()
            .filter(|(_, amount)| *amount > 0)
            .map(|(name, amount)| u64::try_from(self.free.get(name.as_str()) / amount).unwrap_or(0))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// The free resources left after `n` replicas needing `request`.
    fn less(&self, request: &Resources, n: u64) -> Resources {
        let mut result = self.free.clone();
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        for (name, amount) in request.iter() {
            result.set(
                name.as_str(),
                self.free
                    .get(name.as_str())
                    .saturating_sub(amount.saturating_mul(n)),
            );
        }
        result
    }
}

/// One workload cluster of the fleet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// The cluster name, unique in the fleet.
    pub name: ClusterName,
    /// The region the cluster runs in, such as `us-east-1`.
    pub region: String,
    /// Cluster labels that placement policies select on.
    #[serde(default)]
    pub labels: Labels,
    /// Cluster taints; a workload must tolerate them to be placed there.
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// Whether the cluster can run replicas.
    #[serde(default)]
    pub health: Health,
    /// The node pools of the cluster.
    #[serde(default)]
    pub pools: Vec<NodePool>,
    /// What running the cluster costs per hour whenever it runs any planned replica (a
    /// control plane fee, say); only the exact solver optimises it.
    #[serde(default)]
    pub fixed_price: Option<HourlyPrice>,
    /// The cloud account the cluster belongs to (for EKS, the AWS account id): Fargate quotas
    /// are per account and region. `None` for clusters that name no account, which share one.
    #[serde(default)]
    pub account: Option<String>,
}

impl Cluster {
    /// A healthy cluster with no labels, taints or pools.
    pub fn new(name: &str, region: &str) -> Self {
        Cluster {
            name: ClusterName::from(name),
            region: region.to_string(),
            labels: Labels::new(),
            taints: Vec::new(),
            health: Health::Ready,
            pools: Vec::new(),
            fixed_price: None,
            account: None,
        }
    }

    /// The zones of the cluster's pools and Fargate profiles, sorted and without repeats.
    pub fn zones(&self) -> Vec<&str> {
        let mut zones: Vec<&str> = self
            .pools
            .iter()
            .flat_map(|p| {
                p.zone
                    .iter()
                    .chain(p.fargate.iter().flat_map(|f| f.zones.iter()))
                    .map(String::as_str)
            })
            .collect();
        zones.sort_unstable();
        zones.dedup();
        zones
    }

    /// The labels a cluster selector sees: the cluster's own labels plus
    /// `fleetplan.io/cluster` (its name) and `fleetplan.io/region` (its region).
    pub fn selector_labels(&self) -> Labels {
        let mut labels = self.labels.clone();
        labels.insert(CLUSTER_NAME_LABEL.to_string(), self.name.0.to_string());
        labels.insert(REGION_LABEL.to_string(), self.region.clone());
        labels
    }
}

/// The implicit cluster label holding the cluster's name.
pub const CLUSTER_NAME_LABEL: &str = "fleetplan.io/cluster";
/// The implicit cluster label holding the cluster's region.
pub const REGION_LABEL: &str = "fleetplan.io/region";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_decides_new_and_kept_replicas() {
        assert!(Health::Ready.accepts_new() && Health::Ready.keeps_running());
        assert!(!Health::Cordoned.accepts_new() && Health::Cordoned.keeps_running());
        for h in [Health::NotReady, Health::Unreachable, Health::Draining] {
            assert!(!h.accepts_new() && !h.keeps_running(), "{h}");
        }
    }

    #[test]
    fn taints_display_like_kubectl() {
        let t = Taint {
            key: "dedicated".into(),
            value: "batch".into(),
            effect: TaintEffect::NoSchedule,
        };
        assert_eq!(t.to_string(), "dedicated=batch:NoSchedule");
        let t = Taint {
            value: String::new(),
            ..t
        };
        assert_eq!(t.to_string(), "dedicated:NoSchedule");
    }

    #[test]
    fn cluster_names_follow_eks_and_dns_1123() {
        let long = "a".repeat(MAX_CLUSTER_NAME_LEN);
        // EKS names, DNS-1123 subdomains, and both.
        for good in [
            "a",
            "0",
            "east-a",
            "Shop_East-1",
            "my-cluster.example.com",
            "1.2.3",
            "kind-kind",
            "gke_project_us-central1_prod",
            long.as_str(),
        ] {
            assert_eq!(cluster_name_error(good), None, "{good}");
        }
        let too_long = "a".repeat(MAX_CLUSTER_NAME_LEN + 1);
        let error = |name: &str| cluster_name_error(name).unwrap_or_else(|| panic!("{name:?} passed"));
        assert_eq!(error(""), "a cluster name must not be empty");
        assert_eq!(
            error("east\nwest"),
            "cluster name `east\\nwest` holds '\\n'; use only ASCII letters, digits, `-`, `_` and `.`"
        );
        assert_eq!(
            error("east a"),
            "cluster name `east a` holds ' '; use only ASCII letters, digits, `-`, `_` and `.`"
        );
        assert_eq!(
            error("-east"),
            "cluster name `-east` must start with a letter or digit"
        );
        assert_eq!(
            error(&too_long),
            format!("cluster name `{too_long}` is 101 characters long; at most 100")
        );
        for bad in [
            "_a",
            ".a",
            "a\tb",
            "a\u{7f}",
            "arn:aws:eks:us-east-1:1:cluster/x",
            "a/b",
            "é",
            "a%b",
            "a\u{0}",
        ] {
            assert!(cluster_name_error(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn selector_labels_include_name_and_region() {
        let mut c = Cluster::new("east-a", "us-east-1");
        c.labels.insert("tier".into(), "prod".into());
        let l = c.selector_labels();
        assert_eq!(l["fleetplan.io/cluster"], "east-a");
        assert_eq!(l["fleetplan.io/region"], "us-east-1");
        assert_eq!(l["tier"], "prod");
    }

    fn res(cpu: i64, pods: i64) -> Resources {
        Resources::new().with("cpu", cpu).with("pods", pods)
    }

    fn group(count: u32, free: Resources) -> NodeGroup {
        NodeGroup { count, free }
    }

    #[test]
    fn occupy_fills_nodes_first_fit() {
        let mut pool = NodePool::uniform("p", 3, res(1000, 110));
        let need = res(300, 1);
        // 3 per node: 7 replicas fill two nodes and put one on the third.
        assert_eq!(pool.occupy(&need, 7), 0);
        assert_eq!(pool.nodes, vec![group(2, res(100, 107)), group(1, res(700, 109))]);
        // 2 more: none fit the full nodes; the third takes them.
        assert_eq!(pool.occupy(&need, 2), 0);
        assert_eq!(pool.nodes, vec![group(3, res(100, 107))]);
        // Nothing is left.
        assert_eq!(pool.occupy(&need, 2), 2);
        assert_eq!(pool.fit(&need), 0);
    }

    #[test]
    fn occupy_respects_pod_slots_and_missing_resources() {
        let mut pool = NodePool::uniform("p", 1, res(10_000, 2));
        assert_eq!(pool.fit(&res(100, 1)), 2);
        assert_eq!(pool.occupy(&res(100, 1), 5), 3);
        let mut pool = NodePool::uniform("p", 1, res(10_000, 2));
        let gpu = Resources::new().with("nvidia.com/gpu", 1).with("pods", 1);
        assert_eq!(pool.occupy(&gpu, 1), 1);
    }

    #[test]
    fn merging_keeps_first_appearance_order() {
        let mut pool = NodePool::uniform("p", 0, Resources::new());
        pool.nodes = vec![group(1, res(1, 1)), group(2, res(2, 1)), group(3, res(1, 1))];
        pool.merge_identical_nodes();
        assert_eq!(pool.nodes, vec![group(4, res(1, 1)), group(2, res(2, 1))]);
    }

    #[test]
    fn zones_come_from_pools() {
        let mut c = Cluster::new("a", "r");
        for (name, zone) in [("p1", "r-b"), ("p2", "r-a"), ("p3", "r-b")] {
            let mut p = NodePool::uniform(name, 1, Resources::new());
            p.zone = Some(zone.into());
            c.pools.push(p);
        }
        assert_eq!(c.zones(), vec!["r-a", "r-b"]);
    }
}

//! Workload clusters and the capacity targets inside them.
//!
//! A [`Cluster`] lives in one region, carries labels and taints that placement policies select
//! and tolerate, has a [`Health`], and holds [`NodePool`]s: groups of nodes with identical
//! labels, taints and allocatable resources. A pool records the free resources of each of its
//! nodes (after the pods already bound there) as [`NodeGroup`]s of identical nodes.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

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

/// Identical nodes of a pool that share the same free resources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeGroup {
    /// How many nodes are in this state.
    pub count: u32,
    /// Free resources on each of these nodes: allocatable minus the requests of bound pods.
    pub free: Resources,
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
        }
    }

    /// Total number of nodes in the pool.
    pub fn node_count(&self) -> u64 {
        self.nodes.iter().map(|g| u64::from(g.count)).sum()
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
        }
    }

    /// The zones of the cluster's pools, sorted and without repeats.
    pub fn zones(&self) -> Vec<&str> {
        let mut zones: Vec<&str> = self.pools.iter().filter_map(|p| p.zone.as_deref()).collect();
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
    fn selector_labels_include_name_and_region() {
        let mut c = Cluster::new("east-a", "us-east-1");
        c.labels.insert("tier".into(), "prod".into());
        let l = c.selector_labels();
        assert_eq!(l["fleetplan.io/cluster"], "east-a");
        assert_eq!(l["fleetplan.io/region"], "us-east-1");
        assert_eq!(l["tier"], "prod");
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

//! kubectl dumps: one file per cluster holding `kubectl get nodes,pods -A -o yaml` (a `v1
//! List` of Nodes and Pods, or plain multi-document Node/Pod YAML), read into a [`Cluster`]
//! and the replicas of planned workloads running there. The file stem is the cluster name.
//! Objects of other kinds in a dump are ignored.
//!
//! **Region and zones.** From the node labels `topology.kubernetes.io/region` and
//! `topology.kubernetes.io/zone`. All nodes must agree on the region unless `_clusters.yaml`
//! gives it.
//!
//! **Pools.** Nodes (sorted by name) are grouped by identical labels, taints and allocatable
//! resources, ignoring the per-node labels in [`PER_NODE_LABELS`] and the node-state taints
//! (every `node.kubernetes.io/` key and those in [`STATE_TAINTS`]). A pool is named after the
//! first of [`POOL_NAME_LABELS`] its nodes carry, suffixed with `-<zone>` when that name spans
//! several zones, else `pool-1`, `pool-2`, ...; a name still taken gets `-2`, `-3`, ...
//!
//! **Capacity.** A node that is unschedulable (`spec.unschedulable`), whose `Ready` condition
//! is not `True` (or absent), or that carries a node-state taint with effect NoSchedule or
//! NoExecute contributes no capacity (its pool is kept, and lists it by name with why, the
//! first of those in that order, so that reasons can name it). The free resources of a node are its
//! allocatable resources less the requests of the pods bound to it (`spec.nodeName`) that
//! have not Succeeded or Failed, never below zero.
//!
//! **Running replicas.** A bound pod on a Ready node counts as a running replica of a planned
//! workload in its namespace when it is owned by a ReplicaSet named `<deployment>-<hash>`, or
//! by a Job of the workload's name, or else when all of the workload's
//! `spec.selector.matchLabels` (if any) are among its labels. Pods of a workload that are
//! Pending on no node are not running replicas; they are counted apart, for the controller's
//! auto-migration ([`crate::control::migration`]).
//!
//! **`_clusters.yaml`.** An optional file in the fleet directory with per-cluster metadata:
//! `clusters: {east-a: {labels: {...}, taints: [...], health: NotReady, region: us-east-1}}`.
//! Unknown fields and names that match no dump are errors.
//!
//! **Prices.** A cluster's entry in `_clusters.yaml` may also give `fixedPricePerHour: 0.10`
//! (what the cluster costs while it runs any planned replica, a control plane fee, say) and
//! `instancePricesPerHour: {m5.xlarge: 0.192}`: the price of one node by its
//! [`INSTANCE_TYPE_LABEL`], which prices every pool of that instance type in the cluster
//! (across zones; pools split by that label, so each has one type). Prices are written as in
//! the concise fleet form (currency units per hour, a number or a numeric string). A pool
//! whose instance type is not listed has no price; an instance type that no node of the
//! cluster has is an error.
//!
//! **EKS and Fargate.** A cluster's entry in `_clusters.yaml` may give its AWS `account`
//! (a quoted string) and its `fargateProfiles` (as in the concise fleet form: `[{name,
//! selectors: [{namespace, labels}], zones}]`), each a pool named after the profile, after
//! the node pools. Nodes whose [`COMPUTE_TYPE_LABEL`] label is `fargate` are Fargate's per-pod
//! virtual nodes: they form no pool and offer no capacity (their region label still counts
//! for the cluster's region). A pod bound to a Ready one counts as a running replica in the
//! Fargate pool its [`fleetplan::fargate::PROFILE_LABEL`] label names, when the cluster has
//! that profile; otherwise it is ignored.

use std::collections::BTreeMap;
use std::path::Path;

use fleetplan::fargate::{FargateProfile, PROFILE_LABEL};
use fleetplan::{
    Cluster, Health, HourlyPrice, Labels, NodeGroup, NodePool, PoolName, Resources, Running, Taint,
    TaintEffect, Unavailability, UnavailableNode, WorkloadId, WorkloadKind,
};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{LoadError, Location};
use crate::files::fleet::{
    FargateProfileSpec, REGION_NODE_LABEL, TaintSpec, ZONE_NODE_LABEL, account_id, fargate_profiles,
    hourly_price, present, taints,
};
use crate::files::source::{Document, Site, deserialize, parse_documents};
use crate::files::workloads::{AppWorkload, DEFAULT_NAMESPACE};
use crate::pod::{amounts, pod_requests, taint_effect};

/// The name of the optional per-cluster metadata file.
pub const META_FILE: &str = "_clusters.yaml";

/// The node label that `instancePricesPerHour` in [`META_FILE`] prices pools by.
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";

/// The node label EKS sets to `fargate` on Fargate's per-pod virtual nodes.
pub const COMPUTE_TYPE_LABEL: &str = "eks.amazonaws.com/compute-type";

/// Labels that differ from node to node and so do not split pools.
pub const PER_NODE_LABELS: [&str; 9] = [
    "kubernetes.io/hostname",
    "doks.digitalocean.com/node-id",
    "k3s.io/hostname",
    "k3s.io/internal-ip",
    "k3s.io/external-ip",
    "alpha.eksctl.io/instance-id",
    "topology.k8s.aws/network-node-layer-1",
    "topology.k8s.aws/network-node-layer-2",
    "topology.k8s.aws/network-node-layer-3",
];

/// Taints that describe a node's state rather than its pool (besides every
/// `node.kubernetes.io/` key).
pub const STATE_TAINTS: [&str; 4] = [
    "node.cloudprovider.kubernetes.io/uninitialized",
    "node.cloudprovider.kubernetes.io/shutdown",
    "ToBeDeletedByClusterAutoscaler",
    "karpenter.sh/disrupted",
];

/// The node labels that name a pool, in order of preference.
pub const POOL_NAME_LABELS: [&str; 6] = [
    "eks.amazonaws.com/nodegroup",
    "karpenter.sh/nodepool",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
    "doks.digitalocean.com/node-pool",
    "fleetplan.io/pool",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetaFile {
    #[serde(default)]
    clusters: BTreeMap<String, MetaSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetaSpec {
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    taints: Vec<TaintSpec>,
    #[serde(default)]
    health: Health,
    #[serde(default)]
    region: Option<String>,
    #[serde(default, rename = "fixedPricePerHour", deserialize_with = "present")]
    fixed_price_per_hour: Option<Value>,
    #[serde(default, rename = "instancePricesPerHour")]
    instance_prices_per_hour: BTreeMap<String, Value>,
    #[serde(default, deserialize_with = "present")]
    account: Option<Value>,
    #[serde(default, rename = "fargateProfiles")]
    fargate_profiles: Vec<FargateProfileSpec>,
}

/// Metadata for one dumped cluster, from `_clusters.yaml`.
#[derive(Debug)]
pub(crate) struct ClusterMeta {
    labels: Labels,
    taints: Vec<Taint>,
    health: Health,
    region: Option<String>,
    fixed_price: Option<HourlyPrice>,
    /// Node prices by instance type.
    instance_prices: BTreeMap<String, HourlyPrice>,
    /// The AWS account.
    account: Option<String>,
    /// The Fargate profiles.
    fargate_profiles: Vec<FargateProfile>,
    /// Where it was given (`clusters.<name>` in the file).
    pub at: Location,
}

impl ClusterMeta {
    /// Metadata of a live cluster: its labels, region, account and Fargate profiles from its
    /// registration, and health.
    pub(crate) fn live(
        labels: Labels,
        region: String,
        account: Option<String>,
        fargate_profiles: Vec<FargateProfile>,
        health: Health,
        at: Location,
    ) -> Self {
        ClusterMeta {
            labels,
            taints: Vec::new(),
            health,
            region: Some(region),
            fixed_price: None,
            instance_prices: BTreeMap::new(),
            account,
            fargate_profiles,
            at,
        }
    }
}

/// True when `file` is a `_clusters.yaml` metadata file.
pub(crate) fn is_meta_file(file: &Path) -> bool {
    file.file_name().is_some_and(|n| n == META_FILE)
}

/// Reads a `_clusters.yaml` file (`text`, from `file`) into metadata by cluster name, adding
/// to `into`.
pub(crate) fn read_meta(
    text: &str,
    file: &Path,
    into: &mut BTreeMap<String, ClusterMeta>,
) -> Result<(), LoadError> {
    for document in parse_documents(text, file)? {
        let meta: MetaFile = deserialize(&document.value, file, None)?;
        for (name, spec) in meta.clusters {
            let field = format!("clusters.{name}");
            let site = Site {
                file: file.to_path_buf(),
                object: format!("cluster {name}"),
            };
            let at = Location {
                file: file.to_path_buf(),
                object: None,
                field: Some(field.clone()),
            };
            if spec.region.as_deref() == Some("") {
                return Err(site.invalid(format!("{field}.region"), "must not be empty"));
            }
            let fixed_price = match &spec.fixed_price_per_hour {
                Some(value) => Some(
                    hourly_price(value, &format!("cluster `{name}`"))
                        .map_err(|m| site.invalid(format!("{field}.fixedPricePerHour"), m))?,
                ),
                None => None,
            };
            let mut instance_prices = BTreeMap::new();
            for (instance_type, value) in &spec.instance_prices_per_hour {
                let price =
                    hourly_price(value, &format!("instance type `{instance_type}`")).map_err(|m| {
                        site.invalid(format!("{field}.instancePricesPerHour[{instance_type}]"), m)
                    })?;
                instance_prices.insert(instance_type.clone(), price);
            }
            let account = match &spec.account {
                Some(value) => {
                    Some(account_id(value).map_err(|m| site.invalid(format!("{field}.account"), m))?)
                }
                None => None,
            };
            let meta = ClusterMeta {
                taints: taints(&spec.taints, &site, &format!("{field}.taints"))?,
                fargate_profiles: fargate_profiles(
                    &spec.fargate_profiles,
                    &site,
                    &format!("{field}.fargateProfiles"),
                )?,
                labels: spec.labels,
                health: spec.health,
                region: spec.region,
                fixed_price,
                instance_prices,
                account,
                at: at.clone(),
            };
            if let Some(first) = into.insert(name, meta) {
                return Err(LoadError::Invalid {
                    at: Box::new(at),
                    message: format!(
                        "metadata for this cluster is given twice (first in {})",
                        first.at.file.display()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A cluster read from a dump and the replicas of planned workloads running there.
pub(crate) struct DumpCluster {
    /// The cluster.
    pub cluster: Cluster,
    /// Running replicas by workload and pool.
    pub running: Vec<Running>,
    /// Replicas whose pod is Ready, by workload.
    pub ready: BTreeMap<WorkloadId, u32>,
    /// Replicas whose pod is Pending on no node, by workload.
    pub pending: BTreeMap<WorkloadId, u32>,
}

/// The cluster name of a dump file: its stem, which must keep the rule of
/// [`fleetplan::cluster_name_error`].
pub(crate) fn cluster_name(file: &Path) -> Result<String, LoadError> {
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| LoadError::Invalid {
            at: Box::new(Location::file(file)),
            message: "the file name does not give a cluster name".into(),
        })?;
    match fleetplan::cluster_name_error(name) {
        Some(problem) => Err(LoadError::Invalid {
            at: Box::new(Location::file(file)),
            message: format!("{problem} (a dump's cluster is named after its file: rename it)"),
        }),
        None => Ok(name.to_string()),
    }
}

struct NodeInfo {
    name: String,
    site: Site,
    /// Labels that define the pool (per-node labels removed).
    labels: Labels,
    /// Taints that define the pool (state taints removed), sorted.
    taints: Vec<Taint>,
    allocatable: Resources,
    ready: bool,
    /// Why the node takes no new pods, when it takes none.
    unavailable: Option<Unavailability>,
    used: Resources,
}

/// A Fargate virtual node: its name, readiness and region label.
struct FargateNode {
    name: String,
    ready: bool,
    region: Option<String>,
}

/// Where a pod is bound.
#[derive(Clone, Copy)]
enum Binding {
    /// To the node of that index.
    Node(usize),
    /// To a Ready Fargate virtual node.
    Fargate,
    /// To no node yet: Pending, not being deleted.
    Unscheduled,
}

struct BoundPod {
    binding: Binding,
    namespace: String,
    owners: Vec<OwnerReference>,
    labels: Labels,
    /// Its `Ready` condition is `True`.
    ready: bool,
}

impl BoundPod {
    /// `pod`, in `namespace`, bound as `binding`.
    fn of(pod: &Pod, binding: Binding, namespace: String) -> Self {
        let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
        BoundPod {
            binding,
            namespace,
            owners: pod.metadata.owner_references.clone().unwrap_or_default(),
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            ready: ready_condition(conditions.into_iter().flatten().map(|c| (&*c.type_, &*c.status))),
        }
    }
}

/// Whether the `Ready` condition among `(type, status)` pairs is `True`.
fn ready_condition<'a>(mut conditions: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    conditions.any(|(kind, status)| kind == "Ready" && status == "True")
}

/// Reads one cluster's dump (or live snapshot): `file` names where its documents came from.
pub(crate) fn read_dump(
    name: String,
    file: &Path,
    documents: &[Document],
    meta: Option<&ClusterMeta>,
    apps: &[AppWorkload],
) -> Result<DumpCluster, LoadError> {
    let mut nodes = Vec::new();
    let mut fargate_nodes = Vec::new();
    let mut pods = Vec::new();
    for document in documents {
        let header = document.header()?;
        match (header.api_version.as_str(), header.kind.as_str()) {
            ("v1", "Node") => {
                let site = Site::of(file, &header);
                let node: Node = deserialize(&document.value, file, Some(&site.object))?;
                let labels = node.metadata.labels.as_ref();
                if labels.and_then(|l| l.get(COMPUTE_TYPE_LABEL)).map(String::as_str) == Some("fargate") {
                    fargate_nodes.push(FargateNode {
                        ready: is_ready(&node),
                        region: labels.and_then(|l| l.get(REGION_NODE_LABEL)).cloned(),
                        name: header.name,
                    });
                    continue;
                }
                nodes.push(node_info(&node, header.name, site)?);
            }
            ("v1", "Pod") => {
                let namespace = header
                    .namespace
                    .clone()
                    .unwrap_or_else(|| DEFAULT_NAMESPACE.into());
                let site = Site::of(file, &header);
                let pod: Pod = deserialize(&document.value, file, Some(&site.object))?;
                pods.push((pod, namespace, site));
            }
            _ => {}
        }
    }
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let repeated = nodes
        .windows(2)
        .find(|w| w.first().map(|n| &n.name) == w.get(1).map(|n| &n.name));
    if let Some(second) = repeated.and_then(|w| w.get(1)) {
        return Err(second.site.invalid("metadata.name", "this node is listed twice"));
    }
    fargate_nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let bound = bind_pods(&mut nodes, &fargate_nodes, pods)?;
    let (pools, node_pool) = pools(&nodes);
    let profiles = meta.map_or(&[][..], |m| m.fargate_profiles.as_slice());
    let mut running: BTreeMap<(WorkloadId, usize), u32> = BTreeMap::new();
    let mut ready: BTreeMap<WorkloadId, u32> = BTreeMap::new();
    let mut pending: BTreeMap<WorkloadId, u32> = BTreeMap::new();
    for pod in &bound {
        let pool = match pod.binding {
            Binding::Node(node) => {
                let (Some(node), Some(pool)) = (nodes.get(node), node_pool.get(node)) else {
                    continue;
                };
                if !node.ready {
                    continue;
                }
                *pool
            }
            // Fargate pools follow the node pools, in profile order.
            Binding::Fargate => {
                let profile = pod.labels.get(PROFILE_LABEL);
                let Some(index) = profiles.iter().position(|p| Some(&p.name) == profile) else {
                    continue;
                };
                pools.len() + index
            }
            Binding::Unscheduled => {
                if let Some(id) = owning_workload(pod, apps) {
                    let count = pending.entry(id.clone()).or_default();
                    *count = count.saturating_add(1);
                }
                continue;
            }
        };
        if let Some(id) = owning_workload(pod, apps) {
            let count = running.entry((id.clone(), pool)).or_default();
            *count = count.saturating_add(1);
            if pod.ready {
                let count = ready.entry(id.clone()).or_default();
                *count = count.saturating_add(1);
            }
        }
    }
    let region = region(&name, file, &nodes, &fargate_nodes, meta)?;
    let mut cluster = Cluster::new(&name, &region);
    cluster.pools = pools;
    if let Some(meta) = meta {
        cluster.labels = meta.labels.clone();
        cluster.taints = meta.taints.clone();
        cluster.health = meta.health;
        cluster.fixed_price = meta.fixed_price;
        cluster.account = meta.account.clone();
        price_pools(&mut cluster, meta)?;
        add_fargate_pools(&mut cluster, meta)?;
    }
    let running = running
        .into_iter()
        .filter_map(|((workload, pool), replicas)| {
            cluster.pools.get(pool).map(|p| Running {
                workload,
                cluster: cluster.name.clone(),
                pool: p.name.clone(),
                replicas,
            })
        })
        .collect();
    Ok(DumpCluster {
        cluster,
        running,
        ready,
        pending,
    })
}

fn node_info(node: &Node, name: String, site: Site) -> Result<NodeInfo, LoadError> {
    let labels: Labels = node
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(k, _)| !PER_NODE_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut pool_taints = Vec::new();
    let mut state_taint = None;
    let spec = node.spec.as_ref();
    for (i, t) in spec
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let effect =
            taint_effect(&t.effect).map_err(|m| site.invalid(format!("spec.taints[{i}].effect"), m))?;
        let taint = Taint {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
            effect,
        };
        if t.key.starts_with("node.kubernetes.io/") || STATE_TAINTS.contains(&t.key.as_str()) {
            if effect != TaintEffect::PreferNoSchedule && state_taint.is_none() {
                state_taint = Some(taint);
            }
            continue;
        }
        pool_taints.push(taint);
    }
    pool_taints.sort();
    pool_taints.dedup();
    let status = node.status.as_ref();
    // Zero amounts (`hugepages-2Mi: "0"`) are dropped: absent means zero, and pools should
    // not split over how a node spells nothing.
    let allocatable: Resources = match status.and_then(|s| s.allocatable.as_ref()) {
        Some(a) => amounts(a, &site, "status.allocatable")?
            .iter()
            .filter(|(_, amount)| *amount != 0)
            .map(|(name, amount)| (name.as_str(), amount))
            .collect(),
        None => Resources::new(),
    };
    let ready = is_ready(node);
    let unavailable = if !ready {
        Some(Unavailability::NotReady)
    } else if spec.and_then(|s| s.unschedulable) == Some(true) {
        Some(Unavailability::Cordoned)
    } else {
        state_taint.map(|taint| Unavailability::Tainted { taint })
    };
    Ok(NodeInfo {
        name,
        site,
        labels,
        taints: pool_taints,
        allocatable,
        ready,
        unavailable,
        used: Resources::new(),
    })
}

/// Whether a node's `Ready` condition is `True`.
fn is_ready(node: &Node) -> bool {
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
    ready_condition(conditions.into_iter().flatten().map(|c| (&*c.type_, &*c.status)))
}

/// Adds the requests of bound, unfinished pods to their nodes; returns those pods, the
/// unfinished pods bound to Ready Fargate nodes (`fargate_nodes` sorted by name) and the
/// Pending pods bound to no node.
fn bind_pods(
    nodes: &mut [NodeInfo],
    fargate_nodes: &[FargateNode],
    pods: Vec<(Pod, String, Site)>,
) -> Result<Vec<BoundPod>, LoadError> {
    let mut bound = Vec::new();
    for (pod, namespace, site) in pods {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        let Some(spec) = &pod.spec else { continue };
        let Some(node_name) = spec.node_name.as_deref() else {
            if pod.metadata.deletion_timestamp.is_none() {
                bound.push(BoundPod::of(&pod, Binding::Unscheduled, namespace));
            }
            continue;
        };
        let Ok(node) = nodes.binary_search_by(|n| n.name.as_str().cmp(node_name)) else {
            // A Fargate node runs this one pod and has no capacity to take from.
            let fargate = fargate_nodes.binary_search_by(|n| n.name.as_str().cmp(node_name));
            if fargate.is_ok_and(|i| fargate_nodes.get(i).is_some_and(|n| n.ready)) {
                bound.push(BoundPod::of(&pod, Binding::Fargate, namespace));
            }
            continue;
        };
        let requests = pod_requests(spec, &site, "spec")?;
        if let Some(info) = nodes.get_mut(node) {
            info.used.add(&requests);
        }
        bound.push(BoundPod::of(&pod, Binding::Node(node), namespace));
    }
    Ok(bound)
}

/// Groups nodes into pools; returns the pools and the pool of each node.
fn pools(nodes: &[NodeInfo]) -> (Vec<NodePool>, Vec<usize>) {
    let mut pools: Vec<NodePool> = Vec::new();
    let mut groups: Vec<Vec<NodeGroup>> = Vec::new();
    let mut node_pool = Vec::with_capacity(nodes.len());
    for node in nodes {
        let index = match pools.iter().position(|p| {
            p.labels == node.labels && p.taints == node.taints && p.allocatable == node.allocatable
        }) {
            Some(index) => index,
            None => {
                pools.push(NodePool {
                    name: PoolName::from(""),
                    zone: node.labels.get(ZONE_NODE_LABEL).cloned(),
                    labels: node.labels.clone(),
                    taints: node.taints.clone(),
                    allocatable: node.allocatable.clone(),
                    nodes: Vec::new(),
                    unavailable: Vec::new(),
                    node_price: None,
                    fargate: None,
                });
                groups.push(Vec::new());
                pools.len() - 1
            }
        };
        node_pool.push(index);
        match &node.unavailable {
            None => {
                if let Some(g) = groups.get_mut(index) {
                    g.push(NodeGroup {
                        count: 1,
                        free: free(&node.allocatable, &node.used),
                    });
                }
            }
            Some(why) => {
                if let Some(pool) = pools.get_mut(index) {
                    pool.unavailable.push(UnavailableNode {
                        name: node.name.clone(),
                        why: why.clone(),
                    });
                }
            }
        }
    }
    let names = pool_names(&pools);
    for ((pool, nodes), name) in pools.iter_mut().zip(groups).zip(names) {
        pool.nodes = nodes;
        pool.merge_identical_nodes();
        pool.name = PoolName::from(name.as_str());
    }
    (pools, node_pool)
}

/// Gives the pools of a dumped cluster the node prices of their instance types; an instance
/// type that no pool has is an error.
fn price_pools(cluster: &mut Cluster, meta: &ClusterMeta) -> Result<(), LoadError> {
    for (instance_type, price) in &meta.instance_prices {
        let mut priced = false;
        for pool in &mut cluster.pools {
            if pool.labels.get(INSTANCE_TYPE_LABEL) == Some(instance_type) {
                pool.node_price = Some(*price);
                priced = true;
            }
        }
        if !priced {
            let field = meta.at.field.as_deref().unwrap_or_default();
            return Err(LoadError::Invalid {
                at: Box::new(Location {
                    file: meta.at.file.clone(),
                    object: Some(format!("cluster {}", cluster.name)),
                    field: Some(format!("{field}.instancePricesPerHour[{instance_type}]")),
                }),
                message: format!(
                    "no node of cluster `{}` has the label {INSTANCE_TYPE_LABEL}={instance_type}",
                    cluster.name
                ),
            });
        }
    }
    Ok(())
}

/// Appends the cluster's Fargate profiles from the metadata as pools, after the node pools; a
/// profile named like a node pool is an error.
fn add_fargate_pools(cluster: &mut Cluster, meta: &ClusterMeta) -> Result<(), LoadError> {
    for (i, profile) in meta.fargate_profiles.iter().enumerate() {
        if cluster.pools.iter().any(|p| p.name.as_str() == profile.name) {
            let field = meta.at.field.as_deref().unwrap_or_default();
            return Err(LoadError::Invalid {
                at: Box::new(Location {
                    file: meta.at.file.clone(),
                    object: Some(format!("cluster {}", cluster.name)),
                    field: Some(format!("{field}.fargateProfiles[{i}].name")),
                }),
                message: format!(
                    "Fargate profile `{}` has the name of a node pool of the dump; a Fargate profile is a pool \
                     of its name, and pool names are unique in a cluster",
                    profile.name
                ),
            });
        }
        cluster.pools.push(NodePool::fargate(profile.clone()));
    }
    Ok(())
}

/// `allocatable` less `used`, never below zero, over the allocatable resources.
fn free(allocatable: &Resources, used: &Resources) -> Resources {
    allocatable
        .iter()
        .map(|(name, amount)| {
            (
                name.as_str(),
                amount.saturating_sub(used.get(name.as_str())).max(0),
            )
        })
        .collect()
}

/// Names pools by their naming label (with the zone when the name spans zones), else
/// `pool-N`, and makes the names unique in order.
fn pool_names(pools: &[NodePool]) -> Vec<String> {
    let bases: Vec<Option<&String>> = pools
        .iter()
        .map(|p| POOL_NAME_LABELS.iter().find_map(|l| p.labels.get(*l)))
        .collect();
    let mut names: Vec<Option<String>> = Vec::new();
    for (pool, base) in pools.iter().zip(&bases) {
        names.push(base.map(|base| {
            let zones_of_base: Vec<&Option<String>> = pools
                .iter()
                .zip(&bases)
                .filter(|(_, b)| **b == Some(base))
                .map(|(p, _)| &p.zone)
                .collect();
            let spans_zones = zones_of_base.iter().any(|z| **z != pool.zone);
            match &pool.zone {
                Some(zone) if spans_zones => format!("{base}-{zone}"),
                _ => base.clone(),
            }
        }));
    }
    let mut taken: Vec<String> = names.iter().flatten().cloned().collect();
    let mut counter = 0;
    let mut result = Vec::new();
    let mut used: Vec<String> = Vec::new();
    for name in names {
        let name = name.unwrap_or_else(|| {
            loop {
                counter += 1;
                let candidate = format!("pool-{counter}");
                if !taken.contains(&candidate) {
                    taken.push(candidate.clone());
                    break candidate;
                }
            }
        });
        let mut unique = name.clone();
        let mut suffix = 1;
        while used.contains(&unique) {
            suffix += 1;
            unique = format!("{name}-{suffix}");
        }
        used.push(unique.clone());
        result.push(unique);
    }
    result
}

/// The region of a dumped cluster: the metadata's, else the one all nodes agree on.
fn region(
    name: &str,
    file: &Path,
    nodes: &[NodeInfo],
    fargate_nodes: &[FargateNode],
    meta: Option<&ClusterMeta>,
) -> Result<String, LoadError> {
    if let Some(region) = meta.and_then(|m| m.region.clone()) {
        return Ok(region);
    }
    let mut regions: BTreeMap<&str, &str> = BTreeMap::new();
    let labelled = nodes
        .iter()
        .map(|n| (n.name.as_str(), n.labels.get(REGION_NODE_LABEL)))
        .chain(fargate_nodes.iter().map(|n| (n.name.as_str(), n.region.as_ref())));
    for (node, region) in labelled {
        if let Some(region) = region {
            regions.entry(region.as_str()).or_insert(node);
        }
    }
    let mut found = regions.iter();
    match (found.next(), found.next()) {
        (Some((region, _)), None) => Ok(region.to_string()),
        (None, _) => Err(LoadError::Invalid {
            at: Box::new(Location::file(file)),
            message: format!(
                "no node of cluster `{name}` has the label {REGION_NODE_LABEL}; give the region in {META_FILE}"
            ),
        }),
        (Some(_), Some(_)) => {
            let list: Vec<String> = regions.iter().map(|(r, n)| format!("{r} (node {n})")).collect();
            Err(LoadError::Invalid {
                at: Box::new(Location::file(file)),
                message: format!(
                    "the nodes of cluster `{name}` disagree on {REGION_NODE_LABEL}: {}; give the region in {META_FILE}",
                    list.join(", ")
                ),
            })
        }
    }
}

/// The planned workload a pod belongs to, if any.
fn owning_workload<'a>(pod: &BoundPod, apps: &'a [AppWorkload]) -> Option<&'a WorkloadId> {
    let in_namespace = || apps.iter().filter(|a| *a.workload.id.namespace == *pod.namespace);
    for owner in &pod.owners {
        let (kind, name) = match owner.kind.as_str() {
            "ReplicaSet" => match owner.name.rsplit_once('-') {
                Some((deployment, _)) => (WorkloadKind::Deployment, deployment),
                None => continue,
            },
            "Job" => (WorkloadKind::Job, owner.name.as_str()),
            _ => continue,
        };
        if let Some(app) = in_namespace().find(|a| a.workload.kind == kind && *a.workload.id.name == *name) {
            return Some(&app.workload.id);
        }
    }
    in_namespace()
        .find(|a| {
            !a.match_labels.is_empty() && a.match_labels.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
        })
        .map(|a| &a.workload.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetplan::{PodTemplate, Workload};

    fn node(name: &str, zone: &str, group: Option<&str>, extra: &str) -> String {
        let group = group
            .map(|g| format!(", eks.amazonaws.com/nodegroup: {g}"))
            .unwrap_or_default();
        format!(
            "- apiVersion: v1\n  kind: Node\n  metadata:\n    name: {name}\n    labels: {{kubernetes.io/hostname: {name}, \
             topology.kubernetes.io/region: r1, topology.kubernetes.io/zone: {zone}{group}}}\n  {extra}status:\n    \
             allocatable: {{cpu: '4', memory: 8Gi, pods: '110'}}\n    conditions: [{{type: Ready, status: 'True'}}]\n"
        )
    }

    fn pod(name: &str, node: &str, owner: &str, labels: &str, phase: &str) -> String {
        format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: {name}\n    namespace: shop\n    labels: {{{labels}}}\n    \
             ownerReferences: [{owner}]\n  spec:\n    nodeName: {node}\n    containers:\n    - name: c\n      \
             resources: {{requests: {{cpu: 500m, memory: 1Gi}}}}\n  status: {{phase: {phase}}}\n"
        )
    }

    fn app(kind: WorkloadKind, name: &str, labels: &[(&str, &str)]) -> AppWorkload {
        let mut workload = Workload::new("shop", name, 1, Resources::new());
        workload.kind = kind;
        workload.template = PodTemplate::default();
        AppWorkload {
            workload,
            match_labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            file: "apps/x.yaml".into(),
            source: serde_json::Value::Null,
        }
    }

    fn dump(items: &str, meta: Option<&ClusterMeta>, apps: &[AppWorkload]) -> Result<DumpCluster, LoadError> {
        let file = Path::new("east.yaml");
        let documents = parse_documents(&format!("apiVersion: v1\nkind: List\nitems:\n{items}"), file)?;
        read_dump(cluster_name(file)?, file, &documents, meta, apps)
    }

    fn cpu_free(pool: &NodePool) -> Vec<(u32, i64)> {
        pool.nodes.iter().map(|g| (g.count, g.free.get("cpu"))).collect()
    }

    #[test]
    fn nodes_group_into_pools_by_labels_taints_and_allocatable() {
        let items = [
            node("n3", "r1a", Some("general"), ""),
            node("n1", "r1a", Some("general"), ""),
            node("n2", "r1b", Some("general"), ""),
            node(
                "n4",
                "r1a",
                Some("gpu"),
                "spec: {taints: [{key: gpu, value: 'true', effect: NoSchedule}]}\n  ",
            ),
            node("n5", "r1a", None, ""),
            node(
                "n6",
                "r1a",
                None,
                "spec: {taints: [{key: dedicated, effect: NoSchedule}]}\n  ",
            ),
        ]
        .concat();
        let d = dump(&items, None, &[]).unwrap();
        let c = &d.cluster;
        assert_eq!((c.name.as_str(), c.region.as_str()), ("east", "r1"));
        let pools: Vec<(&str, Option<&str>, u64)> = c
            .pools
            .iter()
            .map(|p| (p.name.as_str(), p.zone.as_deref(), p.node_count()))
            .collect();
        assert_eq!(
            pools,
            [
                ("general-r1a", Some("r1a"), 2),
                ("general-r1b", Some("r1b"), 1),
                ("gpu", Some("r1a"), 1),
                ("pool-1", Some("r1a"), 1),
                ("pool-2", Some("r1a"), 1),
            ]
        );
        assert!(!c.pools[0].labels.contains_key("kubernetes.io/hostname"));
        assert_eq!(c.pools[2].taints[0].to_string(), "gpu=true:NoSchedule");
        assert_eq!(c.pools[0].allocatable.get("memory"), 8 << 30);
    }

    #[test]
    fn pool_names_are_unique() {
        let pool = |group: Option<&str>, zone: Option<&str>| {
            let mut p = NodePool::uniform("", 1, Resources::new());
            p.zone = zone.map(str::to_string);
            if let Some(g) = group {
                p.labels.insert("fleetplan.io/pool".into(), g.into());
            }
            p
        };
        let names = pool_names(&[
            pool(Some("a"), Some("z")),
            pool(Some("a"), Some("z")),
            pool(Some("pool-1"), None),
            pool(None, None),
            pool(Some("b"), None),
            pool(Some("b"), Some("z")),
        ]);
        assert_eq!(names, ["a", "a-2", "pool-1", "pool-2", "b", "b-z"]);
    }

    #[test]
    fn free_subtracts_bound_unfinished_pods_and_unusable_nodes_count_nothing() {
        let items = [
            node("n1", "r1a", Some("g"), ""),
            node("n2", "r1a", Some("g"), ""),
            node("n3", "r1a", Some("g"), ""),
            node("n4", "r1a", Some("g"), "spec: {unschedulable: true}\n  "),
            node(
                "n5",
                "r1a",
                Some("g"),
                "spec: {taints: [{key: node.kubernetes.io/disk-pressure, effect: NoSchedule}]}\n  ",
            ),
            pod("p1", "n1", "", "", "Running"),
            pod("p2", "n1", "", "", "Pending"),
            pod("p3", "n2", "", "", "Running"),
            pod("p4", "n2", "", "", "Succeeded"),
            pod("p5", "n3", "", "", "Failed"),
            pod("p6", "elsewhere", "", "", "Running"),
        ]
        .concat();
        let d = dump(&items, None, &[]).unwrap();
        assert_eq!(
            d.cluster.pools.len(),
            1,
            "state taints and cordons do not split pools"
        );
        assert_eq!(cpu_free(&d.cluster.pools[0]), [(1, 3000), (1, 3500), (1, 4000)]);
        let memory: Vec<i64> = d.cluster.pools[0]
            .nodes
            .iter()
            .map(|g| g.free.get("memory"))
            .collect();
        assert_eq!(memory, [6 << 30, 7 << 30, 8 << 30]);
        assert_eq!(d.cluster.pools[0].nodes[0].free.get("pods"), 108);
    }

    #[test]
    fn not_ready_nodes_keep_their_pool_but_offer_nothing() {
        let items = node("n1", "r1a", Some("g"), "").replace("status: 'True'", "status: 'Unknown'");
        let d = dump(&items, None, &[]).unwrap();
        assert_eq!(d.cluster.pools[0].name.as_str(), "g");
        assert!(d.cluster.pools[0].nodes.is_empty());
    }

    #[test]
    fn nodes_that_take_no_pods_are_named_with_why() {
        let ready = "conditions: [{type: Ready, status: 'True'}]";
        let items = [
            node("a-none", "r1a", Some("g"), "").replace(ready, "conditions: []"),
            node("b-false", "r1a", Some("g"), "").replace("status: 'True'", "status: 'False'"),
            node("c-unknown", "r1a", Some("g"), "").replace("status: 'True'", "status: 'Unknown'"),
            // Not Ready comes first when a node is also cordoned.
            node("d-both", "r1a", Some("g"), "spec: {unschedulable: true}\n  ")
                .replace("status: 'True'", "status: 'False'"),
            node(
                "e-cordoned",
                "r1a",
                Some("g"),
                "spec:\n    unschedulable: true\n    \
                 taints: [{key: node.kubernetes.io/unschedulable, effect: NoSchedule}]\n  ",
            ),
            node(
                "f-pressure",
                "r1a",
                Some("g"),
                "spec: {taints: [{key: node.kubernetes.io/disk-pressure, effect: PreferNoSchedule}, \
                 {key: ToBeDeletedByClusterAutoscaler, value: '1700000000', effect: NoSchedule}]}\n  ",
            ),
            node("g-fine", "r1a", Some("g"), ""),
        ]
        .concat();
        let d = dump(&items, None, &[]).unwrap();
        let pool = &d.cluster.pools[0];
        assert_eq!(d.cluster.pools.len(), 1);
        assert_eq!(pool.node_count(), 1, "only g-fine takes pods");
        let unavailable: Vec<String> = pool
            .unavailable
            .iter()
            .map(|n| format!("{} {}", n.name, n.why))
            .collect();
        assert_eq!(
            unavailable,
            [
                "a-none not Ready",
                "b-false not Ready",
                "c-unknown not Ready",
                "d-both not Ready",
                "e-cordoned cordoned",
                "f-pressure tainted ToBeDeletedByClusterAutoscaler=1700000000:NoSchedule",
            ]
        );
    }

    #[test]
    fn bound_pods_match_planned_workloads() {
        let rs = |name: &str| format!("{{apiVersion: apps/v1, kind: ReplicaSet, name: {name}, uid: u}}");
        let job = |name: &str| format!("{{apiVersion: batch/v1, kind: Job, name: {name}, uid: u}}");
        let items = [
            node("n1", "r1a", Some("g"), ""),
            node("n2", "r1b", Some("h"), ""),
            pod("w1", "n1", &rs("web-5d9c8b7f6"), "", "Running"),
            pod("w2", "n1", &rs("web-5d9c8b7f6"), "", "Running"),
            pod("w3", "n2", &rs("web-5d9c8b7f6"), "", "Running"),
            pod("x1", "n2", &rs("web-admin-77f"), "", "Running"),
            pod("j1", "n2", &job("train"), "", "Running"),
            pod("l1", "n2", "", "app: api, tier: x", "Running"),
            pod("l2", "n2", "", "app: other", "Running"),
            pod("done", "n1", &rs("web-5d9c8b7f6"), "", "Succeeded"),
        ]
        .concat();
        let apps = [
            app(WorkloadKind::Deployment, "web", &[("app", "web")]),
            app(WorkloadKind::Job, "train", &[]),
            app(WorkloadKind::Deployment, "api", &[("app", "api")]),
        ];
        let d = dump(&items, None, &apps).unwrap();
        let running: Vec<(String, &str, u32)> = d
            .running
            .iter()
            .map(|r| (r.workload.to_string(), r.pool.as_str(), r.replicas))
            .collect();
        assert_eq!(
            running,
            [
                ("shop/api".into(), "h", 1),
                ("shop/train".into(), "h", 1),
                ("shop/web".into(), "g", 2),
                ("shop/web".into(), "h", 1),
            ]
        );
    }

    fn meta(region: Option<&str>) -> ClusterMeta {
        ClusterMeta {
            labels: [("tier".to_string(), "prod".to_string())].into(),
            taints: Vec::new(),
            health: Health::Cordoned,
            region: region.map(str::to_string),
            fixed_price: None,
            instance_prices: BTreeMap::new(),
            account: None,
            fargate_profiles: Vec::new(),
            at: Location::file("fleet/_clusters.yaml"),
        }
    }

    /// Reads `text` as a `_clusters.yaml`.
    fn read_meta_text(text: &str) -> Result<BTreeMap<String, ClusterMeta>, String> {
        let mut into = BTreeMap::new();
        read_meta(text, Path::new(META_FILE), &mut into)
            .map(|()| into)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn regions_must_agree_unless_the_metadata_says() {
        let items = [
            node("n1", "r1a", None, ""),
            node("n2", "r2a", None, "").replace("region: r1", "region: r2"),
        ]
        .concat();
        let e = dump(&items, None, &[])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.ends_with(
                "east.yaml: the nodes of cluster `east` disagree on topology.kubernetes.io/region: r1 (node n1), \
                 r2 (node n2); give the region in _clusters.yaml"
            ),
            "{e}"
        );
        let d = dump(&items, Some(&meta(Some("us"))), &[]).unwrap();
        assert_eq!(d.cluster.region, "us");
        assert_eq!(d.cluster.health, Health::Cordoned);
        assert_eq!(d.cluster.labels["tier"], "prod");
        let e = dump(" []\n", Some(&meta(None)), &[])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("no node of cluster `east` has the label topology.kubernetes.io/region"),
            "{e}"
        );
    }

    #[test]
    fn metadata_files_are_strict() {
        let read = read_meta_text;
        let m = read("clusters:\n  east: {labels: {a: b}, taints: [{key: k, effect: NoSchedule}], health: NotReady, region: r}\n")
            .unwrap();
        assert_eq!(m["east"].health, Health::NotReady);
        assert_eq!(m["east"].taints[0].to_string(), "k:NoSchedule");
        let e = read("clusters:\n  east: {zone: x}\n").unwrap_err();
        assert!(
            e.contains("_clusters.yaml: clusters.east.zone: unknown field `zone`"),
            "{e}"
        );
    }

    #[test]
    fn metadata_prices_clusters_and_pools_by_instance_type() {
        let typed = |node: String, instance_type: &str| {
            node.replace(
                "topology.kubernetes.io/region: r1,",
                &format!("topology.kubernetes.io/region: r1, {INSTANCE_TYPE_LABEL}: {instance_type},"),
            )
        };
        let items = [
            typed(node("n1", "r1a", Some("general"), ""), "m5.xlarge"),
            typed(node("n2", "r1b", Some("general"), ""), "m5.xlarge"),
            typed(node("n3", "r1a", Some("big"), ""), "m5.2xlarge"),
            node("n4", "r1a", Some("untyped"), ""),
        ]
        .concat();
        let priced = read_meta_text(
            "clusters:\n  east:\n    fixedPricePerHour: 0.10\n    instancePricesPerHour: {m5.xlarge: 0.192, m5.2xlarge: '0.384'}\n",
        )
        .unwrap();
        let d = dump(&items, priced.get("east"), &[]).unwrap();
        assert_eq!(d.cluster.fixed_price, Some(HourlyPrice(100_000)));
        let prices: Vec<(&str, Option<u64>)> = d
            .cluster
            .pools
            .iter()
            .map(|p| (p.name.as_str(), p.node_price.map(|p| p.0)))
            .collect();
        assert_eq!(
            prices,
            [
                ("general-r1a", Some(192_000)),
                ("general-r1b", Some(192_000)),
                ("big", Some(384_000)),
                ("untyped", None),
            ]
        );
        // Without prices in the metadata, nothing is priced.
        let d = dump(&items, Some(&meta(None)), &[]).unwrap();
        assert_eq!(d.cluster.fixed_price, None);
        assert!(d.cluster.pools.iter().all(|p| p.node_price.is_none()));

        let typo = read_meta_text(
            "clusters:\n  east: {instancePricesPerHour: {m5.xlarge: 0.192, m5.xlrge: 0.192}}\n",
        )
        .unwrap();
        let e = dump(&items, typo.get("east"), &[])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.ends_with(
                "_clusters.yaml: cluster east: clusters.east.instancePricesPerHour[m5.xlrge]: no node of cluster \
                 `east` has the label node.kubernetes.io/instance-type=m5.xlrge"
            ),
            "{e}"
        );
    }

    #[test]
    fn bad_metadata_prices_name_the_cluster_and_the_field() {
        let cases = [
            (
                "fixedPricePerHour: -0.1",
                "_clusters.yaml: cluster east: clusters.east.fixedPricePerHour: price -0.1 for cluster `east` must \
                 not be negative",
            ),
            (
                "fixedPricePerHour: ~",
                "_clusters.yaml: cluster east: clusters.east.fixedPricePerHour: invalid price null for cluster \
                 `east`: expected a number of currency units per hour, such as 0.192",
            ),
            (
                "instancePricesPerHour: {m5.xlarge: free}",
                "_clusters.yaml: cluster east: clusters.east.instancePricesPerHour[m5.xlarge]: invalid price \
                 \"free\" for instance type `m5.xlarge`: expected a number of currency units per hour, such as 0.192",
            ),
            (
                "instancePricesPerHour: {m5.xlarge: 1e15}",
                "_clusters.yaml: cluster east: clusters.east.instancePricesPerHour[m5.xlarge]: price \
                 1000000000000000.0 for instance type `m5.xlarge` is out of range (at most 10^12 per hour)",
            ),
        ];
        for (entry, expected) in cases {
            let e = read_meta_text(&format!("clusters:\n  east: {{{entry}}}\n")).unwrap_err();
            assert_eq!(e, expected, "{entry}");
        }
        let e = read_meta_text("clusters:\n  east: {pricePerHour: 1}\n").unwrap_err();
        assert!(
            e.starts_with("_clusters.yaml: clusters.east.pricePerHour: unknown field `pricePerHour`"),
            "{e}"
        );
    }

    /// A Fargate virtual node, as EKS lists it.
    fn fargate_node(name: &str, ready: bool) -> String {
        node(name, "r1a", None, "")
            .replace(
                "topology.kubernetes.io/region: r1,",
                &format!("{COMPUTE_TYPE_LABEL}: fargate, topology.kubernetes.io/region: r1,"),
            )
            .replace(
                "status: 'True'",
                if ready {
                    "status: 'True'"
                } else {
                    "status: 'False'"
                },
            )
    }

    #[test]
    fn fargate_nodes_form_no_pool_and_their_pods_count_on_the_profile() {
        let rs = "{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d9c8b7f6, uid: u}";
        let job = "{apiVersion: batch/v1, kind: Job, name: train, uid: u}";
        let on = |profile: &str| format!("{PROFILE_LABEL}: {profile}");
        let normal = [
            node("n1", "r1a", Some("g"), ""),
            node("n2", "r1b", None, ""),
            pod("w1", "n1", rs, "", "Running"),
        ]
        .concat();
        let fargate = [
            fargate_node("fargate-ip-10-0-1-1.ec2.internal", true),
            fargate_node("fargate-ip-10-0-1-2.ec2.internal", true),
            fargate_node("fargate-ip-10-0-1-3.ec2.internal", false),
            pod(
                "f1",
                "fargate-ip-10-0-1-1.ec2.internal",
                rs,
                &on("serverless"),
                "Running",
            ),
            pod(
                "f2",
                "fargate-ip-10-0-1-2.ec2.internal",
                rs,
                &on("gone"),
                "Running",
            ),
            pod(
                "f3",
                "fargate-ip-10-0-1-3.ec2.internal",
                rs,
                &on("serverless"),
                "Running",
            ),
            pod("f4", "fargate-ip-10-0-1-1.ec2.internal", rs, "", "Running"),
            pod(
                "f5",
                "fargate-ip-10-0-1-2.ec2.internal",
                rs,
                &on("serverless"),
                "Succeeded",
            ),
            pod(
                "f6",
                "fargate-ip-10-0-1-2.ec2.internal",
                job,
                &on("serverless"),
                "Pending",
            ),
            pod(
                "f7",
                "fargate-ip-10-0-1-1.ec2.internal",
                rs,
                &on("batch"),
                "Running",
            ),
        ]
        .concat();
        let apps = [
            app(WorkloadKind::Deployment, "web", &[("app", "web")]),
            app(WorkloadKind::Job, "train", &[]),
        ];
        let meta = read_meta_text(
            "clusters:\n  east:\n    account: '012345678901'\n    fargateProfiles:\n    \
             - {name: serverless, selectors: [{namespace: shop}], zones: [r1a]}\n    \
             - {name: batch, selectors: [{namespace: batch, labels: {fargate: 'yes'}}]}\n",
        )
        .unwrap();
        let plain = dump(&normal, None, &apps).unwrap();
        let d = dump(&format!("{normal}{fargate}"), meta.get("east"), &apps).unwrap();
        let c = &d.cluster;
        assert_eq!(c.account.as_deref(), Some("012345678901"));
        // The node pools are exactly those of the dump without Fargate nodes.
        assert_eq!(c.pools[..2], plain.cluster.pools[..]);
        let names: Vec<&str> = c.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["g", "pool-1", "serverless", "batch"]);
        assert_eq!(
            c.pools[2],
            NodePool::fargate(FargateProfile {
                name: "serverless".into(),
                selectors: vec![fleetplan::fargate::FargateSelector::new("shop")],
                zones: vec!["r1a".into()],
            })
        );
        assert_eq!(
            c.pools[3]
                .fargate
                .as_ref()
                .map(|f| f.selectors[0].labels["fargate"].as_str()),
            Some("yes")
        );
        let running: Vec<(String, &str, u32)> = d
            .running
            .iter()
            .map(|r| (r.workload.to_string(), r.pool.as_str(), r.replicas))
            .collect();
        assert_eq!(
            running,
            [
                ("shop/train".into(), "serverless", 1),
                ("shop/web".into(), "g", 1),
                ("shop/web".into(), "serverless", 1),
                ("shop/web".into(), "batch", 1),
            ]
        );

        // Without profiles in the metadata, Fargate pods are ignored, and so is everything else
        // about Fargate nodes.
        let d = dump(&format!("{normal}{fargate}"), None, &apps).unwrap();
        assert_eq!(d.cluster.pools, plain.cluster.pools);
        assert_eq!(d.running, plain.running);
        assert_eq!(d.cluster.account, None);

        // A cluster of Fargate nodes only takes its region from them.
        let d = dump(&fargate, None, &apps).unwrap();
        assert_eq!(d.cluster.region, "r1");
        assert!(d.cluster.pools.is_empty() && d.running.is_empty());
    }

    #[test]
    fn metadata_fargate_errors_name_the_cluster_and_the_field() {
        let e = read_meta_text("clusters:\n  east: {account: 123456789012}\n").unwrap_err();
        assert_eq!(
            e,
            "_clusters.yaml: cluster east: clusters.east.account: write the account id 123456789012 as a quoted \
             string, such as \"123456789012\" (a number loses leading zeros)"
        );
        let e = read_meta_text("clusters:\n  east: {fargateProfiles: [{name: p}]}\n").unwrap_err();
        assert_eq!(
            e,
            "_clusters.yaml: cluster east: clusters.east.fargateProfiles[0].selectors: Fargate profile `p` has no \
             selector"
        );
        let e = read_meta_text(
            "clusters:\n  east: {fargateProfiles: [{name: p, selectors: [{namespace: a}]}, {name: p, selectors: [{namespace: b}]}]}\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "_clusters.yaml: cluster east: clusters.east.fargateProfiles[1].name: duplicate Fargate profile `p`"
        );
        let e = read_meta_text("clusters:\n  east: {fargateProfiles: [{name: p, selectors: [{ns: a}]}]}\n")
            .unwrap_err();
        assert!(
            e.starts_with(
                "_clusters.yaml: clusters.east.fargateProfiles[0].selectors[0].ns: unknown field `ns`"
            ),
            "{e}"
        );
        let meta = read_meta_text(
            "clusters:\n  east: {fargateProfiles: [{name: ok, selectors: [{namespace: a}]}, {name: g, selectors: [{namespace: b}]}]}\n",
        )
        .unwrap();
        let e = dump(&node("n1", "r1a", Some("g"), ""), meta.get("east"), &[])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.ends_with(
                "_clusters.yaml: cluster east: clusters.east.fargateProfiles[1].name: Fargate profile `g` has the \
                 name of a node pool of the dump; a Fargate profile is a pool of its name, and pool names are unique \
                 in a cluster"
            ),
            "{e}"
        );
    }
}

//! eksctl `ClusterConfig` files (`apiVersion: eksctl.io/v1alpha5`, `kind: ClusterConfig`) read
//! offline into [`fleetplan::Cluster`]s.
//!
//! What is read, and how:
//!
//! - `metadata.name` and `metadata.region` (both required) name the cluster and its region;
//!   the tag [`ACCOUNT_TAG`] in `metadata.tags`, when present, is its AWS account
//!   ([`fleetplan::Cluster::account`]).
//! - `managedNodeGroups[]` and `nodeGroups[]` become node pools ([`crate::node_pool`], which
//!   gives them the labels, ephemeral storage and price EKS nodes have), in that order:
//!   - `name`;
//!   - the instance types from `instanceType`, else `instanceTypes`, else (self-managed
//!     groups) `instancesDistribution.instanceTypes`, else the types `instanceSelector`
//!     matches in the instance table (`vCPUs`, `memory`, `gpus`, `neuron_devices`,
//!     `cpuArchitecture`, `allow`, `deny`; at most [`MAX_SELECTED_INSTANCE_TYPES`]), else
//!     [`DEFAULT_INSTANCE_TYPE`] as eksctl does (`instanceType: mixed` counts as absent). The
//!     nodes are taken to be of the first type. A group whose type is only in its
//!     `launchTemplate` is an error: fleetplan does not read launch templates;
//!   - the node count from `desiredCapacity`, else `minSize`, else
//!     [`DEFAULT_DESIRED_CAPACITY`] as eksctl does;
//!   - `spot: true` (managed groups) and `instancesDistribution`'s
//!     `onDemandBaseCapacity` and `onDemandPercentageAboveBaseCapacity` (self-managed
//!     groups) for the price ([`crate::prices`]);
//!   - Windows when `amiFamily` is a `WindowsServer...` one, Linux otherwise;
//!   - `volumeSize` as the root volume, [`DEFAULT_VOLUME_SIZE_GIB`] by default;
//!   - `labels`; `taints`, either a list of `{key, value, effect}` or the older map form
//!     `key: "value:Effect"`, with effects `NoSchedule`, `PreferNoSchedule` and `NoExecute`;
//!   - the zone when `availabilityZones` lists exactly one.
//!
//!   Nodes also carry eksctl's `alpha.eksctl.io/cluster-name` and
//!   `alpha.eksctl.io/nodegroup-name` labels.
//! - `fargateProfiles[]` become Fargate pools ([`fleetplan::NodePool::fargate`]), after the
//!   node pools: `name` and `selectors[]` (`namespace`, `labels`). Their zones are unknown
//!   offline (`subnets` name subnets, not zones), so they are left empty. The profiles must
//!   keep the EKS limits ([`fleetplan::fargate::validate_profiles`]).
//!
//! Every other field (`vpc`, `iam`, `addons`, ...) is ignored, but the fields above must have
//! the right types. A node group named like a Fargate profile of the same cluster gets the pool
//! name `NAME-nodegroup`, since a Fargate pool takes its profile's name.
//!
//! Every error is an [`AwsError`] naming the file, the object (`ClusterConfig NAME`) and the
//! field path (`managedNodeGroups[1].instanceType`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fleetplan::fargate::{FargateProfile, FargateSelector, validate_profiles};
use fleetplan::{Cluster, Labels, NodePool, Taint, TaintEffect};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::AwsError;
use crate::instance_types::{Arch, Os, Selector, select};
use crate::node_groups::{NodeGroupSpec, node_pool};
use crate::prices::Capacity;

/// The API version this module reads.
pub const API_VERSION: &str = "eksctl.io/v1alpha5";
/// The kind this module reads.
pub const KIND: &str = "ClusterConfig";
/// The cluster tag (in `metadata.tags`) that names the cluster's AWS account.
pub const ACCOUNT_TAG: &str = "fleetplan.io/account";
/// eksctl's instance type for a node group that names none.
pub const DEFAULT_INSTANCE_TYPE: &str = "m5.large";
/// eksctl's root volume size, in GiB, for a node group without `volumeSize`.
pub const DEFAULT_VOLUME_SIZE_GIB: u32 = 80;
/// The most instance types eksctl lets an `instanceSelector` resolve to.
pub const MAX_SELECTED_INSTANCE_TYPES: usize = 40;
/// eksctl's node count for a node group with neither `desiredCapacity` nor `minSize`.
pub const DEFAULT_DESIRED_CAPACITY: u32 = 2;
/// The node label eksctl puts on every node with the cluster name.
pub const CLUSTER_NAME_LABEL: &str = "alpha.eksctl.io/cluster-name";
/// The node label eksctl puts on every node with the node group name.
pub const NODEGROUP_NAME_LABEL: &str = "alpha.eksctl.io/nodegroup-name";

/// A Kubernetes taint effect as eksctl and Kubernetes spell it (`NoSchedule`,
/// `PreferNoSchedule`, `NoExecute`), or `None`.
pub fn taint_effect(effect: &str) -> Option<TaintEffect> {
    match effect {
        "NoSchedule" => Some(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Some(TaintEffect::PreferNoSchedule),
        "NoExecute" => Some(TaintEffect::NoExecute),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterConfigDoc {
    metadata: MetadataDoc,
    #[serde(default)]
    fargate_profiles: Option<Vec<FargateProfileDoc>>,
    #[serde(default)]
    managed_node_groups: Option<Vec<NodeGroupDoc>>,
    #[serde(default)]
    node_groups: Option<Vec<NodeGroupDoc>>,
}

#[derive(Deserialize)]
struct MetadataDoc {
    name: String,
    region: String,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct FargateProfileDoc {
    name: String,
    #[serde(default)]
    selectors: Option<Vec<SelectorDoc>>,
}

#[derive(Deserialize)]
struct SelectorDoc {
    namespace: String,
    #[serde(default)]
    labels: Option<Labels>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeGroupDoc {
    name: String,
    #[serde(default)]
    instance_type: Option<String>,
    #[serde(default)]
    instance_types: Option<Vec<String>>,
    #[serde(default)]
    instances_distribution: Option<InstancesDistributionDoc>,
    #[serde(default)]
    instance_selector: Option<InstanceSelectorDoc>,
    #[serde(default)]
    launch_template: Option<LaunchTemplateDoc>,
    #[serde(default)]
    ami_family: Option<String>,
    #[serde(default)]
    spot: Option<bool>,
    #[serde(default)]
    volume_size: Option<u32>,
    #[serde(default)]
    desired_capacity: Option<u32>,
    #[serde(default)]
    min_size: Option<u32>,
    #[serde(default)]
    labels: Option<Labels>,
    #[serde(default)]
    taints: Option<TaintsDoc>,
    #[serde(default)]
    availability_zones: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstancesDistributionDoc {
    #[serde(default)]
    instance_types: Option<Vec<String>>,
    #[serde(default)]
    on_demand_base_capacity: Option<u32>,
    #[serde(default)]
    on_demand_percentage_above_base_capacity: Option<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceSelectorDoc {
    #[serde(default, rename = "vCPUs")]
    vcpus: Option<u32>,
    #[serde(default)]
    memory: Option<MemoryDoc>,
    #[serde(default)]
    gpus: Option<u32>,
    #[serde(default, rename = "neuron_devices")]
    neuron_devices: Option<u32>,
    #[serde(default)]
    cpu_architecture: Option<String>,
    #[serde(default)]
    allow: Option<String>,
    #[serde(default)]
    deny: Option<String>,
}

/// `instanceSelector.memory`: a number of GiB, or a quantity with a unit (`4GiB`, `512 MiB`,
/// `4gb`), as eksctl's byte-quantity parser reads it; held in MiB.
struct MemoryDoc(u64);

impl<'de> Deserialize<'de> for MemoryDoc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = match Value::deserialize(deserializer)? {
            Value::String(text) => text,
            Value::Number(number) => number.to_string(),
            other => {
                return Err(de::Error::custom(format!(
                    "expected a size such as \"4\" or \"4GiB\", got {other:?}"
                )));
            }
        };
        memory_mib(&text).map(MemoryDoc).ok_or_else(|| {
            de::Error::custom(format!(
                "`{text}` is not a memory size: expected a number of GiB or a number with MiB, GiB or TiB"
            ))
        })
    }
}

/// A memory size in MiB from `4`, `4GiB`, `4 gib`, `4096MiB`, `4gb`, `1TiB` (units of 1024).
fn memory_mib(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let per_unit = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "g" | "gb" | "gib" => 1024.0,
        "m" | "mb" | "mib" => 1.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0,
        _ => return None,
    };
    let mib = number * per_unit;
    (mib.is_finite() && mib > 0.0 && mib < 1e12 && mib.fract() == 0.0).then_some(mib as u64)
}

#[derive(Deserialize)]
struct LaunchTemplateDoc {
    #[serde(default)]
    id: Option<String>,
}

/// A taint effect, checked while deserializing so that the error carries the field path.
struct EffectDoc(TaintEffect);

impl<'de> Deserialize<'de> for EffectDoc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        taint_effect(&text).map(EffectDoc).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown taint effect `{text}`: expected NoSchedule, PreferNoSchedule or NoExecute"
            ))
        })
    }
}

/// One taint of the list form.
#[derive(Deserialize)]
struct TaintDoc {
    key: String,
    #[serde(default)]
    value: Option<String>,
    effect: EffectDoc,
}

/// The value of one taint of the map form, `"value:Effect"`.
struct MapTaintDoc {
    value: String,
    effect: TaintEffect,
}

impl<'de> Deserialize<'de> for MapTaintDoc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let Some((value, effect)) = text.rsplit_once(':') else {
            return Err(de::Error::custom(format!(
                "taint `{text}` has no effect: expected \"value:Effect\" with Effect one of \
                 NoSchedule, PreferNoSchedule, NoExecute"
            )));
        };
        let effect = taint_effect(effect).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown taint effect `{effect}` in `{text}`: expected NoSchedule, PreferNoSchedule \
                 or NoExecute"
            ))
        })?;
        Ok(MapTaintDoc {
            value: value.to_owned(),
            effect,
        })
    }
}

/// `taints`, in either form, as taints in the order written.
struct TaintsDoc(Vec<(String, String, TaintEffect)>);

impl<'de> Deserialize<'de> for TaintsDoc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TaintsVisitor;
        impl<'de> Visitor<'de> for TaintsVisitor {
            type Value = TaintsDoc;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of {key, value, effect} or a map of key: \"value:Effect\"")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TaintsDoc, A::Error> {
                let mut taints = Vec::new();
                while let Some(t) = seq.next_element::<TaintDoc>()? {
                    taints.push((t.key, t.value.unwrap_or_default(), t.effect.0));
                }
                Ok(TaintsDoc(taints))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TaintsDoc, A::Error> {
                let mut taints = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let t = map.next_value::<MapTaintDoc>()?;
                    taints.push((key, t.value, t.effect));
                }
                Ok(TaintsDoc(taints))
            }
        }
        deserializer.deserialize_any(TaintsVisitor)
    }
}

/// Where a document is, for error messages.
struct Place<'a> {
    file: &'a Path,
    object: String,
}

impl Place<'_> {
    fn error(&self, field: impl Into<String>, message: impl Into<String>) -> AwsError {
        AwsError::Config {
            file: self.file.to_path_buf(),
            object: self.object.clone(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Whether a YAML document claims to be an eksctl `ClusterConfig` (any `eksctl.io` version).
pub fn is_cluster_config(document: &Value) -> bool {
    document.get("kind").and_then(Value::as_str) == Some(KIND)
        && document
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("eksctl.io/"))
}

/// The clusters of the `ClusterConfig` documents of one file, `file` (which only names it in
/// errors), in document order. The documents come parsed (as JSON values; the
/// `fleetplan-kube` adapter's reader parses YAML under limits that alias bombs cannot get
/// around). Documents of other kinds are ignored; a `ClusterConfig` of another `eksctl.io`
/// version is an error.
///
/// # Errors
/// [`AwsError::Config`] naming the document and field; [`AwsError::DuplicateCluster`] for a
/// name given twice.
pub fn read_cluster_config(documents: &[Value], file: &Path) -> Result<Vec<Cluster>, AwsError> {
    let mut clusters: Vec<Cluster> = Vec::new();
    for (index, document) in documents.iter().enumerate() {
        if !is_cluster_config(document) {
            continue;
        }
        let cluster = read_document(document.clone(), index + 1, file)?;
        if clusters.iter().any(|c| c.name == cluster.name) {
            return Err(AwsError::DuplicateCluster {
                cluster: cluster.name.to_string(),
                file: file.to_path_buf(),
                first: file.to_path_buf(),
            });
        }
        clusters.push(cluster);
    }
    Ok(clusters)
}

/// The clusters of the `ClusterConfig` documents of several files (each as
/// [`read_cluster_config`] reads one), in order, each with the file that defines it.
///
/// # Errors
/// As [`read_cluster_config`]; two clusters of the same name, in any files, are an
/// [`AwsError::DuplicateCluster`] naming both.
pub fn cluster_configs_from_documents<'a>(
    files: impl IntoIterator<Item = (&'a Path, &'a [Value])>,
) -> Result<Vec<(Cluster, PathBuf)>, AwsError> {
    let mut clusters: Vec<(Cluster, PathBuf)> = Vec::new();
    for (file, documents) in files {
        for cluster in read_cluster_config(documents, file)? {
            if let Some((_, first)) = clusters.iter().find(|(c, _)| c.name == cluster.name) {
                return Err(AwsError::DuplicateCluster {
                    cluster: cluster.name.to_string(),
                    file: file.to_path_buf(),
                    first: first.clone(),
                });
            }
            clusters.push((cluster, file.to_path_buf()));
        }
    }
    Ok(clusters)
}

/// One `ClusterConfig` document, the `number`th of its file.
fn read_document(value: Value, number: usize, file: &Path) -> Result<Cluster, AwsError> {
    let place = Place {
        file,
        object: match value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
        {
            Some(name) => format!("{KIND} {name}"),
            None => format!("{KIND} (document {number})"),
        },
    };
    let version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if version != API_VERSION {
        return Err(place.error(
            "apiVersion",
            format!("unsupported version `{version}`: fleetplan-aws reads {API_VERSION}"),
        ));
    }
    let doc: ClusterConfigDoc = serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." {
            "(top level)".to_owned()
        } else {
            field
        };
        place.error(field, e.into_inner().to_string())
    })?;
    let name = doc.metadata.name;
    if let Some(problem) = fleetplan::cluster_name_error(&name) {
        return Err(place.error("metadata.name", problem));
    }
    if doc.metadata.region.is_empty() {
        return Err(place.error("metadata.region", "must not be empty"));
    }
    let mut cluster = crate::eks_cluster(&name, &doc.metadata.region);
    if let Some(account) = doc.metadata.tags.as_ref().and_then(|t| t.get(ACCOUNT_TAG)) {
        if account.is_empty() {
            return Err(place.error(format!("metadata.tags.{ACCOUNT_TAG}"), "must not be empty"));
        }
        cluster.account = Some(account.clone());
    }

    let mut groups: Vec<(String, NodePool)> = Vec::new();
    let lists = [
        ("managedNodeGroups", doc.managed_node_groups),
        ("nodeGroups", doc.node_groups),
    ];
    for (list, entries) in lists {
        for (i, group) in entries.into_iter().flatten().enumerate() {
            let at = format!("{list}[{i}]");
            if let Some((first, _)) = groups.iter().find(|(_, p)| p.name.as_str() == group.name) {
                return Err(place.error(
                    format!("{at}.name"),
                    format!("node group `{}` is already defined at {first}", group.name),
                ));
            }
            let pool = read_node_group(group, &at, &name, &doc.metadata.region, &place)?;
            groups.push((at, pool));
        }
    }

    let mut profiles = Vec::new();
    for (i, profile) in doc.fargate_profiles.into_iter().flatten().enumerate() {
        if profile.name.is_empty() {
            return Err(place.error(format!("fargateProfiles[{i}].name"), "must not be empty"));
        }
        let mut selectors = Vec::new();
        for (j, s) in profile.selectors.into_iter().flatten().enumerate() {
            if s.namespace.is_empty() {
                return Err(place.error(
                    format!("fargateProfiles[{i}].selectors[{j}].namespace"),
                    "must not be empty",
                ));
            }
            selectors.push(FargateSelector {
                namespace: s.namespace,
                labels: s.labels.unwrap_or_default(),
            });
        }
        profiles.push(FargateProfile {
            name: profile.name,
            selectors,
            zones: Vec::new(),
        });
    }
    validate_profiles(&profiles).map_err(|source| AwsError::FargateProfiles {
        file: file.to_path_buf(),
        object: place.object.clone(),
        source,
    })?;

    crate::add_pools(
        &mut cluster,
        groups.into_iter().map(|(_, p)| p).collect(),
        profiles,
    );
    Ok(cluster)
}

/// The pool of one node group, found at `at` (such as `managedNodeGroups[1]`) in a cluster of
/// `region`.
fn read_node_group(
    group: NodeGroupDoc,
    at: &str,
    cluster: &str,
    region: &str,
    place: &Place<'_>,
) -> Result<NodePool, AwsError> {
    if group.name.is_empty() {
        return Err(place.error(format!("{at}.name"), "must not be empty"));
    }
    let managed = at.starts_with("managedNodeGroups");
    let distribution = group.instances_distribution;
    let (instance_types, field) = if let Some(t) = group.instance_type.filter(|t| t != "mixed") {
        (vec![t], format!("{at}.instanceType"))
    } else if let Some(types) = group.instance_types {
        (types, format!("{at}.instanceTypes"))
    } else if let Some(types) = distribution.as_ref().and_then(|d| d.instance_types.clone()) {
        (types, format!("{at}.instancesDistribution.instanceTypes"))
    } else if let Some(selector) = group.instance_selector {
        let field = format!("{at}.instanceSelector");
        (select_instance_types(selector, &field, place)?, field)
    } else if let Some(template) = group.launch_template {
        let id = template.id.unwrap_or_default();
        return Err(place.error(
            format!("{at}.launchTemplate"),
            format!(
                "the instance type is in launch template `{id}`, which fleetplan does not read: \
                 name it in `instanceType` beside `launchTemplate`"
            ),
        ));
    } else {
        (
            vec![DEFAULT_INSTANCE_TYPE.to_owned()],
            format!("{at}.instanceType"),
        )
    };
    if instance_types.is_empty() {
        return Err(place.error(field, "must not be empty"));
    }
    let mut taints = Vec::new();
    for (j, (key, value, effect)) in group
        .taints
        .map(|t| t.0)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if key.is_empty() {
            return Err(place.error(format!("{at}.taints[{j}].key"), "must not be empty"));
        }
        taints.push(Taint { key, value, effect });
    }
    let mut labels = group.labels.unwrap_or_default();
    labels.insert(CLUSTER_NAME_LABEL.to_owned(), cluster.to_owned());
    labels.insert(NODEGROUP_NAME_LABEL.to_owned(), group.name.clone());
    let zones = group.availability_zones.unwrap_or_default();
    let desired = group
        .desired_capacity
        .or(group.min_size)
        .unwrap_or(DEFAULT_DESIRED_CAPACITY);
    let capacity = if group.spot == Some(true) {
        Capacity::Spot
    } else {
        distribution.map_or(Capacity::OnDemand, |d| {
            mixed_capacity(
                desired,
                d.on_demand_base_capacity.unwrap_or(0),
                d.on_demand_percentage_above_base_capacity.unwrap_or(100),
            )
        })
    };
    let os = match group.ami_family.as_deref() {
        Some(family) if family.starts_with("WindowsServer") => Os::Windows,
        _ => Os::Linux,
    };
    let spec = NodeGroupSpec {
        name: group.name,
        managed,
        instance_types,
        desired,
        region: region.to_owned(),
        zone: match zones.as_slice() {
            [zone] => Some(zone.clone()),
            _ => None,
        },
        os,
        capacity,
        volume_gib: group.volume_size.unwrap_or(DEFAULT_VOLUME_SIZE_GIB),
        labels,
        taints,
    };
    node_pool(&spec, &[]).map_err(|e| {
        let field = match e.instance_type {
            Some(i) if field.ends_with("instanceTypes") => format!("{field}[{i}]"),
            _ => field,
        };
        place.error(field, e.error.to_string())
    })
}

/// How a self-managed group with an `instancesDistribution` buys `desired` nodes: `base`
/// on demand, then `percent_above`% of the rest.
fn mixed_capacity(desired: u32, base: u32, percent_above: u8) -> Capacity {
    let percent_above = u64::from(percent_above.min(100));
    let base = u64::from(base.min(desired));
    let desired = u64::from(desired);
    if desired == 0 {
        return if percent_above == 100 {
            Capacity::OnDemand
        } else {
            Capacity::Spot
        };
    }
    let on_demand_percent = (base * 100 + (desired - base) * percent_above) / desired;
    match on_demand_percent {
        100 => Capacity::OnDemand,
        0 => Capacity::Spot,
        p => Capacity::Mixed {
            on_demand_percent: u8::try_from(p).unwrap_or(100),
        },
    }
}

/// The instance types an `instanceSelector` at `field` resolves to (see
/// [`crate::instance_types::select`]); at most [`MAX_SELECTED_INSTANCE_TYPES`], as eksctl
/// allows.
fn select_instance_types(
    doc: InstanceSelectorDoc,
    field: &str,
    place: &Place<'_>,
) -> Result<Vec<String>, AwsError> {
    let pattern = |text: Option<String>, name: &str| {
        text.map(|t| {
            regex::Regex::new(&t)
                .map_err(|e| place.error(format!("{field}.{name}"), format!("invalid pattern: {e}")))
        })
        .transpose()
    };
    let arch = match doc.cpu_architecture.as_deref() {
        None | Some("") => Arch::Amd64,
        Some(text) => Arch::parse(text).ok_or_else(|| {
            place.error(
                format!("{field}.cpuArchitecture"),
                format!("`{text}` is not one of x86_64, amd64, arm64"),
            )
        })?,
    };
    let selector = Selector {
        vcpus: doc.vcpus,
        memory_mib: doc.memory.map(|m| m.0),
        gpus: doc.gpus,
        neuron_devices: doc.neuron_devices,
        arch,
        allow: pattern(doc.allow, "allow")?,
        deny: pattern(doc.deny, "deny")?,
    };
    let found: Vec<String> = select(&selector).into_iter().map(|t| t.name.clone()).collect();
    if found.is_empty() {
        return Err(place.error(field, "matches no instance type"));
    }
    if found.len() > MAX_SELECTED_INSTANCE_TYPES {
        return Err(place.error(
            field,
            format!(
                "matches {} instance types, more than eksctl's maximum of {MAX_SELECTED_INSTANCE_TYPES}: \
                 set more selector options",
                found.len()
            ),
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_groups::{
        ARCH_LABEL, CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL, NODEGROUP_LABEL, OS_LABEL, REGION_LABEL,
        ZONE_LABEL,
    };
    use fleetplan::HourlyPrice;

    const GOOD: &str = r#"
# A Deployment in the same file is ignored.
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
---
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: east
  region: us-east-1
  version: "1.31"
  tags:
    team: platform
    fleetplan.io/account: "111122223333"
vpc:
  cidr: 10.10.0.0/16
iam:
  withOIDC: true
addons:
  - name: vpc-cni
managedNodeGroups:
  - name: general
    instanceType: m5.large
    desiredCapacity: 3
    minSize: 1
    maxSize: 5
    availabilityZones: [us-east-1a]
    labels: {role: general}
    iam:
      withAddonPolicies: {autoScaler: true}
  - name: gpu
    instanceTypes: [g5.xlarge, g4dn.xlarge]
    minSize: 1
    taints:
      - key: nvidia.com/gpu
        value: "true"
        effect: NoSchedule
      - key: dedicated
        effect: PreferNoSchedule
nodeGroups:
  - name: batch
    instanceType: c5.2xlarge
    availabilityZones: [us-east-1a, us-east-1b]
    taints:
      batch: "true:NoExecute"
      spot: ":NoSchedule"
fargateProfiles:
  - name: shop
    selectors:
      - namespace: shop
    subnets: [subnet-1, subnet-2]
  - name: jobs
    podExecutionRoleARN: arn:aws:iam::111122223333:role/fargate
    selectors:
      - namespace: batch-*
        labels: {fargate: "yes"}
      - namespace: kube-system
---
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: west, region: eu-west-1}
"#;

    fn file() -> &'static Path {
        Path::new("fleet/eks.yaml")
    }

    /// The documents of a YAML text, as the kube adapter's reader hands them over.
    fn documents(text: &str) -> Vec<Value> {
        serde_norway::Deserializer::from_str(text)
            .map(|document| Value::deserialize(document).unwrap())
            .filter(|value| !value.is_null())
            .collect()
    }

    fn read(text: &str) -> Result<Vec<Cluster>, AwsError> {
        read_cluster_config(&documents(text), file())
    }

    fn error(text: &str) -> String {
        read(text).unwrap_err().to_string()
    }

    fn config(body: &str) -> String {
        format!(
            "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {{name: east, region: us-east-1}}\n{body}"
        )
    }

    #[test]
    fn a_good_file_gives_every_cluster() {
        let clusters = read(GOOD).unwrap();
        assert_eq!(clusters.len(), 2);
        let east = &clusters[0];
        assert_eq!((east.name.as_str(), east.region.as_str()), ("east", "us-east-1"));
        assert_eq!(east.account.as_deref(), Some("111122223333"));
        let names: Vec<&str> = east.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["general", "gpu", "batch", "shop", "jobs"]);

        let general = &east.pools[0];
        assert_eq!(general.node_count(), 3);
        let mut m5_large = crate::allocatable("m5.large").unwrap();
        m5_large.set("ephemeral-storage", 71 << 30);
        assert_eq!(general.allocatable, m5_large, "80 GiB volumes by default");
        assert_eq!(general.zone.as_deref(), Some("us-east-1a"));
        assert_eq!(general.labels["role"], "general");
        assert_eq!(general.labels[INSTANCE_TYPE_LABEL], "m5.large");
        assert_eq!(general.labels[NODEGROUP_LABEL], "general");
        assert_eq!(general.labels[ZONE_LABEL], "us-east-1a");
        assert_eq!(general.labels[CLUSTER_NAME_LABEL], "east");
        assert_eq!(general.node_price, HourlyPrice::from_units(0.096));
        assert!(general.taints.is_empty());

        let gpu = &east.pools[1];
        assert_eq!(gpu.node_count(), 1, "minSize when desiredCapacity is absent");
        assert_eq!(gpu.labels[INSTANCE_TYPE_LABEL], "g5.xlarge");
        assert_eq!(gpu.allocatable.get("nvidia.com/gpu"), 1);
        let taints: Vec<String> = gpu.taints.iter().map(ToString::to_string).collect();
        assert_eq!(
            taints,
            ["nvidia.com/gpu=true:NoSchedule", "dedicated:PreferNoSchedule"]
        );

        let batch = &east.pools[2];
        assert_eq!(batch.node_count(), DEFAULT_DESIRED_CAPACITY as u64);
        assert_eq!(batch.zone, None, "two zones: none");
        let taints: Vec<String> = batch.taints.iter().map(ToString::to_string).collect();
        assert_eq!(taints, ["batch=true:NoExecute", "spot:NoSchedule"]);

        let shop = east.pools[3].fargate.as_ref().unwrap();
        assert_eq!(
            shop,
            &FargateProfile::new("shop", vec![FargateSelector::new("shop")])
        );
        let jobs = east.pools[4].fargate.as_ref().unwrap();
        assert_eq!(
            jobs.selectors,
            [
                FargateSelector::new("batch-*").with_label("fargate", "yes"),
                FargateSelector::new("kube-system")
            ]
        );
        assert!(jobs.zones.is_empty());

        let west = &clusters[1];
        assert_eq!((west.name.as_str(), west.region.as_str()), ("west", "eu-west-1"));
        assert_eq!(west.account, None);
        assert!(west.pools.is_empty());
    }

    #[test]
    fn defaults_follow_eksctl() {
        let clusters = read(&config("managedNodeGroups:\n  - name: ng\n")).unwrap();
        let pool = &clusters[0].pools[0];
        assert_eq!(pool.labels[INSTANCE_TYPE_LABEL], DEFAULT_INSTANCE_TYPE);
        assert_eq!(pool.node_count(), 2);
        let text = config(
            "nodeGroups:\n  - name: ng\n    instanceType: mixed\n    instancesDistribution:\n      instanceTypes: [c5.large, m5.large]\n",
        );
        let clusters = read(&text).unwrap();
        assert_eq!(clusters[0].pools[0].labels[INSTANCE_TYPE_LABEL], "c5.large");
    }

    /// Each of these read wrong before the instance table was generated (issue 19).
    #[test]
    fn node_groups_carry_what_eks_gives_their_nodes() {
        let text = config(
            "managedNodeGroups:
  - name: graviton
    instanceTypes: [m6g.large, m6gd.large]
    volumeSize: 40
    spot: true
  - name: old
    instanceTypes: [c3.large, m5a.2xlarge, c5.large]
nodeGroups:
  - name: windows
    amiFamily: WindowsServer2022FullContainer
    instanceType: m5.large
  - name: mixed
    desiredCapacity: 4
    instancesDistribution:
      instanceTypes: [t3.large, t3a.large]
      onDemandBaseCapacity: 2
      onDemandPercentageAboveBaseCapacity: 0
",
        );
        let clusters = read(&text).unwrap();
        let [graviton, old, windows, mixed] = &clusters[0].pools[..] else {
            panic!("four pools")
        };
        for (key, value) in [
            (ARCH_LABEL, "arm64"),
            (OS_LABEL, "linux"),
            (CAPACITY_TYPE_LABEL, "SPOT"),
            (REGION_LABEL, "us-east-1"),
            (NODEGROUP_LABEL, "graviton"),
            (INSTANCE_TYPE_LABEL, "m6g.large"),
        ] {
            assert_eq!(graviton.labels[key], value, "{key}");
        }
        assert_eq!(graviton.allocatable.get("ephemeral-storage"), (40 - 1 - 4) << 30);
        let on_demand = crate::prices::on_demand_linux("m6g.large", "us-east-1").unwrap();
        let spot = graviton.node_price.unwrap().units();
        assert!(
            (spot - on_demand * crate::prices::SPOT_SHARE).abs() < 1e-6,
            "{spot}"
        );

        assert_eq!(old.labels[INSTANCE_TYPE_LABEL], "c3.large");
        assert_eq!(old.labels[CAPACITY_TYPE_LABEL], "ON_DEMAND");

        assert_eq!(windows.labels[OS_LABEL], "windows");
        assert!(!windows.labels.contains_key(NODEGROUP_LABEL), "self-managed");

        // 2 of 4 nodes on demand.
        let half = crate::prices::on_demand_linux("t3.large", "us-east-1").unwrap()
            * (0.5 + 0.5 * crate::prices::SPOT_SHARE);
        assert!((mixed.node_price.unwrap().units() - half).abs() < 1e-6);
    }

    #[test]
    fn instance_selectors_resolve_against_the_table() {
        let text = config(
            "managedNodeGroups:\n  - name: sel\n    instanceSelector: {vCPUs: 2, memory: \"4\", gpus: 0}\n",
        );
        let clusters = read(&text).unwrap();
        let pool = &clusters[0].pools[0];
        let chosen = &pool.labels[INSTANCE_TYPE_LABEL];
        let chosen = crate::instance_types::instance_type(chosen).unwrap();
        assert_eq!((chosen.vcpus, chosen.memory_mib), (2, 4096));
        for (selector, message) in [
            ("{vCPUs: 2}", "instanceSelector: matches "),
            (
                "{vCPUs: 3, memory: 5GiB}",
                "instanceSelector: matches no instance type",
            ),
            (
                "{vCPUs: 2, memory: lots}",
                "instanceSelector.memory: `lots` is not a memory size",
            ),
            (
                "{vCPUs: 2, cpuArchitecture: sparc}",
                "instanceSelector.cpuArchitecture: `sparc`",
            ),
            (
                "{vCPUs: 2, allow: \"(\"}",
                "instanceSelector.allow: invalid pattern",
            ),
        ] {
            let text = config(&format!(
                "managedNodeGroups:\n  - name: sel\n    instanceSelector: {selector}\n"
            ));
            let message_got = error(&text);
            assert!(message_got.contains(message), "{selector}: {message_got}");
        }
        assert_eq!(memory_mib("4"), Some(4096));
        assert_eq!(memory_mib("4 GiB"), Some(4096));
        assert_eq!(memory_mib("512MiB"), Some(512));
        assert_eq!(memory_mib("0.5"), Some(512));
        assert_eq!(memory_mib("1TiB"), Some(1 << 20));
        assert_eq!(memory_mib("-1"), None);
    }

    #[test]
    fn launch_templates_without_an_instance_type_are_refused_by_name() {
        let text = config("managedNodeGroups:\n  - name: lt\n    launchTemplate: {id: lt-0123}\n");
        assert_eq!(
            error(&text),
            "fleet/eks.yaml: ClusterConfig east: managedNodeGroups[0].launchTemplate: the instance type is in \
             launch template `lt-0123`, which fleetplan does not read: name it in `instanceType` beside \
             `launchTemplate`"
        );
        let text = config(
            "managedNodeGroups:\n  - name: lt\n    instanceType: c5.large\n    launchTemplate: {id: lt-0123}\n",
        );
        assert_eq!(
            read(&text).unwrap()[0].pools[0].labels[INSTANCE_TYPE_LABEL],
            "c5.large"
        );
    }

    #[test]
    fn mixed_capacity_counts_base_and_share() {
        assert_eq!(mixed_capacity(4, 0, 100), Capacity::OnDemand);
        assert_eq!(mixed_capacity(4, 0, 0), Capacity::Spot);
        assert_eq!(
            mixed_capacity(4, 2, 0),
            Capacity::Mixed {
                on_demand_percent: 50
            }
        );
        assert_eq!(mixed_capacity(4, 9, 0), Capacity::OnDemand);
        assert_eq!(mixed_capacity(0, 0, 0), Capacity::Spot);
    }

    #[test]
    fn other_documents_and_files_are_not_cluster_configs() {
        assert!(read("").unwrap().is_empty());
        assert!(read("kind: Deployment\n---\n- 1\n---\nplain").unwrap().is_empty());
        assert!(documents(GOOD).iter().any(is_cluster_config));
        assert!(!is_cluster_config(
            &documents("apiVersion: v1\nkind: ConfigMap\n")[0]
        ));
        assert!(!is_cluster_config(
            &documents("kind: ClusterConfig\napiVersion: kind.x-k8s.io/v1alpha4\n")[0]
        ));
    }

    #[test]
    fn a_node_group_named_like_a_profile_is_renamed() {
        let text = config(
            "managedNodeGroups: [{name: shop}]\nfargateProfiles: [{name: shop, selectors: [{namespace: shop}]}]\n",
        );
        let clusters = read(&text).unwrap();
        let names: Vec<&str> = clusters[0].pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["shop-nodegroup", "shop"]);
        assert_eq!(clusters[0].pools[0].labels[NODEGROUP_LABEL], "shop");
    }

    #[test]
    fn errors_name_file_object_and_field() {
        let cases: Vec<(String, &str)> = vec![
            (
                config("managedNodeGroups:\n  - name: a\n  - name: b\n    instanceType: x9.huge\n"),
                "fleet/eks.yaml: ClusterConfig east: managedNodeGroups[1].instanceType: unknown instance type `x9.huge`",
            ),
            (
                config("managedNodeGroups:\n  - name: a\n    instanceType: 5\n"),
                "fleet/eks.yaml: ClusterConfig east: managedNodeGroups[0].instanceType: invalid type: integer `5`, expected a string",
            ),
            (
                config("managedNodeGroups:\n  - name: a\n    instanceTypes: [m5.large, 7]\n"),
                "fleet/eks.yaml: ClusterConfig east: managedNodeGroups[0].instanceTypes[1]: invalid type: integer `7`",
            ),
            (
                config("managedNodeGroups:\n  - name: a\n    instanceTypes: []\n"),
                "fleet/eks.yaml: ClusterConfig east: managedNodeGroups[0].instanceTypes: must not be empty",
            ),
            (
                config("nodeGroups:\n  - name: a\n    instancesDistribution: {instanceTypes: [q1.tiny]}\n"),
                "fleet/eks.yaml: ClusterConfig east: nodeGroups[0].instancesDistribution.instanceTypes[0]: unknown instance type `q1.tiny`",
            ),
            (
                config("nodeGroups:\n  - name: a\n    desiredCapacity: -1\n"),
                "fleet/eks.yaml: ClusterConfig east: nodeGroups[0].desiredCapacity: invalid value: integer `-1`, expected u32",
            ),
            (
                config("managedNodeGroups:\n  - instanceType: m5.large\n"),
                "fleet/eks.yaml: ClusterConfig east: managedNodeGroups[0]: missing field `name`",
            ),
            (
                config("managedNodeGroups:\n  - name: a\n    labels: {gpu: true}\n"),
                "fleet/eks.yaml: ClusterConfig east: managedNodeGroups[0].labels.gpu: invalid type: boolean `true`, expected a string",
            ),
            (
                config("managedNodeGroups:\n  - name: a\n    taints: [{key: k, effect: Sometimes}]\n"),
                "fleet/eks.yaml: ClusterConfig east: managedNodeGroups[0].taints[0].effect: unknown taint effect `Sometimes`",
            ),
            (
                config("managedNodeGroups:\n  - name: a\n    taints: [{key: k}]\n"),
                "fleet/eks.yaml: ClusterConfig east: managedNodeGroups[0].taints[0]: missing field `effect`",
            ),
            (
                config("nodeGroups:\n  - name: a\n    taints: {k: \"v\"}\n"),
                "fleet/eks.yaml: ClusterConfig east: nodeGroups[0].taints.k: taint `v` has no effect",
            ),
            (
                config("nodeGroups:\n  - name: a\n    taints: {k: \"v:Never\"}\n"),
                "fleet/eks.yaml: ClusterConfig east: nodeGroups[0].taints.k: unknown taint effect `Never` in `v:Never`",
            ),
            (
                config("nodeGroups:\n  - name: a\n    taints: 3\n"),
                "fleet/eks.yaml: ClusterConfig east: nodeGroups[0].taints: invalid type: integer `3`, expected a list of {key, value, effect} or a map",
            ),
            (
                config("managedNodeGroups: [{name: a}]\nnodeGroups: [{name: a}]\n"),
                "fleet/eks.yaml: ClusterConfig east: nodeGroups[0].name: node group `a` is already defined at managedNodeGroups[0]",
            ),
            (
                config("fargateProfiles:\n  - name: fp\n    selectors: [{labels: {a: b}}]\n"),
                "fleet/eks.yaml: ClusterConfig east: fargateProfiles[0].selectors[0]: missing field `namespace`",
            ),
            (
                config("fargateProfiles: {name: fp}\n"),
                "fleet/eks.yaml: ClusterConfig east: fargateProfiles: invalid type: map, expected a sequence",
            ),
            (
                config("fargateProfiles:\n  - name: fp\n"),
                "fleet/eks.yaml: ClusterConfig east: fargateProfiles: Fargate profile `fp` has no selector",
            ),
            (
                config("fargateProfiles:\n  - {name: fp, selectors: [{namespace: a}]}\n  - {name: fp, selectors: [{namespace: b}]}\n"),
                "fleet/eks.yaml: ClusterConfig east: fargateProfiles: duplicate Fargate profile `fp`",
            ),
            (
                "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: east west, region: r}\n".to_owned(),
                "fleet/eks.yaml: ClusterConfig east west: metadata.name: cluster name `east west` holds ' '; use only \
                 ASCII letters, digits, `-`, `_` and `.`",
            ),
            (
                "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: east}\n".to_owned(),
                "fleet/eks.yaml: ClusterConfig east: metadata: missing field `region`",
            ),
            (
                "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: east, region: r, tags: {fleetplan.io/account: 12}}\n".to_owned(),
                "fleet/eks.yaml: ClusterConfig east: metadata.tags.fleetplan.io/account: invalid type: integer `12`, expected a string",
            ),
            (
                "---\napiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\n".to_owned(),
                "fleet/eks.yaml: ClusterConfig (document 1): (top level): missing field `metadata`",
            ),
            (
                "apiVersion: eksctl.io/v1alpha4\nkind: ClusterConfig\nmetadata: {name: old}\n".to_owned(),
                "fleet/eks.yaml: ClusterConfig old: apiVersion: unsupported version `eksctl.io/v1alpha4`",
            ),
            (
                format!("{}---\n{}", config(""), config("")),
                "fleet/eks.yaml: ClusterConfig east: a cluster of this name is already defined in fleet/eks.yaml",
            ),
        ];
        for (text, expected) in cases {
            let message = error(&text);
            assert!(
                message.starts_with(expected),
                "expected `{expected}`\n     got `{message}`"
            );
        }
    }

    #[test]
    fn taint_effects_map_from_kubernetes_names() {
        assert_eq!(taint_effect("NoSchedule"), Some(TaintEffect::NoSchedule));
        assert_eq!(
            taint_effect("PreferNoSchedule"),
            Some(TaintEffect::PreferNoSchedule)
        );
        assert_eq!(taint_effect("NoExecute"), Some(TaintEffect::NoExecute));
        assert_eq!(taint_effect("NO_SCHEDULE"), None);
        assert_eq!(taint_effect("noschedule"), None);
    }

    #[test]
    fn clusters_of_several_files_keep_their_files_and_names_are_unique() {
        let cluster = |name: &str| {
            documents(&format!(
                "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {{name: {name}, region: r}}\n"
            ))
        };
        let (one, two) = (cluster("one"), cluster("two"));
        let files = [
            (Path::new("a.yaml"), one.as_slice()),
            (Path::new("b/two.yml"), two.as_slice()),
        ];
        let read = cluster_configs_from_documents(files).unwrap();
        let names: Vec<(String, &Path)> = read
            .iter()
            .map(|(c, f)| (c.name.to_string(), f.as_path()))
            .collect();
        assert_eq!(
            names,
            [
                ("one".to_string(), Path::new("a.yaml")),
                ("two".to_string(), Path::new("b/two.yml"))
            ]
        );
        let again = cluster("one");
        let files = [
            (Path::new("a.yaml"), one.as_slice()),
            (Path::new("d.yaml"), again.as_slice()),
        ];
        let message = cluster_configs_from_documents(files).unwrap_err().to_string();
        assert!(
            message.contains("d.yaml: ClusterConfig one: a cluster of this name is already defined in"),
            "{message}"
        );
        assert!(message.ends_with("a.yaml"), "{message}");
    }
}

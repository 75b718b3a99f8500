//! The concise fleet YAML, the project's own schema for synthetic what-ifs, read into
//! [`Cluster`]s and the replicas running now.
//!
//! ```yaml
//! apiVersion: fleetplan.io/v1
//! kind: Fleet
//! clusters:
//!   - name: east-a
//!     region: us-east-1
//!     labels: {tier: prod}                               # optional
//!     taints: [{key: k, value: v, effect: NoSchedule}]   # optional
//!     health: Ready                 # Ready|NotReady|Unreachable|Cordoned|Draining, default Ready
//!     fixedPricePerHour: 0.10       # optional: what the cluster costs while it runs replicas
//!     pools:
//!       - name: general
//!         zone: us-east-1a          # optional
//!         count: 10                 # nodes
//!         labels: {disktype: ssd}   # optional
//!         taints: []                # optional
//!         allocatable: {cpu: "4", memory: 16Gi, pods: 110, nvidia.com/gpu: 1}
//!         pricePerHour: 0.192       # optional: what one node costs
//! current:                          # optional: replicas running now
//!   - {workload: shop/web, cluster: east-a, pool: general, replicas: 3}
//! ```
//!
//! Prices are in currency units per hour (any currency, as long as it is the same
//! throughout), written as a YAML number or a numeric string (`0.192` or `"0.192"`), kept to
//! the millionth; a price that is absent is unknown and counts as free. A price that is
//! negative, not a number or above 10^12 is an error.
//!
//! Unknown fields are errors. Pool nodes carry their labels plus
//! `topology.kubernetes.io/region` (the cluster's region) and, with a zone,
//! `topology.kubernetes.io/zone`. `pods` defaults to 110 per node. Each `current` entry takes
//! its workload's effective requests from the pool's nodes, first fit in node order; a
//! `workload` without a `/` is in namespace `default`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fleetplan::{
    Cluster, Health, HourlyPrice, Labels, NodeGroup, NodePool, PoolName, ResourceName, Taint, WorkloadId,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{LoadError, Location};
use crate::pod::{amounts, taint_effect};
use crate::source::{Site, deserialize};

/// The node label holding the region.
pub(crate) const REGION_NODE_LABEL: &str = "topology.kubernetes.io/region";
/// The node label holding the zone.
pub(crate) const ZONE_NODE_LABEL: &str = "topology.kubernetes.io/zone";
/// Pod slots of a node that does not say.
const DEFAULT_PODS: i64 = 110;

/// The `apiVersion` of the concise fleet form.
pub(crate) const API_VERSION: &str = "fleetplan.io/v1";
/// The `kind` of the concise fleet form.
pub(crate) const KIND: &str = "Fleet";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FleetSpec {
    api_version: String,
    kind: String,
    #[serde(default)]
    clusters: Vec<ClusterSpec>,
    #[serde(default)]
    current: Vec<CurrentSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterSpec {
    name: String,
    region: String,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    taints: Vec<TaintSpec>,
    #[serde(default)]
    health: Health,
    #[serde(default)]
    pools: Vec<PoolSpec>,
    #[serde(default, rename = "fixedPricePerHour", deserialize_with = "present")]
    fixed_price_per_hour: Option<Value>,
}

/// A taint as written in the project's own files: `{key, value, effect}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaintSpec {
    key: String,
    #[serde(default)]
    value: String,
    effect: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolSpec {
    name: String,
    #[serde(default)]
    zone: Option<String>,
    count: u32,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    taints: Vec<TaintSpec>,
    #[serde(default)]
    allocatable: BTreeMap<String, Quantity>,
    #[serde(default, rename = "pricePerHour", deserialize_with = "present")]
    price_per_hour: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CurrentSpec {
    workload: String,
    cluster: String,
    pool: String,
    replicas: u32,
}

/// Replicas running now, as a concise fleet file lists them, not yet checked.
#[derive(Clone, Debug)]
pub(crate) struct CurrentEntry {
    /// Where the entry is (`current[i]`).
    pub at: Location,
    /// The workload.
    pub workload: WorkloadId,
    /// The cluster.
    pub cluster: String,
    /// The pool.
    pub pool: String,
    /// How many replicas.
    pub replicas: u32,
}

/// What one concise fleet document holds.
pub(crate) struct ConciseFleet {
    /// The clusters, each with the location of its entry.
    pub clusters: Vec<(Cluster, Location)>,
    /// The `current` entries.
    pub current: Vec<CurrentEntry>,
}

/// True when a document is in the concise form (its kind is `Fleet` or its apiVersion is
/// the project's).
pub(crate) fn is_concise(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some(KIND)
        || value
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("fleetplan.io/"))
}

/// Reads one concise fleet document of `file`.
pub(crate) fn read_concise(value: &Value, file: &Path) -> Result<ConciseFleet, LoadError> {
    let spec: FleetSpec = deserialize(value, file, None)?;
    let at = |field: String| Location {
        file: file.to_path_buf(),
        object: None,
        field: Some(field),
    };
    let invalid = |field: String, message: String| LoadError::Invalid {
        at: Box::new(at(field)),
        message,
    };
    if spec.api_version != API_VERSION || spec.kind != KIND {
        return Err(invalid(
            "apiVersion".into(),
            format!(
                "expected `{API_VERSION}` `{KIND}`, found `{}` `{}`",
                spec.api_version, spec.kind
            ),
        ));
    }
    let mut clusters = Vec::new();
    for (i, c) in spec.clusters.into_iter().enumerate() {
        let field = format!("clusters[{i}]");
        if c.name.is_empty() {
            return Err(invalid(format!("{field}.name"), "must not be empty".into()));
        }
        if c.region.is_empty() {
            return Err(invalid(format!("{field}.region"), "must not be empty".into()));
        }
        let site = Site {
            file: file.to_path_buf(),
            object: format!("cluster {}", c.name),
        };
        let mut cluster = Cluster::new(&c.name, &c.region);
        cluster.labels = c.labels;
        cluster.health = c.health;
        cluster.taints = taints(&c.taints, &site, &format!("{field}.taints"))?;
        if let Some(value) = &c.fixed_price_per_hour {
            let price = hourly_price(value, &format!("cluster `{}`", c.name));
            cluster.fixed_price =
                Some(price.map_err(|m| site.invalid(format!("{field}.fixedPricePerHour"), m))?);
        }
        let mut names = BTreeSet::new();
        for (j, p) in c.pools.into_iter().enumerate() {
            let field = format!("{field}.pools[{j}]");
            if p.name.is_empty() || !names.insert(p.name.clone()) {
                let message = if p.name.is_empty() {
                    "must not be empty".into()
                } else {
                    format!("pool `{}` is defined twice", p.name)
                };
                return Err(site.invalid(format!("{field}.name"), message));
            }
            cluster.pools.push(pool(p, &c.region, &site, &field)?);
        }
        clusters.push((cluster, at(field)));
    }
    let mut current = Vec::new();
    for (i, c) in spec.current.into_iter().enumerate() {
        let (namespace, name) = c.workload.split_once('/').unwrap_or(("default", &c.workload));
        if namespace.is_empty() || name.is_empty() || name.contains('/') {
            return Err(invalid(
                format!("current[{i}].workload"),
                format!("expected `namespace/name`, found `{}`", c.workload),
            ));
        }
        current.push(CurrentEntry {
            at: at(format!("current[{i}]")),
            workload: WorkloadId::new(namespace, name),
            cluster: c.cluster,
            pool: c.pool,
            replicas: c.replicas,
        });
    }
    Ok(ConciseFleet { clusters, current })
}

fn pool(p: PoolSpec, region: &str, site: &Site, field: &str) -> Result<NodePool, LoadError> {
    let mut allocatable = amounts(&p.allocatable, site, &format!("{field}.allocatable"))?;
    if !p.allocatable.contains_key(ResourceName::PODS) {
        allocatable.set(ResourceName::PODS, DEFAULT_PODS);
    }
    let node_price = match &p.price_per_hour {
        Some(value) => Some(
            hourly_price(value, &format!("pool `{}`", p.name))
                .map_err(|m| site.invalid(format!("{field}.pricePerHour"), m))?,
        ),
        None => None,
    };
    let mut labels = p.labels;
    labels.insert(REGION_NODE_LABEL.into(), region.into());
    if let Some(zone) = &p.zone {
        labels.insert(ZONE_NODE_LABEL.into(), zone.clone());
    }
    Ok(NodePool {
        name: PoolName::from(p.name.as_str()),
        zone: p.zone,
        labels,
        taints: taints(&p.taints, site, &format!("{field}.taints"))?,
        nodes: if p.count > 0 {
            vec![NodeGroup {
                count: p.count,
                free: allocatable.clone(),
            }]
        } else {
            Vec::new()
        },
        allocatable,
        node_price,
        fargate: None,
    })
}

/// Deserializes an optional field as the value given, keeping an explicit `null` (which an
/// `Option` would read as absent) so that it is reported rather than ignored.
pub(crate) fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Reads a price per hour given as a number or a numeric string; `what` names what it prices
/// (`pool `general``) for the message.
pub(crate) fn hourly_price(value: &Value, what: &str) -> Result<HourlyPrice, String> {
    let units = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    // `inf` and `NaN` parse as floats but are no prices.
    let Some(units) = units.filter(|u| u.is_finite()) else {
        return Err(format!(
            "invalid price {value} for {what}: expected a number of currency units per hour, such as 0.192"
        ));
    };
    if units < 0.0 {
        return Err(format!("price {value} for {what} must not be negative"));
    }
    HourlyPrice::from_units(units)
        .ok_or_else(|| format!("price {value} for {what} is out of range (at most 10^12 per hour)"))
}

/// Converts taints as written in the project's files.
pub(crate) fn taints(specs: &[TaintSpec], site: &Site, field: &str) -> Result<Vec<Taint>, LoadError> {
    specs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let effect =
                taint_effect(&t.effect).map_err(|m| site.invalid(format!("{field}[{i}].effect"), m))?;
            if t.key.is_empty() {
                return Err(site.invalid(format!("{field}[{i}].key"), "must not be empty"));
            }
            Ok(Taint {
                key: t.key.clone(),
                value: t.value.clone(),
                effect,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetplan::Resources;

    fn concise(text: &str) -> Result<ConciseFleet, LoadError> {
        let value: Value = serde_norway::from_str(text).unwrap();
        read_concise(&value, Path::new("fleet/f.yaml"))
    }

    #[test]
    fn concise_pools_get_topology_labels_and_default_pods() {
        let f = concise(
            "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- name: a\n  region: r1\n  health: Cordoned\n  \
             taints: [{key: k, effect: NoExecute}]\n  pools:\n  - {name: p, zone: r1a, count: 2, allocatable: {cpu: 4, memory: 1Gi}}\n",
        )
        .unwrap();
        let (c, _) = &f.clusters[0];
        assert_eq!(c.health, Health::Cordoned);
        assert_eq!(c.taints[0].to_string(), "k:NoExecute");
        let p = &c.pools[0];
        assert_eq!(p.labels[ZONE_NODE_LABEL], "r1a");
        assert_eq!(p.labels[REGION_NODE_LABEL], "r1");
        assert_eq!(
            p.allocatable,
            Resources::new()
                .with("cpu", 4000)
                .with("memory", 1 << 30)
                .with("pods", 110)
        );
        assert_eq!(p.node_count(), 2);
        assert_eq!((c.fixed_price, p.node_price), (None, None));
    }

    #[test]
    fn concise_prices_are_read_to_the_millionth() {
        let f = concise(
            "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- name: a\n  region: r1\n  fixedPricePerHour: 0.10\n  \
             pools:\n  - {name: p, count: 1, pricePerHour: 0.192}\n  - {name: q, count: 1, pricePerHour: '0.214'}\n  \
             - {name: r, count: 1, pricePerHour: 2}\n  - {name: s, count: 1, pricePerHour: ' 0 '}\n  - {name: t, count: 1}\n\
             - {name: b, region: r1, fixedPricePerHour: '1.0000004'}\n",
        )
        .unwrap();
        let (a, _) = &f.clusters[0];
        assert_eq!(a.fixed_price, Some(HourlyPrice(100_000)));
        let prices: Vec<Option<u64>> = a.pools.iter().map(|p| p.node_price.map(|p| p.0)).collect();
        assert_eq!(
            prices,
            [Some(192_000), Some(214_000), Some(2_000_000), Some(0), None]
        );
        assert_eq!(f.clusters[1].0.fixed_price, Some(HourlyPrice(1_000_000)));
    }

    #[test]
    fn bad_prices_name_the_cluster_the_pool_and_the_field() {
        let err = |text: &str| concise(text).err().map(|e| e.to_string()).unwrap_or_default();
        let pool = |price: &str| {
            err(&format!(
                "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- name: a\n  region: r\n  pools:\n  \
                 - {{name: ok, count: 1, pricePerHour: 1}}\n  - {{name: gpu, count: 1, pricePerHour: {price}}}\n"
            ))
        };
        let at = "fleet/f.yaml: cluster a: clusters[0].pools[1].pricePerHour";
        let expected_number = "expected a number of currency units per hour, such as 0.192";
        let cases = [
            (
                "-0.5",
                format!("{at}: price -0.5 for pool `gpu` must not be negative"),
            ),
            (
                "'-1'",
                format!("{at}: price \"-1\" for pool `gpu` must not be negative"),
            ),
            (
                "cheap",
                format!("{at}: invalid price \"cheap\" for pool `gpu`: {expected_number}"),
            ),
            (
                "'$0.19'",
                format!("{at}: invalid price \"$0.19\" for pool `gpu`: {expected_number}"),
            ),
            (
                "''",
                format!("{at}: invalid price \"\" for pool `gpu`: {expected_number}"),
            ),
            (
                "true",
                format!("{at}: invalid price true for pool `gpu`: {expected_number}"),
            ),
            (
                "[1]",
                format!("{at}: invalid price [1] for pool `gpu`: {expected_number}"),
            ),
            (
                "null",
                format!("{at}: invalid price null for pool `gpu`: {expected_number}"),
            ),
            (
                "'inf'",
                format!("{at}: invalid price \"inf\" for pool `gpu`: {expected_number}"),
            ),
            (
                "1e400",
                format!("{at}: invalid price \"1e400\" for pool `gpu`: {expected_number}"),
            ),
            (
                "'NaN'",
                format!("{at}: invalid price \"NaN\" for pool `gpu`: {expected_number}"),
            ),
            (
                "1e13",
                format!(
                    "{at}: price 10000000000000.0 for pool `gpu` is out of range (at most 10^12 per hour)"
                ),
            ),
        ];
        for (price, expected) in cases {
            assert_eq!(pool(price), expected, "pricePerHour: {price}");
        }
        assert_eq!(
            err(
                "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- {name: a, region: r}\n\
                 - {name: b, region: r, fixedPricePerHour: -0.1}\n"
            ),
            "fleet/f.yaml: cluster b: clusters[1].fixedPricePerHour: price -0.1 for cluster `b` must not be negative"
        );
        assert_eq!(
            err(
                "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- {name: a, region: r, fixedPricePerHour: ten}\n"
            ),
            format!(
                "fleet/f.yaml: cluster a: clusters[0].fixedPricePerHour: invalid price \"ten\" for cluster `a`: \
                 {expected_number}"
            )
        );
        assert_eq!(
            err(
                "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- {name: a, region: r, fixedPricePerHour: 2e12}\n"
            ),
            "fleet/f.yaml: cluster a: clusters[0].fixedPricePerHour: price 2000000000000.0 for cluster `a` is out of \
             range (at most 10^12 per hour)"
        );
        assert!(
            err("apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- {name: a, region: r, pricePerHour: 1}\n")
                .starts_with("fleet/f.yaml: clusters[0].pricePerHour: unknown field `pricePerHour`, expected one of"),
        );
    }

    #[test]
    fn concise_errors_name_the_field() {
        let err = |text: &str| concise(text).err().map(|e| e.to_string()).unwrap_or_default();
        let head = "apiVersion: fleetplan.io/v1\nkind: Fleet\n";
        assert!(
            err(&format!("{head}clusters:\n- {{name: a, region: r, pool: []}}\n"))
                .starts_with("fleet/f.yaml: clusters[0].pool: unknown field `pool`, expected one of `name`"),
        );
        assert_eq!(
            err(&format!(
                "{head}clusters:\n- name: a\n  region: r\n  pools: [{{name: p, count: 1, allocatable: {{cpu: -1}}}}]\n"
            )),
            "fleet/f.yaml: cluster a: clusters[0].pools[0].allocatable.cpu: quantity \"-1\" for cpu must not be negative"
        );
        assert_eq!(
            err(&format!(
                "{head}clusters:\n- name: a\n  region: r\n  taints: [{{key: k, effect: Never}}]\n"
            )),
            "fleet/f.yaml: cluster a: clusters[0].taints[0].effect: unknown effect `Never`; expected NoSchedule, PreferNoSchedule or NoExecute"
        );
        assert_eq!(
            err(&format!(
                "{head}clusters:\n- name: a\n  region: r\n  pools: [{{name: p, count: 1}}, {{name: p, count: 1}}]\n"
            )),
            "fleet/f.yaml: cluster a: clusters[0].pools[1].name: pool `p` is defined twice"
        );
        assert!(
            err(&format!(
                "{head}clusters:\n- {{name: a, region: r, health: Sick}}\n"
            ))
            .contains("clusters[0].health: unknown variant `Sick`")
        );
        assert_eq!(
            err(&format!(
                "{head}current: [{{workload: a/b/c, cluster: x, pool: p, replicas: 1}}]\n"
            )),
            "fleet/f.yaml: current[0].workload: expected `namespace/name`, found `a/b/c`"
        );
        assert_eq!(
            err("apiVersion: fleetplan.io/v2\nkind: Fleet\n"),
            "fleet/f.yaml: apiVersion: expected `fleetplan.io/v1` `Fleet`, found `fleetplan.io/v2` `Fleet`"
        );
    }
}

//! The concise fleet YAML, the project's own schema for synthetic what-ifs, read into
//! [`Cluster`]s, the replicas running now and the fleet-wide Fargate settings.
//!
//! ```yaml
//! apiVersion: fleetplan.io/v1
//! kind: Fleet
//! clusters:
//!   - name: east-a
//!     region: us-east-1
//!     account: "123456789012"       # optional: the AWS account (Fargate quotas are per account)
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
//!     fargateProfiles:              # optional: EKS Fargate profiles, each a pool of its name
//!       - name: serverless
//!         selectors: [{namespace: batch-*, labels: {fargate: "true"}}]
//!         zones: [us-east-1a, us-east-1b]   # optional
//! fargate:                          # optional: fleet-wide Fargate quotas and prices
//!   defaultQuotaVcpus: 6            # an account and region not listed below (default 6)
//!   quotas: [{account: "123456789012", region: us-east-1, vcpus: 400}]
//!   rates: {us-east-1: {vcpuPerHour: 0.04048, gbPerHour: 0.004445}}
//! current:                          # optional: replicas running now
//!   - {workload: shop/web, cluster: east-a, pool: general, replicas: 3}
//!   - {workload: batch/report, cluster: east-a, pool: serverless, replicas: 2}
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
//!
//! **Fargate.** An account id is a quoted string (a YAML number would lose leading zeros).
//! Each of a cluster's `fargateProfiles` becomes a pool named after the profile
//! ([`NodePool::fargate`]), after the node pools; the profiles must keep the EKS limits
//! ([`fleetplan::fargate::validate_profiles`]) and a profile may not share a node pool's name.
//! A `current` entry naming a Fargate pool takes nothing from nodes: the planner counts
//! running Fargate replicas against the quota. `fargate` is fleet-wide: several Fleet
//! documents may each give some of it; their `quotas` are concatenated and their `rates`
//! merged (an account and region, or a region, given twice is an error), and only one may set
//! `defaultQuotaVcpus`. Rates are per vCPU-hour and per GiB-hour; a region without rates uses
//! [`fleetplan::fargate::DEFAULT_RATES`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fleetplan::fargate::{
    FargateError, FargateProfile, FargateQuota, FargateRates, FargateSelector, FargateSettings,
    validate_profiles,
};
use fleetplan::{
    Cluster, Health, HourlyPrice, Labels, NodeGroup, NodePool, PoolName, ResourceName, Taint, WorkloadId,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{LoadError, Location};
use crate::files::source::{Site, SourceFile, deserialize, yaml_documents};
use crate::pod::{amounts, taint_effect};
use crate::validation;

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
    #[serde(default)]
    fargate: Option<FargateSpec>,
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
    #[serde(default, deserialize_with = "present")]
    account: Option<Value>,
    #[serde(default, rename = "fargateProfiles")]
    fargate_profiles: Vec<FargateProfileSpec>,
}

/// A Fargate profile as written in the project's own files: `{name, selectors, zones}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FargateProfileSpec {
    name: String,
    #[serde(default)]
    selectors: Vec<FargateSelectorSpec>,
    #[serde(default)]
    zones: Vec<String>,
}

/// One selector of a [`FargateProfileSpec`]: `{namespace, labels}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FargateSelectorSpec {
    namespace: String,
    #[serde(default)]
    labels: Labels,
}

/// The top-level `fargate` of a concise fleet document.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FargateSpec {
    #[serde(default)]
    default_quota_vcpus: Option<u32>,
    #[serde(default)]
    quotas: Vec<QuotaSpec>,
    #[serde(default)]
    rates: BTreeMap<String, RatesSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaSpec {
    #[serde(default, deserialize_with = "present")]
    account: Option<Value>,
    region: String,
    vcpus: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RatesSpec {
    vcpu_per_hour: Value,
    gb_per_hour: Value,
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
    /// The document's part of the fleet-wide Fargate settings.
    pub fargate: ConciseFargate,
}

/// The Fargate settings one concise fleet document gives, each with where it was given.
#[derive(Default)]
pub(crate) struct ConciseFargate {
    /// `defaultQuotaVcpus`.
    default_quota_vcpus: Option<(u32, Location)>,
    /// `quotas`, in order.
    quotas: Vec<(FargateQuota, Location)>,
    /// `rates`, by region.
    rates: Vec<(String, FargateRates, Location)>,
}

/// Merges the Fargate settings of several concise fleet documents into one
/// [`FargateSettings`]: quotas concatenated, rates merged, one `defaultQuotaVcpus` at most.
#[derive(Default)]
pub(crate) struct FargateMerge {
    settings: FargateSettings,
    default_at: Option<Location>,
    quota_at: Vec<Location>,
    rates_at: BTreeMap<String, Location>,
}

impl FargateMerge {
    /// Adds one document's settings; a second `defaultQuotaVcpus`, a second quota for an
    /// account and region or second rates for a region is an error naming both places.
    pub fn add(&mut self, fargate: ConciseFargate) -> Result<(), LoadError> {
        let twice = |at: Location, what: &str, first: &Location| LoadError::Invalid {
            at: Box::new(at),
            message: format!("{what} given twice (first in {})", first.file.display()),
        };
        if let Some((vcpus, at)) = fargate.default_quota_vcpus {
            if let Some(first) = &self.default_at {
                return Err(twice(at, "defaultQuotaVcpus is", first));
            }
            self.settings.default_quota_vcpus = vcpus;
            self.default_at = Some(at);
        }
        for (quota, at) in fargate.quotas {
            let first = self
                .settings
                .quotas
                .iter()
                .zip(&self.quota_at)
                .find(|(q, _)| q.account == quota.account && q.region == quota.region);
            if let Some((_, first)) = first {
                let what = format!(
                    "the Fargate quota of account `{}` in region `{}` is",
                    quota.account.as_deref().unwrap_or("-"),
                    quota.region
                );
                return Err(twice(at, &what, first));
            }
            self.settings.quotas.push(quota);
            self.quota_at.push(at);
        }
        for (region, rates, at) in fargate.rates {
            if let Some(first) = self.rates_at.get(&region) {
                return Err(twice(
                    at,
                    &format!("the Fargate rates of region `{region}` are"),
                    first,
                ));
            }
            self.settings.rates.insert(region.clone(), rates);
            self.rates_at.insert(region, at);
        }
        Ok(())
    }

    /// The merged settings.
    pub fn finish(self) -> FargateSettings {
        self.settings
    }
}

/// The `apiVersion` prefix of eksctl's `ClusterConfig` documents, which another adapter
/// (`fleetplan-aws`) reads: this one skips them.
pub(crate) const EKSCTL_API_PREFIX: &str = "eksctl.io/";

/// True when a document belongs to another adapter (an eksctl `ClusterConfig`) and is
/// skipped.
pub(crate) fn is_foreign(value: &Value) -> bool {
    value
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with(EKSCTL_API_PREFIX))
}

/// The documents among fleet files that another adapter reads (eksctl `ClusterConfig`s,
/// whose apiVersion starts with `eksctl.io/`), file by file, parsed under the same limits as
/// every other document; the loaders here skip them.
///
/// # Errors
/// [`LoadError::Yaml`] for a file holding such a document that is malformed, has a key given
/// twice or expands to too much.
pub fn foreign_documents(files: &[SourceFile]) -> Result<Vec<(PathBuf, Vec<Value>)>, LoadError> {
    let mut found = Vec::new();
    for file in files.iter().filter(|f| f.text.contains(EKSCTL_API_PREFIX)) {
        let mut documents = yaml_documents(file)?;
        documents.retain(is_foreign);
        if !documents.is_empty() {
            found.push((file.name.clone(), documents));
        }
    }
    Ok(found)
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
        if let Some(problem) = fleetplan::cluster_name_error(&c.name) {
            return Err(invalid(format!("{field}.name"), problem));
        }
        if c.region.is_empty() {
            return Err(invalid(format!("{field}.region"), "must not be empty".into()));
        }
        // The region is every node's `topology.kubernetes.io/region` label.
        validation::label_value(&c.region).map_err(|m| invalid(format!("{field}.region"), m))?;
        let site = Site {
            file: file.to_path_buf(),
            object: format!("cluster {}", c.name),
        };
        validation::labels(&c.labels, &site, &format!("{field}.labels"))?;
        let mut cluster = Cluster::new(&c.name, &c.region);
        cluster.labels = c.labels;
        cluster.health = c.health;
        cluster.taints = taints(&c.taints, &site, &format!("{field}.taints"))?;
        if let Some(value) = &c.fixed_price_per_hour {
            let price = hourly_price(value, &format!("cluster `{}`", c.name));
            cluster.fixed_price =
                Some(price.map_err(|m| site.invalid(format!("{field}.fixedPricePerHour"), m))?);
        }
        if let Some(value) = &c.account {
            cluster.account =
                Some(account_id(value).map_err(|m| site.invalid(format!("{field}.account"), m))?);
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
        let profiles_field = format!("{field}.fargateProfiles");
        for (j, profile) in fargate_profiles(&c.fargate_profiles, &site, &profiles_field)?
            .into_iter()
            .enumerate()
        {
            if names.contains(&profile.name) {
                return Err(site.invalid(
                    format!("{profiles_field}[{j}].name"),
                    format!(
                        "Fargate profile `{}` has the name of a node pool; a Fargate profile is a pool of its \
                         name, and pool names are unique in a cluster",
                        profile.name
                    ),
                ));
            }
            cluster.pools.push(NodePool::fargate(profile));
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
    let fargate = match spec.fargate {
        Some(f) => concise_fargate(f, file)?,
        None => ConciseFargate::default(),
    };
    Ok(ConciseFleet {
        clusters,
        current,
        fargate,
    })
}

/// Reads the top-level `fargate` of a concise fleet document of `file`.
fn concise_fargate(spec: FargateSpec, file: &Path) -> Result<ConciseFargate, LoadError> {
    let at = |object: String, field: String| Location {
        file: file.to_path_buf(),
        object: Some(object),
        field: Some(field),
    };
    let invalid = |object: String, field: String, message: String| LoadError::Invalid {
        at: Box::new(at(object, field)),
        message,
    };
    let mut result = ConciseFargate {
        default_quota_vcpus: spec.default_quota_vcpus.map(|v| {
            (
                v,
                at("Fargate settings".into(), "fargate.defaultQuotaVcpus".into()),
            )
        }),
        ..ConciseFargate::default()
    };
    for (i, q) in spec.quotas.into_iter().enumerate() {
        let field = format!("fargate.quotas[{i}]");
        let shown = match &q.account {
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(other) => other.to_string(),
            None => "-".into(),
        };
        let object = format!("Fargate quota {shown}/{}", q.region);
        let account = match &q.account {
            Some(value) => {
                Some(account_id(value).map_err(|m| invalid(object.clone(), format!("{field}.account"), m))?)
            }
            None => None,
        };
        if q.region.is_empty() {
            return Err(invalid(
                object,
                format!("{field}.region"),
                "must not be empty".into(),
            ));
        }
        result.quotas.push((
            FargateQuota {
                account,
                region: q.region,
                vcpus: q.vcpus,
            },
            at(object, field),
        ));
    }
    for (region, r) in spec.rates {
        let field = format!("fargate.rates[{region}]");
        let object = format!("Fargate rates {region}");
        if region.is_empty() {
            return Err(invalid(object, field, "the region must not be empty".into()));
        }
        let price = |value: &Value, what: &str, name: &str| {
            hourly_price(value, &format!("the Fargate {what} rate of region `{region}`"))
                .map_err(|m| invalid(object.clone(), format!("{field}.{name}"), m))
        };
        let rates = FargateRates {
            vcpu_hour: price(&r.vcpu_per_hour, "vCPU", "vcpuPerHour")?,
            gb_hour: price(&r.gb_per_hour, "GB", "gbPerHour")?,
        };
        result.rates.push((region, rates, at(object, field)));
    }
    Ok(result)
}

/// Reads an AWS account id: a non-empty string (a number would lose leading zeros).
pub(crate) fn account_id(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Value::String(_) => Err("must not be empty".into()),
        Value::Number(n) => Err(format!(
            "write the account id {n} as a quoted string, such as \"{n}\" (a number loses leading zeros)"
        )),
        other => Err(format!(
            "invalid account {other}: expected an account id as a quoted string, such as \"123456789012\""
        )),
    }
}

/// Converts Fargate profiles as written in the project's files (at `field`, a list) and checks
/// them against the EKS limits.
pub(crate) fn fargate_profiles(
    specs: &[FargateProfileSpec],
    site: &Site,
    field: &str,
) -> Result<Vec<FargateProfile>, LoadError> {
    let mut profiles = Vec::with_capacity(specs.len());
    for (i, p) in specs.iter().enumerate() {
        let field = format!("{field}[{i}]");
        if p.name.is_empty() {
            return Err(site.invalid(format!("{field}.name"), "must not be empty"));
        }
        let mut selectors = Vec::with_capacity(p.selectors.len());
        for (j, s) in p.selectors.iter().enumerate() {
            if s.namespace.is_empty() {
                return Err(site.invalid(format!("{field}.selectors[{j}].namespace"), "must not be empty"));
            }
            selectors.push(FargateSelector {
                namespace: s.namespace.clone(),
                labels: s.labels.clone(),
            });
        }
        if let Some(k) = p.zones.iter().position(String::is_empty) {
            return Err(site.invalid(format!("{field}.zones[{k}]"), "must not be empty"));
        }
        profiles.push(FargateProfile {
            name: p.name.clone(),
            selectors,
            zones: p.zones.clone(),
        });
    }
    validate_profiles(&profiles).map_err(|error| {
        // The first profile of that name, or the second for a duplicate: where EKS balks.
        let index = |profile: &str, nth: usize| {
            profiles
                .iter()
                .enumerate()
                .filter(|(_, p)| p.name == profile)
                .nth(nth)
                .map_or(0, |(i, _)| i)
        };
        let at = match &error {
            FargateError::TooManyProfiles { .. } => field.to_owned(),
            FargateError::DuplicateProfile { profile } => format!("{field}[{}].name", index(profile, 1)),
            FargateError::NoSelectors { profile } | FargateError::TooManySelectors { profile, .. } => {
                format!("{field}[{}].selectors", index(profile, 0))
            }
            FargateError::TooManyLabels {
                profile, selector, ..
            } => format!("{field}[{}].selectors[{selector}].labels", index(profile, 0)),
        };
        site.invalid(at, error.to_string())
    })?;
    Ok(profiles)
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
    validation::labels(&p.labels, site, &format!("{field}.labels"))?;
    let mut labels = p.labels;
    labels.insert(REGION_NODE_LABEL.into(), region.into());
    if let Some(zone) = &p.zone {
        validation::label_value(zone).map_err(|m| site.invalid(format!("{field}.zone"), m))?;
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
        unavailable: Vec::new(),
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
            // Taint keys and values keep the label rules.
            validation::label_key(&t.key).map_err(|m| site.invalid(format!("{field}[{i}].key"), m))?;
            validation::label_value(&t.value).map_err(|m| site.invalid(format!("{field}[{i}].value"), m))?;
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
        // Labels, taints, regions and zones keep the API server's label rules.
        for (spec, message) in [
            (
                "  taints: [{key: 'a b', effect: NoSchedule}]\n",
                "fleet/f.yaml: cluster a: clusters[0].taints[0].key: `a b` is not a valid label key",
            ),
            (
                "  taints: [{key: k, value: -v, effect: NoSchedule}]\n",
                "fleet/f.yaml: cluster a: clusters[0].taints[0].value: `-v` is not a valid label value",
            ),
            (
                "  labels: {tier: 'prod env'}\n",
                "fleet/f.yaml: cluster a: clusters[0].labels[tier]: `prod env` is not a valid label value",
            ),
            (
                "  pools: [{name: p, count: 1, labels: {'x/y/z': a}}]\n",
                "fleet/f.yaml: cluster a: clusters[0].pools[0].labels[x/y/z]: `x/y/z` is not a valid label key",
            ),
            (
                "  pools: [{name: p, count: 1, zone: 'us east'}]\n",
                "fleet/f.yaml: cluster a: clusters[0].pools[0].zone: `us east` is not a valid label value",
            ),
        ] {
            let got = err(&format!("{head}clusters:\n- name: a\n  region: r\n{spec}"));
            assert!(got.starts_with(message), "{spec}: {got}");
        }
        assert!(
            err(&format!("{head}clusters:\n- {{name: a, region: 'us east'}}\n"))
                .starts_with("fleet/f.yaml: clusters[0].region: `us east` is not a valid label value"),
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

    const HEAD: &str = "apiVersion: fleetplan.io/v1\nkind: Fleet\n";

    fn concise_in(text: &str, file: &str) -> Result<ConciseFleet, LoadError> {
        let value: Value = serde_norway::from_str(&format!("{HEAD}{text}")).unwrap();
        read_concise(&value, Path::new(file))
    }

    fn error(text: &str) -> String {
        concise_in(text, "fleet/f.yaml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn concise_fargate_profiles_become_pools_after_the_node_pools() {
        let f = concise_in(
            "clusters:\n- name: a\n  region: us-east-1\n  account: '012345678901'\n  \
             pools: [{name: general, count: 1}]\n  fargateProfiles:\n  \
             - name: serverless\n    selectors: [{namespace: batch-*, labels: {fargate: 'true'}}, {namespace: jobs}]\n    \
             zones: [us-east-1a, us-east-1b]\n  - {name: default, selectors: [{namespace: default}]}\n\
             - {name: b, region: r}\n",
            "fleet/f.yaml",
        )
        .unwrap();
        let (a, _) = &f.clusters[0];
        assert_eq!(a.account.as_deref(), Some("012345678901"));
        let names: Vec<&str> = a.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["general", "serverless", "default"]);
        let serverless = FargateProfile {
            name: "serverless".into(),
            selectors: vec![
                FargateSelector::new("batch-*").with_label("fargate", "true"),
                FargateSelector::new("jobs"),
            ],
            zones: vec!["us-east-1a".into(), "us-east-1b".into()],
        };
        assert_eq!(a.pools[1], NodePool::fargate(serverless));
        assert_eq!(
            a.pools[2].fargate,
            Some(FargateProfile::new(
                "default",
                vec![FargateSelector::new("default")]
            ))
        );
        assert_eq!(a.zones(), ["us-east-1a", "us-east-1b"]);
        let (b, _) = &f.clusters[1];
        assert_eq!(b.account, None);
        assert!(b.pools.is_empty());
    }

    #[test]
    fn concise_fargate_settings_are_read() {
        let f = concise_in(
            "fargate:\n  defaultQuotaVcpus: 32\n  quotas:\n  - {account: '111122223333', region: us-east-1, vcpus: 400}\n  \
             - {region: us-east-1, vcpus: 50}\n  rates:\n    us-east-1: {vcpuPerHour: 0.04048, gbPerHour: '0.004445'}\n    \
             eu-west-1: {vcpuPerHour: 1, gbPerHour: 0}\n",
            "fleet/f.yaml",
        )
        .unwrap();
        let mut merge = FargateMerge::default();
        merge.add(f.fargate).unwrap();
        let settings = merge.finish();
        assert_eq!(settings.default_quota_vcpus, 32);
        assert_eq!(
            settings.quotas,
            [
                FargateQuota {
                    account: Some("111122223333".into()),
                    region: "us-east-1".into(),
                    vcpus: 400
                },
                FargateQuota {
                    account: None,
                    region: "us-east-1".into(),
                    vcpus: 50
                },
            ]
        );
        assert_eq!(
            settings.rates["us-east-1"],
            FargateRates {
                vcpu_hour: HourlyPrice(40_480),
                gb_hour: HourlyPrice(4_445)
            }
        );
        assert_eq!(
            settings.rates["eu-west-1"],
            FargateRates {
                vcpu_hour: HourlyPrice(1_000_000),
                gb_hour: HourlyPrice(0)
            }
        );
        // Nothing given: the core's defaults.
        let mut merge = FargateMerge::default();
        merge
            .add(concise_in("clusters: []\n", "fleet/f.yaml").unwrap().fargate)
            .unwrap();
        assert_eq!(merge.finish(), FargateSettings::default());
    }

    #[test]
    fn fargate_settings_merge_across_documents_and_repeats_name_both_files() {
        let a = "fargate:\n  defaultQuotaVcpus: 10\n  quotas: [{account: '1', region: r1, vcpus: 40}]\n  \
                 rates: {r1: {vcpuPerHour: 1, gbPerHour: 1}}\n";
        let b = "fargate:\n  quotas: [{account: '1', region: r2, vcpus: 20}, {account: '2', region: r1, vcpus: 30}]\n  \
                 rates: {r2: {vcpuPerHour: 2, gbPerHour: 2}}\n";
        let mut merge = FargateMerge::default();
        merge.add(concise_in(a, "fleet/a.yaml").unwrap().fargate).unwrap();
        merge.add(concise_in(b, "fleet/b.yaml").unwrap().fargate).unwrap();
        let settings = merge.finish();
        assert_eq!(settings.default_quota_vcpus, 10);
        let quotas: Vec<(Option<&str>, &str, u32)> = settings
            .quotas
            .iter()
            .map(|q| (q.account.as_deref(), q.region.as_str(), q.vcpus))
            .collect();
        assert_eq!(
            quotas,
            [
                (Some("1"), "r1", 40),
                (Some("1"), "r2", 20),
                (Some("2"), "r1", 30)
            ]
        );
        assert_eq!(settings.rates.keys().collect::<Vec<_>>(), ["r1", "r2"]);

        let twice = |second: &str| {
            let mut merge = FargateMerge::default();
            merge.add(concise_in(a, "fleet/a.yaml").unwrap().fargate).unwrap();
            merge
                .add(concise_in(second, "fleet/b.yaml").unwrap().fargate)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            twice("fargate: {defaultQuotaVcpus: 6}\n"),
            "fleet/b.yaml: Fargate settings: fargate.defaultQuotaVcpus: defaultQuotaVcpus is given twice (first in \
             fleet/a.yaml)"
        );
        assert_eq!(
            twice(
                "fargate: {quotas: [{account: '2', region: r1, vcpus: 1}, {account: '1', region: r1, vcpus: 5}]}\n"
            ),
            "fleet/b.yaml: Fargate quota 1/r1: fargate.quotas[1]: the Fargate quota of account `1` in region `r1` is \
             given twice (first in fleet/a.yaml)"
        );
        assert_eq!(
            twice("fargate: {rates: {r1: {vcpuPerHour: 1, gbPerHour: 1}}}\n"),
            "fleet/b.yaml: Fargate rates r1: fargate.rates[r1]: the Fargate rates of region `r1` are given twice \
             (first in fleet/a.yaml)"
        );
        // Twice in one document: both places are the same file.
        let mut merge = FargateMerge::default();
        let e = merge
            .add(
                concise_in(
                    "fargate: {quotas: [{region: r, vcpus: 1}, {region: r, vcpus: 2}]}\n",
                    "fleet/a.yaml",
                )
                .unwrap()
                .fargate,
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "fleet/a.yaml: Fargate quota -/r: fargate.quotas[1]: the Fargate quota of account `-` in region `r` is \
             given twice (first in fleet/a.yaml)"
        );
    }

    #[test]
    fn fargate_errors_name_the_file_the_object_and_the_field() {
        let cluster = |extra: &str| error(&format!("clusters:\n- name: a\n  region: r\n{extra}"));
        let profiles = |list: &str| cluster(&format!("  fargateProfiles: {list}\n"));
        let at = "fleet/f.yaml: cluster a: clusters[0]";
        assert_eq!(
            cluster(
                "  pools: [{name: web, count: 1}]\n  fargateProfiles: [{name: web, selectors: [{namespace: x}]}]\n"
            ),
            format!(
                "{at}.fargateProfiles[0].name: Fargate profile `web` has the name of a node pool; a Fargate profile \
                 is a pool of its name, and pool names are unique in a cluster"
            )
        );
        assert_eq!(
            profiles("[{name: '', selectors: [{namespace: x}]}]"),
            format!("{at}.fargateProfiles[0].name: must not be empty")
        );
        assert_eq!(
            profiles("[{name: p, selectors: [{namespace: x}, {namespace: ''}]}]"),
            format!("{at}.fargateProfiles[0].selectors[1].namespace: must not be empty")
        );
        assert_eq!(
            profiles("[{name: p, selectors: [{namespace: x}], zones: [z, '']}]"),
            format!("{at}.fargateProfiles[0].zones[1]: must not be empty")
        );
        assert_eq!(
            profiles("[{name: p, selectors: [{namespace: x}]}, {name: q}]"),
            format!("{at}.fargateProfiles[1].selectors: Fargate profile `q` has no selector")
        );
        assert_eq!(
            profiles(
                "[{name: p, selectors: [{namespace: x}]}, {name: q, selectors: [{namespace: y}]}, {name: p, selectors: [{namespace: z}]}]"
            ),
            format!("{at}.fargateProfiles[2].name: duplicate Fargate profile `p`")
        );
        let selectors = ["{namespace: x}"; 6].join(", ");
        assert_eq!(
            profiles(&format!("[{{name: p, selectors: [{selectors}]}}]")),
            format!("{at}.fargateProfiles[0].selectors: Fargate profile `p` has 6 selectors, more than 5")
        );
        assert_eq!(
            profiles(
                "[{name: p, selectors: [{namespace: x}, {namespace: y, labels: {a: x, b: x, c: x, d: x, e: x, f: x}}]}]"
            ),
            format!(
                "{at}.fargateProfiles[0].selectors[1].labels: Fargate profile `p` selector 1 has 6 labels, more than 5"
            )
        );
        let eleven: Vec<String> = (0..11)
            .map(|i| format!("{{name: p{i}, selectors: [{{namespace: x}}]}}"))
            .collect();
        assert_eq!(
            profiles(&format!("[{}]", eleven.join(", "))),
            format!("{at}.fargateProfiles: 11 Fargate profiles, more than the 10 a cluster may have")
        );
        assert!(
            profiles("[{name: p, selector: [{namespace: x}]}]").starts_with(
                "fleet/f.yaml: clusters[0].fargateProfiles[0].selector: unknown field `selector`"
            ),
        );
        assert!(
            profiles("[{name: p, selectors: [{labels: {a: b}}]}]").starts_with(
                "fleet/f.yaml: clusters[0].fargateProfiles[0].selectors[0]: missing field `namespace`"
            ),
        );
        assert_eq!(
            cluster("  account: 12345678901\n"),
            format!(
                "{at}.account: write the account id 12345678901 as a quoted string, such as \"12345678901\" (a \
                 number loses leading zeros)"
            )
        );
        assert_eq!(
            cluster("  account: ' '\n"),
            format!("{at}.account: must not be empty")
        );
        assert_eq!(
            cluster("  account: [1]\n"),
            format!(
                "{at}.account: invalid account [1]: expected an account id as a quoted string, such as \"123456789012\""
            )
        );

        assert_eq!(
            error("fargate: {quotas: [{account: 42, region: r, vcpus: 1}]}\n"),
            "fleet/f.yaml: Fargate quota 42/r: fargate.quotas[0].account: write the account id 42 as a quoted string, \
             such as \"42\" (a number loses leading zeros)"
        );
        assert_eq!(
            error("fargate: {quotas: [{account: '1', region: '', vcpus: 1}]}\n"),
            "fleet/f.yaml: Fargate quota 1/: fargate.quotas[0].region: must not be empty"
        );
        assert!(
            error("fargate: {quotas: [{region: r, vcpus: -1}]}\n").starts_with(
                "fleet/f.yaml: fargate.quotas[0].vcpus: invalid value: integer `-1`, expected u32"
            ),
        );
        assert!(
            error("fargate: {defaultQuota: 6}\n")
                .starts_with("fleet/f.yaml: fargate.defaultQuota: unknown field `defaultQuota`"),
        );
        assert_eq!(
            error("fargate: {rates: {us-east-1: {vcpuPerHour: -1, gbPerHour: 0}}}\n"),
            "fleet/f.yaml: Fargate rates us-east-1: fargate.rates[us-east-1].vcpuPerHour: price -1 for the Fargate \
             vCPU rate of region `us-east-1` must not be negative"
        );
        assert_eq!(
            error("fargate: {rates: {us-east-1: {vcpuPerHour: 1, gbPerHour: cheap}}}\n"),
            "fleet/f.yaml: Fargate rates us-east-1: fargate.rates[us-east-1].gbPerHour: invalid price \"cheap\" for \
             the Fargate GB rate of region `us-east-1`: expected a number of currency units per hour, such as 0.192"
        );
        assert!(
            error("fargate: {rates: {us-east-1: {vcpuPerHour: 1}}}\n")
                .starts_with("fleet/f.yaml: fargate.rates.us-east-1: missing field `gbPerHour`"),
        );
        assert_eq!(
            error("fargate: {rates: {'': {vcpuPerHour: 1, gbPerHour: 1}}}\n"),
            "fleet/f.yaml: Fargate rates : fargate.rates[]: the region must not be empty"
        );
    }

    #[test]
    fn eksctl_documents_are_foreign() {
        let doc = |text: &str| -> Value { serde_norway::from_str(text).unwrap() };
        let eksctl =
            doc("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: a, region: r}\n");
        assert!(is_foreign(&eksctl) && !is_concise(&eksctl));
        assert!(!is_foreign(&doc(HEAD)));
        assert!(!is_foreign(&doc("apiVersion: v1\nkind: Node\n")));
        assert!(!is_foreign(&doc("kind: ClusterConfig\n")));
    }
}

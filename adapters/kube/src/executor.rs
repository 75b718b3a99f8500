//! Carrying a plan out in the workload clusters: one Deployment (or Job) per workload and
//! cluster, with the planned replica count, applied with server-side apply.
//!
//! [`desired_objects`] turns a plan and the source objects into the objects each cluster
//! should hold (pure). [`Executor::apply`] makes the clusters hold them:
//!
//! - **Ownership**: every object it writes carries [`MANAGED_BY_LABEL`]` = fleetplan` and the
//!   source's namespace and name ([`SOURCE_NAMESPACE_LABEL`], [`SOURCE_NAME_LABEL`]); it only
//!   ever changes or deletes objects with that label, never anything else.
//! - **Server-side apply** with field manager [`FIELD_MANAGER`], so a second apply of the same
//!   plan writes nothing (the API server keeps the resource version), and the namespace is
//!   created when missing.
//! - **Make-before-break**: first every cluster gains what it gains (new Deployments, more
//!   replicas); then, once those are ready, Deployments shrink and the ones no longer planned
//!   are deleted (pruned). When the new replicas do not become ready within `wait_ready`,
//!   nothing shrinks. A cluster that cannot be reached is left as it is and reported; the
//!   others carry on.
//! - **Isolation**: clusters are worked on concurrently (at most `concurrency` at once), each
//!   under its own `timeout`; a slow or dead cluster fails alone and never blocks the others.
//!   Conflicts, throttling, server errors and connection errors are retried with backoff.
//!
//! **Jobs**: each cluster holding some of a Job's pods gets a copy with the planned
//! parallelism and a share of its completions. A copy already there is never changed (its
//! completions are immutable and its work is not moved); copies no longer planned are
//! deleted with their pods.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use fleetplan::follow::{Dependent, ObjectRef};
use fleetplan::{Plan, WorkloadId, WorkloadKind};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::dependents::{FollowKind, copy_for};
use crate::error::describe;
use crate::fleet_status::{CopyState, SOURCE_GENERATION_ANNOTATION};
use crate::ingress_status;

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "fleetplan";
/// The label that marks an object as fleetplan's; its value is always `fleetplan`.
pub const MANAGED_BY_LABEL: &str = "fleetplan.io/managed-by";
/// The label holding the source workload's namespace.
pub const SOURCE_NAMESPACE_LABEL: &str = "fleetplan.io/source-namespace";
/// The label holding the source workload's name.
pub const SOURCE_NAME_LABEL: &str = "fleetplan.io/source-name";

/// How many times a call is tried before its error counts.
const ATTEMPTS: u32 = 4;

/// One object (a Deployment or a Job) a cluster should hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// The workload cluster.
    pub cluster: String,
    /// A Deployment or a Job.
    pub kind: WorkloadKind,
    /// The source workload; the copy has the same namespace and name.
    pub source: WorkloadId,
    /// The planned replicas (a Job's parallelism).
    pub replicas: u32,
    /// The object to apply.
    pub object: Value,
}

/// Why desired Deployments could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecutorError {
    /// A planned workload has no source object.
    #[error("workload {workload}: the plan places it but no source object was given")]
    MissingSource {
        /// The workload.
        workload: WorkloadId,
    },
    /// The source object is not a mapping with a `spec`.
    #[error("workload {workload}: the source object has no `spec` mapping")]
    BadSource {
        /// The workload.
        workload: WorkloadId,
    },
}

/// The objects each cluster should hold after `plan`: for every placement, a copy of its
/// source with fleetplan's labels, without `fleetplan.io/` annotations or server-set fields.
/// A Deployment's copy has the planned replicas. A Job's copy has the planned parallelism,
/// and its completions (when the source sets them) split over the clusters in proportion
/// to their parallelism (largest remainders; at least one each).
///
/// # Errors
/// When a placed workload has no source or a source without a `spec`.
pub fn desired_objects(
    plan: &Plan,
    kinds: &BTreeMap<WorkloadId, WorkloadKind>,
    sources: &BTreeMap<WorkloadId, Value>,
) -> Result<Vec<Desired>, ExecutorError> {
    let mut desired = Vec::new();
    let mut placements = plan.placements.iter().filter(|p| p.replicas > 0).peekable();
    while let Some(first) = placements.next() {
        let id = &first.workload;
        let mut group = vec![first];
        while let Some(next) = placements.next_if(|p| &p.workload == id) {
            group.push(next);
        }
        let Some(&kind) = kinds.get(id) else { continue };
        let source = sources
            .get(id)
            .ok_or_else(|| ExecutorError::MissingSource { workload: id.clone() })?;
        let parallelism: Vec<u32> = group.iter().map(|p| p.replicas).collect();
        let completions = match kind {
            WorkloadKind::Job => source["spec"]["completions"]
                .as_u64()
                .map(|c| split(u32::try_from(c).unwrap_or(u32::MAX), &parallelism)),
            WorkloadKind::Deployment => None,
        };
        for (i, placement) in group.iter().enumerate() {
            let mut object = copy_of(id, kind, source, placement.replicas)?;
            if let Some(completions) = &completions {
                object["spec"]["completions"] = json!(completions[i]);
            }
            desired.push(Desired {
                cluster: placement.cluster.to_string(),
                kind,
                source: id.clone(),
                replicas: placement.replicas,
                object,
            });
        }
    }
    Ok(desired)
}

/// An object that follows workloads (see [`crate::dependents`]) as one cluster should hold
/// it. Its `Debug` leaves the content out: it may be a Secret.
#[derive(Clone, PartialEq)]
pub struct DesiredDependent {
    /// The workload cluster.
    pub cluster: String,
    /// Its kind.
    pub kind: FollowKind,
    /// The object; the copy has the same namespace and name.
    pub object: ObjectRef,
    /// The copy to apply.
    pub copy: Value,
}

impl std::fmt::Debug for DesiredDependent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredDependent")
            .field("cluster", &self.cluster)
            .field("object", &self.object)
            .finish_non_exhaustive()
    }
}

/// The copies of the objects that follow workloads, per cluster, as `plan.follow` places
/// them: `dependents` are the problem's (a PodDisruptionBudget's integer counts split by the
/// replicas each cluster holds of the workloads it is beside), `objects` the objects as
/// written. An entry of `plan.follow` with no object is skipped.
pub fn desired_dependents(
    plan: &Plan,
    dependents: &[Dependent],
    objects: &BTreeMap<ObjectRef, Value>,
) -> Vec<DesiredDependent> {
    let ownership = serde_json::Map::from_iter([(MANAGED_BY_LABEL.to_string(), json!(FIELD_MANAGER))]);
    let mut out = Vec::new();
    for follow in &plan.follow {
        let (Some(kind), Some(object)) = (
            FollowKind::named(&follow.object.kind),
            objects.get(&follow.object),
        ) else {
            continue;
        };
        let users: Vec<WorkloadId> = dependents
            .iter()
            .filter(|d| d.object == follow.object)
            .flat_map(|d| d.used_by.iter().cloned())
            .collect();
        for cluster in &follow.clusters {
            let share = crate::dependents::share(plan, &users, cluster.as_str());
            out.push(DesiredDependent {
                cluster: cluster.to_string(),
                kind,
                object: follow.object.clone(),
                copy: copy_for(kind, &follow.object, object, &ownership, Some(share)),
            });
        }
    }
    out
}

/// `total` split in proportion to `weights` by largest remainders, at least 1 each.
fn split(total: u32, weights: &[u32]) -> Vec<u32> {
    let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum::<u64>().max(1);
    let exact: Vec<(u64, u64)> = weights
        .iter()
        .map(|&w| {
            let share = u64::from(total) * u64::from(w);
            (share / sum, share % sum)
        })
        .collect();
    let mut out: Vec<u32> = exact
        .iter()
        .map(|&(q, _)| u32::try_from(q).unwrap_or(u32::MAX))
        .collect();
    let mut left = total.saturating_sub(out.iter().sum());
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(exact[i].1));
    for i in order {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    for n in &mut out {
        *n = (*n).max(1);
    }
    out
}

/// Labels the API server puts on a Job's pods and selector: a copy gets its own.
const JOB_SERVER_LABELS: [&str; 4] = [
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "job-name",
    "batch.kubernetes.io/job-name",
];

/// The source as its copy in a workload cluster, with `replicas` (a Job's parallelism).
fn copy_of(
    id: &WorkloadId,
    kind: WorkloadKind,
    source: &Value,
    replicas: u32,
) -> Result<Value, ExecutorError> {
    let spec = source
        .get("spec")
        .filter(|s| s.is_object())
        .ok_or_else(|| ExecutorError::BadSource { workload: id.clone() })?;
    let metadata = source.get("metadata");
    let mut labels = metadata
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // The source's own `fleetplan.io/` labels (such as the opt-in) do not carry over.
    labels.retain(|k, _| !k.starts_with("fleetplan.io/"));
    labels.insert(MANAGED_BY_LABEL.into(), json!(FIELD_MANAGER));
    labels.insert(SOURCE_NAMESPACE_LABEL.into(), json!(&*id.namespace));
    labels.insert(SOURCE_NAME_LABEL.into(), json!(&*id.name));
    let mut annotations: serde_json::Map<String, Value> = metadata
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter(|(k, _)| !k.starts_with("fleetplan.io/"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(generation) = metadata.and_then(|m| m["generation"].as_i64()) {
        annotations.insert(SOURCE_GENERATION_ANNOTATION.into(), json!(generation.to_string()));
    }
    let mut spec = spec.clone();
    let (api_version, kind_name) = match kind {
        WorkloadKind::Deployment => {
            spec["replicas"] = json!(replicas);
            ("apps/v1", "Deployment")
        }
        WorkloadKind::Job => {
            spec["parallelism"] = json!(replicas);
            if let Some(map) = spec.as_object_mut() {
                map.remove("selector");
                map.remove("manualSelector");
                // The workload cluster's own Job controller runs the copy.
                map.remove("managedBy");
            }
            if let Some(labels) = spec["template"]["metadata"]["labels"].as_object_mut() {
                labels.retain(|k, _| !JOB_SERVER_LABELS.contains(&k.as_str()));
            }
            ("batch/v1", "Job")
        }
    };
    let mut object = json!({
        "apiVersion": api_version,
        "kind": kind_name,
        "metadata": {
            "name": &*id.name,
            "namespace": &*id.namespace,
            "labels": labels,
        },
        "spec": spec,
    });
    if !annotations.is_empty() {
        object["metadata"]["annotations"] = Value::Object(annotations);
    }
    Ok(object)
}

/// How [`Executor::apply`] goes about it.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Clusters worked on at once.
    pub concurrency: usize,
    /// The most one cluster may take for each phase.
    pub timeout: Duration,
    /// How long to wait for new replicas to be ready before shrinking anything.
    pub wait_ready: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 8,
            timeout: Duration::from_secs(30),
            wait_ready: Duration::from_secs(120),
        }
    }
}

/// What happened in one cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterReport {
    /// Objects created (workload copies and the objects that follow them).
    pub created: u32,
    /// Objects whose content changed.
    pub updated: u32,
    /// Objects applied with no change.
    pub unchanged: u32,
    /// Objects deleted because the plan no longer places them there.
    pub pruned: u32,
    /// Objects that should follow a workload here but exist already and are not
    /// fleetplan's: left as they are.
    pub conflicts: Vec<String>,
    /// The Deployment and Job copies the cluster held when the pass began, by kind and
    /// source, with their status (from which a management control plane's status is
    /// summed).
    pub copies: BTreeMap<(WorkloadKind, WorkloadId), CopyState>,
    /// The addresses (hostnames, IPs) each Ingress copy applied this pass shows in its
    /// `status.loadBalancer` (none yet while its ingress controller has not written them).
    pub load_balancers: BTreeMap<ObjectRef, Vec<String>>,
    /// Why the cluster could not be brought to the plan, if it could not.
    pub error: Option<String>,
}

/// Applies plans to workload clusters, one client per cluster.
pub struct Executor {
    clients: BTreeMap<String, Client>,
}

/// What fleetplan owns in one cluster now: `(kind, namespace, name) -> replicas` (a Job's
/// parallelism).
type Owned = BTreeMap<(&'static str, String, String), u32>;

/// The state of the copies one cluster holds, by kind and source.
type Copies = BTreeMap<(WorkloadKind, WorkloadId), CopyState>;

/// The key of a desired object in [`Owned`].
fn key(d: &Desired) -> (&'static str, String, String) {
    (
        kind_name(d.kind),
        d.source.namespace.to_string(),
        d.source.name.to_string(),
    )
}

/// A cluster after phase 1: its report so far and the Deployments it held before.
type Grown = (ClusterReport, Owned);

impl Executor {
    /// An executor for these clusters (by the names the plan uses).
    pub fn new(clients: BTreeMap<String, Client>) -> Self {
        Executor { clients }
    }

    /// Makes every cluster hold exactly its `desired` Deployments among the ones fleetplan
    /// owns (see the module documentation); returns a report per cluster, by name. A cluster
    /// of `desired` with no client is reported as an error.
    pub async fn apply(
        &self,
        desired: &[Desired],
        dependents: &[DesiredDependent],
        options: &ApplyOptions,
    ) -> BTreeMap<String, ClusterReport> {
        let mut by_cluster: BTreeMap<&str, Vec<&Desired>> =
            self.clients.keys().map(|c| (c.as_str(), Vec::new())).collect();
        for d in desired {
            by_cluster.entry(&d.cluster).or_default().push(d);
        }
        let mut following: BTreeMap<&str, Vec<&DesiredDependent>> = BTreeMap::new();
        for d in dependents {
            by_cluster.entry(&d.cluster).or_default();
            following.entry(&d.cluster).or_default().push(d);
        }
        let following = &following;
        let concurrency = options.concurrency.max(1);
        // Phase 1: find what each cluster holds and grow.
        let grown: Vec<(String, Result<Grown, String>)> =
            futures::stream::iter(by_cluster.iter().map(|(&cluster, wanted)| async move {
                let follows = following.get(cluster).map_or(&[][..], Vec::as_slice);
                let outcome = match self.clients.get(cluster) {
                    None => Err("no client for this cluster (no kubeconfig context of that name)".into()),
                    Some(client) => within(options.timeout, grow(client, wanted, follows)).await,
                };
                (cluster.to_owned(), outcome)
            }))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut reports: BTreeMap<String, ClusterReport> = BTreeMap::new();
        let mut owned: BTreeMap<String, Owned> = BTreeMap::new();
        for (cluster, outcome) in grown {
            match outcome {
                Ok((report, now)) => {
                    owned.insert(cluster.clone(), now);
                    reports.insert(cluster, report);
                }
                Err(error) => {
                    reports.insert(
                        cluster,
                        ClusterReport {
                            error: Some(error),
                            ..ClusterReport::default()
                        },
                    );
                }
            }
        }
        // Make before break: shrink only once the new replicas are ready, in every cluster that
        // could be reached (a cluster that failed is left as it is, and reported).
        let reached: Vec<Desired> = desired
            .iter()
            .filter(|d| owned.contains_key(&d.cluster))
            .cloned()
            .collect();
        if !self.wait_ready(&reached, options).await {
            for (cluster, now) in &owned {
                let wanted = by_cluster.get(cluster.as_str()).cloned().unwrap_or_default();
                if let Some(report) = reports.get_mut(cluster).filter(|_| pending_shrink(&wanted, now)) {
                    report.error = Some(format!(
                        "new replicas not ready within {} s: nothing was shrunk or pruned",
                        options.wait_ready.as_secs()
                    ));
                }
            }
            return reports;
        }
        // Phase 2: shrink and prune.
        let shrunk: Vec<(String, Result<ClusterReport, String>)> =
            futures::stream::iter(owned.iter().map(|(cluster, now)| {
                let wanted = by_cluster.get(cluster.as_str()).cloned().unwrap_or_default();
                let follows = following.get(cluster.as_str()).map_or(&[][..], Vec::as_slice);
                let client = &self.clients[cluster];
                async move {
                    let outcome = within(options.timeout, async {
                        let mut report = shrink(client, &wanted, now).await?;
                        report.pruned += prune_dependents(client, follows).await?;
                        Ok(report)
                    })
                    .await;
                    (cluster.clone(), outcome)
                }
            }))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (cluster, outcome) in shrunk {
            let report = reports.entry(cluster).or_default();
            match outcome {
                Ok(more) => {
                    report.updated += more.updated;
                    report.unchanged += more.unchanged;
                    report.pruned += more.pruned;
                }
                Err(error) => report.error = Some(error),
            }
        }
        reports
    }

    /// Waits until every desired Deployment reports all its replicas ready, up to
    /// `wait_ready`; true when they do.
    async fn wait_ready(&self, desired: &[Desired], options: &ApplyOptions) -> bool {
        let deadline = Instant::now() + options.wait_ready;
        loop {
            let mut all = true;
            for d in desired.iter().filter(|d| d.kind == WorkloadKind::Deployment) {
                let Some(client) = self.clients.get(&d.cluster) else {
                    return false;
                };
                let api: Api<Deployment> = Api::namespaced(client.clone(), &d.source.namespace);
                let ready = match tokio::time::timeout(options.timeout, api.get_opt(&d.source.name)).await {
                    Ok(Ok(Some(dep))) => ready_replicas(&dep) >= d.replicas,
                    _ => false,
                };
                if !ready {
                    all = false;
                    break;
                }
            }
            if all {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Runs `work` with a time limit.
async fn within<T>(limit: Duration, work: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", limit.as_secs())))
}

/// Lists the Deployments and Jobs fleetplan owns in one cluster, with their state.
async fn owned_objects(client: &Client) -> Result<(Owned, Copies), String> {
    let params = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={FIELD_MANAGER}"));
    let deployments: Api<Deployment> = Api::all(client.clone());
    let jobs: Api<Job> = Api::all(client.clone());
    let deployments = retry(|| deployments.list(&params)).await?;
    let jobs = retry(|| jobs.list(&params)).await?;
    let count = |n: Option<i32>| u32::try_from(n.unwrap_or(1)).unwrap_or(0);
    let mut owned = Owned::new();
    let mut copies = Copies::new();
    let mut hold = |kind: WorkloadKind, meta: &kube::api::ObjectMeta, replicas: u32, status: Value| {
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        owned.insert((kind_name(kind), namespace.clone(), name.clone()), replicas);
        let source_generation = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(SOURCE_GENERATION_ANNOTATION))
            .and_then(|g| g.parse().ok());
        let state = CopyState {
            generation: meta.generation.unwrap_or(0),
            source_generation,
            status,
        };
        copies.insert((kind, WorkloadId::new(&namespace, &name)), state);
    };
    for d in &deployments.items {
        let status = serde_json::to_value(&d.status).unwrap_or_default();
        hold(
            WorkloadKind::Deployment,
            &d.metadata,
            count(d.spec.replicas),
            status,
        );
    }
    for j in &jobs.items {
        let status = serde_json::to_value(&j.status).unwrap_or_default();
        hold(
            WorkloadKind::Job,
            &j.metadata,
            count(j.spec.as_ref().and_then(|s| s.parallelism)),
            status,
        );
    }
    Ok((owned, copies))
}

fn ready_replicas(d: &Deployment) -> u32 {
    d.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(0)
}

/// Phase 1 in one cluster: what it holds now, then the objects that follow the workloads
/// there, then every desired Deployment that is new or grows and every desired Job that is
/// new (with its namespace). A Job already there is left as it is: its work is not moved,
/// and its completions cannot change.
async fn grow(client: &Client, wanted: &[&Desired], follows: &[&DesiredDependent]) -> Result<Grown, String> {
    let (now, copies) = owned_objects(client).await?;
    let mut report = ClusterReport {
        copies,
        ..ClusterReport::default()
    };
    put_dependents(client, follows, &mut report).await?;
    for d in wanted {
        let before = now.get(&key(d)).copied();
        let skip = match d.kind {
            WorkloadKind::Deployment => before.is_some_and(|b| d.replicas < b),
            WorkloadKind::Job => before.is_some(),
        };
        if skip {
            if d.kind == WorkloadKind::Job {
                report.unchanged += 1;
            }
            continue;
        }
        ensure_namespace(client, &d.source.namespace).await?;
        count(&mut report, apply_one(client, d).await?);
    }
    Ok((report, now))
}

/// Whether phase 2 has something to do in a cluster: a Deployment to shrink or an object to
/// delete.
fn pending_shrink(wanted: &[&Desired], now: &Owned) -> bool {
    now.iter().any(|(owned, &replicas)| {
        wanted
            .iter()
            .find(|d| key(d) == *owned)
            .is_none_or(|d| d.kind == WorkloadKind::Deployment && d.replicas < replicas)
    })
}

/// Phase 2 in one cluster: every desired Deployment that shrinks, then the owned objects no
/// longer desired are deleted (a Job with its pods).
async fn shrink(client: &Client, wanted: &[&Desired], now: &Owned) -> Result<ClusterReport, String> {
    let mut report = ClusterReport::default();
    for d in wanted {
        if d.kind == WorkloadKind::Deployment && now.get(&key(d)).is_some_and(|&b| d.replicas < b) {
            count(&mut report, apply_one(client, d).await?);
        }
    }
    for owned in now.keys() {
        if wanted.iter().any(|d| key(d) == *owned) {
            continue;
        }
        let (kind, namespace, name) = owned;
        if *kind == "Job" {
            let api: Api<Job> = Api::namespaced(client.clone(), namespace);
            let params = DeleteParams::background();
            retry(|| api.delete(name, &params)).await?;
        } else {
            let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
            let params = DeleteParams::default();
            retry(|| api.delete(name, &params)).await?;
        }
        report.pruned += 1;
    }
    Ok(report)
}

/// Applies the objects that follow workloads in one cluster, kinds in [`FollowKind::ALL`]
/// order (what pods mount before what routes to them). One that exists and is not
/// fleetplan's is left as it is and reported as a conflict.
async fn put_dependents(
    client: &Client,
    follows: &[&DesiredDependent],
    report: &mut ClusterReport,
) -> Result<(), String> {
    let mut follows = follows.to_vec();
    follows.sort_by_key(|d| {
        (
            FollowKind::ALL.iter().position(|k| *k == d.kind),
            d.object.clone(),
        )
    });
    let mut namespaces = std::collections::BTreeSet::new();
    for d in follows {
        if namespaces.insert(d.object.namespace.clone()) {
            ensure_namespace(client, &d.object.namespace).await?;
        }
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &d.object.namespace, &d.kind.api_resource());
        let before = retry(|| api.get_opt(&d.object.name)).await?;
        if let Some(before) = &before
            && before.labels().get(MANAGED_BY_LABEL).map(String::as_str) != Some(FIELD_MANAGER)
        {
            report.conflicts.push(format!(
                "{} exists and is not fleetplan's (no label {MANAGED_BY_LABEL}={FIELD_MANAGER}): left as it is",
                d.object
            ));
            continue;
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let patch = Patch::Apply(&d.copy);
        let after = retry(|| api.patch(&d.object.name, &params, &patch))
            .await
            .map_err(|e| format!("{}: {e}", d.object))?;
        count(report, Applied::between(before.as_ref(), &after));
        if d.kind == FollowKind::Ingress {
            let shown = ingress_status::addresses(&after.data["status"]);
            report.load_balancers.insert(d.object.clone(), shown);
        }
    }
    Ok(())
}

/// Deletes, in one cluster, the objects that followed workloads there and no longer do
/// (only fleetplan's); returns how many.
async fn prune_dependents(client: &Client, follows: &[&DesiredDependent]) -> Result<u32, String> {
    let params = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={FIELD_MANAGER}"));
    let mut pruned = 0;
    for kind in FollowKind::ALL.into_iter().rev() {
        let resource = kind.api_resource();
        let all: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let list = retry(|| all.list(&params)).await?;
        for item in list.items {
            let namespace = item.namespace().unwrap_or_default();
            let name = item.name_any();
            let wanted = follows
                .iter()
                .any(|d| d.kind == kind && *d.object.namespace == *namespace && *d.object.name == *name);
            if wanted {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
            let delete = DeleteParams::default();
            retry(|| api.delete(&name, &delete))
                .await
                .map_err(|e| format!("{} {namespace}/{name}: {e}", kind.name()))?;
            pruned += 1;
        }
    }
    Ok(pruned)
}

/// How one apply went.
enum Applied {
    Created,
    Updated,
    Unchanged,
}

impl Applied {
    /// What an apply did, from the object before it (if any) and after it: the API server
    /// keeps the resource version when nothing changed.
    fn between<K: ResourceExt>(before: Option<&K>, after: &K) -> Applied {
        match before {
            None => Applied::Created,
            Some(b) if b.resource_version() == after.resource_version() => Applied::Unchanged,
            Some(_) => Applied::Updated,
        }
    }
}

fn count(report: &mut ClusterReport, applied: Applied) {
    match applied {
        Applied::Created => report.created += 1,
        Applied::Updated => report.updated += 1,
        Applied::Unchanged => report.unchanged += 1,
    }
}

/// Server-side applies one object; tells whether it was new, changed or the same.
async fn apply_one(client: &Client, d: &Desired) -> Result<Applied, String> {
    match d.kind {
        WorkloadKind::Deployment => apply_typed::<Deployment>(client, d).await,
        WorkloadKind::Job => apply_typed::<Job>(client, d).await,
    }
    .map_err(|e| format!("{} {}: {e}", kind_name(d.kind), d.source))
}

fn kind_name(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::Job => "Job",
    }
}

async fn apply_typed<K>(client: &Client, d: &Desired) -> Result<Applied, String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), &d.source.namespace);
    let before = retry(|| api.get_opt(&d.source.name)).await?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let patch = Patch::Apply(&d.object);
    let after = retry(|| api.patch(&d.source.name, &params, &patch)).await?;
    Ok(Applied::between(before.as_ref(), &after))
}

/// Creates the namespace when it is missing (server-side apply: no write when it exists).
async fn ensure_namespace(client: &Client, name: &str) -> Result<(), String> {
    let api: Api<Namespace> = Api::all(client.clone());
    let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let params = PatchParams::apply(FIELD_MANAGER);
    let patch = Patch::Apply(&object);
    retry(|| api.patch(name, &params, &patch))
        .await
        .map(drop)
        .map_err(|e| format!("namespace {name}: {e}"))
}

/// Runs `call` until it succeeds, fails with an error retrying cannot fix, or has been
/// tried [`ATTEMPTS`] times; backs off 200 ms, 400 ms, 800 ms between tries.
async fn retry<T, F, Fut>(mut call: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < ATTEMPTS && transient(&error) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(error) => return Err(describe(&error)),
        }
    }
}

/// Conflicts, throttling, server errors and failed connections may pass.
fn transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 409 || status.code == 429 || status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use fleetplan::{Placement, PoolReplicas};

    use super::*;

    fn placement(workload: &WorkloadId, cluster: &str, replicas: u32) -> Placement {
        Placement {
            workload: workload.clone(),
            cluster: cluster.into(),
            region: "r".into(),
            replicas,
            pools: vec![PoolReplicas {
                pool: "p".into(),
                replicas,
            }],
        }
    }

    #[test]
    fn copies_carry_the_planned_replicas_and_fleetplans_labels_only() {
        let web = WorkloadId::new("shop", "web");
        let job = WorkloadId::new("batch", "report");
        let plan = Plan {
            placements: vec![
                placement(&job, "a", 2),
                placement(&web, "a", 4),
                placement(&web, "b", 2),
            ],
            ..Plan::default()
        };
        let kinds = BTreeMap::from([
            (web.clone(), WorkloadKind::Deployment),
            (job.clone(), WorkloadKind::Job),
        ]);
        let source = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "shop", "resourceVersion": "7", "uid": "u",
                "labels": {"app": "web"},
                "annotations": {"fleetplan.io/strategy": "pack", "team": "shop"}
            },
            "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"readyReplicas": 6}
        });
        let report = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "report", "namespace": "batch", "labels": {"fleetplan.io/schedule": "true"}},
            "spec": {
                "parallelism": 2, "completions": 5,
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
                "template": {"metadata": {"labels": {"app": "report", "controller-uid": "u", "job-name": "report"}}}
            }
        });
        let sources = BTreeMap::from([(web.clone(), source), (job.clone(), report)]);
        let desired = desired_objects(&plan, &kinds, &sources).unwrap();
        assert_eq!(desired.len(), 3);
        let copy = &desired[0];
        assert_eq!((copy.kind, copy.replicas), (WorkloadKind::Job, 2));
        assert_eq!(copy.object["kind"], json!("Job"));
        assert_eq!(copy.object["spec"]["parallelism"], json!(2));
        assert_eq!(
            copy.object["spec"]["completions"],
            json!(5),
            "the only copy takes every completion"
        );
        assert!(
            copy.object["spec"].get("selector").is_none(),
            "the API server makes its own"
        );
        assert_eq!(
            copy.object["spec"]["template"]["metadata"]["labels"],
            json!({"app": "report"})
        );
        assert!(
            copy.object["metadata"]["labels"]
                .get("fleetplan.io/schedule")
                .is_none()
        );
        let desired = &desired[1..];
        let a = &desired[0];
        assert_eq!((a.cluster.as_str(), a.replicas), ("a", 4));
        assert_eq!(a.object["spec"]["replicas"], json!(4));
        assert_eq!(
            a.object["spec"]["selector"],
            json!({"matchLabels": {"app": "web"}})
        );
        let metadata = &a.object["metadata"];
        assert_eq!(metadata["labels"][MANAGED_BY_LABEL], json!("fleetplan"));
        assert_eq!(metadata["labels"][SOURCE_NAMESPACE_LABEL], json!("shop"));
        assert_eq!(metadata["labels"]["app"], json!("web"));
        assert_eq!(metadata["annotations"], json!({"team": "shop"}));
        assert!(metadata.get("resourceVersion").is_none() && metadata.get("uid").is_none());
        assert!(a.object.get("status").is_none());
        assert_eq!(desired[1].object["spec"]["replicas"], json!(2));
    }

    #[test]
    fn completions_split_in_proportion_to_parallelism() {
        assert_eq!(split(10, &[3, 1, 1]), vec![6, 2, 2]);
        assert_eq!(split(7, &[1, 1]), vec![4, 3]);
        assert_eq!(split(1, &[2, 2]), vec![1, 1], "at least one each");
        assert_eq!(split(9, &[5]), vec![9]);
    }

    #[test]
    fn a_placed_deployment_needs_a_source_with_a_spec() {
        let web = WorkloadId::new("shop", "web");
        let plan = Plan {
            placements: vec![placement(&web, "a", 1)],
            ..Plan::default()
        };
        let kinds = BTreeMap::from([(web.clone(), WorkloadKind::Deployment)]);
        let missing = desired_objects(&plan, &kinds, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "workload shop/web: the plan places it but no source object was given"
        );
        let bad = BTreeMap::from([(web.clone(), json!({"metadata": {}}))]);
        let error = desired_objects(&plan, &kinds, &bad).unwrap_err();
        assert_eq!(error, ExecutorError::BadSource { workload: web });
    }

    #[test]
    fn only_shrinks_and_deletions_are_pending_for_phase_two() {
        let web = WorkloadId::new("shop", "web");
        let want = |replicas| Desired {
            cluster: "a".into(),
            kind: WorkloadKind::Deployment,
            source: web.clone(),
            replicas,
            object: json!({}),
        };
        let now: Owned = BTreeMap::from([(("Deployment", "shop".into(), "web".into()), 3)]);
        assert!(!pending_shrink(&[&want(3)], &now));
        assert!(!pending_shrink(&[&want(5)], &now));
        assert!(pending_shrink(&[&want(2)], &now));
        assert!(pending_shrink(&[], &now));
    }
}

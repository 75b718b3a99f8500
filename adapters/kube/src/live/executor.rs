//! Carrying a plan out in the workload clusters: one Deployment (or Job) per workload and
//! cluster, with the planned replica count, applied with server-side apply.
//!
//! [`crate::control::desired`] turns a plan and the source objects into the objects each
//! cluster should hold (pure). [`Executor::apply`] makes the clusters hold them:
//!
//! - **Ownership**: every object it writes carries [`MANAGED_BY_LABEL`]` = fleetplan` and the
//!   source's namespace and name (see [`crate::control::desired`]); it only
//!   ever changes or deletes objects with that label, never anything else.
//! - **Server-side apply** with field manager [`FIELD_MANAGER`], so a second apply of the same
//!   plan writes nothing (the API server keeps the resource version), and the namespace is
//!   created when missing.
//! - **Make-before-break**: first every cluster gains what it gains (new Deployments, more
//!   replicas); then, once the copies of every workload that shrinks somewhere are ready,
//!   Deployments shrink and the ones no longer planned are deleted (pruned). When those
//!   replicas do not become ready within `wait_ready`, nothing shrinks; when nothing shrinks,
//!   nothing is waited for. A cluster that cannot be reached is left as it is and reported; the
//!   others carry on.
//! - **Isolation**: clusters are worked on concurrently (at most `concurrency` at once), each
//!   under its own `timeout`; a slow or dead cluster fails alone and never blocks the others.
//!   Conflicts, throttling, server errors and connection errors are retried with backoff.
//!
//! **Jobs**: each cluster holding some of a Job's pods gets a copy with the planned
//! parallelism and a share of its completions. A copy already there is never changed (its
//! completions are immutable and its work is not moved); copies no longer planned are
//! deleted with their pods.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use fleetplan::follow::ObjectRef;
use fleetplan::{WorkloadId, WorkloadKind};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::control::desired::{Desired, DesiredDependent, FIELD_MANAGER, MANAGED_BY_LABEL};
use crate::control::fleet_status::{CopyState, SOURCE_GENERATION_ANNOTATION};
use crate::control::ingress_status;
use crate::control::rollout::{self, Owned, pending_shrink};
use crate::dependents::FollowKind;
use crate::live::error::{LiveError, api};

/// How many times a call is tried before its error counts.
const ATTEMPTS: u32 = 4;

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

/// The state of the copies one cluster holds, by kind and source.
type Copies = BTreeMap<(WorkloadKind, WorkloadId), CopyState>;

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
        self.apply_with(desired, dependents, options, async |_| {}).await
    }

    /// [`Executor::apply`], running `before_shrink` once the new replicas are ready and
    /// before any replica stops (not at all when they do not become ready), with the
    /// reports so far (each Ingress copy's load balancers among them): where the caller
    /// lowers the DNS weights of the clusters about to lose replicas and waits for resolvers
    /// to notice (see [`fleetplan::actions::record_stages`]).
    pub async fn apply_with(
        &self,
        desired: &[Desired],
        dependents: &[DesiredDependent],
        options: &ApplyOptions,
        before_shrink: impl AsyncFnOnce(&BTreeMap<String, ClusterReport>),
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
        let grown: Vec<(String, Result<Grown, LiveError>)> =
            futures::stream::iter(by_cluster.iter().map(|(&cluster, wanted)| async move {
                let follows = following.get(cluster).map_or(&[][..], Vec::as_slice);
                let outcome = match self.clients.get(cluster) {
                    None => Err(LiveError::Client {
                        cluster: cluster.to_owned(),
                        detail: "no client for this cluster (no kubeconfig context of that name)".into(),
                    }),
                    Some(client) => within(options.timeout, "grow", grow(client, wanted, follows)).await,
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
                            error: Some(error.to_string()),
                            ..ClusterReport::default()
                        },
                    );
                }
            }
        }
        // Make before break: shrink only once the new replicas are ready, in every cluster that
        // could be reached (a cluster that failed is left as it is, and reported), of the
        // workloads that shrink somewhere (growing alone waits for nothing, so that a copy that
        // stays Pending holds back no other workload, and no pass).
        let shrinking: BTreeSet<_> = owned
            .iter()
            .flat_map(|(cluster, now)| {
                let wanted = by_cluster.get(cluster.as_str()).cloned().unwrap_or_default();
                rollout::shrink(&wanted, now).workloads().collect::<Vec<_>>()
            })
            .collect();
        let reached: Vec<Desired> = desired
            .iter()
            .filter(|d| owned.contains_key(&d.cluster) && shrinking.contains(&rollout::key(d)))
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
        before_shrink(&reports).await;
        // Phase 2: shrink and prune.
        let shrunk: Vec<(String, Result<ClusterReport, LiveError>)> =
            futures::stream::iter(owned.iter().map(|(cluster, now)| {
                let wanted = by_cluster.get(cluster.as_str()).cloned().unwrap_or_default();
                let follows = following.get(cluster.as_str()).map_or(&[][..], Vec::as_slice);
                let client = &self.clients[cluster];
                async move {
                    let outcome = within(options.timeout, "shrink and prune", async {
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
                Err(error) => report.error = Some(error.to_string()),
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
async fn within<T>(
    limit: Duration,
    action: &str,
    work: impl Future<Output = Result<T, LiveError>>,
) -> Result<T, LiveError> {
    tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
        Err(LiveError::Timeout {
            action: action.into(),
            seconds: limit.as_secs(),
        })
    })
}

/// Lists the Deployments and Jobs fleetplan owns in one cluster, with their state.
async fn owned_objects(client: &Client) -> Result<(Owned, Copies), LiveError> {
    let params = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={FIELD_MANAGER}"));
    let deployments: Api<Deployment> = Api::all(client.clone());
    let jobs: Api<Job> = Api::all(client.clone());
    let deployments = retry(
        || "list fleetplan's Deployments".into(),
        || deployments.list(&params),
    )
    .await?;
    let jobs = retry(|| "list fleetplan's Jobs".into(), || jobs.list(&params)).await?;
    let count = |n: Option<i32>| u32::try_from(n.unwrap_or(1)).unwrap_or(0);
    let mut owned = Owned::new();
    let mut copies = Copies::new();
    let mut hold = |kind: WorkloadKind, meta: &kube::api::ObjectMeta, replicas: u32, status: Value| {
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        owned.insert((kind, namespace.clone(), name.clone()), replicas);
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

/// Phase 1 in one cluster (see [`rollout::grow`]): what it holds now, then the objects that
/// follow the workloads there, then every desired Deployment that is new or grows and every
/// desired Job that is new (with its namespace).
async fn grow(
    client: &Client,
    wanted: &[&Desired],
    follows: &[&DesiredDependent],
) -> Result<Grown, LiveError> {
    let (now, copies) = owned_objects(client).await?;
    let mut report = ClusterReport {
        copies,
        ..ClusterReport::default()
    };
    let phase = rollout::grow(wanted, follows, &now);
    put_dependents(client, &phase.follows, &mut report).await?;
    report.unchanged += phase.jobs_kept;
    for d in phase.apply {
        ensure_namespace(client, &d.source.namespace).await?;
        count(&mut report, apply_one(client, d).await?);
    }
    Ok((report, now))
}

/// Phase 2 in one cluster (see [`rollout::shrink`]): every desired Deployment that shrinks,
/// then the owned objects no longer desired are deleted (a Job with its pods).
async fn shrink(client: &Client, wanted: &[&Desired], now: &Owned) -> Result<ClusterReport, LiveError> {
    let mut report = ClusterReport::default();
    let phase = rollout::shrink(wanted, now);
    for d in phase.apply {
        count(&mut report, apply_one(client, d).await?);
    }
    for (kind, namespace, name) in &phase.delete {
        let what = || format!("delete {} {namespace}/{name}", kind_name(*kind));
        match kind {
            WorkloadKind::Job => {
                let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
                let params = DeleteParams::background();
                retry(what, || jobs.delete(name, &params)).await?;
            }
            WorkloadKind::Deployment => {
                let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
                let params = DeleteParams::default();
                retry(what, || deployments.delete(name, &params)).await?;
            }
        }
        report.pruned += 1;
    }
    Ok(report)
}

/// Applies the objects that follow workloads in one cluster, in the order given (see
/// [`rollout::grow`]). One that exists and is not fleetplan's is left as it is and reported
/// as a conflict.
async fn put_dependents(
    client: &Client,
    follows: &[&DesiredDependent],
    report: &mut ClusterReport,
) -> Result<(), LiveError> {
    let mut namespaces = std::collections::BTreeSet::new();
    for d in follows.iter().copied() {
        if namespaces.insert(d.object.namespace.clone()) {
            ensure_namespace(client, &d.object.namespace).await?;
        }
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &d.object.namespace, &d.kind.api_resource());
        let before = retry(|| format!("get {}", d.object), || api.get_opt(&d.object.name)).await?;
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
        let after = retry(
            || format!("apply {}", d.object),
            || api.patch(&d.object.name, &params, &patch),
        )
        .await?;
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
async fn prune_dependents(client: &Client, follows: &[&DesiredDependent]) -> Result<u32, LiveError> {
    let params = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={FIELD_MANAGER}"));
    let mut pruned = 0;
    for kind in FollowKind::ALL.into_iter().rev() {
        let resource = kind.api_resource();
        let all: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let list = retry(
            || format!("list fleetplan's {}s", kind.name()),
            || all.list(&params),
        )
        .await?;
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
            retry(
                || format!("delete {} {namespace}/{name}", kind.name()),
                || api.delete(&name, &delete),
            )
            .await?;
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
async fn apply_one(client: &Client, d: &Desired) -> Result<Applied, LiveError> {
    match d.kind {
        WorkloadKind::Deployment => apply_typed::<Deployment>(client, d).await,
        WorkloadKind::Job => apply_typed::<Job>(client, d).await,
    }
}

fn kind_name(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::Job => "Job",
    }
}

async fn apply_typed<K>(client: &Client, d: &Desired) -> Result<Applied, LiveError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), &d.source.namespace);
    let what = || format!("{} {}", kind_name(d.kind), d.source);
    let before = retry(|| format!("get {}", what()), || api.get_opt(&d.source.name)).await?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let patch = Patch::Apply(&d.object);
    let after = retry(
        || format!("apply {}", what()),
        || api.patch(&d.source.name, &params, &patch),
    )
    .await?;
    Ok(Applied::between(before.as_ref(), &after))
}

/// Creates the namespace when it is missing (server-side apply: no write when it exists).
async fn ensure_namespace(client: &Client, name: &str) -> Result<(), LiveError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let params = PatchParams::apply(FIELD_MANAGER);
    let patch = Patch::Apply(&object);
    retry(
        || format!("create Namespace {name}"),
        || api.patch(name, &params, &patch),
    )
    .await
    .map(drop)
}

/// Runs `call` until it succeeds, fails with an error retrying cannot fix, or has been
/// tried [`ATTEMPTS`] times; backs off 200 ms, 400 ms, 800 ms between tries.
pub(crate) async fn retry<T, F, Fut>(action: impl FnOnce() -> String, mut call: F) -> Result<T, LiveError>
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
            Err(error) => return Err(api(action())(error)),
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

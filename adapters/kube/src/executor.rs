//! Carrying a plan out in the workload clusters: one Deployment per workload and cluster, with
//! the planned replica count, applied with server-side apply.
//!
//! [`desired_deployments`] turns a plan and the source objects into the Deployments each
//! cluster should hold (pure). [`Executor::apply`] makes the clusters hold them:
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
//! Jobs are not applied yet (a Job's work cannot be split by changing a replica count).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use fleetplan::{Plan, WorkloadId, WorkloadKind};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

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

/// One Deployment a cluster should hold.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredDeployment {
    /// The workload cluster.
    pub cluster: String,
    /// The source workload; the copy has the same namespace and name.
    pub source: WorkloadId,
    /// The planned replicas.
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

/// The Deployments each cluster should hold after `plan`: for every placement of a
/// Deployment, a copy of its source with the planned replicas, fleetplan's labels, and
/// neither `fleetplan.io/` annotations nor server-set fields. Jobs are left out.
///
/// # Errors
/// When a placed Deployment has no source or a source without a `spec`.
pub fn desired_deployments(
    plan: &Plan,
    kinds: &BTreeMap<WorkloadId, WorkloadKind>,
    sources: &BTreeMap<WorkloadId, Value>,
) -> Result<Vec<DesiredDeployment>, ExecutorError> {
    let mut desired = Vec::new();
    for placement in &plan.placements {
        if kinds.get(&placement.workload) != Some(&WorkloadKind::Deployment) || placement.replicas == 0 {
            continue;
        }
        let id = &placement.workload;
        let source = sources
            .get(id)
            .ok_or_else(|| ExecutorError::MissingSource { workload: id.clone() })?;
        desired.push(DesiredDeployment {
            cluster: placement.cluster.to_string(),
            source: id.clone(),
            replicas: placement.replicas,
            object: copy_of(id, source, placement.replicas)?,
        });
    }
    Ok(desired)
}

/// The source Deployment as its copy in a workload cluster.
fn copy_of(id: &WorkloadId, source: &Value, replicas: u32) -> Result<Value, ExecutorError> {
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
    labels.insert(MANAGED_BY_LABEL.into(), json!(FIELD_MANAGER));
    labels.insert(SOURCE_NAMESPACE_LABEL.into(), json!(&*id.namespace));
    labels.insert(SOURCE_NAME_LABEL.into(), json!(&*id.name));
    let annotations: serde_json::Map<String, Value> = metadata
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter(|(k, _)| !k.starts_with("fleetplan.io/"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut spec = spec.clone();
    spec["replicas"] = json!(replicas);
    let mut object = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
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
    /// Deployments created.
    pub created: u32,
    /// Deployments whose content changed.
    pub updated: u32,
    /// Deployments applied with no change.
    pub unchanged: u32,
    /// Deployments deleted because the plan no longer places them there.
    pub pruned: u32,
    /// Why the cluster could not be brought to the plan, if it could not.
    pub error: Option<String>,
}

/// Applies plans to workload clusters, one client per cluster.
pub struct Executor {
    clients: BTreeMap<String, Client>,
}

/// Where one owned Deployment stands now: `(namespace, name) -> (replicas, ready)`.
type Owned = BTreeMap<(String, String), (u32, u32)>;

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
        desired: &[DesiredDeployment],
        options: &ApplyOptions,
    ) -> BTreeMap<String, ClusterReport> {
        let mut by_cluster: BTreeMap<&str, Vec<&DesiredDeployment>> =
            self.clients.keys().map(|c| (c.as_str(), Vec::new())).collect();
        for d in desired {
            by_cluster.entry(&d.cluster).or_default().push(d);
        }
        let concurrency = options.concurrency.max(1);
        // Phase 1: find what each cluster holds and grow.
        let grown: Vec<(String, Result<Grown, String>)> =
            futures::stream::iter(by_cluster.iter().map(|(&cluster, wanted)| async move {
                let outcome = match self.clients.get(cluster) {
                    None => Err("no client for this cluster (no kubeconfig context of that name)".into()),
                    Some(client) => within(options.timeout, grow(client, wanted)).await,
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
        let reached: Vec<DesiredDeployment> = desired
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
                let client = &self.clients[cluster];
                async move {
                    let outcome = within(options.timeout, shrink(client, &wanted, now)).await;
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
    async fn wait_ready(&self, desired: &[DesiredDeployment], options: &ApplyOptions) -> bool {
        let deadline = Instant::now() + options.wait_ready;
        loop {
            let mut all = true;
            for d in desired {
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

/// Lists the Deployments fleetplan owns in one cluster.
async fn owned_deployments(client: &Client) -> Result<Owned, String> {
    let api: Api<Deployment> = Api::all(client.clone());
    let params = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={FIELD_MANAGER}"));
    let list = retry(|| api.list(&params)).await?;
    Ok(list
        .items
        .iter()
        .map(|d| {
            let key = (d.namespace().unwrap_or_default(), d.name_any());
            let replicas = d.spec.replicas.unwrap_or(1);
            let replicas = u32::try_from(replicas).unwrap_or(0);
            (key, (replicas, ready_replicas(d)))
        })
        .collect())
}

fn ready_replicas(d: &Deployment) -> u32 {
    d.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(0)
}

/// Phase 1 in one cluster: what it holds now, then every desired Deployment that is new or
/// grows (with its namespace).
async fn grow(client: &Client, wanted: &[&DesiredDeployment]) -> Result<Grown, String> {
    let now = owned_deployments(client).await?;
    let mut report = ClusterReport::default();
    for d in wanted {
        let key = (d.source.namespace.to_string(), d.source.name.to_string());
        let before = now.get(&key).map(|&(replicas, _)| replicas);
        if before.is_some_and(|b| d.replicas < b) {
            continue;
        }
        ensure_namespace(client, &d.source.namespace).await?;
        count(&mut report, apply_one(client, d).await?);
    }
    Ok((report, now))
}

/// Whether phase 2 has something to do in a cluster: a Deployment to shrink or to delete.
fn pending_shrink(wanted: &[&DesiredDeployment], now: &Owned) -> bool {
    now.iter().any(|((namespace, name), &(replicas, _))| {
        wanted
            .iter()
            .find(|d| &*d.source.namespace == namespace && &*d.source.name == name)
            .is_none_or(|d| d.replicas < replicas)
    })
}

/// Phase 2 in one cluster: every desired Deployment that shrinks, then the owned ones no
/// longer desired are deleted.
async fn shrink(
    client: &Client,
    wanted: &[&DesiredDeployment],
    now: &Owned,
) -> Result<ClusterReport, String> {
    let mut report = ClusterReport::default();
    for d in wanted {
        let key = (d.source.namespace.to_string(), d.source.name.to_string());
        if now.get(&key).is_some_and(|&(b, _)| d.replicas < b) {
            count(&mut report, apply_one(client, d).await?);
        }
    }
    for (namespace, name) in now.keys() {
        let kept = wanted
            .iter()
            .any(|d| &*d.source.namespace == namespace && &*d.source.name == name);
        if !kept {
            let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
            let params = DeleteParams::default();
            retry(|| api.delete(name, &params)).await?;
            report.pruned += 1;
        }
    }
    Ok(report)
}

/// How one apply went.
enum Applied {
    Created,
    Updated,
    Unchanged,
}

fn count(report: &mut ClusterReport, applied: Applied) {
    match applied {
        Applied::Created => report.created += 1,
        Applied::Updated => report.updated += 1,
        Applied::Unchanged => report.unchanged += 1,
    }
}

/// Server-side applies one Deployment; tells whether it was new, changed or the same.
async fn apply_one(client: &Client, d: &DesiredDeployment) -> Result<Applied, String> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &d.source.namespace);
    let before = retry(|| api.get_opt(&d.source.name)).await?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let patch = Patch::Apply(&d.object);
    let after = retry(|| api.patch(&d.source.name, &params, &patch))
        .await
        .map_err(|e| format!("Deployment {}: {e}", d.source))?;
    Ok(match before {
        None => Applied::Created,
        Some(b) if b.resource_version() == after.resource_version() => Applied::Unchanged,
        Some(_) => Applied::Updated,
    })
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

/// The error as one line: an API error as its message and code, others with their causes.
pub(crate) fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
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
        let sources = BTreeMap::from([(web.clone(), source)]);
        let desired = desired_deployments(&plan, &kinds, &sources).unwrap();
        assert_eq!(desired.len(), 2, "the Job is not applied");
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
    fn a_placed_deployment_needs_a_source_with_a_spec() {
        let web = WorkloadId::new("shop", "web");
        let plan = Plan {
            placements: vec![placement(&web, "a", 1)],
            ..Plan::default()
        };
        let kinds = BTreeMap::from([(web.clone(), WorkloadKind::Deployment)]);
        let missing = desired_deployments(&plan, &kinds, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "workload shop/web: the plan places it but no source object was given"
        );
        let bad = BTreeMap::from([(web.clone(), json!({"metadata": {}}))]);
        let error = desired_deployments(&plan, &kinds, &bad).unwrap_err();
        assert_eq!(error, ExecutorError::BadSource { workload: web });
    }

    #[test]
    fn only_shrinks_and_deletions_are_pending_for_phase_two() {
        let web = WorkloadId::new("shop", "web");
        let want = |replicas| DesiredDeployment {
            cluster: "a".into(),
            source: web.clone(),
            replicas,
            object: json!({}),
        };
        let now: Owned = BTreeMap::from([(("shop".into(), "web".into()), (3, 3))]);
        assert!(!pending_shrink(&[&want(3)], &now));
        assert!(!pending_shrink(&[&want(5)], &now));
        assert!(pending_shrink(&[&want(2)], &now));
        assert!(pending_shrink(&[], &now));
    }
}

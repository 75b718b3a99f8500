//! The multi-cluster controller: keeps the workload clusters holding the plan of the opted-in
//! workloads of a management cluster.
//!
//! Each pass ([`Controller::reconcile`]) reads the registry, the fleet-wide settings and the
//! opted-in workloads (see
//! [`crate::live`]), takes a snapshot of every registered cluster, plans with the replicas
//! running now kept where they are (so a pass with nothing new moves nothing), applies the
//! plan through the [`crate::executor`], and writes the placement back on each source as
//! annotations ([`PLACEMENT_ANNOTATION`], [`UNPLACED_ANNOTATION`], [`READY_ANNOTATION`]),
//! with an Event (`Placed`, and `Unplaced` as a warning) and, on a Deployment, the condition
//! [`PLACED_CONDITION`] (`False` with the reasons when replicas are unplaced) when the
//! placement changes.
//!
//! **Failure**: a cluster that has not answered for `failure_threshold` (default 10 s) is
//! Unreachable: its replicas count as lost, and the plan places them on the others at once.
//! Until then its last snapshot stands in for it, so a blip moves nothing. A newly
//! registered cluster that has not answered yet holds planning back (for up to the
//! threshold), so that the first plan does not pile everything on the clusters that answered
//! first. A cluster whose registration carries `fleetplan.io/drain: "true"` is Draining: its replicas move out,
//! make-before-break.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetplan::follow::ObjectRef;
use fleetplan::{Cluster, Health, PlanOptions, Problem, SolverChoice, WorkloadKind};
use futures::future::join_all;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Event;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::dependents::FollowKind;
use crate::error::describe;
use crate::executor::{
    ApplyOptions, ClusterReport, Executor, FIELD_MANAGER, desired_dependents, desired_objects,
};
use crate::fleet_status::{CopyState, ManagementMode, changes, deployment_status, job_status};
use crate::ingress_status::{self, LOAD_BALANCERS as LOAD_BALANCERS_ANNOTATION};
use crate::lease::LeaderElection;
use crate::live::{
    ClusterWatch, REGISTRY_NAMESPACE, Registration, Snapshot, read_fleet_settings, read_registry,
    read_sources,
};
use crate::metrics::Metrics;

pub use crate::annotations::{
    PLACEMENT as PLACEMENT_ANNOTATION, READY as READY_ANNOTATION, UNPLACED as UNPLACED_ANNOTATION,
};

/// The condition type set on source Deployments: whether every replica is placed.
pub const PLACED_CONDITION: &str = "FleetplanPlaced";

/// How the controller works.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// The namespace of cluster registrations.
    pub registry_namespace: String,
    /// Time between passes.
    pub interval: Duration,
    /// How long a cluster may not answer before its replicas are placed elsewhere.
    pub failure_threshold: Duration,
    /// The most one cluster may take to answer a snapshot.
    pub timeout: Duration,
    /// How plans are applied.
    pub apply: ApplyOptions,
    /// What the management cluster is; `None` detects it each pass (see
    /// [`detect_management_mode`]).
    pub management: Option<ManagementMode>,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            registry_namespace: REGISTRY_NAMESPACE.into(),
            interval: Duration::from_secs(2),
            failure_threshold: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            apply: ApplyOptions {
                wait_ready: Duration::from_secs(30),
                timeout: Duration::from_secs(10),
                ..ApplyOptions::default()
            },
            management: None,
        }
    }
}

/// What the controller knows of one registered cluster.
struct Tracked {
    registration: Registration,
    client: Client,
    /// Its nodes and pods, watched.
    watch: ClusterWatch,
    /// When it last answered (or, before it ever did, when it was registered).
    last_ok: Instant,
    answered: bool,
    last: Option<Snapshot>,
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct Pass {
    /// Replicas placed and unplaced by the plan.
    pub placed: u64,
    /// Replicas the plan could not place.
    pub unplaced: u64,
    /// Clusters past the failure threshold.
    pub unreachable: Vec<String>,
    /// Clusters that did not answer this pass but are still within the threshold.
    pub late: Vec<String>,
    /// What the executor did per reachable cluster.
    pub applied: BTreeMap<String, ClusterReport>,
}

/// The controller's state between passes.
pub struct Controller {
    mgmt: Client,
    options: ControllerOptions,
    clusters: BTreeMap<String, Tracked>,
}

impl Controller {
    /// A controller of the management cluster `mgmt`.
    pub fn new(mgmt: Client, options: ControllerOptions) -> Self {
        Controller {
            mgmt,
            options,
            clusters: BTreeMap::new(),
        }
    }

    /// One pass: read, plan, apply, report.
    ///
    /// # Errors
    /// When the management cluster cannot be read, a registration or a source is invalid, or
    /// the plan fails; nothing is applied then.
    pub async fn reconcile(&mut self) -> Result<Pass, String> {
        let registrations = read_registry(&self.mgmt, &self.options.registry_namespace).await?;
        let fargate = read_fleet_settings(&self.mgmt, &self.options.registry_namespace).await?;
        let sources = read_sources(&self.mgmt).await?;
        self.track(registrations).await?;

        let timeout = self.options.timeout;
        let snapshots = join_all(
            self.clusters
                .values()
                .map(|t| t.watch.snapshot(&t.registration, &sources, timeout)),
        )
        .await;
        let now = Instant::now();
        let mut pass = Pass::default();
        let mut clusters = Vec::new();
        let mut running = Vec::new();
        let mut reachable = BTreeMap::new();
        let mut waiting = false;
        let mut ready: BTreeMap<fleetplan::WorkloadId, u32> = BTreeMap::new();
        for ((name, tracked), outcome) in self.clusters.iter_mut().zip(snapshots) {
            match outcome {
                Ok(snapshot) => {
                    tracked.last_ok = now;
                    tracked.answered = true;
                    clusters.push(snapshot.cluster.clone());
                    running.extend(snapshot.running.iter().cloned());
                    reachable.insert(name.clone(), tracked.client.clone());
                    for (id, n) in &snapshot.ready {
                        *ready.entry(id.clone()).or_default() += n;
                    }
                    tracked.last = Some(snapshot);
                }
                Err(error) => {
                    let silent = now.duration_since(tracked.last_ok);
                    let within = silent < self.options.failure_threshold;
                    match (&tracked.last, within && tracked.answered) {
                        // Newly registered and not read yet: no decision without it.
                        (None, _) if within => {
                            tracing::info!(cluster = %name, %error, "waiting for a newly registered cluster to answer once");
                            pass.late.push(name.clone());
                            waiting = true;
                        }
                        // A blip: the last snapshot stands in, nothing moves.
                        (Some(last), true) => {
                            tracing::warn!(cluster = %name, %error, "cannot read the cluster; within the failure threshold, nothing moves");
                            pass.late.push(name.clone());
                            clusters.push(last.cluster.clone());
                            running.extend(last.running.iter().cloned());
                        }
                        (last, _) => {
                            tracing::warn!(cluster = %name, %error, silent_s = silent.as_secs(), "cannot read the cluster past the failure threshold: its replicas are placed elsewhere");
                            pass.unreachable.push(name.clone());
                            let mut cluster = last.as_ref().map_or_else(
                                || Cluster::new(&tracked.registration.name, &tracked.registration.region),
                                |s| s.cluster.clone(),
                            );
                            cluster.health = Health::Unreachable;
                            clusters.push(cluster);
                        }
                    }
                }
            }
        }
        if waiting {
            // Planning now would pile everything on the clusters that answered first.
            return Ok(pass);
        }
        let problem = Problem {
            clusters,
            workloads: sources.workloads(),
            current: running,
            fargate,
            dependents: sources.dependents(),
        };
        let options = PlanOptions {
            solver: SolverChoice::Fast,
            ..PlanOptions::default()
        };
        let plan = fleetplan::plan(&problem, &options).map_err(|e| format!("cannot plan: {e}"))?;
        pass.placed = plan.summary.placed;
        pass.unplaced = plan.summary.unplaced;
        for u in &plan.unplaced {
            let reasons: Vec<String> = u
                .reasons
                .iter()
                .map(|r| format!("{}: {}", r.cluster, r.reason))
                .collect();
            tracing::info!(workload = %u.workload, replicas = u.replicas, reasons = %reasons.join("; "), "replicas unplaced");
        }
        let kinds = problem.workloads.iter().map(|w| (w.id.clone(), w.kind)).collect();
        let objects = sources.objects();
        let desired: Vec<_> = desired_objects(&plan, &kinds, &objects)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|d| reachable.contains_key(&d.cluster))
            .collect();
        let dependent_objects = sources.dependent_objects();
        let follows: Vec<_> = desired_dependents(&plan, &problem.dependents, &dependent_objects)
            .into_iter()
            .filter(|d| reachable.contains_key(&d.cluster))
            .collect();
        pass.applied = Executor::new(reachable)
            .apply(&desired, &follows, &self.options.apply)
            .await;
        for (cluster, report) in &pass.applied {
            if let Some(error) = &report.error {
                tracing::warn!(%cluster, %error, "cluster not brought to the plan");
            }
            for conflict in &report.conflicts {
                tracing::warn!(%cluster, %conflict, "not carried");
            }
        }
        let mode = match self.options.management {
            Some(mode) => mode,
            None => detect_management_mode(&self.mgmt).await,
        };
        if mode == ManagementMode::ControlPlane {
            self.write_fleet_status(&objects, &pass.applied).await;
        }
        self.write_load_balancers(&plan, &dependent_objects, &pass.applied, mode)
            .await;
        self.report_status(&plan, &objects, &ready).await;
        Ok(pass)
    }

    /// Keeps a client per registered cluster, rebuilt when its registration changes.
    async fn track(&mut self, registrations: Vec<Registration>) -> Result<(), String> {
        let mut next = BTreeMap::new();
        for registration in registrations {
            let name = registration.name.clone();
            let tracked = match self.clusters.remove(&name) {
                Some(mut t) if t.registration.version == registration.version => {
                    t.registration = registration;
                    t
                }
                previous => {
                    let client = registration.client().await?;
                    Tracked {
                        watch: ClusterWatch::start(client.clone()),
                        client,
                        registration,
                        last_ok: previous.as_ref().map_or_else(Instant::now, |p| p.last_ok),
                        answered: previous.as_ref().is_some_and(|p| p.answered),
                        last: previous.and_then(|p| p.last),
                    }
                }
            };
            next.insert(name, tracked);
        }
        self.clusters = next;
        Ok(())
    }

    /// Writes each source's status summed over its copies (see [`crate::fleet_status`]), when
    /// it changed: what a management control plane's own controllers would have written.
    async fn write_fleet_status(
        &self,
        objects: &BTreeMap<fleetplan::WorkloadId, serde_json::Value>,
        applied: &BTreeMap<String, ClusterReport>,
    ) {
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        for (id, object) in objects {
            let (kind, resource) = match object["kind"].as_str() {
                Some("Deployment") => (WorkloadKind::Deployment, ApiResource::erase::<Deployment>(&())),
                Some("Job") => (WorkloadKind::Job, ApiResource::erase::<Job>(&())),
                _ => continue,
            };
            let key = (kind, id.clone());
            let copies: Vec<CopyState> = applied
                .values()
                .filter_map(|r| r.copies.get(&key))
                .cloned()
                .collect();
            let status = match kind {
                WorkloadKind::Deployment => deployment_status(object, &copies, &now),
                WorkloadKind::Job => job_status(object, &copies, &now),
            };
            if !changes(&object["status"], &status) {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(self.mgmt.clone(), &id.namespace, &resource);
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PatchParams::default()
            };
            let patch = json!({ "status": status });
            if let Err(error) = api.patch_status(&id.name, &params, &Patch::Merge(&patch)).await {
                tracing::warn!(workload = %id, error = %describe(&error), "cannot write the fleet status on the source");
            }
        }
    }

    /// Writes on each source Ingress its copies' load balancers (see [`crate::ingress_status`]):
    /// the annotation always, and `status.loadBalancer` in a management control plane, each
    /// when it changed.
    async fn write_load_balancers(
        &self,
        plan: &fleetplan::Plan,
        dependents: &BTreeMap<ObjectRef, serde_json::Value>,
        applied: &BTreeMap<String, ClusterReport>,
        mode: ManagementMode,
    ) {
        let resource = FollowKind::Ingress.api_resource();
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        for (object, source) in dependents
            .iter()
            .filter(|(o, _)| &*o.kind == FollowKind::Ingress.name())
        {
            let planned = plan
                .follow
                .iter()
                .find(|f| &f.object == object)
                .map_or(&[][..], |f| f.clusters.as_slice());
            let seen: BTreeMap<String, Vec<String>> = applied
                .iter()
                .filter_map(|(cluster, r)| Some((cluster.clone(), r.load_balancers.get(object)?.clone())))
                .collect();
            let previous = source["metadata"]["annotations"][LOAD_BALANCERS_ANNOTATION].as_str();
            let balancers = ingress_status::load_balancers(previous, planned, &seen);
            let text = ingress_status::annotation(&balancers);
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.mgmt.clone(), &object.namespace, &resource);
            if previous != Some(text.as_str()) {
                let patch = json!({"metadata": {"annotations": {LOAD_BALANCERS_ANNOTATION: text}}});
                if let Err(error) = api.patch(&object.name, &params, &Patch::Merge(&patch)).await {
                    tracing::warn!(%object, error = %describe(&error), "cannot write the load balancers on the source");
                }
            }
            let status = ingress_status::merged_status(&balancers);
            if mode == ManagementMode::ControlPlane && source["status"] != status {
                let patch = json!({ "status": status });
                if let Err(error) = api
                    .patch_status(&object.name, &params, &Patch::Merge(&patch))
                    .await
                {
                    tracing::warn!(%object, error = %describe(&error), "cannot write the load balancers in the source's status");
                }
            }
        }
    }

    /// Writes each source's placement and unplaced reason as annotations, when they changed.
    async fn report_status(
        &self,
        plan: &fleetplan::Plan,
        objects: &BTreeMap<fleetplan::WorkloadId, serde_json::Value>,
        ready: &BTreeMap<fleetplan::WorkloadId, u32>,
    ) {
        for (id, object) in objects {
            let kind = object.get("kind").and_then(serde_json::Value::as_str);
            let resource = match kind {
                Some("Deployment") => ApiResource::erase::<Deployment>(&()),
                Some("Job") => ApiResource::erase::<Job>(&()),
                _ => continue,
            };
            let placed: BTreeMap<&str, u32> = plan
                .placements
                .iter()
                .filter(|p| &p.workload == id)
                .map(|p| (p.cluster.as_str(), p.replicas))
                .collect();
            let placement = serde_json::to_string(&placed).unwrap_or_default();
            // A Deployment's replicas, a Job's parallelism: both default to 1.
            let spec = &object["spec"];
            let target = spec["replicas"]
                .as_u64()
                .or_else(|| spec["parallelism"].as_u64())
                .unwrap_or(1);
            let ready_text = format!("{}/{target}", ready.get(id).copied().unwrap_or(0));
            let unplaced = plan.unplaced.iter().find(|u| &u.workload == id).map(|u| {
                let reasons: Vec<String> = u
                    .reasons
                    .iter()
                    .map(|r| format!("{}: {}", r.cluster, r.reason))
                    .collect();
                format!("{} replica(s) unplaced; {}", u.replicas, reasons.join("; "))
            });
            let annotations = &object["metadata"]["annotations"];
            let plan_changed = annotations[PLACEMENT_ANNOTATION].as_str() != Some(placement.as_str())
                || annotations[UNPLACED_ANNOTATION].as_str() != unplaced.as_deref();
            if !plan_changed && annotations[READY_ANNOTATION].as_str() == Some(ready_text.as_str()) {
                continue;
            }
            let patch = json!({"metadata": {"annotations": {
                PLACEMENT_ANNOTATION: placement,
                UNPLACED_ANNOTATION: unplaced,
                READY_ANNOTATION: ready_text,
            }}});
            let api: Api<DynamicObject> = Api::namespaced_with(self.mgmt.clone(), &id.namespace, &resource);
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PatchParams::default()
            };
            if let Err(error) = api.patch(&id.name, &params, &Patch::Merge(&patch)).await {
                tracing::warn!(workload = %id, error = %describe(&error), "cannot write the placement on the source");
            }
            if plan_changed {
                let spread: Vec<String> = placed.iter().map(|(c, n)| format!("{c} {n}")).collect();
                let placed_text = format!(
                    "{} replica(s): {}",
                    placed.values().sum::<u32>(),
                    spread.join(", ")
                );
                self.event(id, object, "Normal", "Placed", &placed_text).await;
                if let Some(unplaced) = &unplaced {
                    self.event(id, object, "Warning", "Unplaced", unplaced).await;
                }
                if kind == Some("Deployment") {
                    let message = unplaced.as_deref().unwrap_or(&placed_text);
                    self.placed_condition(&api, id, unplaced.is_none(), message).await;
                }
            }
        }
    }

    /// Sets the [`PLACED_CONDITION`] condition of a source Deployment: `True` when every
    /// replica is placed, else `False` with the reasons. A strategic merge patch of the
    /// status merges conditions by type, and the Deployment controller keeps the condition
    /// types it does not own.
    async fn placed_condition(
        &self,
        api: &Api<DynamicObject>,
        id: &fleetplan::WorkloadId,
        all: bool,
        message: &str,
    ) {
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let (status, reason) = if all {
            ("True", "AllPlaced")
        } else {
            ("False", "Unplaced")
        };
        let patch = json!({"status": {"conditions": [{
            "type": PLACED_CONDITION, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": now, "lastTransitionTime": now,
        }]}});
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        if let Err(error) = api
            .patch_status(&id.name, &params, &Patch::Strategic(&patch))
            .await
        {
            tracing::warn!(workload = %id, error = %describe(&error), "cannot set the Placed condition on the source");
        }
    }

    /// Records an Event on a source in the management cluster.
    async fn event(
        &self,
        id: &fleetplan::WorkloadId,
        object: &serde_json::Value,
        kind: &str,
        reason: &str,
        message: &str,
    ) {
        let now = k8s_openapi::jiff::Timestamp::now();
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": format!("{}.", id.name), "namespace": &*id.namespace},
            "involvedObject": {
                "apiVersion": "apps/v1", "kind": "Deployment",
                "name": &*id.name, "namespace": &*id.namespace,
                "uid": object["metadata"]["uid"],
            },
            "type": kind,
            "reason": reason,
            "message": message,
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "firstTimestamp": now.to_string(),
            "lastTimestamp": now.to_string(),
            "count": 1,
        });
        let event: Event = match serde_json::from_value(event) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "cannot build an Event");
                return;
            }
        };
        let api: Api<Event> = Api::namespaced(self.mgmt.clone(), &id.namespace);
        if let Err(error) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(workload = %id, error = %describe(&error), "cannot record an Event");
        }
    }

    /// Runs passes every `interval` until `shutdown` completes; a failed pass is logged and
    /// the next one tries again. With an `election`, a pass runs only while this instance
    /// holds the Lease, and the Lease is given up on shutdown.
    pub async fn run(
        &mut self,
        shutdown: impl std::future::Future<Output = ()>,
        election: Option<LeaderElection>,
        metrics: Arc<Metrics>,
    ) {
        tokio::pin!(shutdown);
        let mut leading = false;
        loop {
            let lead = match &election {
                None => Ok(None),
                Some(election) => election.try_lead().await,
            };
            match lead {
                Ok(None) => {
                    if !leading && let Some(election) = &election {
                        tracing::info!(
                            identity = election.identity(),
                            "leading: this instance holds the Lease"
                        );
                    }
                    leading = true;
                    metrics.set_leader(true);
                    let started = Instant::now();
                    match self.reconcile().await {
                        Ok(pass) => {
                            metrics.pass(&pass, started.elapsed());
                            tracing::info!(
                                placed = pass.placed,
                                unplaced = pass.unplaced,
                                unreachable = ?pass.unreachable,
                                late = ?pass.late,
                                took_ms = started.elapsed().as_millis() as u64,
                                "pass done"
                            );
                        }
                        Err(error) => {
                            metrics.failed_pass();
                            tracing::error!(%error, "pass failed");
                        }
                    }
                }
                Ok(Some(holder)) => {
                    if leading || self.clusters.is_empty() {
                        tracing::info!(%holder, "waiting for the Lease held by another instance");
                    }
                    leading = false;
                    metrics.set_leader(false);
                    // Forget the clusters: whoever leads now owns their state.
                    self.clusters.clear();
                }
                Err(error) => {
                    tracing::error!(%error, "leader election failed");
                    leading = false;
                    metrics.set_leader(false);
                }
            }
            tokio::select! {
                () = &mut shutdown => {
                    if leading && let Some(election) = &election {
                        election.release().await;
                    }
                    tracing::info!("shutting down");
                    return;
                }
                () = tokio::time::sleep(self.options.interval) => {}
            }
        }
    }
}

/// What the management cluster is, as far as it shows: a [`ManagementMode::Cluster`] when it
/// has nodes or any ReplicaSet (a Deployment controller runs there), else a
/// [`ManagementMode::ControlPlane`]. When it cannot tell, a cluster, so that fleetplan never
/// writes a status that a Deployment controller also writes.
pub async fn detect_management_mode(mgmt: &Client) -> ManagementMode {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::Node;
    let one = kube::api::ListParams::default().limit(1);
    let nodes = Api::<Node>::all(mgmt.clone()).list(&one).await;
    let sets = Api::<ReplicaSet>::all(mgmt.clone()).list(&one).await;
    match (nodes, sets) {
        (Ok(nodes), Ok(sets)) if nodes.items.is_empty() && sets.items.is_empty() => {
            ManagementMode::ControlPlane
        }
        (Ok(_), Ok(_)) => ManagementMode::Cluster,
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(error = %describe(&error), "cannot tell whether the management cluster runs workloads: treated as a full cluster (set --management-mode)");
            ManagementMode::Cluster
        }
    }
}

//! The controller's pass: keeps the workload clusters holding the plan of the opted-in
//! workloads of a management cluster. This is the composition root of the controller: each
//! pass wires the adapters' steps together, and every decision in it is a pure function of
//! the Kubernetes adapter's [`fleetplan_kube::control`], unit-tested there:
//!
//! 1. read the management cluster: the registry, the fleet settings and the opted-in sources
//!    ([`fleetplan_kube::live::ManagementWatch`], which watches them);
//! 2. take a snapshot of every registered cluster (watched nodes and pods), and judge each
//!    one that did not answer ([`fleetplan_kube::control::failure`]): a blip moves nothing,
//!    a cluster silent past the failure threshold counts as Unreachable and its replicas are
//!    placed elsewhere, a newly registered one that has not answered yet holds planning back;
//! 3. plan with the core, the replicas running now kept where they are (so a pass with
//!    nothing new moves nothing);
//! 4. decide what each reachable cluster should hold ([`fleetplan_kube::control::desired`])
//!    and make it hold that, make-before-break ([`fleetplan_kube::live::executor`]);
//!    With traffic writers ([`crate::dns_writers`]), the hosts' records move in the
//!    same order as a simulation's actions ([`fleetplan::actions::carry_out`]): a failed
//!    cluster's records go before anything else; once the new replicas are ready, every
//!    weight is set (0 for a cluster being emptied) and the records' TTL is waited out
//!    before any replica stops; the emptied clusters' records go last;
//! 5. write back on the sources what happened ([`fleetplan_kube::live::SourceWriter`]): the
//!    fleet's status in a management control plane, each Ingress's load balancers, the
//!    placement annotations, Events and the `FleetplanPlaced` condition.
//!
//! A cluster whose registration carries `fleetplan.io/drain: "true"` is Draining: its
//! replicas move out, make-before-break. So is a cluster whose registration was deleted
//! while the controller knew it: it is forgotten once it holds none of the workloads' replicas
//! (its copies pruned), or once it is past the failure threshold without answering (its copies
//! are then left where they are, and said so in the log).
//!
//! A copy whose pods stay Pending (on no node) past the pending threshold caps its workload
//! in that cluster at what it scheduled ([`fleetplan_kube::control::migration`]), so the rest
//! is placed elsewhere.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fleetplan::actions::{Disruption, carry_out};
use fleetplan::{Cluster, Health, PlanOptions, Problem, SolverChoice};
use fleetplan_kube::control::desired::{DesiredError, desired_dependents, desired_objects};
use fleetplan_kube::control::failure::{Verdict, judge};
use fleetplan_kube::control::fleet_status::ManagementMode;
use fleetplan_kube::control::migration::Migration;
use fleetplan_kube::control::placement::reasons;
use fleetplan_kube::live::executor::{ApplyOptions, ClusterReport, Executor};
use fleetplan_kube::live::{
    ClusterWatch, LiveError, Management, ManagementWatch, REGISTRY_NAMESPACE, Registration, Snapshot,
    SourceWriter, detect_management_mode,
};
use futures::future::join_all;
use kube::Client;

use crate::dns_writers::TrafficWriters;

/// How the controller works.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// The namespace of cluster registrations.
    pub registry_namespace: String,
    /// Time between passes.
    pub interval: Duration,
    /// How long a cluster may not answer before its replicas are placed elsewhere.
    pub failure_threshold: Duration,
    /// How long a workload's pods may stay Pending in a cluster before the replicas it could
    /// not schedule are placed elsewhere (the cap lasts ten times as long).
    pub pending_threshold: Duration,
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
            pending_threshold: Duration::from_secs(60),
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

/// Why a pass stopped before applying anything.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// The management cluster could not be read, or a registration or source is invalid.
    #[error(transparent)]
    Read(#[from] LiveError),
    /// The plan failed.
    #[error("cannot plan: {0}")]
    Plan(#[from] fleetplan::Error),
    /// A placed workload has no usable source.
    #[error(transparent)]
    Desired(#[from] DesiredError),
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
    /// Its registration was deleted: drained, then forgotten.
    leaving: bool,
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct Pass {
    /// Replicas placed by the plan.
    pub placed: u64,
    /// Replicas the plan could not place.
    pub unplaced: u64,
    /// Clusters past the failure threshold.
    pub unreachable: Vec<String>,
    /// Clusters that did not answer this pass but are still within the threshold.
    pub late: Vec<String>,
    /// What the executor did per reachable cluster.
    pub applied: BTreeMap<String, ClusterReport>,
    /// Records (or traffic objects) that could not be written as planned, and why.
    pub traffic_errors: Vec<String>,
}

/// The controller's state between passes.
pub struct Controller {
    mgmt: Client,
    management: ManagementWatch,
    writer: SourceWriter,
    options: ControllerOptions,
    clusters: BTreeMap<String, Tracked>,
    traffic: TrafficWriters,
    migration: Migration,
}

impl Controller {
    /// A controller of the management cluster `mgmt`, writing the hosts' records to
    /// `traffic`.
    pub fn new(mgmt: Client, options: ControllerOptions, traffic: TrafficWriters) -> Self {
        Controller {
            writer: SourceWriter::new(mgmt.clone()),
            management: ManagementWatch::start(mgmt.clone(), &options.registry_namespace),
            mgmt,
            migration: Migration::new(options.pending_threshold, options.pending_threshold * 10),
            options,
            clusters: BTreeMap::new(),
            traffic,
        }
    }

    /// One pass: read, judge, plan, apply, report (see the module documentation).
    ///
    /// # Errors
    /// When the management cluster cannot be read, a registration or a source is invalid, or
    /// the plan fails; nothing is applied then.
    pub async fn reconcile(&mut self) -> Result<Pass, PassError> {
        // 1. The management cluster.
        let Management {
            registrations,
            fargate,
            sources,
        } = self.management.read(self.options.timeout).await?;
        self.track(registrations).await?;

        // 2. The workload clusters, each judged.
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
        // Clusters whose registration was deleted and that can be forgotten after this pass.
        let mut gone = Vec::new();
        for ((name, tracked), outcome) in self.clusters.iter_mut().zip(snapshots) {
            let silent = now.duration_since(tracked.last_ok);
            let known = tracked.answered && tracked.last.is_some();
            let threshold = self.options.failure_threshold;
            match (judge(outcome.is_ok(), silent, known, threshold), outcome) {
                (_, Ok(snapshot)) => {
                    tracked.last_ok = now;
                    tracked.answered = true;
                    clusters.push(snapshot.cluster.clone());
                    running.extend(snapshot.running.iter().cloned());
                    reachable.insert(name.clone(), tracked.client.clone());
                    for (id, n) in &snapshot.ready {
                        *ready.entry(id.clone()).or_default() += n;
                    }
                    let mut scheduled: BTreeMap<fleetplan::WorkloadId, u32> = BTreeMap::new();
                    for r in &snapshot.running {
                        *scheduled.entry(r.workload.clone()).or_default() += r.replicas;
                    }
                    for capped in self.migration.observe(now, name, &snapshot.pending, &scheduled) {
                        tracing::warn!(cluster = %name, workload = %capped.workload, pending = capped.pending, keeps = capped.replicas, "pods Pending past the threshold: the cluster keeps what it scheduled, the rest is placed elsewhere");
                    }
                    if tracked.leaving && scheduled.is_empty() && snapshot.pending.is_empty() {
                        gone.push(name.clone());
                    }
                    tracked.last = Some(snapshot);
                }
                (Verdict::Waiting, Err(error)) => {
                    tracing::info!(cluster = %name, %error, "waiting for a newly registered cluster to answer once");
                    pass.late.push(name.clone());
                    waiting = true;
                }
                (Verdict::Late, Err(error)) => {
                    tracing::warn!(cluster = %name, %error, "cannot read the cluster; within the failure threshold, nothing moves");
                    pass.late.push(name.clone());
                    if let Some(last) = &tracked.last {
                        clusters.push(last.cluster.clone());
                        running.extend(last.running.iter().cloned());
                    }
                }
                (_, Err(error)) => {
                    tracing::warn!(cluster = %name, %error, silent_s = silent.as_secs(), "cannot read the cluster past the failure threshold: its replicas are placed elsewhere");
                    pass.unreachable.push(name.clone());
                    if tracked.leaving {
                        tracing::warn!(cluster = %name, "a deleted registration's cluster does not answer: forgotten, its copies are left there");
                        gone.push(name.clone());
                    }
                    let mut cluster = tracked.last.as_ref().map_or_else(
                        || Cluster::new(&tracked.registration.name, &tracked.registration.region),
                        |s| s.cluster.clone(),
                    );
                    cluster.health = Health::Unreachable;
                    clusters.push(cluster);
                }
            }
        }
        if waiting {
            // Planning now would pile everything on the clusters that answered first.
            return Ok(pass);
        }

        // 3. The plan.
        let mut workloads = sources.workloads();
        self.migration.apply(now, &mut workloads);
        let problem = Problem {
            clusters,
            workloads,
            current: running,
            fargate,
            dependents: sources.dependents(),
            routes: sources.routes().map_err(LiveError::from)?,
        };
        let options = PlanOptions {
            solver: SolverChoice::Fast,
            ..PlanOptions::default()
        };
        let plan = fleetplan::plan(&problem, &options)?;
        pass.placed = plan.summary.placed;
        pass.unplaced = plan.summary.unplaced;
        for u in &plan.unplaced {
            tracing::info!(workload = %u.workload, replicas = u.replicas, reasons = %reasons(u), "replicas unplaced");
        }

        // 4. What each reachable cluster should hold, applied.
        let kinds = problem.workloads.iter().map(|w| (w.id.clone(), w.kind)).collect();
        let objects = sources.objects();
        let desired: Vec<_> = desired_objects(&plan, &kinds, &objects)?
            .into_iter()
            .filter(|d| reachable.contains_key(&d.cluster))
            .collect();
        let dependent_objects = sources.dependent_objects();
        let follows: Vec<_> = desired_dependents(&plan, &problem.dependents, &dependent_objects)
            .into_iter()
            .filter(|d| reachable.contains_key(&d.cluster))
            .collect();
        let executor = Executor::new(reachable);
        if self.traffic.is_off() {
            pass.applied = executor.apply(&desired, &follows, &self.options.apply).await;
        } else {
            let (_, stages) = carry_out(&problem, &plan, self.traffic.written(), Disruption::default());
            let traffic = &mut self.traffic;
            pass.traffic_errors = traffic.write(&stages.at_once).await;
            let mut shrinking = false;
            pass.applied = executor
                .apply_with(&desired, &follows, &self.options.apply, async |_| {
                    shrinking = true;
                    pass.traffic_errors = traffic.write(&stages.before_shrink).await;
                    if stages.wait_seconds > 0 {
                        tracing::info!(
                            seconds = stages.wait_seconds,
                            "weights lowered: waiting for the records' TTL before replicas stop"
                        );
                        tokio::time::sleep(Duration::from_secs(u64::from(stages.wait_seconds))).await;
                    }
                })
                .await;
            if shrinking {
                pass.traffic_errors = traffic.write(&stages.after).await;
            }
        }
        for (cluster, report) in &pass.applied {
            if let Some(error) = &report.error {
                tracing::warn!(%cluster, %error, "cluster not brought to the plan");
            }
            for conflict in &report.conflicts {
                tracing::warn!(%cluster, %conflict, "not carried");
            }
        }

        // 5. What happened, on the sources.
        let mode = match self.options.management {
            Some(mode) => mode,
            None => detect_management_mode(&self.mgmt).await,
        };
        if mode == ManagementMode::ControlPlane {
            self.writer.fleet_status(&objects, &pass.applied).await;
        }
        self.writer
            .load_balancers(&plan, &dependent_objects, &pass.applied, mode)
            .await;
        self.writer.placement(&plan, &objects, &ready).await;
        for name in gone {
            tracing::info!(cluster = %name, "a deleted registration's cluster holds nothing more: forgotten");
            self.clusters.remove(&name);
            self.migration.forget(&name);
        }
        Ok(pass)
    }

    /// Keeps a client per registered cluster, rebuilt when its registration changes; a
    /// cluster whose registration is gone stays, Draining, until it is forgotten.
    async fn track(&mut self, registrations: Vec<Registration>) -> Result<(), LiveError> {
        let mut next = BTreeMap::new();
        for registration in registrations {
            let name = registration.name.clone();
            let tracked = match self.clusters.remove(&name) {
                Some(mut t) if t.registration.version == registration.version => {
                    t.registration = registration;
                    t.leaving = false;
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
                        leaving: false,
                    }
                }
            };
            next.insert(name, tracked);
        }
        for (name, mut tracked) in std::mem::take(&mut self.clusters) {
            if !tracked.leaving {
                tracing::info!(cluster = %name, "registration deleted: the cluster is drained, then forgotten");
            }
            tracked.leaving = true;
            tracked.registration.draining = true;
            next.insert(name, tracked);
        }
        self.clusters = next;
        Ok(())
    }

    /// Forgets every cluster's state (when another instance leads, it owns that state).
    pub fn forget_clusters(&mut self) {
        self.clusters.clear();
    }

    /// Whether no cluster is tracked.
    pub fn tracks_nothing(&self) -> bool {
        self.clusters.is_empty()
    }

    /// The time between passes.
    pub fn interval(&self) -> Duration {
        self.options.interval
    }
}

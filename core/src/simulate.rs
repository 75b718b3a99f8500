//! What-if simulation: scenario operations (fail a cluster, drain it, scale a workload...)
//! applied step by step, each step planned from the placement the step before left.
//!
//! A [`Simulation`] keeps the fleet as it is now. [`Simulation::step`] applies operations to
//! it, plans again with the replicas of the previous step as the running ones (so replicas on
//! healthy clusters stay where they are unless a rule forces a move, and only displaced or
//! missing replicas are placed again), and returns a [`Step`]: the totals, the replicas that
//! moved per workload and cluster, and the [`Action`]s that carry the change out in order.
//! [`Simulation::plan`] gives the whole plan after the step.
//!
//! - **Incremental steps**: with the fast planner, a step whose operations change only health
//!   or targets (fail, failRegion, cordon, uncordon, drain, scale, setDemand) plans again only
//!   the workloads it touches: those with replicas on a failed or draining cluster, those
//!   scaled or given new demand, and those with replicas still unplaced, against the capacity
//!   the step before left (see `planner::replan`). The result is the plan the fast planner
//!   would make of the whole fleet from the same running replicas (a property test checks
//!   it), at a cost in proportion to the replicas displaced. Other operations, a rebalance,
//!   and the optimal solvers plan the whole fleet again.
//! - **Failures** (a cluster, zone or region) lose their replicas at once: the actions only
//!   create replacements.
//! - **Planned moves** (a drain, a rebalance after recovery) are make-before-break: the
//!   destination grows by at most `max_surge` replicas, old replicas stop while the ready
//!   ones stay at or above the start minus `max_unavailable`, the actions wait until the new
//!   ones are ready, then more old ones stop; so the ready replicas never drop below the
//!   target minus `max_unavailable` (with 0, never below the target). Replicas with nowhere
//!   else to go are stopped at the end and reported unplaced, with reasons, in the plan.
//! - **Recovery** brings a cluster back empty (its pods were lost). With
//!   [`RecoveryPolicy::Stay`] nothing moves back; with [`RecoveryPolicy::Rebalance`] the
//!   fleet is planned afresh and the difference is moved make-before-break.
//!
//! Capacity between steps: replicas placed by a step use their pool's free resources (with
//! the fast planner, on the nodes it chose for them); a replica that leaves a healthy pool
//! frees nothing for later steps (the planner cannot know which node it left), so a
//! simulation never over-commits a node. A failed pool or cluster comes back with every node
//! empty.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

pub use crate::actions::{Action, Change, Disruption};
use crate::actions::{TrafficChange, ordered};
use crate::cluster::{ClusterName, Health, NodeGroup, PoolName};
use crate::error::Error;
use crate::plan::{Plan, Summary};
use crate::planner::PlanOptions;
use crate::planner::replan::Replanner;
use crate::problem::{Problem, Running};
use crate::resources::Resources;
use crate::solver::{SolverChoice, solve};
use crate::traffic::{HostTraffic, Serving, traffic};
use crate::workload::WorkloadId;

/// One change to the fleet or the workloads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "op", deny_unknown_fields)]
pub enum Operation {
    /// The cluster goes down: its replicas are lost and placed again elsewhere.
    Fail {
        /// The cluster.
        cluster: String,
    },
    /// The cluster comes back, empty.
    Recover {
        /// The cluster.
        cluster: String,
    },
    /// Every pool in the zone goes down with its replicas.
    FailZone {
        /// The zone.
        zone: String,
    },
    /// The zone's pools come back, empty.
    RecoverZone {
        /// The zone.
        zone: String,
    },
    /// Every cluster of the region goes down.
    FailRegion {
        /// The region.
        region: String,
    },
    /// The region's clusters come back, empty.
    RecoverRegion {
        /// The region.
        region: String,
    },
    /// The cluster keeps what it runs and takes nothing new.
    Cordon {
        /// The cluster.
        cluster: String,
    },
    /// The cluster takes new replicas again.
    Uncordon {
        /// The cluster.
        cluster: String,
    },
    /// Everything moves out of the cluster, make-before-break (a blue/green upgrade).
    Drain {
        /// The cluster.
        cluster: String,
    },
    /// The cluster is removed from the fleet; its replicas move out make-before-break.
    Remove {
        /// The cluster.
        cluster: String,
    },
    /// A node pool gets this many empty nodes in place of its free ones, keeping the nodes that
    /// run replicas when it grows (a scale-up) and dropping free nodes when it shrinks.
    ResizePool {
        /// The cluster.
        cluster: String,
        /// The pool.
        pool: String,
        /// The new node count.
        nodes: u32,
    },
    /// A new Fargate vCPU quota for an account (none: clusters naming none) in a region.
    SetFargateQuota {
        /// The account.
        #[serde(default)]
        account: Option<String>,
        /// The region.
        region: String,
        /// The quota in vCPUs.
        vcpus: u32,
    },
    /// A workload's replica target changes (as a regional HPA would change it).
    Scale {
        /// The workload, `namespace/name`.
        workload: String,
        /// The new target.
        replicas: u32,
    },
    /// A workload's demand in a region changes.
    SetDemand {
        /// The workload, `namespace/name`.
        workload: String,
        /// The region.
        region: String,
        /// The demand.
        demand: u32,
    },
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operation::Fail { cluster } => write!(f, "fail {cluster}"),
            Operation::Recover { cluster } => write!(f, "recover {cluster}"),
            Operation::FailZone { zone } => write!(f, "fail zone {zone}"),
            Operation::RecoverZone { zone } => write!(f, "recover zone {zone}"),
            Operation::FailRegion { region } => write!(f, "fail region {region}"),
            Operation::RecoverRegion { region } => write!(f, "recover region {region}"),
            Operation::Cordon { cluster } => write!(f, "cordon {cluster}"),
            Operation::Uncordon { cluster } => write!(f, "uncordon {cluster}"),
            Operation::Drain { cluster } => write!(f, "drain {cluster}"),
            Operation::Remove { cluster } => write!(f, "remove {cluster}"),
            Operation::ResizePool { cluster, pool, nodes } => {
                write!(f, "resize {cluster}/{pool} to {nodes} nodes")
            }
            Operation::SetFargateQuota {
                account,
                region,
                vcpus,
            } => {
                let account = account.as_deref().unwrap_or("-");
                write!(f, "Fargate quota of {account} in {region} to {vcpus} vCPUs")
            }
            Operation::Scale { workload, replicas } => write!(f, "scale {workload} to {replicas}"),
            Operation::SetDemand {
                workload,
                region,
                demand,
            } => write!(f, "demand of {workload} in {region} to {demand}"),
        }
    }
}

/// What happens when a failed cluster comes back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RecoveryPolicy {
    /// Nothing moves back: no churn.
    #[default]
    Stay,
    /// The fleet is planned afresh and replicas move back make-before-break.
    Rebalance,
}

/// The outcome of one step.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The operations applied, as text.
    pub operations: Vec<String>,
    /// The totals after the step; `kept` and `removed` count this step's changes. The whole
    /// plan, with the reasons for unplaced replicas: [`Simulation::plan`].
    pub summary: Summary,
    /// Replicas per workload and cluster that changed, ordered by workload then cluster.
    pub changes: Vec<Change>,
    /// Replicas lost with failed clusters, zones or regions.
    pub lost: u64,
    /// Replicas moved make-before-break (drains, removals, rebalancing).
    pub moved: u64,
    /// The actions that carry the step out, in order.
    pub actions: Vec<Action>,
}

/// A fleet being changed step by step.
#[derive(Clone, Debug)]
pub struct Simulation {
    /// The fleet now: clusters with their health and free capacity, and workloads. Its
    /// running replicas are those of the last full re-plan: after incremental steps, the
    /// placement lives in `now` (see [`Simulation::fleet`]).
    problem: Problem,
    /// The placement after the last step.
    now: Now,
    /// Pools (indices of the fast planner's state) whose nodes took replicas in incremental
    /// steps since `problem`'s node groups were last brought up to date.
    stale_nodes: BTreeSet<usize>,
    /// Clusters being removed: they leave the fleet once empty.
    removing: BTreeSet<String>,
    options: PlanOptions,
    recovery: RecoveryPolicy,
    disruption: Disruption,
    /// Zones that are down.
    failed_zones: BTreeSet<String>,
    /// Where the hosts' users go after the last step.
    traffic: Vec<HostTraffic>,
}

/// The placement after the last step.
#[derive(Clone, Debug)]
enum Now {
    /// Planned by the fast planner, whose state re-plans only what a step touches.
    Fast(Box<Replanner>),
    /// Planned by another solver, or by the fast planner before the fleet's shape changed;
    /// `problem.current` holds it as running replicas.
    Plan(Box<Plan>),
}

/// The clusters as they were before a step, to put back if it fails.
enum SavedClusters {
    Health(Vec<Health>),
    Whole(Vec<crate::cluster::Cluster>),
}

impl Operation {
    /// Whether the fast planner's kept state can follow the operation: it changes health, a
    /// replica target or regional demand, not the fleet's nodes, quotas or membership.
    fn is_incremental(&self) -> bool {
        matches!(
            self,
            Operation::Fail { .. }
                | Operation::FailRegion { .. }
                | Operation::Cordon { .. }
                | Operation::Uncordon { .. }
                | Operation::Drain { .. }
                | Operation::Scale { .. }
                | Operation::SetDemand { .. }
        )
    }
}

impl Simulation {
    /// Starts from `problem`; returns the simulation and the first plan (step zero).
    ///
    /// # Errors
    /// When the problem is invalid, or `disruption.max_surge` is 0.
    pub fn new(
        problem: Problem,
        options: PlanOptions,
        recovery: RecoveryPolicy,
        disruption: Disruption,
    ) -> Result<(Simulation, Step), Error> {
        if disruption.max_surge == 0 {
            return Err(Error::Simulation {
                detail: "max surge 0: moves are make-before-break, so at least 1 new replica must start before an old one stops".into(),
            });
        }
        let mut sim = Simulation {
            removing: BTreeSet::new(),
            problem,
            now: Now::Plan(Box::default()),
            stale_nodes: BTreeSet::new(),
            options,
            recovery,
            disruption,
            failed_zones: BTreeSet::new(),
            traffic: Vec::new(),
        };
        sim.traffic = crate::actions::running_traffic(&sim.problem);
        let step = sim.plan_step(Vec::new(), false)?;
        Ok((sim, step))
    }

    /// The whole plan after the last step, with what follows it and where its hosts' users
    /// go.
    pub fn plan(&self) -> Plan {
        match &self.now {
            Now::Fast(replanner) => {
                let mut plan = replanner.plan();
                self.problem.attach_followers(&mut plan);
                plan
            }
            Now::Plan(plan) => (**plan).clone(),
        }
    }

    /// The fleet as it is now, with the replicas of the last step as its running ones.
    pub fn fleet(&self) -> Problem {
        let mut problem = self.problem.clone();
        if let Now::Fast(replanner) = &self.now {
            problem.current = replanner_running(&problem, replanner);
            sync_nodes(&mut problem, replanner, self.stale_nodes.iter().copied());
        }
        problem
    }

    /// Applies `operations` in order, plans, and makes the new placement the running one.
    ///
    /// # Errors
    /// [`Error::Simulation`] for an operation naming an unknown cluster, pool, zone, region
    /// or workload; nothing is applied then.
    pub fn step(&mut self, operations: &[Operation]) -> Result<Step, Error> {
        // What the operations may change, to put back on error (not the running replicas,
        // which only a successful plan changes).
        let touched: Vec<usize> = operations
            .iter()
            .filter_map(|op| match op {
                Operation::Scale { workload, .. } | Operation::SetDemand { workload, .. } => {
                    self.workload_index(workload)
                }
                _ => None,
            })
            .collect();
        // Operations that change only health need only the health put back.
        let saved_clusters = if operations.iter().all(Operation::is_incremental) {
            SavedClusters::Health(self.problem.clusters.iter().map(|c| c.health).collect())
        } else {
            SavedClusters::Whole(self.problem.clusters.clone())
        };
        let saved = (
            saved_clusters,
            self.problem.fargate.clone(),
            touched
                .iter()
                .map(|&w| self.problem.workloads[w].clone())
                .collect::<Vec<_>>(),
            self.failed_zones.clone(),
            self.removing.clone(),
        );
        let mut rebalance = false;
        let mut planned = Ok(());
        for op in operations {
            planned = self.apply(op);
            if planned.is_err() {
                break;
            }
            rebalance |= self.recovery == RecoveryPolicy::Rebalance
                && matches!(
                    op,
                    Operation::Recover { .. }
                        | Operation::RecoverZone { .. }
                        | Operation::RecoverRegion { .. }
                );
        }
        let texts = operations.iter().map(ToString::to_string).collect();
        let incremental = !rebalance && operations.iter().all(Operation::is_incremental);
        let planned = planned.and_then(|()| match &self.now {
            Now::Fast(_) if incremental => self.replan_step(texts, &touched),
            _ => self.plan_step(texts, rebalance),
        });
        if planned.is_err() {
            let (clusters, fargate, workloads, zones, removing) = saved;
            match clusters {
                SavedClusters::Health(health) => {
                    for (cluster, health) in self.problem.clusters.iter_mut().zip(health) {
                        cluster.health = health;
                    }
                }
                SavedClusters::Whole(clusters) => self.problem.clusters = clusters,
            }
            self.problem.fargate = fargate;
            for (&w, workload) in touched.iter().zip(workloads) {
                self.problem.workloads[w] = workload;
            }
            self.failed_zones = zones;
            self.removing = removing;
        }
        planned
    }

    fn apply(&mut self, op: &Operation) -> Result<(), Error> {
        match op {
            Operation::Fail { cluster } => self.set_health(cluster, Health::NotReady),
            Operation::Recover { cluster } => {
                self.set_health(cluster, Health::Ready)?;
                self.empty_pools(|c, _| c == cluster.as_str());
                Ok(())
            }
            Operation::Cordon { cluster } => self.set_health(cluster, Health::Cordoned),
            Operation::Uncordon { cluster } | Operation::Drain { cluster } => {
                let health = if matches!(op, Operation::Drain { .. }) {
                    Health::Draining
                } else {
                    Health::Ready
                };
                self.set_health(cluster, health)
            }
            Operation::Remove { cluster } => {
                // Removal moves replicas out like a drain; the cluster leaves once empty.
                self.set_health(cluster, Health::Draining)?;
                self.removing.insert(cluster.clone());
                Ok(())
            }
            Operation::FailRegion { region } | Operation::RecoverRegion { region } => {
                let health = if matches!(op, Operation::FailRegion { .. }) {
                    Health::NotReady
                } else {
                    Health::Ready
                };
                let names: Vec<String> = self
                    .problem
                    .clusters
                    .iter()
                    .filter(|c| &c.region == region)
                    .map(|c| c.name.to_string())
                    .collect();
                if names.is_empty() {
                    return Err(unknown("region", region));
                }
                for name in &names {
                    self.set_health(name, health)?;
                }
                if health == Health::Ready {
                    self.empty_pools(|c, _| names.iter().any(|n| n == c));
                }
                Ok(())
            }
            Operation::FailZone { zone } | Operation::RecoverZone { zone } => {
                let known = self
                    .problem
                    .clusters
                    .iter()
                    .flat_map(|c| &c.pools)
                    .any(|p| p.zone.as_deref() == Some(zone.as_str()));
                if !known {
                    return Err(unknown("zone", zone));
                }
                if matches!(op, Operation::FailZone { .. }) {
                    self.failed_zones.insert(zone.clone());
                } else {
                    self.failed_zones.remove(zone);
                    self.empty_pools(|_, z| z == Some(zone.as_str()));
                }
                Ok(())
            }
            Operation::ResizePool { cluster, pool, nodes } => {
                let target = self.pool_mut(cluster, pool)?;
                let allocatable = target.allocatable.clone();
                // Nodes running something stay; empty nodes make up the rest.
                target.nodes.retain(|g| g.free != allocatable);
                let used = u32::try_from(target.node_count()).unwrap_or(u32::MAX);
                target.nodes.push(NodeGroup {
                    count: nodes.saturating_sub(used),
                    free: allocatable,
                });
                Ok(())
            }
            Operation::SetFargateQuota {
                account,
                region,
                vcpus,
            } => {
                let quotas = &mut self.problem.fargate.quotas;
                match quotas
                    .iter_mut()
                    .find(|q| &q.account == account && &q.region == region)
                {
                    Some(q) => q.vcpus = *vcpus,
                    None => quotas.push(crate::fargate::FargateQuota {
                        account: account.clone(),
                        region: region.clone(),
                        vcpus: *vcpus,
                    }),
                }
                Ok(())
            }
            Operation::Scale { workload, replicas } => {
                self.workload_mut(workload)?.replicas = *replicas;
                Ok(())
            }
            Operation::SetDemand {
                workload,
                region,
                demand,
            } => {
                let w = self.workload_mut(workload)?;
                w.policy.region_demand.named.insert(region.clone(), *demand);
                Ok(())
            }
        }
    }

    fn set_health(&mut self, cluster: &str, health: Health) -> Result<(), Error> {
        self.cluster_mut(cluster)?.health = health;
        Ok(())
    }

    fn cluster_mut(&mut self, cluster: &str) -> Result<&mut crate::cluster::Cluster, Error> {
        self.problem
            .clusters
            .iter_mut()
            .find(|c| c.name.as_str() == cluster)
            .ok_or_else(|| unknown("cluster", cluster))
    }

    /// Brings the pools matching `which(cluster, zone)` back with every node empty.
    fn empty_pools(&mut self, which: impl Fn(&str, Option<&str>) -> bool) {
        for cluster in &mut self.problem.clusters {
            for pool in &mut cluster.pools {
                if which(cluster.name.as_str(), pool.zone.as_deref()) && pool.fargate.is_none() {
                    let count = pool.node_count();
                    pool.nodes = vec![NodeGroup {
                        count: u32::try_from(count).unwrap_or(u32::MAX),
                        free: pool.allocatable.clone(),
                    }];
                }
            }
        }
    }

    fn pool_mut(&mut self, cluster: &str, pool: &str) -> Result<&mut crate::cluster::NodePool, Error> {
        self.cluster_mut(cluster)?
            .pools
            .iter_mut()
            .find(|p| p.name.as_str() == pool && p.fargate.is_none())
            .ok_or_else(|| unknown("node pool", &format!("{cluster}/{pool}")))
    }

    fn workload_mut(&mut self, id: &str) -> Result<&mut crate::workload::Workload, Error> {
        let w = self.workload_index(id).ok_or_else(|| unknown("workload", id))?;
        Ok(&mut self.problem.workloads[w])
    }

    /// The index of workload `namespace/name` (or `name` in `default`).
    fn workload_index(&self, id: &str) -> Option<usize> {
        let (namespace, name) = id.split_once('/').unwrap_or(("default", id));
        self.problem
            .workloads
            .iter()
            .position(|w| &*w.id.namespace == namespace && &*w.id.name == name)
    }

    /// Plans the whole fleet again (the first step, changes to the fleet's shape, a
    /// rebalance, or a solver other than the fast planner) and records the result as the
    /// running replicas.
    fn plan_step(&mut self, operations: Vec<String>, rebalance: bool) -> Result<Step, Error> {
        if let Now::Fast(replanner) = &self.now {
            self.problem.current = replanner_running(&self.problem, replanner);
            let stale = std::mem::take(&mut self.stale_nodes);
            sync_nodes(&mut self.problem, replanner, stale.into_iter());
        }
        let old = std::mem::take(&mut self.problem.current);
        let mut problem = self.problem.clone();
        // Pools in a failed zone offer nothing, and their replicas are lost.
        let down: HashSet<(ClusterName, PoolName)> = problem
            .clusters
            .iter()
            .flat_map(|c| {
                c.pools
                    .iter()
                    .filter(|p| p.zone.as_ref().is_some_and(|z| self.failed_zones.contains(z)))
                    .map(|p| (c.name.clone(), p.name.clone()))
            })
            .collect();
        for cluster in &mut problem.clusters {
            for pool in &mut cluster.pools {
                if down.contains(&(cluster.name.clone(), pool.name.clone())) {
                    pool.nodes.clear();
                }
            }
        }
        let failed: HashSet<ClusterName> = problem
            .clusters
            .iter()
            .filter(|c| is_down(c.health))
            .map(|c| c.name.clone())
            .collect();
        let is_lost =
            |r: &Running| failed.contains(&r.cluster) || down.contains(&(r.cluster.clone(), r.pool.clone()));
        if !rebalance {
            problem.current = old.iter().filter(|r| !is_lost(r)).cloned().collect();
        }
        let planned = if self.options.solver.resolve(&problem) == SolverChoice::Fast {
            Replanner::new(&problem, &self.options).map(|(replanner, _)| {
                let plan = replanner.plan();
                (plan, Some(replanner))
            })
        } else {
            solve(&problem, &self.options).map(|plan| (plan, None))
        };
        let (plan, replanner) = match planned {
            Ok(planned) => planned,
            Err(err) => {
                self.problem.current = old;
                return Err(err);
            }
        };
        // The new placement runs now: new replicas use pool capacity.
        let now = running_of(&plan);
        let mut old_pools: HashMap<(&WorkloadId, &ClusterName, &PoolName), u32> = HashMap::new();
        let mut before: HashMap<(&WorkloadId, &ClusterName), u32> = HashMap::new();
        let mut lost_places: HashSet<(&WorkloadId, &ClusterName)> = HashSet::new();
        for r in &old {
            *old_pools.entry((&r.workload, &r.cluster, &r.pool)).or_default() += r.replicas;
            *before.entry((&r.workload, &r.cluster)).or_default() += r.replicas;
            if is_lost(r) {
                lost_places.insert((&r.workload, &r.cluster));
            }
        }
        match &replanner {
            // The planner knows which nodes the replicas went to.
            Some(replanner) => {
                let zones = &self.failed_zones;
                let up = |p: &crate::cluster::NodePool| !p.zone.as_ref().is_some_and(|z| zones.contains(z));
                let pools: Vec<usize> = (0..replanner.index().pools.len())
                    .filter(|&p| {
                        let pool = &replanner.index().pools[p];
                        up(&self.problem.clusters[pool.cluster].pools[pool.local])
                    })
                    .collect();
                sync_nodes(&mut self.problem, replanner, pools.into_iter());
            }
            None => self.occupy_new(&old_pools, &now),
        }
        let mut after: HashMap<(&WorkloadId, &ClusterName), u32> = HashMap::new();
        for r in &now {
            *after.entry((&r.workload, &r.cluster)).or_default() += r.replicas;
        }
        let mut keys: Vec<(&WorkloadId, &ClusterName)> = before.keys().chain(after.keys()).copied().collect();
        keys.sort_unstable();
        keys.dedup();
        let mut changes = Vec::new();
        let (mut lost, mut moved) = (0u64, 0u64);
        for key in keys {
            let (b, a) = (
                before.get(&key).copied().unwrap_or(0),
                after.get(&key).copied().unwrap_or(0),
            );
            if a == b {
                continue;
            }
            if a < b {
                if lost_places.contains(&key) {
                    lost += u64::from(b - a);
                } else {
                    moved += u64::from(b - a);
                }
            }
            changes.push(Change {
                workload: key.0.to_string(),
                cluster: key.1.clone(),
                before: b,
                after: a,
            });
        }
        let lost_places: HashSet<(String, ClusterName)> = lost_places
            .into_iter()
            .map(|(w, c)| (w.to_string(), c.clone()))
            .collect();
        drop((before, after, old_pools));
        self.problem.current = now;
        let removing = &self.removing;
        let clusters = self.problem.clusters.len();
        self.problem.clusters.retain(|c| {
            !removing.contains(c.name.as_str()) || plan.placements.iter().any(|p| p.cluster == c.name)
        });
        let summary = plan.summary.clone();
        // A removed cluster changes the fleet's shape: the next step plans it all again.
        self.now = match replanner {
            Some(replanner) if self.problem.clusters.len() == clusters => Now::Fast(Box::new(replanner)),
            // The fast planner's plan lacks what follows it; the other solvers' has it.
            Some(_) => {
                let mut plan = plan;
                self.problem.attach_followers(&mut plan);
                Now::Plan(Box::new(plan))
            }
            None => Now::Plan(Box::new(plan)),
        };
        let actions = self.step_actions(&changes, &lost_places);
        Ok(Step {
            operations,
            summary,
            changes,
            lost,
            moved,
            actions,
        })
    }

    /// Plans again only the workloads the step touched (the fast planner, after operations
    /// that change health, targets or demand): those with replicas on a failed or draining
    /// cluster, those scaled or given new demand, and those with replicas still unplaced.
    fn replan_step(&mut self, operations: Vec<String>, touched: &[usize]) -> Result<Step, Error> {
        let Now::Fast(replanner) = &mut self.now else {
            unreachable!("replan_step runs only on the fast planner's state");
        };
        let problem = &self.problem;
        let failed: Vec<bool> = problem.clusters.iter().map(|c| is_down(c.health)).collect();
        let moving: Vec<bool> = problem
            .clusters
            .iter()
            .map(|c| is_down(c.health) || c.health == Health::Draining)
            .collect();
        let mut affected: Vec<usize> = touched.to_vec();
        affected.extend(replanner.with_unplaced());
        affected.extend(
            (0..problem.workloads.len()).filter(|&w| replanner.seats(w).iter().any(|&(c, _, _)| moving[c])),
        );
        let index_cluster_of = |pool: usize| replanner.index().pools[pool].cluster;
        let lost_pools: Vec<bool> = (0..replanner.index().pools.len())
            .map(|p| failed[index_cluster_of(p)])
            .collect();
        let replanned = replanner.replan(problem, &self.options, affected, |p| lost_pools[p])?;

        let mut changes = Vec::new();
        let mut lost_places: HashSet<(String, ClusterName)> = HashSet::new();
        let (mut lost, mut moved) = (0u64, 0u64);
        // Pools that took new replicas, whose nodes changed.
        let mut filled: Vec<usize> = Vec::new();
        for r in &replanned {
            let workload = &problem.workloads[r.workload];
            let after = replanner.seats(r.workload);
            let name = workload.id.to_string();
            for (cluster, b, a) in per_cluster(&r.before, after) {
                if a == b {
                    continue;
                }
                if a < b {
                    if failed[cluster] {
                        lost += u64::from(b - a);
                        lost_places.insert((name.clone(), problem.clusters[cluster].name.clone()));
                    } else {
                        moved += u64::from(b - a);
                    }
                }
                changes.push(Change {
                    workload: name.clone(),
                    cluster: problem.clusters[cluster].name.clone(),
                    before: b,
                    after: a,
                });
            }
            filled.extend(
                after
                    .iter()
                    .filter(|&&(_, pool, n)| n > r.before.iter().find(|b| b.1 == pool).map_or(0, |b| b.2))
                    .map(|&(_, pool, _)| pool),
            );
        }
        changes.sort_by(|a, b| (&a.workload, &a.cluster).cmp(&(&b.workload, &b.cluster)));
        let summary = replanner.summary().clone();
        self.stale_nodes.extend(filled);
        let actions = self.step_actions(&changes, &lost_places);
        Ok(Step {
            operations,
            summary,
            changes,
            lost,
            moved,
            actions,
        })
    }

    /// Replicas new since `old` (per workload, cluster and pool) take their pools' free
    /// resources.
    fn occupy_new(&mut self, old: &HashMap<(&WorkloadId, &ClusterName, &PoolName), u32>, now: &[Running]) {
        let workloads: HashMap<&WorkloadId, &crate::workload::Workload> =
            self.problem.workloads.iter().map(|w| (&w.id, w)).collect();
        let clusters: HashMap<&ClusterName, usize> = self
            .problem
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| (&c.name, i))
            .collect();
        let mut new: Vec<(usize, &PoolName, Resources, u32)> = Vec::new();
        for r in now {
            let had = old.get(&(&r.workload, &r.cluster, &r.pool)).copied().unwrap_or(0);
            let (Some(&c), Some(w)) = (clusters.get(&r.cluster), workloads.get(&r.workload)) else {
                continue;
            };
            if r.replicas > had {
                new.push((c, &r.pool, w.template.effective_requests(), r.replicas - had));
            }
        }
        for (c, pool, request, n) in new {
            if let Some(pool) = self.problem.clusters[c]
                .pools
                .iter_mut()
                .find(|p| &p.name == pool && p.fargate.is_none())
            {
                pool.occupy(&request, n);
            }
        }
    }

    /// The ordered actions of a step's `changes`: the replicas' and, for hosts with global
    /// traffic, the records' moves from where the last step sent users to where the
    /// placement now sends them (see [`crate::actions`]).
    fn step_actions(&mut self, changes: &[Change], lost: &HashSet<(String, ClusterName)>) -> Vec<Action> {
        let after = self.traffic_now();
        let failed: BTreeSet<ClusterName> = self
            .problem
            .clusters
            .iter()
            .filter(|c| is_down(c.health))
            .map(|c| c.name.clone())
            .collect();
        let change = TrafficChange {
            routes: &self.problem.routes,
            before: &self.traffic,
            after: &after,
            failed: &failed,
        };
        let actions = ordered(changes, lost, self.disruption, &change);
        self.traffic = after;
        actions
    }

    /// Where the hosts' users go under the placement now (empty without routes). With the
    /// fast planner's state it reads only the backends' seats.
    fn traffic_now(&self) -> Vec<HostTraffic> {
        let problem = &self.problem;
        if problem.routes.is_empty() {
            return Vec::new();
        }
        let none = BTreeSet::new();
        match &self.now {
            Now::Plan(plan) => traffic(&problem.routes, &plan.serving(), &none),
            Now::Fast(replanner) => {
                let backends: BTreeSet<&WorkloadId> =
                    problem.routes.iter().flat_map(|r| &r.backends).collect();
                let mut serving = Vec::new();
                for (w, workload) in problem.workloads.iter().enumerate() {
                    if !backends.contains(&workload.id) {
                        continue;
                    }
                    for &(cluster, _, replicas) in replanner.seats(w) {
                        let cluster = &problem.clusters[cluster];
                        serving.push(Serving {
                            workload: &workload.id,
                            cluster: &cluster.name,
                            region: &cluster.region,
                            replicas: u64::from(replicas),
                        });
                    }
                }
                traffic(&problem.routes, &serving, &none)
            }
        }
    }
}

fn unknown(what: &str, name: &str) -> Error {
    Error::Simulation {
        detail: format!("unknown {what} `{name}`"),
    }
}

/// Whether a cluster in this health has lost its replicas.
pub(crate) fn is_down(health: Health) -> bool {
    matches!(health, Health::NotReady | Health::Unreachable)
}

/// Replicas per cluster before and after: `(cluster, before, after)` for every cluster in
/// either list (both sorted by cluster).
fn per_cluster(before: &[(usize, usize, u32)], after: &[(usize, usize, u32)]) -> Vec<(usize, u32, u32)> {
    let mut out: Vec<(usize, u32, u32)> = Vec::new();
    let mut add = |cluster: usize, b: u32, a: u32| match out.last_mut() {
        Some(last) if last.0 == cluster => {
            last.1 += b;
            last.2 += a;
        }
        _ => out.push((cluster, b, a)),
    };
    let (mut i, mut j) = (0, 0);
    while i < before.len() || j < after.len() {
        let take_before = j == after.len() || (i < before.len() && before[i].0 <= after[j].0);
        if take_before {
            add(before[i].0, before[i].2, 0);
            i += 1;
        } else {
            add(after[j].0, 0, after[j].2);
            j += 1;
        }
    }
    out
}

/// Brings the node groups of `pools` (indices of the fast planner's state) up to date with
/// where the planner put replicas. Fargate profiles have no nodes.
fn sync_nodes(problem: &mut Problem, replanner: &Replanner, pools: impl Iterator<Item = usize>) {
    for p in pools {
        let pool = &replanner.index().pools[p];
        let target = &mut problem.clusters[pool.cluster].pools[pool.local];
        if target.fargate.is_none() {
            target.nodes = replanner.nodes(p);
        }
    }
}

/// The fast planner's placement as running replicas, by name.
fn replanner_running(problem: &Problem, replanner: &Replanner) -> Vec<Running> {
    let index = replanner.index();
    let mut running = Vec::new();
    for (w, workload) in problem.workloads.iter().enumerate() {
        for &(cluster, pool, replicas) in replanner.seats(w) {
            let cluster = &problem.clusters[cluster];
            running.push(Running {
                workload: workload.id.clone(),
                cluster: cluster.name.clone(),
                pool: cluster.pools[index.pools[pool].local].name.clone(),
                replicas,
            });
        }
    }
    running
}

/// The `format` of a timeline document.
pub const TIMELINE_FORMAT: &str = "fleetplan.io/timeline/v1";

/// A timeline document, as `fleetplan simulate -o json` prints it: the format and every
/// step, step 0 (the initial plan) first.
#[derive(Serialize)]
pub struct Timeline<'a> {
    format: &'static str,
    steps: &'a [TimelineStep],
}

impl<'a> Timeline<'a> {
    /// The document of `steps`.
    pub fn new(steps: &'a [TimelineStep]) -> Self {
        Timeline {
            format: TIMELINE_FORMAT,
            steps,
        }
    }
}

/// One step of a timeline with the whole plan after it. It serializes as the document's
/// step: `operations`, `plan`, `changes`, `lost`, `moved`, `actions`.
pub struct TimelineStep {
    /// The step.
    pub step: Step,
    /// The plan after it.
    pub plan: Plan,
}

impl Serialize for TimelineStep {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The document's fields, in the document's order.
        #[derive(Serialize)]
        struct Fields<'a> {
            operations: &'a [String],
            plan: &'a Plan,
            changes: &'a [Change],
            lost: u64,
            moved: u64,
            actions: &'a [Action],
        }
        let step = &self.step;
        Fields {
            operations: &step.operations,
            plan: &self.plan,
            changes: &step.changes,
            lost: step.lost,
            moved: step.moved,
            actions: &step.actions,
        }
        .serialize(serializer)
    }
}

/// A plan's placements as running replicas.
pub fn running_of(plan: &Plan) -> Vec<Running> {
    plan.placements
        .iter()
        .flat_map(|p| {
            p.pools.iter().map(move |pool| Running {
                workload: p.workload.clone(),
                cluster: p.cluster.clone(),
                pool: pool.pool.clone(),
                replicas: pool.replicas,
            })
        })
        .collect()
}

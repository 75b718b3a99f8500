//! The result of planning: replicas per workload, cluster and pool, and what stayed unplaced
//! and why.
//!
//! The serialised form is the stable JSON contract of `fleetplan plan -o json`, versioned by
//! its `format` field ([`PLAN_FORMAT`]).

use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::cluster::{ClusterName, HourlyPrice, PoolName};
use crate::explain::Reason;
use crate::follow::Follow;
use crate::objective::ObjectiveValue;
use crate::traffic::{HostTraffic, Serving};
use crate::workload::WorkloadId;

/// The `format` value of plans this version writes.
pub const PLAN_FORMAT: &str = "fleetplan.io/plan/v1";

/// Serialises a workload id as `namespace/name`.
fn as_display<T: std::fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// Serialises a price in currency units per hour.
fn as_units<S: Serializer>(price: &HourlyPrice, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(price.units())
}

fn is_free(price: &HourlyPrice) -> bool {
    price.0 == 0
}

/// A placement plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    /// Always [`PLAN_FORMAT`].
    pub format: &'static str,
    /// Replicas per workload and cluster, ordered by workload then cluster.
    pub placements: Vec<Placement>,
    /// Workloads with replicas that could not be placed, with a reason per cluster.
    pub unplaced: Vec<Unplaced>,
    /// With `PlanOptions::explain`: per workload and cluster, what it got and why not more.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explanations: Vec<Explanation>,
    /// What each workload's placed replicas cost per hour, and their Fargate sizes, for the
    /// workloads with priced or Fargate replicas, ordered by workload.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub costs: Vec<WorkloadCost>,
    /// Where each of the problem's dependents goes (see [`crate::follow`]), ordered by kind,
    /// namespace and name; one with no clusters goes nowhere.
    pub follow: Vec<Follow>,
    /// Where each of the problem's global hosts sends its users (see [`crate::traffic`]),
    /// ordered by host; absent when the problem has no route.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<HostTraffic>,
    /// Totals.
    pub summary: Summary,
    /// How the plan was found and how good it is (set by [`crate::solve`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solver: Option<SolverStats>,
}

/// Which solver produced a plan, its score, and how far from the best it may be.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SolverStats {
    /// The solver that was asked for: `auto`, `fast`, `flow` or `exact`.
    pub requested: &'static str,
    /// The solver whose plan this is: `fast`, `flow` or `exact`. The flow and exact solvers
    /// start from the fast plan and return it when they do not beat it; the exact solver also
    /// runs the flow solver and returns its plan when packing left the MILP's worse.
    pub solver: &'static str,
    /// Wall-clock milliseconds, the fast plan they start from included.
    pub millis: f64,
    /// The plan's score (see [`crate::objective`]).
    pub objective: ObjectiveValue,
    /// A proven lower bound on the best score, when the solver has one.
    pub bound: Option<f64>,
    /// `(objective - bound) / max(|objective|, 1)`, when a bound is known.
    pub gap: Option<f64>,
    /// No plan scores better (within the solver's tolerance of 1e-6).
    pub proven_optimal: bool,
    /// The model's size: variables (exact) or arcs (flow); zero for the fast planner.
    pub size: usize,
    /// What else a reader should know, such as why a plan is not proven optimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Replicas of one workload in one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The workload, serialised as `namespace/name`.
    #[serde(serialize_with = "as_display")]
    pub workload: WorkloadId,
    /// The cluster.
    pub cluster: ClusterName,
    /// The cluster's region.
    pub region: Arc<str>,
    /// Replicas in this cluster.
    pub replicas: u32,
    /// How they divide over the cluster's pools, ordered by pool name.
    pub pools: Vec<PoolReplicas>,
}

/// Replicas in one pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolReplicas {
    /// The pool.
    pub pool: PoolName,
    /// Replicas in it.
    pub replicas: u32,
}

/// Replicas of a workload that could not be placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unplaced {
    /// The workload, serialised as `namespace/name`.
    #[serde(serialize_with = "as_display")]
    pub workload: WorkloadId,
    /// How many replicas are unplaced.
    pub replicas: u32,
    /// For every cluster of the fleet, why it took no more.
    pub reasons: Vec<ClusterReason>,
}

/// Why one cluster took no more replicas of a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterReason {
    /// The cluster.
    pub cluster: ClusterName,
    /// The reason.
    pub reason: Reason,
}

impl Serialize for ClusterReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("ClusterReason", 3)?;
        s.serialize_field("cluster", &self.cluster)?;
        s.serialize_field("code", self.reason.code())?;
        s.serialize_field("reason", &self.reason)?;
        s.end()
    }
}

/// What one cluster got of a workload, and why not more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The workload.
    pub workload: WorkloadId,
    /// The cluster.
    pub cluster: ClusterName,
    /// Replicas placed there.
    pub replicas: u32,
    /// Why it took no more; `None` when it could have taken more.
    pub reason: Option<Reason>,
}

impl Serialize for Explanation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Explanation", 5)?;
        s.serialize_field("workload", &self.workload.to_string())?;
        s.serialize_field("cluster", &self.cluster)?;
        s.serialize_field("replicas", &self.replicas)?;
        s.serialize_field("code", &self.reason.as_ref().map(Reason::code))?;
        s.serialize_field("reason", &self.reason)?;
        s.end()
    }
}

/// What one workload's placed replicas cost per hour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadCost {
    /// The workload, serialised as `namespace/name`.
    #[serde(serialize_with = "as_display")]
    pub workload: WorkloadId,
    /// Every placed replica's price per hour, in currency units (see [`crate::objective`]).
    #[serde(serialize_with = "as_units")]
    pub per_hour: HourlyPrice,
    /// Its replicas on Fargate and the size Fargate gives each, when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fargate: Option<FargateUse>,
}

/// A workload's replicas on Fargate: how many, the size each is given, and what rounding up
/// to a Fargate size adds to what it requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FargateUse {
    /// Replicas placed on Fargate profiles.
    pub replicas: u32,
    /// vCPU given to each, in millicores.
    pub cpu_millis: i64,
    /// Memory given to each, in bytes.
    pub memory_bytes: i64,
    /// vCPU each requests, in millicores.
    pub requested_cpu_millis: i64,
    /// Memory each requests, in bytes (without Fargate's 256Mi).
    pub requested_memory_bytes: i64,
    /// vCPU added by rounding up, per replica, in millicores.
    pub waste_cpu_millis: i64,
    /// Memory added by rounding up (beyond the 256Mi overhead), per replica, in bytes.
    pub waste_memory_bytes: i64,
    /// What its Fargate replicas cost per hour together, in currency units.
    #[serde(serialize_with = "as_units")]
    pub per_hour: HourlyPrice,
}

/// Totals over the whole plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Workloads planned.
    pub workloads: usize,
    /// Sum of replica targets.
    pub target: u64,
    /// Replicas placed.
    pub placed: u64,
    /// Replicas unplaced.
    pub unplaced: u64,
    /// Running replicas the plan keeps where they are.
    pub kept: u64,
    /// Running replicas the plan removes (lost with an unhealthy cluster, drained, no longer
    /// allowed, or scaled down).
    pub removed: u64,
    /// What every placed replica costs per hour, in currency units (absent when nothing is
    /// priced).
    #[serde(
        rename = "costPerHour",
        serialize_with = "as_units",
        skip_serializing_if = "is_free"
    )]
    pub cost_per_hour: HourlyPrice,
}

impl Default for Plan {
    /// A plan with nothing in it.
    fn default() -> Self {
        Plan {
            format: PLAN_FORMAT,
            placements: Vec::new(),
            unplaced: Vec::new(),
            explanations: Vec::new(),
            costs: Vec::new(),
            follow: Vec::new(),
            traffic: Vec::new(),
            summary: Summary::default(),
            solver: None,
        }
    }
}

impl Plan {
    /// The placed replicas as the traffic model counts them.
    pub fn serving(&self) -> Vec<Serving<'_>> {
        self.placements
            .iter()
            .map(|p| Serving {
                workload: &p.workload,
                cluster: &p.cluster,
                region: &p.region,
                replicas: u64::from(p.replicas),
            })
            .collect()
    }

    /// Replicas of `workload` placed in `cluster` (zero when none).
    pub fn replicas_in(&self, workload: &WorkloadId, cluster: &str) -> u32 {
        self.placements
            .iter()
            .filter(|p| &p.workload == workload && p.cluster.as_str() == cluster)
            .map(|p| p.replicas)
            .sum()
    }

    /// Replicas of `workload` placed anywhere.
    pub fn placed(&self, workload: &WorkloadId) -> u64 {
        self.placements
            .iter()
            .filter(|p| &p.workload == workload)
            .map(|p| u64::from(p.replicas))
            .sum()
    }

    /// Unplaced replicas of `workload`.
    pub fn unplaced(&self, workload: &WorkloadId) -> u32 {
        self.unplaced
            .iter()
            .filter(|u| &u.workload == workload)
            .map(|u| u.replicas)
            .sum()
    }
}

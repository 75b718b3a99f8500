//! The errors the core reports for a problem it cannot plan.

use crate::cluster::{ClusterName, PoolName};
use crate::resources::ResourceName;
use crate::workload::WorkloadId;

/// Why a problem cannot be planned. Capacity shortages are never errors: they are reported as
/// unplaced replicas in the plan.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The fleet has no cluster.
    #[error("the fleet has no cluster")]
    EmptyFleet,
    /// Two clusters share a name.
    #[error("duplicate cluster `{cluster}`")]
    DuplicateCluster {
        /// The repeated name.
        cluster: ClusterName,
    },
    /// A cluster's name breaks the rule of [`crate::cluster_name_error`] (whitespace, control
    /// characters, more than 100 characters...).
    #[error("{detail}")]
    InvalidClusterName {
        /// The name given.
        cluster: ClusterName,
        /// What is wrong, naming it.
        detail: String,
    },
    /// Two pools of one cluster share a name.
    #[error("cluster `{cluster}` has two node pools named `{pool}`")]
    DuplicatePool {
        /// The cluster.
        cluster: ClusterName,
        /// The repeated pool name.
        pool: PoolName,
    },
    /// Two workloads share a namespace and name.
    #[error("duplicate workload `{workload}`")]
    DuplicateWorkload {
        /// The repeated id.
        workload: WorkloadId,
    },
    /// A container requests a negative amount.
    #[error("workload `{workload}` requests a negative amount of {resource}")]
    NegativeRequest {
        /// The workload.
        workload: WorkloadId,
        /// The resource.
        resource: ResourceName,
    },
    /// A topology spread constraint has `maxSkew` 0 (Kubernetes requires at least 1).
    #[error("workload `{workload}` has a topology spread constraint with maxSkew 0 (it must be at least 1)")]
    ZeroMaxSkew {
        /// The workload.
        workload: WorkloadId,
    },
    /// A cluster's or region's minimum is above its maximum (`*` for every name not listed).
    #[error("workload `{workload}`: {what} `{name}` has a minimum of {min} above its maximum of {max}")]
    MinimumAboveMaximum {
        /// The workload.
        workload: WorkloadId,
        /// `cluster` or `region`.
        what: &'static str,
        /// The cluster or region, or `*`.
        name: String,
        /// Its minimum.
        min: u32,
        /// Its maximum.
        max: u32,
    },
    /// A preferred node affinity weight is outside 1-100.
    #[error("workload `{workload}` has preferred node affinity weight {weight}, outside 1-100")]
    InvalidPreferenceWeight {
        /// The workload.
        workload: WorkloadId,
        /// The weight given.
        weight: i32,
    },
    /// Targets and running replicas add up to more than [`crate::MAX_REPLICAS`].
    #[error("the problem holds {replicas} replicas (targets plus running), more than the limit of 2^31")]
    TooManyReplicas {
        /// The total.
        replicas: u64,
    },
    /// A solver name other than `auto`, `fast`, `flow` or `exact`.
    #[error("unknown solver `{name}`: expected auto, fast, flow or exact")]
    UnknownSolver {
        /// The name given.
        name: String,
    },
    /// The exact solver was asked for but this build has no MILP backend.
    #[error("the exact solver is not built in: build fleetplan with the `highs` or `microlp` feature")]
    ExactUnavailable,
    /// The min-cost-flow solver rejected its network (a fleetplan bug; please report it).
    #[error("the flow solver failed: {detail}")]
    FlowFailed {
        /// What went wrong.
        detail: String,
    },
    /// Current replicas name a cluster that is not in the fleet.
    #[error("current replicas of `{workload}` name unknown cluster `{cluster}`")]
    UnknownCluster {
        /// The workload.
        workload: WorkloadId,
        /// The unknown cluster.
        cluster: ClusterName,
    },
    /// Current replicas name a pool that is not in their cluster.
    #[error("current replicas of `{workload}` name unknown pool `{pool}` in cluster `{cluster}`")]
    UnknownPool {
        /// The workload.
        workload: WorkloadId,
        /// The cluster.
        cluster: ClusterName,
        /// The unknown pool.
        pool: PoolName,
    },
    /// A cluster's Fargate profiles break the EKS limits.
    #[error("cluster `{cluster}`: {error}")]
    FargateProfiles {
        /// The cluster.
        cluster: ClusterName,
        /// The broken limit.
        error: crate::fargate::FargateError,
    },
    /// A Fargate pool is named differently from its profile.
    #[error(
        "cluster `{cluster}`: pool `{pool}` holds Fargate profile `{profile}`; a Fargate pool takes its profile's name"
    )]
    FargatePoolName {
        /// The cluster.
        cluster: ClusterName,
        /// The pool.
        pool: PoolName,
        /// The profile.
        profile: String,
    },
    /// Two Fargate quotas name the same account and region.
    #[error("two Fargate quotas for account `{account}` in region `{region}`")]
    DuplicateFargateQuota {
        /// The account (`-` for clusters that name none).
        account: String,
        /// The region.
        region: String,
    },
    /// A route (a global host) that cannot be served.
    #[error("{object}: {detail}")]
    InvalidRoute {
        /// The object asking for it, as `Kind namespace/name`.
        object: String,
        /// What is wrong.
        detail: String,
    },
    /// A simulation step names something the fleet does not have.
    #[error("{detail}")]
    Simulation {
        /// What is wrong.
        detail: String,
    },
}

impl Error {
    /// True for a failure of fleetplan itself rather than of the problem given (a solver
    /// rejecting the network it was built; a bug to report): callers tell the user so instead
    /// of blaming their input.
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::FlowFailed { .. })
    }
}

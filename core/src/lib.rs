//! # fleetplan: multi-cluster Kubernetes placement
//!
//! `fleetplan` answers one question: given these workload clusters and these workloads,
//! how many replicas of each workload should run in each cluster and node pool, and why not
//! more? It is pure and synchronous: no I/O, no Kubernetes types, no clock beyond phase
//! timings. Adapters (`fleetplan-kube`, ...) turn Kubernetes objects into a [`Problem`] and
//! apply the resulting [`Plan`].
//!
//! ## The pipeline
//!
//! Data flows one way: **state → problem → plan → actions**.
//!
//! 1. A [`Problem`] holds [`Cluster`]s (region, labels, taints, [`Health`], [`NodePool`]s with
//!    per-node free resources), [`Workload`]s (replica target, pod template, placement
//!    policy) and the replicas [`Running`] now.
//! 2. [`plan`] finds, for every workload, the pools a replica may use (cluster selector,
//!    cluster and node taints, node selector, required node affinity, health), how many
//!    replicas fit (per node, the scarcest resource), and divides the target over the clusters
//!    seat by seat, honouring minimums, maximums, weights, topology spread and what already
//!    runs.
//! 3. The [`Plan`] lists [`Placement`]s per workload and cluster, and [`Unplaced`] replicas
//!    with a [`Reason`] for every cluster that took no more.
//!
//! ## Example
//!
//! Two clusters in two regions; one has GPUs. A GPU workload lands only where GPUs are, and
//! the plan says why the other cluster was refused.
//!
//! ```
//! use fleetplan::{Cluster, NodePool, PlanOptions, Problem, Resources, Workload, WorkloadId, plan};
//!
//! let node = Resources::new().with("cpu", 4000).with("memory", 16 << 30).with("pods", 110);
//! let mut east = Cluster::new("east", "us-east-1");
//! east.pools.push(NodePool::uniform("general", 3, node.clone()));
//! let mut west = Cluster::new("west", "us-west-2");
//! west.pools.push(NodePool::uniform("gpu", 2, node.with("nvidia.com/gpu", 1)));
//!
//! let web = Workload::new("shop", "web", 6, Resources::new().with("cpu", 500));
//! let train = Workload::new("ml", "train", 3, Resources::new().with("nvidia.com/gpu", 1));
//! let problem = Problem { clusters: vec![east, west], workloads: vec![web, train], ..Problem::default() };
//!
//! let plan = plan(&problem, &PlanOptions::default()).unwrap();
//! let web = WorkloadId::new("shop", "web");
//! assert_eq!((plan.replicas_in(&web, "east"), plan.replicas_in(&web, "west")), (3, 3));
//!
//! // Only two GPUs exist: two replicas run, one is unplaced, and every cluster says why.
//! let train = WorkloadId::new("ml", "train");
//! assert_eq!(plan.replicas_in(&train, "west"), 2);
//! assert_eq!(plan.unplaced(&train), 1);
//! let reasons: Vec<String> = plan.unplaced[0].reasons.iter()
//!     .map(|r| format!("{}: {}", r.cluster, r.reason)).collect();
//! assert_eq!(reasons, [
//!     "east: insufficient nvidia.com/gpu: needs 1, largest free 0",
//!     "west: insufficient nvidia.com/gpu: needs 1, largest free 0",
//! ]);
//! ```
//!
//! ## Reading an explanation
//!
//! Every [`Reason`] has a stable [`Reason::code`] for programs and a message for people. With
//! [`PlanOptions::explain`] the plan also carries an [`Explanation`] per workload and cluster:
//! the replicas it got, and why it took no more (`None` when it could have).
//!
//! ## What this crate does not do
//!
//! It reads no files and talks to no cluster: see the `fleetplan-kube` adapter and the
//! `fleetplan` command line. It does not pick nodes inside a cluster: the cluster's own
//! scheduler does, and the plan only promises that the replicas fit.

pub mod actions;
mod cluster;
mod error;
mod explain;
pub mod fargate;
pub mod follow;
pub mod objective;
pub mod optimize;
mod plan;
pub mod planner;
mod problem;
mod resources;
mod rules;
pub mod simulate;
mod solver;
pub mod traffic;
mod utilisation;
mod workload;

pub use cluster::{
    CLUSTER_NAME_LABEL, Cluster, ClusterName, Health, HourlyPrice, Labels, MAX_CLUSTER_NAME_LEN, NodeGroup,
    NodePool, PoolName, REGION_LABEL, Taint, TaintEffect, Unavailability, UnavailableNode,
    cluster_name_error,
};
pub use error::Error;
pub use explain::Reason;
pub use objective::{ObjectiveValue, Weights};
pub use plan::{
    ClusterReason, Explanation, FargateUse, PLAN_FORMAT, Placement, Plan, PoolReplicas, SolverStats, Summary,
    Unplaced, WorkloadCost,
};
pub use planner::{PhaseTimings, PlanOptions, plan, plan_with_timings};
pub use problem::{MAX_REPLICAS, Problem, Running};
pub use resources::{ResourceName, Resources, format_amount};
pub use rules::{
    node_selector_failure, required_affinity_matches, untolerated_hard_taint, untolerated_soft_taints,
};
pub use solver::{
    AUTO_EXACT_PAIRS, AUTO_EXACT_RULES_PAIRS, AUTO_FLOW_PAIRS, ExactSolver, FastPlanner, FlowSolver, Solver,
    SolverChoice, evaluate, solve,
};
pub use utilisation::{Utilisation, utilisation};
pub use workload::{
    Container, HostNeeds, LabelRequirement, LabelSelector, NodeAffinity, Operator, PerName, PlacementPolicy,
    PodTemplate, PreferredTerm, Strategy, Toleration, TolerationOperator, TopologyKey, TopologySpread,
    WhenUnsatisfiable, Workload, WorkloadId, WorkloadKind,
};

/// The README's Rust examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

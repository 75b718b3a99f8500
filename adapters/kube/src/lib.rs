//! # fleetplan-kube: Kubernetes YAML in, a fleetplan problem out
//!
//! This adapter reads, offline, the two halves of a placement question and turns them into a
//! [`fleetplan::Problem`]:
//!
//! - **the apps**: ordinary Kubernetes YAML. `apps/v1` Deployments and `batch/v1` Jobs become
//!   workloads (pod template, replica target, and a placement policy from `fleetplan.io/`
//!   annotations, see [`annotations`]); every other object is carried along unplanned as a
//!   [`CarriedObject`].
//! - **the fleet**: either the project's concise fleet YAML (synthetic what-ifs), or one
//!   kubectl dump (`kubectl get nodes,pods -A -o yaml`) per cluster, or both.
//!   Documents whose `apiVersion` starts with `eksctl.io/` (eksctl `ClusterConfig`s) are left
//!   to the `fleetplan-aws` adapter; hand the clusters it reads to [`load_with_clusters`].
//!
//! ```no_run
//! let scenario = fleetplan_kube::load_scenario(std::path::Path::new("examples/shop"))?;
//! let plan = fleetplan::plan(&scenario.problem, &fleetplan::PlanOptions::default())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every error is a [`LoadError`] whose message names the file, the object (`Kind
//! namespace/name`) and the field path, as far as they are known. The loader never panics
//! on bad input and never returns a half-loaded scenario.

pub mod annotations;
pub mod controller;
pub mod dependents;
mod error;
pub mod executor;
mod files;
pub mod fleet_status;
pub mod ingress_status;
mod kinds;
pub mod lease;
pub mod live;
pub mod metrics;
mod pod;
mod quantity;
mod selector;

pub use files::dump::{
    COMPUTE_TYPE_LABEL, INSTANCE_TYPE_LABEL, META_FILE, PER_NODE_LABELS, POOL_NAME_LABELS, STATE_TAINTS,
};
pub use error::{LoadError, Location, QuantityError};
pub use quantity::parse_quantity;
pub use files::carried::CarriedObject;
pub use files::scenario::{
    Scenario, load, load_scenario, load_scenario_with_clusters, load_sources,
    load_with_clusters,
};
pub use files::source::{SourceFile, read_source_files};
pub use files::steps::parse_steps;

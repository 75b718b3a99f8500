//! # fleetplan-kube: Kubernetes in, a fleetplan problem out, and the plan carried out
//!
//! Three parts, each one concept:
//!
//! - the **offline readers** (this page's functions; the modules behind them read files):
//!   Kubernetes YAML and kubectl dumps to a [`fleetplan::Problem`];
//! - [`live`]: I/O against real clusters: the registry of workload clusters in a management
//!   cluster, its opted-in sources, watched snapshots of each workload cluster, the
//!   [`live::executor`] that applies a plan, leader election, and the writer of what a pass
//!   found back onto the sources;
//! - [`control`]: the controller's decisions as pure functions (what each cluster should
//!   hold, failure detection, the sources' status and annotations), unit-tested, no I/O.
//!
//! The controller's pass itself is composed by the command line (`fleetplan controller`),
//! which wires these steps together with the other adapters.
//!
//! The offline readers take the two halves of a placement question and turn them into a
//! [`fleetplan::Problem`]:
//!
//! - **the apps**: ordinary Kubernetes YAML. `apps/v1` Deployments and `batch/v1` Jobs become
//!   workloads (pod template, replica target, and a placement policy from `fleetplan.io/`
//!   annotations, see [`annotations`]); every other object is carried along unplanned as a
//!   [`CarriedObject`]. A directory with a kustomization is rendered with `kubectl
//!   kustomize` (see [`read_app_files`]); a Helm chart is refused with the command that
//!   renders it.
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
//! on bad input and never returns a half-loaded scenario. Files it does not read (other
//! extensions) are returned as [`Scenario::skipped`], never dropped silently.

pub mod annotations;
pub mod control;
pub mod dependents;
mod error;
mod files;
mod kinds;
pub mod live;
mod pod;
mod quantity;
pub mod routes;
mod selector;
mod validation;

pub use error::{LoadError, Location, QuantityError};
pub use files::carried::CarriedObject;
pub use files::dump::{
    COMPUTE_TYPE_LABEL, INSTANCE_TYPE_LABEL, META_FILE, PER_NODE_LABELS, POOL_NAME_LABELS, STATE_TAINTS,
};
pub use files::fleet::foreign_documents;
pub use files::limits::{InputBudget, InputLimits, LimitKind};
pub use files::scenario::{
    Scenario, load, load_files, load_scenario, load_scenario_with_clusters, load_sources, load_with_clusters,
};
pub use files::source::{SkipReason, Skipped, SourceFile, SourceFiles, read_app_files, read_source_files};
pub use files::steps::parse_steps;
pub use quantity::parse_quantity;

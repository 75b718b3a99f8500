//! Live state: the workload clusters registered in a management cluster, what each of them
//! runs, and the Deployments that opted in to multi-cluster scheduling.
//!
//! **Registering a workload cluster** is creating a Secret in the management cluster, in the
//! registry namespace ([`REGISTRY_NAMESPACE`] unless told otherwise):
//!
//! ```yaml
//! apiVersion: v1
//! kind: Secret
//! metadata:
//!   name: us-east-1-a                          # the cluster's name in plans
//!   namespace: fleetplan-system
//!   labels:
//!     fleetplan.io/cluster: "true"             # marks it as a registration
//!     topology.kubernetes.io/region: us-east-1 # required
//!     env: prod                                # any other label: a cluster label
//!   annotations:
//!     fleetplan.io/drain: "true"               # optional: move everything out (blue/green)
//!     fleetplan.io/aws-account: "123456789012" # optional: for Fargate quotas (per account and region)
//!     fleetplan.io/fargate-profiles: |         # optional: the EKS cluster's Fargate profiles
//!       - name: fp-shop
//!         selectors: [{namespace: shop}]
//!       - name: fp-batch
//!         selectors: [{namespace: batch, labels: {compute: fargate}}]
//! data:
//!   kubeconfig: ...                            # required: a kubeconfig; its current context is used
//! ```
//!
//! The Fargate profiles are written as `fargateProfiles` in a Fleet file (YAML or JSON); each
//! becomes a pool of the cluster, as in a dump. Pods a profile takes are counted on it by the
//! `eks.amazonaws.com/fargate-profile` label EKS gives them.
//!
//! **Fleet-wide settings** (Fargate quotas and rates) are read from the ConfigMap
//! [`FLEET_CONFIGMAP`] in the registry namespace, key [`FLEET_KEY`]: a `kind: Fleet`
//! document as in a scenario's fleet folder, holding only its `fargate` section (clusters
//! come from the registry). Without the ConfigMap the defaults apply (AWS's default quota of
//! 6 vCPUs per account and region, the built-in rates).
//!
//! Every label but [`CLUSTER_LABEL`] is a cluster label that `fleetplan.io/cluster-selector`
//! can select on. A Secret because the kubeconfig holds credentials: it is never logged, and
//! [`Registration`]'s `Debug` leaves it out.
//!
//! **Opting in**: a Deployment or Job in the management cluster labelled
//! [`SCHEDULE_LABEL`]` = "true"` is planned across the registered clusters, with its standard
//! fields and the `fleetplan.io/` placement annotations (see [`crate::annotations`]).
//!
//! **The management cluster** ([`ManagementWatch`]): registrations and sources are kept by
//! watches; a pass reads them from memory after checking that its API server answers.
//!
//! **A snapshot** of one cluster ([`ClusterWatch`]) reads its nodes and pods, kept by watches,
//! exactly as a kubectl dump of the same objects is read: nodes to pools, bound pods to used
//! resources, and pods of the opted-in workloads (matched by namespace and selector) to
//! running replicas.

mod error;
pub mod executor;
pub mod lease;
mod management;
mod registry;
mod report;
mod sources;
mod traffic_writer;
mod watch;

pub use error::LiveError;
pub use management::{Management, ManagementWatch};
pub use registry::{
    ACCOUNT_ANNOTATION, CLUSTER_LABEL, DRAIN_ANNOTATION, FARGATE_PROFILES_ANNOTATION, FLEET_CONFIGMAP,
    FLEET_KEY, KUBECONFIG_KEY, REGION_LABEL, REGISTRY_NAMESPACE, Registration, fleet_settings_configmap,
    registration_secret,
};
pub use report::{SourceWriter, detect_management_mode};
pub use sources::{HOLD_POLICY, SCHEDULE_LABEL, Sources};
pub use traffic_writer::{TrafficWriter, WriteReport};
pub use watch::{ClusterWatch, Snapshot};

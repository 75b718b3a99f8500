//! The errors of this adapter: one [`AwsError`] for everything that can go wrong between an
//! eksctl document or the EKS API and a [`fleetplan::Cluster`].
//!
//! Every message names what is known of the place: the file (or the EKS cluster and region),
//! the object (`ClusterConfig NAME`, `nodegroup NAME`) and the field path
//! (`managedNodeGroups[1].instanceType`), then what was wrong.

use std::path::PathBuf;

use fleetplan::fargate::FargateError;

/// Why EKS clusters could not be read. Nothing is returned half-read: any error aborts the
/// whole read.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A field of an eksctl `ClusterConfig` is missing, has the wrong type or a wrong value.
    #[error("{}: {object}: {field}: {message}", file.display())]
    Config {
        /// The file.
        file: PathBuf,
        /// The object, such as `ClusterConfig east` (or `ClusterConfig (document 2)` when the
        /// document has no name).
        object: String,
        /// The field path inside the object, such as `managedNodeGroups[1].instanceType`.
        field: String,
        /// What was wrong.
        message: String,
    },
    /// The Fargate profiles of an eksctl `ClusterConfig` break the EKS limits.
    #[error("{}: {object}: fargateProfiles: {source}", file.display())]
    FargateProfiles {
        /// The file.
        file: PathBuf,
        /// The object, such as `ClusterConfig east`.
        object: String,
        /// Which limit is broken.
        #[source]
        source: FargateError,
    },
    /// Two `ClusterConfig` documents describe clusters of the same name.
    #[error(
        "{}: ClusterConfig {cluster}: a cluster of this name is already defined in {}",
        file.display(),
        first.display()
    )]
    DuplicateCluster {
        /// The cluster name.
        cluster: String,
        /// The file of the second definition.
        file: PathBuf,
        /// The file of the first definition.
        first: PathBuf,
    },
    /// An EC2 instance type that the instance table does not know.
    #[error(
        "unknown instance type `{instance_type}`: EC2 does not offer it (it is not among the {known} \
         instance types of the EC2 data fleetplan-aws reads: retired, or misspelt){}",
        if suggestions.is_empty() { String::new() } else { format!(" (did you mean one of {suggestions}?)") }
    )]
    UnknownInstanceType {
        /// The instance type given.
        instance_type: String,
        /// How many instance types the table knows.
        known: usize,
        /// Known types of the same family, comma separated (empty when there are none).
        suggestions: String,
    },
    /// A node group names no instance type.
    #[error("names no instance type")]
    NoInstanceType,
    /// An EC2 Mac instance type, which EKS cannot run as a node.
    #[error("`{instance_type}` is an EC2 Mac instance type, which EKS cannot run as a node")]
    MacInstanceType {
        /// The instance type given.
        instance_type: String,
    },
    /// A node group lists instance types of two CPU architectures.
    #[error(
        "`{other}` has another CPU architecture than `{first}`: EKS needs one architecture per \
         node group"
    )]
    MixedArchitectures {
        /// The group's first instance type.
        first: String,
        /// The type of the other architecture.
        other: String,
    },
    /// An EKS API call failed.
    #[error("EKS cluster `{cluster}` in {region}: {call} failed: {message}")]
    Api {
        /// The cluster name.
        cluster: String,
        /// The region.
        region: String,
        /// The API call, such as `DescribeNodegroup`.
        call: &'static str,
        /// The SDK's error, with its causes.
        message: String,
    },
    /// The EKS API described something this adapter cannot turn into a pool or a cluster.
    #[error("EKS cluster `{cluster}` in {region}: {object}: {field}: {message}")]
    Eks {
        /// The cluster name.
        cluster: String,
        /// The region.
        region: String,
        /// The object, such as `cluster` or `nodegroup workers`.
        object: String,
        /// The field of the API response, such as `instanceTypes[0]`.
        field: String,
        /// What was wrong.
        message: String,
    },
}

//! The errors of the test bed.

use std::path::PathBuf;

/// Why the test bed could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binaries are not where `FLEETPLAN_TESTBED_BIN` points, or it is unset.
    #[error(
        "test bed binaries not found ({detail}); build them with `export FLEETPLAN_TESTBED_BIN=$(bash adapters/testbed/build.sh)`"
    )]
    MissingBinaries {
        /// What is missing.
        detail: String,
    },
    /// A file or process operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A process of the bed exited or never became ready.
    #[error(
        "{component} of cluster `{cluster}` did not become ready within {seconds} s; last log lines:\n{log}"
    )]
    NotReady {
        /// The cluster (or `bed` for the shared etcd).
        cluster: String,
        /// The component.
        component: String,
        /// How long it was given.
        seconds: u64,
        /// The end of its log.
        log: String,
    },
    /// A Kubernetes API call failed.
    #[error("cluster `{cluster}`: {action}: {source}")]
    Kube {
        /// The cluster.
        cluster: String,
        /// What was being done.
        action: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// A client could not be configured.
    #[error("cluster `{cluster}`: cannot configure a client: {detail}")]
    Client {
        /// The cluster.
        cluster: String,
        /// Why.
        detail: String,
    },
    /// No cluster of that name is in the bed.
    #[error("no cluster `{cluster}` in the test bed")]
    UnknownCluster {
        /// The name asked for.
        cluster: String,
    },
    /// A cluster name cannot be used in Kubernetes names or etcd prefixes.
    #[error("cluster name `{cluster}` must be a lowercase DNS label (a-z, 0-9, -)")]
    BadClusterName {
        /// The name.
        cluster: String,
    },
    /// Two clusters share a name.
    #[error("duplicate cluster `{cluster}` in the test bed")]
    DuplicateCluster {
        /// The name.
        cluster: String,
    },
    /// A cluster's Fargate profiles cannot be set up on the bed.
    #[error("cluster `{cluster}`: cannot stand in for its Fargate profiles: {detail}")]
    Fargate {
        /// The cluster.
        cluster: String,
        /// Why.
        detail: String,
    },
    /// The moto server (the bed's fake AWS) cannot be run.
    #[error("{detail}")]
    Moto {
        /// What failed and how to install it.
        detail: String,
    },
    /// The folder for the bed's files could not be used.
    #[error("cannot use {path}: {source}")]
    Dir {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Wraps an I/O error with what was being done.
pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let action = action.into();
    move |source| Error::Io { action, source }
}

//! An object of the apps that is not planned but carried along: a Service, a ConfigMap, a
//! Namespace... as written, with where it came from. The objects that may follow a workload
//! are among them (see [`crate::dependents`]).

use std::path::PathBuf;

/// An apps object carried along unplanned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarriedObject {
    /// `kind`, such as `Service`.
    pub kind: String,
    /// `apiVersion`, such as `v1`.
    pub api_version: String,
    /// `metadata.namespace` as written (`None` when absent, even for namespaced kinds).
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// The object as written.
    pub object: serde_json::Value,
}

//! Offline readers: a scenario folder (a fleet of concise fleet files or kubectl dumps, and
//! apps as `kubectl apply -f` reads them, kustomizations rendered), source files, and what-if
//! steps, read into the core model with errors that name the file, the object and the field.
//! No network here; the only program run is kubectl, to render a kustomization.

pub(crate) mod bounded;
pub(crate) mod carried;
pub(crate) mod dump;
pub(crate) mod fleet;
pub(crate) mod helm;
pub(crate) mod kustomize;
pub(crate) mod limits;
pub(crate) mod scenario;
pub(crate) mod source;
pub(crate) mod steps;
pub(crate) mod workloads;

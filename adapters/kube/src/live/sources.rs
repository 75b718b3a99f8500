//! The sources: the Deployments and Jobs of a management cluster that opted in to
//! multi-cluster scheduling, with the objects of their namespaces that may follow them, read
//! as the offline reader reads the same objects from files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use fleetplan::follow::{Dependent, ObjectRef};
use fleetplan::traffic::Route;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

use super::watch::Reflected;

use crate::control::ingress_status;
use crate::dependents::{FollowKind, dependent_objects, dependents};
use crate::error::LoadError;
use crate::files::carried::CarriedObject;
use crate::files::source::Document;
use crate::files::workloads::{AppWorkload, Apps, apps_from_documents};
use crate::live::error::LiveError;

/// The label, `"true"`, that opts a management-cluster Deployment or Job in.
pub const SCHEDULE_LABEL: &str = "fleetplan.io/schedule";

/// The scheduling-gate policy for a full management cluster (see the README): applied as is
/// with `kubectl apply -f adapters/kube/deploy/hold-in-management.yaml`.
pub const HOLD_POLICY: &str = include_str!("../../deploy/hold-in-management.yaml");

/// The opted-in workloads of the management cluster, and the objects of their namespaces
/// that may follow them (see [`crate::dependents`]).
pub struct Sources {
    pub(crate) apps: Apps,
    dependents: Vec<Dependent>,
}

impl Sources {
    /// What may follow the workloads, with what each must be beside.
    pub fn dependents(&self) -> Vec<Dependent> {
        self.dependents.clone()
    }

    /// Every object that may follow, as read, by reference (for
    /// [`crate::control::desired::desired_dependents`]).
    pub fn dependent_objects(&self) -> BTreeMap<ObjectRef, &CarriedObject> {
        dependent_objects(&self.apps.carried)
    }

    /// The planned workloads.
    pub fn workloads(&self) -> Vec<fleetplan::Workload> {
        self.apps.workloads.iter().map(|a| a.workload.clone()).collect()
    }

    /// Every workload's object as read, by id (for [`crate::control::desired::desired_objects`]).
    pub fn objects(&self) -> BTreeMap<fleetplan::WorkloadId, serde_json::Value> {
        self.apps
            .workloads
            .iter()
            .map(|a| (a.workload.id.clone(), a.source.clone()))
            .collect()
    }

    /// The global hosts of the sources (see [`crate::routes`]), each Ingress's with the load
    /// balancers its copies showed (the annotation [`ingress_status::LOAD_BALANCERS`]) as its
    /// clusters' endpoints.
    ///
    /// # Errors
    /// A host, policy or TTL the sources get wrong (the message names the object and field).
    pub fn routes(&self) -> Result<Vec<Route>, LoadError> {
        let mut routes = crate::routes::routes(&self.apps.carried, &self.dependents)?;
        let objects = self.dependent_objects();
        for route in &mut routes {
            if let Some(source) = objects.get(&route.source) {
                route.endpoints = ingress_status::endpoints(&source.value());
            }
        }
        Ok(routes)
    }

    pub(crate) fn app_workloads(&self) -> &[AppWorkload] {
        &self.apps.workloads
    }
}

/// The management cluster's opted-in Deployments and Jobs, and the objects of their
/// namespaces that may follow them, kept by watches from [`SourcesWatch::start`] until it is
/// dropped: a pass reads them from memory, not by listing. The followers of a namespace are
/// watched from the first pass that finds a source there until the last source leaves it.
pub(super) struct SourcesWatch {
    mgmt: Client,
    deployments: Reflected<Deployment>,
    jobs: Reflected<Job>,
    /// Per namespace holding sources: a watch per [`FollowKind`], in [`FollowKind::ALL`] order.
    followers: BTreeMap<String, Vec<Reflected<DynamicObject>>>,
}

impl SourcesWatch {
    /// Starts watching the opted-in Deployments and Jobs of `mgmt`.
    pub fn start(mgmt: Client) -> Self {
        let params = ListParams::default().labels(&format!("{SCHEDULE_LABEL}=true"));
        SourcesWatch {
            deployments: Reflected::start(Api::all(mgmt.clone()), params.clone(), ()),
            jobs: Reflected::start(Api::all(mgmt.clone()), params, ()),
            mgmt,
            followers: BTreeMap::new(),
        }
    }

    /// The sources as the watches see them now, read as workloads.
    ///
    /// # Errors
    /// When a watch has not listed everything yet and a direct list fails (the message says
    /// why, such as "forbidden"), or a source is not a valid workload (the message names it).
    pub async fn read(&mut self) -> Result<Sources, LiveError> {
        let origin = PathBuf::from("the management cluster");
        self.deployments
            .synced("cannot list opted-in Deployments")
            .await?;
        self.jobs.synced("cannot list opted-in Jobs").await?;
        let mut documents = Vec::new();
        for item in self.deployments.state() {
            documents.push(source(document(&origin, "apps/v1", "Deployment", &*item)?));
        }
        for item in self.jobs.state() {
            documents.push(source(document(&origin, "batch/v1", "Job", &*item)?));
        }
        let namespaces: BTreeSet<String> = documents
            .iter()
            .filter_map(|d| d.value["metadata"]["namespace"].as_str().map(str::to_string))
            .collect();
        self.followers
            .retain(|namespace, _| namespaces.contains(namespace));
        for namespace in namespaces {
            let watches = self.followers.entry(namespace.clone()).or_insert_with(|| {
                FollowKind::ALL
                    .iter()
                    .map(|kind| {
                        let resource = kind.api_resource();
                        let api = Api::namespaced_with(self.mgmt.clone(), &namespace, &resource);
                        Reflected::start(api, ListParams::default(), resource)
                    })
                    .collect()
            });
            for (kind, watch) in FollowKind::ALL.iter().zip(watches.iter()) {
                watch
                    .synced(&format!(
                        "cannot list the {}s of namespace {namespace} (they follow its workloads)",
                        kind.name()
                    ))
                    .await?;
                let resource = kind.api_resource();
                for item in watch.state() {
                    documents.push(document(&origin, &resource.api_version, &resource.kind, &*item)?);
                }
            }
        }
        let apps = apps_from_documents(documents)?;
        let dependents = dependents(&apps.workloads, &apps.carried)?;
        Ok(Sources { apps, dependents })
    }
}

/// An object read from a cluster as a document, without its managed fields.
pub(super) fn document(
    origin: &std::path::Path,
    api_version: &str,
    kind: &str,
    object: impl Serialize,
) -> Result<Document, LiveError> {
    let mut value = serde_json::to_value(object).map_err(|source| LiveError::Serialize {
        what: "an object read from a cluster",
        source,
    })?;
    value["apiVersion"] = api_version.into();
    value["kind"] = kind.into();
    if let Some(meta) = value
        .get_mut("metadata")
        .and_then(serde_json::Value::as_object_mut)
    {
        meta.remove("managedFields");
    }
    Ok(Document {
        file: origin.to_path_buf(),
        number: 1,
        item: None,
        value,
    })
}

/// A source object as the controller uses it: without its server-set metadata but with
/// its `generation` (copies record the one they were made from), its `status` (which a
/// management control plane's fleet status starts from) and its uid (for Events about it).
fn source(mut document: Document) -> Document {
    if let Some(meta) = document
        .value
        .get_mut("metadata")
        .and_then(serde_json::Value::as_object_mut)
    {
        for server_set in ["resourceVersion", "creationTimestamp"] {
            meta.remove(server_set);
        }
    }
    document
}

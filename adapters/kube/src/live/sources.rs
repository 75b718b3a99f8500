//! The sources: the Deployments and Jobs of a management cluster that opted in to
//! multi-cluster scheduling, with the objects of their namespaces that may follow them, read
//! as the offline reader reads the same objects from files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use fleetplan::follow::{Dependent, ObjectRef};
use fleetplan::traffic::Route;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

use crate::control::ingress_status;
use crate::dependents::{FollowKind, dependent_objects, dependents};
use crate::error::LoadError;
use crate::files::carried::CarriedObject;
use crate::files::source::Document;
use crate::files::workloads::{AppWorkload, Apps, apps_from_documents};
use crate::live::error::{LiveError, api as api_error};

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

/// Lists the opted-in Deployments and Jobs of the management cluster and reads them as
/// workloads.
///
/// # Errors
/// When they cannot be listed, or one is not a valid workload (the message names it).
pub async fn read_sources(mgmt: &Client) -> Result<Sources, LiveError> {
    let params = ListParams::default().labels(&format!("{SCHEDULE_LABEL}=true"));
    let origin = PathBuf::from("the management cluster");
    let mut documents = Vec::new();
    opted_in::<Deployment>(mgmt, &params, &origin, "apps/v1", "Deployment", &mut documents).await?;
    opted_in::<Job>(mgmt, &params, &origin, "batch/v1", "Job", &mut documents).await?;
    let namespaces: BTreeSet<String> = documents
        .iter()
        .filter_map(|d| d.value["metadata"]["namespace"].as_str().map(str::to_string))
        .collect();
    for namespace in &namespaces {
        for kind in FollowKind::ALL {
            let resource = kind.api_resource();
            let api: Api<DynamicObject> = Api::namespaced_with(mgmt.clone(), namespace, &resource);
            let list = api.list(&ListParams::default()).await.map_err(api_error(format!(
                "cannot list the {}s of namespace {namespace} (they follow its workloads)",
                kind.name()
            )))?;
            for item in list.items {
                documents.push(document(&origin, &resource.api_version, &resource.kind, item)?);
            }
        }
    }
    let apps = apps_from_documents(documents)?;
    let dependents = dependents(&apps.workloads, &apps.carried)?;
    Ok(Sources { apps, dependents })
}

/// Lists the opted-in objects of one kind as source documents, onto `documents`.
async fn opted_in<K>(
    mgmt: &Client,
    params: &ListParams,
    origin: &std::path::Path,
    api_version: &str,
    kind: &str,
    documents: &mut Vec<Document>,
) -> Result<(), LiveError>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + Serialize + fmt::Debug,
{
    let api: Api<K> = Api::all(mgmt.clone());
    let list = api
        .list(params)
        .await
        .map_err(api_error(format!("cannot list opted-in {kind}s")))?;
    for item in list.items {
        documents.push(source(document(origin, api_version, kind, item)?));
    }
    Ok(())
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

//! Writing back to the management cluster what a pass found, on the sources: the fleet's
//! status of each Deployment and Job in a management control plane, the load balancers of
//! each Ingress, the placement annotations, Events and the `FleetplanPlaced` condition. What
//! to write is decided in [`crate::control`]; this module only writes it, when it changed,
//! and logs (never fails on) a write the API server refuses.

use std::collections::BTreeMap;

use fleetplan::WorkloadKind;
use fleetplan::follow::ObjectRef;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Event;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::control::desired::FIELD_MANAGER;
use crate::control::fleet_status::{CopyState, ManagementMode, changes, deployment_status, job_status};
use crate::control::ingress_status::{self, LOAD_BALANCERS as LOAD_BALANCERS_ANNOTATION};
use crate::control::placement::{PLACED_CONDITION, SourceReport};
use crate::dependents::FollowKind;
use crate::error::describe;
use crate::files::carried::CarriedObject;
use crate::live::executor::ClusterReport;

/// Patches as fleetplan's field manager.
fn params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    }
}

/// Writes on the sources of one management cluster.
pub struct SourceWriter {
    mgmt: Client,
}

impl SourceWriter {
    /// A writer for the management cluster `mgmt`.
    pub fn new(mgmt: Client) -> Self {
        SourceWriter { mgmt }
    }

    /// Writes each source's status summed over its copies (see [`crate::control::fleet_status`]), when
    /// it changed: what a management control plane's own controllers would have written.
    pub async fn fleet_status(
        &self,
        objects: &BTreeMap<fleetplan::WorkloadId, serde_json::Value>,
        applied: &BTreeMap<String, ClusterReport>,
    ) {
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        for (id, object) in objects {
            let (kind, resource) = match object["kind"].as_str() {
                Some("Deployment") => (WorkloadKind::Deployment, ApiResource::erase::<Deployment>(&())),
                Some("Job") => (WorkloadKind::Job, ApiResource::erase::<Job>(&())),
                _ => continue,
            };
            let key = (kind, id.clone());
            let copies: Vec<CopyState> = applied
                .values()
                .filter_map(|r| r.copies.get(&key))
                .cloned()
                .collect();
            let status = match kind {
                WorkloadKind::Deployment => deployment_status(object, &copies, &now),
                WorkloadKind::Job => job_status(object, &copies, &now),
            };
            if !changes(&object["status"], &status) {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(self.mgmt.clone(), &id.namespace, &resource);
            let patch = json!({ "status": status });
            if let Err(error) = api.patch_status(&id.name, &params(), &Patch::Merge(&patch)).await {
                tracing::warn!(workload = %id, error = %describe(&error), "cannot write the fleet status on the source");
            }
        }
    }

    /// Writes on each source Ingress its copies' load balancers (see [`crate::control::ingress_status`]):
    /// the annotation always, and `status.loadBalancer` in a management control plane, each
    /// when it changed.
    pub async fn load_balancers(
        &self,
        plan: &fleetplan::Plan,
        dependents: &BTreeMap<ObjectRef, &CarriedObject>,
        applied: &BTreeMap<String, ClusterReport>,
        mode: ManagementMode,
    ) {
        let resource = FollowKind::Ingress.api_resource();
        for (object, source) in dependents
            .iter()
            .filter(|(o, _)| &*o.kind == FollowKind::Ingress.name())
        {
            let planned = plan
                .follow
                .iter()
                .find(|f| &f.object == object)
                .map_or(&[][..], |f| f.clusters.as_slice());
            let seen: BTreeMap<String, Vec<String>> = applied
                .iter()
                .filter_map(|(cluster, r)| Some((cluster.clone(), r.load_balancers.get(object)?.clone())))
                .collect();
            let source = source.value();
            let previous = source["metadata"]["annotations"][LOAD_BALANCERS_ANNOTATION].as_str();
            let balancers = ingress_status::load_balancers(previous, planned, &seen);
            let text = ingress_status::annotation(&balancers);
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.mgmt.clone(), &object.namespace, &resource);
            if previous != Some(text.as_str()) {
                let patch = json!({"metadata": {"annotations": {LOAD_BALANCERS_ANNOTATION: text}}});
                if let Err(error) = api.patch(&object.name, &params(), &Patch::Merge(&patch)).await {
                    tracing::warn!(%object, error = %describe(&error), "cannot write the load balancers on the source");
                }
            }
            let status = ingress_status::merged_status(&balancers);
            if mode == ManagementMode::ControlPlane && source["status"] != status {
                let patch = json!({ "status": status });
                if let Err(error) = api
                    .patch_status(&object.name, &params(), &Patch::Merge(&patch))
                    .await
                {
                    tracing::warn!(%object, error = %describe(&error), "cannot write the load balancers in the source's status");
                }
            }
        }
    }

    /// Writes each source's placement annotations (see [`SourceReport`]) when they changed,
    /// and when the placement itself changed an Event (`Placed`, and `Unplaced` as a
    /// warning) and, on a Deployment, the [`PLACED_CONDITION`] condition.
    pub async fn placement(
        &self,
        plan: &fleetplan::Plan,
        objects: &BTreeMap<fleetplan::WorkloadId, serde_json::Value>,
        ready: &BTreeMap<fleetplan::WorkloadId, u32>,
    ) {
        for (id, object) in objects {
            let kind = object.get("kind").and_then(serde_json::Value::as_str);
            let resource = match kind {
                Some("Deployment") => ApiResource::erase::<Deployment>(&()),
                Some("Job") => ApiResource::erase::<Job>(&()),
                _ => continue,
            };
            let report = SourceReport::of(plan, id, object, ready.get(id).copied().unwrap_or(0));
            if !report.changed(object) {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(self.mgmt.clone(), &id.namespace, &resource);
            if let Err(error) = api
                .patch(&id.name, &params(), &Patch::Merge(&report.patch()))
                .await
            {
                tracing::warn!(workload = %id, error = %describe(&error), "cannot write the placement on the source");
            }
            if report.plan_changed(object) {
                tracing::info!(workload = %id, placement = %report.summary, "placement changed");
                self.event(id, object, "Normal", "Placed", &report.summary).await;
                if let Some(unplaced) = &report.unplaced {
                    self.event(id, object, "Warning", "Unplaced", unplaced).await;
                }
                if kind == Some("Deployment") {
                    let message = report.unplaced.as_deref().unwrap_or(&report.summary);
                    self.placed_condition(&api, id, report.unplaced.is_none(), message)
                        .await;
                }
            }
        }
    }

    /// Sets the [`PLACED_CONDITION`] condition of a source Deployment: `True` when every
    /// replica is placed, else `False` with the reasons. A strategic merge patch of the
    /// status merges conditions by type, and the Deployment controller keeps the condition
    /// types it does not own.
    async fn placed_condition(
        &self,
        api: &Api<DynamicObject>,
        id: &fleetplan::WorkloadId,
        all: bool,
        message: &str,
    ) {
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let (status, reason) = if all {
            ("True", "AllPlaced")
        } else {
            ("False", "Unplaced")
        };
        let patch = json!({"status": {"conditions": [{
            "type": PLACED_CONDITION, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": now, "lastTransitionTime": now,
        }]}});
        if let Err(error) = api
            .patch_status(&id.name, &params(), &Patch::Strategic(&patch))
            .await
        {
            tracing::warn!(workload = %id, error = %describe(&error), "cannot set the Placed condition on the source");
        }
    }

    /// Records an Event on a source in the management cluster.
    async fn event(
        &self,
        id: &fleetplan::WorkloadId,
        object: &serde_json::Value,
        kind: &str,
        reason: &str,
        message: &str,
    ) {
        let now = k8s_openapi::jiff::Timestamp::now();
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": format!("{}.", id.name), "namespace": &*id.namespace},
            "involvedObject": {
                "apiVersion": "apps/v1", "kind": "Deployment",
                "name": &*id.name, "namespace": &*id.namespace,
                "uid": object["metadata"]["uid"],
            },
            "type": kind,
            "reason": reason,
            "message": message,
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "firstTimestamp": now.to_string(),
            "lastTimestamp": now.to_string(),
            "count": 1,
        });
        let event: Event = match serde_json::from_value(event) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "cannot build an Event");
                return;
            }
        };
        let api: Api<Event> = Api::namespaced(self.mgmt.clone(), &id.namespace);
        if let Err(error) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(workload = %id, error = %describe(&error), "cannot record an Event");
        }
    }
}

/// What the management cluster is, as far as it shows: a [`ManagementMode::Cluster`] when it
/// has nodes or any ReplicaSet (a Deployment controller runs there), else a
/// [`ManagementMode::ControlPlane`]. When it cannot tell, a cluster, so that fleetplan never
/// writes a status that a Deployment controller also writes.
pub async fn detect_management_mode(mgmt: &Client) -> ManagementMode {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::Node;
    let one = kube::api::ListParams::default().limit(1);
    let nodes = Api::<Node>::all(mgmt.clone()).list(&one).await;
    let sets = Api::<ReplicaSet>::all(mgmt.clone()).list(&one).await;
    match (nodes, sets) {
        (Ok(nodes), Ok(sets)) if nodes.items.is_empty() && sets.items.is_empty() => {
            ManagementMode::ControlPlane
        }
        (Ok(_), Ok(_)) => ManagementMode::Cluster,
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(error = %describe(&error), "cannot tell whether the management cluster runs workloads: treated as a full cluster (set --management-mode)");
            ManagementMode::Cluster
        }
    }
}

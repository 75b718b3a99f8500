//! Writing the traffic objects ([`crate::control::traffic_objects`]) to a cluster: each
//! object applied server-side as fleetplan's field manager, the namespace created when
//! missing, and this owner's objects that are no longer wanted deleted. An object of the
//! same name that another writer owns is left alone and reported.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::control::desired::{FIELD_MANAGER, MANAGED_BY_LABEL};
use crate::control::traffic_objects::OWNER_LABEL;
use crate::live::error::{LiveError, api as api_error};
use crate::live::executor::retry;

/// What one [`TrafficWriter::sync`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Objects created or changed, by name.
    pub changed: Vec<String>,
    /// This owner's objects deleted because no host needs them any more.
    pub deleted: Vec<String>,
    /// Objects left alone because another writer owns them, and why.
    pub conflicts: Vec<(String, String)>,
}

/// Keeps one owner's objects of one kind in one namespace of a cluster.
pub struct TrafficWriter {
    client: Client,
    resource: ApiResource,
    namespace: String,
    owner: String,
    /// The cluster, for messages.
    cluster: String,
}

impl TrafficWriter {
    /// A writer of `resource` objects in `namespace` of `cluster` (reached with `client`),
    /// owning them as `owner`.
    pub fn new(client: Client, cluster: &str, resource: ApiResource, namespace: &str, owner: &str) -> Self {
        TrafficWriter {
            client,
            resource,
            namespace: namespace.into(),
            owner: owner.into(),
            cluster: cluster.into(),
        }
    }

    /// The namespace written to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The owner id its objects carry.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Makes the namespace hold exactly `objects` among this owner's objects of the kind.
    ///
    /// # Errors
    /// When the cluster cannot be reached, does not serve the kind (its CRD is not
    /// installed: the message says so), or refuses an object (naming it).
    pub async fn sync(&self, objects: &[Value]) -> Result<WriteReport, LiveError> {
        let kind = &self.resource.kind;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.namespace, &self.resource);
        let where_ = format!("in {} of cluster {}", self.namespace, self.cluster);
        let selector = format!("{MANAGED_BY_LABEL}={FIELD_MANAGER},{OWNER_LABEL}={}", self.owner);
        let owned = match api.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => list.items,
            Err(kube::Error::Api(status)) if status.code == 404 => {
                return Err(LiveError::Client {
                    cluster: self.cluster.clone(),
                    detail: format!(
                        "{kind} ({}) is not served: install its CustomResourceDefinition (fleetplan's is in adapters/kube/deploy/crds/)",
                        self.resource.api_version
                    ),
                });
            }
            Err(error) => return Err(api_error(format!("list {kind}s {where_}"))(error)),
        };
        let mut report = WriteReport::default();
        if !objects.is_empty() {
            let namespace =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}});
            let namespaces: Api<Namespace> = Api::all(self.client.clone());
            let (params, patch) = (PatchParams::apply(FIELD_MANAGER), Patch::Apply(&namespace));
            retry(
                || format!("create namespace {} in cluster {}", self.namespace, self.cluster),
                || namespaces.patch(&self.namespace, &params, &patch),
            )
            .await?;
        }
        let (force, delete) = (PatchParams::apply(FIELD_MANAGER).force(), DeleteParams::default());
        let mut wanted = BTreeSet::new();
        for object in objects {
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            wanted.insert(name.clone());
            let before = retry(|| format!("read {kind} {name} {where_}"), || api.get_opt(&name)).await?;
            if let Some(theirs) = before
                .as_ref()
                .filter(|b| b.metadata.labels.as_ref().and_then(|l| l.get(OWNER_LABEL)) != Some(&self.owner))
            {
                let holder = theirs
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(OWNER_LABEL))
                    .map_or_else(|| "not fleetplan's".to_string(), |o| format!("owned by {o}"));
                let why = format!("{kind} {name} {where_} exists, {holder}");
                report.conflicts.push((name, why));
                continue;
            }
            let patch = Patch::Apply(object);
            let after = retry(
                || format!("apply {kind} {name} {where_}"),
                || api.patch(&name, &force, &patch),
            )
            .await?;
            let version = |o: &DynamicObject| o.metadata.resource_version.clone();
            if before.as_ref().map(version) != Some(version(&after)) {
                report.changed.push(name);
            }
        }
        for object in owned {
            let Some(name) = object.metadata.name else {
                continue;
            };
            if !wanted.contains(&name) {
                retry(
                    || format!("delete {kind} {name} {where_}"),
                    || api.delete(&name, &delete),
                )
                .await?;
                report.deleted.push(name);
            }
        }
        Ok(report)
    }
}

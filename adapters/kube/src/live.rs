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
//! **A snapshot** of one cluster ([`ClusterWatch`]) reads its nodes and pods, kept by watches,
//! exactly as a kubectl dump of the same objects is read: nodes to pools, bound pods to used
//! resources, and pods of the opted-in workloads (matched by namespace and selector) to
//! running replicas.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use fleetplan::fargate::{FargateProfile, FargateSettings};
use fleetplan::follow::{Dependent, ObjectRef};
use fleetplan::{Cluster, Health, Labels, Running};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Secret};
use kube::api::{Api, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, Store, reflector, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config};
use serde::Serialize;

use crate::dependents::{FollowKind, dependent_objects, dependents};
use crate::files::dump::{ClusterMeta, read_dump};
use crate::error::describe;
use crate::error::{LoadError, Location};
use crate::files::fleet::{
    FargateMerge, FargateProfileSpec, account_id, fargate_profiles, is_concise, read_concise,
};
use crate::files::source::{Document, Site, parse_documents};
use crate::files::workloads::{AppWorkload, Apps, apps_from_documents};

/// The default namespace of cluster registrations.
pub const REGISTRY_NAMESPACE: &str = "fleetplan-system";
/// The label, `"true"`, that makes a Secret a cluster registration.
pub const CLUSTER_LABEL: &str = "fleetplan.io/cluster";
/// The label giving a registered cluster's region.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
/// The Secret key holding the kubeconfig.
pub const KUBECONFIG_KEY: &str = "kubeconfig";
/// The annotation, `"true"`, that drains a registered cluster.
pub const DRAIN_ANNOTATION: &str = "fleetplan.io/drain";
/// The annotation listing a registered cluster's Fargate profiles.
pub const FARGATE_PROFILES_ANNOTATION: &str = "fleetplan.io/fargate-profiles";
/// The annotation giving a registered cluster's AWS account id.
pub const ACCOUNT_ANNOTATION: &str = "fleetplan.io/aws-account";
/// The ConfigMap, in the registry namespace, of fleet-wide settings.
pub const FLEET_CONFIGMAP: &str = "fleetplan-fleet";
/// The key of [`FLEET_CONFIGMAP`] holding the Fleet document.
pub const FLEET_KEY: &str = "fleet.yaml";
/// The label, `"true"`, that opts a management-cluster Deployment or Job in.
pub const SCHEDULE_LABEL: &str = "fleetplan.io/schedule";

/// A registered workload cluster.
#[derive(Clone)]
pub struct Registration {
    /// The cluster's name (the Secret's).
    pub name: String,
    /// Its region.
    pub region: String,
    /// Its labels (the Secret's, less [`CLUSTER_LABEL`]).
    pub labels: Labels,
    /// Whether it is being drained.
    pub draining: bool,
    /// Its AWS account, if given.
    pub account: Option<String>,
    /// Its Fargate profiles.
    pub fargate_profiles: Vec<FargateProfile>,
    /// The Secret's resource version, to notice a changed kubeconfig.
    pub version: String,
    kubeconfig: Kubeconfig,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("region", &self.region)
            .field("labels", &self.labels)
            .field("draining", &self.draining)
            .field("account", &self.account)
            .field("fargate_profiles", &self.fargate_profiles)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// Reads a registration Secret.
    ///
    /// # Errors
    /// A [`LoadError`] naming the Secret and the field: no name, no region label, no
    /// `kubeconfig` key, one that is not a kubeconfig, or an invalid account or Fargate
    /// profile annotation.
    pub fn from_secret(secret: &Secret) -> Result<Registration, LoadError> {
        let namespace = secret.metadata.namespace.clone().unwrap_or_default();
        let name = secret.metadata.name.clone().unwrap_or_default();
        let at = |field: &str| {
            Box::new(Location {
                file: PathBuf::from("the management cluster"),
                object: Some(format!("Secret {namespace}/{name}")),
                field: Some(field.into()),
            })
        };
        let invalid = |field: &str, message: &str| LoadError::Invalid {
            at: at(field),
            message: message.into(),
        };
        if name.is_empty() {
            return Err(invalid("metadata.name", "missing"));
        }
        let mut labels: Labels = secret
            .metadata
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        labels.remove(CLUSTER_LABEL);
        let region = labels
            .get(REGION_LABEL)
            .filter(|r| !r.is_empty())
            .cloned()
            .ok_or_else(|| {
                invalid(
                    &format!("metadata.labels[{REGION_LABEL}]"),
                    "missing: the cluster's region",
                )
            })?;
        let field = format!("data.{KUBECONFIG_KEY}");
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(KUBECONFIG_KEY))
            .ok_or_else(|| invalid(&field, "missing: the cluster's kubeconfig"))?;
        let text = std::str::from_utf8(&bytes.0).map_err(|_| invalid(&field, "not UTF-8 text"))?;
        // The parser's message could quote the credentials: it is not repeated.
        let kubeconfig =
            Kubeconfig::from_yaml(text).map_err(|_| invalid(&field, "not a valid kubeconfig"))?;
        if kubeconfig.current_context.is_none() {
            return Err(invalid(&field, "the kubeconfig has no current-context"));
        }
        let annotations = secret.metadata.annotations.clone().unwrap_or_default();
        let draining = annotations.get(DRAIN_ANNOTATION).is_some_and(|v| v == "true");
        let site = Site {
            file: PathBuf::from("the management cluster"),
            object: format!("Secret {namespace}/{name}"),
        };
        let annotation = |key: &str| format!("metadata.annotations[{key}]");
        let account = annotations
            .get(ACCOUNT_ANNOTATION)
            .map(|text| account_id(&serde_json::Value::String(text.clone())))
            .transpose()
            .map_err(|m| site.invalid(annotation(ACCOUNT_ANNOTATION), m))?;
        let fargate_profiles = match annotations.get(FARGATE_PROFILES_ANNOTATION) {
            None => Vec::new(),
            Some(text) => {
                let field = annotation(FARGATE_PROFILES_ANNOTATION);
                let specs: Vec<FargateProfileSpec> = serde_norway::from_str(text).map_err(|e| {
                    site.invalid(
                        &field,
                        format!("expected a list of Fargate profiles ({{name, selectors}}): {e}"),
                    )
                })?;
                fargate_profiles(&specs, &site, &field)?
            }
        };
        Ok(Registration {
            account,
            fargate_profiles,
            version: secret.metadata.resource_version.clone().unwrap_or_default(),
            name,
            region,
            labels,
            draining,
            kubeconfig,
        })
    }

    /// A client for the cluster, from its kubeconfig's current context.
    ///
    /// # Errors
    /// When the kubeconfig cannot make a client (the message never quotes credentials).
    pub async fn client(&self) -> Result<Client, String> {
        let config = Config::from_custom_kubeconfig(self.kubeconfig.clone(), &KubeConfigOptions::default())
            .await
            .map_err(|e| format!("cluster {}: cannot use its kubeconfig: {e}", self.name))?;
        Client::try_from(config).map_err(|e| format!("cluster {}: cannot make a client: {e}", self.name))
    }
}

/// The registrations in `namespace`, by name. A registration that does not read is an error
/// naming the Secret.
///
/// # Errors
/// When the Secrets cannot be listed, or one is not a valid registration.
pub async fn read_registry(mgmt: &Client, namespace: &str) -> Result<Vec<Registration>, String> {
    let api: Api<Secret> = Api::namespaced(mgmt.clone(), namespace);
    let list = api
        .list(&ListParams::default().labels(&format!("{CLUSTER_LABEL}=true")))
        .await
        .map_err(|e| {
            format!(
                "cannot list cluster registrations in namespace {namespace}: {}",
                describe(&e)
            )
        })?;
    let mut registrations: Vec<Registration> = list
        .items
        .iter()
        .map(Registration::from_secret)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    registrations.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(registrations)
}

/// The fleet-wide settings in the ConfigMap [`FLEET_CONFIGMAP`] of `namespace`: its Fargate
/// quotas and rates; the defaults without the ConfigMap.
///
/// # Errors
/// When the ConfigMap cannot be read, has no [`FLEET_KEY`], or that is not a Fleet document
/// holding only `fargate` (the message names the ConfigMap, document and field).
pub async fn read_fleet_settings(mgmt: &Client, namespace: &str) -> Result<FargateSettings, String> {
    let api: Api<ConfigMap> = Api::namespaced(mgmt.clone(), namespace);
    let map = api.get_opt(FLEET_CONFIGMAP).await.map_err(|e| {
        format!(
            "cannot read the fleet settings (ConfigMap {namespace}/{FLEET_CONFIGMAP}): {}",
            describe(&e)
        )
    })?;
    let Some(map) = map else {
        return Ok(FargateSettings::default());
    };
    let file = PathBuf::from(format!(
        "ConfigMap {namespace}/{FLEET_CONFIGMAP}, key {FLEET_KEY}"
    ));
    let text = map.data.as_ref().and_then(|d| d.get(FLEET_KEY)).ok_or_else(|| {
        format!(
            "{}: missing (a Fleet document with a `fargate` section)",
            file.display()
        )
    })?;
    fleet_settings(text, &file).map_err(|e| e.to_string())
}

/// The Fargate settings of the Fleet documents of `text`, read from `file`.
fn fleet_settings(text: &str, file: &std::path::Path) -> Result<FargateSettings, LoadError> {
    let mut merge = FargateMerge::default();
    for document in parse_documents(text, file)? {
        let at = |field: &str| {
            Box::new(Location {
                file: file.to_path_buf(),
                object: Some(format!("document {}", document.number)),
                field: Some(field.into()),
            })
        };
        if !is_concise(&document.value) {
            return Err(LoadError::Invalid {
                at: at("kind"),
                message: "expected a `fleetplan.io/v1` `Fleet` document".into(),
            });
        }
        let fleet = read_concise(&document.value, file)?;
        let field = match (fleet.clusters.is_empty(), fleet.current.is_empty()) {
            (false, _) => Some("clusters"),
            (_, false) => Some("current"),
            _ => None,
        };
        if let Some(field) = field {
            return Err(LoadError::Invalid {
                at: at(field),
                message:
                    "not read here: clusters come from the registry and running replicas from the clusters; \
                          give only `fargate`"
                        .into(),
            });
        }
        merge.add(fleet.fargate)?;
    }
    Ok(merge.finish())
}

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
    /// [`crate::executor::desired_dependents`]).
    pub fn dependent_objects(&self) -> BTreeMap<ObjectRef, serde_json::Value> {
        dependent_objects(&self.apps.carried)
    }

    /// The planned workloads.
    pub fn workloads(&self) -> Vec<fleetplan::Workload> {
        self.apps.workloads.iter().map(|a| a.workload.clone()).collect()
    }

    /// Every workload's object as read, by id (for [`crate::executor::desired_objects`]).
    pub fn objects(&self) -> BTreeMap<fleetplan::WorkloadId, serde_json::Value> {
        self.apps
            .workloads
            .iter()
            .map(|a| (a.workload.id.clone(), a.source.clone()))
            .collect()
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
pub async fn read_sources(mgmt: &Client) -> Result<Sources, String> {
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
            let list = api.list(&ListParams::default()).await.map_err(|e| {
                format!(
                    "cannot list the {}s of namespace {namespace} (they follow its workloads): {}",
                    kind.name(),
                    describe(&e)
                )
            })?;
            for item in list.items {
                documents.push(document(&origin, &resource.api_version, &resource.kind, item)?);
            }
        }
    }
    let apps = apps_from_documents(documents).map_err(|e| e.to_string())?;
    let dependents = dependents(&apps.workloads, &apps.carried).map_err(|e| e.to_string())?;
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
) -> Result<(), String>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + Serialize + fmt::Debug,
{
    let api: Api<K> = Api::all(mgmt.clone());
    let list = api
        .list(params)
        .await
        .map_err(|e| format!("cannot list opted-in {kind}s: {}", describe(&e)))?;
    for item in list.items {
        documents.push(source(document(origin, api_version, kind, item)?));
    }
    Ok(())
}

/// An object read from a cluster as a document, without its managed fields.
fn document(
    origin: &std::path::Path,
    api_version: &str,
    kind: &str,
    object: impl Serialize,
) -> Result<Document, String> {
    let mut value = serde_json::to_value(object).map_err(|e| format!("cannot read a {kind}: {e}"))?;
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

/// One cluster as it is now: its pools and the running replicas of `sources`.
pub struct Snapshot {
    /// The cluster, Ready (or Draining when its registration says so).
    pub cluster: Cluster,
    /// Running replicas of the opted-in workloads.
    pub running: Vec<Running>,
    /// Replicas of each opted-in workload whose pod is Ready.
    pub ready: BTreeMap<fleetplan::WorkloadId, u32>,
}

/// One cluster's nodes and pods, kept up to date by watches (kube-runtime reflectors) from
/// [`ClusterWatch::start`] until it is dropped.
pub struct ClusterWatch {
    client: Client,
    nodes: Store<Node>,
    pods: Store<Pod>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ClusterWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Runs a reflector of `K` into `writer` until aborted, with the watcher's default backoff
/// on errors.
fn reflect<K>(api: Api<K>, writer: Writer<K>) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let stream = reflector(writer, watcher(api, watcher::Config::default()).default_backoff());
    tokio::spawn(stream.for_each(|_| futures::future::ready(())))
}

impl ClusterWatch {
    /// Starts watching the cluster's nodes and pods.
    pub fn start(client: Client) -> Self {
        let (nodes, node_writer) = reflector::store::<Node>();
        let (pods, pod_writer) = reflector::store::<Pod>();
        let tasks = vec![
            reflect(Api::<Node>::all(client.clone()), node_writer),
            reflect(Api::<Pod>::all(client.clone()), pod_writer),
        ];
        ClusterWatch {
            client,
            nodes,
            pods,
            tasks,
        }
    }

    /// The cluster as its watches see it, after checking within `timeout` that its API
    /// server answers (watches alone would serve a dead cluster's last state).
    ///
    /// # Errors
    /// When the API server does not answer, refuses the lists (the message says why, such as
    /// "forbidden"), or the watches have not listed everything yet within `timeout`; or a
    /// node cannot be read (the message names it).
    pub async fn snapshot(
        &self,
        registration: &Registration,
        sources: &Sources,
        timeout: Duration,
    ) -> Result<Snapshot, String> {
        let name = &registration.name;
        let check = async {
            self.client.apiserver_version().await.map_err(|e| describe(&e))?;
            let synced = async {
                let _ = self.nodes.wait_until_ready().await;
                let _ = self.pods.wait_until_ready().await;
            };
            if tokio::time::timeout(Duration::from_millis(200), synced)
                .await
                .is_err()
            {
                // Not listed yet: a direct list says why, or waits for the watches.
                let one = ListParams::default().limit(1);
                Api::<Node>::all(self.client.clone())
                    .list(&one)
                    .await
                    .map_err(|e| describe(&e))?;
                Api::<Pod>::all(self.client.clone())
                    .list(&one)
                    .await
                    .map_err(|e| describe(&e))?;
                let _ = self.nodes.wait_until_ready().await;
                let _ = self.pods.wait_until_ready().await;
            }
            Ok::<_, String>(())
        };
        tokio::time::timeout(timeout, check)
            .await
            .map_err(|_| format!("cluster {name}: no answer within {} s", timeout.as_secs()))?
            .map_err(|e| format!("cluster {name}: {e}"))?;
        let origin = PathBuf::from(format!("cluster {name}"));
        let (nodes, pods) = (self.nodes.state(), self.pods.state());
        let mut documents = Vec::with_capacity(nodes.len() + pods.len());
        for node in nodes {
            documents.push(document(&origin, "v1", "Node", &*node)?);
        }
        for pod in pods {
            documents.push(document(&origin, "v1", "Pod", &*pod)?);
        }
        let health = if registration.draining {
            Health::Draining
        } else {
            Health::Ready
        };
        let meta = ClusterMeta::live(
            registration.labels.clone(),
            registration.region.clone(),
            registration.account.clone(),
            registration.fargate_profiles.clone(),
            health,
            Location::file(&origin),
        );
        let dump = read_dump(
            name.clone(),
            &origin,
            &documents,
            Some(&meta),
            sources.app_workloads(),
        )
        .map_err(|e| e.to_string())?;
        Ok(Snapshot {
            cluster: dump.cluster,
            running: dump.running,
            ready: dump.ready,
        })
    }
}

/// The scheduling-gate policy for a full management cluster (see the README): applied as is
/// with `kubectl apply -f adapters/kube/deploy/hold-in-management.yaml`.
pub const HOLD_POLICY: &str = include_str!("../deploy/hold-in-management.yaml");

/// The registration Secret of `cluster` in `namespace` (see the module documentation): its
/// region and labels, its account and Fargate profiles as annotations, and `kubeconfig`
/// with the context named like the cluster made current.
///
/// # Errors
/// When the kubeconfig has no context of that name.
pub fn registration_secret(
    cluster: &Cluster,
    kubeconfig: &Kubeconfig,
    namespace: &str,
) -> Result<serde_json::Value, String> {
    let name = cluster.name.as_str();
    if !kubeconfig.contexts.iter().any(|c| c.name == name) {
        return Err(format!("the kubeconfig has no context `{name}`"));
    }
    let mut own = kubeconfig.clone();
    own.current_context = Some(name.to_string());
    let text = serde_json::to_string(&own).map_err(|e| format!("cannot write a kubeconfig: {e}"))?;
    let mut labels: serde_json::Map<String, serde_json::Value> = cluster
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!(v)))
        .collect();
    labels.insert(CLUSTER_LABEL.into(), serde_json::json!("true"));
    labels.insert(REGION_LABEL.into(), serde_json::json!(cluster.region.as_str()));
    let mut annotations = serde_json::Map::new();
    if let Some(account) = &cluster.account {
        annotations.insert(ACCOUNT_ANNOTATION.into(), serde_json::json!(account));
    }
    let profiles: Vec<&FargateProfile> = cluster.pools.iter().filter_map(|p| p.fargate.as_ref()).collect();
    if !profiles.is_empty() {
        let profiles = serde_json::to_string(&profiles).map_err(|e| format!("cannot write profiles: {e}"))?;
        annotations.insert(FARGATE_PROFILES_ANNOTATION.into(), serde_json::json!(profiles));
    }
    Ok(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
        "type": "Opaque",
        "stringData": {KUBECONFIG_KEY: text},
    }))
}

/// The fleet-settings ConfigMap ([`FLEET_CONFIGMAP`] in `namespace`) holding `text`, a Fleet
/// document with only its `fargate` section, read from `file`.
///
/// # Errors
/// When `text` is not such a document (the error names the file, document and field).
pub fn fleet_settings_configmap(
    text: &str,
    file: &std::path::Path,
    namespace: &str,
) -> Result<serde_json::Value, LoadError> {
    fleet_settings(text, file)?;
    Ok(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": FLEET_CONFIGMAP, "namespace": namespace},
        "data": {FLEET_KEY: text},
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: east\ncontexts:\n- name: east\n  context: {cluster: east, user: admin}\nclusters:\n- name: east\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: admin\n  user: {token: s3cr3t-token}\n";

    fn secret(labels: &[(&str, &str)], kubeconfig: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("east".into()),
                namespace: Some(REGISTRY_NAMESPACE.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                annotations: Some(BTreeMap::from([(DRAIN_ANNOTATION.into(), "true".into())])),
                ..ObjectMeta::default()
            },
            data: kubeconfig
                .map(|k| BTreeMap::from([(KUBECONFIG_KEY.into(), ByteString(k.as_bytes().to_vec()))])),
            ..Secret::default()
        }
    }

    #[test]
    fn a_registration_reads_region_labels_and_drain_and_hides_the_kubeconfig() {
        let s = secret(
            &[
                (CLUSTER_LABEL, "true"),
                (REGION_LABEL, "us-east-1"),
                ("env", "prod"),
            ],
            Some(KUBECONFIG),
        );
        let r = Registration::from_secret(&s).unwrap();
        assert_eq!(
            (r.name.as_str(), r.region.as_str(), r.draining),
            ("east", "us-east-1", true)
        );
        assert_eq!(r.labels.get("env").map(String::as_str), Some("prod"));
        assert!(!r.labels.contains_key(CLUSTER_LABEL));
        let shown = format!("{r:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn a_written_registration_reads_back_with_its_profiles_and_account() {
        use fleetplan::NodePool;
        use fleetplan::fargate::FargateSelector;
        let mut cluster = Cluster::new("east", "us-east-1");
        cluster.account = Some("123456789012".into());
        cluster.labels.insert("env".into(), "prod".into());
        let profile = FargateProfile::new("fp-shop", vec![FargateSelector::new("shop")]);
        cluster.pools.push(NodePool::fargate(profile.clone()));
        let kubeconfig = Kubeconfig::from_yaml(KUBECONFIG).unwrap();
        let written = registration_secret(&cluster, &kubeconfig, REGISTRY_NAMESPACE).unwrap();
        let mut secret: Secret = serde_json::from_value(written).unwrap();
        // The API server turns stringData into data.
        let text = secret.string_data.take().unwrap().remove(KUBECONFIG_KEY).unwrap();
        secret.data = Some(BTreeMap::from([(
            KUBECONFIG_KEY.into(),
            ByteString(text.into_bytes()),
        )]));
        let read = Registration::from_secret(&secret).unwrap();
        assert_eq!((read.name.as_str(), read.region.as_str()), ("east", "us-east-1"));
        assert_eq!(read.account.as_deref(), Some("123456789012"));
        assert_eq!(read.labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(read.fargate_profiles, [profile]);
        let missing = registration_secret(
            &Cluster::new("west", "us-west-2"),
            &kubeconfig,
            REGISTRY_NAMESPACE,
        );
        assert_eq!(missing.unwrap_err(), "the kubeconfig has no context `west`");
    }

    #[test]
    fn registration_errors_name_the_secret_and_field_without_credentials() {
        let no_region = secret(&[(CLUSTER_LABEL, "true")], Some(KUBECONFIG));
        let e = Registration::from_secret(&no_region).unwrap_err().to_string();
        assert!(
            e.contains("Secret fleetplan-system/east") && e.contains(REGION_LABEL),
            "{e}"
        );
        let no_config = secret(&[(REGION_LABEL, "us-east-1")], None);
        let e = Registration::from_secret(&no_config).unwrap_err().to_string();
        assert!(e.contains("data.kubeconfig") && e.contains("missing"), "{e}");
        let bad = secret(&[(REGION_LABEL, "us-east-1")], Some("token: s3cr3t-token: ["));
        let e = Registration::from_secret(&bad).unwrap_err().to_string();
        assert!(
            e.contains("not a valid kubeconfig") && !e.contains("s3cr3t"),
            "{e}"
        );
    }

    #[test]
    fn a_registration_reads_its_account_and_fargate_profiles_and_names_bad_ones() {
        let mut s = secret(
            &[(CLUSTER_LABEL, "true"), (REGION_LABEL, "us-east-1")],
            Some(KUBECONFIG),
        );
        let annotations = s.metadata.annotations.get_or_insert_default();
        annotations.insert(ACCOUNT_ANNOTATION.into(), "012345678901".into());
        annotations.insert(
            FARGATE_PROFILES_ANNOTATION.into(),
            "- name: fp-shop\n  selectors: [{namespace: shop}]\n- {name: fp-batch, selectors: [{namespace: batch, labels: {compute: fargate}}]}\n".into(),
        );
        let r = Registration::from_secret(&s).unwrap();
        assert_eq!(r.account.as_deref(), Some("012345678901"));
        let names: Vec<&str> = r.fargate_profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["fp-shop", "fp-batch"]);
        assert_eq!(r.fargate_profiles[1].selectors[0].labels["compute"], "fargate");

        let with = |key: &str, value: &str| {
            let mut bad = s.clone();
            bad.metadata
                .annotations
                .get_or_insert_default()
                .insert(key.into(), value.into());
            Registration::from_secret(&bad).unwrap_err().to_string()
        };
        let e = with(
            FARGATE_PROFILES_ANNOTATION,
            "- {name: fp, selectors: [{namespace: ''}]}",
        );
        assert!(
            e.contains("Secret fleetplan-system/east")
                && e.contains(
                    "metadata.annotations[fleetplan.io/fargate-profiles][0].selectors[0].namespace"
                ),
            "{e}"
        );
        let e = with(FARGATE_PROFILES_ANNOTATION, "{name: fp}");
        assert!(e.contains("expected a list of Fargate profiles"), "{e}");
        let e = with(ACCOUNT_ANNOTATION, " ");
        assert!(
            e.contains("metadata.annotations[fleetplan.io/aws-account]"),
            "{e}"
        );
    }

    #[test]
    fn fleet_settings_take_only_the_fargate_section() {
        let file = std::path::Path::new("ConfigMap fleetplan-system/fleetplan-fleet, key fleet.yaml");
        let settings = fleet_settings(
            "apiVersion: fleetplan.io/v1\nkind: Fleet\nfargate:\n  quotas:\n  - {region: us-west-2, vcpus: 16}\n",
            file,
        )
        .unwrap();
        assert_eq!(settings.quota_vcpus(None, "us-west-2"), 16);
        assert_eq!(
            settings.quota_vcpus(None, "eu-west-1"),
            fleetplan::fargate::DEFAULT_QUOTA_VCPUS
        );
        let e = fleet_settings(
            "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- {name: a, region: r}\n",
            file,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("fleetplan-fleet") && e.contains("clusters") && e.contains("registry"),
            "{e}"
        );
        let e = fleet_settings("apiVersion: v1\nkind: ConfigMap\n", file)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected a `fleetplan.io/v1` `Fleet` document"), "{e}");
    }
}

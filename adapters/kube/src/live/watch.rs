//! What one workload cluster runs now: its nodes and pods, kept by watches, read into a
//! [`Snapshot`] exactly as a kubectl dump of the same objects is read.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use fleetplan::{Cluster, Health, Running};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::{Store, reflector, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};

use super::registry::Registration;
use super::sources::{Sources, document};
use crate::error::Location;
use crate::files::dump::{ClusterMeta, read_dump};
use crate::live::error::{LiveError, api as api_error};

/// One cluster as it is now: its pools and the running replicas of `sources`.
pub struct Snapshot {
    /// The cluster, Ready (or Draining when its registration says so).
    pub cluster: Cluster,
    /// Running replicas of the opted-in workloads.
    pub running: Vec<Running>,
    /// Replicas of each opted-in workload whose pod is Ready.
    pub ready: BTreeMap<fleetplan::WorkloadId, u32>,
    /// Replicas of each opted-in workload whose pod is Pending on no node.
    pub pending: BTreeMap<fleetplan::WorkloadId, u32>,
}

/// How long a watch waits before it tries again after an error: from half a second,
/// doubling, at most four seconds (client-go's reflector goes up to thirty, which would let a
/// controller plan on a stale view for that long after its API server came back; a few
/// watches retrying every four seconds weigh nothing on an API server).
#[derive(Clone, Copy, Debug)]
struct Retry {
    next: Duration,
}

impl Retry {
    const FIRST: Duration = Duration::from_millis(500);
    const MOST: Duration = Duration::from_secs(4);
}

impl Default for Retry {
    fn default() -> Self {
        Retry { next: Retry::FIRST }
    }
}

impl Iterator for Retry {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let now = self.next;
        self.next = (now * 2).min(Retry::MOST);
        Some(now)
    }
}

impl kube::runtime::utils::Backoff for Retry {
    fn reset(&mut self) {
        *self = Retry::default();
    }
}

/// One kind of object kept up to date by a watch (a kube-runtime reflector) from
/// [`Reflected::start`] until it is dropped.
pub(super) struct Reflected<K: kube::Resource + 'static>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store: Store<K>,
    api: Api<K>,
    params: ListParams,
    task: tokio::task::JoinHandle<()>,
}

impl<K: kube::Resource + 'static> Drop for Reflected<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<K> Reflected<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
{
    /// Watches what `api` lists with `params` (labels, fields), trying again after errors
    /// ([`Retry`]); `kind` is the dynamic type of `K` (`()` for typed objects).
    pub(super) fn start(api: Api<K>, params: ListParams, kind: K::DynamicType) -> Self {
        let writer = Writer::new(kind);
        let store = writer.as_reader();
        let mut config = watcher::Config::default();
        if let Some(labels) = &params.label_selector {
            config = config.labels(labels);
        }
        if let Some(fields) = &params.field_selector {
            config = config.fields(fields);
        }
        let stream = reflector(writer, watcher(api.clone(), config).backoff(Retry::default()));
        Reflected {
            store,
            api,
            params,
            task: tokio::spawn(stream.for_each(|_| futures::future::ready(()))),
        }
    }

    /// Waits until the watch has listed everything once; when that takes long, a direct list
    /// says why (the error names `what`, such as "forbidden"), or the wait goes on.
    ///
    /// # Errors
    /// When the direct list fails.
    pub(super) async fn synced(&self, what: &str) -> Result<(), LiveError> {
        if tokio::time::timeout(Duration::from_millis(200), self.store.wait_until_ready())
            .await
            .is_err()
        {
            self.api
                .list(&self.params.clone().limit(1))
                .await
                .map_err(api_error(what.to_string()))?;
            let _ = self.store.wait_until_ready().await;
        }
        Ok(())
    }

    /// Everything watched now, in namespace and name order (as a list returns it).
    pub(super) fn state(&self) -> Vec<std::sync::Arc<K>> {
        let mut items = self.store.state();
        items.sort_by(|a, b| {
            let (a, b) = (a.meta(), b.meta());
            (a.namespace.as_deref(), a.name.as_deref()).cmp(&(b.namespace.as_deref(), b.name.as_deref()))
        });
        items
    }
}

/// Checks within `timeout` that `client`'s API server answers (its version: watches alone
/// would serve a stopped API server's last state), then runs `read` (which reads from the
/// watches) in what is left of `timeout`. The errors name `what`.
///
/// # Errors
/// When the API server does not answer or refuses, or `read` fails or does not finish.
pub(super) async fn answered_then<T>(
    client: &Client,
    what: &str,
    timeout: Duration,
    read: impl Future<Output = Result<T, LiveError>>,
) -> Result<T, LiveError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let late = |action: String| LiveError::Timeout {
        action,
        seconds: timeout.as_secs(),
    };
    tokio::time::timeout(timeout, client.apiserver_version())
        .await
        .map_err(|_| late(format!("{what}: version")))?
        .map_err(api_error(format!("{what}: version")))?;
    tokio::time::timeout_at(deadline, read).await.map_err(|_| {
        late(format!(
            "{what}: its watches have not listed everything yet (the RBAC must grant list and watch)"
        ))
    })?
}

/// One cluster's nodes and pods, kept up to date by watches from [`ClusterWatch::start`] until
/// it is dropped.
pub struct ClusterWatch {
    client: Client,
    nodes: Reflected<Node>,
    pods: Reflected<Pod>,
}

impl ClusterWatch {
    /// Starts watching the cluster's nodes and pods.
    pub fn start(client: Client) -> Self {
        ClusterWatch {
            nodes: Reflected::start(Api::all(client.clone()), ListParams::default(), ()),
            pods: Reflected::start(Api::all(client.clone()), ListParams::default(), ()),
            client,
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
    ) -> Result<Snapshot, LiveError> {
        let name = &registration.name;
        let synced = async {
            self.nodes.synced(&format!("cluster {name}: list nodes")).await?;
            self.pods.synced(&format!("cluster {name}: list pods")).await
        };
        answered_then(&self.client, &format!("cluster {name}"), timeout, synced).await?;
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
        )?;
        Ok(Snapshot {
            cluster: dump.cluster,
            running: dump.running,
            ready: dump.ready,
            pending: dump.pending,
        })
    }
}

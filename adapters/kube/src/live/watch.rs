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
use kube::runtime::reflector::{self, Store, reflector, store::Writer};
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
    ) -> Result<Snapshot, LiveError> {
        let name = &registration.name;
        let check = async {
            self.client
                .apiserver_version()
                .await
                .map_err(api_error(format!("cluster {name}: version")))?;
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
                    .map_err(api_error(format!("cluster {name}: list nodes")))?;
                Api::<Pod>::all(self.client.clone())
                    .list(&one)
                    .await
                    .map_err(api_error(format!("cluster {name}: list pods")))?;
                let _ = self.nodes.wait_until_ready().await;
                let _ = self.pods.wait_until_ready().await;
            }
            Ok::<_, LiveError>(())
        };
        tokio::time::timeout(timeout, check)
            .await
            .map_err(|_| LiveError::Timeout {
                action: format!("cluster {name}: snapshot"),
                seconds: timeout.as_secs(),
            })??;
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
        })
    }
}

//! The management cluster as a pass reads it: the cluster registrations and the opted-in
//! sources, kept by watches (so a pass reads them from memory instead of listing them), and
//! the fleet-wide settings, read each pass (one small object). A pass first checks that the
//! API server answers: the watches alone would serve a stopped management cluster's last
//! state, and nothing is planned on that.

use std::time::Duration;

use fleetplan::fargate::FargateSettings;
use kube::Client;

use super::registry::{Registration, RegistryWatch, read_fleet_settings};
use super::sources::{Sources, SourcesWatch};
use super::watch::answered_then;
use crate::live::error::LiveError;

/// What a pass reads from the management cluster.
pub struct Management {
    /// The registered clusters, by name.
    pub registrations: Vec<Registration>,
    /// The fleet-wide Fargate settings.
    pub fargate: FargateSettings,
    /// The opted-in workloads and what may follow them.
    pub sources: Sources,
}

/// The management cluster, watched from [`ManagementWatch::start`] until it is dropped.
pub struct ManagementWatch {
    mgmt: Client,
    namespace: String,
    registry: RegistryWatch,
    sources: SourcesWatch,
}

impl ManagementWatch {
    /// Starts watching `mgmt`, its registrations in `registry_namespace`.
    pub fn start(mgmt: Client, registry_namespace: &str) -> Self {
        ManagementWatch {
            registry: RegistryWatch::start(mgmt.clone(), registry_namespace),
            sources: SourcesWatch::start(mgmt.clone()),
            namespace: registry_namespace.to_string(),
            mgmt,
        }
    }

    /// The management cluster now, within `timeout`.
    ///
    /// # Errors
    /// When the API server does not answer within `timeout`, refuses a read (the message
    /// says why, such as "forbidden"), or a registration, the fleet settings or a source is
    /// invalid (the message names it).
    pub async fn read(&mut self, timeout: Duration) -> Result<Management, LiveError> {
        let read = async {
            Ok(Management {
                registrations: self.registry.read().await?,
                fargate: read_fleet_settings(&self.mgmt, &self.namespace).await?,
                sources: self.sources.read().await?,
            })
        };
        answered_then(&self.mgmt, "the management cluster", timeout, read).await
    }
}

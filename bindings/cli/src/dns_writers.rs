//! The traffic writers of the controller and of `fleetplan apply`: where the hosts' records
//! ([`fleetplan::traffic::HostTraffic`], in the stages of
//! [`fleetplan::actions::record_stages`]) go.
//! Composition only: the Route53 writer is the AWS adapter's, the `DNSEndpoint` and
//! `GlobalAccelerator` objects and their writer the Kubernetes adapter's, and the load
//! balancers' ARNs (which Global Accelerator endpoints name) come from the AWS adapter.
//!
//! A write that equals the last one is skipped, except once a minute, when everything is
//! written again (so that a record changed by hand comes back). A failed write is logged and
//! retried at the next pass; it never stops the replicas' work.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use fleetplan::traffic::HostTraffic;
use fleetplan_aws::route53::Route53Writer;
use fleetplan_kube::control::traffic_objects::{
    dns_endpoint_resource, dns_endpoints, global_accelerator_resource, global_accelerators,
};
use fleetplan_kube::live::TrafficWriter;
use kube::Client;

/// How often unchanged records are written again.
const RESYNC: Duration = Duration::from_secs(60);

/// The namespace of the `GlobalAccelerator` objects in the cluster that runs the AWS Load
/// Balancer Controller.
pub const ACCELERATOR_NAMESPACE: &str = "fleetplan-system";

/// What the controller writes the traffic to.
pub(crate) struct TrafficWriters {
    route53: Option<Route53Writer>,
    external_dns: Option<TrafficWriter>,
    accelerator: Option<(TrafficWriter, SdkConfig)>,
    written: Option<Vec<HostTraffic>>,
    synced_at: Option<Instant>,
    /// Whether Route53 hosts of this owner that are not written are removed.
    prune: bool,
}

impl TrafficWriters {
    /// Writers for the records: Route53 through `aws`, `DNSEndpoint` objects through
    /// `external_dns` (a writer of the management cluster), `GlobalAccelerator` objects
    /// through `accelerator` (with `aws` to find the load balancers' ARNs).
    pub fn new(
        route53: Option<Route53Writer>,
        external_dns: Option<TrafficWriter>,
        accelerator: Option<(TrafficWriter, SdkConfig)>,
    ) -> Self {
        TrafficWriters {
            route53,
            external_dns,
            accelerator,
            written: None,
            synced_at: None,
            prune: true,
        }
    }

    /// The same writers, leaving this owner's other Route53 hosts alone (for a one-off
    /// apply of one scenario, which does not know the owner's other hosts).
    pub fn keeping_other_hosts(mut self) -> Self {
        self.prune = false;
        self
    }

    /// Whether nothing is written (no writer).
    pub fn is_off(&self) -> bool {
        self.route53.is_none() && self.external_dns.is_none() && self.accelerator.is_none()
    }

    /// The records written last, when the last write succeeded.
    pub fn written(&self) -> Option<&[HostTraffic]> {
        self.written.as_deref()
    }

    /// Writes `hosts` to every writer; returns what went wrong, one line per writer.
    pub async fn write(&mut self, hosts: &[HostTraffic]) -> Vec<String> {
        let fresh = self.synced_at.is_some_and(|t| t.elapsed() < RESYNC);
        if fresh && self.written.as_deref() == Some(hosts) {
            return Vec::new();
        }
        let mut errors = Vec::new();
        if let Some(route53) = &self.route53 {
            match route53.sync(hosts).await {
                Ok(report) => {
                    for (host, changes) in &report.changed {
                        tracing::info!(%host, changes, "Route53 records written");
                    }
                    for (host, why) in &report.conflicts {
                        tracing::warn!(%host, %why, "Route53 records left alone");
                        errors.push(format!("Route53 {host}: {why}"));
                    }
                    for (host, cluster) in &report.pending {
                        tracing::info!(%host, %cluster, "no Route53 record yet: its load balancer is not known");
                    }
                    let keep: BTreeSet<String> = hosts.iter().map(|h| h.host.clone()).collect();
                    let pruned = if self.prune {
                        route53.prune(&keep).await
                    } else {
                        Ok(Vec::new())
                    };
                    match pruned {
                        Ok(pruned) => {
                            for host in pruned {
                                tracing::info!(%host, "Route53 records of a host no longer planned removed");
                            }
                        }
                        Err(error) => errors.push(format!("Route53: {error}")),
                    }
                }
                Err(error) => errors.push(format!("Route53: {error}")),
            }
        }
        if let Some(writer) = &self.external_dns {
            let objects = dns_endpoints(hosts, writer.namespace(), writer.owner());
            errors.extend(sync_objects(writer, &objects.objects, "DNSEndpoint").await);
        }
        if let Some((writer, aws)) = &self.accelerator {
            let regions: BTreeSet<&str> = hosts
                .iter()
                .flat_map(|h| &h.regions)
                .map(|r| r.region.as_str())
                .collect();
            let mut arns = BTreeMap::new();
            let mut found = true;
            for region in regions {
                match fleetplan_aws::load_balancers::load_balancers(aws, region).await {
                    Ok(balancers) => arns.extend(balancers.into_iter().map(|(dns, lb)| (dns, lb.arn))),
                    Err(error) => {
                        errors.push(format!("Global Accelerator: {error}"));
                        found = false;
                    }
                }
            }
            if found {
                let objects = global_accelerators(hosts, &arns, writer.namespace(), writer.owner());
                errors.extend(sync_objects(writer, &objects.objects, "GlobalAccelerator").await);
            }
        }
        for error in &errors {
            tracing::warn!(%error, "traffic not written as planned");
        }
        if errors.is_empty() {
            self.written = Some(hosts.to_vec());
            self.synced_at = Some(Instant::now());
        } else {
            self.synced_at = None;
        }
        errors
    }
}

/// Syncs one writer's objects and logs what changed; returns its errors and conflicts.
async fn sync_objects(writer: &TrafficWriter, objects: &[serde_json::Value], kind: &str) -> Vec<String> {
    match writer.sync(objects).await {
        Ok(report) => {
            for name in &report.changed {
                tracing::info!(%name, "{kind} written");
            }
            for name in &report.deleted {
                tracing::info!(%name, "{kind} of a host no longer planned deleted");
            }
            report
                .conflicts
                .into_iter()
                .map(|(_, why)| format!("{kind}: {why}"))
                .collect()
        }
        Err(error) => vec![format!("{kind}: {error}")],
    }
}

/// A writer of `DNSEndpoint` objects in the management cluster's registry namespace.
pub fn external_dns_writer(mgmt: Client, namespace: &str, owner: &str) -> TrafficWriter {
    TrafficWriter::new(mgmt, "management", dns_endpoint_resource(), namespace, owner)
}

/// A writer of `GlobalAccelerator` objects in [`ACCELERATOR_NAMESPACE`] of the cluster
/// (kubeconfig context) `context`.
pub fn accelerator_writer(client: Client, context: &str, owner: &str) -> TrafficWriter {
    TrafficWriter::new(
        client,
        context,
        global_accelerator_resource(),
        ACCELERATOR_NAMESPACE,
        owner,
    )
}

//! The Route53 writer: keeps a hosted zone's records in step with where the plan sends each
//! host's users, through aws-sdk-route53 (and ELBv2, for each load balancer's canonical
//! hosted zone). What the records are, and the batch that gets them there, is decided in
//! [`records`] (pure, unit-tested); this module only reads and writes.
//!
//! One [`Route53Writer::sync`] lists the account's hosted zones, the load balancers of the
//! regions that serve, and the records at each host's names; then, per host it owns, sends
//! one change batch (all or nothing). A host that another writer owns is left alone and
//! reported in [`SyncReport::conflicts`].

pub mod records;

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    AliasTarget, Change as SdkChange, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet,
    ResourceRecordSetRegion, RrType,
};
use fleetplan::traffic::HostTraffic;

use crate::load_balancers::{LoadBalancerError, load_balancers};

use self::records::{
    Alias, Change, Ownership, Record, RecordKind, Route53Error, Zone, changes, check_owner, host_records,
    ownership, zone_for,
};

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A call to AWS failed.
    #[error("{call}: {detail}")]
    Api {
        /// The API call.
        call: String,
        /// What AWS said.
        detail: String,
    },
    /// ELBv2 could not be read.
    #[error(transparent)]
    LoadBalancers(#[from] LoadBalancerError),
    /// A host's records cannot be written as planned.
    #[error(transparent)]
    Records(#[from] Route53Error),
}

fn api<E: std::fmt::Display>(call: &str) -> impl Fn(E) -> DnsError + '_ {
    move |e| DnsError::Api {
        call: call.to_string(),
        detail: e.to_string(),
    }
}

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Hosts whose records changed, with the number of changes in their batch.
    pub changed: Vec<(String, usize)>,
    /// Hosts left alone because another writer owns them, and why.
    pub conflicts: Vec<(String, String)>,
    /// `(host, cluster)`: clusters with replicas whose load balancer is not known yet.
    pub pending: Vec<(String, String)>,
}

/// The traffic that a live zone's records send `host`'s users to (see
/// [`records::traffic_of`]), read with `config`'s credentials and endpoint; `None` when the
/// zone holds no record for it.
///
/// # Errors
/// When AWS cannot be reached, or no hosted zone holds the host.
pub async fn read_host(config: &SdkConfig, host: &str) -> Result<Option<HostTraffic>, DnsError> {
    let route53 = Client::new(config);
    let zones = zones(&route53).await?;
    let zone = zone_for(host, &zones)?;
    let held: Vec<Record> = records(&route53, &zone.id)
        .await?
        .into_iter()
        .filter(|r| belongs_to(&r.name, host))
        .collect();
    Ok(records::traffic_of(host, &held))
}

/// Writes one owner's records.
pub struct Route53Writer {
    route53: Client,
    config: SdkConfig,
    owner: String,
}

impl Route53Writer {
    /// A writer with `config`'s credentials and endpoint, owning records as `owner`.
    ///
    /// # Errors
    /// [`Route53Error::BadOwner`] for an owner id that cannot go into set identifiers.
    pub fn new(config: &SdkConfig, owner: &str) -> Result<Self, DnsError> {
        check_owner(owner)?;
        Ok(Route53Writer {
            route53: Client::new(config),
            config: config.clone(),
            owner: owner.to_string(),
        })
    }

    /// Brings every host's records to `hosts` (the plan's, or the controller's view of the
    /// Ready replicas, with each cluster's load balancer as its endpoint).
    ///
    /// # Errors
    /// When AWS cannot be reached, or a host's records would be refused (nothing of that
    /// host is written then; hosts before it in `hosts` are).
    pub async fn sync(&self, hosts: &[HostTraffic]) -> Result<SyncReport, DnsError> {
        let zones = zones(&self.route53).await?;
        let regions: BTreeSet<&str> = hosts
            .iter()
            .flat_map(|h| &h.regions)
            .filter(|r| r.clusters.iter().any(|c| c.endpoint.is_some()))
            .map(|r| r.region.as_str())
            .collect();
        let mut lb_zones = BTreeMap::new();
        for region in regions {
            let found = load_balancers(&self.config, region).await?;
            lb_zones.extend(found.into_iter().map(|(dns, lb)| (dns, lb.hosted_zone_id)));
        }
        let mut listed: BTreeMap<String, Vec<Record>> = BTreeMap::new();
        let mut report = SyncReport::default();
        for host in hosts {
            let zone = zone_for(&host.host, &zones)?;
            let wanted = host_records(host, zone, &self.owner, &lb_zones, |r| {
                ResourceRecordSetRegion::values().contains(&r)
            })?;
            report
                .pending
                .extend(wanted.pending.iter().map(|c| (host.host.clone(), c.clone())));
            if !listed.contains_key(&zone.id) {
                let all = records(&self.route53, &zone.id).await?;
                listed.insert(zone.id.clone(), all);
            }
            let existing: Vec<Record> = listed[&zone.id]
                .iter()
                .filter(|r| belongs_to(&r.name, &host.host))
                .cloned()
                .collect();
            if let Ownership::Theirs(why) = ownership(&host.host, &self.owner, &existing) {
                report.conflicts.push((host.host.clone(), why));
                continue;
            }
            let batch = changes(&host.host, &self.owner, &existing, &wanted.records);
            if batch.is_empty() {
                continue;
            }
            self.send(&zone.id, &host.host, &batch).await?;
            report.changed.push((host.host.clone(), batch.len()));
        }
        Ok(report)
    }

    /// Removes every record this owner wrote for `hosts` that are no longer planned: the
    /// hosts in the zone with this owner's owner record that `keep` does not name.
    ///
    /// # Errors
    /// When AWS cannot be reached.
    pub async fn prune(&self, keep: &BTreeSet<String>) -> Result<Vec<String>, DnsError> {
        let mut pruned = Vec::new();
        let ours = records::owner_value(&self.owner);
        for zone in zones(&self.route53).await? {
            let all = records(&self.route53, &zone.id).await?;
            let owned: BTreeSet<String> = all
                .iter()
                .filter(|r| r.kind == RecordKind::Txt && r.txt.as_ref().is_some_and(|t| t.0.contains(&ours)))
                .filter_map(|r| r.name.strip_prefix(records::OWNER_PREFIX).map(str::to_string))
                .collect();
            for host in owned.difference(keep) {
                let existing: Vec<Record> = all
                    .iter()
                    .filter(|r| belongs_to(&r.name, host))
                    .cloned()
                    .collect();
                let batch = changes(host, &self.owner, &existing, &[]);
                if !batch.is_empty() {
                    self.send(&zone.id, host, &batch).await?;
                    pruned.push(host.clone());
                }
            }
        }
        Ok(pruned)
    }

    async fn send(&self, zone: &str, host: &str, batch: &[Change]) -> Result<(), DnsError> {
        let mut changes = Vec::with_capacity(batch.len());
        for change in batch {
            let (action, record) = match change {
                Change::Upsert(r) => (ChangeAction::Upsert, r),
                Change::Delete(r) => (ChangeAction::Delete, r),
            };
            let built = SdkChange::builder()
                .action(action)
                .resource_record_set(to_sdk(record)?)
                .build()
                .map_err(api("building a change"))?;
            changes.push(built);
        }
        let batch = ChangeBatch::builder()
            .comment(format!("fleetplan: {host}"))
            .set_changes(Some(changes))
            .build()
            .map_err(api("building a change batch"))?;
        self.route53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| {
                api(&format!("ChangeResourceRecordSets for {host}"))(
                    aws_sdk_route53::error::DisplayErrorContext(e),
                )
            })?;
        Ok(())
    }
}

/// The account's hosted zones.
async fn zones(route53: &Client) -> Result<Vec<Zone>, DnsError> {
    let mut zones = Vec::new();
    let mut marker = None;
    loop {
        let out = route53
            .list_hosted_zones()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| api("ListHostedZones")(aws_sdk_route53::error::DisplayErrorContext(e)))?;
        for z in out.hosted_zones() {
            zones.push(Zone {
                id: z.id().trim_start_matches("/hostedzone/").to_string(),
                name: normal_name(z.name()),
            });
        }
        match out.next_marker() {
            Some(next) if out.is_truncated() => marker = Some(next.to_string()),
            _ => return Ok(zones),
        }
    }
}

/// Every A and TXT record of the zone that fleetplan could have written.
async fn records(route53: &Client, zone: &str) -> Result<Vec<Record>, DnsError> {
    let mut records = Vec::new();
    let (mut name, mut kind, mut id) = (None, None, None);
    loop {
        let page = route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .set_start_record_name(name)
            .set_start_record_type(kind)
            .set_start_record_identifier(id)
            .send()
            .await
            .map_err(|e| api("ListResourceRecordSets")(aws_sdk_route53::error::DisplayErrorContext(e)))?;
        records.extend(page.resource_record_sets().iter().filter_map(from_sdk));
        if !page.is_truncated() {
            return Ok(records);
        }
        name = page.next_record_name().map(str::to_string);
        kind = page.next_record_type().cloned();
        id = page.next_record_identifier().map(str::to_string);
        if name.is_none() {
            return Ok(records);
        }
    }
}

/// Whether a record named `name` is one of `host`'s: the host, its owner record, or a name
/// one label below it (a region's weighted records).
fn belongs_to(name: &str, host: &str) -> bool {
    name == host
        || name.strip_prefix(records::OWNER_PREFIX) == Some(host)
        || name
            .strip_suffix(host)
            .and_then(|rest| rest.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.'))
}

/// A name as Route53 returns it, as fleetplan compares it: lowercase, without the final dot,
/// with `\052` read as `*`.
fn normal_name(name: &str) -> String {
    name.trim_end_matches('.')
        .replace("\\052", "*")
        .to_ascii_lowercase()
}

fn from_sdk(r: &ResourceRecordSet) -> Option<Record> {
    let kind = match r.r#type() {
        RrType::A => RecordKind::A,
        RrType::Txt => RecordKind::Txt,
        _ => return None,
    };
    Some(Record {
        name: normal_name(r.name()),
        kind,
        set_identifier: r.set_identifier().map(str::to_string),
        weight: r.weight().and_then(|w| u32::try_from(w).ok()),
        region: r.region().map(|g| g.as_str().to_string()),
        alias: r.alias_target().map(|a| Alias {
            dns_name: normal_name(a.dns_name()),
            hosted_zone_id: a.hosted_zone_id().to_string(),
        }),
        txt: (kind == RecordKind::Txt).then(|| {
            (
                r.resource_records()
                    .iter()
                    .map(|v| v.value().to_string())
                    .collect(),
                r.ttl().unwrap_or(0),
            )
        }),
    })
}

fn to_sdk(r: &Record) -> Result<ResourceRecordSet, DnsError> {
    let mut b = ResourceRecordSet::builder().name(&r.name).r#type(match r.kind {
        RecordKind::A => RrType::A,
        RecordKind::Txt => RrType::Txt,
    });
    b = b.set_set_identifier(r.set_identifier.clone());
    if let Some(w) = r.weight {
        b = b.weight(i64::from(w));
    }
    if let Some(region) = &r.region {
        b = b.region(ResourceRecordSetRegion::from(region.as_str()));
    }
    if let Some(alias) = &r.alias {
        let target = AliasTarget::builder()
            .dns_name(&alias.dns_name)
            .hosted_zone_id(&alias.hosted_zone_id)
            .evaluate_target_health(true)
            .build()
            .map_err(api("building an alias target"))?;
        b = b.alias_target(target);
    }
    if let Some((values, ttl)) = &r.txt {
        b = b.ttl(*ttl);
        for v in values {
            b = b.resource_records(
                ResourceRecord::builder()
                    .value(v)
                    .build()
                    .map_err(api("building a TXT value"))?,
            );
        }
    }
    b.build().map_err(api("building a record set"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_a_host_are_the_host_its_region_names_and_its_owner_record() {
        for name in [
            "shop.example.com",
            "us-west-2.shop.example.com",
            "_fleetplan-owner.shop.example.com",
        ] {
            assert!(belongs_to(name, "shop.example.com"), "{name}");
        }
        for name in [
            "a.b.shop.example.com",
            "myshop.example.com",
            "example.com",
            ".shop.example.com",
        ] {
            assert!(!belongs_to(name, "shop.example.com"), "{name}");
        }
        assert_eq!(normal_name("\\052.Example.COM."), "*.example.com");
    }
}

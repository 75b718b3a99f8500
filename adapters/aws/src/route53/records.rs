//! Route53 records that send each host's users where the plan says (see
//! [`fleetplan::traffic`]), owned so that two writers never fight.
//!
//! Layout (Route53 allows one routing policy per name and type, and one latency record per
//! region, so latency over weighted needs two names):
//! - under [`Policy::LatencyOverWeighted`], `HOST` holds one latency record per region with a
//!   weighted cluster (Region = the region), each an alias to `REGION.HOST` in the same zone;
//!   `REGION.HOST` holds one weighted record per cluster of the region, an alias to the
//!   cluster's load balancer (its canonical hosted zone id read from ELBv2);
//! - under [`Policy::Weighted`], `HOST` holds the weighted records of every cluster;
//! - every alias evaluates its target's health, so an unhealthy load balancer (or a region
//!   whose every load balancer is unhealthy) drops out, and Route53's fail-open rule applies;
//! - `_fleetplan-owner.HOST` holds a TXT record naming the owner: a writer with another
//!   owner id (or any record at `HOST` it did not write) leaves the host alone and reports a
//!   conflict, as external-dns does with its TXT registry.
//!
//! Set identifiers are `fp-OWNER-HASH-REGION` and `fp-OWNER-HASH-CLUSTER`, where HASH is a
//! digest of the host: unique in the zone, so a DELETE never matches another host's records.
//! [`changes`] compares what the zone holds with what the plan wants and gives one batch per
//! host (Route53 applies a batch all or nothing), ordered so that an alias target exists
//! before the alias that names it. Everything Route53 would refuse is checked first; moto,
//! the local fake, accepts nonsense.

use std::collections::BTreeMap;

use fleetplan::ClusterName;
use fleetplan::traffic::{ClusterTraffic, DEFAULT_TTL, HostTraffic, MAX_WEIGHT, Policy, RegionTraffic};

/// The most weighted records Route53 takes per name and type.
pub const MAX_WEIGHTED_RECORDS: usize = 100;

/// The prefix of the name holding a host's owner record.
pub const OWNER_PREFIX: &str = "_fleetplan-owner.";

/// The owner record's value for `owner`, quoted as a TXT value is.
pub fn owner_value(owner: &str) -> String {
    format!("\"heritage=fleetplan,fleetplan/owner={owner}\"")
}

/// An alias target.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Alias {
    /// The target's DNS name, lowercase, without the final dot.
    pub dns_name: String,
    /// The target's hosted zone (a load balancer's canonical zone, or the record's own).
    pub hosted_zone_id: String,
}

/// One record set, as far as fleetplan writes them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Record {
    /// The name, lowercase, without the final dot.
    pub name: String,
    /// `A` (aliases) or `TXT` (the owner record).
    pub kind: RecordKind,
    /// The set identifier of a latency or weighted record.
    pub set_identifier: Option<String>,
    /// A weighted record's weight.
    pub weight: Option<u32>,
    /// A latency record's region.
    pub region: Option<String>,
    /// The alias target (A records).
    pub alias: Option<Alias>,
    /// The TXT values, quoted (the owner record), with their TTL.
    pub txt: Option<(Vec<String>, i64)>,
}

/// The record types fleetplan writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecordKind {
    /// An alias A record.
    A,
    /// The owner record.
    Txt,
}

/// A hosted zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    /// Its id, without the `/hostedzone/` prefix.
    pub id: String,
    /// Its name, lowercase, without the final dot.
    pub name: String,
}

/// Why a host's records cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Route53Error {
    /// No hosted zone of the account holds the host.
    #[error("host `{host}`: no hosted zone holds it (zones: {zones})")]
    NoZone {
        /// The host.
        host: String,
        /// The zones there are.
        zones: String,
    },
    /// Something Route53 would refuse.
    #[error("host `{host}`: {detail}")]
    Refused {
        /// The host.
        host: String,
        /// What Route53 would refuse.
        detail: String,
    },
    /// The owner id is not usable in a set identifier.
    #[error("owner id `{0}`: use 1 to 32 lowercase letters, digits and `-`")]
    BadOwner(String),
}

/// Checks an owner id: it goes into set identifiers (at most 128 characters in all).
pub fn check_owner(owner: &str) -> Result<(), Route53Error> {
    let ok = !owner.is_empty()
        && owner.len() <= 32
        && owner
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Route53Error::BadOwner(owner.escape_debug().to_string()))
    }
}

/// The zone holding `host`: the one with the longest matching suffix.
///
/// # Errors
/// [`Route53Error::NoZone`] when none holds it; [`Route53Error::Refused`] when two zones of
/// the same name do (a public and a private one: name the zone).
pub fn zone_for<'a>(host: &str, zones: &'a [Zone]) -> Result<&'a Zone, Route53Error> {
    let name = host.strip_prefix("*.").unwrap_or(host);
    let holds = |z: &&Zone| name == z.name || name.ends_with(&format!(".{}", z.name));
    let best = zones.iter().filter(holds).map(|z| z.name.len()).max();
    let Some(len) = best else {
        return Err(Route53Error::NoZone {
            host: host.to_string(),
            zones: zones
                .iter()
                .map(|z| z.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let matching: Vec<&Zone> = zones
        .iter()
        .filter(holds)
        .filter(|z| z.name.len() == len)
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        many => Err(Route53Error::Refused {
            host: host.to_string(),
            detail: format!(
                "several hosted zones are named {}: {}",
                many[0].name,
                many.iter().map(|z| z.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

/// A short, stable digest of a host (FNV-1a, 32 bits), to keep set identifiers unique in a
/// zone.
fn digest(host: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in host.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// The set-identifier prefix of `owner`'s records for `host`.
pub fn set_prefix(owner: &str, host: &str) -> String {
    format!("fp-{owner}-{}-", digest(host))
}

/// What one host's records should be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostRecords {
    /// The records, by name then set identifier.
    pub records: Vec<Record>,
    /// Clusters with replicas left out because their load balancer is not known yet (its
    /// Ingress copy has no address in its status): they get a record once it is.
    pub pending: Vec<String>,
}

/// The records `host` needs in `zone`, owned by `owner`; `lb_zones` maps each load
/// balancer's DNS name (lowercase) to its canonical hosted zone id. `known_region` says
/// whether Route53 takes a region in a latency record.
///
/// # Errors
/// [`Route53Error::Refused`] for what Route53 would refuse: a wildcard host under the latency
/// policy (its per-region names cannot be wildcards), a region Route53 has no latency records
/// for, more than [`MAX_WEIGHTED_RECORDS`] clusters under one name, a weight above
/// [`MAX_WEIGHT`], or a load balancer whose hosted zone is unknown.
pub fn host_records(
    host: &HostTraffic,
    zone: &Zone,
    owner: &str,
    lb_zones: &BTreeMap<String, String>,
    known_region: impl Fn(&str) -> bool,
) -> Result<HostRecords, Route53Error> {
    let refused = |detail: String| Route53Error::Refused {
        host: host.host.clone(),
        detail,
    };
    let prefix = set_prefix(owner, &host.host);
    let mut out = HostRecords::default();
    let mut weighted_at: BTreeMap<String, usize> = BTreeMap::new();
    for region in &host.regions {
        let weighted_name = match host.policy {
            Policy::LatencyOverWeighted => {
                if host.host.starts_with("*.") {
                    return Err(refused(
                        "a wildcard host cannot have latency records over weighted ones (the per-region names would be wildcards); use fleetplan.io/traffic-policy: weighted".into(),
                    ));
                }
                format!("{}.{}", region.region, host.host)
            }
            Policy::Weighted => host.host.clone(),
        };
        let mut any = false;
        for c in &region.clusters {
            if c.weight > MAX_WEIGHT {
                return Err(refused(format!(
                    "weight {} of {} is above {MAX_WEIGHT}",
                    c.weight, c.cluster
                )));
            }
            let Some(address) = c
                .endpoint
                .as_deref()
                .map(|a| a.trim_end_matches('.').to_ascii_lowercase())
            else {
                out.pending.push(c.cluster.to_string());
                continue;
            };
            let Some(lb_zone) = lb_zones.get(&address) else {
                return Err(refused(format!(
                    "no load balancer named {address} (the endpoint of {}) in ELBv2: its hosted zone is unknown",
                    c.cluster
                )));
            };
            let count = weighted_at.entry(weighted_name.clone()).or_default();
            *count += 1;
            if *count > MAX_WEIGHTED_RECORDS {
                return Err(refused(format!(
                    "more than {MAX_WEIGHTED_RECORDS} weighted records at {weighted_name}"
                )));
            }
            out.records.push(Record {
                name: weighted_name.clone(),
                kind: RecordKind::A,
                set_identifier: Some(format!("{prefix}{}", c.cluster)),
                weight: Some(c.weight),
                region: None,
                alias: Some(Alias {
                    dns_name: address,
                    hosted_zone_id: lb_zone.clone(),
                }),
                txt: None,
            });
            any = true;
        }
        if any && host.policy == Policy::LatencyOverWeighted {
            if !known_region(&region.region) {
                return Err(refused(format!(
                    "Route53 has no latency records for region `{}`",
                    region.region.escape_debug()
                )));
            }
            out.records.push(Record {
                name: host.host.clone(),
                kind: RecordKind::A,
                set_identifier: Some(format!("{prefix}{}", region.region)),
                weight: None,
                region: Some(region.region.clone()),
                alias: Some(Alias {
                    dns_name: weighted_name,
                    hosted_zone_id: zone.id.clone(),
                }),
                txt: None,
            });
        }
    }
    if !out.records.is_empty() {
        out.records.push(Record {
            name: format!("{OWNER_PREFIX}{}", host.host),
            kind: RecordKind::Txt,
            set_identifier: None,
            weight: None,
            region: None,
            alias: None,
            txt: Some((vec![owner_value(owner)], i64::from(host.ttl))),
        });
    }
    out.records.sort();
    Ok(out)
}

/// One change of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Create or replace.
    Upsert(Record),
    /// Delete, with the values it has now (Route53 deletes only an exact match).
    Delete(Record),
}

/// Whose a host's records are, as the zone shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Nobody's (no record at the host's names), or this owner's.
    Ours,
    /// Another writer's: its owner record, or records at the host without one of ours.
    Theirs(String),
}

/// Who owns a host, from the records now at its names (`existing`: every record at `HOST`,
/// `REGION.HOST` for the host's regions and `_fleetplan-owner.HOST`).
pub fn ownership(host: &str, owner: &str, existing: &[Record]) -> Ownership {
    let owner_name = format!("{OWNER_PREFIX}{host}");
    let ours = owner_value(owner);
    if let Some(txt) = existing
        .iter()
        .find(|r| r.kind == RecordKind::Txt && r.name == owner_name)
    {
        let values = txt.txt.as_ref().map(|t| t.0.clone()).unwrap_or_default();
        return if values.contains(&ours) {
            Ownership::Ours
        } else {
            Ownership::Theirs(format!("its owner record says {}", values.join(" ")))
        };
    }
    match existing
        .iter()
        .find(|r| r.name == host && r.kind == RecordKind::A)
    {
        Some(r) => Ownership::Theirs(format!(
            "an A record{} that fleetplan did not write is there",
            r.set_identifier
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        )),
        None => Ownership::Ours,
    }
}

/// The batch that takes `existing` (the records now at the host's names) to `wanted`, for a
/// host owned by `owner`: records of other writers (another set-identifier prefix) are never
/// touched. Ordered so that every alias target exists before its alias: latency deletions,
/// weighted upserts, weighted deletions, latency upserts, then the owner record.
pub fn changes(host: &str, owner: &str, existing: &[Record], wanted: &[Record]) -> Vec<Change> {
    let prefix = set_prefix(owner, host);
    let owner_name = format!("{OWNER_PREFIX}{host}");
    let ours = |r: &&Record| {
        r.set_identifier
            .as_deref()
            .is_some_and(|s| s.starts_with(&prefix))
            || (r.kind == RecordKind::Txt && r.name == owner_name)
    };
    let key = |r: &Record| (r.name.clone(), r.kind, r.set_identifier.clone());
    let have: BTreeMap<_, &Record> = existing.iter().filter(ours).map(|r| (key(r), r)).collect();
    let want: BTreeMap<_, &Record> = wanted.iter().map(|r| (key(r), r)).collect();
    let is_latency = |r: &Record| r.region.is_some();
    let is_owner = |r: &Record| r.kind == RecordKind::Txt;
    let mut phases: [Vec<Change>; 5] = Default::default();
    for (k, r) in &have {
        if !want.contains_key(k) {
            let phase = if is_owner(r) {
                4
            } else if is_latency(r) {
                0
            } else {
                2
            };
            phases[phase].push(Change::Delete((*r).clone()));
        }
    }
    for (k, r) in &want {
        if have.get(k).is_some_and(|h| h == r) {
            continue;
        }
        let phase = if is_owner(r) {
            4
        } else if is_latency(r) {
            3
        } else {
            1
        };
        phases[phase].push(Change::Upsert((*r).clone()));
    }
    phases.into_iter().flatten().collect()
}

/// The region in a load balancer's DNS name: `NAME.REGION.elb.amazonaws.com` (ALB, CLB) or
/// `NAME.elb.REGION.amazonaws.com` (NLB).
fn elb_region(dns: &str) -> Option<&str> {
    if let Some(rest) = dns.strip_suffix(".elb.amazonaws.com") {
        return rest.rsplit_once('.').map(|(_, region)| region);
    }
    let rest = dns.strip_suffix(".amazonaws.com")?;
    let (before, region) = rest.rsplit_once('.')?;
    before.ends_with(".elb").then_some(region)
}

/// The traffic `records` (the zone's records at `host`'s names) express, read back in
/// fleetplan's layout (by any owner, or by anyone writing the same two levels): latency
/// records at `host` aliasing `REGION.HOST` give the regions, and each weighted record there
/// a cluster with its weight; without latency records, the weighted records at `host` under
/// the weighted policy, each in the region its load balancer's name says (`unknown` when it
/// says none). A cluster is named by its set identifier, less the owner's prefix when the
/// owner record names the owner. `None` when there is no weighted record.
pub fn traffic_of(host: &str, records: &[Record]) -> Option<HostTraffic> {
    let owner = records
        .iter()
        .filter(|r| r.kind == RecordKind::Txt && r.name == format!("{OWNER_PREFIX}{host}"))
        .find_map(|r| {
            let (values, ttl) = r.txt.as_ref()?;
            let owner = values.iter().find_map(|v| {
                v.trim_matches('"')
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("fleetplan/owner="))
                    .map(str::to_string)
            })?;
            Some((owner, *ttl))
        });
    let prefix = owner.as_ref().map(|(o, _)| set_prefix(o, host));
    let name_of = |id: &str| -> ClusterName {
        prefix
            .as_deref()
            .and_then(|p| id.strip_prefix(p))
            .unwrap_or(id)
            .into()
    };
    let weighted_at = |name: &str| -> Vec<ClusterTraffic> {
        let mut clusters: Vec<ClusterTraffic> = records
            .iter()
            .filter(|r| r.kind == RecordKind::A && r.name == name)
            .filter_map(|r| {
                Some(ClusterTraffic {
                    cluster: name_of(r.set_identifier.as_deref()?),
                    replicas: 0,
                    weight: r.weight?,
                    share: 0.0,
                    endpoint: r.alias.as_ref().map(|a| a.dns_name.clone()),
                })
            })
            .collect();
        let sum: u32 = clusters.iter().map(|c| c.weight).sum();
        for c in &mut clusters {
            c.share = if sum == 0 {
                0.0
            } else {
                f64::from(c.weight) / f64::from(sum)
            };
        }
        clusters.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        clusters
    };
    let latency: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r.kind == RecordKind::A && r.name == host)
        .filter_map(|r| Some((r.region.as_deref()?, r.alias.as_ref()?.dns_name.as_str())))
        .collect();
    let (policy, mut regions) = if latency.is_empty() {
        let mut by_region: BTreeMap<String, Vec<ClusterTraffic>> = BTreeMap::new();
        for c in weighted_at(host) {
            let region = c
                .endpoint
                .as_deref()
                .and_then(elb_region)
                .unwrap_or("unknown")
                .to_string();
            by_region.entry(region).or_default().push(c);
        }
        let regions: Vec<RegionTraffic> = by_region
            .into_iter()
            .map(|(region, clusters)| RegionTraffic { region, clusters })
            .collect();
        (Policy::Weighted, regions)
    } else {
        let regions = latency
            .into_iter()
            .map(|(region, target)| RegionTraffic {
                region: region.to_string(),
                clusters: weighted_at(target),
            })
            .filter(|r| !r.clusters.is_empty())
            .collect();
        (Policy::LatencyOverWeighted, regions)
    };
    regions.sort_by(|a, b| a.region.cmp(&b.region));
    if regions.is_empty() {
        return None;
    }
    Some(HostTraffic {
        host: host.to_string(),
        source: owner
            .as_ref()
            .map_or_else(|| "Route53".to_string(), |(o, _)| format!("Route53, owner {o}")),
        ttl: owner
            .as_ref()
            .and_then(|(_, ttl)| u32::try_from(*ttl).ok())
            .unwrap_or(DEFAULT_TTL),
        policy,
        regions,
    })
}

#[cfg(test)]
mod tests {
    use fleetplan::traffic::{ClusterTraffic, RegionTraffic};

    use super::*;

    fn tutorial(policy: Policy) -> HostTraffic {
        let cluster = |name: &str, weight: u32| ClusterTraffic {
            cluster: name.into(),
            replicas: 3,
            weight,
            share: 0.5,
            endpoint: Some(format!("k8s-shop-web-{name}.elb.amazonaws.com")),
        };
        HostTraffic {
            host: "shop.example.com".into(),
            source: "Ingress shop/web".into(),
            ttl: 60,
            policy,
            regions: vec![
                RegionTraffic {
                    region: "eu-west-1".into(),
                    clusters: vec![cluster("eu-a", 128), cluster("eu-b", 127)],
                },
                RegionTraffic {
                    region: "us-west-2".into(),
                    clusters: vec![cluster("us-a", 255)],
                },
            ],
        }
    }

    /// `(name, set identifier, weight, region, alias target@zone)` of a record.
    type Row = (
        String,
        Option<String>,
        Option<u32>,
        Option<String>,
        Option<String>,
    );

    /// `host`'s records for owner `east`, every region known.
    fn ours(host: &HostTraffic) -> Result<HostRecords, Route53Error> {
        host_records(host, &zone(), "east", &lbs(), |_| true)
    }

    fn zone() -> Zone {
        Zone {
            id: "Z1ZONE".into(),
            name: "example.com".into(),
        }
    }

    fn lbs() -> BTreeMap<String, String> {
        ["eu-a", "eu-b", "us-a"]
            .iter()
            .map(|c| (format!("k8s-shop-web-{c}.elb.amazonaws.com"), format!("ZLB{c}")))
            .collect()
    }

    #[test]
    fn latency_over_weighted_takes_two_names_and_an_owner_record() {
        let got = ours(&tutorial(Policy::LatencyOverWeighted)).expect("records");
        assert!(got.pending.is_empty());
        let rows: Vec<Row> = got
            .records
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.set_identifier.clone(),
                    r.weight,
                    r.region.clone(),
                    r.alias
                        .as_ref()
                        .map(|a| format!("{}@{}", a.dns_name, a.hosted_zone_id)),
                )
            })
            .collect();
        let p = set_prefix("east", "shop.example.com");
        let expected = vec![
            (
                "_fleetplan-owner.shop.example.com".to_string(),
                None,
                None,
                None,
                None,
            ),
            (
                "eu-west-1.shop.example.com".into(),
                Some(format!("{p}eu-a")),
                Some(128),
                None,
                Some("k8s-shop-web-eu-a.elb.amazonaws.com@ZLBeu-a".into()),
            ),
            (
                "eu-west-1.shop.example.com".into(),
                Some(format!("{p}eu-b")),
                Some(127),
                None,
                Some("k8s-shop-web-eu-b.elb.amazonaws.com@ZLBeu-b".into()),
            ),
            (
                "shop.example.com".into(),
                Some(format!("{p}eu-west-1")),
                None,
                Some("eu-west-1".into()),
                Some("eu-west-1.shop.example.com@Z1ZONE".into()),
            ),
            (
                "shop.example.com".into(),
                Some(format!("{p}us-west-2")),
                None,
                Some("us-west-2".into()),
                Some("us-west-2.shop.example.com@Z1ZONE".into()),
            ),
            (
                "us-west-2.shop.example.com".into(),
                Some(format!("{p}us-a")),
                Some(255),
                None,
                Some("k8s-shop-web-us-a.elb.amazonaws.com@ZLBus-a".into()),
            ),
        ];
        assert_eq!(rows, expected);
        // Weighted: every cluster at the host itself, no latency record.
        let weighted = ours(&tutorial(Policy::Weighted)).expect("records");
        assert!(weighted.records.iter().all(|r| r.region.is_none()));
        assert_eq!(
            weighted
                .records
                .iter()
                .filter(|r| r.name == "shop.example.com")
                .count(),
            3
        );
    }

    #[test]
    fn what_route53_would_refuse_is_refused_and_an_unknown_endpoint_waits() {
        let mut host = tutorial(Policy::LatencyOverWeighted);
        let err = host_records(&host, &zone(), "east", &lbs(), |r| r != "eu-west-1").expect_err("region");
        assert!(
            err.to_string()
                .contains("no latency records for region `eu-west-1`"),
            "{err}"
        );
        host.regions[0].clusters[0].endpoint = None;
        let got = ours(&host).expect("records");
        assert_eq!(got.pending, ["eu-a"]);
        host.regions[0].clusters[1].endpoint = Some("nowhere.elb.amazonaws.com".into());
        let err = ours(&host).expect_err("lb");
        assert!(
            err.to_string().contains("no load balancer named nowhere"),
            "{err}"
        );
        let mut wild = tutorial(Policy::LatencyOverWeighted);
        wild.host = "*.example.com".into();
        assert!(ours(&wild).is_err());
        assert!(check_owner("east-1").is_ok());
        for bad in ["", "East", "a b", &"x".repeat(33)] {
            assert!(check_owner(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_zone_is_the_longest_suffix_and_ties_are_refused() {
        let zones = vec![
            Zone {
                id: "Z1".into(),
                name: "example.com".into(),
            },
            Zone {
                id: "Z2".into(),
                name: "shop.example.com".into(),
            },
            Zone {
                id: "Z3".into(),
                name: "other.com".into(),
            },
        ];
        assert_eq!(zone_for("shop.example.com", &zones).expect("zone").id, "Z2");
        assert_eq!(zone_for("api.example.com", &zones).expect("zone").id, "Z1");
        assert!(matches!(
            zone_for("example.org", &zones),
            Err(Route53Error::NoZone { .. })
        ));
        assert_eq!(
            zone_for("notexample.com", &zones)
                .err()
                .map(|e| matches!(e, Route53Error::NoZone { .. })),
            Some(true)
        );
        let twins = vec![
            Zone {
                id: "Zpub".into(),
                name: "example.com".into(),
            },
            Zone {
                id: "Zpriv".into(),
                name: "example.com".into(),
            },
        ];
        assert!(
            zone_for("shop.example.com", &twins)
                .expect_err("tie")
                .to_string()
                .contains("Zpub, Zpriv")
        );
    }

    #[test]
    fn changes_touch_only_our_records_and_order_targets_before_aliases() {
        let wanted = ours(&tutorial(Policy::LatencyOverWeighted))
            .expect("records")
            .records;
        // From nothing: weighted first, then latency, then the owner record.
        let batch = changes("shop.example.com", "east", &[], &wanted);
        let kinds: Vec<&str> = batch
            .iter()
            .map(|c| match c {
                Change::Upsert(r) if r.kind == RecordKind::Txt => "owner",
                Change::Upsert(r) if r.region.is_some() => "latency",
                Change::Upsert(_) => "weighted",
                Change::Delete(_) => "delete",
            })
            .collect();
        assert_eq!(
            kinds,
            ["weighted", "weighted", "weighted", "latency", "latency", "owner"]
        );
        // Applied: nothing more to do.
        assert!(changes("shop.example.com", "east", &wanted, &wanted).is_empty());
        // us-west-2 emptied: its latency record goes before its weighted one; someone
        // else's record at the same name stays.
        let mut foreign = wanted[0].clone();
        foreign.set_identifier = Some("someone-else".into());
        foreign.name = "shop.example.com".into();
        let mut existing = wanted.clone();
        existing.push(foreign);
        let mut less = tutorial(Policy::LatencyOverWeighted);
        less.regions.pop();
        let fewer = ours(&less).expect("records").records;
        let batch = changes("shop.example.com", "east", &existing, &fewer);
        let deleted: Vec<(String, bool)> = batch
            .iter()
            .map(|c| match c {
                Change::Delete(r) => (r.name.clone(), r.region.is_some()),
                Change::Upsert(r) => panic!("nothing to upsert: {r:?}"),
            })
            .collect();
        assert_eq!(
            deleted,
            [
                ("shop.example.com".to_string(), true),
                ("us-west-2.shop.example.com".to_string(), false)
            ]
        );
    }

    #[test]
    fn another_owner_or_a_foreign_record_means_hands_off() {
        let wanted = ours(&tutorial(Policy::LatencyOverWeighted))
            .expect("records")
            .records;
        assert_eq!(ownership("shop.example.com", "east", &wanted), Ownership::Ours);
        assert!(matches!(
            ownership("shop.example.com", "west", &wanted),
            Ownership::Theirs(_)
        ));
        assert_eq!(ownership("shop.example.com", "west", &[]), Ownership::Ours);
        let simple = Record {
            name: "shop.example.com".into(),
            kind: RecordKind::A,
            set_identifier: None,
            weight: None,
            region: None,
            alias: Some(Alias {
                dns_name: "x.elb.amazonaws.com".into(),
                hosted_zone_id: "Z".into(),
            }),
            txt: None,
        };
        assert!(matches!(
            ownership("shop.example.com", "east", &[simple]),
            Ownership::Theirs(_)
        ));
        assert_ne!(
            set_prefix("east", "a.example.com"),
            set_prefix("east", "b.example.com")
        );
    }

    #[test]
    fn records_read_back_give_the_traffic_they_were_written_from() {
        for policy in [Policy::LatencyOverWeighted, Policy::Weighted] {
            let planned = tutorial(policy);
            let written = ours(&planned).expect("records").records;
            let read = traffic_of("shop.example.com", &written).expect("traffic");
            assert_eq!((read.policy, read.ttl), (policy, 60));
            let weights = |h: &HostTraffic| -> Vec<(String, String, u32)> {
                h.regions
                    .iter()
                    .flat_map(|r| {
                        r.clusters
                            .iter()
                            .map(|c| (r.region.clone(), c.cluster.to_string(), c.weight))
                    })
                    .collect()
            };
            let expected = match policy {
                Policy::LatencyOverWeighted => weights(&planned),
                // The fixture's load balancer names carry no region.
                Policy::Weighted => weights(&planned)
                    .into_iter()
                    .map(|(_, c, w)| ("unknown".to_string(), c, w))
                    .collect(),
            };
            assert_eq!(weights(&read), expected, "{policy:?}");
        }
        assert_eq!(traffic_of("shop.example.com", &[]), None);
        assert_eq!(
            elb_region("k8s-shop-web-1.eu-west-1.elb.amazonaws.com"),
            Some("eu-west-1")
        );
        assert_eq!(elb_region("net-1.elb.us-east-2.amazonaws.com"), Some("us-east-2"));
        assert_eq!(elb_region("example.com"), None);
    }
}

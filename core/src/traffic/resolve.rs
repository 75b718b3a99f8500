//! What a user in a given region gets when resolving a host: the routing policy evaluated as
//! Route53 evaluates it.
//!
//! Under [`Policy::LatencyOverWeighted`] the host holds one latency record per region, each
//! an alias (with EvaluateTargetHealth) to that region's weighted records: Route53 answers
//! with the region of lowest latency from the user (estimated here from distance, see
//! [`super::regions`]) whose weighted records include a healthy one, then picks among that
//! region's records by weight. Under [`Policy::Weighted`] every cluster's record is in one
//! weighted set. Within a weighted set (Route53's "How Amazon Route 53 chooses records when
//! health checking is configured"):
//! - healthy records with a weight above 0 share the answers in proportion to their weights;
//! - records of weight 0 are answered only when no record of a higher weight is healthy,
//!   and then equally;
//! - when no record is healthy, Route53 fails open: every record counts as healthy.
//!
//! The same fail-open rule picks the nearest region when no region has a healthy record.

use std::collections::BTreeSet;

use serde::Serialize;

use super::regions::{estimated_rtt_ms, known_regions};
use super::{HostTraffic, Policy};
use crate::cluster::ClusterName;

/// Where a user's requests for a host go.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolution {
    /// The host.
    pub host: String,
    /// The user's region.
    pub from: String,
    /// The region whose latency record answers (latency over weighted only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The estimated round trip to that region, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// The clusters answered and the share of requests each gets, by region then cluster;
    /// empty when the host has no record.
    pub clusters: Vec<ClusterShare>,
    /// Set when Route53 failed open (no healthy record, so every record counts as healthy).
    pub failed_open: bool,
}

/// One cluster's share of a user's requests.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterShare {
    /// The cluster.
    pub cluster: ClusterName,
    /// Its region.
    pub region: String,
    /// Its record's weight.
    pub weight: u32,
    /// The share of requests, `0..=1`.
    pub share: f64,
}

/// Why a host cannot be resolved from a region.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The region is not one the latency table knows.
    #[error("`{region}` is not an AWS region fleetplan knows; known regions: {known}")]
    UnknownRegion {
        /// The region given.
        region: String,
        /// The regions known, comma-separated.
        known: String,
    },
    /// No route has this host.
    #[error(
        "no route for host `{host}` (hosts: {known}); a host is an Ingress rule's host or a LoadBalancer Service's fleetplan.io/hostname"
    )]
    UnknownHost {
        /// The host given (escaped).
        host: String,
        /// The hosts known, comma-separated, or `none`.
        known: String,
    },
}

/// The traffic of `host` among a plan's `hosts`.
///
/// # Errors
/// [`ResolveError::UnknownHost`] when none is for `host`.
pub fn find_host<'a>(hosts: &'a [HostTraffic], host: &str) -> Result<&'a HostTraffic, ResolveError> {
    hosts.iter().find(|h| h.host == host).ok_or_else(|| {
        let known: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
        ResolveError::UnknownHost {
            host: host.escape_debug().to_string(),
            known: if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            },
        }
    })
}

/// What a user in `from` gets for `host`, with the clusters in `unhealthy` failing their
/// health checks: the nearest region with a healthy record (latency over weighted), then
/// its records by weight; weight 0 only when nothing else is healthy; every record when
/// none is (fail-open).
///
/// # Errors
/// [`ResolveError::UnknownRegion`] when `from`, or a region holding records under the
/// latency policy, is not an AWS region.
pub fn resolve(
    host: &HostTraffic,
    from: &str,
    unhealthy: &BTreeSet<ClusterName>,
) -> Result<Resolution, ResolveError> {
    let unknown = |region: &str| ResolveError::UnknownRegion {
        region: region.to_string(),
        known: known_regions().collect::<Vec<_>>().join(", "),
    };
    if estimated_rtt_ms(from, from).is_none() {
        return Err(unknown(from));
    }
    let rtt = |to: &str| estimated_rtt_ms(from, to).ok_or_else(|| unknown(to));
    let mut resolution = Resolution {
        host: host.host.clone(),
        from: from.to_string(),
        region: None,
        rtt_ms: None,
        clusters: Vec::new(),
        failed_open: false,
    };
    // The weighted set answered: (cluster, region, weight, healthy).
    let records: Vec<(&ClusterName, &str, u32, bool)> = match host.policy {
        Policy::Weighted => host
            .regions
            .iter()
            .flat_map(|r| {
                r.clusters.iter().map(|c| {
                    (
                        &c.cluster,
                        r.region.as_str(),
                        c.weight,
                        !unhealthy.contains(&c.cluster),
                    )
                })
            })
            .collect(),
        Policy::LatencyOverWeighted => {
            // Nearest first; among equals, by name.
            let mut regions = Vec::with_capacity(host.regions.len());
            for r in &host.regions {
                regions.push((rtt(&r.region)?, r));
            }
            regions.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.region.cmp(&b.1.region)));
            let healthy =
                |r: &super::RegionTraffic| r.clusters.iter().any(|c| !unhealthy.contains(&c.cluster));
            let chosen = regions
                .iter()
                .find(|(_, r)| healthy(r))
                .or_else(|| regions.first());
            let Some(&(ms, region)) = chosen else {
                return Ok(resolution);
            };
            resolution.region = Some(region.region.clone());
            resolution.rtt_ms = Some(ms);
            region
                .clusters
                .iter()
                .map(|c| {
                    (
                        &c.cluster,
                        region.region.as_str(),
                        c.weight,
                        !unhealthy.contains(&c.cluster),
                    )
                })
                .collect()
        }
    };
    let any_healthy = records.iter().any(|r| r.3);
    resolution.failed_open = !records.is_empty() && !any_healthy;
    let usable: Vec<&(&ClusterName, &str, u32, bool)> =
        records.iter().filter(|r| r.3 || !any_healthy).collect();
    let weighted: u64 = usable.iter().map(|r| u64::from(r.2)).sum();
    for r in &records {
        let share = if !usable.contains(&r) {
            0.0
        } else if weighted > 0 {
            f64::from(r.2) / weighted as f64
        } else {
            1.0 / usable.len() as f64
        };
        resolution.clusters.push(ClusterShare {
            cluster: r.0.clone(),
            region: r.1.to_string(),
            weight: r.2,
            share,
        });
    }
    Ok(resolution)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{ClusterTraffic, RegionTraffic};

    fn host(policy: Policy, regions: &[(&str, &[(&str, u32)])]) -> HostTraffic {
        HostTraffic {
            host: "shop.example.com".into(),
            source: "Ingress shop/web".into(),
            ttl: 60,
            policy,
            regions: regions
                .iter()
                .map(|(region, clusters)| RegionTraffic {
                    region: (*region).into(),
                    clusters: clusters
                        .iter()
                        .map(|(c, w)| ClusterTraffic {
                            cluster: (*c).into(),
                            replicas: u64::from(*w),
                            weight: *w,
                            share: 0.0,
                            endpoint: None,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn shares(r: &Resolution) -> Vec<(String, f64)> {
        r.clusters
            .iter()
            .map(|c| (c.cluster.to_string(), c.share))
            .collect()
    }

    const TUTORIAL: &[(&str, &[(&str, u32)])] = &[
        ("eu-west-1", &[("eu-west-1-a", 128), ("eu-west-1-b", 127)]),
        ("us-west-2", &[("us-west-2-a", 191), ("us-west-2-b", 64)]),
    ];

    #[test]
    fn a_user_gets_the_nearest_region_then_its_clusters_by_weight() {
        let h = host(Policy::LatencyOverWeighted, TUTORIAL);
        let none = BTreeSet::new();
        let eu = resolve(&h, "eu-central-1", &none).expect("resolves");
        assert_eq!(eu.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            shares(&eu),
            [
                ("eu-west-1-a".into(), 128.0 / 255.0),
                ("eu-west-1-b".into(), 127.0 / 255.0)
            ]
        );
        let us = resolve(&h, "us-east-1", &none).expect("resolves");
        assert_eq!(us.region.as_deref(), Some("us-west-2"));
        assert!(!us.failed_open);
        // Weighted: one set over every cluster.
        let all = resolve(&host(Policy::Weighted, TUTORIAL), "eu-west-1", &none).expect("resolves");
        assert_eq!(all.region, None);
        assert_eq!(all.clusters.len(), 4);
        assert!((all.clusters.iter().map(|c| c.share).sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn unhealthy_records_are_skipped_and_all_unhealthy_fails_open() {
        let h = host(Policy::LatencyOverWeighted, TUTORIAL);
        let one: BTreeSet<ClusterName> = ["eu-west-1-a".into()].into();
        let r = resolve(&h, "eu-west-1", &one).expect("resolves");
        assert_eq!(
            shares(&r),
            [("eu-west-1-a".into(), 0.0), ("eu-west-1-b".into(), 1.0)]
        );
        // Both eu clusters unhealthy: the eu latency record's alias is unhealthy, so the
        // next nearest region answers.
        let eu: BTreeSet<ClusterName> = ["eu-west-1-a".into(), "eu-west-1-b".into()].into();
        let r = resolve(&h, "eu-west-1", &eu).expect("resolves");
        assert_eq!(r.region.as_deref(), Some("us-west-2"));
        assert!(!r.failed_open);
        // Every cluster unhealthy: Route53 fails open to the nearest region's records.
        let all: BTreeSet<ClusterName> = h
            .regions
            .iter()
            .flat_map(|r| r.clusters.iter().map(|c| c.cluster.clone()))
            .collect();
        let r = resolve(&h, "eu-west-1", &all).expect("resolves");
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert!(r.failed_open);
        assert_eq!(r.clusters.iter().map(|c| c.share).sum::<f64>(), 1.0);
    }

    #[test]
    fn zero_weights_answer_only_when_nothing_else_is_healthy() {
        let h = host(
            Policy::LatencyOverWeighted,
            &[("us-west-2", &[("a", 0), ("b", 255)])],
        );
        let r = resolve(&h, "us-west-2", &BTreeSet::new()).expect("resolves");
        assert_eq!(shares(&r), [("a".into(), 0.0), ("b".into(), 1.0)]);
        let b: BTreeSet<ClusterName> = ["b".into()].into();
        let r = resolve(&h, "us-west-2", &b).expect("resolves");
        assert_eq!(shares(&r), [("a".into(), 1.0), ("b".into(), 0.0)]);
        let zeros = host(
            Policy::LatencyOverWeighted,
            &[("us-west-2", &[("a", 0), ("b", 0)])],
        );
        let r = resolve(&zeros, "us-west-2", &BTreeSet::new()).expect("resolves");
        assert_eq!(shares(&r), [("a".into(), 0.5), ("b".into(), 0.5)]);
    }

    #[test]
    fn an_unknown_region_is_refused_and_no_record_answers_nothing() {
        let h = host(Policy::LatencyOverWeighted, TUTORIAL);
        let err = resolve(&h, "mars-1", &BTreeSet::new()).expect_err("unknown");
        assert!(err.to_string().contains("`mars-1` is not an AWS region"), "{err}");
        let empty = host(Policy::LatencyOverWeighted, &[]);
        let r = resolve(&empty, "eu-west-1", &BTreeSet::new()).expect("resolves");
        assert!(r.clusters.is_empty() && r.region.is_none());
        let odd = host(Policy::LatencyOverWeighted, &[("r1", &[("a", 255)])]);
        let err = resolve(&odd, "eu-west-1", &BTreeSet::new()).expect_err("unknown");
        assert!(err.to_string().contains("`r1`"), "{err}");
    }
}

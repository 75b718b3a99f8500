//! The traffic model: where global DNS (or an anycast load balancer) should send the users
//! of each host under a plan.
//!
//! A [`Route`] is a global host (an Ingress rule's host, or a LoadBalancer Service's) with
//! the workloads behind it. [`traffic`] gives, for each host, one entry per region holding
//! backend replicas (a latency record in Route53, an endpoint group in Global Accelerator)
//! and, in it, one entry per cluster with replicas and a healthy endpoint (a weighted record,
//! an endpoint) with a weight in `0..=255` proportional to the backend replicas there.
//! Clusters without replicas, or whose endpoint is unhealthy, get no entry.
//!
//! Weights are apportioned, not rounded one by one: the [`MAX_WEIGHT`] points of a group
//! (a region under the default [`Policy::LatencyOverWeighted`], the whole host under
//! [`Policy::Weighted`]) are shared by largest remainders, so they always sum to exactly
//! [`MAX_WEIGHT`] and each weight is within one point of its exact share; a cluster with
//! replicas never gets weight 0 (which Route53 would answer only when every record is 0)
//! unless its group has more clusters than points.
//!
//! ```
//! use fleetplan::traffic::apportion;
//! assert_eq!(apportion(255, &[3, 1]), vec![191, 64]);
//! assert_eq!(apportion(255, &[1, 1, 1]), vec![85, 85, 85]);
//! assert_eq!(apportion(255, &[1000, 1]), vec![254, 1], "never 0 while it has replicas");
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub mod regions;
mod resolve;

pub use resolve::{ClusterShare, Resolution, ResolveError, find_host, resolve};

use crate::cluster::ClusterName;
use crate::follow::ObjectRef;
use crate::workload::WorkloadId;

/// The largest weight Route53 and Global Accelerator take; the points of one group.
pub const MAX_WEIGHT: u32 = 255;

/// The TTL of records when a route names none, in seconds.
pub const DEFAULT_TTL: u32 = 60;

/// How a host's users are spread over the clusters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Users go to the nearest region holding replicas (latency), then by weight among its
    /// clusters: each region's weights share [`MAX_WEIGHT`] points.
    #[default]
    LatencyOverWeighted,
    /// Users go by weight over every cluster, wherever they are: the host's weights share
    /// [`MAX_WEIGHT`] points.
    Weighted,
}

/// A global host and what serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The host name users resolve, such as `shop.example.com`.
    pub host: String,
    /// The object that asks for it (an Ingress or a Service).
    pub source: ObjectRef,
    /// The workloads whose replicas serve it.
    pub backends: Vec<WorkloadId>,
    /// How users are spread.
    #[serde(default)]
    pub policy: Policy,
    /// The records' TTL in seconds: how long a change takes to reach every resolver, so how
    /// long to wait after lowering a weight before replicas stop. (Route53 alias records
    /// take their target's TTL, 60 s for a load balancer; the wait is this value.)
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    /// Each cluster's endpoint for this host, when known (the controller reads them from the
    /// load balancers of the copies): a cluster listed with an unhealthy endpoint gets no
    /// record. Empty in an offline plan, where every cluster with replicas is assumed to
    /// serve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
}

/// A cluster's endpoint for a host: its load balancer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The cluster.
    pub cluster: ClusterName,
    /// The load balancer's DNS name (or IP).
    pub address: String,
    /// Whether it passes its health check.
    #[serde(default = "healthy_by_default")]
    pub healthy: bool,
}

fn healthy_by_default() -> bool {
    true
}

fn default_ttl() -> u32 {
    DEFAULT_TTL
}

/// One cluster's share of a host.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterTraffic {
    /// The cluster.
    pub cluster: ClusterName,
    /// Backend replicas the plan places there.
    pub replicas: u64,
    /// Its weight, `1..=255` (0 only when its group has more clusters than points, or while
    /// it is emptied during a planned move).
    pub weight: u32,
    /// Why this weight: its replicas' share of its group's (the region's under
    /// latency-over-weighted, the host's under weighted), in `0..=1`.
    pub share: f64,
    /// Its endpoint, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// One region of a host.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegionTraffic {
    /// The region.
    pub region: String,
    /// Its clusters with replicas and a healthy endpoint, by name.
    pub clusters: Vec<ClusterTraffic>,
}

/// Where one host's users go.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostTraffic {
    /// The host.
    pub host: String,
    /// The object asking for it, as `Kind namespace/name`.
    pub source: String,
    /// The records' TTL in seconds.
    pub ttl: u32,
    /// How users are spread.
    pub policy: Policy,
    /// The regions holding backend replicas, by name; empty when none does.
    pub regions: Vec<RegionTraffic>,
}

/// `total` points shared among `counts` by largest remainders: the result sums to `total`
/// (when any count is positive) and each share is within one point of
/// `total * count / sum`. When there are at least as many points as positive counts, each
/// positive count gets at least one point (taken from the largest shares); a zero count gets
/// none. More replicas never get fewer points. Ties go to the earlier entry.
pub fn apportion(total: u32, counts: &[u64]) -> Vec<u32> {
    let sum: u128 = counts.iter().map(|&c| u128::from(c)).sum();
    let mut shares = vec![0u32; counts.len()];
    if sum == 0 || total == 0 {
        return shares;
    }
    let total_wide = u128::from(total);
    let mut given: u128 = 0;
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(counts.len());
    for (i, &count) in counts.iter().enumerate() {
        let exact = total_wide * u128::from(count);
        let floor = exact / sum;
        // floor <= total, so it fits.
        shares[i] = u32::try_from(floor).unwrap_or(total);
        given += floor;
        remainders.push((exact % sum, i));
    }
    // Largest remainder first; among equals the earlier entry.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = usize::try_from(total_wide - given).unwrap_or(0);
    for &(_, i) in remainders.iter().filter(|(_, i)| counts[*i] > 0).take(left) {
        shares[i] += 1;
    }
    // Every positive count gets a point, taken from the largest share, while possible.
    let positive = counts.iter().filter(|&&c| c > 0).count();
    if positive <= total as usize {
        for i in 0..counts.len() {
            if counts[i] > 0 && shares[i] == 0 {
                // The largest share; among equal shares the one with the fewest replicas,
                // so that more replicas never end with less weight.
                let largest = (0..shares.len())
                    .max_by(|&a, &b| {
                        shares[a]
                            .cmp(&shares[b])
                            .then(counts[b].cmp(&counts[a]))
                            .then(a.cmp(&b))
                    })
                    .unwrap_or(i);
                shares[largest] -= 1;
                shares[i] = 1;
            }
        }
    }
    shares
}

/// Replicas of one workload in one cluster that serve its routes: a plan's placement, or the
/// Ready replicas the controller counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Serving<'a> {
    /// The workload.
    pub workload: &'a WorkloadId,
    /// The cluster.
    pub cluster: &'a ClusterName,
    /// The cluster's region.
    pub region: &'a str,
    /// How many replicas.
    pub replicas: u64,
}

/// Where each route's users go when `replicas` serve (the plan's placements, or the Ready
/// replicas when the controller knows them), ordered by host (then source); regions by name,
/// clusters by name. Clusters in `down` (failed), and clusters whose endpoint is known and
/// unhealthy, get no entry.
pub fn traffic(routes: &[Route], replicas: &[Serving<'_>], down: &BTreeSet<ClusterName>) -> Vec<HostTraffic> {
    // Each workload's replicas, once, so that every host reads only its own backends'.
    let mut by_workload: BTreeMap<&WorkloadId, Vec<&Serving<'_>>> = BTreeMap::new();
    for r in replicas
        .iter()
        .filter(|r| r.replicas > 0 && !down.contains(r.cluster))
    {
        by_workload.entry(r.workload).or_default().push(r);
    }
    let mut out: Vec<HostTraffic> = routes
        .iter()
        .map(|route| host_traffic(route, &by_workload))
        .collect();
    out.sort_by(|a, b| a.host.cmp(&b.host).then_with(|| a.source.cmp(&b.source)));
    out
}

fn host_traffic(route: &Route, by_workload: &BTreeMap<&WorkloadId, Vec<&Serving<'_>>>) -> HostTraffic {
    let backends: BTreeSet<&WorkloadId> = route.backends.iter().collect();
    let endpoints: BTreeMap<&ClusterName, &Endpoint> =
        route.endpoints.iter().map(|e| (&e.cluster, e)).collect();
    let serves = |cluster: &ClusterName| {
        route.endpoints.is_empty() || endpoints.get(cluster).is_some_and(|e| e.healthy)
    };
    // region -> cluster -> replicas
    let mut held: BTreeMap<&str, BTreeMap<&ClusterName, u64>> = BTreeMap::new();
    for p in backends.iter().filter_map(|w| by_workload.get(*w)).flatten() {
        if serves(p.cluster) {
            *held.entry(p.region).or_default().entry(p.cluster).or_default() += p.replicas;
        }
    }
    let groups: Vec<Vec<u64>> = match route.policy {
        Policy::LatencyOverWeighted => held.values().map(|c| c.values().copied().collect()).collect(),
        Policy::Weighted => vec![held.values().flat_map(|c| c.values().copied()).collect()],
    };
    let mut weights = groups.iter().flat_map(|counts| {
        let sum: u64 = counts.iter().sum();
        let shares = apportion(MAX_WEIGHT, counts);
        counts
            .iter()
            .zip(shares)
            .map(move |(&c, w)| (w, c as f64 / sum.max(1) as f64))
            .collect::<Vec<_>>()
    });
    let regions = held
        .iter()
        .map(|(region, clusters)| RegionTraffic {
            region: (*region).to_string(),
            clusters: clusters
                .iter()
                .map(|(cluster, &replicas)| {
                    let (weight, share) = weights.next().unwrap_or((0, 0.0));
                    ClusterTraffic {
                        cluster: (*cluster).clone(),
                        replicas,
                        weight,
                        share,
                        endpoint: endpoints.get(cluster).map(|e| e.address.clone()),
                    }
                })
                .collect(),
        })
        .collect();
    HostTraffic {
        host: route.host.clone(),
        source: route.source.to_string(),
        ttl: route.ttl,
        policy: route.policy,
        regions,
    }
}

/// One region of a host in Global Accelerator: an endpoint group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointGroup {
    /// The group's region.
    pub region: String,
    /// The share of the traffic already bound for the region that the group takes, `0..=100`:
    /// 100 while a cluster there has weight, 0 while the region is being emptied.
    pub traffic_dial_percentage: u32,
    /// One endpoint per cluster (its load balancer), with its weight `0..=255`.
    pub endpoints: Vec<AcceleratorEndpoint>,
}

/// A cluster's load balancer in an endpoint group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AcceleratorEndpoint {
    /// The cluster.
    pub cluster: ClusterName,
    /// Its load balancer, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Its weight.
    pub weight: u32,
}

impl HostTraffic {
    /// The same routing as Global Accelerator expresses it: an endpoint group per region
    /// (Global Accelerator always sends a user to the nearest group with healthy endpoints,
    /// so [`Policy::Weighted`] keeps only its weights within each region).
    pub fn endpoint_groups(&self) -> Vec<EndpointGroup> {
        self.regions
            .iter()
            .map(|r| EndpointGroup {
                region: r.region.clone(),
                traffic_dial_percentage: if r.clusters.iter().any(|c| c.weight > 0) {
                    100
                } else {
                    0
                },
                endpoints: r
                    .clusters
                    .iter()
                    .map(|c| AcceleratorEndpoint {
                        cluster: c.cluster.clone(),
                        endpoint: c.endpoint.clone(),
                        weight: c.weight,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The longest TTL Route53 takes, in seconds.
pub const MAX_TTL: u32 = 2_147_483_647;

/// Why a route cannot be served: what Route53 (or Kubernetes, for an Ingress host) would
/// refuse, or a backend or endpoint the problem does not have. `None` when it is fine.
pub fn route_error(
    route: &Route,
    has_workload: impl Fn(&WorkloadId) -> bool,
    has_cluster: impl Fn(&ClusterName) -> bool,
) -> Option<String> {
    if let Some(problem) = host_name_error(&route.host) {
        return Some(format!("host `{}`: {problem}", route.host.escape_debug()));
    }
    if route.ttl > MAX_TTL {
        return Some(format!("ttl {} is above Route53's largest, {MAX_TTL}", route.ttl));
    }
    if let Some(w) = route.backends.iter().find(|w| !has_workload(w)) {
        return Some(format!("backend `{w}` is not a workload of the problem"));
    }
    if let Some(e) = route.endpoints.iter().find(|e| !has_cluster(&e.cluster)) {
        return Some(format!("endpoint of unknown cluster `{}`", e.cluster));
    }
    None
}

/// Why `host` is not a DNS name an Ingress rule (and Route53) takes: lowercase RFC 1123
/// labels of at most 63 characters, 253 in all, optionally after a leading `*.` wildcard.
pub fn host_name_error(host: &str) -> Option<String> {
    let name = host.strip_prefix("*.").unwrap_or(host);
    if name.is_empty() {
        return Some("is empty".into());
    }
    if host.len() > 253 {
        return Some(format!("is {} characters long; at most 253", host.len()));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Some(format!("label `{label}` must be 1 to 63 characters"));
        }
        let ok = label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok || label.starts_with('-') || label.ends_with('-') {
            return Some(format!(
                "label `{}` must be lowercase letters, digits and `-`, starting and ending with a letter or digit",
                label.escape_debug()
            ));
        }
    }
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Some("is an IP address; a host must be a DNS name".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::plan::{Placement, Plan};

    fn placement(workload: &WorkloadId, cluster: &str, region: &str, replicas: u32) -> Placement {
        Placement {
            workload: workload.clone(),
            cluster: cluster.into(),
            region: region.into(),
            replicas,
            pools: Vec::new(),
        }
    }

    fn route(backends: &[&WorkloadId], policy: Policy) -> Route {
        Route {
            host: "shop.example.com".into(),
            source: ObjectRef::new("Ingress", "shop", "web"),
            backends: backends.iter().map(|w| (*w).clone()).collect(),
            policy,
            ttl: 60,
            endpoints: Vec::new(),
        }
    }

    fn weights(host: &HostTraffic) -> Vec<(String, String, u64, u32)> {
        host.regions
            .iter()
            .flat_map(|r| {
                r.clusters
                    .iter()
                    .map(|c| (r.region.clone(), c.cluster.to_string(), c.replicas, c.weight))
            })
            .collect()
    }

    #[test]
    fn each_region_shares_its_points_by_backend_replicas() {
        let (us, eu, other) = (
            WorkloadId::new("shop", "web-us"),
            WorkloadId::new("shop", "web-eu"),
            WorkloadId::new("shop", "other"),
        );
        let plan = Plan {
            placements: vec![
                placement(&us, "us-a", "us-west-2", 4),
                placement(&us, "us-b", "us-west-2", 2),
                placement(&eu, "eu-a", "eu-west-1", 2),
                placement(&eu, "eu-b", "eu-west-1", 2),
                placement(&other, "us-c", "us-west-2", 9),
                placement(&us, "us-d", "us-west-2", 0),
            ],
            ..Plan::default()
        };
        let hosts = traffic(
            &[route(&[&us, &eu], Policy::LatencyOverWeighted)],
            &plan.serving(),
            &BTreeSet::new(),
        );
        assert_eq!(
            weights(&hosts[0]),
            [
                ("eu-west-1".into(), "eu-a".into(), 2, 128),
                ("eu-west-1".into(), "eu-b".into(), 2, 127),
                ("us-west-2".into(), "us-a".into(), 4, 170),
                ("us-west-2".into(), "us-b".into(), 2, 85),
            ],
            "a non-backend and a cluster with no replicas get no record"
        );
        assert_eq!(hosts[0].source, "Ingress shop/web");
        // Weighted: one group over every cluster.
        let hosts = traffic(
            &[route(&[&us, &eu], Policy::Weighted)],
            &plan.serving(),
            &BTreeSet::new(),
        );
        let all: Vec<u32> = weights(&hosts[0]).iter().map(|w| w.3).collect();
        assert_eq!(all, [51, 51, 102, 51]);
        assert_eq!(all.iter().sum::<u32>(), MAX_WEIGHT);
    }

    #[test]
    fn an_unhealthy_cluster_has_no_record_and_its_region_goes_when_it_was_the_last() {
        let web = WorkloadId::new("shop", "web");
        let plan = Plan {
            placements: vec![
                placement(&web, "a", "us-west-2", 3),
                placement(&web, "b", "us-west-2", 3),
                placement(&web, "c", "eu-west-1", 3),
            ],
            ..Plan::default()
        };
        let unhealthy: BTreeSet<ClusterName> = ["a".into(), "c".into()].into();
        let hosts = traffic(
            &[route(&[&web], Policy::LatencyOverWeighted)],
            &plan.serving(),
            &unhealthy,
        );
        assert_eq!(weights(&hosts[0]), [("us-west-2".into(), "b".into(), 3, 255)]);
        let none = traffic(
            &[route(&[&web], Policy::LatencyOverWeighted)],
            &[],
            &BTreeSet::new(),
        );
        assert!(
            none[0].regions.is_empty(),
            "a host with no replicas anywhere has no record"
        );
    }

    #[test]
    fn apportioning_handles_ties_zeros_and_more_clusters_than_points() {
        assert_eq!(apportion(255, &[0, 0]), vec![0, 0]);
        assert_eq!(apportion(255, &[0, 5]), vec![0, 255]);
        assert_eq!(
            apportion(10, &[1, 1, 1]),
            vec![4, 3, 3],
            "ties go to the earlier entry"
        );
        assert_eq!(
            apportion(2, &[5, 1, 1]),
            vec![2, 0, 0],
            "more clusters than points"
        );
        assert_eq!(apportion(255, &[u64::MAX, u64::MAX]), vec![128, 127]);
    }

    #[test]
    fn an_unhealthy_endpoint_has_no_record_and_a_known_one_is_named() {
        let web = WorkloadId::new("shop", "web");
        let plan = Plan {
            placements: vec![
                placement(&web, "a", "us-west-2", 2),
                placement(&web, "b", "us-west-2", 2),
            ],
            ..Plan::default()
        };
        let mut r = route(&[&web], Policy::LatencyOverWeighted);
        r.endpoints = vec![
            Endpoint {
                cluster: "a".into(),
                address: "lb-a.us-west-2.elb.amazonaws.com".into(),
                healthy: true,
            },
            Endpoint {
                cluster: "b".into(),
                address: "lb-b.us-west-2.elb.amazonaws.com".into(),
                healthy: false,
            },
        ];
        let hosts = traffic(&[r], &plan.serving(), &BTreeSet::new());
        let only = &hosts[0].regions[0].clusters;
        assert_eq!(only.len(), 1);
        assert_eq!((only[0].weight, only[0].share), (255, 1.0));
        assert_eq!(
            only[0].endpoint.as_deref(),
            Some("lb-a.us-west-2.elb.amazonaws.com")
        );
        let groups = hosts[0].endpoint_groups();
        assert_eq!(groups.len(), 1);
        assert_eq!(
            (groups[0].region.as_str(), groups[0].traffic_dial_percentage),
            ("us-west-2", 100)
        );
        assert_eq!(groups[0].endpoints[0].weight, 255);
    }

    #[test]
    fn host_names_are_checked_as_an_ingress_rule_and_route53_would() {
        assert_eq!(host_name_error("shop.example.com"), None);
        assert_eq!(host_name_error("*.example.com"), None);
        for bad in [
            "",
            "Shop.example.com",
            "shop..example.com",
            "-a.example.com",
            "a_b.example.com",
            "10.0.0.1",
            "a\nb",
        ] {
            assert!(host_name_error(bad).is_some(), "{bad:?} must be refused");
        }
        assert!(host_name_error(&format!("{}.com", "a".repeat(64))).is_some());
        let web = WorkloadId::new("shop", "web");
        let mut r = route(&[&web], Policy::Weighted);
        assert_eq!(route_error(&r, |_| true, |_| true), None);
        assert!(
            route_error(&r, |_| false, |_| true)
                .unwrap()
                .contains("backend `shop/web`")
        );
        r.ttl = MAX_TTL + 1;
        assert!(route_error(&r, |_| true, |_| true).unwrap().contains("ttl"));
    }

    proptest! {
        #[test]
        fn weights_sum_to_the_points_and_stay_within_one_of_the_exact_share(
            counts in proptest::collection::vec(0u64..1_000_000, 1..40),
        ) {
            let shares = apportion(MAX_WEIGHT, &counts);
            let sum: u64 = counts.iter().sum();
            prop_assert_eq!(shares.len(), counts.len());
            if sum == 0 {
                prop_assert!(shares.iter().all(|&s| s == 0));
                return Ok(());
            }
            prop_assert_eq!(shares.iter().sum::<u32>(), MAX_WEIGHT);
            let floor_bumped = counts.iter().zip(&shares).any(|(&c, _)| {
                c > 0 && u128::from(c) * u128::from(MAX_WEIGHT) < u128::from(sum)
            });
            for (&count, &share) in counts.iter().zip(&shares) {
                if count == 0 {
                    prop_assert_eq!(share, 0, "no replicas, no weight");
                } else {
                    prop_assert!(share >= 1, "replicas, some weight");
                }
                if !floor_bumped {
                    let exact = f64::from(MAX_WEIGHT) * count as f64 / sum as f64;
                    prop_assert!((f64::from(share) - exact).abs() < 1.0, "{share} vs {exact}");
                }
            }
            // Deterministic.
            prop_assert_eq!(shares, apportion(MAX_WEIGHT, &counts));
        }

        #[test]
        fn more_replicas_never_mean_less_weight_within_a_group(
            counts in proptest::collection::vec(1u64..10_000, 2..20),
        ) {
            let shares = apportion(MAX_WEIGHT, &counts);
            for i in 0..counts.len() {
                for j in 0..counts.len() {
                    if counts[i] > counts[j] {
                        prop_assert!(shares[i] >= shares[j], "{counts:?} -> {shares:?}");
                    }
                }
            }
        }
    }
}

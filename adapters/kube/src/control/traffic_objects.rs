//! The Kubernetes objects that carry the traffic model ([`fleetplan::traffic`]) to the
//! controllers a user may already run (pure):
//!
//! - **external-dns**: one `DNSEndpoint` (`externaldns.k8s.io/v1alpha1`) per host, for
//!   external-dns's `crd` source and its AWS provider. Under the default latency policy it
//!   holds, per region with a weighted cluster, a latency record at `HOST` (set identifier
//!   the region, `aws/region`) aliasing `REGION.HOST` in the same zone (`alias: "true"`), and
//!   at `REGION.HOST` one weighted record per cluster (set identifier the cluster,
//!   `aws/weight`) whose target is the cluster's load balancer (external-dns makes a known
//!   ELB name an alias itself); under the weighted policy, the weighted records sit at
//!   `HOST`. Every record evaluates its target's health (`aws/evaluate-target-health`) and
//!   takes the host's TTL. external-dns's own TXT registry (`--txt-owner-id`) keeps other
//!   writers off these names.
//! - **Global Accelerator**: one `GlobalAccelerator` (`aga.k8s.aws/v1beta1`, the AWS Load
//!   Balancer Controller's) per host: one TCP listener on ports 80 and 443, one endpoint
//!   group per region (traffic dial 100, or 0 while every endpoint there is at weight 0),
//!   one endpoint per cluster by its load balancer's ARN (`type: EndpointID`, which
//!   endpoints in other regions than the controller's need) with the cluster's weight.
//!
//! A cluster whose load balancer is not known yet (or, for Global Accelerator, whose ARN is
//! not) is left out and reported as pending. Both kinds of object are named after the host
//! (a `*` becomes `wildcard`) and labelled with [`MANAGED_BY_LABEL`] and [`OWNER_LABEL`], so
//! that a writer only ever changes or deletes its own.

use std::collections::BTreeMap;

use fleetplan::traffic::{HostTraffic, Policy};
use kube::api::ApiResource;
use serde_json::{Value, json};

use crate::control::desired::{FIELD_MANAGER, MANAGED_BY_LABEL};

/// The label naming the fleetplan instance (its owner id) that wrote an object.
pub const OWNER_LABEL: &str = "fleetplan.io/owner";
/// The annotation naming the host an object routes.
pub const HOST_ANNOTATION: &str = "fleetplan.io/host";

/// external-dns's `DNSEndpoint`.
pub fn dns_endpoint_resource() -> ApiResource {
    resource("externaldns.k8s.io", "v1alpha1", "DNSEndpoint", "dnsendpoints")
}

/// The AWS Load Balancer Controller's `GlobalAccelerator`.
pub fn global_accelerator_resource() -> ApiResource {
    resource(
        "aga.k8s.aws",
        "v1beta1",
        "GlobalAccelerator",
        "globalaccelerators",
    )
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Objects to write, with the clusters left out for now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrafficObjects {
    /// The objects, one per host with at least one record, by host.
    pub objects: Vec<Value>,
    /// `(host, cluster)`: clusters with replicas left out because their load balancer (or
    /// its ARN) is not known yet.
    pub pending: Vec<(String, String)>,
}

/// The object name for `host`: the host itself, a `*` label as `wildcard`.
pub fn object_name(host: &str) -> String {
    host.replace('*', "wildcard")
}

fn metadata(resource: &ApiResource, host: &str, namespace: &str, owner: &str) -> Value {
    json!({
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {
            "name": object_name(host),
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: FIELD_MANAGER, OWNER_LABEL: owner},
            "annotations": {HOST_ANNOTATION: host},
        },
    })
}

fn provider(pairs: &[(&str, String)]) -> Value {
    pairs
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect()
}

/// One `DNSEndpoint` per host in `namespace`, owned by `owner`: see the [module](self)
/// documentation.
pub fn dns_endpoints(hosts: &[HostTraffic], namespace: &str, owner: &str) -> TrafficObjects {
    let resource = dns_endpoint_resource();
    let mut out = TrafficObjects::default();
    for host in hosts {
        let mut endpoints = Vec::new();
        for region in &host.regions {
            let weighted_name = match host.policy {
                Policy::LatencyOverWeighted => format!("{}.{}", region.region, host.host),
                Policy::Weighted => host.host.clone(),
            };
            let mut any = false;
            for c in &region.clusters {
                let Some(address) = &c.endpoint else {
                    out.pending.push((host.host.clone(), c.cluster.to_string()));
                    continue;
                };
                endpoints.push(json!({
                    "dnsName": weighted_name,
                    "recordType": "CNAME",
                    "targets": [address.trim_end_matches('.')],
                    "setIdentifier": c.cluster.as_str(),
                    "recordTTL": host.ttl,
                    "providerSpecific": provider(&[
                        ("aws/weight", c.weight.to_string()),
                        ("aws/evaluate-target-health", "true".into()),
                    ]),
                }));
                any = true;
            }
            if any && host.policy == Policy::LatencyOverWeighted {
                endpoints.push(json!({
                    "dnsName": host.host,
                    "recordType": "CNAME",
                    "targets": [weighted_name],
                    "setIdentifier": region.region,
                    "recordTTL": host.ttl,
                    "providerSpecific": provider(&[
                        ("alias", "true".into()),
                        ("aws/region", region.region.clone()),
                        ("aws/evaluate-target-health", "true".into()),
                    ]),
                }));
            }
        }
        if endpoints.is_empty() {
            continue;
        }
        let mut object = metadata(&resource, &host.host, namespace, owner);
        object["spec"] = json!({ "endpoints": endpoints });
        out.objects.push(object);
    }
    out
}

/// The name Global Accelerator gets for `host`: letters, digits and `-`, at most 64
/// characters (a longer one is cut and ends with a digest of the host, so it stays unique).
pub fn accelerator_name(host: &str) -> String {
    let plain: String = format!("fp-{}", object_name(host))
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if plain.len() <= 64 {
        return plain;
    }
    // FNV-1a: stable across releases and platforms.
    let digest = host.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{}-{digest:016x}", &plain[..47])
}

/// One `GlobalAccelerator` per host in `namespace`, owned by `owner`; `arns` maps each load
/// balancer's DNS name (lowercase, without the final dot) to its ARN. See the
/// [module](self) documentation.
pub fn global_accelerators(
    hosts: &[HostTraffic],
    arns: &BTreeMap<String, String>,
    namespace: &str,
    owner: &str,
) -> TrafficObjects {
    let resource = global_accelerator_resource();
    let mut out = TrafficObjects::default();
    for host in hosts {
        let mut groups = Vec::new();
        for group in host.endpoint_groups() {
            let mut endpoints = Vec::new();
            for e in &group.endpoints {
                let arn = e
                    .endpoint
                    .as_deref()
                    .and_then(|a| arns.get(&a.trim_end_matches('.').to_ascii_lowercase()));
                let Some(arn) = arn else {
                    out.pending.push((host.host.clone(), e.cluster.to_string()));
                    continue;
                };
                endpoints.push(json!({"type": "EndpointID", "endpointID": arn, "weight": e.weight}));
            }
            if !endpoints.is_empty() {
                groups.push(json!({
                    "region": group.region,
                    "trafficDialPercentage": group.traffic_dial_percentage,
                    "endpoints": endpoints,
                }));
            }
        }
        if groups.is_empty() {
            continue;
        }
        let mut object = metadata(&resource, &host.host, namespace, owner);
        object["spec"] = json!({
            "name": accelerator_name(&host.host),
            "ipAddressType": "IPV4",
            "listeners": [{
                "protocol": "TCP",
                "portRanges": [{"fromPort": 80, "toPort": 80}, {"fromPort": 443, "toPort": 443}],
                "clientAffinity": "NONE",
                "endpointGroups": groups,
            }],
        });
        out.objects.push(object);
    }
    out
}

#[cfg(test)]
mod tests {
    use fleetplan::traffic::{ClusterTraffic, RegionTraffic};

    use super::*;

    fn cluster(name: &str, weight: u32, endpoint: Option<&str>) -> ClusterTraffic {
        ClusterTraffic {
            cluster: name.into(),
            replicas: u64::from(weight),
            weight,
            share: 0.5,
            endpoint: endpoint.map(str::to_string),
        }
    }

    fn shop(policy: Policy) -> HostTraffic {
        HostTraffic {
            host: "shop.example.com".into(),
            source: "Ingress shop/web".into(),
            ttl: 60,
            policy,
            regions: vec![
                RegionTraffic {
                    region: "eu-west-1".into(),
                    clusters: vec![
                        cluster("eu-a", 0, Some("eu-a.eu-west-1.elb.amazonaws.com")),
                        cluster("eu-b", 0, Some("eu-b.eu-west-1.elb.amazonaws.com.")),
                    ],
                },
                RegionTraffic {
                    region: "us-west-2".into(),
                    clusters: vec![
                        cluster("us-a", 128, Some("us-a.us-west-2.elb.amazonaws.com")),
                        cluster("us-b", 127, None),
                    ],
                },
            ],
        }
    }

    #[test]
    fn a_dns_endpoint_holds_latency_records_over_weighted_ones_per_region() {
        let out = dns_endpoints(&[shop(Policy::LatencyOverWeighted)], "fleetplan-system", "me");
        assert_eq!(
            out.pending,
            [("shop.example.com".to_string(), "us-b".to_string())]
        );
        let [object] = out.objects.as_slice() else {
            panic!("one object: {:?}", out.objects)
        };
        assert_eq!(object["apiVersion"], "externaldns.k8s.io/v1alpha1");
        assert_eq!(object["metadata"]["name"], "shop.example.com");
        assert_eq!(object["metadata"]["labels"][OWNER_LABEL], "me");
        let records: Vec<(String, String, String, String)> = object["spec"]["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .map(|e| {
                let specific: Vec<String> = e["providerSpecific"]
                    .as_array()
                    .expect("providerSpecific")
                    .iter()
                    .map(|p| {
                        format!(
                            "{}={}",
                            p["name"].as_str().unwrap_or(""),
                            p["value"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                (
                    e["dnsName"].as_str().unwrap_or_default().to_string(),
                    e["setIdentifier"].as_str().unwrap_or_default().to_string(),
                    e["targets"][0].as_str().unwrap_or_default().to_string(),
                    specific.join(","),
                )
            })
            .collect();
        let expected = [
            (
                "eu-west-1.shop.example.com",
                "eu-a",
                "eu-a.eu-west-1.elb.amazonaws.com",
                "aws/weight=0,aws/evaluate-target-health=true",
            ),
            (
                "eu-west-1.shop.example.com",
                "eu-b",
                "eu-b.eu-west-1.elb.amazonaws.com",
                "aws/weight=0,aws/evaluate-target-health=true",
            ),
            (
                "shop.example.com",
                "eu-west-1",
                "eu-west-1.shop.example.com",
                "alias=true,aws/region=eu-west-1,aws/evaluate-target-health=true",
            ),
            (
                "us-west-2.shop.example.com",
                "us-a",
                "us-a.us-west-2.elb.amazonaws.com",
                "aws/weight=128,aws/evaluate-target-health=true",
            ),
            (
                "shop.example.com",
                "us-west-2",
                "us-west-2.shop.example.com",
                "alias=true,aws/region=us-west-2,aws/evaluate-target-health=true",
            ),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
            .collect();
        assert_eq!(records, expected);
        assert!(object["spec"]["endpoints"].as_array().is_some_and(|e| {
            e.iter()
                .all(|e| e["recordTTL"] == 60 && e["recordType"] == "CNAME")
        }));
    }

    #[test]
    fn under_the_weighted_policy_the_records_sit_at_the_host() {
        let out = dns_endpoints(&[shop(Policy::Weighted)], "ns", "me");
        let names: Vec<&str> = out.objects[0]["spec"]["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .filter_map(|e| e["dnsName"].as_str())
            .collect();
        assert_eq!(names, ["shop.example.com"; 3]);
    }

    #[test]
    fn an_accelerator_has_an_endpoint_group_per_region_with_weights_and_dials() {
        let arns: BTreeMap<String, String> = ["eu-a.eu-west-1", "eu-b.eu-west-1", "us-a.us-west-2"]
            .iter()
            .map(|n| (format!("{n}.elb.amazonaws.com"), format!("arn:{n}")))
            .collect();
        let out = global_accelerators(
            &[shop(Policy::LatencyOverWeighted)],
            &arns,
            "fleetplan-system",
            "me",
        );
        assert_eq!(
            out.pending,
            [("shop.example.com".to_string(), "us-b".to_string())]
        );
        let spec = &out.objects[0]["spec"];
        assert_eq!(spec["name"], "fp-shop-example-com");
        let groups = &spec["listeners"][0]["endpointGroups"];
        assert_eq!(
            groups,
            &json!([
                {"region": "eu-west-1", "trafficDialPercentage": 0, "endpoints": [
                    {"type": "EndpointID", "endpointID": "arn:eu-a.eu-west-1", "weight": 0},
                    {"type": "EndpointID", "endpointID": "arn:eu-b.eu-west-1", "weight": 0},
                ]},
                {"region": "us-west-2", "trafficDialPercentage": 100, "endpoints": [
                    {"type": "EndpointID", "endpointID": "arn:us-a.us-west-2", "weight": 128},
                ]},
            ])
        );
    }

    #[test]
    fn accelerator_names_fit_its_pattern() {
        assert_eq!(accelerator_name("*.example.com"), "fp-wildcard-example-com");
        let long = format!("{}.example.com", "a".repeat(80));
        let name = accelerator_name(&long);
        assert_eq!(name.len(), 64);
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_ne!(name, accelerator_name(&format!("{}.example.com", "a".repeat(81))));
    }
}

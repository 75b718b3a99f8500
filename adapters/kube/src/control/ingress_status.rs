//! The load balancers of a source Ingress, read back from its copies in the workload
//! clusters: each copy's `status.loadBalancer.ingress` (written there by the cluster's
//! ingress controller, such as the AWS Load Balancer Controller's ALB DNS name) becomes one
//! entry of the source's annotation [`LOAD_BALANCERS`] (JSON: cluster -> hostnames and IPs),
//! and, in a management control plane, whose Ingresses no controller serves, the source's
//! own `status.loadBalancer.ingress`: every cluster's addresses, merged.
//!
//! A cluster that holds a copy but did not answer this pass keeps the addresses it had, so
//! that a blip does not take a load balancer out of DNS; a cluster the plan no longer sends
//! the Ingress to is dropped.

use std::collections::BTreeMap;
use std::net::IpAddr;

use fleetplan::ClusterName;
use fleetplan::traffic::Endpoint;
use serde_json::{Value, json};

/// The annotation on a source Ingress naming each cluster's load balancer addresses.
pub const LOAD_BALANCERS: &str = "fleetplan.io/load-balancers";

/// The addresses (hostnames and IPs) of an Ingress's load balancers, by cluster.
pub type LoadBalancers = BTreeMap<String, Vec<String>>;

/// The hostnames and IPs an Ingress's `status` shows, in its order.
pub fn addresses(status: &Value) -> Vec<String> {
    let Some(entries) = status["loadBalancer"]["ingress"].as_array() else {
        return Vec::new();
    };
    entries
        .iter()
        .flat_map(|e| [e["hostname"].as_str(), e["ip"].as_str()])
        .flatten()
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The addresses by cluster after a pass: for each cluster the plan sends the Ingress to,
/// what its copy showed this pass (`seen`), else what the source's annotation said before
/// (`previous`, ignored when it is not this annotation's JSON). Clusters whose copy shows
/// no address yet are left out.
pub fn load_balancers(
    previous: Option<&str>,
    planned: &[ClusterName],
    seen: &BTreeMap<String, Vec<String>>,
) -> LoadBalancers {
    let previous: LoadBalancers = previous
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    planned
        .iter()
        .filter_map(|cluster| {
            let addresses = seen
                .get(cluster.as_str())
                .or_else(|| previous.get(cluster.as_str()))?;
            (!addresses.is_empty()).then(|| (cluster.to_string(), addresses.clone()))
        })
        .collect()
}

/// Each cluster's endpoint as the source Ingress's [`LOAD_BALANCERS`] annotation names it
/// (see [`endpoints_of`]); none when the annotation is missing or not this annotation's JSON.
pub fn endpoints(source: &Value) -> Vec<Endpoint> {
    let balancers: LoadBalancers = source["metadata"]["annotations"][LOAD_BALANCERS]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    endpoints_of(&balancers)
}

/// Each cluster's endpoint: its first address, in cluster order (a cluster without one has
/// none).
pub fn endpoints_of(balancers: &LoadBalancers) -> Vec<Endpoint> {
    balancers
        .iter()
        .filter_map(|(cluster, addresses)| {
            Some(Endpoint {
                cluster: cluster.as_str().into(),
                address: addresses.first()?.clone(),
                healthy: true,
            })
        })
        .collect()
}

/// The annotation's value: compact JSON, clusters in name order.
pub fn annotation(balancers: &LoadBalancers) -> String {
    serde_json::to_string(balancers).unwrap_or_default()
}

/// `status.loadBalancer.ingress` for the source: every cluster's addresses once, sorted; an
/// IP as `ip`, anything else as `hostname`.
pub fn merged_status(balancers: &LoadBalancers) -> Value {
    let mut all: Vec<&String> = balancers.values().flatten().collect();
    all.sort();
    all.dedup();
    let entries: Vec<Value> = all
        .into_iter()
        .map(|a| match a.parse::<IpAddr>() {
            Ok(_) => json!({ "ip": a }),
            Err(_) => json!({ "hostname": a }),
        })
        .collect();
    json!({ "loadBalancer": { "ingress": entries } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(clusters: &[&str]) -> Vec<ClusterName> {
        clusters.iter().map(|c| ClusterName::from(*c)).collect()
    }

    fn seen(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(c, a)| (c.to_string(), a.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn addresses_are_hostnames_and_ips_in_status_order() {
        let status = json!({"loadBalancer": {"ingress": [
            {"hostname": "k8s-shop-web-1.us-west-2.elb.amazonaws.com", "ports": [{"port": 80}]},
            {"ip": "203.0.113.7"},
            {"hostname": ""},
        ]}});
        assert_eq!(
            addresses(&status),
            ["k8s-shop-web-1.us-west-2.elb.amazonaws.com", "203.0.113.7"]
        );
        assert!(addresses(&json!({})).is_empty());
        assert!(addresses(&Value::Null).is_empty());
    }

    #[test]
    fn a_silent_cluster_keeps_its_addresses_and_an_unplanned_one_is_dropped() {
        let previous = r#"{"a":["lb-a"],"b":["lb-b"],"gone":["lb-gone"]}"#;
        let now = load_balancers(
            Some(previous),
            &names(&["a", "b", "new"]),
            &seen(&[("a", &["lb-a2"]), ("new", &[])]),
        );
        let expected: LoadBalancers = seen(&[("a", &["lb-a2"]), ("b", &["lb-b"])]);
        assert_eq!(
            now, expected,
            "a read now, b as before, new has no address yet, gone is not planned"
        );
        assert_eq!(annotation(&now), r#"{"a":["lb-a2"],"b":["lb-b"]}"#);
        // Not this annotation's JSON: read as nothing.
        assert!(load_balancers(Some("not json"), &names(&["a"]), &BTreeMap::new()).is_empty());
    }

    #[test]
    fn the_merged_status_lists_each_address_once_sorted() {
        let balancers = seen(&[
            ("a", &["z.elb.amazonaws.com", "198.51.100.1"]),
            ("b", &["z.elb.amazonaws.com", "a.elb.amazonaws.com"]),
        ]);
        assert_eq!(
            merged_status(&balancers),
            json!({"loadBalancer": {"ingress": [
                {"ip": "198.51.100.1"},
                {"hostname": "a.elb.amazonaws.com"},
                {"hostname": "z.elb.amazonaws.com"},
            ]}})
        );
        assert_eq!(
            merged_status(&LoadBalancers::new()),
            json!({"loadBalancer": {"ingress": []}})
        );
    }

    #[test]
    fn the_annotation_gives_each_cluster_its_first_address_as_endpoint() {
        let source = json!({"metadata": {"annotations": {
            LOAD_BALANCERS: r#"{"b":["lb-b","203.0.113.9"],"a":["lb-a"],"none":[]}"#
        }}});
        let got: Vec<(String, String, bool)> = endpoints(&source)
            .into_iter()
            .map(|e| (e.cluster.to_string(), e.address, e.healthy))
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), "lb-a".to_string(), true),
                ("b".into(), "lb-b".into(), true)
            ]
        );
        assert!(endpoints(&json!({})).is_empty());
        assert!(endpoints(&json!({"metadata": {"annotations": {LOAD_BALANCERS: "[1]"}}})).is_empty());
    }
}

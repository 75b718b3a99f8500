//! The global hosts of a scenario, as the traffic model reads them (pure): every
//! `spec.rules[].host` of an Ingress, served by the workloads its backend Services select, and
//! the `fleetplan.io/hostname` of a Service of type LoadBalancer, served by the workloads it
//! selects. The source's annotations `fleetplan.io/traffic-policy` (`latency`, the default:
//! latency between regions, weighted within one; or `weighted`: weighted over every cluster)
//! and `fleetplan.io/dns-ttl` (seconds, default 60) choose how users are spread.
//!
//! An Ingress rule without a host (it answers any name) has no global host and gets no route.

use std::collections::{BTreeMap, BTreeSet};

use fleetplan::WorkloadId;
use fleetplan::follow::{Dependent, ObjectRef};
use fleetplan::traffic::{DEFAULT_TTL, Policy, Route, host_name_error};

use crate::error::{LoadError, Location};
use crate::files::carried::CarriedObject;
use crate::files::workloads::DEFAULT_NAMESPACE;

/// A Service's global host (for a Service of type LoadBalancer).
pub const HOSTNAME_ANNOTATION: &str = "fleetplan.io/hostname";
/// `latency` (the default) or `weighted`.
pub const TRAFFIC_POLICY_ANNOTATION: &str = "fleetplan.io/traffic-policy";
/// The records' TTL in seconds.
pub const DNS_TTL_ANNOTATION: &str = "fleetplan.io/dns-ttl";

/// The routes of the carried Ingresses and LoadBalancer Services, ordered by host and
/// source; `dependents` say which workloads each Service serves.
///
/// # Errors
/// A host that is not a DNS name, a `fleetplan.io/hostname` on a Service that is not of type
/// LoadBalancer, or a bad policy or TTL annotation, naming the file, object and field.
pub(crate) fn routes(carried: &[CarriedObject], dependents: &[Dependent]) -> Result<Vec<Route>, LoadError> {
    let serves: BTreeMap<&ObjectRef, &Vec<WorkloadId>> =
        dependents.iter().map(|d| (&d.object, &d.used_by)).collect();
    let mut out = Vec::new();
    for c in carried.iter().filter(|c| {
        c.api_version.starts_with("networking.k8s.io/") && c.kind == "Ingress"
            || c.api_version == "v1" && c.kind == "Service"
    }) {
        let namespace = c.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
        let source = ObjectRef::new(&c.kind, namespace, &c.name);
        let at = |field: &str, message: String| LoadError::Type {
            at: Box::new(Location {
                file: c.file.clone(),
                object: Some(source.to_string()),
                field: Some(field.to_string()),
            }),
            message,
        };
        let object = c.value();
        let annotation = |key: &str| object["metadata"]["annotations"][key].as_str();
        let (hosts, backends): (Vec<(String, String)>, BTreeSet<WorkloadId>) = if c.kind == "Ingress" {
            let rules = object["spec"]["rules"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let hosts = rules
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    r["host"]
                        .as_str()
                        .map(|h| (h.to_string(), format!("spec.rules[{i}].host")))
                })
                .collect();
            let backends = dependents
                .iter()
                .find(|d| d.object == source)
                .into_iter()
                .flat_map(|d| &d.beside)
                .filter_map(|s| serves.get(s))
                .flat_map(|users| users.iter().cloned())
                .collect();
            (hosts, backends)
        } else {
            let Some(host) = annotation(HOSTNAME_ANNOTATION) else {
                continue;
            };
            let field = format!("metadata.annotations.{HOSTNAME_ANNOTATION}");
            if object["spec"]["type"].as_str() != Some("LoadBalancer") {
                return Err(at(
                    &field,
                    "only a Service of type LoadBalancer has a load balancer for a global host".into(),
                ));
            }
            let backends = serves
                .get(&source)
                .into_iter()
                .flat_map(|u| u.iter().cloned())
                .collect();
            (vec![(host.to_string(), field)], backends)
        };
        if hosts.is_empty() {
            continue;
        }
        let policy = match annotation(TRAFFIC_POLICY_ANNOTATION) {
            None | Some("latency") => Policy::LatencyOverWeighted,
            Some("weighted") => Policy::Weighted,
            Some(other) => {
                return Err(at(
                    &format!("metadata.annotations.{TRAFFIC_POLICY_ANNOTATION}"),
                    format!(
                        "`{}` is not a traffic policy: use `latency` or `weighted`",
                        other.escape_debug()
                    ),
                ));
            }
        };
        let ttl = match annotation(DNS_TTL_ANNOTATION) {
            None => DEFAULT_TTL,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|&t| t <= fleetplan::traffic::MAX_TTL)
                .ok_or_else(|| {
                    at(
                        &format!("metadata.annotations.{DNS_TTL_ANNOTATION}"),
                        format!(
                            "`{}` is not a TTL: give whole seconds, 0 to 2147483647",
                            text.escape_debug()
                        ),
                    )
                })?,
        };
        let mut seen = BTreeSet::new();
        for (host, field) in hosts {
            if let Some(problem) = host_name_error(&host) {
                return Err(at(&field, format!("`{}` {problem}", host.escape_debug())));
            }
            if seen.insert(host.clone()) {
                out.push(Route {
                    host,
                    source: source.clone(),
                    backends: backends.iter().cloned().collect(),
                    policy,
                    ttl,
                    endpoints: Vec::new(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.host.cmp(&b.host).then_with(|| a.source.cmp(&b.source)));
    if let Some(pair) = out.windows(2).find(|p| p[0].host == p[1].host) {
        let file = carried
            .iter()
            .find(|c| c.name == *pair[1].source.name && c.kind == *pair[1].source.kind)
            .map(|c| c.file.clone())
            .unwrap_or_default();
        return Err(LoadError::Type {
            at: Box::new(Location {
                file,
                object: Some(pair[1].source.to_string()),
                field: None,
            }),
            message: format!(
                "host `{}` is also {}'s: one host has one source, or their DNS records would fight",
                pair[0].host, pair[0].source
            ),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use fleetplan::{PlanOptions, plan};

    use crate::{LoadError, SourceFile, load_sources};

    const WEB: &str = include_str!("../../../examples/tutorial/apps/web.yaml");

    fn load(web: &str) -> Result<crate::Scenario, LoadError> {
        let file = |name: &str, text: &str| SourceFile {
            name: PathBuf::from(name),
            text: text.into(),
        };
        let pool = "pools: [{name: p, count: 4, allocatable: {cpu: '8', memory: 32Gi, pods: '110'}}]";
        let clusters: String = [
            "us-west-2-a us-west-2",
            "us-west-2-b us-west-2",
            "eu-west-1-a eu-west-1",
        ]
        .iter()
        .map(|c| {
            let (name, region) = c.split_once(' ').unwrap();
            format!("  - {{name: {name}, region: {region}, {pool}}}\n")
        })
        .collect();
        let fleet = [file(
            "fleet.yaml",
            &format!("apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n{clusters}"),
        )];
        load_sources(&fleet, &[file("web.yaml", web)], Vec::new())
    }

    /// The tutorial's apps with its Ingress rule's host and traffic annotations taken out.
    fn without_host() -> String {
        WEB.lines()
            .filter(|l| !l.contains("fleetplan.io/traffic-policy") && !l.contains("fleetplan.io/dns-ttl"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("    - host: shop.example.com\n      http:", "    - http:")
    }

    fn with_host(host: &str, annotations: &str) -> String {
        without_host()
            .replace("    - http:", &format!("    - host: {host}\n      http:"))
            .replace(
                "    alb.ingress.kubernetes.io/target-type: ip",
                &format!("    alb.ingress.kubernetes.io/target-type: ip\n{annotations}"),
            )
    }

    #[test]
    fn an_ingress_host_is_served_by_the_workloads_behind_its_services() {
        let scenario = load(&with_host("shop.example.com", "    fleetplan.io/dns-ttl: \"30\"")).unwrap();
        let routes = &scenario.problem.routes;
        assert_eq!(routes.len(), 1);
        assert_eq!(routes[0].host, "shop.example.com");
        assert_eq!(routes[0].source.to_string(), "Ingress shop/web");
        assert_eq!(routes[0].ttl, 30);
        let backends: Vec<String> = routes[0].backends.iter().map(ToString::to_string).collect();
        assert_eq!(backends, ["shop/web-eu", "shop/web-us"]);
        let plan = plan(&scenario.problem, &PlanOptions::default()).unwrap();
        let host = &plan.traffic[0];
        let regions: Vec<&str> = host.regions.iter().map(|r| r.region.as_str()).collect();
        let mut placed: Vec<&str> = plan
            .placements
            .iter()
            .filter(|p| p.replicas > 0)
            .map(|p| &*p.region)
            .collect();
        placed.dedup();
        assert_eq!(
            regions, placed,
            "a latency entry for every region holding web replicas"
        );
        assert!(regions.contains(&"eu-west-1"));
        for region in &host.regions {
            assert_eq!(region.clusters.iter().map(|c| c.weight).sum::<u32>(), 255);
        }
        assert!(
            load(&without_host()).unwrap().problem.routes.is_empty(),
            "a rule without a host is no global host"
        );
    }

    #[test]
    fn bad_hosts_and_annotations_name_the_file_object_and_field() {
        let cases = [
            (with_host("Shop.Example.com", ""), "spec.rules[0].host"),
            (
                with_host("shop.example.com", "    fleetplan.io/traffic-policy: nearest"),
                "fleetplan.io/traffic-policy",
            ),
            (
                with_host("shop.example.com", "    fleetplan.io/dns-ttl: \"-1\""),
                "fleetplan.io/dns-ttl",
            ),
        ];
        for (web, field) in cases {
            let error = load(&web).unwrap_err().to_string();
            assert!(
                error.contains("web.yaml") && error.contains("Ingress shop/web") && error.contains(field),
                "{error}"
            );
        }
    }
}

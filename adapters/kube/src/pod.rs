//! The one conversion of a Kubernetes pod spec into the core's [`PodTemplate`], shared by
//! Deployments, Jobs and (for their requests) the pods of a kubectl dump.
//!
//! What is kept: labels; container and init container requests (an init container with
//! `restartPolicy: Always` is a sidecar); `nodeSelector`; required and preferred node affinity
//! (`matchExpressions` only); tolerations; topology spread constraints whose key is
//! `topology.kubernetes.io/region`, `topology.kubernetes.io/zone` or `fleetplan.io/cluster`;
//! and what the pod needs from its host ([`HostNeeds`], which rules out Fargate): privileged
//! containers or init containers (`securityContext.privileged`), `hostNetwork`, the non-zero
//! `ports[].hostPort` of the containers and then the init containers, in order, and EBS
//! volumes (`awsElasticBlockStore`, or `csi` with the driver [`EBS_CSI_DRIVER`]).
//!
//! What is not: spread constraints with any other key (`kubernetes.io/hostname` and other
//! node-level keys: the cluster's own scheduler spreads inside a cluster, so they are
//! skipped); pod affinity and anti-affinity; a spread constraint's `labelSelector`,
//! `minDomains` and node policies (the constraint is taken to count the workload's own
//! replicas). Requests follow the Kubernetes rule: a resource with a limit and no request
//! requests its limit.

use std::collections::BTreeMap;

use fleetplan::{
    Container, HostNeeds, LabelRequirement, LabelSelector, Labels, NodeAffinity, Operator, PodTemplate,
    PreferredTerm, Resources, TaintEffect, Toleration, TolerationOperator, TopologyKey, TopologySpread,
    WhenUnsatisfiable,
};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::error::LoadError;
use crate::files::source::Site;
use crate::quantity::parse_non_negative;

/// The CSI driver of Amazon EBS volumes.
pub(crate) const EBS_CSI_DRIVER: &str = "ebs.csi.aws.com";

/// The scheduling part of `spec`, found at `prefix` (such as `spec.template.spec`) in the
/// object that `site` names.
pub(crate) fn pod_template(
    spec: &core::PodSpec,
    labels: Labels,
    priority: i32,
    site: &Site,
    prefix: &str,
) -> Result<PodTemplate, LoadError> {
    if spec.resources.as_ref().is_some_and(has_amounts) {
        return Err(site.invalid(
            format!("{prefix}.resources"),
            "pod-level resources are not supported; give the requests per container",
        ));
    }
    let (containers, init_containers) = containers(spec, site, prefix)?;
    Ok(PodTemplate {
        labels,
        containers,
        init_containers,
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        affinity: node_affinity(spec, site, prefix)?,
        tolerations: tolerations(spec, site, prefix)?,
        topology_spread: topology_spread(spec, site, prefix)?,
        priority,
        host_needs: host_needs(spec, site, prefix)?,
    })
}

/// What the pod needs from its host: privileged containers, the host network, host ports
/// and EBS volumes.
fn host_needs(spec: &core::PodSpec, site: &Site, prefix: &str) -> Result<HostNeeds, LoadError> {
    let all = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("{prefix}.containers[{i}]"), c))
        .chain(
            spec.init_containers
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, c)| (format!("{prefix}.initContainers[{i}]"), c)),
        );
    let mut needs = HostNeeds {
        host_network: spec.host_network == Some(true),
        ..HostNeeds::default()
    };
    for (field, c) in all {
        needs.privileged |= c
            .security_context
            .as_ref()
            .and_then(|s| s.privileged)
            .unwrap_or(false);
        for (j, port) in c.ports.iter().flatten().enumerate() {
            match port.host_port {
                None | Some(0) => {}
                Some(p) => needs.host_ports.push(u16::try_from(p).map_err(|_| {
                    site.invalid(
                        format!("{field}.ports[{j}].hostPort"),
                        format!("must be between 1 and 65535 (got {p})"),
                    )
                })?),
            }
        }
    }
    needs.ebs_volume = spec.volumes.iter().flatten().any(|v| {
        v.aws_elastic_block_store.is_some() || v.csi.as_ref().is_some_and(|c| c.driver == EBS_CSI_DRIVER)
    });
    Ok(needs)
}

/// What a pod takes from its node, as the scheduler counts it: the effective requests of its
/// containers (see [`PodTemplate::effective_requests`]), pod-level requests where given,
/// plus the pod overhead.
pub(crate) fn pod_requests(spec: &core::PodSpec, site: &Site, prefix: &str) -> Result<Resources, LoadError> {
    let (containers, init_containers) = containers(spec, site, prefix)?;
    let template = PodTemplate {
        containers,
        init_containers,
        ..PodTemplate::default()
    };
    let mut requests = template.effective_requests();
    if let Some(resources) = &spec.resources {
        let pod_level = requests_of(resources, site, &format!("{prefix}.resources"))?;
        for (name, amount) in pod_level.iter() {
            requests.set(name.as_str(), amount);
        }
    }
    if let Some(overhead) = &spec.overhead {
        requests.add(&amounts(overhead, site, &format!("{prefix}.overhead"))?);
    }
    Ok(requests)
}

fn has_amounts(r: &core::ResourceRequirements) -> bool {
    r.requests.as_ref().is_some_and(|m| !m.is_empty()) || r.limits.as_ref().is_some_and(|m| !m.is_empty())
}

type Containers = (Vec<Container>, Vec<Container>);

fn containers(spec: &core::PodSpec, site: &Site, prefix: &str) -> Result<Containers, LoadError> {
    let mut app = Vec::new();
    for (i, c) in spec.containers.iter().enumerate() {
        app.push(container(c, false, site, &format!("{prefix}.containers[{i}]"))?);
    }
    let mut init = Vec::new();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let sidecar = c.restart_policy.as_deref() == Some("Always");
        init.push(container(
            c,
            sidecar,
            site,
            &format!("{prefix}.initContainers[{i}]"),
        )?);
    }
    Ok((app, init))
}

fn container(c: &core::Container, sidecar: bool, site: &Site, field: &str) -> Result<Container, LoadError> {
    let requests = match &c.resources {
        Some(resources) => requests_of(resources, site, &format!("{field}.resources"))?,
        None => Resources::new(),
    };
    Ok(Container {
        name: c.name.clone(),
        requests,
        sidecar,
    })
}

/// Requests, with each resource that has a limit but no request requesting its limit.
fn requests_of(
    resources: &core::ResourceRequirements,
    site: &Site,
    field: &str,
) -> Result<Resources, LoadError> {
    let empty = BTreeMap::new();
    let requests = resources.requests.as_ref().unwrap_or(&empty);
    let mut result = amounts(requests, site, &format!("{field}.requests"))?;
    let limits_only: BTreeMap<String, Quantity> = resources
        .limits
        .iter()
        .flatten()
        .filter(|(name, _)| !requests.contains_key(*name))
        .map(|(name, q)| (name.clone(), q.clone()))
        .collect();
    result.add(&amounts(&limits_only, site, &format!("{field}.limits"))?);
    Ok(result)
}

/// Reads a map of quantities (non-negative) at `field`.
pub(crate) fn amounts(
    quantities: &BTreeMap<String, Quantity>,
    site: &Site,
    field: &str,
) -> Result<Resources, LoadError> {
    let mut result = Resources::new();
    for (name, quantity) in quantities {
        let amount = parse_non_negative(&quantity.0, name).map_err(|source| LoadError::Quantity {
            at: site.at(format!("{field}.{name}")),
            source,
        })?;
        result.set(name, amount);
    }
    Ok(result)
}

fn node_affinity(spec: &core::PodSpec, site: &Site, prefix: &str) -> Result<NodeAffinity, LoadError> {
    let mut result = NodeAffinity::default();
    let Some(affinity) = spec.affinity.as_ref().and_then(|a| a.node_affinity.as_ref()) else {
        return Ok(result);
    };
    let field = format!("{prefix}.affinity.nodeAffinity");
    if let Some(required) = &affinity.required_during_scheduling_ignored_during_execution {
        for (i, term) in required.node_selector_terms.iter().enumerate() {
            let field =
                format!("{field}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]");
            result.required.push(selector_term(term, site, &field)?);
        }
    }
    for (i, term) in affinity
        .preferred_during_scheduling_ignored_during_execution
        .iter()
        .flatten()
        .enumerate()
    {
        let field = format!("{field}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
        if !(1..=100).contains(&term.weight) {
            return Err(site.invalid(
                format!("{field}.weight"),
                format!("must be between 1 and 100 (got {})", term.weight),
            ));
        }
        result.preferred.push(PreferredTerm {
            weight: term.weight,
            preference: selector_term(&term.preference, site, &format!("{field}.preference"))?,
        });
    }
    Ok(result)
}

fn selector_term(
    term: &core::NodeSelectorTerm,
    site: &Site,
    field: &str,
) -> Result<LabelSelector, LoadError> {
    if term.match_fields.as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(site.invalid(
            format!("{field}.matchFields"),
            "matchFields is not supported (it selects single nodes); use matchExpressions on node labels",
        ));
    }
    let mut requirements = Vec::new();
    for (i, expression) in term.match_expressions.iter().flatten().enumerate() {
        let field = format!("{field}.matchExpressions[{i}]");
        requirements.push(requirement(
            &expression.key,
            &expression.operator,
            expression.values.clone().unwrap_or_default(),
            site,
            &field,
        )?);
    }
    Ok(LabelSelector { requirements })
}

/// A requirement with the value count Kubernetes demands of its operator.
fn requirement(
    key: &str,
    operator: &str,
    values: Vec<String>,
    site: &Site,
    field: &str,
) -> Result<LabelRequirement, LoadError> {
    let operator = match operator {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        "Gt" => Operator::Gt,
        "Lt" => Operator::Lt,
        other => {
            return Err(site.invalid(
                format!("{field}.operator"),
                format!("unknown operator `{other}`; expected In, NotIn, Exists, DoesNotExist, Gt or Lt"),
            ));
        }
    };
    let problem = match operator {
        Operator::In | Operator::NotIn if values.is_empty() => Some("needs at least one value"),
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => Some("takes no values"),
        Operator::Gt | Operator::Lt
            if values.len() != 1 || values.iter().any(|v| v.parse::<i64>().is_err()) =>
        {
            Some("takes exactly one integer value")
        }
        _ => None,
    };
    if let Some(problem) = problem {
        return Err(site.invalid(
            format!("{field}.values"),
            format!("operator {operator:?} {problem}"),
        ));
    }
    Ok(LabelRequirement {
        key: key.to_string(),
        operator,
        values,
    })
}

fn tolerations(spec: &core::PodSpec, site: &Site, prefix: &str) -> Result<Vec<Toleration>, LoadError> {
    let mut result = Vec::new();
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        let field = format!("{prefix}.tolerations[{i}]");
        let operator = match t.operator.as_deref() {
            None | Some("") | Some("Equal") => TolerationOperator::Equal,
            Some("Exists") => TolerationOperator::Exists,
            Some(other) => {
                return Err(site.invalid(
                    format!("{field}.operator"),
                    format!("unsupported operator `{other}`; expected Equal or Exists"),
                ));
            }
        };
        let effect = match t.effect.as_deref() {
            None | Some("") => None,
            Some(effect) => {
                Some(taint_effect(effect).map_err(|m| site.invalid(format!("{field}.effect"), m))?)
            }
        };
        result.push(Toleration {
            key: t.key.clone().unwrap_or_default(),
            operator,
            value: t.value.clone().unwrap_or_default(),
            effect,
        });
    }
    Ok(result)
}

/// Reads a taint effect; the error lists the valid ones.
pub(crate) fn taint_effect(effect: &str) -> Result<TaintEffect, String> {
    match effect {
        "NoSchedule" => Ok(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Ok(TaintEffect::PreferNoSchedule),
        "NoExecute" => Ok(TaintEffect::NoExecute),
        other => Err(format!(
            "unknown effect `{other}`; expected NoSchedule, PreferNoSchedule or NoExecute"
        )),
    }
}

fn topology_spread(
    spec: &core::PodSpec,
    site: &Site,
    prefix: &str,
) -> Result<Vec<TopologySpread>, LoadError> {
    let mut result = Vec::new();
    for (i, c) in spec.topology_spread_constraints.iter().flatten().enumerate() {
        let field = format!("{prefix}.topologySpreadConstraints[{i}]");
        let topology_key = match c.topology_key.as_str() {
            "topology.kubernetes.io/region" => TopologyKey::Region,
            "topology.kubernetes.io/zone" => TopologyKey::Zone,
            fleetplan::CLUSTER_NAME_LABEL => TopologyKey::Cluster,
            // Node-level keys (kubernetes.io/hostname, ...) are the cluster scheduler's job.
            _ => continue,
        };
        let max_skew = u32::try_from(c.max_skew)
            .ok()
            .filter(|s| *s >= 1)
            .ok_or_else(|| {
                site.invalid(
                    format!("{field}.maxSkew"),
                    format!("must be at least 1 (got {})", c.max_skew),
                )
            })?;
        let when_unsatisfiable = match c.when_unsatisfiable.as_str() {
            "" | "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
            "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
            other => {
                return Err(site.invalid(
                    format!("{field}.whenUnsatisfiable"),
                    format!("unknown value `{other}`; expected DoNotSchedule or ScheduleAnyway"),
                ));
            }
        };
        result.push(TopologySpread {
            max_skew,
            topology_key,
            when_unsatisfiable,
        });
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site {
            file: "apps/web.yaml".into(),
            object: "Deployment shop/web".into(),
        }
    }

    fn spec(yaml: &str) -> core::PodSpec {
        serde_norway::from_str(yaml).unwrap()
    }

    fn template(yaml: &str) -> Result<PodTemplate, LoadError> {
        pod_template(&spec(yaml), Labels::new(), 7, &site(), "spec.template.spec")
    }

    fn error(yaml: &str) -> String {
        template(yaml).unwrap_err().to_string()
    }

    #[test]
    fn requests_default_to_limits_per_resource() {
        let t = template(
            "containers:\n- name: a\n  resources:\n    requests: {cpu: 250m}\n    limits: {cpu: '1', memory: 1Gi, nvidia.com/gpu: 1}\n\
             - name: b\n  resources: {limits: {cpu: 500m}}\n- name: c\n",
        )
        .unwrap();
        let a = &t.containers[0].requests;
        assert_eq!(
            (a.get("cpu"), a.get("memory"), a.get("nvidia.com/gpu")),
            (250, 1 << 30, 1)
        );
        assert_eq!(t.containers[1].requests, Resources::new().with("cpu", 500));
        assert!(t.containers[2].requests.is_empty());
        assert_eq!(t.priority, 7);
    }

    #[test]
    fn init_containers_and_sidecars() {
        let t = template(
            "containers:\n- {name: app, resources: {requests: {cpu: 100m}}}\ninitContainers:\n\
             - {name: proxy, restartPolicy: Always, resources: {requests: {cpu: 50m}}}\n\
             - {name: migrate, resources: {requests: {cpu: '2'}}}\n",
        )
        .unwrap();
        let init: Vec<(&str, bool)> = t
            .init_containers
            .iter()
            .map(|c| (c.name.as_str(), c.sidecar))
            .collect();
        assert_eq!(init, [("proxy", true), ("migrate", false)]);
        // The migration runs beside the sidecar: 2000 + 50 > 100 + 50.
        assert_eq!(t.effective_requests().get("cpu"), 2050);
    }

    #[test]
    fn pod_requests_add_overhead_and_pod_level_requests() {
        let s = spec(
            "containers:\n- {name: a, resources: {requests: {cpu: 100m, memory: 1Mi}}}\n\
             overhead: {cpu: 10m}\nresources: {requests: {memory: 2Mi}}\n",
        );
        let r = pod_requests(&s, &site(), "spec").unwrap();
        assert_eq!((r.get("cpu"), r.get("memory"), r.get("pods")), (110, 2 << 20, 1));
        assert_eq!(
            pod_template(&s, Labels::new(), 0, &site(), "spec.template.spec")
                .unwrap_err()
                .to_string(),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.resources: pod-level resources are not \
             supported; give the requests per container"
        );
    }

    #[test]
    fn bad_and_negative_quantities_name_the_field() {
        assert_eq!(
            error("containers:\n- {name: a, resources: {requests: {cpu: lots}}}\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.containers[0].resources.requests.cpu: invalid \
             quantity \"lots\" for cpu: expected a decimal number with an optional suffix (Ki, Mi, Gi, Ti, Pi, Ei, \
             n, u, m, k, M, G, T, P, E or an exponent such as e3)"
        );
        assert_eq!(
            error("containers: []\ninitContainers:\n- {name: a, resources: {limits: {memory: -1Gi}}}\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.initContainers[0].resources.limits.memory: \
             quantity \"-1Gi\" for memory must not be negative"
        );
    }

    #[test]
    fn node_selector_and_affinity() {
        let t = template(
            "containers: []\nnodeSelector: {disktype: ssd}\naffinity:\n  nodeAffinity:\n    \
             requiredDuringSchedulingIgnoredDuringExecution:\n      nodeSelectorTerms:\n      \
             - matchExpressions:\n        - {key: a, operator: In, values: [x, y]}\n        \
             - {key: b, operator: NotIn, values: [z]}\n        - {key: c, operator: Exists}\n      \
             - matchExpressions:\n        - {key: d, operator: DoesNotExist}\n        \
             - {key: e, operator: Gt, values: ['3']}\n        - {key: f, operator: Lt, values: ['9']}\n    \
             preferredDuringSchedulingIgnoredDuringExecution:\n    \
             - {weight: 40, preference: {matchExpressions: [{key: g, operator: In, values: [v]}]}}\n",
        )
        .unwrap();
        assert_eq!(t.node_selector["disktype"], "ssd");
        let terms: Vec<String> = t.affinity.required.iter().map(|s| s.to_string()).collect();
        assert_eq!(terms, ["a in (x,y),b!=z,c", "!d,e>3,f<9"]);
        assert_eq!(t.affinity.preferred[0].weight, 40);
        assert_eq!(t.affinity.preferred[0].preference.to_string(), "g=v");
    }

    #[test]
    fn affinity_errors() {
        let required = |expr: &str| {
            error(&format!(
                "containers: []\naffinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: \
                 {{nodeSelectorTerms: [{expr}]}}}}}}\n"
            ))
        };
        let prefix = "apps/web.yaml: Deployment shop/web: spec.template.spec.affinity.nodeAffinity.\
                      requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]";
        assert_eq!(
            required("{matchFields: [{key: metadata.name, operator: In, values: [n1]}]}"),
            format!(
                "{prefix}.matchFields: matchFields is not supported (it selects single nodes); use \
                 matchExpressions on node labels"
            )
        );
        assert_eq!(
            required("{matchExpressions: [{key: a, operator: Near}]}"),
            format!(
                "{prefix}.matchExpressions[0].operator: unknown operator `Near`; expected In, NotIn, Exists, \
                 DoesNotExist, Gt or Lt"
            )
        );
        assert_eq!(
            required("{matchExpressions: [{key: a, operator: In}]}"),
            format!("{prefix}.matchExpressions[0].values: operator In needs at least one value")
        );
        assert_eq!(
            required("{matchExpressions: [{key: a, operator: Exists, values: [x]}]}"),
            format!("{prefix}.matchExpressions[0].values: operator Exists takes no values")
        );
        assert_eq!(
            required("{matchExpressions: [{key: a, operator: Gt, values: [x]}]}"),
            format!("{prefix}.matchExpressions[0].values: operator Gt takes exactly one integer value")
        );
        for weight in [0, 101] {
            assert_eq!(
                error(&format!(
                    "containers: []\naffinity: {{nodeAffinity: {{preferredDuringSchedulingIgnoredDuringExecution: \
                     [{{weight: {weight}, preference: {{}}}}]}}}}\n"
                )),
                format!(
                    "apps/web.yaml: Deployment shop/web: spec.template.spec.affinity.nodeAffinity.\
                     preferredDuringSchedulingIgnoredDuringExecution[0].weight: must be between 1 and 100 (got {weight})"
                )
            );
        }
    }

    #[test]
    fn tolerations() {
        let t = template(
            "containers: []\ntolerations:\n- {key: a, value: b, effect: NoSchedule}\n\
             - {key: c, operator: Exists, effect: PreferNoSchedule}\n- {operator: Exists}\n\
             - {key: d, operator: Equal, value: e, effect: NoExecute, tolerationSeconds: 30}\n- {key: f, effect: ''}\n",
        )
        .unwrap();
        let got: Vec<_> = t
            .tolerations
            .iter()
            .map(|t| (t.key.as_str(), t.operator, t.value.as_str(), t.effect))
            .collect();
        use TolerationOperator::*;
        assert_eq!(
            got,
            [
                ("a", Equal, "b", Some(TaintEffect::NoSchedule)),
                ("c", Exists, "", Some(TaintEffect::PreferNoSchedule)),
                ("", Exists, "", None),
                ("d", Equal, "e", Some(TaintEffect::NoExecute)),
                ("f", Equal, "", None),
            ]
        );
        assert_eq!(
            error("containers: []\ntolerations: [{key: a, effect: NoRun}]\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.tolerations[0].effect: unknown effect `NoRun`; \
             expected NoSchedule, PreferNoSchedule or NoExecute"
        );
        assert_eq!(
            error("containers: []\ntolerations: [{key: a, operator: Gt, value: '1'}]\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.tolerations[0].operator: unsupported operator \
             `Gt`; expected Equal or Exists"
        );
    }

    #[test]
    fn topology_spread() {
        let t = template(
            "containers: []\ntopologySpreadConstraints:\n\
             - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n\
             - {maxSkew: 2, topologyKey: topology.kubernetes.io/region, whenUnsatisfiable: ScheduleAnyway}\n\
             - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule}\n\
             - {maxSkew: 3, topologyKey: fleetplan.io/cluster, whenUnsatisfiable: ''}\n",
        )
        .unwrap();
        let got: Vec<_> = t
            .topology_spread
            .iter()
            .map(|s| (s.max_skew, s.topology_key, s.when_unsatisfiable))
            .collect();
        assert_eq!(
            got,
            [
                (1, TopologyKey::Zone, WhenUnsatisfiable::DoNotSchedule),
                (2, TopologyKey::Region, WhenUnsatisfiable::ScheduleAnyway),
                (3, TopologyKey::Cluster, WhenUnsatisfiable::DoNotSchedule),
            ]
        );
        assert_eq!(
            error(
                "containers: []\ntopologySpreadConstraints:\n\
                 - {maxSkew: 0, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n"
            ),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.topologySpreadConstraints[0].maxSkew: must be at \
             least 1 (got 0)"
        );
        assert_eq!(
            error(
                "containers: []\ntopologySpreadConstraints:\n\
                 - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: Never}\n"
            ),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable: \
             unknown value `Never`; expected DoNotSchedule or ScheduleAnyway"
        );
    }

    #[test]
    fn host_needs() {
        let t = template("containers: [{name: a}]\n").unwrap();
        assert_eq!(t.host_needs, HostNeeds::default());
        let t = template(
            "hostNetwork: true\ncontainers:\n- name: a\n  ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 81}, \
             {containerPort: 82, hostPort: 0}]\n  securityContext: {privileged: false}\n- name: b\n  \
             ports: [{containerPort: 53, hostPort: 53, protocol: UDP}]\ninitContainers:\n- name: init\n  \
             securityContext: {privileged: true}\n  ports: [{containerPort: 9, hostPort: 9000}]\n\
             volumes:\n- {name: data, awsElasticBlockStore: {volumeID: vol-1}}\n",
        )
        .unwrap();
        assert_eq!(
            t.host_needs,
            HostNeeds {
                privileged: true,
                host_network: true,
                host_ports: vec![8080, 53, 9000],
                ebs_volume: true,
            }
        );
        let t = template(
            "hostNetwork: false\ncontainers:\n- {name: a, securityContext: {privileged: true}}\nvolumes:\n\
             - {name: tmp, emptyDir: {}}\n- {name: data, csi: {driver: ebs.csi.aws.com}}\n",
        )
        .unwrap();
        assert_eq!(
            (
                t.host_needs.privileged,
                t.host_needs.host_network,
                t.host_needs.ebs_volume
            ),
            (true, false, true)
        );
        let t = template(
            "containers: [{name: a}]\nvolumes:\n- {name: efs, csi: {driver: efs.csi.aws.com}}\n- {name: c, configMap: {name: x}}\n",
        )
        .unwrap();
        assert!(!t.host_needs.ebs_volume);
    }

    #[test]
    fn host_ports_must_fit() {
        assert_eq!(
            error(
                "containers:\n- {name: a}\n- {name: b, ports: [{containerPort: 1}, {containerPort: 2, hostPort: 70000}]}\n"
            ),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.containers[1].ports[1].hostPort: must be between 1 \
             and 65535 (got 70000)"
        );
        assert_eq!(
            error("containers: []\ninitContainers: [{name: a, ports: [{containerPort: 1, hostPort: -5}]}]\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.initContainers[0].ports[0].hostPort: must be \
             between 1 and 65535 (got -5)"
        );
    }
}

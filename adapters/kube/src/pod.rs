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
//!
//! What the API server would refuse in a pod template is refused too (see
//! [`crate::validation`]): no container, container names that are not DNS-1123 labels or are
//! used twice (init containers included), a request above the limit of the same resource
//! (or, for extended resources and huge pages, without a limit or different from it),
//! invalid label keys and values in `nodeSelector`, node affinity and spread constraint
//! selectors, tolerations and spread constraints that break the API server's rules (checked
//! for every constraint, also those whose key is skipped). The requests of a dump's pods
//! ([`pod_requests`]) are read as the API server accepted them.

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
use crate::validation;

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
    if spec.containers.is_empty() {
        return Err(site.invalid(
            format!("{prefix}.containers"),
            "at least one container is required",
        ));
    }
    let (containers, init_containers) = containers(spec, site, prefix)?;
    check_containers(spec, site, prefix)?;
    let node_selector = spec.node_selector.clone().unwrap_or_default();
    validation::labels(&node_selector, site, &format!("{prefix}.nodeSelector"))?;
    Ok(PodTemplate {
        labels,
        containers,
        init_containers,
        node_selector,
        affinity: node_affinity(spec, site, prefix)?,
        tolerations: tolerations(spec, site, prefix)?,
        topology_spread: topology_spread(spec, site, prefix)?,
        priority,
        host_needs: host_needs(spec, site, prefix)?,
    })
}

/// The containers and then the init containers of `spec`, each with its field path.
fn all_containers<'a>(
    spec: &'a core::PodSpec,
    prefix: &'a str,
) -> impl Iterator<Item = (String, &'a core::Container)> + 'a {
    spec.containers
        .iter()
        .enumerate()
        .map(move |(i, c)| (format!("{prefix}.containers[{i}]"), c))
        .chain(
            spec.init_containers
                .iter()
                .flatten()
                .enumerate()
                .map(move |(i, c)| (format!("{prefix}.initContainers[{i}]"), c)),
        )
}

/// What the API server refuses of a pod's containers (their quantities already read): a name
/// that is not a DNS-1123 label or that another container or init container has, and
/// requests that do not keep to their limits (see [`requests_within_limits`]).
fn check_containers(spec: &core::PodSpec, site: &Site, prefix: &str) -> Result<(), LoadError> {
    let mut names: BTreeMap<&str, String> = BTreeMap::new();
    for (field, c) in all_containers(spec, prefix) {
        validation::dns1123_label(&c.name).map_err(|m| site.invalid(format!("{field}.name"), m))?;
        if let Some(first) = names.get(c.name.as_str()) {
            return Err(site.invalid(
                format!("{field}.name"),
                format!("container name `{}` is already used by {first}", c.name),
            ));
        }
        names.insert(&c.name, field.clone());
        if let Some(resources) = &c.resources {
            requests_within_limits(resources, site, &format!("{field}.resources"))?;
        }
    }
    Ok(())
}

/// Refuses what the API server refuses of a container's requests against its limits: a
/// request above the limit of the same resource and, for resources that cannot be
/// overcommitted (extended resources such as `nvidia.com/gpu`, and huge pages), a request
/// without a limit or different from it. Amounts are compared in canonical units, rounded up
/// (so a difference below a millicore or a byte passes).
fn requests_within_limits(
    resources: &core::ResourceRequirements,
    site: &Site,
    field: &str,
) -> Result<(), LoadError> {
    let Some(requests) = &resources.requests else {
        return Ok(());
    };
    for (name, request) in requests {
        let overcommit = overcommit_allowed(name);
        let Some(limit) = resources.limits.as_ref().and_then(|l| l.get(name)) else {
            if overcommit {
                continue;
            }
            return Err(site.invalid(
                format!("{field}.limits.{name}"),
                "Limit must be set for non overcommitable resources",
            ));
        };
        // Quantities that do not parse were reported already.
        let (Ok(request), Ok(amount)) = (
            parse_non_negative(&request.0, name),
            parse_non_negative(&limit.0, name),
        ) else {
            continue;
        };
        let problem = if !overcommit && request != amount {
            "must be equal to"
        } else if request > amount {
            "must be less than or equal to"
        } else {
            continue;
        };
        return Err(site.invalid(
            format!("{field}.requests.{name}"),
            format!("{problem} {name} limit of {}", limit.0),
        ));
    }
    Ok(())
}

/// Whether the scheduler may place more of a resource than the node has (requests below
/// limits): true of the native resources (names without a domain, or in `kubernetes.io/`)
/// except huge pages, as the API server's `IsOvercommitAllowed` says.
fn overcommit_allowed(name: &str) -> bool {
    (!name.contains('/') || name.contains("kubernetes.io/")) && !name.starts_with("hugepages-")
}

/// What the pod needs from its host: privileged containers, the host network, host ports
/// and EBS volumes.
fn host_needs(spec: &core::PodSpec, site: &Site, prefix: &str) -> Result<HostNeeds, LoadError> {
    let mut needs = HostNeeds {
        host_network: spec.host_network == Some(true),
        ..HostNeeds::default()
    };
    for (field, c) in all_containers(spec, prefix) {
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
        if required.node_selector_terms.is_empty() {
            return Err(site.invalid(
                format!("{field}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"),
                "at least one node selector term is required",
            ));
        }
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

/// A requirement with a valid key, the value count Kubernetes demands of its operator, and
/// valid label values for `In` and `NotIn` (the integers of `Gt` and `Lt` may be negative).
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
    validation::label_key(key).map_err(|m| site.invalid(format!("{field}.key"), m))?;
    if matches!(operator, Operator::In | Operator::NotIn) {
        for (j, value) in values.iter().enumerate() {
            validation::label_value(value).map_err(|m| site.invalid(format!("{field}.values[{j}]"), m))?;
        }
    }
    Ok(LabelRequirement {
        key: key.to_string(),
        operator,
        values,
    })
}

/// The tolerations, each checked as the API server does: a key that is a valid label key
/// (or empty with `Exists`, which tolerates every taint), an operator `Equal` (the default)
/// with a valid label value or `Exists` with none, a known effect (or none), and
/// `tolerationSeconds` only with `NoExecute`.
fn tolerations(spec: &core::PodSpec, site: &Site, prefix: &str) -> Result<Vec<Toleration>, LoadError> {
    let mut result = Vec::new();
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        let field = format!("{prefix}.tolerations[{i}]");
        let key = t.key.clone().unwrap_or_default();
        let value = t.value.clone().unwrap_or_default();
        if !key.is_empty() {
            validation::label_key(&key).map_err(|m| site.invalid(format!("{field}.key"), m))?;
        }
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
        match operator {
            TolerationOperator::Equal if key.is_empty() => {
                return Err(site.invalid(
                    format!("{field}.operator"),
                    "must be Exists when `key` is empty (which tolerates every taint)",
                ));
            }
            TolerationOperator::Equal => {
                validation::label_value(&value).map_err(|m| site.invalid(format!("{field}.value"), m))?;
            }
            TolerationOperator::Exists if !value.is_empty() => {
                return Err(site.invalid(
                    format!("{field}.value"),
                    format!(
                        "must be empty when `operator` is Exists (got `{}`)",
                        value.escape_debug()
                    ),
                ));
            }
            TolerationOperator::Exists => {}
        }
        let effect = match t.effect.as_deref() {
            None | Some("") => None,
            Some(effect) => {
                Some(taint_effect(effect).map_err(|m| site.invalid(format!("{field}.effect"), m))?)
            }
        };
        if t.toleration_seconds.is_some() && effect != Some(TaintEffect::NoExecute) {
            return Err(site.invalid(
                format!("{field}.tolerationSeconds"),
                "only allowed with effect NoExecute",
            ));
        }
        result.push(Toleration {
            key,
            operator,
            value,
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

/// The spread constraints over regions, zones and clusters. Every constraint is checked as
/// the API server does, also those skipped: `maxSkew` at least 1, a `topologyKey` that is a
/// valid label key, `whenUnsatisfiable` DoNotSchedule or ScheduleAnyway, `minDomains` at least
/// 1 and only with DoNotSchedule, a valid `labelSelector` and `matchLabelKeys`, and no two
/// constraints with the same key and `whenUnsatisfiable`.
fn topology_spread(
    spec: &core::PodSpec,
    site: &Site,
    prefix: &str,
) -> Result<Vec<TopologySpread>, LoadError> {
    let mut result = Vec::new();
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, c) in spec.topology_spread_constraints.iter().flatten().enumerate() {
        let field = format!("{prefix}.topologySpreadConstraints[{i}]");
        let max_skew = u32::try_from(c.max_skew)
            .ok()
            .filter(|s| *s >= 1)
            .ok_or_else(|| {
                site.invalid(
                    format!("{field}.maxSkew"),
                    format!("must be at least 1 (got {})", c.max_skew),
                )
            })?;
        if c.topology_key.is_empty() {
            return Err(site.invalid(format!("{field}.topologyKey"), "must not be empty"));
        }
        validation::label_key(&c.topology_key)
            .map_err(|m| site.invalid(format!("{field}.topologyKey"), m))?;
        let when_unsatisfiable = match c.when_unsatisfiable.as_str() {
            "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
            "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
            "" => {
                return Err(site.invalid(
                    format!("{field}.whenUnsatisfiable"),
                    "missing; expected DoNotSchedule or ScheduleAnyway",
                ));
            }
            other => {
                return Err(site.invalid(
                    format!("{field}.whenUnsatisfiable"),
                    format!(
                        "unknown value `{}`; expected DoNotSchedule or ScheduleAnyway",
                        other.escape_debug()
                    ),
                ));
            }
        };
        if let Some(min_domains) = c.min_domains {
            if min_domains < 1 {
                return Err(site.invalid(
                    format!("{field}.minDomains"),
                    format!("must be at least 1 (got {min_domains})"),
                ));
            }
            if when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule {
                return Err(site.invalid(
                    format!("{field}.minDomains"),
                    "only allowed with whenUnsatisfiable DoNotSchedule",
                ));
            }
        }
        if let Some(selector) = &c.label_selector {
            validation::label_selector(selector, site, &format!("{field}.labelSelector"))?;
        }
        for (j, key) in c.match_label_keys.iter().flatten().enumerate() {
            validation::label_key(key)
                .map_err(|m| site.invalid(format!("{field}.matchLabelKeys[{j}]"), m))?;
        }
        if let Some(first) = seen.insert((&c.topology_key, &c.when_unsatisfiable), i) {
            return Err(site.invalid(
                field,
                format!(
                    "repeats topologySpreadConstraints[{first}]: two constraints with topologyKey {} and \
                     whenUnsatisfiable {}",
                    c.topology_key, c.when_unsatisfiable
                ),
            ));
        }
        let topology_key = match c.topology_key.as_str() {
            "topology.kubernetes.io/region" => TopologyKey::Region,
            "topology.kubernetes.io/zone" => TopologyKey::Zone,
            fleetplan::CLUSTER_NAME_LABEL => TopologyKey::Cluster,
            // Node-level keys (kubernetes.io/hostname, ...) are the cluster scheduler's job.
            _ => continue,
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
        Site::example()
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
            error(
                "containers: [{name: main}]\ninitContainers:\n- {name: a, resources: {limits: {memory: -1Gi}}}\n"
            ),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.initContainers[0].resources.limits.memory: \
             quantity \"-1Gi\" for memory must not be negative"
        );
    }

    #[test]
    fn node_selector_and_affinity() {
        let t = template(
            "containers: [{name: main}]\nnodeSelector: {disktype: ssd}\naffinity:\n  nodeAffinity:\n    \
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
                "containers: [{{name: main}}]\naffinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: \
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
                    "containers: [{{name: main}}]\naffinity: {{nodeAffinity: {{preferredDuringSchedulingIgnoredDuringExecution: \
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
            "containers: [{name: main}]\ntolerations:\n- {key: a, value: b, effect: NoSchedule}\n\
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
            error("containers: [{name: main}]\ntolerations: [{key: a, effect: NoRun}]\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.tolerations[0].effect: unknown effect `NoRun`; \
             expected NoSchedule, PreferNoSchedule or NoExecute"
        );
        assert_eq!(
            error("containers: [{name: main}]\ntolerations: [{key: a, operator: Gt, value: '1'}]\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.tolerations[0].operator: unsupported operator \
             `Gt`; expected Equal or Exists"
        );
    }

    #[test]
    fn topology_spread() {
        let t = template(
            "containers: [{name: main}]\ntopologySpreadConstraints:\n\
             - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n\
             - {maxSkew: 2, topologyKey: topology.kubernetes.io/region, whenUnsatisfiable: ScheduleAnyway}\n\
             - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule}\n\
             - {maxSkew: 3, topologyKey: fleetplan.io/cluster, whenUnsatisfiable: DoNotSchedule, minDomains: 2}\n",
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
                "containers: [{name: main}]\ntopologySpreadConstraints:\n\
                 - {maxSkew: 0, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n"
            ),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.topologySpreadConstraints[0].maxSkew: must be at \
             least 1 (got 0)"
        );
        assert_eq!(
            error(
                "containers: [{name: main}]\ntopologySpreadConstraints:\n\
                 - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: Never}\n"
            ),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable: \
             unknown value `Never`; expected DoNotSchedule or ScheduleAnyway"
        );
    }

    /// The API server's rules hold for every constraint, also those whose key is skipped.
    #[test]
    fn topology_spread_errors() {
        let spread = |constraints: &str| {
            error(&format!(
                "containers: [{{name: main}}]\ntopologySpreadConstraints:\n{constraints}"
            ))
        };
        let prefix = "apps/web.yaml: Deployment shop/web: spec.template.spec.topologySpreadConstraints";
        assert_eq!(
            spread(
                "- {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n\
                 - {maxSkew: 0, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule}\n"
            ),
            format!("{prefix}[1].maxSkew: must be at least 1 (got 0)")
        );
        assert_eq!(
            spread(
                "- {maxSkew: -1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule}\n"
            ),
            format!("{prefix}[0].maxSkew: must be at least 1 (got -1)")
        );
        assert_eq!(
            spread("- {maxSkew: 1, whenUnsatisfiable: DoNotSchedule}\n"),
            format!("{prefix}[0].topologyKey: must not be empty")
        );
        assert!(
            spread("- {maxSkew: 1, topologyKey: 'zone/a/b', whenUnsatisfiable: DoNotSchedule}\n")
                .starts_with(&format!(
                    "{prefix}[0].topologyKey: `zone/a/b` is not a valid label key"
                ))
        );
        assert_eq!(
            spread("- {maxSkew: 1, topologyKey: kubernetes.io/hostname}\n"),
            format!("{prefix}[0].whenUnsatisfiable: missing; expected DoNotSchedule or ScheduleAnyway")
        );
        assert_eq!(
            spread(
                "- {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, minDomains: 0}\n"
            ),
            format!("{prefix}[0].minDomains: must be at least 1 (got 0)")
        );
        assert_eq!(
            spread(
                "- {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway, minDomains: 2}\n"
            ),
            format!("{prefix}[0].minDomains: only allowed with whenUnsatisfiable DoNotSchedule")
        );
        assert!(
            spread(
                "- {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, \
                 labelSelector: {matchLabels: {app: 'web app'}}}\n"
            )
            .starts_with(&format!(
                "{prefix}[0].labelSelector.matchLabels[app]: `web app` is not a valid label value"
            ))
        );
        assert_eq!(
            spread(
                "- {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, \
                 labelSelector: {matchExpressions: [{key: app, operator: In}]}}\n"
            ),
            format!(
                "{prefix}[0].labelSelector.matchExpressions[0].values: operator In needs at least one value"
            )
        );
        assert!(
            spread(
                "- {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, \
                 matchLabelKeys: [pod-template-hash, '-x']}\n"
            )
            .starts_with(&format!(
                "{prefix}[0].matchLabelKeys[1]: `-x` is not a valid label key"
            ))
        );
        assert_eq!(
            spread(
                "- {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n\
                 - {maxSkew: 2, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n"
            ),
            format!(
                "{prefix}[1]: repeats topologySpreadConstraints[0]: two constraints with topologyKey \
                 topology.kubernetes.io/zone and whenUnsatisfiable DoNotSchedule"
            )
        );
        // The same key with the other whenUnsatisfiable is no repeat.
        template(
            "containers: [{name: main}]\ntopologySpreadConstraints:\n\
             - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n\
             - {maxSkew: 2, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}\n",
        )
        .unwrap();
    }

    #[test]
    fn a_pod_needs_a_container() {
        for yaml in ["containers: []\n", "{}", "initContainers: [{name: init}]\n"] {
            assert_eq!(
                error(yaml),
                "apps/web.yaml: Deployment shop/web: spec.template.spec.containers: at least one container is required"
            );
        }
    }

    #[test]
    fn container_names_are_labels_used_once() {
        assert_eq!(
            error("containers: [{name: web}, {name: Web_2}]\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.containers[1].name: `Web_2` is not a DNS-1123 \
             label: use lowercase letters, digits and `-`, starting and ending with a letter or digit (such as \
             `my-name` or `123-abc`)"
        );
        assert_eq!(
            error("containers: [{image: nginx}]\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.containers[0].name: `` is not a DNS-1123 label: \
             it is empty"
        );
        assert_eq!(
            error("containers: [{name: web}]\ninitContainers: [{name: setup}, {name: web}]\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.initContainers[1].name: container name `web` is \
             already used by spec.template.spec.containers[0]"
        );
        assert_eq!(
            error("containers: [{name: web}, {name: web}]\n"),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.containers[1].name: container name `web` is \
             already used by spec.template.spec.containers[0]"
        );
    }

    #[test]
    fn requests_may_not_exceed_limits() {
        assert_eq!(
            error(
                "containers:\n- {name: a, resources: {requests: {cpu: '2', memory: 1Gi}, limits: {cpu: 1500m, memory: 2Gi}}}\n"
            ),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.containers[0].resources.requests.cpu: must be less \
             than or equal to cpu limit of 1500m"
        );
        assert_eq!(
            error(
                "containers: [{name: a}]\ninitContainers:\n\
                 - {name: b, resources: {requests: {memory: 1Gi}, limits: {memory: 1000Mi}}}\n"
            ),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.initContainers[0].resources.requests.memory: must \
             be less than or equal to memory limit of 1000Mi"
        );
        // Equal amounts written differently, and limits on other resources, are fine.
        let t = template(
            "containers:\n- {name: a, resources: {requests: {cpu: '1', memory: 1Gi}, limits: {cpu: 1000m, memory: \
             1073741824, nvidia.com/gpu: 1}}}\n",
        )
        .unwrap();
        assert_eq!(t.containers[0].requests.get("cpu"), 1000);
    }

    #[test]
    fn resources_that_cannot_be_overcommitted_request_their_limit() {
        let prefix = "apps/web.yaml: Deployment shop/web: spec.template.spec.containers[0].resources";
        assert_eq!(
            error(
                "containers:\n- {name: a, resources: {requests: {nvidia.com/gpu: 1}, limits: {nvidia.com/gpu: 2}}}\n"
            ),
            format!("{prefix}.requests.nvidia.com/gpu: must be equal to nvidia.com/gpu limit of 2")
        );
        assert_eq!(
            error("containers:\n- {name: a, resources: {requests: {nvidia.com/gpu: 1}}}\n"),
            format!("{prefix}.limits.nvidia.com/gpu: Limit must be set for non overcommitable resources")
        );
        assert_eq!(
            error("containers:\n- {name: a, resources: {requests: {hugepages-2Mi: 2Mi, memory: 1Gi}}}\n"),
            format!("{prefix}.limits.hugepages-2Mi: Limit must be set for non overcommitable resources")
        );
        // Equal amounts, native resources (also in the kubernetes.io domain) below their limit.
        template(
            "containers:\n- {name: a, resources: {requests: {nvidia.com/gpu: '1', cpu: 1, kubernetes.io/foo: 1}, \
             limits: {nvidia.com/gpu: 1, cpu: 2, kubernetes.io/foo: 2}}}\n",
        )
        .expect("requests that keep their limits");
    }

    #[test]
    fn label_keys_and_values_of_node_selection() {
        let prefix = "apps/web.yaml: Deployment shop/web: spec.template.spec";
        assert!(
            error("containers: [{name: a}]\nnodeSelector: {disktype: 'fast ssd'}\n").starts_with(&format!(
                "{prefix}.nodeSelector[disktype]: `fast ssd` is not a valid label value"
            ))
        );
        assert!(
            error("containers: [{name: a}]\nnodeSelector: {'/disktype': ssd}\n").starts_with(&format!(
                "{prefix}.nodeSelector[/disktype]: `/disktype` is not a valid label key"
            ))
        );
        let required = |expr: &str| {
            error(&format!(
                "containers: [{{name: a}}]\naffinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: \
                 {{nodeSelectorTerms: [{{matchExpressions: [{expr}]}}]}}}}}}\n"
            ))
        };
        let term = format!(
            "{prefix}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]\
             .matchExpressions[0]"
        );
        assert!(
            required("{key: 'a/b/c', operator: Exists}")
                .starts_with(&format!("{term}.key: `a/b/c` is not a valid label key"))
        );
        assert_eq!(
            required(&format!(
                "{{key: a, operator: NotIn, values: [ok, {}]}}",
                "a".repeat(64)
            )),
            format!(
                "{term}.values[1]: `{}` is not a valid label value: it is 64 characters long; at most 63",
                "a".repeat(64)
            )
        );
        // Gt and Lt take integers, negative ones too.
        template(
            "containers: [{name: a}]\naffinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: \
             {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: Gt, values: ['-3']}]}]}}}\n",
        )
        .unwrap();
        assert_eq!(
            error(
                "containers: [{name: a}]\naffinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: \
                 {nodeSelectorTerms: []}}}\n"
            ),
            format!(
                "{prefix}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: at \
                 least one node selector term is required"
            )
        );
    }

    #[test]
    fn tolerations_keep_the_api_server_rules() {
        let toleration = |t: &str| error(&format!("containers: [{{name: a}}]\ntolerations: [{t}]\n"));
        let at = "apps/web.yaml: Deployment shop/web: spec.template.spec.tolerations[0]";
        assert_eq!(
            toleration("{operator: Equal, value: x}"),
            format!("{at}.operator: must be Exists when `key` is empty (which tolerates every taint)")
        );
        assert_eq!(
            toleration("{value: x}"),
            format!("{at}.operator: must be Exists when `key` is empty (which tolerates every taint)")
        );
        assert_eq!(
            toleration("{key: a, operator: Exists, value: x}"),
            format!("{at}.value: must be empty when `operator` is Exists (got `x`)")
        );
        assert_eq!(
            toleration("{key: a, operator: Exists, effect: NoSchedule, tolerationSeconds: 30}"),
            format!("{at}.tolerationSeconds: only allowed with effect NoExecute")
        );
        assert_eq!(
            toleration("{key: a, operator: Exists, tolerationSeconds: 30}"),
            format!("{at}.tolerationSeconds: only allowed with effect NoExecute")
        );
        assert!(
            toleration("{key: 'dedicated node', operator: Exists}")
                .starts_with(&format!("{at}.key: `dedicated node` is not a valid label key"))
        );
        assert!(
            toleration("{key: dedicated, value: '-batch'}")
                .starts_with(&format!("{at}.value: `-batch` is not a valid label value"))
        );
        template(
            "containers: [{name: a}]\ntolerations:\n- {key: example.com/gpu, operator: Exists, effect: NoExecute, \
             tolerationSeconds: 60}\n- {operator: Exists, effect: NoSchedule}\n- {key: a, value: ''}\n",
        )
        .unwrap();
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
            error(
                "containers: [{name: main}]\ninitContainers: [{name: a, ports: [{containerPort: 1, hostPort: -5}]}]\n"
            ),
            "apps/web.yaml: Deployment shop/web: spec.template.spec.initContainers[0].ports[0].hostPort: must be \
             between 1 and 65535 (got -5)"
        );
    }
}

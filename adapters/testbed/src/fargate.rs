//! Fargate on the bed: a stand-in for what EKS does with a cluster's Fargate profiles.
//!
//! On EKS an admission webhook sends every new pod that matches a Fargate profile to the
//! Fargate scheduler and labels it `eks.amazonaws.com/fargate-profile: <profile>`; Fargate
//! then runs it on a virtual node of its own, labelled `eks.amazonaws.com/compute-type:
//! fargate`. The bed does the same with real API-server machinery and no webhook server:
//!
//! - a **MutatingAdmissionPolicy** (CEL, built into the API server) per cluster with Fargate
//!   profiles. A new pod that matches a profile (its namespace and every label of one of the
//!   profile's selectors, with `*` and `?` wildcards; the first matching profile by name wins,
//!   as on EKS) gets the profile label, plus a node selector and a toleration that send it to
//!   the Fargate nodes below (where EKS would set `schedulerName: fargate-scheduler`);
//! - [`FARGATE_NODES`] large **virtual nodes** per such cluster, named like EKS's
//!   (`fargate-ip-10-0-0-N.<region>.compute.internal`), labelled and tainted as Fargate's, in
//!   zones `<region>a`, `<region>b`.
//!   EKS makes one per pod; the bed shares a few, which changes nothing for a reader that
//!   counts a pod on a Fargate node against the profile its label names.
//!
//! **Decision:** a pod that already carries the profile label (a pinned profile) is treated
//! like any other; the bed does not emulate pinning. The Fargate vCPU quota is the planner's
//! business: the virtual nodes are large enough not to limit anything.

use std::collections::BTreeMap;

use fleetplan::fargate::{FargateProfile, PROFILE_LABEL};
use fleetplan::{Cluster, NodePool, Resources};
use k8s_openapi::api::core::v1::Node;
use serde_json::{Value, json};

use crate::nodes::{FARGATE_LABEL, node};

/// Virtual Fargate nodes per cluster with Fargate profiles.
pub const FARGATE_NODES: u32 = 2;

/// The name of the admission policy (and its binding) in every cluster with profiles.
pub const POLICY_NAME: &str = "testbed-fargate-profiles";

/// The cluster's Fargate profiles, sorted by name (EKS's precedence).
pub(crate) fn profiles(cluster: &Cluster) -> Vec<&FargateProfile> {
    let mut profiles: Vec<&FargateProfile> =
        cluster.pools.iter().filter_map(|p| p.fargate.as_ref()).collect();
    profiles.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    profiles
}

/// The virtual Fargate nodes of `cluster`: none without Fargate profiles.
pub(crate) fn fargate_nodes(cluster: &Cluster) -> Vec<Node> {
    if profiles(cluster).is_empty() {
        return Vec::new();
    }
    let mut pool = NodePool::uniform(
        "fargate",
        FARGATE_NODES,
        Resources::new()
            .with("cpu", 64_000)
            .with("memory", 256 << 30)
            .with("pods", 250),
    );
    pool.labels.insert(FARGATE_LABEL.0.into(), FARGATE_LABEL.1.into());
    // Zones `<region>a`, `<region>b`, ... as EKS labels Fargate nodes with their subnet's zone
    // (a zone spread constraint needs the label to place a pod at all).
    (0..FARGATE_NODES)
        .zip(b'a'..=b'z')
        .map(|(n, zone)| {
            pool.zone = Some(format!("{}{}", cluster.region, char::from(zone)));
            let name = format!("fargate-ip-10-0-0-{}.{}.compute.internal", n + 1, cluster.region);
            node(cluster, &pool, name)
        })
        .collect()
}

/// Why a profile cannot be expressed as an admission policy.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unsupported(pub String);

/// The MutatingAdmissionPolicy and its binding for `cluster`'s Fargate profiles; `None`
/// without profiles.
///
/// # Errors
/// A selector with characters a Kubernetes namespace or label cannot hold.
pub(crate) fn admission_policy(cluster: &Cluster) -> Result<Option<(Value, Value)>, Unsupported> {
    let profiles = profiles(cluster);
    if profiles.is_empty() {
        return Ok(None);
    }
    // The first profile by name that matches, or '' for none.
    let mut chosen = String::from("''");
    for profile in profiles.iter().rev() {
        chosen = format!("({}) ? '{}' : {chosen}", profile_matches(profile)?, profile.name);
    }
    let toleration = format!(
        "Object.spec.tolerations{{key: '{0}', operator: 'Equal', value: '{1}', effect: 'NoSchedule'}}",
        FARGATE_LABEL.0, FARGATE_LABEL.1
    );
    let patch = [
        "(has(object.metadata.labels) ? [] : [JSONPatch{op: 'add', path: '/metadata/labels', value: {}}])".to_string(),
        format!(
            "[JSONPatch{{op: 'add', path: '/metadata/labels/' + jsonpatch.escapeKey('{PROFILE_LABEL}'), value: variables.profile}}]"
        ),
        "(has(object.spec.nodeSelector) ? [] : [JSONPatch{op: 'add', path: '/spec/nodeSelector', value: {}}])".to_string(),
        format!(
            "[JSONPatch{{op: 'add', path: '/spec/nodeSelector/' + jsonpatch.escapeKey('{}'), value: '{}'}}]",
            FARGATE_LABEL.0, FARGATE_LABEL.1
        ),
        format!(
            "(has(object.spec.tolerations) ? [JSONPatch{{op: 'add', path: '/spec/tolerations/-', value: {toleration}}}] \
             : [JSONPatch{{op: 'add', path: '/spec/tolerations', value: [{toleration}]}}])"
        ),
    ]
    .join(" + ");
    let policy = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": POLICY_NAME},
        "spec": {
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"],
            }]},
            "matchConditions": [{"name": "matches-a-fargate-profile", "expression": format!("({chosen}) != ''")}],
            "variables": [{"name": "profile", "expression": chosen}],
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": patch}}],
        },
    });
    let binding = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY_NAME},
        "spec": {"policyName": POLICY_NAME},
    });
    Ok(Some((policy, binding)))
}

/// A pod that the admission policy sends to Fargate, for checking the policy is in force:
/// it matches the first selector of the first profile, in that selector's namespace with
/// the wildcards filled in.
pub(crate) fn probe_pod(cluster: &Cluster) -> Option<(String, Value)> {
    let selector = profiles(cluster).into_iter().find_map(|p| p.selectors.first())?;
    let fill = |pattern: &str| pattern.replace(['*', '?'], "x");
    let labels: BTreeMap<String, String> = selector.labels.iter().map(|(k, v)| (fill(k), fill(v))).collect();
    let namespace = fill(&selector.namespace);
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "testbed-fargate-probe", "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "probe", "image": "probe"}]},
    });
    Some((namespace, pod))
}

/// The CEL condition that a new pod matches one of `profile`'s selectors.
fn profile_matches(profile: &FargateProfile) -> Result<String, Unsupported> {
    let mut any = Vec::with_capacity(profile.selectors.len());
    for selector in &profile.selectors {
        let mut all = vec![format!(
            "request.namespace.matches('{}')",
            regex(&selector.namespace)?
        )];
        for (key, value) in &selector.labels {
            all.push(format!(
                "(has(object.metadata.labels) && object.metadata.labels.exists(k, k.matches('{}') && \
                 object.metadata.labels[k].matches('{}')))",
                regex(key)?,
                regex(value)?
            ));
        }
        any.push(format!("({})", all.join(" && ")));
    }
    if any.is_empty() {
        return Ok("false".into());
    }
    Ok(any.join(" || "))
}

/// A Fargate wildcard pattern as an anchored regular expression: `*` any run, `?` one
/// character, `.` itself.
fn regex(pattern: &str) -> Result<String, Unsupported> {
    let mut out = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '.' => out.push_str("[.]"),
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/') => out.push(c),
            c => {
                return Err(Unsupported(format!(
                    "Fargate selector `{pattern}` has `{c}`, which no namespace or label holds"
                )));
            }
        }
    }
    out.push('$');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetplan::fargate::FargateSelector;

    /// A profile: its name, its one selector's namespace and labels.
    type Profile<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

    fn cluster_with(profiles: &[Profile<'_>]) -> Cluster {
        let mut cluster = Cluster::new("east", "us-east-1");
        for (name, namespace, labels) in profiles {
            cluster.pools.push(NodePool::fargate(FargateProfile {
                name: (*name).into(),
                selectors: vec![FargateSelector {
                    namespace: (*namespace).into(),
                    labels: labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
                }],
                zones: Vec::new(),
            }));
        }
        cluster
    }

    #[test]
    fn wildcards_become_anchored_regular_expressions() {
        assert_eq!(regex("team-*").unwrap(), "^team-.*$");
        assert_eq!(regex("a?c.d").unwrap(), "^a.c[.]d$");
        assert!(regex("it's").unwrap_err().0.contains("`'`"));
    }

    #[test]
    fn the_first_profile_by_name_wins_and_no_profile_means_no_policy_or_nodes() {
        let cluster = cluster_with(&[
            ("fp-shop", "shop", &[]),
            ("fp-batch", "batch", &[("compute", "fargate")]),
        ]);
        let (policy, binding) = admission_policy(&cluster).unwrap().unwrap();
        let chosen = policy["spec"]["variables"][0]["expression"].as_str().unwrap();
        let batch = chosen.find("'fp-batch'").unwrap();
        assert!(batch < chosen.find("'fp-shop'").unwrap(), "{chosen}");
        assert!(chosen.contains("k.matches('^compute$')"), "{chosen}");
        assert_eq!(binding["spec"]["policyName"], POLICY_NAME);
        assert_eq!(fargate_nodes(&cluster).len(), FARGATE_NODES as usize);
        let (namespace, pod) = probe_pod(&cluster).unwrap();
        assert_eq!(namespace, "batch");
        assert_eq!(pod["metadata"]["labels"]["compute"], "fargate");

        let plain = Cluster::new("west", "us-west-2");
        assert_eq!(admission_policy(&plain).unwrap(), None);
        assert!(fargate_nodes(&plain).is_empty());
        assert!(probe_pod(&plain).is_none());
    }
}

//! Objects that follow workloads: the ConfigMaps, Secrets, Services, Ingresses and the like
//! that a workload needs beside its replicas, and the clusters each of them goes to under a
//! plan.
//!
//! A [`Dependent`] says what it must be beside: workloads (it goes to the union of the clusters
//! holding replicas of any of them), every planned workload of its namespace (a global
//! Service), or other dependents (an Ingress beside its backend Services, a TLS Secret beside
//! its Ingress). [`follow`] resolves these against a plan into one [`Follow`] per dependent,
//! ordered by kind, namespace and name; a dependent that goes nowhere is listed with no
//! clusters, so that whoever applies the plan prunes it everywhere.
//!
//! Which object uses which (pod template references, Service selectors, Ingress backends) is
//! Kubernetes' business and is worked out by the adapters; this module only knows the graph.
//!
//! ```
//! use fleetplan::follow::{Dependent, ObjectRef, follow};
//! use fleetplan::{Placement, Plan, WorkloadId};
//!
//! let web = WorkloadId::new("shop", "web");
//! let plan = Plan {
//!     placements: vec![Placement {
//!         workload: web.clone(),
//!         cluster: "us-west-2-a".into(),
//!         region: "us-west-2".into(),
//!         replicas: 3,
//!         pools: Vec::new(),
//!     }],
//!     ..Plan::default()
//! };
//! let service = ObjectRef::new("Service", "shop", "web");
//! let dependents = [
//!     Dependent::used_by(service.clone(), [web.clone()]),
//!     Dependent::beside(ObjectRef::new("Ingress", "shop", "web"), [service]),
//! ];
//! let follows = follow(&plan, &dependents);
//! assert_eq!(follows[0].object.kind.as_ref(), "Ingress");
//! assert_eq!(follows[0].clusters, ["us-west-2-a".into()]);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cluster::ClusterName;
use crate::plan::Plan;
use crate::workload::WorkloadId;

/// A namespaced object by kind, namespace and name: `ConfigMap shop/web-config`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// The object's kind, such as `ConfigMap`.
    pub kind: Arc<str>,
    /// Its namespace.
    pub namespace: Arc<str>,
    /// Its name.
    pub name: Arc<str>,
}

impl ObjectRef {
    /// Builds a reference.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        ObjectRef {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// An object that goes where the workloads it serves run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependent {
    /// The object.
    pub object: ObjectRef,
    /// Workloads whose replicas it must be beside.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_by: Vec<WorkloadId>,
    /// Other dependents it must be beside (an Ingress beside its backend Services).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub beside: Vec<ObjectRef>,
    /// Beside every planned workload of its namespace (a Service meant to be resolvable from
    /// every cluster, for a multi-cluster service mesh).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub namespace_wide: bool,
}

impl Dependent {
    /// A dependent with no reason to go anywhere yet.
    pub fn new(object: ObjectRef) -> Self {
        Dependent {
            object,
            used_by: Vec::new(),
            beside: Vec::new(),
            namespace_wide: false,
        }
    }

    /// A dependent beside the replicas of `workloads`.
    pub fn used_by(object: ObjectRef, workloads: impl IntoIterator<Item = WorkloadId>) -> Self {
        Dependent {
            used_by: workloads.into_iter().collect(),
            ..Dependent::new(object)
        }
    }

    /// A dependent beside other dependents.
    pub fn beside(object: ObjectRef, others: impl IntoIterator<Item = ObjectRef>) -> Self {
        Dependent {
            beside: others.into_iter().collect(),
            ..Dependent::new(object)
        }
    }

    /// A dependent beside every planned workload of its namespace.
    pub fn namespace_wide(object: ObjectRef) -> Self {
        Dependent {
            namespace_wide: true,
            ..Dependent::new(object)
        }
    }
}

/// Where one dependent goes under a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Follow {
    /// The object (serialised flat: `kind`, `namespace`, `name`).
    #[serde(flatten)]
    pub object: ObjectRef,
    /// The clusters that get a copy, by name; empty when it goes nowhere.
    pub clusters: Vec<ClusterName>,
}

/// The clusters each dependent goes to under `plan`: one entry per distinct dependent (the
/// reasons of a dependent given twice add up), ordered by kind, namespace and name. A
/// dependent beside another goes where that one goes, however deep; a cycle adds nothing.
pub fn follow(plan: &Plan, dependents: &[Dependent]) -> Vec<Follow> {
    let mut holding: BTreeMap<&WorkloadId, BTreeSet<&ClusterName>> = BTreeMap::new();
    let mut by_namespace: BTreeMap<&str, BTreeSet<&ClusterName>> = BTreeMap::new();
    for p in plan.placements.iter().filter(|p| p.replicas > 0) {
        holding.entry(&p.workload).or_default().insert(&p.cluster);
        by_namespace
            .entry(&p.workload.namespace)
            .or_default()
            .insert(&p.cluster);
    }
    let mut merged: BTreeMap<&ObjectRef, Vec<&Dependent>> = BTreeMap::new();
    for d in dependents {
        merged.entry(&d.object).or_default().push(d);
    }
    // Clusters from the dependent's own reasons, before `beside` is followed.
    let direct: BTreeMap<&ObjectRef, BTreeSet<&ClusterName>> = merged
        .iter()
        .map(|(&object, ds)| {
            let mut clusters = BTreeSet::new();
            for d in ds {
                for w in &d.used_by {
                    clusters.extend(holding.get(w).into_iter().flatten().copied());
                }
                if d.namespace_wide {
                    clusters.extend(
                        by_namespace
                            .get(&*object.namespace)
                            .into_iter()
                            .flatten()
                            .copied(),
                    );
                }
            }
            (object, clusters)
        })
        .collect();
    merged
        .iter()
        .map(|(&object, _)| {
            // Everything reachable through `beside`, each object once.
            let mut clusters = BTreeSet::new();
            let mut seen = BTreeSet::from([object]);
            let mut stack = vec![object];
            while let Some(current) = stack.pop() {
                clusters.extend(direct.get(current).into_iter().flatten().copied());
                for d in merged.get(current).into_iter().flatten() {
                    for other in &d.beside {
                        if let Some((&known, _)) = merged.get_key_value(other)
                            && seen.insert(known)
                        {
                            stack.push(known);
                        }
                    }
                }
            }
            Follow {
                object: object.clone(),
                clusters: clusters.into_iter().cloned().collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Placement;

    fn plan(placements: &[(&WorkloadId, &str, u32)]) -> Plan {
        Plan {
            placements: placements
                .iter()
                .map(|&(w, c, replicas)| Placement {
                    workload: w.clone(),
                    cluster: c.into(),
                    region: "r".into(),
                    replicas,
                    pools: Vec::new(),
                })
                .collect(),
            ..Plan::default()
        }
    }

    fn clusters(follows: &[Follow], object: &ObjectRef) -> Vec<String> {
        follows
            .iter()
            .find(|f| &f.object == object)
            .map(|f| f.clusters.iter().map(|c| c.to_string()).collect())
            .unwrap_or_else(|| panic!("{object} is listed"))
    }

    #[test]
    fn a_shared_dependent_goes_to_the_union_of_its_users_clusters() {
        let (web, api) = (WorkloadId::new("shop", "web"), WorkloadId::new("shop", "api"));
        let config = ObjectRef::new("ConfigMap", "shop", "shared");
        let follows = follow(
            &plan(&[(&web, "a", 2), (&api, "b", 1), (&api, "c", 0)]),
            &[Dependent::used_by(config.clone(), [web, api])],
        );
        assert_eq!(clusters(&follows, &config), ["a", "b"], "c holds no replica");
    }

    #[test]
    fn a_dependent_of_nothing_placed_goes_nowhere_and_is_still_listed() {
        let web = WorkloadId::new("shop", "web");
        let secret = ObjectRef::new("Secret", "shop", "token");
        let follows = follow(&plan(&[]), &[Dependent::used_by(secret.clone(), [web])]);
        assert_eq!(follows.len(), 1);
        assert!(clusters(&follows, &secret).is_empty());
    }

    #[test]
    fn ingresses_follow_their_services_and_tls_secrets_their_ingresses() {
        let (web, other) = (WorkloadId::new("shop", "web"), WorkloadId::new("shop", "other"));
        let service = ObjectRef::new("Service", "shop", "web");
        let ingress = ObjectRef::new("Ingress", "shop", "web");
        let tls = ObjectRef::new("Secret", "shop", "web-tls");
        let missing = ObjectRef::new("Service", "shop", "gone");
        let follows = follow(
            &plan(&[(&web, "a", 1), (&web, "b", 1), (&other, "c", 1)]),
            &[
                Dependent::beside(tls.clone(), [ingress.clone()]),
                Dependent::beside(ingress.clone(), [service.clone(), missing]),
                Dependent::used_by(service.clone(), [web]),
            ],
        );
        assert_eq!(clusters(&follows, &ingress), ["a", "b"]);
        assert_eq!(clusters(&follows, &tls), ["a", "b"]);
        let order: Vec<String> = follows.iter().map(|f| f.object.to_string()).collect();
        assert_eq!(
            order,
            ["Ingress shop/web", "Secret shop/web-tls", "Service shop/web"],
            "by kind, namespace, name; unknown objects are not listed"
        );
    }

    #[test]
    fn a_namespace_wide_dependent_goes_wherever_its_namespace_runs() {
        let (web, batch) = (WorkloadId::new("shop", "web"), WorkloadId::new("batch", "job"));
        let global = ObjectRef::new("Service", "shop", "catalog");
        let follows = follow(
            &plan(&[(&web, "a", 1), (&web, "b", 1), (&batch, "c", 1)]),
            &[Dependent::namespace_wide(global.clone())],
        );
        assert_eq!(clusters(&follows, &global), ["a", "b"]);
    }

    #[test]
    fn reasons_given_twice_add_up_and_cycles_end() {
        let (web, api) = (WorkloadId::new("shop", "web"), WorkloadId::new("shop", "api"));
        let x = ObjectRef::new("Service", "shop", "x");
        let y = ObjectRef::new("Service", "shop", "y");
        let follows = follow(
            &plan(&[(&web, "a", 1), (&api, "b", 1)]),
            &[
                Dependent::used_by(x.clone(), [web]),
                Dependent::beside(x.clone(), [y.clone()]),
                Dependent::used_by(y.clone(), [api]),
                Dependent::beside(y.clone(), [x.clone()]),
            ],
        );
        assert_eq!(follows.len(), 2);
        assert_eq!(clusters(&follows, &x), ["a", "b"]);
        assert_eq!(clusters(&follows, &y), ["a", "b"]);
    }
}

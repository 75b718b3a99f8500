//! What each workload cluster should hold after a plan (pure): a copy of every placed
//! Deployment or Job with its planned replicas ([`desired_objects`]), and a copy of every
//! object that follows them ([`desired_dependents`]), each marked as fleetplan's by the
//! labels below. [`crate::live::executor`] makes the clusters hold them.

use std::collections::BTreeMap;

use fleetplan::follow::{Dependent, ObjectRef};
use fleetplan::{Plan, WorkloadId, WorkloadKind};
use serde_json::{Value, json};

use crate::control::fleet_status::SOURCE_GENERATION_ANNOTATION;
use crate::dependents::{FollowKind, copy_for};
use crate::files::carried::CarriedObject;

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "fleetplan";
/// The label that marks an object as fleetplan's; its value is always `fleetplan`.
pub const MANAGED_BY_LABEL: &str = "fleetplan.io/managed-by";
/// The label holding the source workload's namespace.
pub const SOURCE_NAMESPACE_LABEL: &str = "fleetplan.io/source-namespace";
/// The label holding the source workload's name.
pub const SOURCE_NAME_LABEL: &str = "fleetplan.io/source-name";

/// One object (a Deployment or a Job) a cluster should hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// The workload cluster.
    pub cluster: String,
    /// A Deployment or a Job.
    pub kind: WorkloadKind,
    /// The source workload; the copy has the same namespace and name.
    pub source: WorkloadId,
    /// The planned replicas (a Job's parallelism).
    pub replicas: u32,
    /// The object to apply.
    pub object: Value,
}

/// Why desired Deployments could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DesiredError {
    /// A planned workload has no source object.
    #[error("workload {workload}: the plan places it but no source object was given")]
    MissingSource {
        /// The workload.
        workload: WorkloadId,
    },
    /// The source object is not a mapping with a `spec`.
    #[error("workload {workload}: the source object has no `spec` mapping")]
    BadSource {
        /// The workload.
        workload: WorkloadId,
    },
}

/// The objects each cluster should hold after `plan`: for every placement, a copy of its
/// source with fleetplan's labels, without `fleetplan.io/` annotations or server-set fields.
/// A Deployment's copy has the planned replicas. A Job's copy has the planned parallelism,
/// and its completions (when the source sets them) split over the clusters in proportion
/// to their parallelism (largest remainders; at least one each).
///
/// # Errors
/// When a placed workload has no source or a source without a `spec`.
pub fn desired_objects(
    plan: &Plan,
    kinds: &BTreeMap<WorkloadId, WorkloadKind>,
    sources: &BTreeMap<WorkloadId, Value>,
) -> Result<Vec<Desired>, DesiredError> {
    let mut desired = Vec::new();
    let mut placements = plan.placements.iter().filter(|p| p.replicas > 0).peekable();
    while let Some(first) = placements.next() {
        let id = &first.workload;
        let mut group = vec![first];
        while let Some(next) = placements.next_if(|p| &p.workload == id) {
            group.push(next);
        }
        let Some(&kind) = kinds.get(id) else { continue };
        let source = sources
            .get(id)
            .ok_or_else(|| DesiredError::MissingSource { workload: id.clone() })?;
        let parallelism: Vec<u32> = group.iter().map(|p| p.replicas).collect();
        let completions = match kind {
            WorkloadKind::Job => source["spec"]["completions"]
                .as_u64()
                .map(|c| split(u32::try_from(c).unwrap_or(u32::MAX), &parallelism)),
            WorkloadKind::Deployment => None,
        };
        for (i, placement) in group.iter().enumerate() {
            let mut object = copy_of(id, kind, source, placement.replicas)?;
            if let Some(completions) = &completions {
                object["spec"]["completions"] = json!(completions[i]);
            }
            desired.push(Desired {
                cluster: placement.cluster.to_string(),
                kind,
                source: id.clone(),
                replicas: placement.replicas,
                object,
            });
        }
    }
    Ok(desired)
}

/// An object that follows workloads (see [`crate::dependents`]) as one cluster should hold
/// it. Its `Debug` leaves the content out: it may be a Secret.
#[derive(Clone, PartialEq)]
pub struct DesiredDependent {
    /// The workload cluster.
    pub cluster: String,
    /// Its kind.
    pub kind: FollowKind,
    /// The object; the copy has the same namespace and name.
    pub object: ObjectRef,
    /// The copy to apply.
    pub copy: Value,
}

impl std::fmt::Debug for DesiredDependent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredDependent")
            .field("cluster", &self.cluster)
            .field("object", &self.object)
            .finish_non_exhaustive()
    }
}

/// The copies of the objects that follow workloads, per cluster, as `plan.follow` places
/// them: `dependents` are the problem's (a PodDisruptionBudget's integer counts split by the
/// replicas each cluster holds of the workloads it is beside), `objects` the objects as
/// written. An entry of `plan.follow` with no object is skipped.
pub fn desired_dependents(
    plan: &Plan,
    dependents: &[Dependent],
    objects: &BTreeMap<ObjectRef, &CarriedObject>,
) -> Vec<DesiredDependent> {
    let ownership = serde_json::Map::from_iter([(MANAGED_BY_LABEL.to_string(), json!(FIELD_MANAGER))]);
    let mut out = Vec::new();
    for follow in &plan.follow {
        let (Some(kind), Some(object)) = (
            FollowKind::named(&follow.object.kind),
            objects.get(&follow.object),
        ) else {
            continue;
        };
        let object = object.value();
        let users: Vec<WorkloadId> = dependents
            .iter()
            .filter(|d| d.object == follow.object)
            .flat_map(|d| d.used_by.iter().cloned())
            .collect();
        for cluster in &follow.clusters {
            let share = crate::dependents::share(plan, &users, cluster.as_str());
            out.push(DesiredDependent {
                cluster: cluster.to_string(),
                kind,
                object: follow.object.clone(),
                copy: copy_for(kind, &follow.object, &object, &ownership, Some(share)),
            });
        }
    }
    out
}

/// `total` split in proportion to `weights` by largest remainders, at least 1 each.
fn split(total: u32, weights: &[u32]) -> Vec<u32> {
    let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum::<u64>().max(1);
    let exact: Vec<(u64, u64)> = weights
        .iter()
        .map(|&w| {
            let share = u64::from(total) * u64::from(w);
            (share / sum, share % sum)
        })
        .collect();
    let mut out: Vec<u32> = exact
        .iter()
        .map(|&(q, _)| u32::try_from(q).unwrap_or(u32::MAX))
        .collect();
    let mut left = total.saturating_sub(out.iter().sum());
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(exact[i].1));
    for i in order {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    for n in &mut out {
        *n = (*n).max(1);
    }
    out
}

/// Labels the API server puts on a Job's pods and selector: a copy gets its own.
const JOB_SERVER_LABELS: [&str; 4] = [
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "job-name",
    "batch.kubernetes.io/job-name",
];

/// The source as its copy in a workload cluster, with `replicas` (a Job's parallelism).
fn copy_of(
    id: &WorkloadId,
    kind: WorkloadKind,
    source: &Value,
    replicas: u32,
) -> Result<Value, DesiredError> {
    let spec = source
        .get("spec")
        .filter(|s| s.is_object())
        .ok_or_else(|| DesiredError::BadSource { workload: id.clone() })?;
    let metadata = source.get("metadata");
    let mut labels = metadata
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // The source's own `fleetplan.io/` labels (such as the opt-in) do not carry over.
    labels.retain(|k, _| !k.starts_with("fleetplan.io/"));
    labels.insert(MANAGED_BY_LABEL.into(), json!(FIELD_MANAGER));
    labels.insert(SOURCE_NAMESPACE_LABEL.into(), json!(&*id.namespace));
    labels.insert(SOURCE_NAME_LABEL.into(), json!(&*id.name));
    let mut annotations: serde_json::Map<String, Value> = metadata
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter(|(k, _)| !k.starts_with("fleetplan.io/"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(generation) = metadata.and_then(|m| m["generation"].as_i64()) {
        annotations.insert(SOURCE_GENERATION_ANNOTATION.into(), json!(generation.to_string()));
    }
    let mut spec = spec.clone();
    let (api_version, kind_name) = match kind {
        WorkloadKind::Deployment => {
            spec["replicas"] = json!(replicas);
            ("apps/v1", "Deployment")
        }
        WorkloadKind::Job => {
            spec["parallelism"] = json!(replicas);
            if let Some(map) = spec.as_object_mut() {
                map.remove("selector");
                map.remove("manualSelector");
                // The workload cluster's own Job controller runs the copy.
                map.remove("managedBy");
            }
            if let Some(labels) = spec["template"]["metadata"]["labels"].as_object_mut() {
                labels.retain(|k, _| !JOB_SERVER_LABELS.contains(&k.as_str()));
            }
            ("batch/v1", "Job")
        }
    };
    let mut object = json!({
        "apiVersion": api_version,
        "kind": kind_name,
        "metadata": {
            "name": &*id.name,
            "namespace": &*id.namespace,
            "labels": labels,
        },
        "spec": spec,
    });
    if !annotations.is_empty() {
        object["metadata"]["annotations"] = Value::Object(annotations);
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use fleetplan::{Placement, PoolReplicas};

    use super::*;

    fn placement(workload: &WorkloadId, cluster: &str, replicas: u32) -> Placement {
        Placement {
            workload: workload.clone(),
            cluster: cluster.into(),
            region: "r".into(),
            replicas,
            pools: vec![PoolReplicas {
                pool: "p".into(),
                replicas,
            }],
        }
    }

    #[test]
    fn copies_carry_the_planned_replicas_and_fleetplans_labels_only() {
        let web = WorkloadId::new("shop", "web");
        let job = WorkloadId::new("batch", "report");
        let plan = Plan {
            placements: vec![
                placement(&job, "a", 2),
                placement(&web, "a", 4),
                placement(&web, "b", 2),
            ],
            ..Plan::default()
        };
        let kinds = BTreeMap::from([
            (web.clone(), WorkloadKind::Deployment),
            (job.clone(), WorkloadKind::Job),
        ]);
        let source = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "shop", "resourceVersion": "7", "uid": "u",
                "labels": {"app": "web"},
                "annotations": {"fleetplan.io/strategy": "pack", "team": "shop"}
            },
            "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"readyReplicas": 6}
        });
        let report = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "report", "namespace": "batch", "labels": {"fleetplan.io/schedule": "true"}},
            "spec": {
                "parallelism": 2, "completions": 5,
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
                "template": {"metadata": {"labels": {"app": "report", "controller-uid": "u", "job-name": "report"}}}
            }
        });
        let sources = BTreeMap::from([(web.clone(), source), (job.clone(), report)]);
        let desired = desired_objects(&plan, &kinds, &sources).unwrap();
        assert_eq!(desired.len(), 3);
        let copy = &desired[0];
        assert_eq!((copy.kind, copy.replicas), (WorkloadKind::Job, 2));
        assert_eq!(copy.object["kind"], json!("Job"));
        assert_eq!(copy.object["spec"]["parallelism"], json!(2));
        assert_eq!(
            copy.object["spec"]["completions"],
            json!(5),
            "the only copy takes every completion"
        );
        assert!(
            copy.object["spec"].get("selector").is_none(),
            "the API server makes its own"
        );
        assert_eq!(
            copy.object["spec"]["template"]["metadata"]["labels"],
            json!({"app": "report"})
        );
        assert!(
            copy.object["metadata"]["labels"]
                .get("fleetplan.io/schedule")
                .is_none()
        );
        let desired = &desired[1..];
        let a = &desired[0];
        assert_eq!((a.cluster.as_str(), a.replicas), ("a", 4));
        assert_eq!(a.object["spec"]["replicas"], json!(4));
        assert_eq!(
            a.object["spec"]["selector"],
            json!({"matchLabels": {"app": "web"}})
        );
        let metadata = &a.object["metadata"];
        assert_eq!(metadata["labels"][MANAGED_BY_LABEL], json!("fleetplan"));
        assert_eq!(metadata["labels"][SOURCE_NAMESPACE_LABEL], json!("shop"));
        assert_eq!(metadata["labels"]["app"], json!("web"));
        assert_eq!(metadata["annotations"], json!({"team": "shop"}));
        assert!(metadata.get("resourceVersion").is_none() && metadata.get("uid").is_none());
        assert!(a.object.get("status").is_none());
        assert_eq!(desired[1].object["spec"]["replicas"], json!(2));
    }

    #[test]
    fn completions_split_in_proportion_to_parallelism() {
        assert_eq!(split(10, &[3, 1, 1]), vec![6, 2, 2]);
        assert_eq!(split(7, &[1, 1]), vec![4, 3]);
        assert_eq!(split(1, &[2, 2]), vec![1, 1], "at least one each");
        assert_eq!(split(9, &[5]), vec![9]);
    }

    #[test]
    fn a_placed_deployment_needs_a_source_with_a_spec() {
        let web = WorkloadId::new("shop", "web");
        let plan = Plan {
            placements: vec![placement(&web, "a", 1)],
            ..Plan::default()
        };
        let kinds = BTreeMap::from([(web.clone(), WorkloadKind::Deployment)]);
        let missing = desired_objects(&plan, &kinds, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "workload shop/web: the plan places it but no source object was given"
        );
        let bad = BTreeMap::from([(web.clone(), json!({"metadata": {}}))]);
        let error = desired_objects(&plan, &kinds, &bad).unwrap_err();
        assert_eq!(error, DesiredError::BadSource { workload: web });
    }
}

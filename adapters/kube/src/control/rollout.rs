//! The order in which one cluster is brought to its plan, make-before-break: what phase 1
//! applies (everything that is new or grows, after the objects that follow the workloads,
//! in [`FollowKind::ALL`] order: what pods mount before what routes to them), and what
//! phase 2 does once the new replicas are ready elsewhere (shrink, then delete what is no
//! longer planned, and prune the followers last).

use std::collections::BTreeMap;

use fleetplan::WorkloadKind;

use crate::control::desired::{Desired, DesiredDependent};
use crate::dependents::FollowKind;

/// What fleetplan owns in one cluster now: `(kind, namespace, name) -> replicas` (a Job's
/// parallelism).
pub type Owned = BTreeMap<(WorkloadKind, String, String), u32>;

/// The key of a desired object in [`Owned`].
pub fn key(d: &Desired) -> (WorkloadKind, String, String) {
    (d.kind, d.source.namespace.to_string(), d.source.name.to_string())
}

/// Phase 1 in one cluster, given what it holds now.
#[derive(Debug, PartialEq)]
pub struct Grow<'a> {
    /// The objects that follow the workloads, in the order they are applied.
    pub follows: Vec<&'a DesiredDependent>,
    /// The Deployments that are new or grow, and the Jobs that are new, in plan order.
    pub apply: Vec<&'a Desired>,
    /// Jobs already there: left as they are (their work is not moved, their completions
    /// cannot change).
    pub jobs_kept: u32,
}

/// Phase 2 in one cluster, given what it held before phase 1.
#[derive(Debug, PartialEq)]
pub struct Shrink<'a> {
    /// The Deployments that shrink.
    pub apply: Vec<&'a Desired>,
    /// What fleetplan owns there and the plan no longer places there.
    pub delete: Vec<(WorkloadKind, String, String)>,
}

impl Shrink<'_> {
    /// The workloads this phase shrinks or deletes, as keys of [`Owned`]: the ones whose new
    /// replicas elsewhere must be ready first.
    pub fn workloads(&self) -> impl Iterator<Item = (WorkloadKind, String, String)> + '_ {
        self.apply
            .iter()
            .map(|d| key(d))
            .chain(self.delete.iter().cloned())
    }
}

/// Phase 1: see [`Grow`].
pub fn grow<'a>(wanted: &[&'a Desired], follows: &[&'a DesiredDependent], now: &Owned) -> Grow<'a> {
    let mut ordered = follows.to_vec();
    ordered.sort_by_key(|d| {
        (
            FollowKind::ALL.iter().position(|k| *k == d.kind),
            d.object.clone(),
        )
    });
    let mut apply = Vec::new();
    let mut jobs_kept = 0;
    for d in wanted {
        let before = now.get(&key(d)).copied();
        match d.kind {
            WorkloadKind::Deployment if before.is_some_and(|b| d.replicas < b) => {}
            WorkloadKind::Job if before.is_some() => jobs_kept += 1,
            _ => apply.push(*d),
        }
    }
    Grow {
        follows: ordered,
        apply,
        jobs_kept,
    }
}

/// Phase 2: see [`Shrink`].
pub fn shrink<'a>(wanted: &[&'a Desired], now: &Owned) -> Shrink<'a> {
    let apply = wanted
        .iter()
        .filter(|d| d.kind == WorkloadKind::Deployment && now.get(&key(d)).is_some_and(|&b| d.replicas < b))
        .copied()
        .collect();
    let delete = now
        .keys()
        .filter(|owned| !wanted.iter().any(|d| key(d) == **owned))
        .cloned()
        .collect();
    Shrink { apply, delete }
}

/// Whether phase 2 has anything to do (a Deployment to shrink or an object to delete).
pub fn pending_shrink(wanted: &[&Desired], now: &Owned) -> bool {
    let phase = shrink(wanted, now);
    !phase.apply.is_empty() || !phase.delete.is_empty()
}

#[cfg(test)]
mod tests {
    use fleetplan::WorkloadId;
    use fleetplan::follow::ObjectRef;
    use serde_json::json;

    use super::*;

    fn want(kind: WorkloadKind, name: &str, replicas: u32) -> Desired {
        Desired {
            cluster: "a".into(),
            kind,
            source: WorkloadId::new("shop", name),
            replicas,
            object: json!({}),
        }
    }

    fn follower(kind: FollowKind, name: &str) -> DesiredDependent {
        DesiredDependent {
            cluster: "a".into(),
            kind,
            object: ObjectRef::new(kind.name(), "shop", name),
            copy: json!({}),
        }
    }

    fn owned(entries: &[(WorkloadKind, &str, u32)]) -> Owned {
        entries
            .iter()
            .map(|(k, n, r)| ((*k, "shop".to_string(), n.to_string()), *r))
            .collect()
    }

    #[test]
    fn phase_one_applies_followers_first_in_kind_order_then_what_is_new_or_grows() {
        let (grows, shrinks, new) = (
            want(WorkloadKind::Deployment, "grows", 5),
            want(WorkloadKind::Deployment, "shrinks", 1),
            want(WorkloadKind::Deployment, "new", 2),
        );
        let (old_job, new_job) = (
            want(WorkloadKind::Job, "old", 2),
            want(WorkloadKind::Job, "fresh", 2),
        );
        let now = owned(&[
            (WorkloadKind::Deployment, "grows", 3),
            (WorkloadKind::Deployment, "shrinks", 3),
            (WorkloadKind::Job, "old", 2),
        ]);
        let ingress = follower(FollowKind::Ingress, "web");
        let service = follower(FollowKind::Service, "web");
        let config = follower(FollowKind::ConfigMap, "web");
        let account = follower(FollowKind::ServiceAccount, "web");
        let phase = grow(
            &[&grows, &shrinks, &new, &old_job, &new_job],
            &[&ingress, &service, &config, &account],
            &now,
        );
        let order: Vec<FollowKind> = phase.follows.iter().map(|d| d.kind).collect();
        let expected: Vec<FollowKind> = FollowKind::ALL
            .into_iter()
            .filter(|k| order.contains(k))
            .collect();
        assert_eq!(order, expected, "followers in FollowKind::ALL order");
        let position = |k| order.iter().position(|o| *o == k);
        assert!(position(FollowKind::ConfigMap) < position(FollowKind::Service));
        assert!(position(FollowKind::Service) < position(FollowKind::Ingress));
        let applied: Vec<&str> = phase.apply.iter().map(|d| &*d.source.name).collect();
        assert_eq!(
            applied,
            ["grows", "new", "fresh"],
            "a shrink waits for phase 2; a Job there stays"
        );
        assert_eq!(phase.jobs_kept, 1);
    }

    #[test]
    fn phase_two_shrinks_then_deletes_what_is_no_longer_planned() {
        let now = owned(&[
            (WorkloadKind::Deployment, "web", 3),
            (WorkloadKind::Deployment, "gone", 2),
            (WorkloadKind::Job, "done", 1),
        ]);
        let web = want(WorkloadKind::Deployment, "web", 2);
        let phase = shrink(&[&web], &now);
        assert_eq!(phase.apply, vec![&web]);
        assert_eq!(
            phase.delete,
            vec![
                (WorkloadKind::Deployment, "shop".to_string(), "gone".to_string()),
                (WorkloadKind::Job, "shop".to_string(), "done".to_string()),
            ]
        );
        assert!(pending_shrink(&[&web], &now));
    }

    #[test]
    fn nothing_is_pending_when_every_copy_stays_or_grows() {
        let now = owned(&[(WorkloadKind::Deployment, "web", 3)]);
        for replicas in [3, 5] {
            let web = want(WorkloadKind::Deployment, "web", replicas);
            assert!(!pending_shrink(&[&web], &now));
        }
        assert!(pending_shrink(&[], &now), "a copy no longer planned is deleted");
    }
}

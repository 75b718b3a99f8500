//! Auto-migration of Pending replicas: a cluster whose copy of a workload keeps pods Pending
//! (not scheduled on any node) for longer than a threshold had less room than it showed, as
//! KubeAdmiral's auto-migration assumes. From then on that workload may hold no more replicas
//! there than it has scheduled, so the plan places the rest on other clusters (make-before-break,
//! as any move) and the copy shrinks, its Pending pods first.
//!
//! The cap is held for a while ([`Migration::new`]'s `hold`) after it was last needed, so that
//! the replicas do not come straight back; then the cluster may be tried again. It is kept in
//! the controller's memory: a restarted controller starts without caps and finds Pending pods
//! again within one threshold.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fleetplan::{Workload, WorkloadId};

/// One workload capped in one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capped {
    /// The cluster.
    pub cluster: String,
    /// The workload.
    pub workload: WorkloadId,
    /// The most replicas it may hold there: those scheduled when the cap was set.
    pub replicas: u32,
    /// Its pods Pending there when the cap was set.
    pub pending: u32,
}

#[derive(Clone, Copy, Debug)]
struct Cap {
    replicas: u32,
    until: Instant,
}

/// What the controller remembers of Pending pods between passes.
#[derive(Debug)]
pub struct Migration {
    threshold: Duration,
    hold: Duration,
    /// Since when each (cluster, workload) has had Pending pods without a break.
    pending_since: BTreeMap<(String, WorkloadId), Instant>,
    caps: BTreeMap<(String, WorkloadId), Cap>,
}

impl Migration {
    /// Pods Pending for `threshold` cap their workload in their cluster; a cap lasts `hold`
    /// after the pods were last seen Pending.
    pub fn new(threshold: Duration, hold: Duration) -> Self {
        Migration {
            threshold,
            hold,
            pending_since: BTreeMap::new(),
            caps: BTreeMap::new(),
        }
    }

    /// Records what `cluster` shows `now`: Pending pods and scheduled replicas per workload.
    /// Returns the caps set by this observation (for the logs).
    pub fn observe(
        &mut self,
        now: Instant,
        cluster: &str,
        pending: &BTreeMap<WorkloadId, u32>,
        scheduled: &BTreeMap<WorkloadId, u32>,
    ) -> Vec<Capped> {
        self.pending_since
            .retain(|(c, w), _| c != cluster || pending.get(w).is_some_and(|&n| n > 0));
        let mut capped = Vec::new();
        for (workload, &count) in pending.iter().filter(|(_, n)| **n > 0) {
            let key = (cluster.to_string(), workload.clone());
            let since = *self.pending_since.entry(key.clone()).or_insert(now);
            if now.duration_since(since) < self.threshold {
                continue;
            }
            let replicas = scheduled.get(workload).copied().unwrap_or(0);
            let until = now + self.hold;
            match self.caps.get_mut(&key) {
                Some(cap) => {
                    cap.replicas = cap.replicas.min(replicas);
                    cap.until = until;
                }
                None => {
                    self.caps.insert(key, Cap { replicas, until });
                    capped.push(Capped {
                        cluster: cluster.to_string(),
                        workload: workload.clone(),
                        replicas,
                        pending: count,
                    });
                }
            }
        }
        capped
    }

    /// Drops what is known of `cluster` (it left the fleet).
    pub fn forget(&mut self, cluster: &str) {
        self.pending_since.retain(|(c, _), _| c != cluster);
        self.caps.retain(|(c, _), _| c != cluster);
    }

    /// Lowers each capped workload's maximum (and minimum) in its cluster to the cap; caps
    /// past their hold are dropped first.
    pub fn apply(&mut self, now: Instant, workloads: &mut [Workload]) {
        self.caps.retain(|_, cap| cap.until > now);
        for ((cluster, id), cap) in &self.caps {
            let Some(workload) = workloads.iter_mut().find(|w| &w.id == id) else {
                continue;
            };
            let policy = &mut workload.policy;
            let max = policy
                .cluster_max
                .get(cluster)
                .map_or(cap.replicas, |m| m.min(cap.replicas));
            policy.cluster_max.named.insert(cluster.clone(), max);
            if policy.cluster_min.get(cluster).is_some_and(|min| min > max) {
                policy.cluster_min.named.insert(cluster.clone(), max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetplan::Resources;

    const THRESHOLD: Duration = Duration::from_secs(60);
    const HOLD: Duration = Duration::from_secs(600);

    fn id() -> WorkloadId {
        WorkloadId::new("shop", "web")
    }

    fn counts(n: u32) -> BTreeMap<WorkloadId, u32> {
        BTreeMap::from([(id(), n)])
    }

    fn web() -> Workload {
        Workload::new("shop", "web", 6, Resources::new().with("cpu", 250))
    }

    #[test]
    fn pods_pending_past_the_threshold_cap_the_cluster_at_what_it_scheduled() {
        let start = Instant::now();
        let mut m = Migration::new(THRESHOLD, HOLD);
        assert!(m.observe(start, "europe", &counts(1), &counts(2)).is_empty());
        assert!(
            m.observe(start + THRESHOLD / 2, "europe", &counts(1), &counts(2))
                .is_empty()
        );
        let capped = m.observe(start + THRESHOLD, "europe", &counts(1), &counts(2));
        assert_eq!(
            capped,
            vec![Capped {
                cluster: "europe".into(),
                workload: id(),
                replicas: 2,
                pending: 1
            }]
        );
        let mut workloads = vec![web()];
        m.apply(start + THRESHOLD, &mut workloads);
        assert_eq!(workloads[0].policy.cluster_max.get("europe"), Some(2));
        assert_eq!(workloads[0].policy.cluster_max.get("east"), None);
    }

    #[test]
    fn a_break_in_pending_restarts_the_clock() {
        let start = Instant::now();
        let mut m = Migration::new(THRESHOLD, HOLD);
        m.observe(start, "europe", &counts(1), &counts(2));
        m.observe(start + THRESHOLD / 2, "europe", &counts(0), &counts(3));
        assert!(
            m.observe(start + THRESHOLD, "europe", &counts(1), &counts(2))
                .is_empty()
        );
        let mut workloads = vec![web()];
        m.apply(start + THRESHOLD, &mut workloads);
        assert!(workloads[0].policy.cluster_max.is_empty());
    }

    #[test]
    fn the_cap_holds_after_the_pods_are_gone_then_lapses() {
        let start = Instant::now();
        let mut m = Migration::new(THRESHOLD, HOLD);
        m.observe(start, "europe", &counts(2), &counts(1));
        m.observe(start + THRESHOLD, "europe", &counts(2), &counts(1));
        // The copy shrank: nothing Pending any more, the cap stays for the hold.
        m.observe(start + THRESHOLD * 2, "europe", &counts(0), &counts(1));
        let mut workloads = vec![web()];
        m.apply(start + THRESHOLD + HOLD - Duration::from_secs(1), &mut workloads);
        assert_eq!(workloads[0].policy.cluster_max.get("europe"), Some(1));
        let mut workloads = vec![web()];
        m.apply(start + THRESHOLD + HOLD, &mut workloads);
        assert!(workloads[0].policy.cluster_max.is_empty());
    }

    #[test]
    fn a_cap_never_raises_a_maximum_and_lowers_a_minimum_above_it() {
        let start = Instant::now();
        let mut m = Migration::new(THRESHOLD, HOLD);
        m.observe(start, "europe", &counts(3), &counts(3));
        m.observe(start + THRESHOLD, "europe", &counts(3), &counts(3));
        let mut workload = web();
        workload.policy.cluster_max.named.insert("europe".into(), 2);
        workload.policy.cluster_min.default = Some(3);
        let mut workloads = vec![workload];
        m.apply(start + THRESHOLD, &mut workloads);
        let policy = &workloads[0].policy;
        assert_eq!(policy.cluster_max.get("europe"), Some(2));
        assert_eq!(policy.cluster_min.get("europe"), Some(2));
        assert_eq!(policy.cluster_min.get("east"), Some(3));
        assert!(policy.contradiction().is_none());
    }

    #[test]
    fn another_clusters_pods_and_a_forgotten_cluster_leave_no_cap() {
        let start = Instant::now();
        let mut m = Migration::new(THRESHOLD, HOLD);
        m.observe(start, "europe", &counts(1), &counts(0));
        m.observe(start + THRESHOLD, "east", &counts(0), &counts(3));
        m.forget("europe");
        assert!(
            m.observe(start + THRESHOLD, "europe", &counts(1), &counts(0))
                .is_empty()
        );
    }
}

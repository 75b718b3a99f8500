//! The placement problem: the fleet, the workloads, and where replicas run now.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, ClusterName, PoolName, cluster_name_error};
use crate::error::Error;
use crate::fargate::{FargateProfile, FargateSettings, validate_profiles};
use crate::follow::Dependent;
use crate::plan::Plan;
use crate::traffic::{Route, route_error, traffic};
use crate::workload::{Workload, WorkloadId};

/// The most replicas (targets plus running) one problem may hold: 2^31, far beyond any fleet,
/// so that every count fits the planner's integers.
pub const MAX_REPLICAS: u64 = 1 << 31;

/// Replicas of one workload that run now in one pool of one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    /// The workload.
    pub workload: WorkloadId,
    /// The cluster they run in.
    pub cluster: ClusterName,
    /// The pool they run in.
    pub pool: PoolName,
    /// How many replicas.
    pub replicas: u32,
}

/// Everything the planner needs: clusters, workloads and the current state.
///
/// The free resources of each pool already account for the replicas listed in `current`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The workload clusters.
    pub clusters: Vec<Cluster>,
    /// The workloads to place.
    pub workloads: Vec<Workload>,
    /// Replicas running now.
    #[serde(default)]
    pub current: Vec<Running>,
    /// Fargate quotas and prices, for clusters with Fargate profiles.
    #[serde(default)]
    pub fargate: FargateSettings,
    /// Objects that go where the workloads they serve run (see [`crate::follow`]); they do
    /// not change the placement, only the plan's [`crate::Plan::follow`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependents: Vec<Dependent>,
    /// Global hosts and the workloads behind them (see [`crate::traffic`]); they do not
    /// change the placement, only the plan's [`crate::Plan::traffic`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

impl Problem {
    /// Checks what the planner relies on: at least one cluster, cluster names that keep the
    /// rule of [`crate::cluster_name_error`], unique cluster, pool and workload names, sane
    /// requests, weights and spread constraints, and current replicas that name known
    /// clusters and pools. Current replicas of workloads not in the problem
    /// are ignored: their pods already count in the pools' free resources.
    pub fn validate(&self) -> Result<(), Error> {
        if self.clusters.is_empty() {
            return Err(Error::EmptyFleet);
        }
        let mut clusters = BTreeMap::new();
        for cluster in &self.clusters {
            if let Some(detail) = cluster_name_error(cluster.name.as_str()) {
                return Err(Error::InvalidClusterName {
                    cluster: cluster.name.clone(),
                    detail,
                });
            }
            if clusters.insert(&cluster.name, cluster).is_some() {
                return Err(Error::DuplicateCluster {
                    cluster: cluster.name.clone(),
                });
            }
            let mut pools = BTreeSet::new();
            for pool in &cluster.pools {
                if !pools.insert(&pool.name) {
                    return Err(Error::DuplicatePool {
                        cluster: cluster.name.clone(),
                        pool: pool.name.clone(),
                    });
                }
                if let Some(profile) = pool.fargate.as_ref().filter(|f| f.name != pool.name.as_str()) {
                    return Err(Error::FargatePoolName {
                        cluster: cluster.name.clone(),
                        pool: pool.name.clone(),
                        profile: profile.name.clone(),
                    });
                }
            }
            let profiles: Vec<FargateProfile> =
                cluster.pools.iter().filter_map(|p| p.fargate.clone()).collect();
            validate_profiles(&profiles).map_err(|error| Error::FargateProfiles {
                cluster: cluster.name.clone(),
                error,
            })?;
        }
        let mut workloads = BTreeSet::new();
        for workload in &self.workloads {
            if !workloads.insert(&workload.id) {
                return Err(Error::DuplicateWorkload {
                    workload: workload.id.clone(),
                });
            }
            if workload.template.topology_spread.iter().any(|t| t.max_skew == 0) {
                return Err(Error::ZeroMaxSkew {
                    workload: workload.id.clone(),
                });
            }
            if let Some((what, name, min, max)) = workload.policy.contradiction() {
                return Err(Error::MinimumAboveMaximum {
                    workload: workload.id.clone(),
                    what,
                    name,
                    min,
                    max,
                });
            }
            for term in &workload.template.affinity.preferred {
                if !(1..=100).contains(&term.weight) {
                    return Err(Error::InvalidPreferenceWeight {
                        workload: workload.id.clone(),
                        weight: term.weight,
                    });
                }
            }
            for (resource, amount) in workload
                .template
                .containers
                .iter()
                .chain(&workload.template.init_containers)
                .flat_map(|c| c.requests.iter())
            {
                if amount < 0 {
                    return Err(Error::NegativeRequest {
                        workload: workload.id.clone(),
                        resource: resource.clone(),
                    });
                }
            }
        }
        let mut quotas = BTreeSet::new();
        for quota in &self.fargate.quotas {
            if !quotas.insert((&quota.account, &quota.region)) {
                return Err(Error::DuplicateFargateQuota {
                    account: quota.account.clone().unwrap_or_else(|| "-".into()),
                    region: quota.region.clone(),
                });
            }
        }
        let replicas: u64 = self.workloads.iter().map(|w| u64::from(w.replicas)).sum::<u64>()
            + self.current.iter().map(|r| u64::from(r.replicas)).sum::<u64>();
        if replicas > MAX_REPLICAS {
            return Err(Error::TooManyReplicas { replicas });
        }
        for running in &self.current {
            let Some(cluster) = clusters.get(&running.cluster) else {
                return Err(Error::UnknownCluster {
                    workload: running.workload.clone(),
                    cluster: running.cluster.clone(),
                });
            };
            if !cluster.pools.iter().any(|p| p.name == running.pool) {
                return Err(Error::UnknownPool {
                    workload: running.workload.clone(),
                    cluster: running.cluster.clone(),
                    pool: running.pool.clone(),
                });
            }
        }
        if !self.routes.is_empty() {
            let workloads: BTreeSet<&WorkloadId> = self.workloads.iter().map(|w| &w.id).collect();
            for route in &self.routes {
                let problem = route_error(route, |w| workloads.contains(w), |c| clusters.contains_key(c));
                if let Some(detail) = problem {
                    return Err(Error::InvalidRoute {
                        object: route.source.to_string(),
                        detail,
                    });
                }
            }
        }
        Ok(())
    }

    /// Fills what follows `plan` without changing it: where the problem's dependents go
    /// ([`Plan::follow`]) and where its hosts' users go ([`Plan::traffic`]).
    pub(crate) fn attach_followers(&self, plan: &mut Plan) {
        plan.follow = crate::follow::follow(plan, &self.dependents);
        let down: BTreeSet<ClusterName> = BTreeSet::new();
        plan.traffic = traffic(&self.routes, &plan.serving(), &down);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::NodePool;
    use crate::resources::Resources;

    fn problem() -> Problem {
        let mut c = Cluster::new("a", "r1");
        c.pools
            .push(NodePool::uniform("p", 2, Resources::new().with("cpu", 1000)));
        Problem {
            clusters: vec![c],
            workloads: vec![Workload::new("ns", "w", 1, Resources::new())],
            current: vec![],
            ..Problem::default()
        }
    }

    #[test]
    fn a_well_formed_problem_validates() {
        problem().validate().unwrap();
    }

    #[test]
    fn an_empty_fleet_is_rejected() {
        let p = Problem::default();
        assert!(matches!(p.validate(), Err(Error::EmptyFleet)));
    }

    #[test]
    fn duplicates_are_rejected_by_name() {
        let mut p = problem();
        p.clusters.push(p.clusters[0].clone());
        assert_eq!(p.validate().unwrap_err().to_string(), "duplicate cluster `a`");
        let mut p = problem();
        let pool = p.clusters[0].pools[0].clone();
        p.clusters[0].pools.push(pool);
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "cluster `a` has two node pools named `p`"
        );
        let mut p = problem();
        p.workloads.push(p.workloads[0].clone());
        assert_eq!(p.validate().unwrap_err().to_string(), "duplicate workload `ns/w`");
    }

    #[test]
    fn cluster_names_must_keep_the_rule() {
        for name in ["east\nwest", "", "a b", "-a", "x".repeat(101).as_str()] {
            let mut p = problem();
            p.clusters[0].name = name.into();
            let error = p.validate().unwrap_err();
            assert!(matches!(&error, Error::InvalidClusterName { cluster, .. } if cluster.as_str() == name));
            assert_eq!(Some(error.to_string()), cluster_name_error(name));
        }
        let mut p = problem();
        p.clusters[0].name = "Shop_East-1.prod".into();
        p.validate().unwrap();
    }

    #[test]
    fn current_replicas_must_name_known_places() {
        let mut p = problem();
        p.current.push(Running {
            workload: WorkloadId::new("ns", "w"),
            cluster: "b".into(),
            pool: "p".into(),
            replicas: 1,
        });
        assert!(matches!(p.validate(), Err(Error::UnknownCluster { .. })));
        p.current[0].cluster = "a".into();
        p.current[0].pool = "q".into();
        assert!(matches!(p.validate(), Err(Error::UnknownPool { .. })));
    }

    #[test]
    fn absurd_replica_counts_are_rejected() {
        let mut p = problem();
        p.workloads[0].replicas = u32::MAX;
        assert!(matches!(p.validate(), Err(Error::TooManyReplicas { .. })));
    }

    #[test]
    fn negative_requests_and_bad_weights_are_rejected() {
        let mut p = problem();
        p.workloads[0].template.containers[0].requests.set("cpu", -1);
        assert!(matches!(p.validate(), Err(Error::NegativeRequest { .. })));
    }

    #[test]
    fn fargate_profiles_are_checked() {
        use crate::fargate::{FargateQuota, FargateSelector};
        let mut p = problem();
        let profile = FargateProfile::new("web", vec![FargateSelector::new("shop")]);
        p.clusters[0].pools.push(NodePool::fargate(profile.clone()));
        p.validate().unwrap();
        p.clusters[0].pools[1].name = "other".into();
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "cluster `a`: pool `other` holds Fargate profile `web`; a Fargate pool takes its profile's name"
        );
        let mut p = problem();
        p.clusters[0]
            .pools
            .push(NodePool::fargate(FargateProfile::new("empty", vec![])));
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "cluster `a`: Fargate profile `empty` has no selector"
        );
        let mut p = problem();
        for _ in 0..2 {
            p.fargate.quotas.push(FargateQuota {
                account: None,
                region: "r1".into(),
                vcpus: 10,
            });
        }
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "two Fargate quotas for account `-` in region `r1`"
        );
    }
}

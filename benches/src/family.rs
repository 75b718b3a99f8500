//! The benchmark families: six kinds of fleet, each generated at any size from a seed, that
//! the harness runs every solver and every peer on.
//!
//! | family | what it stresses |
//! |---|---|
//! | `uniform-web` | many same-sized web services with equal targets on general pools |
//! | `skewed-sizes` | heavy-tailed targets and a realistic mix of general, SSD, batch and GPU work |
//! | `gpu-scarce-batch` | batch Jobs (gangs) and GPU work with GPU pools sized to 40% of their demand |
//! | `fargate-heavy` | half the namespaces matched by EKS Fargate profiles in every healthy cluster |
//! | `regional-demand` | user demand per region that pulls replicas towards it |
//! | `failover` | a fleet already running, with 5% of its clusters just failed |
//!
//! Sizes scale the fleet with the replica count: 10 clusters of 5 pools for 1,000 replicas up
//! to 100 clusters of 20 pools for 1,000,000, with one workload per 100 replicas. Every pool has
//! an hourly node price so that cost is part of the score.

use std::fmt;
use std::str::FromStr;

use fleetplan::fargate::{FargateProfile, FargateSelector};
use fleetplan::{Health, NodePool, PerName, Problem, WorkloadKind};
use rand::Rng;

use crate::optimal::priced;
use crate::random::stream;
use crate::{Mix, SyntheticSpec, synthetic};

/// A kind of fleet (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// Same-sized web services.
    UniformWeb,
    /// Heavy-tailed sizes and a realistic mix.
    SkewedSizes,
    /// Batch and scarce GPUs.
    GpuScarceBatch,
    /// Fargate profiles everywhere.
    FargateHeavy,
    /// Demand per region.
    RegionalDemand,
    /// A running fleet with failed clusters.
    Failover,
}

impl Family {
    /// Every family, in the order of reports.
    pub const ALL: [Family; 6] = [
        Family::UniformWeb,
        Family::SkewedSizes,
        Family::GpuScarceBatch,
        Family::FargateHeavy,
        Family::RegionalDemand,
        Family::Failover,
    ];

    /// The family's name, as the harness's `--families` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Family::UniformWeb => "uniform-web",
            Family::SkewedSizes => "skewed-sizes",
            Family::GpuScarceBatch => "gpu-scarce-batch",
            Family::FargateHeavy => "fargate-heavy",
            Family::RegionalDemand => "regional-demand",
            Family::Failover => "failover",
        }
    }

    /// The instance of this family with `replicas` replicas in all for `seed`.
    ///
    /// # Panics
    /// When `replicas` is below 100 (every size has at least 10 workloads of 10 replicas).
    pub fn instance(self, replicas: u64, seed: u64) -> Problem {
        assert!(replicas >= 100, "a family instance needs at least 100 replicas");
        let mut spec = scaled(replicas);
        match self {
            Family::UniformWeb => {
                spec.mix = Mix {
                    needs: [1, 0, 0, 0],
                    equal_targets: true,
                    gpu_capacity: 1.0,
                };
                spec.unhealthy_fraction = 0.0;
            }
            Family::SkewedSizes | Family::FargateHeavy | Family::RegionalDemand => {}
            Family::GpuScarceBatch => {
                spec.mix = Mix {
                    needs: [20, 0, 40, 40],
                    equal_targets: false,
                    gpu_capacity: 0.4,
                };
            }
            Family::Failover => {
                spec.running_fraction = 1.0;
                spec.unhealthy_fraction = 0.05;
            }
        }
        let mut problem = priced(synthetic(&spec, seed));
        match self {
            Family::GpuScarceBatch => gangs(&mut problem),
            Family::FargateHeavy => fargate(&mut problem),
            Family::RegionalDemand => regional_demand(&mut problem, seed),
            Family::UniformWeb | Family::SkewedSizes | Family::Failover => {}
        }
        problem
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Family {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Family::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
            format!("unknown family `{s}` (expected one of: {})", names.join(", "))
        })
    }
}

/// The fleet for `replicas` replicas: clusters and pools grow with the cube root of the size,
/// workloads linearly.
fn scaled(replicas: u64) -> SyntheticSpec {
    let thousands = (replicas as f64 / 1000.0).max(0.1);
    let clusters = (10.0 * thousands.cbrt()).round().clamp(4.0, 100.0) as usize;
    let workloads = (replicas / 100).max(10) as usize;
    SyntheticSpec {
        clusters,
        pools_per_cluster: (5.0 * thousands.powf(0.2)).round().clamp(4.0, 20.0) as usize,
        workloads,
        total_replicas: replicas,
        regions: (clusters / 2).clamp(2, 10),
        rule_profiles: (workloads / 20).clamp(10, 200),
        namespaces: (workloads / 25).clamp(4, 400),
        running_fraction: 0.0,
        unhealthy_fraction: 0.02,
        capacity_factor: 1.1,
        mix: Mix::default(),
    }
}

/// Every Job is all-or-nothing.
fn gangs(problem: &mut Problem) {
    for w in &mut problem.workloads {
        w.policy.gang = w.kind == WorkloadKind::Job;
    }
}

/// Two Fargate profiles in every healthy cluster: `fp-apps` for the namespaces `team-0*` and
/// `team-2*`, `fp-jobs` for `team-1*` (about half the workloads, skewed towards the first
/// namespaces). The vCPU quota of each region is half the requests of those workloads: the
/// popular regions run short of it, the others do not.
fn fargate(problem: &mut Problem) {
    for cluster in problem.clusters.iter_mut().filter(|c| c.health == Health::Ready) {
        let zones: Vec<String> = cluster.pools.iter().filter_map(|p| p.zone.clone()).collect();
        for (name, namespaces) in [
            ("fp-apps", &["team-0*", "team-2*"][..]),
            ("fp-jobs", &["team-1*"][..]),
        ] {
            let selectors = namespaces.iter().map(|n| FargateSelector::new(n)).collect();
            let mut profile = FargateProfile::new(name, selectors);
            profile.zones = zones.clone();
            profile.zones.sort();
            profile.zones.dedup();
            cluster.pools.push(NodePool::fargate(profile));
        }
    }
    let matched_cpu: i64 = problem
        .workloads
        .iter()
        .filter(|w| {
            ["team-0", "team-1", "team-2"]
                .iter()
                .any(|p| w.id.namespace.starts_with(p))
        })
        .map(|w| w.template.effective_requests().get("cpu") * i64::from(w.replicas))
        .sum();
    problem.fargate.default_quota_vcpus = (matched_cpu as f64 / 1000.0 * 0.5).ceil().max(16.0) as u32;
}

/// Each workload gets a demand in one to three of the fleet's regions (heavy in the first,
/// lighter in the others), as a global service's users are spread.
fn regional_demand(problem: &mut Problem, seed: u64) {
    let mut regions: Vec<String> = problem.clusters.iter().map(|c| c.region.clone()).collect();
    regions.sort();
    regions.dedup();
    let mut rng = stream(seed, 11);
    for w in &mut problem.workloads {
        let n = rng.random_range(1..=3.min(regions.len()));
        let mut demand = PerName::default();
        for i in 0..n {
            let region = &regions[rng.random_range(0..regions.len())];
            demand.named.entry(region.clone()).or_insert(100 / (i as u32 + 1));
        }
        w.policy.region_demand = demand;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_valid_and_sums_to_its_size() {
        for family in Family::ALL {
            let problem = family.instance(2_000, 7);
            problem.validate().unwrap_or_else(|e| panic!("{family}: {e}"));
            let total: u64 = problem.workloads.iter().map(|w| u64::from(w.replicas)).sum();
            assert_eq!(total, 2_000, "{family}");
        }
    }

    #[test]
    fn families_have_their_features() {
        let fargate = Family::FargateHeavy.instance(2_000, 1);
        assert!(
            fargate
                .clusters
                .iter()
                .any(|c| c.pools.iter().any(|p| p.fargate.is_some()))
        );
        let failover = Family::Failover.instance(2_000, 1);
        assert!(!failover.current.is_empty());
        assert!(failover.clusters.iter().any(|c| c.health != Health::Ready));
        let uniform = Family::UniformWeb.instance(2_000, 1);
        let targets: Vec<u32> = uniform.workloads.iter().map(|w| w.replicas).collect();
        assert!(targets.iter().max().unwrap() - targets.iter().min().unwrap() <= 1);
        let demand = Family::RegionalDemand.instance(2_000, 1);
        assert!(
            demand
                .workloads
                .iter()
                .all(|w| !w.policy.region_demand.named.is_empty())
        );
    }

    #[test]
    fn names_round_trip() {
        for family in Family::ALL {
            assert_eq!(family.name().parse::<Family>(), Ok(family));
        }
        assert!("nope".parse::<Family>().unwrap_err().contains("uniform-web"));
    }
}

//! What to generate: the size and the mix of a synthetic fleet, with two presets.

/// The shape of a synthetic instance. The presets [`SyntheticSpec::million`] and
/// [`SyntheticSpec::small`] are the ones the benchmarks and tests use; every field can be
/// changed to explore other shapes.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticSpec {
    /// Workload clusters.
    pub clusters: usize,
    /// Node pools in each cluster (general, plus batch and GPU pools in some clusters).
    pub pools_per_cluster: usize,
    /// Workloads (Deployments and Jobs).
    pub workloads: usize,
    /// The sum of all replica targets; at least `workloads` (every target is at least 1).
    pub total_replicas: u64,
    /// Regions the clusters spread over, the first of a fixed list (`us-east-1`,
    /// `eu-west-1`, `us-west-2`, ...); 2 or 3 zones each.
    pub regions: usize,
    /// Scheduling profiles the workloads draw from (cluster selector, node selector, node
    /// affinity, tolerations, hard zone spread). It bounds the planner's distinct rule sets;
    /// profiles that happen to coincide make fewer.
    pub rule_profiles: usize,
    /// Namespaces (teams) owning the workloads.
    pub namespaces: usize,
    /// Fraction of workloads already running somewhere (the problem's `current` state), most
    /// at their target and some below or above it; 0 for a fleet planned from scratch.
    pub running_fraction: f64,
    /// Fraction of clusters that are not healthy: alternately `NotReady` and `Cordoned`.
    pub unhealthy_fraction: f64,
    /// Node capacity relative to the demand expected in each pool. About 1.0 places 95-100%
    /// of the replicas; lower values make a fleet short of capacity.
    pub capacity_factor: f64,
    /// What kind of workloads the fleet runs.
    pub mix: Mix,
}

/// The kind of workloads a synthetic fleet runs: the needs of its rule profiles, how targets
/// are sized, and how short GPU capacity is.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    /// Relative frequency of rule profiles that need general, SSD, batch and GPU pools.
    pub needs: [u32; 4],
    /// Every workload gets the same target (give or take one) instead of a heavy-tailed one.
    pub equal_targets: bool,
    /// GPU pools are sized to this fraction of the GPU demand expected there (1.0: sized as
    /// every other pool).
    pub gpu_capacity: f64,
}

impl Default for Mix {
    /// Mostly general services, some SSD, batch and GPU work, heavy-tailed targets.
    fn default() -> Self {
        Mix {
            needs: [75, 12, 8, 5],
            equal_targets: false,
            gpu_capacity: 1.0,
        }
    }
}

impl SyntheticSpec {
    /// 100 clusters of 20 node pools in 10 regions, 10,000 workloads, 1,000,000 replicas,
    /// planned from scratch.
    pub fn million() -> Self {
        SyntheticSpec {
            clusters: 100,
            pools_per_cluster: 20,
            workloads: 10_000,
            total_replicas: 1_000_000,
            regions: 10,
            rule_profiles: 200,
            namespaces: 400,
            running_fraction: 0.0,
            unhealthy_fraction: 0.02,
            capacity_factor: 1.0,
            mix: Mix::default(),
        }
    }

    /// 10 clusters of 5 node pools in 5 regions, 100 workloads, 10,000 replicas: for smoke
    /// tests.
    pub fn small() -> Self {
        SyntheticSpec {
            clusters: 10,
            pools_per_cluster: 5,
            workloads: 100,
            total_replicas: 10_000,
            regions: 5,
            rule_profiles: 20,
            namespaces: 10,
            running_fraction: 0.0,
            unhealthy_fraction: 0.1,
            capacity_factor: 1.0,
            mix: Mix::default(),
        }
    }

    /// The same spec with `fraction` of the workloads already running (a steady-state
    /// re-plan rather than a fresh one).
    pub fn with_running(mut self, fraction: f64) -> Self {
        self.running_fraction = fraction;
        self
    }
}

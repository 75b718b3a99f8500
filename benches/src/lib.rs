//! # fleetplan-benches: seeded synthetic fleets for benchmarking the planner
//!
//! [`synthetic`] builds a realistic [`fleetplan::Problem`] from a [`SyntheticSpec`] and a
//! seed: regions with two or three zones, clusters labelled by tier and provider (a few of
//! them unhealthy), node pools of common instance types with disk, family, spot, batch and GPU
//! labels and taints, nodes partly used by other pods, and workloads with heavy-tailed replica
//! targets, common requests, cluster selectors over one to three regions or a tier, node
//! selectors, affinity, tolerations, GPU requests, topology spread, priorities and a mix of
//! `spread`, `weighted` and `pack` policies. Node capacity is sized to the demand expected in
//! each pool, so that about 95-100% of the replicas fit.
//!
//! Workloads draw their scheduling rules from a fixed number of profiles
//! ([`SyntheticSpec::rule_profiles`]), as real fleets do: tens to a few hundred distinct rule
//! sets, not one per workload.
//!
//! ```
//! use fleetplan::{PlanOptions, plan};
//! use fleetplan_benches::{SyntheticSpec, synthetic};
//!
//! let problem = synthetic(&SyntheticSpec::small(), 42);
//! let plan = plan(&problem, &PlanOptions::default()).unwrap();
//! assert_eq!(plan.summary.target, 10_000);
//! ```
//!
//! ## Determinism
//!
//! The same spec and seed give the same problem, byte for byte once serialised, for a given
//! version of this crate and of `rand`: the draws come from `rand`'s `SmallRng` seeded with
//! `seed_from_u64`, whose algorithm `rand` may change between versions (and which differs
//! between 32- and 64-bit targets). Each stage (fleet, workloads, node sizing, current state)
//! draws from its own stream, so that adding a current state leaves the fleet and the
//! workloads as they were.

mod catalog;
mod current;
mod family;
pub mod files;
mod fleet;
pub mod harness;
pub mod optimal;
pub mod pod_loop;
mod random;
pub mod runner;
mod spec;
pub mod violations;
mod workloads;

use std::collections::HashSet;

use fleetplan::{Problem, Resources, TopologyKey, WhenUnsatisfiable};

pub use family::Family;
use fleet::{Demand, Fleet, Vector};
use random::stream;
pub use spec::{Mix, SyntheticSpec};
use workloads::Need;

/// Generates the instance described by `spec` for `seed`.
///
/// # Panics
/// When `spec.total_replicas < spec.workloads` (every workload has at least one replica) or a
/// target exceeds `u32::MAX`.
pub fn synthetic(spec: &SyntheticSpec, seed: u64) -> Problem {
    let mut fleet = Fleet::new(spec, &mut stream(seed, 1));
    let profiles = workloads::profiles(spec, &fleet, &mut stream(seed, 2));
    let generated = workloads::workloads(spec, &fleet, &profiles, &mut stream(seed, 3));

    // Size every pool to the replicas expected there: each workload's target spread evenly
    // over the ready clusters its selector matches (clusters that are not ready get the same
    // share: the load they carried before they failed).
    let mut demand = vec![Demand::default(); fleet.clusters.len()];
    for (workload, &p) in generated.workloads.iter().zip(&generated.profile_of) {
        let profile = &profiles[p];
        let ready = profile
            .eligible
            .iter()
            .filter(|&&c| fleet.clusters[c].health.accepts_new())
            .count()
            .max(1);
        let mut share = f64::from(workload.replicas) / ready as f64;
        if profile.need == Need::Gpu {
            share *= spec.mix.gpu_capacity;
        }
        let request = vector(&workload.template.effective_requests());
        for &c in &profile.eligible {
            let to = match profile.need {
                Need::General => &mut demand[c].general,
                Need::Ssd => &mut demand[c].ssd,
                Need::Batch => &mut demand[c].batch,
                Need::Gpu => &mut demand[c].gpu,
            };
            for (t, r) in to.iter_mut().zip(request) {
                *t += share * r as f64;
            }
        }
    }
    fleet.size(&demand, spec.capacity_factor, &mut stream(seed, 4));

    let current = current::running(
        spec.running_fraction,
        &mut fleet,
        &generated.workloads,
        &profiles,
        &generated.profile_of,
        &mut stream(seed, 5),
    );
    Problem {
        clusters: fleet.into_clusters(),
        workloads: generated.workloads,
        current,
        ..Problem::default()
    }
}

/// The dense form of a request: CPU, memory, pods, GPUs.
fn vector(r: &Resources) -> Vector {
    [
        r.get("cpu"),
        r.get("memory"),
        r.get("pods"),
        r.get("nvidia.com/gpu"),
    ]
}

/// The number of distinct rule sets the planner computes candidates for: workloads grouped by
/// cluster selector, node selector, required and preferred node affinity, tolerations, and
/// whether a hard zone spread needs zone labels (the grouping of `fleetplan`'s planner).
pub fn distinct_rule_sets(problem: &Problem) -> usize {
    problem
        .workloads
        .iter()
        .map(|w| {
            let t = &w.template;
            (
                &w.policy.cluster_selector,
                &t.node_selector,
                &t.affinity.required,
                &t.affinity.preferred,
                &t.tolerations,
                t.topology_spread.iter().any(|s| {
                    s.topology_key == TopologyKey::Zone
                        && s.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule
                }),
            )
        })
        .collect::<HashSet<_>>()
        .len()
}

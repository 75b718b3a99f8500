//! Static candidates: for each distinct set of scheduling rules, which pools of which clusters
//! a replica may use, with a preference score, and why every other cluster is refused.
//!
//! Workloads that share their rules (cluster selector, node selector, affinity, tolerations,
//! zone spread) share one [`Candidates`], so the cost grows with the number of distinct rule
//! sets, not with the number of workloads. Resources are not checked here: they change as
//! replicas are placed.
//!
//! In a cluster with Fargate profiles, EKS decides per pod: a pod a profile takes runs on
//! Fargate (the profile is then the cluster's only choice, and node selectors, affinity,
//! node taints and zone spread do not apply), or stays pending if Fargate cannot run it; any
//! other pod uses the node pools as usual.

use std::collections::HashMap;

use rayon::prelude::*;

use super::index::Index;
use crate::cluster::{Cluster, Labels, NodePool, PoolName, Taint};
use crate::explain::Reason;
use crate::fargate::{FargateRefusal, PodFacts, fargate_refusal, select_profile};
use crate::problem::Problem;
use crate::rules::{
    node_selector_failure, required_affinity_matches, untolerated_hard_taint, untolerated_soft_taints,
};
use crate::workload::{
    LabelSelector, PlacementPolicy, PodTemplate, PreferredTerm, Toleration, TopologyKey, WhenUnsatisfiable,
    Workload,
};

/// The rules that decide static feasibility, borrowed from a workload.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Rules<'a> {
    pub cluster_selector: &'a LabelSelector,
    pub node_selector: &'a Labels,
    pub required: &'a [LabelSelector],
    pub preferred: &'a [PreferredTerm],
    pub tolerations: &'a [Toleration],
    pub needs_zone: bool,
    /// When the fleet has Fargate profiles: the namespace and pod template, which decide
    /// which profile takes the pod and whether Fargate can run it.
    pub fargate: Option<(&'a str, &'a PodTemplate)>,
}

impl<'a> Rules<'a> {
    pub fn of(workload: &'a Workload, with_fargate: bool) -> Self {
        let PodTemplate {
            node_selector,
            affinity,
            tolerations,
            topology_spread,
            ..
        } = &workload.template;
        let PlacementPolicy { cluster_selector, .. } = &workload.policy;
        Rules {
            cluster_selector,
            node_selector,
            required: &affinity.required,
            preferred: &affinity.preferred,
            tolerations,
            needs_zone: topology_spread.iter().any(|t| {
                t.topology_key == TopologyKey::Zone
                    && t.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule
            }),
            fargate: with_fargate.then_some((&*workload.id.namespace, &workload.template)),
        }
    }
}

/// A pool a replica may use, with its preference score (higher is better).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolChoice {
    pub pool: usize,
    pub score: i64,
}

/// The pools of one cluster a replica may use, most preferred first.
pub(crate) struct Choices {
    pub pools: Vec<PoolChoice>,
    /// How many pools share the best score (they are equally preferred).
    pub first_run: usize,
    /// The best score, kept beside the list so reading it needs no second memory access.
    pub best_score: i64,
    /// The cluster's node pools refused for a taint the rules do not tolerate, with the
    /// taint: a reason names them when the pools in `pools` have no room.
    pub untolerated: Vec<(PoolName, Taint)>,
}

impl Choices {
    /// The pool at `position` in the order a workload with tie-breaking hash `hash` fills
    /// them: the equally preferred first pools start at a different one for each workload
    /// (so that workloads share them instead of all filling the first), then the rest in
    /// preference order.
    pub fn at(&self, position: usize, hash: u64) -> PoolChoice {
        let run = self.first_run;
        let index = if position < run {
            (position + (hash % run as u64) as usize) % run
        } else {
            position
        };
        self.pools[index]
    }
}

/// The static verdict for one cluster.
pub(crate) type ClusterVerdict = Result<Choices, Reason>;

/// Static verdicts for one rule set, one per cluster.
pub(crate) struct Candidates {
    pub clusters: Vec<ClusterVerdict>,
    /// Some cluster offers a Fargate profile.
    pub fargate: bool,
}

/// Groups workloads by rule set: returns the rule sets and, per workload, its set's index.
pub(crate) fn group_by_rules(problem: &Problem) -> (Vec<Rules<'_>>, Vec<usize>) {
    let mut ids: HashMap<Rules<'_>, usize> = HashMap::new();
    let mut sets = Vec::new();
    let with_fargate = problem
        .clusters
        .iter()
        .any(|c| c.pools.iter().any(|p| p.fargate.is_some()));
    let of_workload = problem
        .workloads
        .iter()
        .map(|w| {
            let rules = Rules::of(w, with_fargate);
            *ids.entry(rules).or_insert_with(|| {
                sets.push(rules);
                sets.len() - 1
            })
        })
        .collect();
    (sets, of_workload)
}

/// Computes the candidates of every rule set, in parallel.
pub(crate) fn compute(problem: &Problem, index: &Index, sets: &[Rules<'_>]) -> Vec<Candidates> {
    sets.par_iter()
        .map(|rules| {
            // Once per rule set, not per cluster: why Fargate cannot run its pods.
            let refusal = pod_refusal(rules);
            let clusters: Vec<ClusterVerdict> = problem
                .clusters
                .iter()
                .enumerate()
                .map(|(c, cluster)| cluster_verdict(cluster, index.cluster_pools[c].start, rules, &refusal))
                .collect();
            let fargate = !index.buckets.is_empty()
                && clusters
                    .iter()
                    .flatten()
                    .any(|choices| choices.pools.iter().any(|c| index.pools[c.pool].bucket.is_some()));
            Candidates { clusters, fargate }
        })
        .collect()
}

/// How far a pool got through the checks, for choosing which refusal to report.
fn pool_verdict(pool: &NodePool, rules: &Rules<'_>) -> Result<i64, (u8, Reason)> {
    if let Some((key, value)) = node_selector_failure(rules.node_selector, &pool.labels) {
        return Err((
            0,
            Reason::NodeSelector {
                key: key.clone(),
                value: value.clone(),
            },
        ));
    }
    if !required_affinity_matches(rules.required, &pool.labels) {
        return Err((1, Reason::NodeAffinity));
    }
    if let Some(taint) = untolerated_hard_taint(&pool.taints, rules.tolerations) {
        return Err((
            2,
            Reason::PoolTaint {
                pool: pool.name.clone(),
                taint: taint.clone(),
            },
        ));
    }
    if rules.needs_zone && pool.zone.is_none() {
        return Err((3, Reason::NoZoneLabel));
    }
    Ok(preference(rules, &pool.labels, &pool.taints))
}

/// Preferred-affinity weights that match, minus 100 per untolerated `PreferNoSchedule` taint.
fn preference(rules: &Rules<'_>, labels: &Labels, taints: &[Taint]) -> i64 {
    let preferred: i64 = rules
        .preferred
        .iter()
        .filter(|t| t.preference.matches(labels))
        .map(|t| i64::from(t.weight))
        .sum();
    preferred - 100 * untolerated_soft_taints(taints, rules.tolerations) as i64
}

fn cluster_verdict(
    cluster: &Cluster,
    first_pool: usize,
    rules: &Rules<'_>,
    refusal: &Option<FargateRefusal>,
) -> ClusterVerdict {
    if let Some(req) = rules.cluster_selector.first_failure(&cluster.selector_labels()) {
        return Err(Reason::ClusterSelector {
            requirement: req.to_string(),
        });
    }
    if let Some(taint) = untolerated_hard_taint(&cluster.taints, rules.tolerations) {
        return Err(Reason::ClusterTaint { taint: taint.clone() });
    }
    if cluster.pools.is_empty() {
        return Err(Reason::NoPools);
    }
    let cluster_penalty = -100 * untolerated_soft_taints(&cluster.taints, rules.tolerations) as i64;
    match fargate_profile(cluster, rules, || refusal.clone()) {
        FargateVerdict::Profile(local) => {
            return Ok(Choices {
                pools: vec![PoolChoice {
                    pool: first_pool + local,
                    score: cluster_penalty,
                }],
                first_run: 1,
                best_score: cluster_penalty,
                untolerated: Vec::new(),
            });
        }
        FargateVerdict::Refused(refusal) => return Err(Reason::Fargate { refusal }),
        FargateVerdict::Nodes => {}
    }
    let mut choices = Vec::new();
    let mut untolerated = Vec::new();
    let mut best_refusal: Option<(u8, Reason)> = None;
    for (local, pool) in cluster.pools.iter().enumerate() {
        if pool.fargate.is_some() {
            continue;
        }
        match pool_verdict(pool, rules) {
            Ok(score) => choices.push(PoolChoice {
                pool: first_pool + local,
                score: score + cluster_penalty,
            }),
            Err((stage, reason)) => {
                if let Reason::PoolTaint { pool, taint } = &reason {
                    untolerated.push((pool.clone(), taint.clone()));
                }
                if best_refusal.as_ref().is_none_or(|(best, _)| stage > *best) {
                    best_refusal = Some((stage, reason));
                }
            }
        }
    }
    if choices.is_empty() {
        return Err(match best_refusal {
            Some((_, reason)) => reason,
            None if cluster.pools.iter().any(|p| p.fargate.is_some()) => Reason::Fargate {
                refusal: FargateRefusal::NoMatchingProfile,
            },
            None => Reason::NoPools,
        });
    }
    // Most preferred first; equal scores keep pool order.
    choices.sort_by_key(|c| std::cmp::Reverse(c.score));
    let first_run = choices.iter().take_while(|c| c.score == choices[0].score).count();
    Ok(Choices {
        best_score: choices[0].score,
        pools: choices,
        first_run,
        untolerated,
    })
}

/// What EKS does with a workload's pods in a cluster.
enum FargateVerdict {
    /// The Fargate pool at this index in the cluster's pools takes them.
    Profile(usize),
    /// A profile takes them but Fargate cannot run them (or a pinned profile is wrong).
    Refused(FargateRefusal),
    /// No profile takes them (or the cluster has none): they run on nodes.
    Nodes,
}

/// What EKS does with the pods of `rules` in `cluster`: the profile that takes them, if any,
/// then `refusal`, why Fargate cannot run them (computed only when a profile takes them).
fn fargate_profile(
    cluster: &Cluster,
    rules: &Rules<'_>,
    refusal: impl FnOnce() -> Option<FargateRefusal>,
) -> FargateVerdict {
    let Some((namespace, template)) = rules.fargate else {
        return FargateVerdict::Nodes;
    };
    let profiles = cluster.pools.iter().filter_map(|p| p.fargate.as_ref());
    if profiles.clone().next().is_none() {
        return FargateVerdict::Nodes;
    }
    match select_profile(profiles, namespace, &template.labels) {
        Ok(profile) => match refusal() {
            Some(refusal) => FargateVerdict::Refused(refusal),
            None => cluster
                .pools
                .iter()
                .position(|p| p.fargate.as_ref().is_some_and(|f| f.name == profile.name))
                .map_or(FargateVerdict::Nodes, FargateVerdict::Profile),
        },
        Err(FargateRefusal::NoMatchingProfile) => FargateVerdict::Nodes,
        Err(refusal) => FargateVerdict::Refused(refusal),
    }
}

/// Why Fargate cannot run the pods of `rules`, whatever the profiles.
fn pod_refusal(rules: &Rules<'_>) -> Option<FargateRefusal> {
    let (namespace, template) = rules.fargate?;
    fargate_refusal(&PodFacts::from_template(namespace, template))
}

/// True when a replica already running in `pool` of `cluster` may stay there: the rules that
/// evict or forbid still hold, while `NoSchedule` taints (which only stop new replicas) are
/// ignored, as Kubernetes does. A replica on Fargate stays while its profile still takes it.
pub(crate) fn may_keep(cluster: &Cluster, pool: &NodePool, rules: &Rules<'_>) -> bool {
    use crate::cluster::TaintEffect::NoExecute;
    let evicting = |taints: &[Taint]| {
        taints
            .iter()
            .any(|t| t.effect == NoExecute && !rules.tolerations.iter().any(|tol| tol.tolerates(t)))
    };
    if pool.fargate.is_some() {
        return rules.cluster_selector.matches(&cluster.selector_labels())
            && !evicting(&cluster.taints)
            && matches!(fargate_profile(cluster, rules, || pod_refusal(rules)),
                FargateVerdict::Profile(local) if cluster.pools[local].name == pool.name);
    }
    rules.cluster_selector.matches(&cluster.selector_labels())
        && !evicting(&cluster.taints)
        && node_selector_failure(rules.node_selector, &pool.labels).is_none()
        && required_affinity_matches(rules.required, &pool.labels)
        && !evicting(&pool.taints)
}

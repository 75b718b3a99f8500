//! Workloads: scheduling profiles that many workloads share, skewed replica targets that sum
//! exactly to the spec's total, common requests, and a mix of placement policies.

use std::collections::BTreeMap;

use fleetplan::{
    Container, LabelRequirement, LabelSelector, Labels, NodeAffinity, Operator, PerName, PlacementPolicy,
    PodTemplate, PreferredTerm, REGION_LABEL, Resources, Strategy, TaintEffect, Toleration,
    TolerationOperator, TopologyKey, TopologySpread, WhenUnsatisfiable, Workload, WorkloadId, WorkloadKind,
};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::catalog::{APPS, GPU_REQUEST_SIZES, MI, PRIORITIES, REQUEST_SIZES};
use crate::fleet::Fleet;
use crate::random::{Skewed, pareto, pick, sample};
use crate::spec::SyntheticSpec;

/// The kind of pool a profile's replicas must land in, for sizing the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// Any general pool.
    General,
    /// General pools labelled `disktype=ssd`.
    Ssd,
    /// Batch pools preferred, general pools allowed.
    Batch,
    /// GPU pools only.
    Gpu,
}

/// Scheduling rules shared by many workloads: one profile is (at most) one planner rule set.
pub(crate) struct Profile {
    cluster_selector: LabelSelector,
    node_selector: Labels,
    affinity: NodeAffinity,
    tolerations: Vec<Toleration>,
    zone_spread: Option<TopologySpread>,
    pub need: Need,
    /// Regions the cluster selector names, if any.
    regions: Vec<usize>,
    /// Clusters the cluster selector matches.
    pub eligible: Vec<usize>,
}

fn requirement(key: &str, operator: Operator, values: &[&str]) -> LabelRequirement {
    LabelRequirement {
        key: key.into(),
        operator,
        values: values.iter().map(|v| (*v).to_string()).collect(),
    }
}

fn selector(requirements: Vec<LabelRequirement>) -> LabelSelector {
    LabelSelector { requirements }
}

fn toleration(
    key: &str,
    operator: TolerationOperator,
    value: &str,
    effect: Option<TaintEffect>,
) -> Toleration {
    Toleration {
        key: key.into(),
        operator,
        value: value.into(),
        effect,
    }
}

/// `spec.rule_profiles` profiles, each matching at least one cluster.
pub(crate) fn profiles(spec: &SyntheticSpec, fleet: &Fleet, rng: &mut SmallRng) -> Vec<Profile> {
    let popularity = Skewed::new(fleet.regions.len(), 0.6);
    (0..spec.rule_profiles.max(1))
        .map(|_| {
            let mut attempt = 0;
            loop {
                let profile = profile(spec.mix.needs, fleet, &popularity, rng, attempt >= 10);
                if !profile.eligible.is_empty() {
                    return profile;
                }
                attempt += 1;
            }
        })
        .collect()
}

/// Up to `n` distinct regions, popular ones more often, sorted.
fn regions(rng: &mut SmallRng, popularity: &Skewed, available: usize, n: usize) -> Vec<usize> {
    let n = n.min(available);
    let mut chosen = Vec::with_capacity(n);
    while chosen.len() < n {
        let r = popularity.sample(rng);
        if !chosen.contains(&r) {
            chosen.push(r);
        }
    }
    chosen.sort_unstable();
    chosen
}

fn profile(needs: [u32; 4], fleet: &Fleet, popularity: &Skewed, rng: &mut SmallRng, broad: bool) -> Profile {
    let [general, ssd, batch, gpu] = needs;
    let need = pick(
        rng,
        &[
            (Need::General, general),
            (Need::Ssd, ssd),
            (Need::Batch, batch),
            (Need::Gpu, gpu),
        ],
    );
    let available = fleet.regions.len();
    let mut requirements = Vec::new();
    let mut chosen = Vec::new();
    let in_regions = |rng: &mut SmallRng, chosen: &mut Vec<usize>, max: usize| {
        let n = rng.random_range(1..=max);
        *chosen = regions(rng, popularity, available, n);
        let names: Vec<&str> = chosen.iter().map(|&r| fleet.regions[r].as_str()).collect();
        requirement(REGION_LABEL, Operator::In, &names)
    };
    // Which clusters: one to three regions, a tier, a provider, or everything.
    let kind = if broad {
        5
    } else {
        pick(rng, &[(0, 40), (1, 25), (2, 10), (3, 10), (4, 10), (5, 5)])
    };
    match kind {
        0 => requirements.push(in_regions(rng, &mut chosen, 3)),
        1 => {
            requirements.push(requirement("tier", Operator::In, &["prod"]));
            requirements.push(in_regions(rng, &mut chosen, 3));
        }
        2 => requirements.push(requirement("tier", Operator::In, &["dev"])),
        3 => {
            let provider = pick(rng, &[("aws", 2), ("gcp", 1)]);
            requirements.push(requirement("provider", Operator::In, &[provider]));
            requirements.push(in_regions(rng, &mut chosen, 2));
        }
        4 => requirements.push(requirement("tier", Operator::In, &["prod"])),
        _ => {}
    }
    let mut node_selector = Labels::new();
    let mut affinity = NodeAffinity::default();
    let mut tolerations = Vec::new();
    match need {
        Need::Ssd => {
            node_selector.insert("disktype".into(), "ssd".into());
        }
        Need::Batch => {
            tolerations.push(toleration(
                "dedicated",
                TolerationOperator::Equal,
                "batch",
                Some(TaintEffect::NoSchedule),
            ));
            affinity.preferred.push(PreferredTerm {
                weight: 80,
                preference: selector(vec![requirement("dedicated", Operator::In, &["batch"])]),
            });
        }
        Need::Gpu => {
            requirements.push(requirement("gpu", Operator::In, &["true"]));
            node_selector.insert("nvidia.com/gpu.present".into(), "true".into());
            tolerations.push(toleration(
                "nvidia.com/gpu",
                TolerationOperator::Exists,
                "",
                Some(TaintEffect::NoSchedule),
            ));
            if rng.random_bool(0.3) {
                affinity.required.push(selector(vec![requirement(
                    "accelerator",
                    Operator::In,
                    &["nvidia-a10g", "nvidia-v100"],
                )]));
            }
        }
        Need::General => match rng.random_range(0..100) {
            0..12 => affinity.required.push(selector(vec![requirement(
                "instance-family",
                Operator::In,
                &["m5", "c5"],
            )])),
            12..20 => affinity.required.push(selector(vec![requirement(
                "instance-family",
                Operator::NotIn,
                &["r5"],
            )])),
            20..32 => affinity.preferred.push(PreferredTerm {
                weight: 50,
                preference: selector(vec![requirement("disktype", Operator::In, &["ssd"])]),
            }),
            32..38 => tolerations.push(toleration("spot", TolerationOperator::Exists, "", None)),
            38..42 => affinity.preferred.push(PreferredTerm {
                weight: 100,
                preference: selector(vec![requirement("capacity-type", Operator::In, &["on-demand"])]),
            }),
            _ => {}
        },
    }
    let zone_spread = rng.random_bool(0.06).then(|| TopologySpread {
        max_skew: pick(rng, &[(1, 3), (2, 1)]),
        topology_key: TopologyKey::Zone,
        when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
    });
    let cluster_selector = selector(requirements);
    let eligible = (0..fleet.clusters.len())
        .filter(|&c| cluster_selector.matches(&fleet.clusters[c].selector_labels))
        .collect();
    Profile {
        cluster_selector,
        node_selector,
        affinity,
        tolerations,
        zone_spread,
        need,
        regions: chosen,
        eligible,
    }
}

/// The workloads, and for each the index of its profile.
pub(crate) struct Generated {
    pub workloads: Vec<Workload>,
    pub profile_of: Vec<usize>,
}

/// `spec.workloads` workloads with heavy-tailed targets summing to `spec.total_replicas`.
pub(crate) fn workloads(
    spec: &SyntheticSpec,
    fleet: &Fleet,
    profiles: &[Profile],
    rng: &mut SmallRng,
) -> Generated {
    assert!(
        spec.total_replicas >= spec.workloads as u64,
        "every workload needs at least one replica: total_replicas < workloads"
    );
    let popularity = Skewed::new(profiles.len(), 0.9);
    let profile_of: Vec<usize> = (0..spec.workloads).map(|_| popularity.sample(rng)).collect();
    let weights: Vec<f64> = profile_of
        .iter()
        .map(|&p| {
            let w = if spec.mix.equal_targets {
                1.0
            } else {
                pareto(rng, 1.1, 1000.0)
            };
            if profiles[p].need == Need::Gpu {
                w * 0.05
            } else {
                w
            }
        })
        .collect();
    let targets = targets(&weights, spec.total_replicas);
    let namespaces = Skewed::new(spec.namespaces.max(1), 0.7);
    let workloads = profile_of
        .iter()
        .zip(targets)
        .enumerate()
        .map(|(i, (&p, target))| workload(i, target, &profiles[p], fleet, &namespaces, rng))
        .collect();
    Generated {
        workloads,
        profile_of,
    }
}

/// Integer targets proportional to `weights`, each at least 1, summing exactly to `total`.
fn targets(weights: &[f64], total: u64) -> Vec<u32> {
    let n = weights.len();
    if n == 0 {
        return Vec::new();
    }
    let sum: f64 = weights.iter().sum();
    let mut t: Vec<u64> = weights
        .iter()
        .map(|w| ((w / sum * total as f64).floor() as u64).max(1))
        .collect();
    // Largest weights first: they absorb the rounding.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
    let mut current: u64 = t.iter().sum();
    while current < total {
        let step = ((total - current) / n as u64).max(1);
        for &i in &order {
            let add = step.min(total - current);
            t[i] += add;
            current += add;
            if current == total {
                break;
            }
        }
    }
    while current > total {
        for &i in &order {
            let remove = (t[i] - 1).min(current - total);
            t[i] -= remove;
            current -= remove;
            if current == total {
                break;
            }
        }
    }
    t.into_iter()
        .map(|x| u32::try_from(x).expect("a replica target fits in u32"))
        .collect()
}

fn resources(cpu: i64, memory: i64) -> Resources {
    Resources::new().with("cpu", cpu).with("memory", memory)
}

fn container(name: &str, requests: Resources, sidecar: bool) -> Container {
    Container {
        name: name.into(),
        requests,
        sidecar,
    }
}

fn workload(
    i: usize,
    target: u32,
    profile: &Profile,
    fleet: &Fleet,
    namespaces: &Skewed,
    rng: &mut SmallRng,
) -> Workload {
    let namespace = format!("team-{:03}", namespaces.sample(rng));
    let name = format!("{}-{i:05}", APPS[rng.random_range(0..APPS.len())]);
    let kind = if profile.need == Need::Batch && rng.random_bool(0.7) {
        WorkloadKind::Job
    } else {
        WorkloadKind::Deployment
    };

    // Requests: one app container of a common size, often a service-mesh proxy beside it,
    // sometimes an init container or a native sidecar.
    let mut containers = Vec::new();
    if profile.need == Need::Gpu {
        let (cpu, memory) = pick(rng, &GPU_REQUEST_SIZES);
        let gpus = pick(rng, &[(1, 8), (2, 2)]);
        containers.push(container(
            "app",
            resources(cpu, memory).with("nvidia.com/gpu", gpus),
            false,
        ));
    } else {
        let (cpu, memory) = pick(rng, &REQUEST_SIZES);
        containers.push(container("app", resources(cpu, memory), false));
        if rng.random_bool(0.25) {
            containers.push(container("istio-proxy", resources(100, 128 * MI), false));
        }
    }
    let mut init_containers = Vec::new();
    if rng.random_bool(0.05) {
        init_containers.push(container("log-shipper", resources(50, 64 * MI), true));
    }
    if rng.random_bool(0.1) {
        init_containers.push(container("init-config", resources(200, 64 * MI), false));
    }

    let mut topology_spread: Vec<TopologySpread> = profile.zone_spread.into_iter().collect();
    if rng.random_bool(0.04) {
        topology_spread.push(TopologySpread {
            max_skew: pick(rng, &[(1, 2), (2, 1), (5, 1)]),
            topology_key: TopologyKey::Region,
            when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
        });
    }
    if profile.zone_spread.is_none() && rng.random_bool(0.12) {
        topology_spread.push(TopologySpread {
            max_skew: 1,
            topology_key: TopologyKey::Zone,
            when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
        });
    }

    let template = PodTemplate {
        labels: [("app".to_string(), name.clone())].into(),
        containers,
        init_containers,
        node_selector: profile.node_selector.clone(),
        affinity: profile.affinity.clone(),
        tolerations: profile.tolerations.clone(),
        topology_spread,
        priority: pick(rng, &PRIORITIES),
        ..PodTemplate::default()
    };
    Workload {
        id: WorkloadId::new(&namespace, &name),
        kind,
        replicas: target,
        template,
        policy: policy(target, profile, fleet, kind, rng),
    }
}

fn named(pairs: impl IntoIterator<Item = (String, u32)>) -> PerName {
    PerName {
        default: None,
        named: pairs.into_iter().collect::<BTreeMap<_, _>>(),
    }
}

fn policy(
    target: u32,
    profile: &Profile,
    fleet: &Fleet,
    kind: WorkloadKind,
    rng: &mut SmallRng,
) -> PlacementPolicy {
    let strategy = if kind == WorkloadKind::Job {
        pick(rng, &[(Strategy::Spread, 1), (Strategy::Pack, 1)])
    } else {
        pick(
            rng,
            &[
                (Strategy::Spread, 50),
                (Strategy::Weighted, 30),
                (Strategy::Pack, 20),
            ],
        )
    };
    let mut policy = PlacementPolicy {
        cluster_selector: profile.cluster_selector.clone(),
        strategy,
        ..PlacementPolicy::default()
    };
    let cluster_name = |c: usize| fleet.clusters[c].name.clone();
    let region_name = |r: usize| fleet.regions[r].clone();
    match strategy {
        Strategy::Weighted => {
            let region = match profile.regions.as_slice() {
                [] => fleet.clusters[profile.eligible[rng.random_range(0..profile.eligible.len())]].region,
                some => some[rng.random_range(0..some.len())],
            };
            policy.region_weights = named([(region_name(region), rng.random_range(2..=4))]);
            let count = rng.random_range(1..=2);
            let favourites = sample(rng, &profile.eligible, count);
            policy.cluster_weights = named(
                favourites
                    .into_iter()
                    .map(|c| (cluster_name(c), rng.random_range(2..=5)))
                    .collect::<Vec<_>>(),
            );
        }
        Strategy::Pack if rng.random_bool(0.3) => {
            let home = profile.eligible[rng.random_range(0..profile.eligible.len())];
            policy.cluster_weights = named([(cluster_name(home), 3)]);
        }
        _ => {}
    }
    if target as usize >= 2 * profile.eligible.len() && rng.random_bool(0.05) {
        policy.cluster_min.default = Some(1);
    }
    let max_chance = if strategy == Strategy::Pack { 0.4 } else { 0.1 };
    // A per-cluster maximum that still lets the target fit over the eligible clusters.
    let clusters = profile.eligible.len().min(5) as u32;
    if clusters >= 2 && rng.random_bool(max_chance) {
        policy.cluster_max.default = Some(target.div_ceil(rng.random_range(2..=clusters)).max(1));
    }
    if profile.regions.len() >= 2 {
        if rng.random_bool(0.03) {
            policy.region_max = named([(region_name(profile.regions[0]), (target / 2).max(1))]);
        }
        if rng.random_bool(0.02) {
            policy.region_min = named([(region_name(profile.regions[1]), (target / 4).max(1))]);
        }
    }
    policy
}

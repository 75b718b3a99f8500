//! AWS Fargate on EKS: which pods a Fargate profile takes, how Fargate sizes them, and why a
//! pod cannot run there.
//!
//! This module is pure rules, with no I/O; the planner applies them to pools that are Fargate
//! profiles ([`crate::NodePool::fargate`]). It follows the
//! project's domain notes on Fargate for EKS (after the AWS EKS user guide's "Fargate profile"
//! and "Fargate pod configuration" pages):
//!
//! - **Profiles.** A [`FargateProfile`] has a name and up to [`MAX_SELECTORS`] selectors; a
//!   [`FargateSelector`] has a namespace and up to [`MAX_SELECTOR_LABELS`] labels. A pod
//!   matches a selector when its namespace matches and it carries every label of the selector;
//!   `*` (any run of characters, possibly empty) and `?` (exactly one character) are wildcards
//!   in the selector's namespace and in its label keys and values ([`wildcard_match`]). A pod
//!   matching any selector of a profile goes to Fargate. A cluster has at most
//!   [`MAX_PROFILES`] profiles ([`validate_profiles`]).
//! - **Precedence.** When several profiles match, the first by byte-wise ascending name wins.
//!   The pod label [`PROFILE_LABEL`] pins one profile. **Decision:** the pinned profile is used
//!   only if it exists and matches the pod; otherwise the pod gets no Fargate profile at all,
//!   with the distinct reasons [`FargateRefusal::PinnedProfileMissing`] and
//!   [`FargateRefusal::PinnedProfileMismatch`] (no fallback to another profile).
//! - **Sizing.** Per resource the pod request is the larger of the largest init container and
//!   the sum of the app containers ([`PodTemplate::effective_requests`]); Fargate adds
//!   [`MEMORY_OVERHEAD_BYTES`] (256 MiB) of memory and rounds up to the first valid vCPU and
//!   memory combination: the smallest vCPU at or above the CPU request that offers a memory
//!   option at or above the memory need, then the smallest such memory option. A pod with no
//!   requests gets 0.25 vCPU and 0.5 GiB. **Decision:** the "GB" of the AWS table is read as
//!   GiB (2^30 bytes), as Fargate bills and as the pod's capacity annotation reports it. The
//!   valid combinations ([`fargate_combinations`]):
//!
//!   | vCPU | memory (GiB)          |
//!   |------|-----------------------|
//!   | 0.25 | 0.5, 1, 2             |
//!   | 0.5  | 1 to 4, step 1        |
//!   | 1    | 2 to 8, step 1        |
//!   | 2    | 4 to 16, step 1       |
//!   | 4    | 8 to 30, step 1       |
//!   | 8    | 16 to 60, step 4      |
//!   | 16   | 32 to 120, step 8     |
//!
//!   For example 1 vCPU and 8 GiB requested need 8 GiB + 256 MiB, more than 1 vCPU's largest
//!   option, so the pod gets 2 vCPU and 9 GiB. A pod needing more than 16 vCPU or 120 GiB
//!   cannot run on Fargate ([`FargateRefusal::TooLarge`]).
//! - **Ineligible pods** ([`fargate_refusal`]): DaemonSet pods, privileged containers,
//!   `hostNetwork`, host ports, GPUs and other accelerators (any extended resource), Arm or
//!   Windows node selectors, EBS volumes, and pods too large for any size.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{HourlyPrice, Labels, PodTemplate, ResourceName, Resources, format_amount};

/// At most this many Fargate profiles per cluster.
pub const MAX_PROFILES: usize = 10;
/// At most this many selectors per Fargate profile.
pub const MAX_SELECTORS: usize = 5;
/// At most this many labels per Fargate selector.
pub const MAX_SELECTOR_LABELS: usize = 5;
/// The pod label that pins a pod to the Fargate profile it names.
pub const PROFILE_LABEL: &str = "eks.amazonaws.com/fargate-profile";
/// The memory Fargate adds to every pod for its Kubernetes components: 256 MiB.
pub const MEMORY_OVERHEAD_BYTES: i64 = 256 << 20;

const MIB: i64 = 1 << 20;

/// The memory options of one vCPU tier, in MiB.
enum MemoryOptions {
    /// An explicit list, ascending.
    List(&'static [i64]),
    /// `min`, `min + step`, ... up to `max`.
    Range { min: i64, max: i64, step: i64 },
}

/// One vCPU tier of the Fargate size table.
struct Tier {
    cpu_millis: i64,
    memory_mib: MemoryOptions,
}

const fn range(cpu_millis: i64, min_gib: i64, max_gib: i64, step_gib: i64) -> Tier {
    Tier {
        cpu_millis,
        memory_mib: MemoryOptions::Range {
            min: min_gib * 1024,
            max: max_gib * 1024,
            step: step_gib * 1024,
        },
    }
}

/// The Fargate size table, ascending by vCPU.
const TIERS: [Tier; 7] = [
    Tier {
        cpu_millis: 250,
        memory_mib: MemoryOptions::List(&[512, 1024, 2048]),
    },
    range(500, 1, 4, 1),
    range(1000, 2, 8, 1),
    range(2000, 4, 16, 1),
    range(4000, 8, 30, 1),
    range(8000, 16, 60, 4),
    range(16000, 32, 120, 8),
];

impl Tier {
    /// The smallest memory option of this tier at or above `need_bytes`, in bytes.
    fn round_up(&self, need_bytes: i64) -> Option<i64> {
        self.options_bytes().into_iter().find(|&m| m >= need_bytes)
    }

    /// Every memory option of this tier, ascending, in bytes.
    fn options_bytes(&self) -> Vec<i64> {
        match self.memory_mib {
            MemoryOptions::List(list) => list.iter().map(|m| m * MIB).collect(),
            MemoryOptions::Range { min, max, step } => (0..)
                .map(|i| min + i * step)
                .take_while(|&m| m <= max)
                .map(|m| m * MIB)
                .collect(),
        }
    }
}

/// Every valid Fargate combination as `(cpu_millis, memory_bytes)`, ascending by vCPU and then
/// by memory.
pub fn fargate_combinations() -> Vec<(i64, i64)> {
    TIERS
        .iter()
        .flat_map(|t| t.options_bytes().into_iter().map(move |m| (t.cpu_millis, m)))
        .collect()
}

/// Matches `text` against a Fargate selector `pattern`: `*` stands for any run of characters
/// (possibly empty), `?` for exactly one character, and every other character for itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // The position of the last `*` seen, and the text position it has consumed up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more character and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// One selector of a Fargate profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FargateSelector {
    /// The namespace pattern (wildcards `*` and `?` allowed).
    pub namespace: String,
    /// Labels the pod must all carry; keys and values may use wildcards.
    #[serde(default)]
    pub labels: Labels,
}

impl FargateSelector {
    /// A selector for `namespace` with no labels.
    pub fn new(namespace: &str) -> Self {
        FargateSelector {
            namespace: namespace.to_owned(),
            labels: Labels::new(),
        }
    }

    /// This selector with one more required label.
    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Whether a pod in `namespace` with `labels` matches: the namespace matches and, for every
    /// selector label, the pod has a label whose key and value match it.
    pub fn matches(&self, namespace: &str, labels: &Labels) -> bool {
        wildcard_match(&self.namespace, namespace)
            && self.labels.iter().all(|(sk, sv)| {
                labels
                    .iter()
                    .any(|(pk, pv)| wildcard_match(sk, pk) && wildcard_match(sv, pv))
            })
    }
}

/// A Fargate profile of an EKS cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FargateProfile {
    /// The profile name; profiles are tried in byte-wise ascending order of it.
    pub name: String,
    /// The selectors; a pod matching any of them runs on Fargate under this profile.
    pub selectors: Vec<FargateSelector>,
    /// The zones of the profile's subnets (informational: Fargate picks one per pod).
    #[serde(default)]
    pub zones: Vec<String>,
}

impl FargateProfile {
    /// A profile with these selectors and no zones.
    pub fn new(name: &str, selectors: Vec<FargateSelector>) -> Self {
        FargateProfile {
            name: name.to_owned(),
            selectors,
            zones: Vec::new(),
        }
    }

    /// Whether a pod in `namespace` with `labels` matches any selector of this profile.
    pub fn matches(&self, namespace: &str, labels: &Labels) -> bool {
        self.selectors.iter().any(|s| s.matches(namespace, labels))
    }
}

/// Why a cluster's Fargate profiles break the EKS limits.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FargateError {
    /// More than [`MAX_PROFILES`] profiles.
    #[error("{count} Fargate profiles, more than the {MAX_PROFILES} a cluster may have")]
    TooManyProfiles {
        /// The number of profiles.
        count: usize,
    },
    /// Two profiles share a name.
    #[error("duplicate Fargate profile `{profile}`")]
    DuplicateProfile {
        /// The repeated name.
        profile: String,
    },
    /// A profile has no selector (EKS requires at least one).
    #[error("Fargate profile `{profile}` has no selector")]
    NoSelectors {
        /// The profile.
        profile: String,
    },
    /// A profile has more than [`MAX_SELECTORS`] selectors.
    #[error("Fargate profile `{profile}` has {count} selectors, more than {MAX_SELECTORS}")]
    TooManySelectors {
        /// The profile.
        profile: String,
        /// The number of selectors.
        count: usize,
    },
    /// A selector has more than [`MAX_SELECTOR_LABELS`] labels.
    #[error(
        "Fargate profile `{profile}` selector {selector} has {count} labels, more than {MAX_SELECTOR_LABELS}"
    )]
    TooManyLabels {
        /// The profile.
        profile: String,
        /// The selector's zero-based index in the profile.
        selector: usize,
        /// The number of labels.
        count: usize,
    },
}

/// Checks a cluster's profiles against the EKS limits: at most [`MAX_PROFILES`] profiles with
/// distinct names, each with 1 to [`MAX_SELECTORS`] selectors of at most
/// [`MAX_SELECTOR_LABELS`] labels. Reports the first breach, in profile order.
pub fn validate_profiles(profiles: &[FargateProfile]) -> Result<(), FargateError> {
    if profiles.len() > MAX_PROFILES {
        return Err(FargateError::TooManyProfiles {
            count: profiles.len(),
        });
    }
    for (i, p) in profiles.iter().enumerate() {
        if profiles[..i].iter().any(|q| q.name == p.name) {
            return Err(FargateError::DuplicateProfile {
                profile: p.name.clone(),
            });
        }
        if p.selectors.is_empty() {
            return Err(FargateError::NoSelectors {
                profile: p.name.clone(),
            });
        }
        if p.selectors.len() > MAX_SELECTORS {
            return Err(FargateError::TooManySelectors {
                profile: p.name.clone(),
                count: p.selectors.len(),
            });
        }
        for (selector, s) in p.selectors.iter().enumerate() {
            if s.labels.len() > MAX_SELECTOR_LABELS {
                return Err(FargateError::TooManyLabels {
                    profile: p.name.clone(),
                    selector,
                    count: s.labels.len(),
                });
            }
        }
    }
    Ok(())
}

/// The Fargate profile that takes a pod in `namespace` with `labels`.
///
/// With the [`PROFILE_LABEL`] label, the named profile if it exists and matches the pod, and
/// otherwise [`FargateRefusal::PinnedProfileMissing`] or
/// [`FargateRefusal::PinnedProfileMismatch`]. Without it, the matching profile first in
/// byte-wise ascending name order, or [`FargateRefusal::NoMatchingProfile`].
pub fn select_profile<'a, I>(
    profiles: I,
    namespace: &str,
    labels: &Labels,
) -> Result<&'a FargateProfile, FargateRefusal>
where
    I: IntoIterator<Item = &'a FargateProfile>,
    I::IntoIter: Clone,
{
    let profiles = profiles.into_iter();
    if let Some(pinned) = labels.get(PROFILE_LABEL) {
        let profile = profiles.clone().find(|p| &p.name == pinned).ok_or_else(|| {
            FargateRefusal::PinnedProfileMissing {
                profile: pinned.clone(),
            }
        })?;
        return if profile.matches(namespace, labels) {
            Ok(profile)
        } else {
            Err(FargateRefusal::PinnedProfileMismatch {
                profile: pinned.clone(),
            })
        };
    }
    profiles
        .filter(|p| p.matches(namespace, labels))
        .min_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()))
        .ok_or(FargateRefusal::NoMatchingProfile)
}

/// The Fargate size a pod gets, and what it asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FargateSize {
    /// The vCPU of the chosen combination, in millicores.
    pub cpu_millis: i64,
    /// The memory of the chosen combination, in bytes.
    pub memory_bytes: i64,
    /// The pod's effective CPU request, in millicores.
    pub requested_cpu_millis: i64,
    /// The pod's effective memory request, in bytes, without the Fargate overhead.
    pub requested_memory_bytes: i64,
}

impl FargateSize {
    /// The memory Fargate must provide: the request plus [`MEMORY_OVERHEAD_BYTES`].
    pub fn memory_needed_bytes(&self) -> i64 {
        self.requested_memory_bytes.saturating_add(MEMORY_OVERHEAD_BYTES)
    }

    /// The CPU added by rounding up to a valid combination, in millicores.
    pub fn cpu_waste_millis(&self) -> i64 {
        self.cpu_millis - self.requested_cpu_millis
    }

    /// The memory added by rounding up to a valid combination, in bytes; the fixed
    /// [`MEMORY_OVERHEAD_BYTES`] is not counted as waste.
    pub fn memory_waste_bytes(&self) -> i64 {
        self.memory_bytes - self.memory_needed_bytes()
    }
}

/// The Fargate size for a pod's effective `requests` (canonical units; resources other than
/// CPU and memory are ignored, negative amounts count as zero), or
/// [`FargateRefusal::TooLarge`] when no combination is big enough.
pub fn fargate_size(requests: &Resources) -> Result<FargateSize, FargateRefusal> {
    let cpu = requests.get(ResourceName::CPU).max(0);
    let memory = requests.get(ResourceName::MEMORY).max(0);
    let need = memory.saturating_add(MEMORY_OVERHEAD_BYTES);
    TIERS
        .iter()
        .filter(|t| t.cpu_millis >= cpu)
        .find_map(|t| t.round_up(need).map(|m| (t.cpu_millis, m)))
        .map(|(cpu_millis, memory_bytes)| FargateSize {
            cpu_millis,
            memory_bytes,
            requested_cpu_millis: cpu,
            requested_memory_bytes: memory,
        })
        .ok_or(FargateRefusal::TooLarge {
            cpu_millis: cpu,
            memory_bytes: memory,
        })
}

/// The Fargate size for a pod template, from [`PodTemplate::effective_requests`].
pub fn fargate_size_for(pod: &PodTemplate) -> Result<FargateSize, FargateRefusal> {
    fargate_size(&pod.effective_requests())
}

/// What the Fargate rules need to know about a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodFacts {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's labels.
    pub labels: Labels,
    /// The pod belongs to a DaemonSet.
    pub is_daemonset: bool,
    /// Some container runs privileged.
    pub privileged: bool,
    /// The pod uses the host network.
    pub host_network: bool,
    /// The host ports its containers ask for.
    pub host_ports: Vec<u16>,
    /// The pod mounts an EBS volume.
    pub ebs_volume: bool,
    /// The pod's `nodeSelector`.
    pub node_selector: Labels,
    /// The pod's effective requests, in canonical units.
    pub requests: Resources,
}

impl PodFacts {
    /// The facts a [`PodTemplate`] holds for a pod in `namespace`; a template is never a
    /// DaemonSet's (fleetplan plans Deployments and Jobs).
    pub fn from_template(namespace: &str, pod: &PodTemplate) -> Self {
        let needs = &pod.host_needs;
        PodFacts {
            namespace: namespace.to_owned(),
            labels: pod.labels.clone(),
            is_daemonset: false,
            privileged: needs.privileged,
            host_network: needs.host_network,
            host_ports: needs.host_ports.clone(),
            ebs_volume: needs.ebs_volume,
            node_selector: pod.node_selector.clone(),
            requests: pod.effective_requests(),
        }
    }
}

/// Why a pod cannot run on Fargate.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq, Hash)]
pub enum FargateRefusal {
    /// DaemonSet pods do not run on Fargate.
    #[error("DaemonSet pods cannot run on Fargate")]
    DaemonSet,
    /// Privileged containers do not run on Fargate.
    #[error("privileged containers cannot run on Fargate")]
    Privileged,
    /// `hostNetwork` pods do not run on Fargate.
    #[error("pods using the host network cannot run on Fargate")]
    HostNetwork,
    /// Host ports are not available on Fargate.
    #[error("host port {port} is not available on Fargate")]
    HostPort {
        /// The first host port asked for.
        port: u16,
    },
    /// Fargate has no GPUs or other accelerators (no extended resources at all).
    #[error("Fargate has no {resource}: GPUs and other accelerators are not available")]
    Accelerator {
        /// The extended resource requested, such as `nvidia.com/gpu`.
        resource: String,
    },
    /// Fargate on EKS runs Linux on x86-64 only.
    #[error("Fargate has no Arm nodes (node selector `{key}: {value}`)")]
    ArmNodeSelector {
        /// The node selector key.
        key: String,
        /// The node selector value.
        value: String,
    },
    /// Fargate on EKS runs no Windows pods.
    #[error("Fargate has no Windows nodes (node selector `{key}: {value}`)")]
    WindowsNodeSelector {
        /// The node selector key.
        key: String,
        /// The node selector value.
        value: String,
    },
    /// EBS volumes cannot be mounted on Fargate.
    #[error("EBS volumes cannot be mounted on Fargate")]
    EbsVolume,
    /// The pod needs more than the largest Fargate size.
    #[error(
        "requests of {} CPU and {} memory (plus 256Mi overhead) exceed the largest Fargate size, 16 vCPU and 120Gi",
        format_amount(ResourceName::CPU, *cpu_millis),
        format_amount(ResourceName::MEMORY, *memory_bytes)
    )]
    TooLarge {
        /// The CPU requested, in millicores.
        cpu_millis: i64,
        /// The memory requested, in bytes, without the overhead.
        memory_bytes: i64,
    },
    /// No Fargate profile matches the pod's namespace and labels.
    #[error("no Fargate profile matches the pod's namespace and labels")]
    NoMatchingProfile,
    /// The pod pins a profile the cluster does not have.
    #[error("the pod pins Fargate profile `{profile}`, which does not exist")]
    PinnedProfileMissing {
        /// The pinned profile name.
        profile: String,
    },
    /// The pod pins a profile whose selectors do not match it.
    #[error("the pod pins Fargate profile `{profile}`, which does not match its namespace and labels")]
    PinnedProfileMismatch {
        /// The pinned profile name.
        profile: String,
    },
}

/// Whether `resource` is an extended resource: a domain-prefixed name outside `kubernetes.io`,
/// such as `nvidia.com/gpu`, `aws.amazon.com/neuron` or `amd.com/gpu`.
fn is_extended(resource: &str) -> bool {
    resource.contains('/') && !resource.starts_with("kubernetes.io/")
}

/// Why the pod itself cannot run on Fargate, whatever the profiles, or `None` if it can: the
/// first of DaemonSet, privileged, host network, host port, accelerator (any extended resource
/// requested), Arm or Windows node selector (`kubernetes.io/arch: arm64`,
/// `kubernetes.io/os: windows`, or their `beta.` forms), EBS volume, and too large. Profile
/// matching is [`select_profile`]'s job.
pub fn fargate_refusal(facts: &PodFacts) -> Option<FargateRefusal> {
    if facts.is_daemonset {
        return Some(FargateRefusal::DaemonSet);
    }
    if facts.privileged {
        return Some(FargateRefusal::Privileged);
    }
    if facts.host_network {
        return Some(FargateRefusal::HostNetwork);
    }
    if let Some(&port) = facts.host_ports.first() {
        return Some(FargateRefusal::HostPort { port });
    }
    if let Some((resource, _)) = facts
        .requests
        .iter()
        .find(|(r, amount)| *amount > 0 && is_extended(r.as_str()))
    {
        return Some(FargateRefusal::Accelerator {
            resource: resource.as_str().to_owned(),
        });
    }
    for (key, value) in &facts.node_selector {
        let (key, value) = (key.clone(), value.clone());
        match (key.trim_start_matches("beta."), value.as_str()) {
            ("kubernetes.io/arch", "arm64") => return Some(FargateRefusal::ArmNodeSelector { key, value }),
            ("kubernetes.io/os", "windows") => {
                return Some(FargateRefusal::WindowsNodeSelector { key, value });
            }
            _ => {}
        }
    }
    if facts.ebs_volume {
        return Some(FargateRefusal::EbsVolume);
    }
    fargate_size(&facts.requests).err()
}

/// Where and how big a pod runs on Fargate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FargatePlacement<'a> {
    /// The profile that takes the pod.
    pub profile: &'a FargateProfile,
    /// The size Fargate gives it.
    pub size: FargateSize,
}

/// Decides a pod's fate on a cluster's Fargate profiles as EKS does: first the profile that
/// takes it ([`select_profile`]; a pod no profile takes runs on nodes, whatever it needs),
/// then whether Fargate can run it ([`fargate_refusal`]; if not, the pod stays pending).
pub fn fargate_placement<'a, I>(facts: &PodFacts, profiles: I) -> Result<FargatePlacement<'a>, FargateRefusal>
where
    I: IntoIterator<Item = &'a FargateProfile>,
    I::IntoIter: Clone,
{
    let profile = select_profile(profiles, &facts.namespace, &facts.labels)?;
    if let Some(refusal) = fargate_refusal(facts) {
        return Err(refusal);
    }
    let size = fargate_size(&facts.requests)?;
    Ok(FargatePlacement { profile, size })
}

/// The Fargate vCPU quota an account has in a region when the fleet does not say:
/// 6 vCPUs, the AWS default value of the Service Quotas quota "Fargate On-Demand vCPU
/// resource count" (`L-3032A538`). Most accounts have a higher applied value; set yours with
/// [`FargateSettings::quotas`].
pub const DEFAULT_QUOTA_VCPUS: u32 = 6;

/// Fargate's concurrent vCPU quota for one AWS account in one region, shared by every
/// cluster of that account in that region.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FargateQuota {
    /// The AWS account; `None` is the account of clusters that name none.
    #[serde(default)]
    pub account: Option<String>,
    /// The region.
    pub region: String,
    /// vCPUs available to the fleet's Fargate pods: the quota less any Fargate use outside
    /// the fleet.
    pub vcpus: u32,
}

/// What Fargate charges per hour in one region: per vCPU and per GiB of memory provisioned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FargateRates {
    /// Price of one vCPU for one hour.
    pub vcpu_hour: HourlyPrice,
    /// Price of one GiB of memory for one hour.
    pub gb_hour: HourlyPrice,
}

/// Default Fargate rates (Linux on x86-64, on demand, USD) by region: `(region, per
/// vCPU-hour, per GB-hour)`, as AWS published them in 2026. Regions not listed use
/// `us-east-1`'s. Override them with [`FargateSettings::rates`] for other regions, other
/// currencies or negotiated prices.
pub const DEFAULT_RATES: [(&str, f64, f64); 9] = [
    ("us-east-1", 0.04048, 0.004445),
    ("us-east-2", 0.04048, 0.004445),
    ("us-west-2", 0.04048, 0.004445),
    ("eu-west-1", 0.04048, 0.004445),
    ("us-west-1", 0.04656, 0.00511),
    ("eu-central-1", 0.04656, 0.00511),
    ("eu-west-2", 0.04656, 0.00511),
    ("ap-northeast-1", 0.05056, 0.00553),
    ("ap-southeast-1", 0.05056, 0.00553),
];

/// Fleet-wide Fargate settings: vCPU quotas per account and region, and prices per region.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FargateSettings {
    /// The quota of an account and region not listed in `quotas`.
    #[serde(default = "default_quota")]
    pub default_quota_vcpus: u32,
    /// Quotas per account and region.
    #[serde(default)]
    pub quotas: Vec<FargateQuota>,
    /// Rates per region, replacing [`DEFAULT_RATES`] for the regions listed.
    #[serde(default)]
    pub rates: std::collections::BTreeMap<String, FargateRates>,
}

fn default_quota() -> u32 {
    DEFAULT_QUOTA_VCPUS
}

impl Default for FargateSettings {
    fn default() -> Self {
        FargateSettings {
            default_quota_vcpus: DEFAULT_QUOTA_VCPUS,
            quotas: Vec::new(),
            rates: std::collections::BTreeMap::new(),
        }
    }
}

impl FargateSettings {
    /// The vCPUs Fargate pods of `account` may use in `region`.
    pub fn quota_vcpus(&self, account: Option<&str>, region: &str) -> u32 {
        self.quotas
            .iter()
            .find(|q| q.account.as_deref() == account && q.region == region)
            .map_or(self.default_quota_vcpus, |q| q.vcpus)
    }

    /// The rates of `region`: its own, else the default table's, else `us-east-1`'s.
    pub fn rates(&self, region: &str) -> FargateRates {
        if let Some(rates) = self.rates.get(region) {
            return *rates;
        }
        let (_, vcpu, gb) = DEFAULT_RATES
            .iter()
            .find(|(r, _, _)| *r == region)
            .unwrap_or(&DEFAULT_RATES[0]);
        FargateRates {
            vcpu_hour: HourlyPrice::from_units(*vcpu).unwrap_or_default(),
            gb_hour: HourlyPrice::from_units(*gb).unwrap_or_default(),
        }
    }
}

impl FargateSize {
    /// What one pod of this size costs per hour at `rates`, to the nearest millionth.
    pub fn price(&self, rates: FargateRates) -> HourlyPrice {
        let micro = u128::from(rates.vcpu_hour.0) * self.cpu_millis.max(0) as u128 * (1 << 30)
            + u128::from(rates.gb_hour.0) * self.memory_bytes.max(0) as u128 * 1000;
        let denominator: u128 = 1000 * (1 << 30);
        HourlyPrice(u64::try_from((micro + denominator / 2) / denominator).unwrap_or(u64::MAX))
    }
}

/// Millicores as a vCPU count with no trailing zeros: `250` is `0.25`, `6000` is `6`.
pub fn format_vcpus(millis: i64) -> String {
    let text = format!("{}.{:03}", millis / 1000, (millis % 1000).abs());
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

impl fmt::Display for FargateSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vCPU, {} memory",
            format_amount(ResourceName::CPU, self.cpu_millis),
            format_amount(ResourceName::MEMORY, self.memory_bytes)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Container;

    const GIB: i64 = 1 << 30;

    fn size(cpu_millis: i64, memory_bytes: i64) -> (i64, i64) {
        let s = fargate_size(
            &Resources::new()
                .with("cpu", cpu_millis)
                .with("memory", memory_bytes),
        )
        .unwrap();
        (s.cpu_millis, s.memory_bytes)
    }

    /// The memory request whose need (with the overhead) is exactly `bytes`.
    fn fits(bytes: i64) -> i64 {
        bytes - MEMORY_OVERHEAD_BYTES
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    #[test]
    fn combinations_follow_the_table() {
        let all = fargate_combinations();
        let tier = |cpu: i64| -> Vec<i64> {
            all.iter()
                .filter(|c| c.0 == cpu)
                .map(|c| c.1 / MIB)
                .collect::<Vec<_>>()
        };
        assert_eq!(tier(250), [512, 1024, 2048]);
        assert_eq!(tier(500), [1024, 2048, 3072, 4096]);
        assert_eq!(tier(1000), (2..=8).map(|g| g * 1024).collect::<Vec<_>>());
        assert_eq!(tier(2000), (4..=16).map(|g| g * 1024).collect::<Vec<_>>());
        assert_eq!(tier(4000), (8..=30).map(|g| g * 1024).collect::<Vec<_>>());
        assert_eq!(
            tier(8000),
            (16..=60).step_by(4).map(|g| g * 1024).collect::<Vec<_>>()
        );
        assert_eq!(
            tier(16000),
            (32..=120).step_by(8).map(|g| g * 1024).collect::<Vec<_>>()
        );
        assert_eq!(all.len(), 3 + 4 + 7 + 13 + 23 + 12 + 12);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn every_combination_is_its_own_size() {
        for (cpu, mem) in fargate_combinations() {
            assert_eq!(size(cpu, fits(mem)), (cpu, mem));
        }
    }

    #[test]
    fn quarter_vcpu_tier() {
        assert_eq!(size(250, fits(512 * MIB)), (250, 512 * MIB));
        assert_eq!(size(250, fits(512 * MIB) + 1), (250, GIB));
        assert_eq!(size(250, fits(GIB) + 1), (250, 2 * GIB));
        assert_eq!(size(250, fits(2 * GIB)), (250, 2 * GIB));
        // 1.5 GiB is not an option: the next one is 2 GiB.
        assert_eq!(size(100, fits(1536 * MIB)), (250, 2 * GIB));
        // Above 2 GiB the next vCPU tier takes it.
        assert_eq!(size(250, fits(2 * GIB) + 1), (500, 3 * GIB));
    }

    #[test]
    fn half_vcpu_tier() {
        assert_eq!(size(251, 0), (500, GIB));
        assert_eq!(size(500, fits(GIB)), (500, GIB));
        assert_eq!(size(500, fits(GIB) + 1), (500, 2 * GIB));
        assert_eq!(size(500, fits(3 * GIB) + 1), (500, 4 * GIB));
        assert_eq!(size(500, fits(4 * GIB)), (500, 4 * GIB));
        assert_eq!(size(500, fits(4 * GIB) + 1), (1000, 5 * GIB));
    }

    #[test]
    fn one_vcpu_tier() {
        assert_eq!(size(501, 0), (1000, 2 * GIB));
        assert_eq!(size(1000, fits(2 * GIB)), (1000, 2 * GIB));
        assert_eq!(size(1000, fits(2 * GIB) + 1), (1000, 3 * GIB));
        assert_eq!(size(1000, fits(8 * GIB)), (1000, 8 * GIB));
        assert_eq!(size(1000, fits(8 * GIB) + 1), (2000, 9 * GIB));
    }

    #[test]
    fn documented_example_one_vcpu_eight_gib_becomes_two_vcpu_nine_gib() {
        let s = fargate_size(&Resources::new().with("cpu", 1000).with("memory", 8 * GIB)).unwrap();
        assert_eq!((s.cpu_millis, s.memory_bytes), (2000, 9 * GIB));
        assert_eq!(
            (s.requested_cpu_millis, s.requested_memory_bytes),
            (1000, 8 * GIB)
        );
        assert_eq!(s.cpu_waste_millis(), 1000);
        assert_eq!(s.memory_waste_bytes(), 768 * MIB);
        assert_eq!(s.to_string(), "2 vCPU, 9Gi memory");
    }

    #[test]
    fn two_vcpu_tier() {
        assert_eq!(size(1001, 0), (2000, 4 * GIB));
        assert_eq!(size(2000, fits(4 * GIB)), (2000, 4 * GIB));
        assert_eq!(size(2000, fits(10 * GIB) + 1), (2000, 11 * GIB));
        assert_eq!(size(2000, fits(16 * GIB)), (2000, 16 * GIB));
        assert_eq!(size(2000, fits(16 * GIB) + 1), (4000, 17 * GIB));
    }

    #[test]
    fn four_vcpu_tier() {
        assert_eq!(size(2001, 0), (4000, 8 * GIB));
        assert_eq!(size(4000, fits(8 * GIB)), (4000, 8 * GIB));
        assert_eq!(size(4000, fits(20 * GIB) + 1), (4000, 21 * GIB));
        assert_eq!(size(4000, fits(30 * GIB)), (4000, 30 * GIB));
        assert_eq!(size(4000, fits(30 * GIB) + 1), (8000, 32 * GIB));
    }

    #[test]
    fn eight_vcpu_tier_steps_by_four() {
        assert_eq!(size(4001, 0), (8000, 16 * GIB));
        assert_eq!(size(8000, fits(16 * GIB)), (8000, 16 * GIB));
        assert_eq!(size(8000, fits(16 * GIB) + 1), (8000, 20 * GIB));
        assert_eq!(size(8000, fits(57 * GIB)), (8000, 60 * GIB));
        assert_eq!(size(8000, fits(60 * GIB)), (8000, 60 * GIB));
        assert_eq!(size(8000, fits(60 * GIB) + 1), (16000, 64 * GIB));
    }

    #[test]
    fn sixteen_vcpu_tier_steps_by_eight() {
        assert_eq!(size(8001, 0), (16000, 32 * GIB));
        assert_eq!(size(16000, fits(32 * GIB)), (16000, 32 * GIB));
        assert_eq!(size(16000, fits(32 * GIB) + 1), (16000, 40 * GIB));
        assert_eq!(size(16000, fits(100 * GIB)), (16000, 104 * GIB));
        assert_eq!(size(16000, fits(120 * GIB)), (16000, 120 * GIB));
    }

    #[test]
    fn no_requests_get_the_smallest_size() {
        let s = fargate_size(&Resources::new()).unwrap();
        assert_eq!((s.cpu_millis, s.memory_bytes), (250, 512 * MIB));
        assert_eq!((s.requested_cpu_millis, s.requested_memory_bytes), (0, 0));
        assert_eq!((s.cpu_waste_millis(), s.memory_waste_bytes()), (250, 256 * MIB));
        let s = fargate_size_for(&PodTemplate::default()).unwrap();
        assert_eq!((s.cpu_millis, s.memory_bytes), (250, 512 * MIB));
    }

    #[test]
    fn init_containers_larger_than_the_app_sum_set_the_size() {
        let container = |name: &str, cpu: i64, mem: i64| Container {
            name: name.into(),
            requests: Resources::new().with("cpu", cpu).with("memory", mem),
            sidecar: false,
        };
        let pod = PodTemplate {
            containers: vec![container("a", 250, GIB), container("b", 250, GIB)],
            init_containers: vec![container("migrate", 1500, GIB)],
            ..PodTemplate::default()
        };
        let s = fargate_size_for(&pod).unwrap();
        // cpu max(1500, 500) = 1500m; memory max(1Gi, 2Gi) + 256Mi = 2.25Gi.
        assert_eq!(
            (s.requested_cpu_millis, s.requested_memory_bytes),
            (1500, 2 * GIB)
        );
        assert_eq!((s.cpu_millis, s.memory_bytes), (2000, 4 * GIB));
    }

    #[test]
    fn too_large_is_refused() {
        let r = Resources::new()
            .with("cpu", 16000)
            .with("memory", fits(120 * GIB) + 1);
        assert!(matches!(fargate_size(&r), Err(FargateRefusal::TooLarge { .. })));
        let r = Resources::new().with("cpu", 16001);
        assert_eq!(
            fargate_size(&r),
            Err(FargateRefusal::TooLarge {
                cpu_millis: 16001,
                memory_bytes: 0
            })
        );
        let r = Resources::new().with("memory", i64::MAX);
        assert!(fargate_size(&r).is_err());
        let facts = PodFacts {
            requests: Resources::new().with("cpu", 32000),
            ..PodFacts::default()
        };
        assert!(matches!(
            fargate_refusal(&facts),
            Some(FargateRefusal::TooLarge { .. })
        ));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("prod-*", "prod-"));
        assert!(wildcard_match("prod-*", "prod-eu-1"));
        assert!(!wildcard_match("prod-*", "staging"));
        assert!(wildcard_match("team-?", "team-a"));
        assert!(!wildcard_match("team-?", "team-"));
        assert!(!wildcard_match("team-?", "team-ab"));
        assert!(wildcard_match("*a*b?", "xxaxxbz"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("", "a"));
        assert!(wildcard_match("exact", "exact"));
        assert!(!wildcard_match("exact", "exactly"));
    }

    #[test]
    fn wildcards_in_namespace_and_labels() {
        let s = FargateSelector::new("prod-*").with_label("app.kubernetes.io/*", "web-?");
        assert!(s.matches("prod-eu", &labels(&[("app.kubernetes.io/name", "web-1")])));
        assert!(!s.matches("dev", &labels(&[("app.kubernetes.io/name", "web-1")])));
        assert!(!s.matches("prod-eu", &labels(&[("app.kubernetes.io/name", "web-12")])));
        assert!(!s.matches("prod-eu", &labels(&[("app", "web-1")])));
        let s = FargateSelector::new("team-?");
        assert!(s.matches("team-a", &Labels::new()));
        assert!(!s.matches("team-ab", &Labels::new()));
    }

    #[test]
    fn a_selector_needs_all_its_labels() {
        let s = FargateSelector::new("shop")
            .with_label("app", "web")
            .with_label("tier", "front");
        assert!(s.matches(
            "shop",
            &labels(&[("app", "web"), ("tier", "front"), ("extra", "x")])
        ));
        assert!(!s.matches("shop", &labels(&[("app", "web")])));
        assert!(!s.matches("shop", &labels(&[("app", "web"), ("tier", "back")])));
    }

    #[test]
    fn a_profile_matches_on_any_selector() {
        let p = FargateProfile::new("p", vec![FargateSelector::new("a"), FargateSelector::new("b")]);
        assert!(p.matches("b", &Labels::new()));
        assert!(!p.matches("c", &Labels::new()));
    }

    #[test]
    fn the_first_profile_by_name_wins() {
        let profiles = vec![
            FargateProfile::new("web", vec![FargateSelector::new("shop")]),
            FargateProfile::new("Zeta", vec![FargateSelector::new("other")]),
            FargateProfile::new("default", vec![FargateSelector::new("*")]),
            FargateProfile::new("Shop", vec![FargateSelector::new("sho?")]),
        ];
        // Byte-wise: upper case sorts before lower case.
        assert_eq!(
            select_profile(&profiles, "shop", &Labels::new()).unwrap().name,
            "Shop"
        );
        assert_eq!(
            select_profile(&profiles, "misc", &Labels::new()).unwrap().name,
            "default"
        );
        assert_eq!(
            select_profile(&profiles, "other", &Labels::new()).unwrap().name,
            "Zeta"
        );
        assert_eq!(
            select_profile(&profiles[..1], "misc", &Labels::new()),
            Err(FargateRefusal::NoMatchingProfile)
        );
    }

    #[test]
    fn pinning_uses_the_named_profile_only_if_it_exists_and_matches() {
        let profiles = vec![
            FargateProfile::new("a", vec![FargateSelector::new("*")]),
            FargateProfile::new("b", vec![FargateSelector::new("shop")]),
        ];
        let pin = |name: &str| labels(&[(PROFILE_LABEL, name)]);
        assert_eq!(select_profile(&profiles, "shop", &pin("b")).unwrap().name, "b");
        assert_eq!(
            select_profile(&profiles, "shop", &pin("c")),
            Err(FargateRefusal::PinnedProfileMissing { profile: "c".into() })
        );
        assert_eq!(
            select_profile(&profiles, "misc", &pin("b")),
            Err(FargateRefusal::PinnedProfileMismatch { profile: "b".into() })
        );
    }

    #[test]
    fn placement_combines_refusal_profile_and_size() {
        let profiles = vec![FargateProfile::new("p", vec![FargateSelector::new("shop")])];
        let mut facts = PodFacts::from_template("shop", &PodTemplate::default());
        let placed = fargate_placement(&facts, &profiles).unwrap();
        assert_eq!((placed.profile.name.as_str(), placed.size.cpu_millis), ("p", 250));
        facts.is_daemonset = true;
        assert_eq!(
            fargate_placement(&facts, &profiles),
            Err(FargateRefusal::DaemonSet)
        );
        // A pod no profile takes runs on nodes: its Fargate refusals do not matter.
        facts.namespace = "misc".into();
        assert_eq!(
            fargate_placement(&facts, &profiles),
            Err(FargateRefusal::NoMatchingProfile)
        );
    }

    #[test]
    fn every_refusal_has_a_reason_and_a_message() {
        let base = PodFacts::default;
        let refuse = |facts: PodFacts| fargate_refusal(&facts).map(|r| r.to_string());
        assert_eq!(fargate_refusal(&base()), None);
        assert_eq!(
            refuse(PodFacts {
                is_daemonset: true,
                ..base()
            })
            .unwrap(),
            "DaemonSet pods cannot run on Fargate"
        );
        assert_eq!(
            refuse(PodFacts {
                privileged: true,
                ..base()
            })
            .unwrap(),
            "privileged containers cannot run on Fargate"
        );
        assert_eq!(
            refuse(PodFacts {
                host_network: true,
                ..base()
            })
            .unwrap(),
            "pods using the host network cannot run on Fargate"
        );
        assert_eq!(
            refuse(PodFacts {
                host_ports: vec![8080],
                ..base()
            })
            .unwrap(),
            "host port 8080 is not available on Fargate"
        );
        for gpu in [
            "nvidia.com/gpu",
            "aws.amazon.com/neuroncore",
            "amd.com/gpu",
            "example.com/fpga",
        ] {
            assert_eq!(
                refuse(PodFacts {
                    requests: Resources::new().with(gpu, 1),
                    ..base()
                })
                .unwrap(),
                format!("Fargate has no {gpu}: GPUs and other accelerators are not available")
            );
        }
        // Native resources are not accelerators.
        let native = Resources::new()
            .with("ephemeral-storage", GIB)
            .with("pods", 1)
            .with("nvidia.com/gpu", 0);
        assert_eq!(
            refuse(PodFacts {
                requests: native,
                ..base()
            }),
            None
        );
        assert_eq!(
            refuse(PodFacts {
                node_selector: labels(&[("kubernetes.io/arch", "arm64")]),
                ..base()
            })
            .unwrap(),
            "Fargate has no Arm nodes (node selector `kubernetes.io/arch: arm64`)"
        );
        assert_eq!(
            refuse(PodFacts {
                node_selector: labels(&[("beta.kubernetes.io/arch", "arm64")]),
                ..base()
            })
            .unwrap(),
            "Fargate has no Arm nodes (node selector `beta.kubernetes.io/arch: arm64`)"
        );
        assert_eq!(
            refuse(PodFacts {
                node_selector: labels(&[("kubernetes.io/os", "windows")]),
                ..base()
            })
            .unwrap(),
            "Fargate has no Windows nodes (node selector `kubernetes.io/os: windows`)"
        );
        let linux = labels(&[("kubernetes.io/arch", "amd64"), ("kubernetes.io/os", "linux")]);
        assert_eq!(
            refuse(PodFacts {
                node_selector: linux,
                ..base()
            }),
            None
        );
        assert_eq!(
            refuse(PodFacts {
                ebs_volume: true,
                ..base()
            })
            .unwrap(),
            "EBS volumes cannot be mounted on Fargate"
        );
        assert_eq!(
            refuse(PodFacts {
                requests: Resources::new().with("cpu", 16500).with("memory", 4 * GIB),
                ..base()
            })
            .unwrap(),
            "requests of 16500m CPU and 4Gi memory (plus 256Mi overhead) exceed the largest Fargate size, \
             16 vCPU and 120Gi"
        );
        assert_eq!(
            FargateRefusal::NoMatchingProfile.to_string(),
            "no Fargate profile matches the pod's namespace and labels"
        );
        assert_eq!(
            FargateRefusal::PinnedProfileMissing {
                profile: "gone".into()
            }
            .to_string(),
            "the pod pins Fargate profile `gone`, which does not exist"
        );
        assert_eq!(
            FargateRefusal::PinnedProfileMismatch { profile: "b".into() }.to_string(),
            "the pod pins Fargate profile `b`, which does not match its namespace and labels"
        );
    }

    #[test]
    fn validation_enforces_the_eks_limits() {
        let profile = |name: &str, selectors: usize, labels: usize| {
            let selector = (0..labels).fold(FargateSelector::new("ns"), |s, i| {
                s.with_label(&format!("k{i}"), "v")
            });
            FargateProfile::new(name, vec![selector; selectors])
        };
        let ten: Vec<_> = (0..10).map(|i| profile(&format!("p{i}"), 5, 5)).collect();
        assert_eq!(validate_profiles(&ten), Ok(()));
        assert_eq!(validate_profiles(&[]), Ok(()));

        let mut eleven = ten.clone();
        eleven.push(profile("p10", 1, 0));
        let err = validate_profiles(&eleven).unwrap_err();
        assert_eq!(err, FargateError::TooManyProfiles { count: 11 });
        assert_eq!(
            err.to_string(),
            "11 Fargate profiles, more than the 10 a cluster may have"
        );

        let err = validate_profiles(&[profile("big", 6, 0)]).unwrap_err();
        assert_eq!(
            err,
            FargateError::TooManySelectors {
                profile: "big".into(),
                count: 6
            }
        );
        assert_eq!(
            err.to_string(),
            "Fargate profile `big` has 6 selectors, more than 5"
        );

        let mut p = profile("wide", 2, 1);
        p.selectors[1] = (0..6).fold(FargateSelector::new("ns"), |s, i| {
            s.with_label(&format!("k{i}"), "v")
        });
        let err = validate_profiles(&[p]).unwrap_err();
        assert_eq!(
            err,
            FargateError::TooManyLabels {
                profile: "wide".into(),
                selector: 1,
                count: 6
            }
        );
        assert_eq!(
            err.to_string(),
            "Fargate profile `wide` selector 1 has 6 labels, more than 5"
        );

        let err = validate_profiles(&[profile("empty", 0, 0)]).unwrap_err();
        assert_eq!(err.to_string(), "Fargate profile `empty` has no selector");

        let err = validate_profiles(&[profile("twice", 1, 0), profile("twice", 1, 0)]).unwrap_err();
        assert_eq!(err.to_string(), "duplicate Fargate profile `twice`");
    }

    #[test]
    fn price_is_vcpu_plus_memory_at_the_region_rates() {
        let settings = FargateSettings::default();
        // 0.25 vCPU and 0.5 GiB in us-east-1: 0.25 * 0.04048 + 0.5 * 0.004445 = 0.0123425.
        let small = fargate_size(&Resources::new()).unwrap();
        assert_eq!(small.price(settings.rates("us-east-1")), HourlyPrice(12_343));
        // 2 vCPU and 9 GiB in eu-central-1: 2 * 0.04656 + 9 * 0.00511 = 0.13911.
        let big = fargate_size(&Resources::new().with("cpu", 1000).with("memory", 8 * GIB)).unwrap();
        assert_eq!(big.price(settings.rates("eu-central-1")), HourlyPrice(139_110));
        // Unknown regions use us-east-1's rates; overrides win.
        assert_eq!(settings.rates("mars-north-1"), settings.rates("us-east-1"));
        let mut custom = settings.clone();
        let rates = FargateRates {
            vcpu_hour: HourlyPrice(1_000_000),
            gb_hour: HourlyPrice(0),
        };
        custom.rates.insert("us-east-1".into(), rates);
        assert_eq!(small.price(custom.rates("us-east-1")), HourlyPrice(250_000));
    }

    #[test]
    fn vcpus_print_without_trailing_zeros() {
        assert_eq!(
            [250, 500, 1000, 6000, 1500].map(format_vcpus),
            ["0.25", "0.5", "1", "6", "1.5"]
        );
    }

    #[test]
    fn quotas_are_per_account_and_region_with_a_default() {
        let mut settings = FargateSettings::default();
        settings.quotas.push(FargateQuota {
            account: Some("111".into()),
            region: "us-east-1".into(),
            vcpus: 400,
        });
        assert_eq!(settings.quota_vcpus(Some("111"), "us-east-1"), 400);
        assert_eq!(
            settings.quota_vcpus(Some("111"), "us-west-2"),
            DEFAULT_QUOTA_VCPUS
        );
        assert_eq!(settings.quota_vcpus(None, "us-east-1"), DEFAULT_QUOTA_VCPUS);
    }
}

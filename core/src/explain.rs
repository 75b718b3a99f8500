//! Why a cluster takes no (more) replicas of a workload: reasons as values.
//!
//! A [`Reason`] is structured data with a stable machine-readable [`Reason::code`] and a
//! human message (its `Display`). The planner produces them; the command line and the Python
//! package only render them.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::cluster::{Health, PoolName, Taint, Unavailability, UnavailableNode};
use crate::fargate::{FargateRefusal, format_vcpus};
use crate::resources::{ResourceName, format_amount};
use crate::workload::TopologyKey;

/// Why a cluster took no more replicas of a workload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The cluster is `NotReady` or `Unreachable`.
    ClusterUnhealthy {
        /// Its health.
        health: Health,
    },
    /// The cluster is cordoned: it keeps what it runs and takes nothing new.
    ClusterCordoned,
    /// The cluster is being drained: everything moves out.
    ClusterDraining,
    /// The cluster's labels fail the workload's cluster selector.
    ClusterSelector {
        /// The failing requirement, in selector syntax.
        requirement: String,
    },
    /// A cluster taint is not tolerated.
    ClusterTaint {
        /// The taint.
        taint: Taint,
    },
    /// The cluster's weight for this workload is zero.
    ZeroWeight,
    /// The cluster has no node pool.
    NoPools,
    /// No pool carries a `nodeSelector` pair.
    NodeSelector {
        /// The label key.
        key: String,
        /// The label value wanted.
        value: String,
    },
    /// No pool satisfies the required node affinity.
    NodeAffinity,
    /// A pool taint is not tolerated (reported for the most promising pool).
    PoolTaint {
        /// The pool.
        pool: PoolName,
        /// The taint.
        taint: Taint,
    },
    /// The zone spread constraint needs a zone label that the pools lack.
    NoZoneLabel,
    /// The pools the workload may use have no node that takes new pods.
    NoNodes {
        /// Their nodes that take no new pods (not Ready, cordoned...), in pool order.
        unavailable: Vec<UnavailableNode>,
        /// The cluster's other pools, refused for a taint the workload does not tolerate.
        untolerated: Vec<(PoolName, Taint)>,
    },
    /// No node has enough of a resource left.
    Insufficient {
        /// The resource.
        resource: ResourceName,
        /// What one replica needs.
        needs: i64,
        /// The largest free amount on a node of a feasible pool that is short of it (so
        /// always less than `needs`).
        largest_free: i64,
    },
    /// The per-cluster maximum is reached.
    ClusterMax {
        /// The maximum.
        max: u32,
    },
    /// The per-region maximum is reached.
    RegionMax {
        /// The region.
        region: String,
        /// The maximum.
        max: u32,
    },
    /// Another replica here would break a hard topology spread constraint.
    TopologySpread {
        /// The domain kind.
        key: TopologyKey,
        /// The allowed skew.
        max_skew: u32,
    },
    /// An all-or-nothing workload (a gang) did not fit whole, so none of it is placed.
    Gang {
        /// Replicas that would have fit.
        fit: u32,
        /// The replica target.
        target: u32,
    },
    /// The cluster's Fargate profiles take the pod but Fargate cannot run it, or they do not
    /// take it and the cluster has no node pool for it.
    Fargate {
        /// Why.
        refusal: FargateRefusal,
    },
    /// The Fargate vCPU quota of the cluster's account in its region is used up.
    FargateQuota {
        /// The account (`None`: clusters that name none).
        account: Option<String>,
        /// The region.
        region: String,
        /// The vCPUs one replica is given, in millicores.
        needs_millis: i64,
        /// The quota still free, in millicores.
        free_millis: i64,
        /// The whole quota, in millicores.
        quota_millis: i64,
    },
}

impl Reason {
    /// A stable code for programs: `ClusterUnhealthy`, `Insufficient`, ...
    pub fn code(&self) -> &'static str {
        match self {
            Reason::ClusterUnhealthy { .. } => "ClusterUnhealthy",
            Reason::ClusterCordoned => "ClusterCordoned",
            Reason::ClusterDraining => "ClusterDraining",
            Reason::ClusterSelector { .. } => "ClusterSelector",
            Reason::ClusterTaint { .. } => "ClusterTaint",
            Reason::ZeroWeight => "ZeroWeight",
            Reason::NoPools => "NoPools",
            Reason::NodeSelector { .. } => "NodeSelector",
            Reason::NodeAffinity => "NodeAffinity",
            Reason::PoolTaint { .. } => "PoolTaint",
            Reason::NoZoneLabel => "NoZoneLabel",
            Reason::NoNodes { .. } => "NoNodes",
            Reason::Insufficient { .. } => "Insufficient",
            Reason::ClusterMax { .. } => "ClusterMax",
            Reason::RegionMax { .. } => "RegionMax",
            Reason::TopologySpread { .. } => "TopologySpread",
            Reason::Gang { .. } => "Gang",
            Reason::Fargate { .. } => "Fargate",
            Reason::FargateQuota { .. } => "FargateQuota",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ClusterUnhealthy { health } => write!(f, "cluster {health}"),
            Reason::ClusterCordoned => f.write_str("cluster cordoned: takes no new replicas"),
            Reason::ClusterDraining => f.write_str("cluster draining: replicas move out"),
            Reason::ClusterSelector { requirement } => {
                write!(f, "cluster labels fail selector {requirement}")
            }
            Reason::ClusterTaint { taint } => write!(f, "cluster taint {taint} not tolerated"),
            Reason::ZeroWeight => f.write_str("cluster weight is 0"),
            Reason::NoPools => f.write_str("cluster has no node pool"),
            Reason::NodeSelector { key, value } => {
                write!(f, "node selector {key}={value} matches no node")
            }
            Reason::NodeAffinity => f.write_str("required node affinity matches no node"),
            Reason::PoolTaint { pool, taint } => untolerated(f, pool, taint),
            Reason::NoZoneLabel => {
                f.write_str("zone spread needs topology.kubernetes.io/zone, which no node has")
            }
            Reason::NoNodes {
                unavailable,
                untolerated: taints,
            } => {
                if unavailable.is_empty() {
                    f.write_str("the pools this workload may use have no node")?;
                }
                unavailable_nodes(f, unavailable)?;
                for (pool, taint) in taints {
                    f.write_str("; ")?;
                    untolerated(f, pool, taint)?;
                }
                Ok(())
            }
            Reason::Insufficient {
                resource,
                needs,
                largest_free,
            } => write!(
                f,
                "insufficient {resource}: needs {}, largest free {}",
                format_amount(resource.as_str(), *needs),
                format_amount(resource.as_str(), *largest_free)
            ),
            Reason::ClusterMax { max } => write!(f, "cluster maximum of {max} replicas reached"),
            Reason::RegionMax { region, max } => {
                write!(f, "region {region} maximum of {max} replicas reached")
            }
            Reason::TopologySpread { key, max_skew } => {
                write!(f, "another replica would exceed maxSkew {max_skew} across {key}s")
            }
            Reason::Gang { fit, target } => {
                write!(
                    f,
                    "all-or-nothing gang: only {fit} of {target} replicas fit, so none is placed"
                )
            }
            Reason::Fargate { refusal } => write!(f, "{refusal}"),
            Reason::FargateQuota {
                account,
                region,
                needs_millis,
                free_millis,
                quota_millis,
            } => {
                let cpu = |m: &i64| format_vcpus(*m);
                write!(f, "Fargate vCPU quota of ")?;
                match account {
                    Some(account) => write!(f, "account {account}")?,
                    None => write!(f, "the account")?,
                }
                write!(
                    f,
                    " in {region} used up: a replica needs {} vCPU, {} of {} free",
                    cpu(needs_millis),
                    cpu(free_millis),
                    cpu(quota_millis)
                )
            }
        }
    }
}

/// `taint T on pool P is not tolerated`.
fn untolerated(f: &mut fmt::Formatter<'_>, pool: &PoolName, taint: &Taint) -> fmt::Result {
    write!(f, "taint {taint} on pool {pool} is not tolerated")
}

/// How many node names a reason lists for one state before it only counts the rest.
const LISTED_NODES: usize = 3;

/// The nodes grouped by why they take no new pods, in order of first appearance, separated
/// by `; `: `node a is not Ready; nodes b, c and d are cordoned`.
fn unavailable_nodes(f: &mut fmt::Formatter<'_>, nodes: &[UnavailableNode]) -> fmt::Result {
    let mut states: Vec<(&Unavailability, Vec<&str>)> = Vec::new();
    for node in nodes {
        match states.iter_mut().find(|(why, _)| **why == node.why) {
            Some((_, names)) => names.push(&node.name),
            None => states.push((&node.why, vec![&node.name])),
        }
    }
    for (i, (why, names)) in states.iter().enumerate() {
        if i > 0 {
            f.write_str("; ")?;
        }
        let Some((first, rest)) = names.split_first() else {
            continue;
        };
        if rest.is_empty() {
            write!(f, "node {first} is {why}")?;
            continue;
        }
        let listed = names.len().min(LISTED_NODES);
        let more = names.len() - listed;
        f.write_str("nodes ")?;
        for (j, name) in names.iter().take(listed).enumerate() {
            let separator = match j {
                0 => "",
                _ if j + 1 == listed && more == 0 => " and ",
                _ => ", ",
            };
            write!(f, "{separator}{name}")?;
        }
        if more > 0 {
            write!(f, " and {more} more")?;
        }
        write!(f, " are {why}")?;
    }
    Ok(())
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::TaintEffect;

    #[test]
    fn messages_read_like_the_issue_examples() {
        let cases = [
            (
                Reason::NodeSelector {
                    key: "disktype".into(),
                    value: "ssd".into(),
                },
                "node selector disktype=ssd matches no node",
            ),
            (
                Reason::Insufficient {
                    resource: ResourceName::new("nvidia.com/gpu"),
                    needs: 1,
                    largest_free: 0,
                },
                "insufficient nvidia.com/gpu: needs 1, largest free 0",
            ),
            (
                Reason::PoolTaint {
                    pool: PoolName::from("batch"),
                    taint: dedicated("batch"),
                },
                "taint dedicated=batch:NoSchedule on pool batch is not tolerated",
            ),
            (
                Reason::ClusterUnhealthy {
                    health: Health::NotReady,
                },
                "cluster NotReady",
            ),
            (
                Reason::Insufficient {
                    resource: ResourceName::new("cpu"),
                    needs: 1500,
                    largest_free: 250,
                },
                "insufficient cpu: needs 1500m, largest free 250m",
            ),
            (
                Reason::FargateQuota {
                    account: Some("111122223333".into()),
                    region: "us-east-1".into(),
                    needs_millis: 500,
                    free_millis: 250,
                    quota_millis: 6000,
                },
                "Fargate vCPU quota of account 111122223333 in us-east-1 used up: a replica needs 0.5 vCPU, 0.25 of 6 free",
            ),
            (
                Reason::Fargate {
                    refusal: FargateRefusal::Privileged,
                },
                "privileged containers cannot run on Fargate",
            ),
        ];
        for (reason, message) in cases {
            assert_eq!(reason.to_string(), message);
        }
    }

    fn dedicated(value: &str) -> Taint {
        Taint {
            key: "dedicated".into(),
            value: value.into(),
            effect: TaintEffect::NoSchedule,
        }
    }

    fn nodes(names: &[&str], why: &Unavailability) -> Vec<UnavailableNode> {
        names
            .iter()
            .map(|name| UnavailableNode {
                name: (*name).into(),
                why: why.clone(),
            })
            .collect()
    }

    #[test]
    fn no_nodes_says_which_nodes_take_no_pods_and_which_taints_are_not_tolerated() {
        let no_nodes = |unavailable: Vec<UnavailableNode>, untolerated: &[(&str, Taint)]| {
            Reason::NoNodes {
                unavailable,
                untolerated: untolerated
                    .iter()
                    .map(|(pool, taint)| (PoolName::from(*pool), taint.clone()))
                    .collect(),
            }
            .to_string()
        };
        let pressure = Unavailability::Tainted {
            taint: Taint {
                key: "node.kubernetes.io/disk-pressure".into(),
                value: String::new(),
                effect: TaintEffect::NoSchedule,
            },
        };
        assert_eq!(
            no_nodes(Vec::new(), &[]),
            "the pools this workload may use have no node"
        );
        assert_eq!(
            no_nodes(Vec::new(), &[("gpu", dedicated("gpu"))]),
            "the pools this workload may use have no node; taint dedicated=gpu:NoSchedule on pool gpu is not tolerated"
        );
        let mut unavailable = nodes(&["n1"], &Unavailability::NotReady);
        unavailable.extend(nodes(&["n2"], &Unavailability::Cordoned));
        unavailable.extend(nodes(&["n3"], &pressure));
        assert_eq!(
            no_nodes(
                unavailable,
                &[("gpu", dedicated("gpu")), ("batch", dedicated("batch"))]
            ),
            "node n1 is not Ready; node n2 is cordoned; node n3 is tainted node.kubernetes.io/disk-pressure:NoSchedule; \
             taint dedicated=gpu:NoSchedule on pool gpu is not tolerated; \
             taint dedicated=batch:NoSchedule on pool batch is not tolerated"
        );
        // Nodes in one state are grouped in the order they come, with at most three names.
        let mut unavailable = nodes(&["a", "b"], &Unavailability::Cordoned);
        unavailable.extend(nodes(&["c", "d", "e", "f", "g"], &Unavailability::NotReady));
        unavailable.extend(nodes(&["h"], &Unavailability::Cordoned));
        assert_eq!(
            no_nodes(unavailable, &[]),
            "nodes a, b and h are cordoned; nodes c, d, e and 2 more are not Ready"
        );
        assert_eq!(
            no_nodes(nodes(&["a", "b"], &Unavailability::NotReady), &[]),
            "nodes a and b are not Ready"
        );
    }
}

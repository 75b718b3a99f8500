//! Why a cluster takes no (more) replicas of a workload: reasons as values.
//!
//! A [`Reason`] is structured data with a stable machine-readable [`Reason::code`] and a
//! human message (its `Display`). The planner produces them; the command line and the Python
//! package only render them.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::cluster::{Health, Taint};
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
        /// The taint.
        taint: Taint,
    },
    /// The zone spread constraint needs a zone label that the pools lack.
    NoZoneLabel,
    /// The pools the workload may use have no node at all.
    NoNodes,
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
            Reason::NoNodes => "NoNodes",
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
            Reason::PoolTaint { taint } => write!(f, "taint {taint} not tolerated"),
            Reason::NoZoneLabel => {
                f.write_str("zone spread needs topology.kubernetes.io/zone, which no node has")
            }
            Reason::NoNodes => f.write_str("the pools this workload may use have no node"),
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
                    taint: Taint {
                        key: "dedicated".into(),
                        value: "batch".into(),
                        effect: TaintEffect::NoSchedule,
                    },
                },
                "taint dedicated=batch:NoSchedule not tolerated",
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
}

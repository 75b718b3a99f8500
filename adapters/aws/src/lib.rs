//! # fleetplan-aws: EKS clusters in, fleetplan clusters out
//!
//! This adapter describes AWS EKS clusters in fleetplan's pure model: each EKS cluster becomes a
//! [`fleetplan::Cluster`] in its region and AWS account, each node group a
//! [`fleetplan::NodePool`] of identical nodes ([`node_groups`]) sized from the generated
//! [`instance_types`] table, priced by region ([`prices`]) and labelled as EKS labels its
//! nodes, and each Fargate profile a Fargate pool
//! ([`fleetplan::NodePool::fargate`]) with its selectors. Every cluster carries the EKS
//! control-plane fee ([`CONTROL_PLANE_PRICE_PER_HOUR`]) as its fixed price. Two sources:
//!
//! - [`eksctl`]: eksctl `ClusterConfig` documents, offline ([`read_cluster_config`],
//!   [`cluster_configs_from_documents`]), parsed by the caller (the `fleetplan-kube`
//!   adapter's reader parses YAML under limits that hostile files cannot get around).
//! - [`eks`]: the live EKS API through aws-sdk-eks ([`eks::read_cluster`],
//!   [`eks::read_clusters`]), with instance types newer than the table read from the EC2
//!   API ([`ec2`]).
//!
//! It also writes the global DNS records that send users where the plan says:
//! [`route53`] keeps a hosted zone's latency and weighted records in step with the plan's
//! traffic, owning its records so that other writers are left alone; [`load_balancers`]
//! reads each load balancer's hosted zone and ARN from ELBv2 (for Route53 aliases and
//! Global Accelerator endpoints).
//!
//! The clusters go into a [`fleetplan::Problem`] beside workloads from elsewhere (the
//! `fleetplan-kube` adapter, say); this crate depends on the core only.
//!
//! ```
//! use std::path::Path;
//!
//! let text = r#"
//! apiVersion: eksctl.io/v1alpha5
//! kind: ClusterConfig
//! metadata:
//!   name: shop-east
//!   region: us-east-1
//!   tags: {fleetplan.io/account: "111122223333"}
//! managedNodeGroups:
//!   - name: general
//!     instanceType: m5.large
//!     desiredCapacity: 3
//! fargateProfiles:
//!   - name: shop
//!     selectors: [{namespace: shop}]
//! "#;
//! let documents = [serde_norway::from_str::<serde_json::Value>(text).unwrap()];
//! let clusters = fleetplan_aws::read_cluster_config(&documents, Path::new("eks.yaml"))?;
//! let east = &clusters[0];
//! assert_eq!((east.region.as_str(), east.account.as_deref()), ("us-east-1", Some("111122223333")));
//!
//! // Three m5.large nodes: 2 vCPUs less the kubelet's 70m, 29 pods each.
//! let general = &east.pools[0];
//! assert_eq!(general.node_count(), 3);
//! assert_eq!(general.allocatable.get("cpu"), 1930);
//! assert_eq!(general.allocatable.get("pods"), 29);
//!
//! // The Fargate profile is a pool of its own, named after it.
//! let shop = east.pools[1].fargate.as_ref().unwrap();
//! assert_eq!((shop.name.as_str(), shop.selectors[0].namespace.as_str()), ("shop", "shop"));
//! # Ok::<(), fleetplan_aws::AwsError>(())
//! ```
//!
//! Reading live clusters needs AWS credentials and a tokio runtime:
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let config = aws_config::load_from_env().await;
//! let client = aws_sdk_eks::Client::new(&config);
//! let cluster = fleetplan_aws::eks::read_cluster(&config, &client, "shop-east", "us-east-1").await?;
//! println!("{} pools in account {:?}", cluster.pools.len(), cluster.account);
//! # Ok(()) }
//! ```
//!
//! Every error is an [`AwsError`] whose message names the file (or the EKS cluster and
//! region), the object and the field path, as far as they are known.

pub mod ec2;
pub mod eks;
pub mod eksctl;
mod error;
pub mod instance_types;
pub mod load_balancers;
pub mod node_groups;
pub mod prices;
pub mod route53;

pub use eksctl::{cluster_configs_from_documents, is_cluster_config, read_cluster_config};
pub use error::AwsError;
pub use instance_types::allocatable;
pub use node_groups::{NodeGroupSpec, node_pool};

use fleetplan::fargate::FargateProfile;
use fleetplan::{Cluster, HourlyPrice, NodePool, PoolName};

/// What an EKS cluster's control plane costs per hour (standard support), 0.10 USD: the fixed
/// price of every cluster this adapter reads ([`fleetplan::Cluster::fixed_price`]).
pub const CONTROL_PLANE_PRICE_PER_HOUR: f64 = 0.10;

/// A cluster named `name` in `region` with the EKS control-plane fee as its fixed price.
pub(crate) fn eks_cluster(name: &str, region: &str) -> Cluster {
    let mut cluster = Cluster::new(name, region);
    cluster.fixed_price = HourlyPrice::from_units(CONTROL_PLANE_PRICE_PER_HOUR);
    cluster
}

/// Adds node pools, then one Fargate pool per profile, to `cluster`. A Fargate pool must take
/// its profile's name, so a node pool of that name becomes `NAME-nodegroup` (then
/// `NAME-nodegroup-2`, ... while taken); its node group label keeps the real name.
pub(crate) fn add_pools(cluster: &mut Cluster, node_pools: Vec<NodePool>, profiles: Vec<FargateProfile>) {
    let originals: Vec<PoolName> = node_pools.iter().map(|p| p.name.clone()).collect();
    let taken = |name: &str, pools: &[NodePool]| {
        profiles.iter().any(|p| p.name == name)
            || originals
                .iter()
                .chain(pools.iter().map(|p| &p.name))
                .any(|n| n.as_str() == name)
    };
    let mut pools: Vec<NodePool> = Vec::with_capacity(node_pools.len() + profiles.len());
    for mut pool in node_pools {
        if profiles.iter().any(|p| p.name == pool.name.as_str()) {
            let base = format!("{}-nodegroup", pool.name);
            let mut name = base.clone();
            let mut n = 1;
            while taken(&name, &pools) {
                n += 1;
                name = format!("{base}-{n}");
            }
            pool.name = PoolName::from(name.as_str());
        }
        pools.push(pool);
    }
    pools.extend(profiles.into_iter().map(NodePool::fargate));
    cluster.pools.extend(pools);
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetplan::Resources;
    use fleetplan::fargate::FargateSelector;

    #[test]
    fn node_pools_yield_their_names_to_profiles() {
        let mut cluster = Cluster::new("c", "r");
        let pools = ["web", "web-nodegroup", "db"]
            .iter()
            .map(|n| NodePool::uniform(n, 1, Resources::new()))
            .collect();
        let profiles = vec![FargateProfile::new("web", vec![FargateSelector::new("web")])];
        add_pools(&mut cluster, pools, profiles);
        let names: Vec<&str> = cluster.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["web-nodegroup-2", "web-nodegroup", "db", "web"]);
    }
}

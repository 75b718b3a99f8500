//! Live EKS clusters read through the EKS API (aws-sdk-eks) into [`fleetplan::Cluster`]s.
//!
//! For one cluster, [`read_cluster`] calls:
//!
//! - `DescribeCluster`: the account is the one of the cluster ARN
//!   (`arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME`, see [`account_from_arn`]); the health
//!   follows the status ([`health`]: `ACTIVE` and `UPDATING` are ready, every other status is
//!   not).
//! - `ListFargateProfiles` (every page) and `DescribeFargateProfile` for each: the `ACTIVE`
//!   profiles become Fargate pools with their selectors (namespace and labels); profiles in any
//!   other status are skipped. Their zones are left empty (subnets name no zone without EC2).
//! - `ListNodegroups` (every page) and `DescribeNodegroup` for each: the node groups in status
//!   `ACTIVE`, `UPDATING` or `DEGRADED` (those that have nodes) become node pools
//!   ([`crate::node_pool`]) of their `instanceTypes` (the nodes are of the first),
//!   `scalingConfig.desiredSize` nodes, their `labels` and `taints` (EKS effects mapped by
//!   [`taint_effect`]), `capacityType` (spot is priced as [`crate::prices`] says), Windows
//!   when `amiType` is a `WINDOWS_` one, and `diskSize` as the root volume (EKS's defaults,
//!   [`DEFAULT_DISK_SIZE_GIB`] and [`DEFAULT_WINDOWS_DISK_SIZE_GIB`], when it has none, as
//!   with a launch template); the zone is left unknown. A node group whose instance type is
//!   only in its launch template is an error.
//!
//! Instance types the generated table lacks (types newer than it) are read with one EC2
//! `DescribeInstanceTypes` call ([`crate::ec2`]); a type EC2 does not know is an error.
//!
//! Pools come in API order, node groups first; a node group named like a Fargate profile gets
//! the pool name `NAME-nodegroup`. Every SDK error becomes an [`AwsError::Api`] naming the
//! cluster, the region and the call. Nothing is logged, and credentials never appear in errors.

use aws_sdk_eks::Client;
use aws_sdk_eks::error::DisplayErrorContext;
use aws_sdk_eks::types::{CapacityTypes, FargateProfileStatus, NodegroupStatus};
use fleetplan::fargate::{FargateProfile, FargateSelector, validate_profiles};
use fleetplan::{Cluster, Health, Labels, NodePool, Taint, TaintEffect};

use crate::ec2::{MAX_TYPES_PER_CALL, describe_instance_types};
use crate::error::AwsError;
use crate::instance_types::{InstanceType, Os, instance_type};
use crate::node_groups::{NodeGroupSpec, node_pool};
use crate::prices::Capacity;

/// The root volume of a Linux managed node group without `diskSize` (EKS's default), in GiB.
pub const DEFAULT_DISK_SIZE_GIB: u32 = 20;
/// The root volume of a Windows managed node group without `diskSize` (EKS's default), in GiB.
pub const DEFAULT_WINDOWS_DISK_SIZE_GIB: u32 = 50;
/// At most this many clusters are read at once by [`read_clusters`].
pub const CONCURRENT_CLUSTERS: usize = 8;

/// A Kubernetes taint effect from its EKS API name (`NO_SCHEDULE`, `NO_EXECUTE`,
/// `PREFER_NO_SCHEDULE`), or `None`.
pub fn taint_effect(effect: &str) -> Option<TaintEffect> {
    match effect {
        "NO_SCHEDULE" => Some(TaintEffect::NoSchedule),
        "NO_EXECUTE" => Some(TaintEffect::NoExecute),
        "PREFER_NO_SCHEDULE" => Some(TaintEffect::PreferNoSchedule),
        _ => None,
    }
}

/// The health of a cluster from its EKS status: `ACTIVE` and `UPDATING` (a version or
/// configuration update, during which the cluster keeps running pods) are
/// [`Health::Ready`]; `CREATING`, `DELETING`, `FAILED`, `PENDING` and anything else are
/// [`Health::NotReady`].
pub fn health(status: &str) -> Health {
    match status {
        "ACTIVE" | "UPDATING" => Health::Ready,
        _ => Health::NotReady,
    }
}

/// The AWS account id of an EKS cluster ARN, `arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME`,
/// or `None` when `arn` is not one.
pub fn account_from_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let fields: [&str; 6] = std::array::from_fn(|_| parts.next().unwrap_or_default());
    let [arn_prefix, partition, service, region, account, resource] = fields;
    let valid = arn_prefix == "arn"
        && !partition.is_empty()
        && service == "eks"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.starts_with("cluster/");
    valid.then_some(account)
}

/// Reads one EKS cluster, `name` in `region`, with `client` (which must be set up for that
/// region); `config` gives the credentials and endpoint of the EC2 call for instance types
/// the table lacks. See the module docs for what is read.
pub async fn read_cluster(
    config: &aws_config::SdkConfig,
    client: &Client,
    name: &str,
    region: &str,
) -> Result<Cluster, AwsError> {
    let api = |call: &'static str| {
        move |error: &dyn std::error::Error| AwsError::Api {
            cluster: name.to_owned(),
            region: region.to_owned(),
            call,
            message: DisplayErrorContext(error).to_string(),
        }
    };
    let invalid = |object: &str, field: &str, message: String| AwsError::Eks {
        cluster: name.to_owned(),
        region: region.to_owned(),
        object: object.to_owned(),
        field: field.to_owned(),
        message,
    };

    let described = client
        .describe_cluster()
        .name(name)
        .send()
        .await
        .map_err(|e| api("DescribeCluster")(&e))?;
    let Some(eks) = described.cluster() else {
        return Err(invalid(
            "cluster",
            "cluster",
            "missing from the DescribeCluster response".into(),
        ));
    };
    let mut cluster = crate::eks_cluster(name, region);
    cluster.health = health(eks.status().map_or("", |s| s.as_str()));
    if let Some(arn) = eks.arn() {
        let account = account_from_arn(arn)
            .ok_or_else(|| invalid("cluster", "arn", format!("`{arn}` is not an EKS cluster ARN")))?;
        cluster.account = Some(account.to_owned());
    }

    let mut profiles = Vec::new();
    let mut names = client
        .list_fargate_profiles()
        .cluster_name(name)
        .into_paginator()
        .items()
        .send();
    while let Some(profile_name) = names.next().await {
        let profile_name = profile_name.map_err(|e| api("ListFargateProfiles")(&e))?;
        let described = client
            .describe_fargate_profile()
            .cluster_name(name)
            .fargate_profile_name(&profile_name)
            .send()
            .await
            .map_err(|e| api("DescribeFargateProfile")(&e))?;
        let object = format!("Fargate profile {profile_name}");
        let Some(profile) = described.fargate_profile() else {
            return Err(invalid(
                &object,
                "fargateProfile",
                "missing from the response".into(),
            ));
        };
        if profile.status() != Some(&FargateProfileStatus::Active) {
            continue;
        }
        let mut selectors = Vec::new();
        for (i, s) in profile.selectors().iter().enumerate() {
            let namespace = s
                .namespace()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid(&object, &format!("selectors[{i}].namespace"), "is missing".into()))?;
            selectors.push(FargateSelector {
                namespace: namespace.to_owned(),
                labels: s
                    .labels()
                    .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            });
        }
        profiles.push(FargateProfile {
            name: profile_name,
            selectors,
            zones: Vec::new(),
        });
    }
    validate_profiles(&profiles).map_err(|e| invalid("cluster", "fargateProfiles", e.to_string()))?;

    let mut groups: Vec<(String, NodeGroupSpec)> = Vec::new();
    let mut names = client
        .list_nodegroups()
        .cluster_name(name)
        .into_paginator()
        .items()
        .send();
    while let Some(group_name) = names.next().await {
        let group_name = group_name.map_err(|e| api("ListNodegroups")(&e))?;
        let described = client
            .describe_nodegroup()
            .cluster_name(name)
            .nodegroup_name(&group_name)
            .send()
            .await
            .map_err(|e| api("DescribeNodegroup")(&e))?;
        let object = format!("nodegroup {group_name}");
        let Some(group) = described.nodegroup() else {
            return Err(invalid(&object, "nodegroup", "missing from the response".into()));
        };
        if !matches!(
            group.status(),
            Some(NodegroupStatus::Active | NodegroupStatus::Updating | NodegroupStatus::Degraded)
        ) {
            continue;
        }
        if group.instance_types().is_empty() {
            return Err(invalid(
                &object,
                "instanceTypes",
                "is empty: the instance type is probably set in the node group's launch template, \
                 which fleetplan-aws does not read"
                    .into(),
            ));
        }
        let desired = group
            .scaling_config()
            .and_then(|s| s.desired_size())
            .ok_or_else(|| invalid(&object, "scalingConfig.desiredSize", "is missing".into()))?;
        let desired = u32::try_from(desired).map_err(|_| {
            invalid(
                &object,
                "scalingConfig.desiredSize",
                format!("{desired} is negative"),
            )
        })?;
        let labels: Labels = group
            .labels()
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut taints = Vec::new();
        for (i, t) in group.taints().iter().enumerate() {
            let key = t
                .key()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| invalid(&object, &format!("taints[{i}].key"), "is missing".into()))?;
            let effect = t.effect().map_or("", |e| e.as_str());
            let effect = taint_effect(effect).ok_or_else(|| {
                invalid(
                    &object,
                    &format!("taints[{i}].effect"),
                    format!("unknown taint effect `{effect}`: expected NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE"),
                )
            })?;
            taints.push(Taint {
                key: key.to_owned(),
                value: t.value().unwrap_or_default().to_owned(),
                effect,
            });
        }
        let os = match group.ami_type().map(|t| t.as_str()) {
            Some(ami) if ami.starts_with("WINDOWS_") => Os::Windows,
            _ => Os::Linux,
        };
        let capacity = match group.capacity_type() {
            Some(CapacityTypes::Spot) => Capacity::Spot,
            _ => Capacity::OnDemand,
        };
        let volume_gib = match group.disk_size() {
            Some(size) => u32::try_from(size)
                .map_err(|_| invalid(&object, "diskSize", format!("{size} is negative")))?,
            None if os == Os::Windows => DEFAULT_WINDOWS_DISK_SIZE_GIB,
            None => DEFAULT_DISK_SIZE_GIB,
        };
        let spec = NodeGroupSpec {
            name: group_name.clone(),
            managed: true,
            instance_types: group.instance_types().to_vec(),
            desired,
            region: region.to_owned(),
            zone: None,
            os,
            capacity,
            volume_gib,
            labels,
            taints,
        };
        groups.push((object, spec));
    }

    // Types newer than the generated table are read from the EC2 API.
    let mut unknown: Vec<String> = Vec::new();
    for (_, spec) in &groups {
        for t in &spec.instance_types {
            if instance_type(t).is_none() && !unknown.contains(t) {
                unknown.push(t.clone());
            }
        }
    }
    let mut live: Vec<InstanceType> = Vec::new();
    for chunk in unknown.chunks(MAX_TYPES_PER_CALL) {
        let found = describe_instance_types(config, region, chunk)
            .await
            .map_err(|message| AwsError::Api {
                cluster: name.to_owned(),
                region: region.to_owned(),
                call: "EC2 DescribeInstanceTypes",
                message,
            })?;
        live.extend(found);
    }
    let mut pools: Vec<NodePool> = Vec::new();
    for (object, spec) in groups {
        pools.push(node_pool(&spec, &live).map_err(|e| {
            let field = e
                .instance_type
                .map_or("instanceTypes".to_owned(), |i| format!("instanceTypes[{i}]"));
            invalid(&object, &field, e.error.to_string())
        })?);
    }

    crate::add_pools(&mut cluster, pools, profiles);
    Ok(cluster)
}

/// Reads the EKS clusters `targets`, each a `(name, region)` pair, with the credentials and
/// settings of `config` (its region is replaced by each target's). The clusters come in the
/// order of `targets`; up to [`CONCURRENT_CLUSTERS`] are read at once. The first error, in
/// target order, is returned.
///
/// ```no_run
/// # async fn example() -> Result<(), fleetplan_aws::AwsError> {
/// let config = aws_config::load_from_env().await;
/// let clusters = fleetplan_aws::eks::read_clusters(
///     &config,
///     &[("shop-east", "us-east-1"), ("shop-west", "eu-west-1")],
/// )
/// .await?;
/// # Ok(()) }
/// ```
pub async fn read_clusters<N, R>(
    config: &aws_config::SdkConfig,
    targets: &[(N, R)],
) -> Result<Vec<Cluster>, AwsError>
where
    N: AsRef<str>,
    R: AsRef<str>,
{
    let mut clients: Vec<(String, Client)> = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut results: Vec<Option<Result<Cluster, AwsError>>> = targets.iter().map(|_| None).collect();
    for (index, (name, region)) in targets.iter().enumerate() {
        let region = region.as_ref().to_owned();
        let client = match clients.iter().find(|(r, _)| *r == region) {
            Some((_, client)) => client.clone(),
            None => {
                let conf = aws_sdk_eks::config::Builder::from(config)
                    .region(aws_sdk_eks::config::Region::new(region.clone()))
                    .build();
                let client = Client::from_conf(conf);
                clients.push((region.clone(), client.clone()));
                client
            }
        };
        let name = name.as_ref().to_owned();
        while tasks.len() >= CONCURRENT_CLUSTERS {
            collect(&mut tasks, &mut results).await;
        }
        let config = config.clone();
        tasks.spawn(async move { (index, read_cluster(&config, &client, &name, &region).await) });
    }
    while !tasks.is_empty() {
        collect(&mut tasks, &mut results).await;
    }
    results
        .into_iter()
        .map(|r| r.expect("every target's task has finished"))
        .collect()
}

type Outcome = (usize, Result<Cluster, AwsError>);

/// Waits for one task and records its outcome; a panicking task panics here too.
async fn collect(
    tasks: &mut tokio::task::JoinSet<Outcome>,
    results: &mut [Option<Result<Cluster, AwsError>>],
) {
    match tasks.join_next().await {
        Some(Ok((index, outcome))) => results[index] = Some(outcome),
        Some(Err(error)) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Some(Err(error)) => panic!("an EKS read task was cancelled: {error}"),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eks_taint_effects_map_to_kubernetes_effects() {
        assert_eq!(taint_effect("NO_SCHEDULE"), Some(TaintEffect::NoSchedule));
        assert_eq!(taint_effect("NO_EXECUTE"), Some(TaintEffect::NoExecute));
        assert_eq!(
            taint_effect("PREFER_NO_SCHEDULE"),
            Some(TaintEffect::PreferNoSchedule)
        );
        assert_eq!(taint_effect("NoSchedule"), None);
        assert_eq!(taint_effect(""), None);
        // Every effect of the SDK maps.
        for effect in aws_sdk_eks::types::TaintEffect::values() {
            assert!(taint_effect(effect).is_some(), "{effect}");
        }
    }

    #[test]
    fn accounts_come_from_cluster_arns() {
        assert_eq!(
            account_from_arn("arn:aws:eks:us-east-1:123456789012:cluster/shop"),
            Some("123456789012")
        );
        assert_eq!(
            account_from_arn("arn:aws-cn:eks:cn-north-1:210987654321:cluster/a:b"),
            Some("210987654321")
        );
        for bad in [
            "",
            "arn:aws:eks:us-east-1:123456789012",
            "arn:aws:ec2:us-east-1:123456789012:cluster/shop",
            "arn:aws:eks:us-east-1:12345:cluster/shop",
            "arn:aws:eks:us-east-1:123456789012:nodegroup/shop/ng/1",
        ] {
            assert_eq!(account_from_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_active_and_updating_clusters_are_ready() {
        assert_eq!(health("ACTIVE"), Health::Ready);
        assert_eq!(health("UPDATING"), Health::Ready);
        for status in ["CREATING", "DELETING", "FAILED", "PENDING", ""] {
            assert_eq!(health(status), Health::NotReady, "{status}");
        }
    }
}

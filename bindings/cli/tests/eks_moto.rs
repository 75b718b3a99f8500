//! End-to-end test of the EKS reader against moto, a local fake of the AWS APIs: two EKS
//! clusters in two regions, each with managed node groups and Fargate profiles, are created
//! through the EKS API, read back with `fleetplan_aws::eks`, and planned with `fleetplan::plan`.
//!
//! The moto server is the test bed's [`MotoServer`]: `$FLEETPLAN_MOTO_SERVER`, else
//! `moto_server` on the PATH (`pip install 'moto[server]'`; `scripts/test` installs it). The
//! test fails, never skips, when neither runs. (It lives with the command line's tests, which
//! may use every adapter, because the AWS adapter depends on the core only.)

use aws_config::SdkConfig;
use aws_sdk_eks::Client;
use aws_sdk_eks::types::{
    CapacityTypes, FargateProfileSelector, NodegroupScalingConfig, Taint as EksTaint,
    TaintEffect as EksTaintEffect, VpcConfigRequest,
};
use fleetplan::fargate::{FargateProfile, FargateSelector};
use fleetplan::{Cluster, Health, PlanOptions, Problem, Resources, Workload, WorkloadId, plan};
use fleetplan_aws::eks::{read_cluster, read_clusters};
use fleetplan_aws::instance_types::allocatable;
use fleetplan_aws::node_groups::{CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL, NODEGROUP_LABEL, REGION_LABEL};
use fleetplan_testbed::{MOTO_ACCOUNT, MotoServer};

/// moto's default account.
const ACCOUNT: &str = MOTO_ACCOUNT;
const CLUSTERS: [(&str, &str); 2] = [("shop-east", "us-east-1"), ("shop-west", "eu-west-1")];

async fn config(moto: &MotoServer, region: &str) -> SdkConfig {
    moto.sdk_config(region).await
}

/// Creates one cluster with two managed node groups (general m5.large nodes, and tainted GPU
/// nodes) and two Fargate profiles (namespace `shop`, and namespace `batch` with a label).
async fn create_cluster(client: &Client, name: &str) {
    client
        .create_cluster()
        .name(name)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/eks-cluster"))
        .resources_vpc_config(
            VpcConfigRequest::builder()
                .subnet_ids("subnet-11111111")
                .subnet_ids("subnet-22222222")
                .build(),
        )
        .send()
        .await
        .expect("CreateCluster");
    client
        .create_nodegroup()
        .cluster_name(name)
        .nodegroup_name("general")
        .node_role(format!("arn:aws:iam::{ACCOUNT}:role/eks-node"))
        .subnets("subnet-11111111")
        .instance_types("m5.large")
        .scaling_config(
            NodegroupScalingConfig::builder()
                .min_size(1)
                .max_size(4)
                .desired_size(2)
                .build(),
        )
        .labels("role", "general")
        .send()
        .await
        .expect("CreateNodegroup general");
    client
        .create_nodegroup()
        .cluster_name(name)
        .nodegroup_name("gpu")
        .node_role(format!("arn:aws:iam::{ACCOUNT}:role/eks-node"))
        .subnets("subnet-11111111")
        .instance_types("g4dn.xlarge")
        .capacity_type(CapacityTypes::Spot)
        .disk_size(100)
        .scaling_config(
            NodegroupScalingConfig::builder()
                .min_size(0)
                .max_size(2)
                .desired_size(1)
                .build(),
        )
        .taints(
            EksTaint::builder()
                .key("nvidia.com/gpu")
                .value("true")
                .effect(EksTaintEffect::NoSchedule)
                .build(),
        )
        .send()
        .await
        .expect("CreateNodegroup gpu");
    client
        .create_fargate_profile()
        .cluster_name(name)
        .fargate_profile_name("shop")
        .pod_execution_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/fargate"))
        .selectors(FargateProfileSelector::builder().namespace("shop").build())
        .send()
        .await
        .expect("CreateFargateProfile shop");
    client
        .create_fargate_profile()
        .cluster_name(name)
        .fargate_profile_name("batch")
        .pod_execution_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/fargate"))
        .selectors(
            FargateProfileSelector::builder()
                .namespace("batch")
                .labels("fargate", "yes")
                .build(),
        )
        .send()
        .await
        .expect("CreateFargateProfile batch");
}

fn check_cluster(cluster: &Cluster, name: &str, region: &str) {
    assert_eq!((cluster.name.as_str(), cluster.region.as_str()), (name, region));
    assert_eq!(cluster.account.as_deref(), Some(ACCOUNT));
    assert_eq!(cluster.health, Health::Ready);
    let names: Vec<&str> = cluster.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["general", "gpu", "batch", "shop"],
        "node groups first, in API order"
    );

    let general = &cluster.pools[0];
    assert_eq!(general.fargate, None);
    assert_eq!(general.node_count(), 2);
    let mut m5_large = allocatable("m5.large").unwrap();
    m5_large.set("ephemeral-storage", 17 << 30);
    assert_eq!(general.allocatable, m5_large, "EKS's default 20 GiB volume");
    assert_eq!(general.allocatable.get("cpu"), 1930);
    assert_eq!(general.allocatable.get("pods"), 29);
    assert_eq!(general.labels["role"], "general");
    assert_eq!(general.labels[INSTANCE_TYPE_LABEL], "m5.large");
    assert_eq!(general.labels[NODEGROUP_LABEL], "general");
    assert_eq!(general.labels[REGION_LABEL], region);
    assert_eq!(general.labels[CAPACITY_TYPE_LABEL], "ON_DEMAND");
    let on_demand = fleetplan_aws::prices::on_demand_linux("m5.large", region).expect("priced");
    assert_eq!(general.node_price, fleetplan::HourlyPrice::from_units(on_demand));
    assert!(general.taints.is_empty());

    let gpu = &cluster.pools[1];
    assert_eq!(gpu.node_count(), 1);
    assert_eq!(gpu.allocatable.get("nvidia.com/gpu"), 1);
    assert_eq!(gpu.allocatable.get("ephemeral-storage"), (100 - 1 - 10) << 30);
    assert_eq!(gpu.labels[CAPACITY_TYPE_LABEL], "SPOT");
    let spot = fleetplan_aws::prices::on_demand_linux("g4dn.xlarge", region).expect("priced")
        * fleetplan_aws::prices::SPOT_SHARE;
    assert!((gpu.node_price.expect("priced").units() - spot).abs() < 1e-6);
    let taints: Vec<String> = gpu.taints.iter().map(ToString::to_string).collect();
    assert_eq!(taints, ["nvidia.com/gpu=true:NoSchedule"]);

    assert_eq!(
        cluster.pools[2].fargate,
        Some(FargateProfile::new(
            "batch",
            vec![FargateSelector::new("batch").with_label("fargate", "yes")]
        ))
    );
    assert_eq!(
        cluster.pools[3].fargate,
        Some(FargateProfile::new("shop", vec![FargateSelector::new("shop")]))
    );
}

/// The pools a workload's replicas landed on, over every cluster, with their counts.
fn pools_of(plan: &fleetplan::Plan, workload: &WorkloadId) -> Vec<(String, String, u32)> {
    let mut pools: Vec<(String, String, u32)> = plan
        .placements
        .iter()
        .filter(|p| &p.workload == workload)
        .flat_map(|p| {
            p.pools
                .iter()
                .filter(|r| r.replicas > 0)
                .map(|r| (p.cluster.to_string(), r.pool.to_string(), r.replicas))
        })
        .collect();
    pools.sort();
    pools
}

/// The EC2 API's answer, read by the adapter's signed Query call, equals the generated table:
/// the live reader and the generator read the same fields alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_describe_instance_types_agrees_with_the_table() {
    let moto = MotoServer::start().await.unwrap_or_else(|e| panic!("{e}"));
    let conf = config(&moto, "us-west-2").await;
    let names: Vec<String> = [
        "m5.large",
        "p4d.24xlarge",
        "m6g.large",
        "inf2.xlarge",
        "c3.8xlarge",
        "m5d.large",
    ]
    .iter()
    .map(|n| (*n).to_owned())
    .collect();
    let mut live = fleetplan_aws::ec2::describe_instance_types(&conf, "us-west-2", &names)
        .await
        .expect("DescribeInstanceTypes");
    live.sort_by(|a, b| a.name.cmp(&b.name));
    let mut table: Vec<fleetplan_aws::instance_types::InstanceType> = names
        .iter()
        .map(|n| {
            fleetplan_aws::instance_types::instance_type(n)
                .expect("in the table")
                .clone()
        })
        .collect();
    table.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(live, table);
    drop(moto);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eks_clusters_from_moto_plan_onto_node_groups_and_fargate() {
    let moto = MotoServer::start().await.unwrap_or_else(|e| panic!("{e}"));
    for (name, region) in CLUSTERS {
        let client = Client::new(&config(&moto, region).await);
        create_cluster(&client, name).await;
    }

    // One by one, with a client per region.
    let mut clusters = Vec::new();
    for (name, region) in CLUSTERS {
        let conf = config(&moto, region).await;
        let cluster = read_cluster(&conf, &Client::new(&conf), name, region)
            .await
            .expect("read_cluster");
        check_cluster(&cluster, name, region);
        clusters.push(cluster);
    }
    // All at once, from one configuration whose region each target replaces.
    let all = read_clusters(&config(&moto, "ap-southeast-2").await, &CLUSTERS)
        .await
        .expect("read_clusters");
    assert_eq!(all, clusters);

    // A cluster that does not exist: the error names the cluster, the region and the call.
    let conf = config(&moto, "us-east-1").await;
    let client = Client::new(&conf);
    let message = read_cluster(&conf, &client, "nowhere", "us-east-1")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("EKS cluster `nowhere` in us-east-1: DescribeCluster failed: "),
        "{message}"
    );
    assert!(!message.contains("test"), "no credentials in errors: {message}");

    // A node group of a type EC2 does not offer: the EC2 API is asked, and its answer named.
    client
        .create_nodegroup()
        .cluster_name("shop-east")
        .nodegroup_name("future")
        .node_role(format!("arn:aws:iam::{ACCOUNT}:role/eks-node"))
        .subnets("subnet-11111111")
        .instance_types("x9.huge")
        .send()
        .await
        .expect("CreateNodegroup future");
    let message = read_cluster(&conf, &client, "shop-east", "us-east-1")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("EKS cluster `shop-east` in us-east-1: EC2 DescribeInstanceTypes failed: ")
            && message.contains("InvalidInstanceType"),
        "{message}"
    );
    client
        .delete_nodegroup()
        .cluster_name("shop-east")
        .nodegroup_name("future")
        .send()
        .await
        .expect("DeleteNodegroup future");

    // Plan: pods in `shop` (and labelled pods in `batch`) run on Fargate; the others on nodes.
    let cpu = |millis: i64| Resources::new().with("cpu", millis).with("memory", 512 << 20);
    let web = Workload::new("shop", "web", 4, cpu(250));
    let api = Workload::new("default", "api", 4, cpu(500));
    let mut job = Workload::new("batch", "job", 2, cpu(250));
    job.template.labels.insert("fargate".into(), "yes".into());
    let report = Workload::new("batch", "report", 2, cpu(250));
    let problem = Problem {
        clusters,
        workloads: vec![web, api, job, report],
        ..Problem::default()
    };
    problem.validate().expect("a valid problem");
    let plan = plan(&problem, &PlanOptions::default()).expect("a plan");

    let id = |namespace: &str, name: &str| WorkloadId::new(namespace, name);
    for (workload, target, pools) in [
        (id("shop", "web"), 4, ["shop"].as_slice()),
        (id("batch", "job"), 2, ["batch"].as_slice()),
        (id("default", "api"), 4, ["general"].as_slice()),
        (id("batch", "report"), 2, ["general"].as_slice()),
    ] {
        assert_eq!(plan.placed(&workload), target, "{workload}: {plan:#?}");
        assert_eq!(plan.unplaced(&workload), 0, "{workload}");
        let landed = pools_of(&plan, &workload);
        assert!(
            landed.iter().all(|(_, pool, _)| pools.contains(&pool.as_str())),
            "{workload} should run on {pools:?} only, ran on {landed:?}"
        );
        // Both clusters take a share: the default strategy spreads.
        for (cluster, _) in CLUSTERS {
            assert!(
                plan.replicas_in(&workload, cluster) > 0,
                "{workload} in {cluster}: {landed:?}"
            );
        }
    }
    drop(moto);
}

//! The tutorial (`examples/tutorial`) applied to a management cluster on the local test bed,
//! with `fleetplan controller` running: its four EKS clusters are workload clusters of the
//! bed, each with its node group and its Fargate profiles (stood in for as
//! `fleetplan-testbed` does: pods a profile takes run on virtual Fargate nodes labelled with
//! their profile). They are registered with their Fargate profiles, the fleet file goes in
//! the fleet-settings ConfigMap, and the apps are applied as written, with the Deployments and
//! the Job opted in.
//!
//! The replicas must land as planned and reach Running (a Job's pods may have completed
//! already: the bed's kwok finishes them at once): per cluster, the copies hold what
//! the placement written on each source says; that placement puts as many replicas in each
//! region as `fleetplan plan` does on the same files; the pods of the Fargate workloads run
//! on Fargate under the planned profile, and the privileged log shipper on the node groups.
//!
//! The management cluster is a control plane (no Deployment, ReplicaSet or Job controller)
//! and runs no pod; each workload cluster holds exactly the objects its workloads use (the
//! ConfigMap web-us mounts, the Secret web-eu reads, the shared ServiceAccount, Service,
//! Ingress and PodDisruptionBudget) and the Ingress copies get a load balancer from the
//! bed's stand-in for the AWS Load Balancer Controller, which the source Ingress then names;
//! `kubectl rollout status` finishes on each source Deployment with `readyReplicas` equal to
//! the fleet's Ready pods; the Job reaches `Complete`; `kubectl scale` changes the fleet's
//! total.
//!
//! Global traffic (the article's step 4): the controller runs with `--dns
//! route53,external-dns --global-accelerator mgmt` against a moto server (Route53 and ELBv2)
//! with the CustomResourceDefinitions of `adapters/kube/deploy/crds/` installed. The records
//! land in moto's hosted zone exactly as the placement says (latency per region, weighted per
//! cluster, aliases to the stand-in's load balancers), and the DNSEndpoint and
//! GlobalAccelerator objects hold the same; a second instance with another owner id leaves
//! them alone; draining a cluster sets its weight to 0 before its copy shrinks; stopping a
//! cluster's API server removes its records within the failure threshold plus one pass, and
//! the accelerator follows.
//!
//! Needs `FLEETPLAN_TESTBED_BIN` (set by `scripts/test`); without it the test fails with the
//! command to build the bed, never skips.

mod bed;
mod route53;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bed::{carried, cluster, controller_with_env, kubectl, namespace, put, registration};
use fleetplan::Cluster;
use fleetplan::fargate::PROFILE_LABEL;
use fleetplan_testbed::{Role, TestBed};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::config::Kubeconfig;
use route53::{Row, create_zone, expected_rows, moto_env, rows, tutorial_scenario};

fn tutorial() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tutorial")
}

/// The tutorial's clusters, read as `fleetplan plan` reads them.
fn tutorial_clusters() -> Vec<Cluster> {
    tutorial_scenario().problem.clusters
}

/// Replicas per workload and region in `fleetplan plan examples/tutorial -o json`.
///
/// Cost-blind (`--weight cost=0 --weight fixed=0`): the bed's clusters are registered without
/// prices (their kwok nodes carry the tutorial's instance types but no price), so the
/// controller plans them as free; since prices differ by region, the priced plan of the
/// eksctl files may divide a tie the other way.
fn planned_by_region() -> BTreeMap<(String, String), u64> {
    let output = Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args([
            "plan", "--output", "json", "--weight", "cost=0", "--weight", "fixed=0",
        ])
        .arg(tutorial())
        .output()
        .expect("fleetplan plan runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON plan");
    let mut out = BTreeMap::new();
    for p in plan["placements"].as_array().expect("placements") {
        let key = (
            p["workload"].as_str().unwrap_or_default().to_string(),
            p["region"].as_str().unwrap_or_default().to_string(),
        );
        *out.entry(key).or_default() += p["replicas"].as_u64().unwrap_or(0);
    }
    out
}

/// The tutorial's apps as objects, with the Deployments and Jobs opted in.
fn tutorial_apps() -> Vec<serde_json::Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(tutorial().join("apps"))
        .expect("apps")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("app file");
        for document in serde_norway::Deserializer::from_str(&text) {
            let mut value: serde_json::Value = serde::Deserialize::deserialize(document).expect("YAML");
            if matches!(value["kind"].as_str(), Some("Deployment" | "Job")) {
                value["metadata"]["labels"]["fleetplan.io/schedule"] = "true".into();
            }
            objects.push(value);
        }
    }
    objects
}

/// The API of Deployments, or of Jobs when `kind` is `Job`, in `namespace`.
fn workloads_api(client: &kube::Client, kind: &str, namespace: &str) -> Api<DynamicObject> {
    let resource = if kind == "Job" {
        ApiResource::erase::<Job>(&())
    } else {
        ApiResource::erase::<Deployment>(&())
    };
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// What a workload cluster runs of one workload: replicas of its copy, and its Running pods
/// (for a Job, also those that ran to completion) as `(on Fargate, profile label)`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Landed {
    replicas: u64,
    running: Vec<(bool, Option<String>)>,
}

/// The copies and Running pods of `workload` (`namespace/name`) in `cluster`.
async fn landed(bed: &TestBed, cluster: &str, kind: &str, workload: &str) -> Landed {
    let client = bed.client(cluster).await.expect("client");
    let (namespace, name) = workload.split_once('/').expect("namespace/name");
    let field = if kind == "Job" { "parallelism" } else { "replicas" };
    let copies = workloads_api(&client, kind, namespace);
    let replicas = match copies.get_opt(name).await.expect("get the copy") {
        Some(copy) => copy.data["spec"][field].as_u64().unwrap_or(1),
        None => 0,
    };
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let list = pods.list(&ListParams::default()).await.expect("pods");
    // Pods of the copy: owned by the Job, or by one of the Deployment's ReplicaSets.
    let copy_pods = list.items.into_iter().filter(|p| {
        p.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.name == name || o.name.starts_with(&format!("{name}-")))
    });
    let mut running: Vec<(bool, Option<String>)> = copy_pods
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            // Running; a Job's pods may already have finished (kwok completes them at once).
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            phase == Some("Running") || (kind == "Job" && phase == Some("Succeeded"))
        })
        .map(|p| {
            let node = p
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default();
            let profile = p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(PROFILE_LABEL).cloned());
            (node.starts_with("fargate-ip-"), profile)
        })
        .collect();
    running.sort();
    Landed { replicas, running }
}

#[test]
fn the_tutorial_applied_to_a_management_cluster_lands_as_planned_and_runs() {
    let binaries = bed::binaries();
    let workload_clusters = tutorial_clusters();
    assert_eq!(workload_clusters.len(), 4);
    let mut roles = vec![(cluster("mgmt", "us-east-1", 0), Role::ControlPlane)];
    roles.extend(workload_clusters.iter().map(|c| (c.clone(), Role::Workload)));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut bed = runtime
        .block_on(TestBed::start_with_roles(&roles, &binaries))
        .expect("the bed starts");
    // Each cluster's alb Ingresses get a load balancer in moto's ELBv2 (the bed's stand-in
    // for the AWS Load Balancer Controller).
    let moto = runtime.block_on(bed::moto_with_load_balancers(&mut bed));
    let kubeconfig = Kubeconfig::read_from(bed.kubeconfig()).expect("the bed's kubeconfig");
    let apps = tutorial_apps();
    let aws = runtime.block_on(moto.sdk_config("us-east-1"));
    let route53 = aws_sdk_route53::Client::new(&aws);
    let zone = runtime.block_on(create_zone(&route53, "example.com"));

    runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        put(&mgmt, &namespace("fleetplan-system")).await;
        // external-dns's and the AWS Load Balancer Controller's CRDs, as fleetplan ships them.
        for crd in [
            "dnsendpoints.externaldns.k8s.io",
            "globalaccelerators.aga.k8s.aws",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../../adapters/kube/deploy/crds/{crd}.yaml"));
            let text = std::fs::read_to_string(&path).expect("the CRD");
            let value: serde_json::Value = serde_norway::from_str(&text).expect("CRD YAML");
            put(&mgmt, &value).await;
        }
        // Each EKS cluster registered with its labels and Fargate profiles.
        for c in &workload_clusters {
            let mut secret = registration(&kubeconfig, c.name.as_str(), &c.region);
            for (key, value) in &c.labels {
                secret["metadata"]["labels"][key] = value.as_str().into();
            }
            let profiles: Vec<_> = c.pools.iter().filter_map(|p| p.fargate.as_ref()).collect();
            secret["metadata"]["annotations"]["fleetplan.io/fargate-profiles"] =
                serde_json::to_string(&profiles).expect("profiles as JSON").into();
            if let Some(account) = &c.account {
                secret["metadata"]["annotations"]["fleetplan.io/aws-account"] = account.as_str().into();
            }
            put(&mgmt, &secret).await;
        }
        // The fleet file (Fargate quotas) as the fleet settings.
        let fleet = std::fs::read_to_string(tutorial().join("fleet/fleet.yaml")).expect("fleet.yaml");
        let settings = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "fleetplan-fleet", "namespace": "fleetplan-system"},
            "data": {"fleet.yaml": fleet}
        });
        put(&mgmt, &settings).await;
        // The namespaces the apps use (the tutorial declares only `batch`), then the apps.
        let used: std::collections::BTreeSet<&str> = apps
            .iter()
            .filter_map(|o| o["metadata"]["namespace"].as_str())
            .collect();
        for ns in used {
            put(&mgmt, &namespace(ns)).await;
        }
        for object in &apps {
            put(&mgmt, object).await;
        }
    });

    let log = bed.dir().join("controller.log");
    let aws_env = moto_env(&moto.endpoint());
    let _controller = controller_with_env(bed.kubeconfig(), &log, &CONTROLLER_FLAGS, &aws_env);

    let workloads: Vec<(String, String)> = apps
        .iter()
        .filter(|o| matches!(o["kind"].as_str(), Some("Deployment" | "Job")))
        .map(|o| {
            let m = &o["metadata"];
            (
                o["kind"].as_str().unwrap_or_default().to_string(),
                format!(
                    "{}/{}",
                    m["namespace"].as_str().unwrap_or_default(),
                    m["name"].as_str().unwrap_or_default()
                ),
            )
        })
        .collect();
    let regions: BTreeMap<&str, &str> = workload_clusters
        .iter()
        .map(|c| (c.name.as_str(), c.region.as_str()))
        .collect();
    let planned = planned_by_region();

    // Until every source carries a placement that its copies hold, all Running.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    let mut last = String::new();
    let done = runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut all = true;
            let mut seen = Vec::new();
            for (kind, workload) in &workloads {
                let (ns, name) = workload.split_once('/').expect("namespace/name");
                let source = workloads_api(&mgmt, kind, ns)
                    .get(name)
                    .await
                    .expect("the source");
                let annotations = source.metadata.annotations.unwrap_or_default();
                let placement: BTreeMap<String, u64> = annotations
                    .get("fleetplan.io/placement")
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or_default();
                let mut by_region: BTreeMap<(String, String), u64> = BTreeMap::new();
                for c in &workload_clusters {
                    let want = placement.get(c.name.as_str()).copied().unwrap_or(0);
                    *by_region
                        .entry((workload.clone(), regions[c.name.as_str()].to_string()))
                        .or_default() += want;
                    let got = landed(&bed, c.name.as_str(), kind, workload).await;
                    let fargate = c
                        .pools
                        .iter()
                        .filter(|p| p.fargate.is_some())
                        .map(|p| p.name.to_string())
                        .collect::<Vec<_>>();
                    // Where the pods must run: the Fargate workloads under their planned
                    // profile, the log shipper on the node group.
                    let expected_profile = match workload.as_str() {
                        "shop/web-us" | "shop/web-eu" => Some("fp-shop"),
                        "batch/report" => Some("fp-batch"),
                        _ => None,
                    };
                    let ok = got.replicas == want
                        && got.running.len() as u64 == want
                        && got.running.iter().all(|(on_fargate, profile)| {
                            *on_fargate == expected_profile.is_some()
                                && profile.as_deref() == expected_profile
                                && profile.as_ref().is_none_or(|p| fargate.contains(p))
                        });
                    all &= ok;
                    seen.push(format!("{workload} on {}: want {want}, {got:?}", c.name));
                }
                let expected: BTreeMap<_, _> = planned
                    .iter()
                    .filter(|((w, _), _)| w == workload)
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                by_region.retain(|_, v| *v > 0);
                if by_region != expected {
                    all = false;
                    seen.push(format!(
                        "{workload}: placed by region {by_region:?}, fleetplan plan says {expected:?}"
                    ));
                }
            }
            last = seen.join("\n");
            if all {
                return true;
            }
        }
        false
    });
    let controller_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        done,
        "not as planned after 120 s:\n{last}\n--- controller log:\n{controller_log}"
    );
    eprintln!(
        "the tutorial landed as planned and Running in {:.1} s:\n{last}",
        started.elapsed().as_secs_f64()
    );

    runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        // The management control plane runs nothing.
        let pods = Api::<Pod>::all(mgmt.clone())
            .list(&ListParams::default())
            .await
            .expect("pods");
        assert!(
            pods.items.is_empty(),
            "{} pods in the management cluster",
            pods.items.len()
        );

        // Each cluster holds exactly what its workloads use; one holding none of `shop`'s
        // workloads holds none of its objects.
        let placement = |source: &Deployment| -> BTreeMap<String, u64> {
            let annotations = source.metadata.annotations.clone().unwrap_or_default();
            serde_json::from_str(
                annotations
                    .get("fleetplan.io/placement")
                    .map_or("{}", |s| s.as_str()),
            )
            .unwrap_or_default()
        };
        let sources: Api<Deployment> = Api::namespaced(mgmt.clone(), "shop");
        let web_us = placement(&sources.get("web-us").await.expect("web-us"));
        let web_eu = placement(&sources.get("web-eu").await.expect("web-eu"));
        let mut load_balancers = serde_json::Map::new();
        for c in &workload_clusters {
            let name = c.name.as_str();
            let (us, eu) = (
                web_us.get(name).copied().unwrap_or(0),
                web_eu.get(name).copied().unwrap_or(0),
            );
            let mut expected = std::collections::BTreeSet::new();
            if us > 0 {
                expected.extend(["ConfigMap web-config".to_string(), "Deployment web-us".into()]);
            }
            if eu > 0 {
                expected.extend(["Secret web-env".to_string(), "Deployment web-eu".into()]);
            }
            if us + eu > 0 {
                for shared in [
                    "ServiceAccount web",
                    "Service web",
                    "Ingress web",
                    "PodDisruptionBudget web",
                ] {
                    expected.insert(shared.into());
                }
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let held = carried(&bed, name).await;
                let dns = ingress_hostname(&bed, name).await;
                let lb_ok = (us + eu == 0)
                    || dns.as_ref().is_some_and(|d| {
                        d.starts_with("k8s-shop-web-")
                            && d.ends_with(&format!(".{}.elb.amazonaws.com", c.region))
                    });
                if held == expected && lb_ok {
                    if let Some(dns) = dns {
                        load_balancers.insert(name.to_string(), serde_json::json!([dns]));
                    }
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{name} holds {held:?} with load balancer {dns:?}, expected {expected:?}"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        // The source Ingress names every copy's load balancer.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ingress = Api::<Ingress>::namespaced(mgmt.clone(), "shop")
                .get("web")
                .await
                .expect("the Ingress");
            let shown: serde_json::Value = ingress
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("fleetplan.io/load-balancers"))
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default();
            if shown == serde_json::Value::Object(load_balancers.clone()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the source Ingress shows {shown}, expected {load_balancers:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });

    // The sources' status is the fleet's, read with kubectl as a user would.
    let kubeconfig_path = bed.kubeconfig().to_path_buf();
    for (namespace, deployment) in [("shop", "web-us"), ("shop", "web-eu"), ("ops", "log-shipper")] {
        let rolled = kubectl(
            &kubeconfig_path,
            namespace,
            &[
                "rollout",
                "status",
                &format!("deployment/{deployment}"),
                "--timeout=60s",
            ],
        );
        assert!(rolled.contains("successfully rolled out"), "{rolled}");
        runtime.block_on(async {
            let mgmt = bed.client("mgmt").await.expect("mgmt client");
            let source = Api::<Deployment>::namespaced(mgmt, namespace)
                .get(deployment)
                .await
                .expect("source");
            let mut fleet_ready = 0;
            for c in &workload_clusters {
                let client = bed.client(c.name.as_str()).await.expect("client");
                if let Some(copy) = Api::<Deployment>::namespaced(client, namespace)
                    .get_opt(deployment)
                    .await
                    .expect("copy")
                {
                    fleet_ready += copy.status.and_then(|s| s.ready_replicas).unwrap_or(0);
                }
            }
            let ready = source.status.and_then(|s| s.ready_replicas).unwrap_or(0);
            assert_eq!(
                ready, fleet_ready,
                "{namespace}/{deployment}: readyReplicas is the fleet's Ready pods"
            );
        });
    }
    kubectl(
        &kubeconfig_path,
        "batch",
        &["wait", "--for=condition=complete", "job/report", "--timeout=60s"],
    );
    // `kubectl scale` changes the fleet's total.
    kubectl(
        &kubeconfig_path,
        "shop",
        &["scale", "deployment/web-us", "--replicas=4"],
    );
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let mut total = 0;
            for c in &workload_clusters {
                total += landed(&bed, c.name.as_str(), "Deployment", "shop/web-us")
                    .await
                    .replicas;
            }
            if total == 4 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "web-us holds {total} replicas over the fleet after scaling to 4"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let rolled = kubectl(
        &kubeconfig_path,
        "shop",
        &["rollout", "status", "deployment/web-us", "--timeout=60s"],
    );
    assert!(rolled.contains("successfully rolled out"), "{rolled}");

    let clusters: Vec<String> = workload_clusters.iter().map(|c| c.name.to_string()).collect();
    let dns = Dns {
        route53: &route53,
        zone: &zone,
        aws: &aws,
        kubeconfig: &kubeconfig_path,
        log: &log,
        env: &aws_env,
    };
    runtime.block_on(dns.records_land_as_placed(&bed, &clusters));
    dns.a_second_owner_leaves_them_alone(&runtime);
    runtime.block_on(dns.a_drained_cluster_reaches_weight_zero_before_it_shrinks(&bed, "eu-west-1-a"));
    dns.a_stopped_cluster_loses_its_records(&runtime, &mut bed, "us-west-2-a");
    drop(moto);
}

/// The controller's flags: every traffic writer, owner `bed`, a 6 s failure threshold.
const CONTROLLER_FLAGS: [&str; 8] = [
    "--dns",
    "route53,external-dns",
    "--global-accelerator",
    "mgmt",
    "--dns-owner",
    "bed",
    "--failure-threshold",
    "6",
];

/// The failure threshold in `CONTROLLER_FLAGS`.
const FAILURE_THRESHOLD: Duration = Duration::from_secs(6);

/// Where the records of the live tutorial are checked.
struct Dns<'a> {
    route53: &'a aws_sdk_route53::Client,
    zone: &'a str,
    aws: &'a aws_config::SdkConfig,
    kubeconfig: &'a Path,
    log: &'a Path,
    env: &'a [(String, String)],
}

/// The objects of `resource` named `shop.example.com` in `fleetplan-system` of mgmt.
async fn traffic_object(bed: &TestBed, resource: &ApiResource) -> Option<serde_json::Value> {
    let mgmt = bed.client("mgmt").await.expect("mgmt client");
    let api: Api<DynamicObject> = Api::namespaced_with(mgmt, "fleetplan-system", resource);
    let object = api.get_opt("shop.example.com").await.expect("reads")?;
    Some(serde_json::to_value(object).expect("JSON"))
}

impl Dns<'_> {
    /// The hosts' traffic as the sources say now: the tutorial's routes, each cluster's
    /// endpoint the load balancer the source Ingress names, its replicas those of the
    /// placement annotations of the sources.
    async fn placed_traffic(&self, bed: &TestBed) -> Vec<fleetplan::traffic::HostTraffic> {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        let sources = fleetplan_kube::live::ManagementWatch::start(mgmt, "fleetplan-system")
            .read(std::time::Duration::from_secs(30))
            .await
            .expect("the management cluster")
            .sources;
        let routes = sources.routes().expect("routes");
        let objects = sources.objects();
        let regions: BTreeMap<String, String> = tutorial_clusters()
            .iter()
            .map(|c| (c.name.to_string(), c.region.clone()))
            .collect();
        let mut held = Vec::new();
        for (id, source) in &objects {
            let placement: BTreeMap<String, u64> =
                source["metadata"]["annotations"]["fleetplan.io/placement"]
                    .as_str()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or_default();
            for (cluster, n) in placement {
                held.push((id.clone(), fleetplan::ClusterName::from(cluster.as_str()), n));
            }
        }
        let serving: Vec<fleetplan::traffic::Serving<'_>> = held
            .iter()
            .filter_map(|(id, cluster, n)| {
                Some(fleetplan::traffic::Serving {
                    workload: id,
                    cluster,
                    region: regions.get(cluster.as_str())?,
                    replicas: *n,
                })
            })
            .collect();
        fleetplan::traffic::traffic(&routes, &serving, &Default::default())
    }

    /// Polls until the zone, the DNSEndpoint and the GlobalAccelerator hold what the placement
    /// says (with every serving cluster's load balancer known).
    async fn records_land_as_placed(&self, bed: &TestBed, clusters: &[String]) {
        use fleetplan_kube::control::traffic_objects::{
            dns_endpoint_resource, dns_endpoints, global_accelerator_resource, global_accelerators,
        };
        let started = Instant::now();
        let deadline = started + Duration::from_secs(90);
        loop {
            let hosts = self.placed_traffic(bed).await;
            let want = expected_rows(&hosts, "bed");
            let got = rows(self.route53, self.zone).await;
            let mut arns = BTreeMap::new();
            for region in ["eu-west-1", "us-west-2"] {
                let found = fleetplan_aws::load_balancers::load_balancers(self.aws, region)
                    .await
                    .expect("ELBv2");
                arns.extend(found.into_iter().map(|(dns, lb)| (dns, lb.arn)));
            }
            let endpoints = traffic_object(bed, &dns_endpoint_resource()).await;
            let accelerator = traffic_object(bed, &global_accelerator_resource()).await;
            let wanted_endpoints = dns_endpoints(&hosts, "fleetplan-system", "bed");
            let wanted_accelerator = global_accelerators(&hosts, &arns, "fleetplan-system", "bed");
            let all_known = hosts
                .iter()
                .flat_map(|h| &h.regions)
                .flat_map(|r| &r.clusters)
                .all(|c| c.endpoint.is_some());
            let same = |object: &Option<serde_json::Value>, wanted: &[serde_json::Value]| {
                object.as_ref().map(|o| &o["spec"]) == wanted.first().map(|w| &w["spec"])
            };
            let serving = hosts.iter().flat_map(|h| &h.regions).count();
            if all_known
                && serving > 0
                && got == want
                && same(&endpoints, &wanted_endpoints.objects)
                && same(&accelerator, &wanted_accelerator.objects)
            {
                // Every cluster with web replicas has a weighted record; each region's
                // weights share 255 points; the accelerator has a group per region.
                let weighted: Vec<&Row> = got.iter().filter(|r| r.3.is_some()).collect();
                let serving = clusters
                    .iter()
                    .filter(|c| {
                        got.iter()
                            .any(|r| r.2.as_deref().is_some_and(|s| s.ends_with(c.as_str())))
                    })
                    .count();
                assert_eq!(weighted.len(), serving, "{got:#?}");
                for region in ["eu-west-1", "us-west-2"] {
                    let sum: i64 = weighted
                        .iter()
                        .filter(|r| r.0.starts_with(region))
                        .filter_map(|r| r.3)
                        .sum();
                    assert_eq!(sum, 255, "{region}: {got:#?}");
                }
                let groups = &accelerator.expect("the accelerator")["spec"]["listeners"][0]["endpointGroups"];
                let regions: Vec<&str> = groups
                    .as_array()
                    .expect("groups")
                    .iter()
                    .filter_map(|g| g["region"].as_str())
                    .collect();
                assert_eq!(regions, ["eu-west-1", "us-west-2"]);
                eprintln!(
                    "Route53, DNSEndpoint and GlobalAccelerator as placed after {:.1} s:\n{got:#?}",
                    started.elapsed().as_secs_f64()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "records not as placed after 90 s:\nhosts {hosts:#?}\nzone {got:#?}\nwanted {want:#?}\nDNSEndpoint {endpoints:#?}\nwanted {:#?}\nGlobalAccelerator {accelerator:#?}\nwanted {:#?}\n--- controller log:\n{}",
                wanted_endpoints.objects,
                wanted_accelerator.objects,
                std::fs::read_to_string(self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// A second instance (`--once`, owner `second`) finds the host owned by `bed` and
    /// leaves every record as it was, exiting 1.
    fn a_second_owner_leaves_them_alone(&self, runtime: &tokio::runtime::Runtime) {
        let before = runtime.block_on(rows(self.route53, self.zone));
        let output = Command::new(env!("CARGO_BIN_EXE_fleetplan"))
            .args([
                "controller",
                "--once",
                "--context",
                "mgmt",
                "--dns",
                "route53",
                "--dns-owner",
                "second",
            ])
            .arg("--kubeconfig")
            .arg(self.kubeconfig)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("left alone") && stderr.contains("owner=bed"),
            "{stderr}"
        );
        assert_eq!(
            runtime.block_on(rows(self.route53, self.zone)),
            before,
            "untouched by the second owner"
        );
    }

    /// Drains `cluster`: its weighted record reaches weight 0 before its web copy shrinks,
    /// and goes once the copy is gone.
    async fn a_drained_cluster_reaches_weight_zero_before_it_shrinks(&self, bed: &TestBed, cluster: &str) {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        // A short TTL, so that the wait before the shrink is short; the records take it.
        let ingresses: Api<Ingress> = Api::namespaced(mgmt.clone(), "shop");
        let patch = serde_json::json!({"metadata": {"annotations": {"fleetplan.io/dns-ttl": "3"}}});
        ingresses
            .patch(
                "web",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .expect("patches the Ingress");
        let resource = fleetplan_kube::control::traffic_objects::dns_endpoint_resource();
        let deadline = Instant::now() + Duration::from_secs(30);
        while traffic_object(bed, &resource)
            .await
            .map(|o| o["spec"]["endpoints"][0]["recordTTL"].clone())
            != Some(3.into())
        {
            assert!(
                Instant::now() < deadline,
                "the records do not take the TTL of 3 s"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let copy = async || {
            let client = bed.client(cluster).await.expect("client");
            Api::<Deployment>::namespaced(client, "shop")
                .get_opt("web-eu")
                .await
                .expect("reads")
                .map(|d| d.spec.replicas.unwrap_or(0))
        };
        let start = copy().await.expect("the drained cluster holds web-eu");
        let set_id = format!(
            "{}{cluster}",
            fleetplan_aws::route53::records::set_prefix("bed", "shop.example.com")
        );
        let record = async || {
            rows(self.route53, self.zone)
                .await
                .into_iter()
                .find(|r| r.2.as_deref() == Some(set_id.as_str()))
                .map(|r| r.3)
        };
        assert!(
            record().await.is_some(),
            "{cluster} has a record before the drain"
        );
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(mgmt.clone(), "fleetplan-system");
        let patch = serde_json::json!({"metadata": {"annotations": {"fleetplan.io/drain": "true"}}});
        secrets
            .patch(
                cluster,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .expect("drains");
        let drained = Instant::now();
        let (mut zero_at, mut shrunk_at, mut gone_at) = (None, None, None);
        let mut seen = Vec::new();
        while gone_at.is_none() || shrunk_at.is_none() {
            let (weight, replicas) = (record().await, copy().await);
            let t = drained.elapsed();
            if weight == Some(Some(0)) && zero_at.is_none() {
                zero_at = Some(t);
            }
            if weight.is_none() && gone_at.is_none() {
                gone_at = Some(t);
            }
            if replicas.is_none_or(|r| r < start) && shrunk_at.is_none() {
                shrunk_at = Some(t);
            }
            if seen.last().map(|(_, w, r)| (w, r)) != Some((&weight, &replicas)) {
                seen.push((t, weight, replicas));
            }
            assert!(
                t < Duration::from_secs(120),
                "the drain did not finish in 120 s: (time, weight, replicas) {seen:?}\n--- controller log:\n{}",
                std::fs::read_to_string(self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            zero_at.is_some() && zero_at < shrunk_at && shrunk_at <= gone_at,
            "weight 0 at {zero_at:?}, web-eu shrunk at {shrunk_at:?}, record gone at {gone_at:?}: {seen:?}"
        );
        eprintln!(
            "drain of {cluster}: weight 0 at {zero_at:?}, copy shrunk at {shrunk_at:?}, record gone at {gone_at:?}"
        );
    }

    /// Stops `cluster`'s API server: its records leave the zone, the DNSEndpoint and the
    /// accelerator within the failure threshold plus one pass.
    fn a_stopped_cluster_loses_its_records(
        &self,
        runtime: &tokio::runtime::Runtime,
        bed: &mut TestBed,
        cluster: &str,
    ) {
        use fleetplan_kube::control::traffic_objects::{dns_endpoint_resource, global_accelerator_resource};
        let had = runtime.block_on(rows(self.route53, self.zone));
        let lb = had
            .iter()
            .find(|r| r.2.as_deref().is_some_and(|s| s.ends_with(cluster)))
            .and_then(|r| r.5.clone())
            .expect("the cluster has a record");
        let region = lb
            .split('.')
            .nth(1)
            .expect("an ELB name has its region")
            .to_string();
        let arn = runtime
            .block_on(fleetplan_aws::load_balancers::load_balancers(self.aws, &region))
            .expect("ELBv2")
            .remove(&lb)
            .expect("the load balancer")
            .arn;
        bed.stop_api_server(cluster).expect("stops");
        let stopped = Instant::now();
        let gone = runtime.block_on(async {
            loop {
                let zone = rows(self.route53, self.zone).await;
                let endpoints = traffic_object(bed, &dns_endpoint_resource()).await;
                let accelerator = traffic_object(bed, &global_accelerator_resource()).await;
                let text = format!("{zone:?} {endpoints:?}");
                let arn_gone = accelerator
                    .as_ref()
                    .is_some_and(|a| !a["spec"].to_string().contains(&arn));
                if !text.contains(cluster) && !text.contains(&lb) && arn_gone {
                    return Some(stopped.elapsed());
                }
                if stopped.elapsed() > Duration::from_secs(90) {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let log = std::fs::read_to_string(self.log).unwrap_or_default();
        let gone = gone.unwrap_or_else(|| panic!("{cluster}'s records still there 90 s after its API server stopped\n--- controller log:\n{log}"));
        // One pass: the interval (1 s) and the snapshot timeout of the silent cluster (5 s).
        let one_pass = Duration::from_secs(6);
        assert!(
            gone <= FAILURE_THRESHOLD + one_pass + Duration::from_secs(4),
            "{cluster}'s records went {:.1} s after its API server stopped (threshold {} s)",
            gone.as_secs_f64(),
            FAILURE_THRESHOLD.as_secs()
        );
        eprintln!(
            "{cluster}'s records gone from Route53, DNSEndpoint and GlobalAccelerator {:.1} s after its API server stopped (failure threshold {} s, counted from its last answer, up to a pass before the stop)",
            gone.as_secs_f64(),
            FAILURE_THRESHOLD.as_secs()
        );
    }
}

/// The hostname on the Ingress `shop/web` copy in `cluster`, once one is written.
async fn ingress_hostname(bed: &TestBed, cluster: &str) -> Option<String> {
    let client = bed.client(cluster).await.expect("client");
    let ingress = Api::<Ingress>::namespaced(client, "shop")
        .get_opt("web")
        .await
        .ok()??;
    ingress.status?.load_balancer?.ingress?.first()?.hostname.clone()
}

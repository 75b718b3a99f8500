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
//! Needs `FLEETPLAN_TESTBED_BIN` (set by `scripts/test`); without it the test fails with the
//! command to build the bed, never skips.

mod bed;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bed::{carried, cluster, controller, kubectl, namespace, put, registration};
use fleetplan::Cluster;
use fleetplan::fargate::PROFILE_LABEL;
use fleetplan_testbed::{Role, TestBed};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::config::Kubeconfig;

fn tutorial() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tutorial")
}

/// The tutorial's clusters, read as `fleetplan plan` reads them.
fn tutorial_clusters() -> Vec<Cluster> {
    let fleet = tutorial().join("fleet");
    let eks = fleetplan_aws::read_cluster_configs(&fleet).expect("the tutorial's eksctl files");
    let scenario =
        fleetplan_kube::load_with_clusters(&fleet, &tutorial().join("apps"), eks).expect("the tutorial");
    scenario.problem.clusters
}

/// Replicas per workload and region in `fleetplan plan examples/tutorial -o json`.
fn planned_by_region() -> BTreeMap<(String, String), u64> {
    let output = Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args(["plan", "--output", "json"])
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
    let moto = runtime
        .block_on(fleetplan_testbed::MotoServer::start())
        .unwrap_or_else(|e| panic!("{e}"));
    runtime
        .block_on(bed.run_load_balancers(&moto.endpoint()))
        .expect("the load balancer stand-in starts");
    let kubeconfig = Kubeconfig::read_from(bed.kubeconfig()).expect("the bed's kubeconfig");
    let apps = tutorial_apps();

    runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        put(&mgmt, &namespace("fleetplan-system")).await;
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
    let _controller = controller(bed.kubeconfig(), &log, &[]);

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
    drop(moto);
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

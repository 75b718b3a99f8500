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
//! Needs `FLEETPLAN_TESTBED_BIN` (set by `scripts/test`); without it the test fails with the
//! command to build the bed, never skips.

mod bed;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bed::{cluster, controller, namespace, put, registration};
use fleetplan::Cluster;
use fleetplan::fargate::PROFILE_LABEL;
use fleetplan_testbed::TestBed;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
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
    let mut clusters = vec![cluster("mgmt", "us-east-1", 0)];
    clusters.extend(workload_clusters.iter().cloned());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let bed = runtime
        .block_on(TestBed::start(&clusters, &binaries))
        .expect("the bed starts");
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
}

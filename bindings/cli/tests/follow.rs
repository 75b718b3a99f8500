//! Everything a workload needs follows it, on the local test bed with `fleetplan controller`
//! running, and the management control plane (an API server without the Deployment,
//! ReplicaSet and Job controllers) runs none of it:
//!
//! 1. `web` (pinned to region us-east-1, cluster `east`) mounts a ConfigMap, takes a Secret
//!    through `envFrom`, runs as its own ServiceAccount, and has a Service, an Ingress and a
//!    PodDisruptionBudget; `api` (us-west-2, cluster `west`) shares one ConfigMap with it.
//!    Each cluster gets exactly what its workloads use; an unused ConfigMap goes nowhere; a
//!    ConfigMap that another tool made in `west` is never touched. The management cluster has
//!    no pod.
//!    The sources' status is the fleet's: `kubectl rollout status` on `web` finishes with its
//!    `readyReplicas` equal to the fleet's Ready pods, `kubectl scale` changes the fleet's
//!    total, and the Job `report` reaches `Complete` (`kubectl wait`).
//! 2. `web` moves to us-west-2: its objects are created in `west` before its replicas, and
//!    pruned from `east` after them; the shared ConfigMap leaves `east` once nothing there uses
//!    it, and the foreign ConfigMap stays as it was.
//!
//! After a failure and a drain (`the_objects_of_a_workload_follow_it_through_a_failover_and_a_drain`),
//! with `web` packed into its most preferred cluster: when `a`'s API server stops, `web`
//! moves to `b` with everything it uses, created there before its replicas; when `b` is
//! drained, `web` moves on to `c`, and `b` is emptied of fleetplan's objects after the
//! replicas in `c` are ready, while an object another tool made in `b` stays. A ConfigMap
//! shared with `api` (which runs in `c`) stays in `c` the whole time, and the source Ingress
//! names the load balancer of the cluster that serves it.
//!
//! And in a full management cluster (two nodes and every controller), with the scheduling-gate
//! policy of `adapters/kube/deploy/hold-in-management.yaml` applied as a user would: the pods
//! its Deployment controller makes for an opted-in workload are held (none runs there), and
//! the copies land in the workload cluster as in a control plane.
//!
//! Needs `FLEETPLAN_TESTBED_BIN` (set by `scripts/test`); without it the test fails with the
//! command to build the bed, never skips.

mod bed;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bed::{carried, cluster, controller, kubectl, namespace, put, registration};
use fleetplan_testbed::{Role, TestBed};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::config::Kubeconfig;
use serde_json::json;

const CLUSTERS: [(&str, &str); 2] = [("east", "us-east-1"), ("west", "us-west-2")];

/// Whether `cluster` runs `deployment` with `replicas` ready.
async fn ready(bed: &TestBed, cluster: &str, deployment: &str, replicas: i32) -> bool {
    let client = bed.client(cluster).await.expect("client");
    let api: Api<Deployment> = Api::namespaced(client, "shop");
    api.get_opt(deployment)
        .await
        .ok()
        .flatten()
        .and_then(|d| d.status)
        .and_then(|s| s.ready_replicas)
        == Some(replicas)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Polls `check` every 500 ms until it holds, failing after `seconds` with `what` and the
/// controller's log.
async fn eventually<F, Fut>(seconds: u64, what: &str, log: &std::path::Path, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let outcome = check().await;
        match outcome {
            Ok(()) => return,
            Err(state) if Instant::now() >= deadline => panic!(
                "{what}: not after {seconds} s: {state}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Waits until the source Ingress `shop/web` shows the load balancers of its copies in
/// exactly `clusters` (one per cluster, made by the bed's stand-in in `region`), in its
/// annotation and its status; returns the first cluster's DNS name.
async fn eventually_load_balancers(
    bed: &TestBed,
    log: &std::path::Path,
    clusters: &[&str],
    region: &str,
) -> String {
    use k8s_openapi::api::networking::v1::Ingress;
    let hostname = |i: &Ingress| {
        let entry = i
            .status
            .as_ref()?
            .load_balancer
            .as_ref()?
            .ingress
            .as_ref()?
            .first()?
            .clone();
        entry.hostname
    };
    let what = format!("the source Ingress shows the load balancers of {clusters:?}");
    eventually(90, &what, log, || async {
        let mut expected = serde_json::Map::new();
        let mut entries = Vec::new();
        for cluster in clusters {
            let client = bed.client(cluster).await.map_err(|e| e.to_string())?;
            let copy = Api::<Ingress>::namespaced(client, "shop")
                .get("web")
                .await
                .map_err(|e| e.to_string())?;
            let dns = hostname(&copy).ok_or(format!("no load balancer on {cluster}'s copy yet"))?;
            if !(dns.starts_with("k8s-shop-web-") && dns.ends_with(&format!(".{region}.elb.amazonaws.com"))) {
                return Err(format!("{cluster}'s copy shows {dns}"));
            }
            expected.insert(cluster.to_string(), json!([dns]));
            entries.push(json!({"hostname": dns}));
        }
        let mgmt = bed.client("mgmt").await.map_err(|e| e.to_string())?;
        let source = Api::<Ingress>::namespaced(mgmt, "shop")
            .get("web")
            .await
            .map_err(|e| e.to_string())?;
        let annotation = source
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("fleetplan.io/load-balancers"))
            .cloned()
            .unwrap_or_default();
        let shown: serde_json::Value = serde_json::from_str(&annotation).unwrap_or_default();
        let status = serde_json::to_value(source.status.and_then(|s| s.load_balancer)).unwrap_or_default();
        if shown == serde_json::Value::Object(expected) && status == json!({"ingress": entries}) {
            Ok(())
        } else {
            Err(format!("annotation {annotation}, status {status}"))
        }
    })
    .await;
    let client = bed.client(clusters[0]).await.expect("client");
    let copy = Api::<Ingress>::namespaced(client, "shop")
        .get("web")
        .await
        .expect("the copy");
    hostname(&copy).unwrap_or_default()
}

/// Starts a bed of `roles`: its runtime, the bed, its kubeconfig and the controller's log path.
fn start(
    roles: &[(fleetplan::Cluster, Role)],
) -> (tokio::runtime::Runtime, TestBed, Kubeconfig, std::path::PathBuf) {
    let binaries = bed::binaries();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let bed = runtime
        .block_on(TestBed::start_with_roles(roles, &binaries))
        .expect("the bed starts");
    let kubeconfig = Kubeconfig::read_from(bed.kubeconfig()).expect("the bed's kubeconfig");
    let log = bed.dir().join("controller.log");
    (runtime, bed, kubeconfig, log)
}

/// Starts a management control plane `mgmt` and a workload cluster per `(name, region)` of
/// `clusters`, a moto server with the bed's load balancer stand-in (each alb Ingress gets a
/// load balancer in moto's ELBv2), and registers every cluster in `mgmt`, with the
/// namespaces `fleetplan-system` and `shop` there. Returns the runtime, the bed, moto (keep
/// it alive) and the controller's log path.
fn start_registered(
    clusters: &[(&str, &str)],
) -> (
    tokio::runtime::Runtime,
    TestBed,
    fleetplan_testbed::MotoServer,
    std::path::PathBuf,
) {
    let mut roles = vec![(cluster("mgmt", "us-east-1", 0), Role::ControlPlane)];
    roles.extend(clusters.iter().map(|(n, r)| (cluster(n, r, 2), Role::Workload)));
    let (runtime, mut bed, kubeconfig, log) = start(&roles);
    let moto = runtime
        .block_on(fleetplan_testbed::MotoServer::start())
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        bed.run_load_balancers(&moto.endpoint())
            .await
            .expect("the load balancer stand-in starts");
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        for ns in ["fleetplan-system", "shop"] {
            put(&mgmt, &namespace(ns)).await;
        }
        for (name, region) in clusters {
            put(&mgmt, &registration(&kubeconfig, name, region)).await;
        }
    });
    (runtime, bed, moto, log)
}

fn deployment(name: &str, region: &str, replicas: u32, pod: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": {"fleetplan.io/schedule": "true"},
            "annotations": {"fleetplan.io/cluster-selector": format!("fleetplan.io/region={region}")}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod}
        }
    })
}

#[test]
fn what_a_workload_needs_follows_it_and_the_control_plane_runs_nothing() {
    let (runtime, bed, _moto, log) = start_registered(&CLUSTERS);

    runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        let resources = json!({"requests": {"cpu": "100m", "memory": "64Mi"}});
        let web = deployment(
            "web",
            "us-east-1",
            2,
            json!({
                "serviceAccountName": "web",
                "volumes": [
                    {"name": "config", "configMap": {"name": "web-config"}},
                    {"name": "shared", "configMap": {"name": "shared"}}
                ],
                "containers": [{"name": "web", "image": "nginx", "resources": resources,
                    "envFrom": [{"secretRef": {"name": "web-env"}}]}]
            }),
        );
        let api = deployment(
            "api",
            "us-west-2",
            1,
            json!({
                "volumes": [{"name": "shared", "configMap": {"name": "shared"}}],
                "containers": [{"name": "api", "image": "api", "resources": resources}]
            }),
        );
        let objects = [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "shop"},
                "data": {"greeting": "hello"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": "shop"},
                "data": {"k": "v"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "unused", "namespace": "shop"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-env", "namespace": "shop"},
                "type": "Opaque", "stringData": {"TOKEN": "s3cret"}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "shop"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "shop",
                    "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
                "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
            web,
            api,
            json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "report", "namespace": "shop", "labels": {"fleetplan.io/schedule": "true"}},
                "spec": {"parallelism": 2, "completions": 2, "template": {"metadata": {"labels": {"app": "report"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "report", "image": "report",
                        "resources": resources}]}}}}),
        ];
        for object in &objects {
            put(&mgmt, object).await;
        }
        // Another tool's ConfigMap of the same name in `west`.
        let west = bed.client("west").await.expect("west client");
        put(&west, &namespace("shop")).await;
        put(
            &west,
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "web-config", "namespace": "shop"}, "data": {"greeting": "theirs"}}),
        )
        .await;
    });

    let _controller = controller(bed.kubeconfig(), &log, &[]);

    runtime.block_on(async {
        eventually(120, "web runs in east and api in west", &log, || async {
            let state = (ready(&bed, "east", "web", 2).await, ready(&bed, "west", "api", 1).await);
            if state == (true, true) { Ok(()) } else { Err(format!("{state:?}")) }
        })
        .await;
        // The fleet's status on the sources, read with kubectl as a user would.
        let kubectl = |args: &[&str]| kubectl(bed.kubeconfig(), "shop", args);
        let rolled = kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"]);
        assert!(rolled.contains("successfully rolled out"), "{rolled}");
        let source = Api::<Deployment>::namespaced(bed.client("mgmt").await.expect("mgmt"), "shop");
        let status = source.get("web").await.expect("web").status.unwrap_or_default();
        assert_eq!(status.ready_replicas, Some(2), "the fleet's Ready pods");
        kubectl(&["wait", "--for=condition=complete", "job/report", "--timeout=60s"]);
        kubectl(&["scale", "deployment/web", "--replicas=3"]);
        eventually(60, "web scaled to 3 across the fleet", &log, || async {
            if ready(&bed, "east", "web", 3).await { Ok(()) } else { Err("not 3 ready in east".into()) }
        })
        .await;
        let rolled = kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"]);
        assert!(rolled.contains("successfully rolled out"), "{rolled}");

        let web_objects = [
            "ConfigMap web-config",
            "ConfigMap shared",
            "Secret web-env",
            "ServiceAccount web",
            "Service web",
            "Ingress web",
            "PodDisruptionBudget web",
            "Deployment web",
        ];
        assert_eq!(carried(&bed, "east").await, set(&web_objects));
        assert_eq!(carried(&bed, "west").await, set(&["ConfigMap shared", "Deployment api"]));

        // The Ingress copy's load balancer, read back onto the source.
        let east_lb = eventually_load_balancers(&bed, &log, &["east"], "us-east-1").await;

        // The copies are the objects as written, less what the management cluster allocated.
        let east = bed.client("east").await.expect("east client");
        let secret = Api::<Secret>::namespaced(east.clone(), "shop").get("web-env").await.expect("secret");
        assert_eq!(secret.type_.as_deref(), Some("Opaque"));
        assert_eq!(
            secret.data.unwrap_or_default().get("TOKEN").map(|b| b.0.clone()),
            Some(b"s3cret".to_vec())
        );
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        let ip = |s: Service| s.spec.and_then(|s| s.cluster_ip).unwrap_or_default();
        let source_ip = ip(Api::<Service>::namespaced(mgmt.clone(), "shop").get("web").await.expect("source"));
        let copy_ip = ip(Api::<Service>::namespaced(east.clone(), "shop").get("web").await.expect("copy"));
        assert!(!copy_ip.is_empty() && copy_ip != "None", "the copy got its own cluster IP");
        assert!(!source_ip.is_empty());

        // The management control plane runs nothing.
        let pods = Api::<Pod>::all(mgmt.clone()).list(&ListParams::default()).await.expect("pods");
        assert!(pods.items.is_empty(), "pods in the management cluster: {:?}", pods.items.len());

        // web moves to us-west-2.
        let source: Api<Deployment> = Api::namespaced(mgmt.clone(), "shop");
        let patch = json!({"metadata": {"annotations": {"fleetplan.io/cluster-selector": "fleetplan.io/region=us-west-2"}}});
        source
            .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("move web");
        eventually(120, "web moves to west and east is emptied", &log, || async {
            let east = carried(&bed, "east").await;
            if ready(&bed, "west", "web", 3).await && east.is_empty() {
                Ok(())
            } else {
                Err(format!("east still holds {east:?}"))
            }
        })
        .await;
        let mut expected: Vec<&str> = web_objects
            .iter()
            .copied()
            .filter(|o| *o != "ConfigMap web-config")
            .collect();
        expected.push("Deployment api");
        assert_eq!(carried(&bed, "west").await, set(&expected), "the foreign web-config is not fleetplan's");
        let west_lb = eventually_load_balancers(&bed, &log, &["west"], "us-west-2").await;
        assert_ne!(east_lb, west_lb, "each cluster has its own load balancer");
        let west = bed.client("west").await.expect("west client");
        let foreign = Api::<ConfigMap>::namespaced(west.clone(), "shop")
            .get("web-config")
            .await
            .expect("the foreign ConfigMap stays");
        assert_eq!(foreign.data.unwrap_or_default()["greeting"], "theirs");
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            logged.contains("ConfigMap shop/web-config exists and is not fleetplan's"),
            "the conflict is reported"
        );
        // Created before the replicas: the Secret is no younger than the Deployment copy.
        let created = |t: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| t.map(|t| t.0);
        let secret = Api::<Secret>::namespaced(west.clone(), "shop").get("web-env").await.expect("secret");
        let copy = Api::<Deployment>::namespaced(west.clone(), "shop").get("web").await.expect("copy");
        assert!(created(secret.metadata.creation_timestamp) <= created(copy.metadata.creation_timestamp));
    });
}

/// When `object` (`Kind name` in namespace `shop`) was created in `cluster`.
async fn created_at(bed: &TestBed, cluster: &str, kind: &str, name: &str) -> k8s_openapi::jiff::Timestamp {
    let (group, version) = match kind {
        "Deployment" => ("apps", "v1"),
        "Ingress" => ("networking.k8s.io", "v1"),
        _ => ("", "v1"),
    };
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let client = bed.client(cluster).await.expect("client");
    let api: Api<DynamicObject> = Api::namespaced_with(client, "shop", &resource);
    let object = api
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("{kind} {name} in {cluster}: {e}"));
    object.metadata.creation_timestamp.expect("a creation time").0
}

/// Asserts that in `cluster` the Service and Ingress `web` and `also` were created no later
/// than the replicas of `web`.
async fn made_before_web(bed: &TestBed, cluster: &str, also: &[(&str, &str)]) {
    let replicas = created_at(bed, cluster, "Deployment", "web").await;
    for (kind, name) in [("Service", "web"), ("Ingress", "web")].iter().chain(also) {
        assert!(
            created_at(bed, cluster, kind, name).await <= replicas,
            "{kind} {name} before the replicas in {cluster}"
        );
    }
}

#[test]
fn the_objects_of_a_workload_follow_it_through_a_failover_and_a_drain() {
    let (runtime, mut bed, moto, log) =
        start_registered(&[("a", "us-east-1"), ("b", "us-east-1"), ("c", "us-east-1")]);
    runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        let resources = json!({"requests": {"cpu": "100m", "memory": "64Mi"}});
        let mut web = deployment(
            "web",
            "us-east-1",
            2,
            json!({
                "volumes": [
                    {"name": "config", "configMap": {"name": "web-config"}},
                    {"name": "shared", "configMap": {"name": "shared"}}
                ],
                "containers": [{"name": "web", "image": "nginx", "resources": resources}]
            }),
        );
        web["metadata"]["annotations"]["fleetplan.io/strategy"] = json!("pack");
        web["metadata"]["annotations"]["fleetplan.io/cluster-weights"] = json!("a=3,b=2,c=1");
        let mut api = deployment(
            "api",
            "us-east-1",
            1,
            json!({
                "volumes": [{"name": "shared", "configMap": {"name": "shared"}}],
                "containers": [{"name": "api", "image": "api", "resources": resources}]
            }),
        );
        api["metadata"]["annotations"]["fleetplan.io/cluster-selector"] = json!("fleetplan.io/cluster=c");
        for object in [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "shop"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": "shop"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "shop",
                    "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
                "spec": {"ingressClassName": "alb",
                    "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}}),
            web,
            api,
        ] {
            put(&mgmt, &object).await;
        }
        // Another tool's Service in `b`, which fleetplan must leave alone.
        let b = bed.client("b").await.expect("b client");
        put(&b, &namespace("shop")).await;
        put(
            &b,
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "theirs", "namespace": "shop"},
                "spec": {"ports": [{"port": 81}]}}),
        )
        .await;
    });

    let _controller = controller(bed.kubeconfig(), &log, &["--failure-threshold", "5"]);
    let web_objects = [
        "ConfigMap web-config",
        "ConfigMap shared",
        "Service web",
        "Ingress web",
        "Deployment web",
    ];
    let c_alone = set(&["ConfigMap shared", "Deployment api"]);
    runtime.block_on(async {
        eventually(120, "web runs packed in a, api in c", &log, || async {
            let now = (
                carried(&bed, "a").await,
                carried(&bed, "b").await,
                carried(&bed, "c").await,
            );
            let ok = ready(&bed, "a", "web", 2).await && ready(&bed, "c", "api", 1).await;
            if ok && now == (set(&web_objects), set(&[]), c_alone.clone()) {
                Ok(())
            } else {
                Err(format!("{now:?}"))
            }
        })
        .await;
        eventually_load_balancers(&bed, &log, &["a"], "us-east-1").await;
    });

    // `a` fails: web and what it uses move to `b`, created there before the replicas.
    bed.stop_api_server("a").expect("stop a");
    runtime.block_on(async {
        eventually(120, "web fails over to b with its objects", &log, || async {
            let now = (carried(&bed, "b").await, carried(&bed, "c").await);
            let ok = ready(&bed, "b", "web", 2).await;
            if ok && now == (set(&web_objects), c_alone.clone()) {
                Ok(())
            } else {
                Err(format!("{now:?}"))
            }
        })
        .await;
        made_before_web(&bed, "b", &[("ConfigMap", "web-config"), ("ConfigMap", "shared")]).await;
        eventually_load_balancers(&bed, &log, &["b"], "us-east-1").await;
    });

    // `b` is drained: web moves on to `c`; `b` is emptied after c's replicas are ready.
    runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        let secrets: Api<Secret> = Api::namespaced(mgmt, "fleetplan-system");
        let drain = json!({"metadata": {"annotations": {"fleetplan.io/drain": "true"}}});
        secrets
            .patch("b", &PatchParams::default(), &Patch::Merge(&drain))
            .await
            .expect("drain b");
        let mut all = set(&web_objects);
        all.insert("Deployment api".into());
        eventually(120, "web moves from b to c, and b is emptied", &log, || async {
            let now = (carried(&bed, "b").await, carried(&bed, "c").await);
            let ok = ready(&bed, "c", "web", 2).await;
            if ok && now == (set(&[]), all.clone()) {
                Ok(())
            } else {
                Err(format!("{now:?}"))
            }
        })
        .await;
        let b = bed.client("b").await.expect("b client");
        Api::<Service>::namespaced(b, "shop")
            .get("theirs")
            .await
            .expect("another tool's Service in b is left alone");
        let replicas = created_at(&bed, "c", "Deployment", "web").await;
        assert!(
            created_at(&bed, "c", "ConfigMap", "shared").await < replicas,
            "the shared ConfigMap stayed in c, made for api long before web came"
        );
        made_before_web(&bed, "c", &[("ConfigMap", "web-config")]).await;
        eventually_load_balancers(&bed, &log, &["c"], "us-east-1").await;
    });
    drop(moto);
}

/// The scheduling-gate policy, as shipped for users to apply.
const HOLD_POLICY: &str = include_str!("../../../adapters/kube/deploy/hold-in-management.yaml");

#[test]
fn a_full_management_cluster_holds_the_pods_of_opted_in_workloads() {
    let roles = [
        (cluster("mgmt", "us-east-1", 2), Role::Workload),
        (cluster("east", "us-east-1", 2), Role::Workload),
    ];
    let (runtime, bed, kubeconfig, log) = start(&roles);
    runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        for document in HOLD_POLICY.split("\n---\n") {
            let object: serde_json::Value = serde_norway::from_str(document).expect("the policy reads");
            put(&mgmt, &object).await;
        }
        for ns in ["fleetplan-system", "shop"] {
            put(&mgmt, &namespace(ns)).await;
        }
        // The policy is in force once a dry-run pod comes back gated.
        let pods: Api<Pod> = Api::namespaced(mgmt.clone(), "shop");
        let probe: Pod = serde_json::from_value(json!({"metadata": {"name": "probe",
            "labels": {"fleetplan.io/schedule": "true"}}, "spec": {"containers": [{"name": "c", "image": "c"}]}}))
        .expect("probe");
        let dry_run = kube::api::PostParams { dry_run: true, ..Default::default() };
        eventually(60, "the hold policy is in force", &log, || async {
            let created = pods.create(&dry_run, &probe).await.map_err(|e| e.to_string())?;
            let gated = created.spec.and_then(|s| s.scheduling_gates).unwrap_or_default();
            if gated.iter().any(|g| g.name == "fleetplan.io/multi-cluster") { Ok(()) } else { Err("not gated".into()) }
        })
        .await;
        put(&mgmt, &registration(&kubeconfig, "east", "us-east-1")).await;
        let mut web = deployment(
            "web",
            "us-east-1",
            2,
            json!({"containers": [{"name": "web", "image": "nginx",
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}),
        );
        web["spec"]["template"]["metadata"]["labels"]["fleetplan.io/schedule"] = json!("true");
        put(&mgmt, &web).await;
    });
    let _controller = controller(bed.kubeconfig(), &log, &["--management-mode", "cluster"]);
    runtime.block_on(async {
        eventually(120, "web runs in east", &log, || async {
            if ready(&bed, "east", "web", 2).await {
                Ok(())
            } else {
                Err("not 2 ready".into())
            }
        })
        .await;
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        let pods = Api::<Pod>::namespaced(mgmt.clone(), "shop")
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("pods");
        assert_eq!(
            pods.items.len(),
            2,
            "the management cluster's Deployment controller made its pods"
        );
        for pod in &pods.items {
            let status = pod.status.clone().unwrap_or_default();
            assert_eq!(status.phase.as_deref(), Some("Pending"), "{pod:?}");
            let gates = pod
                .spec
                .as_ref()
                .and_then(|s| s.scheduling_gates.clone())
                .unwrap_or_default();
            assert!(
                gates.iter().any(|g| g.name == "fleetplan.io/multi-cluster"),
                "{pod:?}"
            );
            assert!(
                pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none(),
                "never bound to a node"
            );
        }
        // Its status stays the Deployment controller's: no replica is ready there.
        let source = Api::<Deployment>::namespaced(mgmt, "shop")
            .get("web")
            .await
            .expect("web");
        let status = source.status.unwrap_or_default();
        assert_eq!(status.ready_replicas.unwrap_or(0), 0, "{status:?}");
    });
}

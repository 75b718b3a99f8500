//! `fleetplan apply` end to end on the local test bed: three workload clusters, one Deployment
//! of 6 replicas and a Job of parallelism 4 and 8 completions. The plan lands, the Job's
//! copies split its parallelism and completions, and the Deployment's pods reach Running; a
//! second apply writes nothing;
//! owned copies no longer planned are pruned and foreign objects are left alone; a cluster
//! whose API server is down fails alone. With `--dns route53` (against moto and the bed's
//! load balancer stand-in) the records follow the plan, a drained cluster's weight reaching 0
//! before its copy shrinks. Needs `FLEETPLAN_TESTBED_BIN` (set by
//! `scripts/test`); without it the test fails with the command to build the bed, never skips.

mod bed;
mod route53;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use fleetplan_testbed::TestBed;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};

const FLEET: &str = r#"
apiVersion: fleetplan.io/v1
kind: Fleet
clusters:
  - name: east
    region: us-east-1
    pools: [{name: general, count: 2, allocatable: {cpu: "4", memory: 16Gi, pods: 110}}]
  - name: west
    region: us-west-2
    pools: [{name: general, count: 2, allocatable: {cpu: "4", memory: 16Gi, pods: 110}}]
  - name: europe
    region: eu-west-1
    pools: [{name: general, count: 2, allocatable: {cpu: "4", memory: 16Gi, pods: 110}}]
"#;

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {fleetplan.io/strategy: spread}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx
          resources: {requests: {cpu: 250m, memory: 128Mi}}
"#;

const JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: report, namespace: batch}
spec:
  parallelism: 4
  completions: 8
  template:
    metadata: {labels: {app: report}}
    spec:
      restartPolicy: Never
      containers:
        - name: report
          image: busybox
          resources: {requests: {cpu: 500m, memory: 256Mi}}
"#;

fn apply(scenario: &Path, kubeconfig: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .arg("apply")
        .arg(scenario)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(extra)
        .output()
        .expect("fleetplan runs")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The report line of `cluster`: `[created, updated, unchanged, pruned]` and the status.
fn report(output: &Output, cluster: &str) -> (Vec<u32>, String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(cluster))
        .unwrap_or_else(|| panic!("no line for {cluster}: {}", text(output)));
    let fields: Vec<&str> = line.split_whitespace().collect();
    let counts = fields[1..5].iter().map(|f| f.parse().expect("a count")).collect();
    (counts, fields[5..].join(" "))
}

fn owned(name: &str, namespace: &str, managed: bool) -> serde_json::Value {
    let mut labels = serde_json::json!({"app": name});
    if managed {
        labels["fleetplan.io/managed-by"] = "fleetplan".into();
    }
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        }
    })
}

#[test]
fn apply_lands_the_plan_prunes_only_its_own_and_survives_a_dead_cluster() {
    let binaries = bed::binaries();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("fleet")).expect("fleet dir");
    std::fs::create_dir_all(dir.path().join("apps")).expect("apps dir");
    std::fs::write(dir.path().join("fleet/fleet.yaml"), FLEET).expect("fleet written");
    std::fs::write(dir.path().join("apps/web.yaml"), format!("{WEB}---\n{JOB}")).expect("apps written");
    let scenario = fleetplan_kube::load_scenario(dir.path()).expect("a valid scenario");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut bed = runtime
        .block_on(TestBed::start(&scenario.problem.clusters, &binaries))
        .expect("the bed starts");
    let kubeconfig = bed.kubeconfig().to_path_buf();

    // A foreign Deployment and a stale copy of fleetplan's in `east`.
    runtime.block_on(async {
        let client = bed.client("east").await.expect("client");
        let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        let params = PatchParams::apply("test").force();
        let namespace =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}});
        ns.patch("other", &params, &Patch::Apply(&namespace))
            .await
            .expect("namespace");
        let api: Api<Deployment> = Api::namespaced(client, "other");
        for (name, managed) in [("foreign", false), ("stale", true)] {
            api.patch(name, &params, &Patch::Apply(&owned(name, "other", managed)))
                .await
                .expect("deployment");
        }
    });

    let first = apply(dir.path(), &kubeconfig, &[]);
    assert!(first.status.success(), "{}", text(&first));
    let created: u32 = ["east", "west", "europe"]
        .iter()
        .map(|c| report(&first, c).0[0])
        .sum();
    // The Job's copies split its parallelism and its completions.
    let jobs = runtime.block_on(async {
        let mut copies = Vec::new();
        for cluster in ["east", "west", "europe"] {
            let api: Api<k8s_openapi::api::batch::v1::Job> =
                Api::namespaced(bed.client(cluster).await.expect("client"), "batch");
            if let Some(job) = api.get_opt("report").await.expect("get") {
                let spec = job.spec.expect("spec");
                copies.push((spec.parallelism.unwrap_or(0), spec.completions.unwrap_or(0)));
            }
        }
        copies
    });
    assert!(!jobs.is_empty(), "the Job is copied");
    assert_eq!(jobs.iter().map(|j| j.0).sum::<i32>(), 4, "{jobs:?}");
    assert_eq!(jobs.iter().map(|j| j.1).sum::<i32>(), 8, "{jobs:?}");
    assert_eq!(created as usize, 3 + jobs.len(), "{}", text(&first));
    assert_eq!(
        report(&first, "east").0[3],
        1,
        "the stale copy is pruned: {}",
        text(&first)
    );

    runtime.block_on(async {
        let mut total = 0;
        for cluster in ["east", "west", "europe"] {
            let client = bed.client(cluster).await.expect("client");
            let api: Api<Deployment> = Api::namespaced(client, "shop");
            let web = api.get("web").await.expect("web copied");
            let labels = web.metadata.labels.clone().unwrap_or_default();
            assert_eq!(
                labels.get("fleetplan.io/source-name").map(String::as_str),
                Some("web")
            );
            let annotations = web.metadata.annotations.clone().unwrap_or_default();
            assert!(
                !annotations.contains_key("fleetplan.io/strategy"),
                "{annotations:?}"
            );
            total += web.spec.replicas.unwrap_or(0);
        }
        assert_eq!(total, 6);
        let east = bed.client("east").await.expect("client");
        let other: Api<Deployment> = Api::namespaced(east, "other");
        assert!(
            other.get_opt("foreign").await.expect("get").is_some(),
            "foreign objects stay"
        );
        assert!(
            other.get_opt("stale").await.expect("get").is_none(),
            "stale copies go"
        );
        // Every replica reaches Running.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let mut running = 0;
            for cluster in ["east", "west", "europe"] {
                let pods: Api<Pod> = Api::namespaced(bed.client(cluster).await.expect("client"), "shop");
                let list = pods
                    .list(&ListParams::default().labels("app=web"))
                    .await
                    .expect("pods");
                running += list
                    .items
                    .iter()
                    .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                    .count();
            }
            if running == 6 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{running} of 6 pods Running after 90 s"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });

    // The same plan again writes nothing.
    let second = apply(dir.path(), &kubeconfig, &[]);
    assert!(second.status.success(), "{}", text(&second));
    for cluster in ["east", "west", "europe"] {
        let (counts, status) = report(&second, cluster);
        assert_eq!(
            (counts[0], counts[1], counts[3]),
            (0, 0, 0),
            "{cluster}: {}",
            text(&second)
        );
        assert!(counts[2] >= 1, "{cluster}: {}", text(&second));
        assert_eq!(status, "applied");
    }

    // A dead cluster fails alone, within the timeout, and the others stay applied.
    bed.stop_api_server("europe").expect("stop europe");
    let third = apply(dir.path(), &kubeconfig, &["--timeout", "5", "--wait", "20"]);
    assert_eq!(third.status.code(), Some(1), "{}", text(&third));
    assert!(
        report(&third, "europe").1.starts_with("failed"),
        "{}",
        text(&third)
    );
    assert_eq!(report(&third, "east").1, "applied", "{}", text(&third));
    assert_eq!(report(&third, "west").1, "applied", "{}", text(&third));
}

const DNS_FLEET: &str = r#"
apiVersion: fleetplan.io/v1
kind: Fleet
clusters:
  - name: a
    region: us-west-2
    pools: [{name: general, count: 2, allocatable: {cpu: "4", memory: 16Gi, pods: 110}}]
  - name: b
    region: us-west-2
    health: HEALTH_B
    pools: [{name: general, count: 2, allocatable: {cpu: "4", memory: 16Gi, pods: 110}}]
"#;

/// A Service and an Ingress for `WEB`, of class `alb`, serving shop.example.com.
const ROUTED: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
    alb.ingress.kubernetes.io/scheme: internet-facing
    fleetplan.io/dns-ttl: "2"
spec:
  ingressClassName: alb
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"#;

/// `fleetplan apply --dns route53` on the bed with moto: once the Ingress copies show their
/// load balancers, the records land as planned; draining `b` (its health in the fleet file)
/// sets its weight to 0 before its copy shrinks, and its record goes after.
#[test]
fn apply_brings_the_route53_records_along_and_lowers_a_drained_cluster_first() {
    use route53::{create_zone, moto_env, rows};
    let binaries = bed::binaries();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("fleet")).expect("fleet dir");
    std::fs::create_dir_all(dir.path().join("apps")).expect("apps dir");
    let fleet = |health: &str| {
        std::fs::write(
            dir.path().join("fleet/fleet.yaml"),
            DNS_FLEET.replace("HEALTH_B", health),
        )
        .expect("fleet written");
    };
    fleet("Ready");
    let apps = format!("{}---\n{ROUTED}", WEB.replace("replicas: 6", "replicas: 4"));
    std::fs::write(dir.path().join("apps/web.yaml"), apps).expect("apps written");
    let scenario = fleetplan_kube::load_scenario(dir.path()).expect("a valid scenario");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut bed = runtime
        .block_on(TestBed::start(&scenario.problem.clusters, &binaries))
        .expect("the bed starts");
    let moto = runtime.block_on(bed::moto_with_load_balancers(&mut bed));
    let route53 = aws_sdk_route53::Client::new(&runtime.block_on(moto.sdk_config("us-east-1")));
    let zone = runtime.block_on(create_zone(&route53, "example.com"));
    let kubeconfig = bed.kubeconfig().to_path_buf();
    let env = moto_env(&moto.endpoint());
    let dns_apply = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fleetplan"));
        command
            .arg("apply")
            .arg(dir.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--dns", "route53", "--dns-owner", "apply", "--wait", "60"])
            .envs(env.iter().map(|(k, v)| (k, v)));
        command
    };
    let weights = || -> Vec<(String, Option<i64>)> {
        runtime
            .block_on(rows(&route53, &zone))
            .into_iter()
            .filter(|r| r.3.is_some())
            .map(|r| {
                (
                    r.2.unwrap_or_default()
                        .rsplit('-')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    r.3,
                )
            })
            .collect()
    };

    // Until both copies show a load balancer, their clusters get no record; then they do.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = dns_apply().output().expect("runs");
        assert!(out.status.success(), "{}", text(&out));
        if weights() == [("a".to_string(), Some(128)), ("b".to_string(), Some(127))] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "records: {:?}\n{}",
            weights(),
            text(&out)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let latency: Vec<Option<String>> = runtime
        .block_on(rows(&route53, &zone))
        .into_iter()
        .filter(|r| r.0 == "shop.example.com")
        .map(|r| r.4)
        .collect();
    assert_eq!(latency, [Some("us-west-2".to_string())]);

    // Drain b: weight 0 first, then the shrink, then the record goes.
    fleet("Draining");
    let copy_in_b = || {
        runtime.block_on(async {
            let client = bed.client("b").await.expect("client");
            Api::<Deployment>::namespaced(client, "shop")
                .get_opt("web")
                .await
                .expect("reads")
                .map(|d| d.spec.replicas.unwrap_or(0))
        })
    };
    let start = copy_in_b().expect("b holds web");
    let mut child = dns_apply()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let began = Instant::now();
    let (mut zero_at, mut shrunk_at) = (None, None);
    while child.try_wait().expect("waits").is_none() {
        let b = weights().into_iter().find(|(c, _)| c == "b").map(|(_, w)| w);
        if b == Some(Some(0)) {
            zero_at.get_or_insert(began.elapsed());
        }
        if copy_in_b().is_none_or(|r| r < start) {
            shrunk_at.get_or_insert(began.elapsed());
        }
        assert!(began.elapsed() < Duration::from_secs(120), "apply did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("waiting 2 s"),
        "{}",
        text(&out)
    );
    assert!(
        zero_at.is_some() && zero_at < shrunk_at,
        "b at weight 0 at {zero_at:?}, its copy shrunk at {shrunk_at:?}\n{}",
        text(&out)
    );
    assert_eq!(weights(), [("a".to_string(), Some(255))], "b's record goes last");
    drop(bed);
}

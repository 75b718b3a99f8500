//! End-to-end tests of the test bed against the real control-plane binaries. They need
//! `FLEETPLAN_TESTBED_BIN` (set by `scripts/test`); without it they fail with the command to
//! build the binaries, they never skip.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleetplan::fargate::{FargateProfile, FargateSelector, PROFILE_LABEL};
use fleetplan::{Cluster, NodePool, Resources};
use fleetplan_testbed::{Binaries, TestBed, fargate};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};

fn binaries() -> Binaries {
    Binaries::from_env().unwrap_or_else(|e| panic!("the test bed is required: {e}"))
}

fn cluster(name: &str, region: &str) -> Cluster {
    let mut c = Cluster::new(name, region);
    for zone in ["a", "b"] {
        let mut pool = NodePool::uniform(
            &format!("general-{zone}"),
            2,
            Resources::new()
                .with("cpu", 4000)
                .with("memory", 16 << 30)
                .with("pods", 110),
        );
        pool.zone = Some(format!("{region}{zone}"));
        c.pools.push(pool);
    }
    c
}

/// A Deployment of `replicas` pods labelled `app: <name>` and `labels`.
fn deployment(namespace: &str, name: &str, replicas: i32, labels: &[(&str, &str)]) -> serde_json::Value {
    let mut pod_labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    pod_labels.insert("app", name);
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": [{
                    "name": "web", "image": "nginx",
                    "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}
                }]}
            }
        }
    })
}

/// Applies `deployment` (and its namespace) and waits up to 90 s for its pods to be Running;
/// returns the Running pods.
async fn run(client: &kube::Client, deployment: &serde_json::Value) -> Vec<Pod> {
    let namespace = deployment["metadata"]["namespace"].as_str().expect("namespace");
    let name = deployment["metadata"]["name"].as_str().expect("name");
    let replicas = deployment["spec"]["replicas"].as_u64().expect("replicas");
    let apply = PatchParams::apply("fleetplan-test");
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    Api::<Namespace>::all(client.clone())
        .patch(namespace, &apply, &Patch::Apply(&ns))
        .await
        .expect("namespace");
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .patch(name, &apply, &Patch::Apply(deployment))
        .await
        .expect("apply the deployment");
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut running = Vec::new();
    while Instant::now() < deadline {
        running = running_pods(&pods, name).await;
        if running.len() as u64 == replicas {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(running.len() as u64, replicas, "{namespace}/{name}: pods Running");
    running
}

fn node_name(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .expect("bound to a node")
}

async fn running_pods(pods: &Api<Pod>, app: &str) -> Vec<Pod> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    list.into_iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .collect()
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; count only processes that have not exited.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.split_whitespace().nth(2).is_none_or(|state| state != "Z"))
        .unwrap_or(false)
}

fn assert_all_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "processes of the bed still running: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clusters_run_a_deployment_survive_an_api_outage_and_leave_nothing_behind() {
    let clusters = [
        cluster("east-a", "us-east-1"),
        cluster("east-b", "us-east-1"),
        cluster("west-a", "us-west-2"),
    ];
    let started = Instant::now();
    let mut bed = TestBed::start(&clusters, &binaries())
        .await
        .expect("the bed starts");
    eprintln!("3 clusters ready in {:.1} s", started.elapsed().as_secs_f64());
    let infos = bed.clusters();
    assert_eq!(infos.iter().map(|c| c.nodes).collect::<Vec<_>>(), [4, 4, 4]);

    // The merged kubeconfig has one context per cluster.
    let kubeconfig = std::fs::read_to_string(bed.kubeconfig()).expect("kubeconfig");
    for name in ["east-a", "east-b", "west-a"] {
        assert!(
            kubeconfig.contains(&format!("\"name\": \"{name}\"")),
            "{kubeconfig}"
        );
    }

    // A Deployment applied with kube-rs gets its pods scheduled onto simulated nodes and Running.
    let client = bed.client("east-b").await.expect("client");
    let running = run(&client, &deployment("shop", "web", 5, &[])).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for pod in &running {
        let node = node_name(pod);
        assert!(
            node.starts_with("general-"),
            "bound to a simulated node, got {node}"
        );
        *per_node.entry(node).or_default() += 1;
    }
    eprintln!("pods per node: {per_node:?}");

    // Stopping the API server makes clients fail fast; restarting it recovers.
    bed.stop_api_server("east-b").expect("stop");
    let asked = Instant::now();
    let failed = deployments.get("web").await;
    assert!(failed.is_err(), "the API server is down");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "failed after {:?}",
        asked.elapsed()
    );
    // The other clusters are unaffected.
    let west = bed.client("west-a").await.expect("client");
    Api::<Namespace>::all(west)
        .get("default")
        .await
        .expect("west-a still answers");
    let restarted = Instant::now();
    bed.start_api_server("east-b").await.expect("restart");
    eprintln!("API server back in {:.1} s", restarted.elapsed().as_secs_f64());
    let web = deployments
        .get("web")
        .await
        .expect("the deployment survived in etcd");
    assert_eq!(web.spec.replicas, Some(5));

    let pids = bed.pids();
    assert_eq!(pids.len(), 1 + 3 * 4, "etcd plus four processes per cluster");
    let dir = bed.dir().to_path_buf();
    drop(bed);
    assert_all_gone(&pids);
    assert!(!dir.exists(), "the bed's folder is removed");
}

/// EKS's Fargate, stood in for on the bed: pods a profile takes run on the virtual Fargate
/// nodes labelled with their profile (the first by name when two match); other pods go to the
/// node groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fargate_profiles_take_their_pods_to_fargate_nodes() {
    let mut east = Cluster::new("east", "us-east-1");
    east.pools.push(NodePool::uniform(
        "system",
        1,
        Resources::new()
            .with("cpu", 4000)
            .with("memory", 16 << 30)
            .with("pods", 110),
    ));
    let profile = |name: &str, namespace: &str, labels: &[(&str, &str)]| {
        NodePool::fargate(FargateProfile {
            name: name.into(),
            selectors: vec![FargateSelector {
                namespace: namespace.into(),
                labels: labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            }],
            zones: Vec::new(),
        })
    };
    east.pools.push(profile("fp-shop", "sh?p", &[]));
    east.pools.push(profile("fp-batch", "*", &[("compute", "far*")]));
    let bed = TestBed::start(&[east], &binaries())
        .await
        .expect("the bed starts");
    assert_eq!(bed.clusters()[0].nodes, 1 + fargate::FARGATE_NODES as usize);
    let client = bed.client("east").await.expect("client");

    let on = |pods: &[Pod]| -> Vec<(String, Option<String>)> {
        pods.iter()
            .map(|p| {
                let node = node_name(p);
                let kind = if node.starts_with("fargate-ip-") {
                    "fargate".into()
                } else {
                    node
                };
                let profile = p
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(PROFILE_LABEL).cloned());
                (kind, profile)
            })
            .collect()
    };
    let fargate = |profile: &str| ("fargate".to_string(), Some(profile.to_string()));
    let web = run(&client, &deployment("shop", "web", 2, &[])).await;
    assert_eq!(on(&web), vec![fargate("fp-shop"); 2]);
    // Both profiles match; `fp-batch` comes first by name.
    let report = run(
        &client,
        &deployment("shop", "report", 2, &[("compute", "fargate")]),
    )
    .await;
    assert_eq!(on(&report), vec![fargate("fp-batch"); 2]);
    let ops = run(&client, &deployment("ops", "shipper", 2, &[])).await;
    assert_eq!(on(&ops), vec![("system-0".to_string(), None); 2]);
}

#[test]
fn a_panicking_test_leaves_no_process_behind() {
    let pids: Arc<Mutex<Vec<u32>>> = Arc::default();
    let seen = Arc::clone(&pids);
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let bed = TestBed::start(&[cluster("solo", "eu-west-1")], &binaries())
                .await
                .expect("the bed starts");
            *seen.lock().expect("lock") = bed.pids();
            panic!("a test fails while the bed runs");
        })
    })
    .join();
    assert!(outcome.is_err(), "the thread panicked");
    let pids = pids.lock().expect("lock").clone();
    assert_eq!(pids.len(), 5);
    assert_all_gone(&pids);
}

#[test]
fn missing_binaries_give_the_command_that_builds_them() {
    let err = Binaries::in_dir(Path::new("/nonexistent")).expect_err("no binaries there");
    assert!(err.to_string().contains("adapters/testbed/build.sh"), "{err}");
}

/// The ELBv2 load balancers moto holds in `region`, with their tags: `(name, dns, tags)`.
async fn load_balancers_in(endpoint: &str, region: &str) -> Vec<(String, String, BTreeMap<String, String>)> {
    use aws_sdk_elasticloadbalancingv2::config::Credentials;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let out = elbv2
        .describe_load_balancers()
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let mut found = Vec::new();
    for lb in out.load_balancers.unwrap_or_default() {
        let arn = lb.load_balancer_arn.clone().unwrap_or_default();
        let tags = elbv2
            .describe_tags()
            .resource_arns(&arn)
            .send()
            .await
            .expect("DescribeTags");
        let tags: BTreeMap<String, String> = tags
            .tag_descriptions
            .unwrap_or_default()
            .into_iter()
            .flat_map(|d| d.tags.unwrap_or_default())
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect();
        found.push((
            lb.load_balancer_name.unwrap_or_default(),
            lb.dns_name.unwrap_or_default(),
            tags,
        ));
    }
    found
}

/// The hostname the stand-in wrote on an Ingress, once it has.
async fn ingress_hostname(client: &kube::Client, namespace: &str, name: &str) -> Option<String> {
    let ingresses: Api<k8s_openapi::api::networking::v1::Ingress> =
        Api::namespaced(client.clone(), namespace);
    let ingress = ingresses.get_opt(name).await.ok()??;
    ingress.status?.load_balancer?.ingress?.first()?.hostname.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alb_ingresses_get_an_elbv2_load_balancer_in_the_clusters_region() {
    use fleetplan_testbed::load_balancers::{CLUSTER_TAG, STACK_TAG, load_balancer_name};
    let moto = fleetplan_testbed::MotoServer::start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let clusters = [cluster("east", "us-east-1"), cluster("west", "eu-west-1")];
    let mut bed = TestBed::start(&clusters, &binaries())
        .await
        .expect("the bed starts");
    bed.run_load_balancers(&moto.endpoint())
        .await
        .expect("the stand-in starts");
    let apply = PatchParams::apply("fleetplan-test");
    let ingress = |class: &str, name: &str| {
        serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "default",
                         "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
            "spec": {"ingressClassName": class, "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}
        })
    };
    for (c, region) in [("east", "us-east-1"), ("west", "eu-west-1")] {
        let client = bed.client(c).await.expect("client");
        let ingresses: Api<k8s_openapi::api::networking::v1::Ingress> =
            Api::namespaced(client.clone(), "default");
        for (class, name) in [("alb", "web"), ("nginx", "other")] {
            ingresses
                .patch(name, &apply, &Patch::Apply(ingress(class, name)))
                .await
                .expect("apply an Ingress");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let hostname = loop {
            if let Some(hostname) = ingress_hostname(&client, "default", "web").await {
                break hostname;
            }
            assert!(
                Instant::now() < deadline,
                "no load balancer on {c}'s Ingress after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let name = load_balancer_name(c, "default", "web", "internet-facing");
        let balancers = load_balancers_in(&moto.endpoint(), region).await;
        assert_eq!(
            balancers.len(),
            1,
            "one load balancer in {region}, none for nginx: {balancers:?}"
        );
        let (found, dns, tags) = &balancers[0];
        assert_eq!(
            (found, dns),
            (&name, &hostname),
            "the Ingress shows the load balancer's DNS name"
        );
        assert!(dns.ends_with(&format!(".{region}.elb.amazonaws.com")), "{dns}");
        assert_eq!(tags.get(CLUSTER_TAG).map(String::as_str), Some(c));
        assert_eq!(tags.get(STACK_TAG).map(String::as_str), Some("default/web"));
        assert_eq!(
            ingress_hostname(&client, "default", "other").await,
            None,
            "nginx is not served"
        );
    }
    // Deleted with its Ingress.
    let east = bed.client("east").await.expect("client");
    Api::<k8s_openapi::api::networking::v1::Ingress>::namespaced(east, "default")
        .delete("web", &Default::default())
        .await
        .expect("delete the Ingress");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !load_balancers_in(&moto.endpoint(), "us-east-1").await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the load balancer outlived its Ingress by 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        load_balancers_in(&moto.endpoint(), "eu-west-1").await.len(),
        1,
        "the other cluster's stays"
    );
}

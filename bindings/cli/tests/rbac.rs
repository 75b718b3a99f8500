//! `fleetplan controller` under RBAC on the local test bed (its API servers run with RBAC
//! on): as a user allowed nothing it fails with a clear "forbidden" error; with the RBAC
//! manifests of `adapters/kube/deploy/` applied to the management and workload clusters, a
//! pass succeeds and places the opted-in Deployment. Credentials never appear in its logs.
//! Needs `FLEETPLAN_TESTBED_BIN` (set by `scripts/test`); without it the test fails with the
//! command to build the bed, never skips.

mod bed;

use std::path::Path;
use std::process::{Command, Output};

use bed::{cluster, namespace, put, registration};
use fleetplan_testbed::TestBed;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::Api;
use kube::config::Kubeconfig;

/// Applies every document of an RBAC manifest.
async fn apply_manifest(client: &Client, file: &Path) {
    let text = std::fs::read_to_string(file).expect("manifest");
    for document in serde_norway::Deserializer::from_str(&text) {
        let value: serde_json::Value = serde::Deserialize::deserialize(document).expect("YAML");
        put(client, &value).await;
    }
}

fn once(kubeconfig: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args(["controller", "--once", "--context", "mgmt", "--kubeconfig"])
        .arg(kubeconfig)
        .output()
        .expect("fleetplan runs")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The bearer tokens of a kubeconfig (the bed writes them as JSON).
fn tokens(kubeconfig: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(kubeconfig).expect("kubeconfig");
    let config: serde_json::Value = serde_json::from_str(&text).expect("JSON kubeconfig");
    config["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["user"]["token"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_controller_needs_the_rbac_manifests_and_works_with_them() {
    let binaries = bed::binaries();
    let clusters = [
        cluster("mgmt", "us-east-1", 0),
        cluster("east", "us-east-1", 2),
        cluster("west", "us-east-1", 2),
    ];
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let bed = runtime
        .block_on(TestBed::start(&clusters, &binaries))
        .expect("the bed starts");
    let restricted = bed.restricted_kubeconfig();
    let restricted_config = Kubeconfig::read_from(&restricted).expect("restricted kubeconfig");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../adapters/kube/deploy");

    runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        for ns in ["fleetplan-system", "shop"] {
            put(&mgmt, &namespace(ns)).await;
        }
        for name in ["east", "west"] {
            put(&mgmt, &registration(&restricted_config, name, "us-east-1")).await;
        }
        let web = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web", "fleetplan.io/schedule": "true"}},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                    "name": "web", "image": "nginx", "resources": {"requests": {"cpu": "250m"}}}]}}}
        });
        put(&mgmt, &web).await;
    });

    let mut secrets = tokens(bed.kubeconfig());
    secrets.extend(tokens(&restricted));
    let no_secrets = |output: &Output| {
        let all = text(output);
        for secret in &secrets {
            assert!(!all.contains(secret.as_str()), "a token in the logs:\n{all}");
        }
    };

    // Allowed nothing: a clear error, nothing applied.
    let denied = once(&restricted);
    assert_eq!(denied.status.code(), Some(2), "{}", text(&denied));
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.contains("cluster registrations") && stderr.contains("forbidden"),
        "{}",
        text(&denied)
    );
    no_secrets(&denied);

    // The management cluster's RBAC alone: the workload clusters still refuse.
    runtime.block_on(async {
        apply_manifest(
            &bed.client("mgmt").await.expect("client"),
            &root.join("rbac-management.yaml"),
        )
        .await;
    });
    let half = once(&restricted);
    assert_eq!(half.status.code(), Some(1), "{}", text(&half));
    assert!(
        String::from_utf8_lossy(&half.stderr).contains("forbidden"),
        "{}",
        text(&half)
    );
    no_secrets(&half);

    // Both: the pass places the Deployment.
    runtime.block_on(async {
        for name in ["east", "west"] {
            apply_manifest(
                &bed.client(name).await.expect("client"),
                &root.join("rbac-workload.yaml"),
            )
            .await;
        }
    });
    let allowed = once(&restricted);
    assert!(allowed.status.success(), "{}", text(&allowed));
    no_secrets(&allowed);
    runtime.block_on(async {
        let mut total = 0;
        for name in ["east", "west"] {
            let api: Api<Deployment> = Api::namespaced(bed.client(name).await.expect("client"), "shop");
            total += api.get("web").await.expect("copied").spec.replicas.unwrap_or(0);
        }
        assert_eq!(total, 4);
        // The manifest lets it set the source's condition.
        let mgmt = bed.client("mgmt").await.expect("client");
        let source = Api::<Deployment>::namespaced(mgmt, "shop")
            .get("web")
            .await
            .expect("source");
        let conditions = source.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(
            conditions
                .iter()
                .any(|c| c.type_.as_deref() == Some("FleetplanPlaced") && c.status.as_deref() == Some("True")),
            "{conditions:?}"
        );
    });

    // Leader election works with the manifests too: the Lease is created and held.
    let log = bed.dir().join("restricted-controller.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args([
            "controller",
            "--context",
            "mgmt",
            "--interval",
            "0.5",
            "--kubeconfig",
        ])
        .arg(&restricted)
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("fleetplan runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut text = String::new();
    while std::time::Instant::now() < deadline && !text.contains("pass done") {
        std::thread::sleep(std::time::Duration::from_millis(200));
        text = std::fs::read_to_string(&log).unwrap_or_default();
    }
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let status = child.wait().expect("exits");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{status}: {text}");
    assert!(text.contains("leading") && text.contains("pass done"), "{text}");
    assert!(!text.contains("leader election failed"), "{text}");
}

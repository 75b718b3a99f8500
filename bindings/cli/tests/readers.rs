//! End-to-end tests of how `fleetplan plan` reads real-world folders: kubectl node dumps
//! whose nodes take no pods (not Ready, cordoned, tainted) explain exactly why; a
//! kustomization is rendered with kubectl (and without kubectl on PATH the error says what to
//! run); a Helm chart is refused with the command that renders it; files that are not
//! manifests are warned about, one line each, and the plan still succeeds.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn plan(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .arg("plan")
        .arg(dir)
        .args(args)
        .output()
        .expect("the fleetplan binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, resources: {requests: {cpu: 100m}}}]
";

/// A kwok-style node as kwok's own example declares it: no `spec`, no conditions at all.
const KWOK_NODE: &str = "apiVersion: v1
kind: Node
metadata:
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: kwok-node-0, type: kwok}
  name: kwok-node-0
status:
  allocatable: {cpu: 32, memory: 256Gi, pods: 110}
";

/// A Ready node with `spec`.
fn node(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: v1
kind: Node
metadata:
  labels: {{kubernetes.io/hostname: {name}, type: kwok}}
  name: {name}
spec: {spec}
status:
  allocatable: {{cpu: 32, memory: 256Gi, pods: 110}}
  conditions: [{{type: Ready, status: 'True'}}]
"
    )
}

#[test]
fn reasons_name_the_nodes_that_take_no_pods_and_the_taints_not_tolerated() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cordoned = node(
        "n-cordoned",
        "{unschedulable: true, taints: [{key: node.kubernetes.io/unschedulable, effect: NoSchedule}]}",
    );
    let tainted = node(
        "n-gpu",
        "{taints: [{key: dedicated, value: gpu, effect: NoSchedule}]}",
    )
    .replace("type: kwok}", "type: kwok, fleetplan.io/pool: gpu}");
    write(
        &dir.path().join("fleet/kwok.yaml"),
        &format!("{KWOK_NODE}---\n{cordoned}---\n{tainted}"),
    );
    // A second cluster whose only node is tainted.
    write(&dir.path().join("fleet/gpus.yaml"), &tainted);
    write(
        &dir.path().join("fleet/_clusters.yaml"),
        "clusters: {kwok: {region: r1}, gpus: {region: r1}}\n",
    );
    write(&dir.path().join("apps/web.yaml"), WEB);

    let out = plan(dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("shop/web: 2 replica(s) unplaced\n"), "{text}");
    for (cluster, reason) in [
        (
            "gpus",
            "taint dedicated=gpu:NoSchedule on pool gpu is not tolerated",
        ),
        (
            "kwok",
            "node kwok-node-0 is not Ready; node n-cordoned is cordoned; \
             taint dedicated=gpu:NoSchedule on pool gpu is not tolerated",
        ),
    ] {
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{cluster} ")));
        assert_eq!(
            row.map(|l| l.trim_start().trim_start_matches(cluster).trim()),
            Some(reason),
            "{text}"
        );
    }

    let out = plan(dir.path(), &["-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    let codes: Vec<(&str, &str)> = json["unplaced"][0]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| {
            (
                r["cluster"].as_str().expect("a cluster"),
                r["code"].as_str().expect("a code"),
            )
        })
        .collect();
    assert_eq!(codes, [("gpus", "PoolTaint"), ("kwok", "NoNodes")]);
}

/// A scenario whose apps are a kustomization with a name prefix, a file beside it, and files
/// that are not manifests.
fn kustomized() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write(
        &dir.path().join("fleet/fleet.yaml"),
        "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- name: east\n  region: us-east-1\n  \
         pools: [{name: general, count: 2, allocatable: {cpu: '4'}}]\n",
    );
    write(
        &dir.path().join("apps/base/kustomization.yaml"),
        "namePrefix: prod-\nresources: [web.yaml]\n",
    );
    write(&dir.path().join("apps/base/web.yaml"), WEB);
    write(&dir.path().join("apps/notes.txt"), "to do\n");
    write(&dir.path().join("apps/web.yaml.bak"), WEB);
    write(&dir.path().join("apps/.DS_Store"), "x");
    write(&dir.path().join("fleet/README.md"), "# fleet\n");
    dir
}

#[test]
fn a_kustomization_is_rendered_and_other_files_are_warned_about() {
    let dir = kustomized();
    let out = plan(dir.path(), &["-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    assert_eq!(json["placements"][0]["workload"], "shop/prod-web");
    assert_eq!(json["summary"]["placed"], 2);
    let root = dir.path().display();
    assert_eq!(
        stderr(&out),
        format!(
            "warning: skipped {root}/fleet/README.md: not a .yaml, .yml or .json file\n\
             warning: skipped {root}/apps/notes.txt: not a .yaml, .yml or .json file\n\
             warning: skipped {root}/apps/web.yaml.bak: not a .yaml, .yml or .json file\n"
        )
    );
}

#[test]
fn without_kubectl_on_path_a_kustomization_says_what_to_run() {
    let dir = kustomized();
    let empty = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .arg("plan")
        .arg(dir.path())
        .env("PATH", empty.path())
        .output()
        .expect("the fleetplan binary runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    let base = dir.path().join("apps/base");
    let base = base.display();
    assert_eq!(
        stderr(&out),
        format!(
            "error: {base}: cannot render the kustomization with `kubectl kustomize {base}`: kubectl is not on \
             PATH; you may render it yourself (`kubectl kustomize {base} > apps.yaml`) and plan with that file\n"
        )
    );
}

#[test]
fn a_helm_chart_is_refused_with_the_command_that_renders_it() {
    let dir = kustomized();
    write(
        &dir.path().join("apps/shop/Chart.yaml"),
        "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
    );
    write(
        &dir.path().join("apps/shop/templates/web.yaml"),
        "{{- if .Values.web }}\napiVersion: apps/v1\nkind: Deployment\n{{- end }}\n",
    );
    let out = plan(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let chart = dir.path().join("apps/shop");
    assert_eq!(
        stderr(&out),
        format!(
            "error: {chart}: a Helm chart (it holds Chart.yaml), whose templates are not Kubernetes YAML until \
             rendered; render it first with `helm template RELEASE {chart} > apps.yaml` and plan with that file\n",
            chart = chart.display()
        )
    );
}

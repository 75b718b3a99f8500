//! Apps and fleet folders as repositories lay them out: a directory with a kustomization is
//! rendered with the real `kubectl kustomize` (so these tests need kubectl on PATH) and its
//! output read in place of its files; a Helm chart or an unrendered template is refused with
//! the `helm template` command to run; files that are not manifests are reported as skipped,
//! hidden ones aside.

use std::fs;
use std::path::Path;

use fleetplan_kube::{LoadError, SkipReason, load, read_app_files};

const FLEET: &str = "apiVersion: fleetplan.io/v1
kind: Fleet
clusters:
- name: east
  region: us-east-1
  pools: [{name: general, count: 2, allocatable: {cpu: '4', memory: 16Gi}}]
";

/// A Deployment `name` in namespace `shop` with `replicas`.
fn deployment(name: &str, replicas: i32) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: app, image: nginx, resources: {{requests: {{cpu: 100m}}}}}}]
"
    )
}

/// A scenario folder with one concise fleet file and the given apps files (`path`, `text`).
fn scenario(apps: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write(&dir.path().join("fleet/fleet.yaml"), FLEET);
    fs::create_dir_all(dir.path().join("apps")).expect("mkdir");
    for (path, text) in apps {
        write(&dir.path().join("apps").join(path), text);
    }
    dir
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

fn error(dir: &tempfile::TempDir, apps: &str) -> String {
    match load(&dir.path().join("fleet"), &dir.path().join(apps)) {
        Ok(_) => panic!("{apps} loads"),
        Err(e) => e.to_string().replace(&format!("{}/", dir.path().display()), ""),
    }
}

/// `(workload, replicas, template labels)` of every planned workload.
fn workloads(scenario: &fleetplan_kube::Scenario) -> Vec<(String, u32, String)> {
    scenario
        .problem
        .workloads
        .iter()
        .map(|w| {
            let labels: Vec<String> = w
                .template
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            (w.id.to_string(), w.replicas, labels.join(","))
        })
        .collect()
}

#[test]
fn kustomizations_are_rendered_with_kubectl_and_their_output_read() {
    let base = "namePrefix: prod-\ncommonLabels: {team: shop}\nresources: [web.yaml]\n";
    let dir = scenario(&[
        ("api.yaml", &deployment("api", 1)),
        ("overlay/kustomization.yaml", base),
        ("overlay/web.yaml", &deployment("web", 2)),
        // Not listed in the kustomization: kubectl leaves it out, and so is it here.
        ("overlay/unlisted.yaml", &deployment("unlisted", 1)),
    ]);
    let loaded = load(&dir.path().join("fleet"), &dir.path().join("apps")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        workloads(&loaded),
        [
            ("shop/api".into(), 1, "app=api".into()),
            ("shop/prod-web".into(), 2, "app=web,team=shop".into()),
        ]
    );
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);

    // The apps folder itself, and a kustomization file given as the apps path.
    for apps in ["apps/overlay", "apps/overlay/kustomization.yaml"] {
        let loaded =
            load(&dir.path().join("fleet"), &dir.path().join(apps)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            workloads(&loaded),
            [("shop/prod-web".into(), 2, "app=web,team=shop".into())],
            "{apps}"
        );
    }
    // The rendered output is named after its directory.
    let read = read_app_files(
        &dir.path().join("apps"),
        &mut fleetplan_kube::InputBudget::default(),
    )
    .expect("reads");
    let names: Vec<&Path> = read
        .files
        .iter()
        .map(|f| f.name.strip_prefix(dir.path()).expect("inside"))
        .collect();
    assert_eq!(names, [Path::new("apps/api.yaml"), Path::new("apps/overlay")]);
}

#[test]
fn every_kustomization_file_name_kustomize_knows_is_rendered() {
    for name in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
        let dir = scenario(&[
            (
                &format!("base/{name}") as &str,
                "nameSuffix: -v2\nresources: [web.yaml]\n",
            ),
            ("base/web.yaml", &deployment("web", 1)),
        ]);
        let loaded = load(&dir.path().join("fleet"), &dir.path().join("apps"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(workloads(&loaded)[0].0, "shop/web-v2", "{name}");
    }
}

#[test]
fn errors_in_rendered_output_name_the_kustomization_directory() {
    let dir = scenario(&[
        ("base/kustomization.yaml", "resources: [web.yaml]\n"),
        ("base/web.yaml", &deployment("web", -1)),
    ]);
    assert_eq!(
        error(&dir, "apps"),
        "apps/base: Deployment shop/web: spec.replicas: must not be negative (got -1)"
    );
}

#[test]
fn a_failing_kustomization_names_the_command_and_what_kubectl_said() {
    let dir = scenario(&[("base/kustomization.yaml", "resources: [missing.yaml]\n")]);
    let message = error(&dir, "apps");
    let expected = "apps/base: cannot render the kustomization with `kubectl kustomize apps/base`: \
                    kubectl failed (exit status: 1): ";
    assert!(message.starts_with(expected), "{message}");
    assert!(message.contains("missing.yaml"), "kubectl's stderr: {message}");
    assert!(
        message.ends_with(
            "; you may render it yourself (`kubectl kustomize apps/base > apps.yaml`) and plan with that file"
        ),
        "{message}"
    );
    let Err(LoadError::Kustomize { dir: failed, .. }) = read_app_files(
        &dir.path().join("apps"),
        &mut fleetplan_kube::InputBudget::default(),
    ) else {
        panic!("expected a kustomize error")
    };
    assert_eq!(failed, dir.path().join("apps/base"));
}

#[test]
fn a_helm_chart_is_refused_with_the_command_that_renders_it() {
    let template = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"shop.fullname\" . }}\n\
                    spec:\n  replicas: {{ .Values.replicaCount }}\n";
    let dir = scenario(&[
        ("shop/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 0.1.0\n"),
        ("shop/values.yaml", "replicaCount: 2\n"),
        ("shop/templates/deployment.yaml", template),
        ("loose/deployment.yaml", template),
    ]);
    let hint = |chart: &str| {
        format!(
            "this looks like an unrendered Helm template (line 4: `{{{{ include \"shop.fullname\" . }}}}`); render it first with `helm template RELEASE {chart} > apps.yaml` and plan with that file"
        )
    };
    assert_eq!(
        error(&dir, "apps"),
        "apps/shop: a Helm chart (it holds Chart.yaml), whose templates are not Kubernetes YAML until rendered; \
         render it first with `helm template RELEASE apps/shop > apps.yaml` and plan with that file"
    );
    assert_eq!(error(&dir, "apps/shop/Chart.yaml"), error(&dir, "apps"));
    // A template given on its own: the hint names the chart above it, or CHART.
    let message = error(&dir, "apps/shop/templates");
    assert!(
        message.starts_with("apps/shop/templates/deployment.yaml: malformed YAML at line 4"),
        "{message}"
    );
    assert!(message.ends_with(&hint("apps/shop")), "{message}");
    let message = error(&dir, "apps/loose");
    assert!(message.ends_with(&hint("CHART")), "{message}");
}

#[test]
fn braces_in_a_manifest_that_loads_are_no_template() {
    let rule = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: web, namespace: shop}\n\
                spec:\n  groups:\n  - name: web\n    rules:\n    - alert: Down\n      expr: up == 0\n      \
                annotations: {summary: '{{ $labels.instance }} is down'}\n";
    let dir = scenario(&[("rule.yaml", rule)]);
    let loaded = load(&dir.path().join("fleet"), &dir.path().join("apps")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.carried[0].kind, "PrometheusRule");
}

#[test]
fn files_that_are_not_manifests_are_reported_hidden_ones_aside() {
    let dir = scenario(&[
        ("web.yaml", &deployment("web", 1)),
        ("notes.txt", "remember\n"),
        ("sub/README.md", "# apps\n"),
        ("sub/web.yaml.bak", "old\n"),
        (".DS_Store", "x"),
        (".git/config", "[core]\n"),
    ]);
    write(&dir.path().join("fleet/README.md"), "# fleet\n");
    let outside = tempfile::tempdir().expect("a temporary directory");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("apps/linked")).expect("a symlink");
    let loaded = load(&dir.path().join("fleet"), &dir.path().join("apps")).unwrap_or_else(|e| panic!("{e}"));
    let skipped: Vec<(String, SkipReason)> = loaded
        .skipped
        .iter()
        .map(|s| {
            (
                s.path
                    .strip_prefix(dir.path())
                    .expect("inside")
                    .display()
                    .to_string(),
                s.reason,
            )
        })
        .collect();
    assert_eq!(
        skipped,
        [
            ("fleet/README.md".into(), SkipReason::NotManifest),
            ("apps/linked".into(), SkipReason::SymlinkedDirectory),
            ("apps/notes.txt".into(), SkipReason::NotManifest),
            ("apps/sub/README.md".into(), SkipReason::NotManifest),
            ("apps/sub/web.yaml.bak".into(), SkipReason::NotManifest),
        ]
    );
    assert_eq!(
        loaded.skipped[4].to_string(),
        format!(
            "{}/apps/sub/web.yaml.bak: not a .yaml, .yml or .json file",
            dir.path().display()
        )
    );
    assert_eq!(loaded.problem.workloads.len(), 1);
}

//! End-to-end tests of the `fleetplan` binary: the tutorial plans as documented, and bad input
//! fails with a clear message, exit code 2 and nothing on stdout.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fleetplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("the fleetplan binary runs")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn tutorial_table_shows_both_regions_and_every_replica() {
    let out = fleetplan(&["plan", "examples/tutorial"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "shop/web-us",
            "shop/web-eu",
            "us-west-2",
            "eu-west-1",
            "REGION",
            "17 of 17 replicas placed",
            // Fargate sizes and costs: 1 vCPU / 8Gi becomes 2 vCPU / 9Gi.
            "FARGATE SIZE",
            "2 vCPU 9Gi",
            "0.5 vCPU 1Gi",
            "TOTAL",
        ],
    );
    assert!(
        text.contains("Carried along, not planned: Namespace batch, Namespace ops, Namespace shop."),
        "{text}"
    );
    // What the web pods use follows them: only where each Deployment runs.
    for (object, clusters) in [
        ("ConfigMap shop/web-config", "us-west-2-a, us-west-2-b"),
        ("Secret shop/web-env", "eu-west-1-a, eu-west-1-b"),
        (
            "Service shop/web",
            "eu-west-1-a, eu-west-1-b, us-west-2-a, us-west-2-b",
        ),
    ] {
        // The column is as wide as its longest entry, `PodDisruptionBudget shop/web`.
        let line = format!("{object:<31}{clusters}\n");
        assert!(text.contains(&line), "{line}\n{text}");
    }
}

#[test]
fn tutorial_json_follows_the_contract() {
    let out = fleetplan(&["plan", "examples/tutorial", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(plan["format"], "fleetplan.io/plan/v1");
    // The objects that follow the workloads, ordered by kind, namespace and name.
    let follow: Vec<String> = plan["follow"]
        .as_array()
        .expect("follow")
        .iter()
        .map(|f| {
            format!(
                "{} {}/{}",
                f["kind"].as_str().unwrap(),
                f["namespace"].as_str().unwrap(),
                f["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        follow,
        [
            "ConfigMap shop/web-config",
            "Ingress shop/web",
            "PodDisruptionBudget shop/web",
            "Secret shop/web-env",
            "Service shop/web",
            "ServiceAccount shop/web"
        ]
    );
    assert_eq!(
        plan["follow"][0],
        serde_json::json!({"kind": "ConfigMap", "namespace": "shop", "name": "web-config",
                           "clusters": ["us-west-2-a", "us-west-2-b"]})
    );
    let placements = plan["placements"].as_array().expect("placements array");
    let total: u64 = placements
        .iter()
        .map(|p| p["replicas"].as_u64().expect("replicas"))
        .sum();
    assert_eq!(total, 17);
    for p in placements {
        let region = p["region"].as_str().expect("region");
        let workload = p["workload"].as_str().expect("workload");
        // Regional Deployments stay in their region, on Fargate.
        if workload.starts_with("shop/") {
            assert_eq!(workload == "shop/web-us", region == "us-west-2", "{p}");
            assert_eq!(p["pools"][0]["pool"], "fp-shop", "{p}");
        }
        let pools: u64 = p["pools"]
            .as_array()
            .expect("pools")
            .iter()
            .map(|x| x["replicas"].as_u64().expect("n"))
            .sum();
        assert_eq!(pools, p["replicas"].as_u64().expect("replicas"));
    }
    // web-eu asks for at least one replica in each of its two clusters.
    let eu: Vec<&serde_json::Value> = placements
        .iter()
        .filter(|p| p["workload"] == "shop/web-eu")
        .collect();
    assert_eq!(eu.len(), 2);
    assert_eq!(plan["unplaced"], serde_json::json!([]));
    // Every workload is priced; the Fargate ones show their size.
    let costs = plan["costs"].as_array().expect("costs");
    assert_eq!(costs.len(), 4);
    let report = &costs[0];
    assert_eq!(report["workload"], "batch/report");
    assert_eq!(report["fargate"]["cpuMillis"], 2000);
    assert_eq!(report["fargate"]["memoryBytes"], 9u64 << 30);
    assert!(plan["summary"]["costPerHour"].as_f64().is_some_and(|c| c > 0.0));
}

#[test]
fn json_output_is_byte_identical_across_runs() {
    // Everything but the solver's wall-clock time.
    let without_time = |out: &Output| -> String {
        let mut plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
        plan["solver"]["millis"] = serde_json::Value::Null;
        plan.to_string()
    };
    for solver in ["fast", "flow", "exact"] {
        let a = fleetplan(&[
            "plan",
            "examples/tutorial",
            "-o",
            "json",
            "--explain",
            "--solver",
            solver,
        ]);
        let b = fleetplan(&[
            "plan",
            "examples/tutorial",
            "-o",
            "json",
            "--explain",
            "--solver",
            solver,
        ]);
        assert!(a.status.success(), "{}", stderr(&a));
        assert_eq!(without_time(&a), without_time(&b), "{solver}");
    }
}

#[test]
fn exact_solver_reports_its_statistics() {
    let out = fleetplan(&["plan", "examples/tutorial", "--solver", "exact", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let stats = &plan["solver"];
    assert_eq!(stats["requested"], "exact");
    assert_eq!(stats["solver"], "exact");
    assert_eq!(stats["provenOptimal"], true);
    assert_eq!(stats["gap"], 0.0);
    assert!(stats["millis"].as_f64().is_some_and(|ms| ms > 0.0));
    let objective = stats["objective"]["total"].as_f64().expect("objective");
    assert_eq!(stats["bound"].as_f64(), Some(objective));
    assert!(stats["objective"]["costPerHour"].is_number());
    // The table says the same in words.
    let out = fleetplan(&["plan", "examples/tutorial", "--solver", "exact"]);
    assert!(
        stdout(&out).contains("Solver: exact (asked: exact)"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("proven optimal"), "{}", stdout(&out));
}

#[test]
fn bad_solver_flags_are_usage_errors() {
    let out = fleetplan(&["plan", "examples/tutorial", "--solver", "magic"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("magic"), "{}", stderr(&out));
    let out = fleetplan(&["plan", "examples/tutorial", "--weight", "speed=3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown weight `speed`"),
        "{}",
        stderr(&out)
    );
    let out = fleetplan(&["plan", "examples/tutorial", "--weight", "cost=-1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = fleetplan(&["plan", "examples/tutorial", "--time-limit", "0"]);
    assert_bad_input(&out, &["--time-limit"]);
}

#[test]
fn yaml_output_carries_the_same_plan() {
    let out = fleetplan(&["plan", "examples/tutorial", "-o", "yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("format: fleetplan.io/plan/v1"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn explain_lists_every_workload_and_cluster_pair() {
    let out = fleetplan(&["plan", "examples/tutorial", "-o", "json", "--explain"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let explanations = plan["explanations"].as_array().expect("explanations");
    assert_eq!(explanations.len(), 4 * 4);
    let refused = explanations
        .iter()
        .find(|e| e["workload"] == "shop/web-us" && e["cluster"] == "eu-west-1-a")
        .expect("an explanation for web-us in eu-west-1-a");
    assert_eq!(refused["code"], "ClusterSelector");
    assert_eq!(refused["replicas"], 0);
}

/// Writes a scenario with the tutorial's fleet and the given app YAML.
fn scenario_with_app(app: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::create_dir_all(dir.path().join("fleet")).expect("mkdir");
    fs::create_dir_all(dir.path().join("apps")).expect("mkdir");
    for file in fs::read_dir(repo_root().join("examples/tutorial/fleet")).expect("tutorial fleet") {
        let file = file.expect("fleet file").path();
        let name = file.file_name().expect("file name");
        fs::copy(&file, dir.path().join("fleet").join(name)).expect("copy fleet");
    }
    fs::write(dir.path().join("apps/app.yaml"), app).expect("write app");
    dir
}

/// Asserts that `text` contains every one of `needles`.
fn assert_contains(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

fn assert_bad_input(out: &Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    assert!(out.stdout.is_empty(), "nothing on stdout, got {}", stdout(out));
    assert_contains(&stderr(out), needles);
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, resources: {requests: {cpu: CPU}}}]
";

fn deployment(replicas: &str, cpu: &str) -> String {
    DEPLOYMENT.replace("REPLICAS", replicas).replace("CPU", cpu)
}

#[test]
fn negative_replicas_name_file_object_and_field() {
    let dir = scenario_with_app(&deployment("-1", "100m"));
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(&out, &["app.yaml", "shop/web", "spec.replicas"]);
}

#[test]
fn a_bad_quantity_names_the_field() {
    let dir = scenario_with_app(&deployment("2", "lots"));
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(&out, &["app.yaml", "shop/web", "requests", "cpu"]);
}

#[test]
fn malformed_yaml_names_the_file() {
    let dir = scenario_with_app("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: [unclosed\n");
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(&out, &["app.yaml"]);
}

/// Issue 20: a key given twice was silently "last one wins"; kubectl refuses it.
#[test]
fn a_key_given_twice_is_refused() {
    let dir = scenario_with_app(
        &deployment("2", "100m").replace("  replicas: 2\n", "  replicas: 2\n  replicas: 3\n"),
    );
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(&out, &["app.yaml", "key `replicas` is given twice"]);
}

/// Issue 20: one anchored list aliased many times made an 830 KB file abort the process at
/// 3.4 GB; the read now stops at a budget.
#[test]
fn a_wide_alias_bomb_is_refused_without_exhausting_memory() {
    let mut text = deployment("2", "100m");
    text.push_str(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb, namespace: shop}\ndata:\n  base: &a [",
    );
    text.push_str(&vec!["\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\""; 1000].join(", "));
    text.push_str("]\nlist:\n");
    for _ in 0..100_000 {
        text.push_str("- *a\n");
    }
    let dir = scenario_with_app(&text);
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(&out, &["app.yaml", "expands to too much"]);
}

/// Issue 20: 77 MB of ConfigMaps in `apps/` took 2.27 GB; carried objects are now kept as
/// compact text, read document by document, so the plan runs with its data segment capped
/// at 300 MiB (`ulimit -d`, which a process over it meets as an allocation failure).
#[test]
fn seventy_seven_megabytes_of_carried_objects_plan_within_300_mebibytes() {
    let dir = scenario_with_app(&deployment("2", "100m"));
    let data: String = (0..2000).map(|k| format!("  k{k}: v{k}\n")).collect();
    let mut total = 0;
    for f in 0.. {
        let mut text = String::new();
        for d in 0..50 {
            text.push_str(&format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{f}-{d}\n  namespace: shop\ndata:\n{data}---\n"
            ));
        }
        total += text.len();
        fs::write(dir.path().join(format!("apps/settings-{f}.yaml")), text).expect("write");
        if total >= 77_000_000 {
            break;
        }
    }
    let out = Command::new("sh")
        .args(["-c", "ulimit -d 307200 && exec \"$0\" plan \"$1\""])
        .arg(env!("CARGO_BIN_EXE_fleetplan"))
        .arg(dir.path())
        .output()
        .expect("run fleetplan under sh");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_contains(&stdout(&out), &["shop/web"]);
}

/// Issue 20: `--weight unplaced=1e15` made the flow solver fail with `InvalidArc`, reported
/// as bad input in the fleet; weights are now bounded, and the bound plans with every solver.
#[test]
fn weights_are_bounded_and_the_bound_plans_with_every_solver() {
    let out = fleetplan(&["plan", "examples/tutorial", "--weight", "unplaced=1e15"]);
    assert_eq!(out.status.code(), Some(2));
    assert_contains(&stderr(&out), &["weight `unplaced`", "outside 0 to 1000000"]);
    let weights: Vec<String> = fleetplan::Weights::NAMES
        .iter()
        .map(|w| format!("{w}=1000000"))
        .collect();
    for solver in ["fast", "flow", "exact"] {
        let mut args = vec!["plan", "examples/tutorial", "--solver", solver];
        for weight in &weights {
            args.extend(["--weight", weight.as_str()]);
        }
        let out = fleetplan(&args);
        assert!(out.status.success(), "{solver}: {}", stderr(&out));
    }
}

/// Issue 20: `--apps /dev/zero` and `--steps /dev/zero` read until memory ran out; every
/// input is now read within a size limit, which a flag raises.
#[test]
fn endless_and_oversized_inputs_are_refused_naming_the_file_and_the_flag() {
    let out = fleetplan(&[
        "plan",
        "--fleet",
        "examples/tutorial/fleet",
        "--apps",
        "/dev/zero",
        "--max-file-size",
        "1Mi",
    ]);
    assert_bad_input(
        &out,
        &[
            "/dev/zero: too large: a file may hold at most 1Mi bytes",
            "--max-file-size raises it",
        ],
    );
    let out = fleetplan(&[
        "simulate",
        "examples/tutorial",
        "--steps",
        "/dev/zero",
        "--max-file-size",
        "1Mi",
    ]);
    assert_bad_input(
        &out,
        &[
            "the steps file: /dev/zero: too large",
            "--max-file-size raises it",
        ],
    );
    let out = fleetplan(&["plan", "examples/tutorial", "--max-input-size", "4Ki"]);
    assert_bad_input(
        &out,
        &[
            "too large: all the input files together may hold at most 4Ki bytes",
            "--max-input-size",
        ],
    );
    let out = fleetplan(&[
        "plan",
        "--fleet",
        "/dev/urandom",
        "--apps",
        "examples/tutorial/apps",
        "--max-file-size",
        "64Ki",
    ]);
    assert_bad_input(&out, &["/dev/urandom: too large"]);
    let out = fleetplan(&["plan", "examples/tutorial", "--max-file-size", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert_contains(&stderr(&out), &["expected a size of more than 0 bytes"]);
}

/// Issue 20: a fleet given as `/dev/stdin` (or a FIFO) was read twice, once per reader, and
/// came out empty; each path is now read once.
#[test]
fn a_fleet_on_standard_input_is_read_once() {
    use std::io::Write;
    let fleet = fs::read_to_string(repo_root().join("examples/gpu-batch/fleet/fleet.yaml")).expect("example");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args([
            "plan",
            "--fleet",
            "/dev/stdin",
            "--apps",
            "examples/gpu-batch/apps",
            "-o",
            "json",
        ])
        .current_dir(repo_root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the fleetplan binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(fleet.as_bytes())
        .expect("write the fleet");
    let out = child.wait_with_output().expect("fleetplan finishes");
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    assert_eq!(plan["summary"]["target"], 8, "{plan}");
}

/// Issue 20: a symbolic link loop and a dangling link named like manifests were skipped
/// without a word; they are errors naming the link, as kubectl reports them.
#[test]
fn links_that_lead_nowhere_are_errors() {
    let dir = scenario_with_app(&deployment("2", "100m"));
    let apps = dir.path().join("apps");
    std::os::unix::fs::symlink(apps.join("missing.yaml"), apps.join("dangling.yaml")).expect("symlink");
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(&out, &["dangling.yaml", "No such file or directory"]);
    fs::remove_file(apps.join("dangling.yaml")).expect("rm");
    std::os::unix::fs::symlink(apps.join("loop.yaml"), apps.join("loop.yaml")).expect("symlink");
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(&out, &["loop.yaml", "symbolic links"]);
}

/// Issue 20: `--max-surge 0` behaved as 1; moves are make-before-break, so it is refused.
#[test]
fn a_max_surge_of_zero_is_refused() {
    let out = fleetplan(&[
        "simulate",
        "examples/tutorial",
        "--fail",
        "us-west-2-a",
        "--max-surge",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_contains(&stderr(&out), &["--max-surge", "0 is not in 1.."]);
}

/// Issue 20: a steps file's bad `replicas` named the step but not the field.
#[test]
fn a_bad_field_in_a_steps_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let steps = dir.path().join("steps.yaml");
    fs::write(&steps, "- {op: scale, workload: shop/web, replicas: -3}\n").expect("write");
    let out = fleetplan(&[
        "simulate",
        "examples/tutorial",
        "--steps",
        steps.to_str().expect("utf-8"),
    ]);
    assert_bad_input(
        &out,
        &["steps.yaml: step 1: replicas: invalid value: integer `-3`"],
    );
}

/// Issue 20: `cluster-weights: "*=0"` under the default `spread` still placed every replica;
/// a weight of 0 excludes a cluster under every strategy, and says so.
#[test]
fn a_zero_weight_excludes_under_spread_too() {
    let app = deployment("2", "100m").replace(
        "metadata: {name: web, namespace: shop}",
        "metadata: {name: web, namespace: shop, annotations: {fleetplan.io/cluster-weights: \"*=0\"}}",
    );
    let dir = scenario_with_app(&app);
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8"), "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    assert_eq!(plan["summary"]["unplaced"], 2, "{plan}");
    assert_eq!(plan["unplaced"][0]["reasons"][0]["code"], "ZeroWeight", "{plan}");
}

/// Issue 20: `cluster-min *=5` with `cluster-max *=2` was accepted.
#[test]
fn a_minimum_above_its_maximum_names_the_annotation() {
    let app = deployment("2", "100m").replace(
        "metadata: {name: web, namespace: shop}",
        "metadata: {name: web, namespace: shop, annotations: {fleetplan.io/cluster-min: \"*=5\", fleetplan.io/cluster-max: \"*=2\"}}",
    );
    let dir = scenario_with_app(&app);
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(
        &out,
        &[
            "app.yaml",
            "Deployment shop/web",
            "fleetplan.io/cluster-min",
            "minimum of 5, above its maximum of 2",
        ],
    );
}

#[test]
fn an_unknown_kind_is_refused() {
    let dir = scenario_with_app(&deployment("2", "100m").replace("kind: Deployment", "kind: Deploymnet"));
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(&out, &["app.yaml", "Deploymnet"]);
}

#[test]
fn a_duplicate_cluster_is_refused() {
    let dir = scenario_with_app(&deployment("2", "100m"));
    fs::copy(
        dir.path().join("fleet/us-west-2.yaml"),
        dir.path().join("fleet/again.yaml"),
    )
    .expect("copy");
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(&out, &["us-west-2-a", "again.yaml", "us-west-2.yaml"]);
}

#[test]
fn an_empty_fleet_is_refused() {
    let dir = scenario_with_app(&deployment("2", "100m"));
    for eksctl in ["us-west-2.yaml", "eu-west-1.yaml"] {
        fs::remove_file(dir.path().join("fleet").join(eksctl)).expect("remove");
    }
    fs::write(
        dir.path().join("fleet/fleet.yaml"),
        "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters: []\n",
    )
    .expect("write");
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(&out, &["fleet"]);
}

#[test]
fn a_bad_eksctl_file_names_file_cluster_and_field() {
    let dir = scenario_with_app(&deployment("2", "100m"));
    let path = dir.path().join("fleet/us-west-2.yaml");
    let text = fs::read_to_string(&path)
        .expect("read")
        .replacen("m5.large", "m5.huge", 1);
    fs::write(&path, text).expect("write");
    let out = fleetplan(&["plan", dir.path().to_str().expect("utf-8")]);
    assert_bad_input(
        &out,
        &[
            "us-west-2.yaml",
            "us-west-2-a",
            "managedNodeGroups[0].instanceType",
            "m5.huge",
        ],
    );
}

#[test]
fn live_eks_targets_are_checked_and_an_unreachable_api_is_a_clear_error() {
    let out = fleetplan(&["plan", "examples/tutorial", "--eks", "no-region"]);
    assert_bad_input(&out, &["--eks", "NAME@REGION"]);
    // Nothing listens on port 9 of this host: the EKS call fails, naming cluster and call.
    let out = Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args(["plan", "examples/tutorial", "--eks", "ghost@us-east-1"])
        .current_dir(repo_root())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("fleetplan runs");
    assert_bad_input(&out, &["ghost", "us-east-1", "DescribeCluster"]);
}

#[test]
fn an_unreadable_path_is_refused() {
    let out = fleetplan(&["plan", "no/such/scenario"]);
    assert_bad_input(&out, &["no/such/scenario"]);
}

#[test]
fn missing_paths_are_a_usage_error() {
    let out = fleetplan(&["plan"]);
    assert_bad_input(&out, &["SCENARIO_DIR"]);
}

#[test]
fn help_explains_the_plan_command() {
    let out = fleetplan(&["plan", "--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "SCENARIO_DIR",
            "--fleet",
            "--apps",
            "--output",
            "--explain",
            "kubectl get",
            "Exit codes",
        ],
    );
}

#[test]
fn gpu_batch_example_explains_every_unplaced_replica() {
    let out = fleetplan(&["plan", "examples/gpu-batch", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(plan["summary"]["placed"], 6);
    let unplaced = &plan["unplaced"][0];
    assert_eq!(unplaced["workload"], "ml/train");
    assert_eq!(unplaced["replicas"], 2);
    let reasons: Vec<(String, String)> = unplaced["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| {
            (
                r["cluster"].as_str().expect("cluster").to_string(),
                r["code"].as_str().expect("code").to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("eu-west-1-a".to_string(), "ClusterUnhealthy".to_string()),
            ("us-east-1-a".to_string(), "Insufficient".to_string()),
            ("us-west-2-a".to_string(), "Insufficient".to_string()),
        ]
    );
}

#[test]
fn testbed_up_runs_the_tutorial_fleet_until_interrupted() {
    use std::io::{BufRead, BufReader};
    assert!(
        std::env::var_os("FLEETPLAN_TESTBED_BIN").is_some(),
        "the test bed is required: export FLEETPLAN_TESTBED_BIN=$(bash adapters/testbed/build.sh)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("bed.kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args(["testbed", "up", "examples/tutorial", "--kubeconfig"])
        .arg(&kubeconfig)
        .current_dir(repo_root())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("fleetplan testbed up starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("utf-8");
        let done = line.contains("Ctrl-C stops the bed");
        seen.push(line);
        if done {
            break;
        }
    }
    let text = seen.join("\n");
    assert!(text.contains("test bed ready"), "{text}");
    for cluster in ["us-west-2-a", "us-west-2-b", "eu-west-1-a", "eu-west-1-b"] {
        assert!(text.contains(cluster), "{cluster} missing in {text}");
    }
    let config = fs::read_to_string(&kubeconfig).expect("kubeconfig written");
    assert!(config.contains("\"us-west-2-a\""), "{config}");
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("fleetplan exits");
    assert!(
        status.success(),
        "exit status {status}; stderr: {}",
        rest.join("\n")
    );
    assert!(rest.iter().any(|l| l.contains("test bed stopped")), "{rest:?}");
}

/// Runs `fleetplan simulate examples/tutorial ARGS -o json` and returns its steps.
fn simulate_json(args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["simulate", "examples/tutorial", "-o", "json"];
    all.extend_from_slice(args);
    let out = fleetplan(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    let timeline: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(timeline["format"], "fleetplan.io/timeline/v1");
    timeline["steps"].as_array().expect("steps").clone()
}

/// Replicas per (workload, cluster) in a step's plan.
fn step_replicas(step: &serde_json::Value) -> Vec<(String, String, u64)> {
    step["plan"]["placements"]
        .as_array()
        .expect("placements")
        .iter()
        .map(|p| {
            (
                p["workload"].as_str().expect("workload").to_string(),
                p["cluster"].as_str().expect("cluster").to_string(),
                p["replicas"].as_u64().expect("replicas"),
            )
        })
        .filter(|(_, _, n)| *n > 0)
        .collect()
}

#[test]
fn simulate_failover_replaces_lost_replicas_and_stays_on_recovery() {
    let steps = simulate_json(&["--steps", "examples/tutorial/steps/failover.yaml"]);
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0]["operations"], serde_json::json!([]));
    assert_eq!(steps[1]["operations"], serde_json::json!(["fail us-west-2-a"]));
    assert_eq!(steps[2]["operations"], serde_json::json!(["recover us-west-2-a"]));
    let held: u64 = step_replicas(&steps[0])
        .iter()
        .filter(|(_, c, _)| c == "us-west-2-a")
        .map(|(_, _, n)| n)
        .sum();
    assert!(held > 0, "us-west-2-a runs something at first");
    let after = step_replicas(&steps[1]);
    assert!(after.iter().all(|(_, c, _)| c != "us-west-2-a"), "{after:?}");
    let web_us: Vec<&(String, String, u64)> = after.iter().filter(|(w, _, _)| w == "shop/web-us").collect();
    assert_eq!(web_us.len(), 1, "{web_us:?}");
    assert_eq!((web_us[0].1.as_str(), web_us[0].2), ("us-west-2-b", 6));
    assert_eq!(steps[1]["lost"].as_u64(), Some(held));
    assert_eq!(steps[1]["moved"], 0);
    assert_eq!(steps[1]["plan"]["summary"]["unplaced"], 0);
    // A failure's actions only grow (the lost replicas are gone already), after the failed
    // cluster's records went at once; the survivor's weight rises last.
    let actions = steps[1]["actions"].as_array().expect("actions");
    assert_eq!(actions[0]["action"], "removeRecord", "{actions:#?}");
    assert_eq!(actions[0]["cluster"], "us-west-2-a");
    for action in actions.iter().skip(1) {
        let kind = action["action"].as_str().unwrap_or("");
        assert!(["grow", "waitReady", "setWeight"].contains(&kind), "{action}");
    }
    let last = actions.last().expect("an action");
    assert_eq!(
        (&last["action"], &last["cluster"], &last["weight"]),
        (
            &serde_json::json!("setWeight"),
            &serde_json::json!("us-west-2-b"),
            &serde_json::json!(255)
        )
    );
    // Stay: the recovered cluster comes back empty and nothing moves back.
    assert_eq!(steps[2]["changes"], serde_json::json!([]));
    assert_eq!(steps[2]["actions"], serde_json::json!([]));
    assert_eq!(step_replicas(&steps[2]), after);
}

#[test]
fn simulate_drain_moves_everything_make_before_break() {
    let steps = simulate_json(&["--drain", "us-west-2-b"]);
    assert_eq!(steps.len(), 2);
    let last = &steps[1];
    assert!(
        step_replicas(last).iter().all(|(_, c, _)| c != "us-west-2-b"),
        "{:?}",
        step_replicas(last)
    );
    assert_eq!(last["lost"], 0);
    let moved = last["moved"].as_u64().expect("moved");
    assert!(moved > 0);
    let all = last["actions"].as_array().expect("actions");
    let replica = |a: &&serde_json::Value| {
        ["grow", "waitReady", "shrink"].contains(&a["action"].as_str().unwrap_or(""))
    };
    let actions: Vec<&serde_json::Value> = all.iter().filter(replica).collect();
    assert_eq!(
        actions.len() as u64,
        3 * moved,
        "one triple per replica with --max-surge 1"
    );
    for triple in actions.chunks(3) {
        let kinds: Vec<&str> = triple
            .iter()
            .map(|a| a["action"].as_str().expect("action"))
            .collect();
        assert_eq!(kinds, ["grow", "waitReady", "shrink"], "{triple:?}");
        assert_eq!(triple[0]["workload"], triple[2]["workload"]);
        assert_eq!(triple[0]["cluster"], triple[1]["cluster"]);
        assert_eq!(triple[2]["cluster"], "us-west-2-b");
        assert_eq!(
            (triple[0]["replicas"].as_u64(), triple[2]["replicas"].as_u64()),
            (Some(1), Some(1))
        );
    }
    // Traffic: us-west-2-b's record reaches weight 0 and the TTL is waited out before the
    // first web replica there stops; its record goes after the last.
    let position = |f: &dyn Fn(&serde_json::Value) -> bool| all.iter().position(f).expect("an action");
    let lowered = position(&|a| {
        a["action"] == "setWeight"
            && a["cluster"] == "us-west-2-b"
            && a["weight"] == 0
            && a["host"] == "shop.example.com"
    });
    let waited = position(&|a| a["action"] == "waitTtl" && a["seconds"] == 60);
    let first_web_shrink = position(&|a| {
        a["action"] == "shrink" && a["cluster"] == "us-west-2-b" && a["workload"] == "shop/web-us"
    });
    let removed = position(&|a| a["action"] == "removeRecord" && a["cluster"] == "us-west-2-b");
    assert!(
        lowered < waited && waited < first_web_shrink && first_web_shrink < removed,
        "{all:#?}"
    );
    assert_eq!(removed, all.len() - 1, "the emptied cluster's record goes last");
    // The table shows the same timeline.
    let out = fleetplan(&["simulate", "examples/tutorial", "--drain", "us-west-2-b"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "STEP 0: initial",
            "STEP 1: drain us-west-2-b",
            "CHANGES",
            "ACTIONS",
            "1. grow ",
            "2. wait until the new ",
            "3. shrink ",
            "in us-west-2-b by 1",
            "set the record of shop.example.com in us-west-2 for us-west-2-b to weight 0",
            "wait 60 s (the TTL of shop.example.com) for resolvers to drop the old answers",
            "remove the record of shop.example.com in us-west-2 for us-west-2-b",
            "moved 5 make-before-break",
        ],
    );
}

#[test]
fn simulate_steps_follow_the_command_line_order() {
    let steps = simulate_json(&["--fail", "us-west-2-a", "--recover", "us-west-2-a"]);
    let ops: Vec<&serde_json::Value> = steps.iter().map(|s| &s["operations"]).collect();
    assert_eq!(
        ops,
        [
            &serde_json::json!([]),
            &serde_json::json!(["fail us-west-2-a"]),
            &serde_json::json!(["recover us-west-2-a"]),
        ]
    );
    // Interleaved kinds keep their positions too.
    let steps = simulate_json(&[
        "--cordon",
        "eu-west-1-a",
        "--fail",
        "us-west-2-a",
        "--drain",
        "eu-west-1-b",
        "--recover",
        "us-west-2-a",
        "--fail",
        "us-west-2-b",
    ]);
    let ops: Vec<String> = steps[1..]
        .iter()
        .map(|s| s["operations"][0].as_str().expect("operation").to_string())
        .collect();
    assert_eq!(
        ops,
        [
            "cordon eu-west-1-a",
            "fail us-west-2-a",
            "drain eu-west-1-b",
            "recover us-west-2-a",
            "fail us-west-2-b",
        ]
    );
}

#[test]
fn simulate_blue_green_example_and_yaml_output() {
    let steps = simulate_json(&["--steps", "examples/tutorial/steps/blue-green.yaml"]);
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[1]["lost"], 0);
    assert!(
        step_replicas(&steps[1])
            .iter()
            .all(|(_, c, _)| c != "us-west-2-b")
    );
    assert_eq!(
        steps[2]["operations"],
        serde_json::json!(["uncordon us-west-2-b"])
    );
    let out = fleetplan(&[
        "simulate",
        "examples/tutorial",
        "--steps",
        "examples/tutorial/steps/blue-green.yaml",
        "-o",
        "yaml",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("format: fleetplan.io/timeline/v1\nsteps:\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn simulate_an_unknown_cluster_is_bad_input() {
    let out = fleetplan(&["simulate", "examples/tutorial", "--fail", "nowhere"]);
    assert_bad_input(&out, &["step 1", "fail nowhere", "unknown cluster `nowhere`"]);
}

#[test]
fn simulate_a_bad_steps_file_names_the_file_and_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("steps.yaml");
    let path = file.to_str().expect("utf-8");
    fs::write(
        &file,
        "- {op: fail, cluster: us-west-2-a}\n- {op: explode, cluster: us-west-2-a}\n",
    )
    .expect("write");
    let out = fleetplan(&["simulate", "examples/tutorial", "--steps", path]);
    assert_bad_input(&out, &["steps.yaml", "step 2", "explode"]);
    fs::write(&file, "- [{op: drain, cluster: us-west-2-b, when: later}]\n").expect("write");
    let out = fleetplan(&["simulate", "examples/tutorial", "--steps", path]);
    assert_bad_input(&out, &["steps.yaml", "step 1", "unknown field `when`"]);
    fs::write(&file, "- {op: fail, cluster: [unclosed\n").expect("write");
    let out = fleetplan(&["simulate", "examples/tutorial", "--steps", path]);
    assert_bad_input(&out, &["steps.yaml", "line"]);
    fs::write(
        &file,
        "- {op: fail, cluster: us-west-2-a}\n- {op: drain, cluster: nowhere}\n",
    )
    .expect("write");
    let out = fleetplan(&["simulate", "examples/tutorial", "--steps", path]);
    assert_bad_input(
        &out,
        &["steps.yaml", "step 2", "drain nowhere", "unknown cluster"],
    );
}

#[test]
fn simulate_steps_come_from_a_file_or_flags_not_both() {
    let out = fleetplan(&[
        "simulate",
        "examples/tutorial",
        "--steps",
        "examples/tutorial/steps/failover.yaml",
        "--fail",
        "us-west-2-a",
    ]);
    assert_bad_input(&out, &["--steps", "--fail", "cannot be used with"]);
    let out = fleetplan(&["simulate", "examples/tutorial"]);
    assert_bad_input(&out, &["--steps", "--fail"]);
}

#[test]
fn help_explains_the_simulate_command() {
    let out = fleetplan(&["simulate", "--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "--steps",
            "--fail",
            "--recovery",
            "--max-surge",
            "make-before-break",
            "Examples:",
            "steps/failover.yaml",
            "Exit codes",
        ],
    );
}

/// `fleetplan traffic resolve ... -o json`, parsed.
fn resolve_json(args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec![
        "traffic",
        "resolve",
        "shop.example.com",
        "examples/tutorial",
        "-o",
        "json",
    ];
    all.extend_from_slice(args);
    let out = fleetplan(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).expect("a JSON list")
}

/// `(cluster, share)` of a resolution, shares rounded to 0.1 %.
fn shares(resolution: &serde_json::Value) -> Vec<(String, u64)> {
    resolution["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| {
            let share = c["share"].as_f64().expect("share");
            (
                c["cluster"].as_str().expect("cluster").to_string(),
                (share * 1000.0).round() as u64,
            )
        })
        .collect()
}

#[test]
fn traffic_resolve_sends_users_to_their_nearest_region_and_away_from_failed_clusters() {
    let eu = resolve_json(&["--from", "eu-west-1"]);
    assert_eq!(eu.len(), 1);
    assert_eq!(eu[0]["region"], "eu-west-1");
    let got = shares(&eu[0]);
    assert_eq!(
        got.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
        ["eu-west-1-a", "eu-west-1-b"]
    );
    assert_eq!(got.iter().map(|(_, s)| s).sum::<u64>(), 1000, "{got:?}");
    // Both eu clusters fail: users in eu-west-1 go to us-west-2.
    let failed = resolve_json(&[
        "--from",
        "eu-west-1",
        "--fail",
        "eu-west-1-a",
        "--fail",
        "eu-west-1-b",
    ]);
    assert_eq!(failed[0]["region"], "us-west-2");
    assert!(
        shares(&failed[0])
            .iter()
            .all(|(c, _)| c.starts_with("us-west-2-")),
        "{:?}",
        failed[0]
    );
    // Records kept but every eu load balancer unhealthy: the same, by Route53's health rules.
    let unhealthy = resolve_json(&[
        "--from",
        "eu-west-1",
        "--unhealthy",
        "eu-west-1-a",
        "--unhealthy",
        "eu-west-1-b",
    ]);
    assert_eq!(unhealthy[0]["region"], "us-west-2");
    // Without --from: every region of the fleet, each to its own.
    let both = resolve_json(&[]);
    let regions: Vec<(&str, &str)> = both
        .iter()
        .map(|r| {
            (
                r["from"].as_str().unwrap_or(""),
                r["region"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(regions, [("eu-west-1", "eu-west-1"), ("us-west-2", "us-west-2")]);
    // The table says the same.
    let out = fleetplan(&[
        "traffic",
        "resolve",
        "shop.example.com",
        "--from",
        "eu-west-1",
        "examples/tutorial",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_contains(
        &stdout(&out),
        &["HOST", "FROM", "EST. RTT", "eu-west-1-a", "eu-west-1-b", "%"],
    );
}

#[test]
fn traffic_resolve_refuses_an_unknown_host_region_or_cluster() {
    for (args, needle) in [
        (
            vec!["nope.example.com", "examples/tutorial"],
            "no route for host `nope.example.com` (hosts: shop.example.com)",
        ),
        (
            vec!["shop.example.com", "examples/tutorial", "--from", "mars-1"],
            "--from mars-1: `mars-1` is not an AWS region",
        ),
        (
            vec!["shop.example.com", "examples/tutorial", "--unhealthy", "nope"],
            "--unhealthy: unknown cluster `nope`",
        ),
    ] {
        let mut all = vec!["traffic", "resolve"];
        all.extend(args);
        let out = fleetplan(&all);
        assert_bad_input(&out, &[needle]);
    }
}

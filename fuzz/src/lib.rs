//! What the fuzz targets share: small valid fleets and apps to put fuzzed text beside, loading
//! as `fleetplan plan` loads (the eksctl documents to the AWS adapter, the rest to the
//! Kubernetes adapter), and planning a loaded problem with every solver with the invariants of
//! the property tests checked on each plan (they live in `core/tests/common`, shared here).

use std::path::PathBuf;
use std::time::Duration;

use fleetplan::{PlanOptions, Problem, SolverChoice, solve};
use fleetplan_kube::{Scenario, SourceFile, foreign_documents, load_sources};

/// The property tests' generators, oracles and invariants.
#[path = "../../core/tests/common/mod.rs"]
#[allow(clippy::all, missing_docs)]
pub mod common;

/// A concise fleet of two clusters in two regions, one with a GPU pool.
pub const FLEET: &str = "\
apiVersion: fleetplan.io/v1
kind: Fleet
clusters:
  - name: east
    region: us-east-1
    pools:
      - {name: general, zone: us-east-1a, count: 3, allocatable: {cpu: \"4\", memory: 16Gi, pods: 110}}
  - name: west
    region: us-west-2
    labels: {tier: gold}
    pools:
      - {name: general, zone: us-west-2a, count: 2, allocatable: {cpu: \"8\", memory: 32Gi, pods: 110}}
      - name: gpu
        zone: us-west-2b
        count: 1
        taints: [{key: nvidia.com/gpu, effect: NoSchedule}]
        allocatable: {cpu: \"8\", memory: 32Gi, nvidia.com/gpu: 1}
";

/// A Deployment with a Service and a ConfigMap it uses.
pub const APPS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx
          envFrom: [{configMapRef: {name: web-config}}]
          resources: {requests: {cpu: 500m, memory: 512Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: shop}
data: {MODE: prod}
";

/// The most replicas (targets plus running) a fuzzed problem is planned with. Larger ones are
/// only loaded and validated: the invariants' independent node packer places replicas one by
/// one, so checking a plan of billions would read as a hang. (The planner itself no longer
/// grows with replicas; `core/tests/scenarios.rs` plans 2e9 under a hard spread.)
pub const PLAN_REPLICAS: u64 = 20_000;

/// A Deployment of 6 replicas as JSON, with `annotations`.
pub fn annotated_deployment(annotations: serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
        "spec": {
            "replicas": 6,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "resources": {"requests": {"cpu": "1"}}}]}
            }
        }
    })
    .to_string()
}

/// The most workload × pool pairs a fuzzed problem is given to the exact solver with.
pub const EXACT_PAIRS: usize = 60;

/// Fuzzed bytes as text, when they are UTF-8 (every reader takes text).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Files named `name` with `text`.
pub fn files(list: &[(&str, &str)]) -> Vec<SourceFile> {
    list.iter()
        .map(|(name, text)| SourceFile {
            name: PathBuf::from(name),
            text: (*text).to_owned(),
        })
        .collect()
}

/// Loads fleet and apps files as `fleetplan plan` does; `None` when the input is refused
/// (a refusal is a correct outcome; only a panic, a hang or a broken invariant is a finding).
pub fn load(fleet: &[(&str, &str)], apps: &[(&str, &str)]) -> Option<Scenario> {
    let fleet = files(fleet);
    let apps = files(apps);
    let eksctl = foreign_documents(&fleet).ok()?;
    let extra = fleetplan_aws::cluster_configs_from_documents(
        eksctl.iter().map(|(f, d)| (f.as_path(), d.as_slice())),
    )
    .ok()?;
    let scenario = load_sources(&fleet, &apps, extra).ok()?;
    Some(scenario)
}

/// Plans `problem` (when it is small enough, see [`PLAN_REPLICAS`]) with the fast, flow and
/// (up to [`EXACT_PAIRS`]) exact solvers and panics, naming the solver, when a plan breaks an invariant of
/// `common::invariants` or a valid problem fails to plan.
pub fn plan_and_check(problem: &Problem) {
    let running: u64 = problem.current.iter().map(|r| u64::from(r.replicas)).sum();
    let targets: u64 = problem.workloads.iter().map(|w| u64::from(w.replicas)).sum();
    if problem.validate().is_err() || running + targets > PLAN_REPLICAS {
        return;
    }
    // The exact solver runs on microlp here, which has no time limit: small problems only.
    let pools: usize = problem.clusters.iter().map(|c| c.pools.len()).sum();
    let exact = problem.workloads.len() * pools <= EXACT_PAIRS;
    let solvers = [SolverChoice::Fast, SolverChoice::Flow, SolverChoice::Exact];
    for solver in solvers.into_iter().filter(|&s| exact || s != SolverChoice::Exact) {
        let options = PlanOptions {
            solver,
            time_limit: Duration::from_millis(200),
            ..PlanOptions::default()
        };
        let plan = match solve(problem, &options) {
            Ok(plan) => plan,
            Err(error) => panic!("{solver}: a valid problem failed to plan: {error}"),
        };
        if let Err(broken) = common::invariants::all(problem, &plan) {
            panic!("{solver}: {broken}");
        }
    }
}

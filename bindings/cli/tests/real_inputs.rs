//! Real public files nobody here wrote (`tests/corpus/`, each with its source in a
//! `SOURCES.md`), read and planned by the `fleetplan` binary as kubectl and EKS would read
//! them: the Online Boutique manifests, both as released and as their repository lays them out
//! (with a `kustomization.yaml`), on three clusters read from eksctl files
//! (`tests/fixtures/three-eks/`), with every solver; and real kubectl node dumps from EKS,
//! GKE, k3s and DigitalOcean as the fleet.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn fleetplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the fleetplan binary runs")
}

/// Plans `apps` on `fleet` with `solver` and returns the JSON plan.
fn plan_json(fleet: &str, apps: &str, solver: &str) -> Value {
    let out = fleetplan(&[
        "plan", "--fleet", fleet, "--apps", apps, "--solver", solver, "-o", "json",
    ]);
    assert!(
        out.status.success(),
        "{solver}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON plan")
}

/// `(workload, placed replicas)` of a JSON plan, summed over clusters, sorted; every plan
/// must leave nothing unplaced.
fn placed(plan: &Value) -> Vec<(String, u64)> {
    assert_eq!(plan["unplaced"], Value::Array(Vec::new()), "{plan}");
    let mut placed: std::collections::BTreeMap<String, u64> = Default::default();
    for p in plan["placements"].as_array().expect("placements") {
        let name = p["workload"].as_str().expect("a workload name").to_owned();
        *placed.entry(name).or_default() += p["replicas"].as_u64().expect("replicas");
    }
    placed.into_iter().collect()
}

const BOUTIQUE: [&str; 12] = [
    "adservice",
    "cartservice",
    "checkoutservice",
    "currencyservice",
    "emailservice",
    "frontend",
    "loadgenerator",
    "paymentservice",
    "productcatalogservice",
    "recommendationservice",
    "redis-cart",
    "shippingservice",
];

const SOLVERS: [&str; 4] = ["auto", "fast", "flow", "exact"];

#[test]
fn online_boutique_as_released_plans_on_three_eks_clusters_with_every_solver() {
    for solver in SOLVERS {
        let plan = plan_json(
            "tests/fixtures/three-eks",
            "tests/corpus/online-boutique/rendered/kubernetes-manifests.yaml",
            solver,
        );
        let expected: Vec<(String, u64)> = BOUTIQUE.iter().map(|n| (format!("default/{n}"), 1)).collect();
        assert_eq!(placed(&plan), expected, "{solver}");
    }
}

#[test]
fn online_boutique_as_its_repository_lays_it_out_is_rendered_with_kustomize() {
    // The repository's kustomization.yaml leaves the load generator out.
    for solver in SOLVERS {
        let plan = plan_json(
            "tests/fixtures/three-eks",
            "tests/corpus/online-boutique/repository",
            solver,
        );
        let expected: Vec<(String, u64)> = BOUTIQUE
            .iter()
            .filter(|n| **n != "loadgenerator")
            .map(|n| (format!("default/{n}"), 1))
            .collect();
        assert_eq!(placed(&plan), expected, "{solver}");
    }
}

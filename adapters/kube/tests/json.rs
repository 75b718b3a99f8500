//! Manifests and kubectl dumps written as JSON (`kubectl get ... -o json`, or `.json` files
//! beside YAML ones, which `kubectl apply -f DIR` reads too) load exactly like the same
//! objects in YAML; typed lists (`NodeList`, `PodList`, as the API returns them) expand like
//! `List`; malformed JSON names the file, line and column.

use std::path::Path;

use fleetplan_kube::{LoadError, load};
use serde_json::{Value, json};

/// `dir`'s YAML files written to `to` as JSON: one document as itself, several as a `v1 List`.
fn as_json(dir: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(dir).expect("reads") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("reads");
        if path.file_name().is_some_and(|n| n == "_clusters.yaml") {
            std::fs::write(to.join("_clusters.yaml"), text).expect("writes");
            continue;
        }
        let mut values: Vec<Value> = serde_norway::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
            .filter(|v: &Value| !v.is_null())
            .collect();
        let value = if values.len() == 1 {
            values.remove(0)
        } else {
            json!({"apiVersion": "v1", "kind": "List", "items": values})
        };
        let name = path.with_extension("json");
        let name = name.file_name().expect("a name");
        std::fs::write(to.join(name), serde_json::to_string_pretty(&value).expect("JSON")).expect("writes");
    }
}

fn problem(fleet: &Path, apps: &Path) -> Value {
    let scenario = load(fleet, apps).unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_value(&scenario.problem).expect("JSON")
}

#[test]
fn a_json_dump_and_json_apps_load_like_their_yaml() {
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shop");
    let dir = tempfile::tempdir().expect("tempdir");
    as_json(&shop.join("fleet"), &dir.path().join("fleet"));
    as_json(&shop.join("apps"), &dir.path().join("apps"));
    let yaml = problem(&shop.join("fleet"), &shop.join("apps"));
    let from_json = problem(&dir.path().join("fleet"), &dir.path().join("apps"));
    assert!(
        yaml["clusters"].as_array().is_some_and(|c| c.len() == 2),
        "{yaml}"
    );
    assert!(
        yaml["workloads"].as_array().is_some_and(|w| !w.is_empty()),
        "{yaml}"
    );
    assert_eq!(from_json, yaml);
}

#[test]
fn typed_lists_expand_like_a_list() {
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shop");
    let dir = tempfile::tempdir().expect("tempdir");
    as_json(&shop.join("fleet"), &dir.path().join("fleet"));
    std::fs::create_dir_all(dir.path().join("apps")).expect("mkdir");
    // The Deployments as the API lists them (a DeploymentList), the rest as a List.
    let (mut deployments, mut rest) = (Vec::new(), Vec::new());
    for file in ["web.yaml", "worker.yaml"] {
        let text = std::fs::read_to_string(shop.join("apps").join(file)).expect("reads");
        for d in serde_norway::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(d).expect("YAML");
            match v["kind"].as_str() {
                Some("Deployment") => {
                    // The API server leaves a typed list's items without kind and apiVersion.
                    let mut v = v;
                    let object = v.as_object_mut().expect("an object");
                    object.remove("kind");
                    object.remove("apiVersion");
                    deployments.push(v);
                }
                Some(_) => rest.push(v),
                None => {}
            }
        }
    }
    assert!(!deployments.is_empty());
    let typed =
        json!({"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {}, "items": deployments});
    let list = json!({"apiVersion": "v1", "kind": "List", "items": rest});
    std::fs::write(dir.path().join("apps/deployments.json"), typed.to_string()).expect("writes");
    std::fs::write(dir.path().join("apps/rest.json"), list.to_string()).expect("writes");
    let from_lists = problem(&dir.path().join("fleet"), &dir.path().join("apps"));
    let yaml = problem(&shop.join("fleet"), &shop.join("apps"));
    assert_eq!(from_lists["workloads"], yaml["workloads"]);
}

#[test]
fn malformed_json_names_the_line() {
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shop");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("apps")).expect("mkdir");
    std::fs::write(
        dir.path().join("apps/web.json"),
        "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \n}\n",
    )
    .expect("writes");
    let e = load(&shop.join("fleet"), &dir.path().join("apps")).expect_err("malformed");
    assert!(
        matches!(
            e,
            LoadError::Yaml {
                format: "JSON",
                line: Some(4),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("web.json: malformed JSON at line 4, column "),
        "{e}"
    );
}

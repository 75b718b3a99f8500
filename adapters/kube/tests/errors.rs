//! Every kind of bad input gives one error whose message names the file, the object and the
//! field as far as they are known.

use std::path::Path;

use fleetplan_kube::{LoadError, load};

const FLEET: &str = "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- name: east\n  region: r1\n  pools:\n  \
                     - {name: general, count: 2, allocatable: {cpu: '4', memory: 16Gi}}\n";

const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  \
                   replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    \
                   spec:\n      containers:\n      - name: web\n        resources: {requests: {cpu: 500m}}\n";

/// A scenario directory with `fleet/` and `apps/` holding the given files.
struct Scenario(tempfile::TempDir);

impl Scenario {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("fleet")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("apps")).expect("mkdir");
        for (path, text) in files {
            std::fs::write(dir.path().join(path), text).expect("write");
        }
        Scenario(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// The load error, with the temporary directory removed from the message.
    fn error(&self) -> (LoadError, String) {
        let e = load(&self.path().join("fleet"), &self.path().join("apps")).expect_err("should fail");
        let message = e.to_string().replace(&format!("{}/", self.path().display()), "");
        (e, message)
    }
}

#[test]
fn a_good_scenario_loads() {
    let s = Scenario::new(&[("fleet/f.yaml", FLEET), ("apps/web.yaml", WEB)]);
    let scenario = load(&s.path().join("fleet"), &s.path().join("apps")).expect("loads");
    assert_eq!(scenario.problem.workloads.len(), 1);
}

#[test]
fn malformed_yaml_names_the_line() {
    let s = Scenario::new(&[
        ("fleet/f.yaml", FLEET),
        ("apps/web.yaml", "apiVersion: v1\nkind: [Service\nmetadata: {}\n"),
    ]);
    let (e, message) = s.error();
    assert!(matches!(e, LoadError::Yaml { line: Some(3), .. }), "{e:?}");
    assert!(
        message.starts_with("apps/web.yaml: malformed YAML at line 3, column "),
        "{message}"
    );
}

#[test]
fn unknown_kind() {
    let s = Scenario::new(&[
        ("fleet/f.yaml", FLEET),
        ("apps/web.yaml", &WEB.replace("Deployment", "Deploymnet")),
    ]);
    let (e, message) = s.error();
    assert!(matches!(e, LoadError::UnknownKind { .. }));
    assert_eq!(
        message,
        "apps/web.yaml: Deploymnet shop/web: kind: unknown kind `Deploymnet` in apiVersion `apps/v1`"
    );
}

#[test]
fn negative_replicas() {
    let s = Scenario::new(&[
        ("fleet/f.yaml", FLEET),
        ("apps/web.yaml", &WEB.replace("replicas: 2", "replicas: -1")),
    ]);
    assert_eq!(
        s.error().1,
        "apps/web.yaml: Deployment shop/web: spec.replicas: must not be negative (got -1)"
    );
}

#[test]
fn bad_quantity() {
    let s = Scenario::new(&[
        ("fleet/f.yaml", FLEET),
        ("apps/web.yaml", &WEB.replace("500m", "500mc")),
    ]);
    let (e, message) = s.error();
    assert!(matches!(e, LoadError::Quantity { .. }));
    assert!(
        message.starts_with(
            "apps/web.yaml: Deployment shop/web: spec.template.spec.containers[0].resources.requests.cpu: \
             invalid quantity \"500mc\" for cpu"
        ),
        "{message}"
    );
}

#[test]
fn bad_quantity_in_the_fleet() {
    let s = Scenario::new(&[
        ("fleet/f.yaml", &FLEET.replace("16Gi", "16GB")),
        ("apps/web.yaml", WEB),
    ]);
    assert!(
        s.error().1.starts_with(
            "fleet/f.yaml: cluster east: clusters[0].pools[0].allocatable.memory: invalid quantity \"16GB\""
        ),
        "{}",
        s.error().1
    );
}

#[test]
fn wrong_types_name_the_field() {
    let s = Scenario::new(&[
        ("fleet/f.yaml", FLEET),
        (
            "apps/web.yaml",
            &WEB.replace("name: web\n        resources", "name: [web]\n        resources"),
        ),
    ]);
    let (e, message) = s.error();
    assert!(matches!(e, LoadError::Type { .. }));
    assert_eq!(
        message,
        "apps/web.yaml: Deployment shop/web: spec.template.spec.containers[0].name: invalid type: sequence, expected a string"
    );
}

#[test]
fn duplicate_cluster_across_files() {
    let s = Scenario::new(&[
        ("fleet/a.yaml", FLEET),
        ("fleet/b.yaml", FLEET),
        ("apps/web.yaml", WEB),
    ]);
    let (e, message) = s.error();
    assert!(matches!(e, LoadError::DuplicateCluster { .. }));
    assert_eq!(
        message,
        "fleet/b.yaml: clusters[0]: duplicate cluster `east`, first defined in fleet/a.yaml"
    );
}

#[test]
fn duplicate_cluster_between_a_dump_and_a_concise_file() {
    let node =
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {topology.kubernetes.io/region: r1}\n";
    let s = Scenario::new(&[
        ("fleet/east.yaml", node),
        ("fleet/f.yaml", FLEET),
        ("apps/web.yaml", WEB),
    ]);
    assert_eq!(
        s.error().1,
        "fleet/f.yaml: clusters[0]: duplicate cluster `east`, first defined in fleet/east.yaml"
    );
}

#[test]
fn empty_fleet() {
    let s = Scenario::new(&[("fleet/f.yaml", "# nothing yet\n"), ("apps/web.yaml", WEB)]);
    let (e, message) = s.error();
    assert!(matches!(e, LoadError::EmptyFleet { .. }));
    assert_eq!(message, "fleet: the fleet has no cluster");
    let s = Scenario::new(&[
        (
            "fleet/f.yaml",
            "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters: []\n",
        ),
        ("apps/web.yaml", WEB),
    ]);
    assert_eq!(s.error().1, "fleet: the fleet has no cluster");
}

#[test]
fn unreadable_paths() {
    let s = Scenario::new(&[("fleet/f.yaml", FLEET)]);
    let e = load(&s.path().join("fleet"), &s.path().join("apps/x.yaml")).expect_err("missing");
    let message = e.to_string().replace(&format!("{}/", s.path().display()), "");
    assert!(matches!(e, LoadError::Read { .. }));
    assert_eq!(message, "cannot read apps/x.yaml: No such file or directory");
    let e = fleetplan_kube::load_scenario(&s.path().join("nowhere")).expect_err("missing");
    assert!(
        e.to_string().ends_with("nowhere/apps: No such file or directory"),
        "{e}"
    );
}

#[test]
fn unknown_fleetplan_annotation() {
    let web = WEB.replace(
        "namespace: shop\n",
        "namespace: shop\n  annotations: {fleetplan.io/cluster-weight: 'a=1'}\n",
    );
    let s = Scenario::new(&[("fleet/f.yaml", FLEET), ("apps/web.yaml", &web)]);
    let (e, message) = s.error();
    assert!(matches!(e, LoadError::UnknownAnnotation { .. }));
    assert!(
        message.starts_with(
            "apps/web.yaml: Deployment shop/web: metadata.annotations[fleetplan.io/cluster-weight]: unknown \
             annotation `fleetplan.io/cluster-weight`; known keys: fleetplan.io/cluster-selector, "
        ),
        "{message}"
    );
}

#[test]
fn current_entries_must_name_known_things_and_fit() {
    let with_current = |entry: &str| format!("{FLEET}current:\n- {entry}\n");
    let cases = [
        (
            "{workload: shop/api, cluster: east, pool: general, replicas: 1}",
            "fleet/f.yaml: current[0]: unknown workload `shop/api`",
        ),
        (
            "{workload: shop/web, cluster: west, pool: general, replicas: 1}",
            "fleet/f.yaml: current[0]: unknown cluster `west`",
        ),
        (
            "{workload: shop/web, cluster: east, pool: gpu, replicas: 1}",
            "fleet/f.yaml: current[0]: cluster `east` has no pool `gpu`",
        ),
        (
            "{workload: shop/web, cluster: east, pool: general, replicas: 17}",
            "fleet/f.yaml: current[0]: 17 replicas of `shop/web` do not fit in pool `general` of cluster `east`: \
             only 16 fit (room left: 0)",
        ),
    ];
    for (entry, expected) in cases {
        let s = Scenario::new(&[("fleet/f.yaml", &with_current(entry)), ("apps/web.yaml", WEB)]);
        assert_eq!(s.error().1, expected);
    }
}

#[test]
fn metadata_for_a_cluster_without_a_dump() {
    let s = Scenario::new(&[
        ("fleet/f.yaml", FLEET),
        ("fleet/_clusters.yaml", "clusters:\n  west: {region: r2}\n"),
        ("apps/web.yaml", WEB),
    ]);
    assert_eq!(
        s.error().1,
        "fleet/_clusters.yaml: clusters.west: no dump for cluster `west`"
    );
    // Metadata applies to dumps only, not to clusters of a concise file.
    let s = Scenario::new(&[
        ("fleet/f.yaml", FLEET),
        ("fleet/_clusters.yaml", "clusters:\n  east: {region: r2}\n"),
        ("apps/web.yaml", WEB),
    ]);
    assert_eq!(
        s.error().1,
        "fleet/_clusters.yaml: clusters.east: no dump for cluster `east`"
    );
}

#[test]
fn mixed_fleet_files_are_rejected() {
    let node = "---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n";
    let s = Scenario::new(&[
        ("fleet/f.yaml", &format!("{FLEET}{node}")),
        ("apps/web.yaml", WEB),
    ]);
    assert_eq!(
        s.error().1,
        "fleet/f.yaml: document 2: a concise fleet file holds only `kind: Fleet` documents"
    );
}

const TRAIN: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: train\n  namespace: ml\n  annotations:\n    \
                     fleetplan.io/gang: \"true\"\nspec:\n  parallelism: 2\n  template:\n    spec:\n      \
                     restartPolicy: Never\n      containers: [{name: t, resources: {requests: {cpu: '1'}}}]\n";

#[test]
fn bad_placement_annotations_name_the_object_and_the_annotation() {
    let cases = [
        (
            TRAIN.replace("\"true\"", "\"yes\""),
            "apps/train.yaml: Job ml/train: metadata.annotations[fleetplan.io/gang]: invalid value \"yes\": \
             expected `true` or `false`",
        ),
        (
            TRAIN.replace("fleetplan.io/gang: \"true\"", "fleetplan.io/min-regions: \"0\""),
            "apps/train.yaml: Job ml/train: metadata.annotations[fleetplan.io/min-regions]: invalid value \"0\": \
             expected a positive integer",
        ),
        (
            TRAIN.replace("fleetplan.io/gang: \"true\"", "fleetplan.io/min-regions: two"),
            "apps/train.yaml: Job ml/train: metadata.annotations[fleetplan.io/min-regions]: invalid value \"two\": \
             expected a positive integer",
        ),
        (
            TRAIN.replace(
                "fleetplan.io/gang: \"true\"",
                "fleetplan.io/region-demand: \"us-east-1=-5\"",
            ),
            "apps/train.yaml: Job ml/train: metadata.annotations[fleetplan.io/region-demand]: invalid value \
             \"us-east-1=-5\": `us-east-1` must be a non-negative integer, found `-5`",
        ),
        (
            TRAIN.replace(
                "fleetplan.io/gang: \"true\"",
                "fleetplan.io/region-demand: \"us-east-1\"",
            ),
            "apps/train.yaml: Job ml/train: metadata.annotations[fleetplan.io/region-demand]: invalid value \
             \"us-east-1\": expected `name=N`, found `us-east-1`",
        ),
    ];
    for (train, expected) in cases {
        let s = Scenario::new(&[("fleet/f.yaml", FLEET), ("apps/train.yaml", &train)]);
        let (e, message) = s.error();
        assert!(matches!(e, LoadError::Invalid { .. }), "{e:?}");
        assert_eq!(message, expected);
    }
    // Annotation values are strings: an unquoted YAML boolean is a type error, as for kubectl.
    let s = Scenario::new(&[
        ("fleet/f.yaml", FLEET),
        ("apps/train.yaml", &TRAIN.replace("\"true\"", "true")),
    ]);
    let (e, message) = s.error();
    assert!(matches!(e, LoadError::Type { .. }), "{e:?}");
    assert!(
        message.starts_with(
            "apps/train.yaml: Job ml/train: metadata.annotations.fleetplan.io/gang: invalid type"
        ),
        "{message}"
    );
    // Gang is accepted on Deployments too; the new keys are listed among the known ones.
    let web = WEB.replace(
        "namespace: shop\n",
        "namespace: shop\n  annotations: {fleetplan.io/gang: 'true', fleetplan.io/min-region: '2'}\n",
    );
    let s = Scenario::new(&[("fleet/f.yaml", FLEET), ("apps/web.yaml", &web)]);
    let (e, message) = s.error();
    assert!(matches!(e, LoadError::UnknownAnnotation { .. }), "{e:?}");
    assert!(
        message.starts_with(
            "apps/web.yaml: Deployment shop/web: metadata.annotations[fleetplan.io/min-region]: unknown annotation \
             `fleetplan.io/min-region`; known keys: "
        ) && message.ends_with("fleetplan.io/region-demand, fleetplan.io/gang, fleetplan.io/min-regions"),
        "{message}"
    );
}

#[test]
fn bad_prices_in_the_fleet_name_the_cluster_the_pool_and_the_field() {
    let cases = [
        (
            FLEET.replace("memory: 16Gi}}", "memory: 16Gi}, pricePerHour: -0.192}"),
            "fleet/f.yaml: cluster east: clusters[0].pools[0].pricePerHour: price -0.192 for pool `general` must \
             not be negative",
        ),
        (
            FLEET.replace("memory: 16Gi}}", "memory: 16Gi}, pricePerHour: 0.19 USD}"),
            "fleet/f.yaml: cluster east: clusters[0].pools[0].pricePerHour: invalid price \"0.19 USD\" for pool \
             `general`: expected a number of currency units per hour, such as 0.192",
        ),
        (
            FLEET.replace("region: r1\n", "region: r1\n  fixedPricePerHour: 5e12\n"),
            "fleet/f.yaml: cluster east: clusters[0].fixedPricePerHour: price 5000000000000.0 for cluster `east` is \
             out of range (at most 10^12 per hour)",
        ),
    ];
    for (fleet, expected) in cases {
        let s = Scenario::new(&[("fleet/f.yaml", &fleet), ("apps/web.yaml", WEB)]);
        let (e, message) = s.error();
        assert!(matches!(e, LoadError::Invalid { .. }), "{e:?}");
        assert_eq!(message, expected);
    }
}

#[test]
fn bad_prices_in_cluster_metadata_name_the_cluster_and_the_field() {
    let node = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {topology.kubernetes.io/region: r1, \
                node.kubernetes.io/instance-type: m5.xlarge}\n";
    let cases = [
        (
            "clusters:\n  east: {fixedPricePerHour: '-0.10'}\n",
            "fleet/_clusters.yaml: cluster east: clusters.east.fixedPricePerHour: price \"-0.10\" for cluster `east` \
             must not be negative",
        ),
        (
            "clusters:\n  east: {instancePricesPerHour: {m5.xlarge: [0.192]}}\n",
            "fleet/_clusters.yaml: cluster east: clusters.east.instancePricesPerHour[m5.xlarge]: invalid price \
             [0.192] for instance type `m5.xlarge`: expected a number of currency units per hour, such as 0.192",
        ),
        (
            "clusters:\n  east: {instancePricesPerHour: {m5.large: 0.096}}\n",
            "fleet/_clusters.yaml: cluster east: clusters.east.instancePricesPerHour[m5.large]: no node of cluster \
             `east` has the label node.kubernetes.io/instance-type=m5.large",
        ),
    ];
    for (meta, expected) in cases {
        let s = Scenario::new(&[
            ("fleet/east.yaml", node),
            ("fleet/_clusters.yaml", meta),
            ("apps/web.yaml", WEB),
        ]);
        let (e, message) = s.error();
        assert!(matches!(e, LoadError::Invalid { .. }), "{e:?}");
        assert_eq!(message, expected);
    }
}

/// What the API server refuses is refused by the apps reader too, naming file, object and
/// field: a pod template without containers.
#[test]
fn a_pod_template_without_containers() {
    let web = WEB.replace(
        "containers:\n      - name: web\n        resources: {requests: {cpu: 500m}}\n",
        "containers: []\n",
    );
    let s = Scenario::new(&[("fleet/f.yaml", FLEET), ("apps/web.yaml", &web)]);
    assert_eq!(
        s.error().1,
        "apps/web.yaml: Deployment shop/web: spec.template.spec.containers: at least one container is required"
    );
}

#[test]
fn requests_above_limits() {
    let s = Scenario::new(&[
        ("fleet/f.yaml", FLEET),
        (
            "apps/web.yaml",
            &WEB.replace(
                "{requests: {cpu: 500m}}",
                "{requests: {cpu: 500m}, limits: {cpu: 250m}}",
            ),
        ),
    ]);
    assert_eq!(
        s.error().1,
        "apps/web.yaml: Deployment shop/web: spec.template.spec.containers[0].resources.requests.cpu: must be less \
         than or equal to cpu limit of 250m"
    );
}

#[test]
fn tolerations_the_api_server_refuses() {
    let with = |toleration: &str| {
        let web = format!("{WEB}      tolerations: [{toleration}]\n");
        let s = Scenario::new(&[("fleet/f.yaml", FLEET), ("apps/web.yaml", &web)]);
        s.error().1
    };
    let at = "apps/web.yaml: Deployment shop/web: spec.template.spec.tolerations[0]";
    assert_eq!(
        with("{key: dedicated, operator: Exists, value: batch}"),
        format!("{at}.value: must be empty when `operator` is Exists (got `batch`)")
    );
    assert_eq!(
        with("{value: batch, effect: NoSchedule}"),
        format!("{at}.operator: must be Exists when `key` is empty (which tolerates every taint)")
    );
    assert_eq!(
        with("{key: dedicated, operator: Exists, effect: NoSchedule, tolerationSeconds: 60}"),
        format!("{at}.tolerationSeconds: only allowed with effect NoExecute")
    );
    assert_eq!(
        with("{key: dedicated, operator: Exists, effect: NoRun}"),
        format!("{at}.effect: unknown effect `NoRun`; expected NoSchedule, PreferNoSchedule or NoExecute")
    );
}

/// A maxSkew of 0 was accepted silently when the constraint's key is one the planner skips
/// (a node-level key): every constraint is checked now.
#[test]
fn a_spread_constraint_with_max_skew_zero() {
    for key in ["kubernetes.io/hostname", "topology.kubernetes.io/zone"] {
        let web = format!(
            "{WEB}      topologySpreadConstraints:\n      - {{maxSkew: 0, topologyKey: {key}, whenUnsatisfiable: \
             DoNotSchedule, labelSelector: {{matchLabels: {{app: web}}}}}}\n"
        );
        let s = Scenario::new(&[("fleet/f.yaml", FLEET), ("apps/web.yaml", &web)]);
        assert_eq!(
            s.error().1,
            "apps/web.yaml: Deployment shop/web: spec.template.spec.topologySpreadConstraints[0].maxSkew: must be at \
             least 1 (got 0)",
            "{key}"
        );
    }
}

#[test]
fn cluster_names_with_whitespace_are_refused() {
    let s = Scenario::new(&[
        (
            "fleet/f.yaml",
            &FLEET.replace("name: east", "name: \"east\\nwest\""),
        ),
        ("apps/web.yaml", WEB),
    ]);
    let (e, message) = s.error();
    assert!(matches!(e, LoadError::Invalid { .. }), "{e:?}");
    assert_eq!(
        message,
        "fleet/f.yaml: clusters[0].name: cluster name `east\\nwest` holds '\\n'; use only ASCII letters, digits, \
         `-`, `_` and `.`"
    );
    let node =
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {topology.kubernetes.io/region: r1}\n";
    let s = Scenario::new(&[("fleet/east a.yaml", node), ("apps/web.yaml", WEB)]);
    assert_eq!(
        s.error().1,
        "fleet/east a.yaml: cluster name `east a` holds ' '; use only ASCII letters, digits, `-`, `_` and `.` (a \
         dump's cluster is named after its file: rename it)"
    );
}

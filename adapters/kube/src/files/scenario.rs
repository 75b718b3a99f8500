//! Loading a scenario: the fleet (concise files, kubectl dumps or both) and the apps, checked
//! together and assembled into one [`Problem`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fleetplan::fargate::FargateSettings;
use fleetplan::{Cluster, Problem, Running, WorkloadId};

use crate::dependents::dependents;
use crate::error::{LoadError, Location};
use crate::files::carried::CarriedObject;
use crate::files::dump::{ClusterMeta, cluster_name, is_meta_file, read_dump, read_meta};
use crate::files::fleet::{CurrentEntry, FargateMerge, is_concise, is_foreign, read_concise};
use crate::files::limits::InputBudget;
use crate::files::source::{
    Skipped, SourceFile, SourceFiles, parse_documents, read_app_files, read_source_files,
};
use crate::files::workloads::{AppWorkload, load_apps};

/// A loaded scenario: the problem to plan and the objects carried along unplanned.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The clusters, workloads and running replicas.
    pub problem: Problem,
    /// Every apps object that is not planned (Services, ConfigMaps, custom resources, ...),
    /// in file order.
    pub carried: Vec<CarriedObject>,
    /// Every planned workload's object as written (a Deployment or a Job), from which an
    /// executor makes its copies in the workload clusters.
    pub sources: BTreeMap<WorkloadId, serde_json::Value>,
    /// The files below the fleet and apps folders that were not read, and why (none when
    /// loaded from [`SourceFile`]s).
    pub skipped: Vec<Skipped>,
}

impl Scenario {
    /// The carried objects that may follow the workloads (see [`crate::dependents`]), by
    /// reference, as written (for [`crate::control::desired::desired_dependents`]).
    pub fn dependent_objects(&self) -> BTreeMap<fleetplan::follow::ObjectRef, &CarriedObject> {
        crate::dependents::dependent_objects(&self.carried)
    }
}

/// Loads `dir/fleet` and `dir/apps` (see [`load`]).
///
/// # Errors
/// As [`load`].
pub fn load_scenario(dir: &Path) -> Result<Scenario, LoadError> {
    load(&dir.join("fleet"), &dir.join("apps"))
}

/// Loads `dir/fleet` and `dir/apps` with clusters read elsewhere (see [`load_with_clusters`]).
///
/// # Errors
/// As [`load_with_clusters`].
pub fn load_scenario_with_clusters(
    dir: &Path,
    extra: Vec<(Cluster, PathBuf)>,
) -> Result<Scenario, LoadError> {
    load_with_clusters(&dir.join("fleet"), &dir.join("apps"), extra)
}

/// Loads a fleet and apps into a [`Scenario`].
///
/// `fleet` is a file or a directory (searched recursively for `*.yaml`, `*.yml` and `*.json`,
/// sorted by path, see [`read_source_files`]); each file is either a concise fleet file
/// (`kind: Fleet`) or a kubectl dump of one cluster, decided by its content, and files named
/// `_clusters.yaml` give metadata for the dumped clusters. Documents whose `apiVersion` starts
/// with `eksctl.io/` (eksctl `ClusterConfig`s, read by the `fleetplan-aws` adapter) are
/// skipped. `apps` is a file or a directory of Kubernetes YAML, kustomizations rendered (see
/// [`read_app_files`]). The other files below them are listed in [`Scenario::skipped`].
///
/// Everything is checked before anything is returned.
///
/// # Errors
/// A [`LoadError`] naming the file, object and field of the first problem found.
pub fn load(fleet: &Path, apps: &Path) -> Result<Scenario, LoadError> {
    load_with_clusters(fleet, apps, Vec::new())
}

/// As [`load`], with `extra` clusters read elsewhere (by another adapter, from eksctl
/// `ClusterConfig`s say), each with the file it came from. They join the fleet's clusters
/// after them, before the concise fleet's `current` entries are applied (so those may name
/// them); a name already taken is a [`LoadError::DuplicateCluster`] naming both files. A
/// fleet whose only clusters are the extra ones is not empty. The files are read within the
/// default [`InputLimits`](crate::InputLimits).
///
/// # Errors
/// As [`load`].
pub fn load_with_clusters(
    fleet: &Path,
    apps: &Path,
    extra: Vec<(Cluster, PathBuf)>,
) -> Result<Scenario, LoadError> {
    let mut budget = InputBudget::default();
    let apps_files = read_app_files(apps, &mut budget)?;
    let fleet_files = read_source_files(fleet, &mut budget)?;
    load_files(fleet, &fleet_files, &apps_files, extra)
}

/// As [`load_with_clusters`], from the files already read from the `fleet` path (see
/// [`read_source_files`]) and the apps path (see [`read_app_files`]): for a caller that reads
/// each path once and hands some fleet files to another adapter too.
///
/// # Errors
/// As [`load`].
pub fn load_files(
    fleet: &Path,
    fleet_files: &SourceFiles,
    apps_files: &SourceFiles,
    extra: Vec<(Cluster, PathBuf)>,
) -> Result<Scenario, LoadError> {
    let mut scenario = load_sources(&fleet_files.files, &apps_files.files, extra).map_err(|e| match e {
        LoadError::EmptyFleet { .. } => LoadError::EmptyFleet {
            path: fleet.to_path_buf(),
        },
        other => other,
    })?;
    scenario.skipped = fleet_files
        .skipped
        .iter()
        .chain(&apps_files.skipped)
        .cloned()
        .collect();
    Ok(scenario)
}

/// As [`load_with_clusters`], from the fleet's and the apps' YAML given as [`SourceFile`]s
/// (their names label them in errors; a fleet file's name decides a dumped cluster's name
/// and marks `_clusters.yaml`). An empty fleet's error names the first fleet file, or
/// `fleet` when there is none.
///
/// # Errors
/// As [`load`].
pub fn load_sources(
    fleet: &[SourceFile],
    apps: &[SourceFile],
    extra: Vec<(Cluster, PathBuf)>,
) -> Result<Scenario, LoadError> {
    let apps = load_apps(apps)?;
    let dependents = dependents(&apps.workloads, &apps.carried)?;
    let routes = crate::routes::routes(&apps.carried, &dependents)?;
    let fleet = load_fleet(fleet, &apps.workloads, extra)?;
    let sources = apps
        .workloads
        .iter()
        .map(|a| (a.workload.id.clone(), a.source.clone()))
        .collect();
    let problem = Problem {
        clusters: fleet.clusters,
        workloads: apps.workloads.into_iter().map(|a| a.workload).collect(),
        current: fleet.running,
        fargate: fleet.fargate,
        dependents,
        routes,
    };
    problem.validate()?;
    Ok(Scenario {
        problem,
        carried: apps.carried,
        sources,
        skipped: Vec::new(),
    })
}

/// Collects clusters while checking that their names are unique.
#[derive(Default)]
struct Clusters {
    clusters: Vec<Cluster>,
    origins: BTreeMap<String, PathBuf>,
}

impl Clusters {
    fn add(&mut self, cluster: Cluster, at: Location) -> Result<(), LoadError> {
        let name = cluster.name.to_string();
        if let Some(first_file) = self.origins.get(&name) {
            return Err(LoadError::DuplicateCluster {
                at: Box::new(at),
                cluster: name,
                first_file: first_file.clone(),
            });
        }
        self.origins.insert(name, at.file.clone());
        self.clusters.push(cluster);
        Ok(())
    }
}

/// What the fleet path holds, with the extra clusters.
struct Fleet {
    clusters: Vec<Cluster>,
    running: Vec<Running>,
    fargate: FargateSettings,
}

fn load_fleet(
    files: &[SourceFile],
    apps: &[AppWorkload],
    extra: Vec<(Cluster, PathBuf)>,
) -> Result<Fleet, LoadError> {
    let mut meta: BTreeMap<String, ClusterMeta> = BTreeMap::new();
    for f in files.iter().filter(|f| is_meta_file(&f.name)) {
        read_meta(&f.text, &f.name, &mut meta)?;
    }
    let mut clusters = Clusters::default();
    let mut running = Vec::new();
    let mut entries = Vec::new();
    let mut dumped = Vec::new();
    let mut fargate = FargateMerge::default();
    for source in files.iter().filter(|f| !is_meta_file(&f.name)) {
        let file = &source.name;
        let mut documents = parse_documents(&source.text, file)?;
        documents.retain(|d| !is_foreign(&d.value));
        let concise = documents.iter().filter(|d| is_concise(&d.value)).count();
        if concise == 0 {
            if documents.is_empty() {
                continue;
            }
            let name = cluster_name(file)?;
            let dump = read_dump(name.clone(), file, &documents, meta.get(&name), apps)?;
            dumped.push(name);
            clusters.add(dump.cluster, Location::file(file))?;
            running.extend(dump.running);
            continue;
        }
        if let Some(other) = documents.iter().find(|d| !is_concise(&d.value)) {
            return Err(LoadError::Invalid {
                at: Box::new(Location {
                    file: file.clone(),
                    object: Some(other.label()),
                    field: None,
                }),
                message: "a concise fleet file holds only `kind: Fleet` documents".into(),
            });
        }
        for document in &documents {
            let fleet = read_concise(&document.value, file)?;
            for (cluster, at) in fleet.clusters {
                clusters.add(cluster, at)?;
            }
            entries.extend(fleet.current);
            fargate.add(fleet.fargate)?;
        }
    }
    for (name, m) in &meta {
        if !dumped.contains(name) {
            return Err(LoadError::Invalid {
                at: Box::new(m.at.clone()),
                message: format!("no dump for cluster `{name}`"),
            });
        }
    }
    for (cluster, file) in extra {
        let at = Location {
            file,
            object: Some(format!("cluster {}", cluster.name)),
            field: None,
        };
        clusters.add(cluster, at)?;
    }
    if clusters.clusters.is_empty() {
        return Err(LoadError::EmptyFleet {
            path: files
                .first()
                .map_or_else(|| PathBuf::from("fleet"), |f| f.name.clone()),
        });
    }
    let mut clusters = clusters.clusters;
    for entry in entries {
        running.push(apply_current(&entry, &mut clusters, apps)?);
    }
    Ok(Fleet {
        clusters,
        running: merge_running(running),
        fargate: fargate.finish(),
    })
}

/// Takes a `current` entry's replicas from its pool and returns them as running.
fn apply_current(
    entry: &CurrentEntry,
    clusters: &mut [Cluster],
    apps: &[AppWorkload],
) -> Result<Running, LoadError> {
    let invalid = |message: String| LoadError::Invalid {
        at: Box::new(entry.at.clone()),
        message,
    };
    let workload = apps
        .iter()
        .find(|a| a.workload.id == entry.workload)
        .ok_or_else(|| invalid(format!("unknown workload `{}`", entry.workload)))?;
    let cluster = clusters
        .iter_mut()
        .find(|c| c.name.as_str() == entry.cluster)
        .ok_or_else(|| invalid(format!("unknown cluster `{}`", entry.cluster)))?;
    let cluster_name = cluster.name.clone();
    let pool = cluster
        .pools
        .iter_mut()
        .find(|p| p.name.as_str() == entry.pool)
        .ok_or_else(|| {
            invalid(format!(
                "cluster `{}` has no pool `{}`",
                entry.cluster, entry.pool
            ))
        })?;
    if pool.fargate.is_some() {
        // A Fargate pool has no nodes: the planner counts its running replicas against the
        // Fargate quota of the cluster's account and region.
        return Ok(Running {
            workload: entry.workload.clone(),
            cluster: cluster_name,
            pool: pool.name.clone(),
            replicas: entry.replicas,
        });
    }
    let need = workload.workload.template.effective_requests();
    let left = pool.occupy(&need, entry.replicas);
    if left > 0 {
        let fitted = entry.replicas - left;
        let room = pool.fit(&need);
        return Err(invalid(format!(
            "{} replicas of `{}` do not fit in pool `{}` of cluster `{}`: only {fitted} fit (room left: {room})",
            entry.replicas, entry.workload, entry.pool, entry.cluster
        )));
    }
    Ok(Running {
        workload: entry.workload.clone(),
        cluster: cluster_name,
        pool: pool.name.clone(),
        replicas: entry.replicas,
    })
}

/// Adds up running replicas of the same workload, cluster and pool, in first-seen order.
fn merge_running(running: Vec<Running>) -> Vec<Running> {
    let mut merged: Vec<Running> = Vec::new();
    let mut index: BTreeMap<(WorkloadId, String, String), usize> = BTreeMap::new();
    for r in running {
        let key = (r.workload.clone(), r.cluster.to_string(), r.pool.to_string());
        match index.get(&key).and_then(|i| merged.get_mut(*i)) {
            Some(existing) => existing.replicas = existing.replicas.saturating_add(r.replicas),
            None => {
                index.insert(key, merged.len());
                merged.push(r);
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use fleetplan::fargate::{FargateQuota, FargateRates};
    use fleetplan::{HourlyPrice, NodePool, Resources};

    use super::*;

    const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  \
                       replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    \
                       spec:\n      containers:\n      - name: web\n        resources: {requests: {cpu: 500m}}\n";

    const EAST: &str = "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- name: east\n  region: us-east-1\n  \
                        account: '111122223333'\n  pools: [{name: general, count: 1, allocatable: {cpu: '4'}}]\n  \
                        fargateProfiles: [{name: serverless, selectors: [{namespace: shop}]}]\n";

    const EKSCTL: &str = "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: eks-a, region: us-west-2}\n\
                          fargateProfiles: [{name: fp, selectors: [{namespace: shop}]}]\n";

    /// A scenario directory with `fleet/` and `apps/web.yaml`, and the given fleet files.
    fn scenario(fleet: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("fleet")).unwrap();
        std::fs::create_dir_all(dir.path().join("apps")).unwrap();
        std::fs::write(dir.path().join("apps/web.yaml"), WEB).unwrap();
        for (name, text) in fleet {
            std::fs::write(dir.path().join("fleet").join(name), text).unwrap();
        }
        dir
    }

    /// The error of loading `dir` with `extra`, without the temporary directory.
    fn error(dir: &tempfile::TempDir, extra: Vec<(Cluster, PathBuf)>) -> String {
        load_scenario_with_clusters(dir.path(), extra)
            .err()
            .map(|e| e.to_string().replace(&format!("{}/", dir.path().display()), ""))
            .unwrap_or_default()
    }

    fn extra(name: &str, file: &str) -> (Cluster, PathBuf) {
        let mut cluster = Cluster::new(name, "us-west-2");
        cluster.pools.push(NodePool::uniform(
            "ng-1",
            2,
            Resources::new().with("cpu", 2000).with("pods", 110),
        ));
        (cluster, PathBuf::from(file))
    }

    #[test]
    fn fargate_current_takes_no_node_capacity_and_settings_reach_the_problem() {
        let current = "current:\n- {workload: shop/web, cluster: east, pool: serverless, replicas: 40}\n\
                       - {workload: shop/web, cluster: east, pool: general, replicas: 1}\n\
                       fargate:\n  defaultQuotaVcpus: 20\n  quotas: [{account: '111122223333', region: us-east-1, vcpus: 400}]\n";
        let rates = "apiVersion: fleetplan.io/v1\nkind: Fleet\nfargate:\n  \
                     rates: {us-east-1: {vcpuPerHour: 0.05, gbPerHour: 0.005}}\n  quotas: [{region: us-east-1, vcpus: 8}]\n";
        let dir = scenario(&[("a.yaml", &format!("{EAST}{current}")), ("b.yaml", rates)]);
        let problem = load_scenario(dir.path()).unwrap().problem;
        let east = &problem.clusters[0];
        assert_eq!(east.account.as_deref(), Some("111122223333"));
        let pools: Vec<(&str, bool)> = east
            .pools
            .iter()
            .map(|p| (p.name.as_str(), p.fargate.is_some()))
            .collect();
        assert_eq!(pools, [("general", false), ("serverless", true)]);
        // Only the node pool's replica took node capacity.
        assert_eq!(east.pools[0].nodes[0].free.get("cpu"), 3500);
        assert!(east.pools[1].nodes.is_empty());
        let running: Vec<(&str, u32)> = problem
            .current
            .iter()
            .map(|r| (r.pool.as_str(), r.replicas))
            .collect();
        assert_eq!(running, [("serverless", 40), ("general", 1)]);
        let f = &problem.fargate;
        assert_eq!(f.default_quota_vcpus, 20);
        assert_eq!(
            f.quotas,
            [
                FargateQuota {
                    account: Some("111122223333".into()),
                    region: "us-east-1".into(),
                    vcpus: 400
                },
                FargateQuota {
                    account: None,
                    region: "us-east-1".into(),
                    vcpus: 8
                },
            ]
        );
        assert_eq!(
            f.rates["us-east-1"],
            FargateRates {
                vcpu_hour: HourlyPrice(50_000),
                gb_hour: HourlyPrice(5_000)
            }
        );
        assert_eq!(f.quota_vcpus(Some("111122223333"), "us-east-1"), 400);

        // A second file setting the default quota: an error naming both files.
        let dir = scenario(&[
            ("a.yaml", &format!("{EAST}{current}")),
            (
                "b.yaml",
                "apiVersion: fleetplan.io/v1\nkind: Fleet\nfargate: {defaultQuotaVcpus: 6}\n",
            ),
        ]);
        assert_eq!(
            error(&dir, Vec::new()),
            "fleet/b.yaml: Fargate settings: fargate.defaultQuotaVcpus: defaultQuotaVcpus is given twice (first in \
             fleet/a.yaml)"
        );
    }

    #[test]
    fn eksctl_documents_are_skipped() {
        let concise = format!("{EKSCTL}---\n{EAST}");
        let dir = scenario(&[("eks-a.yaml", EKSCTL), ("east.yaml", &concise)]);
        let problem = load_scenario(dir.path()).unwrap().problem;
        let names: Vec<&str> = problem.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["east"]);
        // Beside dump documents too (the file stem names the dumped cluster).
        let dump = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {topology.kubernetes.io/region: r1}\n\
                    status: {allocatable: {cpu: '4'}, conditions: [{type: Ready, status: 'True'}]}\n";
        let dir = scenario(&[("west.yaml", &format!("{EKSCTL}---\n{dump}"))]);
        let problem = load_scenario(dir.path()).unwrap().problem;
        assert_eq!(problem.clusters[0].name.as_str(), "west");
        assert_eq!(problem.clusters[0].pools.len(), 1);
        // A fleet of eksctl documents only holds no cluster for this adapter.
        let dir = scenario(&[("eks-a.yaml", EKSCTL)]);
        assert_eq!(error(&dir, Vec::new()), "fleet: the fleet has no cluster");
    }

    #[test]
    fn extra_clusters_join_the_fleet() {
        let current = "current:\n- {workload: shop/web, cluster: eks-a, pool: ng-1, replicas: 1}\n";
        let dir = scenario(&[("eks-a.yaml", EKSCTL), ("east.yaml", &format!("{EAST}{current}"))]);
        let eks = dir.path().join("fleet/eks-a.yaml");
        let scenario =
            load_scenario_with_clusters(dir.path(), vec![extra("eks-a", eks.to_str().unwrap())]).unwrap();
        let problem = &scenario.problem;
        let names: Vec<&str> = problem.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["east", "eks-a"]);
        // `current` may name an extra cluster: its replica takes node capacity there.
        let cpus: Vec<(u32, i64)> = problem.clusters[1].pools[0]
            .nodes
            .iter()
            .map(|g| (g.count, g.free.get("cpu")))
            .collect();
        assert_eq!(cpus, [(1, 1500), (1, 2000)]);
        assert_eq!(problem.current[0].cluster.as_str(), "eks-a");

        // `load` is `load_with_clusters` with none.
        let plain = load(&dir.path().join("fleet"), &dir.path().join("apps")).err();
        assert!(
            plain.is_some_and(|e| e.to_string().ends_with("current[0]: unknown cluster `eks-a`")),
            "the current entry names a cluster only the extra list has"
        );

        // A fleet of eksctl documents only, with the clusters they describe.
        let dir = self::scenario(&[("eks-a.yaml", EKSCTL)]);
        let loaded =
            load_scenario_with_clusters(dir.path(), vec![extra("eks-a", "fleet/eks-a.yaml")]).unwrap();
        assert_eq!(loaded.problem.clusters.len(), 1);

        // Names already taken, in the fleet or among the extra clusters, name both files.
        let dir = self::scenario(&[("east.yaml", EAST)]);
        assert_eq!(
            error(&dir, vec![extra("east", "fleet/eks-east.yaml")]),
            "fleet/eks-east.yaml: cluster east: duplicate cluster `east`, first defined in fleet/east.yaml"
        );
        assert_eq!(
            error(
                &dir,
                vec![extra("eks-a", "fleet/one.yaml"), extra("eks-a", "fleet/two.yaml")]
            ),
            "fleet/two.yaml: cluster eks-a: duplicate cluster `eks-a`, first defined in fleet/one.yaml"
        );
    }
}

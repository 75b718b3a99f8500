//! Loading a scenario: the fleet (concise files, kubectl dumps or both) and the apps, checked
//! together and assembled into one [`Problem`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fleetplan::{Cluster, Problem, Running, WorkloadId};

use crate::dump::{ClusterMeta, cluster_name, is_meta_file, read_dump, read_meta};
use crate::error::{LoadError, Location};
use crate::fleet::{CurrentEntry, is_concise, read_concise};
use crate::source::{read_documents, yaml_files};
use crate::workloads::{AppWorkload, load_apps};

/// A loaded scenario: the problem to plan and the objects carried along unplanned.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The clusters, workloads and running replicas.
    pub problem: Problem,
    /// Every apps object that is not planned (Services, ConfigMaps, custom resources, ...),
    /// in file order.
    pub carried: Vec<CarriedObject>,
}

/// An apps object carried along unplanned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarriedObject {
    /// `kind`, such as `Service`.
    pub kind: String,
    /// `apiVersion`, such as `v1`.
    pub api_version: String,
    /// `metadata.namespace` as written (`None` when absent, even for namespaced kinds).
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
}

/// Loads `dir/fleet` and `dir/apps` (see [`load`]).
///
/// # Errors
/// As [`load`].
pub fn load_scenario(dir: &Path) -> Result<Scenario, LoadError> {
    load(&dir.join("fleet"), &dir.join("apps"))
}

/// Loads a fleet and apps into a [`Scenario`].
///
/// `fleet` is a file or a directory (searched recursively for `*.yaml`/`*.yml`, sorted by
/// path); each file is either a concise fleet file (`kind: Fleet`) or a kubectl dump of one
/// cluster, decided by its content, and files named `_clusters.yaml` give metadata for the
/// dumped clusters. `apps` is a file or a directory of Kubernetes YAML.
///
/// Everything is checked before anything is returned.
///
/// # Errors
/// A [`LoadError`] naming the file, object and field of the first problem found.
pub fn load(fleet: &Path, apps: &Path) -> Result<Scenario, LoadError> {
    let apps = load_apps(apps)?;
    let (clusters, current) = load_fleet(fleet, &apps.workloads)?;
    let problem = Problem {
        clusters,
        workloads: apps.workloads.into_iter().map(|a| a.workload).collect(),
        current,
        ..Problem::default()
    };
    problem.validate()?;
    Ok(Scenario {
        problem,
        carried: apps.carried,
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

fn load_fleet(fleet: &Path, apps: &[AppWorkload]) -> Result<(Vec<Cluster>, Vec<Running>), LoadError> {
    let files = yaml_files(fleet)?;
    let mut meta: BTreeMap<String, ClusterMeta> = BTreeMap::new();
    for file in files.iter().filter(|f| is_meta_file(f)) {
        read_meta(file, &mut meta)?;
    }
    let mut clusters = Clusters::default();
    let mut running = Vec::new();
    let mut entries = Vec::new();
    let mut dumped = Vec::new();
    for file in files.iter().filter(|f| !is_meta_file(f)) {
        let documents = read_documents(file)?;
        let concise = documents.iter().filter(|d| is_concise(&d.value)).count();
        if concise == 0 {
            if documents.is_empty() {
                continue;
            }
            let name = cluster_name(file)?;
            let dump = read_dump(file, &documents, meta.get(&name), apps)?;
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
    if clusters.clusters.is_empty() {
        return Err(LoadError::EmptyFleet {
            path: fleet.to_path_buf(),
        });
    }
    let mut clusters = clusters.clusters;
    for entry in entries {
        running.push(apply_current(&entry, &mut clusters, apps)?);
    }
    Ok((clusters, merge_running(running)))
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

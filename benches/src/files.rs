//! Instance folders: the JSON files every solver and peer of the harness reads (their format is
//! documented in `benches/INSTANCES.md`), written from a problem and read back.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use fleetplan::optimize::export::{self, MilpMatrix};
use fleetplan::optimize::min_cost_flow::{FlowArc, FlowNetwork};
use fleetplan::{Health, PlanOptions, Problem, Strategy, Weights, plan};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What an instance is, and the cluster every runner fails for the failover measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The family's name.
    pub family: String,
    /// Replicas in all.
    pub replicas: u64,
    /// The generator's seed.
    pub seed: u64,
    /// The cluster holding most replicas in the fast plan.
    pub fail_cluster: String,
    /// Whether `flow.json` was written (the network is within the harness's flow size cap).
    pub flow: bool,
    /// Whether `milp.json` was written (the MILP is within the harness's MILP size cap).
    pub milp: bool,
}

/// Writes the instance folder of `problem`: `problem.json`, `karmada.json`, `meta.json`, and
/// `flow.json` and `milp.json` when asked for.
///
/// # Errors
/// When the problem is invalid or a file cannot be written (the message names the file).
pub fn write_instance(
    dir: &Path,
    problem: &Problem,
    mut meta: Meta,
    flow: bool,
    milp: bool,
) -> Result<Meta, String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let weights = Weights::default();
    let fast = plan(problem, &PlanOptions::default()).map_err(|e| e.to_string())?;
    let mut per_cluster: BTreeMap<&str, u64> = BTreeMap::new();
    for p in &fast.placements {
        *per_cluster.entry(p.cluster.as_str()).or_insert(0) += u64::from(p.replicas);
    }
    meta.fail_cluster = per_cluster
        .iter()
        .max_by_key(|&(name, replicas)| (*replicas, std::cmp::Reverse(*name)))
        .map_or_else(
            || problem.clusters[0].name.to_string(),
            |(name, _)| name.to_string(),
        );
    write(
        dir,
        "problem.json",
        &serde_json::to_value(problem).map_err(|e| e.to_string())?,
    )?;
    write(dir, "karmada.json", &karmada(problem, &meta.fail_cluster)?)?;
    meta.flow = flow;
    if flow {
        let network = export::flow_network(problem, weights).map_err(|e| e.to_string())?;
        write(dir, "flow.json", &flow_json(&network))?;
    }
    meta.milp = milp;
    if milp {
        let matrix = export::milp(problem, weights).map_err(|e| e.to_string())?;
        write(dir, "milp.json", &milp_json(&matrix))?;
    }
    write(
        dir,
        "meta.json",
        &serde_json::to_value(&meta).map_err(|e| e.to_string())?,
    )?;
    Ok(meta)
}

fn write(dir: &Path, name: &str, value: &Value) -> Result<(), String> {
    let path = dir.join(name);
    let text = serde_json::to_string(value).map_err(|e| format!("{}: {e}", path.display()))?;
    fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads and parses `name` in the instance folder `dir`.
///
/// # Errors
/// When the file is missing or is not the expected JSON (the message names the file).
pub fn read<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str) -> Result<T, String> {
    let path: PathBuf = dir.join(name);
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn flow_json(network: &FlowNetwork) -> Value {
    let nodes: Vec<i64> = network.node_weights().copied().collect();
    let arcs: Vec<[i64; 4]> = network
        .edge_references()
        .map(|e| {
            [
                e.source().index() as i64,
                e.target().index() as i64,
                e.weight().capacity,
                e.weight().cost,
            ]
        })
        .collect();
    json!({ "nodes": nodes, "arcs": arcs })
}

/// The network of a `flow.json` document.
#[derive(Deserialize)]
pub struct FlowFile {
    /// Supply per node.
    pub nodes: Vec<i64>,
    /// `[tail, head, capacity, cost]` per arc.
    pub arcs: Vec<[i64; 4]>,
}

impl FlowFile {
    /// The network as `fleetplan`'s min-cost-flow solver takes it.
    ///
    /// # Errors
    /// When an arc names a node that does not exist.
    pub fn network(&self) -> Result<FlowNetwork, String> {
        let mut net = FlowNetwork::with_capacity(self.nodes.len(), self.arcs.len());
        let ids: Vec<_> = self.nodes.iter().map(|&s| net.add_node(s)).collect();
        for (k, &[tail, head, capacity, cost]) in self.arcs.iter().enumerate() {
            let node = |i: i64| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| ids.get(i).copied())
                    .ok_or_else(|| format!("flow.json: arcs[{k}]: no node {i}"))
            };
            net.add_edge(node(tail)?, node(head)?, FlowArc { capacity, cost });
        }
        Ok(net)
    }
}

/// The program of a `milp.json` document (`null` bounds read as infinite).
#[derive(Deserialize)]
pub struct MilpFile {
    /// Cost per column.
    pub c: Vec<f64>,
    /// Constant added to the objective.
    pub constant: f64,
    /// 1 for an integer column.
    pub integrality: Vec<u8>,
    /// Column lower bounds.
    pub lb: Vec<Option<f64>>,
    /// Column upper bounds.
    pub ub: Vec<Option<f64>>,
    /// The constraint matrix.
    pub a: SparseRows,
    /// Row lower bounds.
    pub row_lb: Vec<Option<f64>>,
    /// Row upper bounds.
    pub row_ub: Vec<Option<f64>>,
}

/// Compressed sparse rows.
#[derive(Deserialize)]
pub struct SparseRows {
    /// Where each row starts in `indices` and `data`, and where the last ends.
    pub indptr: Vec<usize>,
    /// Column of each entry.
    pub indices: Vec<usize>,
    /// Value of each entry.
    pub data: Vec<f64>,
}

/// Infinite bounds as JSON `null`.
fn finite(values: &[f64]) -> Vec<Option<f64>> {
    values.iter().map(|v| v.is_finite().then_some(*v)).collect()
}

fn milp_json(m: &MilpMatrix) -> Value {
    json!({
        "c": m.objective,
        "constant": m.constant,
        "integrality": m.integer.iter().map(|&i| u8::from(i)).collect::<Vec<_>>(),
        "lb": finite(&m.lower),
        "ub": finite(&m.upper),
        "a": {"indptr": m.row_starts, "indices": m.columns, "data": m.values},
        "row_lb": finite(&m.row_lower),
        "row_ub": finite(&m.row_upper),
    })
}

/// The cluster-level view of `problem` (see `karmada.json` in `benches/INSTANCES.md`).
fn karmada(problem: &Problem, fail_cluster: &str) -> Result<Value, String> {
    const RESOURCES: [&str; 4] = ["cpu", "memory", "pods", "nvidia.com/gpu"];
    let quantity = |name: &str, amount: i64| {
        if name == "cpu" {
            format!("{amount}m")
        } else {
            amount.to_string()
        }
    };
    let clusters: Vec<Value> = problem
        .clusters
        .iter()
        .map(|c| {
            let mut allocatable = [0i64; 4];
            let mut allocated = [0i64; 4];
            for pool in c.pools.iter().filter(|p| p.fargate.is_none()) {
                for group in &pool.nodes {
                    for (r, name) in RESOURCES.iter().enumerate() {
                        let total = pool.allocatable.get(name);
                        let free = group.free.get(name).clamp(0, total);
                        allocatable[r] += i64::from(group.count) * total;
                        allocated[r] += i64::from(group.count) * (total - free);
                    }
                }
            }
            let list = |v: [i64; 4]| -> BTreeMap<&str, String> {
                RESOURCES
                    .iter()
                    .zip(v)
                    .map(|(n, a)| (*n, quantity(n, a)))
                    .collect()
            };
            json!({
                "name": c.name.as_str(),
                "region": c.region,
                "ready": c.health == Health::Ready,
                "allocatable": list(allocatable),
                "allocated": list(allocated),
            })
        })
        .collect();
    let candidates = export::candidate_clusters(problem).map_err(|e| e.to_string())?;
    // Replicas already running, in clusters that keep them: the binding's last result.
    let mut running: BTreeMap<&fleetplan::WorkloadId, BTreeMap<&str, u32>> = BTreeMap::new();
    for r in &problem.current {
        let keeps = problem
            .clusters
            .iter()
            .any(|c| c.name == r.cluster && c.health.keeps_running());
        if keeps {
            *running
                .entry(&r.workload)
                .or_default()
                .entry(r.cluster.as_str())
                .or_insert(0) += r.replicas;
        }
    }
    let workloads: Vec<Value> = problem
        .workloads
        .iter()
        .zip(candidates)
        .map(|(w, candidates)| {
            let requests = w.template.effective_requests();
            let requests: BTreeMap<&str, String> = RESOURCES
                .iter()
                .filter(|n| **n != "pods")
                .map(|n| (*n, requests.get(n)))
                .filter(|(n, a)| *a > 0 || *n != "nvidia.com/gpu")
                .map(|(n, a)| (n, quantity(n, a)))
                .collect();
            let names: Vec<&str> = candidates
                .iter()
                .map(|&c| problem.clusters[c].name.as_str())
                .collect();
            let division = match w.policy.strategy {
                Strategy::Spread => "dynamic",
                Strategy::Weighted => "static",
                Strategy::Pack => "aggregated",
            };
            let weights: BTreeMap<&str, u64> = candidates
                .iter()
                .map(|&c| {
                    let cluster = &problem.clusters[c];
                    let weight = u64::from(w.policy.cluster_weights.get(cluster.name.as_str()).unwrap_or(1))
                        * u64::from(w.policy.region_weights.get(&cluster.region).unwrap_or(1));
                    (cluster.name.as_str(), weight)
                })
                .collect();
            json!({
                "name": w.id.to_string(),
                "replicas": w.replicas,
                "requests": requests,
                "candidates": names,
                "division": division,
                "weights": weights,
                "running": running.get(&w.id).cloned().unwrap_or_default(),
            })
        })
        .collect();
    Ok(json!({ "clusters": clusters, "workloads": workloads, "fail_cluster": fail_cluster }))
}

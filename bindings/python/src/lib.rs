//! `fleetplan._native`: the Python package's native module, a thin front over the engine.
//!
//! It loads scenarios through the same adapters as the `fleetplan` command line (eksctl files
//! through `fleetplan-aws`, everything else through `fleetplan-kube`), plans, simulates and
//! resolves hosts with the core, and hands results to Python as plain dicts and lists (the
//! documented JSON contracts, through serde). No planning happens here. The GIL is released
//! while loading, planning and simulating. Bad input raises `FleetplanError` with the message
//! the command line prints.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fleetplan::simulate::{Disruption, Operation, RecoveryPolicy, Simulation, Timeline, TimelineStep};
use fleetplan::traffic::{ClusterTraffic, HostTraffic, RegionTraffic, find_host, resolve as resolve_host};
use fleetplan::{ClusterName, Plan, PlanOptions, Problem, SolverChoice, Weights, solve, utilisation};
use fleetplan_kube::{
    InputBudget, SourceFile, foreign_documents, load_sources, parse_steps, read_app_files, read_source_files,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyUserWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pythonize::pythonize;

create_exception!(
    _native,
    FleetplanError,
    PyValueError,
    "Bad input: the message names the file, object and field, as the command line does."
);
create_exception!(
    _native,
    InternalError,
    PyRuntimeError,
    "A failure of fleetplan itself (a solver failing on valid input): a bug to report, not bad input."
);

/// A core error as the exception Python sees: internal failures apart from bad input.
fn plan_error(error: &fleetplan::Error) -> PyErr {
    if error.is_internal() {
        InternalError::new_err(format!(
            "{error}; this is a fleetplan bug, please report it with the input"
        ))
    } else {
        FleetplanError::new_err(error.to_string())
    }
}

/// A loaded scenario: clusters, workloads and running replicas, checked.
#[pyclass(frozen, module = "fleetplan._native")]
struct Scenario {
    problem: Arc<Problem>,
    carried: Vec<String>,
}

/// A plan with the problem it answers (for utilisation).
#[pyclass(frozen, module = "fleetplan._native")]
struct NativePlan {
    plan: Plan,
    problem: Arc<Problem>,
}

/// The solver options, as the command line's flags give them.
fn options(
    solver: &str,
    explain: bool,
    time_limit: f64,
    weights: Option<Vec<(String, f64)>>,
) -> PyResult<PlanOptions> {
    let solver = match solver {
        "auto" => SolverChoice::Auto,
        "fast" => SolverChoice::Fast,
        "flow" => SolverChoice::Flow,
        "exact" => SolverChoice::Exact,
        other => {
            return Err(FleetplanError::new_err(format!(
                "solver: expected auto, fast, flow or exact, got `{other}`"
            )));
        }
    };
    if !(time_limit.is_finite() && time_limit > 0.0) {
        return Err(FleetplanError::new_err(format!(
            "time_limit: expected a positive number of seconds, got {time_limit}"
        )));
    }
    let mut set = Weights::default();
    for (name, value) in weights.unwrap_or_default() {
        set.set(&name, value)
            .map_err(|e| FleetplanError::new_err(format!("weights: {e}")))?;
    }
    Ok(PlanOptions {
        explain,
        solver,
        weights: set,
        time_limit: Duration::from_secs_f64(time_limit.min(1e6)),
    })
}

/// Loads a scenario from fleet and apps YAML files, as `fleetplan plan` does.
fn load(fleet: &[SourceFile], apps: &[SourceFile]) -> Result<Scenario, String> {
    let eksctl = foreign_documents(fleet).map_err(|e| e.to_string())?;
    let eks = fleetplan_aws::cluster_configs_from_documents(
        eksctl.iter().map(|(f, d)| (f.as_path(), d.as_slice())),
    )
    .map_err(|e| e.to_string())?;
    let scenario = load_sources(fleet, apps, eks).map_err(|e| e.to_string())?;
    Ok(Scenario {
        problem: Arc::new(scenario.problem),
        carried: scenario
            .carried
            .iter()
            .map(|c| match &c.namespace {
                Some(ns) => format!("{} {ns}/{}", c.kind, c.name),
                None => format!("{} {}", c.kind, c.name),
            })
            .collect(),
    })
}

/// Named texts as source files.
fn sources(texts: Vec<(String, String)>) -> Vec<SourceFile> {
    texts
        .into_iter()
        .map(|(name, text)| SourceFile {
            name: PathBuf::from(name),
            text,
        })
        .collect()
}

/// Runs `steps` through the core's simulation from `problem`, as `fleetplan simulate` does:
/// step 0, the first plan, then one entry per step. An error names the step that failed.
fn run_steps(
    problem: Problem,
    options: PlanOptions,
    recovery: RecoveryPolicy,
    disruption: Disruption,
    steps: &[Vec<Operation>],
) -> Result<Vec<TimelineStep>, String> {
    let (mut sim, initial) =
        Simulation::new(problem, options, recovery, disruption).map_err(|e| e.to_string())?;
    let mut timeline = vec![TimelineStep {
        plan: sim.plan(),
        step: initial,
    }];
    for (i, operations) in steps.iter().enumerate() {
        let step = sim.step(operations).map_err(|e| {
            let ops: Vec<String> = operations.iter().map(ToString::to_string).collect();
            format!("step {} ({}): {e}", i + 1, ops.join(", "))
        })?;
        timeline.push(TimelineStep {
            plan: sim.plan(),
            step,
        });
    }
    Ok(timeline)
}

#[pymethods]
impl Scenario {
    /// Loads `path/fleet` and `path/apps` (kustomizations rendered with `kubectl kustomize`),
    /// with a `UserWarning` for each file it did not read, as the command line warns.
    #[staticmethod]
    fn from_dir(py: Python<'_>, path: PathBuf) -> PyResult<Scenario> {
        let (scenario, skipped) = py
            .detach(|| {
                let mut budget = InputBudget::default();
                let fleet = read_source_files(&path.join("fleet"), &mut budget).map_err(|e| e.to_string())?;
                let apps = read_app_files(&path.join("apps"), &mut budget).map_err(|e| e.to_string())?;
                let scenario = load(&fleet.files, &apps.files)?;
                Ok::<_, String>((scenario, [fleet.skipped, apps.skipped].concat()))
            })
            .map_err(FleetplanError::new_err)?;
        for skipped in skipped {
            let message = CString::new(format!("skipped {skipped}"))?;
            PyErr::warn(py, &py.get_type::<PyUserWarning>(), &message, 1)?;
        }
        Ok(scenario)
    }

    /// Loads named YAML texts: `fleet` and `apps` are lists of `(name, text)`.
    #[staticmethod]
    fn from_texts(
        py: Python<'_>,
        fleet: Vec<(String, String)>,
        apps: Vec<(String, String)>,
    ) -> PyResult<Scenario> {
        let (fleet, apps) = (sources(fleet), sources(apps));
        py.detach(|| load(&fleet, &apps)).map_err(FleetplanError::new_err)
    }

    /// Loads a problem written as JSON (the core model's serde form, as the benchmark tools
    /// write synthetic fleets); it is checked as a loaded scenario is.
    #[staticmethod]
    fn from_problem_json(py: Python<'_>, text: &str) -> PyResult<Scenario> {
        py.detach(|| {
            let problem: Problem = serde_json::from_str(text).map_err(|e| format!("problem JSON: {e}"))?;
            problem.validate().map_err(|e| e.to_string())?;
            Ok::<_, String>(Scenario {
                problem: Arc::new(problem),
                carried: Vec::new(),
            })
        })
        .map_err(FleetplanError::new_err)
    }

    /// Plans with `solver` without converting the plan for Python, and returns the seconds
    /// the core took: the native baseline for measuring the Python overhead.
    #[pyo3(signature = (solver = "fast"))]
    fn native_plan_seconds(&self, py: Python<'_>, solver: &str) -> PyResult<f64> {
        let options = options(solver, false, 10.0, None)?;
        py.detach(|| {
            let started = std::time::Instant::now();
            solve(&self.problem, &options).map(|_| started.elapsed().as_secs_f64())
        })
        .map_err(|e| plan_error(&e))
    }

    /// The problem as a dict (clusters, workloads, current, fargate).
    fn problem<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &*self.problem)?)
    }

    /// The objects carried along unplanned, as `Kind namespace/name`.
    fn carried(&self) -> Vec<String> {
        self.carried.clone()
    }

    /// Plans the scenario.
    #[pyo3(signature = (solver = "auto", explain = false, time_limit = 10.0, weights = None))]
    fn plan(
        &self,
        py: Python<'_>,
        solver: &str,
        explain: bool,
        time_limit: f64,
        weights: Option<Vec<(String, f64)>>,
    ) -> PyResult<NativePlan> {
        let options = options(solver, explain, time_limit, weights)?;
        let problem = Arc::clone(&self.problem);
        let plan = py
            .detach(|| solve(&problem, &options))
            .map_err(|e| plan_error(&e))?;
        Ok(NativePlan { plan, problem })
    }

    /// Runs what-if steps (YAML or JSON text, as a steps file) and returns the timeline
    /// document, as `fleetplan simulate -o json` prints it.
    #[pyo3(signature = (steps, solver = "fast", recovery = "stay", max_surge = 1, max_unavailable = 0, time_limit = 10.0, weights = None))]
    #[allow(clippy::too_many_arguments)]
    fn simulate<'py>(
        &self,
        py: Python<'py>,
        steps: &str,
        solver: &str,
        recovery: &str,
        max_surge: u32,
        max_unavailable: u32,
        time_limit: f64,
        weights: Option<Vec<(String, f64)>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = options(solver, false, time_limit, weights)?;
        let recovery = match recovery {
            "stay" => RecoveryPolicy::Stay,
            "rebalance" => RecoveryPolicy::Rebalance,
            other => {
                return Err(FleetplanError::new_err(format!(
                    "recovery: expected stay or rebalance, got `{other}`"
                )));
            }
        };
        let steps = parse_steps(steps, "steps").map_err(FleetplanError::new_err)?;
        let disruption = Disruption {
            max_surge,
            max_unavailable,
        };
        let problem = (*self.problem).clone();
        let timeline = py
            .detach(|| run_steps(problem, options, recovery, disruption, &steps))
            .map_err(FleetplanError::new_err)?;
        Ok(pythonize(py, &Timeline::new(&timeline))?)
    }

    /// Resolves `host` for users in `from_region` as Route53 answers them, with the clusters
    /// of `unhealthy` failing their health checks, on the plan after failing the clusters of
    /// `fail` one step each: `fleetplan traffic resolve HOST --from REGION --unhealthy ...
    /// --fail ...`. Returns the resolution as a dict, as that command's `-o json` prints it.
    #[pyo3(signature = (host, from_region, unhealthy = Vec::new(), fail = Vec::new(), solver = "fast", time_limit = 10.0, weights = None))]
    #[allow(clippy::too_many_arguments)]
    fn resolve<'py>(
        &self,
        py: Python<'py>,
        host: &str,
        from_region: &str,
        unhealthy: Vec<String>,
        fail: Vec<String>,
        solver: &str,
        time_limit: f64,
        weights: Option<Vec<(String, f64)>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = options(solver, false, time_limit, weights)?;
        let problem = &self.problem;
        let mut down: BTreeSet<ClusterName> = BTreeSet::new();
        for name in &unhealthy {
            if !problem.clusters.iter().any(|c| c.name.as_str() == name) {
                return Err(FleetplanError::new_err(format!(
                    "unhealthy: unknown cluster `{}`",
                    name.escape_debug()
                )));
            }
            down.insert(name.as_str().into());
        }
        let steps: Vec<Vec<Operation>> = fail
            .into_iter()
            .map(|cluster| vec![Operation::Fail { cluster }])
            .collect();
        let problem = (**problem).clone();
        let resolution = py
            .detach(|| {
                let timeline = run_steps(
                    problem,
                    options,
                    RecoveryPolicy::Stay,
                    Disruption::default(),
                    &steps,
                )?;
                let traffic = timeline.last().map_or(&[][..], |t| &t.plan.traffic[..]);
                let found = find_host(traffic, host).map_err(|e| e.to_string())?;
                resolve_host(found, from_region, &down)
                    .map_err(|e| format!("from_region `{}`: {e}", from_region.escape_debug()))
            })
            .map_err(FleetplanError::new_err)?;
        Ok(pythonize(py, &resolution)?)
    }
}

#[pymethods]
impl NativePlan {
    /// The plan as a dict: the JSON plan contract, as `fleetplan plan -o json` prints it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.plan)?)
    }

    /// The plan's summary as a dict.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.plan.summary)?)
    }

    /// The placements as columns (a dict of equally long lists): `workload`, `cluster`,
    /// `region`, `replicas`; with `pools`, one row per pool and a `pool` column. Much
    /// faster than the whole dict for building a DataFrame of a large plan.
    #[pyo3(signature = (pools = false))]
    fn placement_columns<'py>(&self, py: Python<'py>, pools: bool) -> PyResult<Bound<'py, PyDict>> {
        let rows: Vec<(&fleetplan::Placement, Option<&fleetplan::PoolReplicas>)> = if pools {
            self.plan
                .placements
                .iter()
                .flat_map(|p| p.pools.iter().map(move |q| (p, Some(q))))
                .collect()
        } else {
            self.plan.placements.iter().map(|p| (p, None)).collect()
        };
        let columns = PyDict::new(py);
        columns.set_item(
            "workload",
            rows.iter()
                .map(|(p, _)| p.workload.to_string())
                .collect::<Vec<_>>(),
        )?;
        columns.set_item(
            "cluster",
            rows.iter().map(|(p, _)| p.cluster.as_str()).collect::<Vec<_>>(),
        )?;
        columns.set_item("region", rows.iter().map(|(p, _)| &*p.region).collect::<Vec<_>>())?;
        if pools {
            columns.set_item(
                "pool",
                rows.iter()
                    .map(|(_, q)| q.map_or("", |q| q.pool.as_str()))
                    .collect::<Vec<_>>(),
            )?;
        }
        let replicas: Vec<u32> = rows
            .iter()
            .map(|(p, q)| q.map_or(p.replicas, |q| q.replicas))
            .collect();
        columns.set_item("replicas", replicas)?;
        Ok(columns)
    }

    /// The traffic as columns (a dict of equally long lists): `host`, `source`, `region`,
    /// `cluster`, `replicas`, `weight`, `share`; one row per host, region and cluster, in the
    /// plan's order (by host, then region, then cluster).
    fn traffic_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let rows: Vec<(&HostTraffic, &RegionTraffic, &ClusterTraffic)> = self
            .plan
            .traffic
            .iter()
            .flat_map(|h| {
                h.regions
                    .iter()
                    .flat_map(move |r| r.clusters.iter().map(move |c| (h, r, c)))
            })
            .collect();
        let columns = PyDict::new(py);
        columns.set_item(
            "host",
            rows.iter().map(|(h, _, _)| h.host.as_str()).collect::<Vec<_>>(),
        )?;
        columns.set_item(
            "source",
            rows.iter().map(|(h, _, _)| h.source.as_str()).collect::<Vec<_>>(),
        )?;
        columns.set_item(
            "region",
            rows.iter().map(|(_, r, _)| r.region.as_str()).collect::<Vec<_>>(),
        )?;
        columns.set_item(
            "cluster",
            rows.iter()
                .map(|(_, _, c)| c.cluster.as_str())
                .collect::<Vec<_>>(),
        )?;
        columns.set_item(
            "replicas",
            rows.iter().map(|(_, _, c)| c.replicas).collect::<Vec<_>>(),
        )?;
        columns.set_item(
            "weight",
            rows.iter().map(|(_, _, c)| c.weight).collect::<Vec<_>>(),
        )?;
        columns.set_item("share", rows.iter().map(|(_, _, c)| c.share).collect::<Vec<_>>())?;
        Ok(columns)
    }

    /// The plan as JSON text, exactly as `fleetplan plan -o json` prints it.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.plan)
            .map(|json| json + "\n")
            .map_err(|e| FleetplanError::new_err(e.to_string()))
    }

    /// Node-pool utilisation per cluster and resource: dicts of `cluster`, `region`,
    /// `resource`, `planned`, `capacity`.
    fn utilisation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &utilisation(&self.problem, &self.plan))?)
    }

    /// Seconds the solver took, as the plan reports it (None without solver statistics).
    fn solver_seconds(&self) -> Option<f64> {
        self.plan.solver.as_ref().map(|s| s.millis / 1000.0)
    }
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scenario>()?;
    m.add_class::<NativePlan>()?;
    m.add("FleetplanError", m.py().get_type::<FleetplanError>())?;
    m.add("InternalError", m.py().get_type::<InternalError>())?;
    Ok(())
}

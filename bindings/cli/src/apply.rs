//! `fleetplan apply`: plans a scenario and makes the workload clusters hold the plan, through
//! the Kubernetes adapter's executor. Glue only: planning is the core's, applying the
//! adapter's.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::ExitCode;
use std::time::Duration;

use fleetplan_kube::control::desired::{desired_dependents, desired_objects};
use fleetplan_kube::live::executor::{ApplyOptions, Executor};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::{ApplyArgs, fail, load_and_plan, write_stdout};

/// Exit code when some cluster could not be brought to the plan.
const EXIT_NOT_APPLIED: u8 = 1;

/// Loads and plans the scenario, connects to every cluster of the fleet (a kubeconfig context
/// per cluster, named like it), applies, and prints a line per cluster.
pub fn run(args: &ApplyArgs) -> ExitCode {
    let (scenario, plan) = match load_and_plan(&args.scenario, &args.tuning, args.solver, false) {
        Ok(planned) => planned,
        Err(code) => return code,
    };
    let kinds = scenario
        .problem
        .workloads
        .iter()
        .map(|w| (w.id.clone(), w.kind))
        .collect();
    let desired = match desired_objects(&plan, &kinds, &scenario.sources) {
        Ok(desired) => desired,
        Err(err) => return fail(&err.to_string()),
    };
    let follows = desired_dependents(&plan, &scenario.problem.dependents, &scenario.dependent_objects());
    let kubeconfig = match Kubeconfig::read_from(&args.kubeconfig) {
        Ok(config) => config,
        Err(err) => return fail(&format!("{}: {err}", args.kubeconfig.display())),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    let names: Vec<String> = scenario
        .problem
        .clusters
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    let reports = runtime.block_on(async {
        // Every cluster needs a context before anything is applied anywhere.
        let mut clients = BTreeMap::new();
        for name in &names {
            let options = KubeConfigOptions {
                context: Some(name.clone()),
                ..KubeConfigOptions::default()
            };
            let client = Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
                .await
                .map_err(|err| format!("{}: context `{name}`: {err}", args.kubeconfig.display()))
                .and_then(|config| {
                    Client::try_from(config).map_err(|err| format!("cluster {name}: {err}"))
                })?;
            clients.insert(name.clone(), client);
        }
        let apply = ApplyOptions {
            concurrency: args.concurrency,
            timeout: Duration::from_secs(args.timeout),
            wait_ready: Duration::from_secs(args.wait),
        };
        Ok::<_, String>(Executor::new(clients).apply(&desired, &follows, &apply).await)
    });
    let reports = match reports {
        Ok(reports) => reports,
        Err(message) => return fail(&message),
    };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{:<24} {:>7} {:>7} {:>9} {:>6}  STATUS",
        "CLUSTER", "CREATED", "UPDATED", "UNCHANGED", "PRUNED"
    );
    for (cluster, r) in &reports {
        let status = r
            .error
            .as_deref()
            .map_or_else(|| "applied".to_string(), |e| format!("failed: {e}"));
        let _ = writeln!(
            text,
            "{cluster:<24} {:>7} {:>7} {:>9} {:>6}  {status}",
            r.created, r.updated, r.unchanged, r.pruned
        );
    }
    for (cluster, r) in &reports {
        for conflict in &r.conflicts {
            eprintln!("warning: {cluster}: {conflict}");
        }
    }
    let failed = reports.values().filter(|r| r.error.is_some()).count();
    let code = write_stdout(&text, "the apply report");
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} cluster(s) not brought to the plan",
            reports.len()
        );
        return ExitCode::from(EXIT_NOT_APPLIED);
    }
    code
}

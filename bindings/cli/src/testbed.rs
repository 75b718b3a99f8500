//! `fleetplan testbed up`: runs the local multi-cluster test bed for a scenario's fleet until
//! interrupted. Glue only: the bed itself is the `fleetplan-testbed` crate.

use std::process::ExitCode;

use fleetplan_testbed::{Binaries, TestBed};

use crate::{TestbedUpArgs, fail, load_scenario};

/// Starts the bed, writes the kubeconfig, waits for Ctrl-C, and tears everything down.
pub fn up(args: &TestbedUpArgs) -> ExitCode {
    let (_, scenario) = match load_scenario(&args.scenario) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let binaries = match Binaries::from_env() {
        Ok(binaries) => binaries,
        Err(err) => return fail(&err.to_string()),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    runtime.block_on(async {
        let started = std::time::Instant::now();
        let bed = match TestBed::start(&scenario.problem.clusters, &binaries).await {
            Ok(bed) => bed,
            Err(err) => return fail(&err.to_string()),
        };
        if let Err(err) = std::fs::copy(bed.kubeconfig(), &args.kubeconfig) {
            return fail(&format!("cannot write {}: {err}", args.kubeconfig.display()));
        }
        eprintln!(
            "test bed ready in {:.1} s; logs in {}",
            started.elapsed().as_secs_f64(),
            bed.dir().display()
        );
        for c in bed.clusters() {
            eprintln!("  {:<20} {}  {} nodes", c.name, c.server, c.nodes);
        }
        eprintln!(
            "kubeconfig: {} (one context per cluster). Ctrl-C stops the bed.",
            args.kubeconfig.display()
        );
        let _ = tokio::signal::ctrl_c().await;
        drop(bed);
        eprintln!("test bed stopped");
        ExitCode::SUCCESS
    })
}

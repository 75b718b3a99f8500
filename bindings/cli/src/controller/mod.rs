//! `fleetplan controller`: runs the multi-cluster controller against a management cluster
//! until interrupted. The pass ([`pass`]) composes the adapters' steps; its metrics are
//! served by [`metrics`].

use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::sync::Arc;

mod metrics;
mod pass;

use fleetplan_kube::control::fleet_status::ManagementMode;
use fleetplan_kube::live::lease::LeaderElection;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use metrics::{Metrics, serve};
use pass::{Controller, ControllerOptions};

use crate::{ControllerArgs, ManagementArg, fail};

/// Connects to the management cluster and runs passes until SIGINT or SIGTERM (or once).
pub fn run(args: &ControllerArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if args.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    runtime.block_on(async {
        let kubeconfig = match Kubeconfig::read_from(&args.kubeconfig) {
            Ok(config) => config,
            Err(err) => return fail(&format!("{}: {err}", args.kubeconfig.display())),
        };
        let options = KubeConfigOptions {
            context: args.context.clone(),
            ..KubeConfigOptions::default()
        };
        let client = match Config::from_custom_kubeconfig(kubeconfig, &options).await {
            Ok(config) => match Client::try_from(config) {
                Ok(client) => client,
                Err(err) => return fail(&format!("the management cluster: {err}")),
            },
            Err(err) => return fail(&format!("{}: {err}", args.kubeconfig.display())),
        };
        let mut options = ControllerOptions {
            interval: Duration::from_secs_f64(args.interval),
            failure_threshold: Duration::from_secs_f64(args.failure_threshold),
            management: match args.management_mode {
                ManagementArg::Auto => None,
                ManagementArg::ControlPlane => Some(ManagementMode::ControlPlane),
                ManagementArg::Cluster => Some(ManagementMode::Cluster),
            },
            ..ControllerOptions::default()
        };
        if let Some(namespace) = &args.namespace {
            options.registry_namespace = namespace.clone();
        }
        let registry = options.registry_namespace.clone();
        let mut controller = Controller::new(client.clone(), options);
        if args.once {
            return match controller.reconcile().await {
                Ok(pass) => {
                    tracing::info!(
                        placed = pass.placed,
                        unplaced = pass.unplaced,
                        unreachable = ?pass.unreachable,
                        "pass done"
                    );
                    let off_plan = !pass.unreachable.is_empty()
                        || !pass.late.is_empty()
                        || pass.applied.values().any(|r| r.error.is_some());
                    if off_plan {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(error) => fail(&error.to_string()),
            };
        }
        let metrics = Arc::new(Metrics::default());
        if let Some(address) = args.metrics_address {
            if let Err(error) = serve(address, Arc::clone(&metrics)).await {
                return fail(&error);
            }
            tracing::info!(%address, "serving metrics");
        }
        let election = (!args.no_leader_election).then(|| {
            let identity = args.identity.clone().unwrap_or_else(default_identity);
            LeaderElection::new(
                client,
                &registry,
                identity,
                Duration::from_secs_f64(args.lease_duration),
            )
        });
        tracing::info!("controller started");
        run_passes(&mut controller, shutdown(), election, metrics).await;
        ExitCode::SUCCESS
    })
}

/// Runs passes every `interval` until `shutdown` completes; a failed pass is logged and
/// the next one tries again. With an `election`, a pass runs only while this instance
/// holds the Lease, and the Lease is given up on shutdown.
async fn run_passes(
    controller: &mut Controller,
    shutdown: impl std::future::Future<Output = ()>,
    election: Option<LeaderElection>,
    metrics: Arc<Metrics>,
) {
    tokio::pin!(shutdown);
    let mut leading = false;
    loop {
        let lead = match &election {
            None => Ok(None),
            Some(election) => election.try_lead().await,
        };
        match lead {
            Ok(None) => {
                if !leading && let Some(election) = &election {
                    tracing::info!(
                        identity = election.identity(),
                        "leading: this instance holds the Lease"
                    );
                }
                leading = true;
                metrics.set_leader(true);
                let started = Instant::now();
                match controller.reconcile().await {
                    Ok(pass) => {
                        metrics.pass(&pass, started.elapsed());
                        tracing::info!(
                            placed = pass.placed,
                            unplaced = pass.unplaced,
                            unreachable = ?pass.unreachable,
                            late = ?pass.late,
                            took_ms = started.elapsed().as_millis() as u64,
                            "pass done"
                        );
                    }
                    Err(error) => {
                        metrics.failed_pass();
                        tracing::error!(%error, "pass failed");
                    }
                }
            }
            Ok(Some(holder)) => {
                if leading || controller.tracks_nothing() {
                    tracing::info!(%holder, "waiting for the Lease held by another instance");
                }
                leading = false;
                metrics.set_leader(false);
                // Forget the clusters: whoever leads now owns their state.
                controller.forget_clusters();
            }
            Err(error) => {
                tracing::error!(%error, "leader election failed");
                leading = false;
                metrics.set_leader(false);
            }
        }
        tokio::select! {
            () = &mut shutdown => {
                if leading && let Some(election) = &election {
                    election.release().await;
                }
                tracing::info!("shutting down");
                return;
            }
            () = tokio::time::sleep(controller.interval()) => {}
        }
    }
}

/// This instance's name in the election: the host name (a pod's name in Kubernetes) and the
/// process id.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "fleetplan".into());
    format!("{host}_{}", std::process::id())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

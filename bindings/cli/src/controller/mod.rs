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

use crate::dns_writers::{TrafficWriters, accelerator_writer, external_dns_writer};
use crate::{ControllerArgs, DnsArg, ManagementArg, fail};

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
            pending_threshold: Duration::from_secs_f64(args.pending_threshold),
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
        let traffic = match traffic_writers(args, &client, &registry).await {
            Ok(traffic) => traffic,
            Err(message) => return fail(&message),
        };
        let mut controller = Controller::new(client.clone(), options, traffic);
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
                        || !pass.traffic_errors.is_empty()
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

/// The writers `--dns` and `--global-accelerator` ask for.
async fn traffic_writers(
    args: &ControllerArgs,
    mgmt: &Client,
    registry: &str,
) -> Result<TrafficWriters, String> {
    if args.dns.contains(&DnsArg::None) && args.dns.len() > 1 {
        return Err("--dns none cannot be combined with another writer".into());
    }
    let owner = &args.dns_owner;
    let needs_aws = args.dns.contains(&DnsArg::Route53) || args.global_accelerator.is_some();
    let aws = if needs_aws {
        Some(crate::aws_sdk_config().await)
    } else {
        None
    };
    let route53 = match (&aws, args.dns.contains(&DnsArg::Route53)) {
        (Some(aws), true) => Some(
            fleetplan_aws::route53::Route53Writer::new(aws, owner)
                .map_err(|e| format!("--dns-owner: {e}"))?,
        ),
        _ => None,
    };
    let external_dns = args
        .dns
        .contains(&DnsArg::ExternalDns)
        .then(|| external_dns_writer(mgmt.clone(), registry, owner));
    let accelerator = match (&args.global_accelerator, aws) {
        (Some(context), Some(aws)) => {
            let kubeconfig = Kubeconfig::read_from(&args.kubeconfig)
                .map_err(|e| format!("{}: {e}", args.kubeconfig.display()))?;
            let options = KubeConfigOptions {
                context: Some(context.clone()),
                ..KubeConfigOptions::default()
            };
            let config = Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| format!("--global-accelerator: {}: {e}", args.kubeconfig.display()))?;
            let client =
                Client::try_from(config).map_err(|e| format!("--global-accelerator {context}: {e}"))?;
            Some((accelerator_writer(client, context, owner), aws))
        }
        _ => None,
    };
    Ok(TrafficWriters::new(route53, external_dns, accelerator))
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

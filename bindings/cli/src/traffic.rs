//! `fleetplan traffic resolve`: the plan's (or the last simulated step's) records for a host,
//! or with `--route53` the records a live zone holds (read by the AWS adapter), resolved by
//! the core's [`fleetplan::traffic::resolve`] for users in each region asked.

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::ArgMatches;
use fleetplan::ClusterName;
use fleetplan::traffic::{HostTraffic, Resolution, find_host, resolve as resolve_host};

use crate::simulate::timeline;
use crate::{ResolveArgs, fail, print, render};

/// Plans (and simulates) the scenario, or reads the live zone, resolves the host from each
/// region and prints the shares.
pub fn resolve(args: &ResolveArgs, matches: &ArgMatches) -> ExitCode {
    if args.route53 {
        return match live_host(&args.host) {
            Ok(host) => {
                let clusters: BTreeSet<&str> = host
                    .regions
                    .iter()
                    .flat_map(|r| r.clusters.iter().map(|c| c.cluster.as_str()))
                    .collect();
                let regions: BTreeSet<&str> = host.regions.iter().map(|r| r.region.as_str()).collect();
                print_resolutions(args, &host, &clusters, &regions)
            }
            Err(message) => fail(&message),
        };
    }
    let (scenario, steps) = match timeline(&args.scenario, &args.steps, args.solver, &args.tuning, matches) {
        Ok(run) => run,
        Err(code) => return code,
    };
    let Some(last) = steps.last() else {
        return fail("internal error: no plan");
    };
    let problem = &scenario.problem;
    let host = match find_host(&last.plan.traffic, &args.host) {
        Ok(host) => host,
        Err(err) => return fail(&err.to_string()),
    };
    let clusters: BTreeSet<&str> = problem.clusters.iter().map(|c| c.name.as_str()).collect();
    let regions: BTreeSet<&str> = problem.clusters.iter().map(|c| c.region.as_str()).collect();
    print_resolutions(args, host, &clusters, &regions)
}

/// The records of `host` in the live Route53 zone holding it.
fn live_host(host: &str) -> Result<HostTraffic, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the AWS client: {err}"))?;
    runtime.block_on(async {
        let config = crate::aws_sdk_config().await;
        match fleetplan_aws::route53::read_host(&config, host).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(format!(
                "Route53 holds no weighted record for host `{}`",
                host.escape_debug()
            )),
            Err(err) => Err(format!("Route53: {err}")),
        }
    })
}

/// Resolves `host` from each region asked (default: `regions`), with the `--unhealthy`
/// clusters (which must be among `clusters`), and prints the shares.
fn print_resolutions(
    args: &ResolveArgs,
    host: &HostTraffic,
    clusters: &BTreeSet<&str>,
    regions: &BTreeSet<&str>,
) -> ExitCode {
    let mut unhealthy: BTreeSet<ClusterName> = BTreeSet::new();
    for name in &args.unhealthy {
        if !clusters.contains(name.as_str()) {
            return fail(&format!("--unhealthy: unknown cluster `{}`", name.escape_debug()));
        }
        unhealthy.insert(name.as_str().into());
    }
    let regions: Vec<String> = if args.from.is_empty() {
        regions.iter().map(|r| (*r).to_string()).collect()
    } else {
        args.from.clone()
    };
    let mut resolutions: Vec<Resolution> = Vec::with_capacity(regions.len());
    for from in &regions {
        match resolve_host(host, from, &unhealthy) {
            Ok(r) => resolutions.push(r),
            Err(err) => return fail(&format!("--from {}: {err}", from.escape_debug())),
        }
    }
    print(args.output, "the resolution", &resolutions, || {
        render::resolutions(&resolutions)
    })
}

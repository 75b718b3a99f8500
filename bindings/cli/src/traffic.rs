//! `fleetplan traffic resolve`: the plan's (or the last simulated step's) records for a host,
//! resolved by the core's [`fleetplan::traffic::resolve`] for users in each region asked.

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::ArgMatches;
use fleetplan::ClusterName;
use fleetplan::traffic::{Resolution, resolve as resolve_host};

use crate::simulate::timeline;
use crate::{ResolveArgs, fail, print, render};

/// Plans (and simulates) the scenario, resolves the host from each region and prints the
/// shares.
pub fn resolve(args: &ResolveArgs, matches: &ArgMatches) -> ExitCode {
    let (scenario, steps) = match timeline(&args.scenario, &args.steps, args.solver, &args.tuning, matches) {
        Ok(run) => run,
        Err(code) => return code,
    };
    let Some(last) = steps.last() else {
        return fail("internal error: no plan");
    };
    let problem = &scenario.problem;
    let Some(host) = last.plan.traffic.iter().find(|h| h.host == args.host) else {
        let known: Vec<&str> = problem.routes.iter().map(|r| r.host.as_str()).collect();
        return fail(&format!(
            "no route for host `{}` (hosts: {}); a host is an Ingress rule's host or a LoadBalancer Service's fleetplan.io/hostname",
            args.host.escape_debug(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    let mut unhealthy: BTreeSet<ClusterName> = BTreeSet::new();
    for name in &args.unhealthy {
        if !problem.clusters.iter().any(|c| c.name.as_str() == name) {
            return fail(&format!("--unhealthy: unknown cluster `{}`", name.escape_debug()));
        }
        unhealthy.insert(name.as_str().into());
    }
    let regions: Vec<String> = if args.from.is_empty() {
        let all: BTreeSet<&str> = problem.clusters.iter().map(|c| c.region.as_str()).collect();
        all.into_iter().map(str::to_string).collect()
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

//! `fleetplan traffic resolve`: the plan's (or the last simulated step's) records for a host,
//! resolved by the core's [`fleetplan::traffic::resolve`] for users in each region asked.

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::ArgMatches;
use fleetplan::ClusterName;
use fleetplan::traffic::{Resolution, find_host, resolve as resolve_host};

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
    let host = match find_host(&last.plan.traffic, &args.host) {
        Ok(host) => host,
        Err(err) => return fail(&err.to_string()),
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

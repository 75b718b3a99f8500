//! `fleetplan apply`: plans a scenario and makes the workload clusters hold the plan, through
//! the Kubernetes adapter's executor, and with `--dns route53` brings the hosts' Route53
//! records along in the order of the action list. Glue only: planning and the order are the
//! core's, applying the Kubernetes adapter's, the records the AWS adapter's.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::ExitCode;
use std::time::Duration;

use fleetplan_kube::control::desired::{desired_dependents, desired_objects};
use fleetplan_kube::live::executor::{ApplyOptions, Executor};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use fleetplan::actions::{Disruption, carry_out};
use fleetplan::traffic::{HostTraffic, traffic};
use fleetplan::{Plan, Problem, Running};
use fleetplan_kube::control::ingress_status::{LoadBalancers, endpoints_of};
use fleetplan_kube::live::executor::ClusterReport;

use crate::dns_writers::TrafficWriters;
use crate::{ApplyArgs, DnsArg, fail, load_and_plan, write_stdout};

/// Exit code when some cluster could not be brought to the plan.
const EXIT_NOT_APPLIED: u8 = 1;

/// Loads and plans the scenario, connects to every cluster of the fleet (a kubeconfig context
/// per cluster, named like it), applies, and prints a line per cluster.
pub fn run(args: &ApplyArgs) -> ExitCode {
    if args.dns == DnsArg::ExternalDns {
        return fail(
            "--dns external-dns writes DNSEndpoint objects to a management cluster: run `fleetplan controller --dns external-dns`",
        );
    }
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
        let executor = Executor::new(clients);
        if args.dns != DnsArg::Route53 || scenario.problem.routes.is_empty() {
            return Ok((executor.apply(&desired, &follows, &apply).await, Vec::new()));
        }
        // What the zone holds now, read (and every host's zone found) before anything changes.
        let aws = crate::aws_sdk_config().await;
        let writer =
            fleetplan_aws::route53::Route53Writer::new(&aws, &args.dns_owner).map_err(|e| e.to_string())?;
        let mut before = Vec::new();
        for route in &scenario.problem.routes {
            match fleetplan_aws::route53::read_host(&aws, &route.host).await {
                Ok(found) => before.extend(found),
                Err(err) => return Err(format!("Route53: {err}")),
            }
        }
        let mut writers = TrafficWriters::new(Some(writer), None, None).keeping_other_hosts();
        let (mut errors, mut after) = (Vec::new(), None);
        let reports = executor
            .apply_with(&desired, &follows, &apply, async |grown| {
                let (found, planned) = as_found(&scenario.problem, &plan, grown);
                let (_, stages) = carry_out(&found, &planned, Some(&before), Disruption::default());
                errors.extend(writers.write(&stages.before_shrink).await);
                if stages.wait_seconds > 0 {
                    eprintln!(
                        "weights lowered: waiting {} s (the records' TTL) before replicas stop",
                        stages.wait_seconds
                    );
                    tokio::time::sleep(Duration::from_secs(u64::from(stages.wait_seconds))).await;
                }
                after = Some(stages.after);
            })
            .await;
        if let Some(after) = after {
            errors.extend(writers.write(&after).await);
        }
        Ok((reports, errors))
    });
    let (reports, dns_errors) = match reports {
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
    for error in &dns_errors {
        eprintln!("error: records not written as planned: {error}");
    }
    let failed = reports.values().filter(|r| r.error.is_some()).count();
    let code = write_stdout(&text, "the apply report");
    if !dns_errors.is_empty() {
        return ExitCode::from(EXIT_NOT_APPLIED);
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} cluster(s) not brought to the plan",
            reports.len()
        );
        return ExitCode::from(EXIT_NOT_APPLIED);
    }
    code
}

/// The problem and plan as the executor found the clusters: what runs is the replicas of the
/// copies each cluster held before this apply, and the plan's traffic goes to the load
/// balancers the Ingress copies showed in `grown` (a cluster whose copy shows none yet gets
/// no record).
fn as_found(problem: &Problem, plan: &Plan, grown: &BTreeMap<String, ClusterReport>) -> (Problem, Plan) {
    let mut routes = problem.routes.clone();
    for route in &mut routes {
        let seen: LoadBalancers = grown
            .iter()
            .filter_map(|(cluster, r)| Some((cluster.clone(), r.load_balancers.get(&route.source)?.clone())))
            .collect();
        route.endpoints = endpoints_of(&seen);
    }
    let current = grown
        .iter()
        .flat_map(|(cluster, r)| {
            r.copies.iter().map(move |((_, workload), copy)| Running {
                workload: workload.clone(),
                cluster: cluster.as_str().into(),
                pool: "".into(),
                replicas: copy.status["replicas"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0),
            })
        })
        .collect();
    let hosts: Vec<HostTraffic> = traffic(&routes, &plan.serving(), &Default::default());
    let found = Problem {
        current,
        routes,
        ..problem.clone()
    };
    let planned = Plan {
        traffic: hosts,
        ..plan.clone()
    };
    (found, planned)
}

//! Plans the million-replica synthetic fleet several times and prints the time per run and
//! per phase, the size of the plan and the memory used.
//!
//! ```text
//! cargo run --release -p fleetplan-benches --bin plan_stats -- [SEED] [RUNS] [--running FRACTION] [--small] [--explain] [--fargate]
//! ```
//!
//! SEED defaults to 42 and RUNS to 15. `--running 0.5` starts from a current state in which
//! half the workloads already run; `--small` uses the small preset; `--explain` plans with
//! explanations for every workload and cluster; `--fargate` gives every cluster a Fargate
//! profile that takes every pod (GPU pods are refused) under an ample vCPU quota, so that
//! the replicas run on Fargate.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fleetplan::fargate::{FargateProfile, FargateSelector};
use fleetplan::{NodePool, PhaseTimings, Plan, PlanOptions, plan_with_timings};
use fleetplan_benches::{SyntheticSpec, distinct_rule_sets, synthetic};

/// Command-line arguments.
struct Args {
    seed: u64,
    runs: usize,
    running: f64,
    small: bool,
    explain: bool,
    fargate: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        seed: 42,
        runs: 15,
        running: 0.0,
        small: false,
        explain: false,
        fargate: false,
    };
    let mut positional = 0;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--small" => args.small = true,
            "--explain" => args.explain = true,
            "--fargate" => args.fargate = true,
            "--running" => {
                let v = it.next().ok_or("--running needs a fraction")?;
                args.running = v.parse().map_err(|e| format!("--running {v}: {e}"))?;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: plan_stats [SEED] [RUNS] [--running FRACTION] [--small] [--explain] [--fargate]"
                        .into(),
                );
            }
            _ if positional == 0 => {
                args.seed = arg.parse().map_err(|e| format!("seed {arg}: {e}"))?;
                positional += 1;
            }
            _ if positional == 1 => {
                args.runs = arg.parse().map_err(|e| format!("runs {arg}: {e}"))?;
                positional += 1;
            }
            _ => return Err(format!("unexpected argument `{arg}`")),
        }
    }
    args.runs = args.runs.max(1);
    Ok(args)
}

/// A `kB` field of `/proc/self/status` (such as `VmHWM` or `VmRSS`), if the system has one.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

/// Unplaced replicas grouped by each workload's main reason: the most common reason among its
/// clusters, leaving out the clusters its selector excludes and those that are not ready.
fn unplaced_by_reason(plan: &Plan) -> Vec<(&'static str, u64)> {
    let mut by_code: BTreeMap<&'static str, u64> = BTreeMap::new();
    for unplaced in &plan.unplaced {
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for r in &unplaced.reasons {
            let code = r.reason.code();
            if !matches!(code, "ClusterSelector" | "ClusterUnhealthy" | "ClusterCordoned") {
                *counts.entry(code).or_default() += 1;
            }
        }
        let main = counts
            .into_iter()
            .max_by_key(|&(code, n)| (n, std::cmp::Reverse(code)))
            .map_or("none", |(code, _)| code);
        *by_code.entry(main).or_default() += u64::from(unplaced.replicas);
    }
    let mut out: Vec<_> = by_code.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    out
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let spec = if args.small {
        SyntheticSpec::small()
    } else {
        SyntheticSpec::million()
    }
    .with_running(args.running);

    let started = Instant::now();
    let mut problem = synthetic(&spec, args.seed);
    if args.fargate {
        for cluster in &mut problem.clusters {
            let every_pod = FargateProfile::new("fargate", vec![FargateSelector::new("*")]);
            cluster.pools.push(NodePool::fargate(every_pod));
        }
        problem.fargate.default_quota_vcpus = 10_000_000;
    }
    let generated_in = started.elapsed();
    let (rss_gen, hwm_gen) = (status_kib("VmRSS"), status_kib("VmHWM"));

    let pools: usize = problem.clusters.iter().map(|c| c.pools.len()).sum();
    let nodes: u64 = problem
        .clusters
        .iter()
        .flat_map(|c| &c.pools)
        .map(|p| p.node_count())
        .sum();
    let groups: usize = problem
        .clusters
        .iter()
        .flat_map(|c| &c.pools)
        .map(|p| p.nodes.len())
        .sum();
    let target: u64 = problem.workloads.iter().map(|w| u64::from(w.replicas)).sum();
    let running: u64 = problem.current.iter().map(|r| u64::from(r.replicas)).sum();
    println!(
        "instance    seed {}, running fraction {}",
        args.seed, spec.running_fraction
    );
    println!(
        "            {} clusters, {pools} pools, {nodes} nodes in {groups} node groups",
        problem.clusters.len()
    );
    println!(
        "            {} workloads, {target} replicas targeted, {running} running in {} entries",
        problem.workloads.len(),
        problem.current.len()
    );
    println!("            {} distinct rule sets", distinct_rule_sets(&problem));
    println!("generation  {}", ms(generated_in));
    println!(
        "memory      after generation: RSS {}, peak {}",
        mib(rss_gen),
        mib(hwm_gen)
    );

    let options = PlanOptions {
        explain: args.explain,
        ..PlanOptions::default()
    };
    let mut totals = Vec::with_capacity(args.runs);
    let mut phases: Vec<PhaseTimings> = Vec::with_capacity(args.runs);
    let mut last = None;
    for _ in 0..args.runs {
        let started = Instant::now();
        let (plan, timings) = match plan_with_timings(&problem, &options) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("planning failed: {e}");
                return ExitCode::FAILURE;
            }
        };
        totals.push(started.elapsed());
        phases.push(timings);
        last = Some(plan);
    }
    let hwm_end = status_kib("VmHWM");
    let plan = last.expect("at least one run");

    let (min, max) = (
        *totals.iter().min().expect("runs"),
        *totals.iter().max().expect("runs"),
    );
    let phase = |f: fn(&PhaseTimings) -> Duration| median(phases.iter().map(f).collect());
    println!(
        "plan        {} runs: median {}, min {}, max {} (wall, validation included)",
        args.runs,
        ms(median(totals)),
        ms(min),
        ms(max)
    );
    println!(
        "phases      median index {}, candidates {}, distribute {}, assemble {}",
        ms(phase(|t| t.index)),
        ms(phase(|t| t.candidates)),
        ms(phase(|t| t.distribute)),
        ms(phase(|t| t.assemble))
    );
    let s = &plan.summary;
    println!(
        "result      {} placements, {} placed ({:.2}%), {} unplaced in {} workloads, {} kept, {} removed",
        plan.placements.len(),
        s.placed,
        100.0 * s.placed as f64 / s.target.max(1) as f64,
        s.unplaced,
        plan.unplaced.len(),
        s.kept,
        s.removed
    );
    if args.explain {
        println!("            {} explanations", plan.explanations.len());
    }
    if !plan.unplaced.is_empty() {
        let parts: Vec<String> = unplaced_by_reason(&plan)
            .into_iter()
            .map(|(code, replicas)| format!("{code} {replicas}"))
            .collect();
        println!(
            "            unplaced replicas by main reason: {}",
            parts.join(", ")
        );
    }
    let planner = match (hwm_end, rss_gen) {
        (Some(end), Some(gen_rss)) => mib(Some(end.saturating_sub(gen_rss))),
        _ => "n/a".into(),
    };
    println!(
        "memory      peak {} (the planner's share above the generated problem: {planner})",
        mib(hwm_end)
    );
    ExitCode::SUCCESS
}

//! Human-readable rendering of a plan: aligned tables in the style of `kubectl get`.

use std::collections::BTreeMap;
use std::fmt::Write;

use fleetplan::fargate::format_vcpus;
use fleetplan::simulate::Action;
use fleetplan::traffic::Resolution;
use fleetplan::{Plan, WorkloadId, format_amount};
use fleetplan_kube::Scenario;

use fleetplan::simulate::TimelineStep;

/// Columns of text, aligned on render.
struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(headers: &[&str]) -> Self {
        Table {
            rows: vec![headers.iter().map(|h| h.to_string()).collect()],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String) {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<width$}   ", width = widths[c]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

/// The default `fleetplan plan` output: placements per workload, totals per region, unplaced
/// replicas with their reasons, and with `explain` every workload and cluster pair.
pub fn table(scenario: &Scenario, plan: &Plan, explain: bool) -> String {
    let mut out = String::new();
    let workloads: BTreeMap<&WorkloadId, &fleetplan::Workload> =
        scenario.problem.workloads.iter().map(|w| (&w.id, w)).collect();

    let mut placements = Table::new(&[
        "WORKLOAD", "KIND", "TARGET", "CLUSTER", "REGION", "REPLICAS", "POOLS",
    ]);
    let mut previous: Option<&WorkloadId> = None;
    for p in &plan.placements {
        let first = previous != Some(&p.workload);
        previous = Some(&p.workload);
        let (name, kind, target) = match (first, workloads.get(&p.workload)) {
            (true, Some(w)) => (w.id.to_string(), format!("{:?}", w.kind), w.replicas.to_string()),
            _ => (String::new(), String::new(), String::new()),
        };
        let pools: Vec<String> = p
            .pools
            .iter()
            .map(|pr| format!("{}={}", pr.pool, pr.replicas))
            .collect();
        placements.row(vec![
            name,
            kind,
            target,
            p.cluster.to_string(),
            p.region.to_string(),
            p.replicas.to_string(),
            pools.join(","),
        ]);
    }
    for w in workloads.values().filter(|w| plan.placed(&w.id) == 0) {
        placements.row(vec![
            w.id.to_string(),
            format!("{:?}", w.kind),
            w.replicas.to_string(),
            "-".into(),
            "-".into(),
            "0".into(),
            String::new(),
        ]);
    }
    placements.render(&mut out);

    let mut regions: BTreeMap<&str, u64> = BTreeMap::new();
    for p in &plan.placements {
        *regions.entry(&p.region).or_default() += u64::from(p.replicas);
    }
    out.push('\n');
    let mut totals = Table::new(&["REGION", "REPLICAS"]);
    for (region, replicas) in regions {
        totals.row(vec![region.to_string(), replicas.to_string()]);
    }
    totals.render(&mut out);

    if !plan.costs.is_empty() {
        out.push('\n');
        costs(plan, &mut out);
    }

    if !plan.follow.is_empty() {
        out.push('\n');
        let mut follows = Table::new(&["FOLLOWS", "TO CLUSTERS"]);
        for f in &plan.follow {
            let clusters: Vec<&str> = f.clusters.iter().map(|c| c.as_str()).collect();
            let to = if clusters.is_empty() {
                "- (used by no placed replica)".to_string()
            } else {
                clusters.join(", ")
            };
            follows.row(vec![f.object.to_string(), to]);
        }
        follows.render(&mut out);
    }

    if !plan.traffic.is_empty() {
        out.push('\n');
        traffic(&plan.traffic, &mut out);
    }

    unplaced(plan, &mut out);

    if explain {
        out.push_str("\nEXPLANATIONS\n");
        let mut t = Table::new(&["WORKLOAD", "CLUSTER", "REPLICAS", "WHY NOT MORE"]);
        for e in &plan.explanations {
            let why = e
                .reason
                .as_ref()
                .map_or_else(|| "could take more".to_string(), ToString::to_string);
            t.row(vec![
                e.workload.to_string(),
                e.cluster.to_string(),
                e.replicas.to_string(),
                why,
            ]);
        }
        t.render(&mut out);
    }

    let s = &plan.summary;
    let _ = write!(
        out,
        "\n{} workload(s): {} of {} replicas placed, {} unplaced",
        s.workloads, s.placed, s.target, s.unplaced
    );
    if s.kept + s.removed > 0 {
        let _ = write!(out, "; {} kept where they run, {} removed", s.kept, s.removed);
    }
    out.push_str(".\n");
    if let Some(stats) = &plan.solver {
        let o = &stats.objective;
        let _ = write!(
            out,
            "Solver: {} (asked: {}) in {:.1} ms; score {:.3}",
            stats.solver, stats.requested, stats.millis, o.total
        );
        match (stats.proven_optimal, stats.gap) {
            (true, _) => out.push_str(", proven optimal"),
            (false, Some(gap)) => {
                let _ = write!(out, ", gap {:.2}%", gap * 100.0);
            }
            (false, None) => {}
        }
        let _ = write!(out, "; {} moved", o.moved);
        if o.cost_per_hour > 0.0 || o.fixed_per_hour > 0.0 {
            let _ = write!(out, "; {:.4}/h for replicas", o.cost_per_hour);
            if o.fixed_per_hour > 0.0 {
                let _ = write!(out, " + {:.4}/h fixed", o.fixed_per_hour);
            }
        }
        out.push_str(".\n");
        if let Some(note) = &stats.note {
            let _ = writeln!(out, "Note: {note}.");
        }
    }
    let carried: Vec<String> = scenario
        .carried
        .iter()
        .filter(|o| {
            o.follow_ref()
                .is_none_or(|r| !plan.follow.iter().any(|f| f.object == r))
        })
        .map(|o| match &o.namespace {
            Some(ns) => format!("{} {}/{}", o.kind, ns, o.name),
            None => format!("{} {}", o.kind, o.name),
        })
        .collect();
    if !carried.is_empty() {
        let _ = writeln!(out, "Carried along, not planned: {}.", carried.join(", "));
    }
    out
}

/// The UNPLACED section: every unplaced workload with a reason per cluster (nothing when
/// every replica was placed).
fn unplaced(plan: &Plan, out: &mut String) {
    if plan.unplaced.is_empty() {
        return;
    }
    out.push_str("\nUNPLACED\n");
    for u in &plan.unplaced {
        let _ = writeln!(out, "{}: {} replica(s) unplaced", u.workload, u.replicas);
        let mut reasons = Table::new(&["  CLUSTER", "REASON"]);
        for r in &u.reasons {
            reasons.row(vec![format!("  {}", r.cluster), r.reason.to_string()]);
        }
        reasons.render(out);
    }
}

/// The default `fleetplan simulate` output: for step 0 and every step, the replicas per
/// workload and cluster, totals per region, the changes, the ordered actions, lost and moved
/// counts, and unplaced replicas with their reasons.
pub fn timeline(scenario: &Scenario, steps: &[TimelineStep]) -> String {
    let mut out = String::new();
    for (n, TimelineStep { step, plan }) in steps.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let what = if step.operations.is_empty() {
            "initial".to_string()
        } else {
            step.operations.join(", ")
        };
        let _ = writeln!(out, "STEP {n}: {what}");

        let mut replicas = Table::new(&["WORKLOAD", "CLUSTER", "REGION", "REPLICAS"]);
        let mut previous: Option<&WorkloadId> = None;
        for p in plan.placements.iter().filter(|p| p.replicas > 0) {
            let name = if previous == Some(&p.workload) {
                String::new()
            } else {
                p.workload.to_string()
            };
            previous = Some(&p.workload);
            replicas.row(vec![
                name,
                p.cluster.to_string(),
                p.region.to_string(),
                p.replicas.to_string(),
            ]);
        }
        replicas.render(&mut out);
        let mut regions: BTreeMap<&str, u64> = BTreeMap::new();
        for p in &plan.placements {
            *regions.entry(&p.region).or_default() += u64::from(p.replicas);
        }
        let regions: Vec<String> = regions.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let s = &plan.summary;
        let _ = writeln!(
            out,
            "Per region: {}. Placed {} of {}, {} unplaced.",
            if regions.is_empty() {
                "none".to_string()
            } else {
                regions.join(", ")
            },
            s.placed,
            s.target,
            s.unplaced
        );

        if n > 0 {
            if step.changes.is_empty() {
                out.push_str("\nNo changes.\n");
            } else {
                out.push_str("\nCHANGES\n");
                let mut changes = Table::new(&["WORKLOAD", "CLUSTER", "BEFORE", "AFTER"]);
                for c in &step.changes {
                    changes.row(vec![
                        c.workload.clone(),
                        c.cluster.to_string(),
                        c.before.to_string(),
                        c.after.to_string(),
                    ]);
                }
                changes.render(&mut out);
            }
            if !step.actions.is_empty() {
                out.push_str("\nACTIONS\n");
                let width = step.actions.len().to_string().len();
                for (i, action) in step.actions.iter().enumerate() {
                    let _ = writeln!(out, "{:>width$}. {}", i + 1, action_text(action));
                }
            }
            let _ = writeln!(
                out,
                "\nLost {} replica(s) with failed clusters, moved {} make-before-break.",
                step.lost, step.moved
            );
        }
        if !plan.traffic.is_empty() {
            out.push('\n');
            traffic(&plan.traffic, &mut out);
        }
        unplaced(plan, &mut out);
    }
    if !scenario.carried.is_empty() {
        let _ = writeln!(
            out,
            "\n{} object(s) carried along, not planned.",
            scenario.carried.len()
        );
    }
    out
}

/// One action in words.
fn action_text(action: &Action) -> String {
    match action {
        Action::Grow {
            workload,
            cluster,
            replicas,
        } => format!("grow {workload} in {cluster} by {replicas}"),
        Action::WaitReady { workload, cluster } => {
            format!("wait until the new {workload} replicas in {cluster} are ready")
        }
        Action::Shrink {
            workload,
            cluster,
            replicas,
        } => format!("shrink {workload} in {cluster} by {replicas}"),
        Action::SetWeight {
            host,
            region,
            cluster,
            weight,
        } => format!("set the record of {host} in {region} for {cluster} to weight {weight}"),
        Action::RemoveRecord {
            host,
            region,
            cluster,
        } => {
            format!("remove the record of {host} in {region} for {cluster}")
        }
        Action::WaitTtl { hosts, seconds } => {
            format!(
                "wait {seconds} s (the TTL of {}) for resolvers to drop the old answers",
                hosts.join(", ")
            )
        }
    }
}

/// `fleetplan traffic resolve`: per user region, the region answered and each cluster's share.
pub fn resolutions(resolutions: &[Resolution]) -> String {
    let mut out = String::new();
    let mut t = Table::new(&["HOST", "FROM", "REGION", "EST. RTT", "CLUSTER", "WEIGHT", "SHARE"]);
    for r in resolutions {
        let region = r.region.clone().unwrap_or_else(|| "-".into());
        let rtt = r.rtt_ms.map_or_else(|| "-".into(), |ms| format!("{ms:.0} ms"));
        if r.clusters.is_empty() {
            t.row(vec![
                r.host.clone(),
                r.from.clone(),
                region.clone(),
                rtt.clone(),
                "- (no record answers)".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for c in &r.clusters {
            t.row(vec![
                r.host.clone(),
                r.from.clone(),
                c.region.clone(),
                if r.region.is_some() {
                    rtt.clone()
                } else {
                    "-".into()
                },
                c.cluster.to_string(),
                c.weight.to_string(),
                format!("{:.1}%", c.share * 100.0),
            ]);
        }
    }
    t.render(&mut out);
    if resolutions.iter().any(|r| r.failed_open) {
        out.push_str(
            "\nNo record was healthy for some users: Route53 fails open and answers every record.\n",
        );
    }
    out
}

/// Cost per hour of every priced workload, and the size Fargate gives its pods: what it
/// asked for, the vCPU and memory it is given, and what rounding up adds (beyond Fargate's
/// fixed 256Mi).
fn costs(plan: &Plan, out: &mut String) {
    let size =
        |cpu: i64, memory: i64| format!("{} vCPU {}", format_vcpus(cpu), format_amount("memory", memory));
    let mut t = Table::new(&[
        "WORKLOAD",
        "FARGATE",
        "REQUESTS",
        "FARGATE SIZE",
        "ROUNDING WASTE",
        "COST/H",
    ]);
    for c in &plan.costs {
        let (replicas, requested, given, waste) = match &c.fargate {
            Some(f) => (
                f.replicas.to_string(),
                size(f.requested_cpu_millis, f.requested_memory_bytes),
                size(f.cpu_millis, f.memory_bytes),
                size(f.waste_cpu_millis, f.waste_memory_bytes),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        t.row(vec![
            c.workload.to_string(),
            replicas,
            requested,
            given,
            waste,
            format!("{:.4}", c.per_hour.units()),
        ]);
    }
    t.row(vec![
        "TOTAL".into(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.4}", plan.summary.cost_per_hour.units()),
    ]);
    t.render(out);
}

/// The TRAFFIC section: per host, region and cluster, the backend replicas, their share of
/// the group (the region, or the host under the weighted policy) and the weight it gives.
fn traffic(hosts: &[fleetplan::traffic::HostTraffic], out: &mut String) {
    let mut t = Table::new(&[
        "TRAFFIC", "SOURCE", "TTL", "REGION", "CLUSTER", "REPLICAS", "SHARE", "WEIGHT",
    ]);
    for host in hosts {
        if host.regions.is_empty() {
            t.row(vec![
                host.host.clone(),
                host.source.clone(),
                host.ttl.to_string(),
                "-".into(),
                "- (no replica serves it)".into(),
                "0".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for region in &host.regions {
            for c in &region.clusters {
                t.row(vec![
                    host.host.clone(),
                    host.source.clone(),
                    host.ttl.to_string(),
                    region.region.clone(),
                    c.cluster.to_string(),
                    c.replicas.to_string(),
                    format!("{:.1}%", c.share * 100.0),
                    format!("{}/255", c.weight),
                ]);
            }
        }
    }
    t.render(out);
}

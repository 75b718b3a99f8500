//! Criterion benchmark of the traffic model: `traffic/10k_hosts_100_clusters` computes, for
//! 10,000 global hosts (one per workload of the million-replica fleet: 10,000 workloads over
//! 100 clusters), the latency entries per region and the apportioned weights per cluster
//! from the fast plan. Planning the fleet is never timed.

use std::collections::BTreeSet;
use std::time::Duration;

use criterion::Criterion;
use fleetplan::follow::ObjectRef;
use fleetplan::traffic::{DEFAULT_TTL, Policy, Route, traffic};
use fleetplan::{PlanOptions, SolverChoice, plan};
use fleetplan_benches::{SyntheticSpec, synthetic};

const SEED: u64 = 42;

fn main() {
    let problem = synthetic(&SyntheticSpec::million(), SEED);
    let options = PlanOptions {
        solver: SolverChoice::Fast,
        ..PlanOptions::default()
    };
    let planned = plan(&problem, &options).expect("a valid fleet");
    let routes: Vec<Route> = problem
        .workloads
        .iter()
        .enumerate()
        .map(|(i, w)| Route {
            host: format!("app-{i}.example.com"),
            source: ObjectRef::new("Ingress", &w.id.namespace, &w.id.name),
            backends: vec![w.id.clone()],
            policy: Policy::LatencyOverWeighted,
            ttl: DEFAULT_TTL,
            endpoints: Vec::new(),
        })
        .collect();
    let serving = planned.serving();
    let down = BTreeSet::new();
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    c.bench_function("traffic/10k_hosts_100_clusters", |b| {
        b.iter(|| traffic(&routes, &serving, &down))
    });
    c.final_summary();
}

//! Embedding the engine in a controller of your own.
//!
//! A controller that already watches its clusters (with kube-rs, client-go, or anything else)
//! turns what it observed into a [`fleetplan::Problem`] on every reconcile, plans, and acts on
//! the difference. The engine is pure and synchronous: no I/O, no Kubernetes types, so the
//! same call works in a kube-rs `Controller`, a test, or a batch job.
//!
//! This program plays three reconciles of such a loop on a made-up fleet: the first places a
//! Deployment of 9 replicas over three clusters; in the second, one cluster stops answering
//! and its replicas are placed on the other two (the others stay put); in the third it is
//! back, and nothing moves (no churn). Run it with
//! `cargo run -p fleetplan-embed-example`.

use std::collections::BTreeMap;

use fleetplan::{Cluster, Health, NodePool, PlanOptions, Problem, Resources, Running, Workload, plan};

/// What the controller observed in one reconcile: each cluster's health and the replicas
/// running there.
struct Observation {
    health: BTreeMap<&'static str, Health>,
    running: Vec<Running>,
}

/// The fleet as the controller knows it: three clusters of four 4-CPU nodes.
fn fleet(observed: &Observation) -> Problem {
    let clusters = [
        ("us-east-1-a", "us-east-1"),
        ("us-west-2-a", "us-west-2"),
        ("eu-west-1-a", "eu-west-1"),
    ]
    .into_iter()
    .map(|(name, region)| {
        let mut cluster = Cluster::new(name, region);
        cluster.pools.push(NodePool::uniform(
            "general",
            4,
            Resources::new()
                .with("cpu", 4000)
                .with("memory", 16 << 30)
                .with("pods", 110),
        ));
        cluster.health = observed.health.get(name).copied().unwrap_or(Health::Ready);
        cluster
    })
    .collect();
    let web = Workload::new(
        "shop",
        "web",
        9,
        Resources::new().with("cpu", 500).with("memory", 512 << 20),
    );
    Problem {
        clusters,
        workloads: vec![web],
        current: observed.running.clone(),
        ..Problem::default()
    }
}

/// One reconcile: plan from what was observed, and return the replicas per cluster to
/// apply, with what changed.
fn reconcile(observed: &Observation) -> Result<(BTreeMap<String, u32>, Vec<Running>), fleetplan::Error> {
    let problem = fleet(observed);
    let plan = plan(&problem, &PlanOptions::default())?;
    let per_cluster = plan
        .placements
        .iter()
        .map(|p| (p.cluster.to_string(), p.replicas))
        .collect();
    Ok((per_cluster, fleetplan::simulate::running_of(&plan)))
}

/// Plays the three reconciles; returns the replicas per cluster after each.
fn run() -> Result<Vec<BTreeMap<String, u32>>, fleetplan::Error> {
    let mut observed = Observation {
        health: BTreeMap::new(),
        running: Vec::new(),
    };
    let mut history = Vec::new();
    for (tick, event) in ["start", "us-west-2-a stops answering", "us-west-2-a is back"]
        .into_iter()
        .enumerate()
    {
        match tick {
            1 => {
                observed.health.insert("us-west-2-a", Health::Unreachable);
                // Its replicas are gone with it.
                observed.running.retain(|r| r.cluster.as_str() != "us-west-2-a");
            }
            2 => {
                observed.health.insert("us-west-2-a", Health::Ready);
            }
            _ => {}
        }
        let (per_cluster, running) = reconcile(&observed)?;
        println!("reconcile {tick} ({event}): {per_cluster:?}");
        // The controller applies the plan; next time it observes these replicas running.
        observed.running = running;
        history.push(per_cluster);
    }
    Ok(history)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_keeps_the_total_moves_only_the_lost_replicas_and_never_moves_back() {
        let history = run().expect("a valid fleet");
        let total = |h: &BTreeMap<String, u32>| h.values().sum::<u32>();
        assert!(history.iter().all(|h| total(h) == 9), "{history:?}");
        let (first, failed, back) = (&history[0], &history[1], &history[2]);
        assert!(!failed.contains_key("us-west-2-a"), "{failed:?}");
        for cluster in ["us-east-1-a", "eu-west-1-a"] {
            assert!(
                failed[cluster] >= first[cluster],
                "{cluster} lost replicas: {history:?}"
            );
        }
        assert_eq!(back, failed, "nothing moves back after recovery");
    }
}

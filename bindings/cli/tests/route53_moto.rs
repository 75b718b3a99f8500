//! End-to-end test of the Route53 writer against moto, a local fake of the AWS APIs: the
//! tutorial's host `shop.example.com` gets its records in a moto hosted zone exactly as
//! planned (a latency record per region aliasing `REGION.shop.example.com`, a weighted record
//! per cluster aliasing that cluster's load balancer, made in moto's ELBv2); a second sync
//! changes nothing; after a simulated failure the failed cluster's record is gone; a writer
//! with another owner id leaves the host alone; pruning removes what the owner wrote; and
//! `fleetplan traffic resolve --route53` reads the live records back and resolves them.
//!
//! moto stores records but validates nothing and answers no DNS query (see the README): this
//! test checks what is written, and `fleetplan traffic resolve` (tested in `cli.rs`) checks
//! what Route53's rules make of it. The moto server is the test bed's [`MotoServer`]
//! (`$FLEETPLAN_MOTO_SERVER`, else `moto_server` on the PATH); the test fails, never skips,
//! when neither runs.

mod route53;

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use fleetplan::simulate::{Disruption, Operation, RecoveryPolicy, Simulation};
use fleetplan::traffic::HostTraffic;
use fleetplan::{PlanOptions, SolverChoice};
use fleetplan_aws::route53::Route53Writer;
use fleetplan_testbed::MotoServer;
use fleetplan_testbed::load_balancers::default_subnets;
use route53::{create_zone, expected_rows, moto_env, rows, tutorial_scenario};

async fn config(moto: &MotoServer, region: &str) -> SdkConfig {
    moto.sdk_config(region).await
}

/// One application load balancer per cluster of the tutorial, in its region: cluster -> DNS
/// name.
async fn load_balancers(moto: &MotoServer) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (cluster, region) in [
        ("eu-west-1-a", "eu-west-1"),
        ("eu-west-1-b", "eu-west-1"),
        ("us-west-2-a", "us-west-2"),
        ("us-west-2-b", "us-west-2"),
    ] {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config(moto, region).await);
        let subnets = default_subnets(&moto.endpoint(), region).await.expect("subnets");
        let made = elb
            .create_load_balancer()
            .name(format!("k8s-shop-web-{}", cluster.replace('-', "")))
            .set_subnets(Some(subnets.into_iter().take(2).collect()))
            .send()
            .await
            .expect("CreateLoadBalancer");
        let dns = made.load_balancers()[0]
            .dns_name()
            .expect("a DNS name")
            .to_string();
        out.insert(cluster.to_string(), dns);
    }
    out
}

/// The tutorial's traffic, step 0 and after `ops`, with each cluster's load balancer as
/// its endpoint (as the controller reads them from the Ingress copies).
fn tutorial_traffic(
    ops: &[Operation],
    lbs: &BTreeMap<String, String>,
) -> (Vec<HostTraffic>, Vec<HostTraffic>) {
    let scenario = tutorial_scenario();
    let options = PlanOptions {
        solver: SolverChoice::Fast,
        ..PlanOptions::default()
    };
    let (mut sim, _) = Simulation::new(
        scenario.problem,
        options,
        RecoveryPolicy::Stay,
        Disruption::default(),
    )
    .expect("plans");
    let first = sim.plan().traffic;
    if !ops.is_empty() {
        sim.step(ops).expect("steps");
    }
    let with_endpoints = |mut hosts: Vec<HostTraffic>| {
        for c in hosts
            .iter_mut()
            .flat_map(|h| &mut h.regions)
            .flat_map(|r| &mut r.clusters)
        {
            c.endpoint = Some(lbs[c.cluster.as_str()].clone());
        }
        hosts
    };
    (with_endpoints(first), with_endpoints(sim.plan().traffic))
}

/// `fleetplan traffic resolve shop.example.com --route53 --from FROM -o json` against moto:
/// the one resolution.
fn resolve_live(moto: &MotoServer, from: &str) -> serde_json::Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args([
            "traffic",
            "resolve",
            "shop.example.com",
            "--route53",
            "--from",
            from,
            "-o",
            "json",
        ])
        .envs(moto_env(&moto.endpoint()))
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    all[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorials_records_land_in_route53_as_planned_and_follow_a_failure() {
    let moto = MotoServer::start()
        .await
        .expect("a moto server (see the module docs)");
    let aws = config(&moto, "us-east-1").await;
    let route53 = aws_sdk_route53::Client::new(&aws);
    let zone_id = create_zone(&route53, "example.com").await;
    let lbs = load_balancers(&moto).await;
    let (planned, after_failure) = tutorial_traffic(
        &[Operation::Fail {
            cluster: "us-west-2-a".into(),
        }],
        &lbs,
    );
    assert_eq!(planned.len(), 1, "{planned:?}");
    let host = &planned[0];
    assert_eq!(host.host, "shop.example.com");

    let east = Route53Writer::new(&aws, "east").expect("a writer");
    let report = east.sync(&planned).await.expect("syncs");
    assert!(
        report.conflicts.is_empty() && report.pending.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.changed.len(), 1);

    // Exactly as planned: per region a latency record aliasing REGION.HOST, per cluster a
    // weighted record aliasing its load balancer, and the owner record.
    let prefix = fleetplan_aws::route53::records::set_prefix("east", "shop.example.com");
    let expected = expected_rows(&planned, "east");
    assert_eq!(expected.len(), 1 + 2 + 4, "{expected:#?}");
    assert_eq!(rows(&route53, &zone_id).await, expected);
    let weights: BTreeMap<String, i64> = expected
        .iter()
        .filter_map(|r| Some((r.2.clone()?.trim_start_matches(&prefix).to_string(), r.3?)))
        .collect();
    assert_eq!(weights.len(), 4, "four clusters hold web replicas: {weights:?}");
    for region in ["eu-west-1", "us-west-2"] {
        let sum: i64 = weights
            .iter()
            .filter(|(c, _)| c.starts_with(region))
            .map(|(_, w)| w)
            .sum();
        assert_eq!(sum, 255, "{region}'s weights share 255 points");
    }

    // What users get from the live records, as `traffic resolve --route53` reads them back.
    let eu = resolve_live(&moto, "eu-west-1");
    let shares: Vec<(&str, &str, u64)> = eu["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| {
            (
                c["cluster"].as_str().unwrap_or_default(),
                c["region"].as_str().unwrap_or_default(),
                c["weight"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        shares,
        [
            ("eu-west-1-a", "eu-west-1", 128),
            ("eu-west-1-b", "eu-west-1", 127)
        ],
        "{eu}"
    );

    // Again: nothing to change.
    let again = east.sync(&planned).await.expect("syncs");
    assert!(again.changed.is_empty(), "{again:?}");

    // A writer with another owner id leaves the host alone.
    let west = Route53Writer::new(&aws, "west").expect("a writer");
    let theirs = west.sync(&after_failure).await.expect("syncs");
    assert_eq!(theirs.conflicts.len(), 1, "{theirs:?}");
    assert!(theirs.changed.is_empty());
    assert_eq!(
        rows(&route53, &zone_id).await,
        expected,
        "untouched by the other owner"
    );

    // us-west-2-a fails: its record goes, us-west-2-b takes the region's 255 points.
    let failed = east.sync(&after_failure).await.expect("syncs");
    assert_eq!(failed.changed.len(), 1, "{failed:?}");
    let now = rows(&route53, &zone_id).await;
    assert!(
        !now.iter()
            .any(|r| r.2.as_deref() == Some(&format!("{prefix}us-west-2-a"))),
        "{now:#?}"
    );
    let b = now
        .iter()
        .find(|r| r.2.as_deref() == Some(&format!("{prefix}us-west-2-b")))
        .expect("us-west-2-b's record");
    assert_eq!(b.3, Some(255));
    let us = resolve_live(&moto, "us-west-2");
    assert_eq!(us["clusters"][0]["cluster"], "us-west-2-b", "{us}");
    assert_eq!(us["clusters"][0]["share"], 1.0, "{us}");
    assert_eq!(us["clusters"].as_array().map(Vec::len), Some(1), "{us}");
    // A host the zone holds no record for: a clear error.
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_fleetplan"))
        .args(["traffic", "resolve", "nope.example.com", "--route53"])
        .envs(moto_env(&moto.endpoint()))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no weighted record for host `nope.example.com`"),
        "{stderr}"
    );

    // Pruned when no longer planned: nothing of the owner's is left.
    let pruned = east.prune(&BTreeSet::new()).await.expect("prunes");
    assert_eq!(pruned, ["shop.example.com"]);
    assert!(rows(&route53, &zone_id).await.is_empty());
    let bad = Route53Writer::new(&aws, "Not An Owner").err().expect("refused");
    assert!(bad.to_string().contains("owner id"), "{bad}");
}

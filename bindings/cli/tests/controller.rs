//! `fleetplan controller` end to end on the local test bed: a management cluster and three
//! workload clusters registered in it, in phases that share one bed:
//!
//! 1. A Deployment created in the management cluster lands in the workload clusters and
//!    reaches Running; its placement is written back on it. A second instance waits for the
//!    Lease and does nothing; the leader serves Prometheus metrics.
//! 2. A blue/green drain of one cluster: its replicas move out make-before-break, and the
//!    Running replicas never drop below the target.
//! 3. The controller is killed (SIGKILL) at pseudo-random points twenty times while the
//!    target changes; a final run converges with one copy per cluster and no orphan.
//! 4. One workload cluster's API server stops: the replicas it held are placed on the others
//!    until the total Running is back to the target (the seconds it took are printed).
//!
//! Needs `FLEETPLAN_TESTBED_BIN` (set by `scripts/test`); without it the test fails with the
//! command to build the bed, never skips.

mod bed;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use bed::{
    WORKLOAD_CLUSTERS, controller, controller_bed, diagnose, namespace, owned_copies, put, registration,
    running, scale, spread_web,
};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams, Patch, PatchParams};

const TARGET: usize = 6;

/// The metrics page at `address`.
fn scrape(address: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("the metrics endpoint answers");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("response");
    text
}

#[test]
fn the_controller_lands_drains_survives_kills_and_fails_over() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (mut bed, kubeconfig) = controller_bed(&runtime);

    runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        for ns in ["fleetplan-system", "shop"] {
            put(&mgmt, &namespace(ns)).await;
        }
        // Register the workload clusters: one Secret each, holding a kubeconfig whose
        // current context is that cluster.
        for (name, region) in WORKLOAD_CLUSTERS {
            put(&mgmt, &registration(&kubeconfig, name, region)).await;
        }
        let web = spread_web(TARGET);
        put(&mgmt, &web).await;
    });

    let log = bed.dir().join("controller.log");
    let launch = |log: &std::path::Path, extra: &[&str]| {
        let mut flags = vec!["--failure-threshold", "10"];
        flags.extend_from_slice(extra);
        controller(bed.kubeconfig(), log, &flags)
    };
    // Restarts keep the identity, so that each takes its Lease back at once.
    let start = || launch(&log, &["--identity", "main"]);
    let metrics_address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("address").to_string()
    };
    let controller = launch(
        &log,
        &["--identity", "main", "--metrics-address", &metrics_address],
    );
    // A second instance, started once the first leads, waits for the Lease.
    let leads = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("leading")
    {
        assert!(Instant::now() < leads, "the first instance never leads");
        std::thread::sleep(Duration::from_millis(100));
    }
    let standby_log = bed.dir().join("standby.log");
    let standby = launch(&standby_log, &["--identity", "standby"]);
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let names: Vec<&str> = WORKLOAD_CLUSTERS.iter().map(|(n, _)| *n).collect();

    runtime.block_on(async {
        // The Deployment lands and every replica reaches Running.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let now = running(&bed, &names).await;
            if now.values().sum::<usize>() == TARGET && now.values().all(|&n| n > 0) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not {TARGET} Running after 120 s: {now:?}\n{}\n{}\nthe standby:\n{}",
                diagnose(&bed, &names).await,
                logs(),
                std::fs::read_to_string(&standby_log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        let source: Api<Deployment> = Api::namespaced(mgmt, "shop");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let web = source.get("web").await.expect("source");
            let annotations = web.metadata.annotations.unwrap_or_default();
            let ready = annotations.get("fleetplan.io/ready").map(String::as_str);
            if let (Some(placement), Some("6/6")) = (annotations.get("fleetplan.io/placement"), ready) {
                let placement: BTreeMap<String, u32> =
                    serde_json::from_str(placement).expect("JSON placement");
                assert_eq!(placement.values().sum::<u32>(), TARGET as u32, "{placement:?}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no placement or not 6/6 ready: {annotations:?}\n{}",
                logs()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });

    // An Event on the source says where it went.
    runtime.block_on(async {
        let events: Api<k8s_openapi::api::core::v1::Event> =
            Api::namespaced(bed.client("mgmt").await.expect("mgmt client"), "shop");
        let list = events.list(&ListParams::default()).await.expect("events");
        let placed = list.items.iter().find(|e| {
            e.reason.as_deref() == Some("Placed") && e.involved_object.name.as_deref() == Some("web")
        });
        let message = placed.and_then(|e| e.message.clone()).unwrap_or_default();
        assert!(message.starts_with("6 replica(s): "), "{:?}", list.items);
        // So does its condition, kept by the management cluster's Deployment controller.
        let source: Api<Deployment> = Api::namespaced(bed.client("mgmt").await.expect("mgmt client"), "shop");
        let conditions = source
            .get("web")
            .await
            .expect("source")
            .status
            .and_then(|s| s.conditions);
        let placed = conditions
            .iter()
            .flatten()
            .find(|c| c.type_.as_deref() == Some("FleetplanPlaced"));
        assert!(
            placed.is_some_and(|c| c.status.as_deref() == Some("True")
                && c.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("6 replica(s): "))),
            "{conditions:?}"
        );
    });

    // Only the leader acted; it serves its metrics.
    let standby_text = std::fs::read_to_string(&standby_log).unwrap_or_default();
    assert!(standby_text.contains("waiting for the Lease"), "{standby_text}");
    assert!(!standby_text.contains("pass done"), "{standby_text}");
    drop(standby);
    let metrics = scrape(&metrics_address);
    assert!(metrics.contains("fleetplan_leader 1"), "{metrics}");
    assert!(
        metrics.contains("fleetplan_replicas{state=\"placed\"} 6"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fleetplan_objects_total{action=\"created\"}"),
        "{metrics}"
    );

    // Phase 2: drain `europe` (blue/green): make-before-break, never below the target.
    runtime.block_on(async {
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(mgmt, "fleetplan-system");
        let drain = serde_json::json!({"metadata": {"annotations": {"fleetplan.io/drain": "true"}}});
        secrets
            .patch("europe", &PatchParams::default(), &Patch::Merge(&drain))
            .await
            .expect("drain annotation");
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut lowest = usize::MAX;
        loop {
            let now = running(&bed, &names).await;
            let total: usize = now.values().sum();
            lowest = lowest.min(total);
            if now.get("europe") == Some(&0) && total == TARGET {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the drain did not finish: {now:?}\n{}\n{}",
                diagnose(&bed, &names).await,
                logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            lowest >= TARGET,
            "Running dropped to {lowest} of {TARGET} during the drain"
        );
        let europe: Api<Deployment> = Api::namespaced(bed.client("europe").await.expect("client"), "shop");
        assert!(
            europe.get_opt("web").await.expect("get").is_none(),
            "the drained copy is pruned"
        );
        let undrain = serde_json::json!({"metadata": {"annotations": {"fleetplan.io/drain": null}}});
        secrets
            .patch("europe", &PatchParams::default(), &Patch::Merge(&undrain))
            .await
            .expect("undrain");
    });
    drop(controller);

    // Phase 3: killed at pseudo-random points while the target changes; then it converges.
    let mut seed: u64 = 0x5eed;
    for round in 0..20u32 {
        let replicas = 4 + round % 5;
        runtime.block_on(scale(&bed, replicas));
        let child = start();
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(Duration::from_millis(200 + (seed >> 33) % 1300));
        drop(child);
    }
    runtime.block_on(scale(&bed, TARGET as u32));
    let controller = start();
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let now = running(&bed, &names).await;
            let copies = owned_copies(&bed, &names).await;
            let replicas: i32 = copies.iter().map(|(_, _, r)| r).sum();
            let one_each = copies.iter().all(|(_, name, _)| name == "shop/web");
            if now.values().sum::<usize>() == TARGET && replicas == TARGET as i32 && one_each {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no convergence after the kills: running {now:?}, copies {copies:?}\n{}\n{}",
                diagnose(&bed, &names).await,
                logs()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });

    // Phase 4: one workload cluster's API server stops: the others take its replicas.
    bed.stop_api_server("europe").expect("stop europe");
    let stopped = Instant::now();
    runtime.block_on(async {
        let deadline = stopped + Duration::from_secs(120);
        loop {
            let now = running(&bed, &["east", "west"]).await;
            if now.values().sum::<usize>() == TARGET {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not {TARGET} Running on the others: {now:?}\n{}\n{}",
                diagnose(&bed, &names).await,
                logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    println!(
        "failover: {TARGET} replicas Running again {:.1} s after the API server stopped (failure threshold 10 s)",
        stopped.elapsed().as_secs_f64()
    );
    let text = logs();
    assert!(text.contains("its replicas are placed elsewhere"), "{text}");
    assert!(!text.contains("token"), "no credentials in the logs: {text}");

    // SIGTERM stops it cleanly.
    let mut controller = controller;
    let pid = controller.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = controller.0.wait().expect("the controller exits");
    assert!(status.success(), "{status}\n{}", logs());
}

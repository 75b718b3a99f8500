//! Fault drills for `fleetplan controller` on the local test bed: a management cluster (which
//! the controller reaches through a proxy of the bed that counts its requests) and three
//! workload clusters (`west` registered through a fault-injecting proxy), one Deployment
//! spread over them. After each drill the fleet must hold exactly the target:
//! as many Running replicas as the target, one copy per cluster whose replicas add up to the
//! target (none lost, none twice). The seconds each drill took to converge are printed.
//!
//! 0. **Watched, not listed**: passes read the registrations and sources from watches; more
//!    passes add no list of Deployments, Jobs or Secrets.
//! 1. **Pending copies**: `europe`'s scheduler is held, the target grows, the replica planned
//!    there stays Pending; past the pending threshold it runs elsewhere.
//! 2. **The management API server stops** at pseudo-random points of the pass cycle, three
//!    times, and restarts: nothing in the workload clusters changes while it is down, and the
//!    fleet follows a new target within two failure thresholds after it is back.
//! 3. **The workload API server answers 500**, within the failure threshold: nothing moves;
//!    then **429** past the threshold: its replicas are placed elsewhere, and when it answers
//!    again the surplus goes, within two failure thresholds.
//! 4. **A registration is deleted** while its cluster holds replicas: they move out
//!    make-before-break (Running never drops below the target), the copy is pruned and the
//!    cluster forgotten.
//!
//! Needs `FLEETPLAN_TESTBED_BIN` (set by `scripts/test`); without it the test fails with the
//! command to build the bed, never skips.

mod bed;

use std::time::{Duration, Instant};

use bed::{
    WORKLOAD_CLUSTERS, controller, controller_bed, diagnose, namespace, owned_copies, put, registration,
    running, scale, spread_web,
};
use fleetplan_testbed::TestBed;
use fleetplan_testbed::fault_proxy::{Fault, FaultProxy};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams};
use kube::config::Kubeconfig;

const NAMES: [&str; 3] = ["east", "west", "europe"];
/// The controller's failure threshold, in seconds.
const FAILURE_THRESHOLD: u64 = 10;
/// The controller's pending threshold, in seconds.
const PENDING_THRESHOLD: u64 = 5;

/// `kubeconfig` with `cluster`'s server replaced by the proxy at `url` (plain HTTP).
fn through(kubeconfig: &Kubeconfig, cluster: &str, url: &str) -> Kubeconfig {
    let mut out = kubeconfig.clone();
    for named in out.clusters.iter_mut().filter(|c| c.name == cluster) {
        if let Some(c) = named.cluster.as_mut() {
            c.server = Some(url.to_string());
            c.insecure_skip_tls_verify = None;
            c.certificate_authority = None;
            c.certificate_authority_data = None;
        }
    }
    out
}

/// How the fleet stands against `target`: `None` when it holds exactly the target.
async fn off_target(bed: &TestBed, clusters: &[&str], target: usize) -> Option<String> {
    let now = running(bed, clusters).await;
    let copies = owned_copies(bed, clusters).await;
    let replicas: i32 = copies.iter().map(|(_, _, r)| r).sum();
    let per_cluster = copies.len()
        == copies
            .iter()
            .map(|(c, _, _)| c)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
    let exact = now.len() == clusters.len()
        && now.values().sum::<usize>() == target
        && usize::try_from(replicas).ok() == Some(target)
        && per_cluster;
    (!exact).then(|| format!("running {now:?}, copies {copies:?}"))
}

/// Waits until the fleet holds exactly `target` on `clusters`; returns the seconds it took
/// from `since`; fails the test after `within`, saying what `what` was.
async fn converge(
    bed: &TestBed,
    clusters: &[&str],
    target: usize,
    since: Instant,
    within: Duration,
    what: &str,
    log: &std::path::Path,
) -> f64 {
    loop {
        let Some(state) = off_target(bed, clusters, target).await else {
            return since.elapsed().as_secs_f64();
        };
        assert!(
            since.elapsed() < within,
            "{what}: not exactly {target} after {} s: {state}\n{}\n{}",
            within.as_secs(),
            diagnose(bed, &NAMES).await,
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The lowest Running total on `clusters` seen while `during` runs (polled).
async fn lowest_running<F: std::future::Future>(
    bed: &TestBed,
    clusters: &[&str],
    during: F,
) -> (usize, F::Output) {
    tokio::pin!(during);
    let mut lowest = usize::MAX;
    loop {
        tokio::select! {
            out = &mut during => return (lowest, out),
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                let now = running(bed, clusters).await;
                if now.len() == clusters.len() {
                    lowest = lowest.min(now.values().sum());
                }
            }
        }
    }
}

#[test]
fn the_controller_survives_pending_copies_a_lost_management_cluster_api_errors_and_deregistration() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (mut bed, kubeconfig) = controller_bed(&runtime);
    let (proxy, mgmt_proxy) = runtime.block_on(async {
        let proxy = FaultProxy::start(bed.client("west").await.expect("west client"))
            .await
            .expect("the proxy starts");
        let mgmt_proxy = FaultProxy::start(bed.client("mgmt").await.expect("mgmt client"))
            .await
            .expect("the proxy starts");
        let mgmt = bed.client("mgmt").await.expect("mgmt client");
        for ns in ["fleetplan-system", "shop"] {
            put(&mgmt, &namespace(ns)).await;
        }
        let proxied = through(&kubeconfig, "west", &proxy.url());
        for (name, region) in WORKLOAD_CLUSTERS {
            let config = if name == "west" { &proxied } else { &kubeconfig };
            put(&mgmt, &registration(config, name, region)).await;
        }
        let web = spread_web(6);
        put(&mgmt, &web).await;
        (proxy, mgmt_proxy)
    });
    let via_proxy = bed.dir().join("mgmt-via-proxy.kubeconfig");
    let config = through(&kubeconfig, "mgmt", &mgmt_proxy.url());
    std::fs::write(&via_proxy, serde_json::to_string(&config).expect("JSON")).expect("write the kubeconfig");
    let log = bed.dir().join("controller.log");
    let threshold = FAILURE_THRESHOLD.to_string();
    let pending = PENDING_THRESHOLD.to_string();
    let _controller = controller(
        &via_proxy,
        &log,
        &[
            "--identity",
            "main",
            "--failure-threshold",
            &threshold,
            "--pending-threshold",
            &pending,
        ],
    );
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let two_thresholds = Duration::from_secs(2 * FAILURE_THRESHOLD);

    runtime.block_on(converge(
        &bed,
        &NAMES,
        6,
        Instant::now(),
        Duration::from_secs(120),
        "landing",
        &log,
    ));

    // 0. Passes read the management cluster from watches.
    let lists = || {
        let requests = mgmt_proxy.requests();
        let listed = |resource: &str| {
            requests
                .iter()
                .filter(|r| r.starts_with("GET ") && !r.contains("watch="))
                .filter(|r| r.contains(&format!("/{resource}?")) || r.ends_with(&format!("/{resource}")))
                .count()
        };
        (listed("deployments"), listed("jobs"), listed("secrets"))
    };
    let before = lists();
    let passes = logs().matches("pass done").count();
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        logs().matches("pass done").count() >= passes + 3,
        "passes ran meanwhile"
    );
    assert_eq!(lists(), before, "more passes listed the management cluster again");
    let watches = mgmt_proxy
        .requests()
        .iter()
        .filter(|r| r.contains("watch="))
        .count();
    assert!(
        watches >= 3,
        "the management cluster is watched: {:?}",
        mgmt_proxy.requests()
    );

    // 1. Pending copies: europe schedules nothing new; the replica planned there moves.
    bed.hold_scheduling("europe", true)
        .expect("hold europe's scheduler");
    let started = Instant::now();
    runtime.block_on(async {
        scale(&bed, 9).await;
        let took = converge(&bed, &NAMES, 9, started, Duration::from_secs(90), "pending copies", &log).await;
        let europe = Api::<Pod>::namespaced(bed.client("europe").await.expect("client"), "shop")
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("europe's pods");
        let stuck = europe
            .items
            .iter()
            .filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name.is_none()))
            .count();
        assert_eq!(stuck, 0, "no Pending pod is left in europe");
        assert!(logs().contains("pods Pending past the threshold"), "{}", logs());
        println!("pending copies: 9 of 9 Running {took:.1} s after the target grew (pending threshold {PENDING_THRESHOLD} s)");
    });
    bed.hold_scheduling("europe", false)
        .expect("resume europe's scheduler");

    // 2. The management API server stops at pseudo-random points, and restarts.
    let mut seed: u64 = 0x5eed;
    for round in 0..3 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(Duration::from_millis(200 + (seed >> 33) % 1000));
        bed.stop_api_server("mgmt").expect("stop mgmt");
        let down = Duration::from_secs(3 + round * 2);
        let (lowest, ()) =
            runtime.block_on(async { lowest_running(&bed, &NAMES, tokio::time::sleep(down)).await });
        assert!(
            lowest >= 9,
            "Running dropped to {lowest} of 9 while the management cluster was down"
        );
        runtime
            .block_on(bed.start_api_server("mgmt"))
            .expect("restart mgmt");
        assert!(
            runtime.block_on(off_target(&bed, &NAMES, 9)).is_none(),
            "nothing changed while it was down"
        );
    }
    let back = Instant::now();
    runtime.block_on(async {
        scale(&bed, 8).await;
        let took = converge(
            &bed,
            &NAMES,
            8,
            back,
            two_thresholds,
            "after the management cluster came back",
            &log,
        )
        .await;
        println!("management cluster restarted: the new target held {took:.1} s after it was back");
    });

    // 3. west answers 500 within the threshold (nothing moves), then 429 past it.
    proxy.set(Fault::ServerError);
    let blip = Duration::from_secs(FAILURE_THRESHOLD / 2);
    let (lowest, ()) =
        runtime.block_on(async { lowest_running(&bed, &NAMES, tokio::time::sleep(blip)).await });
    proxy.set(Fault::None);
    assert!(lowest >= 8, "Running dropped to {lowest} of 8 during a blip");
    assert!(
        runtime.block_on(off_target(&bed, &NAMES, 8)).is_none(),
        "nothing moved during a blip"
    );
    assert!(
        logs().contains("within the failure threshold, nothing moves"),
        "{}",
        logs()
    );
    // A few passes read west again before the next fault, so that the two do not add up.
    std::thread::sleep(Duration::from_secs(3));
    proxy.set(Fault::TooManyRequests);
    let faulted = Instant::now();
    runtime.block_on(async {
        // Past the threshold the others take west's replicas (west still runs its own).
        let deadline = faulted + Duration::from_secs(FAILURE_THRESHOLD) + two_thresholds;
        loop {
            let others = running(&bed, &["east", "europe"]).await;
            if others.values().sum::<usize>() == 8 {
                assert!(
                    faulted.elapsed() >= Duration::from_secs(FAILURE_THRESHOLD),
                    "west's replicas moved {:.1} s into the fault, within the failure threshold",
                    faulted.elapsed().as_secs_f64()
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "west's replicas were not placed elsewhere: {others:?}\n{}",
                logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    proxy.set(Fault::None);
    let answered = Instant::now();
    runtime.block_on(async {
        let took = converge(
            &bed,
            &NAMES,
            8,
            answered,
            two_thresholds,
            "after west answered again",
            &log,
        )
        .await;
        println!(
            "west answered 429 for {:.1} s: exactly 8 again {took:.1} s after it answered",
            answered.duration_since(faulted).as_secs_f64()
        );
    });
    assert!(logs().contains("its replicas are placed elsewhere"), "{}", logs());

    // 4. europe's registration is deleted while it holds replicas.
    runtime.block_on(async {
        let took = async {
            let before = running(&bed, &["europe"]).await;
            assert!(
                before.get("europe").is_some_and(|&n| n > 0),
                "europe holds replicas: {before:?}"
            );
            let secrets: Api<Secret> =
                Api::namespaced(bed.client("mgmt").await.expect("mgmt"), "fleetplan-system");
            secrets
                .delete("europe", &DeleteParams::default())
                .await
                .expect("delete the registration");
            let deleted = Instant::now();
            // Until europe's copy is pruned, the fleet may hold 8 with it.
            loop {
                let left = owned_copies(&bed, &["europe"]).await;
                if left.is_empty() {
                    break;
                }
                assert!(
                    deleted.elapsed() < Duration::from_secs(90),
                    "europe's copies are not pruned: {left:?}\n{}",
                    logs()
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            converge(
                &bed,
                &NAMES,
                8,
                deleted,
                Duration::from_secs(90),
                "deregistration",
                &log,
            )
            .await
        };
        let (lowest, took) = lowest_running(&bed, &NAMES, took).await;
        assert!(
            lowest >= 8,
            "Running dropped to {lowest} of 8 while europe was drained"
        );
        println!("registration deleted: europe drained in {took:.1} s");
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !logs().contains("forgotten") {
        assert!(Instant::now() < deadline, "europe is never forgotten\n{}", logs());
        std::thread::sleep(Duration::from_millis(200));
    }
}

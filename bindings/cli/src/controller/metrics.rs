//! The controller's Prometheus metrics, and a minimal HTTP endpoint serving them.
//!
//! Served at any path of the metrics address, in the Prometheus text format:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `fleetplan_passes_total{result}` | counter | passes, by `ok` or `error` |
//! | `fleetplan_pass_duration_seconds` | gauge | how long the last pass took |
//! | `fleetplan_replicas{state}` | gauge | `placed` and `unplaced` replicas in the last plan |
//! | `fleetplan_clusters{state}` | gauge | registered clusters `ready`, `late` (not answering, within the threshold) or `unreachable` |
//! | `fleetplan_objects_total{action}` | counter | Deployments `created`, `updated` or `pruned` in workload clusters |
//! | `fleetplan_leader` | gauge | 1 while this instance holds the Lease |

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::pass::Pass;

/// The controller's counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    passes_ok: AtomicU64,
    passes_failed: AtomicU64,
    pass_micros: AtomicU64,
    placed: AtomicU64,
    unplaced: AtomicU64,
    ready: AtomicU64,
    late: AtomicU64,
    unreachable: AtomicU64,
    created: AtomicU64,
    updated: AtomicU64,
    pruned: AtomicU64,
    leader: AtomicU64,
}

impl Metrics {
    /// Records a pass that completed.
    pub fn pass(&self, pass: &Pass, took: Duration) {
        self.passes_ok.fetch_add(1, Ordering::Relaxed);
        self.pass_micros.store(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.placed.store(pass.placed, Ordering::Relaxed);
        self.unplaced.store(pass.unplaced, Ordering::Relaxed);
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        self.ready.store(count(pass.applied.len()), Ordering::Relaxed);
        self.late.store(count(pass.late.len()), Ordering::Relaxed);
        self.unreachable
            .store(count(pass.unreachable.len()), Ordering::Relaxed);
        for report in pass.applied.values() {
            self.created
                .fetch_add(u64::from(report.created), Ordering::Relaxed);
            self.updated
                .fetch_add(u64::from(report.updated), Ordering::Relaxed);
            self.pruned.fetch_add(u64::from(report.pruned), Ordering::Relaxed);
        }
    }

    /// Records a pass that failed.
    pub fn failed_pass(&self) {
        self.passes_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Records whether this instance leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.store(u64::from(leading), Ordering::Relaxed);
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        family(
            "fleetplan_passes_total",
            "counter",
            "Controller passes, by result.",
            &[
                ("{result=\"ok\"}", get(&self.passes_ok)),
                ("{result=\"error\"}", get(&self.passes_failed)),
            ],
        );
        family(
            "fleetplan_replicas",
            "gauge",
            "Replicas placed and unplaced by the last plan.",
            &[
                ("{state=\"placed\"}", get(&self.placed)),
                ("{state=\"unplaced\"}", get(&self.unplaced)),
            ],
        );
        family(
            "fleetplan_clusters",
            "gauge",
            "Registered clusters by state in the last pass.",
            &[
                ("{state=\"ready\"}", get(&self.ready)),
                ("{state=\"late\"}", get(&self.late)),
                ("{state=\"unreachable\"}", get(&self.unreachable)),
            ],
        );
        family(
            "fleetplan_objects_total",
            "counter",
            "Deployments written in workload clusters, by action.",
            &[
                ("{action=\"created\"}", get(&self.created)),
                ("{action=\"updated\"}", get(&self.updated)),
                ("{action=\"pruned\"}", get(&self.pruned)),
            ],
        );
        family(
            "fleetplan_leader",
            "gauge",
            "1 while this instance holds the Lease.",
            &[("", get(&self.leader))],
        );
        let seconds = get(&self.pass_micros) as f64 / 1e6;
        let _ = writeln!(
            out,
            "# HELP fleetplan_pass_duration_seconds How long the last pass took.\n# TYPE fleetplan_pass_duration_seconds gauge\nfleetplan_pass_duration_seconds {seconds}"
        );
        out
    }
}

/// Listens on `address` and answers every request with the metrics.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(address: SocketAddr, metrics: Arc<Metrics>) -> Result<(), String> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address} for metrics: {e}"))?;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = Arc::clone(&metrics);
            tokio::spawn(async move {
                // The request itself does not matter: read what came, answer, close.
                let mut request = [0u8; 1024];
                let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut request)).await;
                let body = metrics.render();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok(())
}

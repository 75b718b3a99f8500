//! Helpers shared by the tests that run on the local test bed (each test file uses some).
#![allow(dead_code)]

use fleetplan::{Cluster, NodePool, Resources};
use fleetplan_testbed::Binaries;

/// The bed's binaries; without them the test fails with the command that builds them.
pub fn binaries() -> Binaries {
    Binaries::from_env().unwrap_or_else(|e| {
        panic!(
            "the test bed is required: export FLEETPLAN_TESTBED_BIN=$(bash adapters/testbed/build.sh): {e}"
        )
    })
}

/// A cluster of `nodes` 4-CPU, 16 GiB nodes in one pool (none: a management cluster).
pub fn cluster(name: &str, region: &str, nodes: u32) -> Cluster {
    let mut c = Cluster::new(name, region);
    if nodes > 0 {
        c.pools.push(NodePool::uniform(
            "general",
            nodes,
            Resources::new()
                .with("cpu", 4000)
                .with("memory", 16 << 30)
                .with("pods", 110),
        ));
    }
    c
}

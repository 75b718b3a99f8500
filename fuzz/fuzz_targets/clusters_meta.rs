//! A `_clusters.yaml` (region, labels, prices of dumped clusters) beside a small node dump.
#![no_main]

use fleetplan_fuzz::{APPS, load, plan_and_check, text};
use libfuzzer_sys::fuzz_target;

const DUMP: &str = "\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Node
    metadata:
      name: n1
      labels: {topology.kubernetes.io/region: us-east-1, topology.kubernetes.io/zone: us-east-1a}
    status:
      allocatable: {cpu: \"4\", memory: 16Gi, pods: \"110\"}
      conditions: [{type: Ready, status: \"True\"}]
";

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let fleet = [("fleet/_clusters.yaml", text), ("fleet/c1.yaml", DUMP)];
    if let Some(scenario) = load(&fleet, &[("apps/apps.yaml", APPS)]) {
        plan_and_check(&scenario.problem);
    }
});

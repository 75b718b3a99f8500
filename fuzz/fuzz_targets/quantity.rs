//! Kubernetes quantities (`250m`, `1.5Gi`, `1e3`) as every resource reads them.
#![no_main]

use fleetplan_fuzz::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    for resource in ["cpu", "memory", "pods", "nvidia.com/gpu"] {
        if let Ok(amount) = fleetplan_kube::parse_quantity(text, resource) {
            // A quantity read once reads the same when written back in plain units.
            let again = fleetplan_kube::parse_quantity(&amount.to_string(), "pods");
            assert!(
                again.is_ok(),
                "{text:?} read as {amount}, which does not read back"
            );
        }
    }
});

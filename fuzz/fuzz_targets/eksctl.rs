//! An eksctl `ClusterConfig` file among the fleet files, read by the AWS adapter.
#![no_main]

use fleetplan_fuzz::{APPS, load, plan_and_check, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    if let Some(scenario) = load(&[("fleet/eks.yaml", text)], &[("apps/apps.yaml", APPS)]) {
        plan_and_check(&scenario.problem);
    }
});

//! An apps file (Deployments, Jobs, Services, Ingresses, ConfigMaps...) beside a valid fleet.
#![no_main]

use fleetplan_fuzz::{FLEET, load, plan_and_check, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    if let Some(scenario) = load(&[("fleet/fleet.yaml", FLEET)], &[("apps/apps.yaml", text)]) {
        plan_and_check(&scenario.problem);
    }
});

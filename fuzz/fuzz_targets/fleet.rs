//! A fleet file (concise `kind: Fleet`, or a kubectl dump of one cluster's nodes and pods),
//! read beside valid apps and planned.
#![no_main]

use fleetplan_fuzz::{APPS, load, plan_and_check, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    if let Some(scenario) = load(&[("fleet/c1.yaml", text)], &[("apps/apps.yaml", APPS)]) {
        plan_and_check(&scenario.problem);
    }
});

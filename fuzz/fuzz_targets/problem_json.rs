//! A problem as JSON (the contract the Python package and embedders use), validated and
//! planned with every solver.
#![no_main]

use fleetplan::Problem;
use fleetplan_fuzz::{plan_and_check, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    if let Ok(problem) = serde_json::from_str::<Problem>(text) {
        plan_and_check(&problem);
    }
});

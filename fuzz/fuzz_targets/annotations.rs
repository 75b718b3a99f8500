//! `fleetplan.io/` annotations (and the cluster selector's label-selector syntax) on a
//! Deployment: each line of the input is `key=value`, keys without a `/` get the
//! `fleetplan.io/` prefix.
#![no_main]

use fleetplan_fuzz::{FLEET, annotated_deployment, load, plan_and_check, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let mut annotations = serde_json::Map::new();
    for line in text.lines() {
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let key = if key.contains('/') {
            key.to_owned()
        } else {
            format!("fleetplan.io/{key}")
        };
        annotations.insert(key, serde_json::Value::String(value.to_owned()));
    }
    let apps = annotated_deployment(annotations);
    if let Some(scenario) = load(&[("fleet/fleet.yaml", FLEET)], &[("apps/web.json", &apps)]) {
        plan_and_check(&scenario.problem);
    }
});

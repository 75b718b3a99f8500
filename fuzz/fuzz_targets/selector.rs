//! A cluster selector in Kubernetes' label-selector syntax (`tier in (gold,silver),!spot`),
//! as the `fleetplan.io/cluster-selector` annotation gives it.
#![no_main]

use fleetplan_fuzz::{FLEET, annotated_deployment, load, plan_and_check, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let mut annotations = serde_json::Map::new();
    annotations.insert("fleetplan.io/cluster-selector".into(), text.into());
    let apps = annotated_deployment(annotations);
    if let Some(scenario) = load(&[("fleet/fleet.yaml", FLEET)], &[("apps/web.json", &apps)]) {
        plan_and_check(&scenario.problem);
    }
});

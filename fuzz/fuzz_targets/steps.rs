//! A what-if steps file, run step by step on a valid scenario with the fast planner.
#![no_main]

use fleetplan::PlanOptions;
use fleetplan::simulate::{Disruption, RecoveryPolicy, Simulation};
use fleetplan_fuzz::{APPS, FLEET, PLAN_REPLICAS, load, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let Ok(steps) = fleetplan_kube::parse_steps(text, "steps.yaml") else {
        return;
    };
    let scenario =
        load(&[("fleet/fleet.yaml", FLEET)], &[("apps/apps.yaml", APPS)]).expect("the seed scenario loads");
    let Ok((mut sim, _)) = Simulation::new(
        scenario.problem,
        PlanOptions::default(),
        RecoveryPolicy::Rebalance,
        Disruption::default(),
    ) else {
        panic!("the seed scenario simulates");
    };
    for operations in &steps {
        // Scaling far up is refused here for the reason `PLAN_REPLICAS` gives.
        let huge = operations.iter().any(|op| {
            matches!(op, fleetplan::simulate::Operation::Scale { replicas, .. } if u64::from(*replicas) > PLAN_REPLICAS)
        });
        if huge || sim.step(operations).is_err() {
            return;
        }
    }
});

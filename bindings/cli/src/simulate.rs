//! `fleetplan simulate`: what-if steps (fail, recover, drain, cordon... from flags or a steps
//! file) run through the core's [`Simulation`], rendered as a timeline. `fleetplan traffic
//! resolve` runs the same steps through [`timeline`].

use std::path::Path;
use std::process::ExitCode;

use clap::ArgMatches;
use fleetplan::simulate::{Disruption, Operation, RecoveryPolicy, Simulation, Timeline, TimelineStep};
use fleetplan_kube::{InputBudget, parse_steps};

use fleetplan_kube::Scenario;

use crate::{
    RecoveryArg, ScenarioArgs, SimulateArgs, SolverArg, SolverTuning, StepArgs, fail, load_scenario,
    plan_failed, print, render,
};

/// Loads the scenario, runs every step and prints the timeline; nothing is printed on stdout
/// unless every step was planned.
pub fn run(args: &SimulateArgs, matches: &ArgMatches) -> ExitCode {
    let (scenario, timeline) = match timeline(&args.scenario, &args.steps, args.solver, &args.tuning, matches)
    {
        Ok(run) => run,
        Err(code) => return code,
    };
    let document = Timeline::new(&timeline);
    print(args.output, "the timeline", &document, || {
        render::timeline(&scenario, &timeline)
    })
}

/// Loads the scenario and runs the steps of `steps` (none when it names none): step 0, the
/// first plan, then one entry per step. On failure the error has been printed and the exit
/// code is returned.
pub fn timeline(
    scenario_args: &ScenarioArgs,
    steps_args: &StepArgs,
    solver: SolverArg,
    tuning: &SolverTuning,
    matches: &ArgMatches,
) -> Result<(Scenario, Vec<TimelineStep>), ExitCode> {
    let mut budget = scenario_args.input_budget();
    let (steps, source) = match &steps_args.steps {
        Some(file) => (
            read_steps_file(file, &mut budget).map_err(|m| fail(&m))?,
            Some(file.as_path()),
        ),
        None => (steps_from_flags(steps_args, matches), None),
    };
    let (fleet, _, scenario) = load_scenario(scenario_args, &mut budget)?;
    let options = tuning.options(solver, false)?;
    let recovery = match steps_args.recovery {
        RecoveryArg::Stay => RecoveryPolicy::Stay,
        RecoveryArg::Rebalance => RecoveryPolicy::Rebalance,
    };
    let disruption = Disruption {
        max_surge: steps_args.max_surge,
        max_unavailable: steps_args.max_unavailable,
    };
    let (mut sim, initial) = Simulation::new(scenario.problem.clone(), options, recovery, disruption)
        .map_err(|err| plan_failed(&fleet.display().to_string(), &err))?;
    let mut timeline = vec![TimelineStep {
        plan: sim.plan(),
        step: initial,
    }];
    for (i, operations) in steps.iter().enumerate() {
        match sim.step(operations) {
            Ok(step) => timeline.push(TimelineStep {
                plan: sim.plan(),
                step,
            }),
            Err(err) => {
                let ops: Vec<String> = operations.iter().map(ToString::to_string).collect();
                let prefix = source.map_or_else(String::new, |f| format!("{}: ", f.display()));
                let context = format!("{prefix}step {} ({})", i + 1, ops.join(", "));
                return Err(plan_failed(&context, &err));
            }
        }
    }
    Ok((scenario, timeline))
}

/// One step per `--fail/--recover/--drain/--cordon`, in command-line order.
fn steps_from_flags(args: &StepArgs, matches: &ArgMatches) -> Vec<Vec<Operation>> {
    type Make = fn(String) -> Operation;
    let kinds: [(&str, &Vec<String>, Make); 4] = [
        ("fail", &args.fail, |cluster| Operation::Fail { cluster }),
        ("recover", &args.recover, |cluster| Operation::Recover { cluster }),
        ("drain", &args.drain, |cluster| Operation::Drain { cluster }),
        ("cordon", &args.cordon, |cluster| Operation::Cordon { cluster }),
    ];
    let mut steps: Vec<(usize, Operation)> = Vec::new();
    for (id, values, make) in kinds {
        let indices: Vec<usize> = matches.indices_of(id).map(Iterator::collect).unwrap_or_default();
        for (i, cluster) in values.iter().enumerate() {
            // Clap gives one index per value; were one missing, the flag would go last.
            let index = indices.get(i).copied().unwrap_or(usize::MAX);
            steps.push((index, make(cluster.clone())));
        }
    }
    steps.sort_by_key(|(index, _)| *index);
    steps.into_iter().map(|(_, op)| vec![op]).collect()
}

/// Reads a steps file (see [`parse_steps`]) within `budget`.
fn read_steps_file(file: &Path, budget: &mut InputBudget) -> Result<Vec<Vec<Operation>>, String> {
    let text = budget
        .read_file(file)
        .map_err(|err| format!("the steps file: {}", crate::input_error_message(&err)))?;
    parse_steps(&text, &file.display().to_string())
}

//! `fleetplan simulate`: what-if steps (fail, recover, drain, cordon... from flags or a steps
//! file) run through the core's [`Simulation`], rendered as a timeline.

use std::path::Path;
use std::process::ExitCode;

use clap::ArgMatches;
use fleetplan::Plan;
use fleetplan::simulate::{Action, Change, Disruption, Operation, RecoveryPolicy, Simulation, Step};

use crate::{Format, RecoveryArg, SimulateArgs, fail, load_scenario, render, write_stdout};

/// The `format` of the JSON and YAML timeline.
pub const TIMELINE_FORMAT: &str = "fleetplan.io/timeline/v1";

/// Loads the scenario, runs every step and prints the timeline; nothing is printed on stdout
/// unless every step was planned.
pub fn run(args: &SimulateArgs, matches: &ArgMatches) -> ExitCode {
    let (steps, source) = match &args.steps {
        Some(file) => match read_steps(file) {
            Ok(steps) => (steps, Some(file.as_path())),
            Err(message) => return fail(&message),
        },
        None => (steps_from_flags(args, matches), None),
    };
    let (fleet, scenario) = match load_scenario(&args.scenario) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let options = match args.tuning.options(args.solver, false) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let recovery = match args.recovery {
        RecoveryArg::Stay => RecoveryPolicy::Stay,
        RecoveryArg::Rebalance => RecoveryPolicy::Rebalance,
    };
    let disruption = Disruption {
        max_surge: args.max_surge,
        max_unavailable: args.max_unavailable,
    };
    let (mut sim, initial) = match Simulation::new(scenario.problem.clone(), options, recovery, disruption) {
        Ok(started) => started,
        Err(err) => return fail(&format!("{}: {err}", fleet.display())),
    };
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
                return fail(&format!("{prefix}step {} ({}): {err}", i + 1, ops.join(", ")));
            }
        }
    }
    let document = Timeline {
        format: TIMELINE_FORMAT,
        steps: &timeline,
    };
    let text = match args.output {
        Format::Table => render::timeline(&scenario, &timeline),
        Format::Json => match serde_json::to_string_pretty(&document) {
            Ok(json) => json + "\n",
            Err(err) => return fail(&format!("cannot render the timeline as JSON: {err}")),
        },
        Format::Yaml => match serde_norway::to_string(&document) {
            Ok(yaml) => yaml,
            Err(err) => return fail(&format!("cannot render the timeline as YAML: {err}")),
        },
    };
    write_stdout(&text, "the timeline")
}

/// The `-o json` and `-o yaml` document: the format and every step, step 0 first.
#[derive(serde::Serialize)]
struct Timeline<'a> {
    format: &'static str,
    steps: &'a [TimelineStep],
}

/// One step of the timeline with the whole plan after it.
pub struct TimelineStep {
    pub step: Step,
    pub plan: Plan,
}

impl serde::Serialize for TimelineStep {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The document's fields, in the document's order.
        #[derive(serde::Serialize)]
        struct Fields<'a> {
            operations: &'a [String],
            plan: &'a Plan,
            changes: &'a [Change],
            lost: u64,
            moved: u64,
            actions: &'a [Action],
        }
        let step = &self.step;
        Fields {
            operations: &step.operations,
            plan: &self.plan,
            changes: &step.changes,
            lost: step.lost,
            moved: step.moved,
            actions: &step.actions,
        }
        .serialize(serializer)
    }
}

/// One step per `--fail/--recover/--drain/--cordon`, in command-line order.
fn steps_from_flags(args: &SimulateArgs, matches: &ArgMatches) -> Vec<Vec<Operation>> {
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

/// Reads a steps file: a YAML list whose items are one operation or a list of operations.
fn read_steps(file: &Path) -> Result<Vec<Vec<Operation>>, String> {
    let name = file.display();
    let text =
        std::fs::read_to_string(file).map_err(|err| format!("{name}: cannot read the steps file: {err}"))?;
    let doc: serde_norway::Value = serde_norway::from_str(&text).map_err(|err| format!("{name}: {err}"))?;
    let serde_norway::Value::Sequence(items) = doc else {
        return Err(format!(
            "{name}: expected a list of steps, such as `- {{op: fail, cluster: us-west-2-a}}`"
        ));
    };
    if items.is_empty() {
        return Err(format!("{name}: the steps file holds no step"));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            serde_norway::Value::Sequence(ops) if !ops.is_empty() => ops
                .into_iter()
                .enumerate()
                .map(|(j, op)| {
                    operation(op).map_err(|err| format!("{name}: step {}, operation {}: {err}", i + 1, j + 1))
                })
                .collect(),
            serde_norway::Value::Sequence(_) => {
                Err(format!("{name}: step {}: an empty list of operations", i + 1))
            }
            op => Ok(vec![
                operation(op).map_err(|err| format!("{name}: step {}: {err}", i + 1))?,
            ]),
        })
        .collect()
}

/// One operation mapping; a field the operation does not have is an error.
fn operation(value: serde_norway::Value) -> Result<Operation, String> {
    if !value.is_mapping() {
        return Err("expected an operation mapping, such as `{op: drain, cluster: us-west-2-b}`".into());
    }
    serde_norway::from_value(value).map_err(|err| err.to_string())
}

//! The benchmark harness: generates the instances of every family and size, runs every runner
//! (our engines and the peers) on each in a process of its own, and writes the results as CSV
//! and markdown, with the ratios ours / peer and a scaling plot.
//!
//! Peers that cannot run here are reported as `unavailable` with the reason, and runners above
//! their size cap as `skipped`; nothing is ever filled in for them.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::Family;
use crate::files::{self, Meta};
use crate::runner::{OURS, RunResult};

/// Where a runner comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// This crate's own `solve` subcommand.
    Ours,
    /// `benches/peers/python/peers.py` in the peers' virtualenv.
    Python,
    /// The Go program of `benches/peers/karmada`.
    Karmada,
}

/// A runner and the largest instance (in replicas) it is run on.
#[derive(Clone, Debug)]
pub struct RunnerSpec {
    /// The runner's name.
    pub name: &'static str,
    /// Where it comes from.
    pub origin: Origin,
    /// The largest instance it runs on.
    pub cap: u64,
}

/// Every runner, in report order, with its default size cap: the MILP runners stop at 10,000
/// replicas (the exact solver's own `auto` limit is about there), the flow runners at 100,000,
/// networkx's pure-Python simplex at 10,000.
pub fn runners() -> Vec<RunnerSpec> {
    let spec = |name, origin, cap| RunnerSpec { name, origin, cap };
    vec![
        spec("fast", Origin::Ours, u64::MAX),
        spec("flow", Origin::Ours, 100_000),
        spec("exact", Origin::Ours, 10_000),
        spec("mcf", Origin::Ours, 100_000),
        spec("highs", Origin::Ours, 10_000),
        spec("pod-loop", Origin::Ours, u64::MAX),
        spec("karmada", Origin::Karmada, u64::MAX),
        spec("ortools-mcf", Origin::Python, 100_000),
        spec("networkx-simplex", Origin::Python, 10_000),
        spec("scipy-milp", Origin::Python, 10_000),
        spec("ortools-cpsat", Origin::Python, 10_000),
    ]
}

/// The pairs the ratio table compares: ours / peer.
const RATIOS: [(&str, &str); 8] = [
    ("fast", "karmada"),
    ("fast", "pod-loop"),
    ("mcf", "ortools-mcf"),
    ("mcf", "networkx-simplex"),
    ("flow", "ortools-mcf"),
    ("exact", "scipy-milp"),
    ("highs", "scipy-milp"),
    ("exact", "ortools-cpsat"),
];

/// Our planning engines, which must never place a replica against the rules.
const ENGINES: [&str; 3] = ["fast", "flow", "exact"];
/// Runners that solve the same flow network and must agree on its cost.
const FLOW_RUNNERS: [&str; 3] = ["mcf", "ortools-mcf", "networkx-simplex"];
/// Runners that solve the same MILP to optimality and must agree on its value.
const MILP_RUNNERS: [&str; 3] = ["highs", "scipy-milp", "ortools-cpsat"];

/// What to run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Families to generate.
    pub families: Vec<Family>,
    /// Instance sizes, in replicas.
    pub sizes: Vec<u64>,
    /// The generator's seed.
    pub seed: u64,
    /// Repetitions per runner and instance.
    pub repeat: usize,
    /// Time limit per solve, handed to every runner.
    pub time_limit: Duration,
    /// The output folder.
    pub out: PathBuf,
    /// Runner names to run (all when empty).
    pub only: Vec<String>,
    /// The peers' Python interpreter.
    pub python: PathBuf,
    /// The Karmada peer's binary.
    pub karmada: PathBuf,
    /// `benches/peers`.
    pub peers_dir: PathBuf,
    /// This program, for our own runners.
    pub this: PathBuf,
    /// Fail when a peer is unavailable or a runner fails.
    pub require_all: bool,
}

/// One row of the results.
#[derive(Clone, Debug)]
pub struct Row {
    /// The instance's family.
    pub family: Family,
    /// Its size in replicas.
    pub replicas: u64,
    /// What the runner reported.
    pub result: RunResult,
}

/// Runs everything `settings` asks for and writes `results.csv`, `results.md` and
/// `scaling.png` into `settings.out`. Returns the rows and the problems found: runners that
/// solve the same model and disagree on its optimum, any of our runners placing replicas
/// against the rules, and, when `require_all`, unavailable or failed runners.
///
/// # Errors
/// When an instance cannot be written or the results cannot be written or plotted.
pub fn run(settings: &Settings) -> Result<(Vec<Row>, Vec<String>), String> {
    let runners: Vec<RunnerSpec> = runners()
        .into_iter()
        .filter(|r| settings.only.is_empty() || settings.only.iter().any(|o| o == r.name))
        .collect();
    let instances: Vec<(Family, u64)> = settings
        .families
        .iter()
        .flat_map(|&f| settings.sizes.iter().map(move |&s| (f, s)))
        .collect();
    let bar = ProgressBar::new((instances.len() * (runners.len() + 1)) as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    let mut rows = Vec::new();
    for &(family, replicas) in &instances {
        let name = format!("{family}-{replicas}-s{}", settings.seed);
        bar.set_message(format!("{name}: generating"));
        let dir = settings.out.join("instances").join(&name);
        let meta = Meta {
            family: family.name().into(),
            replicas,
            seed: settings.seed,
            fail_cluster: String::new(),
            flow: false,
            milp: false,
        };
        let problem = family.instance(replicas, settings.seed);
        let (flow, milp) = derived_files(&runners, replicas);
        files::write_instance(&dir, &problem, meta, flow, milp).map_err(|e| format!("{name}: {e}"))?;
        drop(problem);
        bar.inc(1);
        for runner in &runners {
            bar.set_message(format!("{name}: {}", runner.name));
            let result = if replicas > runner.cap {
                RunResult::not_run(
                    runner.name,
                    "skipped",
                    format!("above its size cap of {} replicas", runner.cap),
                )
            } else {
                launch(settings, runner, &dir)
            };
            // Printed whether or not the bar is drawn (it is hidden when stderr is not a terminal).
            bar.suspend(|| {
                eprintln!(
                    "{name:<28} {:<17} {:<11} {}",
                    runner.name,
                    result.status,
                    result
                        .median_ms()
                        .map_or_else(String::new, |m| format!("{m:.1} ms"))
                );
            });
            rows.push(Row {
                family,
                replicas,
                result,
            });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let mut problems = disagreements(&rows);
    problems.extend(
        rows.iter()
            .filter(|r| {
                ENGINES.contains(&r.result.runner.as_str()) && r.result.violations.is_some_and(|v| v > 0)
            })
            .map(|r| {
                format!(
                    "{}-{}: {} placed {} replicas against the rules",
                    r.family,
                    r.replicas,
                    r.result.runner,
                    r.result.violations.unwrap_or(0)
                )
            }),
    );
    if settings.require_all {
        problems.extend(
            rows.iter()
                .filter(|r| ["unavailable", "failed"].contains(&r.result.status.as_str()))
                .map(|r| {
                    format!(
                        "{}-{}: {} {}: {}",
                        r.family, r.replicas, r.result.runner, r.result.status, r.result.detail
                    )
                }),
        );
    }
    write_results(settings, &rows)?;
    Ok((rows, problems))
}

/// Whether an instance of `replicas` needs `flow.json` and `milp.json`: when one of `runners`
/// that reads it runs at that size.
pub fn derived_files(runners: &[RunnerSpec], replicas: u64) -> (bool, bool) {
    let wanted = |names: &[&str]| {
        runners
            .iter()
            .any(|r| names.contains(&r.name) && replicas <= r.cap)
    };
    (wanted(&FLOW_RUNNERS), wanted(&MILP_RUNNERS))
}

/// Runs one runner on one instance in a child process and reads its result.
fn launch(settings: &Settings, runner: &RunnerSpec, dir: &Path) -> RunResult {
    let mut command = match runner.origin {
        Origin::Ours => {
            let mut c = Command::new(&settings.this);
            c.args(["solve", "--runner", runner.name]);
            c
        }
        Origin::Python => {
            if let Some(missing) = missing(runner, &settings.python, "Python for the peers") {
                return missing;
            }
            let mut c = Command::new(&settings.python);
            c.arg(settings.peers_dir.join("python").join("peers.py"))
                .arg(runner.name);
            c
        }
        Origin::Karmada => {
            if let Some(missing) = missing(runner, &settings.karmada, "Karmada peer") {
                return missing;
            }
            Command::new(&settings.karmada)
        }
    };
    command
        .arg("--instance")
        .arg(dir)
        .args(["--repeat", &settings.repeat.to_string()])
        .args(["--time-limit", &settings.time_limit.as_secs_f64().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A runner honours the time limit per solve; the harness allows every repetition that
    // long, plus two minutes for reading the instance.
    let deadline = settings.time_limit * settings.repeat as u32 + Duration::from_secs(120);
    match wait(command, deadline) {
        Ok((stdout, stderr)) => match serde_json::from_str::<RunResult>(stdout.trim()) {
            Ok(mut result) => {
                result.runner = runner.name.to_string();
                result
            }
            Err(e) => RunResult::not_run(
                runner.name,
                "failed",
                format!("no result object ({e}); stderr: {}", tail(&stderr)),
            ),
        },
        Err(detail) => RunResult::not_run(runner.name, "failed", detail),
    }
}

/// An `unavailable` result when the peer's program `path` is not installed.
fn missing(runner: &RunnerSpec, path: &Path, what: &str) -> Option<RunResult> {
    (!path.exists()).then(|| {
        RunResult::not_run(
            runner.name,
            "unavailable",
            format!(
                "no {what} at {} (benches/peers/setup installs it)",
                path.display()
            ),
        )
    })
}

/// The last few hundred characters of `text`, on one line.
fn tail(text: &str) -> String {
    let flat = text.trim().replace('\n', " | ");
    let start = flat.char_indices().rev().nth(400).map_or(0, |(i, _)| i);
    flat[start..].to_string()
}

/// Runs `command` to its end or until `deadline`; returns its stdout and stderr.
fn wait(mut command: Command, deadline: Duration) -> Result<(String, String), String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    // Read both pipes on threads so that a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "killed by the harness after {:.0} s",
                    deadline.as_secs_f64()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    if !status.success() {
        return Err(format!(
            "{program} exited with {status}; stderr: {}",
            tail(&stderr)
        ));
    }
    Ok((stdout, stderr))
}

/// Instances on which runners that solve the same model disagree on its optimum.
fn disagreements(rows: &[Row]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut instances: Vec<(Family, u64)> = rows.iter().map(|r| (r.family, r.replicas)).collect();
    instances.dedup();
    for (family, replicas) in instances {
        let values = |names: &[&str]| -> Vec<(String, f64)> {
            rows.iter()
                .filter(|r| r.family == family && r.replicas == replicas && r.result.status == "ok")
                .filter(|r| names.contains(&r.result.runner.as_str()))
                .filter_map(|r| r.result.objective.map(|o| (r.result.runner.clone(), o)))
                .collect()
        };
        for (names, tolerance) in [(&FLOW_RUNNERS[..], 0.0), (&MILP_RUNNERS[..], 1e-4)] {
            let found = values(names);
            if let Some((first, value)) = found.first() {
                for (other, v) in &found[1..] {
                    if (v - value).abs() > tolerance * value.abs().max(1.0) {
                        problems.push(format!(
                            "{family}-{replicas}: {first} found {value}, {other} found {v} on the same model"
                        ));
                    }
                }
            }
        }
    }
    problems
}

fn cell<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// Writes `results.csv`, `results.md` and, through the peers' Python, `scaling.png`.
fn write_results(settings: &Settings, rows: &[Row]) -> Result<(), String> {
    let out = &settings.out;
    let mut csv = String::from(
        "family,replicas,seed,runner,status,median_ms,min_ms,max_ms,peak_rss_mib,objective,placed,unplaced,over_capacity,violations,moves_after_failure,detail\n",
    );
    for row in rows {
        let r = &row.result;
        let min = r.times_ms.iter().copied().reduce(f64::min);
        let max = r.times_ms.iter().copied().reduce(f64::max);
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},\"{}\"",
            row.family,
            row.replicas,
            settings.seed,
            r.runner,
            r.status,
            cell(r.median_ms().map(|m| format!("{m:.3}"))),
            cell(min.map(|m| format!("{m:.3}"))),
            cell(max.map(|m| format!("{m:.3}"))),
            cell(r.peak_rss_kib.map(|k| format!("{:.1}", k as f64 / 1024.0))),
            cell(r.objective.map(|o| format!("{o:.6}"))),
            cell(r.placed),
            cell(r.unplaced),
            cell(r.over_capacity),
            cell(r.violations),
            cell(r.moves_after_failure),
            r.detail.replace('"', "'"),
        );
    }
    let csv_path = out.join("results.csv");
    std::fs::write(&csv_path, csv).map_err(|e| format!("{}: {e}", csv_path.display()))?;
    let md_path = out.join("results.md");
    std::fs::write(&md_path, markdown(rows)).map_err(|e| format!("{}: {e}", md_path.display()))?;
    let png = out.join("scaling.png");
    let plot = settings.peers_dir.join("python").join("plot.py");
    let status = Command::new(&settings.python)
        .arg(&plot)
        .arg(&csv_path)
        .arg(&png)
        .status()
        .map_err(|e| format!("cannot run {} {}: {e}", settings.python.display(), plot.display()))?;
    if !status.success() {
        return Err(format!("{} exited with {status}", plot.display()));
    }
    Ok(())
}

/// The results table and the ratio table, in markdown.
fn markdown(rows: &[Row]) -> String {
    let mut md = String::from(
        "| family | replicas | runner | status | median ms | peak MiB | objective | placed | unplaced | over capacity | rule violations | moves after failure |\n|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let r = &row.result;
        let status = if r.status == "ok" {
            "ok".to_string()
        } else {
            format!("{}: {}", r.status, r.detail.replace('|', "/"))
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.family,
            row.replicas,
            r.runner,
            status,
            cell(r.median_ms().map(|m| format!("{m:.1}"))),
            cell(r.peak_rss_kib.map(|k| format!("{:.0}", k as f64 / 1024.0))),
            cell(r.objective.map(|o| format!("{o:.3}"))),
            cell(r.placed),
            cell(r.unplaced),
            cell(r.over_capacity),
            cell(r.violations),
            cell(r.moves_after_failure),
        );
    }
    md.push_str(
        "\n### Ratios of median times, ours / peer (below 1: ours is faster)\n\n| family | replicas |",
    );
    for (ours, peer) in RATIOS {
        let _ = write!(md, " {ours} / {peer} |");
    }
    md.push_str("\n|---|---:|");
    md.push_str(&"---:|".repeat(RATIOS.len()));
    md.push('\n');
    let mut instances: Vec<(Family, u64)> = rows.iter().map(|r| (r.family, r.replicas)).collect();
    instances.dedup();
    for (family, replicas) in instances {
        let median = |name: &str| {
            rows.iter()
                .find(|r| r.family == family && r.replicas == replicas && r.result.runner == name)
                .filter(|r| r.result.status == "ok")
                .and_then(|r| r.result.median_ms())
        };
        let _ = write!(md, "| {family} | {replicas} |");
        for (ours, peer) in RATIOS {
            let ratio = median(ours)
                .zip(median(peer))
                .map(|(a, b)| format!("{:.3}", a / b));
            let _ = write!(md, " {} |", ratio.unwrap_or_else(|| "–".into()));
        }
        md.push('\n');
    }
    md
}

/// Our runners' names, for the `solve` subcommand's help.
pub fn our_runner_names() -> String {
    OURS.join(", ")
}

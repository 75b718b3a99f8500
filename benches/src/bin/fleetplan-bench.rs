//! `fleetplan-bench`: the benchmark harness's command line.
//!
//! - `fleetplan-bench run`: generates the families' instances, runs every solver and peer on
//!   each, and writes `results.csv`, `results.md` and `scaling.png` (see BENCHMARKS.md);
//! - `fleetplan-bench instance`: writes one instance folder (see benches/INSTANCES.md);
//! - `fleetplan-bench solve`: runs one of our runners on an instance folder and prints its
//!   result object (the harness runs each runner this way, in a process of its own).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fleetplan_benches::Family;
use fleetplan_benches::files::{self, Meta};
use fleetplan_benches::harness::{self, Settings};
use fleetplan_benches::runner;

#[derive(Parser)]
#[command(
    name = "fleetplan-bench",
    version,
    about = "Runs fleetplan's solvers and their peers side by side on seeded instances"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the instances, run every solver and peer on each, write the tables and the plot.
    Run {
        /// Families, comma-separated: uniform-web, skewed-sizes, gpu-scarce-batch, fargate-heavy,
        /// regional-demand, failover.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "uniform-web,skewed-sizes,gpu-scarce-batch,fargate-heavy,regional-demand,failover"
        )]
        families: Vec<Family>,
        /// Instance sizes in replicas (at least 100), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000,1000000")]
        sizes: Vec<u64>,
        /// The generator's seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Repetitions of each solve; the table shows their median.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Time limit of one solve, in seconds, handed to every solver and peer.
        #[arg(long, default_value_t = 20.0)]
        time_limit: f64,
        /// Only these runners, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        runners: Vec<String>,
        /// The output folder (instances, results.csv, results.md, scaling.png).
        #[arg(long, default_value = "benches/results")]
        out: PathBuf,
        /// A quick run for tests: the 1,000-replica instance of every family, one repetition.
        #[arg(long)]
        smoke: bool,
        /// Fail (exit 1) when a peer is unavailable or a runner fails, not only when runners
        /// that solve the same model disagree.
        #[arg(long)]
        require_all: bool,
        /// The peers' Python [default: ~/.cache/fleetplan/peers-venv/bin/python].
        #[arg(long)]
        python: Option<PathBuf>,
        /// The Karmada peer [default: ~/.cache/fleetplan/peers/karmada-peer].
        #[arg(long)]
        karmada: Option<PathBuf>,
    },
    /// Write one instance folder: problem.json, karmada.json, meta.json, and flow.json and
    /// milp.json when the instance is within the size caps of the runners that read them.
    Instance {
        /// The family.
        #[arg(long)]
        family: Family,
        /// Replicas in all (at least 100).
        #[arg(long)]
        replicas: u64,
        /// The generator's seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The folder to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run one of our runners (fast, flow, exact, mcf, highs, pod-loop) on an instance folder and print
    /// its result object.
    Solve {
        /// The runner.
        #[arg(long)]
        runner: String,
        /// The instance folder.
        #[arg(long)]
        instance: PathBuf,
        /// Repetitions.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Time limit of one solve, in seconds.
        #[arg(long, default_value_t = 60.0)]
        time_limit: f64,
    },
}

fn cache(path: &str) -> PathBuf {
    std::env::var_os("HOME")
        .map_or_else(|| PathBuf::from("."), PathBuf::from)
        .join(".cache/fleetplan")
        .join(path)
}

fn seconds(s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|e| format!("--time-limit {s}: {e}"))
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fleetplan-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Run {
            families,
            sizes,
            seed,
            repeat,
            time_limit,
            runners,
            out,
            smoke,
            require_all,
            python,
            karmada,
        } => {
            if let Some(small) = sizes.iter().find(|&&s| s < 100) {
                return Err(format!(
                    "--sizes: {small} is below the smallest instance, 100 replicas"
                ));
            }
            let known = harness::runners();
            if let Some(bad) = runners
                .iter()
                .find(|r| !known.iter().any(|k| k.name == r.as_str()))
            {
                let names: Vec<&str> = known.iter().map(|k| k.name).collect();
                return Err(format!(
                    "--runners: unknown runner `{bad}` (expected: {})",
                    names.join(", ")
                ));
            }
            let settings = Settings {
                families,
                sizes: if smoke { vec![1000] } else { sizes },
                seed,
                repeat: if smoke { 1 } else { repeat.max(1) },
                time_limit: seconds(if smoke { time_limit.min(20.0) } else { time_limit })?,
                out,
                only: runners,
                python: python.unwrap_or_else(|| cache("peers-venv/bin/python")),
                karmada: karmada.unwrap_or_else(|| cache("peers/karmada-peer")),
                peers_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers"),
                this: std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?,
                require_all,
            };
            let (rows, problems) = harness::run(&settings)?;
            eprintln!(
                "fleetplan-bench: {} results in {}",
                rows.len(),
                settings.out.join("results.md").display()
            );
            for p in &problems {
                eprintln!("fleetplan-bench: {p}");
            }
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Instance {
            family,
            replicas,
            seed,
            out,
        } => {
            if replicas < 100 {
                return Err(format!(
                    "--replicas: {replicas} is below the smallest instance, 100 replicas"
                ));
            }
            let meta = Meta {
                family: family.name().into(),
                replicas,
                seed,
                fail_cluster: String::new(),
                flow: false,
                milp: false,
            };
            let (flow, milp) = harness::derived_files(&harness::runners(), replicas);
            files::write_instance(&out, &family.instance(replicas, seed), meta, flow, milp)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Solve {
            runner: name,
            instance,
            repeat,
            time_limit,
        } => {
            if !runner::OURS.contains(&name.as_str()) {
                return Err(format!(
                    "--runner: unknown runner `{name}` (ours are: {})",
                    harness::our_runner_names()
                ));
            }
            let result = runner::run(&name, &instance, repeat, seconds(time_limit)?);
            println!("{}", serde_json::to_string(&result).map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

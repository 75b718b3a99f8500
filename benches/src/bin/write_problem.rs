//! Writes a seeded synthetic fleet as JSON in the core model's serde form, for tools outside
//! Rust (the Python package's overhead measurement, peers in other languages).
//!
//! ```text
//! cargo run --release -p fleetplan-benches --bin write_problem -- FILE [SEED] [--small]
//! ```
//!
//! SEED defaults to 42; the preset is the million-replica one unless `--small`.

use std::process::ExitCode;

use fleetplan_benches::{SyntheticSpec, synthetic};

fn main() -> ExitCode {
    let mut file = None;
    let mut seed = 42;
    let mut small = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--small" => small = true,
            "-h" | "--help" => {
                eprintln!("usage: write_problem FILE [SEED] [--small]");
                return ExitCode::SUCCESS;
            }
            _ if file.is_none() => file = Some(arg),
            _ => match arg.parse() {
                Ok(s) => seed = s,
                Err(e) => {
                    eprintln!("write_problem: seed `{arg}`: {e}");
                    return ExitCode::from(2);
                }
            },
        }
    }
    let Some(file) = file else {
        eprintln!("usage: write_problem FILE [SEED] [--small]");
        return ExitCode::from(2);
    };
    let spec = if small {
        SyntheticSpec::small()
    } else {
        SyntheticSpec::million()
    };
    let problem = synthetic(&spec, seed);
    let written = serde_json::to_string(&problem)
        .map_err(|e| e.to_string())
        .and_then(|json| std::fs::write(&file, json).map_err(|e| format!("{file}: {e}")));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("write_problem: {e}");
            ExitCode::FAILURE
        }
    }
}

//! A moto server: a local fake of the AWS APIs (EKS, ELBv2, EC2, Route53 ...) on a free
//! `127.0.0.1` port, for the parts of AWS a test bed cluster cannot be: the EKS API the AWS
//! adapter reads, and the ELBv2 load balancers of the [`crate::load_balancers`] stand-in.
//!
//! moto stores what it is sent and answers from it; it checks no signature, so any
//! credentials do, and it takes the region from the request's credential scope. The program
//! is `$FLEETPLAN_MOTO_SERVER` (set by `scripts/test`), else `moto_server` on the `PATH`
//! (`pip install 'moto[server]'`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::process::{Process, free_port};

/// The account moto answers as.
pub const MOTO_ACCOUNT: &str = "123456789012";

/// How long moto gets to answer after it starts.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server, stopped when dropped.
pub struct MotoServer {
    process: Process,
    port: u16,
    // Dropped last: the process writes its log into it.
    _dir: tempfile::TempDir,
}

impl MotoServer {
    /// Starts moto and waits until it answers.
    ///
    /// # Errors
    /// [`Error::Moto`] when the program cannot be started (the message says how to install
    /// it) or does not answer within a minute (with the end of its log).
    pub async fn start() -> Result<MotoServer, Error> {
        let (program, origin) = match std::env::var_os("FLEETPLAN_MOTO_SERVER") {
            Some(path) if !path.is_empty() => (path, "FLEETPLAN_MOTO_SERVER"),
            _ => (
                OsString::from("moto_server"),
                "`moto_server` on the PATH (FLEETPLAN_MOTO_SERVER is not set)",
            ),
        };
        let program = PathBuf::from(program);
        let dir = tempfile::Builder::new()
            .prefix("fleetplan-moto-")
            .tempdir()
            .map_err(|e| moto_error(&program, origin, &e.to_string()))?;
        let port = free_port()?;
        let args = [
            "-H".to_string(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        let mut process = Process::start(&program, &args, &dir.path().join("moto.log"))
            .map_err(|e| moto_error(&program, origin, &e.to_string()))?;
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(MotoServer {
                    process,
                    port,
                    _dir: dir,
                });
            }
            if !process.is_running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(moto_error(
            &program,
            origin,
            &format!(
                "it did not answer on 127.0.0.1:{port} within {} s; last log lines:\n{}",
                started.elapsed().as_secs(),
                process.log_tail()
            ),
        ))
    }

    /// The endpoint URL to give AWS SDK clients, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An AWS SDK configuration that reaches this server in `region`.
    pub async fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint(), region).await
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }
}

fn moto_error(program: &Path, origin: &str, detail: &str) -> Error {
    Error::Moto {
        detail: format!(
            "cannot run the moto server {} (from {origin}): {detail}. Install it with \
             `python3 -m venv ~/.cache/fleetplan/venv && ~/.cache/fleetplan/venv/bin/pip install \
             'moto[server]'` and set FLEETPLAN_MOTO_SERVER=~/.cache/fleetplan/venv/bin/moto_server \
             (scripts/test does this)",
            program.display()
        ),
    }
}

/// An AWS SDK configuration that reaches the moto server at `endpoint` in `region`, with
/// the fixed test credentials moto accepts.
pub async fn sdk_config(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_elasticloadbalancingv2::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

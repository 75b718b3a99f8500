//! Where the test bed's binaries are: built by `adapters/testbed/build.sh`, found through the
//! `FLEETPLAN_TESTBED_BIN` environment variable.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// The test bed's executables.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// The multi-call binary: `apiserver`, `controller-manager`, `scheduler`, `etcd`,
    /// `supervise`.
    pub k8s: PathBuf,
    /// kwok.
    pub kwok: PathBuf,
    /// kwok's default stages (nodes Ready, scheduled pods Running), for `kwok --config`.
    pub kwok_stages: PathBuf,
}

impl Binaries {
    /// The environment variable naming the folder that holds the binaries.
    pub const ENV: &'static str = "FLEETPLAN_TESTBED_BIN";

    /// The binaries in the folder named by `FLEETPLAN_TESTBED_BIN`.
    ///
    /// # Errors
    /// [`Error::MissingBinaries`] when the variable is unset or a binary is missing.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var_os(Self::ENV) {
            Some(dir) => Self::in_dir(Path::new(&dir)),
            None => Err(Error::MissingBinaries {
                detail: format!("{} is not set", Self::ENV),
            }),
        }
    }

    /// The binaries in `dir`.
    ///
    /// # Errors
    /// [`Error::MissingBinaries`] when a binary is missing.
    pub fn in_dir(dir: &Path) -> Result<Self, Error> {
        let binaries = Binaries {
            k8s: dir.join("testbed-k8s"),
            kwok: dir.join("kwok"),
            kwok_stages: dir.join("kwok-stages.yaml"),
        };
        for path in [&binaries.k8s, &binaries.kwok, &binaries.kwok_stages] {
            if !path.is_file() {
                return Err(Error::MissingBinaries {
                    detail: format!("{} does not exist", path.display()),
                });
            }
        }
        Ok(binaries)
    }
}

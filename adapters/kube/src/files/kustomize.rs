//! Kustomizations among the apps, rendered as `kubectl apply -k DIR` would: by running
//! `kubectl kustomize DIR` (kubectl from `PATH`) and reading its standard output in place of
//! the directory's files. The one place the offline readers run a program.

use std::path::Path;
use std::process::Command;

use crate::error::LoadError;

/// The file names that make a directory a kustomization, as kustomize looks for them.
pub(crate) const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// True when `dir` holds a kustomization file.
pub(crate) fn is_kustomization(dir: &Path) -> bool {
    KUSTOMIZATION_FILES.iter().any(|name| dir.join(name).is_file())
}

/// The YAML `kubectl kustomize dir` prints.
///
/// # Errors
/// [`LoadError::Kustomize`] when kubectl cannot be run, fails (with what it printed on
/// stderr), or prints something that is not UTF-8.
pub(crate) fn render(dir: &Path) -> Result<String, LoadError> {
    let failed = |problem: String| LoadError::Kustomize {
        dir: dir.to_path_buf(),
        problem,
    };
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|e| {
            failed(match e.kind() {
                std::io::ErrorKind::NotFound => "kubectl is not on PATH".to_string(),
                _ => format!("cannot run kubectl: {e}"),
            })
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(failed(format!(
            "kubectl failed ({}): {}",
            output.status,
            stderr.trim()
        )));
    }
    String::from_utf8(output.stdout).map_err(|_| failed("kubectl printed something that is not UTF-8".into()))
}

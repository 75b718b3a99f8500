//! The errors of loading: one [`LoadError`] for everything that can go wrong between a path on
//! disk and a [`fleetplan::Problem`], and [`QuantityError`] for quantity strings.
//!
//! Every message names what is known of the place: the file, the object (`Kind
//! namespace/name`) and the field path (`spec.template.spec.containers[0].resources...`).

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in the input something went wrong: a file, and when known an object and a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file, as the path given to the loader was joined.
    pub file: PathBuf,
    /// The object, such as `Deployment shop/web`, `Node node-1`, `cluster east-a` or
    /// `document 2` when the document does not say what it is.
    pub object: Option<String>,
    /// The field path inside the object (or the file), such as `spec.replicas`.
    pub field: Option<String>,
}

impl Location {
    /// A location naming only a file.
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location {
            file: file.into(),
            object: None,
            field: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(object) = &self.object {
            write!(f, ": {object}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        Ok(())
    }
}

/// Why a Kubernetes quantity string could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string is not a quantity.
    #[error(
        "invalid quantity {input:?} for {resource}: expected a decimal number with an optional \
         suffix (Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, T, P, E or an exponent such as e3)"
    )]
    Syntax {
        /// The string given.
        input: String,
        /// The resource it was given for.
        resource: String,
    },
    /// The quantity does not fit a 64-bit amount in canonical units.
    #[error("quantity {input:?} for {resource} is out of range")]
    OutOfRange {
        /// The string given.
        input: String,
        /// The resource it was given for.
        resource: String,
    },
    /// The quantity is negative where only non-negative amounts make sense.
    #[error("quantity {input:?} for {resource} must not be negative")]
    Negative {
        /// The string given.
        input: String,
        /// The resource it was given for.
        resource: String,
    },
}

/// Why the fleet or the apps could not be loaded. Nothing is returned half-loaded: any error
/// aborts the whole load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file or directory could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read {}: {}", path.display(), io_message(source))]
    Read {
        /// The path that could not be read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file holds more than the input limits allow (see [`crate::InputLimits`]).
    #[error(
        "{}: too large: {kind} may hold at most {} bytes (an input limit)",
        path.display(),
        crate::files::limits::binary_size(*limit)
    )]
    TooLarge {
        /// The file that went over.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
        /// Which limit.
        kind: crate::files::limits::LimitKind,
    },
    /// A file is not well-formed YAML (or JSON, for a `.json` file).
    #[error("{}: malformed {format}{}: {message}", file.display(), line_column(*line, *column))]
    Yaml {
        /// `YAML`, or `JSON` for a `.json` file.
        format: &'static str,
        /// The file.
        file: PathBuf,
        /// The 1-based line of the problem, when the parser knows it.
        line: Option<usize>,
        /// The 1-based column of the problem, when the parser knows it.
        column: Option<usize>,
        /// What the parser said.
        message: String,
    },
    /// An object's `apiVersion` names a built-in Kubernetes group that has no such kind.
    #[error("{at}: unknown kind `{kind}` in apiVersion `{api_version}`")]
    UnknownKind {
        /// Where (the field is `kind`).
        at: Box<Location>,
        /// The apiVersion given.
        api_version: String,
        /// The kind given.
        kind: String,
    },
    /// A field holds a value of the wrong type or misses a required part (as reported while
    /// deserializing).
    #[error("{at}: {message}")]
    Type {
        /// Where.
        at: Box<Location>,
        /// What the deserializer said.
        message: String,
    },
    /// A resource quantity is malformed, out of range or negative.
    #[error("{at}: {source}")]
    Quantity {
        /// Where.
        at: Box<Location>,
        /// What is wrong with it.
        #[source]
        source: QuantityError,
    },
    /// A `fleetplan.io/` annotation key that the adapter does not know (a typo, most likely).
    #[error("{at}: unknown annotation `{key}`; known keys: {}", crate::annotations::KNOWN_KEYS.join(", "))]
    UnknownAnnotation {
        /// Where (the field is the annotation).
        at: Box<Location>,
        /// The key given.
        key: String,
    },
    /// Two workloads share a namespace and name.
    #[error("{at}: duplicate workload {id}, first defined as {first_kind} in {}", first_file.display())]
    DuplicateWorkload {
        /// Where the second one is.
        at: Box<Location>,
        /// `namespace/name`.
        id: String,
        /// The kind of the first one.
        first_kind: String,
        /// The file of the first one.
        first_file: PathBuf,
    },
    /// Two clusters share a name (in one fleet file or across files).
    #[error("{at}: duplicate cluster `{cluster}`, first defined in {}", first_file.display())]
    DuplicateCluster {
        /// Where the second one is.
        at: Box<Location>,
        /// The repeated name.
        cluster: String,
        /// The file of the first one.
        first_file: PathBuf,
    },
    /// The fleet path holds no cluster at all.
    #[error("{}: the fleet has no cluster", path.display())]
    EmptyFleet {
        /// The fleet path given.
        path: PathBuf,
    },
    /// A value is invalid for a reason other than its type: negative replicas, an unknown
    /// operator, a reference to something that does not exist, replicas that do not fit.
    #[error("{at}: {message}")]
    Invalid {
        /// Where.
        at: Box<Location>,
        /// What is wrong.
        message: String,
    },
    /// A kustomization among the apps could not be rendered with `kubectl kustomize`.
    #[error(
        "{}: cannot render the kustomization with `kubectl kustomize {}`: {problem}; you may render it \
         yourself (`kubectl kustomize {} > apps.yaml`) and plan with that file",
        dir.display(), dir.display(), dir.display()
    )]
    Kustomize {
        /// The kustomization's directory.
        dir: PathBuf,
        /// What went wrong: kubectl missing, or what it printed on stderr.
        problem: String,
    },
    /// A Helm chart among the apps: its templates are not Kubernetes YAML until rendered.
    #[error(
        "{}: a Helm chart (it holds {}), whose templates are not Kubernetes YAML until rendered; {}",
        dir.display(), crate::files::helm::CHART_FILE, crate::files::helm::render_hint(Some(dir))
    )]
    HelmChart {
        /// The chart's directory.
        dir: PathBuf,
    },
    /// An apps file that failed to load holds a Go template action: most likely an
    /// unrendered Helm template.
    #[error(
        "{source}; this looks like an unrendered Helm template (line {line}: `{action}`); {}",
        crate::files::helm::render_hint(chart.as_deref())
    )]
    HelmTemplate {
        /// The error met loading the file.
        source: Box<LoadError>,
        /// The 1-based line of the first template action.
        line: usize,
        /// The action, such as `{{ .Values.replicaCount }}`.
        action: String,
        /// The chart the file belongs to, when a directory above it holds one.
        chart: Option<PathBuf>,
    },
    /// The assembled problem failed the core's own validation (a safety net: the adapter
    /// checks everything the core checks first, with better context).
    #[error("invalid problem: {0}")]
    Problem(#[from] fleetplan::Error),
}

impl LoadError {
    /// The file the error names, when it names one.
    pub(crate) fn file(&self) -> Option<&Path> {
        match self {
            LoadError::Read { path: file, .. }
            | LoadError::TooLarge { path: file, .. }
            | LoadError::Yaml { file, .. }
            | LoadError::Kustomize { dir: file, .. }
            | LoadError::HelmChart { dir: file } => Some(file),
            LoadError::UnknownKind { at, .. }
            | LoadError::Type { at, .. }
            | LoadError::Quantity { at, .. }
            | LoadError::UnknownAnnotation { at, .. }
            | LoadError::DuplicateWorkload { at, .. }
            | LoadError::DuplicateCluster { at, .. }
            | LoadError::Invalid { at, .. } => Some(&at.file),
            LoadError::HelmTemplate { source, .. } => source.file(),
            LoadError::EmptyFleet { .. } | LoadError::Problem(_) => None,
        }
    }
}

/// An I/O error's message without the trailing `(os error N)`.
fn io_message(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text.get(..at).unwrap_or(&text).to_string(),
        _ => text,
    }
}

fn line_column(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    }
}

/// The error as one line: an API error as its message and code, others with their causes.
/// Used for every Kubernetes API error the adapter reports.
pub(crate) fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_drop_the_os_error_number() {
        let e = LoadError::Read {
            path: "apps/x.yaml".into(),
            source: std::io::Error::from_raw_os_error(2),
        };
        assert_eq!(
            e.to_string(),
            "cannot read apps/x.yaml: No such file or directory"
        );
    }

    #[test]
    fn locations_name_what_they_know() {
        let mut at = Location::file("apps/web.yaml");
        assert_eq!(at.to_string(), "apps/web.yaml");
        at.object = Some("Deployment shop/web".into());
        at.field = Some("spec.replicas".into());
        assert_eq!(
            at.to_string(),
            "apps/web.yaml: Deployment shop/web: spec.replicas"
        );
    }
}

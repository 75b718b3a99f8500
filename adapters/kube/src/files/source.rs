//! Files and YAML documents: finding the `*.yaml`, `*.yml` and `*.json` files under a path
//! (as `kubectl apply -f DIR` does; among the apps, kustomizations rendered as `kubectl apply
//! -k` would and Helm charts refused), with the files left out and why, splitting them into
//! documents (expanding the items of a `List`, and of typed lists such as the `NodeList` and
//! `PodList` the API returns), reading each document's identity, and deserializing a document
//! into a typed value with the failing field path in the error.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, DeserializeSeed};
use serde_json::Value;

use crate::error::{LoadError, Location};
use crate::files::bounded::{BoundedDocument, Budget, Parsed, read_back};
use crate::files::limits::InputBudget;
use crate::files::{helm, kustomize};

/// A YAML file's name and text: read from disk, or given as text (the name then only labels
/// it in errors, such as `fleet[0]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Its path, or a label.
    pub name: PathBuf,
    /// Its YAML.
    pub text: String,
}

/// Why a file below a fleet or apps folder was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// Its name does not end in `.yaml`, `.yml` or `.json`.
    NotManifest,
    /// A symbolic link to a directory, which is not followed (nor does `kubectl apply -f DIR`
    /// follow one).
    SymlinkedDirectory,
    /// Named like a manifest but not a regular file (a broken symbolic link, a socket...).
    NotRegularFile,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::NotManifest => "not a .yaml, .yml or .json file",
            SkipReason::SymlinkedDirectory => "a symbolic link to a directory, which is not followed",
            SkipReason::NotRegularFile => "not a regular file",
        })
    }
}

/// A file below a fleet or apps folder that was not read, and why. Hidden files and
/// everything below hidden directories (`.git`, `.DS_Store`) are left out without a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it was not read.
    pub reason: SkipReason,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// The files read from a path, and the files below it that were not read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceFiles {
    /// The files read, sorted by path; a rendered kustomization is named after its directory.
    pub files: Vec<SourceFile>,
    /// The files not read, sorted by path.
    pub skipped: Vec<Skipped>,
}

/// How a folder is read: as `kubectl apply -f DIR` does, or as the apps are (the same, but a
/// directory with a kustomization is rendered and one with a Helm chart is refused).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Apps,
}

/// What a walk finds: manifest files, kustomization directories, and what it leaves out.
#[derive(Default)]
struct Found {
    /// Files to read, and kustomization directories to render (`true`).
    sources: Vec<(PathBuf, bool)>,
    skipped: Vec<Skipped>,
}

/// The manifest files under `path` with their text: the path itself when it is a file, else
/// every `*.yaml`, `*.yml` and `*.json` file below it (recursively, symlinked directories
/// not followed), sorted by path, and the other files below it (hidden ones aside).
///
/// Each file is read once (a FIFO or `/dev/stdin` given as `path` works) and counted against
/// `budget`.
///
/// # Errors
/// [`LoadError::Read`] naming the file or folder that cannot be read;
/// [`LoadError::TooLarge`] for a file over the budget.
pub fn read_source_files(path: &Path, budget: &mut InputBudget) -> Result<SourceFiles, LoadError> {
    read(path, Mode::Plain, budget)
}

/// The apps' files under `path`, as [`read_source_files`] finds them, except that a directory
/// holding a kustomization (`kustomization.yaml`, `kustomization.yml` or `Kustomization`,
/// `path` itself or any directory below it) is rendered with `kubectl kustomize DIR`, as
/// `kubectl apply -k DIR` would: its output, named after the directory, is read in place of
/// the directory's files. A kustomization file given as `path` renders its directory.
///
/// # Errors
/// [`LoadError::Read`] naming the file or folder that cannot be read;
/// [`LoadError::Kustomize`] when a kustomization cannot be rendered;
/// [`LoadError::HelmChart`] for a directory holding a Helm chart's `Chart.yaml`;
/// [`LoadError::TooLarge`] for a file or rendering over the budget.
pub fn read_app_files(path: &Path, budget: &mut InputBudget) -> Result<SourceFiles, LoadError> {
    read(path, Mode::Apps, budget)
}

fn read(path: &Path, mode: Mode, budget: &mut InputBudget) -> Result<SourceFiles, LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut found = Found::default();
    if meta.is_dir() {
        walk(path, mode, false, &mut found)?;
    } else {
        let named = |names: &[&str]| path.file_name().is_some_and(|n| names.iter().any(|m| n == *m));
        let dir = path.parent().unwrap_or(Path::new("."));
        if mode == Mode::Apps && named(&kustomize::KUSTOMIZATION_FILES) {
            found.sources.push((dir.to_path_buf(), true));
        } else if mode == Mode::Apps && named(&[helm::CHART_FILE]) {
            return Err(LoadError::HelmChart {
                dir: dir.to_path_buf(),
            });
        } else {
            found.sources.push((path.to_path_buf(), false));
        }
    }
    found.sources.sort();
    found.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    let files = found
        .sources
        .into_iter()
        .map(|(name, rendered)| {
            let text = if rendered {
                let text = kustomize::render(&name)?;
                budget.count(&name, text.len())?;
                text
            } else {
                budget.read_file(&name)?
            };
            Ok(SourceFile { name, text })
        })
        .collect::<Result<_, LoadError>>()?;
    Ok(SourceFiles {
        files,
        skipped: found.skipped,
    })
}

/// Adds what `dir` holds to `found`; `hidden` when `dir` is or is below a hidden directory,
/// whose left-out files are not reported.
fn walk(dir: &Path, mode: Mode, hidden: bool, found: &mut Found) -> Result<(), LoadError> {
    if mode == Mode::Apps {
        if kustomize::is_kustomization(dir) {
            found.sources.push((dir.to_path_buf(), true));
            return Ok(());
        }
        if helm::is_chart(dir) {
            return Err(LoadError::HelmChart {
                dir: dir.to_path_buf(),
            });
        }
    }
    let read = |source| LoadError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    // In path order, so that the first chart found is always the same one.
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        let file_type = entry.file_type().map_err(read)?;
        let hidden = hidden || entry.file_name().to_string_lossy().starts_with('.');
        let manifest = path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
        let skipped = if file_type.is_dir() {
            walk(&path, mode, hidden, found)?;
            None
        } else if manifest && path.is_file() {
            found.sources.push((path.clone(), false));
            None
        } else if file_type.is_symlink() && path.is_dir() {
            Some(SkipReason::SymlinkedDirectory)
        } else if let (true, Err(source)) = (
            manifest && !hidden && file_type.is_symlink(),
            std::fs::metadata(&path),
        ) {
            // A link named like a manifest was meant to be read: one that leads nowhere
            // (dangling, or a loop) is an error, as kubectl reports it.
            return Err(LoadError::Read { path, source });
        } else if manifest {
            Some(SkipReason::NotRegularFile)
        } else {
            Some(SkipReason::NotManifest)
        };
        if let Some(reason) = skipped.filter(|_| !hidden) {
            found.skipped.push(Skipped { path, reason });
        }
    }
    Ok(())
}

/// One object read from a file: a YAML document, or one item of a `v1 List` document.
#[derive(Clone, Debug)]
pub(crate) struct Document {
    /// The file.
    pub file: PathBuf,
    /// The 1-based number of the document in the file.
    pub number: usize,
    /// The index among the items of a `v1 List`, when it is one.
    pub item: Option<usize>,
    /// The content.
    pub value: Value,
}

/// Hands each document of `text` read from `file` (which names where it came from in
/// errors) to `each`, one at a time as it is read: the YAML documents, or the one JSON value
/// of a `.json` file, read under the limits of [`crate::files::bounded`]. A document is
/// dropped before the next is read unless `each` keeps it.
fn each_value(
    text: &str,
    file: &Path,
    mut each: impl FnMut(Parsed) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let budget = Budget::for_text(text.len());
    if file.extension().is_some_and(|e| e == "json") {
        let mut json = serde_json::Deserializer::from_str(text);
        let value = BoundedDocument(&budget)
            .deserialize(&mut json)
            .and_then(|value| json.end().map(|()| value))
            .map_err(|e| LoadError::Yaml {
                format: "JSON",
                file: file.to_path_buf(),
                line: Some(e.line()),
                column: Some(e.column()),
                message: e
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            })?;
        return each(value);
    }
    for document in serde_norway::Deserializer::from_str(text) {
        let value = BoundedDocument(&budget)
            .deserialize(document)
            .map_err(|e: serde_norway::Error| {
                let location = e.location();
                let mut message = e.to_string();
                // The location is reported separately; drop the parser's own copy of it.
                if let Some(at) = message.find(" at line ") {
                    message.truncate(at);
                }
                LoadError::Yaml {
                    format: "YAML",
                    file: file.to_path_buf(),
                    line: location.as_ref().map(|l| l.line()),
                    column: location.as_ref().map(|l| l.column()),
                    message,
                }
            })?;
        each(value)?;
    }
    Ok(())
}

/// The non-empty documents of a file (YAML, or JSON for a `.json` file) as JSON values, read
/// under the limits of [`crate::files::bounded`].
pub(crate) fn yaml_documents(file: &SourceFile) -> Result<Vec<Value>, LoadError> {
    let mut documents = Vec::new();
    each_value(&file.text, &file.name, |parsed| {
        let value = parsed.into_value();
        if !value.is_null() {
            documents.push(value);
        }
        Ok(())
    })?;
    Ok(documents)
}

/// Whether a document is a list of objects: `v1 List` (what kubectl prints), or a typed list
/// the API returns (`NodeList`, `PodList`, `DeploymentList`...); `has_items` says whether it
/// has an `items` key (kept apart from `map` when it is a sequence).
fn is_list(map: &serde_json::Map<String, Value>, has_items: bool) -> bool {
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    map.contains_key("apiVersion") && kind.ends_with("List") && (kind == "List" || has_items)
}

/// The non-empty documents of `text` (YAML, or JSON for a `.json` file) read from `file`
/// (which names where it came from in errors), with the items of lists expanded into
/// documents of their own.
pub(crate) fn parse_documents(text: &str, file: &Path) -> Result<Vec<Document>, LoadError> {
    let mut documents = Vec::new();
    each_document(text, file, |document| {
        documents.push(document);
        Ok(())
    })?;
    Ok(documents)
}

/// As [`parse_documents`], handing each document to `each` as it is read, so that a caller
/// that keeps little of each (see [`crate::files::carried`]) never holds a whole file's, nor
/// a whole list's.
pub(crate) fn each_document(
    text: &str,
    file: &Path,
    mut each: impl FnMut(Document) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let mut number = 0;
    each_value(text, file, |parsed| {
        number += 1;
        let document = |item, value| Document {
            file: file.to_path_buf(),
            number,
            item,
            value,
        };
        match parsed {
            Parsed::WithItems { object, items } if is_list(&object, true) => {
                // The API server leaves `kind` and `apiVersion` out of a typed list's items
                // (a NodeList's items are Nodes of the list's version): put them back.
                let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
                let implied = kind.strip_suffix("List").filter(|k| !k.is_empty());
                for (item, text) in items.into_iter().enumerate() {
                    let mut value = read_back(&text);
                    if let (Some(item_kind), Value::Object(fields)) = (implied, &mut value) {
                        fields
                            .entry("kind")
                            .or_insert_with(|| Value::String(item_kind.to_owned()));
                        if let Some(version) = object.get("apiVersion") {
                            fields.entry("apiVersion").or_insert_with(|| version.clone());
                        }
                    }
                    each(document(Some(item), value))?;
                }
                Ok(())
            }
            Parsed::Value(Value::Null) => Ok(()),
            Parsed::Value(Value::Object(map)) if is_list(&map, map.contains_key("items")) => {
                match map.get("items") {
                    None | Some(Value::Null) => Ok(()),
                    Some(_) => Err(LoadError::Type {
                        at: Box::new(Location {
                            file: file.to_path_buf(),
                            object: Some(format!(
                                "document {number} ({})",
                                map.get("kind").and_then(Value::as_str).unwrap_or("List")
                            )),
                            field: Some("items".into()),
                        }),
                        message: "expected a sequence".into(),
                    }),
                }
            }
            other => each(document(None, other.into_value())),
        }
    })
}

/// What an object says it is: apiVersion, kind, name and namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// `apiVersion`, such as `apps/v1`.
    pub api_version: String,
    /// `kind`, such as `Deployment`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when given.
    pub namespace: Option<String>,
}

impl Header {
    /// The API group: `apps` for `apps/v1`, empty for the core group (`v1`).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(group, _)| group)
    }

    /// The API version without the group: `v1` for `apps/v1`.
    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or(&self.api_version, |(_, v)| v)
    }
}

impl Document {
    /// How the document is named before its identity is known: `document 2` or
    /// `document 1, items[3]`.
    pub fn label(&self) -> String {
        match self.item {
            Some(item) => format!("document {}, items[{item}]", self.number),
            None => format!("document {}", self.number),
        }
    }

    /// Reads apiVersion, kind and metadata name and namespace; all but the namespace are
    /// required.
    pub fn header(&self) -> Result<Header, LoadError> {
        let at = |field: &str| Location {
            file: self.file.clone(),
            object: Some(self.label()),
            field: Some(field.to_string()),
        };
        let Value::Object(map) = &self.value else {
            return Err(LoadError::Type {
                at: Box::new(Location {
                    file: self.file.clone(),
                    object: Some(self.label()),
                    field: None,
                }),
                message: "expected a mapping (a Kubernetes object)".into(),
            });
        };
        let string = |value: Option<&Value>, field: &str| -> Result<Option<String>, LoadError> {
            match value {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(LoadError::Type {
                    at: Box::new(at(field)),
                    message: "expected a string".into(),
                }),
            }
        };
        let required = |value: Option<&Value>, field: &str| -> Result<String, LoadError> {
            match string(value, field)? {
                Some(s) if !s.is_empty() => Ok(s),
                _ => Err(LoadError::Invalid {
                    at: Box::new(at(field)),
                    message: "missing".into(),
                }),
            }
        };
        let api_version = required(map.get("apiVersion"), "apiVersion")?;
        let kind = required(map.get("kind"), "kind")?;
        let metadata = match map.get("metadata") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                return Err(LoadError::Type {
                    at: Box::new(at("metadata")),
                    message: "expected a mapping".into(),
                });
            }
        };
        let name = required(metadata.and_then(|m| m.get("name")), "metadata.name")?;
        let namespace = string(metadata.and_then(|m| m.get("namespace")), "metadata.namespace")?;
        Ok(Header {
            api_version,
            kind,
            name,
            namespace: namespace.filter(|n| !n.is_empty()),
        })
    }
}

/// Names one object of one file for error messages, and builds locations in it.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    /// The file.
    pub file: PathBuf,
    /// The object, such as `Deployment shop/web`.
    pub object: String,
}

impl Site {
    /// A site for the object `header` describes, in `file`. Its kind, namespace and name are
    /// shown escaped ([`crate::validation::shown`]; the checks that follow refuse names that
    /// need it), so that the message stays on one line.
    pub fn of(file: &Path, header: &Header) -> Self {
        let shown = crate::validation::shown;
        let (kind, name) = (shown(&header.kind), shown(&header.name));
        let object = match &header.namespace {
            Some(ns) => format!("{kind} {}/{name}", shown(ns)),
            None => format!("{kind} {name}"),
        };
        Site {
            file: file.to_path_buf(),
            object,
        }
    }

    /// The location of `field` in the object.
    pub fn at(&self, field: impl Into<String>) -> Box<Location> {
        Box::new(Location {
            file: self.file.clone(),
            object: Some(self.object.clone()),
            field: Some(field.into()),
        })
    }

    /// An [`LoadError::Invalid`] at `field`.
    pub fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            at: self.at(field),
            message: message.into(),
        }
    }
}

#[cfg(test)]
impl Site {
    /// The site the unit tests name: `Deployment shop/web` in `apps/web.yaml`.
    pub fn example() -> Self {
        Site {
            file: "apps/web.yaml".into(),
            object: "Deployment shop/web".into(),
        }
    }
}

/// Deserializes `value` into `T`; a type error names the failing field inside the object.
pub(crate) fn deserialize<T: DeserializeOwned>(
    value: &Value,
    file: &Path,
    object: Option<&str>,
) -> Result<T, LoadError> {
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        LoadError::Type {
            at: Box::new(Location {
                file: file.to_path_buf(),
                object: object.map(str::to_string),
                field: (path != ".").then_some(path),
            }),
            message: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documents(text: &str) -> Result<Vec<Document>, LoadError> {
        parse_documents(text, Path::new("x.yaml"))
    }

    #[test]
    fn empty_documents_are_skipped_and_lists_expanded() {
        let docs = documents(
            "---\n---\napiVersion: v1\nkind: List\nitems:\n- {a: 1}\n- {b: 2}\n---\n# only a comment\n---\nc: 3\n",
        )
        .unwrap();
        let labels: Vec<String> = docs.iter().map(Document::label).collect();
        assert_eq!(
            labels,
            ["document 2, items[0]", "document 2, items[1]", "document 4"]
        );
    }

    #[test]
    fn items_outside_a_list_stay_where_they_are() {
        let text = "apiVersion: example.com/v1\nkind: Basket\nmetadata: {name: b}\nitems: [{x: 1}, 2]\n";
        let docs = documents(text).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].value["items"], serde_json::json!([{"x": 1}, 2]));
        let typed = documents("apiVersion: v1\nkind: NodeList\nitems:\n- metadata: {name: n}\n").unwrap();
        assert_eq!(typed[0].value["kind"], "Node");
        assert_eq!(typed[0].value["apiVersion"], "v1");
        let twice = documents("apiVersion: v1\nkind: List\nitems: []\nitems: []\n").unwrap_err();
        assert!(twice.to_string().contains("`items` is given twice"), "{twice}");
        let scalar = documents("apiVersion: v1\nkind: List\nitems: 3\n").unwrap_err();
        assert!(scalar.to_string().contains("expected a sequence"), "{scalar}");
    }

    #[test]
    fn malformed_yaml_reports_line_and_column() {
        let e = documents("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        let LoadError::Yaml { line, .. } = &e else {
            panic!("{e}")
        };
        assert!(line.is_some(), "{e}");
        assert!(e.to_string().contains("x.yaml: malformed YAML at line "), "{e}");
    }

    #[test]
    fn headers_require_kind_and_name() {
        let docs = documents("apiVersion: v1\nmetadata: {name: a}\n").unwrap();
        assert!(
            docs[0]
                .header()
                .unwrap_err()
                .to_string()
                .ends_with("x.yaml: document 1: kind: missing")
        );
        let docs = documents("apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: ns}\n").unwrap();
        assert!(
            docs[0]
                .header()
                .unwrap_err()
                .to_string()
                .ends_with("document 1: metadata.name: missing")
        );
        let docs = documents("kind: ConfigMap\n").unwrap();
        assert!(
            docs[0]
                .header()
                .unwrap_err()
                .to_string()
                .ends_with("document 1: apiVersion: missing")
        );
        let docs = documents("- 1\n").unwrap();
        assert!(
            docs[0]
                .header()
                .unwrap_err()
                .to_string()
                .ends_with("document 1: expected a mapping (a Kubernetes object)")
        );
    }
}

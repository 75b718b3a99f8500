//! The apps side: Kubernetes YAML (Deployments, Jobs, PriorityClasses and everything else)
//! read into the core's [`Workload`]s plus the objects carried along unplanned.
//!
//! A Deployment's replica target is `spec.replicas` (default 1), a Job's is
//! `spec.parallelism` (default 1). The namespace defaults to `default`. The priority is
//! `spec.priority` when set, else the value of the `priorityClassName` (a PriorityClass among
//! the apps, or one of the two built-in `system-` classes), else the value of the
//! `globalDefault` PriorityClass, else 0. The placement policy comes from annotations (see
//! [`crate::annotations`]).
//!
//! What the API server would refuse is refused (see [`crate::validation`]): a
//! `metadata.namespace` that is not a DNS-1123 label, a name its kind does not allow
//! ([`crate::validation::object_name`]), and in Deployments and Jobs invalid label keys and
//! values in `metadata.labels`, `spec.selector` and `spec.template.metadata.labels` (and in
//! the pod template, see [`crate::pod`]), a Deployment's empty selector, a selector that does
//! not select its own template's labels, annotation keys that are not qualified names (or
//! annotations above 256 KiB), and PriorityClasses the API server reserves (a
//! `system-` name of its own, a value above 1,000,000,000).

use std::collections::BTreeMap;
use std::path::PathBuf;

use fleetplan::{Labels, Workload, WorkloadId, WorkloadKind};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::annotations::{AnnotationError, placement_policy};
use crate::error::{LoadError, Location};
use crate::files::bounded::compact;
use crate::files::carried::CarriedObject;
use crate::files::helm;
use crate::files::source::{Document, Header, Site, SourceFile, deserialize, each_document};
use crate::kinds::{Role, classify};
use crate::pod::pod_template;
use crate::{selector, validation};

/// The namespace of an object that names none.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// The priority classes every cluster has.
const SYSTEM_PRIORITY_CLASSES: [(&str, i32); 2] = [
    ("system-cluster-critical", 2_000_000_000),
    ("system-node-critical", 2_000_001_000),
];

/// The highest value a PriorityClass of one's own may have (the API server's
/// `HighestUserDefinablePriority`).
const HIGHEST_USER_PRIORITY: i32 = 1_000_000_000;

/// A planned workload with what the fleet side needs to recognise its pods.
#[derive(Clone, Debug)]
pub(crate) struct AppWorkload {
    /// The workload.
    pub workload: Workload,
    /// `spec.selector.matchLabels` (empty when there is none).
    pub match_labels: Labels,
    /// The file it came from.
    pub file: PathBuf,
    /// The object as written.
    pub source: serde_json::Value,
}

/// Everything read from the apps path.
#[derive(Clone, Debug, Default)]
pub(crate) struct Apps {
    /// Deployments and Jobs, in file order.
    pub workloads: Vec<AppWorkload>,
    /// Every other object.
    pub carried: Vec<CarriedObject>,
}

struct Object {
    document: Document,
    header: Header,
    role: Role,
}

/// Reads the apps' files; an error in a file that holds a Go template action says it looks
/// like an unrendered Helm template. Documents are classified as they are read, so a carried
/// object is held only as compact text (see [`crate::files::carried`]).
pub(crate) fn load_apps(files: &[SourceFile]) -> Result<Apps, LoadError> {
    let hint = |error: LoadError| match files.iter().find(|f| error.file() == Some(f.name.as_path())) {
        Some(file) => helm::with_hint(error, file),
        None => error,
    };
    let mut reader = AppsReader::default();
    for file in files {
        each_document(&file.text, &file.name, |document| reader.add(document)).map_err(hint)?;
    }
    reader.finish().map_err(hint)
}

/// Reads the workloads among `documents` (from files, or objects read from a cluster).
pub(crate) fn apps_from_documents(documents: Vec<Document>) -> Result<Apps, LoadError> {
    let mut reader = AppsReader::default();
    for document in documents {
        reader.add(document)?;
    }
    reader.finish()
}

/// The apps' documents classified one at a time: the objects read further (workloads and
/// PriorityClasses) kept whole, every other object carried as compact text.
#[derive(Default)]
struct AppsReader {
    objects: Vec<Object>,
    carried: Vec<CarriedObject>,
}

impl AppsReader {
    fn add(&mut self, document: Document) -> Result<(), LoadError> {
        let file = document.file.clone();
        let header = document.header()?;
        let role = classify(header.group(), header.version(), &header.kind);
        let at = Location {
            file: file.clone(),
            object: Some(Site::of(&file, &header).object),
            field: Some("kind".into()),
        };
        match role {
            Role::Unknown => {
                return Err(LoadError::UnknownKind {
                    at: Box::new(at),
                    api_version: header.api_version,
                    kind: header.kind,
                });
            }
            Role::UnsupportedVersion => {
                return Err(LoadError::Invalid {
                    at: Box::new(Location {
                        field: Some("apiVersion".into()),
                        ..at
                    }),
                    message: format!("`{}` is not supported for {}", header.api_version, header.kind),
                });
            }
            Role::Deployment | Role::Job | Role::PriorityClass | Role::Carried => {
                check_identity(&header, &Site::of(&file, &header))?;
            }
        }
        if matches!(role, Role::PriorityClass | Role::Carried) {
            self.carried.push(CarriedObject {
                kind: header.kind.clone(),
                api_version: header.api_version.clone(),
                namespace: header.namespace.clone(),
                name: header.name.clone(),
                file,
                object: compact(&document.value),
            });
        }
        if role != Role::Carried {
            self.objects.push(Object {
                document,
                header,
                role,
            });
        }
        Ok(())
    }

    fn finish(self) -> Result<Apps, LoadError> {
        let priorities = Priorities::read(&self.objects)?;
        let mut apps = Apps {
            workloads: Vec::new(),
            carried: self.carried,
        };
        let mut seen: BTreeMap<WorkloadId, (String, PathBuf)> = BTreeMap::new();
        for object in &self.objects {
            let loaded = match object.role {
                Role::Deployment => deployment(object, &priorities)?,
                Role::Job => job(object, &priorities)?,
                _ => continue,
            };
            let id = loaded.workload.id.clone();
            if let Some((first_kind, first_file)) = seen.get(&id) {
                return Err(LoadError::DuplicateWorkload {
                    at: Box::new(Location {
                        file: loaded.file.clone(),
                        object: Some(workload_site(object).object),
                        field: None,
                    }),
                    id: id.to_string(),
                    first_kind: first_kind.clone(),
                    first_file: first_file.clone(),
                });
            }
            seen.insert(id, (object.header.kind.clone(), loaded.file.clone()));
            apps.workloads.push(loaded);
        }
        Ok(apps)
    }
}

/// Refuses a namespace that is not a DNS-1123 label and a name the object's kind does not
/// allow, as the API server would.
fn check_identity(header: &Header, site: &Site) -> Result<(), LoadError> {
    if let Some(namespace) = &header.namespace {
        validation::dns1123_label(namespace).map_err(|m| site.invalid("metadata.namespace", m))?;
    }
    validation::object_name(header.group(), &header.kind, &header.name)
        .map_err(|m| site.invalid("metadata.name", m))
}

/// The site of a workload: its namespace defaulted.
fn workload_site(object: &Object) -> Site {
    let header = Header {
        namespace: Some(
            object
                .header
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
        ),
        ..object.header.clone()
    };
    Site::of(&object.document.file, &header)
}

fn deployment(object: &Object, priorities: &Priorities) -> Result<AppWorkload, LoadError> {
    let site = workload_site(object);
    let d: Deployment = deserialize(&object.document.value, &site.file, Some(&site.object))?;
    let spec = d.spec;
    let replicas = count(spec.replicas, &site, "spec.replicas")?;
    let parts = Parts {
        kind: WorkloadKind::Deployment,
        replicas,
        metadata: &d.metadata,
        template: &spec.template,
        selector: Some(&spec.selector),
    };
    workload(parts, object, &site, priorities)
}

fn job(object: &Object, priorities: &Priorities) -> Result<AppWorkload, LoadError> {
    let site = workload_site(object);
    let j: Job = deserialize(&object.document.value, &site.file, Some(&site.object))?;
    let spec = j.spec.ok_or_else(|| site.invalid("spec", "missing"))?;
    let replicas = count(spec.parallelism, &site, "spec.parallelism")?;
    let parts = Parts {
        kind: WorkloadKind::Job,
        replicas,
        metadata: &j.metadata,
        template: &spec.template,
        selector: spec.selector.as_ref(),
    };
    workload(parts, object, &site, priorities)
}

/// A replica count: default 1, never negative.
fn count(value: Option<i32>, site: &Site, field: &str) -> Result<u32, LoadError> {
    let value = value.unwrap_or(1);
    u32::try_from(value).map_err(|_| site.invalid(field, format!("must not be negative (got {value})")))
}

/// What Deployments and Jobs have in common.
struct Parts<'a> {
    kind: WorkloadKind,
    replicas: u32,
    metadata: &'a ObjectMeta,
    template: &'a PodTemplateSpec,
    selector: Option<&'a LabelSelector>,
}

fn workload(
    parts: Parts<'_>,
    object: &Object,
    site: &Site,
    priorities: &Priorities,
) -> Result<AppWorkload, LoadError> {
    const PREFIX: &str = "spec.template.spec";
    let spec = parts
        .template
        .spec
        .as_ref()
        .ok_or_else(|| site.invalid("spec.template.spec", "missing"))?;
    let labels = parts
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if let Some(labels) = &parts.metadata.labels {
        validation::labels(labels, site, "metadata.labels")?;
    }
    validation::labels(&labels, site, "spec.template.metadata.labels")?;
    if let Some(selector) = parts.selector {
        validation::label_selector(selector, site, "spec.selector")?;
        selects_template(parts.kind, selector, &labels, site)?;
    }
    let priority = priorities.resolve(spec, site, PREFIX)?;
    let template = pod_template(spec, labels, priority, site, PREFIX)?;
    let annotations = parts.metadata.annotations.clone().unwrap_or_default();
    validation::annotations(&annotations, site, "metadata.annotations")?;
    let policy = placement_policy(&annotations).map_err(|e| match e {
        AnnotationError::Unknown(key) => LoadError::UnknownAnnotation {
            at: site.at(format!("metadata.annotations[{key}]")),
            key,
        },
        AnnotationError::Invalid { key, message } => {
            site.invalid(format!("metadata.annotations[{key}]"), message)
        }
    })?;
    let namespace = object.header.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    Ok(AppWorkload {
        source: object.document.value.clone(),
        workload: Workload {
            id: WorkloadId::new(namespace, &object.header.name),
            kind: parts.kind,
            replicas: parts.replicas,
            template,
            policy,
        },
        match_labels: parts
            .selector
            .and_then(|s| s.match_labels.clone())
            .unwrap_or_default(),
        file: object.document.file.clone(),
    })
}

/// What the API server refuses of a workload's `spec.selector` (already valid on its own): a
/// Deployment's that selects everything, and one that does not select the pods of its own
/// template (a Job's generated selector adds to what is written, so the same holds).
fn selects_template(
    kind: WorkloadKind,
    selector: &LabelSelector,
    labels: &Labels,
    site: &Site,
) -> Result<(), LoadError> {
    let empty = selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector.match_expressions.as_ref().is_none_or(|e| e.is_empty());
    if empty && kind == WorkloadKind::Deployment {
        return Err(site.invalid("spec.selector", "empty selector is invalid for deployment"));
    }
    if !selector::from_object(selector).is_some_and(|s| s.matches(labels)) {
        return Err(site.invalid(
            "spec.template.metadata.labels",
            "`selector` does not match template `labels`",
        ));
    }
    Ok(())
}

/// The PriorityClasses among the apps.
struct Priorities {
    values: BTreeMap<String, i32>,
    global_default: Option<i32>,
}

impl Priorities {
    fn read(objects: &[Object]) -> Result<Priorities, LoadError> {
        let mut values: BTreeMap<String, i32> = SYSTEM_PRIORITY_CLASSES
            .iter()
            .map(|(n, v)| (n.to_string(), *v))
            .collect();
        let mut global_default: Option<(String, i32)> = None;
        for object in objects.iter().filter(|o| o.role == Role::PriorityClass) {
            let site = Site::of(&object.document.file, &object.header);
            let class: PriorityClass = deserialize(&object.document.value, &site.file, Some(&site.object))?;
            let name = object.header.name.clone();
            let value = class.value.ok_or_else(|| site.invalid("value", "missing"))?;
            let system = SYSTEM_PRIORITY_CLASSES.iter().any(|(n, _)| *n == name);
            if name.starts_with("system-") && !system {
                return Err(site.invalid(
                    "metadata.name",
                    "priority class names with 'system-' prefix are reserved",
                ));
            }
            if value > HIGHEST_USER_PRIORITY && !system {
                return Err(site.invalid(
                    "value",
                    format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
                ));
            }
            if class.global_default == Some(true) {
                if let Some((other, _)) = &global_default {
                    return Err(site.invalid(
                        "globalDefault",
                        format!("PriorityClass `{other}` is the global default already"),
                    ));
                }
                global_default = Some((name.clone(), value));
            }
            if values.insert(name.clone(), value).is_some() {
                return Err(site.invalid(
                    "metadata.name",
                    format!("PriorityClass `{name}` is defined twice"),
                ));
            }
        }
        Ok(Priorities {
            values,
            global_default: global_default.map(|(_, v)| v),
        })
    }

    fn resolve(&self, spec: &PodSpec, site: &Site, prefix: &str) -> Result<i32, LoadError> {
        if let Some(priority) = spec.priority {
            return Ok(priority);
        }
        match spec.priority_class_name.as_deref() {
            None | Some("") => Ok(self.global_default.unwrap_or(0)),
            Some(name) => self.values.get(name).copied().ok_or_else(|| {
                site.invalid(
                    format!("{prefix}.priorityClassName"),
                    format!("unknown PriorityClass `{name}`; define it among the apps"),
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apps(text: &str) -> Result<Apps, LoadError> {
        let file = SourceFile {
            name: PathBuf::from("apps/web.yaml"),
            text: text.into(),
        };
        load_apps(&[file]).map_err(|e| LoadError::Invalid {
            at: Box::new(Location::file("")),
            message: e.to_string(),
        })
    }

    fn error(text: &str) -> String {
        match apps(text) {
            Err(LoadError::Invalid { message, .. }) => message,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    const DEPLOYMENT: &str =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n";
    const TEMPLATE: &str = "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    \
                            spec:\n      containers: [{name: app, resources: {requests: {cpu: 100m}}}]\n";

    #[test]
    fn deployments_and_jobs_become_workloads() {
        let a = apps(&format!(
            "{DEPLOYMENT}  annotations: {{fleetplan.io/strategy: pack, other/x: y}}\nspec:\n  replicas: 4\n{TEMPLATE}---\n\
             apiVersion: batch/v1\nkind: Job\nmetadata: {{name: train}}\nspec:\n  parallelism: 3\n  template:\n    \
             spec: {{containers: [{{name: t}}], restartPolicy: Never}}\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\n---\n\
             apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: tls}}\n---\n"
        ))
        .unwrap();
        let w: Vec<_> = a
            .workloads
            .iter()
            .map(|a| (a.workload.id.to_string(), a.workload.kind, a.workload.replicas))
            .collect();
        assert_eq!(
            w,
            [
                ("shop/web".into(), WorkloadKind::Deployment, 4),
                ("default/train".into(), WorkloadKind::Job, 3)
            ]
        );
        let web = &a.workloads[0];
        assert_eq!(web.workload.policy.strategy, fleetplan::Strategy::Pack);
        assert_eq!(web.workload.template.labels["app"], "web");
        assert_eq!(web.match_labels["app"], "web");
        let carried: Vec<_> = a
            .carried
            .iter()
            .map(|c| (c.kind.as_str(), c.namespace.as_deref()))
            .collect();
        assert_eq!(carried, [("Service", Some("shop")), ("Certificate", None)]);
    }

    #[test]
    fn replicas_default_to_one_and_must_not_be_negative() {
        let a = apps(&format!("{DEPLOYMENT}spec:\n{TEMPLATE}")).unwrap();
        assert_eq!(a.workloads[0].workload.replicas, 1);
        assert_eq!(
            error(&format!("{DEPLOYMENT}spec:\n  replicas: -1\n{TEMPLATE}")),
            "apps/web.yaml: Deployment shop/web: spec.replicas: must not be negative (got -1)"
        );
        assert_eq!(
            error(
                "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  parallelism: -2\n  template: {spec: {containers: [{name: j}]}}\n"
            ),
            "apps/web.yaml: Job default/j: spec.parallelism: must not be negative (got -2)"
        );
    }

    #[test]
    fn priorities_resolve_from_classes() {
        let classes = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n---\n\
                       apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: low}\nvalue: 10\nglobalDefault: true\n---\n";
        let job = |extra: &str, name: &str| {
            format!(
                "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  template:\n    spec:\n      \
                 containers: [{{name: main}}]\n{extra}---\n"
            )
        };
        let a = apps(&format!(
            "{classes}{}{}{}{}",
            job("      priorityClassName: high\n", "a"),
            job("", "b"),
            job("      priority: 5\n      priorityClassName: high\n", "c"),
            job("      priorityClassName: system-node-critical\n", "d"),
        ))
        .unwrap();
        let p: Vec<i32> = a.workloads.iter().map(|w| w.workload.template.priority).collect();
        assert_eq!(p, [1000, 10, 5, 2_000_001_000]);
        assert_eq!(a.carried.len(), 2);
        assert_eq!(
            error(&job("      priorityClassName: urgent\n", "a")),
            "apps/web.yaml: Job default/a: spec.template.spec.priorityClassName: unknown PriorityClass `urgent`; \
             define it among the apps"
        );
        let a = apps(&job("", "a")).unwrap();
        assert_eq!(a.workloads[0].workload.template.priority, 0);
    }

    #[test]
    fn annotation_errors_name_file_object_and_annotation() {
        assert_eq!(
            error(&format!(
                "{DEPLOYMENT}  annotations: {{fleetplan.io/stratgy: pack}}\nspec:\n{TEMPLATE}"
            )),
            format!(
                "apps/web.yaml: Deployment shop/web: metadata.annotations[fleetplan.io/stratgy]: unknown annotation \
                 `fleetplan.io/stratgy`; known keys: {}",
                crate::annotations::KNOWN_KEYS.join(", ")
            )
        );
        assert_eq!(
            error(&format!(
                "{DEPLOYMENT}  annotations: {{fleetplan.io/cluster-max: 'east=-1'}}\nspec:\n{TEMPLATE}"
            )),
            "apps/web.yaml: Deployment shop/web: metadata.annotations[fleetplan.io/cluster-max]: invalid value \
             \"east=-1\": `east` must be a non-negative integer, found `-1`"
        );
    }

    #[test]
    fn names_and_namespaces_keep_the_api_server_rules() {
        let object = |kind: &str, api_version: &str, name: &str, namespace: &str| {
            format!(
                "apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: '{name}', namespace: '{namespace}'}}\n"
            )
        };
        assert_eq!(
            error(&format!(
                "{}spec:\n{TEMPLATE}",
                object("Deployment", "apps/v1", "Web", "shop")
            )),
            "apps/web.yaml: Deployment shop/Web: metadata.name: `Web` is not a DNS-1123 subdomain: use lowercase \
             letters, digits, `-` and `.`, each part between dots starting and ending with a letter or digit (such \
             as `example.com`)"
        );
        assert!(
            error(&format!(
                "{}spec:\n{TEMPLATE}",
                object("Deployment", "apps/v1", "web", "shop.eu")
            ))
            .starts_with(
                "apps/web.yaml: Deployment shop.eu/web: metadata.namespace: `shop.eu` is not a DNS-1123 label"
            )
        );
        assert!(
            error(&object("Job", "batch/v1", "nightly_report", "ops"))
                .starts_with("apps/web.yaml: Job ops/nightly_report: metadata.name: `nightly_report` is not a DNS-1123 subdomain")
        );
        assert!(
            error("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop.eu}\n").starts_with(
                "apps/web.yaml: Namespace shop.eu: metadata.name: `shop.eu` is not a DNS-1123 label"
            )
        );
        // Carried objects keep the generic rule only.
        assert_eq!(
            error(&object("ConfigMap", "v1", "a/b", "shop")),
            "apps/web.yaml: ConfigMap shop/a/b: metadata.name: `a/b` is not a valid name: it may not contain `/`"
        );
        assert_eq!(
            error(&object("Service", "v1", "web frontend", "shop")),
            "apps/web.yaml: Service shop/web frontend: metadata.name: `web frontend` is not a valid name: it may \
             not contain ' '"
        );
        assert!(error(&object("ConfigMap", "v1", "settings", "Shop")).starts_with(
            "apps/web.yaml: ConfigMap Shop/settings: metadata.namespace: `Shop` is not a DNS-1123 label"
        ));
        let a = apps(&format!(
            "{}---\n{}---\n{}",
            object(
                "ClusterRole",
                "rbac.authorization.k8s.io/v1",
                "system:aggregate-to-view",
                ""
            ),
            object("Widget", "example.com/v1", "Big_Widget", "shop"),
            object("ConfigMap", "v1", "Settings.V2", "shop"),
        ))
        .unwrap();
        assert_eq!(a.carried.len(), 3);
    }

    #[test]
    fn workload_labels_and_selectors_keep_the_api_server_rules() {
        assert!(
            error(&format!("{DEPLOYMENT}  labels: {{app: 'web app'}}\nspec:\n{TEMPLATE}"))
                .starts_with("apps/web.yaml: Deployment shop/web: metadata.labels[app]: `web app` is not a valid label value")
        );
        assert!(
            error(&format!(
                "{DEPLOYMENT}spec:\n{}",
                TEMPLATE.replace("{labels: {app: web}}", "{labels: {'app/x/y': web}}")
            ))
            .starts_with(
                "apps/web.yaml: Deployment shop/web: spec.template.metadata.labels[app/x/y]: `app/x/y` is not a valid \
                 label key"
            )
        );
        assert!(
            error(&format!(
                "{DEPLOYMENT}spec:\n{}",
                TEMPLATE.replace("{matchLabels: {app: web}}", "{matchLabels: {app: -web}}")
            ))
            .starts_with("apps/web.yaml: Deployment shop/web: spec.selector.matchLabels[app]: `-web` is not a valid label value")
        );
    }

    #[test]
    fn a_selector_must_select_its_own_template() {
        let with =
            |from: &str, to: &str| error(&format!("{DEPLOYMENT}spec:\n{}", TEMPLATE.replace(from, to)));
        assert_eq!(
            with("{matchLabels: {app: web}}", "{matchLabels: {app: api}}"),
            "apps/web.yaml: Deployment shop/web: spec.template.metadata.labels: `selector` does not match template \
             `labels`"
        );
        assert_eq!(
            with(
                "{matchLabels: {app: web}}",
                "{matchExpressions: [{key: tier, operator: Exists}]}"
            ),
            "apps/web.yaml: Deployment shop/web: spec.template.metadata.labels: `selector` does not match template \
             `labels`"
        );
        assert_eq!(
            with("{matchLabels: {app: web}}", "{}"),
            "apps/web.yaml: Deployment shop/web: spec.selector: empty selector is invalid for deployment"
        );
        // A selector of part of the labels, or by expressions that hold, is fine.
        let fine = TEMPLATE
            .replace("{labels: {app: web}}", "{labels: {app: web, tier: front}}")
            .replace(
                "{matchLabels: {app: web}}",
                "{matchLabels: {app: web}, matchExpressions: [{key: tier, operator: In, values: [front, back]}]}",
            );
        apps(&format!("{DEPLOYMENT}spec:\n{fine}")).expect("a selector of the template's labels");
        // A Job's selector must select its template too.
        let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: train}\nspec:\n  manualSelector: true\n  \
                   selector: {matchLabels: {job: a}}\n  template:\n    metadata: {labels: {job: b}}\n    \
                   spec: {containers: [{name: t}], restartPolicy: Never}\n";
        assert_eq!(
            error(job),
            "apps/web.yaml: Job default/train: spec.template.metadata.labels: `selector` does not match template `labels`"
        );
    }

    #[test]
    fn annotation_keys_are_qualified_names() {
        assert!(
            error(&format!(
                "{DEPLOYMENT}  annotations: {{'bad key': x}}\nspec:\n{TEMPLATE}"
            ))
            .starts_with(
                "apps/web.yaml: Deployment shop/web: metadata.annotations[bad key]: `bad key` is not a valid"
            )
        );
        let big = "x".repeat(300 * 1024);
        assert!(
            error(&format!(
                "{DEPLOYMENT}  annotations: {{note: {big}}}\nspec:\n{TEMPLATE}"
            ))
            .starts_with(
                "apps/web.yaml: Deployment shop/web: metadata.annotations: must have at most 262144 bytes"
            )
        );
        apps(&format!(
            "{DEPLOYMENT}  annotations: {{Example.COM/Note: x}}\nspec:\n{TEMPLATE}"
        ))
        .expect("keys are checked without regard to case");
    }

    #[test]
    fn reserved_priority_classes_are_refused() {
        let class = |name: &str, value: i64| {
            format!(
                "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {{name: {name}}}\nvalue: {value}\n"
            )
        };
        assert_eq!(
            error(&class("system-mine", 10)),
            "apps/web.yaml: PriorityClass system-mine: metadata.name: priority class names with 'system-' prefix are \
             reserved"
        );
        assert_eq!(
            error(&class("urgent", 1_000_000_001)),
            "apps/web.yaml: PriorityClass urgent: value: maximum allowed value of a user defined priority is 1000000000"
        );
        apps(&class("urgent", 1_000_000_000)).expect("the highest user value");
    }

    #[test]
    fn kinds_and_identity_errors() {
        // A name with a line break is refused, and the message stays on one line.
        let broken = error(&format!(
            "{}spec:\n{TEMPLATE}",
            DEPLOYMENT.replace("name: web", "name: \"we\\nb\"")
        ));
        assert!(
            broken.starts_with("apps/web.yaml: Deployment shop/we\\nb: metadata.name: "),
            "{broken}"
        );
        assert_eq!(
            error("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: web}\n"),
            "apps/web.yaml: Deploymnet web: kind: unknown kind `Deploymnet` in apiVersion `apps/v1`"
        );
        assert_eq!(
            error("apiVersion: v1\nkind: Foo\nmetadata: {name: x, namespace: n}\n"),
            "apps/web.yaml: Foo n/x: kind: unknown kind `Foo` in apiVersion `v1`"
        );
        assert_eq!(
            error("apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: web}\n"),
            "apps/web.yaml: Deployment web: apiVersion: `apps/v1beta2` is not supported for Deployment"
        );
        assert_eq!(
            error("kind: Service\nmetadata: {name: x}\n"),
            "apps/web.yaml: document 1: apiVersion: missing"
        );
        let twice = format!("{DEPLOYMENT}spec:\n{TEMPLATE}---\n{DEPLOYMENT}spec:\n{TEMPLATE}");
        assert_eq!(
            error(&twice),
            "apps/web.yaml: Deployment shop/web: duplicate workload shop/web, first defined as Deployment in apps/web.yaml"
        );
        assert_eq!(
            error(&format!("{DEPLOYMENT}spec:\n  replicas: many\n{TEMPLATE}")),
            "apps/web.yaml: Deployment shop/web: spec.replicas: invalid type: string \"many\", expected i32"
        );
    }
}

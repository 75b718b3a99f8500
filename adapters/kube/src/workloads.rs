//! The apps side: Kubernetes YAML (Deployments, Jobs, PriorityClasses and everything else)
//! read into the core's [`Workload`]s plus the objects carried along unplanned.
//!
//! A Deployment's replica target is `spec.replicas` (default 1), a Job's is
//! `spec.parallelism` (default 1). The namespace defaults to `default`. The priority is
//! `spec.priority` when set, else the value of the `priorityClassName` (a PriorityClass among
//! the apps, or one of the two built-in `system-` classes), else the value of the
//! `globalDefault` PriorityClass, else 0. The placement policy comes from annotations (see
//! [`crate::annotations`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fleetplan::{Labels, Workload, WorkloadId, WorkloadKind};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::annotations::{AnnotationError, placement_policy};
use crate::error::{LoadError, Location};
use crate::kinds::{Class, classify};
use crate::pod::pod_template;
use crate::scenario::CarriedObject;
use crate::source::{Document, Header, Site, deserialize, read_documents, yaml_files};

/// The namespace of an object that names none.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// The priority classes every cluster has.
const SYSTEM_PRIORITY_CLASSES: [(&str, i32); 2] =
    [("system-cluster-critical", 2_000_000_000), ("system-node-critical", 2_000_001_000)];

/// A planned workload with what the fleet side needs to recognise its pods.
#[derive(Clone, Debug)]
pub(crate) struct AppWorkload {
    /// The workload.
    pub workload: Workload,
    /// `spec.selector.matchLabels` (empty when there is none).
    pub match_labels: Labels,
    /// The file it came from.
    pub file: PathBuf,
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
    class: Class,
}

/// Reads every YAML file under `path` (a file or a directory).
pub(crate) fn load_apps(path: &Path) -> Result<Apps, LoadError> {
    let mut objects = Vec::new();
    for file in yaml_files(path)? {
        for document in read_documents(&file)? {
            let header = document.header()?;
            let class = classify(header.group(), header.version(), &header.kind);
            let at = Location {
                file: file.clone(),
                object: Some(Site::of(&file, &header).object),
                field: Some("kind".into()),
            };
            match class {
                Class::Unknown => {
                    return Err(LoadError::UnknownKind {
                        at,
                        api_version: header.api_version,
                        kind: header.kind,
                    });
                }
                Class::UnsupportedVersion => {
                    return Err(LoadError::Invalid {
                        at: Location {
                            field: Some("apiVersion".into()),
                            ..at
                        },
                        message: format!("`{}` is not supported for {}", header.api_version, header.kind),
                    });
                }
                _ => objects.push(Object { document, header, class }),
            }
        }
    }
    let priorities = Priorities::read(&objects)?;
    let mut apps = Apps::default();
    let mut seen: BTreeMap<WorkloadId, (String, PathBuf)> = BTreeMap::new();
    for object in &objects {
        let loaded = match object.class {
            Class::Deployment => Some(deployment(object, &priorities)?),
            Class::Job => Some(job(object, &priorities)?),
            _ => None,
        };
        let Some(loaded) = loaded else {
            apps.carried.push(CarriedObject {
                kind: object.header.kind.clone(),
                api_version: object.header.api_version.clone(),
                namespace: object.header.namespace.clone(),
                name: object.header.name.clone(),
                file: object.document.file.clone(),
            });
            continue;
        };
        let id = loaded.workload.id.clone();
        if let Some((first_kind, first_file)) = seen.get(&id) {
            return Err(LoadError::DuplicateWorkload {
                at: Location {
                    file: loaded.file.clone(),
                    object: Some(workload_site(object).object),
                    field: None,
                },
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

/// The site of a workload: its namespace defaulted.
fn workload_site(object: &Object) -> Site {
    let header = Header {
        namespace: Some(object.header.namespace.clone().unwrap_or_else(|| DEFAULT_NAMESPACE.into())),
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

fn workload(parts: Parts<'_>, object: &Object, site: &Site, priorities: &Priorities) -> Result<AppWorkload, LoadError> {
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
    let priority = priorities.resolve(spec, site, PREFIX)?;
    let template = pod_template(spec, labels, priority, site, PREFIX)?;
    let annotations = parts.metadata.annotations.clone().unwrap_or_default();
    let policy = placement_policy(&annotations).map_err(|e| match e {
        AnnotationError::Unknown(key) => LoadError::UnknownAnnotation {
            at: site.at(format!("metadata.annotations[{key}]")),
            key,
        },
        AnnotationError::Invalid { key, message } => site.invalid(format!("metadata.annotations[{key}]"), message),
    })?;
    let namespace = object.header.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    Ok(AppWorkload {
        workload: Workload {
            id: WorkloadId::new(namespace, &object.header.name),
            kind: parts.kind,
            replicas: parts.replicas,
            template,
            policy,
        },
        match_labels: parts.selector.and_then(|s| s.match_labels.clone()).unwrap_or_default(),
        file: object.document.file.clone(),
    })
}

/// The PriorityClasses among the apps.
struct Priorities {
    values: BTreeMap<String, i32>,
    global_default: Option<i32>,
}

impl Priorities {
    fn read(objects: &[Object]) -> Result<Priorities, LoadError> {
        let mut values: BTreeMap<String, i32> =
            SYSTEM_PRIORITY_CLASSES.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        let mut global_default: Option<(String, i32)> = None;
        for object in objects.iter().filter(|o| o.class == Class::PriorityClass) {
            let site = Site::of(&object.document.file, &object.header);
            let class: PriorityClass = deserialize(&object.document.value, &site.file, Some(&site.object))?;
            let name = object.header.name.clone();
            let value = class.value.ok_or_else(|| site.invalid("value", "missing"))?;
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
                return Err(site.invalid("metadata.name", format!("PriorityClass `{name}` is defined twice")));
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

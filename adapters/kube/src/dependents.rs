//! What follows a workload to its clusters, in Kubernetes terms: which apps objects a
//! workload uses, and the copy of each that a workload cluster gets.
//!
//! **What follows** ([`FollowKind`]): a ConfigMap or Secret that a pod template references
//! (volumes, projected volumes, `env[].valueFrom`, `envFrom`, `imagePullSecrets`), its
//! ServiceAccount (not `default`), a PersistentVolumeClaim it mounts, a Service whose
//! selector its pod labels match, an Ingress beside its backend Services (and the TLS Secrets
//! beside the Ingress), and a PodDisruptionBudget whose selector its pod labels match. A
//! Service annotated [`GLOBAL_SERVICE_ANNOTATION`]` = "true"` (for a multi-cluster service
//! mesh such as Cilium ClusterMesh or an MCS implementation) goes instead to every cluster
//! holding replicas of any planned workload in its namespace. Every object of these kinds is
//! a [`Dependent`], used or not, so that the plan lists the ones that go nowhere; the core's
//! [`fleetplan::follow`] decides where each goes. References to objects that are not among
//! the apps are left to the clusters (another tool may make them there).
//!
//! **Never carried**, because every cluster has its own: the ConfigMap `kube-root-ca.crt`,
//! the ServiceAccount `default`, Secrets of type `kubernetes.io/service-account-token`, and
//! the Service `default/kubernetes`.
//!
//! **The copy** ([`copy_for`]) keeps the object's labels, annotations (less `fleetplan.io/`
//! ones and kubectl's last-applied configuration) and content, adds fleetplan's ownership
//! labels, and drops what the API server allocated in the management cluster: a Service's
//! cluster IPs (a headless Service stays headless), node ports and health-check node port, a
//! claim's bound volume and binding annotations, a ServiceAccount's token Secrets, every
//! status. A PodDisruptionBudget's integer `minAvailable` or `maxUnavailable` is split over
//! the clusters in proportion to the replicas of its workloads each holds (at least 1 where
//! a cluster holds replicas); percentages are kept as they are.

use std::collections::{BTreeMap, BTreeSet};

use fleetplan::follow::{Dependent, ObjectRef};
use fleetplan::{Labels, Plan, WorkloadId};
use k8s_openapi::api::core::v1::{PodSpec, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::error::LoadError;
use crate::files::carried::CarriedObject;
use crate::files::source::deserialize;
use crate::files::workloads::{AppWorkload, DEFAULT_NAMESPACE};
use crate::selector;

/// The annotation, `"true"`, that sends a Service to every cluster running its namespace.
pub const GLOBAL_SERVICE_ANNOTATION: &str = "fleetplan.io/global-service";

/// A kind of object that follows workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FollowKind {
    /// `v1 ConfigMap`.
    ConfigMap,
    /// `v1 Secret`.
    Secret,
    /// `v1 ServiceAccount`.
    ServiceAccount,
    /// `v1 PersistentVolumeClaim`.
    PersistentVolumeClaim,
    /// `v1 Service`.
    Service,
    /// `networking.k8s.io/v1 Ingress`.
    Ingress,
    /// `policy/v1 PodDisruptionBudget`.
    PodDisruptionBudget,
}

impl FollowKind {
    /// Every kind, in the order copies are created: what pods mount first, then what
    /// routes to them.
    pub const ALL: [FollowKind; 7] = [
        FollowKind::ServiceAccount,
        FollowKind::ConfigMap,
        FollowKind::Secret,
        FollowKind::PersistentVolumeClaim,
        FollowKind::Service,
        FollowKind::Ingress,
        FollowKind::PodDisruptionBudget,
    ];

    /// `(group, version, kind)`.
    fn gvk(self) -> (&'static str, &'static str, &'static str) {
        match self {
            FollowKind::ConfigMap => ("", "v1", "ConfigMap"),
            FollowKind::Secret => ("", "v1", "Secret"),
            FollowKind::ServiceAccount => ("", "v1", "ServiceAccount"),
            FollowKind::PersistentVolumeClaim => ("", "v1", "PersistentVolumeClaim"),
            FollowKind::Service => ("", "v1", "Service"),
            FollowKind::Ingress => ("networking.k8s.io", "v1", "Ingress"),
            FollowKind::PodDisruptionBudget => ("policy", "v1", "PodDisruptionBudget"),
        }
    }

    /// The kind's name, such as `ConfigMap`.
    pub fn name(self) -> &'static str {
        self.gvk().2
    }

    /// The kind of an object with this `apiVersion` and `kind`, if it follows workloads.
    pub fn of(api_version: &str, kind: &str) -> Option<FollowKind> {
        FollowKind::ALL.into_iter().find(|k| {
            let (group, version, name) = k.gvk();
            let expected = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            name == kind && expected == api_version
        })
    }

    /// The kind named `name` (as in an [`ObjectRef`]).
    pub fn named(name: &str) -> Option<FollowKind> {
        FollowKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The API resource, for dynamic clients.
    pub fn api_resource(self) -> ApiResource {
        let (group, version, kind) = self.gvk();
        ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
    }
}

/// Every carried object that may follow a workload, with what it must be beside.
///
/// # Errors
/// When such an object does not read as its kind (the error names the file, object and
/// field).
pub(crate) fn dependents(
    workloads: &[AppWorkload],
    carried: &[CarriedObject],
) -> Result<Vec<Dependent>, LoadError> {
    let mut uses: BTreeMap<ObjectRef, Vec<WorkloadId>> = BTreeMap::new();
    for w in workloads {
        let spec = &w.source["spec"]["template"]["spec"];
        let pod: PodSpec = serde_json::from_value(spec.clone()).unwrap_or_default();
        for object in pod_references(&w.workload.id.namespace, &pod) {
            uses.entry(object).or_default().push(w.workload.id.clone());
        }
    }
    let mut out = Vec::new();
    for c in carried {
        let Some((kind, object)) = follow_ref(c) else {
            continue;
        };
        let namespace = &*object.namespace;
        let site = format!("{object}");
        let mut dependent = Dependent::new(object.clone());
        match kind {
            FollowKind::ConfigMap if c.name == "kube-root-ca.crt" => continue,
            FollowKind::ServiceAccount if c.name == "default" => continue,
            FollowKind::Secret => {
                let secret: Secret = deserialize(&c.value(), &c.file, Some(&site))?;
                if secret.type_.as_deref() == Some("kubernetes.io/service-account-token") {
                    continue;
                }
            }
            FollowKind::Service if namespace == "default" && c.name == "kubernetes" => continue,
            FollowKind::Service => {
                let service: Service = deserialize(&c.value(), &c.file, Some(&site))?;
                let global = service
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(GLOBAL_SERVICE_ANNOTATION))
                    .is_some_and(|v| v == "true");
                let spec = service.spec.unwrap_or_default();
                let selector = spec.selector.unwrap_or_default();
                if global {
                    dependent.namespace_wide = true;
                } else if !selector.is_empty() && spec.type_.as_deref() != Some("ExternalName") {
                    dependent.used_by = selected(workloads, namespace, |labels| {
                        selector.iter().all(|(k, v)| labels.get(k) == Some(v))
                    });
                }
            }
            FollowKind::Ingress => {
                let ingress: Ingress = deserialize(&c.value(), &c.file, Some(&site))?;
                let spec = ingress.spec.unwrap_or_default();
                let mut services = BTreeSet::new();
                if let Some(service) = spec.default_backend.as_ref().and_then(|b| b.service.as_ref()) {
                    services.insert(service.name.clone());
                }
                for rule in spec.rules.iter().flatten() {
                    for path in rule.http.iter().flat_map(|h| &h.paths) {
                        if let Some(service) = &path.backend.service {
                            services.insert(service.name.clone());
                        }
                    }
                }
                dependent.beside = services
                    .iter()
                    .map(|s| ObjectRef::new("Service", namespace, s))
                    .collect();
                for secret in spec.tls.iter().flatten().filter_map(|t| t.secret_name.as_deref()) {
                    out.push(Dependent::beside(
                        ObjectRef::new("Secret", namespace, secret),
                        [object.clone()],
                    ));
                }
            }
            FollowKind::PodDisruptionBudget => {
                let pdb: PodDisruptionBudget = deserialize(&c.value(), &c.file, Some(&site))?;
                if let Some(selector) = pdb.spec.and_then(|s| s.selector) {
                    let selector = selector::from_object(&selector);
                    dependent.used_by = selected(workloads, namespace, |labels| {
                        selector.as_ref().is_some_and(|s| s.matches(labels))
                    });
                }
            }
            _ => {}
        }
        if let Some(users) = uses.get(&object) {
            dependent.used_by.extend(users.iter().cloned());
        }
        out.push(dependent);
    }
    Ok(out)
}

/// The kind and reference of a carried object that may follow workloads (its namespace
/// defaulted as `kubectl apply` does without `-n`).
fn follow_ref(c: &CarriedObject) -> Option<(FollowKind, ObjectRef)> {
    let kind = FollowKind::of(&c.api_version, &c.kind)?;
    let namespace = c.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    Some((kind, ObjectRef::new(kind.name(), namespace, &c.name)))
}

impl CarriedObject {
    /// The object as a reference, when it is of a kind that may follow workloads.
    pub fn follow_ref(&self) -> Option<ObjectRef> {
        follow_ref(self).map(|(_, object)| object)
    }
}

/// The carried objects that may follow workloads, by reference.
pub(crate) fn dependent_objects(carried: &[CarriedObject]) -> BTreeMap<ObjectRef, &CarriedObject> {
    carried
        .iter()
        .filter_map(|c| follow_ref(c).map(|(_, object)| (object, c)))
        .collect()
}

/// The workloads of `namespace` whose pod labels `matches` accepts.
fn selected(
    workloads: &[AppWorkload],
    namespace: &str,
    matches: impl Fn(&Labels) -> bool,
) -> Vec<WorkloadId> {
    workloads
        .iter()
        .filter(|w| &*w.workload.id.namespace == namespace && matches(&w.workload.template.labels))
        .map(|w| w.workload.id.clone())
        .collect()
}

/// The ConfigMaps, Secrets, ServiceAccount and claims a pod spec references.
fn pod_references(namespace: &str, pod: &PodSpec) -> BTreeSet<ObjectRef> {
    let mut out = BTreeSet::new();
    let mut add = |kind: &str, name: &str| {
        if !name.is_empty() {
            out.insert(ObjectRef::new(kind, namespace, name));
        }
    };
    for volume in pod.volumes.iter().flatten() {
        if let Some(c) = &volume.config_map {
            add("ConfigMap", &c.name);
        }
        if let Some(name) = volume.secret.as_ref().and_then(|s| s.secret_name.as_deref()) {
            add("Secret", name);
        }
        if let Some(claim) = &volume.persistent_volume_claim {
            add("PersistentVolumeClaim", &claim.claim_name);
        }
        for source in volume.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(c) = &source.config_map {
                add("ConfigMap", &c.name);
            }
            if let Some(s) = &source.secret {
                add("Secret", &s.name);
            }
        }
    }
    let containers = pod.containers.iter().chain(pod.init_containers.iter().flatten());
    let env = containers.clone().flat_map(|c| c.env.iter().flatten());
    let env_from = containers.flat_map(|c| c.env_from.iter().flatten());
    let ephemeral = pod.ephemeral_containers.iter().flatten();
    let ephemeral_env = ephemeral.clone().flat_map(|c| c.env.iter().flatten());
    let ephemeral_env_from = ephemeral.flat_map(|c| c.env_from.iter().flatten());
    for var in env.chain(ephemeral_env) {
        let from = var.value_from.as_ref();
        if let Some(key) = from.and_then(|f| f.config_map_key_ref.as_ref()) {
            add("ConfigMap", &key.name);
        }
        if let Some(key) = from.and_then(|f| f.secret_key_ref.as_ref()) {
            add("Secret", &key.name);
        }
    }
    for source in env_from.chain(ephemeral_env_from) {
        if let Some(c) = &source.config_map_ref {
            add("ConfigMap", &c.name);
        }
        if let Some(s) = &source.secret_ref {
            add("Secret", &s.name);
        }
    }
    for secret in pod.image_pull_secrets.iter().flatten() {
        add("Secret", &secret.name);
    }
    let account = pod
        .service_account_name
        .as_deref()
        .or(pod.service_account.as_deref());
    if let Some(account) = account.filter(|a| *a != "default") {
        add("ServiceAccount", account);
    }
    out
}

/// Annotations that never carry over: fleetplan's own, kubectl's last applied
/// configuration, and a claim's binding by the management cluster.
fn carries_over(annotation: &str) -> bool {
    !(annotation.starts_with("fleetplan.io/")
        || annotation == "kubectl.kubernetes.io/last-applied-configuration"
        || annotation.starts_with("pv.kubernetes.io/")
        || annotation.starts_with("volume.kubernetes.io/")
        || annotation.starts_with("volume.beta.kubernetes.io/"))
}

/// The copy of `object` (a [`FollowKind`]) that a workload cluster gets, with `ownership`
/// labels added. `share` is `(replicas there, replicas in all)` of the workloads it serves,
/// which split a PodDisruptionBudget's integer counts.
pub fn copy_for(
    kind: FollowKind,
    at: &ObjectRef,
    object: &Value,
    ownership: &serde_json::Map<String, Value>,
    share: Option<(u32, u32)>,
) -> Value {
    let metadata = &object["metadata"];
    let mut labels = metadata["labels"].as_object().cloned().unwrap_or_default();
    labels.retain(|k, _| !k.starts_with("fleetplan.io/"));
    labels.extend(ownership.clone());
    let annotations: serde_json::Map<String, Value> = metadata["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| carries_over(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut copy = object.as_object().cloned().unwrap_or_default();
    copy.remove("status");
    let mut meta = json!({"name": &*at.name, "namespace": &*at.namespace, "labels": labels});
    if !annotations.is_empty() {
        meta["annotations"] = Value::Object(annotations);
    }
    copy.insert("metadata".into(), meta);
    let has_spec = copy.get("spec").is_some_and(Value::is_object);
    let mut copy = Value::Object(copy);
    let mut no_spec = Value::Null;
    let spec = if has_spec { &mut copy["spec"] } else { &mut no_spec };
    match kind {
        FollowKind::Service => {
            if let Some(spec) = spec.as_object_mut() {
                let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
                spec.remove("healthCheckNodePort");
                spec.remove("ipFamilies");
                if headless {
                    spec.insert("clusterIP".into(), json!("None"));
                }
                for port in spec
                    .get_mut("ports")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(port) = port.as_object_mut() {
                        port.remove("nodePort");
                    }
                }
            }
        }
        FollowKind::PersistentVolumeClaim => {
            if let Some(spec) = spec.as_object_mut() {
                spec.remove("volumeName");
            }
        }
        FollowKind::ServiceAccount => {
            if let Some(copy) = copy.as_object_mut() {
                copy.remove("secrets");
            }
        }
        FollowKind::PodDisruptionBudget => {
            if let Some((here, total)) = share {
                for field in ["minAvailable", "maxUnavailable"] {
                    if let Some(n) = spec[field].as_u64() {
                        spec[field] = json!(split_count(n, here, total));
                    }
                }
            }
        }
        FollowKind::ConfigMap | FollowKind::Secret | FollowKind::Ingress => {}
    }
    copy
}

/// `n` scaled to a cluster holding `here` of `total` replicas: rounded half up, at least 1
/// where it holds any.
fn split_count(n: u64, here: u32, total: u32) -> u64 {
    if here == 0 || total == 0 {
        return 0;
    }
    let (n, here, total) = (u128::from(n), u128::from(here), u128::from(total));
    let scaled = (n * here * 2 + total) / (total * 2);
    u64::try_from(scaled).unwrap_or(u64::MAX).max(1)
}

/// The replicas `cluster` holds of `users`, and their total in `plan`.
pub fn share(plan: &Plan, users: &[WorkloadId], cluster: &str) -> (u32, u32) {
    let mut here = 0u32;
    let mut total = 0u32;
    for p in plan.placements.iter().filter(|p| users.contains(&p.workload)) {
        total = total.saturating_add(p.replicas);
        if p.cluster.as_str() == cluster {
            here = here.saturating_add(p.replicas);
        }
    }
    (here, total)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use fleetplan::{PlanOptions, plan};

    use super::*;
    use crate::{Scenario, SourceFile, load_sources};

    const FLEET: &str = "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n\
        - {name: a, region: r1, pools: [{name: p, count: 1, allocatable: {cpu: '2', memory: 4Gi}}]}\n\
        - {name: b, region: r2, pools: [{name: p, count: 1, allocatable: {cpu: '2', memory: 4Gi}}]}\n";

    /// A web Deployment pinned to cluster `a` using every kind of reference, and an api
    /// Deployment pinned to `b`.
    const APPS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, annotations: {fleetplan.io/cluster-selector: fleetplan.io/cluster=a}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      serviceAccountName: web
      imagePullSecrets: [{name: registry}]
      volumes:
        - {name: config, configMap: {name: web-config}}
        - {name: certs, secret: {secretName: certs}}
        - {name: data, persistentVolumeClaim: {claimName: data}}
        - name: both
          projected: {sources: [{configMap: {name: shared}}, {secret: {name: projected}}]}
        - {name: ca, configMap: {name: kube-root-ca.crt}}
      containers:
        - name: web
          image: nginx
          env: [{name: K, valueFrom: {secretKeyRef: {name: env-secret, key: k}}}]
          envFrom: [{configMapRef: {name: env-config}}]
          resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop, annotations: {fleetplan.io/cluster-selector: fleetplan.io/cluster=b}}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      serviceAccountName: default
      volumes: [{name: both, configMap: {name: shared}}]
      containers: [{name: api, image: api, resources: {requests: {cpu: 100m, memory: 64Mi}}}]
---
{apiVersion: v1, kind: ConfigMap, metadata: {name: web-config, namespace: shop}, data: {k: v}}
---
{apiVersion: v1, kind: ConfigMap, metadata: {name: shared, namespace: shop}}
---
{apiVersion: v1, kind: ConfigMap, metadata: {name: env-config, namespace: shop}}
---
{apiVersion: v1, kind: ConfigMap, metadata: {name: unused, namespace: shop}}
---
{apiVersion: v1, kind: ConfigMap, metadata: {name: kube-root-ca.crt, namespace: shop}}
---
{apiVersion: v1, kind: Secret, metadata: {name: certs, namespace: shop}, type: kubernetes.io/tls}
---
{apiVersion: v1, kind: Secret, metadata: {name: projected, namespace: shop}}
---
{apiVersion: v1, kind: Secret, metadata: {name: env-secret, namespace: shop}}
---
{apiVersion: v1, kind: Secret, metadata: {name: registry, namespace: shop}}
---
{apiVersion: v1, kind: Secret, metadata: {name: token, namespace: shop}, type: kubernetes.io/service-account-token}
---
{apiVersion: v1, kind: ServiceAccount, metadata: {name: web, namespace: shop}, secrets: [{name: web-token}]}
---
{apiVersion: v1, kind: ServiceAccount, metadata: {name: default, namespace: shop}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop, annotations: {pv.kubernetes.io/bind-completed: "yes", team: shop}}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}, volumeName: pv-1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, annotations: {fleetplan.io/ignored: "x", kubectl.kubernetes.io/last-applied-configuration: "{}"}}
spec:
  selector: {app: web}
  type: LoadBalancer
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10]
  ipFamilies: [IPv4]
  ports: [{port: 80, nodePort: 30080}]
---
{apiVersion: v1, kind: Service, metadata: {name: headless, namespace: shop}, spec: {clusterIP: None, selector: {app: api}}}
---
{apiVersion: v1, kind: Service, metadata: {name: everything, namespace: shop}, spec: {selector: {}}}
---
{apiVersion: v1, kind: Service, metadata: {name: external, namespace: shop}, spec: {type: ExternalName, externalName: example.com}}
---
apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: shop, annotations: {fleetplan.io/global-service: "true"}}
spec: {selector: {app: catalog}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  ingressClassName: alb
  tls: [{hosts: [shop.example.com], secretName: web-tls}]
  rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
---
{apiVersion: v1, kind: Secret, metadata: {name: web-tls, namespace: shop}, type: kubernetes.io/tls}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec: {minAvailable: 1, selector: {matchExpressions: [{key: tier, operator: In, values: [front]}]}}
---
{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: all, namespace: shop}, spec: {maxUnavailable: "50%", selector: {}}}
"#;

    fn scenario(apps: &str) -> Scenario {
        let file = |name: &str, text: &str| SourceFile {
            name: PathBuf::from(name),
            text: text.into(),
        };
        load_sources(
            &[file("fleet.yaml", FLEET)],
            &[file("apps.yaml", apps)],
            Vec::new(),
        )
        .unwrap()
    }

    fn goes_to(plan: &Plan) -> BTreeMap<String, Vec<String>> {
        plan.follow
            .iter()
            .map(|f| {
                (
                    f.object.to_string(),
                    f.clusters.iter().map(|c| c.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn what_a_pod_template_references_follows_its_replicas() {
        let scenario = scenario(APPS);
        let plan = plan(&scenario.problem, &PlanOptions::default()).unwrap();
        let to = goes_to(&plan);
        let a = vec!["a".to_string()];
        for object in [
            "ConfigMap shop/web-config",
            "ConfigMap shop/env-config",
            "Secret shop/certs",
            "Secret shop/projected",
            "Secret shop/env-secret",
            "Secret shop/registry",
            "ServiceAccount shop/web",
            "PersistentVolumeClaim shop/data",
            "Service shop/web",
            "Ingress shop/web",
            "Secret shop/web-tls",
            "PodDisruptionBudget shop/web",
        ] {
            assert_eq!(to.get(object), Some(&a), "{object}");
        }
        let both = vec!["a".to_string(), "b".to_string()];
        assert_eq!(to["ConfigMap shop/shared"], both, "shared by web (a) and api (b)");
        assert_eq!(to["Service shop/headless"], ["b"]);
        assert!(
            to["Service shop/everything"].is_empty(),
            "an empty selector is no selector, as Kubernetes reads it: endpoints are managed by hand"
        );
        assert_eq!(
            to["Service shop/catalog"], both,
            "a global Service goes where its namespace runs"
        );
        assert_eq!(to["PodDisruptionBudget shop/all"], both);
        assert!(to["ConfigMap shop/unused"].is_empty(), "listed, going nowhere");
        assert!(
            to["Service shop/external"].is_empty(),
            "an ExternalName Service selects no pods"
        );
        for own in [
            "ConfigMap shop/kube-root-ca.crt",
            "ServiceAccount shop/default",
            "Secret shop/token",
        ] {
            assert!(!to.contains_key(own), "{own}: every cluster has its own");
        }
    }

    #[test]
    fn copies_drop_what_the_management_cluster_allocated() {
        let scenario = scenario(APPS);
        let objects = scenario.dependent_objects();
        let ownership = serde_json::Map::from_iter([("owner".to_string(), json!("fleetplan"))]);
        let copy = |kind: FollowKind, name: &str, share| {
            let at = ObjectRef::new(kind.name(), "shop", name);
            copy_for(kind, &at, &objects[&at].value(), &ownership, share)
        };
        let service = copy(FollowKind::Service, "web", None);
        assert_eq!(
            service["spec"],
            json!({"selector": {"app": "web"}, "type": "LoadBalancer", "ports": [{"port": 80}]})
        );
        assert_eq!(service["metadata"]["labels"], json!({"owner": "fleetplan"}));
        assert!(service["metadata"].get("annotations").is_none());
        assert_eq!(
            copy(FollowKind::Service, "headless", None)["spec"]["clusterIP"],
            json!("None")
        );
        let claim = copy(FollowKind::PersistentVolumeClaim, "data", None);
        assert!(claim["spec"].get("volumeName").is_none());
        assert_eq!(claim["metadata"]["annotations"], json!({"team": "shop"}));
        assert!(
            copy(FollowKind::ServiceAccount, "web", None)
                .get("secrets")
                .is_none()
        );
        let config = copy(FollowKind::ConfigMap, "web-config", None);
        assert_eq!(config["data"], json!({"k": "v"}));
        assert!(config.get("spec").is_none(), "no field the kind lacks");
        assert_eq!(config["metadata"]["namespace"], json!("shop"));
    }

    #[test]
    fn a_budgets_integer_counts_split_by_each_clusters_share() {
        let scenario = scenario(APPS);
        let objects = scenario.dependent_objects();
        let ownership = serde_json::Map::new();
        let pdb = |name: &str, share| {
            let at = ObjectRef::new("PodDisruptionBudget", "shop", name);
            copy_for(
                FollowKind::PodDisruptionBudget,
                &at,
                &objects[&at].value(),
                &ownership,
                Some(share),
            )["spec"]
                .clone()
        };
        assert_eq!(
            pdb("web", (1, 3))["minAvailable"],
            json!(1),
            "at least 1 where replicas run"
        );
        assert_eq!(
            pdb("all", (1, 3))["maxUnavailable"],
            json!("50%"),
            "percentages kept"
        );
        assert_eq!(split_count(5, 2, 3), 3);
        assert_eq!(split_count(5, 1, 3), 2);
        assert_eq!(split_count(1, 1, 4), 1);
        assert_eq!(split_count(4, 0, 4), 0);
        assert_eq!(split_count(u64::MAX, u32::MAX, u32::MAX), u64::MAX, "no overflow");
    }

    #[test]
    fn a_followable_object_of_the_wrong_shape_names_its_field() {
        let apps =
            "{apiVersion: v1, kind: Service, metadata: {name: web, namespace: shop}, spec: {selector: [1]}}";
        let file = |name: &str, text: &str| SourceFile {
            name: PathBuf::from(name),
            text: text.into(),
        };
        let error = load_sources(
            &[file("fleet.yaml", FLEET)],
            &[file("apps.yaml", apps)],
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("apps.yaml: Service shop/web: spec.selector"),
            "{error}"
        );
    }
}

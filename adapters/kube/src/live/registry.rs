//! The registry: the workload clusters registered in a management cluster (one Secret each,
//! see [`crate::live`]), the fleet-wide settings ConfigMap, and the objects that register
//! a cluster and write the settings.

use std::fmt;
use std::path::PathBuf;

use fleetplan::fargate::{FargateProfile, FargateSettings};
use fleetplan::{Cluster, Labels};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::{LoadError, Location};
use crate::files::fleet::{
    FargateMerge, FargateProfileSpec, account_id, fargate_profiles, is_concise, read_concise,
};
use crate::files::source::{Site, parse_documents};
use crate::live::error::{LiveError, api as api_error};
use crate::live::watch::Reflected;

/// The default namespace of cluster registrations.
pub const REGISTRY_NAMESPACE: &str = "fleetplan-system";
/// The label, `"true"`, that makes a Secret a cluster registration.
pub const CLUSTER_LABEL: &str = "fleetplan.io/cluster";
/// The label giving a registered cluster's region.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
/// The Secret key holding the kubeconfig.
pub const KUBECONFIG_KEY: &str = "kubeconfig";
/// The annotation, `"true"`, that drains a registered cluster.
pub const DRAIN_ANNOTATION: &str = "fleetplan.io/drain";
/// The annotation listing a registered cluster's Fargate profiles.
pub const FARGATE_PROFILES_ANNOTATION: &str = "fleetplan.io/fargate-profiles";
/// The annotation giving a registered cluster's AWS account id.
pub const ACCOUNT_ANNOTATION: &str = "fleetplan.io/aws-account";
/// The ConfigMap, in the registry namespace, of fleet-wide settings.
pub const FLEET_CONFIGMAP: &str = "fleetplan-fleet";
/// The key of [`FLEET_CONFIGMAP`] holding the Fleet document.
pub const FLEET_KEY: &str = "fleet.yaml";

/// A registered workload cluster.
#[derive(Clone)]
pub struct Registration {
    /// The cluster's name (the Secret's).
    pub name: String,
    /// Its region.
    pub region: String,
    /// Its labels (the Secret's, less [`CLUSTER_LABEL`]).
    pub labels: Labels,
    /// Whether it is being drained.
    pub draining: bool,
    /// Its AWS account, if given.
    pub account: Option<String>,
    /// Its Fargate profiles.
    pub fargate_profiles: Vec<FargateProfile>,
    /// The Secret's resource version, to notice a changed kubeconfig.
    pub version: String,
    kubeconfig: Kubeconfig,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("region", &self.region)
            .field("labels", &self.labels)
            .field("draining", &self.draining)
            .field("account", &self.account)
            .field("fargate_profiles", &self.fargate_profiles)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// Reads a registration Secret.
    ///
    /// # Errors
    /// A [`LoadError`] naming the Secret and the field: no name, no region label, no
    /// `kubeconfig` key, one that is not a kubeconfig, or an invalid account or Fargate
    /// profile annotation.
    pub fn from_secret(secret: &Secret) -> Result<Registration, LoadError> {
        let namespace = secret.metadata.namespace.clone().unwrap_or_default();
        let name = secret.metadata.name.clone().unwrap_or_default();
        let at = |field: &str| {
            Box::new(Location {
                file: PathBuf::from("the management cluster"),
                object: Some(format!("Secret {namespace}/{name}")),
                field: Some(field.into()),
            })
        };
        let invalid = |field: &str, message: &str| LoadError::Invalid {
            at: at(field),
            message: message.into(),
        };
        if name.is_empty() {
            return Err(invalid("metadata.name", "missing"));
        }
        let mut labels: Labels = secret
            .metadata
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        labels.remove(CLUSTER_LABEL);
        let region = labels
            .get(REGION_LABEL)
            .filter(|r| !r.is_empty())
            .cloned()
            .ok_or_else(|| {
                invalid(
                    &format!("metadata.labels[{REGION_LABEL}]"),
                    "missing: the cluster's region",
                )
            })?;
        let field = format!("data.{KUBECONFIG_KEY}");
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(KUBECONFIG_KEY))
            .ok_or_else(|| invalid(&field, "missing: the cluster's kubeconfig"))?;
        let text = std::str::from_utf8(&bytes.0).map_err(|_| invalid(&field, "not UTF-8 text"))?;
        // The parser's message could quote the credentials: it is not repeated.
        let kubeconfig =
            Kubeconfig::from_yaml(text).map_err(|_| invalid(&field, "not a valid kubeconfig"))?;
        if kubeconfig.current_context.is_none() {
            return Err(invalid(&field, "the kubeconfig has no current-context"));
        }
        let annotations = secret.metadata.annotations.clone().unwrap_or_default();
        let draining = annotations.get(DRAIN_ANNOTATION).is_some_and(|v| v == "true");
        let site = Site {
            file: PathBuf::from("the management cluster"),
            object: format!("Secret {namespace}/{name}"),
        };
        let annotation = |key: &str| format!("metadata.annotations[{key}]");
        let account = annotations
            .get(ACCOUNT_ANNOTATION)
            .map(|text| account_id(&serde_json::Value::String(text.clone())))
            .transpose()
            .map_err(|m| site.invalid(annotation(ACCOUNT_ANNOTATION), m))?;
        let fargate_profiles = match annotations.get(FARGATE_PROFILES_ANNOTATION) {
            None => Vec::new(),
            Some(text) => {
                let field = annotation(FARGATE_PROFILES_ANNOTATION);
                let specs: Vec<FargateProfileSpec> = serde_norway::from_str(text).map_err(|e| {
                    site.invalid(
                        &field,
                        format!("expected a list of Fargate profiles ({{name, selectors}}): {e}"),
                    )
                })?;
                fargate_profiles(&specs, &site, &field)?
            }
        };
        Ok(Registration {
            account,
            fargate_profiles,
            version: secret.metadata.resource_version.clone().unwrap_or_default(),
            name,
            region,
            labels,
            draining,
            kubeconfig,
        })
    }

    /// A client for the cluster, from its kubeconfig's current context.
    ///
    /// # Errors
    /// When the kubeconfig cannot make a client (the message never quotes credentials).
    pub async fn client(&self) -> Result<Client, LiveError> {
        let failed = |detail: String| LiveError::Client {
            cluster: self.name.clone(),
            detail,
        };
        let config = Config::from_custom_kubeconfig(self.kubeconfig.clone(), &KubeConfigOptions::default())
            .await
            .map_err(|e| failed(format!("cannot use its kubeconfig: {e}")))?;
        Client::try_from(config).map_err(|e| failed(format!("cannot make a client: {e}")))
    }
}

/// The registrations of one namespace, kept by a watch from [`RegistryWatch::start`] until it
/// is dropped: a pass reads them from memory, not by listing.
pub(super) struct RegistryWatch {
    namespace: String,
    secrets: Reflected<Secret>,
}

impl RegistryWatch {
    /// Starts watching the registrations in `namespace` of `mgmt`.
    pub fn start(mgmt: Client, namespace: &str) -> Self {
        let params = ListParams::default().labels(&format!("{CLUSTER_LABEL}=true"));
        RegistryWatch {
            namespace: namespace.to_string(),
            secrets: Reflected::start(Api::namespaced(mgmt, namespace), params, ()),
        }
    }

    /// The registrations, by name. A registration that does not read is an error naming the
    /// Secret.
    ///
    /// # Errors
    /// When the watch has not listed everything yet and a direct list fails, or one is not a
    /// valid registration.
    pub async fn read(&self) -> Result<Vec<Registration>, LiveError> {
        let namespace = &self.namespace;
        self.secrets
            .synced(&format!(
                "cannot list cluster registrations in namespace {namespace}"
            ))
            .await?;
        let mut registrations: Vec<Registration> = self
            .secrets
            .state()
            .iter()
            .map(|secret| Registration::from_secret(secret))
            .collect::<Result<_, _>>()?;
        registrations.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(registrations)
    }
}

/// The fleet-wide settings in the ConfigMap [`FLEET_CONFIGMAP`] of `namespace`: its Fargate
/// quotas and rates; the defaults without the ConfigMap.
///
/// # Errors
/// When the ConfigMap cannot be read, has no [`FLEET_KEY`], or that is not a Fleet document
/// holding only `fargate` (the message names the ConfigMap, document and field).
pub(super) async fn read_fleet_settings(
    mgmt: &Client,
    namespace: &str,
) -> Result<FargateSettings, LiveError> {
    let api: Api<ConfigMap> = Api::namespaced(mgmt.clone(), namespace);
    let map = api.get_opt(FLEET_CONFIGMAP).await.map_err(api_error(format!(
        "cannot read the fleet settings (ConfigMap {namespace}/{FLEET_CONFIGMAP})"
    )))?;
    let Some(map) = map else {
        return Ok(FargateSettings::default());
    };
    let file = PathBuf::from(format!(
        "ConfigMap {namespace}/{FLEET_CONFIGMAP}, key {FLEET_KEY}"
    ));
    let text = map
        .data
        .as_ref()
        .and_then(|d| d.get(FLEET_KEY))
        .ok_or_else(|| LoadError::Invalid {
            at: Box::new(Location::file(&file)),
            message: "missing (a Fleet document with a `fargate` section)".into(),
        })?;
    Ok(fleet_settings(text, &file)?)
}

/// The Fargate settings of the Fleet documents of `text`, read from `file`.
fn fleet_settings(text: &str, file: &std::path::Path) -> Result<FargateSettings, LoadError> {
    let mut merge = FargateMerge::default();
    for document in parse_documents(text, file)? {
        let at = |field: &str| {
            Box::new(Location {
                file: file.to_path_buf(),
                object: Some(format!("document {}", document.number)),
                field: Some(field.into()),
            })
        };
        if !is_concise(&document.value) {
            return Err(LoadError::Invalid {
                at: at("kind"),
                message: "expected a `fleetplan.io/v1` `Fleet` document".into(),
            });
        }
        let fleet = read_concise(&document.value, file)?;
        let field = match (fleet.clusters.is_empty(), fleet.current.is_empty()) {
            (false, _) => Some("clusters"),
            (_, false) => Some("current"),
            _ => None,
        };
        if let Some(field) = field {
            return Err(LoadError::Invalid {
                at: at(field),
                message:
                    "not read here: clusters come from the registry and running replicas from the clusters; \
                          give only `fargate`"
                        .into(),
            });
        }
        merge.add(fleet.fargate)?;
    }
    Ok(merge.finish())
}

/// The registration Secret of `cluster` in `namespace` (see the module documentation): its
/// region and labels, its account and Fargate profiles as annotations, and `kubeconfig`
/// with the context named like the cluster made current.
///
/// # Errors
/// When the kubeconfig has no context of that name.
pub fn registration_secret(
    cluster: &Cluster,
    kubeconfig: &Kubeconfig,
    namespace: &str,
) -> Result<serde_json::Value, LiveError> {
    let name = cluster.name.as_str();
    if !kubeconfig.contexts.iter().any(|c| c.name == name) {
        return Err(LiveError::NoContext { context: name.into() });
    }
    let mut own = kubeconfig.clone();
    own.current_context = Some(name.to_string());
    let text = serde_json::to_string(&own).map_err(|source| LiveError::Serialize {
        what: "a kubeconfig",
        source,
    })?;
    let mut labels: serde_json::Map<String, serde_json::Value> = cluster
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!(v)))
        .collect();
    labels.insert(CLUSTER_LABEL.into(), serde_json::json!("true"));
    labels.insert(REGION_LABEL.into(), serde_json::json!(cluster.region.as_str()));
    let mut annotations = serde_json::Map::new();
    if let Some(account) = &cluster.account {
        annotations.insert(ACCOUNT_ANNOTATION.into(), serde_json::json!(account));
    }
    let profiles: Vec<&FargateProfile> = cluster.pools.iter().filter_map(|p| p.fargate.as_ref()).collect();
    if !profiles.is_empty() {
        let profiles = serde_json::to_string(&profiles).map_err(|source| LiveError::Serialize {
            what: "Fargate profiles",
            source,
        })?;
        annotations.insert(FARGATE_PROFILES_ANNOTATION.into(), serde_json::json!(profiles));
    }
    Ok(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
        "type": "Opaque",
        "stringData": {KUBECONFIG_KEY: text},
    }))
}

/// The fleet-settings ConfigMap ([`FLEET_CONFIGMAP`] in `namespace`) holding `text`, a Fleet
/// document with only its `fargate` section, read from `file`.
///
/// # Errors
/// When `text` is not such a document (the error names the file, document and field).
pub fn fleet_settings_configmap(
    text: &str,
    file: &std::path::Path,
    namespace: &str,
) -> Result<serde_json::Value, LoadError> {
    fleet_settings(text, file)?;
    Ok(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": FLEET_CONFIGMAP, "namespace": namespace},
        "data": {FLEET_KEY: text},
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: east\ncontexts:\n- name: east\n  context: {cluster: east, user: admin}\nclusters:\n- name: east\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: admin\n  user: {token: s3cr3t-token}\n";

    fn secret(labels: &[(&str, &str)], kubeconfig: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("east".into()),
                namespace: Some(REGISTRY_NAMESPACE.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                annotations: Some(BTreeMap::from([(DRAIN_ANNOTATION.into(), "true".into())])),
                ..ObjectMeta::default()
            },
            data: kubeconfig
                .map(|k| BTreeMap::from([(KUBECONFIG_KEY.into(), ByteString(k.as_bytes().to_vec()))])),
            ..Secret::default()
        }
    }

    #[test]
    fn a_registration_reads_region_labels_and_drain_and_hides_the_kubeconfig() {
        let s = secret(
            &[
                (CLUSTER_LABEL, "true"),
                (REGION_LABEL, "us-east-1"),
                ("env", "prod"),
            ],
            Some(KUBECONFIG),
        );
        let r = Registration::from_secret(&s).unwrap();
        assert_eq!(
            (r.name.as_str(), r.region.as_str(), r.draining),
            ("east", "us-east-1", true)
        );
        assert_eq!(r.labels.get("env").map(String::as_str), Some("prod"));
        assert!(!r.labels.contains_key(CLUSTER_LABEL));
        let shown = format!("{r:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn a_written_registration_reads_back_with_its_profiles_and_account() {
        use fleetplan::NodePool;
        use fleetplan::fargate::FargateSelector;
        let mut cluster = Cluster::new("east", "us-east-1");
        cluster.account = Some("123456789012".into());
        cluster.labels.insert("env".into(), "prod".into());
        let profile = FargateProfile::new("fp-shop", vec![FargateSelector::new("shop")]);
        cluster.pools.push(NodePool::fargate(profile.clone()));
        let kubeconfig = Kubeconfig::from_yaml(KUBECONFIG).unwrap();
        let written = registration_secret(&cluster, &kubeconfig, REGISTRY_NAMESPACE).unwrap();
        let mut secret: Secret = serde_json::from_value(written).unwrap();
        // The API server turns stringData into data.
        let text = secret.string_data.take().unwrap().remove(KUBECONFIG_KEY).unwrap();
        secret.data = Some(BTreeMap::from([(
            KUBECONFIG_KEY.into(),
            ByteString(text.into_bytes()),
        )]));
        let read = Registration::from_secret(&secret).unwrap();
        assert_eq!((read.name.as_str(), read.region.as_str()), ("east", "us-east-1"));
        assert_eq!(read.account.as_deref(), Some("123456789012"));
        assert_eq!(read.labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(read.fargate_profiles, [profile]);
        let missing = registration_secret(
            &Cluster::new("west", "us-west-2"),
            &kubeconfig,
            REGISTRY_NAMESPACE,
        );
        assert_eq!(
            missing.unwrap_err().to_string(),
            "the kubeconfig has no context `west`"
        );
    }

    #[test]
    fn registration_errors_name_the_secret_and_field_without_credentials() {
        let no_region = secret(&[(CLUSTER_LABEL, "true")], Some(KUBECONFIG));
        let e = Registration::from_secret(&no_region).unwrap_err().to_string();
        assert!(
            e.contains("Secret fleetplan-system/east") && e.contains(REGION_LABEL),
            "{e}"
        );
        let no_config = secret(&[(REGION_LABEL, "us-east-1")], None);
        let e = Registration::from_secret(&no_config).unwrap_err().to_string();
        assert!(e.contains("data.kubeconfig") && e.contains("missing"), "{e}");
        let bad = secret(&[(REGION_LABEL, "us-east-1")], Some("token: s3cr3t-token: ["));
        let e = Registration::from_secret(&bad).unwrap_err().to_string();
        assert!(
            e.contains("not a valid kubeconfig") && !e.contains("s3cr3t"),
            "{e}"
        );
    }

    #[test]
    fn a_registration_reads_its_account_and_fargate_profiles_and_names_bad_ones() {
        let mut s = secret(
            &[(CLUSTER_LABEL, "true"), (REGION_LABEL, "us-east-1")],
            Some(KUBECONFIG),
        );
        let annotations = s.metadata.annotations.get_or_insert_default();
        annotations.insert(ACCOUNT_ANNOTATION.into(), "012345678901".into());
        annotations.insert(
            FARGATE_PROFILES_ANNOTATION.into(),
            "- name: fp-shop\n  selectors: [{namespace: shop}]\n- {name: fp-batch, selectors: [{namespace: batch, labels: {compute: fargate}}]}\n".into(),
        );
        let r = Registration::from_secret(&s).unwrap();
        assert_eq!(r.account.as_deref(), Some("012345678901"));
        let names: Vec<&str> = r.fargate_profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["fp-shop", "fp-batch"]);
        assert_eq!(r.fargate_profiles[1].selectors[0].labels["compute"], "fargate");

        let with = |key: &str, value: &str| {
            let mut bad = s.clone();
            bad.metadata
                .annotations
                .get_or_insert_default()
                .insert(key.into(), value.into());
            Registration::from_secret(&bad).unwrap_err().to_string()
        };
        let e = with(
            FARGATE_PROFILES_ANNOTATION,
            "- {name: fp, selectors: [{namespace: ''}]}",
        );
        assert!(
            e.contains("Secret fleetplan-system/east")
                && e.contains(
                    "metadata.annotations[fleetplan.io/fargate-profiles][0].selectors[0].namespace"
                ),
            "{e}"
        );
        let e = with(FARGATE_PROFILES_ANNOTATION, "{name: fp}");
        assert!(e.contains("expected a list of Fargate profiles"), "{e}");
        let e = with(ACCOUNT_ANNOTATION, " ");
        assert!(
            e.contains("metadata.annotations[fleetplan.io/aws-account]"),
            "{e}"
        );
    }

    #[test]
    fn fleet_settings_take_only_the_fargate_section() {
        let file = std::path::Path::new("ConfigMap fleetplan-system/fleetplan-fleet, key fleet.yaml");
        let settings = fleet_settings(
            "apiVersion: fleetplan.io/v1\nkind: Fleet\nfargate:\n  quotas:\n  - {region: us-west-2, vcpus: 16}\n",
            file,
        )
        .unwrap();
        assert_eq!(settings.quota_vcpus(None, "us-west-2"), 16);
        assert_eq!(
            settings.quota_vcpus(None, "eu-west-1"),
            fleetplan::fargate::DEFAULT_QUOTA_VCPUS
        );
        let e = fleet_settings(
            "apiVersion: fleetplan.io/v1\nkind: Fleet\nclusters:\n- {name: a, region: r}\n",
            file,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("fleetplan-fleet") && e.contains("clusters") && e.contains("registry"),
            "{e}"
        );
        let e = fleet_settings("apiVersion: v1\nkind: ConfigMap\n", file)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected a `fleetplan.io/v1` `Fleet` document"), "{e}");
    }
}

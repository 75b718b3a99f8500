//! Which objects the adapter plans, which it carries along, and which it rejects.
//!
//! `apps/v1 Deployment` and `batch/v1 Job` become workloads; `scheduling.k8s.io/v1
//! PriorityClass` objects resolve `priorityClassName` (and are carried too). Every other kind
//! of a built-in Kubernetes API group is carried along unplanned, and so is every kind of a
//! group that is not built in (custom resources). A kind that a built-in group does not have
//! (`apps/v1 Deploymnet`, `v1 Foo`) is an error: it is almost always a typo.

/// What the adapter does with an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `apps/v1 Deployment`: planned.
    Deployment,
    /// `batch/v1 Job`: planned.
    Job,
    /// `scheduling.k8s.io/v1 PriorityClass`: read for priorities and carried.
    PriorityClass,
    /// Carried along unplanned.
    Carried,
    /// A built-in group without this kind.
    Unknown,
    /// A planned kind at an API version the adapter does not read (such as `apps/v1beta2`).
    UnsupportedVersion,
}

/// The built-in API groups and their kinds (Kubernetes 1.37; the core group is ``).
const BUILT_IN: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "List",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        ],
    ),
    (
        "apps",
        &[
            "ControllerRevision",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
        ],
    ),
    ("batch", &["CronJob", "Job"]),
    ("autoscaling", &["HorizontalPodAutoscaler", "Scale"]),
    ("policy", &["Eviction", "PodDisruptionBudget"]),
    (
        "networking.k8s.io",
        &[
            "IPAddress",
            "Ingress",
            "IngressClass",
            "NetworkPolicy",
            "ServiceCIDR",
        ],
    ),
    (
        "rbac.authorization.k8s.io",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    ("scheduling.k8s.io", &["PriorityClass", "Workload"]),
    (
        "storage.k8s.io",
        &[
            "CSIDriver",
            "CSINode",
            "CSIStorageCapacity",
            "StorageClass",
            "VolumeAttachment",
            "VolumeAttributesClass",
        ],
    ),
    ("apiextensions.k8s.io", &["CustomResourceDefinition"]),
    (
        "admissionregistration.k8s.io",
        &[
            "MutatingAdmissionPolicy",
            "MutatingAdmissionPolicyBinding",
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ValidatingWebhookConfiguration",
        ],
    ),
    ("apiregistration.k8s.io", &["APIService"]),
    (
        "certificates.k8s.io",
        &[
            "CertificateSigningRequest",
            "ClusterTrustBundle",
            "PodCertificateRequest",
        ],
    ),
    ("coordination.k8s.io", &["Lease", "LeaseCandidate"]),
    ("discovery.k8s.io", &["EndpointSlice"]),
    ("events.k8s.io", &["Event"]),
    (
        "flowcontrol.apiserver.k8s.io",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    ("internal.apiserver.k8s.io", &["StorageVersion"]),
    ("node.k8s.io", &["RuntimeClass"]),
    (
        "resource.k8s.io",
        &[
            "DeviceClass",
            "DeviceTaintRule",
            "ResourceClaim",
            "ResourceClaimTemplate",
            "ResourceSlice",
        ],
    ),
    ("storagemigration.k8s.io", &["StorageVersionMigration"]),
    (
        "authentication.k8s.io",
        &["SelfSubjectReview", "TokenRequest", "TokenReview"],
    ),
    (
        "authorization.k8s.io",
        &[
            "LocalSubjectAccessReview",
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
            "SubjectAccessReview",
        ],
    ),
    // Removed long ago, but still built-in: its old kinds are unknown, not custom resources.
    ("extensions", &[]),
];

/// Classifies an object by its API group, version and kind.
pub(crate) fn classify(group: &str, version: &str, kind: &str) -> Role {
    let planned = match (group, kind) {
        ("apps", "Deployment") => Some(("v1", Role::Deployment)),
        ("batch", "Job") => Some(("v1", Role::Job)),
        ("scheduling.k8s.io", "PriorityClass") => Some(("v1", Role::PriorityClass)),
        _ => None,
    };
    if let Some((wanted, class)) = planned {
        return if version == wanted {
            class
        } else {
            Role::UnsupportedVersion
        };
    }
    match BUILT_IN.iter().find(|(g, _)| *g == group) {
        Some((_, kinds)) if kinds.contains(&kind) => Role::Carried,
        Some(_) => Role::Unknown,
        None => Role::Carried,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify("apps", "v1", "Deployment"), Role::Deployment);
        assert_eq!(classify("batch", "v1", "Job"), Role::Job);
        assert_eq!(
            classify("scheduling.k8s.io", "v1", "PriorityClass"),
            Role::PriorityClass
        );
        assert_eq!(
            classify("apps", "v1beta2", "Deployment"),
            Role::UnsupportedVersion
        );
        for (group, kind) in [
            ("", "Service"),
            ("", "ConfigMap"),
            ("", "Secret"),
            ("", "Namespace"),
            ("", "ServiceAccount"),
            ("autoscaling", "HorizontalPodAutoscaler"),
            ("policy", "PodDisruptionBudget"),
            ("networking.k8s.io", "Ingress"),
            ("networking.k8s.io", "NetworkPolicy"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            ("cert-manager.io", "Certificate"),
            ("gateway.networking.k8s.io", "HTTPRoute"),
        ] {
            assert_eq!(classify(group, "v1", kind), Role::Carried, "{group} {kind}");
        }
        assert_eq!(classify("apps", "v1", "Deploymnet"), Role::Unknown);
        assert_eq!(classify("", "v1", "Foo"), Role::Unknown);
        assert_eq!(classify("extensions", "v1beta1", "Deployment"), Role::Unknown);
    }
}

//! A stand-in for the AWS Load Balancer Controller in each workload cluster of the bed, as
//! the [`crate::fargate`] admission policy stands in for EKS's Fargate: for every Ingress
//! of class `alb` it keeps one application load balancer in a moto server's ELBv2 API, in
//! the cluster's region, and writes the load balancer's DNS name to the Ingress's
//! `status.loadBalancer.ingress[0].hostname`; when the Ingress goes, so does the load
//! balancer. Later DNS work then reads real ELBv2 data (names, DNS names, hosted zone ids,
//! tags) from moto, as it would from AWS.
//!
//! What it copies from the real controller: the class (`spec.ingressClassName: alb`, or the
//! older annotation `kubernetes.io/ingress.class: alb`), the scheme annotation
//! (`alb.ingress.kubernetes.io/scheme`, default `internal`), the name
//! `k8s-<namespace>-<name>-<hash>` (each part cut to 8 characters, a 10-character hash over
//! the cluster, the Ingress and the scheme, so that clusters sharing a region and account
//! get distinct load balancers), the tags `elbv2.k8s.aws/cluster` and `ingress.k8s.aws/stack`
//! (`namespace/name`), and the region's default subnets. What it does not do: listeners,
//! target groups, rules, certificates, IngressGroups, security groups, or any traffic;
//! moto's load balancers answer no request.
//!
//! It polls each cluster every half second from a thread of its own, so that it keeps
//! working while the caller blocks; a cluster whose API server is down is skipped until it
//! answers again. What it did and what failed goes to `load-balancers.log` in the bed's
//! folder.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client as Elbv2;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Tag};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, io};

/// The tag naming the cluster whose controller owns a load balancer.
pub const CLUSTER_TAG: &str = "elbv2.k8s.aws/cluster";
/// The tag naming the Ingress (`namespace/name`) a load balancer serves.
pub const STACK_TAG: &str = "ingress.k8s.aws/stack";
/// The Ingress class the controller serves.
pub const ALB_CLASS: &str = "alb";
/// The annotation choosing `internet-facing` or `internal` (the default).
pub const SCHEME_ANNOTATION: &str = "alb.ingress.kubernetes.io/scheme";

/// How often each cluster is looked at.
const POLL: Duration = Duration::from_millis(500);

/// Whether the AWS Load Balancer Controller serves this Ingress.
pub fn is_alb(ingress: &Ingress) -> bool {
    let class = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref());
    let legacy = ingress
        .annotations()
        .get("kubernetes.io/ingress.class")
        .map(String::as_str);
    class.or(legacy) == Some(ALB_CLASS)
}

/// The load balancer's scheme: the annotation's value, `internal` when absent.
pub fn scheme(ingress: &Ingress) -> String {
    ingress
        .annotations()
        .get(SCHEME_ANNOTATION)
        .cloned()
        .unwrap_or_else(|| "internal".into())
}

/// The name the controller gives the load balancer of Ingress `namespace/name` in
/// `cluster`: `k8s-`, the namespace and the name with anything but letters, digits and `-`
/// removed and each cut to 8 characters, then 10 hexadecimal digits of a SHA-256 over the
/// cluster, the Ingress and the scheme (at most 32 characters, ELBv2's limit).
pub fn load_balancer_name(cluster: &str, namespace: &str, name: &str, scheme: &str) -> String {
    let part = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(8)
            .collect()
    };
    let mut hash = Sha256::new();
    for field in [cluster, namespace, name, scheme] {
        hash.update(field.as_bytes());
        hash.update([0]);
    }
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("k8s-{}-{}-{}", part(namespace), part(name), &digest[..10])
}

/// One workload cluster the stand-in serves.
pub(crate) struct Served {
    /// The cluster's name (the kubeconfig context).
    pub cluster: String,
    /// The AWS region its load balancers go to.
    pub region: String,
    /// An administrator's client.
    pub client: Client,
}

/// The running stand-in; dropping it stops the thread (the load balancers stay in moto).
pub(crate) struct LoadBalancerController {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LoadBalancerController {
    /// Starts serving `clusters` against the ELBv2 and EC2 APIs at `endpoint`, logging to
    /// `log`.
    pub fn start(clusters: Vec<Served>, endpoint: &str, log: &Path) -> Result<Self, Error> {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(io(format!("cannot open {}", log.display())))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io("cannot start the load balancer stand-in's runtime"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let endpoint = endpoint.to_owned();
        let thread = std::thread::Builder::new()
            .name("alb-stand-in".into())
            .spawn(move || runtime.block_on(serve(clusters, endpoint, log, stopping)))
            .map_err(io("cannot start the load balancer stand-in's thread"))?;
        Ok(LoadBalancerController {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for LoadBalancerController {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A load balancer the stand-in made, by the Ingress it serves.
struct Made {
    name: String,
    arn: String,
    dns: String,
}

/// The stand-in's state for one cluster.
struct ClusterState {
    served: Served,
    elbv2: Elbv2,
    /// By `namespace/name` of the Ingress.
    made: BTreeMap<String, Made>,
    /// The region's default subnets, once known.
    subnets: Vec<String>,
}

async fn serve(clusters: Vec<Served>, endpoint: String, mut log: std::fs::File, stop: Arc<AtomicBool>) {
    let mut states = Vec::new();
    for served in clusters {
        let config = crate::moto::sdk_config(&endpoint, &served.region).await;
        states.push(ClusterState {
            elbv2: Elbv2::new(&config),
            served,
            made: BTreeMap::new(),
            subnets: Vec::new(),
        });
    }
    while !stop.load(Ordering::Relaxed) {
        for state in &mut states {
            if let Err(error) = reconcile(state, &endpoint, &mut log).await {
                let _ = writeln!(log, "cluster {}: {error}", state.served.cluster);
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One look at one cluster: a load balancer for each `alb` Ingress that has none, its DNS
/// name on the Ingress, and the load balancers of Ingresses that are gone deleted.
async fn reconcile(state: &mut ClusterState, endpoint: &str, log: &mut std::fs::File) -> Result<(), String> {
    let ingresses: Api<Ingress> = Api::all(state.served.client.clone());
    // A cluster that does not answer keeps its load balancers: an outage is no deletion.
    let Ok(list) = ingresses.list(&ListParams::default()).await else {
        return Ok(());
    };
    let mut wanted = BTreeSet::new();
    for ingress in list.items.iter().filter(|i| is_alb(i)) {
        let namespace = ingress.namespace().unwrap_or_default();
        let stack = format!("{namespace}/{}", ingress.name_any());
        let name = load_balancer_name(
            &state.served.cluster,
            &namespace,
            &ingress.name_any(),
            &scheme(ingress),
        );
        if state.made.get(&stack).is_none_or(|m| m.name != name) {
            let made = ensure(state, endpoint, &stack, &name, &scheme(ingress)).await?;
            let _ = writeln!(
                log,
                "cluster {}: Ingress {stack}: load balancer {} ({})",
                state.served.cluster, made.name, made.dns
            );
            state.made.insert(stack.clone(), made);
        }
        let dns = &state.made[&stack].dns;
        let shown = ingress
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .and_then(|i| i.first())
            .and_then(|i| i.hostname.as_deref());
        if shown != Some(dns.as_str()) {
            let status = serde_json::json!({"status": {"loadBalancer": {"ingress": [{"hostname": dns}]}}});
            Api::<Ingress>::namespaced(state.served.client.clone(), &namespace)
                .patch_status(
                    &ingress.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&status),
                )
                .await
                .map_err(|e| format!("Ingress {stack}: cannot write its status: {e}"))?;
        }
        wanted.insert(stack);
    }
    let gone: Vec<String> = state
        .made
        .keys()
        .filter(|s| !wanted.contains(*s))
        .cloned()
        .collect();
    for stack in gone {
        let made = &state.made[&stack];
        state
            .elbv2
            .delete_load_balancer()
            .load_balancer_arn(&made.arn)
            .send()
            .await
            .map_err(|e| format!("DeleteLoadBalancer {}: {}", made.name, aws_error(&e)))?;
        let _ = writeln!(
            log,
            "cluster {}: Ingress {stack} is gone: deleted {}",
            state.served.cluster, made.name
        );
        state.made.remove(&stack);
    }
    Ok(())
}

/// The load balancer named `name`: found in ELBv2 (made by an earlier stand-in, or before an
/// Ingress changed its scheme) or created.
async fn ensure(
    state: &mut ClusterState,
    endpoint: &str,
    stack: &str,
    name: &str,
    scheme: &str,
) -> Result<Made, String> {
    let found = state.elbv2.describe_load_balancers().names(name).send().await;
    let existing = found
        .ok()
        .and_then(|out| out.load_balancers.and_then(|l| l.into_iter().next()));
    let balancer = match existing {
        Some(balancer) => balancer,
        None => {
            if state.subnets.is_empty() {
                state.subnets = default_subnets(endpoint, &state.served.region).await?;
            }
            let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build();
            let out = state
                .elbv2
                .create_load_balancer()
                .name(name)
                .r#type(LoadBalancerTypeEnum::Application)
                .scheme(LoadBalancerSchemeEnum::from(scheme))
                .set_subnets(Some(state.subnets.iter().take(2).cloned().collect()))
                .tags(tag(CLUSTER_TAG, &state.served.cluster))
                .tags(tag(STACK_TAG, stack))
                .send()
                .await
                .map_err(|e| format!("CreateLoadBalancer {name}: {}", aws_error(&e)))?;
            out.load_balancers
                .and_then(|l| l.into_iter().next())
                .ok_or_else(|| format!("CreateLoadBalancer {name}: no load balancer in the answer"))?
        }
    };
    Ok(Made {
        name: name.to_owned(),
        arn: balancer.load_balancer_arn.unwrap_or_default(),
        dns: balancer.dns_name.unwrap_or_default(),
    })
}

/// The default subnets of `region` in moto's EC2, as the controller discovers subnets.
/// One Query API call, made by hand: moto checks no signature and reads the region from the
/// credential scope, and this is the bed's only EC2 call (the EC2 SDK is a large build).
pub async fn default_subnets(endpoint: &str, region: &str) -> Result<Vec<String>, String> {
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let body = "Action=DescribeSubnets&Version=2016-11-15&Filter.1.Name=default-for-az&Filter.1.Value.1=true";
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testbed/20260101/{region}/ec2/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let fail = |e: std::io::Error| format!("EC2 DescribeSubnets at {endpoint}: {e}");
    let mut stream = tokio::net::TcpStream::connect(address).await.map_err(fail)?;
    stream.write_all(request.as_bytes()).await.map_err(fail)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.map_err(fail)?;
    let subnets: Vec<String> = answer
        .split("<subnetId>")
        .skip(1)
        .filter_map(|rest| rest.split("</subnetId>").next())
        .map(str::to_owned)
        .collect();
    if subnets.is_empty() {
        return Err(format!(
            "EC2 DescribeSubnets at {endpoint} gave no default subnet in {region}: {answer}"
        ));
    }
    Ok(subnets)
}

/// An SDK error with the service's code and message.
fn aws_error<E, R>(error: &aws_sdk_elasticloadbalancingv2::error::SdkError<E, R>) -> String
where
    E: aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or_default()
        ),
        None => aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext(error).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingress(value: serde_json::Value) -> Ingress {
        serde_json::from_value(value).expect("an Ingress")
    }

    #[test]
    fn names_are_cut_and_hashed_per_cluster_as_the_controller_names_them() {
        let a = load_balancer_name("us-west-2-a", "shop", "web", "internet-facing");
        let b = load_balancer_name("us-west-2-b", "shop", "web", "internet-facing");
        assert!(
            a.starts_with("k8s-shop-web-") && a.len() == "k8s-shop-web-".len() + 10,
            "{a}"
        );
        assert_ne!(a, b, "two clusters in one region get two load balancers");
        assert_eq!(
            a,
            load_balancer_name("us-west-2-a", "shop", "web", "internet-facing")
        );
        assert_ne!(a, load_balancer_name("us-west-2-a", "shop", "web", "internal"));
        let long = load_balancer_name("c", "production-eu", "storefront.v2_app", "internal");
        assert!(long.starts_with("k8s-producti-storefro-"), "{long}");
        assert!(long.len() <= 32, "{long}");
    }

    #[test]
    fn the_class_comes_from_the_spec_or_the_old_annotation() {
        let by_spec =
            ingress(serde_json::json!({"metadata": {"name": "a"}, "spec": {"ingressClassName": "alb"}}));
        let by_annotation = ingress(serde_json::json!({"metadata": {"name": "a",
            "annotations": {"kubernetes.io/ingress.class": "alb"}}}));
        let nginx =
            ingress(serde_json::json!({"metadata": {"name": "a"}, "spec": {"ingressClassName": "nginx"}}));
        assert!(is_alb(&by_spec) && is_alb(&by_annotation) && !is_alb(&nginx));
        assert_eq!(scheme(&by_spec), "internal");
        let public = ingress(serde_json::json!({"metadata": {"name": "a",
            "annotations": {SCHEME_ANNOTATION: "internet-facing"}}}));
        assert_eq!(scheme(&public), "internet-facing");
    }
}

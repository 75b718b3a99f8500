//! The test bed: a shared etcd and, per cluster, an API server, a controller manager, a
//! scheduler and kwok, plus the merged kubeconfig.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleetplan::Cluster;
use fleetplan::fargate::PROFILE_LABEL;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::config::{
    AuthInfo, Cluster as KubeCluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};
use kube::{Client, Config};
use tempfile::TempDir;

use crate::binaries::Binaries;
use crate::error::{Error, io};
use crate::fargate::{POLICY_NAME, admission_policy, probe_pod};
use crate::load_balancers::{LoadBalancerController, Served};
use crate::nodes::node_objects;
use crate::process::{Process, free_port};

/// The user of [`TestBed::restricted_kubeconfig`].
pub const RESTRICTED_USER: &str = "fleetplan";

/// How long a component gets to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Where one cluster of the bed is reachable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The cluster (and kubeconfig context) name.
    pub name: String,
    /// The API server's URL, `https://127.0.0.1:PORT`.
    pub server: String,
    /// Simulated nodes created.
    pub nodes: usize,
}

/// What a cluster of the bed is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// A cluster that runs pods: every controller, a scheduler, kwok and the nodes of its
    /// pools.
    #[default]
    Workload,
    /// A management control plane, as Karmada's: an API server and a controller manager
    /// without the Deployment, ReplicaSet and Job controllers, no scheduler and no nodes. It
    /// stores Deployments and Jobs and runs none of them; their status is whoever writes it.
    ControlPlane,
}

/// Where a workload cluster's scheduler is among its controllers.
const SCHEDULER: usize = 1;

/// The controllers a [`Role::ControlPlane`] cluster does not run.
pub const CONTROL_PLANE_DISABLED: [&str; 3] =
    ["deployment-controller", "replicaset-controller", "job-controller"];

/// One cluster's control plane.
struct ClusterBed {
    info: ClusterInfo,
    role: Role,
    /// The AWS region of the cluster (where its load balancers go).
    region: String,
    dir: PathBuf,
    api_args: Vec<String>,
    api: Process,
    /// The controller manager, the scheduler and kwok, once the API server is ready.
    controllers: Vec<Process>,
}

/// Several Kubernetes clusters running on this machine. Dropping it stops every process and
/// removes its files.
pub struct TestBed {
    // Dropped first: it talks to the API servers below.
    load_balancers: Option<LoadBalancerController>,
    binaries: Binaries,
    token: String,
    /// The bearer token of [`RESTRICTED_USER`].
    restricted_token: String,
    kubeconfig: PathBuf,
    clusters: Vec<ClusterBed>,
    etcd: Process,
    // Dropped last: the processes above write into it.
    dir: TempDir,
}

impl TestBed {
    /// Starts one Kubernetes cluster per entry of `clusters`, creates their simulated nodes
    /// and waits until every API server answers and every node is `Ready`.
    ///
    /// # Errors
    /// When a binary is missing, a process does not become ready in time (the error shows
    /// the end of its log), or an API call fails.
    pub async fn start(clusters: &[Cluster], binaries: &Binaries) -> Result<TestBed, Error> {
        let roles: Vec<(Cluster, Role)> = clusters.iter().map(|c| (c.clone(), Role::Workload)).collect();
        TestBed::start_with_roles(&roles, binaries).await
    }

    /// As [`TestBed::start`], each cluster in its [`Role`] (a control plane's pools, if any,
    /// get no nodes).
    ///
    /// # Errors
    /// As [`TestBed::start`].
    pub async fn start_with_roles(roles: &[(Cluster, Role)], binaries: &Binaries) -> Result<TestBed, Error> {
        let clusters: Vec<Cluster> = roles
            .iter()
            .map(|(c, role)| match role {
                Role::Workload => c.clone(),
                Role::ControlPlane => Cluster::new(c.name.as_str(), &c.region),
            })
            .collect();
        let clusters = clusters.as_slice();
        let mut names = BTreeSet::new();
        for cluster in clusters {
            let name = cluster.name.as_str();
            let valid = !name.is_empty()
                && name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(Error::BadClusterName { cluster: name.into() });
            }
            if !names.insert(name) {
                return Err(Error::DuplicateCluster { cluster: name.into() });
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("fleetplan-testbed-")
            .tempdir()
            .map_err(io("cannot create the test bed's folder"))?;
        let token = random_token()?;
        let restricted_token = random_token()?;
        std::fs::write(
            dir.path().join("tokens.csv"),
            format!(
                "{token},admin,admin,\"system:masters\"\n{restricted_token},{RESTRICTED_USER},{RESTRICTED_USER}\n"
            ),
        )
        .map_err(io("cannot write the token file"))?;
        service_account_keys(dir.path())?;
        let etcd_port = free_port()?;
        let etcd = start_etcd(binaries, dir.path(), etcd_port)?;
        let mut bed = TestBed {
            load_balancers: None,
            binaries: binaries.clone(),
            token,
            restricted_token,
            kubeconfig: dir.path().join("kubeconfig"),
            clusters: Vec::new(),
            etcd,
            dir,
        };
        bed.wait_for_etcd(etcd_port).await?;
        for (cluster, (_, role)) in clusters.iter().zip(roles) {
            let mut started = bed.start_cluster(cluster, etcd_port)?;
            started.role = *role;
            bed.clusters.push(started);
        }
        bed.write_kubeconfig()?;
        for (i, cluster) in clusters.iter().enumerate() {
            bed.wait_for_api(i).await?;
            bed.start_controllers(i)?;
            bed.clusters[i].info.nodes = bed.create_nodes(i, cluster).await?;
            bed.install_fargate(i, cluster).await?;
        }
        for i in 0..bed.clusters.len() {
            bed.wait_for_nodes(i).await?;
        }
        Ok(bed)
    }

    /// The merged kubeconfig, one context per cluster named after it.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The same contexts as [`TestBed::kubeconfig`], as [`RESTRICTED_USER`]: a user in no
    /// group, allowed nothing until RBAC grants it (the API servers run with RBAC on).
    pub fn restricted_kubeconfig(&self) -> PathBuf {
        self.dir.path().join("restricted.kubeconfig")
    }

    /// The clusters of the bed.
    pub fn clusters(&self) -> Vec<ClusterInfo> {
        self.clusters.iter().map(|c| c.info.clone()).collect()
    }

    /// A client for `cluster`, with short timeouts so that a dead API server fails fast.
    ///
    /// # Errors
    /// [`Error::UnknownCluster`], or a client that cannot be configured.
    pub async fn client(&self, cluster: &str) -> Result<Client, Error> {
        self.index(cluster)?;
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).map_err(|e| Error::Client {
            cluster: cluster.into(),
            detail: e.to_string(),
        })?;
        let options = KubeConfigOptions {
            context: Some(cluster.into()),
            ..KubeConfigOptions::default()
        };
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| Error::Client {
                cluster: cluster.into(),
                detail: e.to_string(),
            })?;
        config.connect_timeout = Some(Duration::from_secs(2));
        config.read_timeout = Some(Duration::from_secs(10));
        Client::try_from(config).map_err(|e| Error::Client {
            cluster: cluster.into(),
            detail: e.to_string(),
        })
    }

    /// Stops `cluster`'s API server, as a cluster failure would; the other components keep
    /// running and reconnect once it is back.
    ///
    /// # Errors
    /// [`Error::UnknownCluster`].
    pub fn stop_api_server(&mut self, cluster: &str) -> Result<(), Error> {
        let i = self.index(cluster)?;
        self.clusters[i].api.stop();
        Ok(())
    }

    /// Stops (`held`) or resumes `cluster`'s scheduler (SIGSTOP, SIGCONT): while it is
    /// held, new pods there stay Pending on no node, as in a cluster whose capacity was not
    /// what it showed.
    ///
    /// # Errors
    /// [`Error::UnknownCluster`], a cluster without a scheduler (a control plane), or the
    /// signal not sent.
    pub fn hold_scheduling(&mut self, cluster: &str, held: bool) -> Result<(), Error> {
        let i = self.index(cluster)?;
        let scheduler = self.clusters[i]
            .controllers
            .get(SCHEDULER)
            .and_then(Process::pid)
            .ok_or_else(|| Error::UnknownCluster {
                cluster: format!("{cluster} (no scheduler)"),
            })?;
        let signal = if held { "-STOP" } else { "-CONT" };
        let status = std::process::Command::new("kill")
            .args([signal, &scheduler.to_string()])
            .status()
            .map_err(io("cannot run kill"))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Io {
                action: format!("kill {signal} {scheduler}"),
                source: std::io::Error::other(format!("the signal was not sent: {status}")),
            })
        }
    }

    /// Starts `cluster`'s API server again on the same port with the same data, and waits
    /// until it answers.
    ///
    /// # Errors
    /// [`Error::UnknownCluster`], or the API server not becoming ready.
    pub async fn start_api_server(&mut self, cluster: &str) -> Result<(), Error> {
        let i = self.index(cluster)?;
        let bed = &self.clusters[i];
        let api = Process::start(&self.binaries.k8s, &bed.api_args, &bed.dir.join("apiserver.log"))?;
        self.clusters[i].api = api;
        self.wait_for_api(i).await
    }

    /// Starts the stand-in for the AWS Load Balancer Controller (see
    /// [`crate::load_balancers`]) in every workload cluster, against the ELBv2 API of the
    /// moto server at `endpoint` (see [`crate::MotoServer`]); it runs until the bed is
    /// dropped. Calling it again replaces the running one.
    ///
    /// # Errors
    /// When a client cannot be configured or the stand-in's thread cannot start.
    pub async fn run_load_balancers(&mut self, endpoint: &str) -> Result<(), Error> {
        self.load_balancers = None;
        let mut served = Vec::new();
        for c in self.clusters.iter().filter(|c| c.role == Role::Workload) {
            served.push(Served {
                cluster: c.info.name.clone(),
                region: c.region.clone(),
                client: self.client(&c.info.name).await?,
            });
        }
        let log = self.dir.path().join("load-balancers.log");
        self.load_balancers = Some(LoadBalancerController::start(served, endpoint, &log)?);
        Ok(())
    }

    /// The process ids of every running process of the bed.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.etcd.pid().into_iter().collect();
        for c in &self.clusters {
            for p in std::iter::once(&c.api).chain(&c.controllers) {
                pids.extend(p.pid());
            }
        }
        pids
    }

    /// The folder holding the bed's logs and data (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn index(&self, cluster: &str) -> Result<usize, Error> {
        self.clusters
            .iter()
            .position(|c| c.info.name == cluster)
            .ok_or_else(|| Error::UnknownCluster {
                cluster: cluster.into(),
            })
    }

    fn start_cluster(&self, cluster: &Cluster, etcd_port: u16) -> Result<ClusterBed, Error> {
        let name = cluster.name.as_str();
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(dir.join("certs")).map_err(io(format!("cannot create {}", dir.display())))?;
        let port = free_port()?;
        let shared = self.dir.path();
        let api_args: Vec<String> = [
            "apiserver".to_string(),
            format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
            format!("--etcd-prefix=/clusters/{name}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={port}"),
            format!("--cert-dir={}", dir.join("certs").display()),
            format!("--token-auth-file={}", shared.join("tokens.csv").display()),
            "--authorization-mode=Node,RBAC".into(),
            "--service-account-issuer=https://kubernetes.default.svc".into(),
            format!("--service-account-key-file={}", shared.join("sa.pub").display()),
            format!(
                "--service-account-signing-key-file={}",
                shared.join("sa.key").display()
            ),
            "--service-cluster-ip-range=10.96.0.0/16".into(),
            "--disable-admission-plugins=ServiceAccount".into(),
            // As EKS and most clusters: privileged pods (node agents) are allowed.
            "--allow-privileged=true".into(),
            "--enable-priority-and-fairness=false".into(),
            "--endpoint-reconciler-type=none".into(),
        ]
        .into();
        let api = Process::start(&self.binaries.k8s, &api_args, &dir.join("apiserver.log"))?;
        Ok(ClusterBed {
            info: ClusterInfo {
                name: name.into(),
                server: format!("https://127.0.0.1:{port}"),
                nodes: 0,
            },
            api_args,
            api,
            controllers: Vec::new(),
            dir,
            role: Role::Workload,
            region: cluster.region.to_string(),
        })
    }

    fn start_controllers(&mut self, i: usize) -> Result<(), Error> {
        let kubeconfig = self.cluster_kubeconfig(i)?;
        let k8s = self.binaries.k8s.clone();
        let kwok = self.binaries.kwok.display().to_string();
        let stages = self.binaries.kwok_stages.clone();
        let c = &mut self.clusters[i];
        let kc = format!("--kubeconfig={}", kubeconfig.display());
        let mut controllers = "*,-serviceaccount-token".to_string();
        if c.role == Role::ControlPlane {
            for disabled in CONTROL_PLANE_DISABLED {
                controllers.push_str(",-");
                controllers.push_str(disabled);
            }
        }
        let controller_manager = Process::start(
            &k8s,
            &[
                "controller-manager".into(),
                kc.clone(),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
                format!("--controllers={controllers}"),
                "--use-service-account-credentials=false".into(),
            ],
            &c.dir.join("controller-manager.log"),
        )?;
        if c.role == Role::ControlPlane {
            c.controllers = vec![controller_manager];
            return Ok(());
        }
        let scheduler = Process::start(
            &k8s,
            &[
                "scheduler".into(),
                kc.clone(),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
            ],
            &c.dir.join("scheduler.log"),
        )?;
        let kwok = Process::start(
            &k8s,
            &[
                "supervise".into(),
                kwok,
                kc,
                format!("--config={}", stages.display()),
                "--manage-all-nodes=false".into(),
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".into(),
                "--server-address=".into(),
            ],
            &c.dir.join("kwok.log"),
        )?;
        // In this order: `SCHEDULER` is the index of the scheduler.
        c.controllers = vec![controller_manager, scheduler, kwok];
        Ok(())
    }

    async fn wait_for_etcd(&mut self, port: u16) -> Result<(), Error> {
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(());
            }
            if !self.etcd.is_running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Error::NotReady {
            cluster: "bed".into(),
            component: "etcd".into(),
            seconds: started.elapsed().as_secs(),
            log: self.etcd.log_tail(),
        })
    }

    async fn wait_for_api(&mut self, i: usize) -> Result<(), Error> {
        let name = self.clusters[i].info.name.clone();
        let client = self.client(&name).await?;
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            let ready = client
                .request_text(http_get("/readyz"))
                .await
                .is_ok_and(|body| body.trim() == "ok");
            if ready {
                return Ok(());
            }
            if !self.clusters[i].api.is_running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(Error::NotReady {
            cluster: name,
            component: "kube-apiserver".into(),
            seconds: started.elapsed().as_secs(),
            log: self.clusters[i].api.log_tail(),
        })
    }

    async fn create_nodes(&self, i: usize, cluster: &Cluster) -> Result<usize, Error> {
        let name = &self.clusters[i].info.name;
        let nodes: Api<Node> = Api::all(self.client(name).await?);
        let objects = node_objects(cluster);
        for node in &objects {
            let node_name = node.metadata.name.clone().unwrap_or_default();
            let kube_error = |action: &str| {
                let action = format!("{action} node {node_name}");
                move |source| Error::Kube {
                    cluster: name.clone(),
                    action,
                    source,
                }
            };
            nodes
                .create(&PostParams::default(), node)
                .await
                .map_err(kube_error("create"))?;
            let status = serde_json::json!({ "status": node.status });
            nodes
                .patch_status(&node_name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .map_err(kube_error("set the status of"))?;
        }
        Ok(objects.len())
    }

    /// Installs the Fargate stand-in's admission policy in cluster `i` when it has Fargate
    /// profiles, and waits until the API server applies it to a new pod (checked with a
    /// dry-run pod in the namespace of the first profile's first selector, which is created).
    async fn install_fargate(&self, i: usize, cluster: &Cluster) -> Result<(), Error> {
        let name = &self.clusters[i].info.name;
        let fargate_error = |detail: String| Error::Fargate {
            cluster: name.clone(),
            detail,
        };
        let Some((policy, binding)) = admission_policy(cluster).map_err(|e| fargate_error(e.0))? else {
            return Ok(());
        };
        let client = self.client(name).await?;
        let kube_error = |action: &'static str| {
            move |source| Error::Kube {
                cluster: name.clone(),
                action: action.into(),
                source,
            }
        };
        let apply = PatchParams::apply("fleetplan-testbed").force();
        for object in [&policy, &binding] {
            let kind = object["kind"].as_str().unwrap_or_default();
            let resource =
                ApiResource::from_gvk(&GroupVersionKind::gvk("admissionregistration.k8s.io", "v1", kind));
            Api::<DynamicObject>::all_with(client.clone(), &resource)
                .patch(POLICY_NAME, &apply, &Patch::Apply(object))
                .await
                .map_err(kube_error("apply the Fargate admission policy"))?;
        }
        let Some((namespace, probe)) = probe_pod(cluster) else {
            return Ok(());
        };
        let namespace_object =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
        Api::<Namespace>::all(client.clone())
            .patch(&namespace, &apply, &Patch::Apply(&namespace_object))
            .await
            .map_err(kube_error("create the Fargate probe's namespace"))?;
        let pods: Api<Pod> = Api::namespaced(client, &namespace);
        let probe: Pod = serde_json::from_value(probe).map_err(|e| fargate_error(e.to_string()))?;
        let dry_run = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            let created = pods
                .create(&dry_run, &probe)
                .await
                .map_err(kube_error("dry-run a Fargate probe pod"))?;
            if created
                .metadata
                .labels
                .is_some_and(|l| l.contains_key(PROFILE_LABEL))
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(fargate_error(format!(
            "the admission policy was not in force after {} s",
            started.elapsed().as_secs()
        )))
    }

    async fn wait_for_nodes(&mut self, i: usize) -> Result<(), Error> {
        let name = self.clusters[i].info.name.clone();
        let nodes: Api<Node> = Api::all(self.client(&name).await?);
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            if let Ok(list) = nodes.list(&Default::default()).await {
                let ready = list.items.iter().filter(|n| is_ready(n)).count();
                if ready == self.clusters[i].info.nodes {
                    return Ok(());
                }
            }
            if !self.clusters[i].controllers.iter_mut().all(Process::is_running) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(Error::NotReady {
            cluster: name,
            component: "kwok (simulated nodes)".into(),
            seconds: started.elapsed().as_secs(),
            log: self.clusters[i]
                .controllers
                .iter()
                .map(Process::log_tail)
                .collect::<Vec<_>>()
                .join("\n---\n"),
        })
    }

    fn kubeconfig_for(&self, clusters: &[&ClusterBed]) -> Kubeconfig {
        self.kubeconfig_as(clusters, "admin", &self.token)
    }

    fn kubeconfig_as(&self, clusters: &[&ClusterBed], user: &str, token: &str) -> Kubeconfig {
        Kubeconfig {
            clusters: clusters
                .iter()
                .map(|c| NamedCluster {
                    name: c.info.name.clone(),
                    cluster: Some(KubeCluster {
                        server: Some(c.info.server.clone()),
                        insecure_skip_tls_verify: Some(true),
                        ..KubeCluster::default()
                    }),
                    other: Default::default(),
                })
                .collect(),
            auth_infos: vec![NamedAuthInfo {
                name: user.into(),
                auth_info: Some(AuthInfo {
                    token: Some(token.to_owned().into()),
                    ..AuthInfo::default()
                }),
                other: Default::default(),
            }],
            contexts: clusters
                .iter()
                .map(|c| NamedContext {
                    name: c.info.name.clone(),
                    context: Some(Context {
                        cluster: c.info.name.clone(),
                        user: Some(user.into()),
                        ..Context::default()
                    }),
                    other: Default::default(),
                })
                .collect(),
            current_context: clusters.first().map(|c| c.info.name.clone()),
            ..Kubeconfig::default()
        }
    }

    fn write_kubeconfig(&self) -> Result<(), Error> {
        let all: Vec<&ClusterBed> = self.clusters.iter().collect();
        write_json(&self.kubeconfig, &self.kubeconfig_for(&all))?;
        let restricted = self.kubeconfig_as(&all, RESTRICTED_USER, &self.restricted_token);
        write_json(&self.restricted_kubeconfig(), &restricted)
    }

    /// A kubeconfig with only cluster `i`, for its controllers.
    fn cluster_kubeconfig(&self, i: usize) -> Result<PathBuf, Error> {
        let path = self.clusters[i].dir.join("kubeconfig");
        write_json(&path, &self.kubeconfig_for(&[&self.clusters[i]]))?;
        Ok(path)
    }
}

fn write_json(path: &Path, kubeconfig: &Kubeconfig) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(kubeconfig).map_err(|e| Error::Io {
        action: "cannot write a kubeconfig".into(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(path, text).map_err(io(format!("cannot write {}", path.display())))
}

/// A GET request for `path` on the API server.
fn http_get(path: &str) -> http::Request<Vec<u8>> {
    let mut request = http::Request::new(Vec::new());
    if let Ok(uri) = path.parse() {
        *request.uri_mut() = uri;
    }
    request
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

fn start_etcd(binaries: &Binaries, dir: &Path, port: u16) -> Result<Process, Error> {
    let peer = free_port()?;
    let args: Vec<String> = vec![
        "etcd".into(),
        "--name=bed".into(),
        format!("--data-dir={}", dir.join("etcd").display()),
        format!("--listen-client-urls=http://127.0.0.1:{port}"),
        format!("--advertise-client-urls=http://127.0.0.1:{port}"),
        format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
        format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
        format!("--initial-cluster=bed=http://127.0.0.1:{peer}"),
        "--log-level=warn".into(),
        "--quota-backend-bytes=2147483648".into(),
    ];
    Process::start(&binaries.k8s, &args, &dir.join("etcd.log"))
}

/// A random bearer token for the bed's admin user.
fn random_token() -> Result<String, Error> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io("cannot read /dev/urandom"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The service-account signing key pair the API server needs, made with openssl.
fn service_account_keys(dir: &Path) -> Result<(), Error> {
    let key = dir.join("sa.key");
    let run = |args: &[&str]| -> Result<(), Error> {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .map_err(io("cannot run openssl (install Debian's openssl package)"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Io {
                action: format!("openssl {}", args.join(" ")),
                source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()),
            })
        }
    };
    let key_path = key.display().to_string();
    let pub_path = dir.join("sa.pub").display().to_string();
    run(&["genrsa", "-out", &key_path, "2048"])?;
    run(&["rsa", "-in", &key_path, "-pubout", "-out", &pub_path])
}

//! The `fleetplan` command line: glue between the Kubernetes adapter, the planner and the
//! terminal. It holds no planning logic: it parses flags, loads a scenario, calls the core and
//! renders the plan.

mod apply;
mod controller;
mod dns_writers;
mod render;
mod simulate;
mod testbed;
mod traffic;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use fleetplan::{PlanOptions, SolverChoice, Weights, solve};
use fleetplan_kube::{
    InputBudget, InputLimits, LimitKind, LoadError, SourceFile, foreign_documents, read_app_files,
    read_source_files,
};

/// Exit code for bad input: unreadable or invalid files, objects or flags.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a failure of fleetplan itself (a solver failing on valid input), which is
/// never blamed on the input: `EX_SOFTWARE` of sysexits.h.
const EXIT_INTERNAL: u8 = 70;

/// Plan Kubernetes workloads across many clusters.
///
/// fleetplan reads standard Kubernetes YAML (Deployments, Jobs, Services, Ingresses...) and a
/// description of your workload clusters, and works out how many replicas of each workload
/// should run in each cluster and node pool, and why any replica could not be placed.
#[derive(Parser, Debug)]
#[command(name = "fleetplan", version, about, long_about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Plan a scenario and print the placement.
    ///
    /// A scenario directory holds `fleet/` (the clusters) and `apps/` (the workloads). The
    /// fleet is any mix of the project's concise fleet YAML (`kind: Fleet`, which also holds
    /// Fargate quotas and prices), eksctl `ClusterConfig` files (node groups and Fargate
    /// profiles), and one file per cluster holding `kubectl get nodes,pods -A -o yaml`; `--eks`
    /// adds live EKS clusters. Apps are standard Kubernetes YAML; Deployments and Jobs are
    /// planned, other kinds are carried along.
    ///
    /// Exit codes: 0 when a plan was made (even with unplaced replicas; see the UNPLACED
    /// section or the `unplaced` field), 2 for bad input.
    #[command(
        after_help = "Examples:\n  fleetplan plan examples/tutorial\n  fleetplan plan examples/tutorial -o json\n  fleetplan plan examples/tutorial --solver exact --time-limit 30 -o json\n  fleetplan plan examples/tutorial --weight cost=5 --weight moved=50\n  fleetplan plan --fleet fleet.yaml --apps k8s/ --explain\n  fleetplan plan --fleet quotas.yaml --apps k8s/ --eks shop-east@us-east-1 --eks shop-west@eu-west-1"
    )]
    Plan(PlanArgs),

    /// Simulate failures, drains and recoveries step by step, and print the timeline.
    ///
    /// The scenario is planned once (step 0), then every step applies its operations to the
    /// fleet and plans again from the placement the step before left: replicas on healthy
    /// clusters stay, lost or displaced ones are placed again. Each step shows the replicas
    /// per workload and cluster, what changed, and the ordered actions that carry the change
    /// out. A failure loses its replicas at once (the actions only create replacements); a
    /// drain is make-before-break: grow the destination by at most --max-surge replicas, wait
    /// until they are ready, then shrink the source. A recovered cluster comes back empty;
    /// with `--recovery stay` (the default) nothing moves back, with `--recovery rebalance`
    /// the fleet is planned afresh and the difference moved make-before-break.
    ///
    /// Steps come either from --fail/--recover/--drain/--cordon flags, one step per flag in
    /// command-line order, or from a --steps YAML file: a list whose items are one operation
    /// (`{op: fail, cluster: us-west-2-a}`) or a list of operations applied together. The
    /// operations: fail, recover, cordon, uncordon, drain, remove (field `cluster`);
    /// failZone, recoverZone (`zone`); failRegion, recoverRegion (`region`); resizePool
    /// (`cluster`, `pool`, `nodes`); setFargateQuota (`account`, `region`, `vcpus`); scale
    /// (`workload`, `replicas`); setDemand (`workload`, `region`, `demand`).
    ///
    /// The default solver is `fast`: every step is an incremental re-plan from the running
    /// replicas, and a what-if run should answer in milliseconds; --solver overrides it.
    ///
    /// Exit codes: 0 when every step was planned, 2 for bad input (including a step naming
    /// an unknown cluster, zone, region, pool or workload); nothing is printed on stdout then.
    #[command(
        after_help = "Examples:\n  fleetplan simulate examples/tutorial --fail us-west-2-a --recover us-west-2-a\n  fleetplan simulate examples/tutorial --steps examples/tutorial/steps/failover.yaml\n  fleetplan simulate examples/tutorial --steps examples/tutorial/steps/blue-green.yaml --max-surge 2\n  fleetplan simulate examples/tutorial --drain us-west-2-b -o json\n  fleetplan simulate examples/tutorial --fail us-west-2-a --recover us-west-2-a --recovery rebalance\n\nA steps file:\n  # us-west-2-a goes down, then comes back.\n  - {op: fail, cluster: us-west-2-a}\n  - {op: recover, cluster: us-west-2-a}\n  # Two operations in one step.\n  - [{op: cordon, cluster: eu-west-1-a}, {op: scale, workload: shop/web-eu, replicas: 8}]"
    )]
    Simulate(SimulateArgs),

    /// Plan a scenario and make the workload clusters hold the plan.
    ///
    /// Every cluster of the fleet is reached through the kubeconfig context of the same name.
    /// Each planned Deployment gets a copy in each cluster that holds some of its replicas,
    /// with the planned replica count, applied with server-side apply (field manager
    /// `fleetplan`) and labelled `fleetplan.io/managed-by=fleetplan` with its source's
    /// namespace and name; namespaces are created when missing. Moves are make-before-break:
    /// clusters first gain their new replicas; once those are ready (--wait), the others
    /// shrink and the copies no longer planned are deleted. Only objects with fleetplan's
    /// label are ever changed or deleted. Applying the same plan again writes nothing. A Job
    /// gets a copy per cluster with the planned parallelism and its completions split in
    /// proportion; a Job copy already there is left alone (its work is not moved).
    ///
    /// Clusters are worked on concurrently, each under --timeout: a slow or dead cluster is
    /// reported failed and never blocks the others.
    ///
    /// Exit codes: 0 when every cluster holds the plan, 1 when some cluster does not (see
    /// STATUS), 2 for bad input (including a cluster with no kubeconfig context; nothing is
    /// applied then).
    #[command(
        after_help = "Example:\n  fleetplan testbed up examples/tutorial --kubeconfig bed.kubeconfig &\n  fleetplan apply examples/tutorial --kubeconfig bed.kubeconfig"
    )]
    Apply(ApplyArgs),

    /// Run the multi-cluster controller against a management cluster.
    ///
    /// Workload clusters are registered as Secrets in the registry namespace of the
    /// management cluster (label `fleetplan.io/cluster: "true"`, label
    /// `topology.kubernetes.io/region`, key `kubeconfig`; see the README). Deployments and
    /// Jobs labelled `fleetplan.io/schedule: "true"` are planned across them; each pass takes
    /// a snapshot of every cluster, plans with the running replicas kept in place, applies
    /// the plan (as `fleetplan apply` does), and writes each source's placement in its
    /// `fleetplan.io/placement` annotation (and `fleetplan.io/unplaced` with the reasons).
    /// A cluster silent for --failure-threshold seconds loses its replicas to the others; a
    /// copy whose pods stay Pending for --pending-threshold seconds gives the replicas it could
    /// not schedule to the others; a registration annotated `fleetplan.io/drain: "true"` is
    /// drained make-before-break, and so is the cluster of a deleted registration.
    ///
    /// Logs go to stderr (RUST_LOG sets the level; --log-json for JSON lines); SIGINT or
    /// SIGTERM stops it after the current pass. Exit codes: 0 after a clean stop (or a clean
    /// --once pass), 1 when a --once pass left some cluster off the plan, 2 for bad input.
    #[command(
        after_help = "Example:\n  fleetplan controller --kubeconfig ~/.kube/config --context mgmt\n  fleetplan controller --kubeconfig bed.kubeconfig --context mgmt --once"
    )]
    Controller(ControllerArgs),

    /// Where global DNS sends each host's users.
    #[command(subcommand)]
    Traffic(TrafficCommand),

    /// Run a local multi-cluster test bed.
    #[command(subcommand)]
    Testbed(TestbedCommand),
}

#[derive(Subcommand, Debug)]
enum TrafficCommand {
    /// Resolve a host as Route53 would for users in a region, and print the share of their
    /// requests each cluster gets.
    ///
    /// The scenario is planned (and, with step flags or --steps, simulated as `fleetplan
    /// simulate` does; the last step counts); the host's records are the plan's TRAFFIC
    /// entries (see `fleetplan plan`). Route53's rules are then applied as it applies them:
    /// under the default latency policy the user gets the region of lowest latency whose
    /// records include a healthy one, then that region's clusters by weight; under
    /// `weighted`, every cluster by weight. Records of weight 0 answer only when no other
    /// record is healthy; when no record is healthy, Route53 fails open and answers them all.
    ///
    /// Latency is estimated from the distance between the regions' locations (see the
    /// README's "Global traffic" section), not measured: Route53 uses measurements AWS does
    /// not publish.
    ///
    /// Exit codes: 0 when the host was resolved (even to nothing: no cluster serves it), 2
    /// for bad input (an unknown host or region, a bad scenario or step).
    #[command(
        after_help = "Examples:\n  fleetplan traffic resolve shop.example.com --from eu-west-1 examples/tutorial\n  fleetplan traffic resolve shop.example.com --from eu-west-1 examples/tutorial --fail eu-west-1-a --fail eu-west-1-b\n  fleetplan traffic resolve shop.example.com examples/tutorial --unhealthy us-west-2-a -o json"
    )]
    Resolve(ResolveArgs),
}

/// `fleetplan traffic resolve`.
#[derive(clap::Args, Debug)]
struct ResolveArgs {
    /// The host to resolve, such as shop.example.com.
    #[arg(value_name = "HOST")]
    host: String,

    #[command(flatten)]
    scenario: ScenarioArgs,

    /// The users' region, an AWS region such as eu-west-1 (repeatable; default: every region
    /// of the fleet).
    #[arg(long, value_name = "REGION")]
    from: Vec<String>,

    /// A cluster whose load balancer fails its health check while its records stay
    /// (repeatable).
    #[arg(long, value_name = "CLUSTER")]
    unhealthy: Vec<String>,

    /// Resolve the records a live Route53 zone holds for HOST (the hosted zone with the
    /// longest matching suffix; credentials, region and AWS_ENDPOINT_URL as the AWS SDK reads
    /// them) instead of planning a scenario. Clusters are named by the records' set
    /// identifiers (without fleetplan's owner prefix).
    #[arg(long, conflicts_with_all = ["dir", "fleet", "apps", "eks", "fail", "recover", "drain", "cordon", "steps"])]
    route53: bool,

    #[command(flatten)]
    steps: StepArgs,

    /// Output format: a table, or `json`/`yaml` (one resolution per region).
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,

    /// Which solver plans (see `fleetplan plan --help`).
    #[arg(long, value_enum, default_value_t = SolverArg::Fast)]
    solver: SolverArg,

    #[command(flatten)]
    tuning: SolverTuning,
}

#[derive(clap::Args, Debug)]
struct ControllerArgs {
    /// The kubeconfig reaching the management cluster.
    #[arg(long, value_name = "FILE")]
    kubeconfig: PathBuf,

    /// The management cluster's context (default: the kubeconfig's current context).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,

    /// The namespace of cluster registrations.
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Option<String>,

    /// Seconds between passes.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = parse_seconds)]
    interval: f64,

    /// Seconds a cluster may not answer before its replicas are placed elsewhere.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_seconds)]
    failure_threshold: f64,

    /// Seconds a workload's pods may stay Pending (on no node) in a cluster before the
    /// replicas it could not schedule are placed elsewhere: the cluster then holds at most
    /// what it scheduled, for ten times this long (auto-migration, as KubeAdmiral's).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0, value_parser = parse_seconds)]
    pending_threshold: f64,

    /// Run one pass and exit (no leader election).
    #[arg(long)]
    once: bool,

    /// Run without leader election (a single instance). By default an instance acts only
    /// while it holds the Lease `fleetplan-controller` in the registry namespace.
    #[arg(long)]
    no_leader_election: bool,

    /// This instance's name in the election (default: host name and process id). An
    /// instance restarted with the same name takes its Lease back at once.
    #[arg(long, value_name = "NAME")]
    identity: Option<String>,

    /// Seconds another instance waits, after the leader last renewed the Lease, before it
    /// takes over.
    #[arg(long, value_name = "SECONDS", default_value_t = 15.0, value_parser = parse_seconds)]
    lease_duration: f64,

    /// Serve Prometheus metrics on this address, such as 127.0.0.1:9090.
    #[arg(long, value_name = "ADDRESS")]
    metrics_address: Option<std::net::SocketAddr>,

    /// Log JSON lines instead of text.
    #[arg(long)]
    log_json: bool,

    /// What the management cluster is. `control-plane`: an API server without the
    /// Deployment, ReplicaSet and Job controllers (recommended); fleetplan writes each source's
    /// status summed over the fleet, so `kubectl get deploy`, `kubectl rollout status` and
    /// `kubectl scale` work as on one cluster. `cluster`: a full cluster whose own controllers
    /// own the status (hold the pods with the scheduling-gate policy, see the README). `auto`
    /// decides each pass: a cluster when it has nodes or ReplicaSets, else a control plane.
    #[arg(long, value_enum, default_value_t = ManagementArg::Auto)]
    management_mode: ManagementArg,

    /// Where each global host's records go, kept in step with each pass (comma-separated or
    /// repeated). `route53`: latency records per region over weighted records per cluster,
    /// aliasing each cluster's load balancer, in the hosted zone with the longest matching
    /// suffix, through the AWS API (credentials, region and AWS_ENDPOINT_URL as the AWS SDK
    /// reads them). `external-dns`: one DNSEndpoint per host in the registry namespace of
    /// the management cluster, for an external-dns run with `--source=crd` (its
    /// CustomResourceDefinition must be installed). `none` (the default): no records.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "none")]
    dns: Vec<DnsArg>,

    /// The owner id of this instance's records: a Route53 host (or DNSEndpoint, or
    /// GlobalAccelerator) owned by another id is left alone. Give each management cluster
    /// its own.
    #[arg(long, value_name = "ID", default_value = "fleetplan", value_parser = parse_owner)]
    dns_owner: String,

    /// Also keep one GlobalAccelerator per host (aga.k8s.aws/v1beta1, served by the AWS Load
    /// Balancer Controller) in namespace fleetplan-system of the cluster of this kubeconfig
    /// context: an endpoint group per region, each cluster's load balancer (by the ARN ELBv2
    /// gives) with its weight.
    #[arg(long, value_name = "CONTEXT")]
    global_accelerator: Option<String>,
}

/// `--dns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum DnsArg {
    /// Route53 records through the AWS API.
    Route53,
    /// external-dns DNSEndpoint objects in the management cluster.
    ExternalDns,
    /// No records.
    None,
}

/// `--management-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ManagementArg {
    Auto,
    ControlPlane,
    Cluster,
}

#[derive(clap::Args, Debug)]
struct ApplyArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,

    /// The kubeconfig with one context per cluster of the fleet, named like the cluster.
    #[arg(long, value_name = "FILE")]
    kubeconfig: PathBuf,

    /// Seconds each cluster may take for each phase (grow, then shrink and prune).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,

    /// Seconds to wait for new replicas to be ready before anything shrinks; when they are
    /// not, nothing shrinks and the clusters are reported not brought to the plan.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    wait: u64,

    /// Clusters worked on at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    concurrency: usize,

    /// Which solver plans (see `fleetplan plan --help`).
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    solver: SolverArg,

    #[command(flatten)]
    tuning: SolverTuning,

    /// `route53`: also bring each global host's Route53 records to the plan, in the order of
    /// the action list (the weights set once the new replicas are ready, the TTL waited out
    /// before any replica stops, emptied clusters' records last); each cluster's endpoint is
    /// the load balancer its Ingress copy shows. `none` (the default): no records.
    /// (`external-dns` needs a management cluster: use `fleetplan controller`.)
    #[arg(long, value_enum, default_value = "none")]
    dns: DnsArg,

    /// The owner id of the records (see `fleetplan controller --help`).
    #[arg(long, value_name = "ID", default_value = "fleetplan", value_parser = parse_owner)]
    dns_owner: String,
}

#[derive(Subcommand, Debug)]
enum TestbedCommand {
    /// Start one real Kubernetes control plane per cluster of a scenario's fleet, with
    /// simulated nodes, until interrupted (Ctrl-C).
    ///
    /// Each cluster gets a kube-apiserver on a free 127.0.0.1 port, a controller manager, a
    /// scheduler and kwok (which simulates the nodes of every pool and runs their pods); one
    /// etcd serves them all. The binaries come from `bash adapters/testbed/build.sh`, found
    /// through FLEETPLAN_TESTBED_BIN. Current replicas in the fleet are not created as pods.
    #[command(
        after_help = "Examples:\n  export FLEETPLAN_TESTBED_BIN=$(bash adapters/testbed/build.sh)\n  fleetplan testbed up examples/tutorial --kubeconfig bed.kubeconfig\n  kubectl --kubeconfig bed.kubeconfig --context us-west-2-a get nodes\n  fleetplan testbed up examples/tutorial --kubeconfig bed.kubeconfig --management mgmt\n  fleetplan controller --kubeconfig bed.kubeconfig --context mgmt\n  fleetplan testbed up examples/tutorial --management mgmt --load-balancers"
    )]
    Up(TestbedUpArgs),
}

#[derive(clap::Args, Debug)]
struct TestbedUpArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,

    /// Where to write the merged kubeconfig (one context per cluster).
    #[arg(long, value_name = "PATH", default_value = "testbed.kubeconfig")]
    kubeconfig: PathBuf,

    /// Also start a management cluster of this name, with every fleet cluster registered in
    /// it (registration Secrets with their Fargate profiles, and the scenario's settings-only
    /// `kind: Fleet` file as the fleet-settings ConfigMap), ready for `fleetplan controller
    /// --context NAME`.
    #[arg(long, value_name = "NAME")]
    management: Option<String>,

    /// The management cluster's kind: `control-plane` (an API server without the
    /// Deployment, ReplicaSet and Job controllers) or `cluster` (two nodes and every
    /// controller, with the scheduling-gate policy that holds opted-in pods).
    #[arg(long, value_enum, default_value_t = BedManagementArg::ControlPlane, requires = "management")]
    management_mode: BedManagementArg,

    /// Also start a moto server (a local fake of the AWS APIs: FLEETPLAN_MOTO_SERVER, else
    /// `moto_server` on the PATH) and, in every cluster with nodes, a stand-in for the AWS
    /// Load Balancer Controller: each Ingress of class `alb` gets an application load
    /// balancer in moto's ELBv2 API, in the cluster's region, and its DNS name in the
    /// Ingress's status. It serves no traffic.
    #[arg(long)]
    load_balancers: bool,
}

/// `testbed up --management-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum BedManagementArg {
    ControlPlane,
    Cluster,
}

/// Where a scenario's fleet and apps are.
#[derive(clap::Args, Debug)]
struct ScenarioArgs {
    /// Scenario directory holding `fleet/` and `apps/`.
    #[arg(value_name = "SCENARIO_DIR")]
    dir: Option<PathBuf>,

    /// The fleet: a concise fleet file, or a directory of fleet files or kubectl dumps.
    /// Overrides SCENARIO_DIR/fleet.
    #[arg(long, value_name = "PATH")]
    fleet: Option<PathBuf>,

    /// The apps: a YAML file or a directory of them. Overrides SCENARIO_DIR/apps.
    #[arg(long, value_name = "PATH")]
    apps: Option<PathBuf>,

    /// Add a live EKS cluster, NAME@REGION (repeatable): its managed node groups and Fargate
    /// profiles are read through the EKS API with the usual AWS credentials (environment,
    /// profile, SSO...; `AWS_ENDPOINT_URL` points elsewhere, for a test server).
    #[arg(long = "eks", value_name = "NAME@REGION", value_parser = parse_eks)]
    eks: Vec<(String, String)>,

    /// The most one input file may hold (a fleet file, a dump, an apps file, a rendered
    /// kustomization, a steps file), as a quantity such as 128Mi or 1Gi; a larger file is
    /// refused, naming it, before it is parsed.
    #[arg(long, value_name = "SIZE", default_value = "128Mi", value_parser = parse_size)]
    max_file_size: u64,

    /// The most all the input files of the run may hold together.
    #[arg(long, value_name = "SIZE", default_value = "512Mi", value_parser = parse_size)]
    max_input_size: u64,
}

impl ScenarioArgs {
    /// A budget for reading the run's input files within the size flags.
    fn input_budget(&self) -> InputBudget {
        InputBudget::new(InputLimits {
            file_bytes: self.max_file_size,
            total_bytes: self.max_input_size,
        })
    }
}

#[derive(clap::Args, Debug)]
struct PlanArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,

    /// Output format. `json` and `yaml` follow the documented plan contract.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,

    /// Explain every workload and cluster pair: replicas placed, and why not more.
    #[arg(long)]
    explain: bool,

    /// Which solver plans: `fast` (greedy, milliseconds), `flow` (min-cost flow), `exact`
    /// (MILP with HiGHS, proven optimal or with a gap), or `auto`: exact for small problems,
    /// flow for medium ones, fast for the largest. The plan reports the solver, its score,
    /// bound and gap.
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    solver: SolverArg,

    #[command(flatten)]
    tuning: SolverTuning,
}

/// Solver flags shared by `plan` and `simulate` (each has its own `--solver` default).
#[derive(clap::Args, Debug)]
struct SolverTuning {
    /// Seconds the exact solver may search before returning its best plan so far.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    time_limit: f64,

    /// Set an objective weight, NAME=VALUE (repeatable). Names: unplaced, below-minimum,
    /// moved, imbalance, preference, cost, demand, fixed. See the README for what each counts.
    #[arg(long = "weight", value_name = "NAME=VALUE", value_parser = parse_weight)]
    weights: Vec<(String, f64)>,
}

impl SolverTuning {
    /// The planner options for `solver` and these flags; on a bad flag the error has been
    /// printed and the exit code is returned.
    fn options(&self, solver: SolverArg, explain: bool) -> Result<PlanOptions, ExitCode> {
        if !(self.time_limit.is_finite() && self.time_limit > 0.0) {
            return Err(fail(&format!(
                "--time-limit: expected a positive number of seconds, got {}",
                self.time_limit
            )));
        }
        let mut weights = Weights::default();
        for (name, value) in &self.weights {
            weights
                .set(name, *value)
                .map_err(|e| fail(&format!("--weight: {e}")))?;
        }
        Ok(PlanOptions {
            explain,
            solver: solver.into(),
            weights,
            time_limit: std::time::Duration::from_secs_f64(self.time_limit.min(1e6)),
        })
    }
}

/// `fleetplan simulate`: the scenario, the steps, how moves go, and the solver.
#[derive(clap::Args, Debug)]
#[command(group(
    clap::ArgGroup::new("step-source")
        .required(true)
        .multiple(true)
        .args(["steps", "fail", "recover", "drain", "cordon"])
))]
struct SimulateArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,

    #[command(flatten)]
    steps: StepArgs,

    /// Output format: a timeline of tables, or `json`/`yaml` (`fleetplan.io/timeline/v1`: the
    /// steps, each with its operations, plan, changes, lost and moved counts, and actions).
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,

    /// Which solver plans each step (see `fleetplan plan --help`). Default `fast`: a step is
    /// an incremental re-plan from the running replicas and must be quick.
    #[arg(long, value_enum, default_value_t = SolverArg::Fast)]
    solver: SolverArg,

    #[command(flatten)]
    tuning: SolverTuning,
}

/// The what-if steps and how planned moves go, shared by `simulate` and `traffic resolve`.
#[derive(clap::Args, Debug)]
struct StepArgs {
    /// A step: the cluster fails and loses its replicas (repeatable; steps run in
    /// command-line order).
    #[arg(long, value_name = "CLUSTER")]
    fail: Vec<String>,

    /// A step: the cluster comes back, empty (repeatable).
    #[arg(long, value_name = "CLUSTER")]
    recover: Vec<String>,

    /// A step: everything moves out of the cluster, make-before-break (repeatable).
    #[arg(long, value_name = "CLUSTER")]
    drain: Vec<String>,

    /// A step: the cluster keeps what it runs and takes nothing new (repeatable).
    #[arg(long, value_name = "CLUSTER")]
    cordon: Vec<String>,

    /// A YAML file of steps, instead of the step flags: a list whose items are one operation
    /// or a list of operations applied together.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["fail", "recover", "drain", "cordon"])]
    steps: Option<PathBuf>,

    /// What happens when a failed cluster comes back: `stay` (nothing moves back) or
    /// `rebalance` (plan afresh and move the difference make-before-break).
    #[arg(long, value_enum, default_value_t = RecoveryArg::Stay)]
    recovery: RecoveryArg,

    /// New replicas started before old ones stop, per batch of a planned move (at least 1:
    /// moves are make-before-break).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    max_surge: u32,

    /// Replicas that may be missing during a planned move (0: always grow before shrinking).
    #[arg(long, value_name = "N", default_value_t = 0)]
    max_unavailable: u32,
}

/// The recovery policies, as `--recovery` spells them.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum RecoveryArg {
    /// Nothing moves back to a recovered cluster.
    Stay,
    /// The fleet is planned afresh and replicas move back make-before-break.
    Rebalance,
}

/// The solvers, as `--solver` spells them.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum SolverArg {
    /// Exact when small, flow when medium, fast when large.
    Auto,
    /// The greedy planner.
    Fast,
    /// The min-cost-flow solver.
    Flow,
    /// The MILP solver.
    Exact,
}

impl From<SolverArg> for SolverChoice {
    fn from(arg: SolverArg) -> Self {
        match arg {
            SolverArg::Auto => SolverChoice::Auto,
            SolverArg::Fast => SolverChoice::Fast,
            SolverArg::Flow => SolverChoice::Flow,
            SolverArg::Exact => SolverChoice::Exact,
        }
    }
}

/// Parses `NAME=VALUE` for `--weight`, checking the name and the value.
fn parse_weight(text: &str) -> Result<(String, f64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got `{text}`"))?;
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("weight `{name}`: `{value}` is not a number"))?;
    Weights::default().set(name.trim(), value)?;
    Ok((name.trim().to_string(), value))
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Human-readable tables.
    Table,
    /// The JSON plan contract.
    Json,
    /// The same contract as YAML.
    Yaml,
}

fn main() -> ExitCode {
    // Parsed through ArgMatches so that `simulate` can order its step flags by position.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    match cli.command {
        Command::Plan(args) => run_plan(&args),
        Command::Simulate(args) => match matches.subcommand_matches("simulate") {
            Some(sub) => simulate::run(&args, sub),
            None => fail("internal error: no arguments for simulate"),
        },
        Command::Traffic(TrafficCommand::Resolve(args)) => {
            match matches
                .subcommand_matches("traffic")
                .and_then(|t| t.subcommand_matches("resolve"))
            {
                Some(sub) => traffic::resolve(&args, sub),
                None => fail("internal error: no arguments for traffic resolve"),
            }
        }
        Command::Apply(args) => apply::run(&args),
        Command::Controller(args) => controller::run(&args),
        Command::Testbed(TestbedCommand::Up(args)) => testbed::up(&args),
    }
}

/// Loads, plans and prints; the whole output is rendered before anything is written, so a
/// failure never leaves partial output.
fn run_plan(args: &PlanArgs) -> ExitCode {
    let (scenario, plan) = match load_and_plan(&args.scenario, &args.tuning, args.solver, args.explain) {
        Ok(planned) => planned,
        Err(code) => return code,
    };
    print(args.output, "the plan", &plan, || {
        render::table(&scenario, &plan, args.explain)
    })
}

/// Prints `document` as `format` asks: `table()` for a table, else the document as JSON
/// or YAML; the whole text is rendered before anything is written.
fn print(
    format: Format,
    what: &str,
    document: &impl serde::Serialize,
    table: impl FnOnce() -> String,
) -> ExitCode {
    let text = match format {
        Format::Table => table(),
        Format::Json => match serde_json::to_string_pretty(document) {
            Ok(json) => json + "\n",
            Err(err) => return fail(&format!("cannot render {what} as JSON: {err}")),
        },
        Format::Yaml => match serde_norway::to_string(document) {
            Ok(yaml) => yaml,
            Err(err) => return fail(&format!("cannot render {what} as YAML: {err}")),
        },
    };
    write_stdout(&text, what)
}

/// Loads the scenario and plans it; on failure the error has been printed and the exit code
/// is returned.
fn load_and_plan(
    scenario: &ScenarioArgs,
    tuning: &SolverTuning,
    solver: SolverArg,
    explain: bool,
) -> Result<(fleetplan_kube::Scenario, fleetplan::Plan), ExitCode> {
    let (fleet, _, loaded) = load_scenario(scenario, &mut scenario.input_budget())?;
    let options = tuning.options(solver, explain)?;
    let plan =
        solve(&loaded.problem, &options).map_err(|err| plan_failed(&fleet.display().to_string(), &err))?;
    Ok((loaded, plan))
}

/// Writes the whole rendered output at once.
fn write_stdout(text: &str, what: &str) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`fleetplan plan ... | head`) is not an error.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => fail(&format!("cannot write {what}: {err}")),
    }
}

/// Loads the scenario named by SCENARIO_DIR and the overriding flags, reading each path once
/// within `budget` (the eksctl `ClusterConfig`s among the fleet files go to the AWS adapter,
/// the rest to the Kubernetes adapter), with a warning on stderr for each file it did not
/// read. Returns the fleet path, the fleet's files as read, and the scenario; on failure the
/// error has been printed and the exit code is returned.
fn load_scenario(
    args: &ScenarioArgs,
    budget: &mut InputBudget,
) -> Result<(PathBuf, Vec<SourceFile>, fleetplan_kube::Scenario), ExitCode> {
    let from_dir = |sub: &str| args.dir.as_deref().map(|d: &Path| d.join(sub));
    let fleet = args.fleet.clone().or_else(|| from_dir("fleet"));
    let apps = args.apps.clone().or_else(|| from_dir("apps"));
    let (Some(fleet), Some(apps)) = (fleet, apps) else {
        return Err(fail(
            "give a SCENARIO_DIR, or both --fleet and --apps (see --help)",
        ));
    };
    let input_error = |err: LoadError| fail(&input_error_message(&err));
    let fleet_files = read_source_files(&fleet, budget).map_err(input_error)?;
    let apps_files = read_app_files(&apps, budget).map_err(input_error)?;
    let eksctl = foreign_documents(&fleet_files.files).map_err(input_error)?;
    let mut clusters = fleetplan_aws::cluster_configs_from_documents(
        eksctl
            .iter()
            .map(|(file, docs)| (file.as_path(), docs.as_slice())),
    )
    .map_err(|err| fail(&err.to_string()))?;
    if !args.eks.is_empty() {
        clusters.extend(read_eks(&args.eks).map_err(|err| fail(&err))?);
    }
    let scenario =
        fleetplan_kube::load_files(&fleet, &fleet_files, &apps_files, clusters).map_err(input_error)?;
    for skipped in &scenario.skipped {
        eprintln!("warning: skipped {skipped}");
    }
    Ok((fleet, fleet_files.files, scenario))
}

/// A loading error, with the flag that raises the limit when a file was too large.
fn input_error_message(err: &LoadError) -> String {
    match err {
        LoadError::TooLarge { kind, .. } => {
            let flag = match kind {
                LimitKind::File => "--max-file-size",
                _ => "--max-input-size",
            };
            format!("{err}; {flag} raises it")
        }
        _ => err.to_string(),
    }
}

/// Reads live EKS clusters, each with a pseudo-path naming where it came from.
fn read_eks(targets: &[(String, String)]) -> Result<Vec<(fleetplan::Cluster, PathBuf)>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the AWS client: {err}"))?;
    let clusters = runtime.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        fleetplan_aws::eks::read_clusters(&config, targets).await
    });
    let clusters = clusters.map_err(|err| err.to_string())?;
    Ok(clusters
        .into_iter()
        .zip(targets)
        .map(|(cluster, (name, region))| (cluster, PathBuf::from(format!("--eks {name}@{region}"))))
        .collect())
}

/// The AWS SDK's configuration from its usual chain (environment, profile, instance role;
/// AWS_ENDPOINT_URL honoured), in us-east-1 when no region is set (Route53's API is global).
async fn aws_sdk_config() -> aws_config::SdkConfig {
    let region = aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(region)
        .load()
        .await
}

/// Parses a size in bytes written as a Kubernetes quantity: `512Mi`, `1Gi`, `100M`, `65536`.
fn parse_size(text: &str) -> Result<u64, String> {
    match fleetplan_kube::parse_quantity(text, "bytes") {
        Ok(bytes) if bytes > 0 => u64::try_from(bytes).map_err(|e| e.to_string()),
        _ => Err(format!(
            "expected a size of more than 0 bytes, such as 128Mi or 1Gi, got `{text}`"
        )),
    }
}

/// Parses a number of seconds: more than 0, at most a day.
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!(
            "expected seconds between 0 and 86400, such as 2 or 0.5, got `{text}`"
        )),
    }
}

/// Parses `--dns-owner`: what Route53 set identifiers and Kubernetes label values both take.
fn parse_owner(text: &str) -> Result<String, String> {
    fleetplan_aws::route53::records::check_owner(text).map_err(|e| e.to_string())?;
    if text.starts_with('-') || text.ends_with('-') {
        return Err(format!("owner id `{text}`: start and end with a letter or digit"));
    }
    Ok(text.to_string())
}

/// Parses `--eks NAME@REGION`.
fn parse_eks(text: &str) -> Result<(String, String), String> {
    match text.split_once('@') {
        Some((name, region)) if !name.is_empty() && !region.is_empty() && !region.contains('@') => {
            Ok((name.to_owned(), region.to_owned()))
        }
        _ => Err(format!(
            "expected NAME@REGION, such as shop-east@us-east-1, got `{text}`"
        )),
    }
}

/// Reports a core error met planning (`context` says where: the fleet path, a step): an
/// internal one as a fleetplan bug with [`EXIT_INTERNAL`], any other as bad input.
fn plan_failed(context: &str, err: &fleetplan::Error) -> ExitCode {
    if err.is_internal() {
        eprintln!(
            "error: internal error: {err}; the input is not at fault: this is a fleetplan bug, please report it with the input"
        );
        return ExitCode::from(EXIT_INTERNAL);
    }
    fail(&format!("{context}: {err}"))
}

/// Prints `error: MESSAGE` on stderr and returns the bad-input exit code.
fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_are_not_blamed_on_the_input() {
        let internal = fleetplan::Error::FlowFailed {
            detail: "InvalidArc(EdgeIndex(2))".into(),
        };
        assert_eq!(plan_failed("fleet", &internal), ExitCode::from(EXIT_INTERNAL));
        let bad = fleetplan::Error::EmptyFleet;
        assert_eq!(plan_failed("fleet", &bad), ExitCode::from(EXIT_BAD_INPUT));
    }

    #[test]
    fn sizes_read_as_quantities() {
        assert_eq!(parse_size("128Mi"), Ok(128 << 20));
        assert_eq!(parse_size("1G"), Ok(1_000_000_000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("-1Mi").is_err());
        assert!(parse_size("lots").is_err());
    }
}

//! `fleetplan testbed up`: runs the local multi-cluster test bed for a scenario's fleet until
//! interrupted. Glue only: the bed itself is the `fleetplan-testbed` crate.

use std::process::ExitCode;

use fleetplan::{Cluster, NodePool, Resources};
use fleetplan_kube::SourceFile;
use fleetplan_kube::live::{HOLD_POLICY, REGISTRY_NAMESPACE, fleet_settings_configmap, registration_secret};
use fleetplan_testbed::{Binaries, MotoServer, Role, TestBed};
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::config::Kubeconfig;

use crate::{BedManagementArg, TestbedUpArgs, fail, load_scenario};

/// Nodes of a full management cluster on the bed.
const MANAGEMENT_NODES: u32 = 2;

/// Starts the bed, writes the kubeconfig, waits for Ctrl-C, and tears everything down.
pub fn up(args: &TestbedUpArgs) -> ExitCode {
    let (_, settings, scenario) = match load_scenario(&args.scenario, &mut args.scenario.input_budget()) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mut roles: Vec<(Cluster, Role)> = scenario
        .problem
        .clusters
        .iter()
        .map(|c| (c.clone(), Role::Workload))
        .collect();
    if let Some(name) = &args.management {
        if roles.iter().any(|(c, _)| c.name.as_str() == name) {
            return fail(&format!(
                "--management {name}: the fleet already has a cluster of that name"
            ));
        }
        let region = roles
            .first()
            .map_or("us-east-1", |(c, _)| c.region.as_str())
            .to_string();
        let mut management = Cluster::new(name, &region);
        let role = match args.management_mode {
            BedManagementArg::ControlPlane => Role::ControlPlane,
            BedManagementArg::Cluster => {
                let node = Resources::new()
                    .with("cpu", 4000)
                    .with("memory", 16 << 30)
                    .with("pods", 110);
                management
                    .pools
                    .push(NodePool::uniform("general", MANAGEMENT_NODES, node));
                Role::Workload
            }
        };
        roles.push((management, role));
    }
    let binaries = match Binaries::from_env() {
        Ok(binaries) => binaries,
        Err(err) => return fail(&err.to_string()),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    runtime.block_on(async {
        let started = std::time::Instant::now();
        let moto = if args.load_balancers {
            match MotoServer::start().await {
                Ok(moto) => Some(moto),
                Err(err) => return fail(&format!("--load-balancers: {err}")),
            }
        } else {
            None
        };
        let mut bed = match TestBed::start_with_roles(&roles, &binaries).await {
            Ok(bed) => bed,
            Err(err) => return fail(&err.to_string()),
        };
        if let Some(moto) = &moto
            && let Err(err) = bed.run_load_balancers(&moto.endpoint()).await
        {
            return fail(&format!("--load-balancers: {err}"));
        }
        if let Err(err) = std::fs::copy(bed.kubeconfig(), &args.kubeconfig) {
            return fail(&format!("cannot write {}: {err}", args.kubeconfig.display()));
        }
        eprintln!(
            "test bed ready in {:.1} s; logs in {}",
            started.elapsed().as_secs_f64(),
            bed.dir().display()
        );
        for c in bed.clusters() {
            eprintln!("  {:<20} {}  {} nodes", c.name, c.server, c.nodes);
        }
        if let Some(name) = &args.management {
            let hold = args.management_mode == BedManagementArg::Cluster;
            if let Err(err) = register(&bed, name, &scenario.problem.clusters, &settings, hold).await {
                return fail(&format!("management cluster {name}: {err}"));
            }
            eprintln!(
                "management cluster {name}: {} cluster(s) registered in {REGISTRY_NAMESPACE}{}",
                scenario.problem.clusters.len(),
                if hold {
                    "; opted-in pods are held by the scheduling gate"
                } else {
                    ""
                }
            );
        }
        if let Some(moto) = &moto {
            eprintln!(
                "load balancers: alb Ingresses get one in moto's ELBv2 at {0} \
                 (aws --endpoint-url {0} --region REGION elbv2 describe-load-balancers)",
                moto.endpoint()
            );
        }
        eprintln!(
            "kubeconfig: {} (one context per cluster). Ctrl-C stops the bed.",
            args.kubeconfig.display()
        );
        let _ = tokio::signal::ctrl_c().await;
        drop(bed);
        drop(moto);
        eprintln!("test bed stopped");
        ExitCode::SUCCESS
    })
}

/// Registers every fleet cluster in the management cluster `name`: the registry namespace,
/// a registration Secret each, the fleet-settings ConfigMap from the settings-only Fleet
/// files among `settings`, and with `hold` the scheduling-gate policy.
async fn register(
    bed: &TestBed,
    name: &str,
    clusters: &[Cluster],
    settings: &[SourceFile],
    hold: bool,
) -> Result<(), String> {
    let client = bed.client(name).await.map_err(|e| e.to_string())?;
    let kubeconfig = Kubeconfig::read_from(bed.kubeconfig()).map_err(|e| e.to_string())?;
    let mut objects = vec![serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": REGISTRY_NAMESPACE}})];
    for cluster in clusters {
        objects
            .push(registration_secret(cluster, &kubeconfig, REGISTRY_NAMESPACE).map_err(|e| e.to_string())?);
    }
    // A Fleet file with clusters is not settings; the first settings-only one is.
    if let Some(map) = settings
        .iter()
        .find_map(|f| fleet_settings_configmap(&f.text, &f.name, REGISTRY_NAMESPACE).ok())
    {
        objects.push(map);
    }
    if hold {
        for document in HOLD_POLICY.split("\n---\n") {
            objects.push(serde_norway::from_str(document).map_err(|e| format!("the hold policy: {e}"))?);
        }
    }
    for object in &objects {
        apply(&client, object).await?;
    }
    Ok(())
}

/// Server-side applies one object of a kind the registration uses.
async fn apply(client: &kube::Client, object: &serde_json::Value) -> Result<(), String> {
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let (group, version) = match kind {
        "MutatingAdmissionPolicy" | "MutatingAdmissionPolicyBinding" => {
            ("admissionregistration.k8s.io", "v1")
        }
        _ => ("", "v1"),
    };
    let resource = kube::api::ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        name,
        &PatchParams::apply("fleetplan-testbed").force(),
        &Patch::Apply(object),
    )
    .await
    .map(drop)
    .map_err(|e| format!("{kind} {name}: {e}"))
}

//! Reading a moto hosted zone back, and the rows fleetplan's Route53 layout should put there
//! (shared by the tests that write records to moto).
#![allow(dead_code)]

use aws_sdk_route53::types::RrType;
use fleetplan::traffic::HostTraffic;

/// `(name, type, set id, weight, region, alias target)` of one record.
pub type Row = (
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// Every A and TXT record of `zone`, sorted.
pub async fn rows(client: &aws_sdk_route53::Client, zone: &str) -> Vec<Row> {
    let out = client
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .expect("ListResourceRecordSets");
    let mut rows: Vec<Row> = out
        .resource_record_sets()
        .iter()
        .filter(|r| matches!(r.r#type(), RrType::A | RrType::Txt))
        .map(|r| {
            (
                r.name().trim_end_matches('.').to_string(),
                r.r#type().as_str().to_string(),
                r.set_identifier().map(str::to_string),
                r.weight(),
                r.region().map(|g| g.as_str().to_string()),
                r.alias_target()
                    .map(|a| a.dns_name().trim_end_matches('.').to_string()),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The rows `owner` writes for `hosts` (latency over weighted): the owner record; per region
/// a latency record aliasing `REGION.HOST`; per cluster a weighted record aliasing its
/// endpoint. Sorted.
pub fn expected_rows(hosts: &[HostTraffic], owner: &str) -> Vec<Row> {
    let mut expected = Vec::new();
    for host in hosts.iter().filter(|h| !h.regions.is_empty()) {
        let name = &host.host;
        let prefix = fleetplan_aws::route53::records::set_prefix(owner, name);
        expected.push((
            format!("_fleetplan-owner.{name}"),
            "TXT".into(),
            None,
            None,
            None,
            None,
        ));
        for region in &host.regions {
            expected.push((
                name.clone(),
                "A".into(),
                Some(format!("{prefix}{}", region.region)),
                None,
                Some(region.region.clone()),
                Some(format!("{}.{name}", region.region)),
            ));
            for c in &region.clusters {
                expected.push((
                    format!("{}.{name}", region.region),
                    "A".into(),
                    Some(format!("{prefix}{}", c.cluster)),
                    Some(i64::from(c.weight)),
                    None,
                    c.endpoint.as_ref().map(|e| e.to_ascii_lowercase()),
                ));
            }
        }
    }
    expected.sort();
    expected
}

/// A hosted zone `name` in moto; its id.
pub async fn create_zone(client: &aws_sdk_route53::Client, name: &str) -> String {
    let zone = client
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("fleetplan-test-{name}"))
        .send()
        .await
        .expect("CreateHostedZone");
    zone.hosted_zone()
        .expect("a zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string()
}

/// The AWS SDK's environment for a process that must reach the moto server at `endpoint`.
pub fn moto_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The tutorial's scenario, read as `fleetplan plan examples/tutorial` reads it: each file
/// once, the eksctl `ClusterConfig`s among the fleet files by the AWS adapter.
pub fn tutorial_scenario() -> fleetplan_kube::Scenario {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tutorial");
    let fleet = root.join("fleet");
    let mut budget = fleetplan_kube::InputBudget::default();
    let fleet_files = fleetplan_kube::read_source_files(&fleet, &mut budget).expect("the tutorial's fleet");
    let apps_files =
        fleetplan_kube::read_app_files(&root.join("apps"), &mut budget).expect("the tutorial's apps");
    let eksctl = fleetplan_kube::foreign_documents(&fleet_files.files).expect("the tutorial's eksctl files");
    let eks = fleetplan_aws::cluster_configs_from_documents(
        eksctl.iter().map(|(f, d)| (f.as_path(), d.as_slice())),
    )
    .expect("the tutorial's eksctl files");
    fleetplan_kube::load_files(&fleet, &fleet_files, &apps_files, eks).expect("the tutorial")
}

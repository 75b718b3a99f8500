//! The load balancers of a region as ELBv2 describes them: the DNS name each cluster's
//! Ingress shows, with the canonical hosted zone a Route53 alias to it needs and the ARN a
//! Global Accelerator endpoint names it by.

use std::collections::BTreeMap;

use aws_config::{Region, SdkConfig};

/// One load balancer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadBalancer {
    /// Its canonical hosted zone (for Route53 alias targets).
    pub hosted_zone_id: String,
    /// Its ARN (for Global Accelerator endpoints).
    pub arn: String,
}

/// ELBv2 could not be read.
#[derive(Debug, thiserror::Error)]
#[error("DescribeLoadBalancers in {region}: {detail}")]
pub struct LoadBalancerError {
    /// The region asked.
    pub region: String,
    /// What AWS said.
    pub detail: String,
}

/// Every load balancer of `region`, by DNS name (lowercase, without the final dot), read
/// with `config`'s credentials and endpoint.
///
/// # Errors
/// When ELBv2 cannot be read.
pub async fn load_balancers(
    config: &SdkConfig,
    region: &str,
) -> Result<BTreeMap<String, LoadBalancer>, LoadBalancerError> {
    let config = config
        .to_builder()
        .region(Region::new(region.to_string()))
        .build();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let mut out = BTreeMap::new();
    let mut marker = None;
    loop {
        let page = elb
            .describe_load_balancers()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| LoadBalancerError {
                region: region.to_string(),
                detail: aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext(e).to_string(),
            })?;
        for lb in page.load_balancers() {
            if let (Some(dns), Some(zone), Some(arn)) = (
                lb.dns_name(),
                lb.canonical_hosted_zone_id(),
                lb.load_balancer_arn(),
            ) {
                let name = dns.trim_end_matches('.').to_ascii_lowercase();
                out.insert(
                    name,
                    LoadBalancer {
                        hosted_zone_id: zone.to_string(),
                        arn: arn.to_string(),
                    },
                );
            }
        }
        match page.next_marker() {
            Some(next) => marker = Some(next.to_string()),
            None => return Ok(out),
        }
    }
}

//! The placement policy of a workload, read from `fleetplan.io/` annotations on the
//! Deployment or Job metadata (not on its pod template).
//!
//! | annotation | value | default | meaning |
//! | --- | --- | --- | --- |
//! | `fleetplan.io/cluster-selector` | label-selector string: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>N`, `k<N`, comma-separated | everything | which clusters are eligible, over cluster labels plus the implicit `fleetplan.io/cluster` (name) and `fleetplan.io/region` |
//! | `fleetplan.io/strategy` | `spread`, `weighted` or `pack` | `spread` | how the replicas are divided: equal shares, shares by weight, or as few clusters as possible |
//! | `fleetplan.io/cluster-weights` | `name=N,name2=N,*=N` | 1 each | cluster weights for `weighted` (and preference order for `pack`); 0 excludes a cluster under every strategy |
//! | `fleetplan.io/region-weights` | `name=N,*=N` | 1 each | region weights, multiplied into the cluster weights; 0 excludes the region's clusters |
//! | `fleetplan.io/cluster-min` | `name=N,*=N` | none | minimum replicas per cluster |
//! | `fleetplan.io/cluster-max` | `name=N,*=N` | none | maximum replicas per cluster |
//! | `fleetplan.io/region-min` | `name=N,*=N` | none | minimum replicas per region |
//! | `fleetplan.io/region-max` | `name=N,*=N` | none | maximum replicas per region |
//! | `fleetplan.io/region-demand` | `name=N,*=N` | none (0 for regions not listed once any is set) | demand per region: the demand objective places replicas in the regions with the most demand, near their users |
//! | `fleetplan.io/gang` | `"true"` or `"false"` | `"false"` | all or nothing: every replica is placed or none is |
//! | `fleetplan.io/min-regions` | positive integer | none | the replicas must span at least this many regions; only the exact solver enforces it |
//!
//! In the `name=N` lists, `*` sets the value for every name not listed; N is a non-negative
//! integer; whitespace around names and numbers is ignored; a name may appear once. A minimum
//! above the maximum of the same cluster or region (`*` included) is an error. Any other
//! annotation key under `fleetplan.io/` is an error (typo protection). Annotations outside
//! `fleetplan.io/` are ignored.
//!
//! `gang` is meant for Jobs whose workers must all run to make progress, but it is accepted on
//! Deployments too, where it means the same: place every replica or none. Its value is exactly
//! `true` or `false` (annotation values are strings, so quote it in YAML); `min-regions` is a
//! decimal integer of at least 1. Whitespace around either value is ignored.

use std::collections::BTreeMap;

use fleetplan::{PerName, PlacementPolicy, Strategy};

use crate::selector::parse_selector;

/// The prefix of the annotations this module reads.
pub const PREFIX: &str = "fleetplan.io/";
/// Which clusters are eligible (label-selector string).
pub const CLUSTER_SELECTOR: &str = "fleetplan.io/cluster-selector";
/// `spread`, `weighted` or `pack`.
pub const STRATEGY: &str = "fleetplan.io/strategy";
/// Cluster weights, `name=N` list.
pub const CLUSTER_WEIGHTS: &str = "fleetplan.io/cluster-weights";
/// Region weights, `name=N` list.
pub const REGION_WEIGHTS: &str = "fleetplan.io/region-weights";
/// Minimum replicas per cluster, `name=N` list.
pub const CLUSTER_MIN: &str = "fleetplan.io/cluster-min";
/// Maximum replicas per cluster, `name=N` list.
pub const CLUSTER_MAX: &str = "fleetplan.io/cluster-max";
/// Minimum replicas per region, `name=N` list.
pub const REGION_MIN: &str = "fleetplan.io/region-min";
/// Maximum replicas per region, `name=N` list.
pub const REGION_MAX: &str = "fleetplan.io/region-max";
/// Demand per region, `name=N` list.
pub const REGION_DEMAND: &str = "fleetplan.io/region-demand";
/// All or nothing, `true` or `false`.
pub const GANG: &str = "fleetplan.io/gang";
/// The fewest regions the replicas must span, a positive integer.
pub const MIN_REGIONS: &str = "fleetplan.io/min-regions";

/// Written by the controller on a source: its replicas per cluster, as JSON. Ignored when
/// reading a workload.
pub const PLACEMENT: &str = "fleetplan.io/placement";
/// Written by the controller on a source: why replicas are unplaced. Ignored when reading.
pub const UNPLACED: &str = "fleetplan.io/unplaced";
/// Written by the controller on a source: `ready/target`, its Ready replicas across every
/// workload cluster. Ignored when reading.
pub const READY: &str = "fleetplan.io/ready";

/// Every annotation key this module knows.
pub const KNOWN_KEYS: [&str; 11] = [
    CLUSTER_SELECTOR,
    STRATEGY,
    CLUSTER_WEIGHTS,
    REGION_WEIGHTS,
    CLUSTER_MIN,
    CLUSTER_MAX,
    REGION_MIN,
    REGION_MAX,
    REGION_DEMAND,
    GANG,
    MIN_REGIONS,
];

/// Why an annotation could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AnnotationError {
    /// A `fleetplan.io/` key that is not known.
    Unknown(String),
    /// A known key with a bad value.
    Invalid {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads the placement policy from an object's annotations.
pub(crate) fn placement_policy(
    annotations: &BTreeMap<String, String>,
) -> Result<PlacementPolicy, AnnotationError> {
    let mut policy = PlacementPolicy::default();
    for (key, value) in annotations.iter().filter(|(k, _)| k.starts_with(PREFIX)) {
        let invalid = |message: String| AnnotationError::Invalid {
            key: key.clone(),
            message: format!("invalid value {value:?}: {message}"),
        };
        match key.as_str() {
            CLUSTER_SELECTOR => policy.cluster_selector = parse_selector(value).map_err(invalid)?,
            STRATEGY => {
                policy.strategy = match value.trim() {
                    "spread" => Strategy::Spread,
                    "weighted" => Strategy::Weighted,
                    "pack" => Strategy::Pack,
                    _ => return Err(invalid("expected `spread`, `weighted` or `pack`".into())),
                }
            }
            CLUSTER_WEIGHTS => policy.cluster_weights = per_name(value).map_err(invalid)?,
            REGION_WEIGHTS => policy.region_weights = per_name(value).map_err(invalid)?,
            CLUSTER_MIN => policy.cluster_min = per_name(value).map_err(invalid)?,
            CLUSTER_MAX => policy.cluster_max = per_name(value).map_err(invalid)?,
            REGION_MIN => policy.region_min = per_name(value).map_err(invalid)?,
            REGION_MAX => policy.region_max = per_name(value).map_err(invalid)?,
            REGION_DEMAND => policy.region_demand = per_name(value).map_err(invalid)?,
            GANG => {
                policy.gang = match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid("expected `true` or `false`".into())),
                }
            }
            MIN_REGIONS => {
                policy.min_regions = match value.trim().parse::<u32>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => return Err(invalid("expected a positive integer".into())),
                }
            }
            PLACEMENT | UNPLACED | READY => {}
            _ => return Err(AnnotationError::Unknown(key.clone())),
        }
    }
    if let Some((what, name, min, max)) = policy.contradiction() {
        let (min_key, max_key) = match what {
            "cluster" => (CLUSTER_MIN, CLUSTER_MAX),
            _ => (REGION_MIN, REGION_MAX),
        };
        return Err(AnnotationError::Invalid {
            key: min_key.to_string(),
            message: format!(
                "{what} `{name}` has a minimum of {min}, above its maximum of {max} in {max_key}"
            ),
        });
    }
    Ok(policy)
}

/// Reads `name=N,name2=N,*=N`.
fn per_name(value: &str) -> Result<PerName, String> {
    let mut result = PerName::default();
    if value.trim().is_empty() {
        return Ok(result);
    }
    for entry in value.split(',') {
        let Some((name, number)) = entry.split_once('=') else {
            return Err(format!("expected `name=N`, found `{}`", entry.trim()));
        };
        let (name, number) = (name.trim(), number.trim());
        if name.is_empty() {
            return Err(format!("`{}` has no name", entry.trim()));
        }
        let n: u32 = number
            .parse()
            .map_err(|_| format!("`{name}` must be a non-negative integer, found `{number}`"))?;
        let repeated = if name == "*" {
            result.default.replace(n).is_some()
        } else {
            result.named.insert(name.to_string(), n).is_some()
        };
        if repeated {
            return Err(format!("`{name}` is given twice"));
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetplan::Operator;

    fn policy(pairs: &[(&str, &str)]) -> Result<PlacementPolicy, AnnotationError> {
        placement_policy(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn invalid(pairs: &[(&str, &str)]) -> (String, String) {
        match policy(pairs) {
            Err(AnnotationError::Invalid { key, message }) => (key, message),
            other => panic!("expected an invalid value, got {other:?}"),
        }
    }

    #[test]
    fn no_annotations_give_the_default_policy() {
        assert_eq!(
            policy(&[("other.io/x", "y")]).unwrap(),
            PlacementPolicy::default()
        );
    }

    #[test]
    fn cluster_selector() {
        let p = policy(&[(CLUSTER_SELECTOR, "tier=prod,!legacy")]).unwrap();
        let ops: Vec<_> = p
            .cluster_selector
            .requirements
            .iter()
            .map(|r| r.operator)
            .collect();
        assert_eq!(ops, [Operator::In, Operator::DoesNotExist]);
        let (key, message) = invalid(&[(CLUSTER_SELECTOR, "tier in prod")]);
        assert_eq!(key, CLUSTER_SELECTOR);
        assert_eq!(
            message,
            "invalid value \"tier in prod\": expected `(` at character 9, found `prod`"
        );
    }

    #[test]
    fn strategy() {
        for (text, strategy) in [
            ("spread", Strategy::Spread),
            ("weighted", Strategy::Weighted),
            ("pack", Strategy::Pack),
        ] {
            assert_eq!(policy(&[(STRATEGY, text)]).unwrap().strategy, strategy);
        }
        let (key, message) = invalid(&[(STRATEGY, "Pack")]);
        assert_eq!(key, STRATEGY);
        assert_eq!(
            message,
            "invalid value \"Pack\": expected `spread`, `weighted` or `pack`"
        );
    }

    #[test]
    fn per_name_keys() {
        let p = policy(&[
            (CLUSTER_WEIGHTS, "east-a=3, west=1"),
            (REGION_WEIGHTS, "us-east-1=2,*=1"),
            (CLUSTER_MIN, "*=1"),
            (CLUSTER_MAX, "east-a=10"),
            (REGION_MIN, "eu=2"),
            (REGION_MAX, "*=0,eu=5"),
            (REGION_DEMAND, "eu-west-1=30, us-west-2=70"),
        ])
        .unwrap();
        assert_eq!(
            (p.cluster_weights.get("east-a"), p.cluster_weights.get("west")),
            (Some(3), Some(1))
        );
        assert_eq!(p.cluster_weights.get("other"), None);
        assert_eq!(
            (p.region_weights.get("us-east-1"), p.region_weights.get("x")),
            (Some(2), Some(1))
        );
        assert_eq!(p.cluster_min.get("any"), Some(1));
        assert_eq!(p.cluster_max.get("east-a"), Some(10));
        assert_eq!(p.region_min.get("eu"), Some(2));
        assert_eq!(
            (p.region_max.get("eu"), p.region_max.get("us")),
            (Some(5), Some(0))
        );
        assert_eq!(
            (p.region_demand.get("us-west-2"), p.region_demand.get("eu-west-1")),
            (Some(70), Some(30))
        );
        assert_eq!(p.region_demand.get("ap-south-1"), None);
        assert!(policy(&[(CLUSTER_MAX, " ")]).unwrap().cluster_max.is_empty());
    }

    #[test]
    fn per_name_errors_name_the_annotation() {
        for key in [
            CLUSTER_WEIGHTS,
            REGION_WEIGHTS,
            CLUSTER_MIN,
            CLUSTER_MAX,
            REGION_MIN,
            REGION_MAX,
            REGION_DEMAND,
        ] {
            let cases = [
                ("a=-1", "`a` must be a non-negative integer, found `-1`"),
                ("a=1.5", "`a` must be a non-negative integer, found `1.5`"),
                ("a=x", "`a` must be a non-negative integer, found `x`"),
                ("a", "expected `name=N`, found `a`"),
                ("=3", "`=3` has no name"),
                ("a=1,a=2", "`a` is given twice"),
                ("*=1,*=2", "`*` is given twice"),
                ("a=1,", "expected `name=N`, found ``"),
            ];
            for (value, expected) in cases {
                let (k, message) = invalid(&[(key, value)]);
                assert_eq!(k, key);
                assert_eq!(message, format!("invalid value {value:?}: {expected}"));
            }
        }
    }

    #[test]
    fn a_minimum_above_its_maximum_is_refused() {
        let cases = [
            (
                (CLUSTER_MIN, "*=5"),
                (CLUSTER_MAX, "*=2"),
                "cluster `*` has a minimum of 5, above its maximum of 2",
            ),
            (
                (CLUSTER_MIN, "a=3"),
                (CLUSTER_MAX, "*=2"),
                "cluster `a` has a minimum of 3, above its maximum of 2",
            ),
            (
                (CLUSTER_MIN, "*=3"),
                (CLUSTER_MAX, "b=1"),
                "cluster `b` has a minimum of 3, above its maximum of 1",
            ),
            (
                (REGION_MIN, "r=4"),
                (REGION_MAX, "r=1"),
                "region `r` has a minimum of 4, above its maximum of 1",
            ),
        ];
        for (min, max, expected) in cases {
            let (key, message) = invalid(&[min, max]);
            assert_eq!(key, min.0);
            assert!(message.starts_with(expected), "{message}");
            assert!(message.ends_with(max.0), "{message}");
        }
        // Equal bounds, and bounds on different names, are fine.
        assert!(policy(&[(CLUSTER_MIN, "a=2,*=1"), (CLUSTER_MAX, "a=2,b=1")]).is_ok());
    }

    #[test]
    fn gang() {
        assert!(!policy(&[]).unwrap().gang);
        assert!(policy(&[(GANG, "true")]).unwrap().gang);
        assert!(policy(&[(GANG, " true ")]).unwrap().gang);
        assert!(!policy(&[(GANG, "false")]).unwrap().gang);
        for value in ["True", "yes", "1", "", "true,false"] {
            let (key, message) = invalid(&[(GANG, value)]);
            assert_eq!(key, GANG);
            assert_eq!(
                message,
                format!("invalid value {value:?}: expected `true` or `false`")
            );
        }
    }

    #[test]
    fn min_regions() {
        assert_eq!(policy(&[]).unwrap().min_regions, None);
        assert_eq!(policy(&[(MIN_REGIONS, "2")]).unwrap().min_regions, Some(2));
        assert_eq!(policy(&[(MIN_REGIONS, " 1 ")]).unwrap().min_regions, Some(1));
        for value in ["0", "-1", "1.5", "two", "", "4294967296"] {
            let (key, message) = invalid(&[(MIN_REGIONS, value)]);
            assert_eq!(key, MIN_REGIONS);
            assert_eq!(
                message,
                format!("invalid value {value:?}: expected a positive integer")
            );
        }
    }

    #[test]
    fn every_known_key_is_read() {
        let sample = |key: &str| match key {
            CLUSTER_SELECTOR => "tier=prod",
            STRATEGY => "pack",
            GANG => "true",
            MIN_REGIONS => "2",
            _ => "a=1",
        };
        let pairs: Vec<(&str, &str)> = KNOWN_KEYS.iter().map(|k| (*k, sample(k))).collect();
        let p = policy(&pairs).unwrap();
        assert!(p.gang);
        assert_eq!(p.min_regions, Some(2));
        assert_eq!(p.region_demand.get("a"), Some(1));
        let mut keys = KNOWN_KEYS.to_vec();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), KNOWN_KEYS.len());
        assert!(KNOWN_KEYS.iter().all(|k| k.starts_with(PREFIX)));
    }

    #[test]
    fn unknown_fleetplan_keys_are_rejected() {
        for key in [
            "fleetplan.io/cluster-selecter",
            "fleetplan.io/min-region",
            "fleetplan.io/regions-demand",
            "fleetplan.io/gang-scheduling",
        ] {
            assert_eq!(policy(&[(key, "a=b")]), Err(AnnotationError::Unknown(key.into())));
        }
    }
}

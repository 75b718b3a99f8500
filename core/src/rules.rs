//! The Kubernetes matching rules the planner applies: label requirements, selectors, node
//! selectors and taint tolerations.
//!
//! Each rule is a small pure function over labels and taints, tested against the behaviour the
//! Kubernetes scheduler documents.

use crate::cluster::{Labels, Taint, TaintEffect};
use crate::workload::{LabelRequirement, LabelSelector, Operator, Toleration, TolerationOperator};

impl LabelRequirement {
    /// True when `labels` satisfy the requirement.
    ///
    /// `Gt` and `Lt` read both the label value and the single requirement value as integers;
    /// a value that is not an integer never matches.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Gt | Operator::Lt => {
                let (Some(label), Some(limit)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == Operator::Gt {
                    label > limit
                } else {
                    label < limit
                }
            }
        }
    }
}

impl std::fmt::Display for LabelRequirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let values = self.values.join(",");
        match self.operator {
            Operator::In if self.values.len() == 1 => write!(f, "{}={}", self.key, values),
            Operator::In => write!(f, "{} in ({})", self.key, values),
            Operator::NotIn if self.values.len() == 1 => write!(f, "{}!={}", self.key, values),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, values),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Gt => write!(f, "{}>{}", self.key, values),
            Operator::Lt => write!(f, "{}<{}", self.key, values),
        }
    }
}

impl LabelSelector {
    /// True when every requirement holds (an empty selector matches everything).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The first requirement that `labels` fail, if any.
    pub fn first_failure(&self, labels: &Labels) -> Option<&LabelRequirement> {
        self.requirements.iter().find(|r| !r.matches(labels))
    }
}

impl std::fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

/// The first `nodeSelector` pair that `labels` lack, if any.
pub fn node_selector_failure<'a>(
    node_selector: &'a Labels,
    labels: &Labels,
) -> Option<(&'a String, &'a String)> {
    node_selector.iter().find(|(k, v)| labels.get(*k) != Some(*v))
}

/// True when `labels` satisfy required node affinity: no terms, or at least one term matching.
pub fn required_affinity_matches(terms: &[LabelSelector], labels: &Labels) -> bool {
    terms.is_empty() || terms.iter().any(|t| t.matches(labels))
}

impl Toleration {
    /// True when this toleration tolerates `taint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        match self.operator {
            TolerationOperator::Exists => self.key.is_empty() || self.key == taint.key,
            TolerationOperator::Equal => self.key == taint.key && self.value == taint.value,
        }
    }
}

/// The first taint with a hard effect (`NoSchedule` or `NoExecute`) that no toleration
/// tolerates: a pod is never placed where this returns `Some`.
pub fn untolerated_hard_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints.iter().find(|t| {
        t.effect != TaintEffect::PreferNoSchedule && !tolerations.iter().any(|tol| tol.tolerates(t))
    })
}

/// How many `PreferNoSchedule` taints go untolerated: each lowers a target's preference.
pub fn untolerated_soft_taints(taints: &[Taint], tolerations: &[Toleration]) -> usize {
    taints
        .iter()
        .filter(|t| {
            t.effect == TaintEffect::PreferNoSchedule && !tolerations.iter().any(|tol| tol.tolerates(t))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, operator: Operator, values: &[&str]) -> LabelRequirement {
        LabelRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn in_and_not_in_follow_kubernetes() {
        let l = labels(&[("disktype", "ssd")]);
        assert!(req("disktype", Operator::In, &["ssd", "nvme"]).matches(&l));
        assert!(!req("disktype", Operator::In, &["hdd"]).matches(&l));
        assert!(!req("missing", Operator::In, &["x"]).matches(&l));
        assert!(req("disktype", Operator::NotIn, &["hdd"]).matches(&l));
        assert!(!req("disktype", Operator::NotIn, &["ssd"]).matches(&l));
        // NotIn matches when the label is absent.
        assert!(req("missing", Operator::NotIn, &["x"]).matches(&l));
    }

    #[test]
    fn exists_and_does_not_exist_look_at_the_key_only() {
        let l = labels(&[("gpu", "")]);
        assert!(req("gpu", Operator::Exists, &[]).matches(&l));
        assert!(!req("gpu", Operator::DoesNotExist, &[]).matches(&l));
        assert!(req("other", Operator::DoesNotExist, &[]).matches(&l));
    }

    #[test]
    fn gt_and_lt_compare_integers_and_reject_non_integers() {
        let l = labels(&[("cores", "8"), ("name", "big")]);
        assert!(req("cores", Operator::Gt, &["4"]).matches(&l));
        assert!(!req("cores", Operator::Gt, &["8"]).matches(&l));
        assert!(req("cores", Operator::Lt, &["16"]).matches(&l));
        assert!(!req("name", Operator::Gt, &["1"]).matches(&l));
        assert!(!req("cores", Operator::Gt, &["x"]).matches(&l));
        assert!(!req("missing", Operator::Lt, &["1"]).matches(&l));
    }

    #[test]
    fn selectors_and_all_requirements_and_terms_or() {
        let l = labels(&[("a", "1"), ("b", "2")]);
        let both = LabelSelector {
            requirements: vec![req("a", Operator::In, &["1"]), req("b", Operator::In, &["3"])],
        };
        assert!(!both.matches(&l));
        assert_eq!(both.first_failure(&l).unwrap().key, "b");
        assert!(LabelSelector::default().matches(&l));
        let only_a = LabelSelector {
            requirements: vec![req("a", Operator::Exists, &[])],
        };
        assert!(required_affinity_matches(&[both.clone(), only_a], &l));
        assert!(!required_affinity_matches(&[both], &l));
        assert!(required_affinity_matches(&[], &l));
    }

    #[test]
    fn requirements_display_as_selector_syntax() {
        assert_eq!(req("a", Operator::In, &["1"]).to_string(), "a=1");
        assert_eq!(req("a", Operator::In, &["1", "2"]).to_string(), "a in (1,2)");
        assert_eq!(req("a", Operator::NotIn, &["1"]).to_string(), "a!=1");
        assert_eq!(req("a", Operator::DoesNotExist, &[]).to_string(), "!a");
        assert_eq!(req("a", Operator::Gt, &["3"]).to_string(), "a>3");
    }

    #[test]
    fn node_selector_needs_every_pair() {
        let l = labels(&[("disktype", "ssd"), ("arch", "amd64")]);
        assert_eq!(node_selector_failure(&labels(&[("disktype", "ssd")]), &l), None);
        let sel = labels(&[("disktype", "ssd"), ("gpu", "a100")]);
        let (k, v) = node_selector_failure(&sel, &l).unwrap();
        assert_eq!((k.as_str(), v.as_str()), ("gpu", "a100"));
    }

    fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect,
        }
    }

    #[test]
    fn tolerations_match_key_value_and_effect() {
        let t = taint("dedicated", "batch", TaintEffect::NoSchedule);
        let equal = Toleration {
            key: "dedicated".into(),
            operator: TolerationOperator::Equal,
            value: "batch".into(),
            effect: None,
        };
        assert!(equal.tolerates(&t));
        assert!(
            !Toleration {
                value: "web".into(),
                ..equal.clone()
            }
            .tolerates(&t)
        );
        assert!(
            !Toleration {
                effect: Some(TaintEffect::NoExecute),
                ..equal.clone()
            }
            .tolerates(&t)
        );
        let exists = Toleration {
            key: "dedicated".into(),
            operator: TolerationOperator::Exists,
            ..Toleration::default()
        };
        assert!(exists.tolerates(&t));
        let everything = Toleration {
            operator: TolerationOperator::Exists,
            ..Toleration::default()
        };
        assert!(everything.tolerates(&t));
    }

    #[test]
    fn hard_taints_block_and_soft_taints_only_count() {
        let taints = vec![
            taint("soft", "", TaintEffect::PreferNoSchedule),
            taint("hard", "x", TaintEffect::NoExecute),
        ];
        assert_eq!(untolerated_hard_taint(&taints, &[]).unwrap().key, "hard");
        assert_eq!(untolerated_soft_taints(&taints, &[]), 1);
        let tol = Toleration {
            key: "hard".into(),
            operator: TolerationOperator::Exists,
            ..Toleration::default()
        };
        assert_eq!(untolerated_hard_taint(&taints, &[tol]), None);
    }
}

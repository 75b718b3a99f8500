//! What the Kubernetes API server refuses, for the fields the readers read: object names and
//! namespaces, label keys and values, annotation keys and sizes, and label selectors. The rules and their examples are
//! apimachinery's (`k8s.io/apimachinery/pkg/util/validation` and
//! `pkg/apis/meta/v1/validation`), so that nonsense `kubectl apply` would be refused for is
//! refused here too, with the file, object and field named.
//!
//! The string rules return what is wrong as a sentence naming the value (control characters
//! escaped); [`labels`] and [`label_selector`] turn that into a [`LoadError`] at the field.
//!
//! Which name rule an object's `metadata.name` keeps depends on its kind ([`object_name`]):
//! the kinds the readers read closely keep the API server's rule for them, every other kind
//! only the generic path-segment rule, since some kinds allow more (RBAC objects allow `:`,
//! say). A cluster's own name keeps the core's rule ([`fleetplan::cluster_name_error`]).

use std::collections::BTreeMap;

use fleetplan::Labels;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::error::LoadError;
use crate::files::source::Site;

/// The longest DNS-1123 label, and the longest label value and name part of a label key.
const MAX_LABEL_LEN: usize = 63;
/// The longest DNS-1123 subdomain (and label key prefix).
const MAX_SUBDOMAIN_LEN: usize = 253;

/// `value` as messages show it: control characters (and quotes, backslashes) escaped, so
/// that a message stays on one line.
pub(crate) fn shown(value: &str) -> String {
    value.escape_debug().to_string()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, without the length limit.
fn is_label_shaped(part: &str) -> bool {
    let bytes = part.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    edge(bytes.first())
        && edge(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`: a label value or the name part of a key.
fn is_label_name_shaped(part: &str) -> bool {
    let bytes = part.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    edge(bytes.first())
        && edge(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A lowercase RFC 1123 label (namespaces, container names, Namespace objects): 1 to 63
/// lowercase letters, digits and `-`, starting and ending with a letter or digit.
pub(crate) fn dns1123_label(value: &str) -> Result<(), String> {
    let why = if value.is_empty() {
        "it is empty".to_string()
    } else if value.len() > MAX_LABEL_LEN {
        format!("it is {} characters long; at most {MAX_LABEL_LEN}", value.len())
    } else if !is_label_shaped(value) {
        "use lowercase letters, digits and `-`, starting and ending with a letter or digit (such as `my-name` \
         or `123-abc`)"
            .to_string()
    } else {
        return Ok(());
    };
    Err(format!("`{}` is not a DNS-1123 label: {why}", shown(value)))
}

/// Why `value` is not a lowercase RFC 1123 subdomain, without naming it.
fn subdomain_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        Some("it is empty".into())
    } else if value.len() > MAX_SUBDOMAIN_LEN {
        Some(format!(
            "it is {} characters long; at most {MAX_SUBDOMAIN_LEN}",
            value.len()
        ))
    } else if !value.split('.').all(is_label_shaped) {
        Some(
            "use lowercase letters, digits, `-` and `.`, each part between dots starting and ending with a \
             letter or digit (such as `example.com`)"
                .into(),
        )
    } else {
        None
    }
}

/// A lowercase RFC 1123 subdomain (the names of Deployments, Jobs, PriorityClasses): at most
/// 253 lowercase letters, digits, `-` and `.`, each part between dots starting and ending
/// with a letter or digit.
pub(crate) fn dns1123_subdomain(value: &str) -> Result<(), String> {
    match subdomain_problem(value) {
        Some(why) => Err(format!("`{}` is not a DNS-1123 subdomain: {why}", shown(value))),
        None => Ok(()),
    }
}

/// The API server's rule for the name of any object (a path segment of its URL): not
/// empty, not `.` or `..`, no `/` or `%`. Whitespace and control characters are refused too:
/// no kind the API server serves allows them, and they break the tables names are printed in.
pub(crate) fn path_segment_name(value: &str) -> Result<(), String> {
    let why = if value.is_empty() {
        "it is empty".to_string()
    } else if value == "." || value == ".." {
        format!("it may not be `{value}`")
    } else if let Some(c) = value.chars().find(|c| matches!(c, '/' | '%')) {
        format!("it may not contain `{c}`")
    } else if let Some(c) = value.chars().find(|c| c.is_whitespace() || c.is_control()) {
        format!("it may not contain {c:?}")
    } else {
        return Ok(());
    };
    Err(format!("`{}` is not a valid name: {why}", shown(value)))
}

/// The name an object of `kind` (in API group `group`) may have: a DNS-1123 subdomain for
/// the kinds that are planned or read (`apps` Deployment, `batch` Job, `scheduling.k8s.io`
/// PriorityClass), a DNS-1123 label for a Namespace, and the generic path-segment rule
/// ([`path_segment_name`]) for every other kind.
pub(crate) fn object_name(group: &str, kind: &str, name: &str) -> Result<(), String> {
    match (group, kind) {
        ("apps", "Deployment") | ("batch", "Job") | ("scheduling.k8s.io", "PriorityClass") => {
            dns1123_subdomain(name)
        }
        ("", "Namespace") => dns1123_label(name),
        _ => path_segment_name(name),
    }
}

/// A label key, a qualified name: an optional prefix (a DNS-1123 subdomain) and `/`, then a
/// name of 1 to 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or
/// digit. Taint and toleration keys and topology keys keep the same rule.
pub(crate) fn label_key(value: &str) -> Result<(), String> {
    let why = |why: String| Err(format!("`{}` is not a valid label key: {why}", shown(value)));
    let name = match value.split_once('/') {
        None => value,
        Some((_, name)) if name.contains('/') => {
            return why(
                "it holds more than one `/`; a key is a name with an optional DNS subdomain prefix and `/` (such \
                 as `example.com/my-key`)"
                    .into(),
            );
        }
        Some(("", _)) => return why("the prefix before `/` is empty".into()),
        Some((prefix, name)) => {
            if let Some(problem) = subdomain_problem(prefix) {
                return why(format!(
                    "the prefix before `/` is not a DNS-1123 subdomain: {problem}"
                ));
            }
            name
        }
    };
    if name.is_empty() {
        why("the name is empty".into())
    } else if name.len() > MAX_LABEL_LEN {
        why(format!(
            "the name is {} characters long; at most {MAX_LABEL_LEN}",
            name.len()
        ))
    } else if !is_label_name_shaped(name) {
        why("the name must be letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit (such \
             as `MyName`, `my.name` or `123-abc`)"
            .into())
    } else {
        Ok(())
    }
}

/// A label value: empty, or 1 to 63 letters, digits, `-`, `_` and `.`, starting and ending
/// with a letter or digit.
pub(crate) fn label_value(value: &str) -> Result<(), String> {
    let why = if value.len() > MAX_LABEL_LEN {
        format!("it is {} characters long; at most {MAX_LABEL_LEN}", value.len())
    } else if !value.is_empty() && !is_label_name_shaped(value) {
        "use letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit (such as `MyValue`, \
         `my_value` or `12345`), or nothing"
            .to_string()
    } else {
        return Ok(());
    };
    Err(format!("`{}` is not a valid label value: {why}", shown(value)))
}

/// Checks the keys and values of the labels at `field` (such as `metadata.labels`); the error
/// names the label as `field[key]`.
pub(crate) fn labels(labels: &Labels, site: &Site, field: &str) -> Result<(), LoadError> {
    for (key, value) in labels {
        label_key(key)
            .and_then(|()| label_value(value))
            .map_err(|m| site.invalid(format!("{field}[{}]", shown(key)), m))?;
    }
    Ok(())
}

/// The most bytes an object's annotations (keys and values) may take.
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

/// Checks an object's annotations as the API server does: each key a qualified name (the
/// label key rule, case aside), keys and values together at most 256 KiB.
pub(crate) fn annotations(
    annotations: &BTreeMap<String, String>,
    site: &Site,
    field: &str,
) -> Result<(), LoadError> {
    let mut size = 0;
    for (key, value) in annotations {
        label_key(&key.to_ascii_lowercase())
            .map_err(|m| site.invalid(format!("{field}[{}]", shown(key)), m))?;
        size += key.len() + value.len();
    }
    if size > ANNOTATIONS_LIMIT {
        return Err(site.invalid(
            field,
            format!("must have at most {ANNOTATIONS_LIMIT} bytes (has {size})"),
        ));
    }
    Ok(())
}

/// Checks a label selector at `field` as the API server does: its `matchLabels` as labels,
/// and each of its `matchExpressions` a valid key, an operator among `In`, `NotIn`, `Exists`
/// and `DoesNotExist`, values for `In` and `NotIn` only, each a valid label value.
pub(crate) fn label_selector(selector: &LabelSelector, site: &Site, field: &str) -> Result<(), LoadError> {
    if let Some(match_labels) = &selector.match_labels {
        labels(match_labels, site, &format!("{field}.matchLabels"))?;
    }
    for (i, expression) in selector.match_expressions.iter().flatten().enumerate() {
        let field = format!("{field}.matchExpressions[{i}]");
        label_key(&expression.key).map_err(|m| site.invalid(format!("{field}.key"), m))?;
        let values = expression.values.as_deref().unwrap_or_default();
        let problem = match expression.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => Some("needs at least one value"),
            "Exists" | "DoesNotExist" if !values.is_empty() => Some("takes no values"),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => None,
            other => {
                return Err(site.invalid(
                    format!("{field}.operator"),
                    format!(
                        "unknown operator `{}`; expected In, NotIn, Exists or DoesNotExist",
                        shown(other)
                    ),
                ));
            }
        };
        if let Some(problem) = problem {
            return Err(site.invalid(
                format!("{field}.values"),
                format!("operator {} {problem}", expression.operator),
            ));
        }
        for (j, value) in values.iter().enumerate() {
            label_value(value).map_err(|m| site.invalid(format!("{field}.values[{j}]"), m))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site::example()
    }

    // The examples below are apimachinery's own (`util/validation/validation_test.go`).

    #[test]
    fn dns1123_labels() {
        let long = "a".repeat(63);
        for good in [
            "a",
            "ab",
            "abc",
            "a1",
            "a-1",
            "a--1--2--b",
            "0",
            "01",
            "012",
            "1a",
            "1-a",
            "1--a--b--2",
            &long,
        ] {
            assert_eq!(dns1123_label(good), Ok(()), "{good}");
        }
        for bad in [
            "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a", "a_b",
            "1_", "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ", " a", "a b", "1 ", " 1",
            "1 2", "a\nb", "é",
        ] {
            assert!(dns1123_label(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            dns1123_label(&"a".repeat(64)).unwrap_err(),
            format!(
                "`{}` is not a DNS-1123 label: it is 64 characters long; at most 63",
                "a".repeat(64)
            )
        );
        assert_eq!(
            dns1123_label("My_App").unwrap_err(),
            "`My_App` is not a DNS-1123 label: use lowercase letters, digits and `-`, starting and ending with a \
             letter or digit (such as `my-name` or `123-abc`)"
        );
        assert_eq!(
            dns1123_label("").unwrap_err(),
            "`` is not a DNS-1123 label: it is empty"
        );
    }

    #[test]
    fn dns1123_subdomains() {
        let long = "a".repeat(253);
        for good in [
            "a",
            "ab",
            "abc",
            "a1",
            "a-1",
            "a--1--2--b",
            "0",
            "01",
            "012",
            "1a",
            "1-a",
            "1--a--b--2",
            "a.a",
            "ab.a",
            "abc.a",
            "a1.a",
            "a-1.a",
            "a--1--2--b.a",
            "a.1",
            "ab.1",
            "abc.1",
            "a1.1",
            "a-1.1",
            "a--1--2--b.1",
            "0.a",
            "01.a",
            "012.a",
            "1a.a",
            "1-a.a",
            "0.1",
            "01.1",
            "012.1",
            "1a.1",
            "1-a.1",
            "1--a--b--2.1",
            "a.b.c.d.e",
            "aa.bb.cc.dd.ee",
            "1.2.3.4.5",
            "11.22.33.44.55",
            &long,
        ] {
            assert_eq!(dns1123_subdomain(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "A",
            "ABC",
            "aBc",
            "A1",
            "A-1",
            "1-A",
            "-",
            "a-",
            "-a",
            "1-",
            "-1",
            "_",
            "a_",
            "_a",
            "a_b",
            "1_",
            "_1",
            "1_2",
            ".",
            "a.",
            ".a",
            "a..b",
            "1.",
            ".1",
            "1..2",
            " ",
            "a ",
            " a",
            "a b",
            "1 ",
            " 1",
            "1 2",
            "A.a",
            "aB.a",
            "ab.A",
            "A1.a",
            "a1.A",
            "A.1",
            "aB.1",
            "A1.1",
            "1A.1",
            "0.A",
            "01.A",
            "012.A",
            "1A.a",
            "1a.A",
            "A.B.C.D.E",
            "AA.BB.CC.DD.EE",
            "a.B.c.d.e",
            "aa.bB.cc.dd.ee",
            "a@b",
            "a,b",
            "a_b",
            "a;b",
            "a:b",
            "a%b",
            "a?b",
            "a$b",
            "a.-b",
            "web\n",
        ] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            dns1123_subdomain(&"a".repeat(254)).unwrap_err(),
            format!(
                "`{}` is not a DNS-1123 subdomain: it is 254 characters long; at most 253",
                "a".repeat(254)
            )
        );
        assert_eq!(
            dns1123_subdomain("web\n").unwrap_err(),
            "`web\\n` is not a DNS-1123 subdomain: use lowercase letters, digits, `-` and `.`, each part between \
             dots starting and ending with a letter or digit (such as `example.com`)"
        );
    }

    #[test]
    fn path_segment_names() {
        for good in [
            "a",
            "system:controller:job",
            "Web_1",
            "a.b",
            "...",
            "x..y",
            "ünïcode",
        ] {
            assert_eq!(path_segment_name(good), Ok(()), "{good}");
        }
        let error = |v: &str| path_segment_name(v).unwrap_err();
        assert_eq!(error(""), "`` is not a valid name: it is empty");
        assert_eq!(error("."), "`.` is not a valid name: it may not be `.`");
        assert_eq!(error(".."), "`..` is not a valid name: it may not be `..`");
        assert_eq!(error("a/b"), "`a/b` is not a valid name: it may not contain `/`");
        assert_eq!(
            error("a%2F"),
            "`a%2F` is not a valid name: it may not contain `%`"
        );
        assert_eq!(error("a b"), "`a b` is not a valid name: it may not contain ' '");
        assert_eq!(
            error("a\nb"),
            "`a\\nb` is not a valid name: it may not contain '\\n'"
        );
        assert!(path_segment_name("a\u{7}").is_err());
    }

    #[test]
    fn object_names_by_kind() {
        assert!(object_name("apps", "Deployment", "Web").is_err());
        assert!(object_name("batch", "Job", "a_b").is_err());
        assert!(object_name("scheduling.k8s.io", "PriorityClass", "High").is_err());
        assert_eq!(object_name("apps", "Deployment", "web.v2"), Ok(()));
        assert!(object_name("", "Namespace", "a.b").is_err());
        assert_eq!(object_name("", "Namespace", "shop"), Ok(()));
        // Carried kinds keep only the path-segment rule.
        assert_eq!(
            object_name(
                "rbac.authorization.k8s.io",
                "ClusterRole",
                "system:aggregate-to-edit"
            ),
            Ok(())
        );
        assert_eq!(object_name("example.com", "Widget", "Big_Widget"), Ok(()));
        assert!(object_name("", "ConfigMap", "a/b").is_err());
        // A Deployment in another group is no apps/v1 Deployment.
        assert_eq!(object_name("example.com", "Deployment", "Web"), Ok(()));
    }

    #[test]
    fn label_keys() {
        let long_name = "a".repeat(63);
        let longest = format!("{}/{}", "a".repeat(253), "b".repeat(63));
        for good in [
            "simple",
            "now-with-dashes",
            "1-starts-with-num",
            "1234",
            "simple/simple",
            "now-with-dashes/simple",
            "now-with-dashes/now-with-dashes",
            "now.with.dots/simple",
            "now-with.dashes-and.dots/simple",
            "1-num.2-num/3-num",
            "1234/5678",
            "1.2.3.4/5678",
            "Uppercase_Is_OK_123",
            "example.com/Uppercase_Is_OK_123",
            "requests.storage-foo",
            "example.com/my-key",
            "topology.kubernetes.io/zone",
            &long_name,
            &longest,
        ] {
            assert_eq!(label_key(good), Ok(()), "{good}");
        }
        let too_long_prefix = format!("{}/abc", "a".repeat(254));
        for bad in [
            "nospecialchars%^=@",
            "cantendwithadash-",
            "-cantstartwithadash-",
            "only/one/slash",
            "a/b/c",
            "Example.com/abc",
            "example_com/abc",
            "example.com/",
            "/simple",
            "/a",
            "",
            "a b",
            "a\n",
            &"a".repeat(64),
            &too_long_prefix,
        ] {
            assert!(label_key(bad).is_err(), "{bad:?}");
        }
        let error = |v: &str| label_key(v).unwrap_err();
        assert_eq!(
            error("a/b/c"),
            "`a/b/c` is not a valid label key: it holds more than one `/`; a key is a name with an optional DNS \
             subdomain prefix and `/` (such as `example.com/my-key`)"
        );
        assert_eq!(
            error("/a"),
            "`/a` is not a valid label key: the prefix before `/` is empty"
        );
        assert_eq!(
            error("Example.com/abc"),
            "`Example.com/abc` is not a valid label key: the prefix before `/` is not a DNS-1123 subdomain: use \
             lowercase letters, digits, `-` and `.`, each part between dots starting and ending with a letter or \
             digit (such as `example.com`)"
        );
        assert_eq!(
            error("example.com/"),
            "`example.com/` is not a valid label key: the name is empty"
        );
        assert_eq!(
            error(&"a".repeat(64)),
            format!(
                "`{}` is not a valid label key: the name is 64 characters long; at most 63",
                "a".repeat(64)
            )
        );
        assert_eq!(
            error("-a"),
            "`-a` is not a valid label key: the name must be letters, digits, `-`, `_` and `.`, starting and ending \
             with a letter or digit (such as `MyName`, `my.name` or `123-abc`)"
        );
    }

    #[test]
    fn label_values() {
        let long = "a".repeat(63);
        for good in [
            "simple",
            "now-with-dashes",
            "1-starts-with-num",
            "end-with-num-1",
            "1234",
            "a.b-c_d",
            "MyValue",
            "",
            &long,
        ] {
            assert_eq!(label_value(good), Ok(()), "{good}");
        }
        for bad in [
            "nospecialchars%^=@",
            "Tama-nui-te-rā",
            "\u{2088}",
            "cantendwithadash-",
            "-cantstartwithadash",
            "-a",
            "only/one/slash",
            "a b",
            "a\n",
            &"a".repeat(64),
        ] {
            assert!(label_value(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            label_value(&"a".repeat(64)).unwrap_err(),
            format!(
                "`{}` is not a valid label value: it is 64 characters long; at most 63",
                "a".repeat(64)
            )
        );
        assert_eq!(
            label_value("-a").unwrap_err(),
            "`-a` is not a valid label value: use letters, digits, `-`, `_` and `.`, starting and ending with a \
             letter or digit (such as `MyValue`, `my_value` or `12345`), or nothing"
        );
    }

    #[test]
    fn labels_name_the_label() {
        let mut l = Labels::new();
        l.insert("app".into(), "web".into());
        labels(&l, &site(), "metadata.labels").unwrap();
        l.insert("tier".into(), "front end".into());
        assert_eq!(
            labels(&l, &site(), "metadata.labels").unwrap_err().to_string(),
            "apps/web.yaml: Deployment shop/web: metadata.labels[tier]: `front end` is not a valid label value: use \
             letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit (such as `MyValue`, \
             `my_value` or `12345`), or nothing"
        );
        let mut l = Labels::new();
        l.insert("a/b/c".into(), "x".into());
        assert!(
            labels(&l, &site(), "spec.template.metadata.labels")
                .unwrap_err()
                .to_string()
                .starts_with(
                    "apps/web.yaml: Deployment shop/web: spec.template.metadata.labels[a/b/c]: `a/b/c` is not a \
                     valid label key"
                )
        );
    }

    #[test]
    fn label_selectors() {
        let check = |yaml: &str| {
            let selector: LabelSelector = serde_norway::from_str(yaml).unwrap();
            label_selector(&selector, &site(), "spec.selector").map_err(|e| e.to_string())
        };
        check(
            "matchLabels: {app: web}\nmatchExpressions:\n- {key: tier, operator: In, values: [a, b]}\n\
             - {key: example.com/x, operator: DoesNotExist}\n",
        )
        .unwrap();
        check("{}").unwrap();
        let prefix = "apps/web.yaml: Deployment shop/web: spec.selector";
        assert_eq!(
            check("matchLabels: {app: '-web'}\n").unwrap_err(),
            format!(
                "{prefix}.matchLabels[app]: `-web` is not a valid label value: use letters, digits, `-`, `_` and \
                 `.`, starting and ending with a letter or digit (such as `MyValue`, `my_value` or `12345`), or \
                 nothing"
            )
        );
        assert_eq!(
            check("matchExpressions: [{key: tier, operator: In}]\n").unwrap_err(),
            format!("{prefix}.matchExpressions[0].values: operator In needs at least one value")
        );
        assert_eq!(
            check("matchExpressions: [{key: tier, operator: Exists, values: [a]}]\n").unwrap_err(),
            format!("{prefix}.matchExpressions[0].values: operator Exists takes no values")
        );
        assert_eq!(
            check("matchExpressions: [{key: tier, operator: Gt, values: ['1']}]\n").unwrap_err(),
            format!(
                "{prefix}.matchExpressions[0].operator: unknown operator `Gt`; expected In, NotIn, Exists or \
                 DoesNotExist"
            )
        );
        assert!(
            check("matchExpressions: [{key: /tier, operator: Exists}]\n")
                .unwrap_err()
                .starts_with(&format!(
                    "{prefix}.matchExpressions[0].key: `/tier` is not a valid label key"
                ))
        );
        assert!(
            check("matchExpressions: [{key: tier, operator: In, values: [ok, 'not ok']}]\n")
                .unwrap_err()
                .starts_with(&format!(
                    "{prefix}.matchExpressions[0].values[1]: `not ok` is not a valid label value"
                ))
        );
    }
}

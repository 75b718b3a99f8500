//! What-if steps as written in a steps file: a YAML list whose items are one operation or a
//! list of operations run as one step, such as `- {op: fail, cluster: us-west-2-a}`. The
//! text is read under the same limits as every other input file.

use std::path::Path;

use fleetplan::simulate::Operation;
use serde_json::Value;

use crate::files::source::SourceFile;
use crate::files::source::yaml_documents;

/// The steps of YAML (or JSON) `text`; `name` (a file name, say) starts every error, which
/// also says which step, operation and field is wrong.
///
/// # Errors
/// Text that is not YAML, not a non-empty list, an empty step, or an operation that is not a
/// mapping or has an unknown `op`, an unknown field or a field of the wrong type.
pub fn parse_steps(text: &str, name: &str) -> Result<Vec<Vec<Operation>>, String> {
    let file = SourceFile {
        name: Path::new(name).to_path_buf(),
        text: text.to_owned(),
    };
    let mut documents = yaml_documents(&file).map_err(|err| err.to_string())?;
    let items = match (documents.pop(), documents.is_empty()) {
        (Some(Value::Array(items)), true) => items,
        (Some(_), false) => return Err(format!("{name}: expected one YAML document, a list of steps")),
        _ => {
            return Err(format!(
                "{name}: expected a list of steps, such as `- {{op: fail, cluster: us-west-2-a}}`"
            ));
        }
    };
    if items.is_empty() {
        return Err(format!("{name}: the steps file holds no step"));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Array(ops) if !ops.is_empty() => ops
                .into_iter()
                .enumerate()
                .map(|(j, op)| {
                    operation(op).map_err(|err| format!("{name}: step {}, operation {}: {err}", i + 1, j + 1))
                })
                .collect(),
            Value::Array(_) => Err(format!("{name}: step {}: an empty list of operations", i + 1)),
            op => Ok(vec![
                operation(op).map_err(|err| format!("{name}: step {}: {err}", i + 1))?,
            ]),
        })
        .collect()
}

/// One operation mapping; a field the operation does not have is an error, and a field of the
/// wrong type is named.
fn operation(value: Value) -> Result<Operation, String> {
    let Value::Object(fields) = &value else {
        return Err("expected an operation mapping, such as `{op: drain, cluster: us-west-2-b}`".into());
    };
    serde_json::from_value(value.clone()).map_err(|err| {
        // The operations are told apart by `op`, which hides the failing field from the
        // error; find it as the one whose absence turns the error into "missing field".
        let culprit = fields.keys().filter(|k| *k != "op").find(|key| {
            let mut without = fields.clone();
            without.remove(*key);
            serde_json::from_value::<Operation>(Value::Object(without))
                .is_err_and(|e| e.to_string() == format!("missing field `{key}`"))
        });
        match culprit {
            Some(field) => format!("{field}: {err}"),
            None => err.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_single_operations_or_lists_and_errors_say_where() {
        let steps = parse_steps(
            "- {op: fail, cluster: a}\n- [{op: cordon, cluster: b}, {op: recover, cluster: a}]\n",
            "steps.yaml",
        )
        .unwrap();
        assert_eq!(steps.iter().map(Vec::len).collect::<Vec<_>>(), [1, 2]);
        let e = parse_steps("- [{op: fail, cluster: a}, {op: explode}]\n", "steps.yaml").unwrap_err();
        assert!(e.starts_with("steps.yaml: step 1, operation 2: "), "{e}");
        assert!(parse_steps("[]", "s").unwrap_err().contains("no step"));
        assert!(
            parse_steps("{op: fail}", "s")
                .unwrap_err()
                .contains("expected a list of steps")
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let e = parse_steps("- {op: scale, workload: shop/web, replicas: -1}\n", "steps.yaml").unwrap_err();
        assert!(
            e.starts_with("steps.yaml: step 1: replicas: invalid value: integer `-1`"),
            "{e}"
        );
        let e = parse_steps("- {op: resizePool, cluster: a, pool: p, nodes: many}\n", "s").unwrap_err();
        assert!(
            e.starts_with("s: step 1: nodes: invalid type: string \"many\""),
            "{e}"
        );
    }

    #[test]
    fn steps_are_read_under_the_input_limits() {
        let bomb = format!(
            "- &a [{}]\n{}",
            vec!["{op: fail, cluster: x}"; 1000].join(", "),
            "- *a\n".repeat(20_000)
        );
        let e = parse_steps(&bomb, "steps.yaml").unwrap_err();
        assert!(e.contains("expands to too much"), "{e}");
        let e = parse_steps("- {op: fail, cluster: a, cluster: b}\n", "steps.yaml").unwrap_err();
        assert!(e.contains("`cluster` is given twice"), "{e}");
    }
}

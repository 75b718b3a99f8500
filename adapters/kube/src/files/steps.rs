//! What-if steps as written in a steps file: a YAML list whose items are one operation or a
//! list of operations run as one step, such as `- {op: fail, cluster: us-west-2-a}`.

use fleetplan::simulate::Operation;

/// The steps of YAML (or JSON) `text`; `name` (a file name, say) starts every error, which
/// also says which step and operation is wrong.
///
/// # Errors
/// Text that is not YAML, not a non-empty list, an empty step, or an operation that is not a
/// mapping or has an unknown `op` or field.
pub fn parse_steps(text: &str, name: &str) -> Result<Vec<Vec<Operation>>, String> {
    let doc: serde_norway::Value = serde_norway::from_str(text).map_err(|err| format!("{name}: {err}"))?;
    let serde_norway::Value::Sequence(items) = doc else {
        return Err(format!(
            "{name}: expected a list of steps, such as `- {{op: fail, cluster: us-west-2-a}}`"
        ));
    };
    if items.is_empty() {
        return Err(format!("{name}: the steps file holds no step"));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            serde_norway::Value::Sequence(ops) if !ops.is_empty() => ops
                .into_iter()
                .enumerate()
                .map(|(j, op)| {
                    operation(op).map_err(|err| format!("{name}: step {}, operation {}: {err}", i + 1, j + 1))
                })
                .collect(),
            serde_norway::Value::Sequence(_) => {
                Err(format!("{name}: step {}: an empty list of operations", i + 1))
            }
            op => Ok(vec![
                operation(op).map_err(|err| format!("{name}: step {}: {err}", i + 1))?,
            ]),
        })
        .collect()
}

/// One operation mapping; a field the operation does not have is an error.
fn operation(value: serde_norway::Value) -> Result<Operation, String> {
    if !value.is_mapping() {
        return Err("expected an operation mapping, such as `{op: drain, cluster: us-west-2-b}`".into());
    }
    serde_norway::from_value(value).map_err(|err| err.to_string())
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
}

//! An object of the apps that is not planned but carried along: a Service, a ConfigMap, a
//! Namespace... as written, with where it came from. The objects that may follow a workload
//! are among them (see [`crate::dependents`]).
//!
//! Carried objects are most of what an apps folder holds (ConfigMaps and Secrets of
//! megabytes), and planning never looks inside most of them, so each is kept as its compact
//! JSON text, about the size of the YAML it came from, rather than as a tree of values (ten
//! to twenty times that). [`CarriedObject::value`] reads it back where one is needed.

use std::path::PathBuf;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::files::bounded::read_back;

/// An apps object carried along unplanned.
#[derive(Clone, Debug)]
pub struct CarriedObject {
    /// `kind`, such as `Service`.
    pub kind: String,
    /// `apiVersion`, such as `v1`.
    pub api_version: String,
    /// `metadata.namespace` as written (`None` when absent, even for namespaced kinds).
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// The object as written, as compact JSON text.
    pub object: Box<RawValue>,
}

impl PartialEq for CarriedObject {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.kind,
            &self.api_version,
            &self.namespace,
            &self.name,
            &self.file,
            self.object.get(),
        ) == (
            &other.kind,
            &other.api_version,
            &other.namespace,
            &other.name,
            &other.file,
            other.object.get(),
        )
    }
}

impl Eq for CarriedObject {}

impl CarriedObject {
    /// The object as written, read back from its compact text (a new value on each call).
    pub fn value(&self) -> Value {
        read_back(&self.object)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::files::bounded::compact;

    fn carried(value: &Value) -> CarriedObject {
        CarriedObject {
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
            namespace: None,
            name: "settings".into(),
            file: "apps/settings.yaml".into(),
            object: compact(value),
        }
    }

    #[test]
    fn an_object_reads_back_as_written() {
        let value = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings"}, "data": {"b": "2", "a": "1", "n": "0.50"}});
        let object = carried(&value);
        assert_eq!(object.object.get().len(), value.to_string().len());
        assert_eq!(object.value(), value);
    }

    #[test]
    fn an_object_nested_as_deep_as_the_readers_allow_reads_back() {
        let mut value = json!("leaf");
        for _ in 0..127 {
            value = json!([value]);
        }
        let value = json!({"data": value});
        assert_eq!(carried(&value).value(), value);
    }
}

//! Resource names and amounts in canonical integer units.
//!
//! Every amount is an `i64` in the resource's canonical unit: CPU in millicores, memory and
//! ephemeral storage in bytes, pods and extended resources (such as `nvidia.com/gpu`) in whole
//! units. Parsing Kubernetes quantity strings (`250m`, `1.5Gi`) is an adapter's job; the core
//! only ever sees integers.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The name of a resource, such as `cpu`, `memory` or `nvidia.com/gpu`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceName(pub String);

impl ResourceName {
    /// CPU, in millicores.
    pub const CPU: &'static str = "cpu";
    /// Memory, in bytes.
    pub const MEMORY: &'static str = "memory";
    /// Pod slots on a node; every replica takes one.
    pub const PODS: &'static str = "pods";
    /// Local ephemeral storage, in bytes.
    pub const EPHEMERAL_STORAGE: &'static str = "ephemeral-storage";

    /// Builds a resource name.
    pub fn new(name: impl Into<String>) -> Self {
        ResourceName(name.into())
    }

    /// The name as written in Kubernetes objects.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of resource amounts, keyed by name, in canonical units.
///
/// A resource that is absent has amount zero: a node that does not list `nvidia.com/gpu` has
/// no GPU to offer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Resources(BTreeMap<ResourceName, i64>);

impl Resources {
    /// An empty set (every amount zero).
    pub fn new() -> Self {
        Resources(BTreeMap::new())
    }

    /// Returns the set with `name` set to `amount`.
    pub fn with(mut self, name: &str, amount: i64) -> Self {
        self.set(name, amount);
        self
    }

    /// Sets `name` to `amount`.
    pub fn set(&mut self, name: &str, amount: i64) {
        self.0.insert(ResourceName::new(name), amount);
    }

    /// The amount of `name`, zero when absent.
    pub fn get(&self, name: &str) -> i64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Iterates over `(name, amount)` pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&ResourceName, i64)> {
        self.0.iter().map(|(name, amount)| (name, *amount))
    }

    /// True when no resource is listed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds every amount of `other` to this set.
    pub fn add(&mut self, other: &Resources) {
        for (name, amount) in other.iter() {
            *self.0.entry(name.clone()).or_insert(0) += amount;
        }
    }

    /// Raises every amount of this set to at least the amount in `other`.
    pub fn raise_to(&mut self, other: &Resources) {
        for (name, amount) in other.iter() {
            let entry = self.0.entry(name.clone()).or_insert(0);
            *entry = (*entry).max(amount);
        }
    }
}

impl<'a> FromIterator<(&'a str, i64)> for Resources {
    fn from_iter<T: IntoIterator<Item = (&'a str, i64)>>(iter: T) -> Self {
        Resources(
            iter.into_iter()
                .map(|(name, amount)| (ResourceName::new(name), amount))
                .collect(),
        )
    }
}

impl std::borrow::Borrow<str> for ResourceName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Formats an amount of `resource` the way `kubectl` users read it: `250m` or `2` for CPU,
/// `512Mi` or `4Gi` for byte-valued resources, a plain number otherwise.
pub fn format_amount(resource: &str, amount: i64) -> String {
    match resource {
        ResourceName::CPU => {
            if amount % 1000 == 0 {
                format!("{}", amount / 1000)
            } else {
                format!("{amount}m")
            }
        }
        ResourceName::MEMORY | ResourceName::EPHEMERAL_STORAGE => format_bytes(amount),
        _ => amount.to_string(),
    }
}

fn format_bytes(amount: i64) -> String {
    const UNITS: [(&str, i64); 4] = [("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];
    for (suffix, size) in UNITS {
        if amount != 0 && amount % size == 0 {
            return format!("{}{suffix}", amount / size);
        }
    }
    amount.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_resources_are_zero() {
        let r = Resources::new().with("cpu", 500);
        assert_eq!(r.get("cpu"), 500);
        assert_eq!(r.get("nvidia.com/gpu"), 0);
    }

    #[test]
    fn add_and_raise_combine_per_resource() {
        let mut a = Resources::new().with("cpu", 500).with("memory", 10);
        a.add(&Resources::new().with("cpu", 250).with("pods", 1));
        assert_eq!((a.get("cpu"), a.get("memory"), a.get("pods")), (750, 10, 1));
        a.raise_to(&Resources::new().with("cpu", 1000).with("memory", 5));
        assert_eq!((a.get("cpu"), a.get("memory")), (1000, 10));
    }

    #[test]
    fn amounts_format_like_kubectl() {
        assert_eq!(format_amount("cpu", 250), "250m");
        assert_eq!(format_amount("cpu", 2000), "2");
        assert_eq!(format_amount("memory", 512 << 20), "512Mi");
        assert_eq!(format_amount("memory", 4 << 30), "4Gi");
        assert_eq!(format_amount("memory", 1000), "1000");
        assert_eq!(format_amount("nvidia.com/gpu", 1), "1");
    }
}

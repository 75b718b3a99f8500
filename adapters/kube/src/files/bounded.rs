//! Documents read into JSON values under limits that hostile input cannot get around, and
//! with kubectl's strictness:
//!
//! - a key given twice in one mapping is an error, as `kubectl apply` refuses it (last one
//!   wins in plain serde, silently);
//! - what one file expands to is bounded: YAML aliases repeat what they name, so a file of a
//!   few hundred kilobytes can stand for gigabytes. A file may build at most
//!   [`Budget::VALUES`] values plus two per byte of its text, holding at most
//!   [`Budget::TEXT_BYTES`] bytes of strings plus four per byte of its text; beyond that the
//!   read stops with an error naming the file;
//! - `.inf` and `.nan` are refused where they stand (JSON and Kubernetes have no such number).
//!
//! Nesting depth is bounded by the parsers themselves (serde_norway and serde_json stop at
//! 128 levels).
//!
//! A document is read with [`BoundedDocument`]: the objects of a top-level `items` sequence
//! (a kubectl `List`, which can hold a whole namespace) are kept as compact JSON text as they
//! are read, so a list of many objects never stands as one tree of values in memory.

use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// What one file may still build.
pub(crate) struct Budget {
    values: Cell<usize>,
    text_bytes: Cell<usize>,
}

impl Budget {
    /// Values any file may build, besides two per byte of its text.
    pub const VALUES: usize = 1_000_000;
    /// Bytes of strings any file may build, besides four per byte of its text.
    pub const TEXT_BYTES: usize = 64 << 20;

    /// The budget of a file of `text_len` bytes.
    pub fn for_text(text_len: usize) -> Self {
        Budget {
            values: Cell::new(Self::VALUES.saturating_add(text_len.saturating_mul(2))),
            text_bytes: Cell::new(Self::TEXT_BYTES.saturating_add(text_len.saturating_mul(4))),
        }
    }

    fn spend<E: de::Error>(&self, text_bytes: usize) -> Result<(), E> {
        let values = self.values.get();
        let bytes = self.text_bytes.get();
        if values == 0 || bytes < text_bytes {
            return Err(E::custom(
                "the file expands to too much (YAML aliases repeating large parts?): more than \
                 a million values plus two per byte of the file, or 64 MiB of text plus four per \
                 byte",
            ));
        }
        self.values.set(values - 1);
        self.text_bytes.set(bytes - text_bytes);
        Ok(())
    }
}

/// Deserializes one document into a [`Value`] under `budget` (see the module docs).
pub(crate) struct BoundedValue<'b>(pub &'b Budget);

impl<'de> DeserializeSeed<'de> for BoundedValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor(self.0))
    }
}

struct ValueVisitor<'b>(&'b Budget);

impl<'de> Visitor<'de> for ValueVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.0.spend(0)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.0.spend(0)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.0.spend(0)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.0.spend(0)?;
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("`{v}` is not a number Kubernetes accepts")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.0.spend(v.len())?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.0.spend(v.len())?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.0.spend(0)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        BoundedValue(self.0).deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.0.spend(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(BoundedValue(self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.0.spend(0)?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.0.spend(key.len())?;
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "key `{key}` is given twice in one mapping (kubectl refuses this too)"
                )));
            }
            let value = map.next_value_seed(BoundedValue(self.0))?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Compact JSON text of `value`.
pub(crate) fn compact(value: &Value) -> Box<RawValue> {
    // Writing a `Value` cannot fail: its keys are strings and its numbers finite.
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// The value of compact text written by [`compact`] (a new value on each call).
pub(crate) fn read_back(text: &RawValue) -> Value {
    let mut reader = serde_json::Deserializer::from_str(text.get());
    // The text was written from a value read under this module's limits, whose depth the
    // parsers bound (128 levels); serde_json's own limit stops one level earlier, so lift it.
    reader.disable_recursion_limit();
    Value::deserialize(&mut reader).unwrap_or(Value::Null)
}

/// One document as [`BoundedDocument`] reads it.
pub(crate) enum Parsed {
    /// A document without a top-level `items` sequence.
    Value(Value),
    /// A mapping with a top-level `items` sequence: the mapping without it, and its elements
    /// as compact JSON text, in order.
    WithItems {
        object: Map<String, Value>,
        items: Vec<Box<RawValue>>,
    },
}

impl Parsed {
    /// The document as one value.
    pub fn into_value(self) -> Value {
        match self {
            Parsed::Value(value) => value,
            Parsed::WithItems { mut object, items } => {
                object.insert(
                    "items".into(),
                    Value::Array(items.iter().map(|i| read_back(i)).collect()),
                );
                Value::Object(object)
            }
        }
    }
}

/// Deserializes one document as [`BoundedValue`] does, keeping the elements of a top-level
/// `items` sequence as compact text (see the module docs).
pub(crate) struct BoundedDocument<'b>(pub &'b Budget);

impl<'de> DeserializeSeed<'de> for BoundedDocument<'_> {
    type Value = Parsed;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Parsed, D::Error> {
        deserializer.deserialize_any(DocumentVisitor(self.0))
    }
}

struct DocumentVisitor<'b>(&'b Budget);

/// The scalar `visit_*` methods of a visitor that builds what [`ValueVisitor`] builds,
/// wrapped in `$wrap`.
macro_rules! forward_scalars_to_value {
    ($wrap:expr) => {
        forward_scalars_to_value!($wrap;
            visit_bool(v: bool), visit_i64(v: i64), visit_u64(v: u64), visit_f64(v: f64),
            visit_str(v: &str), visit_string(v: String), visit_unit(), visit_none());
    };
    ($wrap:expr; $($method:ident($($arg:ident: $ty:ty),*)),*) => {
        $(fn $method<E: de::Error>(self, $($arg: $ty),*) -> Result<Self::Value, E> {
            ValueVisitor(self.0).$method($($arg),*).map($wrap)
        })*
    };
}

impl<'de> Visitor<'de> for DocumentVisitor<'_> {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }

    forward_scalars_to_value!(Parsed::Value);

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Parsed, D::Error> {
        BoundedDocument(self.0).deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Parsed, A::Error> {
        ValueVisitor(self.0).visit_seq(seq).map(Parsed::Value)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        self.0.spend(0)?;
        let mut object = Map::new();
        let mut compact_items = None;
        while let Some(key) = map.next_key::<String>()? {
            self.0.spend(key.len())?;
            if object.contains_key(&key) || key == "items" && compact_items.is_some() {
                return Err(de::Error::custom(format!(
                    "key `{key}` is given twice in one mapping (kubectl refuses this too)"
                )));
            }
            if key == "items" {
                match map.next_value_seed(ItemsSeed(self.0))? {
                    Items::Compact(items) => compact_items = Some(items),
                    Items::Other(value) => {
                        object.insert(key, value);
                    }
                }
                continue;
            }
            let value = map.next_value_seed(BoundedValue(self.0))?;
            object.insert(key, value);
        }
        Ok(match compact_items {
            Some(items) => Parsed::WithItems { object, items },
            None => Parsed::Value(Value::Object(object)),
        })
    }
}

/// The value of a top-level `items` key: a sequence's elements as compact text, anything
/// else as a value.
enum Items {
    Compact(Vec<Box<RawValue>>),
    Other(Value),
}

/// Deserializes the value of a top-level `items` key as [`Items`].
struct ItemsSeed<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = Items;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Items, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = Items;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }

    forward_scalars_to_value!(Items::Other);

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Items, D::Error> {
        ItemsSeed(self.0).deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        self.0.spend(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(BoundedValue(self.0))? {
            items.push(compact(&item));
        }
        Ok(Items::Compact(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Items, A::Error> {
        ValueVisitor(self.0).visit_map(map).map(Items::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Vec<Value>, String> {
        let budget = Budget::for_text(text.len());
        serde_norway::Deserializer::from_str(text)
            .map(|document| {
                BoundedValue(&budget)
                    .deserialize(document)
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    #[test]
    fn documents_read_as_plain_serde_reads_them() {
        let text = "a: 1\nb: [x, 2.5, true, null]\nc: {d: e}\n---\n- 1\n";
        let plain: Vec<Value> = serde_norway::Deserializer::from_str(text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        assert_eq!(yaml(text).unwrap(), plain);
    }

    #[test]
    fn keys_given_twice_are_refused() {
        let message = yaml("metadata:\n  name: a\n  name: b\n").unwrap_err();
        assert!(message.contains("key `name` is given twice"), "{message}");
        let budget = Budget::for_text(0);
        let mut json = serde_json::Deserializer::from_str(r#"{"a": 1, "a": 2}"#);
        assert!(BoundedValue(&budget).deserialize(&mut json).is_err());
    }

    #[test]
    fn wide_alias_bombs_stop_at_the_budget() {
        // One anchored list of 1,000 strings, aliased 10,000 times: ten million values from a
        // 60 KB file.
        let mut text = String::from("base: &a [");
        text.push_str(&vec!["xxxxxxxxxx"; 1000].join(", "));
        text.push_str("]\nmany:\n");
        for _ in 0..10_000 {
            text.push_str("  - *a\n");
        }
        let message = yaml(&text).unwrap_err();
        assert!(message.contains("expands to too much"), "{message}");
    }

    #[test]
    fn infinities_are_refused() {
        let message = yaml("cpu: .inf\n").unwrap_err();
        assert!(
            message.contains("is not a number Kubernetes accepts"),
            "{message}"
        );
    }
}

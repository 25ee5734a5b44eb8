//! JSON helpers for comparing a spec with what AWS reports, the same for every kind. Each caller
//! states its own "unset" rule; the walk is shared. Pure.

use serde_json::{Map, Value};

/// Where [`prune`] looks for entries to drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Objects nested in objects only (arrays are kept as they are).
    Objects,
    /// Objects nested in objects and in arrays.
    ObjectsAndArrays,
}

/// Drops, depth first, every object entry for which `keep(key, value)` is false (children are
/// pruned before their parent decides). Arrays are never shortened: only entries of objects go.
pub fn prune(v: &mut Value, depth: Depth, keep: &impl Fn(&str, &Value) -> bool) {
    match v {
        Value::Object(obj) => {
            for child in obj.values_mut() {
                prune(child, depth, keep);
            }
            obj.retain(|key, child| keep(key, child));
        }
        Value::Array(items) if depth == Depth::ObjectsAndArrays => {
            for item in items {
                prune(item, depth, keep);
            }
        }
        _ => {}
    }
}

/// The common "unset": null, an empty list, an empty object.
pub fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Removes `key` when it holds `default`.
pub fn remove_if(obj: &mut Map<String, Value>, key: &str, default: impl Into<Value>) {
    if obj.get(key) == Some(&default.into()) {
        obj.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prune_table() {
        let doc = json!({"a": null, "b": [], "c": {}, "d": {"e": null}, "f": false,
                         "g": [{"h": null, "i": 1}], "j": 0});
        let cases = [
            (
                "set values, into arrays",
                Depth::ObjectsAndArrays,
                json!({"f": false, "g": [{"i": 1}], "j": 0}),
            ),
            (
                "set values, objects only",
                Depth::Objects,
                json!({"f": false, "g": [{"h": null, "i": 1}], "j": 0}),
            ),
        ];
        for (case, depth, want) in cases {
            let mut v = doc.clone();
            prune(&mut v, depth, &|_, v| is_set(v));
            assert_eq!(v, want, "{case}");
        }
        let mut v = json!({"essential": false, "other": false});
        prune(&mut v, Depth::Objects, &|k, v| {
            v != &Value::Bool(false) || k == "essential"
        });
        assert_eq!(v, json!({"essential": false}));
        let mut obj = json!({"x": "NONE", "y": "A"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        remove_if(&mut obj, "x", "NONE");
        remove_if(&mut obj, "y", "NONE");
        assert_eq!(Value::Object(obj), json!({"y": "A"}));
    }
}

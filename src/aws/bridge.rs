//! The one bridge between the API types and SDK shapes. The CRD types already are the AWS JSON
//! wire shape and every SDK shape carries its Smithy schema serde (aws-smithy-schema), so a
//! conversion is serde_json on our side and the SDK's own JSON codec (aws-smithy-json) on
//! theirs: no field is copied by hand. The crate versions are pinned in Cargo.toml.

use aws_smithy_json::codec::{JsonCodec, JsonCodecSettings};
use aws_smithy_schema::codec::Codec;
use aws_smithy_schema::serde::{
    SerdeError, SerializableStruct, ShapeDeserializer, ShapeSerializer,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A value that did not fit the other side's shape.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BridgeError(String);

impl From<SerdeError> for BridgeError {
    fn from(e: SerdeError) -> Self {
        Self(e.to_string())
    }
}

impl From<serde_json::Error> for BridgeError {
    fn from(e: serde_json::Error) -> Self {
        Self(e.to_string())
    }
}

/// awsJson 1.1 (ECS and ECR): member names on the wire (no `@jsonName`).
fn codec() -> JsonCodec {
    JsonCodec::new(JsonCodecSettings::builder().use_json_name(false).build())
}

/// The SDK shape `read` builds from `value`'s JSON (`read` is the shape's `deserialize`).
/// Members the shape does not have (the Kubernetes-side fields) are skipped by the codec.
pub fn to_sdk<T>(
    value: &impl Serialize,
    read: fn(&mut dyn ShapeDeserializer) -> Result<T, SerdeError>,
) -> Result<T, BridgeError> {
    let bytes = serde_json::to_vec(value)?;
    let mut de = codec().create_deserializer(&bytes);
    Ok(read(&mut de)?)
}

/// Each item of `values` as an SDK shape.
pub fn to_sdk_list<V: Serialize, T>(
    values: &[V],
    read: fn(&mut dyn ShapeDeserializer) -> Result<T, SerdeError>,
) -> Result<Vec<T>, BridgeError> {
    values.iter().map(|v| to_sdk(v, read)).collect()
}

/// The AWS JSON of an SDK shape, as the service would send it.
pub fn to_json(shape: &dyn SerializableStruct) -> Result<Value, BridgeError> {
    let mut ser = codec().create_serializer();
    ser.write_struct(shape.schema(), shape)?;
    Ok(serde_json::from_slice(&ser.finish())?)
}

/// An API value from JSON, dropping values of enums this build does not know (AWS adds enum
/// values before the CRD learns them; an unknown value must not make the whole object
/// unreadable). As the SDK itself does for a required member, an object whose required enum
/// member was dropped goes too (a list item leaves its list; an optional member is unset).
pub fn from_json<T: DeserializeOwned>(mut value: Value) -> Result<T, BridgeError> {
    let mut last_removed: Option<Vec<Step>> = None;
    // Each round removes one value; a shape has a handful of enums at most.
    for _ in 0..32 {
        let err = match serde_json::from_value(value.clone()) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let message = err.to_string();
        let path = if let Some(unknown) = quoted_after(&message, "unknown variant `") {
            find_string(&value, &unknown, &mut Vec::new())
        } else if let (Some(field), Some(removed)) =
            (quoted_after(&message, "missing field `"), &last_removed)
        {
            // The member just removed was required: its object goes instead.
            (removed.last() == Some(&Step::Key(field)))
                .then(|| removed[..removed.len() - 1].to_vec())
                .filter(|p| !p.is_empty())
        } else {
            None
        };
        let Some(path) = path else {
            return Err(err.into());
        };
        remove(&mut value, &path);
        last_removed = Some(path);
    }
    Ok(serde_json::from_value(value)?)
}

/// An SDK shape from the AWS JSON a service answers with: test fixtures read like the API
/// reference instead of builder chains.
#[cfg(test)]
pub fn shape<T>(value: Value, read: fn(&mut dyn ShapeDeserializer) -> Result<T, SerdeError>) -> T {
    to_sdk(&value, read).unwrap_or_else(|e| panic!("fixture {value} does not form the shape: {e}"))
}

/// An API value from an SDK shape: [`to_json`] then [`from_json`].
pub fn from_sdk<T: DeserializeOwned>(shape: &dyn SerializableStruct) -> Result<T, BridgeError> {
    from_json(to_json(shape)?)
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The text between `prefix` and the next backtick in a serde_json message.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    Some(rest.split_once('`')?.0.to_string())
}

/// The path of the first string leaf equal to `s`.
fn find_string(v: &Value, s: &str, at: &mut Vec<Step>) -> Option<Vec<Step>> {
    match v {
        Value::String(x) if x == s => Some(at.clone()),
        Value::Object(o) => o.iter().find_map(|(k, c)| {
            at.push(Step::Key(k.clone()));
            let found = find_string(c, s, at);
            at.pop();
            found
        }),
        Value::Array(a) => a.iter().enumerate().find_map(|(i, c)| {
            at.push(Step::Index(i));
            let found = find_string(c, s, at);
            at.pop();
            found
        }),
        _ => None,
    }
}

/// Removes the value at `path` (a member from its object, an item from its list).
fn remove(v: &mut Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut here = v;
    for step in parents {
        let next = match (step, here) {
            (Step::Key(k), Value::Object(o)) => o.get_mut(k),
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        let Some(next) = next else { return };
        here = next;
    }
    match (last, here) {
        (Step::Key(k), Value::Object(o)) => {
            o.remove(k);
        }
        (Step::Index(i), Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
    use aws_sdk_ecs::types as ecs;
    use serde_json::json;

    use super::*;

    #[test]
    fn register_input_from_corpus_json_and_describe_output_back() {
        let text = include_str!("testdata/task_definitions/fargate_web.json");
        let spec: Value = serde_json::from_str(text).expect("corpus JSON");
        let input = to_sdk(&spec, RegisterTaskDefinitionInput::deserialize).expect("input");
        let first = &input.container_definitions.as_deref().expect("containers")[0];
        assert_eq!(
            first.name.as_deref(),
            spec["containerDefinitions"][0]["name"].as_str()
        );
        assert!(first.port_mappings.is_some() || first.environment.is_some());

        // What DescribeTaskDefinition answers, back to JSON: the request fields survive.
        let td = ecs::TaskDefinition::builder()
            .family("web")
            .revision(3)
            .status(ecs::TaskDefinitionStatus::Active)
            .set_container_definitions(input.container_definitions.clone())
            .set_network_mode(input.network_mode.clone())
            .build();
        let out = to_json(&td).expect("json");
        assert_eq!(out["family"], "web");
        assert_eq!(out["revision"], 3);
        assert_eq!(out["status"], "ACTIVE");
        assert_eq!(out["networkMode"], spec["networkMode"]);
        assert_eq!(
            out["containerDefinitions"][0]["name"],
            spec["containerDefinitions"][0]["name"]
        );
    }

    #[test]
    fn unknown_members_are_skipped_and_enums_are_strings() {
        let input: RegisterTaskDefinitionInput = shape(
            json!({"family": "f", "revisionHistoryLimit": 3, "networkMode": "awsvpc",
                   "containerDefinitions": [{"name": "a", "image": "i"}]}),
            RegisterTaskDefinitionInput::deserialize,
        );
        assert_eq!(input.family.as_deref(), Some("f"));
        assert_eq!(input.network_mode, Some(ecs::NetworkMode::Awsvpc));
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        mode: Option<Mode>,
        modes: Vec<Mode>,
        #[serde(default)]
        items: Vec<Item>,
        item: Option<Item>,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Item {
        name: Mode,
        size: i32,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    enum Mode {
        #[serde(rename = "A")]
        A,
    }

    #[test]
    fn unknown_enum_values_are_dropped_not_fatal() {
        // (input, mode, modes, items, item)
        let cases = [
            (
                json!({"mode": "A", "modes": ["A", "NEW"]}),
                Some(Mode::A),
                1,
                0,
                false,
            ),
            (
                json!({"mode": "NEW", "modes": ["NEW", "NEWER"]}),
                None,
                0,
                0,
                false,
            ),
            (
                json!({"modes": [], "items": [{"name": "NEW", "size": 1}, {"name": "A", "size": 2}],
                       "item": {"name": "NEW", "size": 3}}),
                None,
                0,
                1,
                false,
            ),
            (
                json!({"modes": [], "item": {"name": "A", "size": 3}}),
                None,
                0,
                0,
                true,
            ),
        ];
        for (input, mode, modes, items, item) in cases {
            let p: Probe = from_json(input.clone()).expect("readable");
            assert_eq!(p.mode, mode, "{input}");
            assert_eq!(p.modes.len(), modes, "{input}");
            assert_eq!(p.items.len(), items, "{input}");
            assert_eq!(p.item.is_some(), item, "{input}");
        }
        // Anything else is still an error.
        assert!(from_json::<Probe>(json!({"modes": "A"})).is_err());
    }
}

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

/// An API value from JSON. An enum value this build does not know reads as its type's
/// `Unknown(String)` variant (see `aws_enum!`), so a newer AWS's answer stays readable and the
/// value round-trips.
pub fn from_json<T: DeserializeOwned>(value: Value) -> Result<T, BridgeError> {
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

    /// A value a newer AWS answers with is kept as `Unknown` and written back as it came,
    /// in a member, a list and a required member of a list item; anything else is still an
    /// error.
    #[test]
    fn unknown_enum_values_round_trip() {
        use crate::api::ecs_shapes::{LaunchType, PlacementStrategy};
        #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            launch_type: Option<LaunchType>,
            #[serde(default)]
            launch_types: Vec<LaunchType>,
            #[serde(default)]
            placement_strategy: Vec<PlacementStrategy>,
        }
        let cases = [
            (
                json!({"launchType": "FARGATE", "launchTypes": ["EC2", "NEW"]}),
                Some(LaunchType::Fargate),
                vec![LaunchType::Ec2, LaunchType::Unknown("NEW".into())],
            ),
            (
                json!({"launchType": "NEWER", "launchTypes": [],
                       "placementStrategy": [{"type": "SCATTER", "field": "x"}]}),
                Some(LaunchType::Unknown("NEWER".into())),
                vec![],
            ),
        ];
        for (input, launch_type, launch_types) in cases {
            let p: Probe = from_json(input.clone()).expect("readable");
            assert_eq!(p.launch_type, launch_type, "{input}");
            assert_eq!(p.launch_types, launch_types, "{input}");
            let back = serde_json::to_value(&p).expect("serialises");
            for key in ["launchType", "launchTypes"] {
                assert_eq!(back[key], input[key], "{input}: {key} round-trips");
            }
            if let Some(items) = input.get("placementStrategy") {
                assert_eq!(back["placementStrategy"], *items, "{input}");
            }
        }
        // Anything else is still an error.
        assert!(from_json::<Probe>(json!({"launchTypes": "EC2"})).is_err());
        assert!(from_json::<Probe>(json!({"launchType": 3})).is_err());
    }
}

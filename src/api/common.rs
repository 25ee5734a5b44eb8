//! Types shared by every kind: conditions and schema helpers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

/// Condition type set when the AWS resource is usable.
pub const READY: &str = "Ready";
/// Condition type set when the last reconcile converged AWS to the spec.
pub const SYNCED: &str = "Synced";
/// kstatus condition: work toward the latest generation is in flight (retried by itself).
pub const RECONCILING: &str = "Reconciling";
/// kstatus condition: no progress without a person (a spec change, a permission, a credential).
pub const STALLED: &str = "Stalled";

/// Status of a condition, as Kubernetes API conventions spell it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// A Kubernetes-style condition.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type: `Ready` or `Synced`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// Stable, CamelCase reason for the condition's last transition.
    pub reason: String,
    /// Human-readable details, including the AWS error message when there is one.
    #[serde(default)]
    pub message: String,
    /// When the condition last changed status (RFC 3339).
    pub last_transition_time: String,
    /// The `metadata.generation` this condition was computed for.
    pub observed_generation: Option<i64>,
}

impl Condition {
    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

/// Finds a condition by type.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Schema for a free-form JSON object (kept as YAML in the manifest, e.g. an IAM policy document).
pub fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// Schema transform: server-side apply merges this list item by item, identified by `keys`
/// (`x-kubernetes-list-type: map`). Each key must be a required (or defaulted) scalar of the item.
/// Use as `#[schemars(transform = list_map(&["name"]))]`.
pub fn list_map(keys: &'static [&'static str]) -> impl FnMut(&mut schemars::Schema) {
    move |schema| {
        schema.insert("x-kubernetes-list-type".into(), "map".into());
        schema.insert("x-kubernetes-list-map-keys".into(), keys.into());
    }
}

/// Schema transform: a list of unique scalars that server-side apply merges as a set
/// (`x-kubernetes-list-type: set`). Use as `#[schemars(transform = list_set)]`.
pub fn list_set(schema: &mut schemars::Schema) {
    schema.insert("x-kubernetes-list-type".into(), "set".into());
}

/// Schema for the `conditions` list: a map keyed by `type`, so server-side apply merges by type.
pub fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let item = generator.subschema_for::<Condition>();
    schemars::json_schema!({
        "type": "array",
        "description": "Ready and Synced conditions (Kubernetes API conventions).",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    })
}

/// Annotation that pauses AWS writes for one object (`"true"`); status is still observed.
pub const PAUSED_ANNOTATION: &str = "ecs.operator.dev/paused";
/// Annotation that asks for one reconcile now, reading AWS afresh: every answer the operator
/// keeps between reconciles (batched DescribeServices answers, task definition revisions, the
/// ECR policy read schedule) is skipped once. Any new value (e.g. a timestamp) asks again; the
/// value honoured is recorded in `status.lastRefreshed`. The operator never removes it.
pub const REFRESH_ANNOTATION: &str = "ecs.operator.dev/refresh";

/// The refresh value this reconcile honours: the [`REFRESH_ANNOTATION`] value when it is set,
/// not blank, and not the one `status.lastRefreshed` records as honoured already (one refresh
/// per value). Pure.
pub fn refresh_due<'a>(
    annotations: &'a std::collections::BTreeMap<String, String>,
    last_refreshed: Option<&str>,
) -> Option<&'a str> {
    annotations
        .get(REFRESH_ANNOTATION)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty() && Some(*v) != last_refreshed)
}

/// Namespace annotation: default `deletionPolicy` for objects in the namespace.
pub const DELETION_POLICY_ANNOTATION: &str = "ecs.operator.dev/deletion-policy";
/// Namespace annotation: IAM role the operator assumes for every object in the namespace.
pub const ROLE_ARN_ANNOTATION: &str = "ecs.operator.dev/role-arn";

// What happens to the AWS resource when the object is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the AWS resource (only if this object owns it).
    Delete,
    /// Leave the AWS resource as it is; only the Kubernetes object goes away.
    Retain,
}

impl std::str::FromStr for DeletionPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "Delete" => Ok(Self::Delete),
            "Retain" => Ok(Self::Retain),
            other => Err(format!(
                "deletion policy must be Delete or Retain, not {other:?}"
            )),
        }
    }
}

// Whether an AWS resource that already exists (and is not owned by any object) may be taken over.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AdoptionPolicy {
    /// Never take over an existing resource: report `AlreadyExists`.
    #[default]
    Never,
    /// The resource must exist: take ownership and converge it to the spec.
    Adopt,
    /// Adopt the resource when it exists, create it otherwise.
    AdoptOrCreate,
}

// How far the operator manages the AWS resource.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, update and delete the AWS resource.
    #[default]
    Full,
    /// Only mirror the AWS resource into status: never write to AWS, and deleting the object
    /// never touches AWS.
    ObserveOnly,
}

/// Policies every kind carries at the top of its spec (not AWS request fields).
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.region) == has(oldSelf.region) && (!has(self.region) || self.region == oldSelf.region)",
    "message": "spec.region is immutable: the resource lives in that region; create a new object for another region"
}]))]
#[serde(rename_all = "camelCase")]
pub struct Policies {
    /// `Delete` or `Retain` the AWS resource when this object is deleted. Default: the
    /// namespace annotation `ecs.operator.dev/deletion-policy`, else the operator's
    /// `--default-deletion-policy`, else Delete.
    pub deletion_policy: Option<DeletionPolicy>,
    /// `Never` (default): an existing AWS resource with this name is reported as
    /// `AlreadyExists` and left alone. `Adopt`: it must exist; take ownership and converge it.
    /// `AdoptOrCreate`: adopt it when it exists, create it otherwise. A resource owned by another
    /// object is never taken.
    pub adoption_policy: Option<AdoptionPolicy>,
    /// `Full` (default) or `ObserveOnly` (mirror AWS into status, never write to AWS).
    pub management_policy: Option<ManagementPolicy>,
    /// AWS region of the resource. Default: the operator's region. Immutable.
    #[schemars(
        length(min = 1, max = 32),
        regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
    )]
    pub region: Option<String>,
}

/// A reference to another object of this operator in the same namespace.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.__namespace__)",
    "message": "references are same-namespace only: remove namespace (the object must be in this object's namespace)"
}]))]
pub struct LocalReference {
    /// metadata.name of the referenced object, in this object's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Not allowed: references never cross namespaces (a tenant cannot use another namespace's
    /// objects or AWS account). Present only so that a cross-namespace attempt is rejected with a
    /// clear message instead of being silently dropped.
    pub namespace: Option<String>,
}

/// A string enum spelled exactly as the AWS API spells it.
pub trait AwsEnum: Clone + Sized + 'static {
    /// Every value this build knows, in declaration order.
    const ALL: &'static [Self];
    /// The string the AWS API uses.
    fn as_str(&self) -> &str;
    /// Parses the string the AWS API uses; `None` for a value this build does not know.
    fn from_aws(value: &str) -> Option<Self> {
        Self::ALL.iter().find(|v| v.as_str() == value).cloned()
    }
}

/// Declares an enum serialised with the AWS API's strings, with its [`AwsEnum`] impl and an
/// inherent `as_str`: the one way every kind spells an AWS enum.
///
/// Besides the declared values it has `Unknown(String)`: a value a newer AWS answers with that
/// this build does not know yet. It reads and writes back as the same string, so an answer
/// stays readable and a value round-trips instead of being dropped. The schema lists the known
/// values only, so a spec cannot name an unknown one: admission refuses it.
macro_rules! aws_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this build does not know (AWS added it after this build), kept as AWS
            /// spelled it.
            Unknown(String),
        }

        impl $name {
            /// The string the AWS API uses.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $value,)+
                    Self::Unknown(value) => value,
                }
            }
        }

        impl $crate::api::common::AwsEnum for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            fn as_str(&self) -> &str {
                $name::as_str(self)
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($value => Self::$variant,)+
                    other => Self::Unknown(other.to_string()),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::from(value.as_ref()))
            }
        }

        // The schema is the one a unit enum of the known values derives (the same CRDs as
        // before `Unknown` existed): an enum of strings with the type's doc.
        const _: () = {
            $(#[$meta])*
            #[derive(::schemars::JsonSchema)]
            #[allow(dead_code, clippy::enum_variant_names)]
            enum Known {
                $(#[serde(rename = $value)] $variant),+
            }

            impl ::schemars::JsonSchema for $name {
                fn inline_schema() -> bool {
                    <Known as ::schemars::JsonSchema>::inline_schema()
                }
                fn schema_name() -> ::std::borrow::Cow<'static, str> {
                    stringify!($name).into()
                }
                fn schema_id() -> ::std::borrow::Cow<'static, str> {
                    concat!(module_path!(), "::", stringify!($name)).into()
                }
                fn json_schema(generator: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                    <Known as ::schemars::JsonSchema>::json_schema(generator)
                }
            }
        };
    };
}
pub(crate) use aws_enum;

/// An ECS tag (`key`/`value`, lowercase as the ECS API spells them), for every ECS kind.
#[derive(
    Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub struct EcsTag {
    /// Tag key.
    #[schemars(length(min = 1, max = 128))]
    pub key: String,
    /// Tag value.
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub value: String,
}

/// An ECR tag (`Key`/`Value`, as the ECR API spells them).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub struct EcrTag {
    /// Tag key.
    #[serde(rename = "Key")]
    #[schemars(length(min = 1, max = 128))]
    pub key: String,
    /// Tag value.
    #[serde(rename = "Value", default)]
    #[schemars(length(max = 256))]
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    aws_enum!(
        /// A probe enum.
        Probe { Alpha = "ALPHA", Beta = "beta" }
    );

    /// Known values map to their variants both ways; any other string is `Unknown` and comes
    /// back as it was; `ALL` and the schema list the known values only, with the type's doc.
    #[test]
    fn aws_enum_keeps_unknown_values_and_the_known_schema() {
        let cases = [
            ("ALPHA", Probe::Alpha),
            ("beta", Probe::Beta),
            ("GAMMA", Probe::Unknown("GAMMA".into())),
            ("alpha", Probe::Unknown("alpha".into())),
        ];
        for (text, want) in cases {
            let got: Probe = serde_json::from_value(serde_json::json!(text)).expect("a string");
            assert_eq!(got, want, "{text}");
            assert_eq!(got.as_str(), text, "{text}");
            assert_eq!(
                serde_json::to_value(&got).ok(),
                Some(serde_json::json!(text))
            );
            let known = !matches!(want, Probe::Unknown(_));
            assert_eq!(Probe::from_aws(text).is_some(), known, "{text}");
        }
        assert_eq!(Probe::ALL, &[Probe::Alpha, Probe::Beta]);
        let schema = serde_json::to_value(schemars::schema_for!(Probe)).expect("schema");
        assert_eq!(schema["enum"], serde_json::json!(["ALPHA", "beta"]));
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["description"], "A probe enum.");
        assert!(serde_json::from_value::<Probe>(serde_json::json!(1)).is_err());
    }

    #[test]
    fn refresh_is_due_once_per_value() {
        let cases = [
            ("no annotation", None, None, None),
            ("no annotation, refreshed before", None, Some("t1"), None),
            ("first value", Some("t1"), None, Some("t1")),
            ("value honoured already", Some("t1"), Some("t1"), None),
            ("a new value", Some("t2"), Some("t1"), Some("t2")),
            (
                "an earlier value again is new",
                Some("t1"),
                Some("t2"),
                Some("t1"),
            ),
            ("blank is no request", Some(" "), None, None),
            ("empty is no request", Some(""), Some("t1"), None),
        ];
        for (name, annotation, last, want) in cases {
            let annotations = annotation
                .map(|v| (REFRESH_ANNOTATION.to_string(), v.to_string()))
                .into_iter()
                .collect();
            assert_eq!(refresh_due(&annotations, last), want, "{name}");
        }
    }
}

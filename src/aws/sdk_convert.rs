//! Conversions shared by the per-kind SDK mappings: optional values, lists and enums between
//! the API types (AWS JSON names) and aws-sdk-ecs types.

use crate::api::task_definition::AwsEnum;

/// The reverse of a request mapping: from SDK output to the API type; `None` when a required
/// value cannot be represented (an enum value newer than this build).
pub(crate) trait FromSdk<S>: Sized {
    fn from_sdk(s: &S) -> Option<Self>;
}

pub(crate) fn to_enum<A: AwsEnum, S: From<&'static str>>(value: Option<A>) -> Option<S> {
    value.map(|v| S::from(v.as_str()))
}

pub(crate) fn to_enum_list<A: AwsEnum, S: From<&'static str>>(
    values: &Option<Vec<A>>,
) -> Option<Vec<S>> {
    values
        .as_ref()
        .map(|v| v.iter().map(|a| S::from(a.as_str())).collect())
}

pub(crate) fn from_opt<S, T: FromSdk<S>>(item: &Option<S>) -> Option<T> {
    item.as_ref().and_then(T::from_sdk)
}

pub(crate) fn from_list<S, T: FromSdk<S>>(items: &Option<Vec<S>>) -> Option<Vec<T>> {
    items
        .as_ref()
        .map(|v| v.iter().filter_map(T::from_sdk).collect())
}

pub(crate) fn from_enum<A: AwsEnum>(value: Option<&impl AsRef<str>>) -> Option<A> {
    value.and_then(|v| A::from_aws(v.as_ref()))
}

pub(crate) fn from_enum_list<A: AwsEnum, S: AsRef<str>>(values: &Option<Vec<S>>) -> Option<Vec<A>> {
    values
        .as_ref()
        .map(|v| v.iter().filter_map(|s| A::from_aws(s.as_ref())).collect())
}

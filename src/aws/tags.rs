//! Tags, the same for every kind: the tag keys the operator writes (ownership), the pure
//! difference between the tags a resource must carry and the ones it has, and each service's
//! TagResource / UntagResource calls ([`ecs`], [`ecr`]). The driver applies them for every kind
//! that names its [`TagTarget`]. Nothing here imports the engine or a kind.

use std::collections::BTreeMap;

use super::AwsClients;
use super::errors::AwsError;

/// namespace/name of the object that owns the AWS resource.
pub const OWNER_TAG: &str = "ecs.operator.dev/owner";
/// UID of the object that owns the AWS resource.
pub const OWNER_UID_TAG: &str = "ecs.operator.dev/owner-uid";
/// Operator instance (`--instance-id`) that manages the AWS resource.
pub const INSTANCE_TAG: &str = "ecs.operator.dev/instance";

/// Prefix of the tags the operator itself writes (ownership, spec hash).
pub const OPERATOR_TAG_PREFIX: &str = "ecs.operator.dev/";
/// Prefix of AWS-reserved tags, which nobody can set.
pub const AWS_TAG_PREFIX: &str = "aws:";

/// Whether a tag belongs in an exported spec: not the operator's own, not AWS-reserved.
pub fn is_user_tag(key: &str) -> bool {
    !key.starts_with(OPERATOR_TAG_PREFIX) && !key.starts_with(AWS_TAG_PREFIX)
}

/// Whose tag API a resource's tags go through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagService {
    Ecs,
    Ecr,
}

/// Where a resource's tags live: its service and ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagTarget {
    pub service: TagService,
    pub arn: String,
}

/// Tags to set (new or changed values) and keys to remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagChanges {
    pub add: BTreeMap<String, String>,
    pub remove: Vec<String>,
}

impl TagChanges {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// One description per call, named after the spec field.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.add.is_empty() {
            let keys: Vec<&str> = self.add.keys().map(String::as_str).collect();
            out.push(format!("tags (set {})", keys.join(",")));
        }
        if !self.remove.is_empty() {
            out.push(format!("tags (remove {})", self.remove.join(",")));
        }
        out
    }
}

/// What must change for `observed` to equal `desired`. `aws:` tags belong to AWS
/// (CloudFormation, ...) and cannot be removed, so they are never asked to go. Pure.
pub fn diff(desired: &BTreeMap<String, String>, observed: &BTreeMap<String, String>) -> TagChanges {
    TagChanges {
        add: desired
            .iter()
            .filter(|(k, v)| observed.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        remove: observed
            .keys()
            .filter(|k| !desired.contains_key(*k) && !k.starts_with("aws:"))
            .cloned()
            .collect(),
    }
}

/// Applies `changes` with the target service's tag calls (set first, then remove).
pub async fn apply(
    aws: &AwsClients,
    target: &TagTarget,
    changes: &TagChanges,
) -> Result<(), AwsError> {
    let arn = target.arn.as_str();
    if arn.is_empty() {
        return Err(AwsError::terminal(
            "TagResource",
            "MissingArn",
            "the resource ARN is not known yet",
        ));
    }
    match target.service {
        TagService::Ecs => ecs::apply(&aws.ecs, arn, changes).await,
        TagService::Ecr => ecr::apply(&aws.ecr, arn, changes).await,
    }
}

/// ECS's tag calls (lowercase key/value), shared by clusters, capacity providers, services and
/// task definitions.
pub mod ecs {
    use std::collections::BTreeMap;

    use aws_sdk_ecs::Client;
    use aws_sdk_ecs::types::Tag;

    use super::TagChanges;
    use crate::aws::errors::{AwsError, from_sdk};

    /// The SDK's tags for a key/value map.
    pub fn to_sdk(tags: &BTreeMap<String, String>) -> Vec<Tag> {
        tags.iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    }

    /// Every tag ECS reports as a key/value map (AWS-reserved `aws:` tags included; a tag without
    /// a value has the empty value, as ECS shows it).
    pub fn map<'a>(tags: impl IntoIterator<Item = &'a Tag>) -> BTreeMap<String, String> {
        tags.into_iter()
            .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
            .collect()
    }

    /// A key/value map of the tags ECS reports, without AWS-reserved `aws:` tags (nobody can
    /// change those).
    pub fn from_sdk_tags(tags: Option<&[Tag]>) -> BTreeMap<String, String> {
        let mut all = map(tags.into_iter().flatten());
        all.retain(|k, _| !k.starts_with("aws:"));
        all
    }

    /// Sets, then removes, what `changes` name (no call for an empty half).
    pub async fn apply(client: &Client, arn: &str, changes: &TagChanges) -> Result<(), AwsError> {
        if !changes.add.is_empty() {
            tag(client, arn, &changes.add).await?;
        }
        if !changes.remove.is_empty() {
            untag(client, arn, &changes.remove).await?;
        }
        Ok(())
    }

    /// TagResource with these tags (ECS's lowercase key/value).
    pub async fn tag(
        client: &Client,
        arn: &str,
        add: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(to_sdk(add)))
            .send()
            .await
            .map_err(|e| from_sdk("TagResource", e))?;
        Ok(())
    }

    /// UntagResource with these keys.
    pub async fn untag(client: &Client, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| from_sdk("UntagResource", e))?;
        Ok(())
    }
}

/// ECR's tag calls (Key/Value).
pub mod ecr {
    use std::collections::BTreeMap;

    use aws_sdk_ecr::Client;
    use aws_sdk_ecr::types as ecr;

    use super::TagChanges;
    use crate::aws::errors::{AwsError, from_sdk};

    /// The SDK's tags for a key/value map (ECR spells them Key/Value).
    pub fn to_sdk(map: &BTreeMap<String, String>) -> Vec<ecr::Tag> {
        map.iter()
            .filter_map(|(k, v)| ecr::Tag::builder().key(k).value(v).build().ok())
            .collect()
    }

    /// TagResource, then UntagResource, for what `changes` name (no call for an empty half).
    pub async fn apply(client: &Client, arn: &str, changes: &TagChanges) -> Result<(), AwsError> {
        if !changes.add.is_empty() {
            client
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(to_sdk(&changes.add)))
                .send()
                .await
                .map_err(|e| from_sdk("TagResource", e))?;
        }
        if !changes.remove.is_empty() {
            client
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(changes.remove.clone()))
                .send()
                .await
                .map_err(|e| from_sdk("UntagResource", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn diff_table() {
        let cases = [
            (
                "equal",
                map(&[("a", "1")]),
                map(&[("a", "1")]),
                map(&[]),
                vec![],
            ),
            (
                "added, changed and removed",
                map(&[("team", "a"), ("env", "prod")]),
                map(&[("team", "b"), ("old", "x")]),
                map(&[("env", "prod"), ("team", "a")]),
                vec!["old"],
            ),
            (
                "aws: tags stay",
                map(&[]),
                map(&[("aws:cloudformation:stack-name", "s")]),
                map(&[]),
                vec![],
            ),
        ];
        for (name, desired, observed, add, remove) in cases {
            let got = diff(&desired, &observed);
            assert_eq!(got.add, add, "{name}");
            assert_eq!(got.remove, remove, "{name}");
        }
        let both = diff(&map(&[("a", "1")]), &map(&[("b", "2")]));
        assert_eq!(both.describe(), ["tags (set a)", "tags (remove b)"]);
        assert!(diff(&map(&[]), &map(&[])).is_empty());
    }

    /// ECS tags as a map: `map` keeps every tag (a value-less tag is ""), `from_sdk_tags` drops
    /// the `aws:` ones nobody can change.
    #[test]
    fn ecs_tag_maps() {
        use aws_sdk_ecs::types::Tag;
        let tags = vec![
            Tag::builder().key("team").value("a").build(),
            Tag::builder()
                .key("aws:cloudformation:stack-name")
                .value("s")
                .build(),
            Tag::builder().key("bare").build(),
            Tag::builder().value("no key").build(),
        ];
        assert_eq!(
            ecs::map(&tags),
            map(&[
                ("aws:cloudformation:stack-name", "s"),
                ("bare", ""),
                ("team", "a")
            ])
        );
        assert_eq!(
            ecs::from_sdk_tags(Some(&tags)),
            map(&[("bare", ""), ("team", "a")])
        );
        assert!(ecs::from_sdk_tags(None).is_empty());
    }
}

//! Tag and untag calls shared by every ECS resource (clusters, capacity providers, services).

use std::collections::BTreeMap;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::Tag;

use super::errors::{AwsError, from_sdk};
use super::tags::TagChanges;

/// The SDK's tags for a key/value map.
pub fn to_sdk(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A key/value map of the tags ECS reports, without AWS-reserved `aws:` tags (nobody can
/// change those).
pub fn from_sdk_tags(tags: Option<&[Tag]>) -> BTreeMap<String, String> {
    tags.into_iter()
        .flatten()
        .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
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

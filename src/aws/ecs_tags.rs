//! Tag and untag calls shared by every ECS resource (clusters, capacity providers, services).

use std::collections::BTreeMap;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::Tag;

use super::errors::{AwsError, from_sdk};

/// TagResource with these tags (ECS's lowercase key/value).
pub async fn tag(
    client: &Client,
    arn: &str,
    add: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let tags = add
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags))
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

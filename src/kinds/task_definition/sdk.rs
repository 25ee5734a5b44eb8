//! SDK calls for task definitions: describe, register, deregister, delete. Exact ARNs only —
//! nothing here works by family prefix.

use std::collections::BTreeMap;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionInputBuilder;
use aws_sdk_ecs::types::{SortOrder, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus};

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason,
};
use aws_smithy_types::retry::ErrorKind;

use crate::aws::errors::{AwsError, from_sdk, required};

/// One registered revision as AWS reports it.
#[derive(Clone, Debug)]
pub struct Revision {
    pub arn: String,
    pub family: String,
    pub revision: i64,
    pub active: bool,
    pub tags: BTreeMap<String, String>,
    pub task_definition: TaskDefinition,
    pub aws_tags: Vec<aws_sdk_ecs::types::Tag>,
}

/// "Unable to describe task definition" is how ECS says "no such revision or family".
fn is_missing(e: &AwsError) -> bool {
    e.is_not_found() || (e.is("ClientException") && e.message.contains("Unable to describe"))
}

/// Describes `family:revision`, an ARN, or a family (its latest ACTIVE revision), with tags.
pub async fn describe(client: &Client, what: &str) -> Result<Option<Revision>, AwsError> {
    let out = match client
        .describe_task_definition()
        .task_definition(what)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeTaskDefinition", e))
    {
        Ok(out) => out,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(td) = out.task_definition.clone() else {
        return Ok(None);
    };
    let aws_tags = out.tags.clone().unwrap_or_default();
    const OP: &str = "DescribeTaskDefinition";
    Ok(Some(Revision {
        arn: required(td.task_definition_arn.clone(), OP, "taskDefinitionArn")?,
        family: required(td.family.clone(), OP, "family")?,
        revision: i64::from(td.revision),
        active: td.status == Some(TaskDefinitionStatus::Active),
        tags: crate::aws::tags::ecs::map(&aws_tags),
        task_definition: td,
        aws_tags,
    }))
}

/// How many of a family's newest ACTIVE revisions [`find_tagged`] looks at.
const NEWEST_LOOKED_AT: usize = 10;

/// The newest ACTIVE revision of `family` (among its newest few) carrying every one of `tags`:
/// RegisterTaskDefinition has no client token, so a retried register first looks for the
/// revision a previous attempt may have registered.
pub async fn find_tagged(
    client: &Client,
    family: &str,
    tags: &[(&str, &str)],
) -> Result<Option<Revision>, AwsError> {
    let own_family = active_arns(client, family).await?;
    for arn in own_family.iter().take(NEWEST_LOOKED_AT) {
        if let Some(rev) = describe(client, arn).await?
            && tags
                .iter()
                .all(|(k, v)| rev.tags.get(*k).map(String::as_str) == Some(*v))
        {
            return Ok(Some(rev));
        }
    }
    Ok(None)
}

/// The ARNs of `family`'s ACTIVE revisions, newest first.
pub async fn active_arns(client: &Client, family: &str) -> Result<Vec<String>, AwsError> {
    let arns: Vec<String> = client
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .sort(SortOrder::Desc)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(|e| from_sdk("ListTaskDefinitions", e))?;
    // familyPrefix is a prefix: `web` also lists `web-api`.
    Ok(arns
        .into_iter()
        .filter(|arn| parse_arn(arn).is_some_and(|(f, _)| f == family))
        .collect())
}

/// `family` and revision number of a task definition ARN (`...:task-definition/family:7`).
pub fn parse_arn(arn: &str) -> Option<(&str, i32)> {
    let (_, rest) = arn.rsplit_once(":task-definition/")?;
    let (family, revision) = rest.rsplit_once(':')?;
    Some((family, revision.parse().ok()?))
}

/// Every ACTIVE task definition ARN of the account and Region (100 per call), or `None` when
/// there are more than `max_pages` pages.
pub async fn list_active(
    client: &Client,
    max_pages: usize,
) -> Result<Option<Vec<String>>, AwsError> {
    let mut pages = client
        .list_task_definitions()
        .status(TaskDefinitionStatus::Active)
        .max_results(100)
        .into_paginator()
        .send();
    let mut arns = Vec::new();
    for _ in 0..max_pages {
        let Some(page) = pages.next().await else {
            return Ok(Some(arns));
        };
        let page = page.map_err(|e| from_sdk("ListTaskDefinitions", e))?;
        let last = page.next_token.is_none();
        arns.extend(page.task_definition_arns.unwrap_or_default());
        if last {
            return Ok(Some(arns));
        }
    }
    Ok(None)
}

/// Lets the SDK retry a non-idempotent call only when AWS refused it (throttling): a timeout,
/// a dropped connection or a 5xx may come after AWS carried it out, and RegisterTaskDefinition
/// sent twice registers two revisions. Such errors go to the driver, whose next attempt looks
/// for the revision the lost call registered before registering again.
#[derive(Debug, Default)]
pub struct RetryOnlyThrottling;

impl ClassifyRetry for RetryOnlyThrottling {
    fn classify_retry(&self, _ctx: &InterceptorContext) -> RetryAction {
        RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(&self, _ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        retry_only_throttling(previous)
    }

    fn name(&self) -> &'static str {
        "RetryOnlyThrottling"
    }

    fn priority(&self) -> RetryClassifierPriority {
        // After every standard classifier, so it has the last word.
        RetryClassifierPriority::run_after(RetryClassifierPriority::run_after(
            RetryClassifierPriority::transient_error_classifier(),
        ))
    }
}

/// Pure: keep a throttling verdict, forbid any other retry.
pub fn retry_only_throttling(previous: &RetryAction) -> RetryAction {
    match previous {
        RetryAction::RetryIndicated(RetryReason::RetryableError { kind, .. })
            if *kind == ErrorKind::ThrottlingError =>
        {
            RetryAction::NoActionIndicated
        }
        RetryAction::RetryIndicated(_) => RetryAction::RetryForbidden,
        _ => RetryAction::NoActionIndicated,
    }
}

/// Registers a revision; returns it as RegisterTaskDefinition answers it (the whole revision,
/// with its tags: `sent_tags` when the answer carries none). Retried by the SDK only when
/// throttled.
pub async fn register(
    client: &Client,
    input: RegisterTaskDefinitionInputBuilder,
    sent_tags: &[(String, String)],
) -> Result<Revision, AwsError> {
    // The same client (interceptors, credentials, endpoint) with the stricter retry rule.
    let careful = Client::from_conf(
        client
            .config()
            .to_builder()
            .retry_classifier(RetryOnlyThrottling)
            .build(),
    );
    let out = input
        .send_with(&careful)
        .await
        .map_err(|e| from_sdk("RegisterTaskDefinition", e))?;
    let aws_tags = match out.tags {
        Some(tags) if !tags.is_empty() => tags,
        _ => sent_tags
            .iter()
            .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
            .collect(),
    };
    let td = out
        .task_definition
        .filter(|td| td.task_definition_arn.is_some())
        .ok_or_else(|| {
            AwsError::terminal(
                "RegisterTaskDefinition",
                "EmptyResponse",
                "no taskDefinitionArn in the response",
            )
        })?;
    const OP: &str = "RegisterTaskDefinition";
    Ok(Revision {
        arn: required(td.task_definition_arn.clone(), OP, "taskDefinitionArn")?,
        family: required(td.family.clone(), OP, "family")?,
        revision: i64::from(td.revision),
        active: true,
        tags: crate::aws::tags::ecs::map(&aws_tags),
        task_definition: td,
        aws_tags,
    })
}

/// Deregisters one exact revision; an already inactive or missing revision is fine.
pub async fn deregister(client: &Client, arn: &str) -> Result<(), AwsError> {
    match client
        .deregister_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| from_sdk("DeregisterTaskDefinition", e))
    {
        Ok(_) => Ok(()),
        Err(e) if is_missing(&e) || e.message.contains("INACTIVE") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes (already deregistered) revisions, ten per call as the API allows.
pub async fn delete(client: &Client, arns: &[String]) -> Result<(), AwsError> {
    for chunk in arns.chunks(10) {
        let out = client
            .delete_task_definitions()
            .set_task_definitions(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| from_sdk("DeleteTaskDefinitions", e))?;
        if let Some(failure) = out
            .failures()
            .iter()
            .find(|f| f.reason() != Some("TASK_DEFINITION_NOT_FOUND"))
        {
            return Err(AwsError {
                operation: "DeleteTaskDefinitions",
                code: failure.reason().map(str::to_string),
                message: format!(
                    "{}: {}",
                    failure.arn().unwrap_or_default(),
                    failure.detail().unwrap_or_default()
                ),
                class: crate::aws::ErrorClass::Retryable,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_is_retried() {
        let cases = [
            (
                RetryAction::throttling_error(),
                RetryAction::NoActionIndicated,
            ),
            (RetryAction::transient_error(), RetryAction::RetryForbidden),
            (RetryAction::server_error(), RetryAction::RetryForbidden),
            (RetryAction::client_error(), RetryAction::RetryForbidden),
            (
                RetryAction::NoActionIndicated,
                RetryAction::NoActionIndicated,
            ),
            (RetryAction::RetryForbidden, RetryAction::NoActionIndicated),
        ];
        for (previous, want) in cases {
            assert_eq!(retry_only_throttling(&previous), want, "{previous}");
        }
    }
}

//! EcsTask's calls to Amazon ECS: DescribeTaskDefinition, RunTask, DescribeTasks, ListTasks,
//! StopTask. I/O only; what to run and what a task's state means is decided in `mapping.rs`.

use super::mapping::*;
use crate::aws::errors::{AwsError, ErrorClass, OrAbsent, from_sdk};
use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::run_task::builders::RunTaskInputBuilder;
use aws_sdk_ecs::types as ecs;

/// DescribeTaskDefinition: the revision ARN `task_definition` names now, and its essential
/// containers.
pub async fn describe_task_definition(
    client: &Client,
    task_definition: &str,
) -> Result<(String, Vec<String>), AwsError> {
    let out = client
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeTaskDefinition", e))?;
    let td = out.task_definition.ok_or_else(|| AwsError {
        operation: "DescribeTaskDefinition",
        code: None,
        message: format!("no task definition {task_definition}"),
        class: ErrorClass::Retryable,
    })?;
    let arn = td
        .task_definition_arn()
        .unwrap_or(task_definition)
        .to_string();
    Ok((arn, essential_containers(&td)))
}

/// RunTask; the ARNs of the tasks it started. No task started is an error (AWS's failures).
pub async fn run_task(
    client: &Client,
    input: RunTaskInputBuilder,
) -> Result<Vec<String>, AwsError> {
    let out = input
        .send_with(client)
        .await
        .map_err(|e| from_sdk(RUN, e))?;
    let arns: Vec<String> = out
        .tasks()
        .iter()
        .filter_map(|t| t.task_arn().map(str::to_string))
        .collect();
    if arns.is_empty() {
        let failures: Vec<String> = out
            .failures()
            .iter()
            .map(|f| {
                format!(
                    "{}{}",
                    f.reason().unwrap_or("unknown"),
                    f.detail().map(|d| format!(" ({d})")).unwrap_or_default()
                )
            })
            .collect();
        // Capacity and placement failures pass: retried with backoff.
        return Err(AwsError {
            operation: RUN,
            code: Some("NoTaskStarted".into()),
            message: format!("no task started: {}", failures.join("; ")),
            class: ErrorClass::Retryable,
        });
    }
    Ok(arns)
}

/// DescribeTasks (with tags) of `arns` in `cluster`; tasks ECS does not know are left out.
/// `None` when the cluster does not exist.
pub async fn describe_tasks(
    client: &Client,
    cluster: &str,
    arns: &[String],
) -> Result<Option<Vec<ecs::Task>>, AwsError> {
    let mut tasks = Vec::new();
    for batch in arns.chunks(DESCRIBE_BATCH) {
        let Some(out) = client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(batch.to_vec()))
            .include(ecs::TaskField::Tags)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeTasks", e))
            .or_absent()?
        else {
            return Ok(None);
        };
        tasks.extend(
            out.tasks
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t.task_arn().is_some_and(|a| batch.iter().any(|b| b == a))),
        );
    }
    Ok(Some(tasks))
}

/// ListTasks of `cluster` and `family`, running and stopped (ECS keeps stopped tasks for about
/// an hour).
pub async fn list_tasks(
    client: &Client,
    cluster: &str,
    family: &str,
) -> Result<Vec<String>, AwsError> {
    let mut arns = Vec::new();
    for status in [ecs::DesiredStatus::Running, ecs::DesiredStatus::Stopped] {
        let listed: Vec<String> = client
            .list_tasks()
            .cluster(cluster)
            .family(family)
            .desired_status(status)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(|e| from_sdk("ListTasks", e))?;
        for arn in listed {
            if !arns.contains(&arn) {
                arns.push(arn);
            }
        }
    }
    Ok(arns)
}

/// StopTask with a reason (shown as the task's stoppedReason).
pub async fn stop_task(
    client: &Client,
    cluster: &str,
    arn: &str,
    reason: &str,
) -> Result<(), AwsError> {
    client
        .stop_task()
        .cluster(cluster)
        .task(arn)
        .reason(reason)
        .send()
        .await
        .map_err(|e| from_sdk("StopTask", e))
        .or_absent()?;
    Ok(())
}

//! EcsTask <-> Amazon ECS RunTask / DescribeTasks / ListTasks / StopTask. Pure mapping
//! (`run_task_input`, `task_state`, `task_tags`) plus the SDK calls at the end.

use std::collections::BTreeMap;

use aws_sdk_ecs::operation::run_task::RunTaskInput;
use aws_sdk_ecs::operation::run_task::builders::RunTaskInputBuilder;
use aws_sdk_ecs::types as ecs;
use serde_json::Value;

use crate::api::ecs_task::{ContainerState, EcsTaskSpec, TaskState};
use crate::aws::bridge;
use crate::aws::errors::{AwsError, required};

pub(super) const RUN: &str = "RunTask";
/// Tag on every task the operator starts: which attempt of the object's run it belongs to.
pub const ATTEMPT_TAG: &str = "ecs.operator.dev/attempt";
/// DescribeTasks takes at most this many tasks per call.
pub(super) const DESCRIBE_BATCH: usize = 100;

/// The run the spec asks for, with references resolved by the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRun {
    /// Cluster name or ARN.
    pub cluster: String,
    /// The exact task definition revision ARN.
    pub task_definition: String,
    /// Names of the revision's essential containers.
    pub essential: Vec<String>,
    /// Spec tags plus the ownership tags.
    pub tags: BTreeMap<String, String>,
    /// The spec; its cluster / task definition fields, references and tags are not sent as is.
    pub spec: EcsTaskSpec,
}

/// RunTask's client token for one attempt: the object's UID and the attempt number (at most
/// 64 characters), so a repeated request of one attempt starts nothing new in ECS and a retry
/// attempt is a new run.
pub fn client_token(uid: &str, attempt: i32) -> String {
    let mut token = format!("{uid}-{attempt}");
    token.truncate(64);
    token
}

/// The RunTask request of `attempt`.
pub fn run_task_input(
    d: &DesiredRun,
    uid: &str,
    attempt: i32,
) -> Result<RunTaskInputBuilder, AwsError> {
    let mut request = match serde_json::to_value(&d.spec) {
        Ok(Value::Object(map)) => map,
        Ok(_) => serde_json::Map::new(),
        Err(e) => return Err(AwsError::terminal(RUN, "InvalidTaskSpec", e.to_string())),
    };
    for k in ["cluster", "taskDefinition", "tags"] {
        request.remove(k);
    }
    let i = bridge::to_sdk(&request, RunTaskInput::deserialize)
        .map_err(|e| AwsError::terminal(RUN, "InvalidTaskSpec", e.to_string()))?;
    let mut tags: Vec<ecs::Tag> = d
        .tags
        .iter()
        .map(|(k, v)| ecs::Tag::builder().key(k).value(v).build())
        .collect();
    tags.push(
        ecs::Tag::builder()
            .key(ATTEMPT_TAG)
            .value(attempt.to_string())
            .build(),
    );
    Ok(RunTaskInput::builder()
        .cluster(&d.cluster)
        .task_definition(&d.task_definition)
        .client_token(client_token(uid, attempt))
        .set_count(i.count)
        .set_launch_type(i.launch_type)
        .set_capacity_provider_strategy(i.capacity_provider_strategy)
        .set_platform_version(i.platform_version)
        .set_network_configuration(i.network_configuration)
        .set_overrides(i.overrides)
        .set_placement_constraints(i.placement_constraints)
        .set_placement_strategy(i.placement_strategy)
        .set_group(i.group)
        .set_started_by(i.started_by)
        .set_reference_id(i.reference_id)
        .set_propagate_tags(i.propagate_tags)
        .set_enable_ecs_managed_tags(i.enable_ecs_managed_tags)
        .set_enable_execute_command(i.enable_execute_command)
        .set_volume_configurations(i.volume_configurations)
        .set_tags(Some(tags)))
}

pub(super) fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
}

/// A task as the status shows it; one without its ARN is an incomplete answer.
pub fn task_state(t: &ecs::Task) -> Result<TaskState, AwsError> {
    let task_arn = required(t.task_arn(), "DescribeTasks", "taskArn")?.to_string();
    Ok(TaskState {
        task_arn,
        last_status: t.last_status().map(str::to_string),
        desired_status: t.desired_status().map(str::to_string),
        started_at: time(t.started_at()),
        stopped_at: time(t.stopped_at()),
        stop_code: t.stop_code().map(|c| c.as_str().to_string()),
        stopped_reason: t.stopped_reason().map(str::to_string),
        containers: t
            .containers()
            .iter()
            .map(|c| ContainerState {
                name: c.name().map(str::to_string),
                last_status: c.last_status().map(str::to_string),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_string),
            })
            .collect(),
    })
}

/// A task's tags as a map.
pub fn task_tags(t: &ecs::Task) -> BTreeMap<String, String> {
    t.tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// The family of a task definition ARN (`...:task-definition/family:3`), or of `family:3`.
pub fn family(task_definition: &str) -> &str {
    let tail = task_definition
        .rsplit_once('/')
        .map_or(task_definition, |(_, t)| t);
    tail.split_once(':').map_or(tail, |(f, _)| f)
}

/// The essential container names of a task definition (`essential` defaults to true).
pub fn essential_containers(td: &ecs::TaskDefinition) -> Vec<String> {
    td.container_definitions()
        .iter()
        .filter(|c| c.essential().unwrap_or(true))
        .filter_map(|c| c.name().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_task_without_its_arn_is_an_incomplete_answer() {
        let with = ecs::Task::builder()
            .task_arn("arn:aws:ecs:us-east-1:1:task/c/t")
            .build();
        assert_eq!(
            task_state(&with).map(|s| s.task_arn).ok().as_deref(),
            Some("arn:aws:ecs:us-east-1:1:task/c/t")
        );
        let without = ecs::Task::builder().last_status("RUNNING").build();
        let e = task_state(&without).expect_err("no ARN");
        assert_eq!(e.code.as_deref(), Some("IncompleteAnswer"));
    }
    use super::*;

    fn desired(spec: serde_json::Value) -> DesiredRun {
        DesiredRun {
            cluster: "jobs".into(),
            task_definition: "arn:aws:ecs:us-east-1:1:task-definition/migrate:7".into(),
            essential: vec!["main".into()],
            tags: BTreeMap::from([("team".into(), "data".into())]),
            spec: serde_json::from_value(spec).expect("spec"),
        }
    }

    #[test]
    fn run_task_request_carries_the_spec_the_revision_the_token_and_the_attempt() {
        let d = desired(serde_json::json!({
            "taskDefinition": "migrate",
            "cluster": "ignored-resolved-by-caller",
            "count": 2,
            "launchType": "FARGATE",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
            "overrides": {"containerOverrides": [{"name": "main", "command": ["migrate", "up"],
                "environment": [{"name": "DRY", "value": "0"}]}], "cpu": "512"},
            "group": "migrations",
            "startedBy": "ci",
            "referenceId": "r-1",
            "propagateTags": "TASK_DEFINITION",
            "enableECSManagedTags": true,
            "backoffLimit": 3,
            "tags": [{"key": "ignored", "value": "x"}],
        }));
        let input = run_task_input(&d, "6f1c-uid", 2)
            .expect("input")
            .build()
            .expect("build");
        assert_eq!(input.cluster(), Some("jobs"));
        assert_eq!(input.task_definition(), Some(d.task_definition.as_str()));
        assert_eq!(input.client_token(), Some("6f1c-uid-2"));
        assert_eq!(input.count(), Some(2));
        assert_eq!(input.launch_type(), Some(&ecs::LaunchType::Fargate));
        assert_eq!(input.group(), Some("migrations"));
        assert_eq!(input.started_by(), Some("ci"));
        assert_eq!(input.reference_id(), Some("r-1"));
        assert_eq!(input.enable_ecs_managed_tags(), Some(true));
        let overrides = input.overrides().expect("overrides");
        assert_eq!(overrides.cpu(), Some("512"));
        assert_eq!(
            overrides.container_overrides()[0].command(),
            ["migrate", "up"]
        );
        let subnets = input
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .map(|a| a.subnets().to_vec());
        assert_eq!(subnets, Some(vec!["subnet-1".to_string()]));
        let tags: BTreeMap<_, _> = input
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or("")))
            .collect();
        assert_eq!(
            tags,
            BTreeMap::from([("team", "data"), (ATTEMPT_TAG, "2")]),
            "the desired tags (spec + owner, resolved by the caller) and the attempt"
        );
    }

    #[test]
    fn client_token_is_per_attempt_and_fits() {
        let uid = "0b6c3a2e-1f2d-4c5b-9a8e-7d6c5b4a3f2e";
        assert_ne!(client_token(uid, 1), client_token(uid, 2));
        assert!(client_token(&"x".repeat(80), 12).len() <= 64);
    }

    #[test]
    fn family_of_revision_names() {
        let cases = [
            (
                "arn:aws:ecs:us-east-1:1:task-definition/migrate:7",
                "migrate",
            ),
            ("migrate:7", "migrate"),
            ("migrate", "migrate"),
        ];
        for (input, want) in cases {
            assert_eq!(family(input), want, "{input}");
        }
    }

    #[test]
    fn task_state_maps_describe_tasks() {
        let t = ecs::Task::builder()
            .task_arn("arn:task/1")
            .last_status("STOPPED")
            .desired_status("STOPPED")
            .stop_code(ecs::TaskStopCode::EssentialContainerExited)
            .stopped_reason("Essential container in task exited")
            .started_at(aws_smithy_types::DateTime::from_secs(1_767_225_600))
            .stopped_at(aws_smithy_types::DateTime::from_secs(1_767_225_665))
            .containers(
                ecs::Container::builder()
                    .name("main")
                    .last_status("STOPPED")
                    .exit_code(137)
                    .reason("OutOfMemoryError: Container killed due to memory usage")
                    .build(),
            )
            .tags(ecs::Tag::builder().key(ATTEMPT_TAG).value("2").build())
            .build();
        let s = task_state(&t).expect("complete answer");
        assert_eq!(s.stop_code.as_deref(), Some("EssentialContainerExited"));
        assert_eq!(s.started_at.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(s.stopped_at.as_deref(), Some("2026-01-01T00:01:05Z"));
        assert_eq!(s.containers[0].exit_code, Some(137));
        assert!(
            s.containers[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("OutOfMemoryError"))
        );
        assert_eq!(
            task_tags(&t).get(ATTEMPT_TAG).map(String::as_str),
            Some("2")
        );
    }
}

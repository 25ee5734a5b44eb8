//! EcsSchedule's calls: EventBridge Scheduler get/create/update/delete, and the cluster ARN
//! lookup the target needs. I/O only; what to send is decided in `mapping.rs`.

use super::mapping::*;
use crate::aws::errors::{AwsError, ErrorClass, OrAbsent, from_sdk};
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types as sch;
use aws_smithy_types::DateTime;

/// GetSchedule; `None` when the schedule (or its group) does not exist.
pub async fn get(
    client: &Client,
    d: &DesiredSchedule,
) -> Result<Option<ObservedSchedule>, AwsError> {
    Ok(client
        .get_schedule()
        .name(&d.name)
        .group_name(&d.group)
        .send()
        .await
        .map_err(|e| from_sdk("GetSchedule", e))
        .or_absent()?
        .and_then(|out| observed_from(&out)))
}

/// CreateSchedule with a client token; the schedule's ARN.
pub async fn create(client: &Client, d: &DesiredSchedule, token: &str) -> Result<String, AwsError> {
    let s = &d.settings;
    let out = client
        .create_schedule()
        .name(&d.name)
        .group_name(&d.group)
        .client_token(token)
        .schedule_expression(&s.expression)
        .schedule_expression_timezone(&s.timezone)
        .set_start_date(s.start_date.map(DateTime::from_secs))
        .set_end_date(s.end_date.map(DateTime::from_secs))
        .set_description(s.description.clone())
        .state(sch::ScheduleState::from(s.state.as_str()))
        .flexible_time_window(s.flexible_time_window.clone())
        .set_kms_key_arn(s.kms_key_arn.clone())
        .action_after_completion(sch::ActionAfterCompletion::from(
            s.action_after_completion.as_str(),
        ))
        .target(s.target.clone())
        .send()
        .await
        .map_err(|e| from_sdk(CREATE, e))?;
    Ok(out.schedule_arn().to_string())
}

/// UpdateSchedule with the whole desired schedule.
pub async fn update(client: &Client, d: &DesiredSchedule) -> Result<(), AwsError> {
    let s = &d.settings;
    client
        .update_schedule()
        .name(&d.name)
        .group_name(&d.group)
        .schedule_expression(&s.expression)
        .schedule_expression_timezone(&s.timezone)
        .set_start_date(s.start_date.map(DateTime::from_secs))
        .set_end_date(s.end_date.map(DateTime::from_secs))
        .set_description(s.description.clone())
        .state(sch::ScheduleState::from(s.state.as_str()))
        .flexible_time_window(s.flexible_time_window.clone())
        .set_kms_key_arn(s.kms_key_arn.clone())
        .action_after_completion(sch::ActionAfterCompletion::from(
            s.action_after_completion.as_str(),
        ))
        .target(s.target.clone())
        .send()
        .await
        .map_err(|e| from_sdk("UpdateSchedule", e))?;
    Ok(())
}

/// DeleteSchedule; an absent schedule counts as deleted.
pub async fn delete(client: &Client, name: &str, group: &str) -> Result<(), AwsError> {
    client
        .delete_schedule()
        .name(name)
        .group_name(group)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteSchedule", e))
        .or_absent()?;
    Ok(())
}

/// The ARN of an ECS cluster named `cluster` (an ARN is returned as is).
pub async fn cluster_arn(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Result<String, AwsError> {
    if cluster.starts_with("arn:") {
        return Ok(cluster.to_string());
    }
    let out = ecs
        .describe_clusters()
        .clusters(cluster)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeClusters", e))?;
    out.clusters()
        .iter()
        .find(|c| c.status() != Some("INACTIVE"))
        .and_then(|c| c.cluster_arn())
        .map(str::to_string)
        .ok_or_else(|| AwsError {
            operation: "DescribeClusters",
            code: Some("ClusterNotFoundException".into()),
            message: format!("cluster {cluster} does not exist"),
            class: ErrorClass::Retryable,
        })
}

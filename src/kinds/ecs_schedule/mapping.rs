//! EcsSchedule <-> EventBridge Scheduler CreateSchedule / UpdateSchedule / GetSchedule /
//! DeleteSchedule with an ECS target. Pure mapping (`desired`, `observed_from`, `diff`) plus the
//! SDK calls at the end. UpdateSchedule replaces the whole schedule, so an update sends the
//! whole desired state.

use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use aws_sdk_scheduler::types as sch;
use aws_smithy_types::DateTime;

use crate::api::common::AwsEnum;
use crate::api::ecs_schedule::{ActionAfterCompletion, EcsScheduleSpec, ScheduleState};
use crate::aws::errors::AwsError;

pub(super) const CREATE: &str = "CreateSchedule";
/// What AWS applies when the spec sets no retry policy.
pub(super) const DEFAULT_RETRY: (i32, i32) = (86400, 185);

/// The schedule the spec asks for, with the target's cluster and revision resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredSchedule {
    pub name: String,
    pub group: String,
    pub settings: ScheduleSettings,
}

/// Every setting a schedule has, as compared and sent (AWS defaults filled in).
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleSettings {
    pub expression: String,
    pub timezone: String,
    pub start_date: Option<i64>,
    pub end_date: Option<i64>,
    pub description: Option<String>,
    pub state: String,
    pub flexible_time_window: sch::FlexibleTimeWindow,
    pub kms_key_arn: Option<String>,
    pub action_after_completion: String,
    pub target: sch::Target,
}

/// What GetSchedule reports.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedSchedule {
    pub arn: String,
    pub group: String,
    pub settings: ScheduleSettings,
    pub creation_date: Option<String>,
    pub last_modification_date: Option<String>,
}

/// One step that brings the schedule to the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// UpdateSchedule (the whole schedule) because these settings differ.
    UpdateSchedule { fields: Vec<&'static str> },
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Self::UpdateSchedule { fields } => format!("update schedule: {}", fields.join(", ")),
        }
    }
}

pub(super) fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::terminal(CREATE, "InvalidScheduleSpec", message)
}

pub(super) fn date(value: &Option<String>, field: &str) -> Result<Option<i64>, AwsError> {
    value
        .as_deref()
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|d| d.timestamp())
                .map_err(|e| invalid(format!("{field} {v:?} is not an RFC 3339 time: {e}")))
        })
        .transpose()
}

pub(super) fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

pub(super) fn sdk_enum<E: AwsEnum, T: for<'a> From<&'a str>>(e: &Option<E>) -> Option<T> {
    e.as_ref().map(|e| T::from(e.as_str()))
}

/// The ECS target's RunTask parameters from the spec.
pub(super) fn ecs_parameters(
    spec: &EcsScheduleSpec,
    task_definition: &str,
) -> Result<sch::EcsParameters, AwsError> {
    let network = match spec
        .network_configuration
        .as_ref()
        .and_then(|n| n.awsvpc_configuration.as_ref())
    {
        Some(a) => Some(
            sch::NetworkConfiguration::builder()
                .awsvpc_configuration(
                    sch::AwsVpcConfiguration::builder()
                        .set_subnets(Some(a.subnets.clone()))
                        .set_security_groups(a.security_groups.clone().filter(|g| !g.is_empty()))
                        .set_assign_public_ip(sdk_enum(&a.assign_public_ip))
                        .build()
                        .map_err(|e| invalid(e.to_string()))?,
                )
                .build(),
        ),
        None => None,
    };
    let strategy = spec
        .capacity_provider_strategy
        .iter()
        .flatten()
        .map(|i| {
            sch::CapacityProviderStrategyItem::builder()
                .capacity_provider(&i.capacity_provider)
                .set_weight(i.weight)
                .set_base(i.base)
                .build()
                .map_err(|e| invalid(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let constraints: Vec<sch::PlacementConstraint> = spec
        .placement_constraints
        .iter()
        .flatten()
        .map(|c| {
            sch::PlacementConstraint::builder()
                .set_type(sdk_enum(&c.type_))
                .set_expression(c.expression.clone())
                .build()
        })
        .collect();
    let strategies: Vec<sch::PlacementStrategy> = spec
        .placement_strategy
        .iter()
        .flatten()
        .map(|s| {
            sch::PlacementStrategy::builder()
                .set_type(sdk_enum(&s.type_))
                .set_field(s.field.clone())
                .build()
        })
        .collect();
    let tags: Vec<std::collections::HashMap<String, String>> = spec
        .tags
        .iter()
        .flatten()
        .map(|t| {
            std::collections::HashMap::from([
                ("key".to_string(), t.key.clone()),
                ("value".to_string(), t.value.clone()),
            ])
        })
        .collect();
    sch::EcsParameters::builder()
        .task_definition_arn(task_definition)
        .set_task_count(spec.count)
        .set_launch_type(sdk_enum(&spec.launch_type))
        .set_network_configuration(network)
        .set_platform_version(spec.platform_version.clone())
        .set_group(spec.group.clone())
        .set_capacity_provider_strategy(non_empty(strategy))
        .set_enable_ecs_managed_tags(spec.enable_ecs_managed_tags)
        .set_enable_execute_command(spec.enable_execute_command)
        .set_placement_constraints(non_empty(constraints))
        .set_placement_strategy(non_empty(strategies))
        .set_propagate_tags(sdk_enum(&spec.propagate_tags))
        .set_reference_id(spec.reference_id.clone())
        .set_tags(non_empty(tags))
        .build()
        .map_err(|e| invalid(e.to_string()))
}

/// The resolved desired schedule. `cluster_arn` and `task_definition` (a revision ARN) are the
/// caller's (references); `default_name` is metadata.name.
pub fn desired(
    spec: &EcsScheduleSpec,
    default_name: &str,
    cluster_arn: &str,
    task_definition: &str,
) -> Result<DesiredSchedule, AwsError> {
    let retry = spec.retry_policy.clone().unwrap_or_default();
    let input = spec
        .overrides
        .as_ref()
        .map(|o| serde_json::to_string(o).map_err(|e| invalid(e.to_string())))
        .transpose()?;
    let target = sch::Target::builder()
        .arn(cluster_arn)
        .role_arn(&spec.role_arn)
        .set_input(input)
        .ecs_parameters(ecs_parameters(spec, task_definition)?)
        .retry_policy(
            sch::RetryPolicy::builder()
                .maximum_event_age_in_seconds(
                    retry
                        .maximum_event_age_in_seconds
                        .unwrap_or(DEFAULT_RETRY.0),
                )
                .maximum_retry_attempts(retry.maximum_retry_attempts.unwrap_or(DEFAULT_RETRY.1))
                .build(),
        )
        .set_dead_letter_config(
            spec.dead_letter_config
                .as_ref()
                .map(|d| sch::DeadLetterConfig::builder().arn(&d.arn).build()),
        )
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let window = &spec.flexible_time_window;
    let mode = window.mode.as_str().to_string();
    // AWS's defaults when the spec leaves them out.
    let state = spec
        .state
        .as_ref()
        .unwrap_or(&ScheduleState::Enabled)
        .as_str()
        .to_string();
    let after = spec
        .action_after_completion
        .as_ref()
        .unwrap_or(&ActionAfterCompletion::None)
        .as_str()
        .to_string();
    Ok(DesiredSchedule {
        name: spec
            .name
            .clone()
            .unwrap_or_else(|| default_name.to_string()),
        group: spec.group_name.clone().unwrap_or_else(|| "default".into()),
        settings: ScheduleSettings {
            expression: spec.schedule_expression.clone(),
            timezone: spec
                .schedule_expression_timezone
                .clone()
                .unwrap_or_else(|| "UTC".into()),
            start_date: date(&spec.start_date, "startDate")?,
            end_date: date(&spec.end_date, "endDate")?,
            description: spec.description.clone().filter(|d| !d.is_empty()),
            state,
            flexible_time_window: sch::FlexibleTimeWindow::builder()
                .mode(sch::FlexibleTimeWindowMode::from(mode.as_str()))
                .set_maximum_window_in_minutes(window.maximum_window_in_minutes)
                .build()
                .map_err(|e| invalid(e.to_string()))?,
            kms_key_arn: spec.kms_key_arn.clone(),
            action_after_completion: after,
            target,
        },
    })
}

pub(super) fn time(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
}

/// The schedule as GetSchedule reports it, with AWS defaults filled in where it leaves them out.
pub fn observed_from(out: &GetScheduleOutput) -> Option<ObservedSchedule> {
    let mut target = out.target()?.clone();
    if target.retry_policy.is_none() {
        target.retry_policy = Some(
            sch::RetryPolicy::builder()
                .maximum_event_age_in_seconds(DEFAULT_RETRY.0)
                .maximum_retry_attempts(DEFAULT_RETRY.1)
                .build(),
        );
    }
    Some(ObservedSchedule {
        arn: out.arn()?.to_string(),
        group: out.group_name().unwrap_or("default").to_string(),
        settings: ScheduleSettings {
            expression: out.schedule_expression().unwrap_or_default().to_string(),
            timezone: out
                .schedule_expression_timezone()
                .unwrap_or("UTC")
                .to_string(),
            start_date: out.start_date().map(|d| d.secs()),
            end_date: out.end_date().map(|d| d.secs()),
            description: out
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            state: out.state().map_or("ENABLED", |s| s.as_str()).to_string(),
            flexible_time_window: out.flexible_time_window()?.clone(),
            kms_key_arn: out.kms_key_arn().map(str::to_string),
            action_after_completion: out
                .action_after_completion()
                .map_or("NONE", |a| a.as_str())
                .to_string(),
            target,
        },
        creation_date: time(out.creation_date()),
        last_modification_date: time(out.last_modification_date()),
    })
}

/// Pure: what must change (empty when AWS matches the spec).
pub fn diff(d: &DesiredSchedule, o: &ObservedSchedule) -> Vec<Change> {
    let (d, o) = (&d.settings, &o.settings);
    let mut fields = Vec::new();
    let checks: [(&'static str, bool); 10] = [
        ("scheduleExpression", d.expression == o.expression),
        ("scheduleExpressionTimezone", d.timezone == o.timezone),
        ("startDate", d.start_date == o.start_date),
        ("endDate", d.end_date == o.end_date),
        ("description", d.description == o.description),
        ("state", d.state == o.state),
        (
            "flexibleTimeWindow",
            d.flexible_time_window == o.flexible_time_window,
        ),
        ("kmsKeyArn", d.kms_key_arn == o.kms_key_arn),
        (
            "actionAfterCompletion",
            d.action_after_completion == o.action_after_completion,
        ),
        ("target", d.target == o.target),
    ];
    for (field, same) in checks {
        if !same {
            fields.push(field);
        }
    }
    if fields.is_empty() {
        vec![]
    } else {
        vec![Change::UpdateSchedule { fields }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: serde_json::Value) -> EcsScheduleSpec {
        let mut v = serde_json::json!({
            "scheduleExpression": "cron(0 3 * * ? *)",
            "flexibleTimeWindow": {"mode": "OFF"},
            "roleArn": "arn:aws:iam::1:role/scheduler",
            "taskDefinition": "nightly",
        });
        if let (Some(b), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        serde_json::from_value(v).expect("spec")
    }

    const CLUSTER: &str = "arn:aws:ecs:us-east-1:1:cluster/jobs";
    const TD: &str = "arn:aws:ecs:us-east-1:1:task-definition/nightly:3";

    #[test]
    fn desired_fills_the_aws_defaults_and_the_ecs_target() {
        let d = desired(
            &spec(serde_json::json!({
                "count": 2, "launchType": "FARGATE", "startDate": "2030-01-01T00:00:00Z",
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
                "overrides": {"containerOverrides": [{"name": "main", "command": ["run"]}]},
                "tags": [{"key": "team", "value": "data"}],
            })),
            "nightly",
            CLUSTER,
            TD,
        )
        .expect("desired");
        assert_eq!((d.name.as_str(), d.group.as_str()), ("nightly", "default"));
        let s = &d.settings;
        assert_eq!((s.timezone.as_str(), s.state.as_str()), ("UTC", "ENABLED"));
        assert_eq!(s.start_date, Some(1_893_456_000));
        assert_eq!(s.target.arn(), CLUSTER);
        let retry = s.target.retry_policy().expect("retry");
        assert_eq!(retry.maximum_retry_attempts(), Some(185));
        let ecs = s.target.ecs_parameters().expect("ecs");
        assert_eq!(ecs.task_definition_arn(), TD);
        assert_eq!(ecs.task_count(), Some(2));
        assert_eq!(ecs.launch_type(), Some(&sch::LaunchType::Fargate));
        assert_eq!(ecs.tags()[0].get("key").map(String::as_str), Some("team"));
        assert_eq!(
            s.target.input(),
            Some(r#"{"containerOverrides":[{"name":"main","command":["run"]}]}"#)
        );
        let bad = desired(
            &spec(serde_json::json!({"endDate": "tomorrow"})),
            "n",
            CLUSTER,
            TD,
        );
        assert!(bad.is_err_and(|e| e.message.contains("endDate")));
    }

    #[test]
    fn diff_names_what_differs() {
        let d = desired(&spec(serde_json::json!({})), "n", CLUSTER, TD).expect("desired");
        let same = ObservedSchedule {
            arn: "arn:schedule".into(),
            group: "default".into(),
            settings: d.settings.clone(),
            creation_date: None,
            last_modification_date: None,
        };
        assert!(diff(&d, &same).is_empty());
        let mut other = same.clone();
        other.settings.expression = "rate(1 hour)".into();
        other.settings.state = "DISABLED".into();
        assert_eq!(
            diff(&d, &other),
            vec![Change::UpdateSchedule {
                fields: vec!["scheduleExpression", "state"]
            }]
        );
        let moved = desired(
            &spec(serde_json::json!({"taskDefinition": "nightly"})),
            "n",
            CLUSTER,
            "arn:aws:ecs:us-east-1:1:task-definition/nightly:4",
        )
        .expect("desired");
        assert_eq!(
            diff(&moved, &same),
            vec![Change::UpdateSchedule {
                fields: vec!["target"]
            }]
        );
    }
}

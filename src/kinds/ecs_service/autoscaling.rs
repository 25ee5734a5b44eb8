//! Application Auto Scaling of an ECS service (`spec.autoScaling`): the scalable target
//! `ecs:service:DesiredCount`, its scaling policies and scheduled actions. aws-sdk-
//! applicationautoscaling 1.127 has no schema serialisation, so the bridge cannot carry these
//! shapes: the request mapping below is written out (and table-tested). Comparisons happen on
//! the SDK types: the spec is mapped once, to what PutScalingPolicy would send, and compared
//! with what DescribeScalingPolicies reports.

use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::types::{self as aas, ScalableDimension, ServiceNamespace};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use crate::api::service_auto_scaling::{
    AutoScaling, AutoScalingStatus, ScalingPolicy, ScalingPolicyStatus, ScheduledAction,
};
use crate::aws::errors::{AwsError, OrAbsent, from_sdk};

const NAMESPACE: ServiceNamespace = ServiceNamespace::Ecs;
const DIMENSION: ScalableDimension = ScalableDimension::EcsServiceDesiredCount;

/// The scalable target's resource ID: `service/<cluster name>/<service name>` (`cluster` may
/// be a name or an ARN).
pub fn resource_id(cluster: &str, service: &str) -> String {
    let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
    format!("service/{cluster}/{service}")
}

/// What the spec wants, with what the object recorded as its own (`status.autoScaling`).
impl DesiredScaling {
    pub fn new(
        resource_id: String,
        spec: Option<&AutoScaling>,
        recorded: Option<&AutoScalingStatus>,
    ) -> Self {
        Self {
            resource_id,
            spec: spec.cloned(),
            managed_policies: recorded
                .iter()
                .flat_map(|r| r.policies.iter())
                .filter(|p| p.managed)
                .map(|p| p.policy_name.clone())
                .collect(),
            managed_actions: recorded
                .map(|r| r.scheduled_actions.clone())
                .unwrap_or_default(),
            recorded: recorded.is_some(),
        }
    }
}

/// What the spec wants, with what the object recorded as its own.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DesiredScaling {
    pub resource_id: String,
    pub spec: Option<AutoScaling>,
    /// Policies and scheduled actions an earlier spec declared (from status): deleted when
    /// they leave the spec. Others on the target are not this object's.
    pub managed_policies: Vec<String>,
    pub managed_actions: Vec<String>,
    /// Status says a scalable target was registered: removing the block deregisters it.
    pub recorded: bool,
}

impl DesiredScaling {
    /// Whether observe must read auto scaling at all (no calls for services without it).
    pub fn wanted(&self) -> bool {
        self.spec.is_some() || self.recorded
    }

    /// Whether scheduled actions must be read: the spec declares some, or an earlier one did.
    pub fn actions_wanted(&self) -> bool {
        let declared = self
            .spec
            .as_ref()
            .is_some_and(|s| s.scheduled_actions.as_ref().is_some_and(|a| !a.is_empty()));
        declared || !self.managed_actions.is_empty()
    }
}

/// What Application Auto Scaling reports for the service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedScaling {
    pub target: Option<aas::ScalableTarget>,
    pub policies: Vec<aas::ScalingPolicy>,
    pub actions: Vec<aas::ScheduledAction>,
}

/// One call that brings auto scaling to the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// RegisterScalableTarget (creates or updates the bounds, role, suspended state).
    Register,
    PutPolicy(String),
    DeletePolicy(String),
    PutAction(String),
    DeleteAction(String),
    /// DeregisterScalableTarget (its policies and actions go with it).
    Deregister,
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Self::Register => "autoScaling (scalable target)".into(),
            Self::PutPolicy(n) => format!("autoScaling policy {n}"),
            Self::DeletePolicy(n) => format!("autoScaling policy {n} (delete)"),
            Self::PutAction(n) => format!("autoScaling scheduled action {n}"),
            Self::DeleteAction(n) => format!("autoScaling scheduled action {n} (delete)"),
            Self::Deregister => "autoScaling (deregister scalable target)".into(),
        }
    }
}

/// A spec value that does not form a valid request (caught by the schema in practice).
fn invalid(operation: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError::terminal(operation, "InvalidAutoScaling", e.to_string())
}

fn suspended(spec: &AutoScaling) -> aas::SuspendedState {
    let s = spec.suspended_state.clone().unwrap_or_default();
    aas::SuspendedState::builder()
        .dynamic_scaling_in_suspended(s.dynamic_scaling_in_suspended.unwrap_or(false))
        .dynamic_scaling_out_suspended(s.dynamic_scaling_out_suspended.unwrap_or(false))
        .scheduled_scaling_suspended(s.scheduled_scaling_suspended.unwrap_or(false))
        .build()
}

fn observed_suspended(t: &aas::ScalableTarget) -> aas::SuspendedState {
    let s = t
        .suspended_state
        .clone()
        .unwrap_or_else(|| aas::SuspendedState::builder().build());
    aas::SuspendedState::builder()
        .dynamic_scaling_in_suspended(s.dynamic_scaling_in_suspended.unwrap_or(false))
        .dynamic_scaling_out_suspended(s.dynamic_scaling_out_suspended.unwrap_or(false))
        .scheduled_scaling_suspended(s.scheduled_scaling_suspended.unwrap_or(false))
        .build()
}

/// The PutScalingPolicy configurations of a spec policy. Pure.
pub fn policy_configuration(
    p: &ScalingPolicy,
) -> Result<
    (
        Option<aas::TargetTrackingScalingPolicyConfiguration>,
        Option<aas::StepScalingPolicyConfiguration>,
    ),
    AwsError,
> {
    const OP: &str = "PutScalingPolicy";
    let tracking = match &p.target_tracking_scaling_policy_configuration {
        None => None,
        Some(t) => {
            let predefined = match &t.predefined_metric_specification {
                None => None,
                Some(m) => Some(
                    aas::PredefinedMetricSpecification::builder()
                        .predefined_metric_type(m.predefined_metric_type.as_str().into())
                        .set_resource_label(m.resource_label.clone())
                        .build()
                        .map_err(|e| invalid(OP, e))?,
                ),
            };
            let customized = t.customized_metric_specification.as_ref().map(|m| {
                aas::CustomizedMetricSpecification::builder()
                    .metric_name(&m.metric_name)
                    .namespace(&m.namespace)
                    .set_dimensions(m.dimensions.as_ref().map(|ds| {
                        ds.iter()
                            .filter_map(|d| {
                                aas::MetricDimension::builder()
                                    .name(&d.name)
                                    .value(&d.value)
                                    .build()
                                    .ok()
                            })
                            .collect()
                    }))
                    .statistic(m.statistic.as_str().into())
                    .set_unit(m.unit.clone())
                    .build()
            });
            Some(
                aas::TargetTrackingScalingPolicyConfiguration::builder()
                    .target_value(t.target_value)
                    .set_predefined_metric_specification(predefined)
                    .set_customized_metric_specification(customized)
                    .set_scale_out_cooldown(t.scale_out_cooldown)
                    .set_scale_in_cooldown(t.scale_in_cooldown)
                    .set_disable_scale_in(t.disable_scale_in)
                    .build()
                    .map_err(|e| invalid(OP, e))?,
            )
        }
    };
    let step = match &p.step_scaling_policy_configuration {
        None => None,
        Some(s) => {
            let mut steps = Vec::new();
            for a in &s.step_adjustments {
                steps.push(
                    aas::StepAdjustment::builder()
                        .set_metric_interval_lower_bound(a.metric_interval_lower_bound)
                        .set_metric_interval_upper_bound(a.metric_interval_upper_bound)
                        .scaling_adjustment(a.scaling_adjustment)
                        .build()
                        .map_err(|e| invalid(OP, e))?,
                );
            }
            Some(
                aas::StepScalingPolicyConfiguration::builder()
                    .adjustment_type(s.adjustment_type.as_str().into())
                    .set_step_adjustments(Some(steps))
                    .set_min_adjustment_magnitude(s.min_adjustment_magnitude)
                    .set_cooldown(s.cooldown)
                    .set_metric_aggregation_type(
                        s.metric_aggregation_type
                            .as_ref()
                            .map(|m| m.as_str().into()),
                    )
                    .build(),
            )
        }
    };
    Ok((tracking, step))
}

/// `want` with the optional settings it leaves unset taken from `have` (AWS's defaults count
/// as matching). Pure.
fn tracking_matches(
    want: &aas::TargetTrackingScalingPolicyConfiguration,
    have: &aas::TargetTrackingScalingPolicyConfiguration,
) -> bool {
    let mut want = want.clone();
    want.scale_out_cooldown = want.scale_out_cooldown.or(have.scale_out_cooldown);
    want.scale_in_cooldown = want.scale_in_cooldown.or(have.scale_in_cooldown);
    let off = |v: Option<bool>| v.unwrap_or(false);
    off(want.disable_scale_in) == off(have.disable_scale_in) && {
        want.disable_scale_in = have.disable_scale_in;
        want == *have
    }
}

fn step_matches(
    want: &aas::StepScalingPolicyConfiguration,
    have: &aas::StepScalingPolicyConfiguration,
) -> bool {
    let mut want = want.clone();
    want.cooldown = want.cooldown.or(have.cooldown);
    want.min_adjustment_magnitude = want
        .min_adjustment_magnitude
        .or(have.min_adjustment_magnitude);
    want.metric_aggregation_type = want
        .metric_aggregation_type
        .or_else(|| have.metric_aggregation_type.clone());
    want == *have
}

fn policy_matches(p: &ScalingPolicy, have: &aas::ScalingPolicy) -> bool {
    let Ok((tracking, step)) = policy_configuration(p) else {
        return false;
    };
    have.policy_type.as_str() == p.policy_type.as_str()
        && match (
            &tracking,
            &have.target_tracking_scaling_policy_configuration,
        ) {
            (Some(w), Some(h)) => tracking_matches(w, h),
            (None, None) => true,
            _ => false,
        }
        && match (&step, &have.step_scaling_policy_configuration) {
            (Some(w), Some(h)) => step_matches(w, h),
            (None, None) => true,
            _ => false,
        }
}

fn time(operation: &'static str, text: &Option<String>) -> Result<Option<DateTime>, AwsError> {
    text.as_deref()
        .map(|t| DateTime::from_str(t, Format::DateTime).map_err(|e| invalid(operation, e)))
        .transpose()
}

fn action_matches(a: &ScheduledAction, have: &aas::ScheduledAction) -> bool {
    const OP: &str = "PutScheduledAction";
    let bounds = have
        .scalable_target_action
        .clone()
        .unwrap_or_else(|| aas::ScalableTargetAction::builder().build());
    have.schedule == a.schedule
        // AWS reports UTC for an action given no time zone.
        && a.timezone.as_deref().unwrap_or("UTC") == have.timezone.as_deref().unwrap_or("UTC")
        && time(OP, &a.start_time).ok().flatten() == have.start_time
        && time(OP, &a.end_time).ok().flatten() == have.end_time
        && a.scalable_target_action.min_capacity == bounds.min_capacity
        && a.scalable_target_action.max_capacity == bounds.max_capacity
}

/// What must change for auto scaling to match the spec. Pure.
pub fn diff(d: &DesiredScaling, o: &ObservedScaling) -> Vec<Change> {
    let Some(spec) = &d.spec else {
        return if d.recorded && o.target.is_some() {
            vec![Change::Deregister]
        } else {
            Vec::new()
        };
    };
    let mut changes = Vec::new();
    let target_matches = o.target.as_ref().is_some_and(|t| {
        t.min_capacity == spec.min_capacity
            && t.max_capacity == spec.max_capacity
            && observed_suspended(t) == suspended(spec)
            && spec.role_arn.as_ref().is_none_or(|r| *r == t.role_arn)
    });
    if !target_matches {
        changes.push(Change::Register);
    }
    let policies = spec.scaling_policies.as_deref().unwrap_or_default();
    for p in policies {
        let have = o.policies.iter().find(|h| h.policy_name == p.policy_name);
        if !have.is_some_and(|h| policy_matches(p, h)) {
            changes.push(Change::PutPolicy(p.policy_name.clone()));
        }
    }
    for name in &d.managed_policies {
        let declared = policies.iter().any(|p| p.policy_name == *name);
        if !declared && o.policies.iter().any(|h| h.policy_name == *name) {
            changes.push(Change::DeletePolicy(name.clone()));
        }
    }
    let actions = spec.scheduled_actions.as_deref().unwrap_or_default();
    for a in actions {
        let have = o
            .actions
            .iter()
            .find(|h| h.scheduled_action_name == a.scheduled_action_name);
        if !have.is_some_and(|h| action_matches(a, h)) {
            changes.push(Change::PutAction(a.scheduled_action_name.clone()));
        }
    }
    for name in &d.managed_actions {
        let declared = actions.iter().any(|a| a.scheduled_action_name == *name);
        if !declared && o.actions.iter().any(|h| h.scheduled_action_name == *name) {
            changes.push(Change::DeleteAction(name.clone()));
        }
    }
    changes
}

/// The status block: bounds, every policy on the target (with its alarms), and the scheduled
/// actions the spec declares. `None` when there is no scalable target. Pure.
pub fn status(spec: Option<&AutoScaling>, o: &ObservedScaling) -> Option<AutoScalingStatus> {
    let target = o.target.as_ref()?;
    let declared_policies: Vec<&str> = spec
        .iter()
        .flat_map(|s| s.scaling_policies.iter().flatten())
        .map(|p| p.policy_name.as_str())
        .collect();
    Some(AutoScalingStatus {
        min_capacity: Some(target.min_capacity),
        max_capacity: Some(target.max_capacity),
        policies: o
            .policies
            .iter()
            .map(|p| ScalingPolicyStatus {
                policy_name: p.policy_name.clone(),
                policy_arn: Some(p.policy_arn.clone()),
                alarms: p
                    .alarms
                    .iter()
                    .flatten()
                    .map(|a| a.alarm_name.clone())
                    .collect(),
                managed: declared_policies.contains(&p.policy_name.as_str()),
            })
            .collect(),
        scheduled_actions: spec
            .iter()
            .flat_map(|s| s.scheduled_actions.iter().flatten())
            .map(|a| a.scheduled_action_name.clone())
            .filter(|n| o.actions.iter().any(|h| h.scheduled_action_name == *n))
            .collect(),
    })
}

/// Reads the scalable target and, when there is one, its policies and (when `d` has any to
/// manage) its scheduled actions.
pub async fn observe(client: &Client, d: &DesiredScaling) -> Result<ObservedScaling, AwsError> {
    let resource_id = d.resource_id.as_str();
    let targets: Vec<aas::ScalableTarget> = client
        .describe_scalable_targets()
        .service_namespace(NAMESPACE)
        .resource_ids(resource_id)
        .scalable_dimension(DIMENSION)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(|e| from_sdk("DescribeScalableTargets", e))?;
    let Some(target) = targets.into_iter().next() else {
        return Ok(ObservedScaling::default());
    };
    let policies = client
        .describe_scaling_policies()
        .service_namespace(NAMESPACE)
        .resource_id(resource_id)
        .scalable_dimension(DIMENSION)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(|e| from_sdk("DescribeScalingPolicies", e))?;
    if !d.actions_wanted() {
        return Ok(ObservedScaling {
            target: Some(target),
            policies,
            actions: Vec::new(),
        });
    }
    let actions = client
        .describe_scheduled_actions()
        .service_namespace(NAMESPACE)
        .resource_id(resource_id)
        .scalable_dimension(DIMENSION)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(|e| from_sdk("DescribeScheduledActions", e))?;
    Ok(ObservedScaling {
        target: Some(target),
        policies,
        actions,
    })
}

/// Applies one change.
pub async fn apply(client: &Client, d: &DesiredScaling, change: &Change) -> Result<(), AwsError> {
    let rid = d.resource_id.as_str();
    let spec = d.spec.as_ref();
    match change {
        Change::Register => {
            let Some(spec) = spec else { return Ok(()) };
            client
                .register_scalable_target()
                .service_namespace(NAMESPACE)
                .resource_id(rid)
                .scalable_dimension(DIMENSION)
                .min_capacity(spec.min_capacity)
                .max_capacity(spec.max_capacity)
                .set_role_arn(spec.role_arn.clone())
                .suspended_state(suspended(spec))
                .send()
                .await
                .map_err(|e| from_sdk("RegisterScalableTarget", e))?;
        }
        Change::PutPolicy(name) => {
            let Some(p) = spec
                .and_then(|s| s.scaling_policies.as_ref())
                .and_then(|ps| ps.iter().find(|p| p.policy_name == *name))
            else {
                return Ok(());
            };
            let (tracking, step) = policy_configuration(p)?;
            client
                .put_scaling_policy()
                .service_namespace(NAMESPACE)
                .resource_id(rid)
                .scalable_dimension(DIMENSION)
                .policy_name(name)
                .policy_type(p.policy_type.as_str().into())
                .set_target_tracking_scaling_policy_configuration(tracking)
                .set_step_scaling_policy_configuration(step)
                .send()
                .await
                .map_err(|e| from_sdk("PutScalingPolicy", e))?;
        }
        Change::DeletePolicy(name) => {
            client
                .delete_scaling_policy()
                .service_namespace(NAMESPACE)
                .resource_id(rid)
                .scalable_dimension(DIMENSION)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteScalingPolicy", e))
                .or_absent()?;
        }
        Change::PutAction(name) => {
            const OP: &str = "PutScheduledAction";
            let Some(a) = spec
                .and_then(|s| s.scheduled_actions.as_ref())
                .and_then(|xs| xs.iter().find(|a| a.scheduled_action_name == *name))
            else {
                return Ok(());
            };
            client
                .put_scheduled_action()
                .service_namespace(NAMESPACE)
                .resource_id(rid)
                .scalable_dimension(DIMENSION)
                .scheduled_action_name(name)
                .schedule(&a.schedule)
                .set_timezone(a.timezone.clone())
                .set_start_time(time(OP, &a.start_time)?)
                .set_end_time(time(OP, &a.end_time)?)
                .scalable_target_action(
                    aas::ScalableTargetAction::builder()
                        .set_min_capacity(a.scalable_target_action.min_capacity)
                        .set_max_capacity(a.scalable_target_action.max_capacity)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| from_sdk(OP, e))?;
        }
        Change::DeleteAction(name) => {
            client
                .delete_scheduled_action()
                .service_namespace(NAMESPACE)
                .resource_id(rid)
                .scalable_dimension(DIMENSION)
                .scheduled_action_name(name)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteScheduledAction", e))
                .or_absent()?;
        }
        Change::Deregister => deregister(client, rid).await?,
    }
    Ok(())
}

/// DeregisterScalableTarget; an absent target counts as done.
pub async fn deregister(client: &Client, resource_id: &str) -> Result<(), AwsError> {
    client
        .deregister_scalable_target()
        .service_namespace(NAMESPACE)
        .resource_id(resource_id)
        .scalable_dimension(DIMENSION)
        .send()
        .await
        .map_err(|e| from_sdk("DeregisterScalableTarget", e))
        .or_absent()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::service_auto_scaling as api;

    fn spec() -> AutoScaling {
        serde_json::from_value(serde_json::json!({
            "MinCapacity": 1,
            "MaxCapacity": 4,
            "ScalingPolicies": [{
                "PolicyName": "cpu",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 60.0,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                    "ScaleOutCooldown": 60
                }
            }, {
                "PolicyName": "steps",
                "PolicyType": "StepScaling",
                "StepScalingPolicyConfiguration": {
                    "AdjustmentType": "ChangeInCapacity",
                    "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 2}]
                }
            }],
            "ScheduledActions": [{
                "ScheduledActionName": "night",
                "Schedule": "cron(0 22 * * ? *)",
                "Timezone": "Europe/Berlin",
                "ScalableTargetAction": {"MinCapacity": 0, "MaxCapacity": 1}
            }]
        }))
        .expect("valid spec")
    }

    fn desired(spec: Option<AutoScaling>) -> DesiredScaling {
        DesiredScaling {
            resource_id: resource_id("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "web"),
            spec,
            ..Default::default()
        }
    }

    /// What AWS reports once the spec was applied (target, both policies, the action).
    fn applied(s: &AutoScaling) -> ObservedScaling {
        let target = aas::ScalableTarget::builder()
            .service_namespace(NAMESPACE)
            .resource_id("service/prod/web")
            .scalable_dimension(DIMENSION)
            .min_capacity(s.min_capacity)
            .max_capacity(s.max_capacity)
            .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
            .creation_time(DateTime::from_secs(0))
            .build()
            .expect("target");
        let policies = s
            .scaling_policies
            .iter()
            .flatten()
            .map(|p| {
                let (tracking, step) = policy_configuration(p).expect("maps");
                let mut tracking = tracking;
                // AWS fills in what the spec left out.
                if let Some(t) = tracking.as_mut() {
                    t.scale_in_cooldown.get_or_insert(300);
                    t.disable_scale_in.get_or_insert(false);
                }
                aas::ScalingPolicy::builder()
                    .policy_arn(format!("arn:policy/{}", p.policy_name))
                    .policy_name(&p.policy_name)
                    .service_namespace(NAMESPACE)
                    .resource_id("service/prod/web")
                    .scalable_dimension(DIMENSION)
                    .policy_type(p.policy_type.as_str().into())
                    .set_target_tracking_scaling_policy_configuration(tracking)
                    .set_step_scaling_policy_configuration(step)
                    .alarms(
                        aas::Alarm::builder()
                            .alarm_name(format!("{}-high", p.policy_name))
                            .alarm_arn("arn:alarm")
                            .build()
                            .expect("alarm"),
                    )
                    .creation_time(DateTime::from_secs(0))
                    .build()
                    .expect("policy")
            })
            .collect();
        let actions = s
            .scheduled_actions
            .iter()
            .flatten()
            .map(|a| {
                aas::ScheduledAction::builder()
                    .scheduled_action_name(&a.scheduled_action_name)
                    .scheduled_action_arn("arn:action")
                    .service_namespace(NAMESPACE)
                    .schedule(&a.schedule)
                    .set_timezone(a.timezone.clone())
                    .resource_id("service/prod/web")
                    .scalable_target_action(
                        aas::ScalableTargetAction::builder()
                            .set_min_capacity(a.scalable_target_action.min_capacity)
                            .set_max_capacity(a.scalable_target_action.max_capacity)
                            .build(),
                    )
                    .creation_time(DateTime::from_secs(0))
                    .build()
                    .expect("action")
            })
            .collect();
        ObservedScaling {
            target: Some(target),
            policies,
            actions,
        }
    }

    #[test]
    fn scheduled_actions_are_read_only_when_there_are_some_to_manage() {
        assert!(desired(Some(spec())).actions_wanted());
        let mut none = spec();
        none.scheduled_actions = None;
        assert!(!desired(Some(none.clone())).actions_wanted());
        let mut earlier = desired(Some(none));
        earlier.managed_actions = vec!["night".into()];
        assert!(earlier.actions_wanted());
    }

    #[test]
    fn resource_id_uses_the_cluster_name() {
        assert_eq!(resource_id("prod", "web"), "service/prod/web");
        assert_eq!(
            resource_id("arn:aws:ecs:us-east-1:1:cluster/prod", "web"),
            "service/prod/web"
        );
    }

    #[test]
    fn diff_table() {
        type Edit = fn(&mut DesiredScaling, &mut ObservedScaling);
        let cases: Vec<(&str, Edit, Vec<Change>)> = vec![
            ("applied", |_, _| {}, vec![]),
            (
                "nothing in AWS yet",
                |_, o| *o = ObservedScaling::default(),
                vec![
                    Change::Register,
                    Change::PutPolicy("cpu".into()),
                    Change::PutPolicy("steps".into()),
                    Change::PutAction("night".into()),
                ],
            ),
            (
                "bounds changed",
                |d, _| {
                    if let Some(s) = d.spec.as_mut() {
                        s.max_capacity = 9;
                    }
                },
                vec![Change::Register],
            ),
            (
                "scale-in suspended",
                |d, _| {
                    if let Some(s) = d.spec.as_mut() {
                        s.suspended_state = Some(api::SuspendedState {
                            dynamic_scaling_in_suspended: Some(true),
                            ..Default::default()
                        });
                    }
                },
                vec![Change::Register],
            ),
            (
                "target value changed",
                |d, _| {
                    if let Some(t) = d
                        .spec
                        .as_mut()
                        .and_then(|s| s.scaling_policies.as_mut())
                        .and_then(|p| p[0].target_tracking_scaling_policy_configuration.as_mut())
                    {
                        t.target_value = 70.0;
                    }
                },
                vec![Change::PutPolicy("cpu".into())],
            ),
            (
                "managed policy left the spec; a foreign one stays",
                |d, o| {
                    d.managed_policies = vec!["steps".into()];
                    if let Some(p) = d.spec.as_mut().and_then(|s| s.scaling_policies.as_mut()) {
                        p.truncate(1);
                    }
                    let mut foreign = o.policies[0].clone();
                    foreign.policy_name = "console".into();
                    o.policies.push(foreign);
                },
                vec![Change::DeletePolicy("steps".into())],
            ),
            (
                "scheduled action time zone changed",
                |d, _| {
                    if let Some(a) = d.spec.as_mut().and_then(|s| s.scheduled_actions.as_mut()) {
                        a[0].timezone = Some("UTC".into());
                    }
                },
                vec![Change::PutAction("night".into())],
            ),
            (
                "managed action left the spec",
                |d, _| {
                    d.managed_actions = vec!["night".into()];
                    if let Some(s) = d.spec.as_mut() {
                        s.scheduled_actions = None;
                    }
                },
                vec![Change::DeleteAction("night".into())],
            ),
            (
                "block removed after it was registered",
                |d, _| {
                    d.spec = None;
                    d.recorded = true;
                },
                vec![Change::Deregister],
            ),
            (
                "block never set: a target someone else registered is not ours",
                |d, _| d.spec = None,
                vec![],
            ),
        ];
        for (name, edit, want) in cases {
            let s = spec();
            let mut d = desired(Some(s.clone()));
            let mut o = applied(&s);
            edit(&mut d, &mut o);
            assert_eq!(diff(&d, &o), want, "{name}");
        }
    }

    #[test]
    fn request_mapping() {
        let s = spec();
        let policies = s.scaling_policies.clone().unwrap_or_default();
        let (tracking, step) = policy_configuration(&policies[0]).expect("maps");
        assert!(step.is_none());
        let t = tracking.expect("target tracking");
        assert_eq!(t.target_value, 60.0);
        assert_eq!(t.scale_out_cooldown, Some(60));
        assert_eq!(
            t.predefined_metric_specification
                .map(|m| m.predefined_metric_type.as_str().to_string()),
            Some("ECSServiceAverageCPUUtilization".to_string())
        );
        let (tracking, step) = policy_configuration(&policies[1]).expect("maps");
        assert!(tracking.is_none());
        let st = step.expect("step");
        assert_eq!(
            st.adjustment_type.map(|a| a.as_str().to_string()),
            Some("ChangeInCapacity".into())
        );
        assert_eq!(st.step_adjustments.map(|v| v.len()), Some(1));
        let custom: ScalingPolicy = serde_json::from_value(serde_json::json!({
            "PolicyName": "queue",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 10.0,
                "CustomizedMetricSpecification": {
                    "MetricName": "Backlog", "Namespace": "App", "Statistic": "Average",
                    "Dimensions": [{"Name": "Queue", "Value": "jobs"}]
                }
            }
        }))
        .expect("valid");
        let (tracking, _) = policy_configuration(&custom).expect("maps");
        let m = tracking
            .and_then(|t| t.customized_metric_specification)
            .expect("customized");
        assert_eq!(m.metric_name.as_deref(), Some("Backlog"));
        assert_eq!(m.dimensions.map(|d| d.len()), Some(1));
    }

    #[test]
    fn status_lists_policies_with_alarms_and_marks_the_managed_ones() {
        let s = spec();
        let mut o = applied(&s);
        let mut foreign = o.policies[0].clone();
        foreign.policy_name = "console".into();
        o.policies.push(foreign);
        let st = status(Some(&s), &o).expect("registered");
        assert_eq!((st.min_capacity, st.max_capacity), (Some(1), Some(4)));
        let managed: Vec<(&str, bool)> = st
            .policies
            .iter()
            .map(|p| (p.policy_name.as_str(), p.managed))
            .collect();
        assert_eq!(
            managed,
            [("cpu", true), ("steps", true), ("console", false)]
        );
        assert_eq!(st.policies[0].alarms, ["cpu-high"]);
        assert_eq!(st.scheduled_actions, ["night"]);
        assert_eq!(status(None, &ObservedScaling::default()), None);
    }
}

//! Application Auto Scaling of an ECS service's desiredCount: spec <-> SDK mapping and the calls.
//! aws-sdk-applicationautoscaling has no schema serde (src/aws/bridge.rs cannot serve it), so
//! the mapping is written out; requests are built without sending, so tests read them back.

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::operation::put_scaling_policy::builders::PutScalingPolicyFluentBuilder;
use aws_sdk_applicationautoscaling::operation::put_scheduled_action::builders::PutScheduledActionFluentBuilder;
use aws_sdk_applicationautoscaling::operation::register_scalable_target::builders::RegisterScalableTargetFluentBuilder;
use aws_sdk_applicationautoscaling::primitives::{DateTime, DateTimeFormat};
use aws_sdk_applicationautoscaling::types as aas;
use serde_json::Value;

use super::AwsError;
use super::errors::from_sdk;
use crate::api::common::AwsEnum;
use crate::api::ecs_service::{
    AdjustmentType, AutoScalingStatus, CustomizedMetricSpecification, MetricAggregationType,
    MetricDimension, MetricStatistic, PredefinedMetricSpecification, PredefinedMetricType,
    ScalableTargetAction, ScalingPolicyStatus, ScheduledAction, ServiceAutoScaling, StepAdjustment,
    StepScalingPolicy, SuspendedState, TargetTrackingScalingPolicy,
};

/// The scalable target's resource ID: `service/<cluster name>/<service name>` (a cluster given
/// as an ARN contributes its name).
pub fn resource_id(cluster: &str, service: &str) -> String {
    let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
    format!("service/{cluster}/{service}")
}

/// What Application Auto Scaling holds for one service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedScaling {
    pub resource_id: String,
    /// (minCapacity, maxCapacity, suspended state) of the registered target.
    pub target: Option<(i32, i32, SuspendedState)>,
    pub target_tracking: BTreeMap<String, TargetTrackingScalingPolicy>,
    pub step: BTreeMap<String, StepScalingPolicy>,
    pub scheduled: BTreeMap<String, ScheduledAction>,
    pub policies: Vec<ScalingPolicyStatus>,
}

impl ObservedScaling {
    pub fn status(&self) -> Option<AutoScalingStatus> {
        let (min, max, _) = self.target.clone()?;
        Some(AutoScalingStatus {
            resource_id: Some(self.resource_id.clone()),
            min_capacity: Some(min),
            max_capacity: Some(max),
            policies: self.policies.clone(),
            scheduled_actions: self.scheduled.keys().cloned().collect(),
        })
    }
}

/// One Application Auto Scaling call.
#[derive(Clone, Debug, PartialEq)]
pub enum ScalingChange {
    /// RegisterScalableTarget (also updates min/max and the suspended state).
    Register,
    PutTargetTracking(String),
    PutStep(String),
    DeletePolicy(String),
    PutScheduled(String),
    DeleteScheduled(String),
    /// The block left the spec.
    Deregister,
}

impl ScalingChange {
    pub fn describe(&self) -> String {
        match self {
            Self::Register => "autoScaling (scalable target)".into(),
            Self::PutTargetTracking(n) => format!("autoScaling.targetTrackingScalingPolicies[{n}]"),
            Self::PutStep(n) => format!("autoScaling.stepScalingPolicies[{n}]"),
            Self::DeletePolicy(n) => format!("autoScaling policy {n} (delete)"),
            Self::PutScheduled(n) => format!("autoScaling.scheduledActions[{n}]"),
            Self::DeleteScheduled(n) => format!("autoScaling scheduled action {n} (delete)"),
            Self::Deregister => "autoScaling (deregister: removed from the spec)".into(),
        }
    }
}

fn suspended_or_default(s: Option<&SuspendedState>) -> (bool, bool, bool) {
    let s = s.cloned().unwrap_or_default();
    (
        s.dynamic_scaling_in_suspended.unwrap_or(false),
        s.dynamic_scaling_out_suspended.unwrap_or(false),
        s.scheduled_scaling_suspended.unwrap_or(false),
    )
}

/// True when every value `want` sets is in `have` (what the spec leaves out, AWS defaults).
fn covers<T: serde::Serialize>(want: &T, have: &T) -> bool {
    let (Ok(w), Ok(h)) = (serde_json::to_value(want), serde_json::to_value(have)) else {
        return false;
    };
    super::ecs_cluster::covers(&w, &h)
}

/// A spec time in the form the observed side is read back in (RFC 3339, seconds, UTC).
fn canonical_time(t: &Option<String>) -> Option<String> {
    t.as_ref().map(|s| {
        DateTime::from_str(s, DateTimeFormat::DateTimeWithOffset)
            .or_else(|_| DateTime::from_str(s, DateTimeFormat::DateTime))
            .ok()
            .and_then(|d| {
                DateTime::from_secs(d.secs())
                    .fmt(DateTimeFormat::DateTime)
                    .ok()
            })
            .unwrap_or_else(|| s.clone())
    })
}

fn canonical_action(a: &ScheduledAction) -> ScheduledAction {
    ScheduledAction {
        start_time: canonical_time(&a.start_time),
        end_time: canonical_time(&a.end_time),
        ..a.clone()
    }
}

/// The calls that bring Application Auto Scaling to `desired` (`None`: the block is gone). Pure.
pub fn diff(desired: Option<&ServiceAutoScaling>, o: &ObservedScaling) -> Vec<ScalingChange> {
    let mut changes = Vec::new();
    let Some(d) = desired else {
        if o.target.is_some() || !o.policies.is_empty() || !o.scheduled.is_empty() {
            // Deregistering deletes policies and actions in AWS; deleting them first also
            // covers endpoints that do not (moto).
            changes.extend(
                o.policies
                    .iter()
                    .map(|p| ScalingChange::DeletePolicy(p.policy_name.clone())),
            );
            changes.extend(
                o.scheduled
                    .keys()
                    .map(|n| ScalingChange::DeleteScheduled(n.clone())),
            );
            if o.target.is_some() {
                changes.push(ScalingChange::Deregister);
            }
        }
        return changes;
    };
    let target_matches = o.target.as_ref().is_some_and(|(min, max, s)| {
        (*min, *max) == (d.min_capacity, d.max_capacity)
            && suspended_or_default(Some(s)) == suspended_or_default(d.suspended_state.as_ref())
    });
    if !target_matches {
        changes.push(ScalingChange::Register);
    }
    let tt = d.target_tracking_scaling_policies.iter().flatten();
    for p in tt.clone() {
        if !o
            .target_tracking
            .get(&p.policy_name)
            .is_some_and(|h| covers(p, h))
        {
            changes.push(ScalingChange::PutTargetTracking(p.policy_name.clone()));
        }
    }
    let steps = d.step_scaling_policies.iter().flatten();
    for p in steps.clone() {
        if !o.step.get(&p.policy_name).is_some_and(|h| covers(p, h)) {
            changes.push(ScalingChange::PutStep(p.policy_name.clone()));
        }
    }
    for p in &o.policies {
        let wanted = tt.clone().any(|w| w.policy_name == p.policy_name)
            || steps.clone().any(|w| w.policy_name == p.policy_name);
        if !wanted {
            changes.push(ScalingChange::DeletePolicy(p.policy_name.clone()));
        }
    }
    let actions = d.scheduled_actions.iter().flatten();
    for a in actions.clone() {
        let same = o
            .scheduled
            .get(&a.scheduled_action_name)
            .is_some_and(|h| covers(&canonical_action(a), h));
        if !same {
            changes.push(ScalingChange::PutScheduled(a.scheduled_action_name.clone()));
        }
    }
    for name in o.scheduled.keys() {
        if !actions.clone().any(|a| &a.scheduled_action_name == name) {
            changes.push(ScalingChange::DeleteScheduled(name.clone()));
        }
    }
    changes
}

// ---- spec -> SDK (pure) ----

fn build_error(e: aws_sdk_applicationautoscaling::error::BuildError) -> AwsError {
    AwsError::terminal("BuildRequest", "InvalidSpec", e.to_string())
}

/// RegisterScalableTarget, not sent. The suspended state is always sent whole, so clearing it in
/// the spec resumes scaling.
pub fn register_request(
    client: &Client,
    rid: &str,
    d: &ServiceAutoScaling,
) -> RegisterScalableTargetFluentBuilder {
    let (scale_in, scale_out, scheduled) = suspended_or_default(d.suspended_state.as_ref());
    client
        .register_scalable_target()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_id(rid)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(d.min_capacity)
        .max_capacity(d.max_capacity)
        .set_role_arn(d.role_arn.clone())
        .suspended_state(
            aas::SuspendedState::builder()
                .dynamic_scaling_in_suspended(scale_in)
                .dynamic_scaling_out_suspended(scale_out)
                .scheduled_scaling_suspended(scheduled)
                .build(),
        )
}

fn policy_request(client: &Client, rid: &str, name: &str) -> PutScalingPolicyFluentBuilder {
    client
        .put_scaling_policy()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_id(rid)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .policy_name(name)
}

/// PutScalingPolicy for a target-tracking policy, not sent.
pub fn target_tracking_request(
    client: &Client,
    rid: &str,
    p: &TargetTrackingScalingPolicy,
) -> Result<PutScalingPolicyFluentBuilder, AwsError> {
    let predefined = match &p.predefined_metric_specification {
        Some(m) => Some(
            aas::PredefinedMetricSpecification::builder()
                .predefined_metric_type(aas::MetricType::from(m.predefined_metric_type.as_str()))
                .set_resource_label(m.resource_label.clone())
                .build()
                .map_err(build_error)?,
        ),
        None => None,
    };
    let customized = match &p.customized_metric_specification {
        Some(m) => {
            let mut dims = Vec::new();
            for d in m.dimensions.iter().flatten() {
                dims.push(
                    aas::MetricDimension::builder()
                        .name(&d.name)
                        .value(&d.value)
                        .build()
                        .map_err(build_error)?,
                );
            }
            Some(
                aas::CustomizedMetricSpecification::builder()
                    .metric_name(&m.metric_name)
                    .namespace(&m.namespace)
                    .statistic(aas::MetricStatistic::from(m.statistic.as_str()))
                    .set_unit(m.unit.clone())
                    .set_dimensions((!dims.is_empty()).then_some(dims))
                    .build(),
            )
        }
        None => None,
    };
    let config = aas::TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(p.target_value)
        .set_predefined_metric_specification(predefined)
        .set_customized_metric_specification(customized)
        .set_scale_in_cooldown(p.scale_in_cooldown)
        .set_scale_out_cooldown(p.scale_out_cooldown)
        .set_disable_scale_in(p.disable_scale_in)
        .build()
        .map_err(build_error)?;
    Ok(policy_request(client, rid, &p.policy_name)
        .policy_type(aas::PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(config))
}

/// PutScalingPolicy for a step scaling policy, not sent.
pub fn step_request(
    client: &Client,
    rid: &str,
    p: &StepScalingPolicy,
) -> Result<PutScalingPolicyFluentBuilder, AwsError> {
    let mut steps = Vec::new();
    for s in &p.step_adjustments {
        steps.push(
            aas::StepAdjustment::builder()
                .set_metric_interval_lower_bound(s.metric_interval_lower_bound)
                .set_metric_interval_upper_bound(s.metric_interval_upper_bound)
                .scaling_adjustment(s.scaling_adjustment)
                .build()
                .map_err(build_error)?,
        );
    }
    let config = aas::StepScalingPolicyConfiguration::builder()
        .adjustment_type(aas::AdjustmentType::from(p.adjustment_type.as_str()))
        .set_step_adjustments(Some(steps))
        .set_cooldown(p.cooldown)
        .set_metric_aggregation_type(
            p.metric_aggregation_type
                .map(|m| aas::MetricAggregationType::from(m.as_str())),
        )
        .set_min_adjustment_magnitude(p.min_adjustment_magnitude)
        .build();
    Ok(policy_request(client, rid, &p.policy_name)
        .policy_type(aas::PolicyType::StepScaling)
        .step_scaling_policy_configuration(config))
}

fn parse_time(field: &str, t: &Option<String>) -> Result<Option<DateTime>, AwsError> {
    t.as_ref()
        .map(|s| {
            DateTime::from_str(s, DateTimeFormat::DateTimeWithOffset)
                .or_else(|_| DateTime::from_str(s, DateTimeFormat::DateTime))
                .map_err(|e| {
                    AwsError::terminal(
                        "PutScheduledAction",
                        "InvalidSpec",
                        format!("{field} {s:?} is not an RFC 3339 time: {e}"),
                    )
                })
        })
        .transpose()
}

/// PutScheduledAction, not sent.
pub fn scheduled_request(
    client: &Client,
    rid: &str,
    a: &ScheduledAction,
) -> Result<PutScheduledActionFluentBuilder, AwsError> {
    Ok(client
        .put_scheduled_action()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_id(rid)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .scheduled_action_name(&a.scheduled_action_name)
        .schedule(&a.schedule)
        .set_timezone(a.timezone.clone())
        .set_start_time(parse_time("startTime", &a.start_time)?)
        .set_end_time(parse_time("endTime", &a.end_time)?)
        .scalable_target_action(
            aas::ScalableTargetAction::builder()
                .set_min_capacity(a.scalable_target_action.min_capacity)
                .set_max_capacity(a.scalable_target_action.max_capacity)
                .build(),
        ))
}

// ---- SDK -> observed (pure) ----

pub fn target_tracking_from_sdk(
    name: &str,
    c: &aas::TargetTrackingScalingPolicyConfiguration,
) -> TargetTrackingScalingPolicy {
    TargetTrackingScalingPolicy {
        policy_name: name.to_string(),
        target_value: c.target_value(),
        predefined_metric_specification: c.predefined_metric_specification().and_then(|m| {
            Some(PredefinedMetricSpecification {
                predefined_metric_type: PredefinedMetricType::from_aws(
                    m.predefined_metric_type().as_str(),
                )?,
                resource_label: m.resource_label().map(str::to_string),
            })
        }),
        customized_metric_specification: c.customized_metric_specification().and_then(|m| {
            Some(CustomizedMetricSpecification {
                metric_name: m.metric_name()?.to_string(),
                namespace: m.namespace()?.to_string(),
                statistic: MetricStatistic::from_aws(m.statistic()?.as_str())?,
                unit: m.unit().map(str::to_string),
                dimensions: Some(
                    m.dimensions()
                        .iter()
                        .map(|d| MetricDimension {
                            name: d.name().to_string(),
                            value: d.value().to_string(),
                        })
                        .collect(),
                ),
            })
        }),
        scale_in_cooldown: c.scale_in_cooldown(),
        scale_out_cooldown: c.scale_out_cooldown(),
        disable_scale_in: c.disable_scale_in(),
    }
}

pub fn step_from_sdk(
    name: &str,
    c: &aas::StepScalingPolicyConfiguration,
) -> Option<StepScalingPolicy> {
    Some(StepScalingPolicy {
        policy_name: name.to_string(),
        adjustment_type: AdjustmentType::from_aws(c.adjustment_type()?.as_str())?,
        step_adjustments: c
            .step_adjustments()
            .iter()
            .map(|s| StepAdjustment {
                metric_interval_lower_bound: s.metric_interval_lower_bound(),
                metric_interval_upper_bound: s.metric_interval_upper_bound(),
                scaling_adjustment: s.scaling_adjustment(),
            })
            .collect(),
        cooldown: c.cooldown(),
        metric_aggregation_type: c
            .metric_aggregation_type()
            .and_then(|m| MetricAggregationType::from_aws(m.as_str())),
        min_adjustment_magnitude: c.min_adjustment_magnitude(),
    })
}

fn time_from_sdk(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| {
        DateTime::from_secs(t.secs())
            .fmt(DateTimeFormat::DateTime)
            .ok()
    })
}

pub fn scheduled_from_sdk(a: &aas::ScheduledAction) -> ScheduledAction {
    ScheduledAction {
        scheduled_action_name: a.scheduled_action_name().to_string(),
        schedule: a.schedule().to_string(),
        timezone: a.timezone().map(str::to_string),
        start_time: time_from_sdk(a.start_time()),
        end_time: time_from_sdk(a.end_time()),
        scalable_target_action: ScalableTargetAction {
            min_capacity: a.scalable_target_action().and_then(|t| t.min_capacity()),
            max_capacity: a.scalable_target_action().and_then(|t| t.max_capacity()),
        },
    }
}

// ---- I/O ----

/// Reads the target, its policies and its scheduled actions.
pub async fn observe(client: &Client, rid: &str) -> Result<ObservedScaling, AwsError> {
    let mut o = ObservedScaling {
        resource_id: rid.to_string(),
        ..Default::default()
    };
    let targets = client
        .describe_scalable_targets()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_ids(rid)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeScalableTargets", e))?;
    o.target = targets
        .scalable_targets()
        .iter()
        .find(|t| t.resource_id() == rid)
        .map(|t| {
            let s = t.suspended_state();
            let suspended = SuspendedState {
                dynamic_scaling_in_suspended: s.and_then(|s| s.dynamic_scaling_in_suspended()),
                dynamic_scaling_out_suspended: s.and_then(|s| s.dynamic_scaling_out_suspended()),
                scheduled_scaling_suspended: s.and_then(|s| s.scheduled_scaling_suspended()),
            };
            (t.min_capacity(), t.max_capacity(), suspended)
        });
    let mut pages = client
        .describe_scaling_policies()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_id(rid)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| from_sdk("DescribeScalingPolicies", e))?;
        for p in page.scaling_policies() {
            if p.resource_id() != rid {
                continue;
            }
            let name = p.policy_name();
            if let Some(c) = p.target_tracking_scaling_policy_configuration() {
                o.target_tracking
                    .insert(name.to_string(), target_tracking_from_sdk(name, c));
            }
            if let Some(step) = p
                .step_scaling_policy_configuration()
                .and_then(|c| step_from_sdk(name, c))
            {
                o.step.insert(name.to_string(), step);
            }
            o.policies.push(ScalingPolicyStatus {
                policy_name: name.to_string(),
                policy_arn: Some(p.policy_arn().to_string()),
                policy_type: Some(p.policy_type().as_str().to_string()),
                alarms: p
                    .alarms()
                    .iter()
                    .map(|a| a.alarm_name().to_string())
                    .collect(),
            });
        }
    }
    o.policies.sort_by(|a, b| a.policy_name.cmp(&b.policy_name));
    let actions = client
        .describe_scheduled_actions()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_id(rid)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeScheduledActions", e))?;
    for a in actions.scheduled_actions() {
        if a.resource_id() == rid {
            o.scheduled
                .insert(a.scheduled_action_name().to_string(), scheduled_from_sdk(a));
        }
    }
    Ok(o)
}

/// "Not found" here is a ValidationException (or ObjectNotFoundException) naming what is missing.
fn is_gone(e: &AwsError) -> bool {
    e.is_not_found() || e.message.starts_with("No scal") || e.message.contains("not found")
}

async fn delete_policy(client: &Client, rid: &str, name: &str) -> Result<(), AwsError> {
    match client
        .delete_scaling_policy()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_id(rid)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .policy_name(name)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteScalingPolicy", e))
    {
        Err(e) if !is_gone(&e) => Err(e),
        _ => Ok(()),
    }
}

async fn delete_scheduled(client: &Client, rid: &str, name: &str) -> Result<(), AwsError> {
    match client
        .delete_scheduled_action()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_id(rid)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .scheduled_action_name(name)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteScheduledAction", e))
    {
        Err(e) if !is_gone(&e) => Err(e),
        _ => Ok(()),
    }
}

async fn deregister(client: &Client, rid: &str) -> Result<(), AwsError> {
    match client
        .deregister_scalable_target()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_id(rid)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await
        .map_err(|e| from_sdk("DeregisterScalableTarget", e))
    {
        Err(e) if !is_gone(&e) => Err(e),
        _ => Ok(()),
    }
}

/// Applies the changes in order (register first, deregister last).
pub async fn apply(
    client: &Client,
    rid: &str,
    desired: Option<&ServiceAutoScaling>,
    changes: &[ScalingChange],
) -> Result<(), AwsError> {
    let missing = |what: &str| {
        AwsError::terminal(
            "ApplicationAutoScaling",
            "UnknownName",
            format!("{what} is not in spec.autoScaling"),
        )
    };
    for change in changes {
        match change {
            ScalingChange::Register => {
                let d = desired.ok_or_else(|| missing("the scalable target"))?;
                register_request(client, rid, d)
                    .send()
                    .await
                    .map_err(|e| from_sdk("RegisterScalableTarget", e))?;
            }
            ScalingChange::PutTargetTracking(name) => {
                let p = desired
                    .and_then(|d| d.target_tracking_scaling_policies.as_ref())
                    .and_then(|ps| ps.iter().find(|p| &p.policy_name == name))
                    .ok_or_else(|| missing(name))?;
                target_tracking_request(client, rid, p)?
                    .send()
                    .await
                    .map_err(|e| from_sdk("PutScalingPolicy", e))?;
            }
            ScalingChange::PutStep(name) => {
                let p = desired
                    .and_then(|d| d.step_scaling_policies.as_ref())
                    .and_then(|ps| ps.iter().find(|p| &p.policy_name == name))
                    .ok_or_else(|| missing(name))?;
                step_request(client, rid, p)?
                    .send()
                    .await
                    .map_err(|e| from_sdk("PutScalingPolicy", e))?;
            }
            ScalingChange::DeletePolicy(name) => delete_policy(client, rid, name).await?,
            ScalingChange::PutScheduled(name) => {
                let a = desired
                    .and_then(|d| d.scheduled_actions.as_ref())
                    .and_then(|ps| ps.iter().find(|a| &a.scheduled_action_name == name))
                    .ok_or_else(|| missing(name))?;
                scheduled_request(client, rid, a)?
                    .send()
                    .await
                    .map_err(|e| from_sdk("PutScheduledAction", e))?;
            }
            ScalingChange::DeleteScheduled(name) => delete_scheduled(client, rid, name).await?,
            ScalingChange::Deregister => deregister(client, rid).await?,
        }
    }
    Ok(())
}

/// Removes everything (before the service is deleted): policies, actions, the target.
pub async fn remove(client: &Client, rid: &str) -> Result<(), AwsError> {
    let o = observe(client, rid).await?;
    apply(client, rid, None, &diff(None, &o)).await
}

/// The JSON of the status field (`null` clears it).
pub fn status_value(o: Option<&ObservedScaling>) -> Value {
    serde_json::to_value(o.and_then(ObservedScaling::status)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client() -> Client {
        let conf = aws_sdk_applicationautoscaling::Config::builder()
            .behavior_version(aws_sdk_applicationautoscaling::config::BehaviorVersion::latest())
            .region(aws_sdk_applicationautoscaling::config::Region::new(
                "us-east-1",
            ))
            .build();
        Client::from_conf(conf)
    }

    fn spec() -> ServiceAutoScaling {
        serde_json::from_value(json!({
            "minCapacity": 1, "maxCapacity": 10,
            "suspendedState": {"scheduledScalingSuspended": true},
            "targetTrackingScalingPolicies": [
                {"policyName": "cpu", "targetValue": 60.0, "scaleInCooldown": 120,
                 "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}},
                {"policyName": "queue", "targetValue": 100.0, "customizedMetricSpecification": {
                    "metricName": "Backlog", "namespace": "App", "statistic": "Average",
                    "dimensions": [{"name": "Queue", "value": "jobs"}]}},
            ],
            "stepScalingPolicies": [{"policyName": "burst", "adjustmentType": "ChangeInCapacity", "cooldown": 60,
                "metricAggregationType": "Maximum",
                "stepAdjustments": [{"metricIntervalLowerBound": 0.0, "metricIntervalUpperBound": 10.0, "scalingAdjustment": 1},
                                    {"metricIntervalLowerBound": 10.0, "scalingAdjustment": 3}]}],
            "scheduledActions": [{"scheduledActionName": "night", "schedule": "cron(0 22 * * ? *)",
                "timezone": "Europe/Paris", "startTime": "2026-01-01T00:00:00+01:00",
                "scalableTargetAction": {"minCapacity": 0, "maxCapacity": 2}}],
        }))
        .expect("valid block")
    }

    #[test]
    fn resource_id_takes_the_cluster_name_from_an_arn() {
        assert_eq!(resource_id("prod", "web"), "service/prod/web");
        assert_eq!(
            resource_id("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "web"),
            "service/prod/web"
        );
    }

    #[test]
    fn requests_carry_the_spec() {
        let c = client();
        let d = spec();
        let reg = register_request(&c, "service/c/s", &d);
        let i = reg.as_input();
        assert_eq!(i.get_resource_id().as_deref(), Some("service/c/s"));
        assert_eq!(
            i.get_scalable_dimension(),
            &Some(aas::ScalableDimension::EcsServiceDesiredCount)
        );
        assert_eq!(
            (i.get_min_capacity(), i.get_max_capacity()),
            (&Some(1), &Some(10))
        );
        let s = i
            .get_suspended_state()
            .clone()
            .expect("suspended state sent whole");
        assert_eq!(
            (
                s.dynamic_scaling_in_suspended(),
                s.dynamic_scaling_out_suspended(),
                s.scheduled_scaling_suspended()
            ),
            (Some(false), Some(false), Some(true))
        );
        let tt = d.target_tracking_scaling_policies.clone().expect("set");
        let put = target_tracking_request(&c, "service/c/s", &tt[0]).expect("maps");
        let i = put.as_input();
        assert_eq!(
            i.get_policy_type(),
            &Some(aas::PolicyType::TargetTrackingScaling)
        );
        let cfg = i
            .get_target_tracking_scaling_policy_configuration()
            .clone()
            .expect("config");
        assert_eq!(cfg.target_value(), 60.0);
        assert_eq!(cfg.scale_in_cooldown(), Some(120));
        assert_eq!(
            cfg.predefined_metric_specification()
                .map(|m| m.predefined_metric_type().clone()),
            Some(aas::MetricType::EcsServiceAverageCpuUtilization)
        );
        // Round trip: what AWS reports back compares equal.
        assert_eq!(target_tracking_from_sdk("cpu", &cfg), tt[0]);
        let put = target_tracking_request(&c, "service/c/s", &tt[1]).expect("maps");
        let cfg = put
            .as_input()
            .get_target_tracking_scaling_policy_configuration()
            .clone()
            .expect("config");
        assert_eq!(target_tracking_from_sdk("queue", &cfg), tt[1]);
        let steps = d.step_scaling_policies.clone().expect("set");
        let put = step_request(&c, "service/c/s", &steps[0]).expect("maps");
        let cfg = put
            .as_input()
            .get_step_scaling_policy_configuration()
            .clone()
            .expect("config");
        assert_eq!(cfg.step_adjustments().len(), 2);
        assert_eq!(step_from_sdk("burst", &cfg), Some(steps[0].clone()));
        let actions = d.scheduled_actions.clone().expect("set");
        let put = scheduled_request(&c, "service/c/s", &actions[0]).expect("maps");
        let i = put.as_input();
        assert_eq!(i.get_timezone().as_deref(), Some("Europe/Paris"));
        assert_eq!(i.get_start_time().map(|t| t.secs()), Some(1_767_222_000));
        assert_eq!(
            i.get_scalable_target_action()
                .as_ref()
                .and_then(|a| a.max_capacity()),
            Some(2)
        );
        let bad = ScheduledAction {
            start_time: Some("tomorrow".into()),
            ..actions[0].clone()
        };
        assert!(scheduled_request(&c, "service/c/s", &bad).is_err());
    }

    #[test]
    fn diff_table() {
        let d = spec();
        let observed_all = ObservedScaling {
            resource_id: "service/c/s".into(),
            target: Some((
                1,
                10,
                SuspendedState {
                    scheduled_scaling_suspended: Some(true),
                    ..Default::default()
                },
            )),
            target_tracking: d
                .target_tracking_scaling_policies
                .iter()
                .flatten()
                .map(|p| {
                    // AWS fills in the cooldown the spec leaves out.
                    let mut p = p.clone();
                    p.scale_out_cooldown = Some(300);
                    (p.policy_name.clone(), p)
                })
                .collect(),
            step: d
                .step_scaling_policies
                .iter()
                .flatten()
                .map(|p| (p.policy_name.clone(), p.clone()))
                .collect(),
            scheduled: d
                .scheduled_actions
                .iter()
                .flatten()
                .map(|a| (a.scheduled_action_name.clone(), canonical_action(a)))
                .collect(),
            policies: ["burst", "cpu", "queue"]
                .iter()
                .map(|n| ScalingPolicyStatus {
                    policy_name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
        };
        assert_eq!(diff(Some(&d), &observed_all), vec![]);
        assert_eq!(
            diff(Some(&d), &ObservedScaling::default()),
            vec![
                ScalingChange::Register,
                ScalingChange::PutTargetTracking("cpu".into()),
                ScalingChange::PutTargetTracking("queue".into()),
                ScalingChange::PutStep("burst".into()),
                ScalingChange::PutScheduled("night".into()),
            ]
        );
        // Min/max or suspension changed; a policy and an action left the spec.
        let mut changed = d.clone();
        changed.max_capacity = 20;
        changed.suspended_state = None;
        changed.step_scaling_policies = None;
        changed.scheduled_actions = Some(vec![]);
        assert_eq!(
            diff(Some(&changed), &observed_all),
            vec![
                ScalingChange::Register,
                ScalingChange::DeletePolicy("burst".into()),
                ScalingChange::DeleteScheduled("night".into()),
            ]
        );
        // The block removed: everything goes, the target last.
        assert_eq!(
            diff(None, &observed_all),
            vec![
                ScalingChange::DeletePolicy("burst".into()),
                ScalingChange::DeletePolicy("cpu".into()),
                ScalingChange::DeletePolicy("queue".into()),
                ScalingChange::DeleteScheduled("night".into()),
                ScalingChange::Deregister,
            ]
        );
        assert_eq!(diff(None, &ObservedScaling::default()), vec![]);
    }
}

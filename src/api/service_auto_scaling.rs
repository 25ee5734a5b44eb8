//! `spec.autoScaling` of an EcsService: Application Auto Scaling for the service's task count.
//! Field names are the Application Auto Scaling API's (PascalCase, as that API spells them:
//! RegisterScalableTarget, PutScalingPolicy, PutScheduledAction), so AWS JSON can be pasted.
//! While the block is set, auto scaling owns `desiredCount`: the spec may not set it (and
//! `kubectl scale` is refused at admission).

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{aws_enum, list_map};

/// The service's scalable target (`ecs:service:DesiredCount`), its scaling policies and its
/// scheduled actions. Policies and scheduled actions this object created and that leave the
/// spec are deleted; ones created elsewhere are left alone. Removing the block deregisters the
/// scalable target (AWS deletes its policies and actions with it). Not for DAEMON services.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(validation = Rule::new("self.MinCapacity <= self.MaxCapacity").message("autoScaling: MinCapacity must not exceed MaxCapacity"))]
#[serde(rename_all = "PascalCase")]
pub struct AutoScaling {
    /// Lowest task count auto scaling may set. Also the task count a new service starts with.
    #[schemars(range(min = 0))]
    pub min_capacity: i32,
    /// Highest task count auto scaling may set.
    #[schemars(range(min = 0))]
    pub max_capacity: i32,
    /// IAM role Application Auto Scaling uses. Default: its service-linked role.
    #[serde(rename = "RoleARN")]
    pub role_arn: Option<String>,
    /// Suspends scale-in, scale-out or scheduled scaling. Default: nothing suspended.
    pub suspended_state: Option<SuspendedState>,
    /// Target-tracking and step scaling policies, by PolicyName.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["PolicyName"]))]
    pub scaling_policies: Option<Vec<ScalingPolicy>>,
    /// Scheduled capacity changes, by ScheduledActionName.
    #[schemars(length(max = 200))]
    #[schemars(transform = list_map(&["ScheduledActionName"]))]
    pub scheduled_actions: Option<Vec<ScheduledAction>>,
}

/// What auto scaling does not do while suspended.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SuspendedState {
    /// No scale-in by scaling policies.
    pub dynamic_scaling_in_suspended: Option<bool>,
    /// No scale-out by scaling policies.
    pub dynamic_scaling_out_suspended: Option<bool>,
    /// No scheduled actions.
    pub scheduled_scaling_suspended: Option<bool>,
}

aws_enum!(
    /// Scaling policy type.
    PolicyType { TargetTrackingScaling = "TargetTrackingScaling", StepScaling = "StepScaling" }
);

/// A scaling policy (PutScalingPolicy). Exactly the configuration of its PolicyType is set.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self.PolicyType == 'TargetTrackingScaling' ? (has(self.TargetTrackingScalingPolicyConfiguration) && !has(self.StepScalingPolicyConfiguration)) : (has(self.StepScalingPolicyConfiguration) && !has(self.TargetTrackingScalingPolicyConfiguration))").message("scaling policy: PolicyType TargetTrackingScaling needs TargetTrackingScalingPolicyConfiguration, StepScaling needs StepScalingPolicyConfiguration (and not the other)"))]
#[serde(rename_all = "PascalCase")]
pub struct ScalingPolicy {
    /// Name of the policy, unique per service.
    #[schemars(length(min = 1, max = 256))]
    pub policy_name: String,
    /// TargetTrackingScaling or StepScaling.
    pub policy_type: PolicyType,
    /// With PolicyType TargetTrackingScaling.
    pub target_tracking_scaling_policy_configuration: Option<TargetTracking>,
    /// With PolicyType StepScaling (its CloudWatch alarm is created elsewhere).
    pub step_scaling_policy_configuration: Option<StepScaling>,
}

/// Keeps a metric at a target value.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("has(self.PredefinedMetricSpecification) != has(self.CustomizedMetricSpecification)").message("target tracking: set exactly one of PredefinedMetricSpecification or CustomizedMetricSpecification"))]
#[serde(rename_all = "PascalCase")]
pub struct TargetTracking {
    /// The metric value to keep.
    pub target_value: f64,
    /// An ECS metric AWS defines.
    pub predefined_metric_specification: Option<PredefinedMetric>,
    /// A CloudWatch metric of your own.
    pub customized_metric_specification: Option<CustomizedMetric>,
    /// Seconds after a scale-out before another.
    pub scale_out_cooldown: Option<i32>,
    /// Seconds after a scale-in before another.
    pub scale_in_cooldown: Option<i32>,
    /// Never scale in. Default false.
    pub disable_scale_in: Option<bool>,
}

aws_enum!(
    /// Predefined ECS service metric.
    PredefinedMetricType {
        EcsServiceAverageCpuUtilization = "ECSServiceAverageCPUUtilization",
        EcsServiceAverageMemoryUtilization = "ECSServiceAverageMemoryUtilization",
        AlbRequestCountPerTarget = "ALBRequestCountPerTarget",
    }
);

/// A predefined metric.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(validation = Rule::new("self.PredefinedMetricType != 'ALBRequestCountPerTarget' || has(self.ResourceLabel)").message("ALBRequestCountPerTarget needs ResourceLabel (app/<load-balancer>/<id>/targetgroup/<target-group>/<id>)"))]
#[serde(rename_all = "PascalCase")]
pub struct PredefinedMetric {
    /// ECSServiceAverageCPUUtilization, ECSServiceAverageMemoryUtilization or
    /// ALBRequestCountPerTarget.
    pub predefined_metric_type: PredefinedMetricType,
    /// With ALBRequestCountPerTarget: the load balancer and target group.
    pub resource_label: Option<String>,
}

aws_enum!(
    /// CloudWatch statistic.
    MetricStatistic {
        Average = "Average",
        Minimum = "Minimum",
        Maximum = "Maximum",
        SampleCount = "SampleCount",
        Sum = "Sum",
    }
);

/// A CloudWatch metric (the single-metric form).
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CustomizedMetric {
    /// Metric name.
    pub metric_name: String,
    /// Metric namespace.
    pub namespace: String,
    /// Metric dimensions.
    #[schemars(transform = list_map(&["Name"]))]
    pub dimensions: Option<Vec<MetricDimension>>,
    /// Statistic.
    pub statistic: MetricStatistic,
    /// Unit.
    pub unit: Option<String>,
}

/// A metric dimension.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDimension {
    pub name: String,
    pub value: String,
}

aws_enum!(
    /// How a step adjustment changes the capacity.
    AdjustmentType {
        ChangeInCapacity = "ChangeInCapacity",
        PercentChangeInCapacity = "PercentChangeInCapacity",
        ExactCapacity = "ExactCapacity",
    }
);

aws_enum!(
    /// How the alarm's data points are aggregated.
    MetricAggregationType { Average = "Average", Minimum = "Minimum", Maximum = "Maximum" }
);

/// Scales by steps when an alarm fires.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StepScaling {
    /// ChangeInCapacity, PercentChangeInCapacity or ExactCapacity.
    pub adjustment_type: AdjustmentType,
    /// The steps, by metric interval relative to the alarm threshold.
    #[schemars(length(min = 1))]
    pub step_adjustments: Vec<StepAdjustment>,
    /// With PercentChangeInCapacity: the smallest change in tasks.
    pub min_adjustment_magnitude: Option<i32>,
    /// Seconds after a scaling activity before another.
    pub cooldown: Option<i32>,
    /// Average, Minimum or Maximum. Default Average.
    pub metric_aggregation_type: Option<MetricAggregationType>,
}

/// One step.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StepAdjustment {
    /// Lower bound (inclusive) of the metric's distance from the threshold; unset: -infinity.
    pub metric_interval_lower_bound: Option<f64>,
    /// Upper bound (exclusive); unset: +infinity.
    pub metric_interval_upper_bound: Option<f64>,
    /// Tasks (or percent) to add; negative removes.
    pub scaling_adjustment: i32,
}

/// A scheduled capacity change (PutScheduledAction).
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(validation = Rule::new("self.Schedule.startsWith('at(') || self.Schedule.startsWith('rate(') || self.Schedule.startsWith('cron(')").message("scheduled action: Schedule is at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(fields)"))]
#[serde(rename_all = "PascalCase")]
pub struct ScheduledAction {
    /// Name of the action, unique per service.
    #[schemars(length(min = 1, max = 256))]
    pub scheduled_action_name: String,
    /// `at(...)`, `rate(...)` or `cron(...)`.
    pub schedule: String,
    /// Time zone of the schedule (IANA name, e.g. Europe/Berlin). Default UTC.
    pub timezone: Option<String>,
    /// When the action starts to apply (RFC 3339).
    pub start_time: Option<String>,
    /// When the action stops applying (RFC 3339).
    pub end_time: Option<String>,
    /// The capacity bounds set when the action runs.
    pub scalable_target_action: ScalableTargetAction,
}

/// New bounds of the scalable target.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ScalableTargetAction {
    pub min_capacity: Option<i32>,
    pub max_capacity: Option<i32>,
}

/// Auto scaling as AWS reports it.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingStatus {
    /// The scalable target's bounds.
    pub min_capacity: Option<i32>,
    pub max_capacity: Option<i32>,
    /// Scaling policies on the target (the ones this object manages are marked).
    #[serde(default)]
    pub policies: Vec<ScalingPolicyStatus>,
    /// Names of the scheduled actions this object manages.
    #[serde(default)]
    pub scheduled_actions: Vec<String>,
}

/// One scaling policy.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingPolicyStatus {
    pub policy_name: String,
    #[serde(rename = "policyARN")]
    pub policy_arn: Option<String>,
    /// CloudWatch alarms of the policy (target tracking creates its own).
    #[serde(default)]
    pub alarms: Vec<String>,
    /// The spec declares it (so the operator deletes it when it leaves the spec).
    #[serde(default)]
    pub managed: bool,
}

//! `EcsSchedule`: an EventBridge Scheduler schedule that runs an ECS task definition on a cron,
//! rate or one-time (`at(...)`) expression. Schedule fields are the CreateSchedule request's
//! (camelCased, as the Kubernetes API spells them); the ECS target takes the same RunTask
//! parameters as an EcsTask (`cluster` or `clusterRef`, `taskDefinition` or `taskDefinitionRef`,
//! `count`, `launchType`, `networkConfiguration`, `overrides`, ...). A kind, not a field of
//! EcsTask: a schedule is a long-lived resource that is updated in place, an EcsTask is one
//! immutable run.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{Condition, LocalReference, aws_enum, conditions_schema, list_map};
use super::ecs_shapes::{
    CapacityProviderStrategyItem, LaunchType, NetworkConfiguration, PlacementConstraint,
    PlacementStrategy, PropagateTags,
};
use super::ecs_task::TaskOverride;
use super::task_definition::Tag;

/// A schedule that runs an ECS task definition through EventBridge Scheduler.
// Every printcolumn repeats `type_`, which clippy reads as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ecs.operator.dev",
    version = "v1alpha1",
    kind = "EcsSchedule",
    namespaced,
    status = "EcsScheduleStatus",
    shortname = "ecssched",
    category = "ecs",
    doc = "An EventBridge Scheduler schedule running an ECS task, managed by ecs-operator.",
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.scheduleExpression"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Synced",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("!has(oldSelf.spec) || (has(self.spec.name) ? self.spec.name : self.metadata.name) == (has(oldSelf.spec.name) ? oldSelf.spec.name : oldSelf.metadata.name)").message("schedule-name-immutable: spec.name (default metadata.name) is immutable: a schedule cannot be renamed; create a new EcsSchedule instead"),
)]
#[x_kube(validation = Rule::new("!(has(self.cluster) && has(self.clusterRef))").message("cluster-or-clusterRef: set at most one of cluster or clusterRef (neither: the default cluster)"))]
#[x_kube(validation = Rule::new("has(self.taskDefinition) != has(self.taskDefinitionRef)").message("taskDefinition-or-taskDefinitionRef: set exactly one of taskDefinition or taskDefinitionRef"))]
#[x_kube(validation = Rule::new("!(has(self.launchType) && has(self.capacityProviderStrategy))").message("launchType-or-capacityProviderStrategy: launchType and capacityProviderStrategy are mutually exclusive"))]
#[x_kube(validation = Rule::new("(has(self.groupName) ? self.groupName : 'default') == (has(oldSelf.groupName) ? oldSelf.groupName : 'default')").message("groupName-immutable: a schedule cannot move between groups; create a new EcsSchedule instead"))]
#[serde(rename_all = "camelCase")]
pub struct EcsScheduleSpec {
    /// deletionPolicy, adoptionPolicy, managementPolicy and region (see `kubectl explain`).
    #[serde(flatten)]
    pub policies: super::common::Policies,

    /// Schedule name, unique within its group. Defaults to metadata.name. Immutable.
    #[schemars(regex(pattern = r"^[0-9a-zA-Z-_.]{1,64}$"))]
    pub name: Option<String>,

    /// Schedule group. Default `default`. Immutable.
    #[schemars(regex(pattern = r"^[0-9a-zA-Z-_.]{1,64}$"))]
    pub group_name: Option<String>,

    /// `rate(5 minutes)`, `cron(0 3 * * ? *)` or `at(2026-12-24T18:00:00)`.
    #[schemars(length(min = 1, max = 256))]
    pub schedule_expression: String,

    /// Time zone of the expression (IANA name, e.g. `Europe/Berlin`). AWS default UTC.
    #[schemars(length(min = 1, max = 50))]
    pub schedule_expression_timezone: Option<String>,

    /// First time the schedule can run (RFC 3339).
    pub start_date: Option<String>,

    /// Last time the schedule can run (RFC 3339).
    pub end_date: Option<String>,

    /// Description.
    #[schemars(length(max = 512))]
    pub description: Option<String>,

    /// ENABLED (AWS default) or DISABLED.
    pub state: Option<ScheduleState>,

    /// Flexible time window: `{mode: "OFF"}` runs on time; `{mode: FLEXIBLE,
    /// maximumWindowInMinutes: 15}` spreads invocations over the window.
    pub flexible_time_window: FlexibleTimeWindow,

    /// KMS key that encrypts the target's input.
    pub kms_key_arn: Option<String>,

    /// NONE (default) or DELETE: whether AWS deletes a one-time schedule after it ran.
    pub action_after_completion: Option<ActionAfterCompletion>,

    /// IAM role EventBridge Scheduler assumes to call RunTask (needs ecs:RunTask and
    /// iam:PassRole for the task's roles).
    #[schemars(length(min = 1, max = 1600))]
    pub role_arn: String,

    /// Retries of a failed invocation. AWS default: 185 attempts within 86400 seconds.
    pub retry_policy: Option<RetryPolicy>,

    /// SQS queue for invocations that failed for good.
    pub dead_letter_config: Option<DeadLetterConfig>,

    /// Cluster name or ARN the tasks run in (the target). At most one of cluster / clusterRef;
    /// neither: the `default` cluster.
    #[schemars(length(min = 1, max = 2048))]
    pub cluster: Option<String>,

    /// Kubernetes-side: an EcsCluster in the same namespace (its ARN once Ready).
    pub cluster_ref: Option<LocalReference>,

    /// Task definition as `family`, `family:revision` or ARN; resolved to the exact revision ARN
    /// (a `family` follows its latest ACTIVE revision).
    #[schemars(length(min = 1, max = 2048))]
    pub task_definition: Option<String>,

    /// Kubernetes-side: a TaskDefinition in the same namespace; its current revision runs.
    pub task_definition_ref: Option<LocalReference>,

    /// Tasks per invocation (1-10). AWS default 1.
    #[schemars(range(min = 1, max = 10))]
    pub count: Option<i32>,

    /// EC2, FARGATE or EXTERNAL. Mutually exclusive with capacityProviderStrategy.
    pub launch_type: Option<LaunchType>,

    /// Capacity providers to place the tasks on.
    #[schemars(length(max = 6))]
    #[schemars(transform = list_map(&["capacityProvider"]))]
    pub capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,

    /// Fargate platform version.
    #[schemars(length(min = 1, max = 64))]
    pub platform_version: Option<String>,

    /// Network configuration; required for awsvpc task definitions.
    pub network_configuration: Option<NetworkConfiguration>,

    /// RunTask overrides of every run (sent as the target's input).
    pub overrides: Option<TaskOverride>,

    /// Placement constraints (EC2).
    #[schemars(length(max = 10))]
    pub placement_constraints: Option<Vec<PlacementConstraint>>,

    /// Placement strategy rules (EC2).
    #[schemars(length(max = 5))]
    pub placement_strategy: Option<Vec<PlacementStrategy>>,

    /// Task group of the runs.
    #[schemars(length(min = 1, max = 255))]
    pub group: Option<String>,

    /// Reference ID of the runs.
    #[schemars(length(max = 1024))]
    pub reference_id: Option<String>,

    /// Copy tags to the tasks from TASK_DEFINITION.
    pub propagate_tags: Option<PropagateTags>,

    /// Add ECS-managed tags to the tasks.
    #[serde(
        rename = "enableECSManagedTags",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ecs_managed_tags: Option<bool>,

    /// Allow ECS Exec into the tasks.
    pub enable_execute_command: Option<bool>,

    /// Tags of the tasks each run starts (`key`/`value`). Schedules themselves carry no tags in
    /// EventBridge Scheduler (only groups do); see the README for how ownership is decided.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["key"]))]
    pub tags: Option<Vec<Tag>>,
}

/// Flexible time window of a schedule.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlexibleTimeWindow {
    /// OFF or FLEXIBLE.
    #[schemars(schema_with = "window_mode_schema")]
    pub mode: FlexibleTimeWindowMode,
    /// Window in minutes (1-1440), with FLEXIBLE.
    #[schemars(range(min = 1, max = 1440))]
    pub maximum_window_in_minutes: Option<i32>,
}

/// `mode` as a pattern, not an enum: the CRD is written as YAML, where an unquoted `OFF` in an
/// enum list reads back as the boolean false (YAML 1.1, as kubectl and Helm read it).
fn window_mode_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": "^(OFF|FLEXIBLE)$",
        "description": "OFF or FLEXIBLE.",
    })
}

/// Retries of a failed invocation.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Seconds an invocation is retried for (60-86400).
    #[schemars(range(min = 60, max = 86400))]
    pub maximum_event_age_in_seconds: Option<i32>,
    /// Retry attempts (0-185).
    #[schemars(range(min = 0, max = 185))]
    pub maximum_retry_attempts: Option<i32>,
}

/// Dead-letter queue.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct DeadLetterConfig {
    /// ARN of the SQS queue.
    pub arn: String,
}

aws_enum!(
    /// Whether a schedule runs.
    ScheduleState { Enabled = "ENABLED", Disabled = "DISABLED" }
);

aws_enum!(
    /// Flexible time window mode.
    FlexibleTimeWindowMode { Off = "OFF", Flexible = "FLEXIBLE" }
);

// `aws_enum!` owns the derives, so the default is written out.
#[allow(clippy::derivable_impls)]
impl Default for FlexibleTimeWindowMode {
    fn default() -> Self {
        Self::Off
    }
}

aws_enum!(
    /// What AWS does with a one-time schedule after it ran.
    ActionAfterCompletion { None = "NONE", Delete = "DELETE" }
);

/// Observed state of the schedule.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcsScheduleStatus {
    /// The metadata.generation the status was computed for.
    pub observed_generation: Option<i64>,
    /// The `ecs.operator.dev/refresh` annotation value last honoured (one reconcile that read
    /// AWS afresh); a different value asks again.
    pub last_refreshed: Option<String>,
    /// Ready and Synced conditions.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Schedule ARN.
    pub arn: Option<String>,
    /// ENABLED or DISABLED, as AWS reports it.
    pub state: Option<String>,
    /// Schedule group.
    pub group_name: Option<String>,
    /// The task definition revision ARN the schedule runs.
    pub task_definition_arn: Option<String>,
    /// The cluster ARN the schedule targets.
    pub cluster_arn: Option<String>,
    /// When the schedule was created (RFC 3339).
    pub creation_date: Option<String>,
    /// When the schedule was last changed (RFC 3339).
    pub last_modification_date: Option<String>,
}

//! `EcsTask`: one run of an ECS task definition (RunTask), like a Kubernetes Job. Spec fields are
//! the RunTask request's, so `aws ecs run-task` JSON can be pasted; `clusterRef` and
//! `taskDefinitionRef` are Kubernetes-side alternatives to `cluster` and `taskDefinition`.
//! Everything RunTask reads is immutable once the object exists (CEL transition rules); only the
//! policies, `backoffLimit` and `ttlSecondsAfterFinished` may change.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{Condition, LocalReference, conditions_schema, list_map};
use super::ecs_service::ServiceVolumeConfiguration;
use super::ecs_shapes::{
    CapacityProviderStrategyItem, LaunchType, NetworkConfiguration, PlacementConstraint,
    PlacementStrategy, PropagateTags,
};
use super::task_definition::{EnvironmentFile, KeyValuePair, ResourceRequirement, Tag};

/// Condition type: the run finished and every essential container exited 0 (as a Job's).
pub const COMPLETE: &str = "Complete";
/// Condition type: the run finished otherwise and no retry is left (as a Job's).
pub const FAILED: &str = "Failed";

/// The RunTask fields (AWS names) that may never change: a started run is what it is.
pub const IMMUTABLE_FIELDS: &[&str] = &[
    "cluster",
    "clusterRef",
    "taskDefinition",
    "taskDefinitionRef",
    "count",
    "launchType",
    "capacityProviderStrategy",
    "platformVersion",
    "networkConfiguration",
    "overrides",
    "placementConstraints",
    "placementStrategy",
    "group",
    "startedBy",
    "referenceId",
    "propagateTags",
    "enableECSManagedTags",
    "enableExecuteCommand",
    "volumeConfigurations",
    "tags",
];

/// One run of an ECS task definition. Field names and nesting follow the ECS RunTask request.
/// The run starts once; `backoffLimit` retries a failed run as new tasks.
// Every printcolumn repeats `type_`, which clippy reads as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ecs.operator.dev",
    version = "v1alpha1",
    kind = "EcsTask",
    namespaced,
    status = "EcsTaskStatus",
    shortname = "ecstask",
    category = "ecs",
    doc = "One run of an Amazon ECS task (RunTask), managed by ecs-operator like a Job.",
    selectable = ".status.phase",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Exit", type_ = "integer", json_path = ".status.exitCode"),
    printcolumn(name = "Started", type_ = "date", json_path = ".status.startedAt"),
    printcolumn(name = "Duration", type_ = "string", json_path = ".status.duration"),
    printcolumn(
        name = "Attempts",
        type_ = "integer",
        priority = 1,
        json_path = ".status.attempts"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("!(has(self.cluster) && has(self.clusterRef))").message("cluster-or-clusterRef: set at most one of cluster or clusterRef (neither: the default cluster)"))]
#[x_kube(validation = Rule::new("has(self.taskDefinition) != has(self.taskDefinitionRef)").message("taskDefinition-or-taskDefinitionRef: set exactly one of taskDefinition or taskDefinitionRef"))]
#[x_kube(validation = Rule::new("!(has(self.launchType) && has(self.capacityProviderStrategy))").message("launchType-or-capacityProviderStrategy: launchType and capacityProviderStrategy are mutually exclusive"))]
#[x_kube(validation = Rule::new("has(self.cluster) == has(oldSelf.cluster) && has(self.clusterRef) == has(oldSelf.clusterRef) && has(self.taskDefinition) == has(oldSelf.taskDefinition) && has(self.taskDefinitionRef) == has(oldSelf.taskDefinitionRef) && has(self.count) == has(oldSelf.count) && has(self.launchType) == has(oldSelf.launchType) && has(self.capacityProviderStrategy) == has(oldSelf.capacityProviderStrategy) && has(self.platformVersion) == has(oldSelf.platformVersion) && has(self.networkConfiguration) == has(oldSelf.networkConfiguration) && has(self.overrides) == has(oldSelf.overrides) && has(self.placementConstraints) == has(oldSelf.placementConstraints) && has(self.placementStrategy) == has(oldSelf.placementStrategy) && has(self.group) == has(oldSelf.group) && has(self.startedBy) == has(oldSelf.startedBy) && has(self.referenceId) == has(oldSelf.referenceId) && has(self.propagateTags) == has(oldSelf.propagateTags) && has(self.enableECSManagedTags) == has(oldSelf.enableECSManagedTags) && has(self.enableExecuteCommand) == has(oldSelf.enableExecuteCommand) && has(self.volumeConfigurations) == has(oldSelf.volumeConfigurations) && has(self.tags) == has(oldSelf.tags)").message("run-immutable: the RunTask fields of an EcsTask are immutable (only the policies, backoffLimit and ttlSecondsAfterFinished may change); create a new EcsTask for another run"))]
#[serde(rename_all = "camelCase")]
pub struct EcsTaskSpec {
    /// deletionPolicy, adoptionPolicy, managementPolicy and region (see `kubectl explain`).
    /// `deletionPolicy: Retain` leaves a running task running when the object is deleted.
    #[serde(flatten)]
    pub policies: super::common::Policies,

    /// Cluster name or ARN. At most one of cluster / clusterRef; neither runs in the `default`
    /// cluster. Immutable.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: cluster is immutable"))]
    pub cluster: Option<String>,

    /// Kubernetes-side: an EcsCluster in the same namespace (its ARN once Ready). Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: clusterRef is immutable"))]
    pub cluster_ref: Option<LocalReference>,

    /// Task definition as `family`, `family:revision` or full ARN. Resolved to the exact
    /// revision ARN when the run starts (recorded in `status.taskDefinitionArn`). Exactly one of
    /// taskDefinition / taskDefinitionRef. Immutable.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: taskDefinition is immutable"))]
    pub task_definition: Option<String>,

    /// Kubernetes-side: a TaskDefinition in the same namespace; the revision that is current
    /// (Ready) when the run starts is the one that runs. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: taskDefinitionRef is immutable"))]
    pub task_definition_ref: Option<LocalReference>,

    /// Number of tasks to start (1-10). AWS default 1. Immutable.
    #[schemars(range(min = 1, max = 10))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: count is immutable"))]
    pub count: Option<i32>,

    /// EC2, FARGATE, EXTERNAL or MANAGED_INSTANCES. Mutually exclusive with
    /// capacityProviderStrategy; neither uses the cluster's default strategy. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: launchType is immutable"))]
    pub launch_type: Option<LaunchType>,

    /// Capacity providers to place the tasks on. Immutable.
    #[schemars(length(max = 20))]
    #[schemars(transform = list_map(&["capacityProvider"]))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: capacityProviderStrategy is immutable"))]
    pub capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,

    /// Fargate platform version, e.g. `1.4.0`. AWS default LATEST. Immutable.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: platformVersion is immutable"))]
    pub platform_version: Option<String>,

    /// Network configuration; required for task definitions using awsvpc (Fargate). Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: networkConfiguration is immutable"))]
    pub network_configuration: Option<NetworkConfiguration>,

    /// Per-run changes to the task definition: container command, environment, cpu/memory,
    /// roles, ephemeral storage. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: overrides is immutable"))]
    pub overrides: Option<TaskOverride>,

    /// Placement constraints (EC2 / EXTERNAL). Immutable.
    #[schemars(length(max = 10))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: placementConstraints is immutable"))]
    pub placement_constraints: Option<Vec<PlacementConstraint>>,

    /// Placement strategy rules, evaluated in order (EC2 / EXTERNAL). Immutable.
    #[schemars(length(max = 5))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: placementStrategy is immutable"))]
    pub placement_strategy: Option<Vec<PlacementStrategy>>,

    /// Task group name. AWS default `family:<task definition family>`. Immutable.
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: group is immutable"))]
    pub group: Option<String>,

    /// Free-form `startedBy` of the tasks (ListTasks can filter by it). Immutable.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: startedBy is immutable"))]
    pub started_by: Option<String>,

    /// Reference ID of the tasks (e.g. a batch job id). Immutable.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: referenceId is immutable"))]
    pub reference_id: Option<String>,

    /// Copy tags to the tasks from TASK_DEFINITION. AWS default: none copied. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: propagateTags is immutable"))]
    pub propagate_tags: Option<PropagateTags>,

    /// Add ECS-managed tags (cluster name) to the tasks. AWS default false. Immutable.
    #[serde(
        rename = "enableECSManagedTags",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: enableECSManagedTags is immutable"))]
    pub enable_ecs_managed_tags: Option<bool>,

    /// Allow ECS Exec into the tasks. AWS default false. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: enableExecuteCommand is immutable"))]
    pub enable_execute_command: Option<bool>,

    /// Volumes configured at launch (Amazon EBS), one per `configuredAtLaunch` task volume.
    /// Immutable.
    #[schemars(length(max = 1))]
    #[schemars(transform = list_map(&["name"]))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: volumeConfigurations is immutable"))]
    pub volume_configurations: Option<Vec<ServiceVolumeConfiguration>>,

    /// Tags of the tasks, spelled `key`/`value` as the ECS API does. The operator adds its
    /// ownership tags and `ecs.operator.dev/attempt`. Immutable.
    #[schemars(length(max = 45))]
    #[schemars(transform = list_map(&["key"]))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("run-immutable: tags is immutable"))]
    pub tags: Option<Vec<Tag>>,

    /// Kubernetes-side: how many times a failed run is retried, each retry as new tasks (a new
    /// attempt, with its own client token). Default 0: one attempt.
    #[schemars(range(min = 0, max = 100))]
    pub backoff_limit: Option<i32>,

    /// Kubernetes-side: seconds after the run finished (succeeded, or failed with no retry left)
    /// when the object is deleted (as a Job's). Unset: kept.
    #[schemars(range(min = 0))]
    pub ttl_seconds_after_finished: Option<i64>,
}

/// Per-run changes to the task definition (RunTask `overrides`).
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskOverride {
    /// Changes per container, by name.
    #[schemars(transform = list_map(&["name"]))]
    pub container_overrides: Option<Vec<ContainerOverride>>,
    /// Task CPU units (e.g. `256`, `1 vCPU`).
    pub cpu: Option<String>,
    /// Task memory (e.g. `512`, `1 GB`).
    pub memory: Option<String>,
    /// Execution role ARN for this run.
    pub execution_role_arn: Option<String>,
    /// Task role ARN for this run.
    pub task_role_arn: Option<String>,
    /// Fargate ephemeral storage.
    pub ephemeral_storage: Option<EphemeralStorage>,
}

/// Changes to one container of the task definition.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerOverride {
    /// Container name in the task definition.
    pub name: String,
    /// Replaces the container's command.
    pub command: Option<Vec<String>>,
    /// Environment variables added to (or replacing) the container's.
    #[schemars(transform = list_map(&["name"]))]
    pub environment: Option<Vec<KeyValuePair>>,
    /// Environment files (S3) added to the container's.
    pub environment_files: Option<Vec<EnvironmentFile>>,
    /// CPU units.
    pub cpu: Option<i32>,
    /// Hard memory limit (MiB).
    pub memory: Option<i32>,
    /// Soft memory limit (MiB).
    pub memory_reservation: Option<i32>,
    /// GPU / accelerator requirements.
    pub resource_requirements: Option<Vec<ResourceRequirement>>,
}

/// Fargate ephemeral storage size.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct EphemeralStorage {
    /// Size in GiB (21-200).
    #[serde(rename = "sizeInGiB")]
    #[schemars(range(min = 21, max = 200))]
    pub size_in_gib: i32,
}

/// Observed state of the run.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcsTaskStatus {
    /// The metadata.generation the status was computed for.
    pub observed_generation: Option<i64>,
    /// The `ecs.operator.dev/refresh` annotation value last honoured (one reconcile that read
    /// AWS afresh); a different value asks again.
    pub last_refreshed: Option<String>,
    /// Ready, Synced, Complete and Failed conditions.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Running, Succeeded or Failed (of the latest attempt; Failed with attempts left retries).
    pub phase: Option<String>,
    /// Attempts started so far (1 + retries).
    pub attempts: Option<i32>,
    /// The task definition revision ARN the run uses, resolved when it started.
    pub task_definition_arn: Option<String>,
    /// Cluster the tasks run in (name or ARN, as resolved when the run started).
    pub cluster: Option<String>,
    /// Essential containers of the revision: their exit codes decide success.
    pub essential_containers: Option<Vec<String>>,
    /// Task ARNs of the latest attempt.
    pub task_arns: Option<Vec<String>>,
    /// The latest attempt's tasks, as DescribeTasks reported them last.
    pub tasks: Option<Vec<TaskState>>,
    /// Exit code of the first essential container of the first task (once it exited).
    pub exit_code: Option<i32>,
    /// When the first task of the latest attempt started (RFC 3339).
    pub started_at: Option<String>,
    /// When the last task of the latest attempt stopped (RFC 3339).
    pub stopped_at: Option<String>,
    /// stoppedAt - startedAt of the latest attempt, once it stopped (e.g. `1m5s`).
    pub duration: Option<String>,
    /// When the run finished for good (succeeded, or failed with no retry left); the TTL counts
    /// from here.
    pub completion_time: Option<String>,
}

/// One task as DescribeTasks reports it.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskState {
    /// Task ARN.
    pub task_arn: String,
    /// PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING or
    /// STOPPED.
    pub last_status: Option<String>,
    /// RUNNING or STOPPED.
    pub desired_status: Option<String>,
    /// When the task started (RFC 3339).
    pub started_at: Option<String>,
    /// When the task stopped (RFC 3339).
    pub stopped_at: Option<String>,
    /// TaskFailedToStart, EssentialContainerExited, UserInitiated, ServiceSchedulerInitiated,
    /// SpotInterruption, TerminationNotice.
    pub stop_code: Option<String>,
    /// Why the task stopped, in AWS's words.
    pub stopped_reason: Option<String>,
    /// The task's containers.
    #[serde(default)]
    pub containers: Vec<ContainerState>,
}

/// One container of a task.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// Container name.
    pub name: Option<String>,
    /// PENDING, RUNNING or STOPPED.
    pub last_status: Option<String>,
    /// Exit code, once the container exited.
    pub exit_code: Option<i32>,
    /// Why the container stopped (e.g. OutOfMemoryError), in AWS's words.
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn every_run_field_is_immutable() {
        let crd = serde_json::to_value(EcsTask::crd()).expect("CRD serialises");
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let presence = spec["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["rule"].as_str())
            .find(|r| r.contains("has(self.cluster) == has(oldSelf.cluster)"))
            .unwrap_or_default();
        for field in IMMUTABLE_FIELDS {
            let rules = &spec["properties"][field]["x-kubernetes-validations"];
            assert!(
                rules
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r["rule"] == "self == oldSelf")),
                "{field}: {rules}"
            );
            assert!(
                presence.contains(&format!("has(self.{field}) == has(oldSelf.{field})")),
                "{field} may be added or removed"
            );
        }
        let props = spec["properties"].as_object().expect("spec properties");
        let mutable = ["backoffLimit", "ttlSecondsAfterFinished"];
        let policies = [
            "deletionPolicy",
            "adoptionPolicy",
            "managementPolicy",
            "region",
        ];
        for name in props.keys() {
            assert!(
                IMMUTABLE_FIELDS.contains(&name.as_str())
                    || mutable.contains(&name.as_str())
                    || policies.contains(&name.as_str()),
                "{name}: neither immutable nor named as mutable"
            );
        }
    }
}

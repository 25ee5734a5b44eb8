//! EcsService's status: what the operator observed of the service, its deployments, the
//! deployment in flight and the actions taken on it. Written by the operator only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{Condition, conditions_schema};

/// Observed state of an ECS service.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcsServiceStatus {
    /// The metadata.generation the status was computed for.
    pub observed_generation: Option<i64>,
    /// The `ecs.operator.dev/refresh` annotation value last honoured (one reconcile that read
    /// AWS afresh); a different value asks again.
    pub last_refreshed: Option<String>,
    /// Ready and Synced conditions.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Service ARN.
    pub arn: Option<String>,
    /// ARN of the cluster the service runs in.
    pub cluster_arn: Option<String>,
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: Option<String>,
    /// Desired task count, as ECS reports it.
    pub desired_count: Option<i32>,
    /// Running tasks.
    pub running_count: Option<i32>,
    /// Pending tasks.
    pub pending_count: Option<i32>,
    /// Task definition ARN the service deploys.
    pub task_definition: Option<String>,
    /// Rollout state of the PRIMARY deployment: IN_PROGRESS, COMPLETED or FAILED.
    pub rollout_state: Option<String>,
    /// Why the PRIMARY deployment is in its rollout state.
    pub rollout_state_reason: Option<String>,
    /// Deployments (PRIMARY first, then ACTIVE ones being replaced).
    #[serde(default)]
    pub deployments: Vec<DeploymentStatus>,
    /// Latest service events (at most 5), newest first.
    #[serde(default)]
    pub events: Vec<ServiceEventStatus>,
    /// The value of the restart annotation last acted on.
    pub restarted_at: Option<String>,
    /// The last deployment the circuit breaker failed, while it still applies: its task
    /// definition is not deployed again until the spec or the restart annotation changes.
    pub failed_rollout: Option<FailedRollout>,
    /// Label selector of the scale subresource (HPA and KEDA require one); see [`scale_selector`].
    pub selector: Option<String>,
    /// Application Auto Scaling of the service, when spec.autoScaling is (or was) set.
    pub auto_scaling: Option<super::service_auto_scaling::AutoScalingStatus>,
    /// The service deployment in flight (ListServiceDeployments / DescribeServiceDeployments,
    /// read only while a rollout is in progress); absent when none is.
    pub service_deployment: Option<ServiceDeploymentStatus>,
    /// The last `ecs.operator.dev/deployment-action` value acted on, and what was done.
    pub deployment_action: Option<DeploymentActionRecord>,
    /// The service's gateway routes (ListGatewayRoutes / DescribeGatewayRoute), when it has
    /// gatewayConnectors; only those through the gatewayRef's gateway when it has one.
    pub gateway_routes: Option<Vec<GatewayRouteStatus>>,
    /// The URL of the first ACTIVE gateway route.
    pub gateway_url: Option<String>,
}

/// One gateway route of the service.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRouteStatus {
    /// Gateway route ARN.
    pub gateway_route_arn: String,
    /// ARN of the gateway the route goes through.
    pub gateway_arn: Option<String>,
    /// The container port name (the connector's portName) the route targets.
    pub port_name: Option<String>,
    /// ACTIVE, CREATE_IN_PROGRESS, UPDATE_IN_PROGRESS, DELETE_IN_PROGRESS or a *_FAILED.
    pub status: Option<String>,
    /// The route's URL (`https://...`).
    pub service_url: Option<String>,
}

/// The service deployment in flight, as DescribeServiceDeployments reports it.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDeploymentStatus {
    /// Service deployment ARN.
    pub arn: String,
    /// PENDING, IN_PROGRESS, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS, ...
    pub status: Option<String>,
    /// ROLLING, BLUE_GREEN, LINEAR or CANARY.
    pub strategy: Option<String>,
    /// The lifecycle stage it is in (PRE_SCALE_UP, TEST_TRAFFIC_SHIFT, BAKE_TIME, ...).
    pub lifecycle_stage: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// The lifecycle hook it waits at, when it waits for an action.
    pub paused: Option<PausedHook>,
}

/// A lifecycle hook waiting for ContinueServiceDeployment.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PausedHook {
    /// The hook's ID (ContinueServiceDeployment's hookId).
    pub hook_id: String,
    /// PAUSE or AWS_LAMBDA.
    pub target_type: Option<String>,
    /// The lifecycle stage it waits in.
    pub lifecycle_stage: Option<String>,
    /// When the operator first saw it waiting (RFC 3339).
    pub since: Option<String>,
    /// When ECS takes the timeout action (RFC 3339).
    pub expires_at: Option<String>,
    /// CONTINUE or ROLLBACK on timeout.
    pub timeout_action: Option<String>,
    /// How to continue or roll back with kubectl.
    pub message: String,
}

/// A deployment action the operator acted on.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentActionRecord {
    /// The annotation's value, as set (e.g. `continue@2024-01-01T00:00:00Z`).
    pub value: String,
    /// continue or rollback; empty for a value that is neither.
    #[serde(default)]
    pub action: String,
    /// The service deployment acted on; absent when there was nothing to act on.
    pub deployment_arn: Option<String>,
    /// The lifecycle hook acted on.
    pub hook_id: Option<String>,
    /// The AWS call made (e.g. `ContinueServiceDeployment CONTINUE`); absent when none was.
    pub call: Option<String>,
    /// What happened.
    #[serde(default)]
    pub message: String,
    /// When (RFC 3339).
    pub at: Option<String>,
}

/// A deployment that failed (circuit breaker), as the operator remembers it.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedRollout {
    /// ID of the failed deployment.
    pub deployment_id: String,
    /// Task definition ARN of the failed deployment.
    pub task_definition: String,
    /// AWS's reason (the deployment's rolloutStateReason).
    #[serde(default)]
    pub reason: String,
    /// metadata.generation when the failure was seen.
    pub generation: i64,
    /// The restart annotation's value when the failure was seen.
    pub restart: Option<String>,
    /// Task definition ARN the service ran when the failure was seen (after a rollback, the
    /// previous revision).
    pub running_task_definition: Option<String>,
}

/// One deployment of the service.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    /// Deployment ID.
    pub id: Option<String>,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: Option<String>,
    /// Task definition ARN.
    pub task_definition: Option<String>,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub rollout_state: Option<String>,
    /// Why the deployment is in its rollout state.
    pub rollout_state_reason: Option<String>,
    /// Desired tasks.
    #[serde(default)]
    pub desired_count: i32,
    /// Running tasks.
    #[serde(default)]
    pub running_count: i32,
    /// Pending tasks.
    #[serde(default)]
    pub pending_count: i32,
    /// Tasks that failed to start.
    #[serde(default)]
    pub failed_tasks: i32,
    /// Creation time (RFC 3339).
    pub created_at: Option<String>,
    /// Last update time (RFC 3339).
    pub updated_at: Option<String>,
}

/// A service event.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEventStatus {
    /// Event ID.
    pub id: Option<String>,
    /// When it happened (RFC 3339).
    pub created_at: Option<String>,
    /// What happened.
    pub message: Option<String>,
}

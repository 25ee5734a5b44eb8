//! `EcsService`: an Amazon ECS service. Spec fields are the CreateService request's, so
//! `aws ecs create-service` JSON can be pasted; `clusterRef` and `taskDefinitionRef` are
//! Kubernetes-side alternatives to `cluster` and `taskDefinition`.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

pub use super::common::AwsEnum;
use super::common::{aws_enum, free_form_object, list_map, list_set};
pub use super::ecs_service_status::*;
pub use super::ecs_shapes::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, LaunchType,
    NetworkConfiguration, PlacementConstraint, PlacementConstraintType, PlacementStrategy,
    PlacementStrategyType, PropagateTags,
};
pub use super::task_definition::{LogConfiguration, Tag};

/// Annotation that requests a restart (a new deployment of the same configuration), like
/// `kubectl rollout restart`: set it to a new value (e.g. the current time) and the operator
/// calls UpdateService with forceNewDeployment once, then records the value in
/// `status.restartedAt`.
pub const RESTART_ANNOTATION: &str = "ecs.operator.dev/restartedAt";

/// Annotation that acts once on the service deployment in flight: `continue` (a deployment
/// waiting at a lifecycle hook goes on) or `rollback` (it is rolled back). Any suffix after `@`
/// (`continue@2024-01-01T00:00:00Z`) makes a new request; a value is acted on once, and recorded
/// in `status.deploymentAction`.
pub const DEPLOYMENT_ACTION_ANNOTATION: &str = "ecs.operator.dev/deployment-action";

/// Desired state of an ECS service. Field names and nesting follow the ECS CreateService request.
/// The spec is the whole truth, except `desiredCount`: leave it unset to let Application Auto
/// Scaling (or `kubectl scale`) own the task count.
// Every printcolumn repeats `type_`, which clippy reads as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ecs.operator.dev",
    version = "v1alpha1",
    kind = "EcsService",
    namespaced,
    status = "EcsServiceStatus",
    shortname = "ecssvc",
    shortname = "ecss",
    category = "ecs",
    doc = "An Amazon ECS service managed by ecs-operator.",
    selectable = ".spec.cluster",
    selectable = ".spec.clusterRef.name",
    scale(
        spec_replicas_path = ".spec.desiredCount",
        status_replicas_path = ".status.runningCount",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".status.desiredCount"),
    printcolumn(name = "Running", type_ = "integer", json_path = ".status.runningCount"),
    printcolumn(name = "Pending", type_ = "integer", json_path = ".status.pendingCount"),
    printcolumn(name = "Rollout", type_ = "string", json_path = ".status.rolloutState"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "Min", type_ = "integer", priority = 1, json_path = ".status.autoScaling.minCapacity"),
    printcolumn(name = "Max", type_ = "integer", priority = 1, json_path = ".status.autoScaling.maxCapacity"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    validation = Rule::new("!has(oldSelf.spec) || (has(self.spec.serviceName) ? self.spec.serviceName : self.metadata.name) == (has(oldSelf.spec.serviceName) ? oldSelf.spec.serviceName : oldSelf.metadata.name)").message("service-name-immutable: spec.serviceName (default metadata.name) is immutable: ECS cannot rename a service; create a new EcsService instead"),
)]
#[x_kube(validation = Rule::new("has(self.cluster) != has(self.clusterRef)").message("cluster-or-clusterRef: set exactly one of cluster or clusterRef"))]
#[x_kube(validation = Rule::new("!(has(self.taskDefinition) && has(self.taskDefinitionRef)) && (has(self.taskDefinition) || has(self.taskDefinitionRef) || (has(self.deploymentController) && self.deploymentController.type == 'EXTERNAL'))").message("taskDefinition-or-taskDefinitionRef: set exactly one of taskDefinition or taskDefinitionRef (neither only with deploymentController EXTERNAL)"))]
#[x_kube(validation = Rule::new("has(self.cluster) == has(oldSelf.cluster) && (!has(self.cluster) || self.cluster == oldSelf.cluster) && has(self.clusterRef) == has(oldSelf.clusterRef) && (!has(self.clusterRef) || self.clusterRef.name == oldSelf.clusterRef.name)").message("cluster-immutable: cluster/clusterRef is immutable: a service cannot move between clusters; create a new EcsService instead"))]
#[x_kube(validation = Rule::new("has(self.launchType) == has(oldSelf.launchType) && (!has(self.launchType) || self.launchType == oldSelf.launchType)").message("launchType-immutable: launchType is immutable (UpdateService cannot change it); use capacityProviderStrategy, or create a new EcsService"))]
#[x_kube(validation = Rule::new("(has(self.schedulingStrategy) ? self.schedulingStrategy : 'REPLICA') == (has(oldSelf.schedulingStrategy) ? oldSelf.schedulingStrategy : 'REPLICA')").message("schedulingStrategy-immutable: schedulingStrategy is immutable; create a new EcsService instead"))]
#[x_kube(validation = Rule::new("!(has(self.launchType) && has(self.capacityProviderStrategy))").message("launchType-or-capacityProviderStrategy: launchType and capacityProviderStrategy are mutually exclusive"))]
#[x_kube(validation = Rule::new("!has(self.schedulingStrategy) || self.schedulingStrategy != 'DAEMON' || !(has(self.desiredCount) || has(self.capacityProviderStrategy) || has(self.placementStrategy))").message("daemon-fields: schedulingStrategy DAEMON runs one task per instance: desiredCount, capacityProviderStrategy and placementStrategy are not allowed"))]
#[x_kube(validation = Rule::new("!has(self.schedulingStrategy) || self.schedulingStrategy != 'DAEMON' || ((!has(self.launchType) || self.launchType != 'FARGATE') && (!has(self.deploymentController) || self.deploymentController.type == 'ECS'))").message("daemon-launch: schedulingStrategy DAEMON is not supported with launchType FARGATE or the CODE_DEPLOY / EXTERNAL deployment controllers"))]
#[x_kube(validation = Rule::new("!has(self.autoScaling) || !has(self.schedulingStrategy) || self.schedulingStrategy != 'DAEMON'").message("autoScaling-daemon: a DAEMON service runs one task per instance; Application Auto Scaling cannot scale it"))]
#[x_kube(validation = Rule::new("!(has(self.autoScaling) && has(self.desiredCount))").message("autoScaling-owns-desiredCount: spec.autoScaling is set, so Application Auto Scaling owns the task count: desiredCount cannot be set (kubectl scale / HPA are refused); change autoScaling.MinCapacity / MaxCapacity instead, or remove autoScaling"))]
#[x_kube(validation = Rule::new("!has(self.gatewayRef) || has(self.gatewayConnectors)").message("gatewayRef-needs-gatewayConnectors: gatewayRef names the gateway whose route status.gatewayUrl shows; the route comes from a gatewayConnectors entry (its portName), so set one"))]
#[serde(rename_all = "camelCase")]
pub struct EcsServiceSpec {
    /// deletionPolicy, adoptionPolicy, managementPolicy and region (see `kubectl explain`).
    #[serde(flatten)]
    pub policies: super::common::Policies,

    /// Name of the service, unique within the cluster. Defaults to metadata.name. Immutable.
    #[schemars(regex(pattern = r"^[a-zA-Z][a-zA-Z0-9_-]{0,254}$"))]
    pub service_name: Option<String>,

    /// Cluster name or ARN. Exactly one of cluster / clusterRef. Immutable.
    #[schemars(length(min = 1, max = 2048))]
    pub cluster: Option<String>,

    /// Kubernetes-side: an EcsCluster in the same namespace. Exactly one of cluster / clusterRef.
    /// Immutable.
    pub cluster_ref: Option<ClusterReference>,

    /// Task definition as `family`, `family:revision` or full ARN. `family` alone means the
    /// latest ACTIVE revision at the time of the change. Exactly one of taskDefinition /
    /// taskDefinitionRef (neither only with the EXTERNAL deployment controller).
    #[schemars(length(min = 1, max = 2048))]
    pub task_definition: Option<String>,

    /// Kubernetes-side: a TaskDefinition in the same namespace; its current revision is deployed.
    pub task_definition_ref: Option<TaskDefinitionReference>,

    /// Number of tasks to keep running. Unset: not managed by the operator (Application Auto
    /// Scaling or `kubectl scale` owns it; created with AWS's default 1 for REPLICA). Not allowed
    /// with DAEMON.
    #[schemars(range(min = 0))]
    pub desired_count: Option<i32>,

    /// Application Auto Scaling for the task count (not a CreateService field; its fields are
    /// the Application Auto Scaling API's). While set, auto scaling owns the count:
    /// `desiredCount` may not be set and `kubectl scale` is refused.
    pub auto_scaling: Option<super::service_auto_scaling::AutoScaling>,

    /// EC2, FARGATE, EXTERNAL or MANAGED_INSTANCES. Mutually exclusive with
    /// capacityProviderStrategy; unset with neither uses the cluster's default capacity provider
    /// strategy. Immutable.
    pub launch_type: Option<LaunchType>,

    /// Capacity providers to spread tasks over. At most one item may set a base.
    #[schemars(length(max = 20))]
    #[x_kube(validation = Rule::new("self.filter(i, has(i.base) && i.base > 0).size() <= 1").message("capacity-provider-base: only one capacity provider may set a base"))]
    #[schemars(transform = list_map(&["capacityProvider"]))]
    pub capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,

    /// Fargate platform version, e.g. `1.4.0`. AWS default LATEST.
    #[schemars(length(min = 1, max = 64))]
    pub platform_version: Option<String>,

    /// IAM role for a classic load balancer (only when not using awsvpc and no service-linked role).
    pub role: Option<String>,

    /// Deployment parameters: healthy percentages, circuit breaker, alarms, strategy.
    pub deployment_configuration: Option<DeploymentConfiguration>,

    /// Placement constraints (EC2 / EXTERNAL).
    #[schemars(length(max = 10))]
    pub placement_constraints: Option<Vec<PlacementConstraint>>,

    /// Placement strategy rules, evaluated in order (EC2 / EXTERNAL).
    #[schemars(length(max = 5))]
    pub placement_strategy: Option<Vec<PlacementStrategy>>,

    /// Network configuration; required for task definitions using awsvpc.
    pub network_configuration: Option<NetworkConfiguration>,

    /// Seconds to ignore failing load balancer / container health checks after a task starts.
    #[schemars(range(min = 0, max = 2147483647))]
    pub health_check_grace_period_seconds: Option<i32>,

    /// REPLICA (default) or DAEMON. Immutable.
    pub scheduling_strategy: Option<SchedulingStrategy>,

    /// Deployment controller: ECS (default), CODE_DEPLOY or EXTERNAL.
    pub deployment_controller: Option<DeploymentController>,

    /// Load balancers (target groups) to register tasks with.
    #[schemars(length(max = 5))]
    pub load_balancers: Option<Vec<LoadBalancer>>,

    /// Cloud Map service discovery registries (AWS allows one).
    #[schemars(length(max = 1))]
    pub service_registries: Option<Vec<ServiceRegistry>>,

    /// Service Connect configuration.
    pub service_connect_configuration: Option<ServiceConnectConfiguration>,

    /// Allow ECS Exec into the tasks. AWS default false.
    pub enable_execute_command: Option<bool>,

    /// Copy tags to tasks from TASK_DEFINITION or SERVICE. AWS default NONE.
    pub propagate_tags: Option<PropagateTags>,

    /// Add ECS-managed tags (cluster and service name) to tasks. AWS default false.
    #[serde(
        rename = "enableECSManagedTags",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ecs_managed_tags: Option<bool>,

    /// Rebalance tasks across Availability Zones: ENABLED or DISABLED.
    pub availability_zone_rebalancing: Option<AvailabilityZoneRebalancing>,

    /// Volumes configured at launch (Amazon EBS), one per `configuredAtLaunch` task volume.
    #[schemars(length(max = 1))]
    #[schemars(transform = list_map(&["name"]))]
    pub volume_configurations: Option<Vec<ServiceVolumeConfiguration>>,

    /// VPC Lattice target groups to register tasks with.
    #[schemars(length(max = 5))]
    #[schemars(transform = list_map(&["targetGroupArn"]))]
    pub vpc_lattice_configurations: Option<Vec<VpcLatticeConfiguration>>,

    /// Gateway connectors. Not returned by DescribeServices: sent on create and with every
    /// UpdateService, but a change alone does not trigger an update.
    #[schemars(length(max = 10))]
    pub gateway_connectors: Option<Vec<GatewayConnector>>,

    /// Kubernetes-side, not sent to AWS: an EcsGateway in this namespace. A connector names no
    /// gateway (the service gets a route on every gateway associated with its cluster), so
    /// gatewayRef makes the service wait until that gateway is Ready, and `status.gatewayUrl`
    /// shows the route through it. Needs gatewayConnectors.
    pub gateway_ref: Option<super::common::LocalReference>,

    /// Metric monitoring configuration. Not returned by DescribeServices (see gatewayConnectors).
    pub monitoring: Option<MonitoringConfiguration>,

    /// Tags, spelled `key`/`value` as the ECS API does. The list is complete: tags missing here
    /// are removed from the service.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["key"]))]
    pub tags: Option<Vec<Tag>>,
}

/// A reference to an EcsCluster in the same namespace.
pub type ClusterReference = super::common::LocalReference;

/// A reference to a TaskDefinition in the same namespace.
pub type TaskDefinitionReference = super::common::LocalReference;

/// Deployment parameters.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(validation = Rule::new("!has(self.maximumPercent) || !has(self.minimumHealthyPercent) || self.maximumPercent >= self.minimumHealthyPercent").message("deployment-percent: maximumPercent must be at least minimumHealthyPercent"))]
#[x_kube(validation = Rule::new("!has(self.linearConfiguration) || (has(self.strategy) && self.strategy == 'LINEAR')").message("linear-configuration: linearConfiguration requires strategy LINEAR"))]
#[x_kube(validation = Rule::new("!has(self.canaryConfiguration) || (has(self.strategy) && self.strategy == 'CANARY')").message("canary-configuration: canaryConfiguration requires strategy CANARY"))]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfiguration {
    /// Circuit breaker: stop (and optionally roll back) a deployment whose tasks keep failing.
    pub deployment_circuit_breaker: Option<DeploymentCircuitBreaker>,
    /// Upper limit of running tasks during a deployment, percent of desiredCount. AWS default 200.
    #[schemars(range(min = 0, max = 2000))]
    pub maximum_percent: Option<i32>,
    /// Lower limit of healthy tasks during a deployment, percent of desiredCount. AWS default 100.
    #[schemars(range(min = 0, max = 100))]
    pub minimum_healthy_percent: Option<i32>,
    /// CloudWatch alarms that fail (and optionally roll back) a deployment.
    pub alarms: Option<DeploymentAlarms>,
    /// ROLLING (default), BLUE_GREEN, LINEAR or CANARY.
    pub strategy: Option<DeploymentStrategy>,
    /// Minutes both revisions run after production traffic shifts (blue/green, linear, canary).
    #[schemars(range(min = 0, max = 1440))]
    pub bake_time_in_minutes: Option<i32>,
    /// Lifecycle hooks invoked at deployment stages.
    #[schemars(length(max = 10))]
    pub lifecycle_hooks: Option<Vec<DeploymentLifecycleHook>>,
    /// Traffic steps for the LINEAR strategy.
    pub linear_configuration: Option<LinearConfiguration>,
    /// Canary step for the CANARY strategy.
    pub canary_configuration: Option<CanaryConfiguration>,
    /// Finish a deployment early once enough new tasks are healthy.
    pub early_success_criteria: Option<DeploymentEarlySuccessCriteria>,
}

/// Deployment circuit breaker.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentCircuitBreaker {
    /// Turn the circuit breaker on.
    pub enable: bool,
    /// Roll back to the last COMPLETED deployment when the breaker trips.
    pub rollback: bool,
    /// Reset the failure count when a task becomes healthy.
    pub reset_on_healthy_task: Option<bool>,
    /// Failure threshold.
    pub threshold_configuration: Option<ThresholdConfiguration>,
}

/// Circuit breaker failure threshold.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ThresholdConfiguration {
    /// COUNT, BOUNDED_PERCENT or UNBOUNDED_PERCENT.
    #[serde(rename = "type")]
    pub type_: ThresholdType,
    /// Threshold value.
    #[schemars(range(min = 0))]
    pub value: i32,
}

/// CloudWatch alarms watched during a deployment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentAlarms {
    /// Alarm names.
    #[schemars(length(max = 10))]
    #[schemars(transform = list_set)]
    pub alarm_names: Vec<String>,
    /// Watch the alarms.
    pub enable: bool,
    /// Roll back when an alarm fires.
    pub rollback: bool,
}

/// A deployment lifecycle hook.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentLifecycleHook {
    /// AWS_LAMBDA or PAUSE.
    pub target_type: Option<DeploymentLifecycleHookTargetType>,
    /// Lambda function ARN (AWS_LAMBDA).
    pub hook_target_arn: Option<String>,
    /// IAM role ECS uses to invoke the hook.
    pub role_arn: Option<String>,
    /// Stages at which the hook runs.
    #[schemars(length(max = 8))]
    #[schemars(transform = list_set)]
    pub lifecycle_stages: Option<Vec<DeploymentLifecycleHookStage>>,
    /// Free-form details passed to the hook.
    #[serde(default)]
    #[schemars(schema_with = "free_form_object")]
    pub hook_details: Option<serde_json::Value>,
    /// How long to wait for the hook, and what to do on timeout.
    pub timeout_configuration: Option<DeploymentLifecycleHookTimeoutConfiguration>,
}

/// Timeout of a lifecycle hook.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentLifecycleHookTimeoutConfiguration {
    /// Minutes to wait.
    #[schemars(range(min = 1))]
    pub timeout_in_minutes: Option<i32>,
    /// CONTINUE or ROLLBACK on timeout.
    pub action: Option<DeploymentLifecycleHookAction>,
}

/// LINEAR strategy steps.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinearConfiguration {
    /// Percent of traffic shifted per step.
    #[schemars(range(min = 3.0, max = 100.0))]
    pub step_percent: Option<f64>,
    /// Minutes between steps.
    #[schemars(range(min = 0, max = 1440))]
    pub step_bake_time_in_minutes: Option<i32>,
}

/// CANARY strategy step.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryConfiguration {
    /// Percent of traffic shifted to the canary.
    #[schemars(range(min = 0.1, max = 100.0))]
    pub canary_percent: Option<f64>,
    /// Minutes before the rest of the traffic shifts.
    #[schemars(range(min = 0, max = 1440))]
    pub canary_bake_time_in_minutes: Option<i32>,
}

/// Early success criteria of a deployment.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentEarlySuccessCriteria {
    /// Turn early success on.
    pub enable: bool,
    /// Percent of healthy new tasks that completes the deployment.
    #[schemars(range(min = 0, max = 100))]
    pub healthy_percent: Option<i32>,
    /// BLOCKING or DEFERRED clean-up of the old revision.
    pub source_service_revision_cleanup: Option<ServiceRevisionCleanup>,
}

/// Deployment controller.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct DeploymentController {
    /// ECS, CODE_DEPLOY or EXTERNAL.
    #[serde(rename = "type")]
    pub type_: DeploymentControllerType,
}

/// A load balancer target.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    /// Target group ARN (ALB / NLB).
    pub target_group_arn: Option<String>,
    /// Classic load balancer name.
    pub load_balancer_name: Option<String>,
    /// Container to register.
    pub container_name: Option<String>,
    /// Container port to register.
    #[schemars(range(min = 0, max = 65535))]
    pub container_port: Option<i32>,
    /// Blue/green: alternate target group and listener rules.
    pub advanced_configuration: Option<AdvancedConfiguration>,
}

/// Blue/green load balancer settings.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedConfiguration {
    /// Alternate target group ARN.
    pub alternate_target_group_arn: Option<String>,
    /// Production listener rule ARN.
    pub production_listener_rule: Option<String>,
    /// Test listener rule ARN.
    pub test_listener_rule: Option<String>,
    /// IAM role ECS uses to modify the load balancer.
    pub role_arn: Option<String>,
}

/// A Cloud Map service registry.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRegistry {
    /// Cloud Map service ARN.
    pub registry_arn: Option<String>,
    /// Port for SRV records.
    #[schemars(range(min = 0, max = 65535))]
    pub port: Option<i32>,
    /// Container for SRV records.
    pub container_name: Option<String>,
    /// Container port for SRV records.
    #[schemars(range(min = 0, max = 65535))]
    pub container_port: Option<i32>,
}

/// Service Connect configuration.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnectConfiguration {
    /// Turn Service Connect on.
    pub enabled: bool,
    /// Cloud Map namespace name or ARN. Default: the cluster's Service Connect namespace.
    pub namespace: Option<String>,
    /// Endpoints this service publishes.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["portName"]))]
    pub services: Option<Vec<ServiceConnectService>>,
    /// Log configuration of the Service Connect proxy.
    pub log_configuration: Option<LogConfiguration>,
    /// Access logs of the Service Connect proxy.
    pub access_log_configuration: Option<ServiceConnectAccessLogConfiguration>,
    /// Proxy container settings (exactly one member each).
    #[schemars(length(max = 10))]
    pub container_configurations: Option<Vec<ServiceConnectContainerConfiguration>>,
}

/// A Service Connect endpoint.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnectService {
    /// portMappings name in the task definition.
    #[schemars(length(min = 1))]
    pub port_name: String,
    /// Cloud Map service name. Default portName.
    pub discovery_name: Option<String>,
    /// Names and ports clients use.
    pub client_aliases: Option<Vec<ServiceConnectClientAlias>>,
    /// Port the proxy listens on, when not the container port.
    #[schemars(range(min = 0, max = 65535))]
    pub ingress_port_override: Option<i32>,
    /// Timeouts.
    pub timeout: Option<TimeoutConfiguration>,
    /// TLS settings.
    pub tls: Option<ServiceConnectTlsConfiguration>,
}

/// A client alias of a Service Connect endpoint.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnectClientAlias {
    /// Listening port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// DNS name clients use. Default `discoveryName.namespace`.
    pub dns_name: Option<String>,
    /// Test traffic routing for blue/green deployments.
    pub test_traffic_rules: Option<ServiceConnectTestTrafficRules>,
}

/// Test traffic routing rules.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ServiceConnectTestTrafficRules {
    /// Route requests carrying this header to the new revision.
    pub header: Option<ServiceConnectTestTrafficHeaderRules>,
}

/// Header match of test traffic.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ServiceConnectTestTrafficHeaderRules {
    /// Header name.
    pub name: String,
    /// Header value match.
    pub value: Option<ServiceConnectTestTrafficHeaderMatchRules>,
}

/// Header value match.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ServiceConnectTestTrafficHeaderMatchRules {
    /// Exact value.
    pub exact: String,
}

/// Service Connect timeouts.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeoutConfiguration {
    /// Idle timeout in seconds.
    #[schemars(range(min = 0))]
    pub idle_timeout_seconds: Option<i32>,
    /// Per-request timeout in seconds.
    #[schemars(range(min = 0))]
    pub per_request_timeout_seconds: Option<i32>,
}

/// Service Connect TLS.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnectTlsConfiguration {
    /// Private certificate authority issuing the certificates.
    pub issuer_certificate_authority: Option<ServiceConnectTlsCertificateAuthority>,
    /// KMS key for the private keys.
    pub kms_key: Option<String>,
    /// IAM role for the TLS infrastructure.
    pub role_arn: Option<String>,
}

/// Certificate authority of Service Connect TLS.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnectTlsCertificateAuthority {
    /// AWS Private CA ARN.
    pub aws_pca_authority_arn: Option<String>,
}

/// Service Connect access logs.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnectAccessLogConfiguration {
    /// TEXT or JSON.
    pub format: ServiceConnectAccessLoggingFormat,
    /// ENABLED or DISABLED.
    pub include_query_parameters: Option<ServiceConnectIncludeQueryParameters>,
}

/// A Service Connect proxy setting.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnectContainerConfiguration {
    /// Proxy log level: debug or info (default).
    pub log_level: Option<ServiceConnectContainerLogLevel>,
}

/// A volume configured at launch.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ServiceVolumeConfiguration {
    /// Name of the task definition volume (configuredAtLaunch).
    pub name: String,
    /// Amazon EBS volume created for each task.
    #[serde(
        rename = "managedEBSVolume",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub managed_ebs_volume: Option<ServiceManagedEbsVolumeConfiguration>,
}

/// Amazon EBS volume created for each task.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceManagedEbsVolumeConfiguration {
    /// Encrypt the volume.
    pub encrypted: Option<bool>,
    /// KMS key for encryption.
    pub kms_key_id: Option<String>,
    /// EBS volume type: gp2, gp3 (default), io1, io2, st1, sc1, standard.
    pub volume_type: Option<String>,
    /// Size in GiB.
    #[serde(rename = "sizeInGiB", default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub size_in_gib: Option<i32>,
    /// Snapshot to create the volume from.
    pub snapshot_id: Option<String>,
    /// Snapshot hydration rate in MiB/s.
    pub volume_initialization_rate: Option<i32>,
    /// Provisioned IOPS.
    pub iops: Option<i32>,
    /// Throughput in MiB/s (gp3).
    pub throughput: Option<i32>,
    /// Tags applied to the volumes.
    #[schemars(transform = list_map(&["resourceType"]))]
    pub tag_specifications: Option<Vec<EbsTagSpecification>>,
    /// Infrastructure IAM role ECS uses to manage the volumes.
    pub role_arn: String,
    /// ext3, ext4 (default), xfs or ntfs.
    pub filesystem_type: Option<TaskFilesystemType>,
}

/// Tags of a managed EBS volume.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EbsTagSpecification {
    /// volume.
    pub resource_type: EbsResourceType,
    /// Tags.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["key"]))]
    pub tags: Option<Vec<Tag>>,
    /// Copy tags from TASK_DEFINITION or SERVICE.
    pub propagate_tags: Option<PropagateTags>,
}

/// A VPC Lattice target group.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpcLatticeConfiguration {
    /// Infrastructure IAM role.
    pub role_arn: String,
    /// VPC Lattice target group ARN.
    pub target_group_arn: String,
    /// portMappings name in the task definition.
    pub port_name: String,
    /// Blue/green settings.
    pub advanced_configuration: Option<VpcLatticeAdvancedConfiguration>,
}

/// Blue/green settings of a VPC Lattice target.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpcLatticeAdvancedConfiguration {
    /// Alternate target group ARN.
    pub alternate_target_group_arn: Option<String>,
    /// Production listener rule ARN.
    pub production_listener_rule: Option<String>,
    /// Test listener rule ARN.
    pub test_listener_rule: Option<String>,
}

/// A gateway connector.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConnector {
    /// portMappings name in the task definition.
    pub port_name: String,
    /// Health check of the targets.
    pub health_check: Option<GatewayConnectorHealthCheck>,
    /// Access filters.
    pub filters: Option<GatewayConnectorFilters>,
}

/// Gateway connector health check.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConnectorHealthCheck {
    /// HTTP or HTTPS.
    pub health_check_protocol: Option<GatewayConnectorHealthCheckProtocol>,
    /// Port.
    pub health_check_port: Option<i32>,
    /// Path.
    pub health_check_path: Option<String>,
    /// Timeout in seconds.
    pub health_check_timeout_seconds: Option<i32>,
    /// Interval in seconds.
    pub health_check_interval_seconds: Option<i32>,
    /// Successes before healthy.
    pub healthy_threshold_count: Option<i32>,
    /// Failures before unhealthy.
    pub unhealthy_threshold_count: Option<i32>,
    /// Expected response codes.
    pub matcher: Option<GatewayConnectorHealthCheckMatcher>,
}

/// Expected health check response codes.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConnectorHealthCheckMatcher {
    /// HTTP codes, e.g. `200-299`.
    pub http_code: Option<String>,
    /// gRPC codes.
    pub grpc_code: Option<String>,
}

/// Gateway connector access filters.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConnectorFilters {
    /// PUBLIC and/or PRIVATE.
    #[schemars(transform = list_set)]
    pub access_types: Option<Vec<AccessType>>,
}

/// Metric monitoring configuration.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringConfiguration {
    /// Metric sets.
    pub metric_configurations: Option<Vec<MetricConfiguration>>,
}

/// A metric set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricConfiguration {
    /// Metric names.
    #[schemars(transform = list_set)]
    pub metric_names: Vec<String>,
    /// Resolution in seconds.
    pub resolution_seconds: i32,
}

aws_enum!(
    /// Scheduling strategy.
    SchedulingStrategy { Replica = "REPLICA", Daemon = "DAEMON" }
);
aws_enum!(
    /// Deployment controller type.
    DeploymentControllerType { Ecs = "ECS", CodeDeploy = "CODE_DEPLOY", External = "EXTERNAL" }
);
aws_enum!(
    /// Availability Zone rebalancing.
    AvailabilityZoneRebalancing { Enabled = "ENABLED", Disabled = "DISABLED" }
);
aws_enum!(
    /// Deployment strategy.
    DeploymentStrategy {
        Rolling = "ROLLING",
        BlueGreen = "BLUE_GREEN",
        Linear = "LINEAR",
        Canary = "CANARY",
    }
);
aws_enum!(
    /// Circuit breaker threshold type.
    ThresholdType {
        Count = "COUNT",
        BoundedPercent = "BOUNDED_PERCENT",
        UnboundedPercent = "UNBOUNDED_PERCENT",
    }
);
aws_enum!(
    /// Clean-up of the previous service revision.
    ServiceRevisionCleanup { Blocking = "BLOCKING", Deferred = "DEFERRED" }
);
aws_enum!(
    /// Lifecycle hook target type.
    DeploymentLifecycleHookTargetType { AwsLambda = "AWS_LAMBDA", Pause = "PAUSE" }
);
aws_enum!(
    /// Lifecycle hook stage.
    DeploymentLifecycleHookStage {
        ReconcileService = "RECONCILE_SERVICE",
        PreScaleUp = "PRE_SCALE_UP",
        PostScaleUp = "POST_SCALE_UP",
        TestTrafficShift = "TEST_TRAFFIC_SHIFT",
        PostTestTrafficShift = "POST_TEST_TRAFFIC_SHIFT",
        PreProductionTrafficShift = "PRE_PRODUCTION_TRAFFIC_SHIFT",
        ProductionTrafficShift = "PRODUCTION_TRAFFIC_SHIFT",
        PostProductionTrafficShift = "POST_PRODUCTION_TRAFFIC_SHIFT",
    }
);
aws_enum!(
    /// Lifecycle hook timeout action.
    DeploymentLifecycleHookAction { Continue = "CONTINUE", Rollback = "ROLLBACK" }
);
aws_enum!(
    /// File system of a managed EBS volume.
    TaskFilesystemType { Ext3 = "ext3", Ext4 = "ext4", Xfs = "xfs", Ntfs = "ntfs" }
);
aws_enum!(
    /// EBS tag resource type.
    EbsResourceType { Volume = "volume" }
);
aws_enum!(
    /// Service Connect access log format.
    ServiceConnectAccessLoggingFormat { Text = "TEXT", Json = "JSON" }
);
aws_enum!(
    /// Include query parameters in access logs.
    ServiceConnectIncludeQueryParameters { Enabled = "ENABLED", Disabled = "DISABLED" }
);
aws_enum!(
    /// Service Connect proxy log level.
    ServiceConnectContainerLogLevel { Debug = "debug", Info = "info" }
);
aws_enum!(
    /// Gateway connector health check protocol.
    GatewayConnectorHealthCheckProtocol { Http = "HTTP", Https = "HTTPS" }
);
aws_enum!(
    /// Gateway connector access type.
    AccessType { Public = "PUBLIC", Private = "PRIVATE" }
);

/// The scale subresource's selector for the object `name`: `ecs.operator.dev/service=<name>`.
/// No pod carries it (ECS tasks are not pods); it only has to parse and be stable. A label value
/// holds at most 63 characters, so longer names keep a prefix and a hash of the whole name.
pub fn scale_selector(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let value = if name.len() <= 63 {
        name.to_string()
    } else {
        let digest = Sha256::digest(name.as_bytes());
        let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        let prefix: String = name.chars().take(54).collect();
        format!("{}-{hash}", prefix.trim_end_matches(['-', '.']))
    };
    format!("ecs.operator.dev/service={value}")
}

impl EcsService {
    /// The AWS service name: spec.serviceName, else metadata.name.
    pub fn service_name(&self) -> String {
        self.spec
            .service_name
            .clone()
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }

    /// The restart annotation's value, when set.
    pub fn restart_requested(&self) -> Option<&str> {
        kube::ResourceExt::annotations(self)
            .get(RESTART_ANNOTATION)
            .map(String::as_str)
    }

    /// The deployment action annotation's value, when set and not blank.
    pub fn deployment_action_requested(&self) -> Option<&str> {
        kube::ResourceExt::annotations(self)
            .get(DEPLOYMENT_ACTION_ANNOTATION)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn scale_selector_table() {
        let long = "a".repeat(70);
        let cases = [
            ("web", "ecs.operator.dev/service=web".to_string()),
            ("api.v2", "ecs.operator.dev/service=api.v2".to_string()),
            (
                &long[..63],
                format!("ecs.operator.dev/service={}", &long[..63]),
            ),
        ];
        for (name, want) in cases {
            assert_eq!(scale_selector(name), want, "{name}");
        }
        // Longer than a label value allows: a prefix and a hash, still distinct and stable.
        let a = scale_selector(&long);
        let b = scale_selector(&format!("{long}b"));
        let value = a.trim_start_matches("ecs.operator.dev/service=");
        assert!(value.len() <= 63, "{value}");
        assert!(value.starts_with(&long[..54]), "{value}");
        assert_ne!(a, b);
        assert_eq!(a, scale_selector(&long));
    }

    #[test]
    fn crd_has_scale_categories_columns_and_rules() {
        let crd = EcsService::crd();
        assert_eq!(crd.spec.names.kind, "EcsService");
        assert_eq!(
            crd.spec.names.short_names,
            Some(vec!["ecssvc".to_string(), "ecss".to_string()])
        );
        assert_eq!(crd.spec.names.categories, Some(vec!["ecs".to_string()]));
        let v = serde_json::to_value(&crd).expect("CRD serialises");
        let version = &v["spec"]["versions"][0];
        assert_eq!(
            version["subresources"]["scale"],
            serde_json::json!({
                "specReplicasPath": ".spec.desiredCount",
                "statusReplicasPath": ".status.runningCount",
                "labelSelectorPath": ".status.selector"
            })
        );
        assert!(version["subresources"]["status"].is_object());
        let columns: Vec<String> = crd.spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| format!("{}:{}", c.name, c.json_path))
            .collect();
        assert_eq!(
            columns[..5],
            [
                "Desired:.status.desiredCount",
                "Running:.status.runningCount",
                "Pending:.status.pendingCount",
                "Rollout:.status.rolloutState",
                "Ready:.status.conditions[?(@.type==\"Ready\")].status",
            ]
        );
        let text = v.to_string();
        for needle in [
            "service-name-immutable:",
            "cluster-or-clusterRef:",
            "taskDefinition-or-taskDefinitionRef:",
            "cluster-immutable:",
            "launchType-immutable:",
            "schedulingStrategy-immutable:",
            "launchType-or-capacityProviderStrategy:",
            "daemon-fields:",
            "daemon-launch:",
            "capacity-provider-base:",
            "deployment-percent:",
            "\"enableECSManagedTags\"",
            "\"managedEBSVolume\"",
            "\"MANAGED_INSTANCES\"",
        ] {
            assert!(text.contains(needle), "CRD lacks {needle}");
        }
        let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
        assert_eq!(spec["capacityProviderStrategy"]["maxItems"], 20);
        assert_eq!(spec["tags"]["maxItems"], 50);
    }

    #[test]
    fn pasted_create_service_json_deserialises() {
        let spec: EcsServiceSpec = serde_json::from_value(serde_json::json!({
            "cluster": "prod",
            "serviceName": "web",
            "taskDefinition": "web:3",
            "desiredCount": 2,
            "launchType": "FARGATE",
            "enableECSManagedTags": true,
            "deploymentConfiguration": {
                "maximumPercent": 200, "minimumHealthyPercent": 50,
                "deploymentCircuitBreaker": {"enable": true, "rollback": true}
            },
            "networkConfiguration": {"awsvpcConfiguration": {
                "subnets": ["subnet-1"], "assignPublicIp": "ENABLED"}},
            "volumeConfigurations": [{"name": "data", "managedEBSVolume": {
                "roleArn": "arn:aws:iam::1:role/ebs", "sizeInGiB": 10}}],
            "tags": [{"key": "team", "value": "web"}]
        }))
        .expect("deserialises");
        assert_eq!(spec.launch_type, Some(LaunchType::Fargate));
        assert_eq!(spec.enable_ecs_managed_tags, Some(true));
        let back = serde_json::to_value(&spec).expect("serialises");
        assert_eq!(
            back["volumeConfigurations"][0]["managedEBSVolume"]["sizeInGiB"],
            10
        );
    }

    #[test]
    fn service_name_and_restart_annotation() {
        let mut svc = EcsService::new("web", EcsServiceSpec::default());
        assert_eq!(svc.service_name(), "web");
        assert_eq!(svc.restart_requested(), None);
        svc.spec.service_name = Some("web-prod".into());
        svc.metadata.annotations = Some(
            [(
                RESTART_ANNOTATION.to_string(),
                "2024-01-01T00:00:00Z".to_string(),
            )]
            .into(),
        );
        assert_eq!(svc.service_name(), "web-prod");
        assert_eq!(svc.restart_requested(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(
            LaunchType::from_aws("MANAGED_INSTANCES"),
            Some(LaunchType::ManagedInstances)
        );
    }
}

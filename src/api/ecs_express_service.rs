//! `EcsExpressService`: an Amazon ECS Express service — one CreateExpressGatewayService call
//! that provisions a Fargate service with a managed load balancer, auto scaling and an HTTPS
//! URL. Spec fields are the CreateExpressGatewayService request's; `clusterRef` and
//! `primaryContainer.imageRef` are Kubernetes-side alternatives to `cluster` and
//! `primaryContainer.image`.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{Condition, aws_enum, conditions_schema, list_map, list_set};
pub use super::ecs_service::ClusterReference;
pub use super::task_definition::{ImageRef, KeyValuePair, RepositoryCredentials, Secret, Tag};

/// Desired state of an ECS Express service. Field names and nesting follow the ECS
/// CreateExpressGatewayService request; fields left unset take ECS's defaults and are not
/// compared.
// Every printcolumn repeats `type_`, which clippy reads as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ecs.operator.dev",
    version = "v1alpha1",
    kind = "EcsExpressService",
    namespaced,
    status = "EcsExpressServiceStatus",
    shortname = "ecsx",
    category = "ecs",
    doc = "An Amazon ECS Express service (a web service and its URL) managed by ecs-operator.",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.statusCode"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "Running", type_ = "integer", priority = 1, json_path = ".status.runningCount"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    validation = Rule::new("!has(oldSelf.spec) || (has(self.spec.serviceName) ? self.spec.serviceName : self.metadata.name) == (has(oldSelf.spec.serviceName) ? oldSelf.spec.serviceName : oldSelf.metadata.name)").message("express-service-name-immutable: spec.serviceName (default metadata.name) is immutable: ECS cannot rename a service; create a new EcsExpressService instead"),
)]
#[x_kube(validation = Rule::new("!(has(self.cluster) && has(self.clusterRef))").message("express-cluster-or-clusterRef: set at most one of cluster or clusterRef (neither: the default cluster)"))]
#[x_kube(validation = Rule::new("has(self.cluster) == has(oldSelf.cluster) && (!has(self.cluster) || self.cluster == oldSelf.cluster) && has(self.clusterRef) == has(oldSelf.clusterRef) && (!has(self.clusterRef) || self.clusterRef.name == oldSelf.clusterRef.name)").message("express-cluster-immutable: cluster/clusterRef is immutable: a service cannot move between clusters; create a new EcsExpressService instead"))]
#[x_kube(validation = Rule::new("has(self.primaryContainer) || has(self.taskDefinitionArn)").message("express-container-or-taskDefinitionArn: set primaryContainer or taskDefinitionArn"))]
#[serde(rename_all = "camelCase")]
pub struct EcsExpressServiceSpec {
    /// deletionPolicy, adoptionPolicy, managementPolicy and region (see `kubectl explain`).
    #[serde(flatten)]
    pub policies: super::common::Policies,

    /// Name of the service, unique within the cluster. Defaults to metadata.name. Immutable.
    #[schemars(regex(pattern = r"^[a-zA-Z][a-zA-Z0-9_-]{0,254}$"))]
    pub service_name: Option<String>,

    /// Cluster name or ARN. At most one of cluster / clusterRef; neither: `default`. Immutable.
    #[schemars(length(min = 1, max = 2048))]
    pub cluster: Option<String>,

    /// Kubernetes-side: an EcsCluster in the same namespace. Immutable.
    pub cluster_ref: Option<ClusterReference>,

    /// Role ECS uses to manage the load balancer, target group, security groups and scaling
    /// (the Express infrastructure role). Immutable in ECS: UpdateExpressGatewayService does not
    /// take it.
    #[schemars(length(min = 1, max = 2048))]
    pub infrastructure_role_arn: String,

    /// Task execution role (image pulls, logs, secrets).
    #[schemars(length(min = 1, max = 2048))]
    pub execution_role_arn: Option<String>,

    /// Role the task's containers assume.
    #[schemars(length(min = 1, max = 2048))]
    pub task_role_arn: Option<String>,

    /// Path the load balancer checks. ECS default `/ping`.
    #[schemars(length(min = 1, max = 1024))]
    pub health_check_path: Option<String>,

    /// The container that receives the service's traffic. Set primaryContainer or
    /// taskDefinitionArn.
    pub primary_container: Option<ExpressContainer>,

    /// A task definition of your own instead of the one ECS manages.
    #[schemars(length(min = 1, max = 2048))]
    pub task_definition_arn: Option<String>,

    /// Subnets and security groups of the tasks. ECS default: the default VPC's public subnets.
    pub network_configuration: Option<ExpressNetworkConfiguration>,

    /// Task CPU units, as a string (`256`, `512`, `1024`, ...). ECS default 256.
    #[schemars(regex(pattern = r"^[0-9]+$"))]
    pub cpu: Option<String>,

    /// Task memory in MiB, as a string. ECS default 512.
    #[schemars(regex(pattern = r"^[0-9]+$"))]
    pub memory: Option<String>,

    /// X86_64 or ARM64. ECS default X86_64.
    pub cpu_architecture: Option<ExpressCpuArchitecture>,

    /// Auto scaling of the task count.
    pub scaling_target: Option<ExpressScalingTarget>,

    /// Tags, spelled `key`/`value` as the ECS API does. The list is complete: tags missing here
    /// are removed from the service.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["key"]))]
    pub tags: Option<Vec<Tag>>,
}

/// The primary container of an Express service.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("has(self.image) != has(self.imageRef)").message("express-image-or-imageRef: set exactly one of image or imageRef"))]
#[serde(rename_all = "camelCase")]
pub struct ExpressContainer {
    /// Image reference (`repository-url/image:tag` or `@sha256:...`). Exactly one of image /
    /// imageRef.
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Operator setting, not sent to AWS: take the image from an EcrRepository in this namespace.
    pub image_ref: Option<ImageRef>,

    /// Port the container listens on. ECS default 80.
    #[schemars(range(min = 1, max = 65535))]
    pub container_port: Option<i32>,

    /// Command passed to the container.
    pub command: Option<Vec<String>>,

    /// Environment variables.
    #[schemars(transform = list_map(&["name"]))]
    pub environment: Option<Vec<KeyValuePair>>,

    /// Secrets exposed as environment variables.
    #[schemars(transform = list_map(&["name"]))]
    pub secrets: Option<Vec<Secret>>,

    /// CloudWatch Logs destination.
    pub aws_logs_configuration: Option<ExpressAwsLogsConfiguration>,

    /// Credentials for a private registry.
    pub repository_credentials: Option<RepositoryCredentials>,
}

/// CloudWatch Logs settings of the primary container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpressAwsLogsConfiguration {
    /// Log group name.
    #[schemars(length(min = 1, max = 512))]
    pub log_group: String,
    /// Log stream prefix (ECS default `ecs`).
    #[schemars(length(min = 1))]
    pub log_stream_prefix: String,
}

/// Subnets and security groups of an Express service.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpressNetworkConfiguration {
    /// Security group IDs.
    #[schemars(length(max = 5))]
    #[schemars(transform = list_set)]
    pub security_groups: Option<Vec<String>>,
    /// Subnet IDs.
    #[schemars(length(max = 16))]
    #[schemars(transform = list_set)]
    pub subnets: Option<Vec<String>>,
}

/// Auto scaling of an Express service.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!has(self.minTaskCount) || !has(self.maxTaskCount) || self.minTaskCount <= self.maxTaskCount").message("express-scaling-bounds: minTaskCount must not exceed maxTaskCount"))]
#[serde(rename_all = "camelCase")]
pub struct ExpressScalingTarget {
    /// Fewest tasks. ECS default 1.
    #[schemars(range(min = 0))]
    pub min_task_count: Option<i32>,
    /// Most tasks. ECS default 20.
    #[schemars(range(min = 1))]
    pub max_task_count: Option<i32>,
    /// AVERAGE_CPU, AVERAGE_MEMORY or REQUEST_COUNT_PER_TARGET. ECS default AVERAGE_CPU.
    pub auto_scaling_metric: Option<ExpressScalingMetric>,
    /// Target value of the metric. ECS default 60.
    #[schemars(range(min = 1))]
    pub auto_scaling_target_value: Option<i32>,
}

aws_enum!(
    /// CPU architecture of an Express service's tasks.
    ExpressCpuArchitecture { X8664 = "X86_64", Arm64 = "ARM64" }
);

aws_enum!(
    /// Metric an Express service scales on.
    ExpressScalingMetric {
        AverageCpu = "AVERAGE_CPU",
        AverageMemory = "AVERAGE_MEMORY",
        RequestCountPerTarget = "REQUEST_COUNT_PER_TARGET",
    }
);

/// Observed state of an ECS Express service.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcsExpressServiceStatus {
    /// The metadata.generation the status was computed for.
    pub observed_generation: Option<i64>,
    /// The `ecs.operator.dev/refresh` annotation value last honoured.
    pub last_refreshed: Option<String>,
    /// Ready and Synced conditions.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Service ARN.
    pub service_arn: Option<String>,
    /// ARN of the cluster the service runs in.
    pub cluster: Option<String>,
    /// The service's URL: the first ingress path's endpoint of the active configuration.
    pub url: Option<String>,
    /// Every ingress path of the active configuration.
    #[serde(default)]
    pub ingress_paths: Vec<IngressPath>,
    /// ACTIVE, DRAINING or INACTIVE.
    pub status_code: Option<String>,
    /// Why the service is in that status.
    pub status_reason: Option<String>,
    /// The current deployment, as DescribeExpressGatewayService reports it.
    pub current_deployment: Option<String>,
    /// Service revision ARN of the active configuration.
    pub service_revision_arn: Option<String>,
    /// Task definition ARN of the active configuration.
    pub task_definition_arn: Option<String>,
    /// Rollout state of the service's PRIMARY deployment: IN_PROGRESS, COMPLETED or FAILED.
    pub rollout_state: Option<String>,
    /// Why the PRIMARY deployment is in its rollout state.
    pub rollout_state_reason: Option<String>,
    /// Desired task count (DescribeServices).
    pub desired_count: Option<i32>,
    /// Running tasks (DescribeServices).
    pub running_count: Option<i32>,
    /// Pending tasks (DescribeServices).
    pub pending_count: Option<i32>,
}

/// One way into the service.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressPath {
    /// PUBLIC or PRIVATE.
    pub access_type: String,
    /// The endpoint (URL).
    pub endpoint: String,
}

impl EcsExpressService {
    /// The service name: spec.serviceName, else metadata.name.
    pub fn service_name(&self) -> String {
        self.spec
            .service_name
            .clone()
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn crd_has_names_columns_and_rules() {
        let crd = serde_json::to_string(&EcsExpressService::crd()).expect("CRD serialises");
        for want in [
            "\"plural\":\"ecsexpressservices\"",
            "\"name\":\"URL\"",
            "express-service-name-immutable:",
            "express-cluster-immutable:",
            "express-image-or-imageRef:",
            "express-cluster-or-clusterRef:",
        ] {
            assert!(crd.contains(want), "CRD lacks {want}");
        }
    }
}

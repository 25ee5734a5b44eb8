//! `EcsCluster`: an Amazon ECS cluster. Spec fields are the CreateCluster request's, so
//! `aws ecs create-cluster` JSON can be pasted; `autoScalingGroupProviders` is a Kubernetes-side
//! addition that declares the cluster's Auto Scaling group capacity providers
//! (ECS CreateCapacityProvider requests).

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

pub use super::common::EcsTag as Tag;
use super::common::{Condition, aws_enum, conditions_schema, list_map, list_set};

/// Desired state of an ECS cluster. Field names and nesting follow the ECS CreateCluster request.
/// The spec is the whole truth, except for `settings`: a setting that is not listed keeps the
/// value the cluster got at creation (the account default).
// Every printcolumn repeats `type_`, which clippy reads as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ecs.operator.dev",
    version = "v1alpha1",
    kind = "EcsCluster",
    namespaced,
    status = "EcsClusterStatus",
    shortname = "ecscluster",
    shortname = "ecsc",
    category = "ecs",
    doc = "An Amazon ECS cluster managed by ecs-operator.",
    printcolumn(
        name = "Services",
        type_ = "integer",
        json_path = ".status.activeServicesCount"
    ),
    printcolumn(
        name = "Running",
        type_ = "integer",
        json_path = ".status.runningTasksCount"
    ),
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
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        priority = 1,
        json_path = ".status.status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Synced\")].reason"
    ),
    validation = Rule::new("!has(oldSelf.spec) || (has(self.spec.clusterName) ? self.spec.clusterName : self.metadata.name) == (has(oldSelf.spec.clusterName) ? oldSelf.spec.clusterName : oldSelf.metadata.name)").message("cluster-name-immutable: spec.clusterName is immutable: renaming would orphan the existing cluster; create a new EcsCluster instead"),
)]
#[x_kube(validation = Rule::new("!has(self.defaultCapacityProviderStrategy) || self.defaultCapacityProviderStrategy.filter(s, has(s.base) && s.base > 0).size() <= 1").message("strategy-single-base: only one defaultCapacityProviderStrategy item may have a base"))]
#[serde(rename_all = "camelCase")]
pub struct EcsClusterSpec {
    /// deletionPolicy, adoptionPolicy, managementPolicy and region (see `kubectl explain`).
    #[serde(flatten)]
    pub policies: super::common::Policies,

    /// Name of the cluster. Defaults to metadata.name. Immutable.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_-]{1,255}$"))]
    pub cluster_name: Option<String>,

    /// Tags, spelled `key`/`value` as the ECS API does. The list is complete: tags missing here
    /// are removed from the cluster (AWS-reserved `aws:` tags excepted).
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["key"]))]
    pub tags: Option<Vec<Tag>>,

    /// Cluster settings (Container Insights). A setting not listed keeps its current value,
    /// which at creation is the account default (`disabled` unless changed with
    /// PutAccountSetting).
    #[schemars(length(max = 1))]
    #[schemars(transform = list_map(&["name"]))]
    pub settings: Option<Vec<ClusterSetting>>,

    /// Execute command and managed storage configuration.
    pub configuration: Option<ClusterConfiguration>,

    /// Capacity providers to associate with the cluster by name: FARGATE, FARGATE_SPOT, or Auto
    /// Scaling group providers created elsewhere. Providers declared in
    /// `autoScalingGroupProviders` are associated too and need not be repeated here.
    #[schemars(length(max = 20))]
    #[schemars(inner(regex(pattern = r"^[a-zA-Z0-9_-]{1,255}$")))]
    #[schemars(transform = list_set)]
    pub capacity_providers: Option<Vec<String>>,

    /// Capacity provider strategy used when a service or task names neither a launch type nor a
    /// strategy. Every provider named here must be associated with the cluster.
    #[schemars(length(max = 20))]
    #[schemars(transform = list_map(&["capacityProvider"]))]
    pub default_capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,

    /// Default Service Connect namespace for services created in the cluster.
    pub service_connect_defaults: Option<ClusterServiceConnectDefaults>,

    /// Auto Scaling group capacity providers the operator creates (ECS CreateCapacityProvider)
    /// and associates with this cluster. Not part of the CreateCluster request. They are
    /// deleted with the cluster.
    #[schemars(length(max = 20))]
    #[schemars(transform = list_map(&["name"]))]
    pub auto_scaling_group_providers: Option<Vec<AutoScalingGroupCapacityProvider>>,

    /// Amazon ECS Managed Instances capacity providers the operator creates in this cluster
    /// (ECS CreateCapacityProvider with `managedInstancesProvider`) and associates with it. Not
    /// part of the CreateCluster request. Created after the cluster, updated in place, deleted
    /// before it; one that leaves this list is deleted.
    #[schemars(length(max = 20))]
    #[schemars(transform = list_map(&["name"]))]
    pub managed_instances_providers: Option<Vec<ManagedInstancesCapacityProvider>>,
}

/// A cluster setting.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ClusterSetting {
    /// Setting name; ECS supports containerInsights.
    pub name: ClusterSettingName,
    /// enabled, disabled or enhanced (Container Insights with enhanced observability).
    pub value: ContainerInsightsValue,
}

aws_enum!(
    /// Cluster setting name.
    ClusterSettingName { ContainerInsights = "containerInsights" }
);

aws_enum!(
    /// Container Insights setting value.
    ContainerInsightsValue { Enabled = "enabled", Disabled = "disabled", Enhanced = "enhanced" }
);

/// Cluster configuration.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterConfiguration {
    /// Details of the execute command (ECS Exec) configuration.
    pub execute_command_configuration: Option<ExecuteCommandConfiguration>,
    /// KMS keys for managed storage (Fargate ephemeral storage and managed volumes). Removing
    /// this block from the spec leaves the cluster's keys in place.
    pub managed_storage_configuration: Option<ManagedStorageConfiguration>,
}

/// Execute command (ECS Exec) configuration.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!has(self.logConfiguration) || (has(self.logging) && self.logging == 'OVERRIDE')").message("exec-log-configuration: logConfiguration is only valid with logging OVERRIDE"))]
#[x_kube(validation = Rule::new("!has(self.logging) || self.logging != 'OVERRIDE' || has(self.logConfiguration)").message("exec-log-override: logging OVERRIDE requires logConfiguration"))]
#[serde(rename_all = "camelCase")]
pub struct ExecuteCommandConfiguration {
    /// KMS key ID or ARN to encrypt the data between the local client and the container.
    pub kms_key_id: Option<String>,
    /// Where execute command results are logged: NONE, DEFAULT (the task definition's awslogs
    /// configuration) or OVERRIDE (logConfiguration). Default DEFAULT.
    pub logging: Option<ExecuteCommandLogging>,
    /// Log destinations, with logging OVERRIDE.
    pub log_configuration: Option<ExecuteCommandLogConfiguration>,
}

aws_enum!(
    /// Execute command logging mode.
    ExecuteCommandLogging { None = "NONE", Default = "DEFAULT", Override = "OVERRIDE" }
);

/// Execute command log destinations (CloudWatch Logs and/or S3). Both must already exist.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteCommandLogConfiguration {
    /// CloudWatch log group to send logs to.
    pub cloud_watch_log_group_name: Option<String>,
    /// Encrypt the CloudWatch logs. Default false.
    pub cloud_watch_encryption_enabled: Option<bool>,
    /// S3 bucket to send logs to.
    pub s3_bucket_name: Option<String>,
    /// Encrypt the S3 logs. Default false.
    pub s3_encryption_enabled: Option<bool>,
    /// Folder in the S3 bucket to place logs in.
    pub s3_key_prefix: Option<String>,
}

/// Managed storage configuration.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedStorageConfiguration {
    /// KMS key ID for managed storage (e.g. EBS volumes attached to tasks).
    pub kms_key_id: Option<String>,
    /// KMS key ID for Fargate ephemeral storage.
    pub fargate_ephemeral_storage_kms_key_id: Option<String>,
}

/// Default Service Connect namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterServiceConnectDefaults {
    /// AWS Cloud Map namespace name or ARN. A name that does not exist yet is created by ECS as
    /// an HTTP namespace.
    #[schemars(length(min = 1, max = 1024))]
    pub namespace: String,
}

/// One item of a capacity provider strategy.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProviderStrategyItem {
    /// Capacity provider name.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_-]{1,255}$"))]
    pub capacity_provider: String,
    /// Relative share of tasks placed with this provider. Default 0.
    #[schemars(range(min = 0, max = 1000))]
    pub weight: Option<i32>,
    /// Tasks placed with this provider before weights apply. Default 0.
    #[schemars(range(min = 0, max = 100000))]
    pub base: Option<i32>,
}

/// An Auto Scaling group capacity provider (the ECS CreateCapacityProvider request).
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!self.name.lowerAscii().startsWith('aws') && !self.name.lowerAscii().startsWith('ecs') && !self.name.lowerAscii().startsWith('fargate')").message("capacity-provider-name: a capacity provider name cannot start with aws, ecs or fargate"))]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingGroupCapacityProvider {
    /// Capacity provider name, unique in the account and region.
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^[a-zA-Z0-9_-]{1,255}$"))]
    pub name: String,
    /// The Auto Scaling group and how ECS manages it.
    pub auto_scaling_group_provider: AutoScalingGroupProvider,
    /// Tags of the capacity provider (`key`/`value`). The list is complete.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["key"]))]
    pub tags: Option<Vec<Tag>>,
}

/// The Auto Scaling group of a capacity provider.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(validation = Rule::new("self.autoScalingGroupArn == oldSelf.autoScalingGroupArn").message("asg-immutable: autoScalingGroupArn is immutable: ECS cannot move a capacity provider to another Auto Scaling group"))]
#[x_kube(validation = Rule::new("!has(self.managedTerminationProtection) || self.managedTerminationProtection == 'DISABLED' || (has(self.managedScaling) && has(self.managedScaling.status) && self.managedScaling.status == 'ENABLED')").message("termination-protection-scaling: managedTerminationProtection ENABLED requires managedScaling.status ENABLED"))]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingGroupProvider {
    /// ARN (or name) of the Auto Scaling group. Immutable.
    #[schemars(length(min = 1, max = 1600))]
    pub auto_scaling_group_arn: String,
    /// Managed scaling: ECS scales the group to fit the tasks.
    pub managed_scaling: Option<ManagedScaling>,
    /// ENABLED keeps instances running tasks from being terminated on scale-in (the group needs
    /// scale-in protection too). Default DISABLED.
    pub managed_termination_protection: Option<ManagedTerminationProtection>,
    /// ENABLED lets ECS drain instances gracefully before they are terminated. Default ENABLED.
    pub managed_draining: Option<ManagedDraining>,
}

/// Managed scaling of an Auto Scaling group capacity provider.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!has(self.minimumScalingStepSize) || !has(self.maximumScalingStepSize) || self.minimumScalingStepSize <= self.maximumScalingStepSize").message("scaling-step-size: minimumScalingStepSize must not exceed maximumScalingStepSize"))]
#[serde(rename_all = "camelCase")]
pub struct ManagedScaling {
    /// ENABLED or DISABLED. Unset leaves the value ECS chose.
    pub status: Option<ManagedScalingStatus>,
    /// Target utilisation of the group's instances, in percent. Default 100.
    #[schemars(range(min = 1, max = 100))]
    pub target_capacity: Option<i32>,
    /// Fewest instances ECS adds in one scale-out. Default 1.
    #[schemars(range(min = 1, max = 10000))]
    pub minimum_scaling_step_size: Option<i32>,
    /// Most instances ECS adds in one scale-out. Default 10000.
    #[schemars(range(min = 1, max = 10000))]
    pub maximum_scaling_step_size: Option<i32>,
    /// Seconds after launch before a new instance counts in CloudWatch metrics. Default 300.
    #[schemars(range(min = 0, max = 10000))]
    pub instance_warmup_period: Option<i32>,
}

aws_enum!(
    /// Managed scaling status.
    ManagedScalingStatus { Enabled = "ENABLED", Disabled = "DISABLED" }
);

aws_enum!(
    /// Managed termination protection.
    ManagedTerminationProtection { Enabled = "ENABLED", Disabled = "DISABLED" }
);

aws_enum!(
    /// Managed draining.
    ManagedDraining { Enabled = "ENABLED", Disabled = "DISABLED" }
);

/// A Managed Instances capacity provider (the ECS CreateCapacityProvider request with
/// `managedInstancesProvider`; its `cluster` is this cluster).
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("!self.name.lowerAscii().startsWith('aws') && !self.name.lowerAscii().startsWith('ecs') && !self.name.lowerAscii().startsWith('fargate')").message("capacity-provider-name: a capacity provider name cannot start with aws, ecs or fargate"))]
#[serde(rename_all = "camelCase")]
pub struct ManagedInstancesCapacityProvider {
    /// Capacity provider name, unique in the cluster.
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^[a-zA-Z0-9_-]{1,255}$"))]
    pub name: String,
    /// The infrastructure role and the instances ECS launches.
    pub managed_instances_provider: ManagedInstancesProvider,
    /// Tags of the capacity provider (`key`/`value`). The list is complete.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["key"]))]
    pub tags: Option<Vec<Tag>>,
}

/// How ECS Managed Instances launches and manages instances.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedInstancesProvider {
    /// IAM role ECS uses to manage the instances (needs the AmazonECSInfrastructureRolePolicyForManagedInstances policy).
    #[schemars(length(min = 1))]
    pub infrastructure_role_arn: String,
    /// The instances ECS launches.
    pub instance_launch_template: InstanceLaunchTemplate,
    /// CAPACITY_PROVIDER copies the provider's tags to the instances; NONE (default) does not.
    pub propagate_tags: Option<PropagateManagedInstancesTags>,
}

aws_enum!(
    /// Whether the capacity provider's tags reach the instances.
    PropagateManagedInstancesTags { CapacityProvider = "CAPACITY_PROVIDER", None = "NONE" }
);

/// The instance launch template of a Managed Instances capacity provider.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("has(self.capacityOptionType) == has(oldSelf.capacityOptionType) && (!has(self.capacityOptionType) || self.capacityOptionType == oldSelf.capacityOptionType)").message("capacity-option-immutable: capacityOptionType cannot be updated (UpdateCapacityProvider does not take it); use a new provider name"))]
#[serde(rename_all = "camelCase")]
pub struct InstanceLaunchTemplate {
    /// Instance profile the instances run with.
    #[schemars(length(min = 1))]
    pub ec2_instance_profile_arn: String,
    /// Subnets and security groups of the instances.
    pub network_configuration: ManagedInstancesNetworkConfiguration,
    /// Root volume size.
    pub storage_configuration: Option<ManagedInstancesStorageConfiguration>,
    /// CloudWatch monitoring of the instances: BASIC (default) or DETAILED.
    pub monitoring: Option<ManagedInstancesMonitoring>,
    /// ON_DEMAND (default) or SPOT. Cannot be updated.
    pub capacity_option_type: Option<CapacityOptionType>,
    /// Attribute-based instance type selection (the EC2 InstanceRequirementsRequest shape).
    pub instance_requirements: Option<InstanceRequirements>,
}

/// Network configuration of Managed Instances.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedInstancesNetworkConfiguration {
    /// Subnet IDs.
    #[schemars(length(min = 1))]
    #[schemars(transform = list_set)]
    pub subnets: Vec<String>,
    /// Security group IDs.
    #[schemars(transform = list_set)]
    pub security_groups: Option<Vec<String>>,
}

/// Storage of Managed Instances.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ManagedInstancesStorageConfiguration {
    /// Root volume size in GiB.
    #[serde(rename = "storageSizeGiB")]
    #[schemars(range(min = 1))]
    pub storage_size_gib: Option<i32>,
}

aws_enum!(
    /// Instance monitoring.
    ManagedInstancesMonitoring { Basic = "BASIC", Detailed = "DETAILED" }
);

aws_enum!(
    /// Purchase option of Managed Instances.
    CapacityOptionType { OnDemand = "ON_DEMAND", Spot = "SPOT" }
);

/// Instance attributes ECS chooses instance types by (EC2 attribute-based selection).
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRequirements {
    /// vCPUs per instance.
    #[serde(rename = "vCpuCount")]
    pub v_cpu_count: IntRange,
    /// Memory per instance in MiB.
    #[serde(rename = "memoryMiB")]
    pub memory_mib: IntRange,
    /// intel, amd, amazon-web-services, apple.
    #[schemars(transform = list_set)]
    pub cpu_manufacturers: Option<Vec<String>>,
    /// Memory per vCPU in GiB.
    #[serde(rename = "memoryGiBPerVCpu")]
    pub memory_gib_per_vcpu: Option<FloatRange>,
    /// Instance types to leave out (wildcards allowed, e.g. `t2.*`).
    #[schemars(transform = list_set)]
    pub excluded_instance_types: Option<Vec<String>>,
    /// Only these instance types (wildcards allowed); excludes excludedInstanceTypes.
    #[schemars(transform = list_set)]
    pub allowed_instance_types: Option<Vec<String>>,
    /// current, previous.
    #[schemars(transform = list_set)]
    pub instance_generations: Option<Vec<String>>,
    /// included, required, excluded.
    pub burstable_performance: Option<String>,
    /// included, required, excluded.
    pub bare_metal: Option<String>,
    /// Spot price ceiling, as a percentage over the lowest-priced current-generation type.
    pub spot_max_price_percentage_over_lowest_price: Option<i32>,
    /// On-demand price ceiling, as a percentage over the lowest-priced current-generation type.
    pub on_demand_max_price_percentage_over_lowest_price: Option<i32>,
    /// gpu, fpga, inference.
    #[schemars(transform = list_set)]
    pub accelerator_types: Option<Vec<String>>,
}

/// An integer range (`max` unset: no upper limit).
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct IntRange {
    /// Minimum.
    #[schemars(range(min = 0))]
    pub min: i32,
    /// Maximum.
    pub max: Option<i32>,
}

/// A decimal range (both ends optional).
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct FloatRange {
    /// Minimum.
    pub min: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
}

/// Observed state of an ECS cluster.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcsClusterStatus {
    /// The metadata.generation the status was computed for.
    pub observed_generation: Option<i64>,
    /// The `ecs.operator.dev/refresh` annotation value last honoured (one reconcile that read
    /// AWS afresh); a different value asks again.
    pub last_refreshed: Option<String>,
    /// Ready and Synced conditions.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Cluster ARN.
    pub arn: Option<String>,
    /// ECS cluster status: ACTIVE, PROVISIONING, DEPROVISIONING, FAILED or INACTIVE.
    pub status: Option<String>,
    /// Services in the ACTIVE state.
    pub active_services_count: Option<i32>,
    /// Tasks in the RUNNING state.
    pub running_tasks_count: Option<i32>,
    /// Tasks in the PENDING state.
    pub pending_tasks_count: Option<i32>,
    /// Container instances registered with the cluster.
    pub registered_container_instances_count: Option<i32>,
    /// Capacity providers associated with the cluster, as ECS reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_providers: Vec<String>,
}

impl EcsCluster {
    /// The AWS cluster name: spec.clusterName, else metadata.name.
    pub fn cluster_name(&self) -> String {
        self.spec
            .cluster_name
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
        let crd = EcsCluster::crd();
        assert_eq!(crd.spec.group, "ecs.operator.dev");
        assert_eq!(crd.spec.names.kind, "EcsCluster");
        assert_eq!(
            crd.spec.names.short_names,
            Some(vec!["ecscluster".to_string(), "ecsc".to_string()])
        );
        assert_eq!(crd.spec.names.categories, Some(vec!["ecs".to_string()]));
        let text = serde_json::to_string(&crd).expect("CRD serialises");
        for needle in [
            "cluster-name-immutable:",
            "oldSelf.spec.clusterName",
            "strategy-single-base:",
            "exec-log-configuration:",
            "exec-log-override:",
            "capacity-provider-name:",
            "asg-immutable:",
            "termination-protection-scaling:",
            "scaling-step-size:",
            ".status.activeServicesCount",
            ".status.runningTasksCount",
            "\"autoScalingGroupProviders\"",
            "\"managedInstancesProviders\"",
            "capacity-option-immutable:",
            "\"vCpuCount\"",
            "\"storageSizeGiB\"",
            "\"s3BucketName\"",
            "\"fargateEphemeralStorageKmsKeyId\"",
            "\"enhanced\"",
        ] {
            assert!(text.contains(needle), "CRD lacks {needle}");
        }
    }

    #[test]
    fn aws_json_deserialises() {
        let spec: EcsClusterSpec = serde_json::from_value(serde_json::json!({
            "clusterName": "prod",
            "settings": [{"name": "containerInsights", "value": "enhanced"}],
            "configuration": {"executeCommandConfiguration": {"logging": "OVERRIDE",
                "logConfiguration": {"s3BucketName": "b", "s3EncryptionEnabled": true}}},
            "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
            "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 1}],
            "tags": [{"key": "team", "value": "a"}],
        }))
        .expect("AWS JSON is a valid spec");
        let log = spec
            .configuration
            .and_then(|c| c.execute_command_configuration)
            .and_then(|e| e.log_configuration)
            .expect("log configuration");
        assert_eq!(log.s3_bucket_name.as_deref(), Some("b"));
        assert_eq!(log.s3_encryption_enabled, Some(true));
    }

    #[test]
    fn cluster_name_defaults_to_metadata_name() {
        let mut c = EcsCluster::new("web", EcsClusterSpec::default());
        assert_eq!(c.cluster_name(), "web");
        c.spec.cluster_name = Some("prod".into());
        assert_eq!(c.cluster_name(), "prod");
    }
}

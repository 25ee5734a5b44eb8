//! ECS request shapes shared by the kinds that place tasks (EcsService, EcsTask, EcsSchedule):
//! network configuration, placement, capacity provider strategy, launch type, tag propagation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{aws_enum, list_set};

/// One capacity provider of a strategy.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProviderStrategyItem {
    /// Capacity provider name, e.g. FARGATE, FARGATE_SPOT or an Auto Scaling group provider.
    #[schemars(length(min = 1, max = 255))]
    pub capacity_provider: String,
    /// Relative share of tasks (0-1000). AWS default 0.
    #[schemars(range(min = 0, max = 1000))]
    pub weight: Option<i32>,
    /// Minimum number of tasks on this provider (0-100000). AWS default 0.
    #[schemars(range(min = 0, max = 100000))]
    pub base: Option<i32>,
}

/// Network configuration of the tasks.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfiguration {
    /// VPC subnets and security groups (awsvpc network mode).
    pub awsvpc_configuration: Option<AwsVpcConfiguration>,
}

/// awsvpc subnets and security groups.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsVpcConfiguration {
    /// Subnet IDs (1-16, same VPC).
    #[schemars(length(min = 1, max = 16))]
    #[schemars(transform = list_set)]
    pub subnets: Vec<String>,
    /// Security group IDs (up to 5). AWS default: the VPC's default security group.
    #[schemars(length(max = 5))]
    #[schemars(transform = list_set)]
    pub security_groups: Option<Vec<String>>,
    /// ENABLED or DISABLED (default).
    pub assign_public_ip: Option<AssignPublicIp>,
}

/// A task placement constraint.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct PlacementConstraint {
    /// distinctInstance or memberOf.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<PlacementConstraintType>,
    /// Cluster query language expression (memberOf).
    #[schemars(length(max = 2000))]
    pub expression: Option<String>,
}

/// A task placement strategy rule.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct PlacementStrategy {
    /// random, spread or binpack.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<PlacementStrategyType>,
    /// Field the rule applies to, e.g. `attribute:ecs.availability-zone`, `memory`, `cpu`.
    pub field: Option<String>,
}

aws_enum!(
    /// Launch type.
    LaunchType {
        Ec2 = "EC2",
        Fargate = "FARGATE",
        External = "EXTERNAL",
        ManagedInstances = "MANAGED_INSTANCES",
    }
);

aws_enum!(
    /// Where tags are propagated from.
    PropagateTags { TaskDefinition = "TASK_DEFINITION", Service = "SERVICE", None = "NONE" }
);

aws_enum!(
    /// Public IP assignment.
    AssignPublicIp { Enabled = "ENABLED", Disabled = "DISABLED" }
);

aws_enum!(
    /// Placement constraint type.
    PlacementConstraintType { DistinctInstance = "distinctInstance", MemberOf = "memberOf" }
);

aws_enum!(
    /// Placement strategy type.
    PlacementStrategyType { Random = "random", Spread = "spread", Binpack = "binpack" }
);

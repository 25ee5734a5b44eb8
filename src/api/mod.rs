//! The Kubernetes side: CRD types, one file per kind. Nothing here calls AWS.

pub mod common;
pub mod ecr_registry;
pub mod ecr_repository;
pub mod ecs_cluster;
pub mod ecs_express_service;
pub mod ecs_gateway;
pub mod ecs_schedule;
pub mod ecs_service;
pub mod ecs_service_status;
pub mod ecs_shapes;
pub mod ecs_task;
pub mod service_auto_scaling;
pub mod task_definition;
pub mod task_volumes;

pub use common::{Condition, ConditionStatus};
pub use ecr_registry::EcrRegistry;
pub use ecr_repository::{EcrRepository, EcrRepositorySpec, EcrRepositoryStatus};
pub use ecs_cluster::EcsCluster;
pub use ecs_express_service::EcsExpressService;
pub use ecs_gateway::EcsGateway;
pub use ecs_schedule::EcsSchedule;
pub use ecs_service::EcsService;
pub use ecs_task::EcsTask;
pub use task_definition::TaskDefinition;

/// API group of every kind this operator serves.
pub const GROUP: &str = "ecs.operator.dev";
/// Finalizer the engine puts on every managed object.
pub const FINALIZER: &str = "ecs.operator.dev/finalizer";

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    /// The schema at `path` ("spec.a[].b": `[]` steps into list items) of a kind's CRD.
    fn schema_at(kind: &str, path: &str) -> Value {
        let crd = crate::kinds::crds()
            .into_iter()
            .find(|c| c.spec.names.kind == kind)
            .unwrap_or_else(|| panic!("no CRD for {kind}"));
        let crd = serde_json::to_value(crd).expect("CRD serialises");
        let mut node = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
        for step in path.split('.') {
            let (name, items) = match step.strip_suffix("[]") {
                Some(name) => (name, true),
                None => (step, false),
            };
            node = node["properties"][name].clone();
            assert!(!node.is_null(), "{kind}: no {name} on the way to {path}");
            if items {
                node = node["items"].clone();
            }
        }
        node
    }

    #[test]
    fn lists_with_a_natural_key_merge_under_server_side_apply() {
        // (kind, path, list type, map keys). Lists not named here stay atomic on purpose: their
        // order matters (command, placementStrategy, dnsServers, environmentFiles) or they have
        // no required unique key (portMappings, mountPoints, loadBalancers, placementConstraints);
        // lifecyclePolicy.rules is one document, whose duplicate priorities a CEL rule reports.
        let map = |keys: &[&str]| Some(json!(keys));
        let cases: &[(&str, &str, &str, Option<Value>)] = &[
            ("EcrRepository", "spec.tags", "map", map(&["Key"])),
            (
                "EcrRepository",
                "spec.imageTagMutabilityExclusionFilters",
                "map",
                map(&["filter"]),
            ),
            (
                "EcrRepository",
                "spec.lifecyclePolicy.rules",
                "atomic",
                None,
            ),
            (
                "EcrRepository",
                "spec.lifecyclePolicy.rules[].selection.tagPrefixList",
                "set",
                None,
            ),
            (
                "EcrRepository",
                "spec.lifecyclePolicy.rules[].selection.tagPatternList",
                "set",
                None,
            ),
            ("EcrRepository", "status.conditions", "map", map(&["type"])),
            ("EcsCluster", "spec.tags", "map", map(&["key"])),
            ("EcsCluster", "spec.settings", "map", map(&["name"])),
            ("EcsCluster", "spec.capacityProviders", "set", None),
            (
                "EcsCluster",
                "spec.defaultCapacityProviderStrategy",
                "map",
                map(&["capacityProvider"]),
            ),
            (
                "EcsCluster",
                "spec.autoScalingGroupProviders",
                "map",
                map(&["name"]),
            ),
            (
                "EcsCluster",
                "spec.autoScalingGroupProviders[].tags",
                "map",
                map(&["key"]),
            ),
            ("EcsService", "spec.tags", "map", map(&["key"])),
            (
                "EcsService",
                "spec.capacityProviderStrategy",
                "map",
                map(&["capacityProvider"]),
            ),
            (
                "EcsService",
                "spec.volumeConfigurations",
                "map",
                map(&["name"]),
            ),
            (
                "EcsService",
                "spec.vpcLatticeConfigurations",
                "map",
                map(&["targetGroupArn"]),
            ),
            (
                "EcsService",
                "spec.networkConfiguration.awsvpcConfiguration.subnets",
                "set",
                None,
            ),
            (
                "EcsService",
                "spec.networkConfiguration.awsvpcConfiguration.securityGroups",
                "set",
                None,
            ),
            (
                "EcsService",
                "spec.deploymentConfiguration.alarms.alarmNames",
                "set",
                None,
            ),
            (
                "EcsService",
                "spec.serviceConnectConfiguration.services",
                "map",
                map(&["portName"]),
            ),
            (
                "EcsService",
                "spec.volumeConfigurations[].managedEBSVolume.tagSpecifications",
                "map",
                map(&["resourceType"]),
            ),
            (
                "EcsService",
                "spec.volumeConfigurations[].managedEBSVolume.tagSpecifications[].tags",
                "map",
                map(&["key"]),
            ),
            ("TaskDefinition", "spec.tags", "map", map(&["key"])),
            (
                "TaskDefinition",
                "spec.containerDefinitions",
                "map",
                map(&["name"]),
            ),
            ("TaskDefinition", "spec.volumes", "map", map(&["name"])),
            (
                "TaskDefinition",
                "spec.requiresCompatibilities",
                "set",
                None,
            ),
            (
                "TaskDefinition",
                "spec.inferenceAccelerators",
                "map",
                map(&["deviceName"]),
            ),
            (
                "TaskDefinition",
                "spec.proxyConfiguration.properties",
                "map",
                map(&["name"]),
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].environment",
                "map",
                map(&["name"]),
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].secrets",
                "map",
                map(&["name"]),
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].dependsOn",
                "map",
                map(&["containerName"]),
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].ulimits",
                "map",
                map(&["name"]),
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].resourceRequirements",
                "map",
                map(&["type"]),
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].links",
                "set",
                None,
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].linuxParameters.capabilities.add",
                "set",
                None,
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].linuxParameters.tmpfs",
                "map",
                map(&["containerPath"]),
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].logConfiguration.secretOptions",
                "map",
                map(&["name"]),
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].portMappings",
                "atomic",
                None,
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].mountPoints",
                "atomic",
                None,
            ),
            (
                "TaskDefinition",
                "spec.containerDefinitions[].command",
                "atomic",
                None,
            ),
            ("EcsService", "spec.placementStrategy", "atomic", None),
            ("EcsService", "spec.loadBalancers", "atomic", None),
        ];
        for (kind, path, list_type, keys) in cases {
            let schema = schema_at(kind, path);
            let got = schema["x-kubernetes-list-type"]
                .as_str()
                .unwrap_or("atomic");
            assert_eq!(got, *list_type, "{kind} {path}: list type");
            let got_keys = schema.get("x-kubernetes-list-map-keys").cloned();
            assert_eq!(got_keys, *keys, "{kind} {path}: map keys");
            // The API server rejects a map list whose keys are not required in each item.
            for key in keys
                .iter()
                .flat_map(|k| k.as_array().cloned().unwrap_or_default())
            {
                let required = schema["items"]["required"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert!(
                    required.contains(&key),
                    "{kind} {path}: map key {key} not required"
                );
            }
            if *list_type == "set" {
                let item_type = &schema["items"]["type"];
                assert!(
                    item_type == "string" || item_type == "integer",
                    "{kind} {path}: set items must be scalars, got {item_type}"
                );
            }
        }
    }
}

//! The Kubernetes side: CRD types, one file per kind. Nothing here calls AWS.

pub mod common;
pub mod ecr_repository;
pub mod ecs_cluster;
pub mod ecs_service;
pub mod task_definition;

pub use common::{Condition, ConditionStatus};
pub use ecr_repository::{EcrRepository, EcrRepositorySpec, EcrRepositoryStatus};
pub use ecs_cluster::EcsCluster;
pub use ecs_service::EcsService;
pub use task_definition::TaskDefinition;

use kube::CustomResourceExt;

/// API group of every kind this operator serves.
pub const GROUP: &str = "ecs.operator.dev";
/// Finalizer the engine puts on every managed object.
pub const FINALIZER: &str = "ecs.operator.dev/finalizer";

/// Every CustomResourceDefinition the operator serves, in a stable order.
pub fn crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    vec![
        EcrRepository::crd(),
        task_definition::TaskDefinition::crd(),
        ecs_cluster::EcsCluster::crd(),
        ecs_service::EcsService::crd(),
    ]
}

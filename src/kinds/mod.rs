//! The kind registry: one line per kind drives CRD generation (`ecs-operator crds`), the
//! startup CRD check, controller startup with its watches, and the chart's RBAC rules (a unit
//! test below checks `charts/ecs-operator/templates/_helpers.tpl` against it, as `make crds`'s
//! drift check does for `crds/`). Adding a kind: its API file, its AWS file, its wiring file
//! (with a `start` function), and one line in [`KINDS`].

use futures::future::BoxFuture;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub(crate) mod ecr_registry;
pub(crate) mod ecr_repository;
pub(crate) mod ecs_cluster;
pub(crate) mod ecs_express_service;
pub(crate) mod ecs_gateway;
pub(crate) mod ecs_schedule;
pub(crate) mod ecs_service;
pub(crate) mod ecs_task;
pub(crate) mod references;
pub(crate) mod task_definition;

use crate::api;
use crate::engine::Shared;

/// One kind the operator serves.
pub struct Kind {
    pub crd: fn() -> CustomResourceDefinition,
    /// Runs the kind's controller (with the watches it needs) until shutdown.
    pub start: fn(Shared) -> BoxFuture<'static, ()>,
}

/// Every kind, in a stable order (the order of `crds/`).
pub const KINDS: &[Kind] = &[
    Kind {
        crd: api::EcrRepository::crd,
        start: ecr_repository::start,
    },
    Kind {
        crd: api::TaskDefinition::crd,
        start: task_definition::start,
    },
    Kind {
        crd: api::EcsCluster::crd,
        start: ecs_cluster::start,
    },
    Kind {
        crd: api::EcsService::crd,
        start: ecs_service::start,
    },
    Kind {
        crd: api::EcsTask::crd,
        start: ecs_task::start,
    },
    Kind {
        crd: api::EcsSchedule::crd,
        start: ecs_schedule::start,
    },
    Kind {
        crd: api::EcrRegistry::crd,
        start: ecr_registry::start,
    },
    Kind {
        crd: api::EcsExpressService::crd,
        start: ecs_express_service::start,
    },
    Kind {
        crd: api::EcsGateway::crd,
        start: ecs_gateway::start,
    },
];

/// Every CustomResourceDefinition the operator serves.
pub fn crds() -> Vec<CustomResourceDefinition> {
    KINDS.iter().map(|k| (k.crd)()).collect()
}

/// Resource names (plurals) of every kind, for RBAC.
pub fn plurals() -> Vec<String> {
    crds().into_iter().map(|c| c.spec.names.plural).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `resources: [...]` lists of one `define` block of the chart's helpers.
    fn resource_lists(helpers: &str, define: &str) -> Vec<Vec<String>> {
        let start = helpers
            .find(&format!("define \"{define}\""))
            .unwrap_or_else(|| panic!("no {define} in _helpers.tpl"));
        let block = &helpers[start..];
        let block = &block[..block.find("{{- end }}").unwrap_or(block.len())];
        block
            .lines()
            .filter_map(|l| l.trim().strip_prefix("resources: [")?.strip_suffix(']'))
            .map(|l| l.split(',').map(|r| r.trim().to_string()).collect())
            .collect()
    }

    #[test]
    fn chart_rbac_names_every_registered_kind() {
        let helpers = include_str!("../../charts/ecs-operator/templates/_helpers.tpl");
        let plurals = plurals();
        let with = |suffix: &str| -> Vec<String> {
            plurals.iter().map(|p| format!("{p}{suffix}")).collect()
        };
        let watch = resource_lists(helpers, "ecs-operator.watchRules");
        for want in [with(""), with("/status"), with("/finalizers")] {
            assert!(
                watch.contains(&want),
                "ecs-operator.watchRules lacks resources: [{}] (the kind registry's); it has {watch:?}",
                want.join(", ")
            );
        }
        let names: Vec<String> = crds().into_iter().filter_map(|c| c.metadata.name).collect();
        let crd_read = helpers
            .lines()
            .find_map(|l| l.trim().strip_prefix("resourceNames: [")?.strip_suffix(']'))
            .map(|l| {
                l.split(',')
                    .map(|r| r.trim().to_string())
                    .collect::<Vec<_>>()
            });
        assert_eq!(
            crd_read,
            Some(names),
            "ecs-operator.crdReadRule's resourceNames differ from the kind registry's CRDs"
        );
    }

    /// The chart's appVersion (the default image tag) is the crate's version: one number.
    #[test]
    fn chart_app_version_is_the_crate_version() {
        let chart = include_str!("../../charts/ecs-operator/Chart.yaml");
        let app_version = chart
            .lines()
            .find_map(|l| l.strip_prefix("appVersion:"))
            .map(|v| v.trim().trim_matches('"'));
        assert_eq!(
            app_version,
            Some(env!("CARGO_PKG_VERSION")),
            "charts/ecs-operator/Chart.yaml appVersion differs from Cargo.toml's version"
        );
    }

    #[test]
    fn registry_kinds_are_unique() {
        let mut plurals = plurals();
        let n = plurals.len();
        plurals.sort();
        plurals.dedup();
        assert_eq!(plurals.len(), n);
    }
}

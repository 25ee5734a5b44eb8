//! Wiring: EcsCluster through the generic driver.

use serde_json::{Map, Value};

use super::conditions::reason;
use super::{DeleteOutcome, Error, External, Readiness};
use crate::api::ecs_cluster::{EcsCluster, EcsClusterStatus};
use crate::aws::ecs_cluster::{self as mapping, Change, DesiredCluster, ObservedCluster};

managed_kind!(EcsCluster);

/// ECS-backed implementation of the four verbs.
pub struct EcsClusters {
    pub client: aws_sdk_ecs::Client,
}

impl External<EcsCluster> for EcsClusters {
    type Desired = DesiredCluster;
    type Observed = ObservedCluster;

    async fn resolve(&self, obj: &EcsCluster) -> Result<DesiredCluster, Error> {
        Ok(mapping::desired(&obj.spec, &obj.cluster_name()))
    }

    async fn observe(
        &self,
        _obj: &EcsCluster,
        d: &DesiredCluster,
    ) -> Result<Option<ObservedCluster>, Error> {
        Ok(mapping::observe(&self.client, d).await?)
    }

    fn differences(&self, d: &DesiredCluster, observed: &ObservedCluster) -> Vec<String> {
        mapping::diff(d, observed)
            .iter()
            .map(Change::describe)
            .collect()
    }

    async fn create(&self, _obj: &EcsCluster, d: &DesiredCluster) -> Result<(), Error> {
        Ok(mapping::create(&self.client, d).await?)
    }

    async fn update(
        &self,
        _obj: &EcsCluster,
        d: &DesiredCluster,
        observed: &ObservedCluster,
    ) -> Result<(), Error> {
        for change in mapping::diff(d, observed) {
            mapping::apply(&self.client, d, Some(observed), &change).await?;
        }
        Ok(())
    }

    async fn delete(&self, obj: &EcsCluster) -> Result<DeleteOutcome, Error> {
        let d = mapping::desired(&obj.spec, &obj.cluster_name());
        Ok(match mapping::delete(&self.client, &d).await? {
            mapping::Deleted::Yes => DeleteOutcome::Deleted,
            mapping::Deleted::HasServices(services) => DeleteOutcome::Blocked(format!(
                "cluster {} still has services: {}; it is deleted once they are gone \
                 (delete their EcsService objects first)",
                d.cluster_name,
                services.join(", ")
            )),
        })
    }

    fn status_fields(&self, _obj: &EcsCluster, observed: &ObservedCluster) -> Map<String, Value> {
        let mut status = EcsClusterStatus::default();
        observed.fill_status(&mut status);
        let mut fields = match serde_json::to_value(status) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        // The driver owns these two.
        fields.remove("conditions");
        fields.remove("observedGeneration");
        fields
    }

    fn readiness(&self, _obj: &EcsCluster, observed: &ObservedCluster) -> Readiness {
        if observed.is_ready() {
            Readiness::ready("")
        } else {
            Readiness {
                ready: false,
                reason: reason::CREATING.into(),
                message: format!(
                    "cluster is {} (capacity providers may still be provisioning)",
                    observed.status
                ),
                extra: Vec::new(),
            }
        }
    }
}

//! Wiring: EcsCluster through the generic driver.

pub mod describe_batch;
pub mod mapping;
pub mod sdk;

use std::collections::BTreeMap;

use self::mapping::{Change, DesiredCluster, ObservedCluster};
use crate::api::ecs_cluster::{EcsCluster, EcsClusterStatus};
use crate::aws::AwsClients;
use crate::aws::tags::{TagService, TagTarget};
use crate::engine::conditions::reason;
use crate::engine::{DeleteOutcome, Describe, Error, External, Readiness};

managed_kind!(EcsCluster, EcsClusterStatus, identity = arn);

/// ECS-backed implementation of the driver's External contract; clusters are described in
/// batches ([`describe_batch`]).
pub struct EcsClusters {
    batch: describe_batch::Batch,
}

/// The kind registry's start (`crate::kinds`).
pub fn start(shared: crate::engine::Shared) -> futures::future::BoxFuture<'static, ()> {
    let resync = shared.settings.resync;
    crate::engine::Start::<EcsCluster>::new(shared).run(move |peers| EcsClusters {
        batch: describe_batch::Batch::new(peers, resync),
    })
}

impl External<EcsCluster> for EcsClusters {
    type Desired = DesiredCluster;
    type Observed = ObservedCluster;
    type Changes = Vec<Change>;

    fn aws_name(&self, obj: &EcsCluster) -> String {
        format!("cluster {}", obj.cluster_name())
    }

    async fn resolve(
        &self,
        obj: &EcsCluster,
        _aws: &AwsClients,
        owner_tags: &BTreeMap<String, String>,
    ) -> Result<DesiredCluster, Error> {
        let mut d = mapping::desired(&obj.spec, &obj.cluster_name());
        d.tags.extend(owner_tags.clone());
        // The capacity providers it creates carry them too: a provider that leaves the spec
        // is deleted only when they say it is this object's.
        for p in d.asg_providers.values_mut() {
            p.tags.extend(owner_tags.clone());
        }
        for p in d.mi_providers.values_mut() {
            p.tags.extend(owner_tags.clone());
        }
        d.owner_tags = owner_tags.clone();
        Ok(d)
    }

    async fn observe(
        &self,
        obj: &EcsCluster,
        aws: &AwsClients,
        d: &DesiredCluster,
    ) -> Result<Option<ObservedCluster>, Error> {
        let fresh = crate::engine::Managed::refresh_requested(obj);
        let Some(cluster) = self.batch.describe(aws, &d.cluster_name, fresh).await? else {
            return Ok(None);
        };
        Ok(Some(sdk::observe_described(&aws.ecs, d, &cluster).await?))
    }

    fn observed_tags(&self, observed: &ObservedCluster) -> BTreeMap<String, String> {
        observed.tags.clone()
    }

    fn tag_target(&self, observed: &ObservedCluster) -> Option<TagTarget> {
        Some(TagTarget {
            service: TagService::Ecs,
            arn: observed.arn.clone(),
        })
    }

    fn desired_tags(&self, d: &DesiredCluster) -> BTreeMap<String, String> {
        d.tags.clone()
    }

    async fn current_tags(
        &self,
        obj: &EcsCluster,
        aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        let d = mapping::desired(&obj.spec, &obj.cluster_name());
        Ok(sdk::observe(&aws.ecs, &d).await?.map(|o| o.tags))
    }

    fn diff(&self, d: &DesiredCluster, observed: &ObservedCluster) -> Vec<Change> {
        mapping::diff(d, observed)
    }

    async fn create(
        &self,
        _obj: &EcsCluster,
        aws: &AwsClients,
        d: &DesiredCluster,
    ) -> Result<String, Error> {
        self.batch.forget(aws, &d.cluster_name);
        Ok(sdk::create(&aws.ecs, d).await?)
    }

    async fn update(
        &self,
        _obj: &EcsCluster,
        aws: &AwsClients,
        d: &mut DesiredCluster,
        observed: &ObservedCluster,
        changes: &Vec<Change>,
    ) -> Result<(), Error> {
        self.batch.forget(aws, &d.cluster_name);
        for change in changes {
            sdk::apply(&aws.ecs, d, Some(observed), change).await?;
        }
        Ok(())
    }

    async fn delete(&self, obj: &EcsCluster, aws: &AwsClients) -> Result<DeleteOutcome, Error> {
        let d = mapping::desired(&obj.spec, &obj.cluster_name());
        self.batch.forget(aws, &d.cluster_name);
        Ok(match sdk::delete(&aws.ecs, &d).await? {
            sdk::Deleted::Yes => DeleteOutcome::Deleted,
            sdk::Deleted::HasServices(services) => DeleteOutcome::Blocked(format!(
                "cluster {} still has services: {}; it is deleted once they are gone \
                 (delete their EcsService objects first)",
                d.cluster_name,
                services.join(", ")
            )),
        })
    }

    fn status_fields(&self, _obj: &EcsCluster, observed: &ObservedCluster) -> EcsClusterStatus {
        let mut status = EcsClusterStatus::default();
        observed.fill_status(&mut status);
        status
    }

    fn readiness(&self, _obj: &EcsCluster, observed: &ObservedCluster) -> Readiness {
        if observed.is_ready() {
            Readiness::ready("")
        } else {
            Readiness::not_ready(
                reason::CREATING,
                format!(
                    "cluster is {} (capacity providers may still be provisioning)",
                    observed.status
                ),
            )
        }
    }
}

impl Describe for Change {
    fn describe(&self) -> String {
        Change::describe(self)
    }
}

//! Wiring: EcsExpressService through the generic driver. The Express service is found by its
//! cluster and name (DescribeServices shows it like any ECS service), then read with
//! DescribeExpressGatewayService; the ECS service's PRIMARY deployment decides readiness.

pub mod mapping;
pub mod sdk;

use crate::api::ecs_express_service::EcsExpressServiceStatus;
use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use self::mapping::{Change, Desired, Observed};
use crate::api::ecr_repository::EcrRepository;
use crate::api::ecs_cluster::EcsCluster;
use crate::api::ecs_express_service::EcsExpressService;
use crate::aws::AwsClients;
use crate::aws::tags::{TagService, TagTarget};
use crate::engine::conditions::reason;
use crate::engine::create::EXTERNAL_NAME_ANNOTATION;
use crate::engine::{DeleteOutcome, Describe, Error, External, Managed, Readiness};
use crate::kinds::references;

managed_kind!(EcsExpressService, EcsExpressServiceStatus);

/// ECS-backed implementation of the driver's External contract.
pub struct EcsExpressServices {
    kube: kube::Client,
}

/// The kind registry's start (`crate::kinds`): a service waiting for its EcsCluster or the
/// EcrRepository of its image is reconciled when that object changes.
pub fn start(shared: crate::engine::Shared) -> futures::future::BoxFuture<'static, ()> {
    let kube = shared.client.clone();
    crate::engine::Start::<EcsExpressService>::new(shared)
        .follows::<EcsCluster>(dependents)
        .follows::<EcrRepository>(dependents)
        .run(move |_| EcsExpressServices { kube })
}

/// The services in `changed`'s namespace that refer to it (clusterRef or imageRef).
pub fn dependents<K: Managed>(
    store: &Store<EcsExpressService>,
    changed: &K,
) -> Vec<ObjectRef<EcsExpressService>> {
    let ns = changed.namespace();
    let name = changed.name_any();
    let is_cluster = K::kind(&()) == <EcsCluster as kube::Resource>::kind(&());
    store
        .state()
        .iter()
        .filter(|s| s.namespace() == ns)
        .filter(|s| {
            if is_cluster {
                s.spec.cluster_ref.as_ref().is_some_and(|r| r.name == name)
            } else {
                s.spec
                    .primary_container
                    .as_ref()
                    .and_then(|c| c.image_ref.as_ref())
                    .is_some_and(|r| r.repository_ref.name == name)
            }
        })
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

impl EcsExpressServices {
    /// The cluster the spec names (`default` when neither cluster nor clusterRef is set).
    async fn cluster(&self, obj: &EcsExpressService) -> Result<String, Error> {
        let ns = obj.namespace().unwrap_or_default();
        let spec = &obj.spec;
        references::cluster(
            &self.kube,
            &ns,
            spec.cluster.as_ref(),
            spec.cluster_ref.as_ref(),
        )
        .await
    }

    /// The service's ARN as this object recorded it (status, else the create record).
    fn recorded_arn(obj: &EcsExpressService) -> Option<String> {
        obj.status
            .as_ref()
            .and_then(|s| s.service_arn.clone())
            .or_else(|| obj.annotations().get(EXTERNAL_NAME_ANNOTATION).cloned())
            .filter(|a| !a.is_empty())
    }

    /// The service's ARN for delete and its ownership check, which must not depend on
    /// references: as recorded, else found by cluster and name (a create whose answer was lost);
    /// `None` when neither finds one.
    async fn locate_arn(
        &self,
        obj: &EcsExpressService,
        aws: &AwsClients,
    ) -> Result<Option<String>, Error> {
        if let Some(arn) = Self::recorded_arn(obj) {
            return Ok(Some(arn));
        }
        let cluster = match self.cluster(obj).await {
            Ok(c) => c,
            Err(Error::ReferenceNotReady(_) | Error::ReferenceInAnotherShard(_)) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(
            sdk::describe_service(&aws.ecs, &cluster, &obj.service_name())
                .await?
                .and_then(|s| s.service_arn),
        )
    }

    /// Reads the Express service by ARN, without the ECS service behind it; `None` when ECS
    /// knows none or it is INACTIVE (deleted).
    async fn read(aws: &AwsClients, arn: &str) -> Result<Option<Observed>, Error> {
        let Some(x) = sdk::describe(&aws.ecs, arn).await? else {
            return Ok(None);
        };
        let o = mapping::observed(&x, None).ok_or_else(|| no_arn(arn))?;
        Ok((o.status_code.as_deref() != Some("INACTIVE")).then_some(o))
    }
}

/// A DescribeExpressGatewayService answer without the service's ARN: AWS's fault, retried.
fn no_arn(arn: &str) -> Error {
    Error::Aws(crate::aws::AwsError {
        operation: "DescribeExpressGatewayService",
        code: None,
        message: format!("the answer for {arn} carries no serviceArn"),
        class: crate::aws::ErrorClass::Retryable,
    })
}

impl External<EcsExpressService> for EcsExpressServices {
    type Desired = Desired;
    type Observed = Observed;
    type Changes = Vec<Change>;

    fn aws_name(&self, obj: &EcsExpressService) -> String {
        format!("express service {}", obj.service_name())
    }

    async fn resolve(
        &self,
        obj: &EcsExpressService,
        _aws: &AwsClients,
        owner_tags: &BTreeMap<String, String>,
    ) -> Result<Desired, Error> {
        let ns = obj.namespace().unwrap_or_default();
        let cluster = self.cluster(obj).await?;
        let image = match obj
            .spec
            .primary_container
            .as_ref()
            .and_then(|c| c.image_ref.as_ref())
        {
            Some(r) => Some(references::image(&self.kube, &ns, "primaryContainer", r).await?),
            None => None,
        };
        mapping::desired(&obj.spec, obj.service_name(), cluster, image, owner_tags)
            .map_err(Error::InvalidSpec)
    }

    async fn observe(
        &self,
        _obj: &EcsExpressService,
        aws: &AwsClients,
        d: &Desired,
    ) -> Result<Option<Observed>, Error> {
        let Some(service) = sdk::describe_service(&aws.ecs, &d.cluster, &d.service_name).await?
        else {
            return Ok(None);
        };
        let Some(arn) = service.service_arn.clone() else {
            return Ok(None);
        };
        match sdk::describe(&aws.ecs, &arn).await? {
            Some(x) => mapping::observed(&x, Some(&service))
                .map(Some)
                .ok_or_else(|| no_arn(&arn)),
            None => Err(Error::Refused {
                reason: reason::ALREADY_EXISTS,
                message: format!(
                    "service {} in cluster {} exists and is not an Express service",
                    d.service_name, d.cluster
                ),
            }),
        }
    }

    fn observed_tags(&self, observed: &Observed) -> BTreeMap<String, String> {
        observed.tags.clone()
    }

    fn tag_target(&self, observed: &Observed) -> Option<TagTarget> {
        Some(TagTarget {
            service: TagService::Ecs,
            arn: observed.arn.clone(),
        })
    }

    fn desired_tags(&self, d: &Desired) -> BTreeMap<String, String> {
        d.tags.clone()
    }

    async fn current_tags(
        &self,
        obj: &EcsExpressService,
        aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        let Some(arn) = self.locate_arn(obj, aws).await? else {
            return Ok(None);
        };
        Ok(Self::read(aws, &arn).await?.map(|o| o.tags))
    }

    fn diff(&self, d: &Desired, observed: &Observed) -> Vec<Change> {
        mapping::diff(d, observed)
    }

    async fn create(
        &self,
        _obj: &EcsExpressService,
        aws: &AwsClients,
        d: &Desired,
    ) -> Result<String, Error> {
        Ok(sdk::create(&aws.ecs, mapping::create_input(d)?).await?)
    }

    async fn update(
        &self,
        _obj: &EcsExpressService,
        aws: &AwsClients,
        d: &mut Desired,
        observed: &Observed,
        changes: &Vec<Change>,
    ) -> Result<(), Error> {
        let input = mapping::update_input(d, &observed.arn, changes)?;
        Ok(sdk::update(&aws.ecs, input).await?)
    }

    async fn delete(
        &self,
        obj: &EcsExpressService,
        aws: &AwsClients,
    ) -> Result<DeleteOutcome, Error> {
        let Some(arn) = self.locate_arn(obj, aws).await? else {
            return Ok(DeleteOutcome::Deleted);
        };
        let Some(current) = Self::read(aws, &arn).await? else {
            return Ok(DeleteOutcome::Deleted);
        };
        match current.status_code.as_deref() {
            Some("ACTIVE") => {
                sdk::delete(&aws.ecs, &arn).await?;
                Ok(DeleteOutcome::InProgress(format!(
                    "express service {} is being deleted",
                    obj.service_name()
                )))
            }
            other => Ok(DeleteOutcome::InProgress(format!(
                "express service {} is {}",
                obj.service_name(),
                other.unwrap_or("being deleted")
            ))),
        }
    }

    fn status_fields(
        &self,
        _obj: &EcsExpressService,
        observed: &Observed,
    ) -> EcsExpressServiceStatus {
        observed.status()
    }

    fn readiness(&self, _obj: &EcsExpressService, observed: &Observed) -> Readiness {
        mapping::readiness(observed)
    }
}

impl Describe for Change {
    fn describe(&self) -> String {
        Change::describe(self)
    }
}

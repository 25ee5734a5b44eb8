//! Wiring: EcrRepository through the generic driver.

pub mod mapping;
pub mod sdk;

use crate::api::ecr_repository::EcrRepositoryStatus;
use std::collections::BTreeMap;

use self::mapping::{self as ecr, Change, ObservedRepository};
use crate::api::ecr_repository::EcrRepository;
use crate::aws::AwsClients;
use crate::aws::tags::{TagService, TagTarget};
use crate::engine::{DeleteOutcome, Describe, Error, External};

managed_kind!(EcrRepository, EcrRepositoryStatus, identity = arn);

/// ECR-backed implementation of the driver's External contract.
#[derive(Default)]
pub struct EcrRepositories {
    /// Which policies recent observes found, so absent ones are not read every time.
    reads: ecr::PolicyReads,
}

/// The kind registry's start (`crate::kinds`).
pub fn start(shared: crate::engine::Shared) -> futures::future::BoxFuture<'static, ()> {
    crate::engine::start::<EcrRepository, _>(shared, EcrRepositories::default())
}

fn desired(obj: &EcrRepository) -> ecr::DesiredRepository {
    ecr::desired(&obj.spec, &kube::ResourceExt::name_any(obj))
}

impl External<EcrRepository> for EcrRepositories {
    type Desired = ecr::DesiredRepository;
    type Observed = ObservedRepository;
    type Changes = Vec<Change>;

    fn aws_name(&self, obj: &EcrRepository) -> String {
        format!("repository {}", desired(obj).repository_name)
    }

    async fn resolve(
        &self,
        obj: &EcrRepository,
        _aws: &AwsClients,
        owner_tags: &BTreeMap<String, String>,
    ) -> Result<ecr::DesiredRepository, Error> {
        let mut d = desired(obj);
        d.tags.extend(owner_tags.clone());
        Ok(d)
    }

    async fn observe(
        &self,
        obj: &EcrRepository,
        aws: &AwsClients,
        d: &ecr::DesiredRepository,
    ) -> Result<Option<ObservedRepository>, Error> {
        let fresh = obj.refresh_requested();
        Ok(sdk::observe(&aws.ecr, d, &self.reads, fresh).await?)
    }

    fn observed_tags(&self, observed: &ObservedRepository) -> BTreeMap<String, String> {
        observed.tags.clone()
    }

    fn tag_target(&self, observed: &ObservedRepository) -> Option<TagTarget> {
        Some(TagTarget {
            service: TagService::Ecr,
            arn: observed.arn.clone(),
        })
    }

    fn desired_tags(&self, d: &ecr::DesiredRepository) -> BTreeMap<String, String> {
        d.tags.clone()
    }

    async fn current_tags(
        &self,
        obj: &EcrRepository,
        aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        Ok(sdk::observe(&aws.ecr, &desired(obj), &self.reads, false)
            .await?
            .map(|o| o.tags))
    }

    fn diff(&self, d: &ecr::DesiredRepository, observed: &ObservedRepository) -> Vec<Change> {
        ecr::diff(d, observed)
    }

    async fn create(
        &self,
        _obj: &EcrRepository,
        aws: &AwsClients,
        d: &ecr::DesiredRepository,
    ) -> Result<String, Error> {
        Ok(sdk::create(&aws.ecr, d).await?)
    }

    async fn update(
        &self,
        _obj: &EcrRepository,
        aws: &AwsClients,
        d: &mut ecr::DesiredRepository,
        _observed: &ObservedRepository,
        changes: &Vec<Change>,
    ) -> Result<(), Error> {
        // Apply everything that can be applied; report an impossible change (encryption) last.
        let (impossible, possible): (Vec<&Change>, Vec<&Change>) = changes
            .iter()
            .partition(|c| matches!(c, Change::EncryptionDiffers { .. }));
        for change in possible.into_iter().chain(impossible) {
            sdk::apply(&aws.ecr, d, change).await?;
        }
        Ok(())
    }

    async fn delete(&self, obj: &EcrRepository, aws: &AwsClients) -> Result<DeleteOutcome, Error> {
        let d = desired(obj);
        Ok(match sdk::delete(&aws.ecr, &d).await? {
            sdk::Deleted::Yes => DeleteOutcome::Deleted,
            sdk::Deleted::NotEmpty(aws_message) => DeleteOutcome::Blocked(format!(
                "repository {} still holds images and spec.forceDelete is false, so it was not deleted \
                 (AWS: {aws_message}). To delete it with its images set spec.forceDelete: true; to keep \
                 the repository, set spec.deletionPolicy: Retain",
                d.repository_name,
            )),
        })
    }

    fn status_fields(&self, _obj: &EcrRepository, o: &ObservedRepository) -> EcrRepositoryStatus {
        EcrRepositoryStatus {
            arn: Some(o.arn.clone()),
            repository_uri: Some(o.uri.clone()),
            registry_id: Some(o.registry_id.clone()),
            created_at: o.created_at.clone(),
            ..Default::default()
        }
    }
}

impl Describe for Change {
    fn describe(&self) -> String {
        Change::describe(self)
    }
}

//! Wiring: EcrRepository through the generic driver.

use serde_json::{Map, Value, json};

use super::{DeleteOutcome, Error, External};
use crate::api::ecr_repository::EcrRepository;
use crate::aws::ecr::{self, Change, ObservedRepository};

managed_kind!(EcrRepository);

/// ECR-backed implementation of the four verbs.
pub struct EcrRepositories {
    pub client: aws_sdk_ecr::Client,
}

fn desired(obj: &EcrRepository) -> ecr::DesiredRepository {
    ecr::desired(&obj.spec, &kube::ResourceExt::name_any(obj))
}

impl External<EcrRepository> for EcrRepositories {
    type Desired = ecr::DesiredRepository;
    type Observed = ObservedRepository;

    async fn resolve(&self, obj: &EcrRepository) -> Result<ecr::DesiredRepository, Error> {
        Ok(desired(obj))
    }

    async fn observe(
        &self,
        _obj: &EcrRepository,
        d: &ecr::DesiredRepository,
    ) -> Result<Option<ObservedRepository>, Error> {
        Ok(ecr::observe(&self.client, d).await?)
    }

    fn differences(
        &self,
        d: &ecr::DesiredRepository,
        observed: &ObservedRepository,
    ) -> Vec<String> {
        ecr::diff(d, observed)
            .iter()
            .map(Change::describe)
            .collect()
    }

    async fn create(&self, _obj: &EcrRepository, d: &ecr::DesiredRepository) -> Result<(), Error> {
        Ok(ecr::create(&self.client, d).await?)
    }

    async fn update(
        &self,
        _obj: &EcrRepository,
        d: &ecr::DesiredRepository,
        observed: &ObservedRepository,
    ) -> Result<(), Error> {
        let changes = ecr::diff(d, observed);
        // Apply everything that can be applied; report an impossible change (encryption) last.
        let (impossible, possible): (Vec<Change>, Vec<Change>) = changes
            .into_iter()
            .partition(|c| matches!(c, Change::EncryptionDiffers { .. }));
        for change in possible.iter().chain(impossible.iter()) {
            ecr::apply(&self.client, d, Some(observed), change).await?;
        }
        Ok(())
    }

    async fn delete(&self, obj: &EcrRepository) -> Result<DeleteOutcome, Error> {
        let d = desired(obj);
        Ok(match ecr::delete(&self.client, &d).await? {
            ecr::Deleted::Yes => DeleteOutcome::Deleted,
            ecr::Deleted::NotEmpty(aws_message) => DeleteOutcome::Blocked(format!(
                "repository {} still holds images and spec.forceDelete is false, so it was not deleted \
                 (AWS: {aws_message}). To delete it with its images set spec.forceDelete: true; to keep \
                 the repository, delete its images yourself or remove the finalizer {} (retain)",
                d.repository_name,
                crate::api::FINALIZER
            )),
        })
    }

    fn status_fields(&self, _obj: &EcrRepository, o: &ObservedRepository) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("arn".into(), json!(o.arn));
        m.insert("repositoryUri".into(), json!(o.uri));
        m.insert("registryId".into(), json!(o.registry_id));
        if let Some(created) = &o.created_at {
            m.insert("createdAt".into(), json!(created));
        }
        m
    }
}

//! EcrRepository's calls to Amazon ECR: read a repository with what the spec manages (policies on
//! the schedule `mapping.rs` keeps), create it, apply one change, delete it. I/O only.

use super::mapping::*;
use crate::aws::errors::{AwsError, OrAbsent, from_sdk, required};
use crate::aws::policy;
use aws_sdk_ecr::Client;
use aws_sdk_ecr::types as ecr;

/// Reads the repository and everything the spec manages. `None` when it does not exist.
/// `fresh` (the refresh annotation) reads both policies whatever the schedule says.
pub async fn observe(
    client: &Client,
    d: &DesiredRepository,
    reads: &PolicyReads,
    fresh: bool,
) -> Result<Option<ObservedRepository>, AwsError> {
    let described = client
        .describe_repositories()
        .repository_names(&d.repository_name)
        .set_registry_id(d.registry_id.clone())
        .send()
        .await
        .map_err(|e| from_sdk("DescribeRepositories", e))
        .or_absent()?;
    let Some(repo) = described.and_then(|out| out.repositories?.into_iter().next()) else {
        return Ok(None);
    };
    let read = policies_to_read(reads, &repo, d, fresh);
    let extras = extras_for(client, &repo, read.0, read.1).await?;
    policies_read(reads, &repo, read, &extras);
    Ok(Some(observed_from(
        &repo,
        &extras.tags,
        extras.lifecycle_policy_text.as_deref(),
        extras.repository_policy_text.as_deref(),
    )))
}

/// Tags and the two policy texts of a described repository (three calls).
pub async fn extras(client: &Client, repo: &ecr::Repository) -> Result<RepositoryExtras, AwsError> {
    extras_for(client, repo, true, true).await
}

/// Tags, and the policy texts asked for (a policy not read counts as absent).
pub(super) async fn extras_for(
    client: &Client,
    repo: &ecr::Repository,
    lifecycle: bool,
    repository: bool,
) -> Result<RepositoryExtras, AwsError> {
    let name = repo.repository_name.clone().unwrap_or_default();
    let registry_id = repo.registry_id.clone();
    let tags = client
        .list_tags_for_resource()
        .resource_arn(repo.repository_arn.clone().unwrap_or_default())
        .send()
        .await
        .map_err(|e| from_sdk("ListTagsForResource", e))?
        .tags
        .unwrap_or_default();
    let lifecycle_policy_text = if !lifecycle {
        None
    } else {
        client
            .get_lifecycle_policy()
            .repository_name(&name)
            .set_registry_id(registry_id.clone())
            .send()
            .await
            .map_err(|e| from_sdk("GetLifecyclePolicy", e))
            .or_absent()?
            .and_then(|out| out.lifecycle_policy_text)
    };
    let repository_policy_text = if !repository {
        None
    } else {
        client
            .get_repository_policy()
            .repository_name(&name)
            .set_registry_id(registry_id)
            .send()
            .await
            .map_err(|e| from_sdk("GetRepositoryPolicy", e))
            .or_absent()?
            .and_then(|out| out.policy_text)
    };
    Ok(RepositoryExtras {
        tags,
        lifecycle_policy_text,
        repository_policy_text,
    })
}

/// Creates the repository with everything CreateRepository takes, then the policies.
/// Returns the repository's ARN.
pub async fn create(client: &Client, d: &DesiredRepository) -> Result<String, AwsError> {
    let encryption = ecr::EncryptionConfiguration::builder()
        .encryption_type(ecr::EncryptionType::from(d.encryption_type.as_str()))
        .set_kms_key(d.kms_key.clone())
        .build()
        .map_err(|e| {
            AwsError::terminal(
                "CreateRepository",
                "InvalidEncryptionConfiguration",
                e.to_string(),
            )
        })?;
    let created = client
        .create_repository()
        .repository_name(&d.repository_name)
        .set_registry_id(d.registry_id.clone())
        .image_tag_mutability(ecr::ImageTagMutability::from(
            d.image_tag_mutability.as_str(),
        ))
        .set_image_tag_mutability_exclusion_filters(exclusion_filters(d))
        .image_scanning_configuration(
            ecr::ImageScanningConfiguration::builder()
                .scan_on_push(d.scan_on_push)
                .build(),
        )
        .encryption_configuration(encryption)
        .set_tags((!d.tags.is_empty()).then(|| crate::aws::tags::ecr::to_sdk(&d.tags)))
        .send()
        .await
        .map_err(|e| from_sdk("CreateRepository", e))?;
    if let Some(p) = &d.lifecycle_policy {
        apply(client, d, &Change::PutLifecyclePolicy(p.clone())).await?;
    }
    if let Some(p) = &d.repository_policy {
        apply(client, d, &Change::SetRepositoryPolicy(p.clone())).await?;
    }
    required(
        created.repository.and_then(|r| r.repository_arn),
        "CreateRepository",
        "repository.repositoryArn",
    )
}

/// Applies one change.
pub async fn apply(
    client: &Client,
    d: &DesiredRepository,
    change: &Change,
) -> Result<(), AwsError> {
    let name = d.repository_name.as_str();
    let registry = d.registry_id.clone();
    match change {
        Change::ImageTagMutability => {
            client
                .put_image_tag_mutability()
                .repository_name(name)
                .set_registry_id(registry)
                .image_tag_mutability(ecr::ImageTagMutability::from(
                    d.image_tag_mutability.as_str(),
                ))
                .set_image_tag_mutability_exclusion_filters(exclusion_filters(d))
                .send()
                .await
                .map_err(|e| from_sdk("PutImageTagMutability", e))?;
        }
        Change::ScanOnPush(on) => {
            client
                .put_image_scanning_configuration()
                .repository_name(name)
                .set_registry_id(registry)
                .image_scanning_configuration(
                    ecr::ImageScanningConfiguration::builder()
                        .scan_on_push(*on)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| from_sdk("PutImageScanningConfiguration", e))?;
        }
        Change::PutLifecyclePolicy(p) => {
            client
                .put_lifecycle_policy()
                .repository_name(name)
                .set_registry_id(registry)
                .lifecycle_policy_text(policy::to_text(p))
                .send()
                .await
                .map_err(|e| from_sdk("PutLifecyclePolicy", e))?;
        }
        Change::DeleteLifecyclePolicy => {
            client
                .delete_lifecycle_policy()
                .repository_name(name)
                .set_registry_id(registry)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteLifecyclePolicy", e))?;
        }
        Change::SetRepositoryPolicy(p) => {
            client
                .set_repository_policy()
                .repository_name(name)
                .set_registry_id(registry)
                .policy_text(policy::to_text(p))
                .send()
                .await
                .map_err(|e| from_sdk("SetRepositoryPolicy", e))?;
        }
        Change::DeleteRepositoryPolicy => {
            client
                .delete_repository_policy()
                .repository_name(name)
                .set_registry_id(registry)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteRepositoryPolicy", e))?;
        }
        Change::EncryptionDiffers { desired, observed } => {
            return Err(AwsError::terminal(
                "UpdateRepository",
                "EncryptionImmutable",
                format!(
                    "repository {name} is encrypted with {observed} but the spec asks for {desired}; \
                     ECR cannot change encryption after creation"
                ),
            ));
        }
    }
    Ok(())
}

/// Outcome of a delete attempt.
#[derive(Debug, PartialEq)]
pub enum Deleted {
    Yes,
    /// The repository still holds images and forceDelete is false.
    NotEmpty(String),
}

/// Deletes the repository; with forceDelete false a non-empty repository is left alone.
pub async fn delete(client: &Client, d: &DesiredRepository) -> Result<Deleted, AwsError> {
    let result = client
        .delete_repository()
        .repository_name(&d.repository_name)
        .set_registry_id(d.registry_id.clone())
        .force(d.force_delete)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteRepository", e));
    match result {
        Ok(_) => Ok(Deleted::Yes),
        Err(e) if e.is_not_found() => Ok(Deleted::Yes),
        Err(e) if e.is("RepositoryNotEmptyException") => Ok(Deleted::NotEmpty(e.message)),
        Err(e) => Err(e),
    }
}

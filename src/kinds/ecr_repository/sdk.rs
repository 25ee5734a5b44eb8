//! EcrRepository's calls to Amazon ECR: read a repository with what the spec manages (policies on
//! the schedule `mapping.rs` keeps), create it, apply one change, delete it. I/O only.

use super::mapping::*;
use crate::aws::errors::{AwsError, OrAbsent, from_sdk, required};
use crate::aws::policy;
use aws_sdk_ecr::Client;
use aws_sdk_ecr::types as ecr;

/// Describes one repository by name; `None` when it does not exist.
pub async fn describe(
    client: &Client,
    d: &DesiredRepository,
) -> Result<Option<ecr::Repository>, AwsError> {
    let described = client
        .describe_repositories()
        .repository_names(&d.repository_name)
        .set_registry_id(d.registry_id.clone())
        .send()
        .await
        .map_err(|e| from_sdk("DescribeRepositories", e))
        .or_absent()?;
    Ok(described.and_then(|out| out.repositories?.into_iter().next()))
}

/// Every repository of the registry (1,000 per call) and the pages it took, or `None` when
/// there are more than `max_pages` pages.
pub async fn list(
    client: &Client,
    registry_id: Option<&str>,
    max_pages: usize,
) -> Result<Option<(Vec<ecr::Repository>, usize)>, AwsError> {
    let mut pages = client
        .describe_repositories()
        .set_registry_id(registry_id.map(str::to_string))
        .max_results(1000)
        .into_paginator()
        .send();
    let mut repos = Vec::new();
    for n in 1..=max_pages {
        let Some(page) = pages.next().await else {
            return Ok(Some((repos, n.saturating_sub(1).max(1))));
        };
        let page = page.map_err(|e| from_sdk("DescribeRepositories", e))?;
        let last = page.next_token.is_none();
        repos.extend(page.repositories.unwrap_or_default());
        if last {
            return Ok(Some((repos, n)));
        }
    }
    Ok(None)
}

/// Tags and the two policy texts of a described repository (three calls).
pub async fn extras(client: &Client, repo: &ecr::Repository) -> Result<RepositoryExtras, AwsError> {
    let all = ExtrasDue {
        tags: true,
        lifecycle: true,
        repository: true,
    };
    extras_for(client, repo, all).await
}

/// The extras asked for (one not read counts as absent).
pub(super) async fn extras_for(
    client: &Client,
    repo: &ecr::Repository,
    due: ExtrasDue,
) -> Result<RepositoryExtras, AwsError> {
    const OP: &str = "DescribeRepositories";
    let name = required(repo.repository_name.clone(), OP, "repositoryName")?;
    let registry_id = repo.registry_id.clone();
    let tags = if !due.tags {
        Vec::new()
    } else {
        client
            .list_tags_for_resource()
            .resource_arn(required(repo.repository_arn.clone(), OP, "repositoryArn")?)
            .send()
            .await
            .map_err(|e| from_sdk("ListTagsForResource", e))?
            .tags
            .unwrap_or_default()
    };
    let lifecycle_policy_text = if !due.lifecycle {
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
    let repository_policy_text = if !due.repository {
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

/// Creates the repository with everything CreateRepository takes (tags included), then the
/// policies. Returns the repository as CreateRepository answered it.
pub async fn create(client: &Client, d: &DesiredRepository) -> Result<ecr::Repository, AwsError> {
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
    let repo = required(created.repository, "CreateRepository", "repository")?;
    required(
        repo.repository_arn.clone(),
        "CreateRepository",
        "repository.repositoryArn",
    )?;
    Ok(repo)
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

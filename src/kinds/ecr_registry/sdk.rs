//! EcrRegistry's calls to Amazon ECR: read the registry's settings, apply one change, reset a
//! section. I/O only; the comparison and the requests are built in `mapping.rs`.

use super::mapping::*;
use crate::api::ecr_registry::*;
use crate::aws::AwsError;
use crate::aws::errors::{OrAbsent, from_sdk, required};
use crate::aws::policy;
use aws_sdk_ecr::Client;
use aws_sdk_ecr::types as ecr;
use serde_json::Value;

/// Reads the registry and the sections `d` manages.
pub async fn observe(client: &Client, d: &DesiredRegistry) -> Result<ObservedRegistry, AwsError> {
    let registry = client
        .describe_registry()
        .send()
        .await
        .map_err(|e| from_sdk("DescribeRegistry", e))?;
    let mut o = ObservedRegistry {
        registry_id: required(registry.registry_id(), "DescribeRegistry", "registryId")?
            .to_string(),
        ..Default::default()
    };
    if d.replication.is_some() {
        o.replication = Some(
            registry
                .replication_configuration()
                .map(replication_from_sdk)
                .unwrap_or_default(),
        );
    }
    if d.scanning.is_some() {
        let out = client
            .get_registry_scanning_configuration()
            .send()
            .await
            .map_err(|e| from_sdk("GetRegistryScanningConfiguration", e))?;
        o.scanning = out.scanning_configuration().map(scanning_from_sdk);
    }
    if d.policy.is_some() {
        o.policy = Some(registry_policy(client).await?);
    }
    if d.cache_rules.is_some() {
        let rules: Vec<_> = client
            .describe_pull_through_cache_rules()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(|e| from_sdk("DescribePullThroughCacheRules", e))?;
        o.cache_rules = Some(rules.iter().map(cache_rule_from_sdk).collect());
    }
    if d.templates.is_some() {
        let templates: Vec<_> = client
            .describe_repository_creation_templates()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(|e| from_sdk("DescribeRepositoryCreationTemplates", e))?;
        o.templates = Some(templates.iter().map(template_from_sdk).collect());
    }
    Ok(o)
}

pub(super) async fn registry_policy(client: &Client) -> Result<Option<Value>, AwsError> {
    Ok(client
        .get_registry_policy()
        .send()
        .await
        .map_err(|e| from_sdk("GetRegistryPolicy", e))
        .or_absent()?
        .and_then(|out| out.policy_text().map(policy::normalize_text)))
}

/// Applies one change.
pub async fn apply(client: &Client, change: &Change) -> Result<(), AwsError> {
    match change {
        Change::PutReplication(r) => put_replication(client, r).await,
        Change::PutScanning(s) => put_scanning(client, s).await,
        Change::PutPolicy(p) => {
            client
                .put_registry_policy()
                .policy_text(policy::to_text(p))
                .send()
                .await
                .map_err(|e| from_sdk("PutRegistryPolicy", e))?;
            Ok(())
        }
        Change::CreateCacheRule(r) => {
            create_cache_rule_request(client, r)
                .send()
                .await
                .map_err(|e| from_sdk("CreatePullThroughCacheRule", e))?;
            Ok(())
        }
        Change::UpdateCacheRule(r) => {
            update_cache_rule_request(client, r)
                .send()
                .await
                .map_err(|e| from_sdk("UpdatePullThroughCacheRule", e))?;
            Ok(())
        }
        Change::ReplaceCacheRule(r) => {
            delete_cache_rule(client, &r.ecr_repository_prefix).await?;
            create_cache_rule_request(client, r)
                .send()
                .await
                .map_err(|e| from_sdk("CreatePullThroughCacheRule", e))?;
            Ok(())
        }
        Change::DeleteCacheRule(prefix) => delete_cache_rule(client, prefix).await,
        Change::CreateTemplate(t) => {
            create_template_request(client, t)
                .send()
                .await
                .map_err(|e| from_sdk("CreateRepositoryCreationTemplate", e))?;
            Ok(())
        }
        Change::UpdateTemplate(t) => {
            update_template_request(client, t)
                .send()
                .await
                .map_err(|e| from_sdk("UpdateRepositoryCreationTemplate", e))?;
            Ok(())
        }
        Change::DeleteTemplate(prefix) => delete_template(client, prefix).await,
    }
}

pub(super) async fn put_replication(
    client: &Client,
    r: &ReplicationConfiguration,
) -> Result<(), AwsError> {
    client
        .put_replication_configuration()
        .replication_configuration(replication_to_sdk(r)?)
        .send()
        .await
        .map_err(|e| from_sdk("PutReplicationConfiguration", e))?;
    Ok(())
}

pub(super) async fn put_scanning(
    client: &Client,
    s: &RegistryScanningConfiguration,
) -> Result<(), AwsError> {
    client
        .put_registry_scanning_configuration()
        .scan_type(ecr::ScanType::from(s.scan_type.as_str()))
        .set_rules(Some(scanning_rules_to_sdk(s)?))
        .send()
        .await
        .map_err(|e| from_sdk("PutRegistryScanningConfiguration", e))?;
    Ok(())
}

pub(super) async fn delete_cache_rule(client: &Client, prefix: &str) -> Result<(), AwsError> {
    client
        .delete_pull_through_cache_rule()
        .ecr_repository_prefix(prefix)
        .send()
        .await
        .map_err(|e| from_sdk("DeletePullThroughCacheRule", e))
        .or_absent()?;
    Ok(())
}

pub(super) async fn delete_template(client: &Client, prefix: &str) -> Result<(), AwsError> {
    client
        .delete_repository_creation_template()
        .prefix(prefix)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteRepositoryCreationTemplate", e))
        .or_absent()?;
    Ok(())
}

/// ECR's defaults for the sections `d` manages: no replication rule, BASIC scanning without
/// rules, no registry policy, and none of the spec's cache rules and templates.
pub async fn reset(client: &Client, d: &DesiredRegistry) -> Result<(), AwsError> {
    if d.replication.is_some() {
        put_replication(client, &ReplicationConfiguration::default()).await?;
    }
    if d.scanning.is_some() {
        let basic = RegistryScanningConfiguration {
            scan_type: ScanType::Basic,
            rules: None,
        };
        put_scanning(client, &basic).await?;
    }
    if d.policy.is_some() {
        client
            .delete_registry_policy()
            .send()
            .await
            .map_err(|e| from_sdk("DeleteRegistryPolicy", e))
            .or_absent()?;
    }
    for r in d.cache_rules.iter().flatten() {
        delete_cache_rule(client, &r.ecr_repository_prefix).await?;
    }
    for t in d.templates.iter().flatten() {
        delete_template(client, &t.prefix).await?;
    }
    Ok(())
}

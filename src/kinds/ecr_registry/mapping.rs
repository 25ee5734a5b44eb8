//! Registry-level ECR settings: spec <-> SDK mapping and the calls. aws-sdk-ecr has no serde
//! for its types, so the mapping is written out here; it is small and pure (requests are built
//! on a fluent builder without sending, so the tests read them back with `as_input`).

use std::collections::BTreeMap;

use aws_sdk_ecr::Client;
use aws_sdk_ecr::types as ecr;
use serde_json::Value;

use crate::api::common::AwsEnum;
use crate::api::ecr_registry::*;
use crate::api::ecr_repository::{
    EncryptionType, ExclusionFilterType, ImageTagMutability, ImageTagMutabilityExclusionFilter, Tag,
};
use crate::aws::AwsError;
use crate::aws::policy;

/// The sections the spec manages (`None`: not managed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DesiredRegistry {
    pub replication: Option<ReplicationConfiguration>,
    pub scanning: Option<RegistryScanningConfiguration>,
    pub policy: Option<Value>,
    pub cache_rules: Option<Vec<PullThroughCacheRule>>,
    pub templates: Option<Vec<RepositoryCreationTemplate>>,
}

pub fn desired(spec: &EcrRegistrySpec) -> DesiredRegistry {
    DesiredRegistry {
        replication: spec.replication_configuration.clone(),
        scanning: spec.scanning_configuration.clone(),
        policy: spec.registry_policy.clone(),
        cache_rules: spec.pull_through_cache_rules.clone(),
        templates: spec.repository_creation_templates.clone(),
    }
}

/// What ECR holds, for the sections the spec manages (others are not read).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedRegistry {
    pub registry_id: String,
    pub replication: Option<ReplicationConfiguration>,
    pub scanning: Option<RegistryScanningConfiguration>,
    /// `Some(None)`: managed, and no policy is set.
    pub policy: Option<Option<Value>>,
    pub cache_rules: Option<Vec<PullThroughCacheRule>>,
    pub templates: Option<Vec<RepositoryCreationTemplate>>,
    /// Registry settings carry no tags: the wiring fills in the owner's identity tags.
    pub owner_tags: BTreeMap<String, String>,
}

/// One change to the registry.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    PutReplication(ReplicationConfiguration),
    PutScanning(RegistryScanningConfiguration),
    PutPolicy(Value),
    CreateCacheRule(PullThroughCacheRule),
    /// Credential or role changed: UpdatePullThroughCacheRule.
    UpdateCacheRule(PullThroughCacheRule),
    /// Upstream changed, which ECR cannot update: delete and create.
    ReplaceCacheRule(PullThroughCacheRule),
    DeleteCacheRule(String),
    CreateTemplate(RepositoryCreationTemplate),
    UpdateTemplate(RepositoryCreationTemplate),
    DeleteTemplate(String),
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Change::PutReplication(r) => format!("replication ({} rules)", r.rules.len()),
            Change::PutScanning(s) => format!("scanning ({})", s.scan_type.as_str()),
            Change::PutPolicy(_) => "registry policy".into(),
            Change::CreateCacheRule(r) => {
                format!("create pull-through cache rule {}", r.ecr_repository_prefix)
            }
            Change::UpdateCacheRule(r) => {
                format!("update pull-through cache rule {}", r.ecr_repository_prefix)
            }
            Change::ReplaceCacheRule(r) => format!(
                "replace pull-through cache rule {}",
                r.ecr_repository_prefix
            ),
            Change::DeleteCacheRule(p) => format!("delete pull-through cache rule {p}"),
            Change::CreateTemplate(t) => {
                format!("create repository creation template {}", t.prefix)
            }
            Change::UpdateTemplate(t) => {
                format!("update repository creation template {}", t.prefix)
            }
            Change::DeleteTemplate(p) => format!("delete repository creation template {p}"),
        }
    }
}

// ---- comparison (pure) ----

pub(super) fn canonical_replication(r: &ReplicationConfiguration) -> ReplicationConfiguration {
    ReplicationConfiguration {
        rules: r
            .rules
            .iter()
            .map(|rule| ReplicationRule {
                destinations: rule.destinations.clone(),
                repository_filters: rule.repository_filters.clone().filter(|f| !f.is_empty()),
            })
            .collect(),
    }
}

pub(super) fn canonical_scanning(
    s: &RegistryScanningConfiguration,
) -> RegistryScanningConfiguration {
    RegistryScanningConfiguration {
        scan_type: s.scan_type.clone(),
        rules: s.rules.clone().filter(|r| !r.is_empty()),
    }
}

/// A template in a form where equal meaning compares equal (defaults filled in, sets sorted,
/// policies normalised).
pub(super) fn canonical_template(t: &RepositoryCreationTemplate) -> Value {
    let mut tags: Vec<(String, String)> = t
        .resource_tags
        .iter()
        .flatten()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    tags.sort();
    let mut applied: Vec<&str> = t.applied_for.iter().map(|a| a.as_str()).collect();
    applied.sort();
    applied.dedup();
    let mut filters: Vec<String> = t
        .image_tag_mutability_exclusion_filters
        .iter()
        .flatten()
        .map(|f| f.filter.clone())
        .collect();
    filters.sort();
    let encryption = t
        .encryption_configuration
        .as_ref()
        .map(|e| (e.encryption_type.as_str(), e.kms_key.clone()))
        .unwrap_or(("AES256", None));
    serde_json::json!({
        "description": t.description.clone().unwrap_or_default(),
        "appliedFor": applied,
        "encryption": [encryption.0, encryption.1],
        "tags": tags,
        "mutability": t.image_tag_mutability.as_ref().unwrap_or(&ImageTagMutability::Mutable).as_str(),
        "filters": filters,
        "repositoryPolicy": t.repository_policy.as_ref().map(policy::normalize),
        "lifecyclePolicy": t.lifecycle_policy.as_ref().map(policy::normalize),
        "customRoleArn": t.custom_role_arn.clone().unwrap_or_default(),
    })
}

/// What must change for ECR to match the managed sections.
pub fn diff(d: &DesiredRegistry, o: &ObservedRegistry) -> Vec<Change> {
    let mut changes = Vec::new();
    if let Some(want) = &d.replication {
        let have = o.replication.clone().unwrap_or_default();
        if canonical_replication(want) != canonical_replication(&have) {
            changes.push(Change::PutReplication(want.clone()));
        }
    }
    if let Some(want) = &d.scanning {
        let same = o
            .scanning
            .as_ref()
            .is_some_and(|have| canonical_scanning(want) == canonical_scanning(have));
        if !same {
            changes.push(Change::PutScanning(want.clone()));
        }
    }
    if let Some(want) = &d.policy {
        let same = o
            .policy
            .as_ref()
            .and_then(Option::as_ref)
            .is_some_and(|have| policy::equivalent(want, have));
        if !same {
            changes.push(Change::PutPolicy(want.clone()));
        }
    }
    if let Some(want) = &d.cache_rules {
        let have = o.cache_rules.clone().unwrap_or_default();
        for rule in want {
            match have
                .iter()
                .find(|h| h.ecr_repository_prefix == rule.ecr_repository_prefix)
            {
                None => changes.push(Change::CreateCacheRule(rule.clone())),
                Some(h) => {
                    let upstream_differs = h.upstream_registry_url != rule.upstream_registry_url
                        || h.upstream_repository_prefix.as_deref().unwrap_or_default()
                            != rule
                                .upstream_repository_prefix
                                .as_deref()
                                .unwrap_or_default()
                        || (rule.upstream_registry.is_some()
                            && h.upstream_registry != rule.upstream_registry);
                    if upstream_differs {
                        changes.push(Change::ReplaceCacheRule(rule.clone()));
                    } else if h.credential_arn != rule.credential_arn
                        || h.custom_role_arn != rule.custom_role_arn
                    {
                        changes.push(Change::UpdateCacheRule(rule.clone()));
                    }
                }
            }
        }
        for h in &have {
            if !want
                .iter()
                .any(|w| w.ecr_repository_prefix == h.ecr_repository_prefix)
            {
                changes.push(Change::DeleteCacheRule(h.ecr_repository_prefix.clone()));
            }
        }
    }
    if let Some(want) = &d.templates {
        let have = o.templates.clone().unwrap_or_default();
        for t in want {
            match have.iter().find(|h| h.prefix == t.prefix) {
                None => changes.push(Change::CreateTemplate(t.clone())),
                Some(h) if canonical_template(h) != canonical_template(t) => {
                    changes.push(Change::UpdateTemplate(t.clone()))
                }
                Some(_) => {}
            }
        }
        for h in &have {
            if !want.iter().any(|w| w.prefix == h.prefix) {
                changes.push(Change::DeleteTemplate(h.prefix.clone()));
            }
        }
    }
    changes
}

// ---- spec -> SDK (pure) ----

pub fn replication_to_sdk(
    r: &ReplicationConfiguration,
) -> Result<ecr::ReplicationConfiguration, AwsError> {
    let mut rules = Vec::new();
    for rule in &r.rules {
        let mut destinations = Vec::new();
        for d in &rule.destinations {
            destinations.push(
                ecr::ReplicationDestination::builder()
                    .region(&d.region)
                    .registry_id(&d.registry_id)
                    .build()
                    .map_err(build_error)?,
            );
        }
        let filters = match &rule.repository_filters {
            Some(fs) => {
                let mut out = Vec::new();
                for f in fs {
                    out.push(
                        ecr::RepositoryFilter::builder()
                            .filter(&f.filter)
                            .filter_type(ecr::RepositoryFilterType::PrefixMatch)
                            .build()
                            .map_err(build_error)?,
                    );
                }
                Some(out)
            }
            None => None,
        };
        rules.push(
            ecr::ReplicationRule::builder()
                .set_destinations(Some(destinations))
                .set_repository_filters(filters)
                .build()
                .map_err(build_error)?,
        );
    }
    ecr::ReplicationConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(build_error)
}

pub fn scanning_rules_to_sdk(
    s: &RegistryScanningConfiguration,
) -> Result<Vec<ecr::RegistryScanningRule>, AwsError> {
    let mut rules = Vec::new();
    for rule in s.rules.iter().flatten() {
        let mut filters = Vec::new();
        for f in &rule.repository_filters {
            filters.push(
                ecr::ScanningRepositoryFilter::builder()
                    .filter(&f.filter)
                    .filter_type(ecr::ScanningRepositoryFilterType::Wildcard)
                    .build()
                    .map_err(build_error)?,
            );
        }
        rules.push(
            ecr::RegistryScanningRule::builder()
                .scan_frequency(ecr::ScanFrequency::from(rule.scan_frequency.as_str()))
                .set_repository_filters(Some(filters))
                .build()
                .map_err(build_error)?,
        );
    }
    Ok(rules)
}

pub(super) fn build_error(e: aws_sdk_ecr::error::BuildError) -> AwsError {
    AwsError::terminal("BuildRequest", "InvalidSpec", e.to_string())
}

pub(super) fn tags_to_sdk(tags: &Option<Vec<Tag>>) -> Option<Vec<ecr::Tag>> {
    tags.as_ref().map(|ts| {
        ts.iter()
            .filter_map(|t| ecr::Tag::builder().key(&t.key).value(&t.value).build().ok())
            .collect()
    })
}

pub(super) fn filters_to_sdk(
    fs: &Option<Vec<ImageTagMutabilityExclusionFilter>>,
) -> Option<Vec<ecr::ImageTagMutabilityExclusionFilter>> {
    fs.as_ref().map(|fs| {
        fs.iter()
            .filter_map(|f| {
                ecr::ImageTagMutabilityExclusionFilter::builder()
                    .filter_type(ecr::ImageTagMutabilityExclusionFilterType::Wildcard)
                    .filter(&f.filter)
                    .build()
                    .ok()
            })
            .collect()
    })
}

pub(super) fn template_encryption(
    t: &RepositoryCreationTemplate,
) -> Option<ecr::EncryptionConfigurationForRepositoryCreationTemplate> {
    t.encryption_configuration.as_ref().and_then(|e| {
        ecr::EncryptionConfigurationForRepositoryCreationTemplate::builder()
            .encryption_type(ecr::EncryptionType::from(e.encryption_type.as_str()))
            .set_kms_key(e.kms_key.clone())
            .build()
            .ok()
    })
}

pub(super) fn applied_for(t: &RepositoryCreationTemplate) -> Vec<ecr::RctAppliedFor> {
    t.applied_for
        .iter()
        .map(|a| ecr::RctAppliedFor::from(a.as_str()))
        .collect()
}

/// CreatePullThroughCacheRule for a rule, not sent.
pub fn create_cache_rule_request(
    client: &Client,
    r: &PullThroughCacheRule,
) -> aws_sdk_ecr::operation::create_pull_through_cache_rule::builders::CreatePullThroughCacheRuleFluentBuilder{
    client
        .create_pull_through_cache_rule()
        .ecr_repository_prefix(&r.ecr_repository_prefix)
        .upstream_registry_url(&r.upstream_registry_url)
        .set_upstream_registry(
            r.upstream_registry
                .as_deref()
                .map(ecr::UpstreamRegistry::from),
        )
        .set_credential_arn(r.credential_arn.clone())
        .set_custom_role_arn(r.custom_role_arn.clone())
        .set_upstream_repository_prefix(r.upstream_repository_prefix.clone())
}

/// UpdatePullThroughCacheRule for a rule, not sent.
pub fn update_cache_rule_request(
    client: &Client,
    r: &PullThroughCacheRule,
) -> aws_sdk_ecr::operation::update_pull_through_cache_rule::builders::UpdatePullThroughCacheRuleFluentBuilder{
    client
        .update_pull_through_cache_rule()
        .ecr_repository_prefix(&r.ecr_repository_prefix)
        .set_credential_arn(r.credential_arn.clone())
        .set_custom_role_arn(r.custom_role_arn.clone())
}

/// CreateRepositoryCreationTemplate for a template, not sent.
pub fn create_template_request(
    client: &Client,
    t: &RepositoryCreationTemplate,
) -> aws_sdk_ecr::operation::create_repository_creation_template::builders::CreateRepositoryCreationTemplateFluentBuilder{
    client
        .create_repository_creation_template()
        .prefix(&t.prefix)
        .set_description(t.description.clone())
        .set_encryption_configuration(template_encryption(t))
        .set_resource_tags(tags_to_sdk(&t.resource_tags))
        .set_image_tag_mutability(
            t.image_tag_mutability
                .as_ref()
                .map(|m| ecr::ImageTagMutability::from(m.as_str())),
        )
        .set_image_tag_mutability_exclusion_filters(filters_to_sdk(
            &t.image_tag_mutability_exclusion_filters,
        ))
        .set_repository_policy(t.repository_policy.as_ref().map(policy::to_text))
        .set_lifecycle_policy(t.lifecycle_policy.as_ref().map(policy::to_text))
        .set_applied_for(Some(applied_for(t)))
        .set_custom_role_arn(t.custom_role_arn.clone())
}

/// UpdateRepositoryCreationTemplate for a template, not sent. Every field is sent, so one left
/// out of the spec goes back to ECR's default.
pub fn update_template_request(
    client: &Client,
    t: &RepositoryCreationTemplate,
) -> aws_sdk_ecr::operation::update_repository_creation_template::builders::UpdateRepositoryCreationTemplateFluentBuilder{
    client
        .update_repository_creation_template()
        .prefix(&t.prefix)
        .description(t.description.clone().unwrap_or_default())
        .set_encryption_configuration(template_encryption(t))
        .set_resource_tags(Some(tags_to_sdk(&t.resource_tags).unwrap_or_default()))
        .image_tag_mutability(ecr::ImageTagMutability::from(
            t.image_tag_mutability
                .as_ref()
                .unwrap_or(&ImageTagMutability::Mutable)
                .as_str(),
        ))
        .set_image_tag_mutability_exclusion_filters(filters_to_sdk(
            &t.image_tag_mutability_exclusion_filters,
        ))
        .set_repository_policy(t.repository_policy.as_ref().map(policy::to_text))
        .set_lifecycle_policy(t.lifecycle_policy.as_ref().map(policy::to_text))
        .set_applied_for(Some(applied_for(t)))
        .set_custom_role_arn(t.custom_role_arn.clone())
}

// ---- SDK -> observed (pure) ----

pub fn replication_from_sdk(r: &ecr::ReplicationConfiguration) -> ReplicationConfiguration {
    ReplicationConfiguration {
        rules: r
            .rules()
            .iter()
            .map(|rule| ReplicationRule {
                destinations: rule
                    .destinations()
                    .iter()
                    .map(|d| ReplicationDestination {
                        region: d.region().to_string(),
                        registry_id: d.registry_id().to_string(),
                    })
                    .collect(),
                repository_filters: rule.repository_filters.as_ref().map(|fs| {
                    fs.iter()
                        .map(|f| RepositoryFilter {
                            filter: f.filter().to_string(),
                            filter_type: ReplicationFilterType::PrefixMatch,
                        })
                        .collect()
                }),
            })
            .collect(),
    }
}

pub fn scanning_from_sdk(s: &ecr::RegistryScanningConfiguration) -> RegistryScanningConfiguration {
    let scan_type = s
        .scan_type()
        .and_then(|t| ScanType::from_aws(t.as_str()))
        .unwrap_or(ScanType::Basic);
    let rules: Vec<RegistryScanningRule> = s
        .rules()
        .iter()
        .map(|r| RegistryScanningRule {
            scan_frequency: ScanFrequency::from_aws(r.scan_frequency().as_str())
                .unwrap_or(ScanFrequency::Manual),
            repository_filters: r
                .repository_filters()
                .iter()
                .map(|f| ScanningRepositoryFilter {
                    filter: f.filter().to_string(),
                    filter_type: ScanningFilterType::Wildcard,
                })
                .collect(),
        })
        .collect();
    RegistryScanningConfiguration {
        scan_type,
        rules: Some(rules),
    }
}

pub fn cache_rule_from_sdk(r: &ecr::PullThroughCacheRule) -> PullThroughCacheRule {
    PullThroughCacheRule {
        ecr_repository_prefix: r.ecr_repository_prefix().unwrap_or_default().to_string(),
        upstream_registry_url: r.upstream_registry_url().unwrap_or_default().to_string(),
        upstream_registry: r.upstream_registry().map(|u| u.as_str().to_string()),
        credential_arn: r.credential_arn().map(str::to_string),
        custom_role_arn: r.custom_role_arn().map(str::to_string),
        upstream_repository_prefix: r.upstream_repository_prefix().map(str::to_string),
    }
}

pub fn template_from_sdk(t: &ecr::RepositoryCreationTemplate) -> RepositoryCreationTemplate {
    let applied_for = t
        .applied_for()
        .iter()
        .filter_map(|a| AppliedFor::from_aws(a.as_str()))
        .collect();
    let mutability = t
        .image_tag_mutability()
        .and_then(|m| ImageTagMutability::from_aws(m.as_str()));
    let encryption = t
        .encryption_configuration()
        .map(|e| TemplateEncryptionConfiguration {
            encryption_type: EncryptionType::from_aws(e.encryption_type().as_str())
                .unwrap_or(EncryptionType::Aes256),
            kms_key: e.kms_key().map(str::to_string),
        });
    RepositoryCreationTemplate {
        prefix: t.prefix().unwrap_or_default().to_string(),
        description: t
            .description()
            .map(str::to_string)
            .filter(|d| !d.is_empty()),
        applied_for,
        encryption_configuration: encryption,
        resource_tags: Some(
            t.resource_tags()
                .iter()
                .map(|t| Tag {
                    key: t.key().to_string(),
                    value: t.value().to_string(),
                })
                .collect(),
        ),
        image_tag_mutability: mutability,
        image_tag_mutability_exclusion_filters: Some(
            t.image_tag_mutability_exclusion_filters()
                .iter()
                .map(|f| ImageTagMutabilityExclusionFilter {
                    filter_type: ExclusionFilterType::Wildcard,
                    filter: f.filter().to_string(),
                })
                .collect(),
        ),
        repository_policy: t.repository_policy().map(policy::normalize_text),
        lifecycle_policy: t.lifecycle_policy().map(policy::normalize_text),
        custom_role_arn: t
            .custom_role_arn()
            .map(str::to_string)
            .filter(|r| !r.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client() -> Client {
        let conf = aws_sdk_ecr::Config::builder()
            .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
            .region(aws_sdk_ecr::config::Region::new("us-east-1"))
            .build();
        Client::from_conf(conf)
    }

    fn rule(prefix: &str, url: &str) -> PullThroughCacheRule {
        PullThroughCacheRule {
            ecr_repository_prefix: prefix.into(),
            upstream_registry_url: url.into(),
            ..Default::default()
        }
    }

    fn template(prefix: &str) -> RepositoryCreationTemplate {
        RepositoryCreationTemplate {
            prefix: prefix.into(),
            applied_for: vec![AppliedFor::PullThroughCache],
            ..Default::default()
        }
    }

    fn replication(filters: Option<Vec<RepositoryFilter>>) -> ReplicationConfiguration {
        ReplicationConfiguration {
            rules: vec![ReplicationRule {
                destinations: vec![ReplicationDestination {
                    region: "eu-west-1".into(),
                    registry_id: "123456789012".into(),
                }],
                repository_filters: filters,
            }],
        }
    }

    #[test]
    fn replication_round_trips_through_the_sdk_types() {
        let filters = Some(vec![RepositoryFilter {
            filter: "prod".into(),
            filter_type: ReplicationFilterType::PrefixMatch,
        }]);
        for r in [
            replication(None),
            replication(filters),
            ReplicationConfiguration::default(),
        ] {
            let sdk = replication_to_sdk(&r).expect("builds");
            assert_eq!(replication_from_sdk(&sdk), r);
        }
    }

    #[test]
    fn scanning_rules_map_frequency_and_filters() {
        let s = RegistryScanningConfiguration {
            scan_type: ScanType::Enhanced,
            rules: Some(vec![RegistryScanningRule {
                scan_frequency: ScanFrequency::ContinuousScan,
                repository_filters: vec![ScanningRepositoryFilter {
                    filter: "prod-*".into(),
                    filter_type: ScanningFilterType::Wildcard,
                }],
            }]),
        };
        let rules = scanning_rules_to_sdk(&s).expect("builds");
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].scan_frequency(),
            &ecr::ScanFrequency::ContinuousScan
        );
        assert_eq!(rules[0].repository_filters()[0].filter(), "prod-*");
        let sdk = ecr::RegistryScanningConfiguration::builder()
            .scan_type(ecr::ScanType::Enhanced)
            .set_rules(Some(rules))
            .build();
        assert_eq!(scanning_from_sdk(&sdk), s);
    }

    #[test]
    fn cache_rule_requests_carry_every_field() {
        let r = PullThroughCacheRule {
            ecr_repository_prefix: "ecr-up".into(),
            upstream_registry_url: "111122223333.dkr.ecr.eu-west-1.amazonaws.com".into(),
            upstream_registry: Some("ecr".into()),
            credential_arn: None,
            custom_role_arn: Some("arn:aws:iam::123456789012:role/pull".into()),
            upstream_repository_prefix: Some("team".into()),
        };
        let c = client();
        let create = create_cache_rule_request(&c, &r);
        let input = create.as_input();
        assert_eq!(input.get_ecr_repository_prefix().as_deref(), Some("ecr-up"));
        assert_eq!(
            input.get_upstream_registry_url().as_deref(),
            Some("111122223333.dkr.ecr.eu-west-1.amazonaws.com")
        );
        assert_eq!(
            input.get_upstream_registry(),
            &Some(ecr::UpstreamRegistry::Ecr)
        );
        assert_eq!(input.get_credential_arn(), &None);
        assert_eq!(
            input.get_custom_role_arn().as_deref(),
            Some("arn:aws:iam::123456789012:role/pull")
        );
        assert_eq!(
            input.get_upstream_repository_prefix().as_deref(),
            Some("team")
        );
        let update = update_cache_rule_request(&c, &r);
        let input = update.as_input();
        assert_eq!(input.get_ecr_repository_prefix().as_deref(), Some("ecr-up"));
        assert_eq!(
            input.get_custom_role_arn().as_deref(),
            Some("arn:aws:iam::123456789012:role/pull")
        );
    }

    #[test]
    fn template_requests_carry_every_field_and_update_resets_omitted_ones() {
        let t = RepositoryCreationTemplate {
            prefix: "team-a".into(),
            description: Some("team A".into()),
            applied_for: vec![AppliedFor::CreateOnPush, AppliedFor::Replication],
            encryption_configuration: Some(TemplateEncryptionConfiguration {
                encryption_type: EncryptionType::Kms,
                kms_key: Some("arn:aws:kms:us-east-1:123456789012:key/k".into()),
            }),
            resource_tags: Some(vec![Tag {
                key: "team".into(),
                value: "a".into(),
            }]),
            image_tag_mutability: Some(ImageTagMutability::Immutable),
            image_tag_mutability_exclusion_filters: None,
            repository_policy: Some(json!({"Version": "2012-10-17", "Statement": []})),
            lifecycle_policy: Some(json!({"rules": []})),
            custom_role_arn: Some("arn:aws:iam::123456789012:role/rct".into()),
        };
        let c = client();
        let create = create_template_request(&c, &t);
        let input = create.as_input();
        assert_eq!(input.get_prefix().as_deref(), Some("team-a"));
        assert_eq!(input.get_description().as_deref(), Some("team A"));
        assert_eq!(
            input.get_applied_for(),
            &Some(vec![
                ecr::RctAppliedFor::CreateOnPush,
                ecr::RctAppliedFor::Replication
            ])
        );
        let enc = input
            .get_encryption_configuration()
            .clone()
            .expect("encryption");
        assert_eq!(enc.encryption_type(), &ecr::EncryptionType::Kms);
        assert_eq!(input.get_resource_tags().as_ref().map(Vec::len), Some(1));
        assert_eq!(
            input.get_image_tag_mutability(),
            &Some(ecr::ImageTagMutability::Immutable)
        );
        let policy_text = input.get_repository_policy().clone().expect("policy");
        assert!(policy::equivalent(
            &serde_json::from_str(&policy_text).expect("json"),
            t.repository_policy.as_ref().expect("set")
        ));
        assert_eq!(
            input.get_lifecycle_policy().as_deref(),
            Some(r#"{"rules":[]}"#)
        );
        assert_eq!(
            input.get_custom_role_arn().as_deref(),
            Some("arn:aws:iam::123456789012:role/rct")
        );
        // Update sends the defaults for what the spec leaves out.
        let bare = template("team-b");
        let update = update_template_request(&c, &bare);
        let input = update.as_input();
        assert_eq!(input.get_description().as_deref(), Some(""));
        assert_eq!(
            input.get_image_tag_mutability(),
            &Some(ecr::ImageTagMutability::Mutable)
        );
        assert_eq!(input.get_resource_tags(), &Some(vec![]));
    }

    #[test]
    fn template_round_trip_compares_equal() {
        let c = client();
        let t = RepositoryCreationTemplate {
            description: Some("d".into()),
            repository_policy: Some(
                json!({"Statement": [{"Effect": "Allow", "Action": ["ecr:BatchGetImage"], "Principal": "*"}]}),
            ),
            ..template("p")
        };
        let input = create_template_request(&c, &t);
        let i = input.as_input();
        let sdk = ecr::RepositoryCreationTemplate::builder()
            .set_prefix(i.get_prefix().clone())
            .set_description(i.get_description().clone())
            .set_applied_for(i.get_applied_for().clone())
            .set_repository_policy(Some(
                r#"{"Statement":[{"Principal":"*","Action":"ecr:BatchGetImage","Effect":"Allow"}]}"#.into(),
            ))
            .image_tag_mutability(ecr::ImageTagMutability::Mutable)
            .encryption_configuration(
                ecr::EncryptionConfigurationForRepositoryCreationTemplate::builder()
                    .encryption_type(ecr::EncryptionType::Aes256)
                    .build()
                    .expect("enc"),
            )
            .build();
        let observed = ObservedRegistry {
            templates: Some(vec![template_from_sdk(&sdk)]),
            ..Default::default()
        };
        let d = DesiredRegistry {
            templates: Some(vec![t]),
            ..Default::default()
        };
        assert_eq!(diff(&d, &observed), vec![]);
    }

    #[test]
    fn diff_table() {
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": ["ecr:ReplicateImage"], "Resource": "*"}]});
        let policy_reordered = json!({"Statement": [{"Resource": ["*"], "Action": "ecr:ReplicateImage", "Principal": {"AWS": ["arn:aws:iam::210987654321:root"]}, "Effect": "Allow"}], "Version": "2012-10-17"});
        let basic = RegistryScanningConfiguration {
            scan_type: ScanType::Basic,
            rules: Some(vec![]),
        };
        let enhanced = RegistryScanningConfiguration {
            scan_type: ScanType::Enhanced,
            rules: None,
        };
        let with_cred = PullThroughCacheRule {
            credential_arn: Some(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/x"
                    .into(),
            ),
            ..rule("hub", "registry-1.docker.io")
        };
        let other_upstream = PullThroughCacheRule {
            upstream_repository_prefix: Some("x".into()),
            ..rule("hub", "registry-1.docker.io")
        };
        let cases: Vec<(&str, DesiredRegistry, ObservedRegistry, Vec<Change>)> = vec![
            (
                "nothing managed",
                DesiredRegistry::default(),
                ObservedRegistry::default(),
                vec![],
            ),
            (
                "replication differs",
                DesiredRegistry {
                    replication: Some(replication(None)),
                    ..Default::default()
                },
                ObservedRegistry {
                    replication: Some(ReplicationConfiguration::default()),
                    ..Default::default()
                },
                vec![Change::PutReplication(replication(None))],
            ),
            (
                "empty filter list is no filter",
                DesiredRegistry {
                    replication: Some(replication(None)),
                    ..Default::default()
                },
                ObservedRegistry {
                    replication: Some(replication(Some(vec![]))),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "scanning: no rules equals empty rules",
                DesiredRegistry {
                    scanning: Some(RegistryScanningConfiguration {
                        rules: None,
                        ..basic.clone()
                    }),
                    ..Default::default()
                },
                ObservedRegistry {
                    scanning: Some(basic.clone()),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "scanning type differs",
                DesiredRegistry {
                    scanning: Some(enhanced.clone()),
                    ..Default::default()
                },
                ObservedRegistry {
                    scanning: Some(basic.clone()),
                    ..Default::default()
                },
                vec![Change::PutScanning(enhanced.clone())],
            ),
            (
                "policy equivalent",
                DesiredRegistry {
                    policy: Some(policy.clone()),
                    ..Default::default()
                },
                ObservedRegistry {
                    policy: Some(Some(policy_reordered.clone())),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "policy missing",
                DesiredRegistry {
                    policy: Some(policy.clone()),
                    ..Default::default()
                },
                ObservedRegistry {
                    policy: Some(None),
                    ..Default::default()
                },
                vec![Change::PutPolicy(policy.clone())],
            ),
            (
                "cache rules: create, update, replace, delete",
                DesiredRegistry {
                    cache_rules: Some(vec![
                        rule("quay", "quay.io"),
                        with_cred.clone(),
                        rule("k8s", "registry.k8s.io"),
                    ]),
                    ..Default::default()
                },
                ObservedRegistry {
                    cache_rules: Some(vec![
                        rule("hub", "registry-1.docker.io"),
                        rule("gone", "ghcr.io"),
                    ]),
                    ..Default::default()
                },
                vec![
                    Change::CreateCacheRule(rule("quay", "quay.io")),
                    Change::UpdateCacheRule(with_cred.clone()),
                    Change::CreateCacheRule(rule("k8s", "registry.k8s.io")),
                    Change::DeleteCacheRule("gone".into()),
                ],
            ),
            (
                "cache rule upstream prefix changed: replace",
                DesiredRegistry {
                    cache_rules: Some(vec![rule("hub", "registry-1.docker.io")]),
                    ..Default::default()
                },
                ObservedRegistry {
                    cache_rules: Some(vec![other_upstream.clone()]),
                    ..Default::default()
                },
                vec![Change::ReplaceCacheRule(rule(
                    "hub",
                    "registry-1.docker.io",
                ))],
            ),
            (
                "templates: create, update, delete; defaults equal",
                DesiredRegistry {
                    templates: Some(vec![
                        template("new"),
                        RepositoryCreationTemplate {
                            description: Some("x".into()),
                            ..template("changed")
                        },
                        template("same"),
                    ]),
                    ..Default::default()
                },
                ObservedRegistry {
                    templates: Some(vec![
                        template("changed"),
                        RepositoryCreationTemplate {
                            image_tag_mutability: Some(ImageTagMutability::Mutable),
                            resource_tags: Some(vec![]),
                            description: Some(String::new()),
                            ..template("same")
                        },
                        template("old"),
                    ]),
                    ..Default::default()
                },
                vec![
                    Change::CreateTemplate(template("new")),
                    Change::UpdateTemplate(RepositoryCreationTemplate {
                        description: Some("x".into()),
                        ..template("changed")
                    }),
                    Change::DeleteTemplate("old".into()),
                ],
            ),
        ];
        for (name, d, o, want) in cases {
            assert_eq!(diff(&d, &o), want, "{name}");
        }
    }
}

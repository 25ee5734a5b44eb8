//! `EcrRegistry`: the registry-wide settings of Amazon ECR for one account and region
//! (replication, scanning, registry policy, pull-through cache rules, repository creation
//! templates). One kind rather than five: every setting belongs to the same (region, role)
//! target, and ownership of a target is then one decision, not five that could split a
//! registry between objects. A section left out of the spec is not managed (ECR always has some
//! registry settings; leaving them alone is the only safe default). Deleting the owning object
//! with `deletionPolicy: Delete` resets the sections it manages to ECR's defaults.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{
    Condition, EcrTag, aws_enum, conditions_schema, free_form_object, list_map, list_set,
};

/// Registry-level ECR settings. Field names follow the ECR requests (PutReplicationConfiguration,
/// PutRegistryScanningConfiguration, PutRegistryPolicy, CreatePullThroughCacheRule,
/// CreateRepositoryCreationTemplate). Only one EcrRegistry may own a registry (region and
/// namespace role): the oldest the operator sees (creationTimestamp; in the same second the one already Synced; then uid); others report
/// `OwnedByAnother` and change nothing.
#[skip_serializing_none]
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ecs.operator.dev",
    version = "v1alpha1",
    kind = "EcrRegistry",
    plural = "ecrregistries",
    namespaced,
    status = "EcrRegistryStatus",
    shortname = "ecrreg",
    category = "ecs",
    doc = "Registry-level Amazon ECR settings (one owner per account and region) managed by ecs-operator.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Synced",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status"
    ),
    printcolumn(name = "Registry", type_ = "string", json_path = ".status.registryId"),
    printcolumn(
        name = "Replication",
        type_ = "integer",
        json_path = ".status.replicationRules"
    ),
    printcolumn(name = "Scan", type_ = "string", json_path = ".status.scanType"),
    printcolumn(
        name = "Caches",
        type_ = "integer",
        json_path = ".status.pullThroughCacheRules"
    ),
    printcolumn(
        name = "Templates",
        type_ = "integer",
        json_path = ".status.repositoryCreationTemplates"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Synced\")].reason"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct EcrRegistrySpec {
    /// deletionPolicy, adoptionPolicy, managementPolicy and region (see `kubectl explain`).
    /// adoptionPolicy has no effect: a registry always exists, and its owner is the oldest
    /// EcrRegistry for the region and role.
    #[serde(flatten)]
    pub policies: super::common::Policies,

    /// Replication (PutReplicationConfiguration). The rule list is complete; an empty list
    /// turns replication off. Unset: not managed.
    pub replication_configuration: Option<ReplicationConfiguration>,

    /// Registry scanning (PutRegistryScanningConfiguration). Unset: not managed.
    pub scanning_configuration: Option<RegistryScanningConfiguration>,

    /// Registry policy (PutRegistryPolicy's policyText), as a structured IAM policy document.
    /// Compared semantically. Unset: not managed.
    #[serde(default)]
    #[schemars(schema_with = "free_form_object")]
    pub registry_policy: Option<serde_json::Value>,

    /// Pull-through cache rules, keyed by ecrRepositoryPrefix. The list is complete: rules in
    /// the registry but not here are deleted. Unset: not managed.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["ecrRepositoryPrefix"]))]
    pub pull_through_cache_rules: Option<Vec<PullThroughCacheRule>>,

    /// Repository creation templates, keyed by prefix. The list is complete: templates in the
    /// registry but not here are deleted. Unset: not managed.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["prefix"]))]
    pub repository_creation_templates: Option<Vec<RepositoryCreationTemplate>>,
}

/// Replication configuration of the registry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationConfiguration {
    /// Replication rules (ECR allows up to 10; each with up to 25 destinations).
    #[schemars(length(max = 10))]
    pub rules: Vec<ReplicationRule>,
}

/// One replication rule: where images go, and which repositories it covers.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationRule {
    /// Destination registries (cross-region and/or cross-account).
    #[schemars(length(min = 1, max = 25))]
    pub destinations: Vec<ReplicationDestination>,
    /// Repositories replicated by this rule; unset replicates every repository.
    #[schemars(length(min = 1, max = 100))]
    pub repository_filters: Option<Vec<RepositoryFilter>>,
}

/// A replication destination.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationDestination {
    /// Destination region, e.g. `eu-west-1`.
    #[schemars(regex(pattern = r"^[0-9a-z-]{2,25}$"))]
    pub region: String,
    /// Destination account ID (this account for cross-region replication).
    #[schemars(regex(pattern = r"^[0-9]{12}$"))]
    pub registry_id: String,
}

/// A replication repository filter.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryFilter {
    /// Repository name prefix.
    #[schemars(length(min = 2, max = 256))]
    pub filter: String,
    /// Filter type; ECR supports PREFIX_MATCH.
    pub filter_type: ReplicationFilterType,
}

aws_enum!(
    /// Replication filter type.
    ReplicationFilterType { PrefixMatch = "PREFIX_MATCH" }
);

/// Registry scanning configuration.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryScanningConfiguration {
    /// BASIC (ECR's own scanning) or ENHANCED (Amazon Inspector).
    pub scan_type: ScanType,
    /// Scanning rules; unset or empty: no rule (images are scanned manually only).
    #[schemars(length(max = 2))]
    pub rules: Option<Vec<RegistryScanningRule>>,
}

aws_enum!(
    /// Scan type.
    ScanType { Basic = "BASIC", Enhanced = "ENHANCED" }
);

/// One scanning rule: how often, for which repositories.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryScanningRule {
    /// SCAN_ON_PUSH, CONTINUOUS_SCAN (ENHANCED only) or MANUAL.
    pub scan_frequency: ScanFrequency,
    /// Repositories the rule covers (wildcard filters such as `prod-*`).
    #[schemars(length(min = 1, max = 100))]
    pub repository_filters: Vec<ScanningRepositoryFilter>,
}

aws_enum!(
    /// Scan frequency.
    ScanFrequency { ScanOnPush = "SCAN_ON_PUSH", ContinuousScan = "CONTINUOUS_SCAN", Manual = "MANUAL" }
);

/// A scanning repository filter.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanningRepositoryFilter {
    /// Repository name pattern; `*` matches any characters.
    #[schemars(
        length(min = 1, max = 255),
        regex(pattern = r"^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$")
    )]
    pub filter: String,
    /// Filter type; ECR supports WILDCARD.
    pub filter_type: ScanningFilterType,
}

aws_enum!(
    /// Scanning filter type.
    ScanningFilterType { Wildcard = "WILDCARD" }
);

/// A pull-through cache rule (CreatePullThroughCacheRule).
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullThroughCacheRule {
    /// Repository prefix in this registry for cached images, e.g. `docker-hub`. `ROOT` maps
    /// every repository.
    #[schemars(length(min = 2, max = 30))]
    pub ecr_repository_prefix: String,
    /// Upstream registry URL, e.g. `registry-1.docker.io`. Changing it replaces the rule.
    #[schemars(length(min = 1))]
    pub upstream_registry_url: String,
    /// Upstream registry kind (`docker-hub`, `ecr`, `ecr-public`, `quay`, `k8s`,
    /// `github-container-registry`, `gitlab-container-registry`, `azure-container-registry`,
    /// `chainguard`). ECR infers it from the URL when unset.
    pub upstream_registry: Option<String>,
    /// Secrets Manager secret ARN with the upstream credentials (for authenticated upstreams).
    pub credential_arn: Option<String>,
    /// IAM role ECR assumes to reach an upstream ECR registry in another account.
    pub custom_role_arn: Option<String>,
    /// Repository prefix in the upstream registry (ECR upstreams). Changing it replaces the rule.
    pub upstream_repository_prefix: Option<String>,
}

/// A repository creation template (CreateRepositoryCreationTemplate).
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryCreationTemplate {
    /// Repository name prefix the template applies to; `ROOT` for every repository.
    #[schemars(length(min = 1, max = 256))]
    pub prefix: String,
    /// Description.
    #[schemars(length(max = 256))]
    pub description: Option<String>,
    /// Which repository creations use the template: PULL_THROUGH_CACHE, REPLICATION,
    /// CREATE_ON_PUSH.
    #[schemars(length(min = 1))]
    #[schemars(transform = list_set)]
    pub applied_for: Vec<AppliedFor>,
    /// Encryption of the created repositories. Default AES256.
    pub encryption_configuration: Option<TemplateEncryptionConfiguration>,
    /// Tags put on the created repositories, spelled `Key`/`Value` as the ECR API does.
    pub resource_tags: Option<Vec<EcrTag>>,
    /// Tag mutability of the created repositories. Default MUTABLE.
    pub image_tag_mutability: Option<super::ecr_repository::ImageTagMutability>,
    /// Tag filters exempt from the mutability setting.
    pub image_tag_mutability_exclusion_filters:
        Option<Vec<super::ecr_repository::ImageTagMutabilityExclusionFilter>>,
    /// Repository policy of the created repositories (a structured IAM policy document).
    #[serde(default)]
    #[schemars(schema_with = "free_form_object")]
    pub repository_policy: Option<serde_json::Value>,
    /// Lifecycle policy of the created repositories (the JSON document, structured).
    #[serde(default)]
    #[schemars(schema_with = "free_form_object")]
    pub lifecycle_policy: Option<serde_json::Value>,
    /// IAM role ECR assumes to apply the template (needed for KMS encryption and tags).
    pub custom_role_arn: Option<String>,
}

aws_enum!(
    /// What a repository creation template is used for.
    AppliedFor { PullThroughCache = "PULL_THROUGH_CACHE", Replication = "REPLICATION", CreateOnPush = "CREATE_ON_PUSH" }
);

/// Encryption of repositories made from a template.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateEncryptionConfiguration {
    /// AES256, KMS or KMS_DSSE.
    pub encryption_type: super::ecr_repository::EncryptionType,
    /// KMS key ARN (KMS types).
    pub kms_key: Option<String>,
}

/// Observed state of the registry settings.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcrRegistryStatus {
    /// The metadata.generation the status was computed for.
    pub observed_generation: Option<i64>,
    /// The `ecs.operator.dev/refresh` annotation value last honoured (one reconcile that read
    /// AWS afresh); a different value asks again.
    pub last_refreshed: Option<String>,
    /// Ready and Synced conditions.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Registry (account) ID.
    pub registry_id: Option<String>,
    /// Number of replication rules (when managed).
    pub replication_rules: Option<i64>,
    /// Scan type (when managed).
    pub scan_type: Option<String>,
    /// Whether a registry policy is set (when managed).
    pub registry_policy_set: Option<bool>,
    /// Number of pull-through cache rules (when managed).
    pub pull_through_cache_rules: Option<i64>,
    /// Number of repository creation templates (when managed).
    pub repository_creation_templates: Option<i64>,
}

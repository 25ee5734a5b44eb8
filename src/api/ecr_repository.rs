//! `EcrRepository`: an Amazon ECR repository. Spec fields are the CreateRepository request's.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

pub use super::common::EcrTag as Tag;
use super::common::{Condition, aws_enum, conditions_schema, free_form_object, list_map, list_set};

/// Desired state of an ECR repository. Field names and nesting follow the ECR CreateRepository
/// request, so AWS JSON can be pasted; `lifecyclePolicy` and `repositoryPolicy` are structured
/// objects rather than JSON strings. The spec is the whole truth: an unset field means the AWS
/// default (no lifecycle policy, no repository policy, MUTABLE tags, no scan on push, no tags).
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ecs.operator.dev",
    version = "v1alpha1",
    kind = "EcrRepository",
    namespaced,
    status = "EcrRepositoryStatus",
    shortname = "ecr",
    shortname = "ecrrepo",
    category = "ecs",
    doc = "An Amazon ECR repository managed by ecs-operator.",
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Synced", type_ = "string", json_path = ".status.conditions[?(@.type==\"Synced\")].status"),
    printcolumn(name = "URI", type_ = "string", json_path = ".status.repositoryUri"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "Reason", type_ = "string", priority = 1, json_path = ".status.conditions[?(@.type==\"Synced\")].reason"),
    validation = Rule::new("!has(oldSelf.spec) || (has(self.spec.repositoryName) ? self.spec.repositoryName : self.metadata.name) == (has(oldSelf.spec.repositoryName) ? oldSelf.spec.repositoryName : oldSelf.metadata.name)").message("spec.repositoryName is immutable: renaming would orphan the existing repository; create a new EcrRepository instead"),
)]
#[x_kube(validation = Rule::new("has(self.encryptionConfiguration) == has(oldSelf.encryptionConfiguration) && (!has(self.encryptionConfiguration) || self.encryptionConfiguration == oldSelf.encryptionConfiguration)").message("spec.encryptionConfiguration is immutable: ECR cannot change a repository's encryption after creation"))]
#[x_kube(validation = Rule::new("has(self.registryId) == has(oldSelf.registryId) && (!has(self.registryId) || self.registryId == oldSelf.registryId)").message("spec.registryId is immutable"))]
#[x_kube(validation = Rule::new("!has(self.imageTagMutabilityExclusionFilters) || (has(self.imageTagMutability) && self.imageTagMutability.endsWith('_WITH_EXCLUSION'))").message("imageTagMutabilityExclusionFilters requires imageTagMutability MUTABLE_WITH_EXCLUSION or IMMUTABLE_WITH_EXCLUSION"))]
#[x_kube(validation = Rule::new("!has(self.imageTagMutability) || !self.imageTagMutability.endsWith('_WITH_EXCLUSION') || has(self.imageTagMutabilityExclusionFilters)").message("imageTagMutability *_WITH_EXCLUSION requires imageTagMutabilityExclusionFilters"))]
#[serde(rename_all = "camelCase")]
pub struct EcrRepositorySpec {
    /// deletionPolicy, adoptionPolicy, managementPolicy and region (see `kubectl explain`).
    #[serde(flatten)]
    pub policies: super::common::Policies,

    /// Name of the repository (may contain namespaces such as `team/app`). Defaults to
    /// metadata.name. Immutable.
    #[schemars(
        length(min = 2, max = 256),
        regex(pattern = r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
    )]
    pub repository_name: Option<String>,

    /// AWS account ID of the registry. Defaults to the caller's account. Immutable.
    #[schemars(regex(pattern = r"^[0-9]{12}$"))]
    pub registry_id: Option<String>,

    /// Tag mutability setting. Default MUTABLE.
    pub image_tag_mutability: Option<ImageTagMutability>,

    /// Tag filters that are exempt from the mutability setting (with *_WITH_EXCLUSION).
    #[schemars(length(min = 1, max = 5))]
    #[schemars(transform = list_map(&["filter"]))]
    pub image_tag_mutability_exclusion_filters: Option<Vec<ImageTagMutabilityExclusionFilter>>,

    /// Image scanning configuration.
    pub image_scanning_configuration: Option<ImageScanningConfiguration>,

    /// Encryption at rest. Immutable after creation. Default AES256.
    pub encryption_configuration: Option<EncryptionConfiguration>,

    /// Tags, spelled `Key`/`Value` as the ECR API does. The list is complete: tags missing here
    /// are removed from the repository.
    #[schemars(length(max = 50))]
    #[schemars(transform = list_map(&["Key"]))]
    pub tags: Option<Vec<Tag>>,

    /// Lifecycle policy, as a structured object (the JSON document ECR takes as
    /// `lifecyclePolicyText`). Compared semantically; unset means no lifecycle policy.
    pub lifecycle_policy: Option<LifecyclePolicy>,

    /// Repository policy (an IAM policy document), as a structured object. Compared
    /// semantically (key order, whitespace, single values vs one-element lists); unset means none.
    #[serde(default)]
    #[schemars(schema_with = "free_form_object")]
    pub repository_policy: Option<serde_json::Value>,

    /// Delete the repository even when it still holds images. Default false: deleting the
    /// EcrRepository of a non-empty repository is blocked and reported instead.
    pub force_delete: Option<bool>,
}

aws_enum!(
    /// ECR tag mutability.
    ImageTagMutability {
        Mutable = "MUTABLE",
        Immutable = "IMMUTABLE",
        MutableWithExclusion = "MUTABLE_WITH_EXCLUSION",
        ImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION",
    }
);

/// A tag filter exempt from the mutability setting.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageTagMutabilityExclusionFilter {
    /// Filter type; ECR supports WILDCARD.
    pub filter_type: ExclusionFilterType,
    /// Tag pattern, e.g. `latest` or `dev-*`.
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[0-9a-zA-Z._*-]{1,128}$")
    )]
    pub filter: String,
}

aws_enum!(
    /// Exclusion filter type.
    ExclusionFilterType { Wildcard = "WILDCARD" }
);

/// Image scanning configuration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageScanningConfiguration {
    /// Scan images when they are pushed. Default false.
    #[serde(default)]
    pub scan_on_push: bool,
}

/// Encryption at rest.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!has(self.kmsKey) || self.encryptionType != 'AES256'").message("kmsKey is only valid with encryptionType KMS or KMS_DSSE"))]
#[serde(rename_all = "camelCase")]
pub struct EncryptionConfiguration {
    /// AES256, KMS or KMS_DSSE.
    pub encryption_type: EncryptionType,
    /// KMS key ARN or ID (KMS / KMS_DSSE only); default is the AWS managed key for ECR.
    #[schemars(length(min = 1, max = 2048))]
    pub kms_key: Option<String>,
}

aws_enum!(
    /// ECR encryption type.
    EncryptionType { Aes256 = "AES256", Kms = "KMS", KmsDsse = "KMS_DSSE" }
);

/// An ECR lifecycle policy document.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self.rules.all(r, self.rules.exists_one(s, s.rulePriority == r.rulePriority))").message("lifecyclePolicy.rules: rulePriority values must be unique"))]
pub struct LifecyclePolicy {
    /// Rules, applied in rulePriority order.
    // Atomic, not a map keyed by rulePriority: the policy is one document, and the CEL rule
    // above names duplicate priorities clearly where a map list answers with a 500.
    #[schemars(length(min = 1, max = 50))]
    pub rules: Vec<LifecycleRule>,
}

/// One lifecycle rule.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleRule {
    /// Order of evaluation, lowest first; unique within the policy.
    #[schemars(range(min = 1, max = 999))]
    pub rule_priority: i32,
    /// Free-text description.
    #[schemars(length(max = 256))]
    pub description: Option<String>,
    /// Which images the rule applies to.
    pub selection: LifecycleSelection,
    /// What happens to selected images.
    pub action: LifecycleAction,
}

/// Image selection of a lifecycle rule.
#[skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self.tagStatus != 'tagged' || has(self.tagPrefixList) || has(self.tagPatternList)").message("selection: tagStatus 'tagged' requires tagPrefixList or tagPatternList"))]
#[x_kube(validation = Rule::new("self.countType == 'imageCountMoreThan' ? !has(self.countUnit) : has(self.countUnit)").message("selection: countUnit is required for sinceImage* count types and not allowed for imageCountMoreThan"))]
#[serde(rename_all = "camelCase")]
pub struct LifecycleSelection {
    /// tagged, untagged or any.
    pub tag_status: LifecycleTagStatus,
    /// Tag prefixes (tagStatus tagged).
    #[schemars(transform = list_set)]
    pub tag_prefix_list: Option<Vec<String>>,
    /// Tag wildcard patterns (tagStatus tagged).
    #[schemars(transform = list_set)]
    pub tag_pattern_list: Option<Vec<String>>,
    /// imageCountMoreThan, sinceImagePushed, sinceImagePulled or sinceImageTransitioned.
    pub count_type: LifecycleCountType,
    /// `days` for the sinceImage* count types.
    pub count_unit: Option<LifecycleCountUnit>,
    /// Image count or number of days.
    #[schemars(range(min = 1))]
    pub count_number: i64,
    /// Storage class the rule selects from (standard or archive).
    pub storage_class: Option<LifecycleStorageClass>,
}

aws_enum!(
    /// Lifecycle rule tag status.
    LifecycleTagStatus { Tagged = "tagged", Untagged = "untagged", Any = "any" }
);

aws_enum!(
    /// Lifecycle rule count type.
    LifecycleCountType {
        ImageCountMoreThan = "imageCountMoreThan",
        SinceImagePushed = "sinceImagePushed",
        SinceImagePulled = "sinceImagePulled",
        SinceImageTransitioned = "sinceImageTransitioned",
    }
);

aws_enum!(
    /// Lifecycle rule count unit.
    LifecycleCountUnit { Days = "days" }
);

aws_enum!(
    /// ECR storage class.
    LifecycleStorageClass { Standard = "standard", Archive = "archive" }
);

/// Lifecycle rule action.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleAction {
    /// expire (delete) or transition (to another storage class).
    #[serde(rename = "type")]
    pub type_: LifecycleActionType,
    /// Target storage class for `transition`.
    pub target_storage_class: Option<LifecycleStorageClass>,
}

aws_enum!(
    /// Lifecycle action type.
    LifecycleActionType { Expire = "expire", Transition = "transition" }
);

/// Observed state of an ECR repository.
#[skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcrRepositoryStatus {
    /// The metadata.generation the status was computed for.
    pub observed_generation: Option<i64>,
    /// The `ecs.operator.dev/refresh` annotation value last honoured (one reconcile that read
    /// AWS afresh); a different value asks again.
    pub last_refreshed: Option<String>,
    /// Ready and Synced conditions.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Repository ARN.
    pub arn: Option<String>,
    /// URI to push and pull images (`<registry>.dkr.ecr.<region>.amazonaws.com/<name>`).
    pub repository_uri: Option<String>,
    /// Registry (account) ID.
    pub registry_id: Option<String>,
    /// When the repository was created (RFC 3339).
    pub created_at: Option<String>,
}

impl EcrRepository {
    /// The AWS repository name: spec.repositoryName, else metadata.name.
    pub fn repository_name(&self) -> String {
        self.spec
            .repository_name
            .clone()
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }
}

//! EcrRepository <-> Amazon ECR. Pure mapping (`desired`, `diff`) plus the SDK calls at the edge.
//!
//! Not through the bridge (`bridge.rs`): aws-sdk-ecr 1.138.0, the newest release, generates
//! none of the schema serde the bridge relies on (its shapes implement neither
//! `SerializableStruct` nor `<Shape>::deserialize`), so the few ECR members the spec holds are
//! mapped here. Revisit when an aws-sdk-ecr release carries schemas, as aws-sdk-ecs 1.157 does.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecr::types as ecr;
use serde_json::Value;

use crate::api::ecr_repository::{EcrRepositorySpec, EncryptionType, ImageTagMutability};
use crate::aws::policy;

/// What the spec asks for, in comparable form.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRepository {
    pub repository_name: String,
    pub registry_id: Option<String>,
    pub image_tag_mutability: String,
    pub exclusion_filters: BTreeSet<(String, String)>,
    pub scan_on_push: bool,
    pub encryption_type: String,
    pub kms_key: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Lifecycle policy document as written in the spec (sent as is, compared semantically).
    pub lifecycle_policy: Option<Value>,
    /// Repository policy document as written in the spec (sent as is, compared semantically).
    pub repository_policy: Option<Value>,
    pub force_delete: bool,
}

/// What AWS reports, in the same comparable form.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedRepository {
    pub arn: String,
    pub uri: String,
    pub registry_id: String,
    pub created_at: Option<String>,
    pub image_tag_mutability: String,
    pub exclusion_filters: BTreeSet<(String, String)>,
    pub scan_on_push: bool,
    pub encryption_type: String,
    pub kms_key: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub lifecycle_policy: Option<Value>,
    pub repository_policy: Option<Value>,
}

/// One update call needed to converge AWS to the spec (tags are the driver's:
/// [`crate::aws::tags`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    ImageTagMutability,
    ScanOnPush(bool),
    PutLifecyclePolicy(Value),
    DeleteLifecyclePolicy,
    SetRepositoryPolicy(Value),
    DeleteRepositoryPolicy,
    /// ECR cannot change encryption in place; reported as a terminal error.
    EncryptionDiffers {
        desired: String,
        observed: String,
    },
}

impl Change {
    /// Short description for events and conditions, named after the spec field.
    pub fn describe(&self) -> String {
        match self {
            Change::ImageTagMutability => "imageTagMutability".into(),
            Change::ScanOnPush(_) => "imageScanningConfiguration".into(),
            Change::PutLifecyclePolicy(_) => "lifecyclePolicy".into(),
            Change::DeleteLifecyclePolicy => "lifecyclePolicy (delete)".into(),
            Change::SetRepositoryPolicy(_) => "repositoryPolicy".into(),
            Change::DeleteRepositoryPolicy => "repositoryPolicy (delete)".into(),
            Change::EncryptionDiffers { desired, observed } => {
                format!("encryptionConfiguration ({observed} in AWS, {desired} in spec)")
            }
        }
    }
}

/// Maps the spec to the desired repository. Pure.
pub fn desired(spec: &EcrRepositorySpec, default_name: &str) -> DesiredRepository {
    let encryption = spec.encryption_configuration.as_ref();
    DesiredRepository {
        repository_name: spec
            .repository_name
            .clone()
            .unwrap_or_else(|| default_name.to_string()),
        registry_id: spec.registry_id.clone(),
        image_tag_mutability: spec
            .image_tag_mutability
            .as_ref()
            .unwrap_or(&ImageTagMutability::Mutable)
            .as_str()
            .to_string(),
        exclusion_filters: spec
            .image_tag_mutability_exclusion_filters
            .iter()
            .flatten()
            .map(|f| ("WILDCARD".to_string(), f.filter.clone()))
            .collect(),
        scan_on_push: spec
            .image_scanning_configuration
            .as_ref()
            .is_some_and(|c| c.scan_on_push),
        encryption_type: encryption
            .map(|e| &e.encryption_type)
            .unwrap_or(&EncryptionType::Aes256)
            .as_str()
            .to_string(),
        kms_key: encryption.and_then(|e| e.kms_key.clone()),
        tags: spec
            .tags
            .iter()
            .flatten()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
        lifecycle_policy: spec
            .lifecycle_policy
            .as_ref()
            .and_then(|p| serde_json::to_value(p).ok()),
        repository_policy: spec.repository_policy.clone(),
        force_delete: spec.force_delete.unwrap_or(false),
    }
}

/// The calls needed to converge `observed` to `desired`, in a stable order. Pure.
pub fn diff(desired: &DesiredRepository, observed: &ObservedRepository) -> Vec<Change> {
    let mut changes = Vec::new();
    if desired.encryption_type != observed.encryption_type
        || desired
            .kms_key
            .as_ref()
            .is_some_and(|k| !kms_key_matches(k, observed.kms_key.as_deref()))
    {
        changes.push(Change::EncryptionDiffers {
            desired: describe_encryption(&desired.encryption_type, desired.kms_key.as_deref()),
            observed: describe_encryption(&observed.encryption_type, observed.kms_key.as_deref()),
        });
    }
    if desired.image_tag_mutability != observed.image_tag_mutability
        || desired.exclusion_filters != observed.exclusion_filters
    {
        changes.push(Change::ImageTagMutability);
    }
    if desired.scan_on_push != observed.scan_on_push {
        changes.push(Change::ScanOnPush(desired.scan_on_push));
    }
    match (&desired.lifecycle_policy, &observed.lifecycle_policy) {
        (Some(want), Some(have)) if policy::equivalent(want, have) => {}
        (Some(want), _) => changes.push(Change::PutLifecyclePolicy(want.clone())),
        (None, Some(_)) => changes.push(Change::DeleteLifecyclePolicy),
        (None, None) => {}
    }
    match (&desired.repository_policy, &observed.repository_policy) {
        (Some(want), Some(have)) if policy::equivalent(want, have) => {}
        (Some(want), _) => changes.push(Change::SetRepositoryPolicy(want.clone())),
        (None, Some(_)) => changes.push(Change::DeleteRepositoryPolicy),
        (None, None) => {}
    }
    changes
}

/// A key given as an ID, alias or ARN matches the ARN AWS reports when it is its suffix.
pub(super) fn kms_key_matches(desired: &str, observed: Option<&str>) -> bool {
    observed.is_some_and(|o| {
        o == desired || o.ends_with(&format!("/{desired}")) || o.ends_with(&format!(":{desired}"))
    })
}

pub(super) fn describe_encryption(kind: &str, key: Option<&str>) -> String {
    key.map(|k| format!("{kind} ({k})"))
        .unwrap_or_else(|| kind.to_string())
}

pub(super) fn exclusion_filters(
    d: &DesiredRepository,
) -> Option<Vec<ecr::ImageTagMutabilityExclusionFilter>> {
    if d.exclusion_filters.is_empty() {
        return None;
    }
    Some(
        d.exclusion_filters
            .iter()
            .filter_map(|(kind, filter)| {
                ecr::ImageTagMutabilityExclusionFilter::builder()
                    .filter_type(ecr::ImageTagMutabilityExclusionFilterType::from(
                        kind.as_str(),
                    ))
                    .filter(filter)
                    .build()
                    .ok()
            })
            .collect(),
    )
}

/// What ECR reports about a repository beyond DescribeRepositories.
pub struct RepositoryExtras {
    pub tags: Vec<ecr::Tag>,
    /// `None` when the repository has no lifecycle policy.
    pub lifecycle_policy_text: Option<String>,
    /// `None` when the repository has no repository policy.
    pub repository_policy_text: Option<String>,
}

/// A policy the spec does not have is read on a repository's first observe in this process,
/// whenever the last read found one in AWS (so removing it from the spec deletes it), and
/// otherwise on every this-many-th observe (drift: someone added one in AWS): reads do not
/// grow with the policies a repository does not have.
pub const ABSENT_POLICY_EVERY: u32 = 10;

/// What the last observes of one repository read.
#[derive(Clone, Copy, Default)]
struct Reads {
    observes: u32,
    /// The last read found a lifecycle policy in AWS.
    lifecycle_seen: bool,
    /// The last read found a repository policy in AWS.
    repository_seen: bool,
}

/// What recent observes read, per repository ARN; owned by the repository controller.
#[derive(Default)]
pub struct PolicyReads(std::sync::Mutex<BTreeMap<String, Reads>>);

impl PolicyReads {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Reads>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Which policies this observe of `repo` reads: (lifecycle, repository). Counts the observe.
/// `fresh` (a refresh) reads both, as a first observe does.
pub(super) fn policies_to_read(
    reads: &PolicyReads,
    repo: &ecr::Repository,
    d: &DesiredRepository,
    fresh: bool,
) -> (bool, bool) {
    let key = repo.repository_arn.clone().unwrap_or_default();
    let mut reads = reads.lock();
    let first = !reads.contains_key(&key);
    let r = reads.entry(key).or_default();
    let due = fresh || first || r.observes.is_multiple_of(ABSENT_POLICY_EVERY);
    r.observes = r.observes.wrapping_add(1);
    (
        d.lifecycle_policy.is_some() || due || r.lifecycle_seen,
        d.repository_policy.is_some() || due || r.repository_seen,
    )
}

/// Records what was read (a policy not read keeps its last state).
pub(super) fn policies_read(
    reads: &PolicyReads,
    repo: &ecr::Repository,
    read: (bool, bool),
    extras: &RepositoryExtras,
) {
    let key = repo.repository_arn.clone().unwrap_or_default();
    let mut reads = reads.lock();
    let r = reads.entry(key).or_default();
    if read.0 {
        r.lifecycle_seen = extras.lifecycle_policy_text.is_some();
    }
    if read.1 {
        r.repository_seen = extras.repository_policy_text.is_some();
    }
}

/// The comparable state of a repository from DescribeRepositories, ListTagsForResource and the
/// two policy texts (`None` when the repository has none). Pure.
pub fn observed_from(
    repo: &ecr::Repository,
    tags: &[ecr::Tag],
    lifecycle_policy_text: Option<&str>,
    repository_policy_text: Option<&str>,
) -> ObservedRepository {
    let encryption = repo.encryption_configuration.as_ref();
    ObservedRepository {
        arn: repo.repository_arn.clone().unwrap_or_default(),
        registry_id: repo.registry_id.clone().unwrap_or_default(),
        uri: repo.repository_uri.clone().unwrap_or_default(),
        created_at: repo
            .created_at
            .as_ref()
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        image_tag_mutability: repo
            .image_tag_mutability
            .as_ref()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "MUTABLE".into()),
        exclusion_filters: repo
            .image_tag_mutability_exclusion_filters
            .iter()
            .flatten()
            .map(|f| (f.filter_type.as_str().to_string(), f.filter.clone()))
            .collect(),
        scan_on_push: repo
            .image_scanning_configuration
            .as_ref()
            .is_some_and(|c| c.scan_on_push),
        encryption_type: encryption
            .map(|e| e.encryption_type.as_str().to_string())
            .unwrap_or_else(|| "AES256".into()),
        kms_key: encryption.and_then(|e| e.kms_key.clone()),
        tags: tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
        lifecycle_policy: lifecycle_policy_text.map(policy::normalize_text),
        repository_policy: repository_policy_text.map(policy::normalize_text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecr_repository::*;
    use serde_json::json;

    fn observed_default(name: &str) -> ObservedRepository {
        ObservedRepository {
            arn: format!("arn:aws:ecr:us-east-1:123456789012:repository/{name}"),
            uri: format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}"),
            registry_id: "123456789012".into(),
            created_at: None,
            image_tag_mutability: "MUTABLE".into(),
            exclusion_filters: BTreeSet::new(),
            scan_on_push: false,
            encryption_type: "AES256".into(),
            kms_key: None,
            tags: BTreeMap::new(),
            lifecycle_policy: None,
            repository_policy: None,
        }
    }

    /// Which policies each observe reads (the README's "a policy the spec does not have is read
    /// on the first observe, after one was seen, and on every 10th observe"): (spec has lifecycle,
    /// spec has repository policy, what AWS holds per observe) -> reads per observe.
    #[test]
    fn absent_policies_are_read_first_when_seen_and_every_tenth_observe() {
        let repo = ecr::Repository::builder()
            .repository_arn("arn:aws:ecr:us-east-1:123456789012:repository/r")
            .build();
        let none = (false, false);
        let mut not_due = vec![none; 9];
        // 12 observes of a repository with no policy in the spec nor in AWS: 1st and 11th read both.
        let mut first_and_eleventh = vec![(true, true)];
        first_and_eleventh.append(&mut not_due);
        first_and_eleventh.extend([(true, true), none]);
        // (case, spec has lifecycle, spec has repository policy, in AWS per observe, reads).
        type Case = (
            &'static str,
            bool,
            bool,
            Vec<(bool, bool)>,
            Vec<(bool, bool)>,
        );
        let cases: Vec<Case> = vec![
            (
                "nothing anywhere",
                false,
                false,
                vec![none; 12],
                first_and_eleventh,
            ),
            (
                "spec has both: always read",
                true,
                true,
                vec![(true, true); 3],
                vec![(true, true); 3],
            ),
            (
                // A lifecycle policy appears in AWS, is seen on the 11th observe, then read on
                // every observe until a read finds it gone.
                "lifecycle policy found, then removed in AWS",
                false,
                false,
                [vec![none; 10], vec![(true, false); 2], vec![none; 2]].concat(),
                [
                    vec![(true, true)],
                    vec![none; 9],
                    vec![(true, true), (true, false), (true, false), none],
                ]
                .concat(),
            ),
        ];
        for (name, spec_lifecycle, spec_repository, aws, want) in cases {
            let reads = PolicyReads::default();
            let mut d = desired(&EcrRepositorySpec::default(), "r");
            d.lifecycle_policy = spec_lifecycle.then(|| json!({"rules": []}));
            d.repository_policy = spec_repository.then(|| json!({"Statement": []}));
            let mut got = Vec::new();
            for (lifecycle_in_aws, repository_in_aws) in aws {
                let read = policies_to_read(&reads, &repo, &d, false);
                let extras = RepositoryExtras {
                    tags: Vec::new(),
                    lifecycle_policy_text: (read.0 && lifecycle_in_aws).then(|| "{}".to_string()),
                    repository_policy_text: (read.1 && repository_in_aws).then(|| "{}".to_string()),
                };
                policies_read(&reads, &repo, read, &extras);
                got.push(read);
            }
            assert_eq!(got, want, "{name}");
        }
    }

    /// A refresh reads the policies the spec lacks off schedule; one found then is read on
    /// every later observe, as after any read that finds it.
    #[test]
    fn a_refresh_reads_absent_policies_off_schedule() {
        let repo = ecr::Repository::builder()
            .repository_arn("arn:aws:ecr:us-east-1:123456789012:repository/r")
            .build();
        let d = desired(&EcrRepositorySpec::default(), "r");
        let reads = PolicyReads::default();
        let observe = |fresh: bool, lifecycle_in_aws: bool| {
            let read = policies_to_read(&reads, &repo, &d, fresh);
            let extras = RepositoryExtras {
                tags: Vec::new(),
                lifecycle_policy_text: (read.0 && lifecycle_in_aws).then(|| "{}".to_string()),
                repository_policy_text: None,
            };
            policies_read(&reads, &repo, read, &extras);
            read
        };
        assert_eq!(observe(false, false), (true, true), "first observe");
        assert_eq!(observe(false, true), (false, false), "not due");
        assert_eq!(observe(true, true), (true, true), "refresh");
        assert_eq!(observe(false, true), (true, false), "seen: read again");
    }

    fn lifecycle() -> LifecyclePolicy {
        serde_json::from_value(json!({"rules": [{
            "rulePriority": 1, "description": "keep 10",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10},
            "action": {"type": "expire"}
        }]}))
        .expect("valid lifecycle policy")
    }

    #[test]
    fn empty_spec_matches_aws_defaults() {
        let d = desired(&EcrRepositorySpec::default(), "app");
        assert_eq!(d.repository_name, "app");
        assert_eq!(diff(&d, &observed_default("app")), vec![]);
    }

    #[test]
    fn diff_table() {
        let with = |f: &dyn Fn(&mut EcrRepositorySpec)| {
            let mut s = EcrRepositorySpec::default();
            f(&mut s);
            desired(&s, "app")
        };
        let obs = |f: &dyn Fn(&mut ObservedRepository)| {
            let mut o = observed_default("app");
            f(&mut o);
            o
        };
        let lifecycle_value = serde_json::to_value(lifecycle()).expect("serialisable");
        let cases: Vec<(&str, DesiredRepository, ObservedRepository, Vec<Change>)> = vec![
            (
                "immutable tags",
                with(&|s| s.image_tag_mutability = Some(ImageTagMutability::Immutable)),
                obs(&|_| {}),
                vec![Change::ImageTagMutability],
            ),
            (
                "drift: someone flipped mutability",
                with(&|_| {}),
                obs(&|o| o.image_tag_mutability = "IMMUTABLE".into()),
                vec![Change::ImageTagMutability],
            ),
            (
                "scan on push",
                with(&|s| {
                    s.image_scanning_configuration =
                        Some(ImageScanningConfiguration { scan_on_push: true })
                }),
                obs(&|_| {}),
                vec![Change::ScanOnPush(true)],
            ),
            (
                "lifecycle policy missing in AWS",
                with(&|s| s.lifecycle_policy = Some(lifecycle())),
                obs(&|_| {}),
                vec![Change::PutLifecyclePolicy(lifecycle_value.clone())],
            ),
            (
                "lifecycle policy equal modulo formatting",
                with(&|s| s.lifecycle_policy = Some(lifecycle())),
                obs(&|o| {
                    o.lifecycle_policy = Some(policy::normalize_text(
                        r#"{"rules":[{"action":{"type":"expire"},"selection":{"countNumber":10,"countType":"imageCountMoreThan","tagStatus":"any"},"description":"keep 10","rulePriority":1}]}"#,
                    ))
                }),
                vec![],
            ),
            (
                "lifecycle policy removed from spec",
                with(&|_| {}),
                obs(&|o| o.lifecycle_policy = Some(json!({"rules": []}))),
                vec![Change::DeleteLifecyclePolicy],
            ),
            (
                "repository policy equivalent",
                with(&|s| {
                    s.repository_policy = Some(
                        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}]}),
                    )
                }),
                obs(&|o| {
                    o.repository_policy = Some(policy::normalize_text(
                        r#"{"Statement":{"Action":"ecr:BatchGetImage","Principal":"*","Effect":"Allow"},"Version":"2012-10-17"}"#,
                    ))
                }),
                vec![],
            ),
            (
                "repository policy removed in AWS",
                with(&|s| s.repository_policy = Some(json!({"Statement": [{"Effect": "Allow"}]}))),
                obs(&|_| {}),
                vec![Change::SetRepositoryPolicy(
                    json!({"Statement": [{"Effect": "Allow"}]}),
                )],
            ),
            (
                "repository policy sent as written: one-statement list, actions unsorted",
                with(&|s| {
                    s.repository_policy = Some(
                        json!({"Statement": [{"Effect": "Allow", "Action": ["ecr:PutImage", "ecr:BatchGetImage"]}]}),
                    )
                }),
                obs(&|o| {
                    o.repository_policy = Some(policy::normalize_text(
                        r#"{"Statement":[{"Effect":"Deny","Action":"ecr:*"}]}"#,
                    ))
                }),
                vec![Change::SetRepositoryPolicy(
                    json!({"Statement": [{"Effect": "Allow", "Action": ["ecr:PutImage", "ecr:BatchGetImage"]}]}),
                )],
            ),
            (
                "bare account principal equals the root ARN AWS stores",
                with(&|s| {
                    s.repository_policy = Some(
                        json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "ecr:*"}]}),
                    )
                }),
                obs(&|o| {
                    o.repository_policy = Some(policy::normalize_text(
                        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"ecr:*"}]}"#,
                    ))
                }),
                vec![],
            ),
            (
                "encryption differs",
                with(&|s| {
                    s.encryption_configuration = Some(EncryptionConfiguration {
                        encryption_type: EncryptionType::Kms,
                        kms_key: None,
                    })
                }),
                obs(&|_| {}),
                vec![Change::EncryptionDiffers {
                    desired: "KMS".into(),
                    observed: "AES256".into(),
                }],
            ),
            (
                "kms key by id matches the reported ARN",
                with(&|s| {
                    s.encryption_configuration = Some(EncryptionConfiguration {
                        encryption_type: EncryptionType::Kms,
                        kms_key: Some("abcd-1234".into()),
                    })
                }),
                obs(&|o| {
                    o.encryption_type = "KMS".into();
                    o.kms_key = Some("arn:aws:kms:us-east-1:123456789012:key/abcd-1234".into());
                }),
                vec![],
            ),
        ];
        for (name, d, o, want) in cases {
            assert_eq!(diff(&d, &o), want, "{name}");
        }
    }

    #[test]
    fn lifecycle_policy_serialises_with_aws_names() {
        let v = serde_json::to_value(lifecycle()).expect("serialisable");
        assert_eq!(
            v["rules"][0]["selection"]["countType"],
            "imageCountMoreThan"
        );
        assert_eq!(v["rules"][0]["action"]["type"], "expire");
        assert!(v["rules"][0]["selection"].get("countUnit").is_none());
    }
}

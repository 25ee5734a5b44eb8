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
use crate::aws::errors::{AwsError, required};
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
#[derive(Default)]
pub struct RepositoryExtras {
    pub tags: Vec<ecr::Tag>,
    /// `None` when the repository has no lifecycle policy.
    pub lifecycle_policy_text: Option<String>,
    /// `None` when the repository has no repository policy.
    pub repository_policy_text: Option<String>,
}

/// Tags and both policies are read on a repository's first observe in this process, on every
/// this-many-th observe (drift made in AWS), on a refresh, and whenever the value last read (or
/// written) differs from the spec: a change is always decided on a fresh read, and the read after
/// the write confirms it. In between, observe uses the values last read or written.
pub const EXTRAS_EVERY: u32 = 10;

/// What the last observes of one repository read (or this process wrote).
#[derive(Clone, Default)]
struct Reads {
    observes: u32,
    tags: BTreeMap<String, String>,
    lifecycle: Option<String>,
    repository: Option<String>,
}

/// What recent observes read, per repository ARN; owned by the repository controller.
#[derive(Default)]
pub struct PolicyReads(std::sync::Mutex<BTreeMap<String, Reads>>);

impl PolicyReads {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Reads>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A repository this process just created with `d` (tags and policies sent with it).
    pub fn created(&self, arn: &str, d: &DesiredRepository) {
        self.lock().insert(
            arn.to_string(),
            Reads {
                observes: 1,
                tags: d.tags.clone(),
                lifecycle: d.lifecycle_policy.as_ref().map(policy::to_text),
                repository: d.repository_policy.as_ref().map(policy::to_text),
            },
        );
    }

    /// A policy change this process applied.
    pub fn wrote(&self, arn: &str, change: &Change) {
        let mut reads = self.lock();
        let Some(r) = reads.get_mut(arn) else { return };
        match change {
            Change::PutLifecyclePolicy(p) => r.lifecycle = Some(policy::to_text(p)),
            Change::DeleteLifecyclePolicy => r.lifecycle = None,
            Change::SetRepositoryPolicy(p) => r.repository = Some(policy::to_text(p)),
            Change::DeleteRepositoryPolicy => r.repository = None,
            _ => {}
        }
    }

    /// The repository is gone (deleted): its memory goes too.
    pub fn forget(&self, arn: &str) {
        self.lock().remove(arn);
    }
}

/// Which extras this observe reads. Pure (with the memory it is given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtrasDue {
    pub tags: bool,
    pub lifecycle: bool,
    pub repository: bool,
}

impl ExtrasDue {
    pub fn any(&self) -> bool {
        self.tags || self.lifecycle || self.repository
    }
}

fn same_policy(want: Option<&Value>, have: Option<&String>) -> bool {
    match (want, have) {
        (None, None) => true,
        (Some(w), Some(h)) => policy::equivalent(w, &policy::normalize_text(h)),
        _ => false,
    }
}

/// Which extras (tags, lifecycle policy, repository policy) this observe of `arn` reads, per
/// [`EXTRAS_EVERY`]; counts the observe. `fresh` (a refresh) reads all of them.
pub(super) fn extras_to_read(
    reads: &PolicyReads,
    arn: &str,
    d: &DesiredRepository,
    fresh: bool,
) -> ExtrasDue {
    let mut reads = reads.lock();
    let first = !reads.contains_key(arn);
    let r = reads.entry(arn.to_string()).or_default();
    let due = fresh || first || r.observes.is_multiple_of(EXTRAS_EVERY);
    r.observes = r.observes.wrapping_add(1);
    ExtrasDue {
        tags: due || r.tags != d.tags,
        lifecycle: due || !same_policy(d.lifecycle_policy.as_ref(), r.lifecycle.as_ref()),
        repository: due || !same_policy(d.repository_policy.as_ref(), r.repository.as_ref()),
    }
}

/// Records what was read and returns the extras to observe with: the values read now, and the
/// kept ones for what was not read.
pub(super) fn extras_read(
    reads: &PolicyReads,
    arn: &str,
    due: ExtrasDue,
    read: RepositoryExtras,
) -> RepositoryExtras {
    let mut reads = reads.lock();
    let r = reads.entry(arn.to_string()).or_default();
    if due.tags {
        r.tags = read
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
    }
    if due.lifecycle {
        r.lifecycle = read.lifecycle_policy_text.clone();
    }
    if due.repository {
        r.repository = read.repository_policy_text.clone();
    }
    RepositoryExtras {
        tags: r
            .tags
            .iter()
            .filter_map(|(k, v)| ecr::Tag::builder().key(k).value(v).build().ok())
            .collect(),
        lifecycle_policy_text: r.lifecycle.clone(),
        repository_policy_text: r.repository.clone(),
    }
}

/// The comparable state of a repository from DescribeRepositories, ListTagsForResource and the
/// two policy texts (`None` when the repository has none). Pure. A repository without its ARN,
/// registry or URI is an incomplete answer, not one with empty identities.
pub fn observed_from(
    repo: &ecr::Repository,
    tags: &[ecr::Tag],
    lifecycle_policy_text: Option<&str>,
    repository_policy_text: Option<&str>,
) -> Result<ObservedRepository, AwsError> {
    const OP: &str = "DescribeRepositories";
    let encryption = repo.encryption_configuration.as_ref();
    Ok(ObservedRepository {
        arn: required(repo.repository_arn.clone(), OP, "repositoryArn")?,
        registry_id: required(repo.registry_id.clone(), OP, "registryId")?,
        uri: required(repo.repository_uri.clone(), OP, "repositoryUri")?,
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
    })
}

#[cfg(test)]
mod tests {

    /// A repository answer without one of its identities is an incomplete answer (retried),
    /// never a repository with an empty ARN, registry or URI.
    #[test]
    fn a_repository_without_an_identity_is_an_incomplete_answer() {
        let full = || {
            ecr::Repository::builder()
                .repository_name("r")
                .repository_arn("arn:aws:ecr:us-east-1:123456789012:repository/r")
                .registry_id("123456789012")
                .repository_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/r")
        };
        let cases: Vec<(&str, ecr::Repository, Option<&str>)> = vec![
            ("complete", full().build(), None),
            (
                "no ARN",
                full().set_repository_arn(None).build(),
                Some("repositoryArn"),
            ),
            (
                "no registry",
                full().set_registry_id(None).build(),
                Some("registryId"),
            ),
            (
                "no URI",
                full().set_repository_uri(None).build(),
                Some("repositoryUri"),
            ),
        ];
        for (name, repo, missing) in cases {
            match (observed_from(&repo, &[], None, None), missing) {
                (Ok(o), None) => assert!(!o.arn.is_empty() && !o.uri.is_empty(), "{name}"),
                (Err(e), Some(field)) => {
                    assert_eq!(e.code.as_deref(), Some("IncompleteAnswer"), "{name}");
                    assert!(e.message.contains(field), "{name}: {}", e.message);
                }
                (got, _) => panic!("{name}: {got:?}"),
            }
        }
    }
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

    /// The docs' read schedule: tags and both policies are read on the first observe, every
    /// 10th observe and on a refresh, and whenever the value last read or written differs from
    /// the spec; a created repository starts from what it was created with.
    #[test]
    fn extras_are_read_first_every_tenth_when_they_differ_and_on_refresh() {
        let arn = "arn:aws:ecr:us-east-1:123456789012:repository/r";
        let all = ExtrasDue {
            tags: true,
            lifecycle: true,
            repository: true,
        };
        let none = ExtrasDue {
            tags: false,
            lifecycle: false,
            repository: false,
        };
        let lifecycle_only = ExtrasDue {
            lifecycle: true,
            ..none
        };
        let tags_only = ExtrasDue { tags: true, ..none };
        let mut d = desired(&EcrRepositorySpec::default(), "r");
        d.tags = [("team".to_string(), "a".to_string())].into();
        d.lifecycle_policy = Some(json!({"rules": []}));
        // What a read of AWS finds: the spec's tag and lifecycle policy, or not.
        let aws = |tags: bool, lifecycle: bool| RepositoryExtras {
            tags: match tags {
                true => vec![
                    ecr::Tag::builder()
                        .key("team")
                        .value("a")
                        .build()
                        .expect("tag"),
                ],
                false => vec![],
            },
            lifecycle_policy_text: lifecycle.then(|| r#"{"rules":[]}"#.into()),
            repository_policy_text: None,
        };
        type Case = (
            &'static str,
            bool,
            // (refresh, what AWS holds: the spec's tags?, the spec's lifecycle policy?)
            Vec<(bool, (bool, bool))>,
            Vec<ExtrasDue>,
        );
        let cases: Vec<Case> = vec![
            (
                "AWS matches: first and 11th",
                false,
                vec![(false, (true, true)); 12],
                [vec![all], vec![none; 9], vec![all, none]].concat(),
            ),
            (
                "created with the spec: nothing until the 10th",
                true,
                vec![(false, (true, true)); 10],
                [vec![none; 9], vec![all]].concat(),
            ),
            (
                // A first read finds no lifecycle policy: read again until one is seen.
                "lifecycle missing in AWS: read while it differs",
                false,
                vec![
                    (false, (true, false)),
                    (false, (true, true)),
                    (false, (true, true)),
                ],
                vec![all, lifecycle_only, none],
            ),
            (
                "tags differ: read tags only; a refresh reads all",
                false,
                vec![
                    (false, (false, true)),
                    (false, (true, true)),
                    (true, (true, true)),
                ],
                vec![all, tags_only, all],
            ),
        ];
        for (name, created, observes, want) in cases {
            let reads = PolicyReads::default();
            if created {
                reads.created(arn, &d);
            }
            let mut got = Vec::new();
            for (fresh, (tags, lifecycle)) in observes {
                let due = extras_to_read(&reads, arn, &d, fresh);
                extras_read(&reads, arn, due, aws(tags, lifecycle));
                got.push(due);
            }
            assert_eq!(got, want, "{name}");
        }
    }

    /// A policy written by this process is what the next observe compares with: no read.
    #[test]
    fn a_written_policy_needs_no_read() {
        let arn = "arn:aws:ecr:us-east-1:123456789012:repository/r";
        let mut d = desired(&EcrRepositorySpec::default(), "r");
        let reads = PolicyReads::default();
        reads.created(arn, &d);
        d.lifecycle_policy = Some(json!({"rules": []}));
        let due = extras_to_read(&reads, arn, &d, false);
        assert!(
            due.lifecycle && !due.tags,
            "differs from what was created: {due:?}"
        );
        reads.wrote(arn, &Change::PutLifecyclePolicy(json!({"rules": []})));
        assert!(!extras_to_read(&reads, arn, &d, false).any(), "written");
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

//! Wiring: TaskDefinition through the generic driver. A spec change registers a new revision;
//! nothing else does. Each revision carries a hash of the resolved spec as a tag, so "is this
//! revision our spec?" survives resyncs, operator restarts and AWS-added defaults.

pub mod mapping;
pub mod revisions;
pub mod sdk;

use self::revisions::{ObservedRevision, RevisionCache};
use crate::api::task_definition::TaskDefinitionStatus;

use std::collections::BTreeMap;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use self::sdk as io;
use crate::api::ecr_repository::EcrRepository;
use crate::api::task_definition::{TaskDefinition, TaskDefinitionSpec};
use crate::aws::AwsClients;
use crate::engine::ownership::{OWNER_UID_TAG, is_ours};
use crate::engine::{DeleteOutcome, Describe, Error, External, Lookup};
use crate::kinds::references;

/// Tag with the hash of the resolved spec a revision was registered from.
pub const SPEC_HASH_TAG: &str = "ecs.operator.dev/spec-hash";
/// Revisions kept ACTIVE when spec.revisionHistoryLimit is unset.
pub const DEFAULT_REVISION_HISTORY_LIMIT: usize = 5;

managed_kind!(TaskDefinition, TaskDefinitionStatus, identity = arn);

/// ECS-backed implementation of the driver's External contract.
pub struct TaskDefinitions {
    pub kube: kube::Client,
    revisions: RevisionCache,
}

impl TaskDefinitions {
    /// `resync` is the drift-check period: the shared list of ACTIVE revisions is read at
    /// most once per period.
    pub fn new(kube: kube::Client, resync: Duration) -> Self {
        Self {
            kube,
            revisions: RevisionCache::new(resync),
        }
    }
}

/// The kind registry's start (`crate::kinds`): a TaskDefinition waiting for an EcrRepository
/// is reconciled when that repository changes.
pub fn start(shared: crate::engine::Shared) -> futures::future::BoxFuture<'static, ()> {
    let external = TaskDefinitions::new(shared.client.clone(), shared.settings.resync);
    crate::engine::Start::<TaskDefinition>::new(shared)
        .follows::<EcrRepository>(dependents)
        .run(move |_| external)
}

/// The spec with image references resolved, plus its hash.
pub struct DesiredTaskDefinition {
    pub family: String,
    pub spec: TaskDefinitionSpec,
    pub hash: String,
    /// [`mapping::content_hash`] of the spec: what a revision without our spec-hash tag is
    /// compared by.
    pub content: String,
    /// Ownership tags every revision of this object carries.
    pub owner_tags: BTreeMap<String, String>,
}

impl DesiredTaskDefinition {
    /// Whether `rev` carries this object's ownership tags.
    fn owner_tagged(&self, rev: &ObservedRevision) -> bool {
        self.owner_tags
            .iter()
            .all(|(k, v)| rev.tags.get(k) == Some(v))
    }
}

/// Hash of the normalised resolved spec: equal specs (modulo AWS defaults) hash equal.
pub fn spec_hash(spec: &TaskDefinitionSpec) -> String {
    let canonical = mapping::normalize(spec).to_string();
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Retention plan: `registered` is oldest first; returns (kept, to deregister). Pure.
pub fn retention(registered: &[String], current: &str, limit: usize) -> (Vec<String>, Vec<String>) {
    let mut all: Vec<String> = registered
        .iter()
        .filter(|a| a.as_str() != current)
        .cloned()
        .collect();
    all.push(current.to_string());
    let limit = limit.max(1);
    let cut = all.len().saturating_sub(limit);
    let dropped = all[..cut].to_vec();
    (all[cut..].to_vec(), dropped)
}

fn history_limit(obj: &TaskDefinition) -> usize {
    obj.spec
        .revision_history_limit
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)
}

fn registered(obj: &TaskDefinition) -> Vec<String> {
    obj.status
        .as_ref()
        .map(|s| s.registered_revisions.clone())
        .unwrap_or_default()
}

/// Names of the EcrRepository objects a TaskDefinition refers to.
pub fn referenced_repositories(obj: &TaskDefinition) -> Vec<String> {
    obj.spec
        .container_definitions
        .iter()
        .filter_map(|c| c.image_ref.as_ref().map(|r| r.repository_ref.name.clone()))
        .collect()
}

/// Maps an EcrRepository change to the TaskDefinitions in its namespace that refer to it.
pub fn dependents(
    store: &kube::runtime::reflector::Store<TaskDefinition>,
    repo: &EcrRepository,
) -> Vec<ObjectRef<TaskDefinition>> {
    let ns = repo.namespace();
    let name = repo.name_any();
    store
        .state()
        .iter()
        .filter(|td| td.namespace() == ns && referenced_repositories(td).contains(&name))
        .map(|td| ObjectRef::from_obj(td.as_ref()))
        .collect()
}

impl TaskDefinitions {
    async fn deregister_old(&self, aws: &AwsClients, obj: &TaskDefinition, arns: &[String]) {
        for arn in arns {
            match io::deregister(&aws.ecs, arn).await {
                Ok(()) => {
                    self.revisions.deregistered(aws, arn);
                    info!(object = %obj.name_any(), %arn, "deregistered old revision (retention)")
                }
                // Retention is best effort: the revision stays in status and is retried next time.
                Err(e) => {
                    warn!(object = %obj.name_any(), %arn, error = %e, "could not deregister old revision")
                }
            }
        }
    }

    /// Registers a revision of the desired spec; returns its ARN.
    async fn register(
        &self,
        aws: &AwsClients,
        obj: &TaskDefinition,
        d: &DesiredTaskDefinition,
    ) -> Result<String, Error> {
        let mut tags = vec![(SPEC_HASH_TAG.to_string(), d.hash.clone())];
        tags.extend(d.owner_tags.clone());
        let input = mapping::register_input(&d.spec, &d.family, &tags)?;
        // The answer is the whole revision: kept, it is the observe after the register.
        let rev = ObservedRevision::from(io::register(&aws.ecs, input, &tags).await?);
        let arn = rev.arn.clone();
        self.revisions.keep(aws, &rev);
        self.revisions.registered(aws, &arn);
        info!(object = %obj.name_any(), %arn, "registered revision");
        let (_, dropped) = retention(&registered(obj), &arn, history_limit(obj));
        self.deregister_old(aws, obj, &dropped).await;
        Ok(arn)
    }
}

/// What must change for the family to hold the desired revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevisionChange {
    /// The content differs from `revision`: register a new one.
    Register { revision: i64 },
    /// An adopted revision with the spec's content: add the ownership and spec-hash tags.
    TagOwnership { revision: i64 },
}

impl Describe for RevisionChange {
    fn describe(&self) -> String {
        match self {
            Self::Register { revision } => {
                format!("spec differs from revision {revision} (a new revision is registered)")
            }
            Self::TagOwnership { revision } => format!("ownership tags on revision {revision}"),
        }
    }
}

/// Whether the revision's content (not its tags) is the desired spec, modulo AWS defaults:
/// its spec-hash tag says so, else its content hash ([`mapping::content_hash`]) is the spec's.
fn same_content(d: &DesiredTaskDefinition, observed: &ObservedRevision) -> bool {
    observed.tags.get(SPEC_HASH_TAG) == Some(&d.hash) || observed.content == d.content
}

impl External<TaskDefinition> for TaskDefinitions {
    type Desired = DesiredTaskDefinition;
    type Observed = ObservedRevision;
    type Changes = Vec<RevisionChange>;

    fn aws_name(&self, obj: &TaskDefinition) -> String {
        format!("task definition family {}", obj.family())
    }

    async fn resolve(
        &self,
        obj: &TaskDefinition,
        _aws: &AwsClients,
        owner_tags: &BTreeMap<String, String>,
    ) -> Result<DesiredTaskDefinition, Error> {
        let ns = obj.namespace().unwrap_or_default();
        let mut spec = obj.spec.clone();
        for container in spec.container_definitions.iter_mut() {
            if let Some(r) = container.image_ref.take() {
                container.image = Some(
                    references::image(
                        &self.kube,
                        &ns,
                        &format!("container {}", container.name),
                        &r,
                    )
                    .await?,
                );
            }
        }
        Ok(DesiredTaskDefinition {
            family: obj.family(),
            hash: spec_hash(&spec),
            content: mapping::content_hash(&spec),
            spec,
            owner_tags: owner_tags.clone(),
        })
    }

    /// The revision this object stands for: the family's latest ACTIVE revision when it is
    /// ours (also right after a register whose status write was lost), else the one in status
    /// (or recorded by the last create) while it is still ACTIVE and ours (someone else registered on top: we do not fight), else
    /// the latest ACTIVE revision whoever owns it (the driver decides about adopting it).
    async fn observe(
        &self,
        obj: &TaskDefinition,
        aws: &AwsClients,
        d: &DesiredTaskDefinition,
    ) -> Result<Option<ObservedRevision>, Error> {
        let me = crate::engine::ownership::Identity::from_tags(&d.owner_tags);
        let fresh = crate::engine::Managed::refresh_requested(obj);
        let existed_by =
            crate::aws::listing::existed_by(&obj.metadata, std::time::SystemTime::now());
        let latest = self
            .revisions
            .latest(aws, &d.family, fresh, existed_by)
            .await?;
        if let Some(rev) = &latest
            && me.as_ref().is_some_and(|me| is_ours(&rev.tags, me))
        {
            return Ok(latest);
        }
        // The revision in status, else the one the last create recorded (the status write
        // may not have happened, or the watch delivered the object before it).
        let known = obj.status.as_ref().and_then(|s| s.arn.clone()).or_else(|| {
            obj.annotations()
                .get(crate::engine::EXTERNAL_NAME_ANNOTATION)
                .cloned()
        });
        if let Some(arn) = known
            && latest.as_ref().map(|l| &l.arn) != Some(&arn)
            && let Some(rev) = self.revisions.active(aws, &arn, fresh).await?
            && me.as_ref().is_some_and(|me| is_ours(&rev.tags, me))
        {
            return Ok(Some(rev));
        }
        Ok(latest)
    }

    fn observed_tags(&self, observed: &ObservedRevision) -> BTreeMap<String, String> {
        observed.tags.clone()
    }

    /// Tags of the revision in status (the one this object stands for), else of the family's
    /// latest revision.
    async fn current_tags(
        &self,
        obj: &TaskDefinition,
        aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        let target = obj
            .status
            .as_ref()
            .and_then(|s| s.arn.clone())
            .unwrap_or_else(|| obj.family());
        Ok(io::describe(&aws.ecs, &target).await?.map(|rev| rev.tags))
    }

    fn diff(&self, d: &DesiredTaskDefinition, observed: &ObservedRevision) -> Vec<RevisionChange> {
        let revision = observed.revision;
        if !same_content(d, observed) {
            return vec![RevisionChange::Register { revision }];
        }
        if !d.owner_tagged(observed) {
            return vec![RevisionChange::TagOwnership { revision }];
        }
        vec![]
    }

    /// RegisterTaskDefinition is not idempotent and has no client token: after a register whose
    /// answer was lost, the revision it made is found by its owner and spec-hash tags (or by
    /// the ARN a successful create recorded), never registered twice.
    async fn find_created(
        &self,
        _obj: &TaskDefinition,
        aws: &AwsClients,
        d: &DesiredTaskDefinition,
        external_name: Option<&str>,
    ) -> Result<Lookup<ObservedRevision>, Error> {
        let me = crate::engine::ownership::Identity::from_tags(&d.owner_tags);
        if let Some(arn) = external_name
            && let Some(rev) = io::describe(&aws.ecs, arn).await?
            && rev.active
            && me.as_ref().is_some_and(|me| is_ours(&rev.tags, me))
        {
            self.revisions.registered(aws, &rev.arn);
            return Ok(Lookup::Found {
                id: rev.arn.clone(),
                observed: rev.into(),
            });
        }
        let uid = d.owner_tags.get(OWNER_UID_TAG).cloned().unwrap_or_default();
        if uid.is_empty() {
            return Ok(Lookup::Unknown(
                "the object has no UID to find its revision by".into(),
            ));
        }
        let mine = [
            (OWNER_UID_TAG, uid.as_str()),
            (SPEC_HASH_TAG, d.hash.as_str()),
        ];
        Ok(match io::find_tagged(&aws.ecs, &d.family, &mine).await? {
            Some(rev) => {
                self.revisions.registered(aws, &rev.arn);
                Lookup::Found {
                    id: rev.arn.clone(),
                    observed: rev.into(),
                }
            }
            None => Lookup::Absent,
        })
    }

    async fn create(
        &self,
        obj: &TaskDefinition,
        aws: &AwsClients,
        d: &DesiredTaskDefinition,
    ) -> Result<String, Error> {
        self.register(aws, obj, d).await
    }

    async fn update(
        &self,
        obj: &TaskDefinition,
        aws: &AwsClients,
        d: &mut DesiredTaskDefinition,
        observed: &ObservedRevision,
        changes: &Vec<RevisionChange>,
    ) -> Result<(), Error> {
        for change in changes {
            match change {
                RevisionChange::TagOwnership { .. } => {
                    let mut tags: BTreeMap<String, String> = d.owner_tags.clone();
                    tags.insert(SPEC_HASH_TAG.to_string(), d.hash.clone());
                    self.revisions.forget(aws, &observed.arn);
                    crate::aws::tags::ecs::tag(&aws.ecs, &observed.arn, &tags).await?;
                }
                RevisionChange::Register { .. } => {
                    self.register(aws, obj, d).await?;
                }
            }
        }
        Ok(())
    }

    /// Deregisters every revision this object registered (exact ARNs from status, plus the
    /// family's latest if it carries our owner tag), then deletes them if asked to.
    async fn delete(&self, obj: &TaskDefinition, aws: &AwsClients) -> Result<DeleteOutcome, Error> {
        let mut arns = registered(obj);
        if let Some(arn) = obj.status.as_ref().and_then(|s| s.arn.clone())
            && !arns.contains(&arn)
        {
            arns.push(arn);
        }
        if let Some(latest) = io::describe(&aws.ecs, &obj.family()).await?
            && latest.tags.get(OWNER_UID_TAG).map(String::as_str) == obj.uid().as_deref()
            && !arns.contains(&latest.arn)
        {
            arns.push(latest.arn);
        }
        for arn in &arns {
            io::deregister(&aws.ecs, arn).await?;
            self.revisions.deregistered(aws, arn);
        }
        if obj.spec.delete_revisions_on_deletion.unwrap_or(false) && !arns.is_empty() {
            io::delete(&aws.ecs, &arns).await?;
        }
        Ok(DeleteOutcome::Deleted)
    }

    fn status_fields(
        &self,
        obj: &TaskDefinition,
        observed: &ObservedRevision,
    ) -> TaskDefinitionStatus {
        let (kept, _) = retention(&registered(obj), &observed.arn, history_limit(obj));
        TaskDefinitionStatus {
            family: Some(observed.family.clone()),
            revision: Some(observed.revision),
            arn: Some(observed.arn.clone()),
            registered_revisions: kept,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::revisions::*;
    use super::*;
    use std::time::Instant;

    #[test]
    fn snapshot_knows_each_familys_newest_active_revision() {
        let arn = |f: &str, r: i64| format!("arn:aws:ecs:us-east-1:1:task-definition/{f}:{r}");
        assert_eq!(family_revision(&arn("web-api", 12)), Some(("web-api", 12)));
        assert_eq!(family_revision("arn:aws:ecs:us-east-1:1:cluster/x"), None);
        let mut s = Snapshot::from_arns(
            &[
                arn("web", 2),
                arn("web", 10),
                arn("web-api", 3),
                arn("web", 9),
            ],
            Instant::now(),
        );
        let newest = |s: &Snapshot, f: &str| s.latest.get(f).map(|(r, _)| *r);
        assert_eq!(newest(&s, "web"), Some(10), "numeric, not lexical, order");
        assert_eq!(newest(&s, "web-api"), Some(3), "a prefix is another family");
        s.add(&arn("web", 11));
        assert_eq!(newest(&s, "web"), Some(11));
        s.remove(&arn("web", 11));
        s.remove(&arn("web", 10));
        assert_eq!(newest(&s, "web"), Some(9), "the next newest takes over");
        assert!(!s.active.contains(&arn("web", 10)));
        s.remove(&arn("web-api", 3));
        assert_eq!(newest(&s, "web-api"), None);
        s.remove(&arn("nothing", 1));
    }

    /// What DescribeTaskDefinition answers for `spec` registered as `revision`, with `tags`;
    /// `aws_defaults`: with the defaults AWS adds to what was sent.
    fn answer(
        spec: &TaskDefinitionSpec,
        revision: i32,
        aws_defaults: bool,
        tags: &[(&str, &str)],
    ) -> io::Revision {
        use aws_sdk_ecs::types as ecs;
        let mut input = mapping::register_input(spec, "web", &[])
            .expect("maps to a request")
            .build()
            .expect("request builds");
        if aws_defaults {
            for c in input.container_definitions.iter_mut().flatten() {
                c.essential.get_or_insert(true);
                c.environment.get_or_insert_default();
                c.mount_points.get_or_insert_default();
            }
            input.volumes.get_or_insert_default();
        }
        let mut aws_tags = input.tags.clone().unwrap_or_default();
        aws_tags.extend(
            tags.iter()
                .map(|(k, v)| ecs::Tag::builder().key(*k).value(*v).build()),
        );
        let td = mapping::described(&input, revision);
        io::Revision {
            arn: td.task_definition_arn.clone().unwrap_or_default(),
            family: "web".into(),
            revision: revision.into(),
            active: true,
            tags: crate::aws::tags::ecs::map(&aws_tags),
            task_definition: td,
            aws_tags,
        }
    }

    fn spec(v: serde_json::Value) -> TaskDefinitionSpec {
        serde_json::from_value(v).expect("spec")
    }

    fn desired(spec: TaskDefinitionSpec) -> DesiredTaskDefinition {
        DesiredTaskDefinition {
            family: "web".into(),
            hash: spec_hash(&spec),
            content: mapping::content_hash(&spec),
            spec,
            owner_tags: BTreeMap::new(),
        }
    }

    /// How `same_content` decided before kept revisions held their content as a hash: the
    /// spec-hash tag, else the content itself.
    fn same_content_by_content(d: &DesiredTaskDefinition, rev: &io::Revision) -> bool {
        rev.tags.get(SPEC_HASH_TAG) == Some(&d.hash)
            || mapping::comparable(&d.spec)
                == mapping::comparable(&mapping::spec_from_aws(&rev.task_definition, &rev.aws_tags))
    }

    /// A kept revision holds its content as a hash, and decides as the content did: the same
    /// answer for every case, and for every pair of the task definition corpus.
    #[test]
    fn same_content_by_hash_table() {
        use serde_json::json;
        let web = |image: &str, cpu: &str| {
            spec(json!({"family": "web", "cpu": cpu, "memory": "512",
                "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
                "containerDefinitions": [{"name": "web", "image": image, "essential": true}]}))
        };
        let tagged = |key: &str, value: &str| {
            let mut s = web("nginx:1", "256");
            s.tags = Some(vec![crate::api::task_definition::Tag {
                key: key.into(),
                value: value.into(),
            }]);
            s
        };
        let hash_of = spec_hash(&web("nginx:1", "256"));
        let cases: Vec<(&str, TaskDefinitionSpec, io::Revision, bool)> = vec![
            (
                "as sent",
                web("nginx:1", "256"),
                answer(&web("nginx:1", "256"), 3, false, &[]),
                true,
            ),
            (
                "with AWS's defaults",
                web("nginx:1", "256"),
                answer(&web("nginx:1", "256"), 3, true, &[]),
                true,
            ),
            (
                "1 vCPU is 1024",
                web("nginx:1", "1 vCPU"),
                answer(&web("nginx:1", "1024"), 3, false, &[]),
                true,
            ),
            (
                "another image",
                web("nginx:2", "256"),
                answer(&web("nginx:1", "256"), 3, false, &[]),
                false,
            ),
            (
                "another image, but the spec-hash tag is the spec's",
                web("nginx:1", "256"),
                answer(
                    &web("nginx:2", "256"),
                    3,
                    false,
                    &[(SPEC_HASH_TAG, &hash_of)],
                ),
                true,
            ),
            (
                "a stale spec-hash tag, the same content",
                web("nginx:1", "256"),
                answer(&web("nginx:1", "256"), 3, false, &[(SPEC_HASH_TAG, "old")]),
                true,
            ),
            (
                "the operator's and AWS's own tags are not content",
                web("nginx:1", "256"),
                answer(
                    &web("nginx:1", "256"),
                    3,
                    false,
                    &[
                        ("ecs.operator.dev/owner", "x"),
                        ("aws:cloudformation:stack", "s"),
                    ],
                ),
                true,
            ),
            (
                "a user tag is content",
                tagged("team", "a"),
                answer(&tagged("team", "b"), 3, false, &[]),
                false,
            ),
        ];
        for (case, want, rev, same) in cases {
            let d = desired(want);
            assert_eq!(
                same_content_by_content(&d, &rev),
                same,
                "{case}: by content"
            );
            let kept = ObservedRevision::from(rev);
            assert_eq!(same_content(&d, &kept), same, "{case}: by hash");
        }

        // Revisions with the same content hold the same hash, whatever their number.
        let r3 = ObservedRevision::from(answer(&web("nginx:1", "256"), 3, false, &[]));
        let r4 = ObservedRevision::from(answer(&web("nginx:1", "256"), 4, true, &[]));
        assert_ne!(r3.arn, r4.arn);
        assert_eq!(r3.content, r4.content);

        let corpus = std::fs::read_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/aws/testdata/task_definitions"
        ))
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            mapping::spec_from_json(&text).expect("corpus parses")
        })
        .collect::<Vec<_>>();
        assert!(corpus.len() >= 10, "{} corpus files", corpus.len());
        for (i, want) in corpus.iter().enumerate() {
            let d = desired(want.clone());
            for (j, have) in corpus.iter().enumerate() {
                let rev = answer(have, 1, true, &[]);
                let by_content = same_content_by_content(&d, &rev);
                assert_eq!(by_content, i == j, "corpus {i} against {j}: by content");
                assert_eq!(
                    same_content(&d, &ObservedRevision::from(rev)),
                    by_content,
                    "corpus {i} against {j}: by hash"
                );
            }
        }
    }

    #[test]
    fn retention_table() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cases = [
            ("first revision", s(&[]), "a:1", 5, s(&["a:1"]), s(&[])),
            (
                "under the limit",
                s(&["a:1", "a:2"]),
                "a:3",
                5,
                s(&["a:1", "a:2", "a:3"]),
                s(&[]),
            ),
            (
                "over the limit drops oldest",
                s(&["a:1", "a:2", "a:3"]),
                "a:4",
                2,
                s(&["a:3", "a:4"]),
                s(&["a:1", "a:2"]),
            ),
            (
                "current already recorded",
                s(&["a:1", "a:2"]),
                "a:2",
                2,
                s(&["a:1", "a:2"]),
                s(&[]),
            ),
            (
                "limit 0 behaves as 1",
                s(&["a:1"]),
                "a:2",
                0,
                s(&["a:2"]),
                s(&["a:1"]),
            ),
        ];
        for (name, registered, current, limit, kept, dropped) in cases {
            assert_eq!(
                retention(&registered, current, limit),
                (kept, dropped),
                "{name}"
            );
        }
    }
}

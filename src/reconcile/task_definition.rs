//! Wiring: TaskDefinition through the generic driver. A spec change registers a new revision;
//! nothing else does. Each revision carries a hash of the resolved spec as a tag, so "is this
//! revision our spec?" survives resyncs, operator restarts and AWS-added defaults.

use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::{DeleteOutcome, Error, External};
use crate::api::common::{READY, find_condition};
use crate::api::ecr_repository::EcrRepository;
use crate::api::task_definition::{TaskDefinition, TaskDefinitionSpec};
use crate::aws::task_definition as mapping;
use crate::aws::task_definition_io::{self as io, Revision};

/// Tag with the hash of the resolved spec a revision was registered from.
pub const SPEC_HASH_TAG: &str = "ecs.operator.dev/spec-hash";
/// Tag with the UID of the TaskDefinition object that registered a revision.
pub const OWNER_UID_TAG: &str = "ecs.operator.dev/owner-uid";
/// Tag with namespace/name of the TaskDefinition object that registered a revision.
pub const OWNER_TAG: &str = "ecs.operator.dev/owner";
/// Revisions kept ACTIVE when spec.revisionHistoryLimit is unset.
pub const DEFAULT_REVISION_HISTORY_LIMIT: usize = 5;

managed_kind!(TaskDefinition);

/// ECS-backed implementation of the four verbs.
pub struct TaskDefinitions {
    pub ecs: aws_sdk_ecs::Client,
    pub kube: kube::Client,
}

/// The spec with image references resolved, plus its hash.
pub struct DesiredTaskDefinition {
    pub family: String,
    pub spec: TaskDefinitionSpec,
    pub hash: String,
    pub owner_uid: String,
    pub owner: String,
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
    async fn resolve_image(
        &self,
        ns: &str,
        container: &str,
        r: &crate::api::task_definition::ImageRef,
    ) -> Result<String, Error> {
        let repos: Api<EcrRepository> = Api::namespaced(self.kube.clone(), ns);
        let name = &r.repository_ref.name;
        let repo = repos.get_opt(name).await?.ok_or_else(|| {
            Error::ReferenceNotReady(format!(
                "container {container}: EcrRepository {name} does not exist in namespace {ns}"
            ))
        })?;
        let ready = find_condition(
            repo.status
                .as_ref()
                .map(|s| s.conditions.as_slice())
                .unwrap_or_default(),
            READY,
        )
        .is_some_and(|c| c.is_true());
        let uri = repo.status.as_ref().and_then(|s| s.repository_uri.clone());
        match (ready, uri) {
            (true, Some(uri)) => Ok(match (&r.digest, &r.tag) {
                (Some(digest), _) => format!("{uri}@{digest}"),
                (None, Some(tag)) => format!("{uri}:{tag}"),
                (None, None) => uri,
            }),
            _ => Err(Error::ReferenceNotReady(format!(
                "container {container}: EcrRepository {name} is not Ready yet; the image resolves once it is"
            ))),
        }
    }

    async fn deregister_old(&self, obj: &TaskDefinition, arns: &[String]) {
        for arn in arns {
            match io::deregister(&self.ecs, arn).await {
                Ok(()) => {
                    info!(object = %obj.name_any(), %arn, "deregistered old revision (retention)")
                }
                // Retention is best effort: the revision stays in status and is retried next time.
                Err(e) => {
                    warn!(object = %obj.name_any(), %arn, error = %e, "could not deregister old revision")
                }
            }
        }
    }

    async fn register(&self, obj: &TaskDefinition, d: &DesiredTaskDefinition) -> Result<(), Error> {
        let tags = [
            (SPEC_HASH_TAG.to_string(), d.hash.clone()),
            (OWNER_UID_TAG.to_string(), d.owner_uid.clone()),
            (OWNER_TAG.to_string(), d.owner.clone()),
        ];
        let input = mapping::register_input(&d.spec, &d.family, &tags)?;
        let arn = io::register(&self.ecs, input).await?;
        info!(object = %obj.name_any(), %arn, "registered revision");
        let (_, dropped) = retention(&registered(obj), &arn, history_limit(obj));
        self.deregister_old(obj, &dropped).await;
        Ok(())
    }

    fn is_ours(&self, rev: &Revision, d: &DesiredTaskDefinition) -> bool {
        rev.tags.get(OWNER_UID_TAG) == Some(&d.owner_uid)
    }
}

impl External<TaskDefinition> for TaskDefinitions {
    type Desired = DesiredTaskDefinition;
    type Observed = Revision;

    async fn resolve(&self, obj: &TaskDefinition) -> Result<DesiredTaskDefinition, Error> {
        let ns = obj.namespace().unwrap_or_default();
        let mut spec = obj.spec.clone();
        for container in spec.container_definitions.iter_mut() {
            if let Some(r) = container.image_ref.take() {
                container.image = Some(self.resolve_image(&ns, &container.name, &r).await?);
            }
        }
        Ok(DesiredTaskDefinition {
            family: obj.family(),
            hash: spec_hash(&spec),
            spec,
            owner_uid: obj.uid().unwrap_or_default(),
            owner: format!("{ns}/{}", obj.name_any()),
        })
    }

    /// The revision this object stands for: the family's latest ACTIVE revision when we
    /// registered it (also right after a register whose status write was lost), else the one
    /// in status while it is still ACTIVE (someone else registered on top: we do not fight).
    async fn observe(
        &self,
        obj: &TaskDefinition,
        d: &DesiredTaskDefinition,
    ) -> Result<Option<Revision>, Error> {
        if let Some(latest) = io::describe(&self.ecs, &d.family).await?
            && latest.active
            && self.is_ours(&latest, d)
        {
            return Ok(Some(latest));
        }
        if let Some(arn) = obj.status.as_ref().and_then(|s| s.arn.clone())
            && let Some(rev) = io::describe(&self.ecs, &arn).await?
            && rev.active
        {
            return Ok(Some(rev));
        }
        Ok(None)
    }

    fn differences(&self, d: &DesiredTaskDefinition, observed: &Revision) -> Vec<String> {
        if observed.tags.get(SPEC_HASH_TAG) == Some(&d.hash) {
            return vec![];
        }
        // No (or another) hash tag: compare the content itself, modulo AWS defaults.
        let mut wanted = d.spec.clone();
        wanted.tags = strip_operator_tags(wanted.tags.take());
        let mut have = mapping::spec_from_aws(&observed.task_definition, &observed.aws_tags);
        have.tags = strip_operator_tags(have.tags.take());
        if mapping::normalize(&wanted) == mapping::normalize(&have) {
            return vec![];
        }
        vec![format!(
            "spec differs from revision {} (a new revision is registered)",
            observed.revision
        )]
    }

    async fn create(&self, obj: &TaskDefinition, d: &DesiredTaskDefinition) -> Result<(), Error> {
        self.register(obj, d).await
    }

    async fn update(
        &self,
        obj: &TaskDefinition,
        d: &DesiredTaskDefinition,
        _observed: &Revision,
    ) -> Result<(), Error> {
        self.register(obj, d).await
    }

    /// Deregisters every revision this object registered (exact ARNs from status, plus the
    /// family's latest if it carries our owner tag), then deletes them if asked to.
    async fn delete(&self, obj: &TaskDefinition) -> Result<DeleteOutcome, Error> {
        let mut arns = registered(obj);
        if let Some(arn) = obj.status.as_ref().and_then(|s| s.arn.clone())
            && !arns.contains(&arn)
        {
            arns.push(arn);
        }
        if let Some(latest) = io::describe(&self.ecs, &obj.family()).await?
            && latest.tags.get(OWNER_UID_TAG).map(String::as_str) == obj.uid().as_deref()
            && !arns.contains(&latest.arn)
        {
            arns.push(latest.arn);
        }
        for arn in &arns {
            io::deregister(&self.ecs, arn).await?;
        }
        if obj.spec.delete_revisions_on_deletion.unwrap_or(false) && !arns.is_empty() {
            io::delete(&self.ecs, &arns).await?;
        }
        Ok(DeleteOutcome::Deleted)
    }

    fn status_fields(&self, obj: &TaskDefinition, observed: &Revision) -> Map<String, Value> {
        let (kept, _) = retention(&registered(obj), &observed.arn, history_limit(obj));
        let mut m = Map::new();
        m.insert("family".into(), json!(observed.family));
        m.insert("revision".into(), json!(observed.revision));
        m.insert("arn".into(), json!(observed.arn));
        m.insert("registeredRevisions".into(), json!(kept));
        m
    }
}

fn strip_operator_tags(
    tags: Option<Vec<crate::api::task_definition::Tag>>,
) -> Option<Vec<crate::api::task_definition::Tag>> {
    let kept: Vec<_> = tags
        .unwrap_or_default()
        .into_iter()
        .filter(|t| {
            !t.key
                .as_deref()
                .unwrap_or_default()
                .starts_with("ecs.operator.dev/")
        })
        .collect();
    (!kept.is_empty()).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

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

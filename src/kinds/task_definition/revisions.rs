//! The TaskDefinition revision cache: one shared, paginated ListTaskDefinitions per AWS target
//! and resync answers "does this revision exist" (and "does this family have any ACTIVE
//! revision": no DescribeTaskDefinition "not found" probe before a first register), and kept
//! DescribeTaskDefinition or RegisterTaskDefinition answers (content never changes; tags are
//! re-read every few windows) serve observe without a call. A kept answer is an
//! [`ObservedRevision`]: what the decisions read, with the content held as its hash.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::mapping;
use super::sdk::{self as io, Revision};
use crate::aws::AwsClients;
use crate::aws::listing::{Absence, absence};

/// Pages (of 100 ARNs) one shared ListTaskDefinitions may take; an account with more ACTIVE
/// revisions falls back to one DescribeTaskDefinition per family and resync.
pub(super) const MAX_LIST_PAGES: usize = 20;
/// Windows after which a kept revision (its tags may change, its content never) is read again,
/// and after which a too-large account's list is tried again.
pub(super) const CONTENT_WINDOWS: u32 = 10;

/// A revision as the controller's decisions read it, and as the cache keeps it: identity,
/// status, tags, and its content only as [`mapping::content_hash`] (all `same_content` reads of
/// the content). A kept revision costs its ARN, tags and a hash, not its whole task definition;
/// revisions with the same content have the same hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedRevision {
    pub arn: String,
    pub family: String,
    pub revision: i64,
    pub active: bool,
    pub tags: BTreeMap<String, String>,
    /// [`mapping::content_hash`] of the spec the revision reads back as.
    pub content: String,
}

impl From<Revision> for ObservedRevision {
    fn from(rev: Revision) -> Self {
        let spec = mapping::spec_from_aws(&rev.task_definition, &rev.aws_tags);
        Self {
            content: mapping::content_hash(&spec),
            arn: rev.arn,
            family: rev.family,
            revision: rev.revision,
            active: rev.active,
            tags: rev.tags,
        }
    }
}

/// The ACTIVE revisions of one AWS target, as one paginated ListTaskDefinitions saw them.
#[derive(Default)]
pub(super) struct Snapshot {
    at: Option<Instant>,
    /// Wall-clock time of the listing (compared with objects' creation times).
    taken: Option<SystemTime>,
    /// Pages the listing took.
    pages: usize,
    /// False when the account had more than [`MAX_LIST_PAGES`] pages: not used then.
    complete: bool,
    pub(super) active: HashSet<String>,
    /// Newest ACTIVE (revision, ARN) per family.
    pub(super) latest: HashMap<String, (i64, String)>,
}

/// (family, revision) of a task definition ARN. Pure.
pub fn family_revision(arn: &str) -> Option<(&str, i64)> {
    let (_, rest) = arn.rsplit_once(":task-definition/")?;
    let (family, revision) = rest.rsplit_once(':')?;
    Some((family, revision.parse().ok()?))
}

impl Snapshot {
    pub(super) fn from_arns(arns: &[String], at: Instant) -> Self {
        let mut s = Snapshot {
            at: Some(at),
            taken: Some(SystemTime::now()),
            pages: arns.len().div_ceil(100).max(1),
            complete: true,
            ..Snapshot::default()
        };
        for arn in arns {
            s.add(arn);
        }
        s
    }

    pub(super) fn add(&mut self, arn: &str) {
        self.active.insert(arn.to_string());
        if let Some((family, revision)) = family_revision(arn) {
            let newer = self
                .latest
                .get(family)
                .is_none_or(|(have, _)| *have < revision);
            if newer {
                self.latest
                    .insert(family.to_string(), (revision, arn.to_string()));
            }
        }
    }

    pub(super) fn remove(&mut self, arn: &str) {
        self.active.remove(arn);
        if let Some((family, _)) = family_revision(arn)
            && self.latest.get(family).is_some_and(|(_, a)| a == arn)
        {
            // Recompute the family's newest from what is left.
            let newest = self
                .active
                .iter()
                .filter_map(|a| family_revision(a).map(|(f, r)| (f, r, a)))
                .filter(|(f, _, _)| *f == family)
                .max_by_key(|(_, r, _)| *r)
                .map(|(_, r, a)| (r, a.clone()));
            match newest {
                Some(n) => self.latest.insert(family.to_string(), n),
                None => self.latest.remove(family),
            };
        }
    }
}

/// Fewer DescribeTaskDefinition calls: a revision's content never changes once registered
/// (only its status can), so revisions are kept by ARN, and which revisions are ACTIVE comes
/// from one shared, paginated ListTaskDefinitions per AWS target and resync period instead
/// of one DescribeTaskDefinition per family and resync. Anything the snapshot does not know
/// (a new family, a revision registered by someone else since) falls back to a describe.
pub(super) struct RevisionCache {
    window: Duration,
    snapshots: Mutex<HashMap<String, Snapshot>>,
    /// One refresh at a time per process.
    refreshing: tokio::sync::Mutex<()>,
    contents: Mutex<HashMap<(String, String), (Instant, ObservedRevision)>>,
}

impl RevisionCache {
    pub(super) fn new(window: Duration) -> Self {
        Self {
            window,
            snapshots: Mutex::new(HashMap::new()),
            refreshing: tokio::sync::Mutex::new(()),
            contents: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn snapshots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Snapshot>> {
        self.snapshots.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn contents(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), (Instant, ObservedRevision)>> {
        self.contents.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the target's snapshot is usable now; `None` asks for a refresh.
    pub(super) fn usable(&self, target: &str) -> Option<bool> {
        let snapshots = self.snapshots();
        let s = snapshots.get(target)?;
        let age = s.at?.elapsed();
        if s.complete {
            (age < self.window).then_some(true)
        } else {
            (age < self.window * CONTENT_WINDOWS).then_some(false)
        }
    }

    /// Reads the target's ACTIVE revisions if the snapshot is older than a window. Returns
    /// whether a complete, fresh snapshot exists.
    pub(super) async fn refresh(&self, aws: &AwsClients) -> Result<bool, crate::aws::AwsError> {
        self.refresh_after(aws, None).await
    }

    /// Like [`Self::refresh`], and also lists again when the snapshot was taken before
    /// `after` (one listing serves every object created before it started).
    async fn refresh_after(
        &self,
        aws: &AwsClients,
        after: Option<SystemTime>,
    ) -> Result<bool, crate::aws::AwsError> {
        let target = aws.target();
        let taken_before = |cache: &Self| {
            after.is_some_and(|after| {
                cache
                    .snapshots()
                    .get(&target)
                    .and_then(|s| s.taken)
                    .is_none_or(|t| t < after)
            })
        };
        if !taken_before(self)
            && let Some(ok) = self.usable(&target)
        {
            return Ok(ok);
        }
        let _one = self.refreshing.lock().await;
        if !taken_before(self)
            && let Some(ok) = self.usable(&target)
        {
            return Ok(ok);
        }
        let at = Instant::now();
        let taken = SystemTime::now();
        let listed = io::list_active(&aws.ecs, MAX_LIST_PAGES).await?;
        let snapshot = match listed {
            Some(arns) => Snapshot {
                taken: Some(taken),
                ..Snapshot::from_arns(&arns, at)
            },
            None => Snapshot {
                at: Some(at),
                taken: Some(taken),
                pages: MAX_LIST_PAGES,
                ..Snapshot::default()
            },
        };
        let complete = snapshot.complete;
        self.snapshots().insert(target, snapshot);
        Ok(complete)
    }

    /// The newest ACTIVE ARN of `family` per the snapshot: `Some(None)` when the snapshot is
    /// complete and has none, `None` when the snapshot cannot tell.
    pub(super) async fn latest_arn(
        &self,
        aws: &AwsClients,
        family: &str,
        existed_by: Option<SystemTime>,
    ) -> Result<Option<Option<String>>, crate::aws::AwsError> {
        if !self.refresh(aws).await? {
            return Ok(None);
        }
        let listed = |cache: &Self| {
            let snapshots = cache.snapshots();
            let s = snapshots.get(&aws.target())?;
            match s.latest.get(family) {
                Some((_, arn)) => Some(Ok(arn.clone())),
                None => Some(Err(absence(s.taken?, s.pages, existed_by))),
            }
        };
        match listed(self) {
            None => Ok(None),
            Some(Ok(arn)) => Ok(Some(Some(arn))),
            Some(Err(Absence::Absent)) => Ok(Some(None)),
            Some(Err(Absence::Describe)) => Ok(None),
            Some(Err(Absence::Relist)) => {
                let after = existed_by;
                if !self.refresh_after(aws, after).await? {
                    return Ok(None);
                }
                Ok(match listed(self) {
                    Some(Ok(arn)) => Some(Some(arn)),
                    Some(Err(Absence::Absent)) => Some(None),
                    _ => None,
                })
            }
        }
    }

    /// Whether `arn` is ACTIVE per a complete, fresh snapshot (`None`: cannot tell).
    pub(super) async fn is_active(
        &self,
        aws: &AwsClients,
        arn: &str,
    ) -> Result<Option<bool>, crate::aws::AwsError> {
        if !self.refresh(aws).await? {
            return Ok(None);
        }
        Ok(self
            .snapshots()
            .get(&aws.target())
            .map(|s| s.active.contains(arn)))
    }

    /// The revision by ARN, kept for [`CONTENT_WINDOWS`] windows.
    pub(super) async fn content(
        &self,
        aws: &AwsClients,
        arn: &str,
    ) -> Result<Option<ObservedRevision>, crate::aws::AwsError> {
        let key = (aws.target(), arn.to_string());
        if let Some((at, rev)) = self.contents().get(&key)
            && at.elapsed() < self.window * CONTENT_WINDOWS
        {
            return Ok(Some(rev.clone()));
        }
        let rev = io::describe(&aws.ecs, arn)
            .await?
            .map(ObservedRevision::from);
        if let Some(r) = &rev {
            self.keep(aws, r);
        }
        Ok(rev)
    }

    pub(super) fn keep(&self, aws: &AwsClients, rev: &ObservedRevision) {
        let mut contents = self.contents();
        let window = self.window * CONTENT_WINDOWS;
        contents.retain(|_, (at, _)| at.elapsed() < window);
        contents.insert(
            (aws.target(), rev.arn.clone()),
            (Instant::now(), rev.clone()),
        );
    }

    pub(super) fn forget(&self, aws: &AwsClients, arn: &str) {
        self.contents().remove(&(aws.target(), arn.to_string()));
    }

    /// This process registered `arn`: it is ACTIVE and its family's newest.
    pub(super) fn registered(&self, aws: &AwsClients, arn: &str) {
        if let Some(s) = self.snapshots().get_mut(&aws.target()) {
            s.add(arn);
        }
    }

    /// This process deregistered `arn`.
    pub(super) fn deregistered(&self, aws: &AwsClients, arn: &str) {
        if let Some(s) = self.snapshots().get_mut(&aws.target()) {
            s.remove(arn);
        }
        self.forget(aws, arn);
    }

    /// The family's newest ACTIVE revision: from the snapshot and kept contents when they
    /// know (unless `fresh`: the refresh annotation), else DescribeTaskDefinition of the family.
    /// A family the snapshot does not list is absent without a call when the listing is newer
    /// than the object (`existed_by`): see [`absence`].
    pub(super) async fn latest(
        &self,
        aws: &AwsClients,
        family: &str,
        fresh: bool,
        existed_by: Option<SystemTime>,
    ) -> Result<Option<ObservedRevision>, crate::aws::AwsError> {
        if !fresh {
            match self.latest_arn(aws, family, existed_by).await? {
                Some(None) => return Ok(None),
                Some(Some(arn)) => {
                    if let Some(mut rev) = self.content(aws, &arn).await? {
                        // Listed ACTIVE in this window (a kept copy may predate that).
                        rev.active = true;
                        return Ok(Some(rev));
                    }
                }
                None => {}
            }
        }
        let rev = io::describe(&aws.ecs, family).await?;
        Ok(self.described(aws, rev))
    }

    /// The revision `arn` if it is ACTIVE: from the snapshot and kept contents when they know
    /// (unless `fresh`), else DescribeTaskDefinition.
    pub(super) async fn active(
        &self,
        aws: &AwsClients,
        arn: &str,
        fresh: bool,
    ) -> Result<Option<ObservedRevision>, crate::aws::AwsError> {
        let listed = if fresh {
            None
        } else {
            self.is_active(aws, arn).await?
        };
        match listed {
            Some(false) => Ok(None),
            Some(true) => Ok(self.content(aws, arn).await?.map(|mut rev| {
                rev.active = true;
                rev
            })),
            None => {
                let rev = io::describe(&aws.ecs, arn).await?;
                Ok(self.described(aws, rev))
            }
        }
    }

    /// What a DescribeTaskDefinition read teaches the cache: an ACTIVE revision is kept (its
    /// tags as read now) and listed; an INACTIVE one (deregistered outside this process) is
    /// dropped from the snapshot. Returns the revision if it is ACTIVE.
    pub(super) fn described(
        &self,
        aws: &AwsClients,
        rev: Option<Revision>,
    ) -> Option<ObservedRevision> {
        let rev = ObservedRevision::from(rev?);
        if rev.active {
            self.keep(aws, &rev);
            self.registered(aws, &rev.arn);
            Some(rev)
        } else {
            self.deregistered(aws, &rev.arn);
            None
        }
    }
}

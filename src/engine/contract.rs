//! The contract between the driver and a kind: [`Managed`] (the Kubernetes object), [`External`]
//! (the AWS resource: observe, create, update, delete, plus tags and ownership), what observe
//! reports ([`Readiness`], [`Changes`]) and what delete answers ([`DeleteOutcome`]).

use super::*;

/// Result of a delete attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// AWS still holds something the spec says must not be lost; keep the finalizer.
    Blocked(String),
    /// Deletion started and takes a while (e.g. a service draining); poll until it is done.
    InProgress(String),
}

/// A stable reason and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub reason: String,
    pub message: String,
}

impl Note {
    pub fn new(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// What observe says about the AWS resource: whether it is usable (`Ready`), and the explicit
/// overrides a kind may report. The driver turns it into conditions in [`super::settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    pub reason: String,
    pub message: String,
    /// The resource waits for a person (a failed rollout, a failed run): `Stalled=True`,
    /// kstatus Failed. `None`: a resource that is not ready is work in flight (polled).
    pub stalled: Option<Note>,
    /// AWS does not run the spec although nothing is left to send (a failed rollout kept
    /// back): `Synced=False` with this reason instead of the driver's own Synced.
    pub not_synced: Option<Note>,
    /// Kind-specific conditions (e.g. `Progressing` for a service rollout, `Complete` and
    /// `Failed` for a run).
    pub conditions: Vec<NewCondition>,
}

impl Readiness {
    pub fn ready(message: impl Into<String>) -> Self {
        Self {
            ready: true,
            reason: reason::AVAILABLE.into(),
            message: message.into(),
            stalled: None,
            not_synced: None,
            conditions: Vec::new(),
        }
    }

    /// Not usable yet, with this reason: work in flight.
    pub fn not_ready(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            ready: false,
            reason: reason.into(),
            message: message.into(),
            stalled: None,
            not_synced: None,
            conditions: Vec::new(),
        }
    }
}

/// One change a kind's `update` applies, described for events, logs and conditions.
pub trait Describe {
    fn describe(&self) -> String;
}

/// The typed difference between the desired state and AWS (ACK's delta): produced by
/// [`External::diff`], applied as is by [`External::update`].
pub trait Changes: Send + Sync {
    fn is_empty(&self) -> bool;
    /// One short description per change.
    fn describe(&self) -> Vec<String>;
}

impl<C: Describe + Send + Sync> Changes for Vec<C> {
    fn is_empty(&self) -> bool {
        <[C]>::is_empty(self)
    }
    fn describe(&self) -> Vec<String> {
        self.iter().map(Describe::describe).collect()
    }
}

/// A kind's CRD status type. The kind fills its own fields from what it observed
/// ([`External::status_fields`]); the driver owns `conditions`, `observedGeneration` and
/// `lastRefreshed` ([`DRIVER_STATUS_FIELDS`]) and writes them itself.
pub trait KindStatus: Serialize + Default + Clone + Send + Sync + 'static {
    fn conditions(&self) -> &[Condition];
    fn observed_generation(&self) -> Option<i64>;
    fn last_refreshed(&self) -> Option<&str>;
    fn set_last_refreshed(&mut self, value: Option<String>);
    /// The AWS identity (ARN) the status records, which closes an unfinished create; `None`
    /// for a kind whose status names none.
    fn identity(&self) -> Option<&str>;
}

/// The status fields the driver writes; a kind's [`External::status_fields`] leaves them unset.
pub const DRIVER_STATUS_FIELDS: [&str; 3] = ["conditions", "observedGeneration", "lastRefreshed"];

/// Kinds the driver manages: their typed status, conditions and policies.
pub trait Managed:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The CRD's status type.
    type Status: KindStatus;
    /// The status as last written (`None` before the first write).
    fn kind_status(&self) -> Option<&Self::Status>;
    fn conditions(&self) -> &[Condition] {
        self.kind_status()
            .map(KindStatus::conditions)
            .unwrap_or_default()
    }
    /// deletionPolicy, adoptionPolicy, managementPolicy, region.
    fn policies(&self) -> &Policies;
    /// Whether this reconcile reads AWS afresh, past every kept answer: a refresh annotation
    /// value not honoured yet (not the one `status.lastRefreshed` records).
    fn refresh_requested(&self) -> bool {
        let last = self.kind_status().and_then(KindStatus::last_refreshed);
        crate::api::common::refresh_due(
            self.meta().annotations.as_ref().unwrap_or(&BTreeMap::new()),
            last,
        )
        .is_some()
    }
}

/// A managed external resource: resolve (dereference, I/O) -> observe -> create / update, and
/// delete. `observe` returns `None` when the AWS resource does not exist. Every verb gets the
/// AWS clients for the object's region and namespace role.
pub trait External<K: Managed>: Send + Sync + 'static {
    /// The spec with references resolved, ready to compare and send.
    type Desired: Send + Sync;
    type Observed: Send + Sync;
    /// What `diff` finds and `update` applies.
    type Changes: Changes;

    /// The AWS name the object stands for (repository, family, cluster, service), for messages.
    fn aws_name(&self, obj: &K) -> String;
    /// Resolves references (other objects, defaults) into the desired state. `owner_tags` are
    /// the ownership tags the AWS resource must carry: part of the desired tags.
    fn resolve(
        &self,
        obj: &K,
        aws: &AwsClients,
        owner_tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Self::Desired, Error>> + Send;
    fn observe(
        &self,
        obj: &K,
        aws: &AwsClients,
        desired: &Self::Desired,
    ) -> impl Future<Output = Result<Option<Self::Observed>, Error>> + Send;
    /// Pure: the tags the observed AWS resource carries (ownership is read from them).
    fn observed_tags(&self, observed: &Self::Observed) -> BTreeMap<String, String>;
    /// Pure: where the driver keeps the resource's tags (its ARN and service). Tags are then
    /// the driver's: it compares [`External::desired_tags`] with [`External::observed_tags`]
    /// and applies the difference after `update`, so `diff` leaves them out. `None` (the
    /// default) leaves them to the kind: a task definition's tags belong to its revision.
    fn tag_target(&self, _observed: &Self::Observed) -> Option<TagTarget> {
        None
    }
    /// Pure: the tags the resource must carry (spec tags plus the ownership tags `resolve` was
    /// given). Used with [`External::tag_target`].
    fn desired_tags(&self, _desired: &Self::Desired) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    /// Tags of the AWS resource this object names, `None` when it does not exist. Used before
    /// deleting, so it must not need references to resolve (they may be gone already).
    fn current_tags(
        &self,
        obj: &K,
        aws: &AwsClients,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>, Error>> + Send;
    /// Pure: what must change for AWS to match the desired state (empty when it does). The
    /// same value is what `update` applies: nothing is re-derived there.
    fn diff(&self, desired: &Self::Desired, observed: &Self::Observed) -> Self::Changes;
    /// Creates the resource; returns its external identity (ARN), which the driver records
    /// on the object before anything else.
    fn create(
        &self,
        obj: &K,
        aws: &AwsClients,
        desired: &Self::Desired,
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// Looks for what an earlier create of this object made, when its outcome is unknown (a
    /// crash or a lost answer after the call) and observe found nothing. `external_name` is the
    /// identity the last successful create recorded, if any. Default: the spec names the
    /// resource and observe looks it up by that name, so nothing found means nothing exists (and
    /// AWS refuses a second resource with that name, or returns the first: CreateCluster,
    /// CreateService with its client token).
    fn find_created(
        &self,
        _obj: &K,
        _aws: &AwsClients,
        _desired: &Self::Desired,
        _external_name: Option<&str>,
    ) -> impl Future<Output = Result<Lookup<Self::Observed>, Error>> + Send {
        async { Ok(Lookup::Absent) }
    }
    /// Applies `changes` (from [`External::diff`]). A one-shot request it carried out (a
    /// restart) is cleared from `desired`, so the check after the update does not ask again.
    fn update(
        &self,
        obj: &K,
        aws: &AwsClients,
        desired: &mut Self::Desired,
        observed: &Self::Observed,
        changes: &Self::Changes,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Deletes whatever this object owns in AWS; an already-absent resource counts as deleted.
    /// The driver calls it only after checking ownership.
    fn delete(
        &self,
        obj: &K,
        aws: &AwsClients,
    ) -> impl Future<Output = Result<DeleteOutcome, Error>> + Send;
    /// Pure: the kind's status fields (arn, uri, counts...) from what it observed, in the CRD's
    /// status type; the driver's own fields ([`DRIVER_STATUS_FIELDS`]) are left unset.
    fn status_fields(&self, obj: &K, observed: &Self::Observed) -> K::Status;
    /// Pure: is the resource usable? Default: it exists, so it is ready.
    fn readiness(&self, _obj: &K, _observed: &Self::Observed) -> Readiness {
        Readiness::ready("")
    }
}

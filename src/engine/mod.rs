//! The one generic driver every kind uses: finalizer, observe -> create/update/delete, conditions,
//! events, backoff, resync. It knows nothing kind-specific; each kind implements [`External`].

/// Implements [`Managed`] for a kind whose status holds a `conditions` list (every kind does).
macro_rules! managed_kind {
    ($kind:ty) => {
        impl $crate::engine::Managed for $kind {
            fn conditions(&self) -> &[$crate::api::common::Condition] {
                self.status
                    .as_ref()
                    .map(|s| s.conditions.as_slice())
                    .unwrap_or_default()
            }
            fn policies(&self) -> &$crate::api::common::Policies {
                &self.spec.policies
            }
        }
    };
}

pub mod conditions;
pub mod create;
#[cfg(test)]
mod driver_tests;
pub mod namespaces;
pub mod ownership;
pub mod references;
pub mod tolerant;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tracing::{debug, info, warn};

use crate::api::FINALIZER;
use crate::api::common::{
    Condition, ConditionStatus, DeletionPolicy, ManagementPolicy, PAUSED_ANNOTATION, Policies,
    READY, RECONCILING, STALLED, SYNCED, find_condition,
};
use crate::aws::tags::{self, TagChanges, TagTarget};
use crate::aws::{AwsClients, AwsError, AwsProvider, ErrorClass};
use conditions::{NewCondition, Progress, reason};
use namespaces::Namespaces;
use ownership::{Claim, Identity, Plan};

/// Environment errors (permissions, credentials, namespace settings) back off this many times
/// slower than other errors: 30 s, 1, 2, 4, 5 minutes with the default settings.
const ENVIRONMENT_BACKOFF_FACTOR: u32 = 15;

/// Longest wait before retrying a throttled reconcile.
const THROTTLED_BACKOFF_MAX: Duration = Duration::from_secs(32);

/// Field manager for every write the operator makes.
pub const FIELD_MANAGER: &str = "ecs-operator";

/// Errors a reconcile can meet, each classified for retry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Aws(#[from] AwsError),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The spec cannot be mapped to a valid AWS request.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// A referenced object (e.g. an EcrRepository) does not exist or is not Ready yet.
    #[error("{0}")]
    ReferenceNotReady(String),
    /// The driver left AWS untouched on purpose (ownership, adoption policy, observe-only).
    #[error("{message}")]
    Refused {
        reason: &'static str,
        message: String,
    },
    /// AWS accepted the update but still differs from the spec.
    #[error("AWS accepted the update but still differs from the spec in: {0}; retrying")]
    NotConverged(String),
    /// Not the spec's fault and not AWS's answer: e.g. a malformed namespace annotation.
    #[error("{message}")]
    Environment {
        reason: &'static str,
        message: String,
    },
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Aws(e) => match e.class {
                // NotFound reaching the driver means a dependency is missing: retry.
                ErrorClass::NotFound => ErrorClass::Retryable,
                c => c,
            },
            // Refusals are retried slowly (with backoff): the other owner may go away, the
            // resource may appear; a spec change retries at once.
            Error::Kube(_)
            | Error::NotConverged(_)
            | Error::ReferenceNotReady(_)
            | Error::Refused { .. } => ErrorClass::Retryable,
            Error::InvalidSpec(_) => ErrorClass::Terminal,
            Error::Environment { .. } => ErrorClass::Environment,
        }
    }

    /// Stable condition / event reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::NotConverged(_) => return reason::NOT_CONVERGED,
            Error::ReferenceNotReady(_) => return reason::REFERENCE_NOT_READY,
            Error::Refused { reason, .. } | Error::Environment { reason, .. } => return reason,
            Error::Aws(e) if e.class == ErrorClass::Environment => {
                return if crate::aws::errors::is_credentials_code(e.code.as_deref()) {
                    reason::CREDENTIALS_ERROR
                } else {
                    reason::ACCESS_DENIED
                };
            }
            _ => {}
        }
        match self.class() {
            ErrorClass::Terminal => reason::TERMINAL_ERROR,
            ErrorClass::Throttled => reason::THROTTLED,
            _ => reason::RECONCILE_ERROR,
        }
    }
}

/// Result of a delete attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// AWS still holds something the spec says must not be lost; keep the finalizer.
    Blocked(String),
    /// Deletion started and takes a while (e.g. a service draining); poll until it is done.
    InProgress(String),
}

/// Whether the AWS resource is usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    pub reason: String,
    pub message: String,
    /// Further kind-specific conditions (e.g. `Progressing` for a service rollout).
    pub extra: Vec<NewCondition>,
}

impl Readiness {
    pub fn ready(message: impl Into<String>) -> Self {
        Self {
            ready: true,
            reason: reason::AVAILABLE.into(),
            message: message.into(),
            extra: Vec::new(),
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

pub use create::{
    CREATE_FAILED_ANNOTATION, CREATE_PENDING_ANNOTATION, CREATE_SUCCEEDED_ANNOTATION,
    EXTERNAL_NAME_ANNOTATION, Lookup,
};

/// Kinds the driver manages expose their conditions.
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
    fn conditions(&self) -> &[Condition];
    /// deletionPolicy, adoptionPolicy, managementPolicy, region.
    fn policies(&self) -> &Policies;
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
    /// Kind-specific status fields (arn, uri, counts...). Pure.
    fn status_fields(&self, obj: &K, observed: &Self::Observed) -> Map<String, Value>;
    /// Pure: is the resource usable? Default: it exists, so it is ready.
    fn readiness(&self, _obj: &K, _observed: &Self::Observed) -> Readiness {
        Readiness::ready("")
    }
}

/// What every controller starts from.
#[derive(Clone)]
pub struct Shared {
    pub client: kube::Client,
    pub env: Arc<Environment>,
    pub settings: Settings,
}

/// Process-wide things every controller shares: AWS clients per target, namespace settings,
/// and the operator's identity and defaults.
#[derive(Debug)]
pub struct Environment {
    pub aws: AwsProvider,
    pub namespaces: Namespaces,
    /// Written into every owner tag; tells operator instances (clusters) apart.
    pub instance_id: String,
    /// Deletion policy when neither the spec nor the namespace sets one.
    pub default_deletion_policy: DeletionPolicy,
    /// Metrics and health state of the process.
    pub telemetry: crate::runtime::Telemetry,
}

/// Driver settings shared by all kinds.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Drift check interval for healthy objects.
    pub resync: Duration,
    /// Poll interval while a resource is not ready yet.
    pub not_ready_poll: Duration,
    /// First retry delay after a retryable error; doubles per failure.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub concurrency: u16,
    /// Namespace to watch; `None` watches all.
    pub namespace: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(300),
            not_ready_poll: Duration::from_secs(10),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
            concurrency: 4,
            namespace: None,
        }
    }
}

/// Shared state of one kind's controller.
pub struct Context<E> {
    pub client: kube::Client,
    pub env: Arc<Environment>,
    pub recorder: Recorder,
    pub external: E,
    pub settings: Settings,
    failures: Mutex<HashMap<String, u32>>,
}

impl<E> Context<E> {
    pub fn new(
        client: kube::Client,
        env: Arc<Environment>,
        external: E,
        settings: Settings,
    ) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            env,
            external,
            settings,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The delay before this object's next retry (its failures counted): [`retry_delay`].
    fn next_backoff(&self, key: &str, class: ErrorClass) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        retry_delay(&self.settings, class, key, *n)
    }

    fn reset_backoff(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Exponential backoff for the `attempt`-th failure in a row of object `key`: base * 2^(attempt-1),
/// capped at `backoff_max`. Pure.
pub fn retry_delay(settings: &Settings, class: ErrorClass, key: &str, attempt: u32) -> Duration {
    let (base, max) = (settings.backoff_base, settings.backoff_max);
    match class {
        // AWS's buckets refill within seconds: retry throttled calls soon, never minutes
        // later (that would bound convergence by the backoff, not by AWS).
        // Spread (50-100 %, fixed per object and attempt), so objects throttled together
        // do not come back together.
        ErrorClass::Throttled => spread(
            backoff_delay(base * 4, THROTTLED_BACKOFF_MAX.min(max), attempt),
            key,
            attempt,
        ),
        // Someone has to fix IAM or the namespace first: retry every few minutes, not seconds.
        ErrorClass::Environment => {
            (backoff_delay(base, max, attempt) * ENVIRONMENT_BACKOFF_FACTOR).min(max)
        }
        _ => backoff_delay(base, max, attempt),
    }
}

/// Pure: `delay` scaled into 50-100 % by a hash of (key, attempt).
pub fn spread(delay: Duration, key: &str, attempt: u32) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (key, attempt).hash(&mut h);
    let fraction = 0.5 + (h.finish() % 1000) as f64 / 2000.0;
    delay.mul_f64(fraction)
}

/// Pure backoff computation: base * 2^(attempt-1), capped at max.
pub fn backoff_delay(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    base.saturating_mul(factor).min(max)
}

fn key_of<K: Managed>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Runs the controller for kind `K` until a shutdown signal.
pub async fn run<K, E>(client: kube::Client, env: Arc<Environment>, external: E, settings: Settings)
where
    K: Managed,
    E: External<K>,
{
    run_with(client, env, external, settings, |c| c).await
}

/// Like [`run`], with a hook to add watches (e.g. re-reconcile when a referenced object changes).
pub async fn run_with<K, E, F>(
    client: kube::Client,
    env: Arc<Environment>,
    external: E,
    settings: Settings,
    configure: F,
) where
    K: Managed,
    E: External<K>,
    F: FnOnce(Controller<K>) -> Controller<K>,
{
    let concurrency = settings.concurrency;
    let ctx = Arc::new(Context::new(client, env, external, settings));
    info!(kind = %K::kind(&()), "starting controller");
    // Watched as DynamicObject and converted per object: one object this version cannot read
    // is reported and skipped instead of failing the whole watch.
    let (store, objects) =
        tolerant::controller_stream::<K>(&ctx.client, &ctx.settings, ctx.recorder.clone());
    let controller = Controller::for_stream(objects, store)
        .with_config(controller::Config::default().concurrency(concurrency));
    // /readyz waits for this cache; /metrics counts its objects by condition.
    let synced =
        crate::runtime::track_controller(&ctx.env.telemetry, controller.store(), K::conditions);
    let run = configure(controller)
        .shutdown_on_signal()
        .run(reconcile::<K, E>, error_policy::<K, E>, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                debug!(error = %e, "reconcile dispatch");
            }
        });
    // `synced` must be polled by this task, never another: the store's readiness signal wakes
    // only the last task that waited on it, which would leave the controller waiting forever.
    futures::future::select(std::pin::pin!(run), synced).await;
}

/// The API for kind `K` in the watched namespace (or all namespaces).
pub fn watched_api<K: Managed>(client: &kube::Client, settings: &Settings) -> Api<K> {
    match &settings.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn error_policy<K: Managed, E: External<K>>(
    obj: Arc<K>,
    err: &Error,
    ctx: Arc<Context<E>>,
) -> Action {
    ctx.env
        .telemetry
        .metrics
        .count_reconcile_error(&K::kind(&()), err.reason());
    let delay = ctx.next_backoff(&key_of(obj.as_ref()), err.class());
    warn!(object = %key_of(obj.as_ref()), error = %err, ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// One reconcile of one object. AWS errors are handled here (conditions, events, backoff);
/// only a failure to talk to Kubernetes escapes to `error_policy`.
pub async fn reconcile<K: Managed, E: External<K>>(
    obj: Arc<K>,
    ctx: Arc<Context<E>>,
) -> Result<Action, Error> {
    let _timer = ctx.env.telemetry.metrics.reconcile_timer(&K::kind(&()));
    let key = key_of(obj.as_ref());
    if obj.meta().deletion_timestamp.is_some() {
        return finalize(obj.as_ref(), &ctx, &key).await;
    }
    if !obj.finalizers().iter().any(|f| f == FINALIZER) {
        add_finalizer(obj.as_ref(), &ctx.client).await?;
    }
    // A terminal error waits for a spec change: no AWS call, no hot loop.
    if let Some(synced) = find_condition(obj.conditions(), SYNCED)
        && synced.reason == reason::TERMINAL_ERROR
        && synced.observed_generation == obj.meta().generation
    {
        debug!(object = %key, "terminal error for this generation; waiting for a spec change");
        return Ok(Action::await_change());
    }
    let mode = Mode::of(obj.as_ref());
    let was_paused =
        find_condition(obj.conditions(), SYNCED).is_some_and(|c| c.reason == reason::PAUSED);
    if mode == Mode::Paused && !was_paused {
        let note = format!("{PAUSED_ANNOTATION} is set: AWS is not changed until it is removed");
        publish(
            &ctx,
            obj.as_ref(),
            EventType::Normal,
            "Paused",
            "Pause",
            note,
        )
        .await;
    } else if mode != Mode::Paused && was_paused {
        let note = "resumed: AWS is converged to the spec again".to_string();
        publish(
            &ctx,
            obj.as_ref(),
            EventType::Normal,
            "Resumed",
            "Resume",
            note,
        )
        .await;
    }
    match converge(obj.as_ref(), &ctx, mode).await {
        Ok(done) => {
            ctx.reset_backoff(&key);
            debug!(object = %key, ready = done.readiness.ready, ?mode, "reconciled: in sync");
            let ready = done.readiness.ready;
            let mut extra = done.readiness.extra;
            // A kind may report a stall (a failed rollout); otherwise a resource that is not
            // ready yet (rollout, provisioning) is work in flight, polled below.
            let stalled = extra
                .iter()
                .find(|c| c.type_ == STALLED && c.status == ConditionStatus::True)
                .cloned();
            // ...and may say the spec is not what AWS runs (a failed rollout kept back).
            let synced = extra
                .iter()
                .find(|c| c.type_ == SYNCED)
                .cloned()
                .unwrap_or(done.synced);
            extra.retain(|c| c.type_ != STALLED && c.type_ != RECONCILING && c.type_ != SYNCED);
            let progress = match stalled {
                Some(c) => Progress::Stalled {
                    reason: c.reason,
                    message: c.message,
                },
                None if ready || mode != Mode::Full => Progress::Settled,
                None => Progress::InFlight {
                    reason: done.readiness.reason.clone(),
                    message: done.readiness.message.clone(),
                },
            };
            let mut conditions = vec![
                synced,
                NewCondition::new(
                    READY,
                    done.readiness.ready,
                    done.readiness.reason,
                    done.readiness.message,
                ),
            ];
            conditions.extend(progress.conditions());
            conditions.extend(extra);
            write_status(obj.as_ref(), &ctx.client, done.fields, &conditions).await?;
            Ok(Action::requeue(if ready {
                ctx.settings.resync
            } else {
                ctx.settings.not_ready_poll.min(ctx.settings.resync)
            }))
        }
        Err(err) => handle_error(obj.as_ref(), &ctx, &key, err, None).await,
    }
}

/// How far this reconcile may write to AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Full,
    ObserveOnly,
    Paused,
}

impl Mode {
    fn of<K: Managed>(obj: &K) -> Self {
        if obj.policies().management_policy == Some(ManagementPolicy::ObserveOnly) {
            Mode::ObserveOnly
        } else if obj
            .annotations()
            .get(PAUSED_ANNOTATION)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            Mode::Paused
        } else {
            Mode::Full
        }
    }
}

/// Outcome of a successful reconcile.
struct Converged {
    synced: NewCondition,
    readiness: Readiness,
    /// Kind-specific status fields; `None` keeps the last known ones.
    fields: Option<Map<String, Value>>,
}

/// The AWS clients (region, namespace role) and owner identity for one object.
async fn target<K: Managed, E>(
    obj: &K,
    ctx: &Context<E>,
) -> Result<(Arc<AwsClients>, Identity), Error> {
    let ns = obj.namespace().unwrap_or_default();
    let settings = ctx.env.namespaces.get(&ns).await?;
    let aws = ctx
        .env
        .aws
        .clients(
            obj.policies().region.as_deref(),
            settings.role_arn.as_deref(),
            &ns,
        )
        .await;
    let identity = Identity::new(
        &ns,
        &obj.name_any(),
        &obj.uid().unwrap_or_default(),
        &ctx.env.instance_id,
    );
    Ok((aws, identity))
}

/// Observe, then (in Full mode, when ownership allows) create, adopt or update.
async fn converge<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    mode: Mode,
) -> Result<Converged, Error> {
    let ext = &ctx.external;
    let (aws, me) = target(obj, ctx).await?;
    // Observe-only never adds ownership tags, so they are not part of what it compares.
    let owner_tags = match mode {
        Mode::ObserveOnly => BTreeMap::new(),
        _ => me.tags(),
    };
    let mut desired = ext.resolve(obj, &aws, &owner_tags).await?;
    let observed = ext.observe(obj, &aws, &desired).await?;
    if mode != Mode::Full {
        return Ok(observe_only(obj, ext, &desired, observed.as_ref(), mode));
    }
    let claim = match &observed {
        Some(o) => Some(resolve_claim(obj, ctx, &ext.observed_tags(o), &me).await),
        None => None,
    };
    let adoption = obj.policies().adoption_policy.unwrap_or_default();
    let observed = match ownership::plan(
        claim.as_ref().map(|(c, _)| c),
        claim.as_ref().is_some_and(|(_, alive)| *alive),
        adoption,
        &ext.aws_name(obj),
    ) {
        Plan::Refuse { reason, message } => return Err(Error::Refused { reason, message }),
        Plan::Create => create_or_recover(obj, ctx, &aws, &me, &mut desired).await?,
        plan @ (Plan::Converge | Plan::Adopt) => {
            let Some(observed) = observed else {
                return Err(Error::NotConverged(
                    "resource vanished while observing".into(),
                ));
            };
            if plan == Plan::Adopt {
                info!(object = %key_of(obj), ?adoption, "adopting AWS resource");
                let note = format!(
                    "adopted {} (spec.adoptionPolicy {adoption:?}); it now carries this object's                      ownership tags",
                    ext.aws_name(obj)
                );
                publish(ctx, obj, EventType::Normal, "Adopted", "Adopt", note).await;
            }
            if plan == Plan::Converge
                && create::record(obj.annotations()) == create::CreateRecord::Incomplete
            {
                let arn = ext
                    .status_fields(obj, &observed)
                    .get("arn")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                close_create_record(obj, ctx, arn).await?;
            }
            update_if_needed(obj, ctx, &aws, &mut desired, observed).await?
        }
    };
    Ok(Converged {
        synced: NewCondition::new(SYNCED, true, reason::RECONCILE_SUCCESS, ""),
        readiness: ext.readiness(obj, &observed),
        fields: Some(ext.status_fields(obj, &observed)),
    })
}

/// The resource an unfinished create made (its answer was lost, or the process died before
/// recording it) was found, by the kind's lookup or by observe: the record is closed with its
/// identity (`id`) and nothing is created again.
async fn close_create_record<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    id: Option<String>,
) -> Result<(), Error> {
    let mut marks = vec![(CREATE_SUCCEEDED_ANNOTATION, Some(now_rfc3339()))];
    if let Some(id) = &id {
        marks.push((EXTERNAL_NAME_ANNOTATION, Some(id.clone())));
    }
    annotate(obj, &ctx.client, &marks).await?;
    let what = id.unwrap_or_else(|| ctx.external.aws_name(obj));
    info!(object = %key_of(obj), %what, "found the resource an unfinished create made; not creating another");
    let note =
        format!("found {what}, made by an earlier create whose answer was lost; not created again");
    publish(ctx, obj, EventType::Normal, "Recovered", "Create", note).await;
    Ok(())
}

/// Observe found nothing: create, unless an earlier create's outcome is unknown; then the
/// kind looks for its result first and a found resource is recorded and converged instead.
async fn create_or_recover<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    aws: &AwsClients,
    me: &Identity,
    desired: &mut E::Desired,
) -> Result<E::Observed, Error> {
    let ext = &ctx.external;
    let record = create::record(obj.annotations());
    let lookup = match record {
        create::CreateRecord::Incomplete => {
            let recorded = obj.annotations().get(EXTERNAL_NAME_ANNOTATION);
            Some(
                ext.find_created(obj, aws, desired, recorded.map(String::as_str))
                    .await?,
            )
        }
        _ => None,
    };
    let (id, found) = match create::step(record, lookup) {
        create::CreateStep::Wait(message) => {
            return Err(Error::Refused {
                reason: reason::CREATE_PENDING,
                message,
            });
        }
        create::CreateStep::Recover { id, observed } => (id, observed),
        create::CreateStep::Create => return create_new(obj, ctx, aws, me, desired).await,
    };
    if !ownership::is_ours(&ext.observed_tags(&found), me) {
        return Err(Error::Refused {
            reason: reason::ALREADY_EXISTS,
            message: format!(
                "{} found after an unfinished create is not owned by this object; AWS was not \
                 changed",
                ext.aws_name(obj)
            ),
        });
    }
    close_create_record(obj, ctx, Some(id)).await?;
    update_if_needed(obj, ctx, aws, desired, found).await
}

/// Creates the resource, recording the attempt and its outcome on the object.
async fn create_new<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    aws: &AwsClients,
    me: &Identity,
    desired: &mut E::Desired,
) -> Result<E::Observed, Error> {
    let ext = &ctx.external;
    // Once per create attempt that left no record: rewriting the pending mark on every retry
    // (say, while throttled, after a lookup found nothing) would change the object, and its
    // watch event would retry at once, past the backoff.
    if !matches!(
        create::record(obj.annotations()),
        create::CreateRecord::Incomplete
    ) {
        annotate(
            obj,
            &ctx.client,
            &[
                (CREATE_PENDING_ANNOTATION, Some(now_rfc3339())),
                (CREATE_SUCCEEDED_ANNOTATION, None),
                (CREATE_FAILED_ANNOTATION, None),
            ],
        )
        .await?;
    }
    let created = ext.create(obj, aws, desired).await;
    // Recorded before anything else: a crash from here on finds the name.
    let outcome = match &created {
        Ok(id) => vec![
            (CREATE_SUCCEEDED_ANNOTATION, Some(now_rfc3339())),
            (EXTERNAL_NAME_ANNOTATION, Some(id.clone())),
        ],
        // Nothing is marked on a failure, not even a certain refusal: a mark changes the
        // object, and its watch event would retry at once, past the backoff (a refused create
        // retried hundreds of times a minute). The record stays open; the next attempt looks
        // for an earlier create's result first (free for kinds found by name).
        Err(_) => vec![],
    };
    if !outcome.is_empty() {
        annotate(obj, &ctx.client, &outcome).await?;
    }
    let Some(now) = ext.observe(obj, aws, desired).await? else {
        created?;
        return Err(Error::Aws(AwsError {
            operation: "Observe",
            code: None,
            message: "resource not visible yet after create".into(),
            class: ErrorClass::Retryable,
        }));
    };
    // Lost a race (another object or someone in AWS created it first; CreateCluster even
    // answers with the existing cluster): never converge what is not ours. The next attempt
    // reports the precise reason.
    if !ownership::is_ours(&ext.observed_tags(&now), me) {
        return Err(Error::Refused {
            reason: reason::ALREADY_EXISTS,
            message: format!(
                "{} was created by someone else while this object was creating it; AWS was not \
                 changed",
                ext.aws_name(obj)
            ),
        });
    }
    // A failed call whose resource exists and is ours (e.g. a timeout after success) counts as
    // created.
    if let Err(e) = created {
        debug!(object = %key_of(obj), error = %e, "create reported an error, but the resource exists and is ours");
    }
    info!(object = %key_of(obj), "created AWS resource");
    let note = "created the AWS resource".to_string();
    publish(ctx, obj, EventType::Normal, "Created", "Create", note).await;
    // Some settings cannot be sent on create (or an endpoint ignores them there): finish in
    // this reconcile, so Synced is never claimed before AWS matches.
    update_if_needed(obj, ctx, aws, desired, now).await
}

/// The kind's changes plus the driver's tag changes (for kinds that name a tag target).
fn all_changes<K: Managed, E: External<K>>(
    ext: &E,
    desired: &E::Desired,
    observed: &E::Observed,
) -> (E::Changes, Option<(TagTarget, TagChanges)>) {
    let tag_changes = ext.tag_target(observed).and_then(|target| {
        let changes = tags::diff(&ext.desired_tags(desired), &ext.observed_tags(observed));
        (!changes.is_empty()).then_some((target, changes))
    });
    (ext.diff(desired, observed), tag_changes)
}

fn describe_all<C: Changes>(changes: &C, tag_changes: &Option<(TagTarget, TagChanges)>) -> String {
    let mut all = changes.describe();
    all.extend(tag_changes.iter().flat_map(|(_, t)| t.describe()));
    all.join(", ")
}

/// Applies the changes `diff` finds (and the tag changes), then checks AWS shows them.
async fn update_if_needed<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    aws: &AwsClients,
    desired: &mut E::Desired,
    observed: E::Observed,
) -> Result<E::Observed, Error> {
    let ext = &ctx.external;
    let (changes, tag_changes) = all_changes(ext, desired, &observed);
    if changes.is_empty() && tag_changes.is_none() {
        return Ok(observed);
    }
    let differences = describe_all(&changes, &tag_changes);
    if !changes.is_empty() {
        ext.update(obj, aws, desired, &observed, &changes).await?;
    }
    if let Some((target, tag_changes)) = &tag_changes {
        tags::apply(aws, target, tag_changes).await?;
    }
    info!(object = %key_of(obj), %differences, "updated AWS resource");
    let note = format!("updated in AWS: {differences}");
    publish(ctx, obj, EventType::Normal, "Updated", "Update", note).await;
    let after = ext.observe(obj, aws, desired).await?.unwrap_or(observed);
    let (left, tags_left) = all_changes(ext, desired, &after);
    if !left.is_empty() || tags_left.is_some() {
        // AWS accepted the calls but does not show the result (eventual consistency, or an
        // endpoint that ignores a field): retry with backoff instead of claiming Synced.
        return Err(Error::NotConverged(describe_all(&left, &tags_left)));
    }
    Ok(after)
}

/// Observe-only and paused objects: mirror AWS into status, write nothing.
fn observe_only<K: Managed, E: External<K>>(
    obj: &K,
    ext: &E,
    desired: &E::Desired,
    observed: Option<&E::Observed>,
    mode: Mode,
) -> Converged {
    let (status, reason, what) = match mode {
        Mode::Paused => (
            false,
            reason::PAUSED,
            format!("paused by annotation {PAUSED_ANNOTATION}"),
        ),
        _ => (
            true,
            reason::OBSERVE_ONLY,
            "managementPolicy ObserveOnly".into(),
        ),
    };
    let Some(observed) = observed else {
        return Converged {
            synced: NewCondition::new(SYNCED, status, reason, format!("{what}: AWS not changed")),
            readiness: Readiness {
                ready: false,
                reason: reason::NOT_FOUND.into(),
                message: format!("{} does not exist in AWS", ext.aws_name(obj)),
                extra: Vec::new(),
            },
            fields: None,
        };
    };
    let (changes, tag_changes) = all_changes(ext, desired, observed);
    let differences = describe_all(&changes, &tag_changes);
    let message = if differences.is_empty() {
        format!("{what}: AWS matches the spec")
    } else {
        format!("{what}: AWS differs from the spec in {differences}; not changed")
    };
    Converged {
        synced: NewCondition::new(SYNCED, status, reason, message),
        readiness: ext.readiness(obj, observed),
        fields: Some(ext.status_fields(obj, observed)),
    }
}

/// Reads the owner of an existing AWS resource. For a `Foreign` claim, also whether the owning
/// object still exists (`true` when unknown: never take a resource by guess).
async fn resolve_claim<K: Managed, E>(
    obj: &K,
    ctx: &Context<E>,
    tags: &BTreeMap<String, String>,
    me: &Identity,
) -> (Claim, bool) {
    let claim = ownership::claim(tags, me);
    let Claim::Foreign { owner, uid } = &claim else {
        return (claim, false);
    };
    let Some((ns, name)) = owner.split_once('/') else {
        return (claim, false);
    };
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    let alive = match api.get_opt(name).await {
        Ok(Some(other)) => other.uid().as_deref() == Some(uid.as_str()),
        Ok(None) => false,
        Err(e) => {
            debug!(object = %key_of(obj), %owner, error = %e, "cannot look up the owner; assuming it exists");
            true
        }
    };
    (claim, alive)
}

/// The deletion policy in force: spec, else namespace annotation, else the operator default.
fn deletion_policy(
    policies: &Policies,
    namespace: Option<DeletionPolicy>,
    default: DeletionPolicy,
) -> DeletionPolicy {
    policies.deletion_policy.or(namespace).unwrap_or(default)
}

async fn finalize<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    key: &str,
) -> Result<Action, Error> {
    if !obj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    match release_or_delete(obj, ctx, key).await {
        Ok(action) => Ok(action),
        Err(err) => handle_error(obj, ctx, key, err, Some("Delete")).await,
    }
}

/// Deletion: policies first (observe-only, retain, paused), then ownership, then the kind.
async fn release_or_delete<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    key: &str,
) -> Result<Action, Error> {
    let ext = &ctx.external;
    let ns = obj.namespace().unwrap_or_default();
    let mode = Mode::of(obj);
    if mode == Mode::ObserveOnly {
        return release(obj, ctx, key, "managementPolicy is ObserveOnly").await;
    }
    let ns_settings = ctx.env.namespaces.get(&ns).await?;
    let policy = deletion_policy(
        obj.policies(),
        ns_settings.deletion_policy,
        ctx.env.default_deletion_policy,
    );
    if policy == DeletionPolicy::Retain {
        return release(obj, ctx, key, "deletionPolicy is Retain").await;
    }
    if mode == Mode::Paused {
        let message = format!(
            "deletion waits: {PAUSED_ANNOTATION} is set, so AWS is not changed; remove the \
             annotation to delete the AWS resource, or set deletionPolicy: Retain to keep it"
        );
        let conditions = [
            NewCondition::new(SYNCED, false, reason::PAUSED, message),
            NewCondition::new(READY, false, reason::DELETING, "deletion requested"),
        ];
        write_status(obj, &ctx.client, None, &conditions).await?;
        return Ok(Action::await_change());
    }
    let (aws, me) = target(obj, ctx).await?;
    if let Some(tags) = ext.current_tags(obj, &aws).await?
        && !ownership::is_ours(&tags, &me)
    {
        let why = format!("{} is not owned by this object", ext.aws_name(obj));
        return release(obj, ctx, key, &why).await;
    }
    match ext.delete(obj, &aws).await? {
        DeleteOutcome::Deleted => {
            info!(object = %key, "deleted AWS resource");
            let note = "deleted the AWS resource".to_string();
            publish(ctx, obj, EventType::Normal, "Deleted", "Delete", note).await;
            remove_finalizer(obj, &ctx.client).await?;
            ctx.reset_backoff(key);
            Ok(Action::await_change())
        }
        DeleteOutcome::InProgress(message) => {
            debug!(object = %key, %message, "delete in progress");
            let conditions = [
                NewCondition::new(SYNCED, false, reason::DELETING, message),
                NewCondition::new(READY, false, reason::DELETING, "deletion requested"),
            ];
            write_status(obj, &ctx.client, None, &conditions).await?;
            Ok(Action::requeue(ctx.settings.not_ready_poll))
        }
        DeleteOutcome::Blocked(message) => {
            warn!(object = %key, %message, "delete blocked");
            publish(
                ctx,
                obj,
                EventType::Warning,
                reason::DELETE_BLOCKED,
                "Delete",
                message.clone(),
            )
            .await;
            let conditions = [
                NewCondition::new(SYNCED, false, reason::DELETE_BLOCKED, message),
                NewCondition::new(READY, false, reason::DELETING, "deletion requested"),
            ];
            write_status(obj, &ctx.client, None, &conditions).await?;
            // Retried with the usual backoff (up to backoff_max): the blocker may go away
            // without any change to this object (images deleted, services removed).
            Ok(Action::requeue(
                ctx.next_backoff(key, ErrorClass::Retryable),
            ))
        }
    }
}

/// Lets the object go without touching AWS.
async fn release<K: Managed, E>(
    obj: &K,
    ctx: &Context<E>,
    key: &str,
    why: &str,
) -> Result<Action, Error> {
    info!(object = %key, %why, "object deleted; AWS resource left untouched");
    let note = format!("{why}: the AWS resource was left untouched");
    publish(ctx, obj, EventType::Normal, "Retained", "Delete", note).await;
    remove_finalizer(obj, &ctx.client).await?;
    ctx.reset_backoff(key);
    Ok(Action::await_change())
}

async fn handle_error<K: Managed, E: External<K>>(
    obj: &K,
    ctx: &Context<E>,
    key: &str,
    err: Error,
    action: Option<&str>,
) -> Result<Action, Error> {
    let class = err.class();
    let message = match class {
        ErrorClass::Environment => conditions::environment_message(err.reason(), &err.to_string()),
        _ => err.to_string(),
    };
    ctx.env
        .telemetry
        .metrics
        .count_reconcile_error(&K::kind(&()), err.reason());
    warn!(object = %key, error = %message, ?class, "reconcile error");
    publish(
        ctx,
        obj,
        EventType::Warning,
        err.reason(),
        action.unwrap_or("Reconcile"),
        message.clone(),
    )
    .await;
    // kstatus: an error that waits for a person is Stalled (Failed) for this generation; any
    // other is work in flight, and the generation stays unobserved until it converges.
    let stalled = matches!(class, ErrorClass::Terminal | ErrorClass::Environment);
    let progress = if stalled {
        Progress::Stalled {
            reason: err.reason().into(),
            message: message.clone(),
        }
    } else {
        Progress::InFlight {
            reason: err.reason().into(),
            message: message.clone(),
        }
    };
    let mut conditions = vec![NewCondition::new(
        SYNCED,
        false,
        err.reason(),
        message.clone(),
    )];
    conditions.extend(progress.conditions());
    // Ready describes the latest generation: one that was never applied is not ready, even
    // while AWS still runs the previous one. An error on a resync of an applied generation
    // (drift correction) leaves Ready alone.
    let generation = obj.meta().generation;
    let applied = generation.is_some() && observed_generation(obj) == generation;
    if !applied || find_condition(obj.conditions(), READY).is_none() {
        let ready_message = match (find_condition(obj.conditions(), READY), generation) {
            (None, _) => format!("the AWS resource has not been reconciled yet: {message}"),
            (Some(_), Some(g)) => format!("generation {g} is not applied: {message}"),
            (Some(_), None) => message.clone(),
        };
        conditions.push(NewCondition::new(READY, false, err.reason(), ready_message));
    }
    write_status_at(obj, &ctx.client, None, &conditions, stalled).await?;
    if class == ErrorClass::Terminal && action.is_none() {
        ctx.reset_backoff(key);
        return Ok(Action::await_change());
    }
    Ok(Action::requeue(ctx.next_backoff(key, class)))
}

async fn publish<K: Managed, E>(
    ctx: &Context<E>,
    obj: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1024).collect()),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        debug!(error = %e, "could not publish event");
    }
}

/// Writes status with server-side apply. `fields` replaces the kind-specific fields; `None`
/// keeps the ones already in status (e.g. on an error, the last known ARN stays).
async fn write_status<K: Managed>(
    obj: &K,
    client: &kube::Client,
    fields: Option<Map<String, Value>>,
    updates: &[NewCondition],
) -> Result<(), Error> {
    write_status_at(obj, client, fields, updates, true).await
}

/// `status.observedGeneration` of an object (`None` before the first status write).
fn observed_generation<K: Managed>(obj: &K) -> Option<i64> {
    serde_json::to_value(obj)
        .ok()?
        .get("status")?
        .get("observedGeneration")?
        .as_i64()
}

/// [`write_status`]; `observed` says whether `status.observedGeneration` moves to the current
/// generation (kstatus: only a reconciled or stalled generation is observed) or keeps its value.
async fn write_status_at<K: Managed>(
    obj: &K,
    client: &kube::Client,
    fields: Option<Map<String, Value>>,
    updates: &[NewCondition],
    observed: bool,
) -> Result<(), Error> {
    let generation = obj.meta().generation;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut status = match fields {
        Some(f) => f,
        None => serde_json::to_value(obj)
            .ok()
            .and_then(|v| v.get("status").and_then(|s| s.as_object().cloned()))
            .unwrap_or_default(),
    };
    let conditions = conditions::merge(obj.conditions(), updates, generation, &now);
    status.insert(
        "conditions".into(),
        serde_json::to_value(conditions).unwrap_or(Value::Null),
    );
    if observed {
        status.insert("observedGeneration".into(), json!(generation));
    } else if let Some(previous) = observed_generation(obj) {
        status.insert("observedGeneration".into(), json!(previous));
    } else {
        status.remove("observedGeneration");
    }
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Sets (`Some`) or removes (`None`) annotations on the object (a merge patch of metadata only;
/// no generation change).
async fn annotate<K: Managed>(
    obj: &K,
    client: &kube::Client,
    annotations: &[(&str, Option<String>)],
) -> Result<(), Error> {
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    let values: Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    let patch = json!({"metadata": {"annotations": values}});
    api.patch_metadata(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

async fn add_finalizer<K: Managed>(obj: &K, client: &kube::Client) -> Result<(), Error> {
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    let patch = if obj.finalizers().is_empty() {
        json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": obj.resource_version()},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": obj.resource_version()},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ])
    };
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(|e| Error::InvalidSpec(e.to_string()))?;
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await?;
    Ok(())
}

async fn remove_finalizer<K: Managed>(obj: &K, client: &kube::Client) -> Result<(), Error> {
    let Some(index) = obj.finalizers().iter().position(|f| f == FINALIZER) else {
        return Ok(());
    };
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    let path = format!("/metadata/finalizers/{index}");
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": path, "value": FINALIZER},
        {"op": "remove", "path": path},
    ]))
    .map_err(|e| Error::InvalidSpec(e.to_string()))?;
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_table() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(300);
        let cases = [(1, 2), (2, 4), (3, 8), (5, 32), (9, 300), (1000, 300)];
        for (attempt, want) in cases {
            assert_eq!(
                backoff_delay(base, max, attempt),
                Duration::from_secs(want),
                "attempt {attempt}"
            );
        }
    }

    /// The delays the README gives: errors 2 s doubling to 5 min; environment errors (IAM,
    /// credentials, a bad namespace annotation) 30 s doubling to 5 min; throttling 8 s doubling
    /// to 32 s, each spread into 50-100 %.
    #[test]
    fn retry_delay_table_per_error_class() {
        let settings = Settings::default();
        let cases: &[(ErrorClass, &[u64])] = &[
            (
                ErrorClass::Retryable,
                &[2, 4, 8, 16, 32, 64, 128, 256, 300, 300],
            ),
            (ErrorClass::Terminal, &[2, 4, 8]),
            (ErrorClass::Environment, &[30, 60, 120, 240, 300, 300]),
        ];
        for (class, delays) in cases {
            for (i, want) in delays.iter().enumerate() {
                let attempt = i as u32 + 1;
                assert_eq!(
                    retry_delay(&settings, *class, "ns/a", attempt),
                    Duration::from_secs(*want),
                    "{class:?} attempt {attempt}"
                );
            }
        }
        for (attempt, full) in [(1, 8), (2, 16), (3, 32), (4, 32), (50, 32)] {
            let got = retry_delay(&settings, ErrorClass::Throttled, "ns/a", attempt);
            let full = Duration::from_secs(full);
            assert!(
                got >= full / 2 && got <= full,
                "throttled attempt {attempt}: {got:?}"
            );
        }
    }

    #[test]
    fn spread_stays_within_half_and_whole_and_differs_by_object() {
        let d = Duration::from_secs(32);
        let all: Vec<Duration> = (0..50)
            .map(|i| spread(d, &format!("ns/obj{i}"), 3))
            .collect();
        assert!(all.iter().all(|s| *s >= d / 2 && *s <= d), "{all:?}");
        assert_eq!(spread(d, "ns/a", 1), spread(d, "ns/a", 1), "deterministic");
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert!(
            distinct.len() > 25,
            "objects throttled together must spread: {all:?}"
        );
    }

    #[test]
    fn deletion_policy_precedence() {
        use DeletionPolicy::{Delete, Retain};
        let spec = |p| Policies {
            deletion_policy: p,
            ..Default::default()
        };
        let cases = [
            ("nothing set: operator default", None, None, Delete, Delete),
            ("operator default Retain", None, None, Retain, Retain),
            (
                "namespace over operator",
                None,
                Some(Retain),
                Delete,
                Retain,
            ),
            (
                "spec over namespace",
                Some(Delete),
                Some(Retain),
                Retain,
                Delete,
            ),
            ("spec Retain", Some(Retain), None, Delete, Retain),
        ];
        for (name, in_spec, namespace, default, want) in cases {
            assert_eq!(
                deletion_policy(&spec(in_spec), namespace, default),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn mode_from_policy_and_annotation() {
        use crate::api::EcrRepository;
        let obj = |policy: Option<ManagementPolicy>, paused: Option<&str>| {
            let mut o = EcrRepository::new("r", Default::default());
            o.spec.policies.management_policy = policy;
            if let Some(v) = paused {
                o.metadata.annotations = Some(
                    [(PAUSED_ANNOTATION.to_string(), v.to_string())]
                        .into_iter()
                        .collect(),
                );
            }
            o
        };
        let cases = [
            (None, None, Mode::Full),
            (Some(ManagementPolicy::Full), Some("false"), Mode::Full),
            (None, Some("true"), Mode::Paused),
            (None, Some(" True "), Mode::Paused),
            (Some(ManagementPolicy::ObserveOnly), None, Mode::ObserveOnly),
            // Observe-only never writes anyway; it wins over pause.
            (
                Some(ManagementPolicy::ObserveOnly),
                Some("true"),
                Mode::ObserveOnly,
            ),
        ];
        for (policy, paused, want) in cases {
            assert_eq!(
                Mode::of(&obj(policy, paused)),
                want,
                "{policy:?} {paused:?}"
            );
        }
    }

    #[test]
    fn error_classes_and_reasons() {
        let aws = |class| {
            Error::Aws(AwsError {
                operation: "Op",
                code: None,
                message: "m".into(),
                class,
            })
        };
        let cases = [
            (
                aws(ErrorClass::Terminal),
                ErrorClass::Terminal,
                reason::TERMINAL_ERROR,
            ),
            (
                aws(ErrorClass::Throttled),
                ErrorClass::Throttled,
                reason::THROTTLED,
            ),
            (
                aws(ErrorClass::Retryable),
                ErrorClass::Retryable,
                reason::RECONCILE_ERROR,
            ),
            (
                aws(ErrorClass::NotFound),
                ErrorClass::Retryable,
                reason::RECONCILE_ERROR,
            ),
            (
                Error::InvalidSpec("x".into()),
                ErrorClass::Terminal,
                reason::TERMINAL_ERROR,
            ),
            (
                Error::NotConverged("tags".into()),
                ErrorClass::Retryable,
                reason::NOT_CONVERGED,
            ),
        ];
        let denied = |code: &str| {
            Error::Aws(AwsError {
                operation: "CreateCluster",
                code: Some(code.into()),
                message: "not authorized to perform: ecs:CreateCluster".into(),
                class: crate::aws::errors::classify_code(Some(code), Some(400)),
            })
        };
        let environment = [
            (denied("AccessDeniedException"), reason::ACCESS_DENIED),
            (
                denied("UnrecognizedClientException"),
                reason::CREDENTIALS_ERROR,
            ),
            (denied("ExpiredTokenException"), reason::CREDENTIALS_ERROR),
            (
                Error::Environment {
                    reason: reason::INVALID_NAMESPACE_ANNOTATION,
                    message: "m".into(),
                },
                reason::INVALID_NAMESPACE_ANNOTATION,
            ),
        ];
        let cases = cases
            .into_iter()
            .chain(environment.map(|(e, r)| (e, ErrorClass::Environment, r)));
        for (err, class, reason) in cases {
            assert_eq!(err.class(), class, "{err}");
            assert_eq!(err.reason(), reason, "{err}");
        }
    }
}

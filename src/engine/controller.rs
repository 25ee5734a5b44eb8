//! Starting a kind's controller: the process-wide state every reconcile shares ([`Process`],
//! [`Settings`], [`Shared`]), the per-kind [`Context`], and the watch + reconcile loop ([`start`],
//! [`Start`] for a kind that follows other kinds) on the kinds' shared watches.

use super::watches::{Subscription, Trigger};
use super::*;
use kube::runtime::reflector::{ObjectRef, Store};

/// What every controller starts from.
#[derive(Clone)]
pub struct Shared {
    pub client: kube::Client,
    pub env: Arc<Process>,
    pub settings: Settings,
    /// Every kind's one watch, which the kind's controller and its followers subscribe to.
    pub(crate) watches: Arc<super::Watches>,
}

impl Shared {
    pub fn new(client: kube::Client, env: Arc<Process>, settings: Settings) -> Self {
        Self {
            client,
            env,
            settings,
            watches: Arc::default(),
        }
    }
}

/// Process-wide things every controller shares: AWS clients per target, namespace settings,
/// and the operator's identity and defaults.
#[derive(Debug)]
pub struct Process {
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
    /// Label selector every watch sends to the API server (a shard's objects); `None` watches
    /// every object.
    pub label_selector: Option<String>,
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
            label_selector: None,
        }
    }
}

/// Shared state of one kind's controller.
pub struct Context<E> {
    pub client: kube::Client,
    pub env: Arc<Process>,
    pub recorder: Recorder,
    pub external: E,
    pub settings: Settings,
    failures: Mutex<HashMap<String, u32>>,
}

impl<E> Context<E> {
    pub fn new(client: kube::Client, env: Arc<Process>, external: E, settings: Settings) -> Self {
        Self {
            recorder: super::status::recorder(&client),
            client,
            env,
            external,
            settings,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The delay before this object's next retry (its failures counted): [`retry_delay`].
    pub(super) fn next_backoff(&self, key: &str, class: ErrorClass) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        retry_delay(&self.settings, class, key, *n)
    }

    pub(super) fn reset_backoff(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

pub(super) fn key_of<K: Managed>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// A kind's controller with only the standard watches (its own objects): what the registry
/// starts for every kind that needs nothing more.
pub fn start<K, E>(shared: Shared, external: E) -> futures::future::BoxFuture<'static, ()>
where
    K: Managed,
    E: External<K>,
{
    Start::<K>::new(shared).run(move |_| external)
}

/// A kind's controller that also follows other kinds: each [`Start::follows`] subscribes to
/// one related kind's watch and says which of this kind's objects a change to it concerns (a
/// service follows its task definitions and clusters). [`Start::run`] builds the kind's
/// `External` from the controller's store and runs until shutdown.
///
/// Every kind is watched once, whoever reads it ([`super::watches`]): [`Start::new`] subscribes
/// to the kind's own watch and [`Start::follows`] to the related kind's, right when they are
/// called; the watches start when [`Start::run`]'s future is first polled.
///
/// ```ignore
/// Start::<EcsGateway>::new(shared)
///     .follows::<EcsCluster>(dependents)
///     .run(move |_store| EcsGateways { kube })
/// ```
pub struct Start<K: Managed> {
    shared: Shared,
    own: Subscription<K>,
    watches: Vec<Watch<K>>,
    /// What starts each watch this controller reads.
    starts: Vec<Box<dyn FnOnce() + Send>>,
}

/// One added watch: what it does to the controller.
type Watch<K> = Box<dyn FnOnce(Controller<K>) -> Controller<K> + Send>;

impl<K: Managed> Start<K> {
    pub fn new(shared: Shared) -> Self {
        let own = shared.watches.own::<K>(&shared);
        Self {
            shared,
            own,
            watches: Vec::new(),
            starts: Vec::new(),
        }
    }

    /// Reconciles the objects `dependents` names (from the controller's store) whenever an `R`
    /// changes or is deleted.
    pub fn follows<R: Managed>(
        mut self,
        dependents: impl Fn(&Store<K>, &R) -> Vec<ObjectRef<K>> + Send + Sync + 'static,
    ) -> Self {
        let Subscription { trigger, start, .. } = self.shared.watches.follow::<R>(&self.shared);
        self.starts.push(start);
        self.watches.push(Box::new(move |controller| {
            let store = controller.store();
            controller.watches_shared_stream(trigger, move |changed| dependents(&store, &changed))
        }));
        self
    }

    /// Runs the controller; `build` makes the kind's `External` from the controller's store.
    pub fn run<E: External<K>>(
        self,
        build: impl FnOnce(Store<K>) -> E + Send + 'static,
    ) -> futures::future::BoxFuture<'static, ()> {
        let Start {
            shared,
            own,
            watches,
            starts,
        } = self;
        let Subscription {
            store,
            trigger,
            start,
        } = own;
        Box::pin(async move {
            // First polled after every kind has subscribed (see `super::watches`).
            start();
            starts.into_iter().for_each(|start| start());
            run_with::<K, E, _, _>(shared, build, (store, trigger), move |controller| {
                watches.into_iter().fold(controller, |c, watch| watch(c))
            })
            .await
        })
    }
}

/// The watch + reconcile loop of kind `K` on its store and trigger, with a hook to add
/// watches (see [`Start`]).
async fn run_with<K, E, B, F>(
    shared: Shared,
    build: B,
    (store, trigger): (Store<K>, Trigger<K>),
    configure: F,
) where
    K: Managed,
    E: External<K>,
    B: FnOnce(Store<K>) -> E,
    F: FnOnce(Controller<K>) -> Controller<K>,
{
    let Shared {
        client,
        env,
        settings,
        ..
    } = shared;
    let concurrency = settings.concurrency;
    info!(kind = %K::kind(&()), "starting controller");
    // The kind gets the controller's own cache of its objects (peers, ownership, sweeps).
    let external = build(store.clone());
    let ctx = Arc::new(Context::new(client, env, external, settings));
    let controller = Controller::for_shared_stream(trigger, store)
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency));
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
    // (A shared store is waited on by its own kind's controller only; followers wait on theirs.)
    futures::future::select(std::pin::pin!(run), synced).await;
}

pub(super) fn error_policy<K: Managed, E: External<K>>(
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

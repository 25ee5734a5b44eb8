//! One watch per kind, shared by every controller that reads the kind. A kind's objects are
//! watched once ([`tolerant::converted`]: objects this version cannot read are reported once and
//! left out) and reflected into one shared store; the kind's own controller and every controller
//! that follows the kind subscribe to it (kube-runtime's shared streams: `store_shared`,
//! `reflect_shared`, `Writer::subscribe`, `Controller::for_shared_stream` and
//! `watches_shared_stream`). An EcsCluster, followed by three other kinds, is watched, listed and
//! decoded once, not four times.
//!
//! **Start order.** kube-runtime subscribes only through the store's `Writer`, which the watch
//! takes when it starts (kube-rs/kube#1630). So a subscription is made when a kind's `start` is
//! called (`Start::new` for the kind's own objects, `Start::follows` for another kind's), and a
//! watch starts when the first controller that reads it is first polled; the registry calls every
//! kind's `start` before it polls any (`crate::run`). Owner first or follower first, every
//! subscriber is there before its watch's first event. A subscription after its kind's watch
//! started (a kind started apart from the registry) gets a watch of its own instead, as every
//! watch was before this module: correct, only not shared, and logged. Had a subscriber missed
//! events sent before it subscribed, nothing would be lost either: a controller reconciles every
//! object of its own kind once its cache has synced, and each reconcile reads what it follows then.
//!
//! Two gaps of kube-runtime's subscribers are closed here:
//! - they see applied objects, never deletions (kube-rs/kube#1590), and a follower must wake when
//!   the object it waits behind is gone (the next EcrRegistry takes over when the owner's object
//!   goes): deleted objects reach followers through a channel of their own, sent by the watch;
//! - a subscriber told of an object that is gone from the store by the time it reads it (applied,
//!   then deleted at once) answers `Pending` without arranging a wake-up, and a controller polls
//!   a trigger only when woken, so that trigger would never be read again: [`unstalled`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc;
use futures::stream::BoxStream;
use futures::{SinkExt, Stream, StreamExt};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tracing::warn;

use super::tolerant::{self, reconcile_inputs};
use super::{Managed, Shared};

/// Object references a watch may hold for subscribers that have not read them yet; the watch
/// waits while it is full. A controller takes its triggers as they come, even while all its
/// reconciles are busy, so this fills only in bursts (the first list announces every object).
const BUFFER: usize = 256;

/// Deleted objects a follower may have unread before the watch waits for it.
const DELETIONS_BUFFER: usize = 64;

/// How often a subscriber is polled again without a wake-up (see [`unstalled`]).
const RECHECK: Duration = Duration::from_secs(5);

/// What a controller reads from one kind's watch: the objects that changed.
pub(super) type Trigger<K> = BoxStream<'static, Arc<K>>;

/// Every kind's shared watch, created by the first subscriber. One per process ([`Shared`]).
#[derive(Default)]
pub struct Watches {
    feeds: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for Watches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watches").finish_non_exhaustive()
    }
}

/// One subscription: the kind's store, what wakes the subscriber, and what starts the watch
/// (call it once the subscriber's controller runs; a started watch is left alone).
pub(super) struct Subscription<K: Managed> {
    pub store: Store<K>,
    pub trigger: Trigger<K>,
    pub start: Box<dyn FnOnce() + Send>,
}

impl Watches {
    /// For `K`'s own controller: `K`'s objects whose reconcile inputs changed
    /// ([`reconcile_inputs`]: not the operator's own writes).
    pub(super) fn own<K: Managed>(&self, shared: &Shared) -> Subscription<K> {
        self.subscribe(shared, Feed::own)
    }

    /// For a controller that follows `K`: every change to a `K` (status included: a cluster
    /// becoming Ready), and every deletion.
    pub(super) fn follow<K: Managed>(&self, shared: &Shared) -> Subscription<K> {
        self.subscribe(shared, Feed::follow)
    }

    fn subscribe<K: Managed>(
        &self,
        shared: &Shared,
        how: fn(&Feed<K>) -> Option<Trigger<K>>,
    ) -> Subscription<K> {
        let feed = self.feed::<K>();
        let (feed, trigger) = match how(&feed) {
            Some(trigger) => (feed, trigger),
            None => {
                warn!(kind = %K::kind(&()),
                    "subscribed after the kind's shared watch started; watching it separately");
                let separate = Arc::new(Feed::new());
                // A new feed has not started: it always subscribes.
                let trigger = how(&separate).unwrap_or_else(|| futures::stream::pending().boxed());
                (separate, trigger)
            }
        };
        let (client, settings) = (shared.client.clone(), shared.settings.clone());
        let store = feed.store.clone();
        let start = Box::new(move || {
            let events = move || {
                let recorder = super::status::recorder(&client);
                tolerant::converted::<K>(&client, &settings, Some(recorder)).default_backoff()
            };
            if let Some(watch) = feed.take_watch(events) {
                // Runs as long as the process: the subscribers' controllers stop at shutdown,
                // the process ends after them.
                tokio::spawn(watch);
            }
        });
        Subscription {
            store,
            trigger,
            start,
        }
    }

    fn feed<K: Managed>(&self) -> Arc<Feed<K>> {
        let any = lock(&self.feeds)
            .entry(TypeId::of::<K>())
            .or_insert_with(|| Arc::new(Feed::<K>::new()))
            .clone();
        // Keyed by K's type, so it is K's feed; a feed of its own otherwise (never happens).
        any.downcast::<Feed<K>>()
            .unwrap_or_else(|_| Arc::new(Feed::new()))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One kind's watch: its store, and until the watch starts, the writer subscribers are made
/// from.
struct Feed<K: Managed> {
    store: Store<K>,
    unstarted: Mutex<Option<Unstarted<K>>>,
}

struct Unstarted<K: Managed> {
    writer: Writer<K>,
    /// Followers' channels for deleted objects.
    deletions: Vec<mpsc::Sender<Arc<K>>>,
}

impl<K: Managed> Feed<K> {
    fn new() -> Self {
        let (store, writer) = reflector::store_shared(BUFFER);
        Self {
            store,
            unstarted: Mutex::new(Some(Unstarted {
                writer,
                deletions: Vec::new(),
            })),
        }
    }

    /// `None` once the watch started.
    fn own(&self) -> Option<Trigger<K>> {
        let handle = lock(&self.unstarted).as_ref()?.writer.subscribe()?;
        // The predicate needs owned objects (as kube-runtime's shared-stream example does);
        // each clone lives for one event.
        let trigger = unstalled(handle, RECHECK)
            .map(|obj| Ok::<K, watcher::Error>(K::clone(&obj)))
            .predicate_filter(reconcile_inputs::<K>, Default::default())
            .filter_map(|r| futures::future::ready(r.ok().map(Arc::new)));
        Some(trigger.boxed())
    }

    /// `None` once the watch started.
    fn follow(&self) -> Option<Trigger<K>> {
        let mut unstarted = lock(&self.unstarted);
        let unstarted = unstarted.as_mut()?;
        let handle = unstarted.writer.subscribe()?;
        let (tx, deleted) = mpsc::channel(DELETIONS_BUFFER);
        unstarted.deletions.push(tx);
        Some(futures::stream::select(unstalled(handle, RECHECK), deleted).boxed())
    }

    /// The watch, made from `events`, for the caller to run; `None` when it was taken already.
    fn take_watch<S, F>(&self, events: F) -> Option<impl Future<Output = ()> + use<K, S, F>>
    where
        S: Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static,
        F: FnOnce() -> S,
    {
        let unstarted = lock(&self.unstarted).take()?;
        Some(run(events(), unstarted))
    }
}

/// Reflects `events` into the store, announces applied objects to every subscriber (the shared
/// writer does) and deleted ones to the followers.
async fn run<K: Managed>(
    events: impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send,
    unstarted: Unstarted<K>,
) {
    let Unstarted {
        writer,
        mut deletions,
    } = unstarted;
    let mut events = std::pin::pin!(events.reflect_shared(writer));
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Delete(obj)) => {
                let obj = Arc::new(obj);
                let mut open = Vec::with_capacity(deletions.len());
                for mut tx in deletions {
                    // Err: that follower's controller has stopped.
                    if tx.send(obj.clone()).await.is_ok() {
                        open.push(tx);
                    }
                }
                deletions = open;
            }
            Ok(_) => {}
            // The watcher retries after a backoff (`default_backoff`).
            Err(e) => warn!(kind = %K::kind(&()), error = %e, "watch failed; retrying"),
        }
    }
}

/// `subscriber`, polled again every `every` as well as when it wakes. kube-runtime's
/// `ReflectHandle` reads an object reference, looks the object up in the store, and answers
/// `Pending` when it is gone, without arranging a wake-up; a controller keeps its triggers in a
/// `SelectAll`, which polls a trigger only when that trigger woke it, so the subscriber would
/// never be read again. The tick bounds such a stall; a subscriber that is simply idle costs a
/// poll per tick.
fn unstalled<S>(subscriber: S, every: Duration) -> impl Stream<Item = S::Item> + Send + 'static
where
    S: Stream + Send + 'static,
    S::Item: Send,
{
    let ticks = futures::stream::unfold((), move |()| async move {
        tokio::time::sleep(every).await;
        Some(((), ()))
    });
    futures::stream::select(subscriber.map(Some), ticks.map(|()| None))
        .filter_map(futures::future::ready)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EcsCluster;
    use kube::ResourceExt;
    use serde_json::json;

    fn cluster(generation: i64, arn: Option<&str>) -> EcsCluster {
        let mut c: EcsCluster = serde_json::from_value(json!({
            "apiVersion": "ecs.operator.dev/v1alpha1", "kind": "EcsCluster",
            "metadata": {"name": "c", "namespace": "ns", "uid": "u", "generation": generation},
            "spec": {"clusterName": "c"},
        }))
        .expect("cluster");
        if let Some(arn) = arn {
            c.status = serde_json::from_value(json!({"arn": arn})).ok();
        }
        c
    }

    /// The next item of `s` within 300 ms, or `None` when nothing comes.
    async fn next<T>(s: &mut (impl Stream<Item = Arc<T>> + Unpin)) -> Option<Arc<T>> {
        tokio::time::timeout(Duration::from_millis(300), s.next())
            .await
            .ok()
            .flatten()
    }

    /// One watch feeds both: the owner reconciles on its inputs only (not on the operator's
    /// status write), a follower wakes on every change and on the deletion; nobody subscribes
    /// once the watch runs.
    #[tokio::test]
    async fn one_watch_feeds_the_owner_its_inputs_and_followers_every_change() {
        let feed = Feed::<EcsCluster>::new();
        let mut owner = feed.own().expect("owner subscribes before the start");
        let mut follower = feed.follow().expect("follower subscribes before the start");
        let (tx, events) = mpsc::unbounded();
        let watch = feed.take_watch(|| events).expect("the watch");
        assert!(
            feed.take_watch(futures::stream::empty).is_none(),
            "taken once"
        );
        tokio::spawn(watch);
        assert!(feed.own().is_none() && feed.follow().is_none(), "too late");

        let send = |e: watcher::Event<EcsCluster>| tx.unbounded_send(Ok(e)).expect("send");
        let generation = |o: Option<Arc<EcsCluster>>| o.map(|c| c.metadata.generation);
        let status = |o: Option<Arc<EcsCluster>>| o.map(|c| c.status.is_some());

        send(watcher::Event::Init);
        send(watcher::Event::InitApply(cluster(1, None)));
        send(watcher::Event::InitDone);
        assert_eq!(generation(next(&mut owner).await), Some(Some(1)), "listed");
        assert_eq!(
            generation(next(&mut follower).await),
            Some(Some(1)),
            "listed"
        );
        assert_eq!(feed.store.len(), 1);

        send(watcher::Event::Apply(cluster(1, Some("arn"))));
        assert_eq!(status(next(&mut follower).await), Some(true), "status");
        send(watcher::Event::Apply(cluster(2, Some("arn"))));
        assert_eq!(generation(next(&mut follower).await), Some(Some(2)), "spec");
        assert_eq!(
            generation(next(&mut owner).await),
            Some(Some(2)),
            "spec, not status"
        );

        send(watcher::Event::Delete(cluster(2, Some("arn"))));
        let gone = next(&mut follower).await.map(|c| c.name_any());
        assert_eq!(gone.as_deref(), Some("c"), "deleted");
        assert!(next(&mut owner).await.is_none(), "the owner: nothing more");
        assert!(feed.store.is_empty());
    }

    /// A subscriber told of an object that was deleted before it read it recovers by the tick;
    /// without it, kube-runtime's handle inside a controller's `SelectAll` is never read again.
    #[tokio::test]
    async fn a_subscriber_recovers_from_reading_a_deleted_object() {
        let stalled_and_recovered = |tick: Option<Duration>| async move {
            let (_, writer) = reflector::store_shared::<EcsCluster>(8);
            let handle = writer.subscribe().expect("shared");
            let mut other = cluster(1, None);
            other.metadata.name = Some("other".into());
            let events = futures::stream::iter([
                Ok(watcher::Event::Apply(cluster(1, None))),
                Ok(watcher::Event::Delete(cluster(1, None))),
                Ok(watcher::Event::Apply(other)),
            ]);
            events.reflect_shared(writer).for_each(|_| async {}).await;
            let trigger = match tick {
                Some(every) => unstalled(handle, every).boxed(),
                None => handle.boxed(),
            };
            let mut triggers = futures::stream::select_all([trigger]);
            tokio::time::timeout(Duration::from_millis(500), triggers.next())
                .await
                .ok()
                .flatten()
                .map(|c| c.name_any())
        };
        assert_eq!(
            stalled_and_recovered(None).await,
            None,
            "kube-runtime stalls"
        );
        assert_eq!(
            stalled_and_recovered(Some(Duration::from_millis(50)))
                .await
                .as_deref(),
            Some("other")
        );
    }
}

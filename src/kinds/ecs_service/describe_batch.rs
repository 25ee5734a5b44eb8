//! The DescribeServices batch: up to ten services of one cluster per call, the answers for the
//! other services of a batch kept for a while and used once each.
//!
//! Two more answers are kept the same way, so converging many services costs about one call
//! per ten: a CreateService answer is the created service's first observation (no describe
//! right after the create), and a batch that finds no service for a peer never created (no
//! create record, no ARN in status) keeps that "absent" for [`BATCH_TTL`], so the peer's first
//! reconcile creates without a "not found" probe of its own. An absent answer serves only an
//! object that has never created: one that has may be waiting for its own service to show.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{EcsServices, io, mapping};
use crate::aws::AwsClients;
use crate::aws::errors::AwsError;

/// DescribeServices takes at most this many services per call.
pub const DESCRIBE_BATCH: usize = 10;
/// How long a batched answer serves a service that is not steady (a rollout in flight): its
/// readiness is polled, so it must see AWS move.
pub const BATCH_TTL: Duration = Duration::from_secs(5);

/// A DescribeServices answer kept for a service that was described with another one (or the
/// CreateService answer); `None`: the batch found no such service.
pub(super) struct Answer {
    at: Instant,
    service: Option<aws_sdk_ecs::types::Service>,
    /// The CreateService answer (the service's own, kept for its first observation).
    created: bool,
}

/// What a kept answer says.
#[derive(Debug)]
pub(super) enum Kept {
    Found(Box<aws_sdk_ecs::types::Service>),
    /// The service's own CreateService answer.
    Created(Box<aws_sdk_ecs::types::Service>),
    Absent,
}

/// Answers kept for the other services of a DescribeServices batch, by (AWS target, cluster,
/// service): objects in other regions or accounts never share answers.
pub(super) type BatchCache = HashMap<Key, Answer>;

/// (AWS target, cluster, service name).
pub(super) type Key = (String, String, String);

impl EcsServices {
    /// Batched answers of steady services serve for 1.5 `resync` (the drift-check period): a
    /// peer's next resync comes one period after its last reconcile, plus that reconcile's
    /// own time, so an answer fetched just after it must outlive one period a little.
    pub fn with_resync(mut self, resync: Duration) -> Self {
        self.window = (resync + resync / 2).max(BATCH_TTL);
        self
    }

    /// How long a kept answer may serve: a resync window when the service is steady (rollout
    /// done, counts reached), else a few seconds.
    fn max_age(&self, service: &aws_sdk_ecs::types::Service) -> Duration {
        let (ready, progressing, _, _) = mapping::readiness(&mapping::observed_from(service));
        if ready && !progressing {
            self.window
        } else {
            BATCH_TTL
        }
    }

    /// Whether a kept answer may still serve its service: one too old for it (a rollout's
    /// answer after [`BATCH_TTL`]) stays in the map until the window ends or it is taken, but
    /// must not keep its service out of the next batch.
    fn usable(&self, answer: &Answer) -> bool {
        let max_age = answer
            .service
            .as_ref()
            .map_or(BATCH_TTL, |s| self.max_age(s));
        answer.at.elapsed() < max_age
    }

    /// Other services of `cluster` (by spec.cluster or the cluster ARN recorded in status),
    /// each with whether its object has never created (see [`never_created`]).
    /// Those not Ready come first: they poll on the same tick as the caller (a rollout in
    /// flight), while a steady peer's next read is a resync away.
    fn peers_in(&self, cluster: &str) -> Vec<(String, bool)> {
        let mut peers: Vec<(bool, String, bool)> = self
            .peers
            .state()
            .iter()
            .filter(|svc| {
                svc.spec.cluster.as_deref() == Some(cluster)
                    || svc.status.as_ref().and_then(|s| s.cluster_arn.as_deref()) == Some(cluster)
            })
            .map(|svc| {
                (
                    is_ready(svc.as_ref()),
                    svc.service_name(),
                    never_created(svc),
                )
            })
            .collect();
        peers.sort_by_key(|p| p.0);
        peers
            .into_iter()
            .map(|(_, name, unborn)| (name, unborn))
            .collect()
    }

    /// Keeps a CreateService answer as the created service's next observation.
    pub(super) fn keep_created(
        &self,
        aws: &AwsClients,
        cluster: &str,
        service: aws_sdk_ecs::types::Service,
    ) {
        let Some(name) = service.service_name.clone() else {
            return;
        };
        if let Ok(mut batch) = self.batch.lock() {
            let answer = Answer {
                at: Instant::now(),
                service: Some(trimmed(service)),
                created: true,
            };
            batch.insert((aws.target(), cluster.to_string(), name), answer);
        }
    }

    /// Forgets the kept answers for a service that was just written (its service and its
    /// deployment in flight).
    pub(super) fn forget(&self, aws: &AwsClients, cluster: &str, service: &str) {
        let key = (aws.target(), cluster.to_string(), service.to_string());
        if let Ok(mut batch) = self.batch.lock() {
            batch.remove(&key);
        }
        if let Ok(mut kept) = self.deployments.lock() {
            kept.remove(&key);
        }
    }

    /// Describes the service deployment `arn` of `service`, batching up to twenty deployments
    /// per DescribeServiceDeployments: the call also reads the deployments in flight of the
    /// peers whose DescribeServices answers are kept (they will read them next), and keeps
    /// those answers for [`BATCH_TTL`], used once each. `fresh` skips a kept answer.
    pub(super) async fn describe_deployment(
        &self,
        aws: &AwsClients,
        cluster: &str,
        service: &str,
        arn: &str,
        fresh: bool,
    ) -> Result<Option<aws_sdk_ecs::types::ServiceDeployment>, AwsError> {
        let target = aws.target();
        let key = (target.clone(), cluster.to_string(), service.to_string());
        let mut waited = false;
        let peers: Vec<(Key, String)> = loop {
            // Decided under the locks, awaited without them (as in `describe_first`).
            let next = {
                let Ok(mut kept) = self.deployments.lock() else {
                    break Vec::new();
                };
                kept.retain(|_, d| d.at.elapsed() < BATCH_TTL);
                if let Some(d) = kept.remove(&key)
                    && !fresh
                    && d.deployment.service_deployment_arn() == Some(arn)
                {
                    return Ok(Some(d.deployment));
                }
                let fetching = self.fetching_deployments.lock().ok();
                match pending(fetching.as_deref(), &key, fresh || waited) {
                    Some(notified) => Err(notified),
                    None => {
                        let busy = |peer: &Key| {
                            kept.contains_key(peer)
                                || fetching.as_ref().is_some_and(|f| f.contains_key(peer))
                        };
                        let peers = match self.batch.lock() {
                            Ok(batch) => deployment_peers(&batch, &key),
                            Err(_) => Vec::new(),
                        };
                        Ok(peers.into_iter().filter(|(k, _)| !busy(k)).collect())
                    }
                }
            };
            match next {
                Ok(peers) => break peers,
                Err(notified) => {
                    waited = true;
                    let _ = tokio::time::timeout(BATCH_TTL, notified).await;
                }
            }
        };
        let _in_flight = InFlight::start(
            &self.fetching_deployments,
            peers.iter().map(|(k, _)| k.clone()).collect(),
        );
        let mut arns = vec![arn.to_string()];
        arns.extend(peers.iter().map(|(_, a)| a.clone()));
        tracing::debug!(deployments = arns.len(), "DescribeServiceDeployments batch");
        let found = io::describe_deployments(&aws.ecs, &arns).await?;
        let by_arn = |a: &str| {
            found
                .iter()
                .find(|d| d.service_deployment_arn() == Some(a))
                .cloned()
        };
        if let Ok(mut kept) = self.deployments.lock() {
            let now = Instant::now();
            for (peer, peer_arn) in &peers {
                if let Some(deployment) = by_arn(peer_arn) {
                    kept.insert(
                        peer.clone(),
                        KeptDeployment {
                            at: now,
                            deployment,
                        },
                    );
                }
            }
        }
        Ok(by_arn(arn))
    }

    /// The answer a peer's call brought for `key`, taken (used once) while it is within its
    /// window; `fresh` (a refresh annotation) drops it unused, so the caller asks AWS. An
    /// absent answer serves only an object that has `never_created`, for [`BATCH_TTL`].
    pub(super) fn take_kept(
        &self,
        batch: &mut BatchCache,
        key: &Key,
        fresh: bool,
        never_created: bool,
    ) -> Option<Kept> {
        let window = self.window;
        batch.retain(|_, a| a.at.elapsed() < window);
        let answer = batch.remove(key)?;
        if fresh {
            return None;
        }
        match answer.service {
            Some(s) if answer.created => {
                (answer.at.elapsed() < self.max_age(&s)).then(|| Kept::Created(Box::new(s)))
            }
            Some(s) => (answer.at.elapsed() < self.max_age(&s)).then(|| Kept::Found(Box::new(s))),
            None => (never_created && answer.at.elapsed() < BATCH_TTL).then_some(Kept::Absent),
        }
    }

    /// Describes a service, batching up to ten services of the same cluster per call. The answers
    /// for the other services of the batch are kept and used once each: for 1.5 resync periods
    /// when the service is steady, a few seconds otherwise; each batch takes the peers that
    /// have no kept answer, so one resync round of a cluster costs one call per ten services.
    /// A service's own answer is never kept, nor "not found" but for peers that never created,
    /// and every write forgets the written service's answer. `fresh` skips a kept answer (the
    /// refresh annotation); `never_created` lets a kept "absent" answer serve.
    pub(super) async fn describe(
        &self,
        aws: &AwsClients,
        cluster: &str,
        service: &str,
        fresh: bool,
        never_created: bool,
    ) -> Result<Option<aws_sdk_ecs::types::Service>, AwsError> {
        let (found, _) = self
            .describe_first(aws, cluster, service, fresh, never_created)
            .await?;
        Ok(found)
    }

    /// [`EcsServices::describe`], and whether the answer is the service's own CreateService
    /// answer (its first observation, in the reconcile that created it).
    pub(super) async fn describe_first(
        &self,
        aws: &AwsClients,
        cluster: &str,
        service: &str,
        fresh: bool,
        never_created: bool,
    ) -> Result<(Option<aws_sdk_ecs::types::Service>, bool), AwsError> {
        let target = aws.target();
        let key = (target.clone(), cluster.to_string(), service.to_string());
        let mut waited = false;
        let (waiting, unborn): (Vec<String>, Vec<String>) = loop {
            // Decided under the locks, awaited without them.
            let next = {
                let Ok(mut batch) = self.batch.lock() else {
                    return Ok((None, false));
                };
                match self.take_kept(&mut batch, &key, fresh, never_created) {
                    Some(Kept::Found(kept)) => return Ok((Some(*kept), false)),
                    Some(Kept::Created(kept)) => return Ok((Some(*kept), true)),
                    Some(Kept::Absent) => return Ok((None, false)),
                    None => {}
                }
                let fetching = self.fetching.lock().ok();
                // A peer's call in flight describes this service: wait for its answer (once)
                // instead of asking again. Services polled on the same tick share calls so.
                match pending(fetching.as_deref(), &key, fresh || waited) {
                    Some(notified) => Err(notified),
                    None => {
                        let busy = |name: &String| {
                            let peer = (target.clone(), cluster.to_string(), name.clone());
                            batch.get(&peer).is_some_and(|a| self.usable(a))
                                || fetching.as_ref().is_some_and(|f| f.contains_key(&peer))
                        };
                        let peers: Vec<(String, bool)> = self
                            .peers_in(cluster)
                            .into_iter()
                            .filter(|(name, _)| !busy(name))
                            .collect();
                        let unborn = peers.iter().filter(|p| p.1).map(|p| p.0.clone()).collect();
                        Ok((peers.into_iter().map(|p| p.0).collect(), unborn))
                    }
                }
            };
            match next {
                Ok(selected) => break selected,
                Err(notified) => {
                    waited = true;
                    let _ = tokio::time::timeout(BATCH_TTL, notified).await;
                }
            }
        };
        let names = batch_names(service, waiting);
        let keys = names
            .iter()
            .filter(|n| n.as_str() != service)
            .map(|n| (target.clone(), cluster.to_string(), n.clone()))
            .collect();
        let _in_flight = InFlight::start(&self.fetching, keys);
        tracing::debug!(%cluster, services = names.len(), "DescribeServices batch");
        let Some(found) = io::describe(&aws.ecs, cluster, &names).await? else {
            return Ok((None, false));
        };
        let active = |name: &str| {
            found
                .iter()
                .find(|s| s.service_name() == Some(name))
                .cloned()
        };
        if let Ok(mut batch) = self.batch.lock() {
            let now = Instant::now();
            for name in names.iter().filter(|n| n.as_str() != service) {
                let key = (target.clone(), cluster.to_string(), name.clone());
                match active(name) {
                    Some(svc) => {
                        let answer = Answer {
                            at: now,
                            service: Some(trimmed(svc)),
                            created: false,
                        };
                        batch.insert(key, answer);
                    }
                    // Never over another answer: the peer may have created (and kept its
                    // CreateService answer) while this call was out.
                    None if unborn.contains(name) => {
                        batch.entry(key).or_insert(Answer {
                            at: now,
                            service: None,
                            created: false,
                        });
                    }
                    None => {}
                }
            }
        }
        // A poll of a rollout in flight: the peers in flight poll on the same tick.
        let own = active(service);
        let polling = own
            .as_ref()
            .is_some_and(|s| super::deployment_actions::in_flight(&mapping::observed_from(s)));
        if polling {
            self.prefetch_deployments(aws, cluster, &found).await;
        }
        Ok((own, false))
    }

    /// Reads the deployments in flight of the services a rollout poll's DescribeServices call
    /// found (at most ten, one DescribeServiceDeployments) and keeps them for [`BATCH_TTL`],
    /// before the services waiting on the call wake: each then takes its own instead of asking. A failed
    /// read keeps nothing (each service's own read reports the error).
    async fn prefetch_deployments(
        &self,
        aws: &AwsClients,
        cluster: &str,
        found: &[aws_sdk_ecs::types::Service],
    ) {
        let target = aws.target();
        let wanted: Vec<(Key, String)> = found
            .iter()
            .filter_map(|svc| {
                let observed = mapping::observed_from(svc);
                if !super::deployment_actions::in_flight(&observed) {
                    return None;
                }
                let key = (
                    target.clone(),
                    cluster.to_string(),
                    svc.service_name()?.to_string(),
                );
                Some((key, observed.current_service_deployment?))
            })
            .take(DEPLOYMENT_BATCH)
            .collect();
        if wanted.is_empty() {
            return;
        }
        let arns: Vec<String> = wanted.iter().map(|(_, arn)| arn.clone()).collect();
        tracing::debug!(deployments = arns.len(), "DescribeServiceDeployments batch");
        let Ok(read) = io::describe_deployments(&aws.ecs, &arns).await else {
            return;
        };
        if let Ok(mut kept) = self.deployments.lock() {
            let now = Instant::now();
            for (key, arn) in wanted {
                if let Some(deployment) = read
                    .iter()
                    .find(|d| d.service_deployment_arn() == Some(arn.as_str()))
                {
                    let deployment = deployment.clone();
                    kept.insert(
                        key,
                        KeptDeployment {
                            at: now,
                            deployment,
                        },
                    );
                }
            }
        }
    }
}

/// The services a DescribeServices call in flight describes for peers, each with the signal
/// that call sends when its answers are kept (or it failed).
pub(super) type Fetching = HashMap<Key, std::sync::Arc<tokio::sync::Notify>>;

/// A DescribeServices call's claim on its peers' keys in [`Fetching`]: dropped after the call's
/// answers are kept (or when it fails or is cancelled), it releases them and wakes the waiters.
struct InFlight<'a> {
    fetching: &'a std::sync::Mutex<Fetching>,
    keys: Vec<Key>,
    notify: std::sync::Arc<tokio::sync::Notify>,
}

impl<'a> InFlight<'a> {
    fn start(fetching: &'a std::sync::Mutex<Fetching>, keys: Vec<Key>) -> Self {
        let notify = std::sync::Arc::new(tokio::sync::Notify::new());
        if let Ok(mut f) = fetching.lock() {
            for key in &keys {
                f.insert(key.clone(), notify.clone());
            }
        }
        Self {
            fetching,
            keys,
            notify,
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut f) = self.fetching.lock() {
            for key in &self.keys {
                if f.get(key)
                    .is_some_and(|n| std::sync::Arc::ptr_eq(n, &self.notify))
                {
                    f.remove(key);
                }
            }
            self.notify.notify_waiters();
        }
    }
}

/// The signal of a call in flight that brings `key`'s answer, unless `skip` (a refresh, or
/// waited once already). Created under the `fetching` lock the call notifies under, so its
/// notification is never missed.
fn pending(
    fetching: Option<&Fetching>,
    key: &Key,
    skip: bool,
) -> Option<tokio::sync::futures::OwnedNotified> {
    let notify = fetching?.get(key)?.clone();
    (!skip).then(|| notify.notified_owned())
}

/// Whether the object's last status says Ready=True. Pure.
fn is_ready(svc: &crate::api::ecs_service::EcsService) -> bool {
    use crate::engine::Managed;
    svc.conditions().iter().any(|c| {
        c.type_ == crate::api::common::READY
            && c.status == crate::api::common::ConditionStatus::True
    })
}

/// A DescribeServiceDeployments answer kept for a peer, by (AWS target, cluster, service).
pub(super) struct KeptDeployment {
    at: Instant,
    deployment: aws_sdk_ecs::types::ServiceDeployment,
}

pub(super) type DeploymentCache = HashMap<Key, KeptDeployment>;

/// DescribeServiceDeployments takes at most this many ARNs per call.
pub const DEPLOYMENT_BATCH: usize = 20;

/// The peers of `own` (same AWS target, any cluster) whose kept DescribeServices answer shows
/// a rollout in flight, with that answer's current deployment ARN: at most
/// [`DEPLOYMENT_BATCH`] − 1, in a stable order. Pure.
pub(super) fn deployment_peers(batch: &BatchCache, own: &Key) -> Vec<(Key, String)> {
    let mut peers: Vec<(Key, String)> = batch
        .iter()
        .filter(|(k, a)| k.0 == own.0 && *k != own && a.at.elapsed() < BATCH_TTL)
        .filter_map(|(k, a)| {
            let observed = mapping::observed_from(a.service.as_ref()?);
            if !super::deployment_actions::in_flight(&observed) {
                return None;
            }
            Some((k.clone(), observed.current_service_deployment?))
        })
        .collect();
    peers.sort();
    peers.truncate(DEPLOYMENT_BATCH - 1);
    peers
}

/// Whether `svc`'s object has never created its service: no create record and no ARN in
/// status. Pure.
pub fn never_created(svc: &crate::api::ecs_service::EcsService) -> bool {
    use kube::ResourceExt;
    crate::engine::create::record(svc.annotations()) == crate::engine::create::CreateRecord::Never
        && svc.status.as_ref().and_then(|s| s.arn.as_deref()).is_none()
}

/// A DescribeServices answer as kept: ECS sends up to 100 events per service, the status shows
/// the newest [`mapping::EVENTS_KEPT`]; a kept answer holds only those. Pure.
pub fn trimmed(mut service: aws_sdk_ecs::types::Service) -> aws_sdk_ecs::types::Service {
    if let Some(events) = service.events.as_mut() {
        events.sort_by_key(|e| std::cmp::Reverse(e.created_at));
        events.truncate(mapping::EVENTS_KEPT);
    }
    service
}

/// Service names to describe in one call: the requested one first, then other services known
/// to be in the same cluster, without duplicates, at most [`DESCRIBE_BATCH`]. Pure.
pub fn batch_names(requested: &str, same_cluster: impl IntoIterator<Item = String>) -> Vec<String> {
    crate::aws::listing::batch_names(requested, same_cluster, DESCRIBE_BATCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs_service::EcsService;

    fn services() -> EcsServices {
        let never = tower::service_fn(|_: http::Request<kube::client::Body>| async {
            Err::<http::Response<kube::client::Body>, _>(std::io::Error::other("no API server"))
        });
        EcsServices::new(
            kube::Client::new(never, "ns"),
            kube::runtime::reflector::store::<EcsService>().0,
        )
    }

    fn service(rollout: &str, running: i32, pending: i32) -> aws_sdk_ecs::types::Service {
        crate::aws::bridge::shape(
            serde_json::json!({
                "serviceName": "a", "status": "ACTIVE",
                "desiredCount": 1, "runningCount": running, "pendingCount": pending,
                "deployments": [{"status": "PRIMARY", "rolloutState": rollout,
                    "desiredCount": 1, "runningCount": running, "pendingCount": pending}],
            }),
            aws_sdk_ecs::types::Service::deserialize,
        )
    }

    /// The README's DescribeServices windows: a kept answer serves a steady service for 1.5
    /// resync periods (at least 5 s), a service in a rollout for 5 s, and a write forgets it.
    #[tokio::test]
    async fn kept_answers_serve_by_readiness_and_a_write_forgets_them() {
        let secs = Duration::from_secs;
        let steady = service("COMPLETED", 1, 0);
        let rolling = service("IN_PROGRESS", 0, 1);
        for (resync, steady_window) in [(None, 5), (Some(3), 5), (Some(60), 90), (Some(300), 450)] {
            let mut s = services();
            if let Some(r) = resync {
                s = s.with_resync(secs(r));
            }
            assert_eq!(
                s.max_age(&steady),
                secs(steady_window),
                "steady, resync {resync:?}"
            );
            assert_eq!(
                s.max_age(&rolling),
                BATCH_TTL,
                "in a rollout, resync {resync:?}"
            );
        }
        let s = services();
        let conf = |r: &str| {
            aws_sdk_ecs::Config::builder()
                .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
                .region(aws_sdk_ecs::config::Region::new(r.to_string()))
                .build()
        };
        let aws = crate::aws::AwsClients {
            ecr: aws_sdk_ecr::Client::from_conf(
                aws_sdk_ecr::Config::builder()
                    .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
                    .build(),
            ),
            ecs: aws_sdk_ecs::Client::from_conf(conf("us-east-1")),
            autoscaling: aws_sdk_applicationautoscaling::Client::from_conf(
                aws_sdk_applicationautoscaling::Config::builder()
                    .behavior_version(
                        aws_sdk_applicationautoscaling::config::BehaviorVersion::latest(),
                    )
                    .build(),
            ),
            scheduler: aws_sdk_scheduler::Client::from_conf(
                aws_sdk_scheduler::Config::builder()
                    .behavior_version(aws_sdk_scheduler::config::BehaviorVersion::latest())
                    .build(),
            ),
            region: "us-east-1".into(),
            role_arn: None,
        };
        let key = |svc: &str| (aws.target(), "c".to_string(), svc.to_string());
        if let Ok(mut batch) = s.batch.lock() {
            for svc in ["a", "b"] {
                let answer = Answer {
                    at: Instant::now(),
                    service: Some(steady.clone()),
                    created: false,
                };
                batch.insert(key(svc), answer);
            }
        }
        s.forget(&aws, "c", "a");
        let kept: Vec<_> = s
            .batch
            .lock()
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(
            kept,
            vec![key("b")],
            "the written service's answer goes, a peer's stays"
        );
    }

    /// The service's own CreateService answer is told apart from a peer's batched answer (the
    /// reconcile that created the service reads no deployment).
    #[tokio::test]
    async fn a_create_answer_is_told_apart_from_a_peers() {
        let s = services();
        let key = ("t".to_string(), "c".to_string(), "a".to_string());
        for (created, want) in [(true, "created"), (false, "found")] {
            let answer = Answer {
                at: Instant::now(),
                service: Some(service("IN_PROGRESS", 0, 1)),
                created,
            };
            let mut batch = BatchCache::from([(key.clone(), answer)]);
            let got = match s.take_kept(&mut batch, &key, false, false) {
                Some(Kept::Created(_)) => "created",
                Some(Kept::Found(_)) => "found",
                Some(Kept::Absent) => "absent",
                None => "none",
            };
            assert_eq!(got, want, "created: {created}");
        }
    }

    /// A kept answer serves once; the refresh annotation drops it unused, so observe asks AWS.
    #[tokio::test]
    async fn a_refresh_skips_the_kept_answer() {
        let s = services();
        let key = ("t".to_string(), "c".to_string(), "a".to_string());
        let kept = || {
            let answer = Answer {
                at: Instant::now(),
                service: Some(service("COMPLETED", 1, 0)),
                created: false,
            };
            BatchCache::from([(key.clone(), answer)])
        };
        let mut batch = kept();
        assert!(
            s.take_kept(&mut batch, &key, false, false).is_some(),
            "served"
        );
        assert!(
            s.take_kept(&mut batch, &key, false, false).is_none(),
            "once"
        );
        let mut batch = kept();
        assert!(
            s.take_kept(&mut batch, &key, true, false).is_none(),
            "refresh"
        );
        assert!(batch.is_empty(), "a refresh drops the kept answer");
    }

    /// A batch's "absent" for a peer serves that peer's first observe only while it has never
    /// created, only within BATCH_TTL, and never past a refresh; a found answer serves either.
    #[tokio::test]
    async fn an_absent_answer_serves_only_an_object_that_never_created() {
        let s = services();
        let key = ("t".to_string(), "c".to_string(), "a".to_string());
        let secs = Duration::from_secs;
        let kept = |service: Option<aws_sdk_ecs::types::Service>, age: Duration| {
            let answer = Answer {
                at: Instant::now() - age,
                service,
                created: false,
            };
            BatchCache::from([(key.clone(), answer)])
        };
        let found = || Some(service("IN_PROGRESS", 0, 1));
        // (case, answer, age, fresh, never_created, want: None / "found" / "absent")
        type Case = (
            &'static str,
            Option<aws_sdk_ecs::types::Service>,
            u64,
            bool,
            bool,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            ("absent, never created", None, 0, false, true, "absent"),
            ("absent, has created", None, 0, false, false, "none"),
            ("absent, too old", None, 6, false, true, "none"),
            ("absent, refresh", None, 0, true, true, "none"),
            ("found, never created", found(), 0, false, true, "found"),
            ("found, has created", found(), 0, false, false, "found"),
            (
                "found in a rollout, too old",
                found(),
                6,
                false,
                false,
                "none",
            ),
        ];
        for (case, answer, age, fresh, never_created, want) in cases {
            let mut batch = kept(answer, secs(age));
            let got = match s.take_kept(&mut batch, &key, fresh, never_created) {
                Some(Kept::Found(_) | Kept::Created(_)) => "found",
                Some(Kept::Absent) => "absent",
                None => "none",
            };
            assert_eq!(got, want, "{case}");
        }
    }

    /// A kept answer holds the newest events the status shows, not ECS's hundred.
    #[test]
    fn kept_answers_hold_only_the_events_the_status_shows() {
        let events: Vec<serde_json::Value> = (0..100)
            .map(|i| {
                serde_json::json!({"id": format!("e{i}"), "createdAt": 1_700_000_000 + i,
                "message": format!("event {i}")})
            })
            .collect();
        let svc = crate::aws::bridge::shape(
            serde_json::json!({"serviceName": "a", "events": events}),
            aws_sdk_ecs::types::Service::deserialize,
        );
        let kept = trimmed(svc.clone());
        let ids: Vec<&str> = kept.events().iter().filter_map(|e| e.id()).collect();
        assert_eq!(ids, ["e99", "e98", "e97", "e96", "e95"]);
        assert_eq!(
            mapping::observed_from(&kept).events,
            mapping::observed_from(&svc).events,
            "the status reads the same events"
        );
    }

    #[test]
    fn deployment_peers_are_the_kept_answers_with_a_rollout_in_flight() {
        let in_flight = |arn: &str| {
            let mut s = service("IN_PROGRESS", 0, 1);
            s.current_service_deployment = Some(arn.to_string());
            Some(s)
        };
        let key = |target: &str, service: &str| (target.into(), "c".into(), service.into());
        let old = Instant::now()
            .checked_sub(BATCH_TTL + Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        let answers: Vec<(Key, Instant, Option<aws_sdk_ecs::types::Service>)> = vec![
            // own service: never its own peer
            (key("t", "own"), Instant::now(), in_flight("arn:own")),
            (key("t", "b"), Instant::now(), in_flight("arn:b")),
            (key("t", "a"), Instant::now(), in_flight("arn:a")),
            // steady: nothing in flight to read
            (
                key("t", "steady"),
                Instant::now(),
                Some(service("COMPLETED", 1, 0)),
            ),
            // in flight but no current deployment named
            (
                key("t", "unnamed"),
                Instant::now(),
                Some(service("IN_PROGRESS", 0, 1)),
            ),
            // a kept "absent"
            (key("t", "absent"), Instant::now(), None),
            // another account or region
            (key("other", "x"), Instant::now(), in_flight("arn:x")),
            // older than a rollout's answer may serve
            (key("t", "old"), old, in_flight("arn:old")),
        ];
        let batch: BatchCache = answers
            .into_iter()
            .map(|(k, at, service)| {
                (
                    k,
                    Answer {
                        at,
                        service,
                        created: false,
                    },
                )
            })
            .collect();
        let got: Vec<String> = deployment_peers(&batch, &key("t", "own"))
            .into_iter()
            .map(|(k, arn)| format!("{}={arn}", k.2))
            .collect();
        assert_eq!(got, ["a=arn:a", "b=arn:b"]);

        // At most nineteen peers: the own deployment makes twenty.
        let many: BatchCache = (0..30)
            .map(|i| {
                let answer = Answer {
                    at: Instant::now(),
                    service: in_flight(&format!("arn:{i}")),
                    created: false,
                };
                (key("t", &format!("s{i:02}")), answer)
            })
            .collect();
        assert_eq!(
            deployment_peers(&many, &key("t", "own")).len(),
            DEPLOYMENT_BATCH - 1
        );
    }

    #[test]
    fn batch_names_table() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let many: Vec<String> = (0..15).map(|i| format!("s{i}")).collect();
        let cases: Vec<(&str, Vec<String>, Vec<String>)> = vec![
            ("alone", vec![], names(&["a"])),
            (
                "requested first, no duplicates",
                names(&["b", "a", "c", "b"]),
                names(&["a", "b", "c"]),
            ),
            (
                "at most ten",
                many.clone(),
                std::iter::once("x".to_string())
                    .chain(many.into_iter().take(9))
                    .collect(),
            ),
        ];
        for (case, peers, want) in cases {
            let requested = want[0].clone();
            assert_eq!(batch_names(&requested, peers), want, "{case}");
        }
    }
}

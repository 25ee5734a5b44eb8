//! Wiring: EcsTask (one RunTask run, like a Job) through the generic driver.
//!
//! The driver's verbs map onto a run this way: `create` is RunTask of the next attempt (its
//! task ARNs are the identity the driver records before anything else); `observe` describes
//! the recorded attempt's tasks and answers "absent" only when a new attempt must start (never
//! started, or failed with retries left). A run that finished for good is read from status and
//! never from ECS again (ECS forgets stopped tasks after about an hour). `find_created` looks
//! for an attempt whose RunTask answer was lost by its tags (owner UID + attempt). `delete`
//! stops tasks still running. `ttlSecondsAfterFinished` is a small sweep beside the controller.

pub mod mapping;
pub mod phases;
pub mod sdk;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::api::{Api, DeleteParams};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use tracing::{debug, info};

use self::mapping::{self as aws_task, ATTEMPT_TAG, DesiredRun};
use self::phases::{self as run, RunPhase};
use crate::api::TaskDefinition;
use crate::api::common::{READY, find_condition};
use crate::api::ecs_task::{COMPLETE, EcsTask, EcsTaskStatus, FAILED, TaskState};
use crate::aws::AwsClients;
use crate::engine::conditions::{NewCondition, reason};
use crate::engine::ownership::OWNER_UID_TAG;
use crate::engine::references::resolve_ref;
use crate::engine::{
    DeleteOutcome, Describe, EXTERNAL_NAME_ANNOTATION, Error, External, Lookup, Readiness,
};
use crate::kinds::references;

managed_kind!(EcsTask, EcsTaskStatus);

/// Reason of a run whose tasks ECS no longer knows and whose result was never seen.
const TASK_NOT_FOUND: &str = "TaskNotFound";
/// Reason while a failed attempt waits for its retry.
const RETRYING: &str = "Retrying";
/// How often the TTL sweep looks at finished runs.
const TTL_SWEEP: Duration = Duration::from_secs(1);

/// RunTask-backed implementation of the driver's External contract.
pub struct EcsTasks {
    kube: kube::Client,
}

/// The kind registry's start (`crate::kinds`): the controller and the TTL sweep.
pub fn start(shared: crate::engine::Shared) -> futures::future::BoxFuture<'static, ()> {
    let kube = shared.client.clone();
    let (found, store) = tokio::sync::oneshot::channel();
    let sweep = ttl_sweep(kube.clone(), store);
    let run = crate::engine::Start::<EcsTask>::new(shared).run(move |store| {
        let _ = found.send(store);
        EcsTasks { kube }
    });
    Box::pin(async move {
        futures::future::select(run, std::pin::pin!(sweep)).await;
    })
}

/// Deletes finished runs whose `ttlSecondsAfterFinished` passed (as the Job TTL controller).
async fn ttl_sweep(client: kube::Client, store: tokio::sync::oneshot::Receiver<Store<EcsTask>>) {
    // The controller hands over its cache as it starts; without it there is nothing to sweep.
    let Ok(store) = store.await else { return };
    loop {
        tokio::time::sleep(TTL_SWEEP).await;
        let now = chrono::Utc::now();
        for obj in store.state() {
            if obj.meta().deletion_timestamp.is_some() {
                continue;
            }
            let Some(at) = expires_at(&obj) else { continue };
            if at > now {
                continue;
            }
            let api: Api<EcsTask> =
                Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
            match api.delete(&obj.name_any(), &DeleteParams::default()).await {
                Ok(_) => {
                    info!(object = %obj.name_any(), "deleting finished run: ttlSecondsAfterFinished passed")
                }
                Err(e) => {
                    debug!(object = %obj.name_any(), error = %e, "TTL delete failed; retried")
                }
            }
        }
    }
}

/// Pure: when a finished run's object is due for deletion (`None`: no TTL, or not finished).
pub fn expires_at(obj: &EcsTask) -> Option<chrono::DateTime<chrono::Utc>> {
    let ttl = obj.spec.ttl_seconds_after_finished?;
    let done = obj.status.as_ref()?.completion_time.as_deref()?;
    let done = chrono::DateTime::parse_from_rfc3339(done).ok()?;
    Some(done.with_timezone(&chrono::Utc) + chrono::Duration::seconds(ttl))
}

/// The run the object asks for, resolved, plus what this reconcile learns about attempts.
pub struct Desired {
    pub run: DesiredRun,
    uid: String,
    backoff_limit: i32,
    owner_tags: BTreeMap<String, String>,
    attempts: Mutex<Attempts>,
}

/// Which attempt observe saw, and what create (or the lookup) started in this reconcile.
#[derive(Default)]
struct Attempts {
    /// The attempt of the recorded tasks (0: none started).
    current: i32,
    /// Started (or found) in this reconcile: (attempt, task ARNs).
    started: Option<(i32, Vec<String>)>,
}

impl Desired {
    fn attempts(&self) -> std::sync::MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What observe found: the latest attempt's tasks and the phase of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub attempt: i32,
    pub arns: Vec<String>,
    pub tasks: Vec<TaskState>,
    pub phase: RunPhase,
    /// A failed attempt with a retry left (the next reconcile starts it).
    pub retry_pending: bool,
    pub task_definition: String,
    pub cluster: String,
    pub essential: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// When the run finished for good.
    pub completion_time: Option<String>,
}

/// The changes of a run: none. Its spec is immutable, so there is nothing to update.
#[derive(Debug)]
pub enum NoChange {}

impl Describe for NoChange {
    fn describe(&self) -> String {
        match *self {}
    }
}

/// Task ARNs the object recorded: the create record (written right after RunTask answered)
/// over status (written at the end of a reconcile).
fn recorded_arns(obj: &EcsTask) -> Vec<String> {
    let from_record = obj
        .annotations()
        .get(EXTERNAL_NAME_ANNOTATION)
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty());
    from_record
        .or_else(|| obj.status.as_ref().and_then(|s| s.task_arns.clone()))
        .unwrap_or_default()
}

/// The run as status recorded it, when it finished for good with these tasks.
fn finished_in_status<'a>(obj: &'a EcsTask, arns: &[String]) -> Option<&'a EcsTaskStatus> {
    let s = obj.status.as_ref()?;
    (s.completion_time.is_some() && s.task_arns.as_deref() == Some(arns)).then_some(s)
}

impl EcsTasks {
    /// The cluster of the run: as recorded when it started, else the spec's.
    async fn cluster(&self, obj: &EcsTask) -> Result<String, Error> {
        if let Some(c) = obj.status.as_ref().and_then(|s| s.cluster.clone()) {
            return Ok(c);
        }
        let ns = obj.namespace().unwrap_or_default();
        let spec = &obj.spec;
        references::cluster(
            &self.kube,
            &ns,
            spec.cluster.as_ref(),
            spec.cluster_ref.as_ref(),
        )
        .await
    }
}

/// Pure: the observation of `attempt` from its tasks' states (empty: ECS does not know them).
fn observed_from(
    d: &Desired,
    attempt: i32,
    arns: Vec<String>,
    tasks: Vec<TaskState>,
    tags: BTreeMap<String, String>,
    previous: Option<&EcsTaskStatus>,
) -> Observed {
    let mut phase = run::run_phase(&tasks, &d.run.essential);
    if tasks.is_empty() {
        phase = RunPhase::Failed {
            reason: TASK_NOT_FOUND.into(),
            message: format!(
                "ECS does not know the tasks {} (any more), and their result was never seen",
                arns.join(", ")
            ),
        };
    }
    let failed = matches!(phase, RunPhase::Failed { .. });
    let retry_pending = failed && attempt <= d.backoff_limit;
    let completion_time = (phase.is_finished() && !retry_pending).then(|| {
        previous
            .and_then(|s| s.completion_time.clone())
            .or_else(|| tasks.iter().filter_map(|t| t.stopped_at.clone()).max())
            .unwrap_or_else(crate::engine::now_rfc3339)
    });
    let task_definition = tasks_task_definition(previous, &d.run.task_definition);
    Observed {
        attempt,
        arns,
        tasks,
        phase,
        retry_pending,
        task_definition,
        cluster: d.run.cluster.clone(),
        essential: d.run.essential.clone(),
        tags,
        completion_time,
    }
}

impl EcsTasks {
    /// DescribeTasks of `arns`, as an observation of `attempt` (`None`: from the task tags).
    async fn describe(
        &self,
        obj: &EcsTask,
        aws: &AwsClients,
        d: &Desired,
        attempt: Option<i32>,
        arns: Vec<String>,
    ) -> Result<Observed, Error> {
        let tasks = sdk::describe_tasks(&aws.ecs, &d.run.cluster, &arns)
            .await?
            .unwrap_or_default();
        let tags = tasks.first().map(aws_task::task_tags).unwrap_or_default();
        let status = obj.status.as_ref();
        let attempt = attempt
            .or_else(|| tags.get(ATTEMPT_TAG).and_then(|a| a.parse().ok()))
            .or_else(|| status.and_then(|s| s.attempts))
            .unwrap_or(1);
        let mut states = tasks
            .iter()
            .map(aws_task::task_state)
            .collect::<Result<Vec<TaskState>, _>>()?;
        let mut tags = tags;
        if states.is_empty()
            && let Some(s) = status.filter(|s| s.task_arns.as_deref() == Some(arns.as_slice()))
        {
            // ECS forgot the tasks: the last states status saw stand (a run that was still
            // running then is reported as not found below).
            let last = s.tasks.clone().unwrap_or_default();
            if run::run_phase(&last, &d.run.essential).is_finished() {
                states = last;
            }
            tags = d.owner_tags.clone();
        }
        if states.is_empty() {
            tags = d.owner_tags.clone();
        }
        Ok(observed_from(d, attempt, arns, states, tags, status))
    }
}

/// The revision the run uses: the one recorded when it started, else the resolved one.
fn tasks_task_definition(previous: Option<&EcsTaskStatus>, resolved: &str) -> String {
    previous
        .and_then(|s| s.task_definition_arn.clone())
        .unwrap_or_else(|| resolved.to_string())
}

impl External<EcsTask> for EcsTasks {
    type Desired = Desired;
    type Observed = Observed;
    type Changes = Vec<NoChange>;

    fn aws_name(&self, obj: &EcsTask) -> String {
        format!("run of EcsTask {}", obj.name_any())
    }

    async fn resolve(
        &self,
        obj: &EcsTask,
        aws: &AwsClients,
        owner_tags: &BTreeMap<String, String>,
    ) -> Result<Desired, Error> {
        let ns = obj.namespace().unwrap_or_default();
        let cluster = self.cluster(obj).await?;
        let status = obj.status.as_ref();
        let recorded = status.and_then(|s| {
            Some((
                s.task_definition_arn.clone()?,
                s.essential_containers.clone()?,
            ))
        });
        let (task_definition, essential) = match recorded {
            Some(r) => r,
            None => {
                let named = match (&obj.spec.task_definition, &obj.spec.task_definition_ref) {
                    (Some(t), _) => t.clone(),
                    (None, Some(r)) => {
                        resolve_ref::<TaskDefinition>(&self.kube, &ns, &r.name).await?
                    }
                    (None, None) => {
                        return Err(Error::InvalidSpec(
                            "set taskDefinition or taskDefinitionRef".into(),
                        ));
                    }
                };
                sdk::describe_task_definition(&aws.ecs, &named).await?
            }
        };
        let mut tags: BTreeMap<String, String> = obj
            .spec
            .tags
            .iter()
            .flatten()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        tags.extend(owner_tags.clone());
        Ok(Desired {
            run: DesiredRun {
                cluster,
                task_definition,
                essential,
                tags,
                spec: obj.spec.clone(),
            },
            uid: crate::engine::uid_of(obj)?,
            backoff_limit: obj.spec.backoff_limit.unwrap_or(0),
            owner_tags: owner_tags.clone(),
            attempts: Mutex::new(Attempts::default()),
        })
    }

    async fn observe(
        &self,
        obj: &EcsTask,
        aws: &AwsClients,
        d: &Desired,
    ) -> Result<Option<Observed>, Error> {
        let started = d.attempts().started.clone();
        if let Some((attempt, arns)) = started {
            // Just started in this reconcile: reported as it is, even when it failed at once
            // (the retry is the next reconcile's).
            return Ok(Some(self.describe(obj, aws, d, Some(attempt), arns).await?));
        }
        let arns = recorded_arns(obj);
        if arns.is_empty() {
            d.attempts().current = obj.status.as_ref().and_then(|s| s.attempts).unwrap_or(0);
            return Ok(None);
        }
        if let Some(s) = finished_in_status(obj, &arns) {
            // Finished for good: the result stays, whatever ECS remembers.
            let attempt = s.attempts.unwrap_or(1);
            d.attempts().current = attempt;
            let tasks = s.tasks.clone().unwrap_or_default();
            let mut o = observed_from(d, attempt, arns, tasks, d.owner_tags.clone(), Some(s));
            if o.tasks.is_empty() {
                o.phase = status_phase(s);
            }
            o.retry_pending = false;
            return Ok(Some(o));
        }
        let o = self.describe(obj, aws, d, None, arns).await?;
        d.attempts().current = o.attempt;
        if o.retry_pending {
            debug!(object = %obj.name_any(), attempt = o.attempt, "attempt failed; starting the next");
            return Ok(None);
        }
        Ok(Some(o))
    }

    fn observed_tags(&self, o: &Observed) -> BTreeMap<String, String> {
        o.tags.clone()
    }

    async fn current_tags(
        &self,
        obj: &EcsTask,
        aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        let arns = recorded_arns(obj);
        let Some(first) = arns.first() else {
            return Ok(None);
        };
        let cluster = self.cluster(obj).await?;
        let tasks = sdk::describe_tasks(&aws.ecs, &cluster, std::slice::from_ref(first))
            .await?
            .unwrap_or_default();
        Ok(tasks.first().map(aws_task::task_tags))
    }

    fn diff(&self, _d: &Desired, _o: &Observed) -> Vec<NoChange> {
        Vec::new()
    }

    async fn create(&self, obj: &EcsTask, aws: &AwsClients, d: &Desired) -> Result<String, Error> {
        let attempt = d.attempts().current + 1;
        let input = aws_task::run_task_input(&d.run, &d.uid, attempt)?;
        let arns = sdk::run_task(&aws.ecs, input).await?;
        info!(object = %obj.name_any(), attempt, tasks = %arns.join(","), "started run");
        d.attempts().started = Some((attempt, arns.clone()));
        Ok(arns.join(","))
    }

    async fn find_created(
        &self,
        obj: &EcsTask,
        aws: &AwsClients,
        d: &Desired,
        _external_name: Option<&str>,
    ) -> Result<Lookup<Observed>, Error> {
        let attempt = d.attempts().current + 1;
        let candidates = sdk::list_tasks(
            &aws.ecs,
            &d.run.cluster,
            aws_task::family(&d.run.task_definition),
        )
        .await?;
        let tasks = sdk::describe_tasks(&aws.ecs, &d.run.cluster, &candidates)
            .await?
            .unwrap_or_default();
        let want = attempt.to_string();
        let arns: Vec<String> = tasks
            .iter()
            .filter(|t| {
                let tags = aws_task::task_tags(t);
                tags.get(OWNER_UID_TAG) == Some(&d.uid) && tags.get(ATTEMPT_TAG) == Some(&want)
            })
            .filter_map(|t| t.task_arn().map(str::to_string))
            .collect();
        if arns.is_empty() {
            return Ok(Lookup::Absent);
        }
        info!(object = %obj.name_any(), attempt, tasks = %arns.join(","), "found the tasks of an unrecorded RunTask");
        d.attempts().started = Some((attempt, arns.clone()));
        let observed = self.describe(obj, aws, d, Some(attempt), arns).await?;
        Ok(Lookup::Found {
            id: observed.arns.join(","),
            observed,
        })
    }

    async fn update(
        &self,
        _obj: &EcsTask,
        _aws: &AwsClients,
        _d: &mut Desired,
        _o: &Observed,
        _changes: &Vec<NoChange>,
    ) -> Result<(), Error> {
        Ok(())
    }

    async fn delete(&self, obj: &EcsTask, aws: &AwsClients) -> Result<DeleteOutcome, Error> {
        let arns = recorded_arns(obj);
        if arns.is_empty() {
            return Ok(DeleteOutcome::Deleted);
        }
        let cluster = self.cluster(obj).await?;
        let tasks = sdk::describe_tasks(&aws.ecs, &cluster, &arns)
            .await?
            .unwrap_or_default();
        let why = format!(
            "EcsTask {}/{} was deleted",
            obj.namespace().unwrap_or_default(),
            obj.name_any()
        );
        for t in tasks.iter().filter(|t| t.last_status() != Some("STOPPED")) {
            let Some(arn) = t.task_arn() else { continue };
            sdk::stop_task(&aws.ecs, &cluster, arn, &why).await?;
            info!(object = %obj.name_any(), task = %arn, "stopped task: its EcsTask was deleted");
        }
        Ok(DeleteOutcome::Deleted)
    }

    fn status_fields(&self, _obj: &EcsTask, o: &Observed) -> EcsTaskStatus {
        let phase = match (&o.phase, o.retry_pending) {
            (RunPhase::Running { .. }, _) => "Running",
            (RunPhase::Succeeded { .. }, _) => "Succeeded",
            (RunPhase::Failed { .. }, _) => "Failed",
        };
        let first = o.tasks.first();
        let exit = first.and_then(|t| {
            t.containers
                .iter()
                .find(|c| {
                    o.essential.is_empty()
                        || c.name.as_ref().is_some_and(|n| o.essential.contains(n))
                })
                .and_then(|c| c.exit_code)
        });
        let exit_code =
            exit.filter(|_| first.and_then(|t| t.last_status.as_deref()) == Some("STOPPED"));
        let started = o.tasks.iter().filter_map(|t| t.started_at.clone()).min();
        let stopped = (o.phase.is_finished())
            .then(|| o.tasks.iter().filter_map(|t| t.stopped_at.clone()).max())
            .flatten();
        let duration = match (&started, &stopped) {
            (Some(from), Some(to)) => run::duration(from, to),
            _ => None,
        };
        EcsTaskStatus {
            phase: Some(phase.to_string()),
            attempts: Some(o.attempt),
            task_definition_arn: Some(o.task_definition.clone()),
            cluster: Some(o.cluster.clone()),
            essential_containers: Some(o.essential.clone()),
            task_arns: Some(o.arns.clone()),
            tasks: Some(o.tasks.clone()),
            exit_code,
            started_at: started,
            stopped_at: stopped,
            duration,
            completion_time: o.completion_time.clone(),
            ..Default::default()
        }
    }

    fn readiness(&self, _obj: &EcsTask, o: &Observed) -> Readiness {
        readiness_of(o)
    }
}

/// Pure: Ready/Complete/Failed of an observation (a failed attempt with a retry left is
/// `Retrying`, neither Complete nor Failed).
fn readiness_of(o: &Observed) -> Readiness {
    if o.retry_pending {
        let RunPhase::Failed {
            reason: why,
            message,
        } = &o.phase
        else {
            return o.phase.readiness();
        };
        let message = format!("attempt {} failed ({why}: {message}); retrying", o.attempt);
        return Readiness {
            ready: false,
            reason: RETRYING.into(),
            message: message.clone(),
            stalled: None,
            not_synced: None,
            conditions: vec![
                NewCondition::new(COMPLETE, false, RETRYING, message.clone()),
                NewCondition::new(FAILED, false, RETRYING, message),
            ],
        };
    }
    let mut r = o.phase.readiness();
    let (complete, failed) = match &o.phase {
        RunPhase::Running { .. } => (false, false),
        RunPhase::Succeeded { .. } => (true, false),
        RunPhase::Failed { .. } => (false, true),
    };
    let message = match &o.phase {
        RunPhase::Failed { .. } if o.attempt > 1 => {
            format!("{} (after {} attempts)", r.message, o.attempt)
        }
        _ => r.message.clone(),
    };
    r.conditions.push(NewCondition::new(
        COMPLETE,
        complete,
        r.reason.clone(),
        message.clone(),
    ));
    r.conditions
        .push(NewCondition::new(FAILED, failed, r.reason.clone(), message));
    r
}

/// The phase status recorded, for a finished run whose task states were not kept.
fn status_phase(s: &EcsTaskStatus) -> RunPhase {
    let message = find_condition(&s.conditions, READY)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    match s.phase.as_deref() {
        Some("Succeeded") => RunPhase::Succeeded { message },
        _ => RunPhase::Failed {
            reason: find_condition(&s.conditions, READY)
                .map(|c| c.reason.clone())
                .unwrap_or_else(|| reason::FAILED.into()),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs_task::EcsTaskSpec;

    fn obj(ttl: Option<i64>, completion: Option<&str>) -> EcsTask {
        let mut o = EcsTask::new(
            "job",
            EcsTaskSpec {
                ttl_seconds_after_finished: ttl,
                ..Default::default()
            },
        );
        o.status = Some(EcsTaskStatus {
            completion_time: completion.map(str::to_string),
            ..Default::default()
        });
        o
    }

    #[test]
    fn ttl_counts_from_completion() {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&chrono::Utc))
                .ok()
        };
        let cases = [
            (
                Some(30),
                Some("2026-01-01T00:00:00Z"),
                at("2026-01-01T00:00:30Z"),
            ),
            (
                Some(0),
                Some("2026-01-01T00:00:00Z"),
                at("2026-01-01T00:00:00Z"),
            ),
            (None, Some("2026-01-01T00:00:00Z"), None),
            (Some(30), None, None),
        ];
        for (ttl, done, want) in cases {
            assert_eq!(expires_at(&obj(ttl, done)), want, "{ttl:?} {done:?}");
        }
    }

    fn desired(backoff_limit: i32) -> Desired {
        Desired {
            run: DesiredRun {
                cluster: "jobs".into(),
                task_definition: "arn:td/job:1".into(),
                essential: vec!["main".into()],
                tags: BTreeMap::new(),
                spec: EcsTaskSpec::default(),
            },
            uid: "uid".into(),
            backoff_limit,
            owner_tags: BTreeMap::new(),
            attempts: Mutex::new(Attempts::default()),
        }
    }

    fn stopped(exit: i32) -> TaskState {
        TaskState {
            task_arn: "arn:task/1".into(),
            last_status: Some("STOPPED".into()),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_at: Some("2026-01-01T00:01:00Z".into()),
            containers: vec![crate::api::ecs_task::ContainerState {
                name: Some("main".into()),
                exit_code: Some(exit),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn observation_table() {
        let arns = || vec!["arn:task/1".to_string()];
        let observe = |limit, attempt, tasks: Vec<TaskState>| {
            observed_from(
                &desired(limit),
                attempt,
                arns(),
                tasks,
                BTreeMap::new(),
                None,
            )
        };
        // Failed with a retry left: pending, not final.
        let o = observe(1, 1, vec![stopped(2)]);
        assert!(o.retry_pending && o.completion_time.is_none(), "{o:?}");
        // The last attempt failed: final, finished when its task stopped.
        let o = observe(1, 2, vec![stopped(2)]);
        assert!(!o.retry_pending, "{o:?}");
        assert_eq!(o.completion_time.as_deref(), Some("2026-01-01T00:01:00Z"));
        // Succeeded at once.
        let o = observe(3, 1, vec![stopped(0)]);
        assert!(matches!(o.phase, RunPhase::Succeeded { .. }) && !o.retry_pending);
        // ECS forgot tasks whose end was never seen.
        let o = observe(0, 1, vec![]);
        assert!(
            matches!(&o.phase, RunPhase::Failed { reason, .. } if reason == TASK_NOT_FOUND),
            "{o:?}"
        );
        // Running: nothing final.
        let mut running = stopped(0);
        running.last_status = Some("RUNNING".into());
        let o = observe(0, 1, vec![running]);
        assert!(o.completion_time.is_none() && !o.retry_pending);
    }

    #[test]
    fn readiness_table() {
        let observe = |limit, attempt, exit| {
            observed_from(
                &desired(limit),
                attempt,
                vec!["arn:task/1".into()],
                vec![stopped(exit)],
                BTreeMap::new(),
                None,
            )
        };
        let condition = |r: &Readiness, t: &str| {
            r.conditions
                .iter()
                .find(|c| c.type_ == t)
                .map(|c| (c.status, c.reason.clone()))
        };
        use crate::api::ConditionStatus::{False, True};
        let retrying = readiness_of(&observe(2, 1, 3));
        assert_eq!(
            (retrying.ready, retrying.reason.as_str()),
            (false, RETRYING)
        );
        assert_eq!(
            condition(&retrying, FAILED),
            Some((False, RETRYING.to_string()))
        );
        assert!(
            retrying.message.contains("attempt 1 failed"),
            "{retrying:?}"
        );
        let failed = readiness_of(&observe(1, 2, 3));
        assert_eq!(
            condition(&failed, FAILED),
            Some((True, reason::FAILED.to_string()))
        );
        assert_eq!(condition(&failed, COMPLETE).map(|c| c.0), Some(False));
        assert!(failed.stalled.is_some());
        let done = readiness_of(&observe(0, 1, 0));
        assert!(done.ready);
        assert_eq!(
            condition(&done, COMPLETE),
            Some((True, reason::SUCCEEDED.to_string()))
        );
        assert_eq!(condition(&done, FAILED).map(|c| c.0), Some(False));
    }

    #[test]
    fn recorded_arns_prefer_the_create_record() {
        let mut o = obj(None, None);
        o.status = Some(EcsTaskStatus {
            task_arns: Some(vec!["arn:old".into()]),
            ..Default::default()
        });
        assert_eq!(recorded_arns(&o), vec!["arn:old".to_string()]);
        o.metadata.annotations = Some(BTreeMap::from([(
            EXTERNAL_NAME_ANNOTATION.to_string(),
            "arn:new1,arn:new2".to_string(),
        )]));
        assert_eq!(
            recorded_arns(&o),
            vec!["arn:new1".to_string(), "arn:new2".to_string()]
        );
    }
}
